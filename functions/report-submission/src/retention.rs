//! The personal data the `reports` database keeps, and for how long ([`civic::retention`]):
//! [`KINDS`], removed or pseudonymised by the tick, shown by `GET /reports/retention`.

use civic::retention::{Kind, NOTIFICATIONS, SMS_MESSAGES};

/// A closed report's reporter: name, phone, JWT subject and chat user, cleared once the
/// report has been closed (resolved or rejected, `closed_at`) for the period. The report
/// itself (category, place, text, photos, times, agency, rating) stays, so the statistics
/// and the public view answer as before; only "who sent it" goes. Until then the reporter
/// can rate the answer (`DG`, the rating route, both check the reporter) and the agency can
/// call back. Ninety days: the time the Law on Complaints (2011, art. 9) gives to complain
/// about an administrative answer, during which the agency may need to reach the citizen.
pub const REPORTER_CONTACT: Kind = Kind {
    name: "reporter_contact",
    purged: "reporter_contact_cleared",
    default: "90d",
    minimum: "1d",
    holds: "reporters' name, phone, JWT subject and chat user, on closed reports",
    oldest: "SELECT min(closed_at) AS oldest FROM reports
             WHERE closed_at IS NOT NULL
               AND (reporter_sub IS NOT NULL OR reporter_name IS NOT NULL OR reporter_phone IS NOT NULL OR channel_user IS NOT NULL)",
    purge: &["UPDATE reports SET reporter_sub = NULL, reporter_name = NULL, reporter_phone = NULL, channel_user = NULL
              WHERE code IN (SELECT code FROM reports
                  WHERE closed_at IS NOT NULL
                    AND (reporter_sub IS NOT NULL OR reporter_name IS NOT NULL OR reporter_phone IS NOT NULL OR channel_user IS NOT NULL)
                    AND closed_at < ?1
                  ORDER BY closed_at LIMIT ?2)
              RETURNING 1"],
};

/// Idempotency keys of filings (`sub:…`, `phone:…`, `zalo:…` with the client's key): a
/// client retrying a filing within the period gets the report it filed, not a second one.
/// Clients retry within minutes; thirty days covers a phone that was offline for weeks.
pub const IDEMPOTENCY_KEYS: Kind = Kind {
    name: "idempotency_keys",
    purged: "idempotency_keys_purged",
    default: "30d",
    minimum: "1d",
    holds: "idempotency keys of filings (they name the JWT subject, phone or chat user)",
    oldest: "SELECT min(created_at) AS oldest FROM idempotency",
    purge: &["DELETE FROM idempotency WHERE key IN
                  (SELECT key FROM idempotency WHERE created_at < ?1 ORDER BY created_at LIMIT ?2) RETURNING 1"],
};

/// Every kind, in the order the admin route lists them.
pub const KINDS: [Kind; 4] = [REPORTER_CONTACT, SMS_MESSAGES, NOTIFICATIONS, IDEMPOTENCY_KEYS];
