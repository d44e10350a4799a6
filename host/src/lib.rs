//! `civic-host`: a local, Spin-compatible host for the citizen-service functions.
//!
//! It reads a Spin manifest (`spin.toml`, version 2) and runtime config, applies the SQLite
//! migrations of every database a component uses, compiles each component once with wasmtime
//! (or loads it from wasmtime's compilation cache, keyed by the component's contents), and
//! serves HTTP/1.1 the way `spin up` does: same routing, same `spin-*` request headers,
//! `fermyon:spin/sqlite@2.0.0` and `fermyon:spin/variables@2.0.0` on real SQLite files and
//! `SPIN_VARIABLE_*` environment variables, and outbound HTTP limited to each component's
//! `allowed_outbound_hosts`.
//!
//! Modules: [`cli`] (arguments), [`manifest`], [`runtime_config`], [`routes`], [`variables`],
//! [`outbound`], [`sqlite`], [`app`] (loading), [`server`] (serving), [`scheduler`] (ticks).

// The workspace forbids `Instant::now`/`SystemTime::now` because they panic on Cloudflare
// Workers; this crate is a native program that measures request durations, so it may.
#![allow(clippy::disallowed_methods)]

pub mod app;
pub mod bindings;
pub mod cli;
pub mod manifest;
pub mod outbound;
pub mod routes;
pub mod runtime_config;
pub mod scheduler;
pub mod server;
pub mod sqlite;
pub mod variables;
