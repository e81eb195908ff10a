//! Array functions and operators (one-dimensional arrays, lower bound 1): `ARRAY[...]`,
//! `a[i]`, `x op ANY/ALL (a)`, `||`, `array_length`, `array_to_string`, ... Their types are
//! polymorphic (`anyarray`), so they are resolved here rather than from overload lists.

use eddy_repr::{Datum, ScalarType};

use super::cast::output;
use super::resolve::{I4, TEXT};
use super::{type_error, Func, ResolveError, Resolved};
use crate::EvalError;

fn element_of(t: &Option<ScalarType>) -> Option<&ScalarType> {
    t.as_ref().and_then(ScalarType::array_element)
}

/// Resolves the array functions by name; `Ok(None)` if `name` is not one.
pub(super) fn resolve(name: &str, args: &[Option<ScalarType>]) -> Result<Option<Resolved>, ResolveError> {
    let array = |e: &ScalarType| ScalarType::Array(Box::new(e.clone()));
    let first = args.first().and_then(element_of);
    let resolved = match (name, args.len()) {
        (
            "array_length" | "array_upper" | "array_lower" | "cardinality" | "array_dims" | "array_to_string"
            | "array_append" | "array_position" | "array_cat",
            _,
        ) if args.first() == Some(&None) => {
            return Err(unknown_polymorphic());
        }
        ("array_length" | "array_upper" | "array_lower", 2) => {
            let Some(e) = first else { return Ok(None) };
            let func = match name {
                "array_length" => Func::ArrayLength,
                "array_upper" => Func::ArrayUpper,
                _ => Func::ArrayLower,
            };
            Resolved { func, arg_types: vec![array(e), I4], return_type: I4 }
        }
        ("cardinality", 1) => {
            let Some(e) = first else { return Ok(None) };
            Resolved { func: Func::Cardinality, arg_types: vec![array(e)], return_type: I4 }
        }
        ("array_dims", 1) => {
            let Some(e) = first else { return Ok(None) };
            Resolved { func: Func::ArrayDims, arg_types: vec![array(e)], return_type: TEXT }
        }
        ("array_to_string", 2 | 3) => {
            let Some(e) = first else { return Ok(None) };
            let mut arg_types = vec![array(e), TEXT];
            if args.len() == 3 {
                arg_types.push(TEXT);
            }
            Resolved { func: Func::ArrayToString { element: e.clone() }, arg_types, return_type: TEXT }
        }
        ("array_append", 2) | ("array_position", 2) => {
            let Some(e) = first else { return Ok(None) };
            let (func, ret) =
                if name == "array_append" { (Func::ArrayAppend, array(e)) } else { (Func::ArrayPosition, I4) };
            Resolved { func, arg_types: vec![array(e), e.clone()], return_type: ret }
        }
        ("array_remove", 2) => {
            let Some(e) = first else { return Ok(None) };
            Resolved { func: Func::ArrayRemove, arg_types: vec![array(e), e.clone()], return_type: array(e) }
        }
        ("array_replace", 3) => {
            let Some(e) = first else { return Ok(None) };
            Resolved {
                func: Func::ArrayReplace,
                arg_types: vec![array(e), e.clone(), e.clone()],
                return_type: array(e),
            }
        }
        ("array_prepend", 2) => {
            let Some(e) = args.get(1).and_then(element_of) else {
                return if args.get(1) == Some(&None) { Err(unknown_polymorphic()) } else { Ok(None) };
            };
            Resolved { func: Func::ArrayPrepend, arg_types: vec![e.clone(), array(e)], return_type: array(e) }
        }
        ("array_cat", 2) => return concat(&args[0], &args[1]).map(Some),
        _ => return Ok(None),
    };
    Ok(Some(resolved))
}

fn unknown_polymorphic() -> ResolveError {
    ResolveError::DatatypeMismatch("could not determine polymorphic type because input has type unknown".into())
}

/// `||` when either side is an array: array || array, array || element, element || array.
/// An unknown operand next to an array is read as an array, as PostgreSQL does.
pub(super) fn concat(left: &Option<ScalarType>, right: &Option<ScalarType>) -> Result<Resolved, ResolveError> {
    let display = || super::resolve::operator_display("||", left, right);
    let array = |e: &ScalarType| ScalarType::Array(Box::new(e.clone()));
    match (left, right) {
        (Some(ScalarType::Array(a)), Some(ScalarType::Array(b))) => {
            if a.without_modifiers() != b.without_modifiers() {
                return Err(ResolveError::NoSuchOperator(display()));
            }
            Ok(Resolved { func: Func::ArrayCat, arg_types: vec![array(a), array(a)], return_type: array(a) })
        }
        (Some(ScalarType::Array(a)), None) | (None, Some(ScalarType::Array(a))) => {
            Ok(Resolved { func: Func::ArrayCat, arg_types: vec![array(a), array(a)], return_type: array(a) })
        }
        (Some(ScalarType::Array(a)), Some(_)) => {
            Ok(Resolved { func: Func::ArrayAppend, arg_types: vec![array(a), (**a).clone()], return_type: array(a) })
        }
        (Some(_), Some(ScalarType::Array(a))) => {
            Ok(Resolved { func: Func::ArrayPrepend, arg_types: vec![(**a).clone(), array(a)], return_type: array(a) })
        }
        _ => Err(ResolveError::NoSuchOperator(display())),
    }
}

/// `x op ANY (a)` (or `ALL`): `op` resolved for `x` and `a`'s element type.
pub fn resolve_any(
    op: &str,
    left: Option<ScalarType>,
    array: Option<ScalarType>,
    all: bool,
) -> Result<Resolved, ResolveError> {
    let element = match &array {
        Some(t @ (ScalarType::Array(_) | ScalarType::Int2Vector)) => t.array_element().cloned(),
        // An unknown literal on the right is an array of the left operand's type.
        None => left.clone(),
        Some(other) => {
            return Err(ResolveError::DatatypeMismatch(format!(
                "op ANY/ALL (array) requires array on right side, not {other}"
            )))
        }
    };
    let op_resolved = super::resolve_binary_operator(op, left, element)?;
    if op_resolved.return_type != ScalarType::Bool {
        return Err(ResolveError::DatatypeMismatch("op ANY/ALL (array) requires operator to yield boolean".into()));
    }
    let arg_types =
        vec![op_resolved.arg_types[0].clone(), ScalarType::Array(Box::new(op_resolved.arg_types[1].clone()))];
    Ok(Resolved {
        func: Func::ArrayAny { op: Box::new(op_resolved.func), all },
        arg_types,
        return_type: ScalarType::Bool,
    })
}

/// `ARRAY[...]` of `element`s.
pub fn create(element: &ScalarType) -> Result<Resolved, ResolveError> {
    if matches!(element, ScalarType::Array(_)) {
        return Err(ResolveError::DatatypeMismatch("multidimensional arrays are not supported".into()));
    }
    let array = ScalarType::Array(Box::new(element.clone()));
    Ok(Resolved { func: Func::ArrayCreate, arg_types: vec![], return_type: array })
}

/// The first subscript of an array type: 1, but 0 for `int2vector` (as PostgreSQL).
pub fn lower_bound(array: &ScalarType) -> i32 {
    if *array == ScalarType::Int2Vector {
        0
    } else {
        1
    }
}

/// `a[i]`.
pub fn index(array: &ScalarType) -> Result<Resolved, ResolveError> {
    match array.array_element() {
        Some(e) => {
            let lower = lower_bound(array);
            Ok(Resolved {
                func: Func::ArrayIndex { lower },
                arg_types: vec![array.clone(), I4],
                return_type: e.clone(),
            })
        }
        None => Err(ResolveError::DatatypeMismatch(format!(
            "cannot subscript type {array} because it does not support subscripting"
        ))),
    }
}

/// `a[from:to]`.
pub fn slice(array: &ScalarType) -> Result<Resolved, ResolveError> {
    let element = index(array)?;
    let Func::ArrayIndex { lower } = element.func else { unreachable!("index resolves to ArrayIndex") };
    Ok(Resolved {
        func: Func::ArraySlice { lower },
        arg_types: vec![array.clone(), I4, I4],
        return_type: array.clone(),
    })
}

fn elements<'a>(func: &Func, args: &'a [Datum], i: usize) -> Result<Option<&'a [Datum]>, EvalError> {
    match args.get(i) {
        Some(Datum::Array(a)) => Ok(Some(a)),
        Some(Datum::Null) => Ok(None),
        _ => Err(type_error(func, args)),
    }
}

pub(super) fn eval(func: &Func, args: &[Datum]) -> Result<Datum, EvalError> {
    let int = |i: usize| args.get(i).and_then(Datum::as_i64);
    Ok(match func {
        Func::ArrayCreate => Datum::Array(args.to_vec()),
        Func::ArrayIndex { lower } => {
            let (Some(a), Some(i)) = (elements(func, args, 0)?, int(1)) else { return Ok(Datum::Null) };
            usize::try_from(i - i64::from(*lower)).ok().and_then(|i| a.get(i)).cloned().unwrap_or(Datum::Null)
        }
        Func::ArraySlice { lower } => {
            let (Some(a), Some(from), Some(to)) = (elements(func, args, 0)?, int(1), int(2)) else {
                return Ok(Datum::Null);
            };
            let lower = i64::from(*lower);
            let from = (from - lower).max(0);
            let to = (to - lower + 1).min(a.len() as i64);
            Datum::Array(if from < to { a[from as usize..to as usize].to_vec() } else { vec![] })
        }
        Func::ArrayLength | Func::ArrayUpper | Func::ArrayLower | Func::Cardinality => {
            let Some(a) = elements(func, args, 0)? else { return Ok(Datum::Null) };
            let dimension = if matches!(func, Func::Cardinality) { Some(1) } else { int(1) };
            match (func, dimension) {
                (Func::Cardinality, _) => Datum::Int32(a.len() as i32),
                // An empty array has no dimensions; only the first exists otherwise.
                (_, Some(1)) if !a.is_empty() => {
                    Datum::Int32(if matches!(func, Func::ArrayLower) { 1 } else { a.len() as i32 })
                }
                _ => Datum::Null,
            }
        }
        // `[1:n]`; an empty array has no dimensions.
        Func::ArrayDims => match elements(func, args, 0)? {
            Some(a) if !a.is_empty() => Datum::Text(format!("[1:{}]", a.len())),
            _ => Datum::Null,
        },
        Func::ArrayToString { element } => {
            let (Some(a), Some(Datum::Text(delimiter))) = (elements(func, args, 0)?, args.get(1)) else {
                return Ok(Datum::Null);
            };
            let null_text = match args.get(2) {
                Some(Datum::Text(t)) => Some(t.as_str()),
                _ => None,
            };
            let mut parts = Vec::with_capacity(a.len());
            for e in a {
                match (e, null_text) {
                    (Datum::Null, Some(t)) => parts.push(t.to_string()),
                    (Datum::Null, None) => {}
                    (e, _) => parts.push(output(e, element)?),
                }
            }
            Datum::Text(parts.join(delimiter))
        }
        Func::ArrayContains { contained } => {
            let (Some(a), Some(b)) = (elements(func, args, 0)?, elements(func, args, 1)?) else {
                return Ok(Datum::Null);
            };
            let (outer, inner) = if *contained { (b, a) } else { (a, b) };
            // NULL elements match nothing, as in PostgreSQL.
            Datum::Bool(inner.iter().all(|x| !x.is_null() && outer.iter().any(|y| sql_equal(x, y))))
        }
        Func::ArrayOverlap => {
            let (Some(a), Some(b)) = (elements(func, args, 0)?, elements(func, args, 1)?) else {
                return Ok(Datum::Null);
            };
            Datum::Bool(a.iter().any(|x| !x.is_null() && b.iter().any(|y| sql_equal(x, y))))
        }
        Func::ArrayCat => match (elements(func, args, 0)?, elements(func, args, 1)?) {
            (None, None) => Datum::Null,
            (a, b) => Datum::Array(a.unwrap_or_default().iter().chain(b.unwrap_or_default()).cloned().collect()),
        },
        Func::ArrayAppend => {
            let mut a = elements(func, args, 0)?.unwrap_or_default().to_vec();
            a.push(args.get(1).cloned().unwrap_or(Datum::Null));
            Datum::Array(a)
        }
        Func::ArrayPrepend => {
            let mut a = vec![args.first().cloned().unwrap_or(Datum::Null)];
            a.extend_from_slice(elements(func, args, 1)?.unwrap_or_default());
            Datum::Array(a)
        }
        Func::ArrayPosition => {
            let Some(a) = elements(func, args, 0)? else { return Ok(Datum::Null) };
            let wanted = args.get(1).unwrap_or(&Datum::Null);
            // IS NOT DISTINCT FROM: a NULL finds the first NULL.
            a.iter().position(|e| e.sql_cmp(wanted).is_eq()).map_or(Datum::Null, |i| Datum::Int32(i as i32 + 1))
        }
        // Elements IS NOT DISTINCT FROM the value (NULL matches NULL), as in PostgreSQL.
        Func::ArrayRemove => {
            let Some(a) = elements(func, args, 0)? else { return Ok(Datum::Null) };
            let gone = args.get(1).unwrap_or(&Datum::Null);
            Datum::Array(a.iter().filter(|e| !e.sql_cmp(gone).is_eq()).cloned().collect())
        }
        Func::ArrayReplace => {
            let Some(a) = elements(func, args, 0)? else { return Ok(Datum::Null) };
            let (from, to) = (args.get(1).unwrap_or(&Datum::Null), args.get(2).unwrap_or(&Datum::Null));
            Datum::Array(a.iter().map(|e| if e.sql_cmp(from).is_eq() { to.clone() } else { e.clone() }).collect())
        }
        Func::ArrayAny { op, all } => {
            let Some(a) = elements(func, args, 1)? else { return Ok(Datum::Null) };
            let x = args.first().unwrap_or(&Datum::Null);
            let mut saw_null = false;
            for e in a {
                match op.eval(&[x.clone(), e.clone()])? {
                    Datum::Bool(b) if b != *all => return Ok(Datum::Bool(b)),
                    Datum::Null => saw_null = true,
                    _ => {}
                }
            }
            if saw_null {
                Datum::Null
            } else {
                Datum::Bool(*all)
            }
        }
        _ => return Err(type_error(func, args)),
    })
}
/// SQL equality of two non-NULL elements (`1.0` equals `1.00`).
fn sql_equal(a: &Datum, b: &Datum) -> bool {
    !b.is_null() && (a == b || (a.has_twins() && a.sql_normalized() == b.sql_normalized()))
}
