//! Outbound HTTP (`wasi:http/outgoing-handler`) limited to a component's
//! `allowed_outbound_hosts`, with Spin's pattern syntax.
//!
//! An entry is `scheme://host[:port]`:
//! - scheme: a name (`https`) or `*` for any;
//! - host: a name or IP (`api.example.com`, `127.0.0.1`, `[::1]`), `*` for any, `*.example.com`
//!   for any subdomain (not `example.com` itself), a CIDR range (`10.0.0.0/8`), or `self`
//!   (Spin's relative self-requests, which never match an absolute URL here);
//! - port: a number, a range `8000..8080` (end excluded), `*` for any; left out it means the
//!   scheme's well-known port (80 for http, 443 for https).
//!
//! Entries may use `{{ variable }}` templates over application variables; they are resolved at
//! start. An empty list allows nothing. A denied request fails with the wasi-http error code
//! `HTTP-request-denied` (and a hint on stderr); allowed ones go to wasmtime-wasi-http's
//! default sender, except those for local service chaining.
//!
//! # Local service chaining
//!
//! As in Spin (3.x and 4.0: `parse_service_chaining_target` in
//! `crates/outbound-networking-config`, `OutboundHttpInterceptor` in `crates/trigger-http`):
//! - a request whose host is `<id>.spin.internal` (the first label, then exactly
//!   `spin.internal`, compared as written) goes in-process to the component `<id>` of the same
//!   application, whatever its scheme and port; only the allow list looks at those;
//! - the allow list is checked first, like any request's. `http://*.spin.internal` stands for
//!   `http://<id>.spin.internal` for every component of the application (Spin expands it when it
//!   loads the list), so it allows no other name; `http://food-safety.spin.internal` allows
//!   that one (port 80, the scheme's, like any entry without a port);
//! - a request the list allows to an id that is no HTTP component of the application makes the
//!   calling component trap (Spin: `unknown routing destination`, raised as a trap, not as an
//!   error code; here at `handle`, on Spin when the guest takes the response); a denied one
//!   fails with `HTTP-request-denied` as usual;
//! - the target runs as for a request from outside (see [`crate::server::handle_chained`]):
//!   fresh instance, its own configuration, its own request line in the log. Spin drops the
//!   `Host` header from the outgoing request; the target sees the authority in the request URI.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use ipnet::IpNet;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi_http::p2::bindings::http::outgoing_handler;
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme as WasiScheme};
use wasmtime_wasi_http::p2::types::{HostFutureIncomingResponse, HostOutgoingRequest};
use wasmtime_wasi_http::p2::{HttpError as WasiHttpError, HttpResult};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks, WasiHttpView};

use crate::app::App;
use crate::server::RequestState;

/// The domain of Spin's local service chaining: `http://<component-id>.spin.internal/...`.
pub const SERVICE_CHAINING_DOMAIN: &str = "spin.internal";

/// The component a host name (or `Host` header value, port allowed) chains to, read the way
/// Spin reads it: the first label of a name whose rest is exactly `spin.internal`.
/// `food-safety.spin.internal` gives `food-safety`; `a.b.spin.internal` and `spin.internal`
/// give nothing.
pub fn service_chaining_target(host: &str) -> Option<&str> {
    let host = host.trim();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let (first, rest) = host.split_once('.')?;
    (rest == SERVICE_CHAINING_DOMAIN).then_some(first)
}

/// Which schemes an entry allows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum SchemePattern {
    Any,
    Exact(String),
}

/// Which hosts an entry allows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.example.com`, stored as `.example.com`.
    Subdomain(String),
    Exact(String),
    Cidr(IpNet),
    ToSelf,
}

/// Which ports an entry allows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PortPattern {
    Any,
    Port(u16),
    /// `start..end`, end excluded (as in Spin).
    Range(u16, u16),
}

/// One parsed `allowed_outbound_hosts` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    original: String,
    scheme: SchemePattern,
    host: HostPattern,
    port: PortPattern,
}

impl fmt::Display for AllowedHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" => Some(80),
        "https" => Some(443),
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        _ => None,
    }
}

/// `*`, or a name of letters only (kept lower-case).
fn parse_scheme(url: &str, scheme: &str) -> Result<SchemePattern, String> {
    if scheme == "*" {
        Ok(SchemePattern::Any)
    } else if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphabetic()) {
        Ok(SchemePattern::Exact(scheme.to_ascii_lowercase()))
    } else {
        Err(format!("{url:?}: scheme {scheme:?} must be letters only or '*'"))
    }
}

/// Splits what follows `scheme://` into the host (an IPv6 address without its brackets) and
/// the port (empty when left out); a trailing `/` is dropped, any other path refused. A CIDR
/// range keeps its `/` (`10.0.0.0/8:*`).
fn split_host_port<'a>(url: &str, rest: &'a str) -> Result<(&'a str, &'a str), String> {
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (h, after) = inner.split_once(']').ok_or_else(|| format!("{url:?}: unclosed '['"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => p,
            None if after.is_empty() || after == "/" => "",
            None => return Err(format!("{url:?}: unexpected {after:?} after the IPv6 address")),
        };
        (h, port)
    } else {
        rest.rsplit_once(':').unwrap_or((rest, ""))
    };
    let port = match port.split_once('/') {
        Some((_, path)) if !path.is_empty() => return Err(format!("{url:?} has a path but is not allowed to")),
        Some((p, _)) => p,
        None => port,
    };
    Ok((host, port))
}

/// `*`, `self`, a CIDR range, `*.domain`, or an exact name or address (kept lower-case).
fn parse_host(url: &str, host: &str) -> Result<HostPattern, String> {
    if host == "*" {
        return Ok(HostPattern::Any);
    }
    if host == "self" {
        return Ok(HostPattern::ToSelf);
    }
    if let Ok(net) = host.parse::<IpNet>() {
        return Ok(HostPattern::Cidr(net));
    }
    let host = host.trim_end_matches('/');
    if host.contains('/') {
        return Err(format!("{url:?}: hosts must not contain paths"));
    }
    if let Some(domain) = host.strip_prefix("*.") {
        if domain.contains('*') || domain.is_empty() {
            return Err(format!("{url:?}: wildcards are allowed only as a leading '*.'"));
        }
        Ok(HostPattern::Subdomain(format!(".{}", domain.to_ascii_lowercase())))
    } else if host.contains('*') {
        Err(format!("{url:?}: wildcards are allowed only as subdomains ('*.example.com')"))
    } else if host.is_empty() {
        Err(format!("{url:?} has no host"))
    } else {
        Ok(HostPattern::Exact(host.to_ascii_lowercase()))
    }
}

/// `*`, a number, a range `a..b`, or nothing: the scheme's well-known port.
fn parse_port(url: &str, scheme: &str, port: &str) -> Result<PortPattern, String> {
    if port.is_empty() {
        return well_known_port(scheme)
            .map(PortPattern::Port)
            .ok_or_else(|| format!("{url:?}: no port was provided and the scheme {scheme:?} has no well-known port"));
    }
    if port == "*" {
        return Ok(PortPattern::Any);
    }
    if let Some((a, b)) = port.split_once("..") {
        let number = |n: &str| n.parse().map_err(|_| format!("{url:?}: port range {port:?} is not numeric"));
        return Ok(PortPattern::Range(number(a)?, number(b)?));
    }
    port.parse().map(PortPattern::Port).map_err(|_| format!("{url:?}: port {port:?} is not a number"))
}

impl AllowedHost {
    /// Parses one entry (templates already resolved): its scheme, host and port, each by
    /// the rules of the module header.
    pub fn parse(entry: &str) -> Result<AllowedHost, String> {
        let url = entry.trim();
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| format!("{url:?} does not contain a scheme (e.g., 'http://' or '*://')"))?;
        let scheme_pat = parse_scheme(url, scheme)?;
        let (host_part, port_part) = split_host_port(url, rest)?;
        let host = parse_host(url, host_part.trim())?;
        let port = parse_port(url, scheme, port_part)?;
        Ok(AllowedHost { original: entry.to_owned(), scheme: scheme_pat, host, port })
    }

    /// Whether a request to `scheme://host:port` is allowed by this entry.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let scheme_ok = match &self.scheme {
            SchemePattern::Any => true,
            SchemePattern::Exact(s) => s.eq_ignore_ascii_case(scheme),
        };
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Subdomain(suffix) => bare.to_ascii_lowercase().ends_with(suffix.as_str()),
            HostPattern::Exact(h) => h.trim_start_matches('[').trim_end_matches(']').eq_ignore_ascii_case(bare),
            HostPattern::Cidr(net) => bare.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip)),
            HostPattern::ToSelf => false,
        };
        let port_ok = match self.port {
            PortPattern::Any => true,
            _ => match port.or_else(|| well_known_port(&scheme.to_ascii_lowercase())) {
                None => false,
                Some(p) => match self.port {
                    PortPattern::Port(q) => p == q,
                    PortPattern::Range(a, b) => (a..b).contains(&p),
                    PortPattern::Any => true,
                },
            },
        };
        scheme_ok && host_ok && port_ok
    }
}

/// A component's whole `allowed_outbound_hosts` list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts(Vec<AllowedHost>);

impl AllowedHosts {
    /// Parses a list, expanding `{{ variable }}` templates against application variables.
    pub fn parse(entries: &[String], app_vars: &BTreeMap<String, String>) -> Result<AllowedHosts, String> {
        if entries.len() == 1 && entries[0] == "insecure:allow-all" {
            return Err("'insecure:allow-all' is not allowed - use '*://*:*' to allow all outbound traffic".into());
        }
        entries
            .iter()
            .map(|e| {
                let resolved = crate::variables::resolve_template(e, app_vars)?;
                AllowedHost::parse(&resolved)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(AllowedHosts)
    }

    /// Checks each entry against the variables' `defaults` as Spin (3.4 and later) does when
    /// it loads an application: an entry whose variables all have a default must make a valid
    /// host with those defaults, even when the values in force are others. So a default that
    /// would not load on a genuine Spin (an empty one) does not load here either.
    pub fn check_defaults(entries: &[String], defaults: &BTreeMap<String, String>) -> Result<(), String> {
        for entry in entries {
            let parts = crate::variables::parse_template(entry)?;
            let all_defaulted = parts.iter().all(|p| match p {
                crate::variables::Part::Variable(name) => defaults.contains_key(name),
                crate::variables::Part::Literal(_) => true,
            });
            if all_defaulted {
                AllowedHosts::parse(std::slice::from_ref(entry), defaults).map_err(|e| {
                    format!("using default variable value(s) with template {entry:?} results in invalid config: {e}")
                })?;
            }
        }
        Ok(())
    }

    /// Replaces each `*.spin.internal` entry by one entry per component of the application
    /// (`<id>.spin.internal`, same scheme and port), as Spin does when it loads the list: the
    /// wildcard allows chaining to the application's components and to nothing else.
    pub fn expand_service_chaining(self, component_ids: &[&str]) -> AllowedHosts {
        let wildcard = format!(".{SERVICE_CHAINING_DOMAIN}");
        let expanded = self
            .0
            .into_iter()
            .flat_map(|entry| match &entry.host {
                HostPattern::Subdomain(suffix) if *suffix == wildcard => component_ids
                    .iter()
                    .map(|id| AllowedHost {
                        host: HostPattern::Exact(format!("{}{wildcard}", id.to_ascii_lowercase())),
                        ..entry.clone()
                    })
                    .collect::<Vec<_>>(),
                _ => vec![entry],
            })
            .collect();
        AllowedHosts(expanded)
    }

    /// Whether any entry allows `scheme://host[:port]`.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        self.0.iter().any(|h| h.allows(scheme, host, port))
    }

    /// Whether an absolute request URI is allowed.
    pub fn allows_uri(&self, uri: &http::Uri) -> bool {
        match (uri.scheme_str(), uri.host()) {
            (Some(scheme), Some(host)) => self.allows(scheme, host, uri.port_u16()),
            _ => false,
        }
    }
}

/// The `wasi:http` hooks of one request's store: checks outbound requests against the
/// component's allow list, then chains those for `*.spin.internal` to the application's
/// components and sends the others the default way.
pub struct OutboundHooks {
    pub component: Arc<str>,
    pub allowed: Arc<AllowedHosts>,
    /// The application, for service chaining; `None` for a store outside a serving host (such
    /// a store sends `*.spin.internal` requests to the network, where they fail).
    pub app: Option<Arc<App>>,
}

type SendResult = Result<(http::Response<WasiBody>, Box<dyn Future<Output = Result<(), HttpError>> + Send>), HttpError>;

impl OutboundHooks {
    fn deny(&self, uri: &http::Uri) {
        let scheme = uri.scheme_str().unwrap_or("http");
        let authority = uri.authority().map(|a| a.as_str()).unwrap_or("");
        eprintln!(
            "component {:?} tried an HTTP request to {scheme}://{authority}, which is not allowed; \
             to allow it add \"{scheme}://{authority}\" to allowed_outbound_hosts of [component.{}]",
            self.component, self.component
        );
    }

    /// The chaining target of an outgoing request that the allow list lets through but that
    /// names no HTTP component of the application: the request Spin answers with a trap.
    fn unknown_chaining_target(&self, req: &HostOutgoingRequest) -> Option<String> {
        let app = self.app.as_ref()?;
        let authority: http::uri::Authority = req.authority.as_deref()?.parse().ok()?;
        let target = service_chaining_target(authority.host())?;
        let scheme = match &req.scheme {
            Some(WasiScheme::Http) => "http",
            // wasmtime-wasi-http's default scheme, for a request that sets none
            Some(WasiScheme::Https) | None => "https",
            Some(WasiScheme::Other(s)) => s.as_str(),
        };
        let allowed = self.allowed.allows(scheme, authority.host(), authority.port_u16());
        (allowed && !app.components.contains_key(target)).then(|| target.to_owned())
    }
}

impl WasiHttpHooks for OutboundHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        drop(fut);
        let uri = request.uri();
        if !self.allowed.allows_uri(uri) {
            self.deny(uri);
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        if let (Some(app), Some(target)) = (&self.app, uri.host().and_then(service_chaining_target)) {
            let (app, target) = (app.clone(), target.to_owned());
            return Box::new(async move {
                let (mut parts, body) = request.into_parts();
                // As Spin: the outgoing request loses its `Host` header (wasmtime-wasi-http sets
                // it from the authority); the target reads the authority from the URI.
                parts.headers.remove(http::header::HOST);
                let request = http::Request::from_parts(parts, body);
                match crate::server::handle_chained(&app, &target, request).await {
                    Some(resp) => {
                        use http_body_util::BodyExt;
                        let resp = resp.map(|body| body.map_err(HttpError::from).boxed_unsync());
                        Ok((resp, Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>))
                    }
                    // `handle` below traps first; this is for a store without that check.
                    None => Err(HttpError::InternalError(Some(format!("unknown routing destination {target:?}")))),
                }
            });
        }
        Box::new(async move {
            use http_body_util::BodyExt;
            let (res, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            Ok((res.map(BodyExt::boxed_unsync), Box::new(io) as Box<dyn Future<Output = _> + Send>))
        })
    }
}

/// The `wasi:http/outgoing-handler` instance of wasmtime-wasi-http's `wasi:http` (its WIT
/// version): [`add_outgoing_handler_to_linker`] replaces its `handle` there.
const OUTGOING_HANDLER: &str = "wasi:http/outgoing-handler@0.2.12";

/// Replaces wasmtime-wasi-http's `wasi:http/outgoing-handler.handle` (already in `linker`) by
/// [`outgoing_handle`]. wasmtime-wasi-http's hooks can only answer error codes, and its
/// generated `Host` traits cannot be implemented for one function alone, hence a function
/// defined by hand, with the same signature.
pub fn add_outgoing_handler_to_linker(linker: &mut Linker<RequestState>) -> wasmtime::Result<()> {
    type Params = (Resource<HostOutgoingRequest>, Option<Resource<RequestOptions>>);
    type Results = (Result<Resource<HostFutureIncomingResponse>, ErrorCode>,);
    linker.allow_shadowing(true);
    let defined = linker.instance(OUTGOING_HANDLER).and_then(|mut instance| {
        instance.func_wrap(
            "handle",
            |mut store: StoreContextMut<'_, RequestState>, (request, options): Params| -> wasmtime::Result<Results> {
                match outgoing_handle(store.data_mut(), request, options) {
                    Ok(future) => Ok((Ok(future),)),
                    Err(e) => e.downcast().map(|code| (Err(code),)),
                }
            },
        )
    });
    linker.allow_shadowing(false);
    defined
}

/// `wasi:http/outgoing-handler.handle`: wasmtime-wasi-http's, except that a request the allow
/// list lets through to `<id>.spin.internal` for an `<id>` that is no HTTP component of the
/// application traps, as on Spin (its interceptor fails with `unknown routing destination`,
/// which reaches the guest as a trap when it takes the response).
fn outgoing_handle(
    state: &mut RequestState,
    request: Resource<HostOutgoingRequest>,
    options: Option<Resource<RequestOptions>>,
) -> HttpResult<Resource<HostFutureIncomingResponse>> {
    if let Some(target) = state.hooks.unknown_chaining_target(state.table.get(&request)?) {
        return Err(WasiHttpError::trap(wasmtime::format_err!(
            "component {:?} made a request to {target}.{SERVICE_CHAINING_DOMAIN}, but the application \
             has no HTTP component {target:?} (unknown routing destination)",
            state.component.id
        )));
    }
    outgoing_handler::Host::handle(&mut state.http(), request, options)
}

#[cfg(test)]
mod tests {
    #[test]
    fn defaults_must_make_valid_hosts_as_on_spin() {
        let defaults: BTreeMap<String, String> =
            [("s3_endpoint", "https://s3.invalid"), ("empty", "")].map(|(k, v)| (k.to_owned(), v.to_owned())).into();
        let entries = |e: &[&str]| e.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(AllowedHosts::check_defaults(&entries(&["{{ s3_endpoint }}", "https://x.vn"]), &defaults), Ok(()));
        let err = AllowedHosts::check_defaults(&entries(&["{{ empty }}"]), &defaults).unwrap_err();
        assert!(err.contains("using default variable value(s)"), "{err}");
        // a variable without a default (required) is checked only with its value in force
        assert_eq!(AllowedHosts::check_defaults(&entries(&["{{ required_one }}"]), &defaults), Ok(()));
    }

    use super::*;

    fn hosts(entries: &[&str]) -> AllowedHosts {
        let entries: Vec<String> = entries.iter().map(|s| (*s).to_owned()).collect();
        AllowedHosts::parse(&entries, &BTreeMap::new()).expect("entries parse")
    }

    /// (entries, scheme, host, port, allowed)
    type Case<'a> = (&'a [&'a str], &'a str, &'a str, Option<u16>, bool);

    #[test]
    fn pattern_matching_table() {
        let table: &[Case<'_>] = &[
            (&["https://api.example.com"], "https", "api.example.com", None, true),
            (&["https://api.example.com"], "https", "api.example.com", Some(443), true),
            (&["https://api.example.com"], "https", "API.Example.com", None, true),
            (&["https://api.example.com"], "http", "api.example.com", None, false),
            (&["https://api.example.com"], "https", "api.example.com", Some(8443), false),
            (&["https://api.example.com"], "https", "evil.com", None, false),
            (&["https://api.example.com"], "https", "api.example.com.evil.com", None, false),
            (&["https://api.example.com/"], "https", "api.example.com", None, true),
            (&["http://127.0.0.1:8080"], "http", "127.0.0.1", Some(8080), true),
            (&["http://127.0.0.1:8080"], "http", "127.0.0.1", Some(8081), false),
            (&["http://127.0.0.1:8080"], "http", "127.0.0.1", None, false),
            (&["http://localhost:*"], "http", "localhost", Some(12345), true),
            (&["http://localhost:*"], "http", "localhost", None, true),
            (&["http://localhost:*"], "https", "localhost", Some(1), false),
            (&["http://localhost:*"], "http", "127.0.0.1", Some(1), false),
            (&["https://*.example.com"], "https", "a.example.com", None, true),
            (&["https://*.example.com"], "https", "a.b.example.com", None, true),
            (&["https://*.example.com"], "https", "example.com", None, false),
            (&["https://*.example.com"], "https", "badexample.com", None, false),
            (&["*://*:*"], "http", "anything.test", Some(1), true),
            (&["*://*:*"], "https", "10.1.2.3", None, true),
            (&["*://api.example.com:443"], "http", "api.example.com", Some(443), true),
            (&["http://10.0.0.0/8:*"], "http", "10.20.30.40", Some(9), true),
            (&["http://10.0.0.0/8:*"], "http", "11.0.0.1", Some(9), false),
            (&["http://10.1.2.3/8:*"], "http", "10.200.0.1", Some(9), true),
            (&["http://10.0.0.0/8:*"], "http", "[::ffff:10.0.0.1]", Some(9), false),
            (&["http://192.168.1.0/24:80"], "http", "192.168.1.255", Some(80), true),
            (&["http://192.168.1.0/24:80"], "http", "192.168.2.1", Some(80), false),
            (&["http://0.0.0.0/0:*"], "http", "8.8.8.8", Some(1), true),
            (&["http://[fd00::/8]:*"], "http", "[fd12::1]", Some(1), true),
            (&["http://[fd00::/8]:*"], "http", "[fe80::1]", Some(1), false),
            (&["http://[::1]:8080"], "http", "[::1]", Some(8080), true),
            (&["http://[::1]"], "http", "[::1]", None, true),
            (&["http://localhost:8000..8080"], "http", "localhost", Some(8000), true),
            (&["http://localhost:8000..8080"], "http", "localhost", Some(8080), false),
            (&["http://self"], "http", "self", None, false),
            (&[], "https", "api.example.com", None, false),
            (&["https://a.test", "http://b.test:81"], "http", "b.test", Some(81), true),
            (&["https://a.test", "http://b.test:81"], "http", "a.test", None, false),
        ];
        for (entries, scheme, host, port, want) in table {
            let got = hosts(entries).allows(scheme, host, *port);
            assert_eq!(got, *want, "{entries:?} vs {scheme}://{host}:{port:?}");
        }
    }

    #[test]
    fn uris() {
        let h = hosts(&["http://127.0.0.1:*"]);
        let ok: http::Uri = "http://127.0.0.1:9999/x?y=1".parse().expect("uri");
        let no: http::Uri = "https://127.0.0.1:9999/x".parse().expect("uri");
        let rel: http::Uri = "/x".parse().expect("uri");
        assert!(h.allows_uri(&ok));
        assert!(!h.allows_uri(&no));
        assert!(!h.allows_uri(&rel));
    }

    #[test]
    fn bad_entries() {
        for bad in [
            "api.example.com",
            "https://api.example.com/path",
            "https://*.*.example.com",
            "https://api*.example.com",
            "ftp2://x.test:1",
            "*://x.test",
            "https://x.test:http",
            "insecure:allow-all",
            "http://10.0.0.0/33:*",
        ] {
            assert!(AllowedHosts::parse(&[bad.to_owned()], &BTreeMap::new()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn service_chaining_targets_as_spin_reads_them() {
        for (host, want) in [
            ("food-safety.spin.internal", Some("food-safety")),
            ("food-safety.spin.internal:8080", Some("food-safety")),
            (" chat.spin.internal ", Some("chat")),
            ("a.b.spin.internal", None),
            ("spin.internal", None),
            ("food-safety.spin.internal.evil.com", None),
            ("food-safety.SPIN.internal", None),
            ("food-safety.example.com", None),
            ("127.0.0.1", None),
            ("[::1]", None),
        ] {
            assert_eq!(service_chaining_target(host), want, "{host:?}");
        }
    }

    fn app_hosts(entries: &[&str]) -> AllowedHosts {
        hosts(entries).expand_service_chaining(&["food-safety", "chat", "report-submission"])
    }

    #[test]
    fn service_chaining_entries_table() {
        let table: &[Case<'_>] = &[
            // the wildcard: every component of the application, over http on port 80
            (&["http://*.spin.internal"], "http", "food-safety.spin.internal", None, true),
            (&["http://*.spin.internal"], "http", "food-safety.spin.internal", Some(80), true),
            (&["http://*.spin.internal"], "http", "report-submission.spin.internal", None, true),
            (&["http://*.spin.internal"], "http", "Food-Safety.spin.internal", None, true),
            (&["http://*.spin.internal"], "http", "nope.spin.internal", None, false),
            (&["http://*.spin.internal"], "http", "a.food-safety.spin.internal", None, false),
            (&["http://*.spin.internal"], "http", "spin.internal", None, false),
            (&["http://*.spin.internal"], "http", "food-safety.spin.internal", Some(8080), false),
            (&["http://*.spin.internal"], "https", "food-safety.spin.internal", None, false),
            (&["http://*.spin.internal:*"], "http", "chat.spin.internal", Some(3000), true),
            (&["*://*.spin.internal:*"], "https", "chat.spin.internal", Some(443), true),
            // one component
            (&["http://food-safety.spin.internal"], "http", "food-safety.spin.internal", None, true),
            (&["http://food-safety.spin.internal"], "http", "chat.spin.internal", None, false),
            (&["http://food-safety.spin.internal"], "https", "food-safety.spin.internal", None, false),
            (&["http://food-safety.spin.internal"], "http", "food-safety.spin.internal", Some(81), false),
            // an entry naming no component still allows its name (the request then traps)
            (&["http://nope.spin.internal"], "http", "nope.spin.internal", None, true),
            // other wildcards are not expanded
            (&["http://*.internal"], "http", "nope.spin.internal", None, true),
            (&["*://*:*"], "http", "nope.spin.internal", None, true),
            (&["http://*.example.com"], "http", "chat.spin.internal", None, false),
            (&["http://*.spin.internal", "https://api.example.com"], "https", "api.example.com", None, true),
        ];
        for (entries, scheme, host, port, want) in table {
            let got = app_hosts(entries).allows(scheme, host, *port);
            assert_eq!(got, *want, "{entries:?} vs {scheme}://{host}:{port:?}");
        }
        // Without components the wildcard allows nothing.
        let none = hosts(&["http://*.spin.internal"]).expand_service_chaining(&[]);
        assert!(!none.allows("http", "chat.spin.internal", None));
        let uri: http::Uri = "http://food-safety.spin.internal/food-safety/command".parse().expect("uri");
        assert!(app_hosts(&["http://*.spin.internal"]).allows_uri(&uri));
    }

    #[test]
    fn templates_resolve_against_app_variables() {
        let vars: BTreeMap<String, String> = [("api_host".to_owned(), "api.example.com".to_owned())].into();
        let h = AllowedHosts::parse(&["https://{{ api_host }}".to_owned()], &vars).expect("parses");
        assert!(h.allows("https", "api.example.com", None));
        assert!(AllowedHosts::parse(&["https://{{ nope }}".to_owned()], &vars).is_err());
    }
}
