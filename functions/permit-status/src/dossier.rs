//! The dossier's domain rules: the national code format ([`Code`], shared through `civic`),
//! the ten portal statuses, the overdue arithmetic in Vietnam time, and what of the applicant
//! may be shown.

use chrono::{DateTime, Utc};
use civic::Lang;
use serde::Serialize;

pub use civic::dossier::Code;

/// The ten statuses of the national public-service portal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    Registered = 1,
    Accepted = 2,
    NotAccepted = 3,
    Processing = 4,
    DocumentsRequested = 5,
    PaymentRequested = 6,
    WithdrawnByCitizen = 7,
    Stopped = 8,
    Processed = 9,
    Returned = 10,
}

const STATUSES: [(Status, &str, &str); 10] = [
    (Status::Registered, "Mới đăng ký", "Newly registered"),
    (Status::Accepted, "Được tiếp nhận", "Accepted"),
    (Status::NotAccepted, "Không được tiếp nhận", "Not accepted"),
    (Status::Processing, "Đang xử lý", "Being processed"),
    (Status::DocumentsRequested, "Yêu cầu bổ sung giấy tờ", "Additional documents requested"),
    (Status::PaymentRequested, "Yêu cầu thực hiện nghĩa vụ tài chính", "Payment of fees requested"),
    (Status::WithdrawnByCitizen, "Công dân yêu cầu rút hồ sơ", "Withdrawn at the citizen's request"),
    (Status::Stopped, "Dừng xử lý", "Processing stopped"),
    (Status::Processed, "Đã xử lý xong", "Processed"),
    (Status::Returned, "Đã trả kết quả", "Result returned"),
];

impl Status {
    pub fn from_code(code: i64) -> Option<Status> {
        STATUSES.iter().find(|(s, _, _)| *s as i64 == code).map(|(s, _, _)| *s)
    }

    pub fn code(self) -> i64 {
        self as i64
    }

    pub fn label(self, lang: Lang) -> &'static str {
        STATUSES.iter().find(|(s, _, _)| *s == self).map_or("", |(_, vi, en)| lang.pick(vi, en))
    }

    /// Finished: the due date no longer runs.
    pub fn is_done(self) -> bool {
        matches!(self, Status::Processed | Status::Returned)
    }
}

/// Where a dossier stands against its due date (ngày hẹn trả).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Timeliness {
    /// Now is past the due time and the dossier is not processed or returned.
    pub overdue: bool,
    /// Calendar days (Vietnam time) past the due date, when overdue.
    pub days_late: Option<i64>,
    /// Calendar days (Vietnam time) until the due date, when open and not overdue.
    pub days_left: Option<i64>,
}

impl Timeliness {
    pub fn of(due_at: DateTime<Utc>, status: Status, now: DateTime<Utc>) -> Timeliness {
        if status.is_done() {
            return Timeliness { overdue: false, days_late: None, days_left: None };
        }
        let days = (civic::web::vn_today(now) - civic::web::vn_today(due_at)).num_days();
        if now > due_at {
            Timeliness { overdue: true, days_late: Some(days.max(0)), days_left: None }
        } else {
            Timeliness { overdue: false, days_late: None, days_left: Some((-days).max(0)) }
        }
    }
}

/// The applicant's name as the public may see it once verified: the family name whole, the
/// other words as initials (`Nguyễn Văn An` -> `Nguyễn V. A.`).
pub fn mask_name(name: &str) -> String {
    let mut words = name.split_whitespace();
    let Some(first) = words.next() else {
        return String::new();
    };
    let mut out = first.to_owned();
    for w in words {
        if let Some(c) = w.chars().next() {
            out.push(' ');
            out.extend(c.to_uppercase());
            out.push('.');
        }
    }
    out
}

/// Whether `last4` are the last four digits of `phone` (other characters ignored), compared
/// in constant time so the answer's timing does not leak the digits.
pub fn phone_matches(phone: &str, last4: &str) -> bool {
    let digits: Vec<u8> = phone.bytes().filter(u8::is_ascii_digit).collect();
    if last4.len() != 4 || !last4.bytes().all(|b| b.is_ascii_digit()) || digits.len() < 4 {
        return false;
    }
    civic::auth::constant_time_eq(&digits[digits.len() - 4..], last4.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn statuses_have_both_labels() {
        for code in 1..=10 {
            let s = Status::from_code(code).unwrap();
            assert_eq!(s.code(), code);
            assert!(!s.label(Lang::Vi).is_empty() && !s.label(Lang::En).is_empty());
        }
        assert_eq!(Status::from_code(4).unwrap().label(Lang::Vi), "Đang xử lý");
        assert_eq!(Status::from_code(0), None);
        assert_eq!(Status::from_code(11), None);
    }

    #[test]
    fn timeliness_counts_vietnam_calendar_days() {
        let due = t("2024-11-15T17:00:00+07:00");
        let open = Status::Processing;
        let cases = [
            // (now, overdue, days_late, days_left)
            ("2024-11-13T09:00:00+07:00", false, None, Some(2)),
            ("2024-11-15T16:59:59+07:00", false, None, Some(0)),
            ("2024-11-15T17:00:01+07:00", true, Some(0), None),
            // 23:30 UTC on the 17th is already the 18th in Vietnam
            ("2024-11-17T23:30:00Z", true, Some(3), None),
            ("2024-11-17T16:59:59Z", true, Some(2), None),
            ("2024-11-18T00:00:00+07:00", true, Some(3), None),
        ];
        for (now, overdue, late, left) in cases {
            assert_eq!(
                Timeliness::of(due, open, t(now)),
                Timeliness { overdue, days_late: late, days_left: left },
                "now {now}"
            );
        }
        let done = Timeliness::of(due, Status::Returned, t("2024-12-01T00:00:00Z"));
        assert_eq!(done, Timeliness { overdue: false, days_late: None, days_left: None });
    }

    #[test]
    fn mask_name_table() {
        for (input, want) in [
            ("Nguyễn Văn An", "Nguyễn V. A."),
            ("Trần Thị Ánh Tuyết", "Trần T. Á. T."),
            ("  Lê   Hoa ", "Lê H."),
            ("Phạm", "Phạm"),
            ("", ""),
            ("Công ty TNHH Ánh Dương", "Công T. T. Á. D."),
        ] {
            assert_eq!(mask_name(input), want, "{input:?}");
        }
    }

    #[test]
    fn phone_last4_table() {
        for (phone, last4, want) in [
            ("0905123456", "3456", true),
            ("+84 905 123 456", "3456", true),
            ("0905123456", "3457", false),
            ("0905123456", "456", false),
            ("0905123456", "34a6", false),
            ("123", "0123", false),
        ] {
            assert_eq!(phone_matches(phone, last4), want, "{phone} {last4}");
        }
    }
}
