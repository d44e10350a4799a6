//! Vietnamese text: a folding key for diacritic-insensitive search, and SMS rendering.
//!
//! ```
//! use civic::text::{fold, sms};
//! assert_eq!(fold("Phở Bà Hoa, ĐÀ NẴNG"), "pho ba hoa, da nang");
//! assert_eq!(sms("Giấy chứng nhận còn hiệu lực"), "Giay chung nhan con hieu luc");
//! ```

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// The most characters one SMS carries in GSM-7.
pub const SMS_MAX: usize = 160;

/// The search key: lowercase, NFD, combining marks dropped, `đ` -> `d`.
pub fn fold(s: &str) -> String {
    s.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'đ' { 'd' } else { c })
        .collect()
}

/// The words of a folded text: runs of letters and digits.
pub fn words(s: &str) -> Vec<String> {
    fold(s).split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(str::to_owned).collect()
}

/// One character of Vietnamese (or typographic) text as printable ASCII that every phone
/// shows in a single GSM-7 septet: diacritics stripped (case kept), `Đ` -> `D`, dashes and
/// quotes simplified, GSM-7 escape characters (`[]{}\^~|`) replaced, anything else dropped.
fn ascii(c: char, out: &mut String) {
    match c {
        'đ' => out.push('d'),
        'Đ' => out.push('D'),
        '[' | '{' => out.push('('),
        ']' | '}' => out.push(')'),
        '\\' => out.push('/'),
        '^' | '~' | '|' | '`' => out.push(' '),
        '\u{2010}'..='\u{2015}' | '\u{2212}' => out.push('-'),
        '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{2032}' => out.push('\''),
        '\u{201C}' | '\u{201D}' | '\u{201E}' | '\u{2033}' | '«' | '»' => out.push('"'),
        '\u{2026}' => out.push_str("..."),
        '\t' | '\n' | '\r' | '\u{A0}' => out.push(' '),
        ' '..='~' => out.push(c),
        _ => {}
    }
}

/// Renders a reply as one SMS: diacritics stripped, printable ASCII only, whitespace
/// collapsed, at most [`SMS_MAX`] characters; a longer text is cut at a word boundary and
/// ends with `...`.
pub fn sms(s: &str) -> String {
    sms_within(s, SMS_MAX)
}

/// Like [`sms`], with a smaller budget of `max` characters (at least 3), to leave room for
/// text that must not be cut.
pub fn sms_within(s: &str, max: usize) -> String {
    let max = max.max(3);
    let mut plain = String::with_capacity(s.len());
    for c in s.nfd().filter(|c| !is_combining_mark(*c)) {
        ascii(c, &mut plain);
    }
    let collapsed = plain.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.len() <= max {
        return collapsed;
    }
    // ASCII from here on: byte offsets are character offsets.
    let room = max - 3;
    let cut = collapsed[..=room].rfind(' ').filter(|&i| i > 0).unwrap_or(room);
    let head = collapsed[..cut].trim_end_matches([' ', ',', ';', ':', '.', '-']);
    format!("{head}...")
}

/// `s` with its whitespace collapsed: whole when it has at most `max` characters, else cut
/// at a word (or inside a word longer than `max`) and ended with `…`, in `max` characters at
/// most. For chat replies, which keep their diacritics ([`sms_within`] is the SMS form).
pub fn cut(s: &str, max: usize) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.chars().count() <= max {
        return s;
    }
    let head: String = s.chars().take(max.saturating_sub(1)).collect();
    let head = match head.rfind(' ') {
        Some(i) if i > 0 => &head[..i],
        _ => head.as_str(),
    };
    format!("{}…", head.trim_end_matches([' ', ',', ';', ':', '.', '-']))
}

/// `s` ended with a full stop, unless it already ends a sentence (`.`, `…`, `?`, `!`).
pub fn sentence(s: &str) -> String {
    let s = s.trim_end();
    if s.ends_with(['.', '…', '?', '!']) { s.to_owned() } else { format!("{s}.") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_table() {
        let cases = [
            ("Phở Bà Hoa", "pho ba hoa"),
            ("ĐÀ NẴNG", "da nang"),
            ("Đường Trần Phú", "duong tran phu"),
            ("Hải Châu", "hai chau"),
            ("Ngũ Hành Sơn", "ngu hanh son"),
            ("Thạch Thang", "thach thang"),
            ("Bún chả cá 109", "bun cha ca 109"),
            ("Nguyễn Thị Minh Khai", "nguyen thi minh khai"),
            ("ƯỚT ƠI", "uot oi"),
            ("already plain", "already plain"),
            ("Cơm gà A Hải — 24/7", "com ga a hai — 24/7"),
            // precomposed and decomposed input fold alike
            ("Pho\u{31B} Ba\u{300}", "pho ba"),
            ("", ""),
        ];
        for (input, want) in cases {
            assert_eq!(fold(input), want, "fold({input:?})");
        }
    }

    #[test]
    fn words_table() {
        let cases: [(&str, &[&str]); 4] = [
            ("Phở Bà Hoa", &["pho", "ba", "hoa"]),
            ("  Quán   Ốc-Hút, 5 ", &["quan", "oc", "hut", "5"]),
            ("123/2024/ATTP", &["123", "2024", "attp"]),
            ("...", &[]),
        ];
        for (input, want) in cases {
            assert_eq!(words(input), want, "words({input:?})");
        }
    }

    #[test]
    fn sms_table() {
        let cases = [
            ("Phở Bà Hoa: còn hiệu lực", "Pho Ba Hoa: con hieu luc"),
            ("ĐÃ HẾT HẠN", "DA HET HAN"),
            ("số 123/2024/ATTP-CNĐK", "so 123/2024/ATTP-CNDK"),
            ("“Quán Ốc” – 5★", "\"Quan Oc\" - 5"),
            ("a\n\tb   c", "a b c"),
            ("[x] {y} a|b ~c^ d\\e `f`", "(x) (y) a b c d/e f"),
            ("Xin chào…", "Xin chao..."),
        ];
        for (input, want) in cases {
            assert_eq!(sms(input), want, "sms({input:?})");
        }
    }

    #[test]
    fn sms_cuts_long_text_at_a_word() {
        let long = "Cơ sở Phở Bà Hoa tại 12 Trần Phú quận Hải Châu thành phố Đà Nẵng có giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm còn hiệu lực đến ngày 01/03/2027 và không có vi phạm nào";
        let out = sms(long);
        assert!(out.len() <= SMS_MAX, "{} chars: {out}", out.len());
        assert!(out.ends_with("..."), "{out}");
        let head = out.trim_end_matches("...");
        let plain = sms_within(long, usize::MAX);
        assert!(plain.starts_with(head), "cut inside the text");
        let next = plain.as_bytes()[head.len()];
        assert_eq!(next, b' ', "cut at a word boundary: {out}");
        assert!(out.chars().all(|c| (' '..='~').contains(&c)));
    }

    #[test]
    fn sms_exactly_at_the_limit_is_kept_whole() {
        let s = "a".repeat(SMS_MAX);
        assert_eq!(sms(&s), s);
        let one_word = "b".repeat(SMS_MAX + 20);
        let out = sms(&one_word);
        assert_eq!(out.len(), SMS_MAX);
        assert!(out.ends_with("..."));
    }

    #[test]
    fn cut_table() {
        for (input, max, want) in [
            ("Đang xử lý", 20, "Đang xử lý"),
            ("  Đang   xử lý ", 20, "Đang xử lý"),
            ("Đề nghị bổ sung bản vẽ", 12, "Đề nghị bổ…"),
            ("Đề nghị, bổ sung", 12, "Đề nghị…"),
            ("Phở Bà Hoa, 12 Trần Phú", 14, "Phở Bà Hoa…"),
            ("Abcdefghijklmnop", 6, "Abcde…"),
            ("Phởbàhoatrầnphú", 6, "Phởbà…"),
            ("", 5, ""),
            ("abc", 0, "…"),
        ] {
            assert_eq!(cut(input, max), want, "{input:?} {max}");
            assert!(cut(input, max).chars().count() <= max.max(1));
        }
    }

    #[test]
    fn sentence_table() {
        for (input, want) in [
            ("Người nộp: Lê H.", "Người nộp: Lê H."),
            ("Đã ký", "Đã ký."),
            ("bổ…", "bổ…"),
            ("Xong? ", "Xong?"),
            ("", "."),
        ] {
            assert_eq!(sentence(input), want, "{input:?}");
        }
    }
}
