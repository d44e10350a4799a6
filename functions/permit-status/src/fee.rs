//! Whether a dossier's fee (lệ phí) is paid, read from the `payments` database, which
//! payment-callback owns: what the dossier's paid orders add up to (its view
//! `dossier_payments`, migrations/payments/0002) must cover the fee. This crate knows that
//! view only, not the orders and their states.

use civic::Platform;

use crate::dossier::Code;

pub const PAYMENTS: &str = "payments";

/// `Some(true)` when nothing is owed (a free procedure, or paid orders covering the fee),
/// `Some(false)` when something is, `None` when the payments database cannot tell (logged):
/// a payments outage leaves the status lookup working, with the fee shown as unknown.
pub async fn paid(env: &impl Platform, code: &Code, fee_vnd: i64) -> Option<bool> {
    if fee_vnd == 0 {
        return Some(true);
    }
    let rows = env
        .query(PAYMENTS, "SELECT paid_vnd FROM dossier_payments WHERE dossier_code = ?1", &[code.as_str().into()])
        .await;
    match rows.map_err(|e| e.to_string()).and_then(|r| r.first().map_or(Ok(0), |r| r.i64("paid_vnd").map_err(|e| e.0)))
    {
        Ok(sum) => Some(sum >= fee_vnd),
        Err(e) => {
            civic::log::error(&format!("permit-status: payments database unreadable: {e}"));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use civic::platform::native::{NativePlatform, block_on};

    fn order(env: &NativePlatform, id: &str, code: &str, amount: i64, state: &str) {
        block_on(env.execute(
            PAYMENTS,
            "INSERT INTO orders (order_id, txn_ref, dossier_code, owner, provider, amount_vnd, state, created_at, expires_at)
             VALUES (?1, ?1, ?2, 'citizen-1', 'vnpay', ?3, ?4, '2024-11-06T02:00:00Z', '2024-11-06T02:15:00Z')",
            &[id.into(), code.into(), amount.into(), state.into()],
        ))
        .unwrap();
    }

    #[test]
    fn paid_orders_must_cover_the_fee() {
        let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        let env = NativePlatform::in_memory_migrated(&[PAYMENTS], &migrations).unwrap();
        let code = Code::parse("000.00.19.H57-241105-0012").unwrap();
        assert_eq!(block_on(paid(&env, &code, 0)), Some(true), "free");
        assert_eq!(block_on(paid(&env, &code, 150_000)), Some(false), "no order");
        order(&env, "o1", code.as_str(), 150_000, "pending");
        order(&env, "o2", code.as_str(), 150_000, "failed");
        order(&env, "o3", "000.00.19.H57-241105-0013", 150_000, "paid");
        assert_eq!(
            block_on(paid(&env, &code, 150_000)),
            Some(false),
            "pending, failed and other dossiers do not count"
        );
        order(&env, "o4", code.as_str(), 150_000, "paid");
        assert_eq!(block_on(paid(&env, &code, 150_000)), Some(true));
        assert_eq!(block_on(paid(&env, &code, 200_000)), Some(false), "the fee was raised after payment");
        let without = NativePlatform::in_memory(&["permits"]);
        assert_eq!(block_on(paid(&without, &code, 150_000)), None, "no payments database: unknown");
    }
}
