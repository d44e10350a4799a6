//! Events through `handle` and `tick`, natively, with a partner's webhook standing in on
//! 127.0.0.1: a settled payment is told once however often the bank repeats its IPN, an
//! unpaid order expires once however the ticks overlap, and a late payment of an expired
//! order still settles it. Also: migration 0004 keeps the orders stored before it.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use bytes::Bytes;
use chrono::Duration;
use civic::Platform;
use civic::platform::native::{NativePlatform, block_on};
use civic::testing::{Receiver, token};
use http::{Request, StatusCode};
use serde_json::{Value, json};

const VNPAY_SECRET: &str = "VNPAYTESTSECRETVNPAYTESTSECRET00";
const CODE: &str = "000.00.19.H57-241105-0012";

/// Payments with one dossier of fee 150 000 đ, and `partner` registered for `events`;
/// the webhook's secret.
fn env(partner: &Receiver, events: &[&str]) -> (NativePlatform, String) {
    let env = civic::testing::route_env_at(&["permits", "payments"], "2024-11-22T09:00:00+07:00")
        .with_allowed_host(&partner.addr)
        .with_config("vnpay_tmn_code", "DEMOV210")
        .with_config("vnpay_hash_secret", VNPAY_SECRET)
        .with_config("vnpay_pay_url", "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html")
        .with_config("vnpay_return_url", "https://dichvucong.example.vn/thanh-toan/ket-qua");
    let push = json!({"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép xây dựng",
        "field": "Xây dựng", "agency": "UBND quận Hải Châu",
        "applicant": {"name": "Nguyễn Văn An", "phone": "0905123456", "kind": "citizen"},
        "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
        "status": 6, "status_at": "2024-11-06T09:00:00+07:00", "fee_vnd": 150_000});
    let req = Request::put(format!("/permits/{CODE}"))
        .header("authorization", token(&env, &json!({"roles": ["system"]})))
        .body(Bytes::from(push.to_string()))
        .unwrap();
    assert_eq!(block_on(permit_status::handle(req, &env)).status(), StatusCode::CREATED);
    let registration = json!({"url": format!("http://{}/hooks", partner.addr), "events": events});
    let (status, endpoint) = call(&env, "POST", "/payments/webhooks", &["admin"], &registration.to_string());
    assert_eq!(status, StatusCode::CREATED, "{endpoint}");
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    (env, secret)
}

fn call(env: &NativePlatform, method: &str, path: &str, roles: &[&str], body: &str) -> (StatusCode, Value) {
    let auth = token(env, &json!({"roles": roles}));
    let headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
    civic::testing::call(|r| payment_callback::handle(r, env), method, path, &headers, body.to_owned())
}

/// `POST /payments/orders` by the citizen `citizen-1`.
fn create(env: &NativePlatform) -> (StatusCode, Value) {
    let owner = token(env, &json!({}));
    let body = json!({"dossier_code": CODE, "provider": "vnpay"}).to_string();
    let headers = [("content-type", "application/json"), ("authorization", owner.as_str())];
    civic::testing::call(|r| payment_callback::handle(r, env), "POST", "/payments/orders", &headers, body)
}

/// A citizen's new VNPay order.
fn order(env: &NativePlatform) -> Value {
    let (status, v) = create(env);
    assert_eq!(status, StatusCode::CREATED, "{v}");
    v
}

/// VNPay's IPN for `txn_ref`, signed; its `RspCode`.
fn vnpay_ipn(env: &NativePlatform, txn_ref: &str, txn_no: &str) -> String {
    let mut params = [
        ("vnp_Amount", "15000000".to_owned()),
        ("vnp_ResponseCode", "00".to_owned()),
        ("vnp_TmnCode", "DEMOV210".to_owned()),
        ("vnp_TransactionNo", txn_no.to_owned()),
        ("vnp_TransactionStatus", "00".to_owned()),
        ("vnp_TxnRef", txn_ref.to_owned()),
    ];
    params.sort();
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let data = params.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
    let hash = civic::auth::hmac_sha512_hex(VNPAY_SECRET.as_bytes(), data.as_bytes());
    let path = format!("/payments/vnpay/ipn?{data}&vnp_SecureHash={hash}");
    let (status, v) = civic::testing::call(|r| payment_callback::handle(r, env), "GET", &path, &[], "");
    assert_eq!(status, StatusCode::OK);
    v["RspCode"].as_str().unwrap().to_owned()
}

fn tick(env: &NativePlatform) -> Value {
    let (status, v) = call(env, "POST", "/payments/tick", &["system"], "");
    assert_eq!(status, StatusCode::OK, "{v}");
    v
}

fn events(env: &NativePlatform, kind: &str) -> i64 {
    let rows =
        block_on(env.query("payments", "SELECT count(*) AS n FROM outbox_events WHERE type = ?1", &[kind.into()]));
    rows.unwrap().first().unwrap().i64("n").unwrap()
}

#[test]
fn a_settled_payment_is_told_once_however_often_the_bank_repeats() {
    let partner = Receiver::start().unwrap();
    let (env, secret) = env(&partner, &["payment.settled"]);
    let o = order(&env);
    let r = o["txn_ref"].as_str().unwrap();
    assert_eq!(vnpay_ipn(&env, r, "14226112"), "00");
    assert_eq!(vnpay_ipn(&env, r, "14226112"), "02");
    assert_eq!(vnpay_ipn(&env, r, "14226112"), "02");
    assert_eq!(events(&env, "payment.settled"), 1);
    let t = tick(&env);
    assert_eq!((t["delivered"].clone(), t["orders_expired"].clone()), (json!(1), json!(0)), "{t}");
    assert_eq!(tick(&env)["delivered"], 0);
    let got = partner.received();
    assert_eq!(got.len(), 1);
    assert!(civic::testing::standard_webhook_signed(&secret, &got[0]));
    let body = got[0].json();
    assert_eq!(body["type"], "payment.settled");
    assert_eq!(
        body["data"],
        json!({"order_id": o["order_id"], "dossier_code": CODE, "provider": "vnpay", "amount_vnd": 150_000,
            "paid_at": "2024-11-22T02:00:00Z", "provider_txn_id": "14226112"})
    );
    assert!(!got[0].body.windows(10).any(|w| w == b"citizen-1\""), "never the owner");
}

#[test]
fn an_unpaid_order_expires_once_under_overlapping_ticks() {
    let partner = Receiver::start().unwrap();
    let (env, secret) = env(&partner, &["order.expired", "payment.settled"]);
    let o = order(&env);
    let path = format!("/payments/orders/{}", o["order_id"].as_str().unwrap());
    env.set_now(env.now() + Duration::minutes(14));
    assert_eq!(tick(&env)["orders_expired"], 0, "not yet: 15 minutes");
    env.set_now(env.now() + Duration::minutes(2));
    // ticks running at once, the receiver slow enough for their deliveries to overlap too
    partner.delay(std::time::Duration::from_millis(300));
    let ticks: Vec<Value> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..3).map(|_| s.spawn(|| block_on(payment_callback::tick(&env)).unwrap())).collect();
        runs.into_iter().map(|h| serde_json::to_value(h.join().unwrap()).unwrap()).collect()
    });
    let sum = |k: &str| ticks.iter().map(|t| t[k].as_u64().unwrap()).sum::<u64>();
    assert_eq!((sum("orders_expired"), sum("delivered")), (1, 1), "{ticks:?}");
    assert_eq!(events(&env, "order.expired"), 1);
    let got = partner.received();
    assert_eq!(got.len(), 1);
    assert!(civic::testing::standard_webhook_signed(&secret, &got[0]));
    assert_eq!(
        got[0].json()["data"],
        json!({"order_id": o["order_id"], "dossier_code": CODE, "provider": "vnpay", "amount_vnd": 150_000,
            "expires_at": "2024-11-22T02:15:00Z"})
    );
    let owner = token(&env, &json!({}));
    let headers = [("authorization", owner.as_str())];
    let (_, seen) = civic::testing::call(|r| payment_callback::handle(r, &env), "GET", &path, &headers, "");
    assert_eq!(seen["state"], "expired");

    // the bank took the money after all: the expired order settles, and is told
    partner.delay(std::time::Duration::ZERO);
    assert_eq!(vnpay_ipn(&env, o["txn_ref"].as_str().unwrap(), "14226199"), "00");
    assert_eq!(tick(&env)["delivered"], 1);
    assert_eq!(partner.received()[1].json()["type"], "payment.settled");
    let (_, seen) = civic::testing::call(|r| payment_callback::handle(r, &env), "GET", &path, &headers, "");
    assert_eq!(seen["state"], "paid");
    // a new order for the dossier is refused: it is paid
    assert_eq!(create(&env).0, StatusCode::CONFLICT);
}

#[test]
fn an_expired_order_leaves_room_for_a_new_one() {
    let partner = Receiver::start().unwrap();
    let (env, _) = env(&partner, &["order.expired"]);
    let first = order(&env);
    env.set_now(env.now() + Duration::minutes(20));
    assert_eq!(tick(&env)["orders_expired"], 1);
    let second = order(&env);
    assert_ne!(first["order_id"], second["order_id"]);
    assert_eq!(second["state"], "pending");
}

/// Migration 0004 rebuilds the orders table: the rows stored before it stay, with their
/// states, and the view of paid fees still adds them up.
#[test]
fn migration_0004_keeps_the_orders_stored_before_it() {
    let root = std::env::temp_dir().join(format!("payments-0004-{}", std::process::id()));
    let (dbs, migrations) = (root.join("db"), root.join("migrations"));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(migrations.join("payments")).unwrap();
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/payments");
    let copy = |name: &str| std::fs::copy(source.join(name), migrations.join("payments").join(name)).unwrap();
    for name in ["0001_orders.sql", "0002_dossier_payments.sql", "0003_outbox.sql"] {
        copy(name);
    }
    let before = NativePlatform::open_dir(&dbs, &["payments"], &migrations).unwrap();
    for (id, state, paid_at) in [("ord_a", "paid", Some("2024-11-22T02:05:00Z")), ("ord_b", "pending", None)] {
        block_on(before.execute(
            "payments",
            "INSERT INTO orders (order_id, txn_ref, dossier_code, owner, provider, amount_vnd, state, created_at,
                                 expires_at, paid_at, provider_txn_id)
             VALUES (?1, ?1 || '_ref', ?2, 'citizen-1', 'vnpay', 150000, ?3, '2024-11-22T02:00:00Z',
                     '2024-11-22T02:15:00Z', ?4, ?5)",
            &[id.into(), CODE.into(), state.into(), paid_at.into(), paid_at.map(|_| "1").into()],
        ))
        .unwrap();
    }
    drop(before);
    copy("0004_order_expiry.sql");
    let after = NativePlatform::open_dir(&dbs, &["payments"], &migrations).unwrap();
    let rows = block_on(after.query("payments", "SELECT order_id, state, paid_at FROM orders ORDER BY order_id", &[]))
        .unwrap();
    let kept: Vec<(String, String)> =
        rows.iter().map(|r| (r.str("order_id").unwrap().to_owned(), r.str("state").unwrap().to_owned())).collect();
    assert_eq!(kept, [("ord_a".to_owned(), "paid".to_owned()), ("ord_b".to_owned(), "pending".to_owned())]);
    let paid = block_on(after.query(
        "payments",
        "SELECT paid_vnd FROM dossier_payments WHERE dossier_code = ?1",
        &[CODE.into()],
    ))
    .unwrap();
    assert_eq!(paid.first().unwrap().i64("paid_vnd").unwrap(), 150_000);
    let n = block_on(after.execute("payments", "UPDATE orders SET state = 'expired' WHERE order_id = 'ord_b'", &[]));
    assert_eq!(n.unwrap(), 1, "expired is a state now");
    let bad = block_on(after.execute("payments", "UPDATE orders SET state = 'lost' WHERE order_id = 'ord_b'", &[]));
    assert!(bad.is_err(), "and the CHECK still holds");
    let _ = std::fs::remove_dir_all(&root);
}
