//! The `ATTP` answers as Zalo and Telegram show them: Vietnamese with its diacritics, whole
//! sentences, a few hundred characters at most, lines separated by `\n`, and buttons
//! ([`Choice`]) whose value is the command that picks a place (`ATTP #<id>`).
//!
//! The same answers as one SMS are in [`crate::sms`]; [`crate::command`] decides which answer
//! a message gets.

use chrono::NaiveDate;
use civic::command::Choice;
use civic::text::cut;

use crate::command::CHOICE_MINUTES;
use crate::model::CertificateStatus;
use crate::phrase::MAX_WORDS;
use crate::store::Summary;

/// How many places a list offers (as buttons), and how far `ATTP <n>` picks on chat.
pub const LIST_LEN: usize = 5;

/// How far from a shared location places are looked for, in metres.
pub const NEAR_RADIUS_M: u32 = 1_000;

/// The longest button label, in characters (Zalo cuts longer titles).
pub const MAX_LABEL: usize = 80;

/// The longest place (name and street) on a line of the nearby list, in characters, so that
/// five lines stay a few hundred characters.
const MAX_LINE_PLACE: usize = 48;

/// The longest echo of what the citizen asked, in characters.
const MAX_ECHO: usize = 60;

const EXAMPLE: &str = "ATTP Phở Bà Hoa, Hải Châu";

/// The value of the button that shows place `id`: `ATTP #<id>`.
pub fn pick_value(id: &str) -> String {
    format!("ATTP #{id}")
}

/// A distance as people say it: metres to the nearest 10 under 1 km (`120 m`, at least
/// `10 m`), else kilometres to one decimal with a decimal comma (`1,2 km`, `3 km`).
pub fn distance(metres: f64) -> String {
    let tens = (metres / 10.0).round().max(1.0);
    if tens < 100.0 {
        return format!("{} m", tens * 10.0);
    }
    let tenths = (metres / 100.0).round();
    let (whole, tenth) = ((tenths / 10.0).trunc(), tenths % 10.0);
    if tenth == 0.0 { format!("{whole} km") } else { format!("{whole},{tenth} km") }
}

fn date(d: NaiveDate) -> String {
    civic::sms::date(d)
}

/// The certificate, in a sentence: number, issuer and expiry when valid (and `sắp hết hạn`
/// in its last 30 days), the day it lapsed when expired, or none.
fn certificate(s: &Summary, today: NaiveDate) -> String {
    let cert = s.establishment.certificate.as_ref();
    match (CertificateStatus::of(cert, today), cert) {
        (CertificateStatus::Valid, Some(c)) => format!(
            "Có giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm số {} do {} cấp, còn hiệu lực đến ngày {}.",
            c.number,
            c.authority,
            date(c.expires)
        ),
        (CertificateStatus::Expiring, Some(c)) => format!(
            "Có giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm số {} do {} cấp, còn hiệu lực đến ngày {} \
             (sắp hết hạn).",
            c.number,
            c.authority,
            date(c.expires)
        ),
        (CertificateStatus::Expired, Some(c)) => format!(
            "Giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm số {} đã hết hạn từ ngày {} \
             (chỉ có hiệu lực đến hết ngày {}).",
            c.number,
            date(c.expires.succ_opt().unwrap_or(c.expires)),
            date(c.expires)
        ),
        _ => "Chưa có giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm còn hiệu lực.".to_owned(),
    }
}

fn violations(n: i64) -> String {
    if n == 0 {
        "Chưa ghi nhận vi phạm nào.".to_owned()
    } else {
        format!("Đã ghi nhận {n} lần vi phạm về an toàn thực phẩm.")
    }
}

/// One place in full: name and full address (street, ward, district, province) on the first
/// line, its certificate, then its violation count:
///
/// ```text
/// Phở Bà Hoa, 12 Trần Phú, Thạch Thang, Hải Châu, Đà Nẵng.
/// Có giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm số 123/2024/ATTP-CNĐK do Ban Quản
/// lý ATTP Đà Nẵng cấp, còn hiệu lực đến ngày 01/03/2099.
/// Đã ghi nhận 1 lần vi phạm về an toàn thực phẩm.
/// ```
pub fn detail(s: &Summary, today: NaiveDate) -> String {
    let e = &s.establishment;
    let place: Vec<&str> = [&e.name, &e.address, &e.ward, &e.district, &e.province]
        .into_iter()
        .map(|p| p.trim())
        .filter(|p| !p.is_empty())
        .collect();
    format!("{}.\n{}\n{}", place.join(", "), certificate(s, today), violations(s.violations))
}

/// The certificate in a few words, for a list.
fn short_status(s: &Summary, today: NaiveDate) -> &'static str {
    match CertificateStatus::of(s.establishment.certificate.as_ref(), today) {
        CertificateStatus::Valid => "giấy chứng nhận còn hạn",
        CertificateStatus::Expiring => "giấy chứng nhận sắp hết hạn",
        CertificateStatus::Expired => "giấy chứng nhận đã hết hạn",
        CertificateStatus::None => "chưa có giấy chứng nhận",
    }
}

/// Button labels that tell `entries` apart: the name, street address and ward, and the
/// district too where that is what differs.
fn labels(entries: &[&Summary]) -> Vec<String> {
    crate::sms::parts_needed(entries)
        .into_iter()
        .zip(entries)
        .map(|(needed, s)| cut(&crate::sms::label(&s.establishment, needed.max(2), true), MAX_LABEL))
        .collect()
}

/// The buttons that pick each of `entries`.
fn choices(entries: &[&Summary], labels: Vec<String>) -> Vec<Choice> {
    entries.iter().zip(labels).map(|(s, label)| Choice::new(label, pick_value(&s.establishment.id))).collect()
}

/// Several places match `asked` alike: how many, and the best [`LIST_LEN`] of them as
/// buttons (`entries`, best first).
pub fn list(entries: &[&Summary], total: i64, asked: &str) -> (String, Vec<Choice>) {
    let asked = cut(asked, MAX_ECHO);
    let shown = entries.len();
    let text = if total > i64::try_from(shown).unwrap_or(i64::MAX) {
        format!(
            "Có {total} cơ sở khớp với “{asked}”; dưới đây là {shown} cơ sở khớp nhất. Chọn một cơ sở (hoặc gửi \
             ATTP <số thứ tự>) để xem chi tiết, hoặc gửi thêm tên đường, phường, quận để tìm chính xác hơn."
        )
    } else {
        format!("Có {total} cơ sở khớp với “{asked}”. Chọn một cơ sở (hoặc gửi ATTP <số thứ tự>) để xem chi tiết.")
    };
    (text, choices(entries, labels(entries)))
}

/// `Name, street address` (the name alone without an address).
fn name_and_street(s: &Summary) -> String {
    let e = &s.establishment;
    if e.address.trim().is_empty() { e.name.clone() } else { format!("{}, {}", e.name, e.address) }
}

/// The places near a shared location (`places` with their distances in metres, best first;
/// `total` within [`NEAR_RADIUS_M`]): a numbered line each with its distance and
/// certificate, and a button each.
pub fn nearby(places: &[(f64, Summary)], total: i64, today: NaiveDate) -> (String, Vec<Choice>) {
    let within = distance(f64::from(NEAR_RADIUS_M));
    let shown = places.len();
    let mut text = if total > i64::try_from(shown).unwrap_or(i64::MAX) {
        format!(
            "Có {total} cơ sở trong vòng {within} quanh vị trí bạn gửi; dưới đây là {shown} cơ sở, cơ sở có giấy \
             chứng nhận an toàn thực phẩm còn hiệu lực xếp trước, rồi đến cơ sở gần nhất:"
        )
    } else {
        format!(
            "Có {total} cơ sở trong vòng {within} quanh vị trí bạn gửi, cơ sở có giấy chứng nhận an toàn thực phẩm \
             còn hiệu lực xếp trước:"
        )
    };
    for (i, (d, s)) in places.iter().enumerate() {
        let place = cut(&name_and_street(s), MAX_LINE_PLACE);
        text.push_str(&format!("\n{}. {place}: {}, {}.", i + 1, distance(*d), short_status(s, today)));
    }
    text.push_str("\nChọn một cơ sở (hoặc gửi ATTP <số thứ tự>) để xem chi tiết.");
    let labels = places
        .iter()
        .map(|(d, s)| {
            let away = format!(" ({})", distance(*d));
            format!("{}{away}", cut(&name_and_street(s), MAX_LABEL.saturating_sub(away.chars().count())))
        })
        .collect();
    let entries: Vec<&Summary> = places.iter().map(|(_, s)| s).collect();
    (text, choices(&entries, labels))
}

/// No place with coordinates within [`NEAR_RADIUS_M`] of a shared location.
pub fn none_nearby() -> String {
    format!(
        "Không có cơ sở nào trong danh bạ an toàn thực phẩm cách vị trí bạn gửi dưới {}. Bạn có thể gửi ATTP <tên cơ \
         sở> để tra cứu theo tên, ví dụ: {EXAMPLE}.",
        distance(f64::from(NEAR_RADIUS_M))
    )
}

/// Anything that is not an `ATTP` command.
pub fn help() -> String {
    format!(
        "Tra cứu an toàn thực phẩm: gửi ATTP <tên cơ sở>, có thể thêm phường, quận, ví dụ: {EXAMPLE}, để biết cơ sở \
         có giấy chứng nhận đủ điều kiện an toàn thực phẩm còn hiệu lực không và đã bị ghi nhận bao nhiêu lần vi phạm. \
         Bạn cũng có thể chia sẻ vị trí để xem các cơ sở gần nhất."
    )
}

/// More than [`MAX_WORDS`] words after the keyword.
pub fn too_long() -> String {
    format!("Tin nhắn dài quá {MAX_WORDS} từ. Hãy gửi ATTP <tên cơ sở>, có thể thêm phường, quận, ví dụ: {EXAMPLE}.")
}

/// Nothing matches `asked` (as the citizen wrote it).
pub fn not_found(asked: &str) -> String {
    format!(
        "Không tìm thấy cơ sở nào khớp với “{}”. Hãy kiểm tra lại tên, hoặc thêm tên đường, quận, ví dụ: {EXAMPLE}.",
        cut(asked, MAX_ECHO)
    )
}

/// `ATTP #<id>` of no stored place.
pub fn unknown_id(id: &str) -> String {
    format!("Không tìm thấy cơ sở có mã {} trong danh bạ an toàn thực phẩm.", cut(id, MAX_ECHO))
}

/// The picked place was removed from the registry since the list was sent.
pub fn gone() -> String {
    "Cơ sở này không còn trong danh bạ an toàn thực phẩm. Hãy gửi ATTP <tên cơ sở> để tra cứu lại.".to_owned()
}

/// `ATTP <n>` without a list in the last [`CHOICE_MINUTES`] minutes (`len` is `None`), or
/// with a list of `len` places, fewer than `n`.
pub fn no_list(n: usize, len: Option<usize>) -> String {
    match len {
        Some(len) => format!(
            "Danh sách gần nhất bạn nhận chỉ có {len} cơ sở, không có số {n}. Hãy chọn một số từ 1 đến {len}, hoặc \
             gửi ATTP <tên cơ sở>."
        ),
        None => format!(
            "Bạn chưa nhận danh sách nào trong {CHOICE_MINUTES} phút qua để chọn số {n}. Hãy gửi ATTP <tên cơ sở>, \
             hoặc chia sẻ vị trí để xem các cơ sở gần bạn."
        ),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::model::{Certificate, Establishment};

    pub(crate) fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    /// A summary of a place in Hải Châu, Đà Nẵng (`cert`: number and expiry), for tests.
    pub(crate) fn place(
        id: &str,
        name: &str,
        address: &str,
        ward: &str,
        cert: Option<(&str, &str)>,
        violations: i64,
    ) -> Summary {
        Summary {
            establishment: Establishment {
                id: id.into(),
                name: name.into(),
                address: address.into(),
                ward: ward.into(),
                district: "Hải Châu".into(),
                province: "Đà Nẵng".into(),
                kind: "restaurant".into(),
                certificate: cert.map(|(number, expires)| Certificate {
                    number: number.into(),
                    issued: d("2020-01-01"),
                    expires: d(expires),
                    authority: "Ban Quản lý ATTP Đà Nẵng".into(),
                }),
                violations: Vec::new(),
                lat: None,
                lng: None,
            },
            name_folded: civic::text::fold(name),
            place_folded: String::new(),
            ward_folded: String::new(),
            district_folded: String::new(),
            violations,
        }
    }

    #[test]
    fn distance_table() {
        let cases = [
            (0.0, "10 m"),
            (4.0, "10 m"),
            (14.9, "10 m"),
            (15.0, "20 m"),
            (118.0, "120 m"),
            (994.0, "990 m"),
            (995.0, "1 km"),
            (1_000.0, "1 km"),
            (1_049.0, "1 km"),
            (1_150.0, "1,2 km"),
            (1_234.0, "1,2 km"),
            (2_960.0, "3 km"),
            (4_999.0, "5 km"),
            (12_345.0, "12,3 km"),
        ];
        for (m, want) in cases {
            assert_eq!(distance(m), want, "distance({m})");
        }
    }

    /// Every certificate status in a whole sentence, with diacritics, and the violations.
    #[test]
    fn detail_table() {
        let today = d("2025-06-01");
        let cases = [
            (
                place(
                    "DN-1",
                    "Phở Bà Hoa",
                    "12 Trần Phú",
                    "Thạch Thang",
                    Some(("123/2024/ATTP-CNĐK", "2027-03-01")),
                    1,
                ),
                "Phở Bà Hoa, 12 Trần Phú, Thạch Thang, Hải Châu, Đà Nẵng.\nCó giấy chứng nhận cơ sở đủ điều kiện an \
                 toàn thực phẩm số 123/2024/ATTP-CNĐK do Ban Quản lý ATTP Đà Nẵng cấp, còn hiệu lực đến ngày \
                 01/03/2027.\nĐã ghi nhận 1 lần vi phạm về an toàn thực phẩm.",
            ),
            (
                place("DN-1", "Phở Bà Hoa", "12 Trần Phú", "Thạch Thang", Some(("9/2025/ATTP", "2025-06-20")), 0),
                "Phở Bà Hoa, 12 Trần Phú, Thạch Thang, Hải Châu, Đà Nẵng.\nCó giấy chứng nhận cơ sở đủ điều kiện an \
                 toàn thực phẩm số 9/2025/ATTP do Ban Quản lý ATTP Đà Nẵng cấp, còn hiệu lực đến ngày 20/06/2025 \
                 (sắp hết hạn).\nChưa ghi nhận vi phạm nào.",
            ),
            (
                place("DN-1", "Phở Bà Hoa 2", "45 Hồ Nghinh", "Phước Mỹ", Some(("77/2019/ATTP-CNĐK", "2022-05-02")), 0),
                "Phở Bà Hoa 2, 45 Hồ Nghinh, Phước Mỹ, Hải Châu, Đà Nẵng.\nGiấy chứng nhận cơ sở đủ điều kiện an toàn \
                 thực phẩm số 77/2019/ATTP-CNĐK đã hết hạn từ ngày 03/05/2022 (chỉ có hiệu lực đến hết ngày \
                 02/05/2022).\nChưa ghi nhận vi phạm nào.",
            ),
            (
                place("DN-1", "Bún chả cá Bà Lữ", "", "Vĩnh Trung", None, 2),
                "Bún chả cá Bà Lữ, Vĩnh Trung, Hải Châu, Đà Nẵng.\nChưa có giấy chứng nhận cơ sở đủ điều kiện an toàn \
                 thực phẩm còn hiệu lực.\nĐã ghi nhận 2 lần vi phạm về an toàn thực phẩm.",
            ),
        ];
        for (s, want) in &cases {
            assert_eq!(detail(s, today), *want);
            assert!(detail(s, today).chars().count() <= 400);
        }
    }

    /// Namesakes are told apart by street and ward (the district where only it differs);
    /// each button picks its place by id; the text says how many matched.
    #[test]
    fn a_list_offers_buttons_that_tell_places_apart() {
        let three = [
            place("A-1", "Bún Bò Cô Ba", "12 Trần Phú", "Thạch Thang", None, 0),
            place("A-2", "Bún Bò Cô Ba", "12 Trần Phú", "Hòa Cường Bắc", None, 0),
            place("A-3", "Bún Bò Cô Ba Huế", "7 Nguyễn Văn Linh", "Nam Dương", None, 0),
        ];
        let mut twin = place("A-4", "Bún Bò Cô Ba", "12 Trần Phú", "Thạch Thang", None, 0);
        twin.establishment.district = "Sơn Trà".into();
        let entries: Vec<&Summary> = three.iter().chain([&twin]).collect();
        let (text, choices) = list(&entries, 9, "bún bò cô ba");
        assert_eq!(
            text,
            "Có 9 cơ sở khớp với “bún bò cô ba”; dưới đây là 4 cơ sở khớp nhất. Chọn một cơ sở (hoặc gửi ATTP <số thứ \
             tự>) để xem chi tiết, hoặc gửi thêm tên đường, phường, quận để tìm chính xác hơn."
        );
        let want = [
            ("Bún Bò Cô Ba, 12 Trần Phú, Thạch Thang, Hải Châu", "ATTP #A-1"),
            ("Bún Bò Cô Ba, 12 Trần Phú, Hòa Cường Bắc", "ATTP #A-2"),
            ("Bún Bò Cô Ba Huế, 7 Nguyễn Văn Linh, Nam Dương", "ATTP #A-3"),
            ("Bún Bò Cô Ba, 12 Trần Phú, Thạch Thang, Sơn Trà", "ATTP #A-4"),
        ];
        let want: Vec<Choice> = want.iter().map(|(l, v)| Choice::new(*l, *v)).collect();
        assert_eq!(choices, want);
        let (text, _) = list(&entries[..2], 2, "bun bo");
        assert_eq!(text, "Có 2 cơ sở khớp với “bun bo”. Chọn một cơ sở (hoặc gửi ATTP <số thứ tự>) để xem chi tiết.");
    }

    #[test]
    fn nearby_lists_distances_and_certificates() {
        let today = d("2025-06-01");
        let places = [
            (118.0, place("N-1", "Phở Bà Hoa", "12 Trần Phú", "Thạch Thang", Some(("1/2024/ATTP", "2027-01-01")), 0)),
            (1_000.0, place("N-2", "Cà phê Sông Hàn", "2 Bạch Đằng", "Thạch Thang", None, 0)),
        ];
        let (text, choices) = nearby(&places, 2, today);
        assert_eq!(
            text,
            "Có 2 cơ sở trong vòng 1 km quanh vị trí bạn gửi, cơ sở có giấy chứng nhận an toàn thực phẩm còn hiệu lực \
             xếp trước:\n1. Phở Bà Hoa, 12 Trần Phú: 120 m, giấy chứng nhận còn hạn.\n2. Cà phê Sông Hàn, 2 Bạch \
             Đằng: 1 km, chưa có giấy chứng nhận.\nChọn một cơ sở (hoặc gửi ATTP <số thứ tự>) để xem chi tiết."
        );
        assert_eq!(
            choices,
            [
                Choice::new("Phở Bà Hoa, 12 Trần Phú (120 m)", "ATTP #N-1"),
                Choice::new("Cà phê Sông Hàn, 2 Bạch Đằng (1 km)", "ATTP #N-2")
            ]
        );
        let (text, _) = nearby(&places, 14, today);
        assert!(text.starts_with("Có 14 cơ sở trong vòng 1 km quanh vị trí bạn gửi; dưới đây là 2 cơ sở,"), "{text}");
        // five long names: a few hundred characters still, every button label within its cap
        let long = "Nhà hàng Hải sản Bé Mặn Tươi Sống Ngon Nhất Bờ Biển Mỹ Khê";
        let five: Vec<(f64, Summary)> = (1..=5)
            .map(|i| {
                (f64::from(i) * 190.0, place(&format!("L-{i}"), long, "Lô 12 Võ Nguyên Giáp", "Phước Mỹ", None, 0))
            })
            .collect();
        let (text, choices) = nearby(&five, 37, today);
        assert!(text.chars().count() <= 650, "{} chars: {text}", text.chars().count());
        assert!(text.contains("\n5. Nhà hàng Hải sản Bé Mặn Tươi Sống Ngon Nhất Bờ…: 950 m, "), "{text}");
        assert!(
            choices.iter().all(|c| c.label.chars().count() <= MAX_LABEL && c.label.ends_with(" m)")),
            "{choices:?}"
        );
    }

    /// The fixed texts are whole sentences of a few hundred characters at most.
    #[test]
    fn fixed_texts_are_short_sentences() {
        let long = "Nhà hàng Hải sản Bé Mặn Tươi Sống Ngon Nhất Bờ Biển Mỹ Khê Đà Nẵng Chi Nhánh Số Hai Ba Bốn";
        for text in [
            help(),
            too_long(),
            not_found(long),
            unknown_id(&"X".repeat(64)),
            gone(),
            no_list(2, None),
            no_list(4, Some(3)),
            none_nearby(),
        ] {
            assert!(text.chars().count() <= 400, "{} chars: {text}", text.chars().count());
            assert!(text.ends_with('.'), "{text}");
        }
        assert!(not_found(long).contains("“Nhà hàng Hải sản Bé Mặn Tươi Sống Ngon Nhất Bờ Biển Mỹ Khê…”"));
    }
}
