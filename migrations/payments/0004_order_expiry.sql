-- payments: an unpaid order past its expiry is stored `expired` by payment-callback's tick,
-- with its order.expired event (civic::outbox). SQLite cannot alter a CHECK constraint, so
-- the orders table is rebuilt with the same columns, rows, indexes and the view that reads
-- it (dossier_payments, 0002), plus an index for the tick's search. Plain statements only:
-- it runs the same under `wrangler d1 migrations apply` (D1) and natively.
-- Times are UTC RFC 3339 with a trailing Z and whole seconds, so text order is time order.

-- The view reads orders: it goes first and comes back last, or the rename below fails.
DROP VIEW dossier_payments;

CREATE TABLE orders_new (
    order_id        TEXT PRIMARY KEY,          -- ours, shown to the citizen's app
    txn_ref         TEXT NOT NULL UNIQUE,      -- sent to the provider and carried back: VNPay
                                               -- vnp_TxnRef, MoMo orderId, ZaloPay app_trans_id
    dossier_code    TEXT NOT NULL,             -- permits.dossiers.code (upper case)
    owner           TEXT NOT NULL,             -- the citizen's JWT `sub`
    provider        TEXT NOT NULL CHECK (provider IN ('vnpay', 'momo', 'zalopay')),
    amount_vnd      INTEGER NOT NULL CHECK (amount_vnd > 0),
    -- pending until a callback settles it (paid) or reports a failure (failed), or the tick
    -- finds it past expires_at (expired); a successful callback settles a failed or expired
    -- order too (the bank took the money).
    state           TEXT NOT NULL CHECK (state IN ('pending', 'paid', 'failed', 'expired')),
    payment_url     TEXT,                      -- where the app sends the citizen (VNPay)
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,             -- 15 minutes after created_at
    paid_at         TEXT,
    provider_txn_id TEXT,                      -- the provider's transaction id, once settled
    settled_by      TEXT,                      -- callbacks.id of the callback that settled it
    UNIQUE (provider, provider_txn_id)
) STRICT;

INSERT INTO orders_new (order_id, txn_ref, dossier_code, owner, provider, amount_vnd, state, payment_url,
                        created_at, expires_at, paid_at, provider_txn_id, settled_by)
    SELECT order_id, txn_ref, dossier_code, owner, provider, amount_vnd, state, payment_url,
           created_at, expires_at, paid_at, provider_txn_id, settled_by
    FROM orders;

DROP TABLE orders;

ALTER TABLE orders_new RENAME TO orders;

CREATE INDEX orders_dossier ON orders (dossier_code, state);
CREATE INDEX orders_paid_at ON orders (paid_at) WHERE state = 'paid';
-- The tick's search: pending orders by expiry.
CREATE INDEX orders_pending_expiry ON orders (expires_at) WHERE state = 'pending';

-- As in 0002: what the paid orders of each dossier add up to.
CREATE VIEW dossier_payments (dossier_code, paid_vnd) AS
    SELECT dossier_code, SUM(amount_vnd) FROM orders WHERE state = 'paid' GROUP BY dossier_code;
