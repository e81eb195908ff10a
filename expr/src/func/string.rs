//! Text functions, LIKE and regular expressions (varlena.c, oracle_compat.c,
//! like_match.c, regexp.c).

use std::cell::RefCell;
use std::collections::HashMap;

use eddy_repr::{Datum, ScalarType};

use super::cast::{output, text_of};
use super::{arity_error, type_error, Func, TrimSide};
use crate::EvalError;

/// PostgreSQL's MaxAllocSize: larger results fail with `requested length too large`.
const MAX_RESULT_BYTES: usize = 0x3fff_ffff;

fn too_large() -> EvalError {
    EvalError::InvalidArgument { sqlstate: "54000".into(), message: "requested length too large".into() }
}

fn text<'a>(func: &Func, args: &'a [Datum], i: usize) -> Result<&'a str, EvalError> {
    match args.get(i) {
        Some(Datum::Text(s)) => Ok(s),
        _ => Err(type_error(func, args)),
    }
}

fn int(func: &Func, args: &[Datum], i: usize) -> Result<i64, EvalError> {
    args.get(i).and_then(Datum::as_i64).ok_or_else(|| type_error(func, args))
}

fn t(s: String) -> Result<Datum, EvalError> {
    Ok(Datum::Text(s))
}

/// Single-character case mapping, as libc's towlower/towupper.
pub(super) fn lower_char(c: char) -> char {
    let mut it = c.to_lowercase();
    match (it.next(), it.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

fn upper_char(c: char) -> char {
    let mut it = c.to_uppercase();
    match (it.next(), it.next()) {
        (Some(u), None) => u,
        _ => c,
    }
}

pub(super) fn lower(s: &str) -> String {
    s.chars().map(lower_char).collect()
}

fn upper(s: &str) -> String {
    s.chars().map(upper_char).collect()
}

fn initcap(s: &str) -> String {
    let mut was_alnum = false;
    s.chars()
        .map(|c| {
            let r = if was_alnum { lower_char(c) } else { upper_char(c) };
            was_alnum = c.is_alphanumeric();
            r
        })
        .collect()
}

// ---- LIKE ----

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tok {
    Lit(char),
    One,
    Any,
}

fn like_tokens(pattern: &str, case_insensitive: bool) -> Result<Vec<Tok>, EvalError> {
    let mut toks = Vec::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        toks.push(match c {
            '\\' => match chars.next() {
                Some(e) => Tok::Lit(if case_insensitive { lower_char(e) } else { e }),
                None => {
                    return Err(EvalError::InvalidArgument {
                        sqlstate: "22025".into(),
                        message: "LIKE pattern must not end with escape character".into(),
                    })
                }
            },
            '%' => {
                if toks.last() == Some(&Tok::Any) {
                    continue;
                }
                Tok::Any
            }
            '_' => Tok::One,
            c => Tok::Lit(if case_insensitive { lower_char(c) } else { c }),
        });
    }
    Ok(toks)
}

fn like_match(s: &[char], p: &[Tok]) -> bool {
    let (mut si, mut pi) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() {
            match p[pi] {
                Tok::Any => {
                    star = Some((pi, si));
                    pi += 1;
                    continue;
                }
                Tok::One => {
                    si += 1;
                    pi += 1;
                    continue;
                }
                Tok::Lit(c) if c == s[si] => {
                    si += 1;
                    pi += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((sp, ss)) => {
                pi = sp + 1;
                si = ss + 1;
                star = Some((sp, ss + 1));
            }
            None => return false,
        }
    }
    while pi < p.len() && p[pi] == Tok::Any {
        pi += 1;
    }
    pi == p.len()
}

pub(super) fn like(s: &str, pattern: &str, case_insensitive: bool) -> Result<bool, EvalError> {
    let toks = like_tokens(pattern, case_insensitive)?;
    let chars: Vec<char> = if case_insensitive { s.chars().map(lower_char).collect() } else { s.chars().collect() };
    Ok(like_match(&chars, &toks))
}

fn like_escape(pattern: &str, escape: &str) -> Result<String, EvalError> {
    let mut esc = escape.chars();
    let e = match (esc.next(), esc.next()) {
        (None, _) => None,
        (Some(e), None) => Some(e),
        _ => {
            return Err(EvalError::InvalidArgument {
                sqlstate: "22019".into(),
                message: "invalid escape string".into(),
            })
        }
    };
    let mut out = String::with_capacity(pattern.len() + 4);
    match e {
        None => {
            for c in pattern.chars() {
                if c == '\\' {
                    out.push('\\');
                }
                out.push(c);
            }
        }
        Some('\\') => out.push_str(pattern),
        Some(e) => {
            let mut after_escape = false;
            for c in pattern.chars() {
                if c == e && !after_escape {
                    out.push('\\');
                    after_escape = true;
                } else if c == '\\' {
                    out.push('\\');
                    if !after_escape {
                        out.push('\\');
                    }
                    after_escape = false;
                } else {
                    out.push(c);
                    after_escape = false;
                }
            }
        }
    }
    Ok(out)
}

// ---- regular expressions ----

fn regex_error(e: regex::Error) -> EvalError {
    // The regex crate's messages are multi-line; keep the last line, in PostgreSQL's
    // words where there is an equivalent.
    let text = e.to_string();
    let last = text.lines().last().unwrap_or("").trim().trim_start_matches("error: ");
    let detail = match last {
        "unclosed group" | "unopened group" => "parentheses () not balanced",
        "unclosed character class" => "brackets [] not balanced",
        "repetition operator missing expression" => "quantifier operand invalid",
        "unclosed counted repetition" | "invalid repetition count(s)" => "invalid repetition count(s)",
        "incomplete escape sequence, reached end of pattern prematurely" => "invalid escape \\ sequence",
        other if other.contains("backreferences") => "invalid backreference number",
        other => other,
    };
    EvalError::InvalidArgument { sqlstate: "2201B".into(), message: format!("invalid regular expression: {detail}") }
}

/// Translates PostgreSQL ARE escapes that the `regex` crate spells differently.
fn translate_regex(p: &str) -> String {
    let mut out = String::with_capacity(p.len() + 8);
    let mut chars = p.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('m') => out.push_str(r"\b{start}"),
                Some('M') => out.push_str(r"\b{end}"),
                Some('y') => out.push_str(r"\b"),
                Some('Y') => out.push_str(r"\B"),
                Some(o) => {
                    out.push('\\');
                    out.push(o);
                }
                None => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

thread_local! {
    static REGEX_CACHE: RefCell<HashMap<(String, bool), regex::Regex>> = RefCell::new(HashMap::new());
}

fn compiled_regex(pattern: &str, case_insensitive: bool) -> Result<regex::Regex, EvalError> {
    let key = (pattern.to_string(), case_insensitive);
    if let Some(r) = REGEX_CACHE.with(|c| c.borrow().get(&key).cloned()) {
        return Ok(r);
    }
    let re = regex::RegexBuilder::new(&translate_regex(pattern))
        .case_insensitive(case_insensitive)
        .dot_matches_new_line(true)
        .size_limit(10 * (1 << 20))
        .build()
        .map_err(regex_error)?;
    REGEX_CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= 256 {
            c.clear();
        }
        c.insert(key, re.clone());
    });
    Ok(re)
}

/// The options of a regular expression function: (global, case-insensitive).
fn parse_regex_flags(flags: &str) -> Result<(bool, bool), EvalError> {
    let mut global = false;
    let mut ci = false;
    for f in flags.chars() {
        match f {
            'g' => global = true,
            'i' => ci = true,
            'c' => ci = false,
            'n' | 'p' | 'w' | 's' | 't' => {}
            other => {
                return Err(EvalError::invalid_argument(format!("invalid regular expression option: \"{other}\"")))
            }
        }
    }
    Ok((global, ci))
}

/// Case-insensitivity from `flags` of a function without a "global" option.
fn regex_flags(flags: &str) -> Result<bool, EvalError> {
    match parse_regex_flags(flags)? {
        (true, _) => Err(EvalError::invalid_argument("this function does not support the \"global\" option")),
        (false, ci) => Ok(ci),
    }
}

/// One match as `regexp_match` and `regexp_matches` give it: the whole match when the
/// pattern has no groups, else each group's text (NULL when it took no part).
fn match_array(caps: &regex::Captures) -> Datum {
    if caps.len() == 1 {
        return text_array(caps.get(0).map(|m| m.as_str()));
    }
    Datum::Array(caps.iter().skip(1).map(|g| g.map_or(Datum::Null, |m| Datum::Text(m.as_str().into()))).collect())
}

/// `regexp_matches(src, pattern [, flags])`: a `text[]` per match ([`match_array`]),
/// only the first unless `flags` has `g`.
pub fn regexp_matches(src: &str, pattern: &str, flags: &str) -> Result<Vec<Datum>, EvalError> {
    let (global, case_insensitive) = parse_regex_flags(flags)?;
    let re = compiled_regex(pattern, case_insensitive)?;
    let matches = re.captures_iter(src).map(|caps| match_array(&caps));
    Ok(if global { matches.collect() } else { matches.take(1).collect() })
}

/// `regexp_split_to_array`'s pieces: the text between matches; empty matches at either
/// end or right after another match are ignored, as in PostgreSQL.
fn regexp_split<'a>(re: &regex::Regex, src: &'a str) -> Vec<&'a str> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let mut last_end = None;
    for m in re.find_iter(src) {
        let ignored = m.is_empty() && (m.start() == 0 || m.start() == src.len() || Some(m.start()) == last_end);
        if ignored {
            continue;
        }
        pieces.push(&src[start..m.start()]);
        start = m.end();
        last_end = Some(m.end());
    }
    pieces.push(&src[start..]);
    pieces
}

fn text_array(value: Option<&str>) -> Datum {
    Datum::Array(vec![value.map_or(Datum::Null, |v| Datum::Text(v.into()))])
}

/// The regular expression of a `SIMILAR TO` pattern (PostgreSQL's similar_escape):
/// anchored, `%` and `_` as `.*` and `.`, `(` non-capturing, regex metacharacters that
/// SQL does not have escaped, and `escape` quoting the next character.
fn similar_to_regex(pattern: &str, escape: Option<char>) -> Result<String, EvalError> {
    let mut out = String::from("^(?:");
    let (mut after_escape, mut in_class, mut quotes) = (false, false, 0);
    for c in pattern.chars() {
        if after_escape {
            if c == '"' && !in_class {
                out.push_str(match quotes {
                    0 => "){1,1}?(",
                    1 => "){1,1}(?:",
                    _ => {
                        return Err(EvalError::InvalidArgument {
                            sqlstate: "2201B".into(),
                            message:
                                "SQL regular expression may not contain more than two escape-double-quote separators"
                                    .into(),
                        })
                    }
                });
                quotes += 1;
            } else {
                out.push('\\');
                out.push(c);
            }
            after_escape = false;
        } else if Some(c) == escape {
            after_escape = true;
        } else if in_class {
            if c == '\\' {
                out.push('\\');
            }
            out.push(c);
            in_class = c != ']';
        } else {
            match c {
                '[' => {
                    out.push('[');
                    in_class = true;
                }
                '%' => out.push_str(".*"),
                '_' => out.push('.'),
                '(' => out.push_str("(?:"),
                '\\' | '.' | '^' | '$' => {
                    out.push('\\');
                    out.push(c);
                }
                other => out.push(other),
            }
        }
    }
    out.push_str(")$");
    Ok(out)
}

/// `ident` as SQL must write it to mean exactly that name (PostgreSQL's `quote_ident`):
/// double-quoted unless it is a plain lower-case identifier and not a reserved key word.
pub fn quote_ident(ident: &str) -> String {
    /// PostgreSQL's reserved key words, also those reserved except as function or type names.
    const RESERVED: &[&str] = &[
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "authorization",
        "binary",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "collation",
        "column",
        "concurrently",
        "constraint",
        "create",
        "cross",
        "current_catalog",
        "current_date",
        "current_role",
        "current_schema",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "freeze",
        "from",
        "full",
        "grant",
        "group",
        "having",
        "ilike",
        "in",
        "initially",
        "inner",
        "intersect",
        "into",
        "is",
        "isnull",
        "join",
        "lateral",
        "leading",
        "left",
        "like",
        "limit",
        "localtime",
        "localtimestamp",
        "natural",
        "not",
        "notnull",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "outer",
        "overlaps",
        "placing",
        "primary",
        "references",
        "returning",
        "right",
        "select",
        "session_user",
        "similar",
        "some",
        "symmetric",
        "table",
        "tablesample",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "verbose",
        "when",
        "where",
        "window",
        "with",
    ];
    let plain = ident.chars().next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && ident.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !RESERVED.contains(&ident);
    if plain {
        ident.to_string()
    } else {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }
}

/// `quote_literal`: single quotes doubled; with a backslash, the `E'...'` form.
pub(super) fn quote_literal(text: &str) -> String {
    let body = text.replace('\'', "''");
    if text.contains('\\') {
        format!("E'{}'", body.replace('\\', "\\\\"))
    } else {
        format!("'{body}'")
    }
}

/// `format(template, args)`: `%[n$][-][width]s|I|L` and `%%`.
fn format(template: &str, args: &[Datum], types: &[ScalarType]) -> Result<String, EvalError> {
    let bad = |m: &str| EvalError::invalid_argument(m.to_string());
    let mut out = String::new();
    let mut chars = template.chars().peekable();
    let mut next_arg = 0usize;
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        // An optional argument position `n$`, then flags and width.
        let mut digits = String::new();
        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
            digits.push(d);
            chars.next();
        }
        let mut position = None;
        if !digits.is_empty() && chars.peek() == Some(&'$') {
            chars.next();
            let n: usize = digits.parse().map_err(|_| bad("argument number is out of range"))?;
            if n == 0 {
                return Err(bad("format specifies argument 0, but arguments are numbered from 1"));
            }
            position = Some(n - 1);
            digits.clear();
        }
        let mut left = false;
        if digits.is_empty() && chars.peek() == Some(&'-') {
            chars.next();
            left = true;
        }
        while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
            digits.push(d);
            chars.next();
        }
        let width: usize =
            if digits.is_empty() { 0 } else { digits.parse().map_err(|_| bad("number is out of range"))? };
        let kind = chars.next().ok_or_else(|| bad("unterminated format() type specifier"))?;
        let index = position.unwrap_or(next_arg);
        next_arg = index + 1;
        let arg = args.get(index).ok_or_else(|| bad("too few arguments for format()"))?;
        let ty = types.get(index).cloned().unwrap_or(ScalarType::Text);
        let value = match (kind, arg) {
            ('s', Datum::Null) => String::new(),
            ('s', d) => output(d, &ty)?,
            ('I', Datum::Null) => {
                return Err(EvalError::InvalidArgument {
                    sqlstate: "22004".into(),
                    message: "null values cannot be formatted as an SQL identifier".into(),
                })
            }
            ('I', d) => quote_ident(&output(d, &ty)?),
            ('L', Datum::Null) => "NULL".to_string(),
            ('L', d) => quote_literal(&output(d, &ty)?),
            (other, _) => {
                return Err(bad(&format!("unrecognized format() type specifier \"{other}\"")));
            }
        };
        let pad = width.saturating_sub(value.chars().count());
        if left {
            out.push_str(&value);
            out.extend(std::iter::repeat_n(' ', pad));
        } else {
            out.extend(std::iter::repeat_n(' ', pad));
            out.push_str(&value);
        }
    }
    Ok(out)
}

fn regexp_replace(src: &str, pattern: &str, replacement: &str, flags: &str) -> Result<String, EvalError> {
    let (global, ci) = parse_regex_flags(flags)?;
    let re = compiled_regex(pattern, ci)?;
    let mut out = String::with_capacity(src.len());
    let mut last = 0;
    for caps in re.captures_iter(src) {
        let Some(m) = caps.get(0) else { continue };
        out.push_str(&src[last..m.start()]);
        let mut rchars = replacement.chars().peekable();
        while let Some(c) = rchars.next() {
            if c != '\\' {
                out.push(c);
                continue;
            }
            match rchars.peek().copied() {
                Some(d @ '1'..='9') => {
                    rchars.next();
                    let idx = d as usize - '0' as usize;
                    if let Some(g) = caps.get(idx) {
                        out.push_str(g.as_str());
                    }
                }
                Some('&') => {
                    rchars.next();
                    out.push_str(m.as_str());
                }
                Some('\\') => {
                    rchars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            }
        }
        last = m.end();
        if !global {
            break;
        }
    }
    out.push_str(&src[last..]);
    Ok(out)
}

// ---- other string functions ----

fn substr(s: &str, start: i64, count: Option<i64>) -> Result<String, EvalError> {
    let skip = (start.max(1) - 1) as usize;
    let take = match count {
        None => usize::MAX,
        Some(n) if n < 0 => {
            return Err(EvalError::InvalidArgument {
                sqlstate: "22011".into(),
                message: "negative substring length not allowed".into(),
            })
        }
        Some(n) => {
            let end = start.saturating_add(n);
            if end < 1 {
                return Ok(String::new());
            }
            (end - start.max(1)).max(0) as usize
        }
    };
    Ok(s.chars().skip(skip).take(take).collect())
}

fn strpos(s: &str, sub: &str) -> i32 {
    match s.find(sub) {
        Some(i) => s[..i].chars().count() as i32 + 1,
        None => 0,
    }
}

fn trim<'a>(s: &'a str, chars: &str, side: TrimSide) -> &'a str {
    let set = |c: char| chars.contains(c);
    match side {
        TrimSide::Both => s.trim_matches(set),
        TrimSide::Leading => s.trim_start_matches(set),
        TrimSide::Trailing => s.trim_end_matches(set),
    }
}

fn first_chars(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn left(s: &str, n: i64) -> String {
    let len = s.chars().count() as i64;
    let keep = if n >= 0 { n.min(len) } else { (len + n).max(0) };
    first_chars(s, keep as usize).to_string()
}

fn right(s: &str, n: i64) -> String {
    let len = s.chars().count() as i64;
    let keep = if n >= 0 { n.min(len) } else { (len + n).max(0) };
    s.chars().skip((len - keep) as usize).collect()
}

fn pad(s: &str, len: i64, fill: &str, left_side: bool) -> Result<String, EvalError> {
    let len = len.max(0) as usize;
    let slen = s.chars().count();
    let s = if slen > len { first_chars(s, len) } else { s };
    let slen = slen.min(len);
    if fill.is_empty() {
        return Ok(s.to_string());
    }
    let padn = len - slen;
    let max_fill = fill.chars().map(char::len_utf8).max().unwrap_or(1);
    if padn.saturating_mul(max_fill).saturating_add(s.len()) > MAX_RESULT_BYTES {
        return Err(too_large());
    }
    let padding: String = fill.chars().cycle().take(padn).collect();
    Ok(if left_side { padding + s } else { s.to_string() + &padding })
}

fn repeat(s: &str, n: i64) -> Result<String, EvalError> {
    if n <= 0 || s.is_empty() {
        return Ok(String::new());
    }
    if (n as usize).saturating_mul(s.len()) > MAX_RESULT_BYTES {
        return Err(too_large());
    }
    Ok(s.repeat(n as usize))
}

fn split_part(s: &str, delim: &str, n: i64) -> Result<String, EvalError> {
    if n == 0 {
        return Err(EvalError::invalid_argument("field position must not be zero"));
    }
    if s.is_empty() {
        return Ok(String::new());
    }
    if delim.is_empty() {
        return Ok(if n == 1 || n == -1 { s.to_string() } else { String::new() });
    }
    let parts: Vec<&str> = s.split(delim).collect();
    let idx = if n > 0 { n - 1 } else { parts.len() as i64 + n };
    Ok(if idx >= 0 && (idx as usize) < parts.len() { parts[idx as usize].to_string() } else { String::new() })
}

fn chr(code: i64) -> Result<String, EvalError> {
    let limit = |m: String| EvalError::InvalidArgument { sqlstate: "54000".into(), message: m };
    if code < 0 {
        return Err(limit("character number must be positive".into()));
    }
    if code == 0 {
        return Err(limit("null character not permitted".into()));
    }
    if code > 0x10ffff {
        return Err(limit(format!("requested character too large for encoding: {code}")));
    }
    match char::from_u32(code as u32) {
        Some(c) => Ok(c.to_string()),
        None => Err(limit(format!("requested character not valid for encoding: {code}"))),
    }
}

fn translate(s: &str, from: &str, to: &str) -> String {
    let from: Vec<char> = from.chars().collect();
    let to: Vec<char> = to.chars().collect();
    s.chars()
        .filter_map(|c| match from.iter().position(|f| *f == c) {
            Some(i) => to.get(i).copied(),
            None => Some(c),
        })
        .collect()
}

pub(super) fn eval(func: &Func, args: &[Datum]) -> Result<Datum, EvalError> {
    use Func::*;
    let s = |i: usize| text(func, args, i);
    let n = |i: usize| int(func, args, i);
    match (func, args.len()) {
        (TextConcat, 2) => t(format!("{}{}", s(0)?, s(1)?)),
        (ByteaConcat, 2) => match (&args[0], &args[1]) {
            (Datum::Bytes(a), Datum::Bytes(b)) => Ok(Datum::Bytes([a.as_slice(), b.as_slice()].concat())),
            _ => Err(EvalError::Internal(format!("{func} on {args:?}"))),
        },
        (TextAnyConcat { ty }, 2) => {
            let part = |d: &Datum| match d {
                Datum::Text(x) => Ok(x.clone()),
                other => text_of(other, ty),
            };
            t(part(&args[0])? + &part(&args[1])?)
        }
        (Like { case_insensitive, negated }, 2) => Ok(Datum::Bool(like(s(0)?, s(1)?, *case_insensitive)? != *negated)),
        (LikeEscape, 2) => t(like_escape(s(0)?, s(1)?)?),
        (RegexMatch { case_insensitive, negated }, 2) => {
            let re = compiled_regex(s(1)?, *case_insensitive)?;
            Ok(Datum::Bool(re.is_match(s(0)?) != *negated))
        }
        (RegexpReplace, 3 | 4) => {
            let flags = if args.len() == 4 { s(3)? } else { "" };
            t(regexp_replace(s(0)?, s(1)?, s(2)?, flags)?)
        }
        (CharLength, 1) => Ok(Datum::Int32(s(0)?.chars().count() as i32)),
        (OctetLength | BitLength, 1) => {
            let octets = match &args[0] {
                Datum::Text(x) => x.len(),
                Datum::Bytes(b) => b.len(),
                _ => return Err(type_error(func, args)),
            };
            let bits = if matches!(func, BitLength) { 8 } else { 1 };
            Ok(Datum::Int32((octets * bits) as i32))
        }
        (Lower, 1) => t(lower(s(0)?)),
        (Upper, 1) => t(upper(s(0)?)),
        (Initcap, 1) => t(initcap(s(0)?)),
        (Substr, 2) => t(substr(s(0)?, n(1)?, None)?),
        (Substr, 3) => t(substr(s(0)?, n(1)?, Some(n(2)?))?),
        (Position, 2) => Ok(Datum::Int32(strpos(s(0)?, s(1)?))),
        (Replace, 3) => {
            let (src, from, to) = (s(0)?, s(1)?, s(2)?);
            if from.is_empty() {
                return t(src.to_string());
            }
            let count = src.matches(from).count();
            if to.len() > from.len()
                && src.len().saturating_add(count.saturating_mul(to.len() - from.len())) > MAX_RESULT_BYTES
            {
                return Err(too_large());
            }
            t(src.replace(from, to))
        }
        (Trim(side), 1) => t(trim(s(0)?, " ", *side).to_string()),
        (Trim(side), 2) => t(trim(s(0)?, s(1)?, *side).to_string()),
        (Left, 2) => t(left(s(0)?, n(1)?)),
        (Right, 2) => t(right(s(0)?, n(1)?)),
        (Lpad, 2) => t(pad(s(0)?, n(1)?, " ", true)?),
        (Lpad, 3) => t(pad(s(0)?, n(1)?, s(2)?, true)?),
        (Rpad, 2) => t(pad(s(0)?, n(1)?, " ", false)?),
        (Rpad, 3) => t(pad(s(0)?, n(1)?, s(2)?, false)?),
        (Repeat, 2) => t(repeat(s(0)?, n(1)?)?),
        (Reverse, 1) => t(s(0)?.chars().rev().collect()),
        (SplitPart, 3) => t(split_part(s(0)?, s(1)?, n(2)?)?),
        (StartsWith, 2) => Ok(Datum::Bool(s(0)?.starts_with(s(1)?))),
        (Ascii, 1) => Ok(Datum::Int32(s(0)?.chars().next().map_or(0, |c| c as i32))),
        (Chr, 1) => t(chr(n(0)?)?),
        (Translate, 3) => t(translate(s(0)?, s(1)?, s(2)?)),
        (ToHex, 1) => match &args[0] {
            Datum::Int32(v) => t(format!("{:x}", *v as u32)),
            Datum::Int64(v) => t(format!("{:x}", *v as u64)),
            Datum::Int16(v) => t(format!("{:x}", *v as i32 as u32)),
            _ => Err(type_error(func, args)),
        },
        (SizePretty, 1) => match args[0].as_i64() {
            Some(bytes) => t(size_pretty(bytes)),
            None => Err(type_error(func, args)),
        },
        // Not strict: a NULL modifier means none, as in PostgreSQL.
        (FormatType, 2) => match (&args[0], &args[1]) {
            (Datum::Null, _) => Ok(Datum::Null),
            (Datum::Int64(oid), Datum::Int32(_) | Datum::Null) => {
                let modifier = if let Datum::Int32(m) = args[1] { m } else { -1 };
                let ty = u32::try_from(*oid).ok().and_then(|oid| ScalarType::from_oid_and_modifier(oid, modifier));
                // PostgreSQL's answer for an oid that names no type.
                t(ty.map_or_else(|| "???".to_string(), |ty| ty.to_string()))
            }
            _ => Err(type_error(func, args)),
        },
        (Concat { types }, _) => {
            let mut out = String::new();
            for (d, ty) in args.iter().zip(types) {
                if !d.is_null() {
                    out.push_str(&output(d, ty)?);
                }
            }
            t(out)
        }
        (RegexpMatch, 2 | 3) => {
            let flags = if args.len() == 3 { s(2)? } else { "" };
            let re = compiled_regex(s(1)?, regex_flags(flags)?)?;
            Ok(re.captures(s(0)?).map_or(Datum::Null, |caps| match_array(&caps)))
        }
        (RegexpSplitToArray, 2 | 3) => {
            let flags = if args.len() == 3 { s(2)? } else { "" };
            let re = compiled_regex(s(1)?, regex_flags(flags)?)?;
            let src = s(0)?;
            Ok(Datum::Array(regexp_split(&re, src).into_iter().map(|p| Datum::Text(p.into())).collect()))
        }
        // Not strict: a NULL delimiter splits into characters.
        (StringToArray, 2 | 3) => {
            if args[0].is_null() {
                return Ok(Datum::Null);
            }
            let src = s(0)?;
            let null_string = match args.get(2) {
                Some(Datum::Text(n)) => Some(n.as_str()),
                _ => None,
            };
            let parts: Vec<&str> = match &args[1] {
                _ if src.is_empty() => vec![],
                // A NULL delimiter splits into characters, an empty one not at all.
                Datum::Null => src.char_indices().map(|(i, c)| &src[i..i + c.len_utf8()]).collect(),
                Datum::Text(d) if d.is_empty() => vec![src],
                Datum::Text(d) => src.split(d.as_str()).collect(),
                _ => return Err(type_error(func, args)),
            };
            Ok(Datum::Array(
                parts
                    .into_iter()
                    .map(|p| if Some(p) == null_string { Datum::Null } else { Datum::Text(p.into()) })
                    .collect(),
            ))
        }
        (SimilarToEscape, 1) => t(similar_to_regex(s(0)?, Some('\\'))?),
        (SimilarToEscape, 2) => {
            let escape = s(1)?;
            let mut chars = escape.chars();
            match (chars.next(), chars.next()) {
                (None, _) => t(similar_to_regex(s(0)?, None)?),
                (Some(e), None) => t(similar_to_regex(s(0)?, Some(e))?),
                _ => Err(EvalError::InvalidArgument {
                    sqlstate: "22025".into(),
                    message: "invalid escape string".into(),
                }),
            }
        }
        (QuoteIdent, 1) => t(quote_ident(s(0)?)),
        (QuoteLiteral, 1) => t(quote_literal(s(0)?)),
        (QuoteNullable, 1) => match &args[0] {
            Datum::Null => t("NULL".into()),
            _ => t(quote_literal(s(0)?)),
        },
        (Format { types }, _) => match args.first() {
            Some(Datum::Text(template)) => t(format(template, &args[1..], &types[1..])?),
            _ => Ok(Datum::Null),
        },
        (NumNulls { nulls }, _) => Ok(Datum::Int32(args.iter().filter(|d| d.is_null() == *nulls).count() as i32)),
        (ConcatWs { types }, _) => {
            let sep = match args.first() {
                Some(Datum::Null) | None => return Ok(Datum::Null),
                Some(Datum::Text(sep)) => sep.clone(),
                Some(_) => return Err(type_error(func, args)),
            };
            let mut parts = Vec::new();
            for (d, ty) in args.iter().zip(types).skip(1) {
                if !d.is_null() {
                    parts.push(output(d, ty)?);
                }
            }
            t(parts.join(&sep))
        }
        _ => Err(arity_error(func, args)),
    }
}

/// PostgreSQL's `pg_size_pretty(bigint)`: bytes below 10 kB, otherwise the smallest unit
/// (kB to PB) that keeps the value below 20480, rounded half away from zero (divisions
/// truncate toward zero, as PostgreSQL's do).
fn size_pretty(bytes: i64) -> String {
    const LIMIT: u64 = 10 * 1024;
    const LIMIT2: u64 = LIMIT * 2 - 1;
    let half_rounded = |x: i64| (x + if x < 0 { -1 } else { 1 }) / 2;
    if bytes.unsigned_abs() < LIMIT {
        return format!("{bytes} bytes");
    }
    // One extra bit kept for rounding.
    let mut size = bytes / 512;
    for unit in ["kB", "MB", "GB", "TB"] {
        if size.unsigned_abs() < LIMIT2 {
            return format!("{} {unit}", half_rounded(size));
        }
        size /= 1024;
    }
    format!("{} PB", half_rounded(size))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns() {
        assert!(like("abc", "a%", false).unwrap());
        assert!(like("abc", "%c", false).unwrap());
        assert!(like("abc", "a_c", false).unwrap());
        assert!(!like("abc", "a_", false).unwrap());
        assert!(like("", "%", false).unwrap());
        assert!(!like("", "_", false).unwrap());
        assert!(like("a%c", "a\\%c", false).unwrap());
        assert!(!like("abc", "a\\%c", false).unwrap());
        assert!(like("a_c", "a\\_c", false).unwrap());
        assert!(!like("abc", "a\\_c", false).unwrap());
        assert!(like("a\\c", "a\\\\c", false).unwrap());
        assert!(like("ABC", "a%c", true).unwrap());
        assert!(!like("ABC", "a%c", false).unwrap());
        assert!(like("mississippi", "%iss%ppi", false).unwrap());
        assert!(like("xaaab", "%a%ab", false).unwrap());
        assert!(like("héllo", "h_llo", false).unwrap());
        let e = like("abc", "ab\\", false).unwrap_err();
        assert_eq!(e.to_string(), "LIKE pattern must not end with escape character");
        assert_eq!(e.sqlstate(), "22025");
    }

    #[test]
    fn like_escape_rewrites() {
        assert_eq!(like_escape("a#%b", "#").unwrap(), "a\\%b");
        assert_eq!(like_escape("a\\b", "#").unwrap(), "a\\\\b");
        assert_eq!(like_escape("a\\b", "").unwrap(), "a\\\\b");
        assert_eq!(like_escape("a\\%b", "\\").unwrap(), "a\\%b");
        assert!(like_escape("a", "ab").is_err());
        assert!(like("50%", &like_escape("50#%", "#").unwrap(), false).unwrap());
    }

    #[test]
    fn substrings() {
        assert_eq!(substr("abcdef", 2, None).unwrap(), "bcdef");
        assert_eq!(substr("abcdef", 0, None).unwrap(), "abcdef");
        assert_eq!(substr("abcdef", 2, Some(3)).unwrap(), "bcd");
        assert_eq!(substr("abcdef", -2, Some(5)).unwrap(), "ab");
        assert_eq!(substr("abcdef", -10, Some(5)).unwrap(), "");
        assert_eq!(substr("abcdef", 10, Some(5)).unwrap(), "");
        assert!(substr("abcdef", 1, Some(-1)).is_err());
        assert_eq!(substr("abcdef", 3, Some(i64::MAX)).unwrap(), "cdef");
        assert_eq!(strpos("high", "ig"), 2);
        assert_eq!(strpos("high", ""), 1);
        assert_eq!(strpos("héllo", "l"), 3);
        assert_eq!(strpos("high", "x"), 0);
    }

    #[test]
    fn misc_functions() {
        assert_eq!(left("abcde", 2), "ab");
        assert_eq!(left("abcde", -2), "abc");
        assert_eq!(right("abcde", 2), "de");
        assert_eq!(right("abcde", -2), "cde");
        assert_eq!(left("abc", -5), "");
        assert_eq!(pad("hi", 5, "xy", true).unwrap(), "xyxhi");
        assert_eq!(pad("hi", 5, "xy", false).unwrap(), "hixyx");
        assert_eq!(pad("hello", 2, "x", true).unwrap(), "he");
        assert_eq!(pad("hi", 5, "", true).unwrap(), "hi");
        assert_eq!(pad("hi", -1, "x", true).unwrap(), "");
        assert_eq!(repeat("ab", 3).unwrap(), "ababab");
        assert_eq!(repeat("ab", -1).unwrap(), "");
        assert!(repeat("ab", i32::MAX as i64).is_err());
        assert_eq!(split_part("a,b,c", ",", 2).unwrap(), "b");
        assert_eq!(split_part("a,b,c", ",", -1).unwrap(), "c");
        assert_eq!(split_part("a,b,c", ",", 4).unwrap(), "");
        assert!(split_part("a,b,c", ",", 0).is_err());
        assert_eq!(initcap("hi THOMAS o'neil"), "Hi Thomas O'Neil");
        assert_eq!(translate("12345", "143", "ax"), "a2x5");
        assert_eq!(trim("xxhixx", "x", TrimSide::Both), "hi");
        assert_eq!(trim("  hi  ", " ", TrimSide::Leading), "hi  ");
        assert_eq!(trim("  hi  ", " ", TrimSide::Trailing), "  hi");
        assert_eq!(chr(65).unwrap(), "A");
        assert!(chr(0).is_err());
        assert!(chr(0xD800).is_err());
        assert_eq!(lower("ÀB"), "àb");
        assert_eq!(upper("straße"), "STRAßE");
    }

    #[test]
    fn regexes() {
        let f = Func::RegexMatch { case_insensitive: false, negated: false };
        let r = f.eval(&[Datum::Text("foobar".into()), Datum::Text("^fo+b".into())]).unwrap();
        assert_eq!(r, Datum::Bool(true));
        let f = Func::RegexMatch { case_insensitive: true, negated: true };
        let r = f.eval(&[Datum::Text("FOOBAR".into()), Datum::Text("foo".into())]).unwrap();
        assert_eq!(r, Datum::Bool(false));
        let f = Func::RegexMatch { case_insensitive: false, negated: false };
        let e = f.eval(&[Datum::Text("x".into()), Datum::Text("(".into())]).unwrap_err();
        assert_eq!(e.sqlstate(), "2201B");
        assert_eq!(regexp_replace("Thomas", ".[mN]a.", "M", "").unwrap(), "ThM");
        assert_eq!(regexp_replace("foobarbaz", "b(..)", "X\\1Y", "g").unwrap(), "fooXarYXazY");
        assert_eq!(regexp_replace("abc", "B", "x", "i").unwrap(), "axc");
    }

    #[test]
    fn similar_to_patterns_become_anchored_regexes() {
        assert_eq!(similar_to_regex("a%_(b|c)", Some('\\')).unwrap(), "^(?:a.*.(?:b|c))$");
        assert_eq!(similar_to_regex("a.c$", Some('\\')).unwrap(), "^(?:a\\.c\\$)$");
        assert_eq!(similar_to_regex("a#%", Some('#')).unwrap(), "^(?:a\\%)$");
        assert_eq!(similar_to_regex("[%_]x", None).unwrap(), "^(?:[%_]x)$");
    }

    #[test]
    fn format_and_quoting() {
        let args = [Datum::Text("a b".into()), Datum::Null, Datum::Int32(7)];
        let types = [ScalarType::Text, ScalarType::Text, ScalarType::Int32];
        assert_eq!(format("%I|%L|%s|%3$s|%1$-4s|", &args, &types).unwrap(), "\"a b\"|NULL|7|7|a b |");
        assert!(format("%s %s %s %s", &args, &types).is_err());
        assert!(format("%x", &args, &types).is_err());
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("a\\b"), "E'a\\\\b'");
        assert_eq!(quote_ident("ok_1"), "ok_1");
        assert_eq!(quote_ident("Order"), "\"Order\"");
    }

    #[test]
    fn regexp_split_ignores_empty_matches_at_the_ends() {
        let re = compiled_regex("", false).unwrap();
        assert_eq!(regexp_split(&re, "abc"), vec!["a", "b", "c"]);
        let re = compiled_regex("\\s*", false).unwrap();
        assert_eq!(regexp_split(&re, "a b"), vec!["a", "b"]);
    }

    #[test]
    fn regexp_matches_gives_groups_per_match() {
        let text = |s: &str| Datum::Text(s.into());
        let all = regexp_matches("a1b22", "([a-z])(\\d+)?", "g").unwrap();
        assert_eq!(all, vec![Datum::Array(vec![text("a"), text("1")]), Datum::Array(vec![text("b"), text("22")])]);
        let first = regexp_matches("xAx", "a", "i").unwrap();
        assert_eq!(first, vec![Datum::Array(vec![text("A")])]);
        assert_eq!(regexp_matches("ab", "(x)?b", "").unwrap(), vec![Datum::Array(vec![Datum::Null])]);
        assert!(regexp_matches("abc", "z", "g").unwrap().is_empty());
        assert!(regexp_matches("abc", "b", "q").is_err());
    }
}
