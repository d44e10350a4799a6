//! Test guest of `civic-host`: a spin-sdk 5.2 HTTP component whose routes exercise what the
//! host provides. Built for `wasm32-wasip2` by the host's integration tests; on any other
//! target this crate is empty.
//!
//! Routes (by `spin-path-info`, under whatever wildcard route the manifest gives it):
//! - `/hello`: `hello`, the cheapest possible request;
//! - `/echo` (and an empty path info, for exact routes): the request URI (as spin-sdk parsed
//!   it), method, body, `spin-*` and `x-*` headers, the `Host` header and the `CIVIC_TEST_ENV`
//!   environment variable, as JSON;
//! - `/sqlite?label=L`: creates a table in database `L`, inserts one value of every type,
//!   selects it back, and checks `BEGIN`/`ROLLBACK` and `BEGIN`/`COMMIT`;
//! - `/sqlite/open?label=L`: opens `L` and reports success or the error;
//! - `/var?name=N`: the variable `N` or the error;
//! - `/outbound?url=U[&method=POST|PUT]`: send `U` this request's body (GET by default) with
//!   header `x-test: chained`, and report the status, `x-*` and `content-type` headers, body and
//!   body length, or the error;
//! - `/respond?status=S[&body=B]`: answer status `S` with body `B` (else the request's body)
//!   and headers `x-from` (`CIVIC_TEST_ENV`) and `x-method`;
//! - `/trap`: panics.

// The SDK macro generates the Wasm export, which is `unsafe` by nature.
#[cfg(target_os = "wasi")]
#[allow(unsafe_code)]
mod component;
