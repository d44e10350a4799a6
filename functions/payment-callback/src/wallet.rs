//! The wallets' create-order calls, made by `POST /payments/orders` ([`crate::order`]) for
//! MoMo and ZaloPay. These wallets take a payment only for an order the merchant created
//! with them first, server to server, signed their way; their answer holds the URL the app
//! sends the citizen to. (VNPay needs no call: its URL is signed locally,
//! [`crate::vnpay::payment_url`].)
//!
//! - MoMo (API v2): `POST {momo_endpoint}/v2/gateway/api/create`, JSON, `requestType`
//!   `captureWallet`, `signature` = hex HMAC-SHA256(`momo_secret_key`, `accessKey=..&amount=..&
//!   extraData=..&ipnUrl=..&orderId=..&orderInfo=..&partnerCode=..&redirectUrl=..&requestId=..&
//!   requestType=..`); `resultCode` 0 gives `payUrl`.
//! - ZaloPay (v2): `POST {zalopay_endpoint}/v2/create`, form-encoded, `mac` = hex
//!   HMAC-SHA256(`zalopay_key1`, `app_id|app_trans_id|app_user|amount|app_time|embed_data|item`);
//!   `return_code` 1 gives `order_url`.
//!
//! The callbacks come back to `{public_base_url}/payments/momo/ipn` and
//! `{public_base_url}/payments/zalopay/callback`; the citizen returns to `payment_return_url`.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use civic::{Error, Platform};
use serde_json::{Value, json};

fn setting(env: &impl Platform, key: &'static str) -> Result<String, Error> {
    env.config(key).ok_or(Error::Config(key))
}

/// What a create call needs to know of the order.
pub struct NewOrder<'a> {
    pub txn_ref: &'a str,
    pub amount_vnd: i64,
    /// ASCII, no diacritics.
    pub info: &'a str,
    /// The citizen (JWT `sub`).
    pub owner: &'a str,
    pub now: DateTime<Utc>,
}

async fn post(env: &impl Platform, url: &str, content_type: &str, body: String) -> Result<Value, Error> {
    let req = http::Request::post(url)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(Bytes::from(body))
        .map_err(|e| Error::Internal(format!("request to {url}: {e}")))?;
    let resp = env.fetch(req).await.map_err(|e| Error::Upstream(format!("{url}: {e}")))?;
    serde_json::from_slice(resp.body())
        .map_err(|e| Error::Upstream(format!("{url}: {} and not JSON: {e}", resp.status())))
}

/// The body of MoMo's create call.
pub fn momo_request(
    partner_code: &str,
    access_key: &str,
    secret_key: &str,
    o: &NewOrder<'_>,
    ipn_url: &str,
    redirect_url: &str,
) -> Value {
    let raw = format!(
        "accessKey={access_key}&amount={}&extraData=&ipnUrl={ipn_url}&orderId={}&orderInfo={}&partnerCode={partner_code}\
         &redirectUrl={redirect_url}&requestId={}&requestType=captureWallet",
        o.amount_vnd, o.txn_ref, o.info, o.txn_ref
    );
    json!({"partnerCode": partner_code, "requestType": "captureWallet", "ipnUrl": ipn_url,
        "redirectUrl": redirect_url, "orderId": o.txn_ref, "amount": o.amount_vnd, "lang": "vi",
        "orderInfo": o.info, "requestId": o.txn_ref, "extraData": "",
        "signature": civic::auth::hmac_sha256_hex(secret_key.as_bytes(), raw.as_bytes())})
}

/// MoMo's `payUrl` for the order.
pub async fn momo(env: &impl Platform, o: &NewOrder<'_>) -> Result<String, Error> {
    let base = civic::web::public_base_url(env)?;
    let body = momo_request(
        &setting(env, "momo_partner_code")?,
        &setting(env, "momo_access_key")?,
        &setting(env, "momo_secret_key")?,
        o,
        &format!("{base}/payments/momo/ipn"),
        &setting(env, "payment_return_url")?,
    );
    let url = format!("{}/v2/gateway/api/create", setting(env, "momo_endpoint")?.trim_end_matches('/'));
    let answer = post(env, &url, "application/json", body.to_string()).await?;
    match (answer["resultCode"].as_i64(), answer["payUrl"].as_str()) {
        (Some(0), Some(pay_url)) => Ok(pay_url.to_owned()),
        _ => Err(Error::Upstream(format!("momo create: resultCode {} {}", answer["resultCode"], answer["message"]))),
    }
}

/// The most characters of ZaloPay's `app_user` (its v2 create API): the citizen's JWT `sub`
/// goes there only as a label for ZaloPay's merchant portal, so a longer one is cut to this,
/// and the full `sub` stays the order's owner in our ledger.
pub const ZALOPAY_APP_USER_MAX: usize = 50;

/// The form fields of ZaloPay's create call, `mac` last.
pub fn zalopay_request(
    app_id: &str,
    key1: &str,
    o: &NewOrder<'_>,
    callback_url: &str,
    redirect_url: &str,
) -> Vec<(String, String)> {
    let app_user: String = o.owner.chars().take(ZALOPAY_APP_USER_MAX).collect();
    let app_time = o.now.timestamp_millis().to_string();
    let embed_data = json!({"redirecturl": redirect_url}).to_string();
    let item = "[]";
    let amount = o.amount_vnd.to_string();
    let mac = zalopay_mac(key1, [app_id, o.txn_ref, &app_user, &amount, &app_time, &embed_data, item]);
    [
        ("app_id", app_id.to_owned()),
        ("app_user", app_user),
        ("app_trans_id", o.txn_ref.to_owned()),
        ("app_time", app_time),
        ("amount", o.amount_vnd.to_string()),
        ("item", item.to_owned()),
        ("embed_data", embed_data),
        ("description", o.info.to_owned()),
        ("bank_code", String::new()),
        ("callback_url", callback_url.to_owned()),
        ("mac", mac),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// The create call's `mac`: key1 over `app_id|app_trans_id|app_user|amount|app_time|embed_data|item`.
pub fn zalopay_mac(key1: &str, fields: [&str; 7]) -> String {
    civic::auth::hmac_sha256_hex(key1.as_bytes(), fields.join("|").as_bytes())
}

/// ZaloPay's `order_url` for the order.
pub async fn zalopay(env: &impl Platform, o: &NewOrder<'_>) -> Result<String, Error> {
    let base = civic::web::public_base_url(env)?;
    let fields = zalopay_request(
        &setting(env, "zalopay_app_id")?,
        &setting(env, "zalopay_key1")?,
        o,
        &format!("{base}/payments/zalopay/callback"),
        &setting(env, "payment_return_url")?,
    );
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(&fields).finish();
    let url = format!("{}/v2/create", setting(env, "zalopay_endpoint")?.trim_end_matches('/'));
    let answer = post(env, &url, "application/x-www-form-urlencoded", body).await?;
    match (answer["return_code"].as_i64(), answer["order_url"].as_str()) {
        (Some(1), Some(order_url)) => Ok(order_url.to_owned()),
        _ => Err(Error::Upstream(format!(
            "zalopay create: return_code {} {} {}",
            answer["return_code"], answer["sub_return_code"], answer["return_message"]
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order() -> NewOrder<'static> {
        NewOrder {
            txn_ref: "241122_0A1B2C3D4E5F",
            amount_vnd: 150_000,
            info: "Thanh toan le phi ho so 000.00.19.H57-241105-0012",
            owner: "cccd:048090001234",
            now: "2024-11-22T02:00:00Z".parse().unwrap(),
        }
    }

    #[test]
    fn momo_create_is_signed_over_the_documented_string() {
        let body = momo_request(
            "MOMO",
            "F8BBA842ECF85",
            "K951B6PE1waDMi640xX08PD3vg6EkVlz",
            &order(),
            "https://a.vn/ipn",
            "https://a.vn/back",
        );
        let raw = "accessKey=F8BBA842ECF85&amount=150000&extraData=&ipnUrl=https://a.vn/ipn&orderId=241122_0A1B2C3D4E5F\
                   &orderInfo=Thanh toan le phi ho so 000.00.19.H57-241105-0012&partnerCode=MOMO\
                   &redirectUrl=https://a.vn/back&requestId=241122_0A1B2C3D4E5F&requestType=captureWallet";
        assert_eq!(
            body["signature"],
            civic::auth::hmac_sha256_hex(b"K951B6PE1waDMi640xX08PD3vg6EkVlz", raw.as_bytes())
        );
        assert_eq!((body["amount"].clone(), body["requestType"].clone()), (json!(150_000), json!("captureWallet")));
    }

    #[test]
    fn zalopay_create_mac_is_key1_over_the_pipe_string() {
        let fields = zalopay_request(
            "2553",
            "PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL",
            &order(),
            "https://a.vn/cb",
            "https://a.vn/back",
        );
        let get = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone()).unwrap();
        let input = "2553|241122_0A1B2C3D4E5F|cccd:048090001234|150000|1732240800000|{\"redirecturl\":\"https://a.vn/back\"}|[]";
        assert_eq!(get("mac"), civic::auth::hmac_sha256_hex(b"PcY4iZIKFCIdgZvA6ueMcMHHUbRLYjPL", input.as_bytes()));
        assert_eq!(get("app_time"), "1732240800000");
    }
}
