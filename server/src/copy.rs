//! `COPY ... FROM STDIN`: decoding PostgreSQL's text and CSV formats into table rows;
//! `COPY ... TO STDOUT`: encoding rows into them.

use eddy_planner::CopyFormat;
use eddy_repr::{strconv, Datum, GlobalId, RelationDesc, Row, ScalarType};

use crate::error::AdapterError;

/// Data of one COPY in progress: the target, and bytes received so far.
#[derive(Debug)]
pub struct CopyState {
    pub table: GlobalId,
    columns: Vec<usize>,
    column_types: Vec<ScalarType>,
    /// What each row starts as: the defaults of the columns the COPY leaves out.
    row_template: Vec<Datum>,
    format: CopyFormat,
    buffer: Vec<u8>,
    line_number: usize,
    header_pending: bool,
    pub rows: Vec<Row>,
    /// serial and identity columns, numbered where a row leaves them NULL.
    pub generated: Vec<usize>,
    /// Defaults that give a new value each time (`gen_random_uuid()`), evaluated per row.
    pub volatile_defaults: Vec<(usize, eddy_expr::ScalarExpr)>,
}

impl CopyState {
    pub fn new(
        table: GlobalId,
        columns: Vec<usize>,
        column_types: Vec<ScalarType>,
        row_template: Vec<Datum>,
        format: CopyFormat,
    ) -> Self {
        let header_pending = matches!(format, CopyFormat::Csv { header: true, .. });
        CopyState {
            table,
            columns,
            column_types,
            row_template,
            format,
            buffer: Vec::new(),
            line_number: 0,
            header_pending,
            rows: Vec::new(),
            generated: Vec::new(),
            volatile_defaults: Vec::new(),
        }
    }

    /// Consumes a chunk of data; complete lines become rows.
    pub fn push(&mut self, data: &[u8]) -> Result<(), AdapterError> {
        self.buffer.extend_from_slice(data);
        let mut start = 0;
        let mut in_quotes = false;
        let quote = match self.format {
            CopyFormat::Csv { quote, .. } => Some(quote),
            CopyFormat::Text { .. } => None,
        };
        let mut i = 0;
        while i < self.buffer.len() {
            let b = self.buffer[i];
            if Some(b) == quote {
                in_quotes = !in_quotes;
            } else if b == b'\n' && !in_quotes {
                let line = self.buffer[start..i].to_vec();
                self.line(&line)?;
                start = i + 1;
            }
            i += 1;
        }
        self.buffer.drain(..start);
        Ok(())
    }

    /// Ends the data; a last line without newline counts too.
    pub fn finish(&mut self) -> Result<Vec<Row>, AdapterError> {
        if !self.buffer.is_empty() {
            let line = std::mem::take(&mut self.buffer);
            self.line(&line)?;
        }
        Ok(std::mem::take(&mut self.rows))
    }

    fn line(&mut self, raw: &[u8]) -> Result<(), AdapterError> {
        self.line_number += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if self.header_pending {
            self.header_pending = false;
            return Ok(());
        }
        if raw == b"\\." {
            return Ok(());
        }
        let text = std::str::from_utf8(raw).map_err(|_| self.error("invalid UTF-8 in COPY data".into()))?;
        let fields = match &self.format {
            CopyFormat::Text { delimiter, null } => split_text(text, *delimiter as char, null),
            CopyFormat::Csv { delimiter, quote, escape, null, .. } => {
                strconv::split_csv(text, *delimiter as char, *quote as char, *escape as char, null)
            }
        };
        if fields.len() != self.columns.len() {
            let what = if fields.len() < self.columns.len() {
                "missing data for a column"
            } else {
                "extra data after last expected column"
            };
            return Err(self.error(format!("{what}: expected {} columns, got {}", self.columns.len(), fields.len())));
        }
        let mut datums = self.row_template.clone();
        for (col, default) in &self.volatile_defaults {
            datums[*col] = default.eval(&[]).map_err(|e| self.error_with(e.sqlstate(), e.to_string()))?;
        }
        for ((field, &col), ty) in fields.into_iter().zip(&self.columns).zip(&self.column_types) {
            if let Some(text) = field {
                datums[col] =
                    strconv::parse_datum(&text, ty).map_err(|e| self.error_with(e.sqlstate(), e.to_string()))?;
            }
        }
        self.rows.push(Row::new(datums));
        Ok(())
    }

    /// A malformed line (SQLSTATE 22P04, bad_copy_file_format).
    fn error(&self, message: String) -> AdapterError {
        self.error_with("22P04", message)
    }

    fn error_with(&self, sqlstate: &str, message: String) -> AdapterError {
        AdapterError::Copy { sqlstate: sqlstate.into(), message, context: format!("COPY, line {}", self.line_number) }
    }
}

/// Splits a text-format line: `\N` is NULL, backslash escapes are decoded.
fn split_text(line: &str, delimiter: char, null: &str) -> Vec<Option<String>> {
    line.split(delimiter)
        .map(|raw| {
            if raw == null {
                return None;
            }
            let mut out = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some('v') => out.push('\u{b}'),
                    Some(other) => out.push(other),
                    None => out.push('\\'),
                }
            }
            Some(out)
        })
        .collect()
}

/// `rows` as COPY lines in `format` (floats as `extra_float_digits` says), each ending in
/// a newline, as PostgreSQL's `COPY ... TO` writes them: one item per row, so that the
/// items count the rows; a CSV `HEADER` line goes in front of the first row (alone when
/// there is none).
pub fn encode_lines(desc: &RelationDesc, rows: &[Row], format: &CopyFormat, float_digits: i32) -> Vec<Vec<u8>> {
    let text = |d: &Datum, ty: &ScalarType| {
        (!d.is_null()).then(|| {
            let mut out = String::new();
            strconv::format_datum_with_float_digits(d, ty, float_digits, &mut out);
            out
        })
    };
    let mut lines = Vec::with_capacity(rows.len());
    for row in rows {
        let values: Vec<Option<String>> =
            row.iter().zip(desc.columns()).map(|(d, (_, ty))| text(d, &ty.scalar_type)).collect();
        lines.push(encode_line(&values, format));
    }
    if let CopyFormat::Csv { header: true, .. } = format {
        let names: Vec<Option<String>> = desc.columns().iter().map(|(n, _)| Some(n.clone())).collect();
        let mut header = encode_line(&names, format);
        match lines.first_mut() {
            Some(first) => {
                header.append(first);
                *first = header;
            }
            None => lines.push(header),
        }
    }
    lines
}

fn encode_line(values: &[Option<String>], format: &CopyFormat) -> Vec<u8> {
    let (delimiter, null) = match format {
        CopyFormat::Text { delimiter, null } | CopyFormat::Csv { delimiter, null, .. } => (*delimiter as char, null),
    };
    let mut line = String::new();
    for (i, value) in values.iter().enumerate() {
        if i > 0 {
            line.push(delimiter);
        }
        match (value, format) {
            (None, _) => line.push_str(null),
            (Some(v), CopyFormat::Text { .. }) => push_text_field(&mut line, v, delimiter),
            (Some(v), CopyFormat::Csv { quote, escape, .. }) => {
                push_csv_field(&mut line, v, delimiter, *quote as char, *escape as char, null)
            }
        }
    }
    line.push('\n');
    line.into_bytes()
}

/// A value in COPY's text format: backslash escapes for the characters that would end
/// or split the field.
fn push_text_field(line: &mut String, value: &str, delimiter: char) {
    for c in value.chars() {
        match c {
            '\\' => line.push_str("\\\\"),
            '\n' => line.push_str("\\n"),
            '\r' => line.push_str("\\r"),
            '\t' => line.push_str("\\t"),
            '\u{8}' => line.push_str("\\b"),
            '\u{c}' => line.push_str("\\f"),
            '\u{b}' => line.push_str("\\v"),
            c if c == delimiter => {
                line.push('\\');
                line.push(c);
            }
            c => line.push(c),
        }
    }
}

/// A value in CSV: quoted when it could be misread (as NULL, or for what it holds), with
/// quotes and escapes inside escaped.
fn push_csv_field(line: &mut String, value: &str, delimiter: char, quote: char, escape: char, null: &str) {
    let needs_quotes = value == null || value.chars().any(|c| c == delimiter || c == quote || c == '\n' || c == '\r');
    if !needs_quotes {
        line.push_str(value);
        return;
    }
    line.push(quote);
    for c in value.chars() {
        if c == quote || c == escape {
            line.push(escape);
        }
        line.push(c);
    }
    line.push(quote);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_nulls_and_escapes() {
        assert_eq!(split_text("a\\tb\t\\N\tc", '\t', "\\N"), vec![Some("a\tb".into()), None, Some("c".into())]);
    }
}
