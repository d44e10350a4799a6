//! ZaloPay callback: `POST /payments/zalopay/callback`, body `{"data": "<json string>",
//! "mac": "...", "type": 1}`.
//!
//! `mac` = hex HMAC-SHA256(`zalopay_key2`, `data`) over the `data` string exactly as received
//! (never re-serialized). ZaloPay calls back for successful payments. Answers
//! `{"return_code", "return_message"}`: `1` settled, `2` already settled, `-1` bad mac, `0`
//! anything else (unknown order, wrong amount, a storage failure), which ZaloPay retries.

use bytes::Bytes;
use civic::{Error, Platform};
use http::{Request, Response, StatusCode};
use serde_json::Value;

use crate::ledger::{self, Callback, Outcome, Provider};

fn answer(code: i64, message: &str) -> Result<Response<Bytes>, Error> {
    civic::web::json(StatusCode::OK, &serde_json::json!({"return_code": code, "return_message": message}))
}

/// Whether `mac` is the key2 MAC of the `data` string.
pub fn verify(key2: &str, data: &str, mac: &str) -> bool {
    civic::auth::verify_hmac_sha256_hex(key2.as_bytes(), data.as_bytes(), &mac.to_ascii_lowercase())
}

/// POST /payments/zalopay/callback
pub async fn callback(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    civic::web::check_size(req, crate::CALLBACK_MAX_BODY)?;
    let (Some(key2), Some(app_id)) = (env.config("zalopay_key2"), env.config("zalopay_app_id")) else {
        civic::log::error("zalopay callback: zalopay_key2 or zalopay_app_id is not set");
        return answer(0, "server misconfigured");
    };
    let text = String::from_utf8_lossy(req.body()).into_owned();
    let outer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let data = outer.get("data").and_then(Value::as_str).unwrap_or("");
    let mac = outer.get("mac").and_then(Value::as_str).unwrap_or("");
    let valid = !data.is_empty() && verify(&key2, data, mac);
    let inner: Value = serde_json::from_str(data).unwrap_or(Value::Null);
    let for_us = inner.get("app_id").map(|a| a.to_string().trim_matches('"').to_owned()) == Some(app_id);
    let cb = Callback {
        provider: Provider::Zalopay,
        signature_valid: valid,
        txn_ref: inner.get("app_trans_id").and_then(Value::as_str).filter(|_| for_us).map(str::to_owned),
        provider_txn_id: inner.get("zp_trans_id").map(|z| z.to_string().trim_matches('"').to_owned()),
        amount_vnd: inner.get("amount").map(|a| a.as_i64().unwrap_or(-1)),
        success: true,
        raw: text,
    };
    let outcome = match ledger::process(env, &cb).await {
        Ok(outcome) => outcome,
        Err(e) => {
            civic::log::error(&format!("zalopay callback: {e}"));
            return answer(0, "temporary error, retry");
        }
    };
    let reply = match outcome {
        Outcome::Settled | Outcome::FailureRecorded => answer(1, "success"),
        Outcome::AlreadySettled => answer(2, "already settled"),
        Outcome::BadSignature => answer(-1, "mac not equal"),
        Outcome::UnknownOrder => answer(0, "order not found"),
        Outcome::AmountMismatch => answer(0, "amount mismatch"),
    };
    ledger::answered(outcome, reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_is_over_the_data_string_as_received() {
        let data = r#"{"app_id":2553,"app_trans_id":"241122_AB","amount":150000,"zp_trans_id":2411220000001}"#;
        let mac = civic::auth::hmac_sha256_hex(b"key2", data.as_bytes());
        assert!(verify("key2", data, &mac));
        assert!(verify("key2", data, &mac.to_ascii_uppercase()));
        let reserialized = serde_json::to_string(&serde_json::from_str::<Value>(data).unwrap()).unwrap();
        assert_ne!(reserialized, data, "serde_json reorders keys");
        assert!(!verify("key2", &reserialized, &mac), "re-serialized data does not verify");
        assert!(!verify("key1", data, &mac));
    }
}
