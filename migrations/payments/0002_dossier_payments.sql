-- What the paid orders of each dossier add up to: the one definition of "paid" for a
-- dossier's fee. payment-callback (is anything left to pay before a new order) and
-- permit-status (is the fee paid) both read this view, so neither spells out the orders
-- table's states; a dossier without a paid order has no row (read it as 0).

CREATE VIEW dossier_payments (dossier_code, paid_vnd) AS
    SELECT dossier_code, SUM(amount_vnd) FROM orders WHERE state = 'paid' GROUP BY dossier_code;
