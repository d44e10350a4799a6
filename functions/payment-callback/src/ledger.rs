//! The `payments` database: orders, and every callback stored before it is acknowledged.
//!
//! Exactly once, without interactive transactions: a callback is first stored raw (whatever
//! its signature), in the batch that reads its order; then one conditional `UPDATE ... WHERE
//! state <> 'paid' RETURNING` settles the order, so of any number of identical callbacks
//! arriving at once exactly one settles it and the others find it settled. A failure moves
//! only a pending order to `failed`; a later successful callback still settles it, as it
//! does an expired one (the bank took the money). Two round trips at most ([`process`]): a
//! repeat for a paid order, the partners' most frequent callback, is answered after one.
//! Nothing reads a callback's raw text after it is stored; the tick blanks it once past its
//! retention period ([`CALLBACKS_RAW`]).
//!
//! Events ([`civic::outbox`]), each in the same batch as its change: `payment.settled` with
//! the `UPDATE` that settles an order ([`settled`]), `order.expired` with the one that
//! expires it ([`expire_due`], run by the tick).

use bytes::Bytes;
use chrono::{DateTime, Utc};
use civic::limit::Count;
use civic::outbox::{Event, EventType, Guard};
use civic::platform::{DbError, Row, Statement, Value};
use civic::{Error, Platform};
use http::Response;
use serde_json::json;

pub const DB: &str = "payments";

use civic::web::stamp;

/// A random hex id of `bytes` bytes.
pub fn random_hex(env: &impl Platform, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    env.random_bytes(&mut buf);
    hex::encode(buf)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Provider {
    Vnpay,
    Momo,
    Zalopay,
}

impl Provider {
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Vnpay => "vnpay",
            Provider::Momo => "momo",
            Provider::Zalopay => "zalopay",
        }
    }

    pub fn parse(s: &str) -> Option<Provider> {
        [Provider::Vnpay, Provider::Momo, Provider::Zalopay].into_iter().find(|p| p.as_str() == s)
    }
}

/// An order's state, as stored (the orders table's `CHECK`, migrations/payments/0004) and
/// shown; a pending order past its expiry is shown `expired` ([`Order::state_at`]) until the
/// tick stores it so ([`expire_due`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderState {
    /// Created; no callback settled it or reported a failure yet.
    Pending,
    /// Settled by a successful callback (from any state).
    Paid,
    /// A callback reported a failed payment, or the wallet refused to create the order.
    Failed,
    /// Unpaid past `expires_at` (15 minutes after its creation, [`crate::vnpay::EXPIRY`]):
    /// stored by the tick with an `order.expired` event. A successful callback still
    /// settles it.
    Expired,
}

impl OrderState {
    /// As stored and as answered.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderState::Pending => "pending",
            OrderState::Paid => "paid",
            OrderState::Failed => "failed",
            OrderState::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<OrderState> {
        [OrderState::Pending, OrderState::Paid, OrderState::Failed, OrderState::Expired]
            .into_iter()
            .find(|state| state.as_str() == s)
    }
}

impl serde::Serialize for OrderState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One callback as a partner sent it, with what its verifier read from it.
#[derive(Clone, Debug)]
pub struct Callback {
    pub provider: Provider,
    /// The query string or the body, as received.
    pub raw: String,
    pub signature_valid: bool,
    pub txn_ref: Option<String>,
    pub provider_txn_id: Option<String>,
    /// `None` when absent; a value no order can have (-1) when unreadable.
    pub amount_vnd: Option<i64>,
    /// The partner reports a successful payment.
    pub success: bool,
}

/// The raw callbacks (`callbacks.params`: the query string or body a bank or wallet sent,
/// which can name the card's bank, the payer's account or wallet user), as a retention kind
/// (setting `retention_callbacks_raw`, default `180d`, at least `1d`): past the period the
/// raw text is replaced by `''`; every other column of the callback (provider, time,
/// signature verdict, `txn_ref`, the partner's transaction id, amount, success, outcome,
/// order) is kept. 180 days is long enough to answer a bank's or a citizen's dispute over a
/// transaction with what the partner actually sent.
///
/// Nothing reads `params` once the callback is stored: [`process`] verifies and applies a
/// callback from what it parsed before storing it; a repeated callback is answered from the
/// order's state (`UPDATE … WHERE state <> 'paid'`), never from an earlier callback; the
/// reconciliation ([`crate::reconcile`]) and the fee paid (`dossier_payments`) read
/// `orders` only; the admin's view of an order ([`callbacks_of`]) shows the parsed columns.
/// So all of them answer the same after the purge. The index `callbacks_raw_received`
/// (`WHERE params <> ''`) finds what is left to blank.
pub const CALLBACKS_RAW: civic::retention::Kind = civic::retention::Kind {
    name: "callbacks_raw",
    purged: "callbacks_raw_purged",
    default: "180d",
    minimum: "1d",
    holds: "raw partner callbacks (query string or body as received: bank, account or wallet details)",
    oldest: "SELECT min(received_at) AS oldest FROM callbacks WHERE params <> ''",
    purge: &["UPDATE callbacks SET params = '' WHERE id IN
                  (SELECT id FROM callbacks WHERE params <> '' AND received_at < ?1 ORDER BY received_at LIMIT ?2)
              RETURNING 1"],
};

/// What a callback did; each partner maps it to its own answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    BadSignature,
    UnknownOrder,
    AmountMismatch,
    /// The order was paid already (by this callback's twin or another payment).
    AlreadySettled,
    /// This callback settled the order.
    Settled,
    /// A failed payment, recorded on the order.
    FailureRecorded,
}

impl Outcome {
    /// The outcome stored as `s` ([`Outcome::as_str`]).
    pub fn parse(s: &str) -> Option<Outcome> {
        [
            Outcome::BadSignature,
            Outcome::UnknownOrder,
            Outcome::AmountMismatch,
            Outcome::AlreadySettled,
            Outcome::Settled,
            Outcome::FailureRecorded,
        ]
        .into_iter()
        .find(|o| o.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::BadSignature => "bad_signature",
            Outcome::UnknownOrder => "unknown_order",
            Outcome::AmountMismatch => "amount_mismatch",
            Outcome::AlreadySettled => "already_settled",
            Outcome::Settled => "settled",
            Outcome::FailureRecorded => "failure_recorded",
        }
    }
}

/// The callback stored with what can be decided from the order as it is now, in the same
/// statement: `bad_signature`, `unknown_order` (no order of this `txn_ref` and provider),
/// `amount_mismatch`, or `already_settled` (the order is paid, which is final; or a failure
/// callback finds it no longer pending, which is too). `NULL` when the order is to be settled
/// or failed: [`settle`] or [`fail`] then records the outcome with its change. The order
/// is named unless the signature is invalid. Parameters: ?1 id, ?2 provider, ?3 received
/// at, ?4 raw, ?5 signature valid, ?6 `txn_ref`, ?7 provider's transaction id, ?8 amount,
/// ?9 success.
const STORE: &str =
    "INSERT INTO callbacks (id, provider, received_at, params, signature_valid, txn_ref, provider_txn_id,
                             amount_vnd, success, outcome, order_id)
     SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9,
            CASE WHEN NOT ?5 THEN 'bad_signature'
                 WHEN o.order_id IS NULL THEN 'unknown_order'
                 WHEN ?8 IS NULL OR ?8 <> o.amount_vnd THEN 'amount_mismatch'
                 WHEN o.state = 'paid' OR (NOT ?9 AND o.state <> 'pending') THEN 'already_settled'
            END,
            CASE WHEN ?5 THEN o.order_id END
     FROM (SELECT 1) LEFT JOIN orders o ON o.txn_ref = ?6 AND o.provider = ?2
     RETURNING outcome";

/// Stores the callback, then applies it; every outcome is recorded on the stored callback.
/// At most two round trips: the callback stored in one batch with the read of its order
/// ([`STORE`]: a repeat for a paid order, a bad signature, an unknown order or a wrong amount
/// end there), then the settling or failing `UPDATE` with the callback's outcome.
pub async fn process(env: &impl Platform, cb: &Callback) -> Result<Outcome, Error> {
    let id = random_hex(env, 16);
    let mut statements = vec![Statement::new(
        STORE,
        vec![
            id.as_str().into(),
            cb.provider.as_str().into(),
            stamp(env.now()).into(),
            cb.raw.as_str().into(),
            cb.signature_valid.into(),
            cb.txn_ref.clone().into(),
            cb.provider_txn_id.clone().into(),
            cb.amount_vnd.into(),
            cb.success.into(),
        ],
    )];
    if let (true, Some(txn_ref)) = (cb.signature_valid, &cb.txn_ref) {
        statements.push(Statement::new(
            format!("SELECT {COLUMNS} FROM orders WHERE txn_ref = ?1 AND provider = ?2"),
            vec![txn_ref.as_str().into(), cb.provider.as_str().into()],
        ));
    }
    let results = env.batch(DB, &statements).await?;
    let stored = results.first().and_then(civic::platform::Rows::first);
    let decided = stored.map(|r| r.opt_str("outcome").map(|o| o.map(str::to_owned))).transpose()?.flatten();
    if let Some(outcome) = decided {
        return Outcome::parse(&outcome).ok_or_else(|| Error::Internal(format!("callback outcome {outcome:?}")));
    }
    let order = results
        .get(1)
        .and_then(civic::platform::Rows::first)
        .map(|r| Order::from_row(&r))
        .transpose()?
        .ok_or_else(|| Error::Internal("a callback to apply without its order".into()))?;
    if cb.success { settle(env, &order, cb, &id).await } else { fail(env, &order, &id).await }
}
/// A partner's answer to a callback whose outcome was `outcome`: marked, when the callback
/// settled its order, to deliver the `payment.settled` event right after the answer
/// ([`civic::outbox::soon`]), so that the bank never waits on a receiver.
pub fn answered(outcome: Outcome, answer: Result<Response<Bytes>, Error>) -> Result<Response<Bytes>, Error> {
    let mut resp = answer?;
    if outcome == Outcome::Settled {
        civic::outbox::soon(&mut resp, DB);
    }
    Ok(resp)
}

/// Records the outcome of callback `callback_id` on order `order_id`: `settled` when the
/// order names it as the callback that settled it, else `already_settled`.
const SETTLE_OUTCOME: &str = "UPDATE callbacks SET order_id = ?1,
        outcome = CASE WHEN EXISTS (SELECT 1 FROM orders WHERE order_id = ?1 AND settled_by = ?2)
                       THEN 'settled' ELSE 'already_settled' END
    WHERE id = ?2";

/// Settles `order` by the successful callback `cb` (stored as `callback_id`) unless it is
/// paid already: one conditional `UPDATE`, its `payment.settled` event (written only if the
/// `UPDATE` changed the order) and the callback's outcome, in one batch.
async fn settle(env: &impl Platform, order: &Order, cb: &Callback, callback_id: &str) -> Result<Outcome, Error> {
    let now = stamp(env.now());
    let event = settled(order, &now, cb.provider_txn_id.as_deref());
    let (_, enqueue) = civic::outbox::enqueue(env, &event, Guard::IfChanged)?;
    let mut statements = vec![Statement::new(
        "UPDATE orders SET state = ?5, paid_at = ?1, provider_txn_id = ?2, settled_by = ?3
         WHERE order_id = ?4 AND state <> ?5 RETURNING order_id",
        vec![
            now.as_str().into(),
            cb.provider_txn_id.clone().into(),
            callback_id.into(),
            order.order_id.as_str().into(),
            OrderState::Paid.as_str().into(),
        ],
    )];
    statements.extend(enqueue);
    statements.push(Statement::new(SETTLE_OUTCOME, vec![order.order_id.as_str().into(), callback_id.into()]));
    let results = env.batch(DB, &statements).await?;
    Ok(if results.first().is_some_and(|r| !r.is_empty()) { Outcome::Settled } else { Outcome::AlreadySettled })
}

/// Records the failure callback `callback_id` on `order`: the order moves to `failed` if it
/// is still pending ([`fail_pending`]'s `UPDATE`), and the callback's outcome follows from
/// whether it did, in one batch.
async fn fail(env: &impl Platform, order: &Order, callback_id: &str) -> Result<Outcome, Error> {
    let results = env
        .batch(
            DB,
            &[
                Statement::new(FAIL_PENDING, fail_params(&order.order_id)),
                Statement::new(
                    "UPDATE callbacks SET order_id = ?1,
                         outcome = CASE WHEN changes() > 0 THEN 'failure_recorded' ELSE 'already_settled' END
                     WHERE id = ?2",
                    vec![order.order_id.as_str().into(), callback_id.into()],
                ),
            ],
        )
        .await?;
    Ok(if results.first().is_some_and(|r| !r.is_empty()) { Outcome::FailureRecorded } else { Outcome::AlreadySettled })
}

/// The `payment.settled` event of `order`, paid at `paid_at` (stored form) under the
/// provider's transaction id: `data` = `{"order_id", "dossier_code", "provider", "amount_vnd",
/// "paid_at", "provider_txn_id"}`, what the reconciliation shows; never the owner.
pub fn settled(order: &Order, paid_at: &str, provider_txn_id: Option<&str>) -> Event {
    Event {
        kind: EventType::PaymentSettled,
        subject: order.order_id.clone(),
        data: json!({"order_id": order.order_id, "dossier_code": order.dossier_code, "provider": order.provider,
            "amount_vnd": order.amount_vnd, "paid_at": paid_at, "provider_txn_id": provider_txn_id}),
        citizen: None,
    }
}

/// The `order.expired` event of `order`: `data` = `{"order_id", "dossier_code", "provider",
/// "amount_vnd", "expires_at"}`; never the owner.
pub fn expired(order: &Order) -> Event {
    Event {
        kind: EventType::OrderExpired,
        subject: order.order_id.clone(),
        data: json!({"order_id": order.order_id, "dossier_code": order.dossier_code, "provider": order.provider,
            "amount_vnd": order.amount_vnd, "expires_at": order.expires_at}),
        citizen: None,
    }
}

/// The most orders one tick expires; the next tick takes the rest.
pub const EXPIRE_PER_TICK: i64 = 200;

/// How many orders one batch expires (each is an `UPDATE` and its event's statements).
pub const EXPIRE_PER_BATCH: usize = 25;

/// Stores `expired` for pending orders past their `expires_at` (at most
/// [`EXPIRE_PER_TICK`], soonest expired first), each by a conditional `UPDATE ... WHERE
/// order_id = ? AND state = 'pending'` followed by its `order.expired` event
/// ([`Guard::IfChanged`]), so that ticks that overlap, or a callback settling the order
/// meanwhile, never give an order two events or expire a paid one. How many this call
/// expired.
///
/// # Errors
/// A database error (the batches before it hold).
pub async fn expire_due(env: &impl Platform) -> Result<u64, Error> {
    let now = stamp(env.now());
    let due = env
        .query(
            DB,
            &format!("SELECT {COLUMNS} FROM orders WHERE state = ?1 AND expires_at < ?2 ORDER BY expires_at LIMIT ?3"),
            &[OrderState::Pending.as_str().into(), now.into(), EXPIRE_PER_TICK.into()],
        )
        .await?;
    let due = due.iter().map(|r| Order::from_row(&r)).collect::<Result<Vec<_>, _>>()?;
    expire(env, &due).await
}

/// Expires each of `due` that is still pending, with its event, [`EXPIRE_PER_BATCH`] to a
/// batch; how many it expired.
async fn expire(env: &impl Platform, due: &[Order]) -> Result<u64, Error> {
    let mut expired_now = 0;
    for chunk in due.chunks(EXPIRE_PER_BATCH) {
        let mut statements = Vec::new();
        let mut updates = Vec::with_capacity(chunk.len());
        for order in chunk {
            updates.push(statements.len());
            statements.push(Statement::new(
                "UPDATE orders SET state = ?2 WHERE order_id = ?1 AND state = ?3 RETURNING order_id",
                vec![
                    order.order_id.as_str().into(),
                    OrderState::Expired.as_str().into(),
                    OrderState::Pending.as_str().into(),
                ],
            ));
            statements.extend(civic::outbox::enqueue(env, &expired(order), Guard::IfChanged)?.1);
        }
        let results = env.batch(DB, &statements).await?;
        expired_now += updates.iter().filter(|&&i| results.get(i).is_some_and(|r| !r.is_empty())).count() as u64;
    }
    Ok(expired_now)
}

/// An order as stored.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Order {
    pub order_id: String,
    pub txn_ref: String,
    pub dossier_code: String,
    pub owner: String,
    pub provider: String,
    pub amount_vnd: i64,
    /// As stored; see [`Order::state_at`].
    pub state: OrderState,
    pub payment_url: Option<String>,
    pub created_at: String,
    pub expires_at: String,
    pub paid_at: Option<String>,
    pub provider_txn_id: Option<String>,
}

impl Order {
    fn from_row(r: &Row<'_>) -> Result<Order, DbError> {
        let text = |c: &str| r.str(c).map(str::to_owned);
        let opt = |c: &str| r.opt_str(c).map(|v| v.map(str::to_owned));
        Ok(Order {
            order_id: text("order_id")?,
            txn_ref: text("txn_ref")?,
            dossier_code: text("dossier_code")?,
            owner: text("owner")?,
            provider: text("provider")?,
            amount_vnd: r.i64("amount_vnd")?,
            state: OrderState::parse(r.str("state")?)
                .ok_or_else(|| DbError(format!("state: unknown {:?}", r.str("state"))))?,
            payment_url: opt("payment_url")?,
            created_at: text("created_at")?,
            expires_at: text("expires_at")?,
            paid_at: opt("paid_at")?,
            provider_txn_id: opt("provider_txn_id")?,
        })
    }

    /// The state a citizen sees: a pending order past its expiry is expired.
    pub fn state_at(&self, now: DateTime<Utc>) -> OrderState {
        match self.state {
            OrderState::Pending if self.expires_at < stamp(now) => OrderState::Expired,
            state => state,
        }
    }
}

const COLUMNS: &str = "order_id, txn_ref, dossier_code, owner, provider, amount_vnd, state, payment_url, created_at,
    expires_at, paid_at, provider_txn_id";

async fn one(env: &impl Platform, filter: &str, params: &[civic::platform::Value]) -> Result<Option<Order>, Error> {
    let rows = env.query(DB, &format!("SELECT {COLUMNS} FROM orders WHERE {filter}"), params).await?;
    Ok(rows.first().map(|r| Order::from_row(&r)).transpose()?)
}

pub async fn by_txn_ref(env: &impl Platform, txn_ref: &str, provider: Provider) -> Result<Option<Order>, Error> {
    one(env, "txn_ref = ?1 AND provider = ?2", &[txn_ref.into(), provider.as_str().into()]).await
}

pub async fn by_id(env: &impl Platform, order_id: &str) -> Result<Option<Order>, Error> {
    one(env, "order_id = ?1", &[order_id.into()]).await
}

/// Records the URL the wallet answered to the order's creation.
pub async fn set_payment_url(env: &impl Platform, order_id: &str, url: &str) -> Result<(), Error> {
    env.execute(DB, "UPDATE orders SET payment_url = ?1 WHERE order_id = ?2", &[url.into(), order_id.into()]).await?;
    Ok(())
}

/// Marks an order failed if it is pending (a failure callback, or its creation on the
/// wallet's side failed); `false` when it was not pending. A successful callback would still
/// settle it.
pub async fn fail_pending(env: &impl Platform, order_id: &str) -> Result<bool, Error> {
    let failed = env.query(DB, FAIL_PENDING, &fail_params(order_id)).await?;
    Ok(!failed.is_empty())
}

/// Moves a pending order to `failed`; returns its id when it did. Parameters:
/// [`fail_params`].
const FAIL_PENDING: &str = "UPDATE orders SET state = ?2 WHERE order_id = ?1 AND state = ?3 RETURNING order_id";

fn fail_params(order_id: &str) -> Vec<Value> {
    vec![order_id.into(), OrderState::Failed.as_str().into(), OrderState::Pending.as_str().into()]
}

/// A pending, unexpired order of this owner for this dossier, provider and amount, that the
/// citizen can be sent to (its payment URL is known).
pub async fn open_order(
    env: &impl Platform,
    dossier: &str,
    owner: &str,
    provider: Provider,
    amount_vnd: i64,
) -> Result<Option<Order>, Error> {
    one(
        env,
        "dossier_code = ?1 AND owner = ?2 AND provider = ?3 AND amount_vnd = ?4 AND state = ?6
         AND expires_at > ?5 AND payment_url IS NOT NULL ORDER BY created_at DESC LIMIT 1",
        &[
            dossier.into(),
            owner.into(),
            provider.as_str().into(),
            amount_vnd.into(),
            stamp(env.now()).into(),
            OrderState::Pending.as_str().into(),
        ],
    )
    .await
}

/// What the paid orders of a dossier add up to (VND), from the view `dossier_payments`
/// (migrations/payments/0002), which permit-status reads too.
pub async fn paid_total(env: &impl Platform, dossier: &str) -> Result<i64, Error> {
    let rows =
        env.query(DB, "SELECT paid_vnd FROM dossier_payments WHERE dossier_code = ?1", &[dossier.into()]).await?;
    Ok(rows.first().map(|r| r.i64("paid_vnd")).transpose()?.unwrap_or(0))
}

/// The `INSERT` of a new order (pending whatever `o.state` says), taking its row only when
/// `condition` holds, and the order's ten parameters (`?1` to `?10`).
fn insert_statement(o: &Order, condition: &str) -> (String, Vec<Value>) {
    let sql = format!(
        "INSERT INTO orders (order_id, txn_ref, dossier_code, owner, provider, amount_vnd, state, payment_url,
                             created_at, expires_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?10, ?7, ?8, ?9 WHERE {condition}"
    );
    let params = vec![
        o.order_id.as_str().into(),
        o.txn_ref.as_str().into(),
        o.dossier_code.as_str().into(),
        o.owner.as_str().into(),
        o.provider.as_str().into(),
        o.amount_vnd.into(),
        o.payment_url.clone().into(),
        o.created_at.as_str().into(),
        o.expires_at.as_str().into(),
        OrderState::Pending.as_str().into(),
    ];
    (sql, params)
}

/// Stores a new order, pending whatever `o.state` says (a callback settles it later),
/// uncounted: for seeding and tests; the route stores with [`insert_counted`].
///
/// # Errors
/// A database error.
pub async fn insert(env: &impl Platform, o: &Order) -> Result<(), Error> {
    let (sql, params) = insert_statement(o, "1");
    env.execute(DB, &sql, &params).await?;
    Ok(())
}

/// Stores a new order as [`insert`] does, counted against its owner's limit in the same
/// batch: `[count, INSERT … WHERE <within the limit>]` (one round trip). Over the limit
/// nothing is stored and the answer is [`Error::TooManyRequests`] (429, `Retry-After`).
///
/// # Errors
/// [`Error::TooManyRequests`] over the limit, else a database error (then neither the count
/// nor the order is kept: the batch is all or nothing).
pub async fn insert_counted(env: &impl Platform, o: &Order, count: &Count) -> Result<(), Error> {
    let (sql, mut params) = insert_statement(o, &count.gate(11));
    params.extend(count.gate_params());
    let results = env.batch(DB, &[count.statement(), Statement::new(sql, params)]).await?;
    let counted = results.first().ok_or_else(|| Error::Internal("order insert: the batch returned nothing".into()))?;
    count.verdict(counted)?.into_result()
}

/// The callbacks stored for an order's reference, in the order they were stored (for admins).
pub async fn callbacks_of(env: &impl Platform, txn_ref: &str) -> Result<Vec<serde_json::Value>, Error> {
    let rows = env
        .query(
            DB,
            "SELECT id, provider, received_at, signature_valid, provider_txn_id, amount_vnd, success, outcome
             FROM callbacks WHERE txn_ref = ?1 ORDER BY rowid",
            &[txn_ref.into()],
        )
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows.iter() {
        out.push(serde_json::json!({
            "id": r.str("id")?, "provider": r.str("provider")?, "received_at": r.str("received_at")?,
            "signature_valid": r.i64("signature_valid")? == 1, "provider_txn_id": r.opt_str("provider_txn_id")?,
            "amount_vnd": r.opt_i64("amount_vnd")?, "success": r.opt_i64("success")?.map(|s| s == 1),
            "outcome": r.opt_str("outcome")?,
        }));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use civic::platform::native::block_on;

    fn order(env: &impl Platform, id: &str) -> Order {
        let o = Order {
            order_id: id.to_owned(),
            txn_ref: format!("241122_{id}"),
            dossier_code: "000.00.19.H57-241105-0012".to_owned(),
            owner: "citizen-1".to_owned(),
            provider: "vnpay".to_owned(),
            amount_vnd: 150_000,
            state: OrderState::Pending,
            payment_url: None,
            created_at: "2024-11-22T02:00:00Z".to_owned(),
            expires_at: "2024-11-22T02:15:00Z".to_owned(),
            paid_at: None,
            provider_txn_id: None,
        };
        block_on(insert(env, &o)).unwrap();
        o
    }

    fn count(env: &impl Platform, sql: &str) -> i64 {
        block_on(env.query(DB, sql, &[])).unwrap().first().unwrap().i64("n").unwrap()
    }

    /// Two ticks that read the same due orders before either expired them: each order
    /// expires once, with one event; an order paid meanwhile is left paid, without one.
    #[test]
    fn ticks_that_read_the_same_orders_expire_each_once() {
        let env = civic::testing::route_env_at(&[DB], "2024-11-22T09:20:00+07:00");
        let due: Vec<Order> = (0..EXPIRE_PER_BATCH + 3).map(|i| order(&env, &format!("ord_{i}"))).collect();
        block_on(env.execute(DB, "UPDATE orders SET state = 'paid' WHERE order_id = 'ord_1'", &[])).unwrap();
        assert_eq!(block_on(expire(&env, &due)).unwrap(), due.len() as u64 - 1);
        assert_eq!(block_on(expire(&env, &due)).unwrap(), 0, "the second tick finds them expired");
        assert_eq!(block_on(expire_due(&env)).unwrap(), 0);
        let n = count(&env, "SELECT count(*) AS n FROM outbox_events WHERE type = 'order.expired'");
        assert_eq!(n, due.len() as i64 - 1);
        assert_eq!(count(&env, "SELECT count(*) AS n FROM orders WHERE state = 'paid'"), 1);
    }

    #[test]
    fn only_orders_past_their_expiry_expire() {
        let env = civic::testing::route_env_at(&[DB], "2024-11-22T09:15:00+07:00");
        order(&env, "ord_1");
        assert_eq!(block_on(expire_due(&env)).unwrap(), 0, "at its expiry, not yet past it");
        env.set_now(civic::testing::t("2024-11-22T09:15:01+07:00"));
        assert_eq!(block_on(expire_due(&env)).unwrap(), 1);
        let o = block_on(by_id(&env, "ord_1")).unwrap().unwrap();
        assert_eq!((o.state, o.state_at(env.now())), (OrderState::Expired, OrderState::Expired));
    }
}
