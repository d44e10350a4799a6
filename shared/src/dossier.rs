//! The dossier code (mã hồ sơ), shared by the functions that name dossiers: permit-status
//! owns the dossiers, payment-callback takes payment for their fees.

use chrono::NaiveDate;
use serde::Serialize;

/// A dossier code in the national format `<agency code>-<YYMMDD>-<NNNN>`, e.g.
/// `000.00.19.H57-241105-0012`, kept in upper case so codes compare case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Code(String);

impl Code {
    /// Parses and normalises a code; `None` when its shape is wrong.
    pub fn parse(s: &str) -> Option<Code> {
        let s = s.trim().to_ascii_uppercase();
        let mut parts = s.rsplitn(3, '-');
        let (seq, date, agency) = (parts.next()?, parts.next()?, parts.next()?);
        let digits = |p: &str, n: usize| p.len() == n && p.bytes().all(|b| b.is_ascii_digit());
        if !digits(seq, 4) || !digits(date, 6) || NaiveDate::parse_from_str(date, "%y%m%d").is_err() {
            return None;
        }
        let groups: Vec<&str> = agency.split('.').collect();
        let group_ok = |g: &&str| !g.is_empty() && g.len() <= 8 && g.bytes().all(|b| b.is_ascii_alphanumeric());
        if agency.len() > 40 || groups.len() < 2 || !groups.iter().all(group_ok) {
            return None;
        }
        Some(Code(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_table() {
        let cases = [
            ("000.00.19.H57-241105-0012", Some("000.00.19.H57-241105-0012")),
            ("  000.00.19.h57-241105-0012 ", Some("000.00.19.H57-241105-0012")),
            ("H57.01-240229-9999", Some("H57.01-240229-9999")),
            ("000.00.19.H57-241305-0012", None),
            ("000.00.19.H57-230229-0012", None),
            ("000.00.19.H57-241105-12", None),
            ("000.00.19.H57-241105-00123", None),
            ("H57-241105-0012", None),
            ("000..19.H57-241105-0012", None),
            ("000.00.19.H57 241105 0012", None),
            ("", None),
            ("-241105-0012", None),
        ];
        for (input, want) in cases {
            assert_eq!(Code::parse(input).as_ref().map(Code::as_str), want, "{input:?}");
        }
    }
}
