//! Bearer tokens: the attack list of `civic::auth` (shared/src/auth/tests.rs) on every route
//! that takes a token, and `Authorization` headers that hold no usable token.

use serde_json::{Value, json};

use super::Servers;
use super::fixture::{bearer_routes, body_for, encode_body, fill, fixture, same_snapshot, snapshot};
use crate::harness::{AUDIENCE, HS256_SECRET, ISSUER, is_problem, sign, unix_now};

/// base64url without padding (RFC 4648 §5), as JWTs use it.
fn b64(bytes: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
}

fn b64_json(v: &Value) -> String {
    b64(v.to_string().as_bytes())
}

/// A token with any header and payload, HMAC-SHA256-signed with `secret` over
/// `header.payload` (whatever the header says).
fn hand_signed(header: &Value, payload: &str, secret: &[u8]) -> String {
    let message = format!("{}.{payload}", b64_json(header));
    let key = String::from_utf8_lossy(secret);
    let sig = hex::decode(sign(&key, message.as_bytes())).unwrap_or_default();
    format!("{message}.{}", b64(&sig))
}

/// Claims that would pass every role check: if a forged token carrying them got through,
/// the route would do what it does for its most privileged caller.
fn god_claims() -> Value {
    let now = unix_now();
    json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "sec-attacker", "iat": now, "nbf": now - 5, "exp": now + 600,
        "roles": ["admin", "system", "officer", "citizen"], "agency": "moi-truong", "phone": "0905123456"})
}

pub(super) fn with(mut claims: Value, member: &str, value: Value) -> Value {
    claims[member] = value;
    claims
}

pub(super) fn without(mut claims: Value, member: &str) -> Value {
    if let Some(o) = claims.as_object_mut() {
        o.remove(member);
    }
    claims
}

fn hs256(claims: &Value) -> String {
    hand_signed(&json!({"alg": "HS256", "typ": "JWT"}), &b64_json(claims), HS256_SECRET.as_bytes())
}

const RSA_PUBLIC: &str = include_str!("../../../shared/testdata/auth/rsa-1.public.pem");
const EC_PUBLIC: &str = include_str!("../../../shared/testdata/auth/ec-1.public.pem");
pub(super) const JWKS: &str = include_str!("../../../shared/testdata/auth/jwks.json");

/// The attack list of shared/src/auth/tests.rs that makes sense over HTTP with the e2e
/// settings (HS256 secret, no JWKS): each a token that must be refused with 401.
fn attack_tokens() -> Vec<(&'static str, String)> {
    let god = god_claims();
    let payload = b64_json(&god);
    let none = b64_json(&json!({"alg": "none", "typ": "JWT"}));
    let secret = HS256_SECRET.as_bytes();
    let good = hs256(&god);
    let (good_head_payload, good_sig) = good.rsplit_once('.').unwrap_or((&good, ""));
    let now = unix_now();
    let citizen = hs256(&with(without(god.clone(), "agency"), "roles", json!(["citizen"])));
    let jwk_n = serde_json::from_str::<Value>(JWKS).map(|k| k["keys"][0]["n"].as_str().map(str::to_owned));
    let jwk_n = jwk_n.ok().flatten().unwrap_or_default();
    vec![
        // alg confusion
        ("alg none", format!("{none}.{payload}.")),
        ("alg none with a signature", format!("{none}.{payload}.c2ln")),
        ("alg None", format!("{}.{payload}.", b64_json(&json!({"alg": "None"})))),
        ("alg NONE", format!("{}.{payload}.", b64_json(&json!({"alg": "NONE"})))),
        ("alg none with kid", format!("{}.{payload}.", b64_json(&json!({"alg": "none", "kid": "rsa-1"})))),
        ("HS256 keyed with the RSA public PEM", hand_signed(&json!({"alg": "HS256"}), &payload, RSA_PUBLIC.as_bytes())),
        (
            "HS256 keyed with the RSA public PEM, kid rsa-1",
            hand_signed(&json!({"alg": "HS256", "kid": "rsa-1"}), &payload, RSA_PUBLIC.as_bytes()),
        ),
        (
            "HS256 keyed with the EC public PEM, kid ec-1",
            hand_signed(&json!({"alg": "HS256", "kid": "ec-1"}), &payload, EC_PUBLIC.as_bytes()),
        ),
        (
            "HS256 keyed with the JWK n, kid rsa-1",
            hand_signed(&json!({"alg": "HS256", "kid": "rsa-1"}), &payload, jwk_n.as_bytes()),
        ),
        ("RS256 header over an HS256 signature", hand_signed(&json!({"alg": "RS256"}), &payload, secret)),
        ("ES256 header over an HS256 signature", hand_signed(&json!({"alg": "ES256"}), &payload, secret)),
        ("PS256 header over an HS256 signature", hand_signed(&json!({"alg": "PS256"}), &payload, secret)),
        ("HS384 header over an HS256 signature", hand_signed(&json!({"alg": "HS384"}), &payload, secret)),
        ("HS512 with the secret", {
            let key = jsonwebtoken::EncodingKey::from_secret(secret);
            jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS512), &god, &key)
                .unwrap_or_default()
        }),
        (
            "HS256 with a kid (JWKS only), no JWKS configured",
            hand_signed(&json!({"alg": "HS256", "kid": "hs-1"}), &payload, secret),
        ),
        ("empty kid", hand_signed(&json!({"alg": "HS256", "kid": ""}), &payload, secret)),
        ("embedded jwk header", {
            let jwk = serde_json::from_str::<Value>(JWKS).map(|k| k["keys"][1].clone()).unwrap_or_default();
            format!("{}.{payload}.{good_sig}", b64_json(&json!({"alg": "ES256", "jwk": jwk})))
        }),
        (
            "jku header pointing elsewhere",
            hand_signed(&json!({"alg": "HS256", "jku": "https://evil.example/jwks.json"}), &payload, b"evil"),
        ),
        // keys and signatures
        (
            "wrong HS256 secret",
            hand_signed(&json!({"alg": "HS256"}), &payload, b"another-secret-of-32-bytes-or-more!!"),
        ),
        ("empty HS256 secret", hand_signed(&json!({"alg": "HS256"}), &payload, b"")),
        ("tampered payload (citizen token, admin claims)", {
            let parts: Vec<&str> = citizen.split('.').collect();
            format!("{}.{payload}.{}", parts.first().unwrap_or(&""), parts.get(2).unwrap_or(&""))
        }),
        ("signature from another token", {
            let (_, sig) = citizen.rsplit_once('.').unwrap_or(("", ""));
            format!("{good_head_payload}.{sig}")
        }),
        ("signature cut short", good[..good.len().saturating_sub(4)].to_owned()),
        ("signature empty", format!("{good_head_payload}.")),
        (
            "signature in standard base64",
            format!("{good_head_payload}.{}=", good_sig.replace('-', "+").replace('_', "/")),
        ),
        // claims
        ("expired beyond the leeway", hs256(&with(god.clone(), "exp", json!(now - 120)))),
        ("expired an hour ago", hs256(&with(god.clone(), "exp", json!(now - 3600)))),
        ("exp as a string", hs256(&with(god.clone(), "exp", json!((now + 600).to_string())))),
        ("missing exp", hs256(&without(god.clone(), "exp"))),
        ("nbf in the future", hs256(&with(god.clone(), "nbf", json!(now + 3600)))),
        ("nbf not a number", hs256(&with(god.clone(), "nbf", json!(true)))),
        ("wrong iss", hs256(&with(god.clone(), "iss", json!("https://evil.example")))),
        ("iss with a trailing slash", hs256(&with(god.clone(), "iss", json!(format!("{ISSUER}/"))))),
        ("iss as an array", hs256(&with(god.clone(), "iss", json!([ISSUER])))),
        ("missing iss", hs256(&without(god.clone(), "iss"))),
        ("wrong aud", hs256(&with(god.clone(), "aud", json!("civic-admin")))),
        ("aud differs in case", hs256(&with(god.clone(), "aud", json!(AUDIENCE.to_uppercase())))),
        ("aud array without ours", hs256(&with(god.clone(), "aud", json!(["other"])))),
        ("aud empty array", hs256(&with(god.clone(), "aud", json!([])))),
        ("missing aud", hs256(&without(god.clone(), "aud"))),
        ("missing sub", hs256(&without(god.clone(), "sub"))),
        ("empty sub", hs256(&with(god.clone(), "sub", json!("")))),
        ("sub a number", hs256(&with(god.clone(), "sub", json!(42)))),
        ("roles a number", hs256(&with(god.clone(), "roles", json!(5)))),
        ("roles with a non-string", hs256(&with(god.clone(), "roles", json!(["admin", 1])))),
        ("agency not a string", hs256(&with(god.clone(), "agency", json!({"id": 1})))),
        ("payload not JSON", hand_signed(&json!({"alg": "HS256"}), &b64(b"not json"), secret)),
        ("payload a JSON array", hand_signed(&json!({"alg": "HS256"}), &b64_json(&json!([1, 2])), secret)),
        (
            "duplicate sub claims",
            hand_signed(
                &json!({"alg": "HS256"}),
                &b64(format!(
                    r#"{{"sub":"a","sub":"b","iss":"{ISSUER}","aud":"{AUDIENCE}","exp":{},"roles":["admin"]}}"#,
                    now + 600
                )
                .as_bytes()),
                secret,
            ),
        ),
        ("header not JSON", format!("{}.{payload}.{good_sig}", b64(b"{alg"))),
        // garbage
        ("one word", "garbage".to_owned()),
        ("three dots of nothing", "..".to_owned()),
        ("two parts", good_head_payload.to_owned()),
        ("four parts", format!("{good}.x")),
        ("not base64", "a*b.c*d.e*f".to_owned()),
        ("JWE-shaped", "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d".to_owned()),
        ("large", format!("{}.{}.x", b64_json(&json!({"alg": "HS256"})), "A".repeat(6_000))),
    ]
}

/// Every attack token on every bearer route: 401 problem+json, and nothing changed. The
/// same claims, signed properly, are not refused as unauthenticated (the attacks would
/// otherwise prove nothing).
pub(super) fn every_bearer_route_refuses_every_attack_token(s: &Servers) -> Result<(), String> {
    let routes = bearer_routes()?;
    let f = fixture(s, 1)?;
    let before = snapshot(s, &f)?;
    let mut failures = Vec::new();
    for route in &routes {
        let path = fill(&route.template, &f)?;
        let body = encode_body(&body_for(&route.method, &route.template, &f));
        for (name, token) in attack_tokens() {
            let auth = format!("Bearer {token}");
            let r =
                s.send(&route.method, &path, &[("authorization", &auth), ("content-type", "application/json")], &body)?;
            if let Err(e) = is_problem(&r, 401) {
                failures.push(format!("{} {path}, {name}: {e}", route.method));
            }
        }
    }
    ensure!(failures.is_empty(), "{} refusals missing:\n{}", failures.len(), failures.join("\n"));
    same_snapshot(&before, &snapshot(s, &f)?)?;
    // The control: the god claims, properly signed, pass authentication on every route (a
    // body that does not parse keeps them from changing anything).
    let god = format!("Bearer {}", hs256(&god_claims()));
    for route in &routes {
        let path = fill(&route.template, &f)?;
        let r = s.send(&route.method, &path, &[("authorization", &god), ("content-type", "application/json")], b"{")?;
        ensure!(
            r.status != 401 && r.status < 500,
            "control {} {path}: {} {}",
            route.method,
            r.status,
            String::from_utf8_lossy(&r.body)
        );
    }
    Ok(())
}

/// `Authorization` values that hold no usable bearer token (`Bearer` alone, another scheme,
/// two tokens, two headers) are 401 problem+json on every route, those that also serve
/// anonymous callers included (`civic::auth::authenticate_if_present`): a broken client is
/// told so rather than quietly served as anonymous. A token in a cookie or the query string
/// is no credential: a route that needs a caller answers 401, the others the anonymous answer.
pub(super) fn malformed_authorization_headers(s: &Servers) -> Result<(), String> {
    let routes = bearer_routes()?;
    let f = fixture(s, 2)?;
    let good = hs256(&god_claims());
    let forms: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("empty bearer", vec![("authorization", "Bearer".to_owned())]),
        ("bearer and spaces", vec![("authorization", "Bearer    ".to_owned())]),
        ("two tokens", vec![("authorization", format!("Bearer {good} {good}"))]),
        ("Basic scheme", vec![("authorization", "Basic YWRtaW46YWRtaW4=".to_owned())]),
        ("Token scheme", vec![("authorization", format!("Token {good}"))]),
        ("no scheme", vec![("authorization", good.clone())]),
        ("scheme glued", vec![("authorization", format!("Bearer{good}"))]),
        (
            "two Authorization headers",
            vec![("authorization", format!("Bearer {good}")), ("authorization", format!("Bearer {good}"))],
        ),
        ("token in a cookie", vec![("cookie", format!("token={good}"))]),
        ("token in the query", vec![]),
    ];
    let mut failures = Vec::new();
    for route in &routes {
        let base = fill(&route.template, &f)?;
        // A filing without a phone: an anonymous caller gets 422, so nothing is filed.
        let body = if route.method == "POST" && route.template == "/reports" {
            json!({"category": "rubbish", "description": "x", "lat": f.nowhere.0, "lng": f.nowhere.1})
                .to_string()
                .into_bytes()
        } else {
            encode_body(&body_for(&route.method, &route.template, &f))
        };
        let anonymous = s.send(&route.method, &base, &[("content-type", "application/json")], &body)?;
        for (name, headers) in &forms {
            let path = if *name == "token in the query" {
                format!("{base}{}access_token={good}", if base.contains('?') { '&' } else { '?' })
            } else {
                base.clone()
            };
            let mut h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
            h.push(("content-type", "application/json"));
            let r = s.send(&route.method, &path, &h, &body)?;
            // An `Authorization` header that is there but malformed is refused on every
            // route; a token elsewhere (cookie, query) is no credential at all.
            let has_header = headers.iter().any(|(k, _)| *k == "authorization");
            let ok = if route.optional && !has_header {
                r.status == anonymous.status && r.body == anonymous.body
            } else {
                is_problem(&r, 401).is_ok()
            };
            if !ok {
                failures.push(format!(
                    "{} {path} ({}), {name}: {} {}",
                    route.method,
                    if route.optional { "anonymous allowed" } else { "caller required" },
                    r.status,
                    String::from_utf8_lossy(&r.body)
                ));
            }
        }
    }
    ensure!(failures.is_empty(), "{} wrong answers:\n{}", failures.len(), failures.join("\n"));
    let r = s.send("GET", &format!("/permits/{}", f.dossier), &[("authorization", "Bearer")], b"")?;
    ensure!(r.json()?.get("history").is_none(), "an empty bearer is not the applicant");
    Ok(())
}
