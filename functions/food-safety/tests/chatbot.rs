//! The chat bot's side of food-safety through `handle`, natively: `POST /food-safety/command`
//! on every channel (SMS answers byte for byte as the SMS webhook does), and the `near`
//! search of `GET /food-safety/establishments`, over the end-to-end fixture (five places in
//! Đà Nẵng, one without coordinates).

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use bytes::Bytes;
use civic::command::{Channel, Choice, Command, Location, Reply};
use civic::platform::native::{NativePlatform, block_on};
use http::{Request, StatusCode};
use serde_json::{Value, json};

const INTERNAL: &str = "internal-test-secret";
const SMS: &str = "sms-test-secret";

/// The fixture loaded, the clock at 09:00 on 1 June 2025 in Vietnam.
fn env() -> NativePlatform {
    let env = civic::testing::route_env_at(&["food"], "2025-06-01T09:00:00+07:00")
        .with_config("internal_secret", INTERNAL)
        .with_config("sms_webhook_secret", SMS);
    let fixture: Value = serde_json::from_str(include_str!("../../../tests/data/establishments.json")).unwrap();
    let items = food_safety::import::parse_batch(&fixture).unwrap();
    block_on(food_safety::store::upsert(&env, &items, food_safety::store::Violations::Replace)).unwrap();
    env
}

fn post(env: &NativePlatform, path: &str, signature: &str, body: &str) -> (StatusCode, Value) {
    let headers = [("x-signature", signature), ("content-type", "application/json")];
    civic::testing::call(|r| food_safety::handle(r, env), "POST", path, &headers, body.to_owned())
}

/// A signed command's reply.
fn ask(env: &NativePlatform, cmd: &Command) -> Reply {
    let body = serde_json::to_string(cmd).unwrap();
    let (status, reply) = post(env, "/food-safety/command", &civic::command::sign(INTERNAL, body.as_bytes()), &body);
    assert_eq!(status, StatusCode::OK, "{cmd:?}: {reply}");
    serde_json::from_value(reply).unwrap()
}

fn zalo(text: &str) -> Command {
    Command::text(Channel::Zalo, "2468458835296117922", text)
}

fn at(cmd: Command, lat: f64, lng: f64) -> Command {
    Command { location: Some(Location { lat, lng }), ..cmd }
}

/// An SMS through the gateway's webhook.
fn sms_webhook(env: &NativePlatform, id: &str, from: &str, text: &str) -> String {
    let body = json!({"id": id, "from": from, "to": "8188", "text": text}).to_string();
    let sig = civic::auth::hmac_sha256_hex(SMS.as_bytes(), body.as_bytes());
    let (status, reply) = post(env, "/food-safety/sms", &sig, &body);
    assert_eq!(status, StatusCode::OK, "{text:?}: {reply}");
    reply["reply"].as_str().unwrap().to_owned()
}

const PHO_BA_HOA: &str = "Phở Bà Hoa, 12 Trần Phú, Thạch Thang, Hải Châu, Đà Nẵng.\nCó giấy chứng nhận cơ sở đủ \
    điều kiện an toàn thực phẩm số 123/2024/ATTP-CNĐK do Ban Quản lý ATTP Đà Nẵng cấp, còn hiệu lực đến ngày \
    01/03/2099.\nĐã ghi nhận 1 lần vi phạm về an toàn thực phẩm.";

#[test]
fn chat_answers_a_clear_match_in_full() {
    let env = env();
    for text in ["ATTP phở bà hoa", "attp Pho Ba Hoa, Hai Chau", "/attp PHỞ BÀ HOA"] {
        assert_eq!(ask(&env, &zalo(text)), Reply::text(PHO_BA_HOA), "{text:?}");
    }
    let expired = ask(&env, &Command::text(Channel::Telegram, "42", "ATTP #E2E-0002"));
    assert_eq!(
        expired.reply,
        "Phở Bà Hoa 2, 45 Hồ Nghinh, Phước Mỹ, Sơn Trà, Đà Nẵng.\nGiấy chứng nhận cơ sở đủ điều kiện an toàn thực \
         phẩm số 77/2019/ATTP-CNĐK đã hết hạn từ ngày 03/05/2022 (chỉ có hiệu lực đến hết ngày 02/05/2022).\nChưa \
         ghi nhận vi phạm nào."
    );
    let none = ask(&env, &zalo("ATTP bún chả cá"));
    assert!(none.reply.contains("Chưa có giấy chứng nhận") && none.reply.contains("2 lần vi phạm"), "{none:?}");
    assert_eq!(
        ask(&env, &zalo("ATTP #NOPE-1")).reply,
        "Không tìm thấy cơ sở có mã NOPE-1 trong danh bạ an toàn thực phẩm."
    );
    let nothing = ask(&env, &zalo("ATTP Sushi Tokyo"));
    assert!(nothing.reply.starts_with("Không tìm thấy cơ sở nào khớp với “Sushi Tokyo”."), "{nothing:?}");
    assert!(ask(&env, &Command::text(Channel::Telegram, "42", "xin chào")).reply.starts_with("Tra cứu an toàn"));
}

/// Several alike: a short text and five buttons at most, each picking its place by id; the
/// list is the sender's on that channel, for `ATTP <n>`.
#[test]
fn chat_offers_the_matches_as_buttons() {
    let env = env();
    let list = ask(&env, &zalo("ATTP bà"));
    assert!(list.reply.starts_with("Có 4 cơ sở khớp với “bà”. Chọn một cơ sở"), "{list:?}");
    assert_eq!(list.choices.len(), 4, "{list:?}");
    assert_eq!(list.choices[0], Choice::new("Phở Bà Hoa, 12 Trần Phú, Thạch Thang", "ATTP #DN-000123"));
    for (i, choice) in list.choices.iter().enumerate() {
        let id = choice.value.strip_prefix("ATTP #").unwrap();
        let picked = ask(&env, &zalo(&format!("ATTP {}", i + 1)));
        let tapped = ask(&env, &zalo(&choice.value));
        assert_eq!(picked, tapped, "ATTP {} is the button of {id}", i + 1);
        assert!(picked.reply.starts_with(choice.label.split(',').next().unwrap()), "{picked:?}");
    }
    let past = ask(&env, &zalo("ATTP 5"));
    assert_eq!(
        past.reply,
        "Danh sách gần nhất bạn nhận chỉ có 4 cơ sở, không có số 5. Hãy chọn một số từ 1 đến 4, hoặc gửi ATTP <tên \
         cơ sở>."
    );
    // another channel, same id: no list
    let telegram = ask(&env, &Command::text(Channel::Telegram, "2468458835296117922", "ATTP 2"));
    assert!(telegram.reply.starts_with("Bạn chưa nhận danh sách nào trong 10 phút qua"), "{telegram:?}");
    // ten minutes later, the list is gone
    env.set_now(civic::testing::t("2025-06-01T09:10:01+07:00"));
    assert!(ask(&env, &zalo("ATTP 2")).reply.starts_with("Bạn chưa nhận danh sách nào"));
}

/// A shared location: the places within 1 km, certified first, with distances, as buttons;
/// `ATTP <n>` picks from them. A place without coordinates is never among them.
#[test]
fn chat_answers_a_location_with_the_places_around() {
    let env = env();
    // 150 m south of Cà phê Sông Hàn, which has no certificate; Phở Bà Hoa (valid) is farther
    let near = ask(&env, &at(zalo(""), 16.07265, 108.2240));
    assert_eq!(
        near.reply,
        "Có 2 cơ sở trong vòng 1 km quanh vị trí bạn gửi, cơ sở có giấy chứng nhận an toàn thực phẩm còn hiệu lực \
         xếp trước:\n1. Phở Bà Hoa, 12 Trần Phú: 400 m, giấy chứng nhận còn hạn.\n2. Cà phê Sông Hàn, 2 Bạch Đằng: \
         150 m, chưa có giấy chứng nhận.\nChọn một cơ sở (hoặc gửi ATTP <số thứ tự>) để xem chi tiết."
    );
    assert_eq!(
        near.choices,
        [
            Choice::new("Phở Bà Hoa, 12 Trần Phú (400 m)", "ATTP #DN-000123"),
            Choice::new("Cà phê Sông Hàn, 2 Bạch Đằng (150 m)", "ATTP #E2E-0005"),
        ]
    );
    assert!(ask(&env, &zalo("ATTP 2")).reply.starts_with("Cà phê Sông Hàn, 2 Bạch Đằng"));
    // a text that is no ATTP command beside a location: the location answers
    assert_eq!(ask(&env, &at(zalo("quán nào gần đây?"), 16.07265, 108.2240)), near);
    assert_eq!(ask(&env, &at(zalo("ATTP"), 16.07265, 108.2240)), near);
    // a name search beside a location: the name answers
    assert_eq!(ask(&env, &at(zalo("ATTP phở bà hoa"), 16.07265, 108.2240)), Reply::text(PHO_BA_HOA));
    // Hà Nội
    let far = ask(&env, &at(zalo(""), 21.0285, 105.8542));
    assert!(far.reply.starts_with("Không có cơ sở nào trong danh bạ an toàn thực phẩm cách vị trí bạn gửi dưới 1 km."));
    assert!(far.choices.is_empty());
}

/// The SMS channel of the command route answers exactly what the SMS webhook answers, step
/// by step (two phones, one through each route), lists and picks included.
#[test]
fn sms_commands_answer_as_the_webhook_does() {
    let env = env();
    let steps = [
        "ATTP pho ba hoa, hai chau",
        "attp bún chả cá",
        "ATTP ba",
        "ATTP 2",
        "ATTP 3",
        "ATTP 4",
        "ATTP nothing here",
        "xin chao",
        "ATTP #DN-000123",
        "ATTP Quán Bánh xèo Bà Dưỡng K280/23 Hoàng Diệu Phước Ninh Hải Châu Đà Nẵng Việt Nam gần chợ Hàn ạ nhé",
        "",
    ];
    for (i, text) in steps.iter().enumerate() {
        let webhook = sms_webhook(&env, &format!("m-{i}"), "84911000001", text);
        let cmd = Command { phone: Some("0911000002".into()), ..Command::text(Channel::Sms, "0911000002", *text) };
        let command = ask(&env, &at(cmd, 16.07, 108.22));
        assert_eq!(command, Reply::text(webhook.clone()), "{text:?}");
        assert!(webhook.len() <= 160 && webhook.chars().all(|c| (' '..='~').contains(&c)), "{webhook}");
    }
    assert_eq!(
        sms_webhook(&env, "x-1", "84911000003", "ATTP pho ba hoa"),
        "Pho Ba Hoa, 12 Tran Phu, Thach Thang, Hai Chau: GCN ATTP so 123/2024/ATTP-CNDK con hieu luc den 01/03/2099. \
         Vi pham: 1 lan."
    );
    // a list through the webhook is picked through the command route, and back
    let list = sms_webhook(&env, "x-2", "84911000004", "ATTP ba");
    let second = list.split(" 2) ").nth(1).and_then(|r| r.split([',', ':']).next()).unwrap();
    let cmd = Command::text(Channel::Sms, "+84 911 000 004", "ATTP 2");
    assert!(ask(&env, &cmd).reply.starts_with(second), "{second}");
}

#[test]
fn commands_are_signed_and_checked() {
    let env = env();
    let body = r#"{"channel":"zalo","user":"1","text":"ATTP pho"}"#;
    let (status, problem) = post(&env, "/food-safety/command", &civic::command::sign("forged", body.as_bytes()), body);
    assert_eq!((status, problem["type"].as_str()), (StatusCode::UNAUTHORIZED, Some("/problems/bad-signature")));
    let unknown = r#"{"channel":"zalo","user":"1","text":"ATTP pho","admin":true}"#;
    let (status, _) = post(&env, "/food-safety/command", &civic::command::sign(INTERNAL, unknown.as_bytes()), unknown);
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let bad = r#"{"channel":"zalo","user":"","text":"","location":{"lat":95,"lng":0}}"#;
    let (status, problem) = post(&env, "/food-safety/command", &civic::command::sign(INTERNAL, bad.as_bytes()), bad);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["errors"].as_array().map(Vec::len), Some(2), "{problem}");
    let big = format!(r#"{{"channel":"zalo","user":"1","text":"{}"}}"#, "a ".repeat(9_000));
    let (status, _) = post(&env, "/food-safety/command", &civic::command::sign(INTERNAL, big.as_bytes()), &big);
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let resp = block_on(food_safety::handle(Request::get("/food-safety/command").body(Bytes::new()).unwrap(), &env));
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(resp.headers()["allow"], "POST");
    let unset = civic::testing::route_env(&["food"]);
    let (status, _) = post(&unset, "/food-safety/command", &civic::command::sign("", body.as_bytes()), body);
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

fn get(env: &NativePlatform, query: &str) -> (StatusCode, Value) {
    let path = format!("/food-safety/establishments?{query}");
    civic::testing::call(|r| food_safety::handle(r, env), "GET", &path, &[("accept-language", "en")], "")
}

/// `(id, distance_m)` of a near search's results.
fn hits(v: &Value) -> Vec<(String, i64)> {
    let list = v["results"].as_array().unwrap();
    list.iter().map(|h| (h["id"].as_str().unwrap().to_owned(), h["distance_m"].as_i64().unwrap())).collect()
}

#[test]
fn near_finds_the_places_around_nearest_first() {
    let env = env();
    let pho = "near=16.0719,108.2203";
    let (status, v) = get(&env, pho);
    assert_eq!(status, StatusCode::OK, "{v}");
    assert_eq!(hits(&v), [("DN-000123".into(), 0), ("E2E-0005".into(), 459)]);
    assert_eq!(v["total"], 2);
    let first = &v["results"][0];
    assert_eq!(
        (&first["name"], &first["certificate_status"], &first["violations"]),
        (&json!("Phở Bà Hoa"), &json!("valid"), &json!(1))
    );
    // wider: every place with coordinates (E2E-0004 has none), nearest first
    let (_, v) = get(&env, &format!("{pho}&radius=5000"));
    let ids: Vec<String> = hits(&v).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, ["DN-000123", "E2E-0005", "E2E-0003", "E2E-0002"]);
    assert_eq!(v["total"], 4);
    let (_, v) = get(&env, &format!("{pho}&radius=5000&limit=1"));
    assert_eq!((hits(&v).len(), &v["total"]), (1, &json!(4)));
    let (_, v) = get(&env, &format!("{pho}&radius=458"));
    assert_eq!((hits(&v), &v["total"]), (vec![("DN-000123".into(), 0)], &json!(1)));
    // a blank q is no q
    assert_eq!(get(&env, &format!("{pho}&q=")).0, StatusCode::OK);
    let (_, v) = get(&env, "near=21.0285,105.8542&radius=5000");
    assert_eq!(v, json!({"results": [], "total": 0}));
}

#[test]
fn near_refuses_what_it_cannot_read_naming_the_parameter() {
    let env = env();
    let pho = "near=16.0719,108.2203";
    // (query, status, the parameters the detail or errors name)
    let cases: &[(&str, StatusCode, &[&str])] = &[
        ("near=abc", StatusCode::BAD_REQUEST, &["near"]),
        ("near=16.07", StatusCode::BAD_REQUEST, &["near"]),
        ("near=91,108", StatusCode::BAD_REQUEST, &["near"]),
        ("near=16,108,3", StatusCode::BAD_REQUEST, &["near"]),
        ("near=NaN,108", StatusCode::BAD_REQUEST, &["near"]),
        ("near=", StatusCode::BAD_REQUEST, &["near"]),
        (&format!("{pho}&radius=0"), StatusCode::BAD_REQUEST, &["radius"]),
        (&format!("{pho}&radius=-5"), StatusCode::BAD_REQUEST, &["radius"]),
        (&format!("{pho}&radius=5001"), StatusCode::BAD_REQUEST, &["radius"]),
        (&format!("{pho}&radius=100.5"), StatusCode::BAD_REQUEST, &["radius"]),
        ("radius=100", StatusCode::BAD_REQUEST, &["radius"]),
        (&format!("{pho}&q=pho"), StatusCode::BAD_REQUEST, &["q"]),
        (&format!("{pho}&page=2"), StatusCode::BAD_REQUEST, &["page"]),
        (&format!("{pho}&page_size=20"), StatusCode::BAD_REQUEST, &["page_size"]),
        (&format!("{pho}&district=hai+chau"), StatusCode::BAD_REQUEST, &["district"]),
        ("near=x&radius=0&q=pho", StatusCode::BAD_REQUEST, &["near", "radius", "q"]),
        (&format!("{pho}&limit=0"), StatusCode::UNPROCESSABLE_ENTITY, &["limit"]),
        (&format!("{pho}&near=16,108"), StatusCode::UNPROCESSABLE_ENTITY, &["near"]),
    ];
    for (query, status, named) in cases {
        let (got, v) = get(&env, query);
        assert_eq!(got, *status, "{query}: {v}");
        let said = format!("{} {}", v["detail"], v["errors"]);
        for p in *named {
            assert!(said.contains(&format!("{p}:")) || said.contains(&format!("\"{p}\"")), "{query}: {said}");
        }
    }
    let (_, v) = get(&env, "near=x&radius=0");
    assert_eq!(
        v["detail"],
        "near: must be <lat>,<lng> in WGS 84 degrees, e.g. 16.0719,108.2203; radius: must be a whole number of metres \
         from 1 to 5000"
    );
}

fn rows(env: &NativePlatform, table: &str) -> i64 {
    let sql = format!("SELECT count(*) AS n FROM {table}");
    block_on(civic::Platform::query(env, "food", &sql, &[])).unwrap().first().unwrap().i64("n").unwrap()
}

/// `POST /food-safety/tick` as the scheduler calls it.
fn tick(env: &NativePlatform) -> Value {
    let auth = civic::testing::token(env, &json!({"roles": ["system"]}));
    let (status, t) = civic::testing::call(
        |r| food_safety::handle(r, env),
        "POST",
        "/food-safety/tick",
        &[("authorization", &auth)],
        "",
    );
    assert_eq!(status, StatusCode::OK, "{t}");
    t
}

fn retention(env: &NativePlatform, roles: &[&str]) -> (StatusCode, Value) {
    let auth = civic::testing::token(env, &json!({"roles": roles}));
    civic::testing::call(
        |r| food_safety::handle(r, env),
        "GET",
        "/food-safety/retention",
        &[("authorization", &auth)],
        "",
    )
}

#[test]
fn the_tick_forgets_old_lists_and_messages_and_keeps_the_rest() {
    let env = env();
    // 1 June, 09:00: a list by SMS, one on Zalo, and one the previous release kept.
    assert!(sms_webhook(&env, "m-1", "84911000001", "ATTP ba").contains("2)"));
    assert_eq!(ask(&env, &zalo("ATTP bà")).choices.len(), 4);
    let legacy =
        "INSERT INTO sms_choices (phone_hash, ids, at) VALUES ('h', '[\"DN-000123\"]', '2025-06-01T02:00:00Z')";
    block_on(civic::Platform::execute(&env, "food", legacy, &[])).unwrap();
    let (status, kept) = retention(&env, &["admin"]);
    assert_eq!(status, StatusCode::OK, "{kept}");
    assert_eq!(
        kept["kinds"][1],
        json!({"kind": "conversations", "setting": "retention_conversations", "period_seconds": 86_400,
            "holds": "the last list of places each sender (a keyed hash of the phone number or chat id) was offered",
            "oldest": "2025-06-01T09:00:00+07:00", "past_period": false})
    );
    // 2 June, 08:00: within the day; another sender's list.
    env.set_now(civic::testing::t("2025-06-02T08:00:00+07:00"));
    assert_eq!(tick(&env)["conversations_purged"], 0);
    assert!(sms_webhook(&env, "m-2", "84911000002", "ATTP ba").contains("2)"));
    // 2 June, 09:30: the first day's three lists are gone, the morning's stays.
    env.set_now(civic::testing::t("2025-06-02T09:30:00+07:00"));
    let t = tick(&env);
    assert_eq!((t["conversations_purged"].clone(), t["sms_messages_purged"].clone()), (json!(3), json!(0)), "{t}");
    assert_eq!((rows(&env, "choices"), rows(&env, "sms_choices"), rows(&env, "sms_messages")), (1, 0, 2));
    assert_eq!(retention(&env, &["admin"]).1["kinds"][1]["oldest"], "2025-06-02T08:00:00+07:00");
    // 2 July: the first SMS is past its 30 days, the second is not yet.
    env.set_now(civic::testing::t("2025-07-01T09:30:00+07:00"));
    let t = tick(&env);
    assert_eq!((t["conversations_purged"].clone(), t["sms_messages_purged"].clone()), (json!(1), json!(1)), "{t}");
    assert_eq!(rows(&env, "sms_messages"), 1);
    let (_, kept) = retention(&env, &["admin"]);
    assert_eq!(
        (kept["kinds"][0]["oldest"].clone(), kept["kinds"][1]["oldest"].clone()),
        (json!("2025-06-02T08:00:00+07:00"), Value::Null)
    );
}

#[test]
fn a_short_setting_never_takes_a_list_that_can_still_be_picked() {
    let env = env().with_config("retention_conversations", "1m");
    assert_eq!(ask(&env, &zalo("ATTP bà")).choices.len(), 4);
    env.set_now(civic::testing::t("2025-06-01T09:09:00+07:00"));
    assert_eq!(tick(&env)["conversations_purged"], 0, "raised to the minimum, an hour");
    let picked = ask(&env, &zalo("ATTP 2"));
    assert!(!picked.reply.starts_with("Bạn chưa nhận danh sách"), "the list is still there: {picked:?}");
    assert_eq!(retention(&env, &["admin"]).1["kinds"][1]["period_seconds"], 3600);
}

#[test]
fn the_retention_route_is_for_admins() {
    let env = env();
    let anonymous = civic::testing::call(|r| food_safety::handle(r, &env), "GET", "/food-safety/retention", &[], "");
    assert_eq!(anonymous.0, StatusCode::UNAUTHORIZED);
    assert_eq!(retention(&env, &["citizen"]).0, StatusCode::FORBIDDEN);
    assert_eq!(retention(&env, &["system"]).0, StatusCode::FORBIDDEN);
    let (status, kept) = retention(&env, &["admin"]);
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = kept["kinds"].as_array().unwrap().iter().map(|k| k["kind"].as_str().unwrap()).collect();
    assert_eq!(names, ["sms_messages", "conversations"]);
}
