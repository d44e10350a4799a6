//! `civic`: what every citizen-service function shares.
//!
//! - [`platform`]: the port to the runtime (SQL, config, clock, randomness, outbound HTTP)
//!   with its Spin, Workers and native adapters;
//! - [`auth`]: bearer JWT verification and webhook signature helpers;
//! - [`command`]: the signed `POST <prefix>/command` contract between chat, SMS and the
//!   function that owns each answer;
//! - [`dossier`]: the national dossier code, shared by permit-status and payment-callback;
//! - [`geo`]: great-circle distances and the bounding box of a radius;
//! - [`error`]: one error type, rendered as RFC 9457 problem+json in Vietnamese or English;
//! - [`objects`]: object storage (photos) on the runtime's bucket, S3 or the database;
//! - [`outbox`]: events written with the change they report, delivered at least once;
//! - [`phone`]: Vietnamese phone numbers (plausible, the same line);
//! - [`sms`]: the SMS gateway's webhook contract (signature, store before answer, replay);
//! - [`text`]: Vietnamese text folding for search, and SMS rendering;
//! - [`validate`]: JSON body validation that names every bad field at once;
//! - [`web`]: small helpers on `http` types (JSON responses, body caps, query strings);
//! - [`webhooks`]: outbound webhooks signed the Standard Webhooks way.

pub mod auth;
pub mod command;
pub mod csv;
#[cfg(not(target_arch = "wasm32"))]
pub mod demo;
pub mod district;
pub mod dossier;
pub mod error;
pub mod geo;
pub mod limit;
pub mod log;
pub mod objects;
pub mod outbox;
pub mod phone;
pub mod platform;
pub mod retention;
pub mod sms;
#[cfg(not(target_arch = "wasm32"))]
pub mod testing;
pub mod text;
pub mod validate;
pub mod web;
pub mod webhooks;

pub use error::{Error, FieldError, Lang, Msg, Result};
pub use platform::Platform;
