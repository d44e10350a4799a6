-- payments: fee payment orders for dossiers and every callback the banks and wallets sent.
-- Written by payment-callback only; read by permit-status (is a dossier's fee paid: the paid
-- orders of its code add up to the fee). Times are UTC RFC 3339 with a trailing Z and whole
-- seconds, so text order is time order.

CREATE TABLE orders (
    order_id        TEXT PRIMARY KEY,          -- ours, shown to the citizen's app
    txn_ref         TEXT NOT NULL UNIQUE,      -- sent to the provider and carried back: VNPay
                                               -- vnp_TxnRef, MoMo orderId, ZaloPay app_trans_id
    dossier_code    TEXT NOT NULL,             -- permits.dossiers.code (upper case)
    owner           TEXT NOT NULL,             -- the citizen's JWT `sub`
    provider        TEXT NOT NULL CHECK (provider IN ('vnpay', 'momo', 'zalopay')),
    amount_vnd      INTEGER NOT NULL CHECK (amount_vnd > 0),
    -- pending until a callback settles it (paid) or reports a failure (failed); a successful
    -- callback settles a failed or expired order too. "expired" is pending past expires_at.
    state           TEXT NOT NULL CHECK (state IN ('pending', 'paid', 'failed')),
    payment_url     TEXT,                      -- where the app sends the citizen (VNPay)
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    paid_at         TEXT,
    provider_txn_id TEXT,                      -- the provider's transaction id, once settled
    settled_by      TEXT,                      -- callbacks.id of the callback that settled it
    UNIQUE (provider, provider_txn_id)
) STRICT;

CREATE INDEX orders_dossier ON orders (dossier_code, state);
CREATE INDEX orders_paid_at ON orders (paid_at) WHERE state = 'paid';

-- Every callback, stored raw before it is acknowledged, whatever its signature; `outcome` is
-- what it was answered (NULL only if processing stopped between storing and answering).
CREATE TABLE callbacks (
    id              TEXT PRIMARY KEY,
    provider        TEXT NOT NULL,
    received_at     TEXT NOT NULL,
    params          TEXT NOT NULL,             -- the query string or the body, as received
    signature_valid INTEGER NOT NULL CHECK (signature_valid IN (0, 1)),
    txn_ref         TEXT,
    provider_txn_id TEXT,
    amount_vnd      INTEGER,
    success         INTEGER CHECK (success IN (0, 1)),
    outcome         TEXT,                      -- settled, already_settled, failure_recorded, ...
    order_id        TEXT
) STRICT;

CREATE INDEX callbacks_txn_ref ON callbacks (txn_ref);
