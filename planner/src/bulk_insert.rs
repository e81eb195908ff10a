//! Parsing a bulk `INSERT ... VALUES` of plain literals without sqlparser's tokenizer.
//!
//! sqlparser spends about 2 µs per row of a multi-row `VALUES` (a token with its location
//! per value, a typed-literal attempt per number): 2 ms of a 1k-row INSERT, a second for
//! 100k rows; an AST of the rows then costs as much again to rewrite, plan and drop.
//! Here the rows after the first are scanned into [`Literal`]s that the planner types
//! as it types the same literals in the AST ([`crate::expr::plan_literal`]); the
//! statement with only its first row still goes through sqlparser, so everything but the
//! rows (target, columns, ON CONFLICT, RETURNING) is parsed as before, and the first row
//! checks that the scan reads literals as sqlparser does. Anything but unsigned or
//! negated decimal numbers, '…' strings, NULL, TRUE and FALSE falls back to the full
//! parse, which also reports every syntax error.

use sqlparser::ast::{self, Expr, UnaryOperator, Value};

use crate::Statement;

/// An `INSERT ... VALUES` statement whose rows after the first are plain literals, kept
/// out of its AST.
#[derive(Clone, Debug)]
pub struct BulkInsert {
    /// The statement with its first row only.
    pub(crate) insert: Box<ast::Statement>,
    /// The rows after the first, as wide as it.
    pub(crate) more_rows: Vec<Vec<Literal>>,
}

/// A literal as a bulk `VALUES` row writes it.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Literal {
    /// A decimal number as written, `-` first when negated.
    Number(String),
    /// A `'…'` string's value.
    String(String),
    Null,
    Bool(bool),
}

impl Literal {
    /// The expression sqlparser makes of the literal.
    fn to_expr(&self) -> Expr {
        let value = |v: Value| Expr::Value(v.into());
        match self {
            Literal::Number(n) => match n.strip_prefix('-') {
                Some(digits) => Expr::UnaryOp {
                    op: UnaryOperator::Minus,
                    expr: Box::new(value(Value::Number(digits.to_string(), false))),
                },
                None => value(Value::Number(n.clone(), false)),
            },
            Literal::String(s) => value(Value::SingleQuotedString(s.clone())),
            Literal::Null => value(Value::Null),
            Literal::Bool(b) => value(Value::Boolean(*b)),
        }
    }
}

/// Statements shorter than this gain nothing measurable and take the usual path.
const MIN_BYTES: usize = 1024;

/// `sql` parsed as one `INSERT ... VALUES` statement, if it is one whose rows are plain
/// literals; `None` otherwise (the caller parses it in full).
pub(crate) fn parse(sql: &str) -> Option<Statement> {
    if sql.len() < MIN_BYTES || !starts_with_keyword(sql.trim_start(), "insert") {
        return None;
    }
    let values_start = find_values_list(sql)?;
    let mut scan = Scanner { sql: sql.as_bytes(), pos: values_start };
    let first_scanned = scan.row()?;
    let first_row_text = &sql[values_start..scan.pos];
    let mut rows = Vec::new();
    while scan.comma_then_row() {
        rows.push(scan.row()?);
    }
    let suffix = &sql[scan.pos..];
    let head = format!("{}{first_row_text}{suffix}", &sql[..values_start]);
    let mut parsed = crate::parse_in_full(&head).ok()?;
    if parsed.len() != 1 {
        return None;
    }
    let Some(Statement::Sql(insert)) = parsed.pop() else { return None };
    let ast::Statement::Insert(ast::Insert { source: Some(source), .. }) = &*insert else { return None };
    // A query around the rows (`WITH`, `ORDER BY`, `LIMIT`) would apply to all of them.
    if source.with.is_some() || source.order_by.is_some() || source.limit_clause.is_some() || source.fetch.is_some() {
        return None;
    }
    let ast::SetExpr::Values(values) = &*source.body else { return None };
    let [first] = values.rows.as_slice() else { return None };
    // The first row, scanned as the others, must be what sqlparser made of it.
    let first_as_parsed = first_scanned.iter().map(Literal::to_expr).eq(first.content.iter().cloned());
    if !first_as_parsed || rows.iter().any(|r| r.len() != first_scanned.len()) {
        return None;
    }
    Some(Statement::BulkInsert(Box::new(BulkInsert { insert, more_rows: rows })))
}

#[cfg(test)]
impl BulkInsert {
    /// The whole statement as sqlparser would have parsed it.
    fn to_statement(&self) -> ast::Statement {
        let mut stmt = (*self.insert).clone();
        if let ast::Statement::Insert(ast::Insert { source: Some(source), .. }) = &mut stmt {
            if let ast::SetExpr::Values(values) = source.body.as_mut() {
                let rows = self.more_rows.iter().map(|r| r.iter().map(Literal::to_expr).collect());
                values.rows.extend(rows.map(ast::Parens::with_empty_span));
            }
        }
        stmt
    }
}

fn starts_with_keyword(s: &str, keyword: &str) -> bool {
    s.len() > keyword.len()
        && s.as_bytes()[..keyword.len()].eq_ignore_ascii_case(keyword.as_bytes())
        && !s.as_bytes()[keyword.len()].is_ascii_alphanumeric()
}

/// Where the first `(` after the first `VALUES` word is. A `values` inside a name or
/// string is harmless: the statement rebuilt from it then fails to parse, or parses to
/// something other than one single-row `VALUES`, and the caller falls back.
fn find_values_list(sql: &str) -> Option<usize> {
    let bytes = sql.as_bytes();
    let mut i = 0;
    while i + 6 <= bytes.len() {
        let word_start = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_');
        if word_start && starts_with_keyword(&sql[i..], "values") {
            let after = i + 6;
            let open = after + bytes[after..].iter().position(|b| !b.is_ascii_whitespace())?;
            return (bytes[open] == b'(').then_some(open);
        }
        i += 1;
    }
    None
}

struct Scanner<'a> {
    sql: &'a [u8],
    pos: usize,
}

impl Scanner<'_> {
    fn skip_whitespace(&mut self) {
        while self.sql.get(self.pos).is_some_and(u8::is_ascii_whitespace) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> bool {
        self.skip_whitespace();
        let found = self.sql.get(self.pos) == Some(&byte);
        self.pos += usize::from(found);
        found
    }

    /// Past a `,` that another row follows; stays put (and says no) otherwise.
    fn comma_then_row(&mut self) -> bool {
        let start = self.pos;
        if self.eat(b',') && self.eat(b'(') {
            self.pos -= 1;
            return true;
        }
        self.pos = start;
        false
    }

    /// Reads `( literal, ... )`.
    fn row(&mut self) -> Option<Vec<Literal>> {
        if !self.eat(b'(') {
            return None;
        }
        let mut row = Vec::new();
        loop {
            row.push(self.literal()?);
            if self.eat(b')') {
                return Some(row);
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn literal(&mut self) -> Option<Literal> {
        self.skip_whitespace();
        match *self.sql.get(self.pos)? {
            b'\'' => self.string().map(Literal::String),
            b'-' => {
                self.pos += 1;
                self.skip_whitespace();
                let digits = self.number()?;
                Some(Literal::Number(format!("-{digits}")))
            }
            b'0'..=b'9' => self.number().map(|n| Literal::Number(n.to_string())),
            b'a'..=b'z' | b'A'..=b'Z' => {
                let start = self.pos;
                while self.sql.get(self.pos).is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_') {
                    self.pos += 1;
                }
                let word = &self.sql[start..self.pos];
                if word.eq_ignore_ascii_case(b"null") {
                    Some(Literal::Null)
                } else if word.eq_ignore_ascii_case(b"true") {
                    Some(Literal::Bool(true))
                } else if word.eq_ignore_ascii_case(b"false") {
                    Some(Literal::Bool(false))
                } else {
                    None
                }
            }
            _ => None,
        }
    }

    /// `digits[.digits]`, followed by something that cannot continue a number.
    fn number(&mut self) -> Option<&str> {
        let start = self.pos;
        let digits = |s: &mut Self| {
            let from = s.pos;
            while s.sql.get(s.pos).is_some_and(u8::is_ascii_digit) {
                s.pos += 1;
            }
            s.pos > from
        };
        if !digits(self) {
            return None;
        }
        if self.sql.get(self.pos) == Some(&b'.') {
            self.pos += 1;
            if !digits(self) {
                return None;
            }
        }
        if self.sql.get(self.pos).is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_')) {
            return None;
        }
        std::str::from_utf8(&self.sql[start..self.pos]).ok()
    }

    /// A standard `'…'` string (`''` for a quote). Backslashes and a string continued on
    /// the next line are left to the full parse.
    fn string(&mut self) -> Option<String> {
        let mut out = Vec::new();
        self.pos += 1;
        loop {
            match *self.sql.get(self.pos)? {
                b'\'' if self.sql.get(self.pos + 1) == Some(&b'\'') => {
                    out.push(b'\'');
                    self.pos += 2;
                }
                b'\'' => {
                    self.pos += 1;
                    break;
                }
                b'\\' => return None,
                b => {
                    out.push(b);
                    self.pos += 1;
                }
            }
        }
        // `'a' 'b'` on separate lines is one string in SQL; such rows take the full parse.
        let rest = &self.sql[self.pos..];
        let next = rest.iter().position(|b| !b.is_ascii_whitespace()).map(|i| rest[i]);
        if next == Some(b'\'') {
            return None;
        }
        String::from_utf8(out).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full(sql: &str) -> Vec<Statement> {
        crate::parse_in_full(sql).expect("parses")
    }

    fn bulk(rows: &[&str], suffix: &str) -> String {
        let mut sql = "INSERT INTO t (a, b, c) VALUES ".to_string();
        let mut i = 0;
        while sql.len() < 2 * MIN_BYTES {
            if i > 0 {
                sql.push_str(",\n ");
            }
            sql.push_str(rows[i % rows.len()]);
            i += 1;
        }
        sql + suffix
    }

    /// Equal as sqlparser compares statements: spans aside.
    fn same(a: &[Statement], b: &[Statement]) -> bool {
        let sql = |s: &Statement| match s {
            Statement::Sql(stmt) => Some((**stmt).clone()),
            Statement::BulkInsert(bulk) => Some(bulk.to_statement()),
            _ => None,
        };
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| sql(x).is_some() && sql(x) == sql(y))
    }

    /// The scanned statement is exactly sqlparser's for every literal form it accepts.
    #[test]
    fn scanned_rows_equal_sqlparsers() {
        let rows = ["(1, 'x', NULL)", "(-2.50, 'it''s', true)", "( 0 ,'' , FALSE )", "(- 7, 'ünï', null)"];
        for suffix in ["", ";", " ON CONFLICT DO NOTHING", " RETURNING a;  "] {
            let sql = bulk(&rows, suffix);
            let fast = parse(&sql).map(|s| vec![s]).expect("takes the fast path");
            assert!(same(&fast, &full(&sql)), "{suffix:?}");
        }
    }

    /// Other forms are left to the full parse (which also reports every error).
    #[test]
    fn anything_else_falls_back() {
        for odd in [
            "(1, 'x', 1e5)",
            "(1, 'x', .5)",
            "(1, 'x', 0x1F)",
            "(1, E'x', 2)",
            "(1, 'a\\b', 2)",
            "(1, 'x', now())",
            "(1, 'x', '1'::int)",
            "(1, 'x', DEFAULT)",
            "(1, 'x', $1)",
            "(1, 'x' -- note\n, 2)",
            "(1, 'x')",
        ] {
            let sql = bulk(&["(1, 'x', 2)", odd], "");
            assert!(parse(&sql).is_none(), "{odd}");
        }
        let two_statements = bulk(&["(1, 'x', 2)"], "; SELECT 1");
        assert!(parse(&two_statements).is_none());
        assert!(parse("INSERT INTO t VALUES (1)").is_none(), "short statements take the usual path");
        let select = format!("SELECT 'values (1)' {}", " ".repeat(MIN_BYTES));
        assert!(parse(&select).is_none());
    }

    #[test]
    fn values_in_a_name_is_harmless() {
        let sql = bulk(&["(1, 'x', 2)"], "").replacen("INTO t (a, b, c)", "INTO \"values\" (a, b, c)", 1);
        assert!(same(&parse(&sql).map(|s| vec![s]).unwrap_or_else(|| full(&sql)), &full(&sql)));
    }
}
