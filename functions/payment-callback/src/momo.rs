//! MoMo (API v2) IPN: `POST /payments/momo/ipn`, a JSON body.
//!
//! Signature: `signature` = hex HMAC-SHA256(`momo_secret_key`, `accessKey=..&amount=..&
//! extraData=..&message=..&orderId=..&orderInfo=..&orderType=..&partnerCode=..&payType=..&
//! requestId=..&responseTime=..&resultCode=..&transId=..`), keys in this order, raw values
//! (numbers as sent), `accessKey` being ours (`momo_access_key`). `resultCode` 0 is a
//! successful payment. Every callback is stored first; a validly signed one is answered
//! `204` with no body whatever it did (MoMo's retries cannot change it), a bad signature
//! `401`, and a failure to store it `503` with `Retry-After`, so that MoMo sends it again.

use std::collections::HashMap;

use bytes::Bytes;
use civic::{Error, Platform};
use http::{Request, Response, StatusCode};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::ledger::{self, Callback, Outcome, Provider};

/// The fields of the signed string after `accessKey`, in order.
const SIGNED: [&str; 12] = [
    "amount",
    "extraData",
    "message",
    "orderId",
    "orderInfo",
    "orderType",
    "partnerCode",
    "payType",
    "requestId",
    "responseTime",
    "resultCode",
    "transId",
];

/// A field's value in a body already parsed: a string as it is, a number or boolean as
/// serde_json writes it, absent or null as empty. For building a body to sign, whose text is
/// that same Value written out.
fn raw(body: &Value, key: &str) -> String {
    match body.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// A field's value as it was sent: a string unescaped, a number or boolean in its very text
/// (`1.0` stays `1.0`, and a number past f64's precision is not rounded), absent, null or
/// anything else as empty. MoMo signs the text it sent.
fn sent(field: Option<&RawValue>) -> String {
    let Some(text) = field.map(RawValue::get) else {
        return String::new();
    };
    match text.as_bytes().first() {
        Some(b'"') => serde_json::from_str::<String>(text).unwrap_or_default(),
        Some(b'-' | b'0'..=b'9' | b't' | b'f') => text.to_owned(),
        _ => String::new(),
    }
}

/// `accessKey=<access_key>` and then each of [`SIGNED`] as `&key=value`, the values from
/// `value`.
fn signed_with(access_key: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = format!("accessKey={access_key}");
    for key in SIGNED {
        out.push('&');
        out.push_str(key);
        out.push('=');
        out.push_str(&value(key));
    }
    out
}

/// The string MoMo signs for an IPN, of a body built as a Value (tests, the load tool, the
/// fuzz harness).
pub fn signed_string(access_key: &str, body: &Value) -> String {
    signed_with(access_key, |key| raw(body, key))
}

/// Whether the IPN body `text` (a JSON object) carries a valid `signature` (hex, either case)
/// over its fields as sent.
pub fn verify(access_key: &str, secret_key: &str, text: &str) -> bool {
    let Ok(fields) = serde_json::from_str::<HashMap<String, &RawValue>>(text) else {
        return false;
    };
    let given = sent(fields.get("signature").copied()).to_ascii_lowercase();
    let signed = signed_with(access_key, |key| sent(fields.get(key).copied()));
    civic::auth::verify_hmac_sha256_hex(secret_key.as_bytes(), signed.as_bytes(), &given)
}

/// POST /payments/momo/ipn
pub async fn ipn(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::web::check_size(req, crate::CALLBACK_MAX_BODY)?;
    let access = env.config("momo_access_key").ok_or(Error::Config("momo_access_key"))?;
    let secret = env.config("momo_secret_key").ok_or(Error::Config("momo_secret_key"))?;
    let text = String::from_utf8_lossy(req.body()).into_owned();
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let valid = body.is_object() && verify(&access, &secret, &text);
    let amount_vnd = body.get("amount").map(|a| a.as_i64().unwrap_or(-1));
    let cb = Callback {
        provider: Provider::Momo,
        signature_valid: valid,
        txn_ref: body.get("orderId").and_then(Value::as_str).map(str::to_owned),
        provider_txn_id: Some(raw(&body, "transId")).filter(|t| !t.is_empty()),
        amount_vnd,
        success: body.get("resultCode").and_then(Value::as_i64) == Some(0),
        raw: text,
    };
    match ledger::process(env, &cb).await? {
        Outcome::BadSignature => Err(Error::BadSignature),
        outcome => {
            let mut resp = Response::new(Bytes::new());
            *resp.status_mut() = StatusCode::NO_CONTENT;
            ledger::answered(outcome, Ok(resp))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signed_string_has_the_documented_order_and_raw_values() {
        let body = json!({"partnerCode": "MOMO", "orderId": "241122_AB", "requestId": "r1", "amount": 150000,
            "orderInfo": "Le phi ho so", "orderType": "momo_wallet", "transId": 4088878653u64, "resultCode": 0,
            "message": "Thành công.", "payType": "qr", "responseTime": 1721720663942u64, "extraData": "",
            "signature": "x"});
        assert_eq!(
            signed_string("F8BBA842ECF85", &body),
            "accessKey=F8BBA842ECF85&amount=150000&extraData=&message=Thành công.&orderId=241122_AB\
             &orderInfo=Le phi ho so&orderType=momo_wallet&partnerCode=MOMO&payType=qr&requestId=r1\
             &responseTime=1721720663942&resultCode=0&transId=4088878653"
        );
    }

    #[test]
    fn verify_checks_every_signed_field() {
        let mut body = json!({"partnerCode": "MOMO", "orderId": "o", "requestId": "r", "amount": 1000,
            "orderInfo": "i", "orderType": "momo_wallet", "transId": 1, "resultCode": 0, "message": "m",
            "payType": "qr", "responseTime": 2, "extraData": ""});
        let sig = civic::auth::hmac_sha256_hex(b"secret", signed_string("access", &body).as_bytes());
        body["signature"] = json!(sig);
        assert!(verify("access", "secret", &body.to_string()));
        assert!(!verify("other", "secret", &body.to_string()), "the access key is signed");
        for key in SIGNED {
            let mut tampered = body.clone();
            tampered[key] = json!("9");
            assert!(!verify("access", "secret", &tampered.to_string()), "{key} is signed");
        }
    }

    /// Numbers are signed as sent: `1000.0` is not `1000`, and a number past f64's precision
    /// (found by the `bodies` fuzz target) is not rounded before the check.
    #[test]
    fn numbers_are_verified_as_sent() {
        let fields = r#""partnerCode":"MOMO","orderId":"o","requestId":"r","amount":1000.0,"orderInfo":"i","orderType":"momo_wallet","transId":408887777777777777777777777777777777777777777777777777777777777777777777777777777777777753,"resultCode":0,"message":"m\u00e0","payType":"qr","responseTime":2,"extraData":"""#;
        let signed = "accessKey=access&amount=1000.0&extraData=&message=mà&orderId=o&orderInfo=i&orderType=momo_wallet\
            &partnerCode=MOMO&payType=qr&requestId=r&responseTime=2&resultCode=0\
            &transId=408887777777777777777777777777777777777777777777777777777777777777777777777777777777777753";
        let sig = civic::auth::hmac_sha256_hex(b"secret", signed.as_bytes());
        assert!(verify("access", "secret", &format!("{{{fields},\"signature\":\"{sig}\"}}")));
        let rounded = civic::auth::hmac_sha256_hex(b"secret", signed.replace("1000.0", "1000").as_bytes());
        assert!(!verify("access", "secret", &format!("{{{fields},\"signature\":\"{rounded}\"}}")));
    }
}
