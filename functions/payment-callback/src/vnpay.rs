//! VNPay 2.1.0: the payment URL a citizen is sent to, and the IPN (`GET /payments/vnpay/ipn`)
//! VNPay calls when the payment ends.
//!
//! Signature: `vnp_SecureHash` = hex HMAC-SHA512(`vnpay_hash_secret`, data), where data is
//! every non-empty `vnp_*` parameter except `vnp_SecureHash` and `vnp_SecureHashType`, sorted
//! by key, key and value form-urlencoded (space as `+`), joined as `k=v&k=v`.
//!
//! The IPN answer is `{"RspCode", "Message"}`, checked in this order: `97` invalid signature,
//! `01` order not found, `04` amount mismatch (`vnp_Amount` is VND x 100), `02` order already
//! confirmed, `00` confirmed, `99` unknown error. VNPay retries on anything but `00` and `02`.

use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use civic::{Error, Platform};
use http::{Request, Response, StatusCode};

use crate::ledger::{self, Callback, Outcome, Provider};

/// The merchant's VNPay settings.
pub struct Settings {
    pub tmn_code: String,
    pub hash_secret: String,
    pub pay_url: String,
    pub return_url: String,
}

impl Settings {
    pub fn from(env: &impl Platform) -> Result<Settings, Error> {
        let get = |k: &'static str| env.config(k).ok_or(Error::Config(k));
        Ok(Settings {
            tmn_code: get("vnpay_tmn_code")?,
            hash_secret: get("vnpay_hash_secret")?,
            pay_url: get("vnpay_pay_url")?,
            return_url: get("vnpay_return_url")?,
        })
    }
}

/// Form-urlencoding as VNPay's reference code does it: letters, digits and `-._*` kept, space
/// as `+`, every other byte `%XX` in upper case.
fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The signed data: the `vnp_*` parameters (hash fields and empty values left out), sorted by
/// key, encoded, joined.
pub fn hash_data(params: &[(String, String)]) -> String {
    let mut signed: Vec<&(String, String)> = params
        .iter()
        .filter(|(k, v)| k.starts_with("vnp_") && k != "vnp_SecureHash" && k != "vnp_SecureHashType" && !v.is_empty())
        .collect();
    signed.sort_by(|a, b| a.0.cmp(&b.0));
    signed.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&")
}

/// `vnp_SecureHash` of these parameters.
pub fn secure_hash(secret: &str, params: &[(String, String)]) -> String {
    civic::auth::hmac_sha512_hex(secret.as_bytes(), hash_data(params).as_bytes())
}

/// Whether the parameters carry a valid `vnp_SecureHash` (hex, either case). A repeated
/// parameter makes it invalid: which of the values was signed would be a guess.
pub fn verify(secret: &str, params: &[(String, String)]) -> bool {
    let mut keys: Vec<&str> = params.iter().map(|(k, _)| k.as_str()).collect();
    keys.sort_unstable();
    if keys.windows(2).any(|w| w[0] == w[1]) {
        return false;
    }
    let Some((_, given)) = params.iter().find(|(k, _)| k == "vnp_SecureHash") else {
        return false;
    };
    civic::auth::verify_hmac_sha512_hex(secret.as_bytes(), hash_data(params).as_bytes(), &given.to_ascii_lowercase())
}

/// `yyyyMMddHHmmss` in GMT+7.
pub fn vn_stamp(t: DateTime<Utc>) -> String {
    t.with_timezone(&civic::web::vietnam()).format("%Y%m%d%H%M%S").to_string()
}

/// What a payment URL is made of.
pub struct PayRequest<'a> {
    pub txn_ref: &'a str,
    pub amount_vnd: i64,
    /// ASCII, no diacritics.
    pub order_info: &'a str,
    pub created: DateTime<Utc>,
    pub expires: DateTime<Utc>,
    pub ip: &'a str,
    /// `vn` or `en`.
    pub locale: &'a str,
}

/// The VNPay 2.1.0 payment URL for an order.
pub fn payment_url(s: &Settings, r: &PayRequest<'_>) -> String {
    let params: Vec<(String, String)> = [
        ("vnp_Version", "2.1.0".to_owned()),
        ("vnp_Command", "pay".to_owned()),
        ("vnp_TmnCode", s.tmn_code.clone()),
        ("vnp_Amount", (r.amount_vnd * 100).to_string()),
        ("vnp_CurrCode", "VND".to_owned()),
        ("vnp_TxnRef", r.txn_ref.to_owned()),
        ("vnp_OrderInfo", r.order_info.to_owned()),
        ("vnp_OrderType", "other".to_owned()),
        ("vnp_Locale", r.locale.to_owned()),
        ("vnp_ReturnUrl", s.return_url.clone()),
        ("vnp_IpAddr", r.ip.to_owned()),
        ("vnp_CreateDate", vn_stamp(r.created)),
        ("vnp_ExpireDate", vn_stamp(r.expires)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let data = hash_data(&params);
    let hash = civic::auth::hmac_sha512_hex(s.hash_secret.as_bytes(), data.as_bytes());
    format!("{}?{data}&vnp_SecureHash={hash}", s.pay_url)
}

/// How long an order of any provider stays payable after its creation (VNPay's
/// `vnp_ExpireDate`); past it the tick stores it `expired` ([`crate::ledger::expire_due`]).
pub const EXPIRY: Duration = Duration::minutes(15);

fn answer(code: &str, message: &str) -> Result<Response<Bytes>, Error> {
    civic::web::json(StatusCode::OK, &serde_json::json!({"RspCode": code, "Message": message}))
}

/// What the IPN's parameters say.
fn read(params: &[(String, String)]) -> (Option<String>, Option<String>, Option<i64>, bool) {
    let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
    // VND x 100: a value that is not a whole number of đồng matches no order (-1).
    let amount_vnd = get("vnp_Amount").map(|a| a.parse::<i64>().ok().filter(|a| a % 100 == 0).map_or(-1, |a| a / 100));
    let success =
        get("vnp_ResponseCode").as_deref() == Some("00") && get("vnp_TransactionStatus").as_deref() == Some("00");
    (get("vnp_TxnRef"), get("vnp_TransactionNo"), amount_vnd, success)
}

/// GET /payments/vnpay/ipn
pub async fn ipn(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let raw = req.uri().query().unwrap_or("").to_owned();
    let params: Vec<(String, String)> = form_urlencoded::parse(raw.as_bytes()).into_owned().collect();
    let valid = match Settings::from(env) {
        Ok(s) => verify(&s.hash_secret, &params),
        Err(e) => {
            civic::log::error(&format!("vnpay ipn: {e}"));
            return answer("99", "Unknow error");
        }
    };
    let (txn_ref, provider_txn_id, amount_vnd, success) = read(&params);
    let cb = Callback {
        provider: Provider::Vnpay,
        raw,
        signature_valid: valid,
        txn_ref,
        provider_txn_id,
        amount_vnd,
        success,
    };
    let outcome = match ledger::process(env, &cb).await {
        Ok(outcome) => outcome,
        Err(e) => {
            civic::log::error(&format!("vnpay ipn: {e}"));
            return answer("99", "Unknow error");
        }
    };
    let reply = match outcome {
        Outcome::BadSignature => answer("97", "Invalid signature"),
        Outcome::UnknownOrder => answer("01", "Order not found"),
        Outcome::AmountMismatch => answer("04", "Invalid amount"),
        Outcome::AlreadySettled => answer("02", "Order already confirmed"),
        Outcome::Settled | Outcome::FailureRecorded => answer("00", "Confirm Success"),
    };
    ledger::answered(outcome, reply)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn hash_data_sorts_filters_and_encodes() {
        let p = pairs(&[
            ("vnp_TxnRef", "5"),
            ("vnp_Amount", "1806000"),
            ("vnp_OrderInfo", "Thanh toan don hang :5"),
            ("vnp_SecureHash", "ab"),
            ("vnp_SecureHashType", "HmacSHA512"),
            ("vnp_BankCode", ""),
            ("other", "x"),
            ("vnp_ReturnUrl", "https://a.vn/r?x=1&y=2"),
        ]);
        assert_eq!(
            hash_data(&p),
            "vnp_Amount=1806000&vnp_OrderInfo=Thanh+toan+don+hang+%3A5&vnp_ReturnUrl=https%3A%2F%2Fa.vn%2Fr%3Fx%3D1%26y%3D2&vnp_TxnRef=5"
        );
    }

    #[test]
    fn verify_accepts_its_own_signature_in_either_case_and_nothing_else() {
        let mut p = pairs(&[("vnp_TxnRef", "241122_ABC"), ("vnp_Amount", "15000000"), ("vnp_ResponseCode", "00")]);
        let hash = secure_hash("SECRET", &p);
        p.push(("vnp_SecureHash".into(), hash.to_ascii_uppercase()));
        assert!(verify("SECRET", &p));
        assert!(!verify("OTHER", &p));
        let mut tampered = p.clone();
        tampered[1].1 = "15000100".into();
        assert!(!verify("SECRET", &tampered));
        let mut repeated = p.clone();
        repeated.push(("vnp_Amount".into(), "15000000".into()));
        assert!(!verify("SECRET", &repeated));
        assert!(!verify("SECRET", &p[..3]), "no hash");
    }

    #[test]
    fn payment_url_is_signed_and_complete() {
        let s = Settings {
            tmn_code: "DEMOV210".into(),
            hash_secret: "SECRET".into(),
            pay_url: "https://sandbox.vnpayment.vn/paymentv2/vpcpay.html".into(),
            return_url: "https://dichvucong.example.vn/thanh-toan/ket-qua".into(),
        };
        let created: DateTime<Utc> = "2024-11-22T02:00:00Z".parse().unwrap();
        let r = PayRequest {
            txn_ref: "241122_0A1B2C3D4E5F",
            amount_vnd: 150_000,
            order_info: "Thanh toan le phi ho so 000.00.19.H57-241105-0012",
            created,
            expires: created + EXPIRY,
            ip: "203.0.113.7",
            locale: "vn",
        };
        let url = payment_url(&s, &r);
        let (base, query) = url.split_once('?').unwrap();
        assert_eq!(base, s.pay_url);
        let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
        assert!(verify("SECRET", &params), "{url}");
        let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
        assert_eq!(get("vnp_Amount"), Some("15000000"));
        assert_eq!(get("vnp_CreateDate"), Some("20241122090000"));
        assert_eq!(get("vnp_ExpireDate"), Some("20241122091500"));
        assert_eq!(get("vnp_Version"), Some("2.1.0"));
        assert_eq!(get("vnp_Command"), Some("pay"));
        assert_eq!(get("vnp_CurrCode"), Some("VND"));
        assert_eq!(params.len(), 14);
    }

    #[test]
    fn ipn_amount_is_vnd_times_100() {
        let p = pairs(&[("vnp_Amount", "15000000"), ("vnp_ResponseCode", "00"), ("vnp_TransactionStatus", "00")]);
        assert_eq!(read(&p).2, Some(150_000));
        assert!(read(&p).3);
        assert_eq!(read(&pairs(&[("vnp_Amount", "15000050")])).2, Some(-1), "not whole đồng: matches nothing");
        assert_eq!(read(&pairs(&[("vnp_Amount", "x")])).2, Some(-1));
        assert_eq!(read(&pairs(&[])).2, None);
        assert!(!read(&pairs(&[("vnp_ResponseCode", "00"), ("vnp_TransactionStatus", "02")])).3);
    }
}
