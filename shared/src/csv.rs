//! Reading CSV uploads (RFC 4180) as the province's spreadsheets write them.
//!
//! - A UTF-8 byte-order mark is skipped.
//! - The delimiter is `,`, or `;` when the header line has semicolons and no commas (Excel
//!   on a Vietnamese Windows writes `;`, as `,` is the decimal mark there).
//! - Fields may be quoted; inside quotes `""` is a quote and line breaks are kept.
//! - Lines end in LF or CRLF; blank lines are skipped.
//!
//! ```
//! let t = civic::csv::parse("id,name\r\nDN-1,\"Phở \"\"Bà\"\" Hoa, 2\"\r\n").unwrap();
//! assert_eq!(t.header, ["id", "name"]);
//! assert_eq!(t.rows[0].fields, ["DN-1", "Phở \"Bà\" Hoa, 2"]);
//! assert_eq!(t.rows[0].line, 2);
//! ```

/// One record, with the line of the file it starts on (the header is line 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub line: usize,
    pub fields: Vec<String>,
}

/// A parsed upload: the header's names (trimmed) and the records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Row>,
    pub delimiter: char,
}

/// Why a text is not CSV, with the line where it went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsvError {
    pub line: usize,
    pub message: &'static str,
}

impl CsvError {
    /// The message in Vietnamese.
    pub fn vi(&self) -> &'static str {
        match self.message {
            "a quote inside an unquoted field" => "dấu ngoặc kép giữa một trường không đặt trong ngoặc kép",
            "text after a closing quote" => "có chữ sau dấu ngoặc kép đóng",
            "a quoted field is not closed" => "một trường trong ngoặc kép chưa được đóng",
            "no header line" => "không có dòng tiêu đề",
            "not as many fields as the header" => "số trường khác dòng tiêu đề",
            _ => "không đọc được",
        }
    }
}

/// Parses a whole upload. Every record must have as many fields as the header.
pub fn parse(text: &str) -> Result<Table, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_line = text.lines().next().unwrap_or_default();
    let delimiter = if !first_line.contains(',') && first_line.contains(';') { ';' } else { ',' };
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let (mut line, mut record_line) = (1usize, 1usize);
    let (mut quoted, mut was_quoted, mut after_quote) = (false, false, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => {
                    quoted = false;
                    after_quote = true;
                }
                '\n' => {
                    line += 1;
                    field.push('\n');
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            '"' => return Err(CsvError { line, message: "a quote inside an unquoted field" }),
            c if c == delimiter => {
                fields.push(std::mem::take(&mut field));
                (was_quoted, after_quote) = (false, false);
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(std::mem::take(&mut field));
                if fields.len() > 1 || !fields[0].is_empty() || was_quoted {
                    records.push(Row { line: record_line, fields: std::mem::take(&mut fields) });
                }
                fields.clear();
                (was_quoted, after_quote) = (false, false);
                line += 1;
                record_line = line;
            }
            _ if after_quote => return Err(CsvError { line, message: "text after a closing quote" }),
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(CsvError { line: record_line, message: "a quoted field is not closed" });
    }
    fields.push(field);
    if fields.len() > 1 || !fields[0].is_empty() || was_quoted {
        records.push(Row { line: record_line, fields });
    }
    let mut records = records.into_iter();
    let header: Vec<String> = records
        .next()
        .ok_or(CsvError { line: 1, message: "no header line" })?
        .fields
        .into_iter()
        .map(|h| h.trim().to_owned())
        .collect();
    let rows: Vec<Row> = records.collect();
    if let Some(bad) = rows.iter().find(|r| r.fields.len() != header.len()) {
        return Err(CsvError { line: bad.line, message: "not as many fields as the header" });
    }
    Ok(Table { header, rows, delimiter })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_table() {
        let t = parse("\u{feff}a,b\n1,2\n\n3,\"x\ny\"\n").unwrap();
        assert_eq!(t.header, ["a", "b"]);
        assert_eq!(
            t.rows,
            [
                Row { line: 2, fields: vec!["1".into(), "2".into()] },
                Row { line: 4, fields: vec!["3".into(), "x\ny".into()] }
            ]
        );
        let t = parse("a;b\r\n16,07;\"\"\r\n").unwrap();
        assert_eq!((t.delimiter, t.rows[0].fields.clone()), (';', vec!["16,07".to_owned(), String::new()]));
        assert_eq!(parse(" id , name \nx,y").unwrap().header, ["id", "name"], "header names are trimmed");
    }

    #[test]
    fn errors_name_the_line() {
        let cases = [
            ("a,b\n1\n", 2, "not as many fields as the header"),
            ("a,b\n1,2\n\"3,4\n", 3, "a quoted field is not closed"),
            ("a,b\n1,x\"y\n", 2, "a quote inside an unquoted field"),
            ("a,b\n1,\"x\"y\n", 2, "text after a closing quote"),
            ("", 1, "no header line"),
        ];
        for (text, line, message) in cases {
            assert_eq!(parse(text), Err(CsvError { line, message }), "{text:?}");
        }
    }
}
