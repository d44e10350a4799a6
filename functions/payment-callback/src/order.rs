//! Payment orders for a dossier's fee (lệ phí).
//!
//! `POST /payments/orders` (a citizen's JWT) with `{"dossier_code", "provider"}`: the amount is
//! the dossier's unpaid fee, read from the `permits` database (the client never sets it);
//! refused when the fee is 0 or already paid. Answers `201 {"order_id", "txn_ref",
//! "amount_vnd", "provider", "payment_url", "expires_at"}`, or `200` with the same order when
//! the citizen already has a pending one for that dossier, provider and amount. `txn_ref`
//! (`yymmdd_` + 12 hex digits, the date in GMT+7 as ZaloPay wants it) is what each partner
//! carries back. `payment_url` is where the app sends the citizen: the signed VNPay 2.1.0 URL,
//! or the URL MoMo or ZaloPay answered to the order's creation on their side ([`crate::wallet`]);
//! if that call fails the order is marked failed and the answer is a 502.
//!
//! **Rate limit** [`ORDER_CREATION`] (setting `rate_limit_order_creation`, default `20/1h`)
//! per citizen (the JWT subject): a citizen pays a few fees, now and then retrying one, so
//! twenty new orders an hour is far above any honest use while a script that makes orders
//! (each a row, and for MoMo and ZaloPay a call to the wallet) is stopped. The count rides in
//! the order's `INSERT` ([`ledger::insert_counted`]: one batch, the `INSERT` gated on the
//! count), which comes before the wallet hears of the order, so a refused order is neither
//! stored nor sent to any partner: 429 problem+json with `Retry-After`. Answering a pending
//! order again (the `200`) stores nothing and is not counted; the reads before the count
//! (the dossier's fee, the orders already paid) are not either. The partners' callbacks are
//! never limited.
//!
//! `GET /payments/orders/{order_id}` (its owner, or an admin): the order and its state
//! (`pending`, `paid`, `failed`, or `expired`: unpaid past `expires_at`, 15 minutes after its
//! creation, whether or not the tick has stored it so yet; a successful callback still
//! settles it); admins also see the callbacks stored for it. An expired order is never
//! offered again: a new `POST /payments/orders` makes a new one.

use bytes::Bytes;
use chrono::{DateTime, Utc};
use civic::auth::Role;
use civic::dossier::Code;
use civic::limit::{Caller, Rule};
use civic::validate::Fields;
use civic::web::stamp;
use civic::{Error, FieldError, Lang, Msg, Platform};
use http::{Request, Response, StatusCode};
use serde_json::{Value, json};

use crate::ledger::{self, Order, OrderState, Provider};
use crate::{vnpay, wallet};

pub const PERMITS: &str = "permits";

/// New orders per citizen: setting `rate_limit_order_creation`.
pub const ORDER_CREATION: Rule = Rule { name: "order_creation", default: "20/1h" };

const MAX_BODY: usize = 1024;
/// The longest `dossier_code` read (characters): longer than any code
/// ([`Code::parse`] takes at most 52), so past it the answer is "too long".
const MAX_CODE_CHARS: usize = 64;

fn parse(body: &Value) -> Result<(Code, Provider), Error> {
    let mut errors: Vec<FieldError> = Vec::new();
    let mut f = Fields::new(String::new(), &mut errors);
    let parsed = f.object("", body, &["dossier_code", "provider"]).map(|obj| {
        let code = f.text(obj, "", "dossier_code", MAX_CODE_CHARS);
        let code = code.and_then(|c| {
            let parsed = Code::parse(&c);
            if parsed.is_none() {
                f.err("dossier_code", Msg::new("Mã hồ sơ không đúng định dạng", "not a dossier code"));
            }
            parsed
        });
        let provider = f.text(obj, "", "provider", 16).and_then(|p| {
            let parsed = Provider::parse(&p);
            if parsed.is_none() {
                f.err("provider", Msg::new("Phải là vnpay, momo hoặc zalopay", "must be vnpay, momo or zalopay"));
            }
            parsed
        });
        (code, provider)
    });
    match parsed {
        Some((Some(code), Some(provider))) if errors.is_empty() => Ok((code, provider)),
        _ => Err(Error::Validation(errors)),
    }
}

/// The dossier's fee, from permit-status's database.
async fn fee_of(env: &impl Platform, code: &Code) -> Result<Option<i64>, Error> {
    let rows = env.query(PERMITS, "SELECT fee_vnd FROM dossiers WHERE code = ?1", &[code.as_str().into()]).await?;
    Ok(rows.first().map(|r| r.i64("fee_vnd")).transpose()?)
}

/// The client's address for VNPay's `vnp_IpAddr`.
fn client_ip(req: &Request<Bytes>) -> String {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    header("cf-connecting-ip")
        .or_else(|| header("x-forwarded-for").and_then(|v| v.split(',').next()).map(str::trim))
        .filter(|ip| {
            !ip.is_empty() && ip.len() <= 45 && ip.bytes().all(|b| b.is_ascii_hexdigit() || b == b'.' || b == b':')
        })
        .unwrap_or("127.0.0.1")
        .to_owned()
}

fn txn_ref(env: &impl Platform, now: DateTime<Utc>) -> String {
    let day = now.with_timezone(&civic::web::vietnam()).format("%y%m%d");
    format!("{day}_{}", ledger::random_hex(env, 6).to_ascii_uppercase())
}

fn public(o: &Order, now: DateTime<Utc>) -> Value {
    json!({"order_id": o.order_id, "txn_ref": o.txn_ref, "dossier_code": o.dossier_code, "provider": o.provider,
        "amount_vnd": o.amount_vnd, "state": o.state_at(now), "payment_url": o.payment_url,
        "created_at": o.created_at, "expires_at": o.expires_at, "paid_at": o.paid_at})
}

/// POST /payments/orders: 201 with a new order, 200 with the citizen's pending one; 429 over
/// [`ORDER_CREATION`] (nothing stored, no partner called); 502 when the wallet refuses.
pub async fn create(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let who = civic::auth::require_role(env, req.headers(), Role::Citizen)?;
    let body: Value = civic::web::read_json(req, MAX_BODY)?;
    let (code, provider) = parse(&body)?;
    let unpaid = unpaid_fee(env, &code).await?;
    let now = env.now();
    if let Some(open) = ledger::open_order(env, code.as_str(), &who.subject, provider, unpaid).await? {
        return civic::web::json(StatusCode::OK, &public(&open, now));
    }
    let txn_ref = txn_ref(env, now);
    let expires = now + vnpay::EXPIRY;
    let info = format!("Thanh toan le phi ho so {}", code.as_str());
    let payment_url = match provider {
        Provider::Vnpay => Some(vnpay_url(req, env, &txn_ref, unpaid, &info, (now, expires))?),
        Provider::Momo | Provider::Zalopay => None,
    };
    let mut order = Order {
        order_id: format!("ord_{}", ledger::random_hex(env, 12)),
        txn_ref,
        dossier_code: code.as_str().to_owned(),
        owner: who.subject,
        provider: provider.as_str().to_owned(),
        amount_vnd: unpaid,
        state: OrderState::Pending,
        payment_url,
        created_at: stamp(now),
        expires_at: stamp(expires),
        paid_at: None,
        provider_txn_id: None,
    };
    // Counted and stored before the wallet hears of it, so that no callback can find an
    // unknown order and no refused order reaches a partner.
    let count = ORDER_CREATION.count(env, &Caller::Subject(order.owner.clone()))?;
    ledger::insert_counted(env, &order, &count).await?;
    if order.payment_url.is_none() {
        create_at_wallet(env, &mut order, provider, &info, now).await?;
    }
    civic::web::json(StatusCode::CREATED, &public(&order, now))
}

/// What is left to pay on a dossier: its fee less what its paid orders add up to. 404 for an
/// unknown dossier; 409 when it has no fee or the fee is already paid.
async fn unpaid_fee(env: &impl Platform, code: &Code) -> Result<i64, Error> {
    let fee = fee_of(env, code).await?.ok_or(Error::NotFound)?;
    if fee == 0 {
        return Err(Error::Conflict(Msg::new("Hồ sơ này không mất lệ phí", "this dossier has no fee")));
    }
    let unpaid = fee - ledger::paid_total(env, code.as_str()).await?;
    if unpaid <= 0 {
        return Err(Error::Conflict(Msg::new(
            "Lệ phí của hồ sơ này đã được nộp",
            "this dossier's fee is already paid",
        )));
    }
    Ok(unpaid)
}

/// The signed VNPay 2.1.0 payment URL of a new order (VNPay needs no call when an order is
/// created), in the caller's language, from the caller's address, valid from `created` until
/// `expires`.
fn vnpay_url(
    req: &Request<Bytes>,
    env: &impl Platform,
    txn_ref: &str,
    amount_vnd: i64,
    info: &str,
    (created, expires): (DateTime<Utc>, DateTime<Utc>),
) -> Result<String, Error> {
    let settings = vnpay::Settings::from(env)?;
    let locale = if Lang::from_headers(req.headers()) == Lang::En { "en" } else { "vn" };
    let ip = client_ip(req);
    let r = vnpay::PayRequest { txn_ref, amount_vnd, order_info: info, created, expires, ip: &ip, locale };
    Ok(vnpay::payment_url(&settings, &r))
}

/// Asks the wallet (MoMo or ZaloPay) to create its side of an order already stored, and records
/// the payment URL it answers; a refusal fails the order and is returned (502).
async fn create_at_wallet(
    env: &impl Platform,
    order: &mut Order,
    provider: Provider,
    info: &str,
    now: DateTime<Utc>,
) -> Result<(), Error> {
    let new =
        wallet::NewOrder { txn_ref: &order.txn_ref, amount_vnd: order.amount_vnd, info, owner: &order.owner, now };
    let created = match provider {
        Provider::Momo => wallet::momo(env, &new).await,
        _ => wallet::zalopay(env, &new).await,
    };
    match created {
        Ok(url) => {
            ledger::set_payment_url(env, &order.order_id, &url).await?;
            order.payment_url = Some(url);
            Ok(())
        }
        Err(e) => {
            ledger::fail_pending(env, &order.order_id).await?;
            Err(e)
        }
    }
}

/// GET /payments/orders/{order_id}
pub async fn get(req: &Request<Bytes>, env: &impl Platform, order_id: &str) -> Result<Response<Bytes>, Error> {
    let who = civic::auth::authenticate(env, req.headers())?;
    let order = ledger::by_id(env, order_id).await?.ok_or(Error::NotFound)?;
    let admin = who.has(Role::Admin);
    if !admin && order.owner != who.subject {
        // Someone else's order is not theirs to know of.
        return Err(Error::NotFound);
    }
    let mut v = public(&order, env.now());
    if admin {
        v["owner"] = json!(order.owner);
        v["provider_txn_id"] = json!(order.provider_txn_id);
        v["callbacks"] = Value::Array(ledger::callbacks_of(env, &order.txn_ref).await?);
    }
    civic::web::json(StatusCode::OK, &v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(body: Value) -> Vec<String> {
        match parse(&body) {
            Err(Error::Validation(list)) => list.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn order_body_table() {
        let ok = parse(&json!({"dossier_code": "000.00.19.h57-241105-0012", "provider": "vnpay"})).unwrap();
        assert_eq!((ok.0.as_str(), ok.1), ("000.00.19.H57-241105-0012", Provider::Vnpay));
        assert_eq!(fields(json!({"dossier_code": "x", "provider": "paypal"})), ["dossier_code", "provider"]);
        assert_eq!(fields(json!({"dossier_code": "000.00.19.H57-241105-0012"})), ["provider"]);
        assert_eq!(
            fields(json!({"dossier_code": "000.00.19.H57-241105-0012", "provider": "momo", "amount_vnd": 1})),
            ["amount_vnd"],
            "the client never sets the amount"
        );
    }

    #[test]
    fn client_ip_prefers_the_edge_header_and_refuses_junk() {
        let req = |h: &[(&str, &str)]| {
            let mut b = Request::post("/payments/orders");
            for (k, v) in h {
                b = b.header(*k, *v);
            }
            b.body(Bytes::new()).unwrap()
        };
        assert_eq!(
            client_ip(&req(&[("cf-connecting-ip", "203.0.113.7"), ("x-forwarded-for", "1.1.1.1")])),
            "203.0.113.7"
        );
        assert_eq!(client_ip(&req(&[("x-forwarded-for", "198.51.100.2, 10.0.0.1")])), "198.51.100.2");
        assert_eq!(client_ip(&req(&[("x-forwarded-for", "<script>")])), "127.0.0.1");
        assert_eq!(client_ip(&req(&[])), "127.0.0.1");
    }
}
