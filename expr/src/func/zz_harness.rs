// Temporary differential harness (not part of the deliverable).
use super::*;
use eddy_repr::{strconv, Datum, ScalarType};

fn ty(s: &str) -> Option<ScalarType> {
    Some(match s {
        "unknown" => return None,
        "int2" => ScalarType::Int16,
        "int4" => ScalarType::Int32,
        "int8" => ScalarType::Int64,
        "float4" => ScalarType::Float32,
        "float8" => ScalarType::Float64,
        "numeric" => ScalarType::numeric(),
        "text" => ScalarType::Text,
        "varchar" => ScalarType::Varchar { max_length: None },
        "bool" => ScalarType::Bool,
        "date" => ScalarType::Date,
        "time" => ScalarType::Time,
        "timestamp" => ScalarType::Timestamp,
        "timestamptz" => ScalarType::TimestampTz,
        "interval" => ScalarType::Interval,
        "jsonb" => ScalarType::Jsonb,
        "bytea" => ScalarType::Bytea,
        "char(3)" => ScalarType::Char { length: Some(3) },
        "varchar(3)" => ScalarType::Varchar {
            max_length: Some(3),
        },
        "numeric(5,2)" => ScalarType::Numeric {
            precision: Some(5),
            scale: Some(2),
        },
        other => panic!("type {other}"),
    })
}

fn run(line: &str) -> String {
    let parts: Vec<&str> = line.split(";;").collect();
    let (kind, name) = (parts[0], parts[1]);
    let mut args: Vec<(Option<String>, Option<ScalarType>)> = vec![];
    for a in &parts[2..] {
        let (v, t) = a.rsplit_once("@@").unwrap();
        let v = if v == "NULL" {
            None
        } else {
            Some(v.to_string())
        };
        args.push((v, ty(t)));
    }
    let types: Vec<Option<ScalarType>> = args.iter().map(|a| a.1.clone()).collect();
    let r = match kind {
        "op" if args.len() == 2 => {
            resolve_binary_operator(name, types[0].clone(), types[1].clone())
        }
        "op" => resolve_unary_operator(name, types[0].clone()),
        "cast" => {
            let to = ty(name).unwrap();
            let from = types[0].clone().unwrap_or(ScalarType::Text);
            match resolve_cast(&from, &to, CastContext::Explicit) {
                Ok(f) => Ok(Resolved {
                    func: f.unwrap_or(Func::Cast {
                        from: from.clone(),
                        to: from.clone(),
                        explicit: true,
                    }),
                    arg_types: vec![from],
                    return_type: to,
                }),
                Err(e) => Err(e),
            }
        }
        _ => resolve_function(name, &types),
    };
    let r = match r {
        Ok(r) => r,
        Err(e) => return format!("ERROR: {e}"),
    };
    let mut vals = vec![];
    for ((v, t), target) in args.iter().zip(&r.arg_types) {
        let d = match v {
            None => Datum::Null,
            Some(v) => {
                let src = t.clone().unwrap_or(target.clone());
                let d = match strconv::parse_datum(v, &src) {
                    Ok(d) => d,
                    Err(e) => return format!("ERROR: {e}"),
                };
                match t {
                    None => d,
                    Some(t) => match resolve_cast(t, target, CastContext::Implicit) {
                        Ok(None) => d,
                        Ok(Some(f)) => match f.eval(&[d]) {
                            Ok(d) => d,
                            Err(e) => return format!("ERROR: {e}"),
                        },
                        Err(e) => return format!("ERROR: cast {e}"),
                    },
                }
            }
        };
        vals.push(d);
    }
    let out = if r.func.is_strict() && vals.iter().any(|v| v.is_null()) {
        Ok(Datum::Null)
    } else {
        r.func.eval(&vals)
    };
    match out {
        Ok(Datum::Null) => "NULL".into(),
        Ok(d) => {
            let mut s = String::new();
            strconv::format_datum(&d, &r.return_type, &mut s);
            s
        }
        Err(e) => format!("ERROR: {e}"),
    }
}

#[test]
fn diff_harness() {
    let cases = std::fs::read_to_string("/tmp/diff/cases.txt").unwrap();
    let mut out = String::new();
    for line in cases
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let r = std::panic::catch_unwind(|| run(line)).unwrap_or_else(|_| "PANIC".into());
        out.push_str(&format!("{line}\t{r}\n"));
    }
    std::fs::write("/tmp/diff/mine.txt", out).unwrap();
}
