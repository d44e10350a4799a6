//! Known answers from the partners' public documentation and sample code
//! (`tests/data/partner-vectors.json`, with the source of each).

#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

use bytes::Bytes;
use civic::Platform;
use civic::platform::native::{NativePlatform, block_on};
use http::Request;
use payment_callback::{vnpay, wallet, zalopay};
use serde_json::Value;

fn vectors() -> Value {
    serde_json::from_str(include_str!("data/partner-vectors.json")).unwrap()
}

fn pairs(params: &Value) -> Vec<(String, String)> {
    params.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())).collect()
}

#[test]
fn vnpay_vectors_verify_and_any_change_breaks_them() {
    let all = vectors();
    let list = all["vnpay"]["vectors"].as_array().unwrap();
    assert!(list.len() >= 2);
    for v in list {
        let key = v["key"].as_str().unwrap();
        let mut params = pairs(&v["params"]);
        let expected = v["vnp_SecureHash"].as_str().unwrap();
        assert_eq!(vnpay::secure_hash(key, &params), expected, "{}", v["id"]);
        params.push(("vnp_SecureHash".into(), expected.to_owned()));
        assert!(vnpay::verify(key, &params), "{}", v["id"]);
        params[0].1.push('0');
        assert!(!vnpay::verify(key, &params), "{}: tampered", v["id"]);
    }
}

#[test]
fn vnpay_docs_url_round_trips_through_our_encoding() {
    let url = vectors()["vnpay"]["docs_example_url"]["url"].as_str().unwrap().to_owned();
    let query = url.split_once('?').unwrap().1;
    let (data, _) = query.rsplit_once("&vnp_SecureHash=").unwrap();
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    assert_eq!(vnpay::hash_data(&params), data);
}

#[test]
fn zalopay_docs_callback_verifies_and_settles() {
    let all = vectors();
    let v = &all["zalopay"]["vectors"][0];
    let body = v["callback_body"].as_str().unwrap();
    let key2 = v["key2"].as_str().unwrap();
    let outer: Value = serde_json::from_str(body).unwrap();
    let data = outer["data"].as_str().unwrap();
    assert_eq!(civic::auth::hmac_sha256_hex(key2.as_bytes(), data.as_bytes()), v["mac"].as_str().unwrap());
    assert!(zalopay::verify(key2, data, v["mac"].as_str().unwrap()));

    // The published callback settles an order with its app_trans_id and amount.
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let env = NativePlatform::in_memory_migrated(&["payments", "permits"], &migrations)
        .unwrap()
        .with_config("zalopay_app_id", "2553")
        .with_config("zalopay_key2", key2);
    block_on(env.execute(
        "payments",
        "INSERT INTO orders (order_id, txn_ref, dossier_code, owner, provider, amount_vnd, state, created_at, expires_at)
         VALUES ('ord_docs', '200904_2553_1598435687208', '000.00.19.H57-200904-0001', 'demo', 'zalopay', 10000,
                 'pending', '2020-09-04T03:16:00Z', '2020-09-04T03:31:00Z')",
        &[],
    ))
    .unwrap();
    let post = || {
        let req = Request::post("/payments/zalopay/callback").body(Bytes::from(body.to_owned())).unwrap();
        let resp = block_on(payment_callback::handle(req, &env));
        serde_json::from_slice::<Value>(resp.body()).unwrap()["return_code"].clone()
    };
    assert_eq!(post(), 1);
    assert_eq!(post(), 2);
    let rows = block_on(env.query("payments", "SELECT state, provider_txn_id FROM orders", &[])).unwrap();
    let row = rows.first().unwrap();
    assert_eq!((row.str("state").unwrap(), row.opt_str("provider_txn_id").unwrap()), ("paid", Some("200904000000389")));
}

#[test]
fn zalopay_docs_create_mac() {
    let all = vectors();
    let v = &all["zalopay"]["create_vectors"][0];
    let f = &v["fields"];
    let field = |k: &str| f[k].as_str().unwrap();
    let fields = ["app_id", "app_trans_id", "app_user", "amount", "app_time", "embed_data", "item"].map(field);
    assert_eq!(wallet::zalopay_mac(v["key1"].as_str().unwrap(), fields), v["mac"].as_str().unwrap());
}
