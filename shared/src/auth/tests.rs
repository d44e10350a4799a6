//! Known-answer and attack tests for bearer tokens and HMAC helpers.
#![allow(clippy::unwrap_used, clippy::type_complexity)] // test tables

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use chrono::DateTime;
use http::{HeaderMap, HeaderValue, header::AUTHORIZATION};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::*;
use crate::platform::native::NativePlatform;

const RSA_PRIVATE: &str = include_str!("../../testdata/auth/rsa-1.private.pem");
const RSA_PUBLIC: &str = include_str!("../../testdata/auth/rsa-1.public.pem");
const EC_PRIVATE: &str = include_str!("../../testdata/auth/ec-1.private.pem");
const EC_PUBLIC: &str = include_str!("../../testdata/auth/ec-1.public.pem");
const JWKS: &str = include_str!("../../testdata/auth/jwks.json");
const RFC4231: &str = include_str!("../../testdata/auth/rfc4231.json");

const ISS: &str = "https://id.danang.gov.vn";
const AUD: &str = "civic";
const SECRET: &str = "test-only-hs256-secret-0123456789abcdef";
/// 2025-06-15T15:06:40Z; the platform clock in every test.
const NOW: i64 = 1_750_000_000;

fn cfg() -> AuthConfig {
    AuthConfig { issuer: ISS.into(), audience: AUD.into(), hs256_secret: Some(SECRET.into()), jwks: Some(JWKS.into()) }
}

/// The DER body of a PEM file.
fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).unwrap()
}

fn rsa_key() -> EncodingKey {
    EncodingKey::from_rsa_der(&pem_der(RSA_PRIVATE))
}
fn ec_key() -> EncodingKey {
    EncodingKey::from_ec_der(&pem_der(EC_PRIVATE))
}
fn hs_key() -> EncodingKey {
    EncodingKey::from_secret(SECRET.as_bytes())
}

/// Valid claims for `NOW`; tests change or remove members.
fn claims() -> Value {
    json!({ "sub": "cccd:048090001234", "iss": ISS, "aud": AUD, "iat": NOW - 10, "exp": NOW + 600 })
}

fn with(mut claims: Value, member: &str, value: Value) -> Value {
    claims[member] = value;
    claims
}

fn without(mut claims: Value, member: &str) -> Value {
    claims.as_object_mut().unwrap().remove(member);
    claims
}

fn sign(alg: Algorithm, kid: Option<&str>, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}
fn hs256(claims: &Value) -> String {
    sign(Algorithm::HS256, None, &hs_key(), claims)
}
fn rs256(claims: &Value) -> String {
    sign(Algorithm::RS256, Some("rsa-1"), &rsa_key(), claims)
}
fn es256(claims: &Value) -> String {
    sign(Algorithm::ES256, Some("ec-1"), &ec_key(), claims)
}

fn b64(json: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(json).unwrap())
}

/// A token built by hand (any header), HS256-signed with `secret` over header.payload.
fn hand_signed(header: &Value, payload: &str, secret: &[u8]) -> String {
    let message = format!("{}.{payload}", b64(header));
    let sig = hex::decode(hmac_sha256_hex(secret, message.as_bytes())).unwrap();
    format!("{message}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// `token` with its payload replaced and the old signature kept.
fn swap_payload(token: &str, claims: &Value) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    format!("{}.{}.{}", parts[0], b64(claims), parts[2])
}

fn accepted(token: &str) -> Principal {
    verify(&cfg(), token, NOW).unwrap_or_else(|e| panic!("refused ({e}): {token}"))
}

// ---------------------------------------------------------------- accepted tokens

#[test]
fn each_algorithm_is_accepted_with_its_key() {
    let officer = with(with(claims(), "roles", json!(["officer", "citizen"])), "agency", json!("so-y-te"));
    let officer = with(officer, "phone", json!("+84905123456"));
    for (name, token) in [("HS256", hs256(&officer)), ("RS256", rs256(&officer)), ("ES256", es256(&officer))] {
        let p = verify(&cfg(), &token, NOW).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            p,
            Principal {
                subject: "cccd:048090001234".into(),
                roles: vec![Role::Officer, Role::Citizen],
                agency: Some("so-y-te".into()),
                phone: Some("+84905123456".into()),
            },
            "{name}"
        );
    }
}

#[test]
fn roles_from_claims() {
    let cases: &[(&str, Option<Value>, Option<&str>, &[Role])] = &[
        ("no roles claim", None, None, &[Role::Citizen]),
        ("null roles", Some(Value::Null), None, &[Role::Citizen]),
        ("single string", Some(json!("admin")), None, &[Role::Admin]),
        ("system", Some(json!(["system"])), None, &[Role::System]),
        ("empty array", Some(json!([])), None, &[]),
        ("officer without agency", Some(json!(["officer"])), None, &[]),
        ("officer with empty agency", Some(json!(["officer", "citizen"])), Some(""), &[Role::Citizen]),
        ("officer with agency", Some(json!("officer")), Some("cong-an-tp"), &[Role::Officer]),
        (
            "unknown and repeated",
            Some(json!(["wizard", "admin", "officer", "admin", "Officer", "root"])),
            Some("so-tn-mt"),
            &[Role::Admin, Role::Officer],
        ),
        ("case matters", Some(json!(["ADMIN", "Citizen"])), None, &[]),
    ];
    for (name, roles, agency, want) in cases {
        let mut c = claims();
        if let Some(r) = roles {
            c = with(c, "roles", r.clone());
        }
        if let Some(a) = agency {
            c = with(c, "agency", json!(a));
        }
        let p = accepted(&hs256(&c));
        assert_eq!(p.roles, *want, "{name}");
        assert_eq!(p.agency.as_deref(), agency.filter(|a| !a.is_empty()), "{name}");
        for role in [Role::Citizen, Role::Officer, Role::Admin, Role::System] {
            assert_eq!(p.has(role), want.contains(&role), "{name}: has({role:?})");
            assert_eq!(p.require(role).is_ok(), want.contains(&role), "{name}: require({role:?})");
        }
    }
    let p = accepted(&hs256(&claims()));
    assert!(matches!(p.require(Role::Admin), Err(Error::Forbidden)));
    assert_eq!(p.phone, None);
}

#[test]
fn time_and_audience_edges() {
    // (case, claims, accepted at NOW?)
    let cases = [
        ("expired 30 s ago, inside leeway", with(claims(), "exp", json!(NOW - 30)), true),
        ("expired exactly 60 s ago", with(claims(), "exp", json!(NOW - 60)), true),
        ("expired 61 s ago", with(claims(), "exp", json!(NOW - 61)), false),
        ("expired an hour ago", with(claims(), "exp", json!(NOW - 3600)), false),
        ("exp as a float", with(claims(), "exp", json!(1_750_000_600.5)), true),
        ("exp as a string", with(claims(), "exp", json!("1750000600")), false),
        ("exp negative", with(claims(), "exp", json!(-1)), false),
        ("missing exp", without(claims(), "exp"), false),
        ("nbf now", with(claims(), "nbf", json!(NOW)), true),
        ("nbf in 60 s, inside leeway", with(claims(), "nbf", json!(NOW + 60)), true),
        ("nbf in 61 s", with(claims(), "nbf", json!(NOW + 61)), false),
        ("nbf tomorrow", with(claims(), "nbf", json!(NOW + 86_400)), false),
        ("nbf not a number", with(claims(), "nbf", json!(true)), false),
        ("aud array containing ours", with(claims(), "aud", json!(["other", AUD])), true),
        ("aud array without ours", with(claims(), "aud", json!(["other", "civic2"])), false),
        ("aud empty array", with(claims(), "aud", json!([])), false),
        ("wrong aud", with(claims(), "aud", json!("civic-admin")), false),
        ("aud differs in case", with(claims(), "aud", json!("CIVIC")), false),
        ("missing aud", without(claims(), "aud"), false),
        ("wrong iss", with(claims(), "iss", json!("https://evil.example")), false),
        ("iss with trailing slash", with(claims(), "iss", json!(format!("{ISS}/"))), false),
        ("iss as array", with(claims(), "iss", json!([ISS])), false),
        ("missing iss", without(claims(), "iss"), false),
        ("missing sub", without(claims(), "sub"), false),
        ("empty sub", with(claims(), "sub", json!("")), false),
        ("sub a number", with(claims(), "sub", json!(42)), false),
        ("roles a number", with(claims(), "roles", json!(5)), false),
        ("roles with a non-string", with(claims(), "roles", json!(["admin", 1])), false),
        ("agency not a string", with(claims(), "agency", json!({"id": 1})), false),
    ];
    for (name, c, ok) in cases {
        for (alg, token) in [("HS256", hs256(&c)), ("ES256", es256(&c))] {
            let got = verify(&cfg(), &token, NOW);
            assert_eq!(got.is_ok(), ok, "{name} ({alg}): {got:?}");
            if !ok {
                assert!(matches!(got, Err(Error::Unauthorized)), "{name} ({alg})");
            }
        }
    }
}

#[test]
fn the_clock_is_the_argument() {
    let token = rs256(&claims());
    assert!(verify(&cfg(), &token, NOW).is_ok());
    assert!(verify(&cfg(), &token, NOW + 660).is_ok());
    assert!(matches!(verify(&cfg(), &token, NOW + 661), Err(Error::Unauthorized)));
    // Long before it was issued it is still fine (no nbf, iat is not checked)...
    assert!(verify(&cfg(), &token, 0).is_ok());
    // ...unless nbf says otherwise.
    let token = rs256(&with(claims(), "nbf", json!(NOW)));
    assert!(matches!(verify(&cfg(), &token, NOW - 61), Err(Error::Unauthorized)));
}

// ---------------------------------------------------------------- attacks

#[test]
fn forged_and_malformed_tokens_are_401() {
    let good = claims();
    let admin = with(good.clone(), "roles", json!(["admin"]));
    let rsa_pub = EncodingKey::from_secret(RSA_PUBLIC.as_bytes());
    let ec_pub = EncodingKey::from_secret(EC_PUBLIC.as_bytes());
    let none_header = b64(&json!({"alg": "none", "typ": "JWT"}));

    let mut hmac_jwks = cfg();
    hmac_jwks.jwks = Some(
        json!({"keys": [{"kty": "oct", "kid": "oct-1", "alg": "HS256", "k": URL_SAFE_NO_PAD.encode(SECRET)}]})
            .to_string(),
    );

    let cases: Vec<(&str, AuthConfig, String)> = vec![
        // alg confusion
        ("alg none", cfg(), format!("{none_header}.{}.", b64(&admin))),
        ("alg none with a signature", cfg(), format!("{none_header}.{}.c2ln", b64(&admin))),
        ("alg None", cfg(), format!("{}.{}.", b64(&json!({"alg": "None"})), b64(&admin))),
        ("alg none with kid", cfg(), format!("{}.{}.", b64(&json!({"alg": "none", "kid": "rsa-1"})), b64(&admin))),
        (
            "HS256 keyed with the RSA public PEM, kid rsa-1",
            cfg(),
            sign(Algorithm::HS256, Some("rsa-1"), &rsa_pub, &admin),
        ),
        ("HS256 keyed with the RSA public PEM, no kid", cfg(), sign(Algorithm::HS256, None, &rsa_pub, &admin)),
        ("HS256 keyed with the EC public PEM, kid ec-1", cfg(), sign(Algorithm::HS256, Some("ec-1"), &ec_pub, &admin)),
        (
            "HS256 keyed with the JWK n, kid rsa-1",
            cfg(),
            hand_signed(
                &json!({"alg": "HS256", "kid": "rsa-1"}),
                &b64(&admin),
                serde_json::from_str::<Value>(JWKS).unwrap()["keys"][0]["n"].as_str().unwrap().as_bytes(),
            ),
        ),
        ("RS256 header, kid of the EC key", cfg(), sign(Algorithm::RS256, Some("ec-1"), &rsa_key(), &good)),
        ("ES256 header, kid of the RSA key", cfg(), sign(Algorithm::ES256, Some("rsa-1"), &ec_key(), &good)),
        ("RS256 without kid (HS256 secret applies)", cfg(), sign(Algorithm::RS256, None, &rsa_key(), &good)),
        ("PS256 with the RSA key", cfg(), sign(Algorithm::PS256, Some("rsa-1"), &rsa_key(), &good)),
        ("RS512 with the RSA key", cfg(), sign(Algorithm::RS512, Some("rsa-1"), &rsa_key(), &good)),
        ("HS384 with the secret", cfg(), sign(Algorithm::HS384, None, &hs_key(), &good)),
        ("HS512 with the secret", cfg(), sign(Algorithm::HS512, None, &hs_key(), &good)),
        (
            "HS256 with a kid (JWKS only)",
            cfg(),
            hand_signed(&json!({"alg": "HS256", "kid": "hs-1"}), &b64(&good), SECRET.as_bytes()),
        ),
        (
            "HS256 against an oct key in the JWKS",
            hmac_jwks,
            hand_signed(&json!({"alg": "HS256", "kid": "oct-1"}), &b64(&good), SECRET.as_bytes()),
        ),
        ("embedded jwk header is ignored", cfg(), {
            let jwk = serde_json::from_str::<Value>(JWKS).unwrap()["keys"][1].clone();
            let header = json!({"alg": "ES256", "jwk": jwk});
            let t = es256(&admin);
            let parts: Vec<&str> = t.split('.').collect();
            format!("{}.{}.{}", b64(&header), parts[1], parts[2])
        }),
        // keys and signatures
        ("unknown kid", cfg(), sign(Algorithm::RS256, Some("rsa-2"), &rsa_key(), &good)),
        ("empty kid", cfg(), sign(Algorithm::RS256, Some(""), &rsa_key(), &good)),
        ("kid but no JWKS configured", AuthConfig { jwks: None, ..cfg() }, rs256(&good)),
        ("no kid and no secret configured", AuthConfig { hs256_secret: None, ..cfg() }, hs256(&good)),
        (
            "wrong HS256 secret",
            cfg(),
            sign(Algorithm::HS256, None, &EncodingKey::from_secret(b"another-secret-of-32-bytes-or-more!!"), &good),
        ),
        (
            "secret configured too short",
            AuthConfig { hs256_secret: Some("short".into()), ..cfg() },
            sign(Algorithm::HS256, None, &EncodingKey::from_secret(b"short"), &good),
        ),
        ("tampered payload, HS256", cfg(), swap_payload(&hs256(&good), &admin)),
        ("tampered payload, RS256", cfg(), swap_payload(&rs256(&good), &admin)),
        ("tampered payload, ES256", cfg(), swap_payload(&es256(&good), &admin)),
        ("tampered exp, RS256", cfg(), swap_payload(&rs256(&with(good.clone(), "exp", json!(NOW - 3600))), &good)),
        ("signature from another token", cfg(), {
            let a = rs256(&good);
            let b = rs256(&admin);
            format!("{}.{}", a.rsplit_once('.').unwrap().0, b.rsplit_once('.').unwrap().1)
        }),
        ("signature cut short", cfg(), {
            let t = es256(&good);
            t[..t.len() - 4].to_owned()
        }),
        ("signature removed", cfg(), format!("{}.", hs256(&good).rsplit_once('.').unwrap().0)),
        ("signature padded", cfg(), format!("{}==", hs256(&good))),
        (
            "crit header",
            cfg(),
            hand_signed(&json!({"alg": "HS256", "crit": ["exp"], "exp": 0}), &b64(&good), SECRET.as_bytes()),
        ),
        (
            "duplicate claim",
            cfg(),
            hand_signed(
                &json!({"alg": "HS256"}),
                &URL_SAFE_NO_PAD
                    .encode(format!(r#"{{"sub":"a","sub":"b","iss":"{ISS}","aud":"{AUD}","exp":{}}}"#, NOW + 600)),
                SECRET.as_bytes(),
            ),
        ),
        (
            "payload not JSON",
            cfg(),
            hand_signed(&json!({"alg": "HS256"}), &URL_SAFE_NO_PAD.encode("not json"), SECRET.as_bytes()),
        ),
        ("payload a JSON array", cfg(), hand_signed(&json!({"alg": "HS256"}), &b64(&json!([1, 2])), SECRET.as_bytes())),
        // garbage
        ("empty", cfg(), String::new()),
        ("one word", cfg(), "garbage".into()),
        ("three dots of nothing", cfg(), "..".into()),
        ("two parts", cfg(), {
            let t = hs256(&good);
            t.rsplit_once('.').unwrap().0.to_owned()
        }),
        ("four parts", cfg(), format!("{}.x", hs256(&good))),
        ("not base64", cfg(), "a*b.c*d.e*f".into()),
        ("JWE-shaped", cfg(), "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d".into()),
        ("huge", cfg(), format!("{}.{}.x", b64(&json!({"alg": "HS256"})), "A".repeat(20_000))),
        ("whitespace around", cfg(), format!(" {} ", hs256(&good))),
    ];
    for (name, config, token) in &cases {
        let got = verify(config, token, NOW);
        assert!(matches!(got, Err(Error::Unauthorized)), "{name}: {got:?}");
        assert_eq!(got.unwrap_err().status(), 401, "{name}");
    }
    // The untampered originals of the tampered cases do pass.
    for token in [hs256(&good), rs256(&good), es256(&good), es256(&admin)] {
        accepted(&token);
    }
}

#[test]
fn jwks_key_rules() {
    let keys: Value = serde_json::from_str(JWKS).unwrap();
    let rsa = keys["keys"][0].clone();
    let ec = keys["keys"][1].clone();
    let set = |ks: Vec<Value>| json!({ "keys": ks }).to_string();
    let jwks_cfg = |jwks: String| AuthConfig { jwks: Some(jwks), ..cfg() };
    let patch = |mut k: Value, m: &str, v: Value| {
        k[m] = v;
        k
    };

    // (case, JWKS, RS256 token accepted, ES256 token accepted)
    let cases = [
        ("as published", set(vec![rsa.clone(), ec.clone()]), true, true),
        ("no alg members", set(vec![without(rsa.clone(), "alg"), without(ec.clone(), "alg")]), true, true),
        ("no use members", set(vec![without(rsa.clone(), "use"), without(ec.clone(), "use")]), true, true),
        (
            "padded base64url",
            set(vec![
                patch(rsa.clone(), "e", json!("AQAB")),
                patch(ec.clone(), "x", json!(format!("{}=", ec["x"].as_str().unwrap()))),
            ]),
            true,
            true,
        ),
        (
            "other entries skipped",
            set(vec![json!("junk"), json!({"kty": "OKP", "kid": "ed-1"}), rsa.clone(), ec.clone()]),
            true,
            true,
        ),
        (
            "use enc",
            set(vec![patch(rsa.clone(), "use", json!("enc")), patch(ec.clone(), "use", json!("enc"))]),
            false,
            false,
        ),
        ("RSA key declared PS256", set(vec![patch(rsa.clone(), "alg", json!("PS256")), ec.clone()]), false, true),
        ("EC key declared ES384", set(vec![rsa.clone(), patch(ec.clone(), "alg", json!("ES384"))]), true, false),
        ("EC key on P-384", set(vec![rsa.clone(), patch(ec.clone(), "crv", json!("P-384"))]), true, false),
        ("EC key declared RSA", set(vec![rsa.clone(), patch(ec.clone(), "kty", json!("RSA"))]), true, false),
        ("duplicate kid", set(vec![rsa.clone(), rsa.clone(), ec.clone()]), false, true),
        ("EC key under the RSA kid", set(vec![patch(ec.clone(), "kid", json!("rsa-1")), ec.clone()]), false, true),
        (
            "short RSA modulus",
            set(vec![patch(rsa.clone(), "n", json!(URL_SAFE_NO_PAD.encode([0xc5u8; 128]))), ec.clone()]),
            false,
            true,
        ),
        (
            "EC point off the curve",
            set(vec![rsa.clone(), patch(ec.clone(), "y", json!(URL_SAFE_NO_PAD.encode([1u8; 32])))]),
            true,
            false,
        ),
        ("not JSON", "{keys:".to_owned(), false, false),
        ("no keys array", json!({"kty": "RSA"}).to_string(), false, false),
    ];
    let rs = rs256(&claims());
    let es = es256(&claims());
    for (name, jwks, rs_ok, es_ok) in cases {
        let c = jwks_cfg(jwks);
        assert_eq!(verify(&c, &rs, NOW).is_ok(), rs_ok, "{name}: RS256");
        assert_eq!(verify(&c, &es, NOW).is_ok(), es_ok, "{name}: ES256");
    }
}

// ---------------------------------------------------------------- config, headers, HTTP status

fn platform() -> NativePlatform {
    NativePlatform::in_memory(&[])
        .with_config("jwt_issuer", ISS)
        .with_config("jwt_audience", AUD)
        .with_config("jwt_hs256_secret", SECRET)
        .with_config("jwt_jwks", JWKS)
}

fn auth_headers(value: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
    h
}

/// `AuthConfig::from_platform` over the full test settings, minus `skip`, plus `extra`.
fn config_with(skip: &[&str], extra: &[(&str, &str)]) -> Result<AuthConfig, Error> {
    let base = [("jwt_issuer", ISS), ("jwt_audience", AUD), ("jwt_hs256_secret", SECRET), ("jwt_jwks", JWKS)];
    let mut p = NativePlatform::in_memory(&[]);
    for (k, v) in base.iter().filter(|(k, _)| !skip.contains(k)).chain(extra) {
        p = p.with_config(k, v);
    }
    AuthConfig::from_platform(&p)
}

#[test]
fn config_from_platform() {
    let build = config_with;
    assert_eq!(build(&[], &[]).unwrap(), cfg());
    let secret_only = build(&["jwt_jwks"], &[]).unwrap();
    assert_eq!((secret_only.hs256_secret.as_deref(), secret_only.jwks), (Some(SECRET), None));
    let jwks_only = build(&["jwt_hs256_secret"], &[]).unwrap();
    assert_eq!((jwks_only.hs256_secret, jwks_only.jwks.as_deref()), (None, Some(JWKS)));

    let failures: &[(&str, &[&str], &[(&str, &str)], &str)] = &[
        ("no issuer", &["jwt_issuer"], &[], "jwt_issuer"),
        ("blank issuer", &["jwt_issuer"], &[("jwt_issuer", "  ")], "jwt_issuer"),
        ("no audience", &["jwt_audience"], &[], "jwt_audience"),
        ("no key at all", &["jwt_hs256_secret", "jwt_jwks"], &[], "jwt_hs256_secret or jwt_jwks"),
        (
            "short secret",
            &["jwt_hs256_secret"],
            &[("jwt_hs256_secret", "0123456789abcdef0123456789abcde")],
            "jwt_hs256_secret (shorter than 32 bytes)",
        ),
        (
            "JWKS not JSON",
            &["jwt_jwks"],
            &[("jwt_jwks", "https://id.example/jwks.json")],
            "jwt_jwks (no usable RS256/ES256 key)",
        ),
        (
            "JWKS without usable keys",
            &["jwt_jwks"],
            &[("jwt_jwks", r#"{"keys":[{"kty":"oct","kid":"k","k":"AAAA"}]}"#)],
            "jwt_jwks (no usable RS256/ES256 key)",
        ),
        (
            "JWKS with a repeated kid",
            &["jwt_jwks"],
            &[("jwt_jwks", r#"{"keys":[{"kty":"EC","kid":"k"},{"kty":"EC","kid":"k"}]}"#)],
            "jwt_jwks (no usable RS256/ES256 key)",
        ),
    ];
    for (name, skip, extra, key) in failures {
        match build(skip, extra) {
            Err(e @ Error::Config(k)) => {
                assert_eq!(k, *key, "{name}");
                assert_eq!(e.status(), 500, "{name}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // The secret stays out of Debug output.
    let shown = format!("{:?}", cfg());
    assert!(!shown.contains(SECRET) && shown.contains("[redacted]"), "{shown}");
}

#[test]
fn bearer_header_forms() {
    let token = "eyJh.eyJz.c2ln";
    let cases = [
        ("Bearer eyJh.eyJz.c2ln", Some(token)),
        ("bearer eyJh.eyJz.c2ln", Some(token)),
        ("BEARER eyJh.eyJz.c2ln", Some(token)),
        ("Bearer   eyJh.eyJz.c2ln  ", Some(token)),
        ("Bearer\teyJh.eyJz.c2ln", Some(token)),
        ("Bearer", None),
        ("Bearer ", None),
        ("Bearer a b", None),
        ("Basic dXNlcjpwYXNz", None),
        ("Bearereyj.x.y", None),
        ("Token eyJh.eyJz.c2ln", None),
        ("eyJh.eyJz.c2ln", None),
    ];
    for (value, want) in cases {
        assert_eq!(bearer(&auth_headers(value)), want, "{value:?}");
    }
    assert_eq!(bearer(&HeaderMap::new()), None);
    let mut twice = auth_headers("Bearer a.b.c");
    twice.append(AUTHORIZATION, HeaderValue::from_static("Bearer d.e.f"));
    assert_eq!(bearer(&twice), None, "two Authorization headers");
    let mut opaque = HeaderMap::new();
    opaque.insert(AUTHORIZATION, HeaderValue::from_bytes(b"Bearer \xff.a.b").unwrap());
    assert_eq!(bearer(&opaque), None, "not visible ASCII");
}

#[test]
fn authenticate_uses_config_header_and_platform_clock() {
    let p = platform();
    p.set_now(DateTime::from_timestamp(NOW, 0).unwrap());
    let officer = with(with(claims(), "roles", json!(["officer"])), "agency", json!("so-y-te"));
    let token = es256(&officer);

    let who = authenticate(&p, &auth_headers(&format!("Bearer {token}"))).unwrap();
    assert_eq!(who.roles, vec![Role::Officer]);

    // Missing or non-bearer credentials.
    for headers in [HeaderMap::new(), auth_headers("Basic dXNlcjpwYXNz"), auth_headers("Bearer x.y.z")] {
        let err = authenticate(&p, &headers).unwrap_err();
        assert!(matches!(err, Error::Unauthorized), "{headers:?}");
        assert_eq!(err.status(), 401);
    }

    // The platform clock decides: the same token, 661 s later, is expired.
    p.set_now(DateTime::from_timestamp(NOW + 661, 0).unwrap());
    let err = authenticate(&p, &auth_headers(&format!("Bearer {token}"))).unwrap_err();
    assert!(matches!(err, Error::Unauthorized));

    // Incomplete settings are a 500, not a 401.
    let bare = NativePlatform::in_memory(&[]);
    let err = authenticate(&bare, &auth_headers(&format!("Bearer {token}"))).unwrap_err();
    assert!(matches!(err, Error::Config("jwt_issuer")));
    assert_eq!(err.status(), 500);
}

#[test]
fn optional_authentication_is_anonymous_only_without_a_header() {
    let p = platform();
    p.set_now(DateTime::from_timestamp(NOW, 0).unwrap());
    assert!(authenticate_if_present(&p, &HeaderMap::new()).unwrap().is_none());
    let token = es256(&claims());
    let who = authenticate_if_present(&p, &auth_headers(&format!("Bearer {token}"))).unwrap();
    assert_eq!(who.map(|w| w.subject), Some(claims()["sub"].as_str().unwrap().to_owned()));
    let mut two = auth_headers(&format!("Bearer {token}"));
    two.append(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
    for headers in [auth_headers("Bearer"), auth_headers("Basic dXNlcjpwYXNz"), auth_headers("Bearer x.y.z"), two] {
        let err = authenticate_if_present(&p, &headers).unwrap_err();
        assert!(matches!(err, Error::Unauthorized), "{headers:?}");
    }
}

#[test]
fn require_role_maps_to_401_and_403() {
    let p = platform();
    p.set_now(DateTime::from_timestamp(NOW, 0).unwrap());
    let header = |c: &Value| auth_headers(&format!("Bearer {}", rs256(c)));
    let citizen = header(&claims());
    let admin = header(&with(claims(), "roles", json!(["admin"])));
    let agencyless = header(&with(claims(), "roles", json!(["officer"])));
    let system = header(&with(claims(), "roles", json!("system")));
    let expired = header(&with(claims(), "exp", json!(NOW - 120)));

    // (case, headers, role, expected status: 200 for Ok)
    let cases = [
        ("citizen as citizen", &citizen, Role::Citizen, 200),
        ("citizen as admin", &citizen, Role::Admin, 403),
        ("admin as admin", &admin, Role::Admin, 200),
        ("admin is not an officer", &admin, Role::Officer, 403),
        ("admin is not a citizen", &admin, Role::Citizen, 403),
        ("officer without agency", &agencyless, Role::Officer, 403),
        ("system as system", &system, Role::System, 200),
        ("expired admin", &expired, Role::Citizen, 401),
        ("no header", &HeaderMap::new(), Role::Citizen, 401),
    ];
    for (name, headers, role, want) in cases {
        let got = match require_role(&p, headers, role) {
            Ok(principal) => {
                assert!(principal.has(role), "{name}");
                200
            }
            Err(e) => e.status().as_u16(),
        };
        assert_eq!(got, want, "{name}");
    }
    let resp = require_role(&p, &citizen, Role::Admin).unwrap_err().into_response(crate::Lang::En);
    assert_eq!(resp.status(), 403);
}

// ---------------------------------------------------------------- HMAC

#[test]
fn hmac_known_answers_rfc4231() {
    let cases: Vec<Value> = serde_json::from_str(RFC4231).unwrap();
    assert_eq!(cases.len(), 4);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let key = hex::decode(case["key_hex"].as_str().unwrap()).unwrap();
        let data = hex::decode(case["data_hex"].as_str().unwrap()).unwrap();
        let want256 = case["hmac_sha256"].as_str().unwrap();
        let want512 = case["hmac_sha512"].as_str().unwrap();
        assert_eq!(hmac_sha256_hex(&key, &data), want256, "{name}");
        assert_eq!(hmac_sha512_hex(&key, &data), want512, "{name}");
        assert!(verify_hmac_sha256_hex(&key, &data, want256), "{name}");
        assert!(verify_hmac_sha512_hex(&key, &data, want512), "{name}");
    }
    // Test case 2, spelled out.
    assert_eq!(
        hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert_eq!(
        hmac_sha512_hex(b"Jefe", b"what do ya want for nothing?"),
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
    );
}

#[test]
fn verify_hmac_hex_forms() {
    let (key, msg) = (b"Jefe".as_slice(), b"what do ya want for nothing?".as_slice());
    let good = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
    let cases = [
        ("lowercase", good.to_owned(), true),
        ("uppercase", good.to_uppercase(), true),
        ("mixed case", format!("{}{}", &good[..32].to_uppercase(), &good[32..]), true),
        ("surrounding whitespace", format!("  {good}\r\n"), true),
        ("last digit changed", format!("{}4", &good[..63]), false),
        ("first digit changed", format!("6{}", &good[1..]), false),
        ("truncated", good[..62].to_owned(), false),
        ("odd length", good[..63].to_owned(), false),
        ("extended", format!("{good}00"), false),
        ("empty", String::new(), false),
        ("not hex", "z".repeat(64), false),
        ("inner whitespace", format!("{} {}", &good[..32], &good[32..]), false),
        ("0x prefix", format!("0x{good}"), false),
        ("the SHA-512 MAC", hmac_sha512_hex(key, msg), false),
    ];
    for (name, sig, want) in cases {
        assert_eq!(verify_hmac_sha256_hex(key, msg, &sig), want, "{name}");
    }
    assert!(!verify_hmac_sha256_hex(b"jefe", msg, good), "other key");
    assert!(!verify_hmac_sha256_hex(key, b"what do ya want for nothing!", good), "other message");
    let good512 = hmac_sha512_hex(key, msg);
    assert!(verify_hmac_sha512_hex(key, msg, &good512.to_uppercase()));
    assert!(!verify_hmac_sha512_hex(key, msg, good), "the SHA-256 MAC");
}

#[test]
fn constant_time_eq_cases() {
    let cases: &[(&[u8], &[u8], bool)] = &[
        (b"", b"", true),
        (b"abc", b"abc", true),
        (b"abc", b"abd", false),
        (b"abc", b"ab", false),
        (b"ab", b"abc", false),
        (b"", b"a", false),
        (&[0u8; 64], &[0u8; 64], true),
        (&[0u8; 64], &[0u8; 63], false),
    ];
    for (a, b, want) in cases {
        assert_eq!(constant_time_eq(a, b), *want, "{a:?} vs {b:?}");
    }
}
