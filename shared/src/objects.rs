//! Object storage behind the platform port: put and get of a keyed object (a photo) with its
//! content type, on whichever store the deployment has.
//!
//! [`store`] is the one place that chooses, in this order:
//!
//! 1. **a bucket the runtime binds** under the given name ([`Platform::has_bucket`]): R2 on
//!    Workers (`[[env.<function>.r2_buckets]]` in wrangler.toml);
//! 2. **an S3-compatible bucket** when the setting `s3_bucket` is not empty (Spin and native;
//!    not on Workers, where R2 is the bucket): requests signed with AWS Signature V4 by
//!    `rusty-s3` as presigned path-style URLs (`{s3_endpoint}/{s3_bucket}/{key}`, valid
//!    [`SIGNED_FOR`]) at the platform's clock, sent through [`Platform::fetch`], so on Spin
//!    the endpoint must be in `allowed_outbound_hosts`;
//! 3. **the function's own database** otherwise: the `objects` table
//!    (`migrations/<database>/..._media.sql`), in parts of at most [`PART`] bytes (D1 refuses
//!    a value over 2 MB), written in one atomic batch. So a local run needs nothing more.
//!
//! | setting | |
//! |---|---|
//! | `s3_bucket` | the bucket's name; empty (the default) means no S3 |
//! | `s3_endpoint` | `scheme://host[:port]` of the S3 API (`https://s3.ap-southeast-1.amazonaws.com`, `http://127.0.0.1:9000`), without a path |
//! | `s3_region` | the signing region; `us-east-1` when empty |
//! | `s3_access_key` | the access key id |
//! | `s3_secret_key` | the secret access key (secret) |
//!
//! A store that fails or refuses is [`Error::Unavailable`] (503 with `Retry-After`; the
//! cause is logged, never returned); S3 settings that are incomplete are [`Error::Config`].
//!
//! ```
//! use bytes::Bytes;
//! use civic::objects::{self, Store};
//! use civic::platform::{native::{NativePlatform, block_on}, Object, Platform};
//! let env = NativePlatform::in_memory(&["reports"]);
//! block_on(async {
//!     env.execute("reports", objects::TABLE, &[]).await.unwrap();
//!     let store = objects::store(&env, "media", "reports").unwrap();
//!     assert!(matches!(store, Store::Database("reports")));
//!     let photo = Object { content_type: "image/png".into(), bytes: Bytes::from_static(b"\x89PNG...") };
//!     objects::put(&env, &store, "media/abc", photo.clone()).await.unwrap();
//!     assert_eq!(objects::get(&env, &store, "media/abc").await.unwrap(), Some(photo));
//!     assert_eq!(objects::get(&env, &store, "media/none").await.unwrap(), None);
//! });
//! ```

use bytes::BytesMut;

use crate::error::Error;
use crate::platform::{Object, Platform, Statement, Value};

/// The size of one stored part in the database store, in bytes.
pub const PART: usize = 1024 * 1024;

/// How long a signed S3 request stays valid, in seconds.
pub const SIGNED_FOR: u64 = 300;

/// The longest key, in bytes.
pub const MAX_KEY: usize = 256;

/// The database store's table, as its migration creates it (also for tests).
pub const TABLE: &str = "CREATE TABLE IF NOT EXISTS objects (
    key TEXT NOT NULL, part INTEGER NOT NULL, content_type TEXT NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (key, part)) STRICT";

/// Where objects go; see the module documentation for how [`store`] chooses.
#[derive(Debug)]
pub enum Store<'a> {
    /// The runtime's bucket binding of this name (R2).
    Bucket(&'a str),
    /// An S3-compatible bucket over outbound HTTP.
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    S3(s3::S3),
    /// The `objects` table of this database.
    Database(&'a str),
}

impl Store<'_> {
    /// `bucket`, `s3` or `database`: for logs and tests.
    pub fn kind(&self) -> &'static str {
        match self {
            Store::Bucket(_) => "bucket",
            #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
            Store::S3(_) => "s3",
            Store::Database(_) => "database",
        }
    }
}

/// The store of this deployment: the runtime's bucket `bucket` if it binds one, else S3 when
/// `s3_bucket` is set, else the `objects` table of database `db`. `Error::Config` when S3 is
/// chosen but its settings are incomplete or malformed.
pub fn store<'a>(env: &impl Platform, bucket: &'a str, db: &'a str) -> Result<Store<'a>, Error> {
    if env.has_bucket(bucket) {
        return Ok(Store::Bucket(bucket));
    }
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    if let Some(s3) = s3::S3::from_config(env)? {
        return Ok(Store::S3(s3));
    }
    Ok(Store::Database(db))
}

/// Keys are 1 to [`MAX_KEY`] bytes of `A-Z a-z 0-9 - _ . /`, not starting with `/`.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_KEY
        && !key.starts_with('/')
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'/'))
}

/// Stores `object` under `key`, replacing what was there.
pub async fn put(env: &impl Platform, store: &Store<'_>, key: &str, object: Object) -> Result<(), Error> {
    if !valid_key(key) {
        return Err(Error::Internal(format!("object key {key:?} is not valid")));
    }
    match store {
        Store::Bucket(bucket) => {
            env.bucket_put(bucket, key, object).await.map_err(|e| Error::Unavailable(format!("object store: {e}")))
        }
        #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
        Store::S3(s3) => s3.put(env, key, object).await,
        Store::Database(db) => {
            let mut statements = vec![Statement::new("DELETE FROM objects WHERE key = ?1", vec![key.into()])];
            // An empty object is one empty part, so that it exists.
            let parts: Vec<&[u8]> =
                if object.bytes.is_empty() { vec![&[]] } else { object.bytes.chunks(PART).collect() };
            for (n, part) in parts.into_iter().enumerate() {
                statements.push(Statement::new(
                    "INSERT INTO objects (key, part, content_type, data) VALUES (?1, ?2, ?3, ?4)",
                    vec![
                        key.into(),
                        Value::Integer(i64::try_from(n).unwrap_or(i64::MAX)),
                        object.content_type.as_str().into(),
                        part.to_vec().into(),
                    ],
                ));
            }
            env.batch(db, &statements).await?;
            Ok(())
        }
    }
}

/// The object under `key`; `Ok(None)` when there is none (or the key is not [valid](valid_key)).
pub async fn get(env: &impl Platform, store: &Store<'_>, key: &str) -> Result<Option<Object>, Error> {
    if !valid_key(key) {
        return Ok(None);
    }
    match store {
        Store::Bucket(bucket) => {
            env.bucket_get(bucket, key).await.map_err(|e| Error::Unavailable(format!("object store: {e}")))
        }
        #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
        Store::S3(s3) => s3.get(env, key).await,
        Store::Database(db) => {
            let sql = "SELECT content_type, data FROM objects WHERE key = ?1 ORDER BY part";
            let rows = env.query(db, sql, &[key.into()]).await?;
            let Some(first) = rows.first() else {
                return Ok(None);
            };
            let content_type = first.str("content_type")?.to_owned();
            let mut bytes = BytesMut::new();
            for row in rows.iter() {
                bytes.extend_from_slice(row.opt_blob("data")?.unwrap_or_default());
            }
            Ok(Some(Object { content_type, bytes: bytes.freeze() }))
        }
    }
}

/// Removes the object under `key`, if any (the database store only; a bucket or S3 keeps
/// an object nothing points to, which costs storage, never correctness).
pub async fn forget(env: &impl Platform, store: &Store<'_>, key: &str) -> Result<(), Error> {
    if let Store::Database(db) = store {
        env.execute(db, "DELETE FROM objects WHERE key = ?1", &[key.into()]).await?;
    }
    Ok(())
}

/// S3-compatible buckets over [`Platform::fetch`], signed by `rusty-s3`.
#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub mod s3 {
    use std::time::Duration;

    use bytes::Bytes;
    use rusty_s3::{Bucket, Credentials, S3Action, UrlStyle};

    use crate::error::Error;
    use crate::platform::{Object, Platform};

    /// A configured S3 bucket: its path-style URL, region and keys.
    pub struct S3 {
        pub(crate) bucket: Bucket,
        pub(crate) credentials: Credentials,
    }

    impl std::fmt::Debug for S3 {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "S3({})", self.bucket.base_url())
        }
    }

    impl S3 {
        /// The bucket the settings describe; `Ok(None)` when `s3_bucket` is empty,
        /// `Error::Config` naming the first setting that is missing or malformed.
        pub fn from_config(env: &impl Platform) -> Result<Option<S3>, Error> {
            let Some(name) = env.config("s3_bucket").map(|n| n.trim().to_owned()) else {
                return Ok(None);
            };
            let endpoint = env.config("s3_endpoint").ok_or(Error::Config("s3_endpoint"))?;
            let endpoint = url::Url::parse(endpoint.trim()).map_err(|_| Error::Config("s3_endpoint"))?;
            let region = env.config("s3_region").unwrap_or_else(|| "us-east-1".to_owned());
            let key = env.config("s3_access_key").ok_or(Error::Config("s3_access_key"))?;
            let secret = env.config("s3_secret_key").ok_or(Error::Config("s3_secret_key"))?;
            let bucket =
                Bucket::new(endpoint, UrlStyle::Path, name, region).map_err(|_| Error::Config("s3_endpoint"))?;
            Ok(Some(S3 { bucket, credentials: Credentials::new(key, secret) }))
        }

        /// The action's presigned URL, signed at the platform's clock.
        pub(crate) fn sign<'a>(env: &impl Platform, action: &impl S3Action<'a>) -> Result<http::Uri, Error> {
            let now = jiff::Timestamp::from_second(env.now().timestamp())
                .map_err(|e| Error::Internal(format!("clock: {e}")))?;
            let url = action.sign_with_time(Duration::from_secs(super::SIGNED_FOR), &now);
            url.as_str().parse().map_err(|e| Error::Internal(format!("signed URL: {e}")))
        }

        async fn send(env: &impl Platform, req: http::Request<Bytes>) -> Result<http::Response<Bytes>, Error> {
            env.fetch(req).await.map_err(|e| Error::Unavailable(format!("S3: {e}")))
        }

        /// `PUT` the object, its content type signed with it.
        pub async fn put(&self, env: &impl Platform, key: &str, object: Object) -> Result<(), Error> {
            let mut action = self.bucket.put_object(Some(&self.credentials), key);
            action.headers_mut().insert("content-type", object.content_type.clone());
            let uri = Self::sign(env, &action)?;
            let req = http::Request::put(uri)
                .header(http::header::CONTENT_TYPE, &object.content_type)
                .header(http::header::CONTENT_LENGTH, object.bytes.len())
                .body(object.bytes)
                .map_err(|e| Error::Internal(format!("S3 request: {e}")))?;
            let resp = Self::send(env, req).await?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(Error::Unavailable(format!("S3 PUT {key}: {} {}", resp.status(), snippet(resp.body()))))
            }
        }

        /// `GET` the object; 404 is `None`.
        pub async fn get(&self, env: &impl Platform, key: &str) -> Result<Option<Object>, Error> {
            let action = self.bucket.get_object(Some(&self.credentials), key);
            let uri = Self::sign(env, &action)?;
            let req =
                http::Request::get(uri).body(Bytes::new()).map_err(|e| Error::Internal(format!("S3 request: {e}")))?;
            let resp = Self::send(env, req).await?;
            match resp.status() {
                s if s.is_success() => {
                    let content_type = resp
                        .headers()
                        .get(http::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("application/octet-stream")
                        .to_owned();
                    Ok(Some(Object { content_type, bytes: resp.into_body() }))
                }
                http::StatusCode::NOT_FOUND => Ok(None),
                s => Err(Error::Unavailable(format!("S3 GET {key}: {s} {}", snippet(resp.body())))),
            }
        }
    }

    /// The start of an error body, for the log.
    fn snippet(body: &[u8]) -> String {
        String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::native::{NativePlatform, block_on};
    use bytes::Bytes;

    #[test]
    fn keys_table() {
        let cases = [
            ("media/abc_DEF-1.jpg", true),
            ("a", true),
            ("", false),
            ("/media/a", false),
            ("media/a b", false),
            ("media/%2e", false),
            ("media/ả", false),
        ];
        for (key, ok) in cases {
            assert_eq!(valid_key(key), ok, "{key:?}");
        }
        assert!(!valid_key(&"a".repeat(MAX_KEY + 1)));
    }

    #[test]
    fn the_database_store_keeps_large_objects_in_parts() {
        let env = NativePlatform::in_memory(&["db"]);
        block_on(async {
            env.execute("db", TABLE, &[]).await.unwrap();
            let store = store(&env, "media", "db").unwrap();
            assert_eq!(store.kind(), "database");
            let big: Vec<u8> = (0..(2 * PART + 17)).map(|i| (i % 251) as u8).collect();
            let object = Object { content_type: "image/jpeg".into(), bytes: Bytes::from(big) };
            put(&env, &store, "k/1", object.clone()).await.unwrap();
            let parts = env.query("db", "SELECT count(*) AS n FROM objects", &[]).await.unwrap();
            assert_eq!(parts.first().unwrap().i64("n").unwrap(), 3);
            assert_eq!(get(&env, &store, "k/1").await.unwrap(), Some(object));
            // replaced whole, not part by part
            let small = Object { content_type: "image/png".into(), bytes: Bytes::from_static(b"x") };
            put(&env, &store, "k/1", small.clone()).await.unwrap();
            assert_eq!(get(&env, &store, "k/1").await.unwrap(), Some(small));
            let empty = Object { content_type: "image/png".into(), bytes: Bytes::new() };
            put(&env, &store, "k/2", empty.clone()).await.unwrap();
            assert_eq!(get(&env, &store, "k/2").await.unwrap(), Some(empty));
            forget(&env, &store, "k/1").await.unwrap();
            assert_eq!(get(&env, &store, "k/1").await.unwrap(), None);
            assert_eq!(get(&env, &store, "../etc").await.unwrap(), None);
            assert!(matches!(
                put(&env, &store, "a b", Object { content_type: String::new(), bytes: Bytes::new() }).await,
                Err(Error::Internal(_))
            ));
        });
    }

    #[test]
    fn s3_is_chosen_by_its_bucket_setting_and_needs_the_rest() {
        let env = NativePlatform::in_memory(&["db"]).with_config("s3_bucket", "photos");
        assert!(matches!(store(&env, "media", "db"), Err(Error::Config("s3_endpoint"))));
        let env = env.with_config("s3_endpoint", "http://127.0.0.1:9000").with_config("s3_access_key", "AK");
        assert!(matches!(store(&env, "media", "db"), Err(Error::Config("s3_secret_key"))));
        let env = env.with_config("s3_secret_key", "SK");
        let chosen = store(&env, "media", "db").unwrap();
        assert_eq!(chosen.kind(), "s3");
        let env = env.with_config("s3_endpoint", "ftp://127.0.0.1");
        assert!(matches!(store(&env, "media", "db"), Err(Error::Config("s3_endpoint"))));
    }

    #[test]
    fn s3_requests_are_presigned_path_style_at_the_platform_clock() {
        let env = NativePlatform::in_memory(&["db"])
            .with_config("s3_bucket", "photos")
            .with_config("s3_endpoint", "http://127.0.0.1:9000")
            .with_config("s3_region", "ap-southeast-1")
            .with_config("s3_access_key", "AKIDEXAMPLE")
            .with_config("s3_secret_key", "secret");
        env.set_now(crate::testing::t("2026-01-02T03:04:05Z"));
        let Ok(Store::S3(s3)) = store(&env, "media", "db") else { panic!("s3") };
        let action = s3.bucket.put_object(Some(&s3.credentials), "media/x");
        let uri = s3::S3::sign(&env, &action).unwrap().to_string();
        assert!(uri.starts_with("http://127.0.0.1:9000/photos/media/x?"), "{uri}");
        assert!(uri.contains("X-Amz-Date=20260102T030405Z"), "{uri}");
        assert!(uri.contains("X-Amz-Credential=AKIDEXAMPLE%2F20260102%2Fap-southeast-1%2Fs3%2Faws4_request"), "{uri}");
        assert!(uri.contains("X-Amz-Expires=300"), "{uri}");
    }
}
