//! Splitting one line of CSV into fields, as PostgreSQL's COPY CSV reads it.

/// Splits a CSV line: unquoted empty (or the NULL string) is NULL; quoted values are text.
pub fn split_csv(line: &str, delimiter: char, quote: char, escape: char, null: &str) -> Vec<Option<String>> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            if c == escape && chars.peek() == Some(&quote) {
                // An escaped quote (a doubled quote by default) is a literal quote.
                chars.next();
                current.push(quote);
            } else if c == quote {
                quoted = false;
            } else {
                current.push(c);
            }
        } else if c == quote {
            quoted = true;
            was_quoted = true;
        } else if c == delimiter {
            fields.push(finish_csv_field(std::mem::take(&mut current), was_quoted, null));
            was_quoted = false;
        } else {
            current.push(c);
        }
    }
    fields.push(finish_csv_field(current, was_quoted, null));
    fields
}

fn finish_csv_field(value: String, was_quoted: bool, null: &str) -> Option<String> {
    if !was_quoted && value == null {
        None
    } else {
        Some(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_and_nulls() {
        assert_eq!(
            split_csv("1,\"x,\"\"y\"\"\",,\"\"", ',', '"', '"', ""),
            vec![Some("1".into()), Some("x,\"y\"".into()), None, Some("".into())]
        );
    }
}
