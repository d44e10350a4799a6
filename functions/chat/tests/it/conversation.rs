use bytes::Bytes;
use civic::platform::native::block_on;
use serde_json::json;

use crate::stand_in::{StandIn, zalo_event};

fn post(env: &StandIn, req: http::Request<Bytes>) -> u16 {
    block_on(chat::handle(req, env)).status().as_u16()
}

fn text(env: &StandIn, user: &str, msg_id: &str, text: &str) -> u16 {
    post(env, zalo_event(env, user, msg_id, "user_send_text", json!({"text": text})))
}

fn last_text(env: &StandIn) -> String {
    env.sent().last().map(|m| m.1.clone()).unwrap_or_default()
}

#[test]
fn a_choice_is_picked_by_its_number() {
    let env = StandIn::new();
    assert_eq!(text(&env, "9000000000000000001", "m1", "ATTP phở bà hoa"), 200);
    let (user, reply, buttons) = env.sent().pop().unwrap();
    assert_eq!((user.as_str(), reply.as_str()), ("9000000000000000001", "2 cơ sở khớp"));
    assert_eq!(buttons, ["ATTP #DN-1", "ATTP #DN-2"]);
    assert_eq!(text(&env, "9000000000000000001", "m2", "2"), 200);
    let commands = env.commands.lock().unwrap().clone();
    assert_eq!(commands.last().map(|(c, cmd)| (c.as_str(), cmd.text.as_str())), Some(("food-safety", "ATTP #DN-2")));
}

#[test]
fn a_report_conversation_files_once_with_place_and_photo() {
    let env = StandIn::new();
    let u = "9000000000000000002";
    let events = [
        zalo_event(&env, u, "p1", "user_send_text", json!({"text": "PA Đèn đường hỏng trước nhà"})),
        zalo_event(
            &env,
            u,
            "p2",
            "user_send_location",
            json!({"attachments": [{"type": "location", "payload": {"coordinates": {"latitude": "16.0678", "longitude": "108.2208"}}}]}),
        ),
        zalo_event(
            &env,
            u,
            "p3",
            "user_send_image",
            json!({"attachments": [{"type": "image", "payload": {"url": "https://photo.zdn.test/a.jpg"}}]}),
        ),
        zalo_event(&env, u, "p4", "user_send_text", json!({"text": "gửi"})),
    ];
    for e in events.iter().cloned() {
        assert_eq!(post(&env, e), 200);
    }
    let sent = env.sent();
    assert_eq!(sent.len(), 4, "{sent:?}");
    assert!(sent[0].1.contains("vị trí"), "{}", sent[0].1);
    assert_eq!(sent[1].2, ["GUI", "HUY"]);
    assert!(sent[2].1.contains("1/5"), "{}", sent[2].1);
    assert_eq!(sent[3].1, "Đã nhận phản ánh PA-241105-0001 (Đèn đường hỏng trước nhà; 16.0678,108.2208; 1 ảnh)");
    assert_eq!(*env.reports_filed.lock().unwrap(), [format!("zalo:{u}:p1")]);
    // Zalo delivers every event again: nothing is done or sent twice
    for e in events {
        assert_eq!(post(&env, e), 200);
    }
    assert_eq!(env.sent().len(), 4);
    assert_eq!(*env.photos_stored.lock().unwrap(), 1);
    let filings = env.commands.lock().unwrap().iter().filter(|(c, _)| c == "report-submission").count();
    assert_eq!(filings, 1);
    // the conversation is over: GUI again is not a report
    assert_eq!(text(&env, u, "p5", "GUI"), 200);
    assert!(last_text(&env).starts_with("Xin chào"), "{}", last_text(&env));
}

#[test]
fn an_address_instead_of_a_location_and_cancel() {
    let env = StandIn::new();
    let u = "9000000000000000003";
    text(&env, u, "a1", "PA Rác thải ùn ứ");
    text(&env, u, "a2", "12 Trần Phú, Hải Châu");
    assert_eq!(env.sent()[1].2, ["GUI", "HUY"]);
    text(&env, u, "a3", "Hủy");
    assert!(last_text(&env).starts_with("Đã hủy"), "{}", last_text(&env));
    assert!(env.reports_filed.lock().unwrap().is_empty());
}

#[test]
fn a_location_outside_a_report_asks_for_nearby_places_and_idle_conversations_drop() {
    let env = StandIn::new();
    let u = "9000000000000000004";
    let share = |id: &str| {
        zalo_event(
            &env,
            u,
            id,
            "user_send_location",
            json!({"attachments": [{"type": "location", "payload": {"coordinates": {"lat": 16.06, "long": 108.22}}}]}),
        )
    };
    post(&env, share("l1"));
    assert_eq!(last_text(&env), "Gần bạn: Phở Bà Hoa (120 m)");
    text(&env, u, "l2", "PA Cây đổ");
    env.native.set_now(civic::Platform::now(&env.native) + chrono::Duration::minutes(31));
    post(&env, share("l3"));
    assert_eq!(last_text(&env), "Gần bạn: Phở Bà Hoa (120 m)", "a conversation left 31 minutes is dropped");
}

#[test]
fn forged_and_stale_events_do_nothing() {
    let env = StandIn::new();
    let mut forged = zalo_event(&env, "1", "f1", "user_send_text", json!({"text": "HS 1"}));
    forged.headers_mut().insert("x-zevent-signature", "mac=00".parse().unwrap());
    assert_eq!(post(&env, forged), 401);
    let stale = zalo_event(&env, "1", "f2", "user_send_text", json!({"text": "HS 1"}));
    env.native.set_now(civic::Platform::now(&env.native) + chrono::Duration::minutes(6));
    assert_eq!(post(&env, stale), 401);
    assert!(env.sent().is_empty());
    assert!(env.commands.lock().unwrap().is_empty());
}

#[test]
fn an_event_whose_handling_failed_is_answered_on_the_retry() {
    let env = StandIn::new();
    let event =
        zalo_event(&env, "9000000000000000005", "r1", "user_send_text", json!({"text": "PA Cây đổ chắn đường"}));
    *env.fail_once.lock().unwrap() = Some("INSERT INTO conversations");
    assert_eq!(post(&env, event.clone()), 503, "a database error is Zalo's cue to send it again");
    assert!(env.sent().is_empty());
    assert_eq!(post(&env, event.clone()), 200);
    assert!(last_text(&env).contains("vị trí"), "{}", last_text(&env));
    // answered now: a further repeat does nothing
    assert_eq!(post(&env, event), 200);
    assert_eq!(env.sent().len(), 1);
}
