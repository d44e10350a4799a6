//! POST /permits/command
//!
//! The chat bot's (and [`crate::sms`]'s) way to ask for a dossier, on the contract of
//! [`civic::command`]: a signed [`Command`] in (`X-Signature`, HMAC-SHA256 of the body with
//! `internal_secret`), `200 {"reply", "choices"}` out. Errors are problem+json: 401 for a bad
//! signature, 400 for a body that is not a command, 413 past [`civic::command::MAX_BODY`],
//! 422 naming every bad field, 500 when `internal_secret` is unset.
//!
//! `HS <mã hồ sơ> [4 số cuối điện thoại]`:
//!
//! - `sms`: one ASCII SMS, the reply `POST /permits/sms` gives ([`crate::sms`]).
//! - `zalo`, `telegram`: Vietnamese with its diacritics, in whole sentences, a few hundred
//!   characters: the public view of `GET /permits/{code}` ([`crate::view`]): status,
//!   procedure and agency, received and due dates, days late or left, the result date when
//!   done, the fee and whether it is paid.
//! - With the last four digits of the applicant's phone after the code, the verified view adds
//!   the masked applicant name and, on chat, the recent history (the last [`HISTORY`] events,
//!   newest first). The check is [`crate::lookup::last4_proves`], the one behind
//!   `GET /permits/{code}?phone=`, with its lock after [`crate::store::PHONE_CHECKS_PER_DAY`]
//!   wrong tries a day; a wrong four digits gets the public view, word for word, so the
//!   answer never confirms a guess.
//!
//! Anything else gets a short text saying what to send; a malformed code and an unknown one
//! each say so.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use civic::command::{Channel, Command, Reply};
use civic::text::{cut, sentence};
use civic::{Error, Lang, Platform};
use http::{Request, Response};

use crate::dossier::{Code, Timeliness, mask_name};
use crate::store::{self, Dossier};
use crate::{fee, lookup, sms};

/// How many of the latest history events the verified chat reply lists.
pub const HISTORY: usize = 3;

/// The most characters of a procedure name, agency or note a chat reply repeats; a longer
/// one is cut at a word and ends with `…`.
pub const MAX_PART: usize = 120;

/// The most characters of a malformed code a reply repeats.
const MAX_ECHOED_CODE: usize = 40;

/// `POST /permits/command` (see the module docs).
pub async fn post(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::command::serve(req, env, async |cmd| answer(env, cmd, civic::sms::SHORT_CODE).await).await
}

/// The reply to one command; `short_code` is the SMS short code help texts quote (the one
/// an SMS was sent to). Only the database's errors are errors: every text gets a reply.
pub async fn answer(env: &impl Platform, cmd: &Command, short_code: &str) -> Result<Reply, Error> {
    let chat = cmd.channel.is_chat();
    let (keyword, rest) = civic::sms::keyword(&cmd.text);
    let mut words = rest.split_whitespace();
    let Some(given) = words.next().filter(|_| keyword == sms::KEYWORD) else {
        return Ok(text(cmd.channel, if chat { chat_help() } else { sms::help(short_code) }));
    };
    let Some(code) = Code::parse(given) else {
        return Ok(text(cmd.channel, if chat { chat_malformed(given) } else { sms::malformed(given) }));
    };
    // The word after the code, if any, is the applicant's last four digits: a guess has
    // today's wrong-guess count read in the dossier's batch.
    let last4 = words.next();
    let (dossier, checks_open) = store::get_with_phone_check(env, &code, last4.is_some_and(lookup::is_guess)).await?;
    let Some(dossier) = dossier else {
        return Ok(text(cmd.channel, if chat { chat_not_found(&code) } else { sms::not_found(&code) }));
    };
    let verified = match last4 {
        Some(last4) => lookup::last4_proves(env, &dossier, last4, checks_open).await?,
        None => false,
    };
    let fee_paid = fee::paid(env, &code, dossier.update.fee_vnd).await;
    let now = env.now();
    Ok(text(
        cmd.channel,
        if chat {
            chat_status(&dossier, now, fee_paid, verified)
        } else {
            let name = verified.then(|| mask_name(&dossier.update.applicant.name));
            sms::status(&dossier, now, fee_paid, name.as_deref())
        },
    ))
}

/// A reply already written for `channel` (SMS texts are rendered by [`crate::sms`]).
fn text(channel: Channel, written: String) -> Reply {
    if channel.is_chat() { Reply::for_channel(channel, &written) } else { Reply::text(written) }
}

fn chat_help() -> String {
    format!(
        "Tra cứu hồ sơ thủ tục hành chính: gửi HS <mã hồ sơ>, ví dụ HS {}. Người nộp hồ sơ thêm 4 số cuối \
         điện thoại của mình sau mã để xem thêm lịch sử xử lý, ví dụ HS {} 3456.",
        sms::EXAMPLE,
        sms::EXAMPLE
    )
}

fn chat_malformed(given: &str) -> String {
    format!(
        "Mã hồ sơ \"{}\" không đúng. Mã hồ sơ có dạng <mã cơ quan>-<YYMMDD>-<NNNN>, ví dụ HS {}.",
        cut(given, MAX_ECHOED_CODE),
        sms::EXAMPLE
    )
}

fn chat_not_found(code: &Code) -> String {
    format!(
        "Không tìm thấy hồ sơ {}. Vui lòng kiểm tra lại mã trên giấy tiếp nhận hồ sơ và hẹn trả kết quả.",
        code.as_str()
    )
}

/// The day of `t` in Vietnam: `15/11/2024`.
fn day(t: DateTime<Utc>) -> String {
    civic::sms::date(civic::web::vn_today(t))
}

/// `17:00 ngày 15/11/2024`, in Vietnam time.
fn day_time(t: DateTime<Utc>) -> String {
    let local = t.with_timezone(&civic::web::vietnam());
    format!("{} ngày {}", local.format("%H:%M"), local.format("%d/%m/%Y"))
}

/// The chat reply for a dossier: the public view in sentences, and for the verified
/// applicant the masked name and the last [`HISTORY`] events.
pub fn chat_status(d: &Dossier, now: DateTime<Utc>, fee_paid: Option<bool>, verified: bool) -> String {
    let u = &d.update;
    let mut out = format!(
        "Hồ sơ {} ({}, {}): {}. Tiếp nhận ngày {}, hẹn trả kết quả lúc {}.",
        d.code.as_str(),
        cut(&u.procedure_name, MAX_PART),
        cut(&u.agency, MAX_PART),
        u.status.label(Lang::Vi),
        day(u.received_at),
        day_time(u.due_at),
    );
    if u.status.is_done() {
        if let Some(r) = u.result_at {
            out += &format!(" Ngày trả kết quả: {}.", day(r));
        }
    } else {
        let t = Timeliness::of(u.due_at, u.status, now);
        out += &match (t.days_late, t.days_left) {
            (Some(0), _) => " Hồ sơ đã quá giờ hẹn trả hôm nay.".to_owned(),
            (Some(n), _) => format!(" Hồ sơ đã trễ hẹn {n} ngày."),
            (_, Some(0)) => " Hôm nay là ngày hẹn trả.".to_owned(),
            (_, Some(n)) => format!(" Còn {n} ngày đến ngày hẹn trả."),
            (None, None) => String::new(),
        };
    }
    out += &match (u.fee_vnd, fee_paid) {
        (0, _) => " Thủ tục này không mất lệ phí.".to_owned(),
        (f, Some(true)) => format!(" Lệ phí {}: đã nộp.", sms::vnd(f)),
        (f, Some(false)) => format!(" Lệ phí {}: chưa nộp.", sms::vnd(f)),
        (f, None) => format!(" Lệ phí {}: chưa kiểm tra được đã nộp hay chưa, vui lòng hỏi lại sau.", sms::vnd(f)),
    };
    if !verified {
        return out;
    }
    out += &sentence(&format!(" Người nộp: {}", mask_name(&u.applicant.name)));
    let recent: Vec<String> = d
        .history
        .iter()
        .rev()
        .take(HISTORY)
        .map(|e| {
            let note = e.note.as_deref().map(|n| format!(": {}", cut(n, MAX_PART))).unwrap_or_default();
            format!("{}, {} ({}){note}", day(e.at), e.status.label(Lang::Vi), cut(&e.agency, MAX_PART))
        })
        .collect();
    if !recent.is_empty() {
        out += &sentence(&format!(" Lịch sử gần đây: {}", recent.join("; ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Event;
    use civic::platform::native::{NativePlatform, block_on};
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        civic::testing::t(s)
    }

    fn dossier(status: i64, fee: i64, result_at: Option<&str>, notes: &[&str]) -> Dossier {
        let update = crate::push::parse(&json!({"procedure_code": "1.001234",
            "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ", "field": "Xây dựng", "agency": "UBND quận Hải Châu",
            "applicant": {"name": "Nguyễn Văn An", "phone": "0905123456", "kind": "citizen"},
            "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
            "status": status, "status_at": "2024-11-06T09:00:00+07:00", "result_at": result_at, "fee_vnd": fee}))
        .unwrap();
        let history = notes
            .iter()
            .enumerate()
            .map(|(i, n)| Event {
                at: update.status_at + chrono::Duration::days(i64::try_from(i).unwrap()),
                status: update.status,
                agency: update.agency.clone(),
                note: Some((*n).to_owned()).filter(|n| !n.is_empty()),
            })
            .collect();
        Dossier { code: Code::parse("000.00.19.H57-241105-0012").unwrap(), update, history }
    }

    const HEAD: &str = "Hồ sơ 000.00.19.H57-241105-0012 (Cấp giấy phép xây dựng nhà ở riêng lẻ, UBND quận Hải Châu): ";

    #[test]
    fn the_public_chat_reply() {
        let d = dossier(4, 150_000, None, &["Chuyển phòng"]);
        assert_eq!(
            chat_status(&d, t("2024-11-18T10:00:00+07:00"), Some(false), false),
            format!(
                "{HEAD}Đang xử lý. Tiếp nhận ngày 05/11/2024, hẹn trả kết quả lúc 17:00 ngày 15/11/2024. \
                 Hồ sơ đã trễ hẹn 3 ngày. Lệ phí 150.000đ: chưa nộp."
            )
        );
    }

    #[test]
    fn chat_replies_table() {
        let cases = [
            // (status, fee, result_at, now, fee_paid, the reply's tail)
            (
                4,
                150_000,
                None,
                "2024-11-13T10:00:00+07:00",
                Some(true),
                "Còn 2 ngày đến ngày hẹn trả. Lệ phí 150.000đ: đã nộp.",
            ),
            (4, 0, None, "2024-11-15T08:00:00+07:00", None, "Hôm nay là ngày hẹn trả. Thủ tục này không mất lệ phí."),
            (
                5,
                1_500_000,
                None,
                "2024-11-15T18:00:00+07:00",
                None,
                "Hồ sơ đã quá giờ hẹn trả hôm nay. Lệ phí 1.500.000đ: chưa kiểm tra được đã nộp hay chưa, vui lòng hỏi lại sau.",
            ),
            (
                10,
                150_000,
                Some("2024-11-14T10:00:00+07:00"),
                "2024-12-01T10:00:00+07:00",
                Some(true),
                "Đã trả kết quả. Tiếp nhận ngày 05/11/2024, hẹn trả kết quả lúc 17:00 ngày 15/11/2024. Ngày trả kết quả: 14/11/2024. Lệ phí 150.000đ: đã nộp.",
            ),
            (
                9,
                0,
                None,
                "2024-12-01T10:00:00+07:00",
                Some(true),
                "Đã xử lý xong. Tiếp nhận ngày 05/11/2024, hẹn trả kết quả lúc 17:00 ngày 15/11/2024. Thủ tục này không mất lệ phí.",
            ),
        ];
        for (status, fee, result_at, now, paid, tail) in cases {
            let text = chat_status(&dossier(status, fee, result_at, &[]), t(now), paid, false);
            assert!(text.starts_with(HEAD) && text.ends_with(tail), "{text:?} should end with {tail:?}");
        }
    }

    #[test]
    fn the_verified_chat_reply_adds_name_and_recent_history() {
        let long = "Đề nghị bổ sung bản vẽ ".repeat(10);
        let d = dossier(4, 0, None, &["Tiếp nhận", "", "Chuyển phòng Quản lý đô thị", &long]);
        let text = chat_status(&d, t("2024-11-13T10:00:00+07:00"), Some(true), true);
        let public = chat_status(&d, t("2024-11-13T10:00:00+07:00"), Some(true), false);
        let added = text.strip_prefix(&public).unwrap();
        assert!(
            added.starts_with(
                " Người nộp: Nguyễn V. A. Lịch sử gần đây: 09/11/2024, Đang xử lý (UBND quận Hải Châu): Đề nghị bổ sung"
            ),
            "{added}"
        );
        assert!(added.ends_with("; 08/11/2024, Đang xử lý (UBND quận Hải Châu): Chuyển phòng Quản lý đô thị; 07/11/2024, Đang xử lý (UBND quận Hải Châu)."), "{added}");
        assert!(!text.contains(": Tiếp nhận"), "three events only: {text}");
        assert!(!text.contains("0905") && !text.contains("3456") && !text.contains("Văn An"), "{text}");
        assert!(text.chars().count() < 600, "{} characters", text.chars().count());
    }

    fn env() -> NativePlatform {
        let env = civic::testing::route_env_at(&[store::DB, fee::PAYMENTS], "2024-11-18T10:00:00+07:00");
        let d = dossier(4, 150_000, None, &["Chuyển phòng"]);
        block_on(store::apply(&env, &d.code, &d.update)).unwrap();
        env
    }

    fn ask(env: &NativePlatform, channel: Channel, text: &str) -> String {
        block_on(answer(env, &Command::text(channel, "2468458835296117922", text), "8188")).unwrap().reply
    }

    #[test]
    fn each_kind_of_message_on_each_channel() {
        let env = env();
        let code = "000.00.19.H57-241105-0012";
        let cases: [(Channel, String, &str); 8] = [
            (Channel::Zalo, format!("hs {}", code.to_lowercase()), "Hồ sơ 000.00.19.H57-241105-0012 (Cấp giấy phép"),
            (Channel::Telegram, "HS 12345".into(), "Mã hồ sơ \"12345\" không đúng."),
            (Channel::Zalo, "HS 000.00.19.H57-241105-0099".into(), "Không tìm thấy hồ sơ 000.00.19.H57-241105-0099."),
            (Channel::Zalo, "xin chào".into(), "Tra cứu hồ sơ thủ tục hành chính: gửi HS <mã hồ sơ>"),
            (
                Channel::Sms,
                format!("HS {code}"),
                "Ho so 000.00.19.H57-241105-0012: Dang xu ly, hen tra 15/11/2024 (tre 3 ngay). Le phi 150.000d: chua nop.",
            ),
            (Channel::Sms, "HS 12345".into(), "Ma ho so \"12345\" khong dung."),
            (Channel::Sms, "HS".into(), "Tra cuu ho so: soan HS <ma ho so> gui 8188."),
            (
                Channel::Sms,
                format!("HS {code} 3456"),
                "Ho so 000.00.19.H57-241105-0012: Dang xu ly, hen tra 15/11/2024 (tre 3 ngay). Le phi 150.000d: chua nop. Nguoi nop: Nguyen V. A.",
            ),
        ];
        for (channel, text, want) in cases {
            let reply = ask(&env, channel, &text);
            assert!(reply.starts_with(want), "{channel:?} {text:?}: {reply:?}");
            assert_eq!(channel == Channel::Sms, reply.is_ascii() && reply.len() <= 160, "{reply}");
        }
    }

    #[test]
    fn the_route_checks_the_signature_and_the_fields() {
        let env = env().with_config("internal_secret", "in-s3cret");
        let post = |sig: &str, body: &str| {
            civic::testing::call(
                |r| crate::handle(r, &env),
                "POST",
                "/permits/command",
                &[("x-signature", sig), ("content-type", "application/json")],
                body.to_owned(),
            )
        };
        let body =
            r#"{"channel":"zalo","user":"2468458835296117922","text":"HS 000.00.19.H57-241105-0012 3456","id":"m-1"}"#;
        let (status, v) = post(&civic::command::sign("in-s3cret", body.as_bytes()), body);
        assert_eq!(status, 200, "{v}");
        assert!(v["reply"].as_str().unwrap().contains("Người nộp: Nguyễn V. A."), "{v}");
        assert_eq!(v["choices"], json!([]));
        assert_eq!(post(&civic::command::sign("other", body.as_bytes()), body).0, 401);
        let bad = r#"{"channel":"zalo","user":"","text":"HS 1"}"#;
        let (status, v) = post(&civic::command::sign("in-s3cret", bad.as_bytes()), bad);
        assert_eq!((status, &v["errors"][0]["field"]), (http::StatusCode::UNPROCESSABLE_ENTITY, &json!("user")));
        let get = civic::testing::call(|r| crate::handle(r, &env), "GET", "/permits/command", &[], "");
        assert_eq!(get.0, 405);
    }

    #[test]
    fn a_wrong_last4_is_the_public_reply_and_counts_toward_the_lock() {
        let env = env();
        let code = "000.00.19.H57-241105-0012";
        let public = ask(&env, Channel::Zalo, &format!("HS {code}"));
        let verified = ask(&env, Channel::Zalo, &format!("HS {code} 3456"));
        assert!(verified.starts_with(&public) && verified.contains("Người nộp: Nguyễn V. A."), "{verified}");
        assert_eq!(ask(&env, Channel::Zalo, &format!("HS {code} cảm ơn")), public, "not a guess");
        for guess in 0..crate::store::PHONE_CHECKS_PER_DAY {
            assert_eq!(ask(&env, Channel::Telegram, &format!("HS {code} {guess:04}")), public);
        }
        assert_eq!(ask(&env, Channel::Zalo, &format!("HS {code} 3456")), public, "locked for the day");
        env.set_now(t("2024-11-19T00:00:00+07:00"));
        assert!(ask(&env, Channel::Zalo, &format!("HS {code} 3456")).contains("Người nộp"), "open the next day");
    }
}
