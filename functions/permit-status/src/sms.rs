//! POST /permits/sms
//!
//! The SMS gateway's webhook for the keyword `HS`, on the contract of [`civic::sms`] (signed
//! body, stored before it is answered, redeliveries get the same reply). The message becomes
//! a [`Command`] on the `sms` channel and is answered by [`crate::command::answer`], the code
//! behind `POST /permits/command`; this module writes its SMS texts.
//!
//! `HS <mã hồ sơ>` answers one SMS (at most 160 characters of printable ASCII) with the public
//! facts only:
//! `Ho so 000.00.19.H57-241105-0012: Dang xu ly, hen tra 15/11/2024 (tre 3 ngay). Le phi: da nop.`
//! `HS <mã hồ sơ> <4 số cuối điện thoại>` adds the masked applicant name when the four digits
//! are right and it still fits (` Nguoi nop: Nguyen V. A.`); a wrong four gets the public reply.
//! An unknown code, a malformed one and anything else each get a short text saying what to send.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use civic::command::{Channel, Command};
use civic::text::{SMS_MAX, sms, sms_within};
use civic::{Error, Lang, Platform};
use http::{Request, Response};

use crate::dossier::{Code, Timeliness};
use crate::store::{DB, Dossier};

/// The keyword, folded.
pub const KEYWORD: &str = "hs";
/// The code the help texts show.
pub const EXAMPLE: &str = "000.00.19.H57-241105-0012";

/// `POST /permits/sms`: `200 {"reply": "<one SMS>"}`; 401 for a bad signature, 400 for a
/// body that is not the gateway's message, 413 past [`civic::sms::MAX_BODY`].
pub async fn post(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::sms::webhook(req, env, DB, async |msg| {
        let cmd = Command {
            phone: Some(msg.from.clone()).filter(|p| !p.trim().is_empty()),
            id: Some(msg.id.clone()),
            ..Command::text(Channel::Sms, msg.from.as_str(), msg.text.as_str())
        };
        Ok(crate::command::answer(env, &cmd, &msg.to).await?.reply)
    })
    .await
}

/// What to send, with the short code the message came to (or the province's).
pub fn help(short_code: &str) -> String {
    let to = civic::sms::short_code(short_code);
    sms(&format!("Tra cứu hồ sơ: soạn HS <mã hồ sơ> gửi {to}. VD: HS {EXAMPLE}"))
}

/// A code that is not one, echoed (cut to 40 characters).
pub fn malformed(given: &str) -> String {
    let given = sms_within(given, 40);
    sms(&format!("Mã hồ sơ \"{given}\" không đúng. Mã có dạng <cơ quan>-<YYMMDD>-<NNNN>, VD: HS {EXAMPLE}"))
}

/// No dossier has this code.
pub fn not_found(code: &Code) -> String {
    sms(&format!("Không tìm thấy hồ sơ {}. Kiểm tra lại mã trên giấy tiếp nhận và hẹn trả kết quả.", code.as_str()))
}

/// [`reply`], and for the verified applicant their masked name (`applicant`, from
/// [`crate::dossier::mask_name`]) after it when the whole still fits in one SMS.
pub fn status(d: &Dossier, now: DateTime<Utc>, fee_paid: Option<bool>, applicant: Option<&str>) -> String {
    let public = reply(d, now, fee_paid);
    applicant
        .map(|name| sms_within(&civic::text::sentence(&format!("{public} Người nộp: {name}")), usize::MAX))
        .filter(|text| text.len() <= SMS_MAX)
        .unwrap_or(public)
}

/// The day of `t` in Vietnam, as replies write dates.
fn dmy(t: DateTime<Utc>) -> String {
    civic::sms::date(civic::web::vn_today(t))
}

/// An amount of đồng as replies write it: `150.000đ`.
pub fn vnd(amount: i64) -> String {
    let digits = amount.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('.');
        }
        out.push(c);
    }
    out + "đ"
}

/// The status SMS of a dossier: the fee's amount, then the fee, are left out if it would not
/// fit in one SMS otherwise; the status and the due date always stay.
pub fn reply(d: &Dossier, now: DateTime<Utc>, fee_paid: Option<bool>) -> String {
    let u = &d.update;
    let when = if u.status.is_done() {
        u.result_at.map(|r| format!(", ngày {}", dmy(r))).unwrap_or_default()
    } else {
        let t = Timeliness::of(u.due_at, u.status, now);
        let how = match (t.days_late, t.days_left) {
            (Some(0), _) => " (quá hạn)".to_owned(),
            (Some(n), _) => format!(" (trễ {n} ngày)"),
            (_, Some(0)) => " (hạn hôm nay)".to_owned(),
            (_, Some(n)) => format!(" (còn {n} ngày)"),
            (None, None) => String::new(),
        };
        format!(", hẹn trả {}{how}", dmy(u.due_at))
    };
    let head = format!("Hồ sơ {}: {}{when}.", d.code.as_str(), u.status.label(Lang::Vi));
    let fee = match (u.fee_vnd, fee_paid) {
        (0, _) => vec![" Không mất lệ phí.".to_owned()],
        (_, Some(true)) => vec![" Lệ phí: đã nộp.".to_owned()],
        (f, Some(false)) => vec![format!(" Lệ phí {}: chưa nộp.", vnd(f)), " Lệ phí: chưa nộp.".to_owned()],
        (_, None) => Vec::new(),
    };
    fee.iter()
        .map(|f| sms_within(&format!("{head}{f}"), usize::MAX))
        .find(|text| text.len() <= SMS_MAX)
        .unwrap_or_else(|| sms(&head))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Event;
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn dossier(code: &str, status: i64, fee: i64, result_at: Option<&str>) -> Dossier {
        let update = crate::push::parse(&json!({"procedure_code": "1.001234",
            "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ", "field": "Xây dựng", "agency": "UBND quận Hải Châu",
            "applicant": {"name": "Nguyễn Văn An", "phone": "0905123456", "kind": "citizen"},
            "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
            "status": status, "status_at": "2024-11-06T09:00:00+07:00", "result_at": result_at, "fee_vnd": fee}))
        .unwrap();
        let history =
            vec![Event { at: update.status_at, status: update.status, agency: update.agency.clone(), note: None }];
        Dossier { code: Code::parse(code).unwrap(), update, history }
    }

    #[test]
    fn the_documented_reply() {
        let d = dossier("000.00.19.H57-241105-0012", 4, 150_000, None);
        assert_eq!(
            reply(&d, t("2024-11-18T10:00:00+07:00"), Some(true)),
            "Ho so 000.00.19.H57-241105-0012: Dang xu ly, hen tra 15/11/2024 (tre 3 ngay). Le phi: da nop."
        );
    }

    #[test]
    fn replies_table() {
        let code = "000.00.19.H57-241105-0012";
        let cases = [
            (
                dossier(code, 4, 150_000, None),
                "2024-11-13T10:00:00+07:00",
                Some(false),
                "(con 2 ngay). Le phi 150.000d: chua nop.",
            ),
            (
                dossier(code, 4, 1_500_000, None),
                "2024-11-15T08:00:00+07:00",
                Some(false),
                "(han hom nay). Le phi 1.500.000d: chua nop.",
            ),
            (dossier(code, 4, 0, None), "2024-11-15T18:00:00+07:00", None, "(qua han). Khong mat le phi."),
            (
                dossier(code, 10, 150_000, Some("2024-11-14T10:00:00+07:00")),
                "2024-12-01T10:00:00+07:00",
                Some(true),
                ": Da tra ket qua, ngay 14/11/2024. Le phi: da nop.",
            ),
            (dossier(code, 9, 150_000, None), "2024-12-01T10:00:00+07:00", None, ": Da xu ly xong."),
        ];
        for (d, now, fee, tail) in cases {
            let text = reply(&d, t(now), fee);
            assert!(text.ends_with(tail), "{text:?} should end with {tail:?}");
        }
    }

    #[test]
    fn the_longest_reply_is_one_sms_and_keeps_status_and_due_date() {
        let code = "000.00.19.ABCDEFGH.ABCDEFGH.ABCDEFGH.H57-241105-0012";
        let d = dossier(code, 6, 999_999_999_999, None);
        for fee in [Some(false), Some(true), None] {
            let text = reply(&d, t("2027-01-01T10:00:00+07:00"), fee);
            assert!(text.len() <= SMS_MAX, "{} chars: {text}", text.len());
            assert!(text.chars().all(|c| (' '..='~').contains(&c)), "{text}");
            assert!(
                text.contains("Yeu cau thuc hien nghia vu tai chinh, hen tra 15/11/2024 (tre 777 ngay)."),
                "{text}"
            );
        }
    }

    #[test]
    fn the_verified_reply_adds_the_masked_name_when_it_fits() {
        let now = t("2024-11-18T10:00:00+07:00");
        let short = dossier("000.00.19.H57-241105-0012", 4, 150_000, None);
        let long = dossier("000.00.19.ABCDEFGH.ABCDEFGH.ABCDEFGH.H57-241105-0012", 6, 999_999_999_999, None);
        let cases = [
            (&short, None, reply(&short, now, Some(false))),
            (&short, Some("Nguyễn V. A."), format!("{} Nguoi nop: Nguyen V. A.", reply(&short, now, Some(false)))),
            (&long, Some("Nguyễn V. A."), reply(&long, now, Some(false))),
        ];
        for (d, name, want) in cases {
            let text = status(d, now, Some(false), name);
            assert_eq!(text, want);
            assert!(text.len() <= SMS_MAX, "{text}");
        }
    }

    #[test]
    fn vnd_groups_thousands() {
        assert_eq!(vnd(0), "0đ");
        assert_eq!(vnd(999), "999đ");
        assert_eq!(vnd(150_000), "150.000đ");
        assert_eq!(vnd(1_234_567), "1.234.567đ");
    }
}
