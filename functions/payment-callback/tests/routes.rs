//! The routes through `handle`, natively, on one set of databases shared with permit-status
//! (as on the Spin host): orders, each partner's callback with its documented answers,
//! exactly-once settlement, reconciliation, and the fee showing as paid in permit-status.

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use bytes::Bytes;
use chrono::Duration;
use civic::Platform;
use civic::platform::native::{NativePlatform, block_on};
use civic::testing::token;
use http::{Request, StatusCode};
use serde_json::{Value, json};

const VNPAY_SECRET: &str = "VNPAYTESTSECRETVNPAYTESTSECRET00";
const CODE: &str = "000.00.19.H57-241105-0012";
const FREE: &str = "000.00.19.H57-241105-0013";

/// MoMo's and ZaloPay's create endpoints, standing in on 127.0.0.1 (the real ones are out of
/// reach here): each checks the request's signature as the wallet would, then answers a pay
/// URL, or refuses the order when its amount is 999 đ.
fn wallets() -> String {
    civic::testing::serve_json(|path, body| {
        if path == "/v2/gateway/api/create" {
            let b: Value = serde_json::from_slice(body).unwrap();
            let raw = format!(
                "accessKey=momo-access&amount={}&extraData=&ipnUrl={}&orderId={}&orderInfo={}&partnerCode=MOMOTEST\
                 &redirectUrl={}&requestId={}&requestType=captureWallet",
                b["amount"],
                b["ipnUrl"].as_str().unwrap(),
                b["orderId"].as_str().unwrap(),
                b["orderInfo"].as_str().unwrap(),
                b["redirectUrl"].as_str().unwrap(),
                b["requestId"].as_str().unwrap()
            );
            let signed =
                civic::auth::hmac_sha256_hex(b"momo-secret", raw.as_bytes()) == b["signature"].as_str().unwrap();
            if signed && b["amount"] != 999 {
                let pay_url =
                    format!("https://test-payment.momo.vn/v2/gateway/pay?t={}", b["orderId"].as_str().unwrap());
                json!({"resultCode": 0, "payUrl": pay_url})
            } else {
                json!({"resultCode": 1001, "message": "refused"})
            }
        } else {
            let f: std::collections::HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
            let input = ["app_id", "app_trans_id", "app_user", "amount", "app_time", "embed_data", "item"]
                .map(|k| f[k].as_str())
                .join("|");
            let signed = civic::auth::hmac_sha256_hex(b"zalo-key1", input.as_bytes()) == f["mac"];
            if signed && f["amount"] != "999" {
                let order_url = format!("https://qcgateway.zalopay.vn/openinapp?order={}", f["app_trans_id"]);
                json!({"return_code": 1, "order_url": order_url})
            } else {
                json!({"return_code": 2, "sub_return_code": -401, "return_message": "refused"})
            }
        }
    })
    .unwrap()
}

fn env() -> NativePlatform {
    let wallets = wallets();
    let env = civic::testing::route_env_at(&["permits", "payments"], "2024-11-22T09:00:00+07:00")
        .with_allowed_host(&wallets)
        .with_config("momo_endpoint", &format!("http://{wallets}"))
        .with_config("zalopay_endpoint", &format!("http://{wallets}"))
        .with_config("public_base_url", "https://api.dichvucong.example.vn")
        .with_config("payment_return_url", "https://dichvucong.example.vn/thanh-toan/ket-qua")
        .with_config("vnpay_tmn_code", "DEMOV210")
        .with_config("vnpay_hash_secret", VNPAY_SECRET)
        .with_config("vnpay_pay_url", "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html")
        .with_config("vnpay_return_url", "https://dichvucong.example.vn/thanh-toan/ket-qua")
        .with_config("momo_partner_code", "MOMOTEST")
        .with_config("momo_access_key", "momo-access")
        .with_config("momo_secret_key", "momo-secret")
        .with_config("zalopay_app_id", "2553")
        .with_config("zalopay_key1", "zalo-key1")
        .with_config("zalopay_key2", "zalo-key2");
    for (code, fee) in [(CODE, 150_000), (FREE, 0)] {
        let push = json!({"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép xây dựng",
            "field": "Xây dựng", "agency": "UBND quận Hải Châu",
            "applicant": {"name": "Nguyễn Văn An", "phone": "0905123456", "kind": "citizen"},
            "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
            "status": 6, "status_at": "2024-11-06T09:00:00+07:00", "fee_vnd": fee});
        let req = Request::put(format!("/permits/{code}"))
            .header("authorization", token(&env, &json!({"roles": ["system"]})))
            .body(Bytes::from(push.to_string()))
            .unwrap();
        assert_eq!(block_on(permit_status::handle(req, &env)).status(), StatusCode::CREATED);
    }
    env
}

/// A request through `handle`.
fn call(env: &NativePlatform, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (StatusCode, Value) {
    civic::testing::call(|r| payment_callback::handle(r, env), method, path, headers, body.to_owned())
}

fn order(env: &NativePlatform, provider: &str) -> Value {
    let citizen = token(env, &json!({}));
    let body = json!({"dossier_code": CODE, "provider": provider}).to_string();
    let (status, v) = call(env, "POST", "/payments/orders", &[("authorization", &citizen)], &body);
    assert!(status == StatusCode::CREATED || status == StatusCode::OK, "{status} {v}");
    v
}

/// An IPN query string signed as VNPay signs it (sorted, form-urlencoded, HMAC-SHA512).
fn vnpay_query(params: &[(&str, String)], secret: &str) -> String {
    let mut sorted: Vec<(&str, &String)> = params.iter().map(|(k, v)| (*k, v)).collect();
    sorted.sort();
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let data = sorted.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
    let hash = civic::auth::hmac_sha512_hex(secret.as_bytes(), data.as_bytes());
    format!("{data}&vnp_SecureHashType=HmacSHA512&vnp_SecureHash={hash}")
}

fn vnpay_ipn(env: &NativePlatform, txn_ref: &str, amount_x100: i64, code: &str, txn_no: &str, secret: &str) -> String {
    let params = [
        ("vnp_TmnCode", "DEMOV210".to_owned()),
        ("vnp_Amount", amount_x100.to_string()),
        ("vnp_BankCode", "NCB".to_owned()),
        ("vnp_BankTranNo", "VNP14226112".to_owned()),
        ("vnp_CardType", "ATM".to_owned()),
        ("vnp_PayDate", "20241122091500".to_owned()),
        ("vnp_OrderInfo", format!("Thanh toan le phi ho so {CODE}")),
        ("vnp_TransactionNo", txn_no.to_owned()),
        ("vnp_ResponseCode", code.to_owned()),
        ("vnp_TransactionStatus", code.to_owned()),
        ("vnp_TxnRef", txn_ref.to_owned()),
    ];
    let (status, v) = call(env, "GET", &format!("/payments/vnpay/ipn?{}", vnpay_query(&params, secret)), &[], "");
    assert_eq!(status, StatusCode::OK);
    v["RspCode"].as_str().unwrap().to_owned()
}

fn fee_paid(env: &NativePlatform) -> Value {
    let req = Request::get(format!("/permits/{CODE}")).body(Bytes::new()).unwrap();
    let resp = block_on(permit_status::handle(req, env));
    serde_json::from_slice::<Value>(resp.body()).unwrap()["fee_paid"].clone()
}

fn count(env: &NativePlatform, sql: &str) -> i64 {
    block_on(env.query("payments", sql, &[])).unwrap().first().unwrap().i64("n").unwrap()
}

#[test]
fn orders_take_the_unpaid_fee_from_the_dossier() {
    let env = env();
    let body = json!({"dossier_code": CODE, "provider": "vnpay"}).to_string();
    assert_eq!(call(&env, "POST", "/payments/orders", &[], &body).0, StatusCode::UNAUTHORIZED);
    let admin = token(&env, &json!({"roles": ["admin"]}));
    assert_eq!(call(&env, "POST", "/payments/orders", &[("authorization", &admin)], &body).0, StatusCode::FORBIDDEN);
    let o = order(&env, "vnpay");
    assert_eq!(o["amount_vnd"], 150_000);
    assert_eq!(o["state"], "pending");
    assert_eq!(o["expires_at"], "2024-11-22T02:15:00Z");
    let txn_ref = o["txn_ref"].as_str().unwrap();
    assert!(txn_ref.starts_with("241122_") && txn_ref.len() == 19, "{txn_ref}");
    let url = o["payment_url"].as_str().unwrap();
    let (_, query) = url.split_once('?').unwrap();
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    assert!(payment_callback::vnpay::verify(VNPAY_SECRET, &params), "{url}");
    assert!(query.contains("vnp_Amount=15000000&") && query.contains(&format!("vnp_TxnRef={txn_ref}")));
    assert_eq!(order(&env, "vnpay")["order_id"], o["order_id"], "a second tap gets the same pending order");
    let momo = order(&env, "momo");
    assert_ne!(momo["order_id"], o["order_id"]);
    let pay = momo["payment_url"].as_str().unwrap();
    assert_eq!(pay, format!("https://test-payment.momo.vn/v2/gateway/pay?t={}", momo["txn_ref"].as_str().unwrap()));
    let zalo = order(&env, "zalopay");
    assert!(zalo["payment_url"].as_str().unwrap().ends_with(zalo["txn_ref"].as_str().unwrap()), "{zalo}");

    let citizen = token(&env, &json!({}));
    let free = json!({"dossier_code": FREE, "provider": "vnpay"}).to_string();
    assert_eq!(call(&env, "POST", "/payments/orders", &[("authorization", &citizen)], &free).0, StatusCode::CONFLICT);
    let unknown = json!({"dossier_code": "000.00.19.H57-241105-0099", "provider": "vnpay"}).to_string();
    assert_eq!(
        call(&env, "POST", "/payments/orders", &[("authorization", &citizen)], &unknown).0,
        StatusCode::NOT_FOUND
    );
    let set_amount = json!({"dossier_code": CODE, "provider": "vnpay", "amount_vnd": 1}).to_string();
    let (status, problem) = call(&env, "POST", "/payments/orders", &[("authorization", &citizen)], &set_amount);
    assert_eq!(
        (status, problem["errors"][0]["field"].clone()),
        (StatusCode::UNPROCESSABLE_ENTITY, json!("amount_vnd"))
    );
}

#[test]
fn a_wallet_refusing_the_order_gives_502_and_a_failed_order() {
    let env = env();
    // The stand-in wallets refuse 999 đ.
    block_on(env.execute("permits", "UPDATE dossiers SET fee_vnd = 999 WHERE code = ?1", &[CODE.into()])).unwrap();
    let citizen = token(&env, &json!({}));
    for provider in ["momo", "zalopay"] {
        let body = json!({"dossier_code": CODE, "provider": provider}).to_string();
        let (status, problem) = call(&env, "POST", "/payments/orders", &[("authorization", &citizen)], &body);
        assert_eq!(status, StatusCode::BAD_GATEWAY, "{problem}");
    }
    assert_eq!(count(&env, "SELECT count(*) AS n FROM orders WHERE state = 'failed' AND payment_url IS NULL"), 2);
    let unreachable = env.with_config("momo_endpoint", "http://127.0.0.1:9");
    let body = json!({"dossier_code": CODE, "provider": "momo"}).to_string();
    assert_eq!(
        call(&unreachable, "POST", "/payments/orders", &[("authorization", &citizen)], &body).0,
        StatusCode::BAD_GATEWAY
    );
}

#[test]
fn vnpay_ipn_answers_each_documented_code_and_settles_once() {
    let env = env();
    let o = order(&env, "vnpay");
    let r = o["txn_ref"].as_str().unwrap();
    assert_eq!(vnpay_ipn(&env, r, 15_000_000, "00", "14226112", "WRONG-SECRET"), "97");
    assert_eq!(vnpay_ipn(&env, "241122_000000000000", 15_000_000, "00", "14226112", VNPAY_SECRET), "01");
    assert_eq!(vnpay_ipn(&env, r, 15_000_100, "00", "14226112", VNPAY_SECRET), "04");
    assert_eq!(fee_paid(&env), json!(false), "nothing settled yet");
    assert_eq!(vnpay_ipn(&env, r, 15_000_000, "00", "14226112", VNPAY_SECRET), "00");
    assert_eq!(fee_paid(&env), json!(true), "permit-status sees the fee paid");
    for _ in 0..3 {
        assert_eq!(vnpay_ipn(&env, r, 15_000_000, "00", "14226112", VNPAY_SECRET), "02");
    }
    assert_eq!(vnpay_ipn(&env, r, 15_000_000, "24", "14226112", VNPAY_SECRET), "02", "a late failure changes nothing");
    assert_eq!(count(&env, "SELECT count(*) AS n FROM callbacks"), 8, "every callback is stored");
    assert_eq!(count(&env, "SELECT count(*) AS n FROM callbacks WHERE outcome = 'settled'"), 1);
    assert_eq!(count(&env, "SELECT count(*) AS n FROM callbacks WHERE outcome IS NULL"), 0);
    // a fully paid fee takes no new order
    let citizen = token(&env, &json!({}));
    let body = json!({"dossier_code": CODE, "provider": "momo"}).to_string();
    assert_eq!(call(&env, "POST", "/payments/orders", &[("authorization", &citizen)], &body).0, StatusCode::CONFLICT);
}

#[test]
fn a_failure_is_recorded_and_a_later_success_still_settles_even_when_expired() {
    let env = env();
    let o = order(&env, "vnpay");
    let m = order(&env, "momo");
    let r = o["txn_ref"].as_str().unwrap();
    assert_eq!(vnpay_ipn(&env, r, 15_000_000, "24", "1", VNPAY_SECRET), "00");
    let admin = token(&env, &json!({"roles": ["admin"]}));
    let path = format!("/payments/orders/{}", o["order_id"].as_str().unwrap());
    assert_eq!(call(&env, "GET", &path, &[("authorization", &admin)], "").1["state"], "failed");
    env.set_now(env.now() + Duration::hours(2));
    assert_eq!(vnpay_ipn(&env, r, 15_000_000, "00", "2", VNPAY_SECRET), "00", "late, after a failure: settles");
    let admin = token(&env, &json!({"roles": ["admin"]}));
    let (_, v) = call(&env, "GET", &path, &[("authorization", &admin)], "");
    assert_eq!((v["state"].clone(), v["provider_txn_id"].clone()), (json!("paid"), json!("2")));
    let outcomes: Vec<&str> =
        v["callbacks"].as_array().unwrap().iter().map(|c| c["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["failure_recorded", "settled"]);
    // a pending order past its expiry shows as expired (to its owner only)
    let mine = token(&env, &json!({}));
    let mpath = format!("/payments/orders/{}", m["order_id"].as_str().unwrap());
    let (status, seen) = call(&env, "GET", &mpath, &[("authorization", &mine)], "");
    assert_eq!((status, seen["state"].clone()), (StatusCode::OK, json!("expired")));
    assert!(seen.get("callbacks").is_none(), "the audit is for admins");
    let theirs = token(&env, &json!({"sub": "citizen-2"}));
    assert_eq!(call(&env, "GET", &mpath, &[("authorization", &theirs)], "").0, StatusCode::NOT_FOUND);
}

fn momo_ipn(env: &NativePlatform, order_id: &str, amount: i64, result: i64, trans_id: i64, secret: &str) -> StatusCode {
    let mut body = json!({"partnerCode": "MOMOTEST", "orderId": order_id, "requestId": order_id, "amount": amount,
        "orderInfo": "Le phi ho so", "orderType": "momo_wallet", "transId": trans_id, "resultCode": result,
        "message": "Thành công.", "payType": "qr", "responseTime": 1_732_240_800_000i64, "extraData": ""});
    let raw = format!(
        "accessKey=momo-access&amount={amount}&extraData=&message=Thành công.&orderId={order_id}&orderInfo=Le phi ho so\
         &orderType=momo_wallet&partnerCode=MOMOTEST&payType=qr&requestId={order_id}&responseTime=1732240800000\
         &resultCode={result}&transId={trans_id}"
    );
    body["signature"] = json!(civic::auth::hmac_sha256_hex(secret.as_bytes(), raw.as_bytes()));
    let (status, _) =
        call(env, "POST", "/payments/momo/ipn", &[("content-type", "application/json")], &body.to_string());
    status
}

#[test]
fn momo_ipn_settles_once_and_answers_204() {
    let env = env();
    let o = order(&env, "momo");
    let r = o["txn_ref"].as_str().unwrap();
    assert_eq!(momo_ipn(&env, r, 150_000, 0, 4_088_878_653, "wrong"), StatusCode::UNAUTHORIZED);
    assert_eq!(fee_paid(&env), json!(false));
    assert_eq!(momo_ipn(&env, r, 150_000, 0, 4_088_878_653, "momo-secret"), StatusCode::NO_CONTENT);
    assert_eq!(momo_ipn(&env, r, 150_000, 0, 4_088_878_653, "momo-secret"), StatusCode::NO_CONTENT);
    assert_eq!(fee_paid(&env), json!(true));
    assert_eq!(count(&env, "SELECT count(*) AS n FROM callbacks WHERE provider = 'momo'"), 3);
    let outcomes = count(
        &env,
        "SELECT count(*) AS n FROM callbacks WHERE outcome IN ('bad_signature', 'settled', 'already_settled')",
    );
    assert_eq!(outcomes, 3);
    let (status, _) = call(&env, "POST", "/payments/momo/ipn", &[], "not json");
    assert_eq!(status, StatusCode::UNAUTHORIZED, "unreadable: stored, then refused");
    assert_eq!(count(&env, "SELECT count(*) AS n FROM callbacks WHERE params = 'not json'"), 1);
}

fn zalopay(env: &NativePlatform, txn_ref: &str, amount: i64, key2: &str) -> Value {
    let data = format!(
        r#"{{"app_id":2553,"app_trans_id":"{txn_ref}","app_time":1732240800000,"app_user":"citizen-1","amount":{amount},"embed_data":"{{}}","item":"[]","zp_trans_id":241122000000123,"server_time":1732240860000,"channel":38,"merchant_user_id":"u","user_fee_amount":0,"discount_amount":0}}"#
    );
    let mac = civic::auth::hmac_sha256_hex(key2.as_bytes(), data.as_bytes());
    let body = json!({"data": data, "mac": mac, "type": 1}).to_string();
    call(env, "POST", "/payments/zalopay/callback", &[], &body).1
}

#[test]
fn zalopay_callback_answers_1_then_2_and_refuses_a_bad_mac() {
    let env = env();
    let o = order(&env, "zalopay");
    let r = o["txn_ref"].as_str().unwrap();
    assert_eq!(zalopay(&env, r, 150_000, "zalo-key1")["return_code"], -1);
    assert_eq!(zalopay(&env, r, 149_999, "zalo-key2")["return_code"], 0);
    assert_eq!(zalopay(&env, "241122_FFFFFFFFFFFF", 150_000, "zalo-key2")["return_code"], 0);
    assert_eq!(zalopay(&env, r, 150_000, "zalo-key2"), json!({"return_code": 1, "return_message": "success"}));
    assert_eq!(zalopay(&env, r, 150_000, "zalo-key2")["return_code"], 2);
    assert_eq!(fee_paid(&env), json!(true));
}

#[test]
fn reconciliation_counts_the_vietnam_day_per_provider() {
    let env = env();
    let v = order(&env, "vnpay");
    assert_eq!(vnpay_ipn(&env, v["txn_ref"].as_str().unwrap(), 15_000_000, "00", "77", VNPAY_SECRET), "00");
    let admin = token(&env, &json!({"roles": ["admin"]}));
    let (status, r) = call(&env, "GET", "/payments/reconciliation?date=2024-11-22", &[("authorization", &admin)], "");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(r["providers"], json!([{"provider": "vnpay", "count": 1, "total_vnd": 150_000}]));
    assert_eq!(r["orders"][0]["provider_txn_id"], "77");
    let (_, other_day) =
        call(&env, "GET", "/payments/reconciliation?date=2024-11-21", &[("authorization", &admin)], "");
    assert_eq!(other_day["orders"], json!([]));
    let req = Request::get("/payments/reconciliation?date=2024-11-22")
        .header("authorization", &admin)
        .header("accept", "text/csv")
        .body(Bytes::new())
        .unwrap();
    let resp = block_on(payment_callback::handle(req, &env));
    assert_eq!(resp.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = String::from_utf8(resp.body().to_vec()).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "kind,provider,order_id,txn_ref,provider_txn_id,dossier_code,amount_vnd,paid_at,count");
    assert!(lines[1].starts_with("order,vnpay,ord_") && lines[1].contains(",77,000.00.19.H57-241105-0012,150000,"));
    assert_eq!(lines[2], "total,vnpay,,,,,150000,,1");
    let citizen = token(&env, &json!({}));
    let forbidden = call(&env, "GET", "/payments/reconciliation?date=2024-11-22", &[("authorization", &citizen)], "");
    assert_eq!(forbidden.0, StatusCode::FORBIDDEN);
    assert_eq!(
        call(&env, "GET", "/payments/reconciliation?date=22/11/2024", &[("authorization", &admin)], "").0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

/// `POST /payments/orders` for `sub`: status, `Retry-After`, body.
fn order_as(env: &NativePlatform, sub: &str, provider: &str) -> (StatusCode, String, Value) {
    let body = json!({"dossier_code": CODE, "provider": provider}).to_string();
    let req = Request::post("/payments/orders")
        .header("authorization", token(env, &json!({"sub": sub})))
        .header("content-type", "application/json")
        .body(Bytes::from(body))
        .unwrap();
    let resp = block_on(payment_callback::handle(req, env));
    let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (resp.status(), retry, serde_json::from_slice(resp.body()).unwrap_or(Value::Null))
}

#[test]
fn order_creation_is_limited_per_citizen_before_any_wallet_hears_of_it() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A MoMo that counts the orders it is asked to create, and refuses them all.
    let asked = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&asked);
    let momo = civic::testing::serve_json(move |_, _| {
        counter.fetch_add(1, Ordering::SeqCst);
        json!({"resultCode": 1001, "message": "refused"})
    })
    .unwrap();
    let env = env()
        .with_allowed_host(&momo)
        .with_config("momo_endpoint", &format!("http://{momo}"))
        .with_config("rate_limit_order_creation", "3/1h");
    for _ in 0..3 {
        assert_eq!(order_as(&env, "citizen-1", "momo").0, StatusCode::BAD_GATEWAY, "a new (failed) order each time");
    }
    assert_eq!(asked.load(Ordering::SeqCst), 3);
    let (status, retry, problem) = order_as(&env, "citizen-1", "momo");
    assert_eq!((status, retry.as_str()), (StatusCode::TOO_MANY_REQUESTS, "3600"), "{problem}");
    assert_eq!(problem["status"], 429);
    assert_eq!(order_as(&env, "citizen-1", "vnpay").0, StatusCode::TOO_MANY_REQUESTS, "whatever the provider");
    assert_eq!(asked.load(Ordering::SeqCst), 3, "no wallet heard of a refused order");
    assert_eq!(count(&env, "SELECT count(*) AS n FROM orders"), 3, "and none was stored");

    // Another citizen is served; answering their pending order again is not counted.
    let (status, _, mine) = order_as(&env, "citizen-2", "vnpay");
    assert_eq!(status, StatusCode::CREATED);
    for _ in 0..5 {
        let (status, _, again) = order_as(&env, "citizen-2", "vnpay");
        assert_eq!((status, &again["order_id"]), (StatusCode::OK, &mine["order_id"]));
    }
    assert_eq!(order_as(&env, "citizen-2", "zalopay").0, StatusCode::CREATED);

    // Twenty minutes on the window still holds; an hour after the first order it is over.
    env.set_now(env.now() + Duration::minutes(20));
    assert_eq!(order_as(&env, "citizen-1", "momo").1, "2400");
    // The partner's callbacks are never limited: citizen-2's order settles (late, expired).
    assert_eq!(vnpay_ipn(&env, mine["txn_ref"].as_str().unwrap(), 15_000_000, "00", "88", VNPAY_SECRET), "00");
    env.set_now(env.now() + Duration::minutes(40));
    block_on(env.execute("payments", "DELETE FROM orders WHERE state = 'paid'", &[])).unwrap();
    assert_eq!(order_as(&env, "citizen-1", "vnpay").0, StatusCode::CREATED);
}

#[test]
fn raw_callbacks_are_blanked_after_their_period_and_reconciliation_answers_the_same() {
    let env = env();
    let admin = |env: &NativePlatform| token(env, &json!({"roles": ["admin"]}));
    let o = order(&env, "vnpay");
    let r = o["txn_ref"].as_str().unwrap();
    assert_eq!(vnpay_ipn(&env, r, 15_000_000, "00", "77", "WRONG-SECRET"), "97");
    assert_eq!(vnpay_ipn(&env, r, 15_000_000, "00", "77", VNPAY_SECRET), "00");
    assert_eq!(vnpay_ipn(&env, r, 15_000_000, "00", "77", VNPAY_SECRET), "02");
    let report = |env: &NativePlatform| {
        let json = call(env, "GET", "/payments/reconciliation?date=2024-11-22", &[("authorization", &admin(env))], "");
        let req = Request::get("/payments/reconciliation?date=2024-11-22")
            .header("authorization", admin(env))
            .header("accept", "text/csv")
            .body(Bytes::new())
            .unwrap();
        let csv = block_on(payment_callback::handle(req, env)).into_body();
        let path = format!("/payments/orders/{}", o["order_id"].as_str().unwrap());
        let (_, view) = call(env, "GET", &path, &[("authorization", &admin(env))], "");
        (json, csv, view)
    };
    let before = report(&env);
    assert_eq!(before.0.1["providers"], json!([{"provider": "vnpay", "count": 1, "total_vnd": 150_000}]));
    assert_eq!(before.2["callbacks"].as_array().unwrap().len(), 3);
    let (status, kept) = call(&env, "GET", "/payments/retention", &[("authorization", &admin(&env))], "");
    assert_eq!(status, StatusCode::OK, "{kept}");
    assert_eq!(kept["kinds"][1]["kind"], "callbacks_raw");
    assert_eq!(kept["kinds"][1]["period_seconds"], 180 * 86_400);
    assert_eq!(kept["kinds"][1]["oldest"], "2024-11-22T09:00:00+07:00");

    // 100 days on, a callback for another order: within its period at the end.
    env.set_now(env.now() + Duration::days(100));
    assert_eq!(vnpay_ipn(&env, "241122_000000000000", 15_000_000, "00", "99", VNPAY_SECRET), "01");
    // 181 days after the first ones: the tick blanks them, and only them.
    env.set_now(env.now() + Duration::days(81));
    let system = token(&env, &json!({"roles": ["system"]}));
    let (status, t) = call(&env, "POST", "/payments/tick", &[("authorization", &system)], "");
    assert_eq!((status, t["callbacks_raw_purged"].clone()), (StatusCode::OK, json!(3)), "{t}");
    assert_eq!(count(&env, "SELECT count(*) AS n FROM callbacks WHERE params = ''"), 3);
    assert_eq!(
        count(&env, "SELECT count(*) AS n FROM callbacks WHERE params LIKE '%vnp_TxnRef=241122_000000000000%'"),
        1
    );
    assert_eq!(count(&env, "SELECT count(*) AS n FROM callbacks WHERE outcome IS NOT NULL AND txn_ref IS NOT NULL"), 4);
    let (_, t) = call(&env, "POST", "/payments/tick", &[("authorization", &system)], "");
    assert_eq!(t["callbacks_raw_purged"], 0, "nothing twice");
    let (_, kept) = call(&env, "GET", "/payments/retention", &[("authorization", &admin(&env))], "");
    assert_eq!(
        (kept["kinds"][1]["oldest"].clone(), kept["kinds"][1]["past_period"].clone()),
        (json!("2025-03-02T09:00:00+07:00"), json!(false))
    );

    // Reconciliation, the admin's view of the order and the fee paid answer as before; a
    // repeated callback is answered from the order, as before.
    assert_eq!(report(&env), before);
    assert_eq!(fee_paid(&env), json!(true));
    assert_eq!(vnpay_ipn(&env, r, 15_000_000, "00", "77", VNPAY_SECRET), "02");
}

#[test]
fn the_retention_route_is_for_admins() {
    let env = env();
    assert_eq!(call(&env, "GET", "/payments/retention", &[], "").0, StatusCode::UNAUTHORIZED);
    let citizen = token(&env, &json!({}));
    assert_eq!(call(&env, "GET", "/payments/retention", &[("authorization", &citizen)], "").0, StatusCode::FORBIDDEN);
    let admin = token(&env, &json!({"roles": ["admin"]}));
    let (status, kept) = call(&env, "GET", "/payments/retention", &[("authorization", &admin)], "");
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = kept["kinds"].as_array().unwrap().iter().map(|k| k["kind"].as_str().unwrap()).collect();
    assert_eq!(names, ["notifications", "callbacks_raw"]);
    assert_eq!(kept["kinds"][1]["oldest"], Value::Null);
}
