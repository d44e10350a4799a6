//! POST /food-safety/sms
//!
//! The SMS gateway's webhook for the keyword `ATTP`, on the contract of [`civic::sms`]
//! (signed body, stored before it is answered, redeliveries get the same reply). The reply is
//! one SMS: at most 160 characters of printable ASCII, Vietnamese without diacritics.
//!
//! `ATTP <tên cơ sở>[, <quận/phường>]` names the best match with its certificate status
//! (number and expiry when valid) and violation count, or lists the top matches when several
//! fit alike ([`list`]: each told apart by its street, with how many more matched), which
//! `ATTP <số>` then picks from; a text of more than [`MAX_WORDS`] words is told so; anything
//! else gets a short help text.
//!
//! The webhook is a thin caller of [`crate::command::answer`], which `POST
//! /food-safety/command` answers with too (channel `sms`, the same replies); this module holds
//! the SMS texts, [`crate::chat`] the chat ones.

use bytes::Bytes;
use chrono::NaiveDate;
use civic::command::Channel;
use civic::text::{SMS_MAX, fold, sms, sms_within};
use civic::{Error, Platform};
use http::{Request, Response};

use crate::command::CHOICE_MINUTES;
use crate::model::{CertificateStatus, Establishment};
use crate::phrase::MAX_WORDS;
use crate::store::{DB, Summary};

/// The gateway's message as a [`civic::command::Command`] (channel `sms`, the phone as user
/// and phone, the gateway's message id as id), answered by [`crate::command::answer`] with the
/// short code it was sent to.
pub async fn post(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::sms::webhook(req, env, DB, async |msg| {
        let cmd = civic::command::Command {
            phone: Some(msg.from.clone()),
            id: Some(msg.id.clone()),
            ..civic::command::Command::text(Channel::Sms, msg.from.as_str(), msg.text.as_str())
        };
        Ok(crate::command::answer(env, &cmd, &msg.to).await?.reply)
    })
    .await
}

/// How many matches a list shows at most (`ATTP <number>` picks from it for
/// [`CHOICE_MINUTES`] minutes).
pub const LIST_LEN: usize = 3;

/// The parsed `ATTP` message ([`crate::command::Ask`]), under the name it had when only SMS
/// asked.
pub use crate::command::Ask as Command;

/// An SMS as an `ATTP` command ([`crate::command::parse`] for the SMS channel): `ATTP <n>`
/// picks for `n` up to [`LIST_LEN`].
pub fn parse(text: &str) -> Command {
    crate::command::parse(text, Channel::Sms)
}

/// The help text, quoting the short code the message was sent to ([`civic::sms::short_code`]).
pub fn help(short_code: &str) -> String {
    let code = civic::sms::short_code(short_code);
    sms(&format!(
        "Tra cứu an toàn thực phẩm: soạn ATTP <tên cơ sở>[, <quận/phường>] gửi {code}. VD: ATTP Pho Ba Hoa, Hai Chau"
    ))
}

fn violations_text(n: i64) -> String {
    if n == 0 { "Không có vi phạm.".to_owned() } else { format!("Vi phạm: {n} lần.") }
}

fn status_text(s: &Summary, today: NaiveDate) -> String {
    let cert = s.establishment.certificate.as_ref();
    match (CertificateStatus::of(cert, today), cert) {
        (CertificateStatus::Valid, Some(c)) => {
            format!("GCN ATTP số {} còn hiệu lực đến {}.", c.number, civic::sms::date(c.expires))
        }
        (CertificateStatus::Expiring, Some(c)) => {
            format!("GCN ATTP số {} còn hiệu lực đến {} (sắp hết hạn).", c.number, civic::sms::date(c.expires))
        }
        (CertificateStatus::Expired, Some(c)) => {
            format!("GCN ATTP số {} ĐÃ HẾT HẠN từ {}.", c.number, civic::sms::date(c.expires))
        }
        _ => "CHƯA CÓ GCN ATTP hợp lệ.".to_owned(),
    }
}

/// One match in full: the address parts are dropped, least important first, until it fits.
pub fn detail(s: &Summary, today: NaiveDate) -> String {
    let e = &s.establishment;
    let tail = format!("{} {}", status_text(s, today), violations_text(s.violations));
    let places = [
        format!("{}, {}, {}, {}", e.name, e.address, e.ward, e.district),
        format!("{}, {}, {}", e.name, e.address, e.district),
        format!("{}, {}", e.name, e.district),
        e.name.clone(),
    ];
    for p in &places {
        let text = civic::text::sms_within(&format!("{p}: {tail}"), usize::MAX);
        if text.len() <= SMS_MAX {
            return text;
        }
    }
    // Even the name alone is too long: shorten the name, never the status.
    let tail = sms(&tail);
    let name = civic::text::sms_within(&e.name, SMS_MAX.saturating_sub(tail.len() + 2));
    format!("{name}: {tail}")
}

fn short_status(s: &Summary, today: NaiveDate) -> &'static str {
    match CertificateStatus::of(s.establishment.certificate.as_ref(), today) {
        CertificateStatus::Valid => "còn hạn",
        CertificateStatus::Expiring => "sắp hết hạn",
        CertificateStatus::Expired => "hết hạn",
        CertificateStatus::None => "chưa có GCN",
    }
}

/// How many address parts a pick-list entry can show.
const PLACE_PARTS: usize = 3;

/// The address parts a pick-list entry can show after the name: street address, ward,
/// district.
fn place_parts(e: &Establishment) -> [&str; PLACE_PARTS] {
    [&e.address, &e.ward, &e.district]
}

/// An entry's label: its name (unless the list says it once for all), then its first
/// `parts` address parts.
pub(crate) fn label(e: &Establishment, parts: usize, with_name: bool) -> String {
    let name = with_name.then_some(e.name.as_str());
    name.into_iter().chain(place_parts(e).into_iter().take(parts)).collect::<Vec<_>>().join(", ")
}

/// Per entry, the fewest address parts that tell it from the other entries (the street when
/// not even the district does: twins in the registry are told apart by their number only).
pub(crate) fn parts_needed(entries: &[&Summary]) -> Vec<usize> {
    let key = |s: &Summary, parts: usize| fold(&label(&s.establishment, parts, true));
    let distinct = |i: usize, parts: usize| {
        entries.iter().enumerate().all(|(j, o)| j == i || key(o, parts) != key(entries[i], parts))
    };
    (0..entries.len()).map(|i| (0..=PLACE_PARTS).find(|&parts| distinct(i, parts)).unwrap_or(1)).collect()
}

/// A pick-list of `entries`, each with at least `floor` address parts (and as many as
/// [`parts_needed`] says); with `hint`, how to narrow down when some were left out.
fn render(entries: &[&Summary], floor: usize, hint: bool, total: i64, today: NaiveDate) -> String {
    let first = entries.first().map(|s| fold(&s.establishment.name));
    let shared = entries.len() > 1 && entries.iter().all(|s| Some(fold(&s.establishment.name)) == first);
    let mut text = format!("{total} cơ sở khớp:");
    if shared {
        text.push_str(&format!(" {} tại", entries[0].establishment.name));
    }
    let floor = if shared { floor.max(1) } else { floor };
    let items: Vec<String> = entries
        .iter()
        .zip(parts_needed(entries))
        .enumerate()
        .map(|(i, (s, needed))| {
            let label = label(&s.establishment, needed.max(floor), !shared);
            format!(" {}) {label}: {}", i + 1, short_status(s, today))
        })
        .collect();
    text.push_str(&items.join(";"));
    let left = total - i64::try_from(entries.len()).unwrap_or(i64::MAX);
    if left > 0 && hint {
        text.push_str(&format!(". +{left} khác. Soạn ATTP <số> để xem chi tiết, hoặc thêm tên đường, quận."));
    } else if left > 0 {
        text.push_str(&format!(". +{left} khác. Soạn ATTP <số> xem chi tiết."));
    } else {
        text.push_str(". Soạn ATTP <số> để xem chi tiết.");
    }
    sms_within(&text, usize::MAX)
}

/// Several matches as one SMS: as many entries as fit (at most [`LIST_LEN`]), each told
/// apart from the others by its street address (then ward, district), a name they all share
/// said once, then how many more matched and how to pick or narrow down:
/// `3 co so khop: Bun Bo Co Ba tai 1) 12 Tran Phu: chua co GCN; 2) ...; 3) .... Soan ATTP
/// <so> de xem chi tiet.` Returns the text and how many entries it shows, the ones
/// `ATTP <số>` picks from.
pub fn list(matches: &[&Summary], total: i64, today: NaiveDate) -> (String, usize) {
    for shown in (1..=matches.len().min(LIST_LEN)).rev() {
        // the street of every entry when it fits, else only what tells them apart; the hint
        // to narrow down last
        for (floor, hint) in [(1, true), (1, false), (0, true), (0, false)] {
            let text = render(&matches[..shown], floor, hint, total, today);
            if text.len() <= SMS_MAX {
                return (text, shown);
            }
        }
    }
    // one entry whose name alone does not fit: shortened, the count first
    let shown = matches.len().min(1);
    (sms(&render(&matches[..shown], 0, false, total, today)), shown)
}

/// More than [`MAX_WORDS`] words after the keyword.
pub fn too_long() -> String {
    sms(&format!(
        "Tin nhắn dài quá {MAX_WORDS} từ. Soạn ATTP <tên cơ sở>[, <quận/phường>], VD: ATTP Pho Ba Hoa, Hai Chau"
    ))
}

/// Nothing matches `asked` (the folded words after the keyword).
pub fn not_found(asked: &str) -> String {
    sms(&format!("Không tìm thấy cơ sở \"{asked}\". Soạn ATTP <tên cơ sở>, <quận/phường>"))
}

/// The picked place was removed from the registry since the list was sent.
pub fn gone() -> String {
    sms("Cơ sở này không còn trong danh sách. Soạn ATTP <tên cơ sở>, <quận/phường>")
}

/// `ATTP <n>` without a list of [`CHOICE_MINUTES`] minutes with an `n`th entry.
pub fn no_list(n: usize) -> String {
    sms(&format!(
        "Không có danh sách gần đây (trong {CHOICE_MINUTES} phút) để chọn số {n}. Soạn ATTP <tên cơ sở>, <quận/phường>"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::chat::tests::d;

    fn place(name: &str, cert: Option<(&str, &str)>, violations: i64) -> Summary {
        crate::chat::tests::place("DN-1", name, "12 Trần Phú", "Thạch Thang", cert, violations)
    }

    #[test]
    fn parse_table() {
        let lookup = |asked: &str| Command::Lookup { asked: asked.to_owned(), items: crate::phrase::parse(asked) };
        let cases = [
            ("ATTP pho ba hoa", lookup("pho ba hoa")),
            ("attp Phở Bà Hoa", lookup("pho ba hoa")),
            ("  Attp  Phở Bà Hoa , Quận Hải Châu", lookup("pho ba hoa quan hai chau")),
            ("ATTP", Command::Help),
            ("ATTP   ", Command::Help),
            ("ATTP q.", Command::Help),
            ("HS 000.00.19.H57-241105-0012", Command::Help),
            ("ATTPX pho", Command::Help),
            ("ATTP 2", Command::Pick(2)),
            ("attp  3 ", Command::Pick(3)),
            ("ATTP 4", lookup("4")),
            ("ATTP a b c d e f g h i j", lookup("a b c d e f g h i j")),
            (
                "ATTP Quán Bánh xèo Bà Dưỡng K280/23 Hoàng Diệu Phước Ninh Hải Châu Đà Nẵng Việt Nam gần chợ Hàn ạ",
                Command::TooLong,
            ),
            ("", Command::Help),
            ("xin chào", Command::Help),
        ];
        for (text, want) in cases {
            assert_eq!(parse(text), want, "parse({text:?})");
        }
    }

    #[test]
    fn replies_are_one_ascii_sms() {
        let today = d("2025-06-01");
        let long_name = "Nhà hàng Hải sản Bé Mặn Tươi Sống Ngon Nhất Bờ Biển Mỹ Khê Đà Nẵng Chi Nhánh Số Hai";
        let cases = [
            place("Phở Bà Hoa", Some(("123/2024/ATTP-CNĐK", "2027-03-01")), 1),
            place("Phở Bà Hoa", Some(("9/2019/ATTP", "2022-01-01")), 0),
            place("Phở Bà Hoa", None, 3),
            place(long_name, Some(("123/2024/ATTP-CNĐK", "2027-03-01")), 12),
        ];
        for s in &cases {
            let text = detail(s, today);
            assert!(text.len() <= SMS_MAX, "{} chars: {text}", text.len());
            assert!(text.chars().all(|c| (' '..='~').contains(&c)), "{text}");
        }
        assert_eq!(
            detail(&cases[0], today),
            "Pho Ba Hoa, 12 Tran Phu, Thach Thang, Hai Chau: GCN ATTP so 123/2024/ATTP-CNDK con hieu luc den 01/03/2027. Vi pham: 1 lan."
        );
        assert!(detail(&cases[1], today).contains("DA HET HAN tu 01/01/2022"));
        let expiring = place("Phở Bà Hoa", Some(("123/2024/ATTP-CNĐK", "2025-06-20")), 0);
        assert!(
            detail(&expiring, today).contains("con hieu luc den 20/06/2025 (sap het han)."),
            "{}",
            detail(&expiring, today)
        );
        assert!(detail(&cases[2], today).contains("CHUA CO GCN ATTP"));
        let long = detail(&cases[3], today);
        assert!(long.contains("con hieu luc den 01/03/2027"), "status kept: {long}");
        let many: Vec<&Summary> = cases.iter().collect();
        let (l, shown) = list(&many, 42, today);
        assert!(l.starts_with("42 co so khop: Pho Ba Hoa tai 1) 12 Tran Phu: con han;"), "{l}");
        assert!(l.len() <= SMS_MAX, "{} chars: {l}", l.len());
        assert!(l.contains(&format!(" +{} khac. Soan ATTP <so> ", 42 - shown)), "{l}");
        assert!(shown <= LIST_LEN && !l.contains(&format!(" {})", shown + 1)), "{shown} shown: {l}");
        assert!(help("8188").len() <= SMS_MAX);
        assert!(help("8188").contains("ATTP"));
    }

    fn at(name: &str, address: &str, ward: &str, district: &str) -> Summary {
        let mut s = place(name, None, 0);
        s.establishment.address = address.into();
        s.establishment.ward = ward.into();
        s.establishment.district = district.into();
        s
    }

    /// Three places of one name in one district: every one listed, told apart by its street,
    /// and the count announced is the count shown.
    #[test]
    fn a_pick_list_tells_namesakes_apart_by_their_street() {
        let today = d("2025-06-01");
        let three = [
            at("Bún Bò Cô Ba", "12 Trần Phú", "Thạch Thang", "Hải Châu"),
            at("Bún Bò Cô Ba", "45 Lê Lợi", "Thạch Thang", "Hải Châu"),
            at("Bún Bò Cô Ba", "7 Nguyễn Văn Linh", "Nam Dương", "Hải Châu"),
        ];
        let all: Vec<&Summary> = three.iter().collect();
        let (text, shown) = list(&all, 3, today);
        assert_eq!(
            text,
            "3 co so khop: Bun Bo Co Ba tai 1) 12 Tran Phu: chua co GCN; 2) 45 Le Loi: chua co GCN; \
             3) 7 Nguyen Van Linh: chua co GCN. Soan ATTP <so> de xem chi tiet."
        );
        assert_eq!(shown, 3);
        // a fourth match, not listed, is counted
        let (text, shown) = list(&all, 4, today);
        assert!(text.ends_with(" 3) 7 Nguyen Van Linh: chua co GCN. +1 khac. Soan ATTP <so> xem chi tiet."), "{text}");
        assert_eq!(shown, 3);
        // the same street number in two wards: the ward tells them apart
        let wards = [
            at("Bún Bò Cô Ba", "12 Trần Phú", "Thạch Thang", "Hải Châu"),
            at("Bún Bò Cô Ba", "12 Trần Phú", "Hòa Cường Bắc", "Hải Châu"),
        ];
        let (text, _) = list(&wards.iter().collect::<Vec<_>>(), 2, today);
        assert!(
            text.contains("1) 12 Tran Phu, Thach Thang: ") && text.contains("2) 12 Tran Phu, Hoa Cuong Bac: "),
            "{text}"
        );
    }

    /// Long names and addresses: fewer entries, each still told apart, and what was left
    /// out counted; always one ASCII SMS.
    #[test]
    fn a_pick_list_that_does_not_fit_says_how_many_it_left_out() {
        let today = d("2025-06-01");
        let long = [
            at("Nhà hàng Hải sản Bé Mặn Tươi Sống", "K280/23 Hoàng Diệu", "Phước Ninh", "Hải Châu"),
            at("Nhà hàng Hải sản Bé Mặn Tươi Sống", "1120 Nguyễn Tất Thành", "Xuân Hà", "Thanh Khê"),
            at("Nhà hàng Hải sản Bé Mặn Bờ Biển Mỹ Khê", "Lô 12 Võ Nguyên Giáp", "Phước Mỹ", "Sơn Trà"),
        ];
        let all: Vec<&Summary> = long.iter().collect();
        for total in [3, 57] {
            let (text, shown) = list(&all, total, today);
            assert!(text.len() <= SMS_MAX && text.chars().all(|c| (' '..='~').contains(&c)), "{text}");
            assert!((1..=3).contains(&shown), "{text}");
            let left = total - i64::try_from(shown).unwrap();
            assert_eq!(left > 0, text.contains(&format!("+{left} khac")), "{text}");
            if shown >= 2 {
                assert!(text.contains("Hoang Dieu") && text.contains("Nguyen Tat Thanh"), "told apart: {text}");
            }
        }
    }
}
