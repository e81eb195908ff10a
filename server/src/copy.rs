//! `COPY ... FROM STDIN`: decoding PostgreSQL's text and CSV formats into table rows.

use eddy_planner::CopyFormat;
use eddy_repr::{strconv, Datum, GlobalId, Row, ScalarType};

use crate::error::AdapterError;

/// Data of one COPY in progress: the target, and bytes received so far.
#[derive(Debug)]
pub struct CopyState {
    pub table: GlobalId,
    columns: Vec<usize>,
    column_types: Vec<ScalarType>,
    arity: usize,
    format: CopyFormat,
    buffer: Vec<u8>,
    line_number: usize,
    header_pending: bool,
    pub rows: Vec<Row>,
}

impl CopyState {
    pub fn new(
        table: GlobalId,
        columns: Vec<usize>,
        column_types: Vec<ScalarType>,
        arity: usize,
        format: CopyFormat,
    ) -> Self {
        let header_pending = matches!(format, CopyFormat::Csv { header: true, .. });
        CopyState {
            table,
            columns,
            column_types,
            arity,
            format,
            buffer: Vec::new(),
            line_number: 0,
            header_pending,
            rows: Vec::new(),
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
        let mut datums = vec![Datum::Null; self.arity];
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_format_nulls_and_escapes() {
        assert_eq!(split_text("a\\tb\t\\N\tc", '\t', "\\N"), vec![Some("a\tb".into()), None, Some("c".into())]);
    }
}
