-- payments: fee payment orders for dossiers. Written by payment-callback only; read by
-- permit-status (is a dossier's fee paid: the paid orders of its code add up to the fee).
-- Times are UTC RFC 3339 with a trailing Z, so text order is time order.
--
-- The first slice, written with permit-status (issue 3) so the read side has its table;
-- payment-callback (issue 4) owns it and extends it with further numbered migrations.

CREATE TABLE orders (
    order_id        TEXT PRIMARY KEY,
    txn_ref         TEXT NOT NULL UNIQUE,      -- our reference, carried back by the provider
    dossier_code    TEXT NOT NULL,             -- permits.dossiers.code (upper case)
    owner           TEXT NOT NULL,             -- the citizen's JWT `sub`
    provider        TEXT NOT NULL CHECK (provider IN ('vnpay', 'momo', 'zalopay')),
    amount_vnd      INTEGER NOT NULL CHECK (amount_vnd > 0),
    state           TEXT NOT NULL CHECK (state IN ('pending', 'paid', 'failed')),
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    paid_at         TEXT,
    provider_txn_id TEXT                       -- the provider's transaction id, once settled
) STRICT;

CREATE INDEX orders_dossier ON orders (dossier_code, state);
