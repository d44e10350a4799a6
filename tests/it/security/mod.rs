//! The security review, written as checks over HTTP and run against both runtimes, a
//! module per theme:
//!
//! - `tokens`: the bearer-token attack list of `civic::auth` (shared/src/auth/tests.rs), as far as it
//!   makes sense with the e2e settings (HS256 secret, no JWKS), against every route that
//!   takes a bearer token, read from docs/openapi.json at run time so that a new route is
//!   covered without touching this file;
//! - `roles`: every role boundary: citizen, officer of another agency, admin, system;
//! - `callbacks`: forged and replayed partner callbacks and SMS webhooks (what payments.rs, food.rs and
//!   permits.rs do not already cover);
//! - `injection`: SQL and FTS5 metacharacters and oversized values in every text input;
//! - `privacy`: no personal data in any public answer.
//!
//! `fixture` holds what they act on: the bearer routes of docs/openapi.json and the data a
//! legitimate caller makes first.
//!
//! Each function is served by its own `wrangler dev` on Workers and by one host on Spin, so a
//! check gets the five [`Servers`] and sends each request to the function that owns its route.
//! The checks use names, codes and places of their own (`SEC-`, dossiers `000.96.…`, the
//! `sec-` SMS ids, lat 16.10–16.12 / lng 108.05–108.07), away from the other suites'.

mod callbacks;
mod fixture;
mod injection;
mod privacy;
mod roles;
mod tokens;

use std::sync::Arc;

use serde_json::Value;

use crate::harness::{Resp, Server, request};
use callbacks::{
    momo_forgeries_and_replays_settle_once, sms_webhooks_refuse_forgeries_and_answer_redelivery_once,
    vnpay_forgeries_and_replays_settle_nothing_twice, zalopay_forgeries_and_replays_settle_once,
};
use injection::{oversized_fields_are_4xx_never_5xx, sql_and_fts_metacharacters_are_plain_text};
use privacy::no_personal_data_in_public_answers;
use roles::role_boundaries;
use tokens::{every_bearer_route_refuses_every_attack_token, malformed_authorization_headers};

/// The five functions' servers on one runtime (on Spin, five times the same host).
pub struct Servers<'a> {
    pub food: &'a Server,
    pub permits: &'a Server,
    pub payments: &'a Server,
    pub reports: &'a Server,
    pub chat: &'a Server,
}

impl Servers<'_> {
    /// The server of the function that owns `path`.
    pub(crate) fn owner(&self, path: &str) -> Result<&Server, String> {
        let first = path.trim_start_matches('/').split(['/', '?']).next().unwrap_or_default();
        match first {
            "food-safety" => Ok(self.food),
            "permits" => Ok(self.permits),
            "payments" => Ok(self.payments),
            "reports" | "open311" => Ok(self.reports),
            "chat" => Ok(self.chat),
            other => Err(format!("no function owns /{other}: add it to Servers::owner")),
        }
    }

    pub(crate) fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Resp, String> {
        request(&self.owner(path)?.addr, method, path, headers, body)
    }

    /// [`send`](Self::send) of a JSON body with `auth` as its `Authorization`.
    pub(crate) fn send_json(&self, method: &str, path: &str, auth: &str, body: &Value) -> Result<Resp, String> {
        let headers = [("authorization", auth), ("content-type", "application/json")];
        self.send(method, path, &headers, body.to_string().as_bytes())
    }
}

/// The servers of one runtime, from the started servers in `SUITES` order (food-safety,
/// permit-status, payment-callback, report-submission, chat).
pub fn servers(started: &[Result<Arc<Server>, String>]) -> Result<Servers<'_>, String> {
    let at = |i: usize| crate::harness::started_at(started, i);
    Ok(Servers { food: at(0)?, permits: at(1)?, payments: at(2)?, reports: at(3)?, chat: at(4)? })
}

pub type SecurityCheck = fn(&Servers) -> Result<(), String>;

pub const CHECKS: &[(&str, SecurityCheck)] = &[
    ("every_bearer_route_refuses_every_attack_token", every_bearer_route_refuses_every_attack_token),
    ("malformed_authorization_headers", malformed_authorization_headers),
    ("role_boundaries", role_boundaries),
    ("vnpay_forgeries_and_replays_settle_nothing_twice", vnpay_forgeries_and_replays_settle_nothing_twice),
    ("momo_forgeries_and_replays_settle_once", momo_forgeries_and_replays_settle_once),
    ("zalopay_forgeries_and_replays_settle_once", zalopay_forgeries_and_replays_settle_once),
    (
        "sms_webhooks_refuse_forgeries_and_answer_redelivery_once",
        sms_webhooks_refuse_forgeries_and_answer_redelivery_once,
    ),
    ("sql_and_fts_metacharacters_are_plain_text", sql_and_fts_metacharacters_are_plain_text),
    ("oversized_fields_are_4xx_never_5xx", oversized_fields_are_4xx_never_5xx),
    ("no_personal_data_in_public_answers", no_personal_data_in_public_answers),
];
