//! Vietnamese phone numbers as the functions take them: from the one-stop-shop system, from
//! citizens' forms, from JWT `phone` claims and from the SMS gateway.

/// Whether a phone number as typed is plausible: 9 to 15 digits, with only `+`, spaces, dots
/// and dashes between them.
pub fn is_valid(phone: &str) -> bool {
    let digits = phone.bytes().filter(u8::is_ascii_digit).count();
    phone.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'+' | b' ' | b'.' | b'-')) && (9..=15).contains(&digits)
}

/// A number's national form: its digits, with the country code `84` (as in `+84 905 ...` or
/// `0084...`) turned into the trunk `0`.
fn national(phone: &str) -> Vec<u8> {
    let digits: Vec<u8> = phone.bytes().filter(u8::is_ascii_digit).collect();
    let rest = digits.strip_prefix(b"0084").or_else(|| digits.strip_prefix(b"84").filter(|r| r.len() >= 9));
    match rest {
        Some(r) => [b"0".as_slice(), r].concat(),
        None => digits,
    }
}

/// A number in the international form SMS gateways take: `84` and the national number
/// without its trunk `0` (`0905 123 456`, `+84905123456` and `84905123456` all give
/// `84905123456`). A number that is not Vietnamese-looking (no trunk `0`) keeps its digits.
pub fn international(phone: &str) -> String {
    let national = national(phone);
    match national.strip_prefix(b"0") {
        Some(rest) => format!("84{}", String::from_utf8_lossy(rest)),
        None => String::from_utf8_lossy(&national).into_owned(),
    }
}

/// Whether two numbers are the same line (`+84905123456` is `0905 123 456`), compared in
/// constant time for numbers of the same length.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (national(a), national(b));
    a.len() >= 9 && crate::auth::constant_time_eq(&a, &b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn international_table() {
        for (given, want) in [
            ("0905 123 456", "84905123456"),
            ("+84905123456", "84905123456"),
            ("84905123456", "84905123456"),
            ("0084905123456", "84905123456"),
            ("905123456", "905123456"),
        ] {
            assert_eq!(international(given), want, "{given}");
        }
    }

    #[test]
    fn same_line_table() {
        for (a, b, want) in [
            ("0905123456", "0905123456", true),
            ("+84905123456", "0905 123 456", true),
            ("84905123456", "0905.123.456", true),
            ("0084905123456", "0905123456", true),
            ("0905123456", "0905123457", false),
            ("0905123456", "905123456", false),
            ("", "", false),
            ("123", "123", false),
        ] {
            assert_eq!(same(a, b), want, "{a} vs {b}");
        }
    }

    #[test]
    fn validity_table() {
        for (p, want) in [
            ("0905123456", true),
            ("+84 905 123 456", true),
            ("0905-123", false),
            ("call me", false),
            ("0905123456789012", false),
        ] {
            assert_eq!(is_valid(p), want, "{p}");
        }
    }
}
