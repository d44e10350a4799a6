//! Rate limits on the public entries: at most `max` requests per caller in a window, counted
//! in the function's own database by one conditional upsert, so that concurrent requests on
//! any instance (Spin or Workers, one isolate or many) are counted exactly.
//!
//! **Table** `rate_limits (rule, caller, count, window_end)`, the same in every database (the
//! `*_retention.sql` migrations): `caller` is [`crate::auth::pseudonym`] of who is counted
//! (`sub:<JWT subject>`, `phone:84…`, `chat:zalo:<user>`, `open311:<api_key>`,
//! `ip:<address>`), never the number or address itself.
//!
//! **Counting** ([`Count::statement`]): the first request opens a window of the rule's length;
//! every request in it adds one, refused ones too, so a caller who keeps hammering stays
//! refused until the window ends, and the request that crosses the limit is known
//! ([`Verdict::Over::first`]: the one that gets "too many" said to it on channels that pay
//! per message, SMS and chat; the ones after it are answered with silence). A window past
//! its end starts again at one.
//!
//! **Round trips**: the count rides in the batch of the route's first write, whose
//! statements carry [`Count::gate`] so that nothing is written over the limit (report
//! filing, order creation), or in a batch with the route's reads ([`check`]); a route adds
//! no round trip for its limit.
//!
//! **Settings**: `rate_limit_<rule>` = `<max>/<window>` (`10/1h`, `30/10m`; the window in
//! [`humantime`]'s units), else the rule's default; a setting that does not parse is a
//! [`Error::Config`] (500) naming it.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::error::Error;
use crate::platform::{Platform, Rows, Statement, Value};

/// A named limit with its default (`report_filing`, `10/1h`); its setting is
/// `rate_limit_<name>`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub name: &'static str,
    /// `<max>/<window>`, as the setting is written.
    pub default: &'static str,
}

/// A rule as configured: at most `max` requests per `window`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    pub rule: &'static str,
    pub max: i64,
    pub window: Duration,
}

/// Parses `<max>/<window>` (`10/1h`): a positive count and a [`humantime`] duration of at
/// least one second.
pub fn parse(text: &str) -> Option<(i64, Duration)> {
    let (max, window) = text.split_once('/')?;
    let max: i64 = max.trim().parse().ok().filter(|n| *n > 0)?;
    let window = humantime::parse_duration(window.trim()).ok().filter(|d| d.as_secs() >= 1)?;
    Some((max, window))
}

impl Rule {
    /// The setting's name: `rate_limit_<name>`.
    pub fn setting(&self) -> String {
        format!("rate_limit_{}", self.name)
    }

    /// The limit as configured (else the default). [`Error::Config`] when the setting does
    /// not parse.
    pub fn limit(&self, env: &impl Platform) -> Result<Limit, Error> {
        let text = env.config(&self.setting()).unwrap_or_else(|| self.default.to_owned());
        let (max, window) = parse(&text).ok_or_else(|| {
            crate::log::error(&format!("{} = {text:?} is not <count>/<duration> (10/1h)", self.setting()));
            Error::Config("rate_limit_*")
        })?;
        Ok(Limit { rule: self.name, max, window })
    }

    /// One request of `caller` ([`Caller`]) to count now under this rule.
    pub fn count(&self, env: &impl Platform, caller: &Caller) -> Result<Count, Error> {
        let limit = self.limit(env)?;
        let now = env.now();
        let window = chrono::Duration::from_std(limit.window).map_err(|e| Error::Internal(e.to_string()))?;
        Ok(Count { caller: crate::auth::pseudonym(env, &caller.key()), limit, now, end: now + window })
    }
}

/// Who is counted, by what identifies them on the entry they came through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// A signed-in citizen: the JWT `sub`.
    Subject(String),
    /// An SMS sender (any form of the number: `0905…`, `+84905…` count as one).
    Phone(String),
    /// A chat user: `zalo` or `telegram` and the platform's user id.
    Chat { channel: String, user: String },
    /// An Open311 client: its `api_key`.
    Open311Key(String),
    /// An anonymous web caller: the address the runtime reports (an IPv6 address by its
    /// /64, which one household or phone usually holds whole); `None` when it reports none.
    Address(Option<std::net::IpAddr>),
}

impl Caller {
    /// The signed-in subject of the request, else its client address ([`Platform::client_addr`]).
    /// A malformed or invalid `Authorization` header is [`Error::Unauthorized`], as on the
    /// route itself.
    pub fn of_request(env: &impl Platform, req: &http::Request<bytes::Bytes>) -> Result<Caller, Error> {
        Ok(match crate::auth::authenticate_if_present(env, req.headers())? {
            Some(principal) => Caller::Subject(principal.subject),
            None => Caller::Address(env.client_addr(req.headers())),
        })
    }

    /// The text that is pseudonymised into `rate_limits.caller`.
    pub fn key(&self) -> String {
        match self {
            Caller::Subject(sub) => format!("sub:{sub}"),
            Caller::Phone(phone) => format!("phone:{}", crate::phone::international(phone)),
            Caller::Chat { channel, user } => format!("chat:{channel}:{}", user.trim()),
            Caller::Open311Key(key) => format!("open311:{key}"),
            Caller::Address(Some(std::net::IpAddr::V6(v6))) => {
                let s = v6.segments();
                format!("ip:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
            Caller::Address(Some(ip)) => format!("ip:{ip}"),
            Caller::Address(None) => "ip:unknown".to_owned(),
        }
    }
}

/// One request to count: its statement, the gate for the statements after it, and the
/// verdict on what the statement returned.
#[derive(Debug, Clone)]
pub struct Count {
    caller: String,
    limit: Limit,
    now: DateTime<Utc>,
    end: DateTime<Utc>,
}

/// What a [`Count`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit (or not counted: a repeated message).
    Within,
    /// Over it: the window ends in `retry_after` seconds (at least 1); `first` for the
    /// request that crossed the limit.
    Over { retry_after: u64, first: bool },
}

impl Verdict {
    /// `Err(`[`Error::TooManyRequests`]`)` when over the limit: a 429 with `Retry-After`.
    pub fn into_result(self) -> Result<(), Error> {
        match self {
            Verdict::Within => Ok(()),
            Verdict::Over { retry_after, .. } => Err(Error::TooManyRequests(retry_after)),
        }
    }
}

/// The upsert; `?3` is now, `?4` the end of a window opened now.
const UPSERT: &str = "INSERT INTO rate_limits (rule, caller, count, window_end) SELECT ?1, ?2, 1, ?4 WHERE {guard}
     ON CONFLICT (rule, caller) DO UPDATE SET
         count = CASE WHEN window_end <= ?3 THEN 1 ELSE count + 1 END,
         window_end = CASE WHEN window_end <= ?3 THEN ?4 ELSE window_end END
     RETURNING count, window_end";

impl Count {
    /// The counting statement (returns `count, window_end`); put it first in its batch.
    pub fn statement(&self) -> Statement {
        self.upsert("1")
    }

    /// [`Count::statement`] that counts only when the statement before it in the batch
    /// changed a row (`changes() > 0`): a message counted when first stored, not when its
    /// sender's gateway delivers it again.
    pub fn statement_after_change(&self) -> Statement {
        self.upsert("changes() > 0")
    }

    fn upsert(&self, guard: &str) -> Statement {
        Statement::new(
            UPSERT.replace("{guard}", guard),
            vec![
                self.limit.rule.into(),
                self.caller.as_str().into(),
                crate::web::stamp(self.now).into(),
                crate::web::stamp(self.end).into(),
            ],
        )
    }

    /// A condition for a later statement of the same batch, true while this caller is within
    /// the limit, numbering its parameters from `?{first}`; append [`Count::gate_params`] to
    /// that statement's parameters. Writes that must not happen over the limit carry it
    /// (`INSERT … SELECT … WHERE <gate>`).
    pub fn gate(&self, first: usize) -> String {
        format!("(SELECT count FROM rate_limits WHERE rule = ?{first} AND caller = ?{}) <= ?{}", first + 1, first + 2)
    }

    /// The parameters of [`Count::gate`], in its order.
    pub fn gate_params(&self) -> Vec<Value> {
        vec![self.limit.rule.into(), self.caller.as_str().into(), self.limit.max.into()]
    }

    /// What the counting statement returned: [`Verdict::Within`] for no row (not counted).
    pub fn verdict(&self, rows: &Rows) -> Result<Verdict, Error> {
        let Some(row) = rows.first() else { return Ok(Verdict::Within) };
        let count = row.i64("count")?;
        if count <= self.limit.max {
            return Ok(Verdict::Within);
        }
        let end = crate::web::parse_stamp(row.str("window_end")?).unwrap_or(self.end);
        let wait = (end - self.now).num_seconds().max(1);
        Ok(Verdict::Over { retry_after: u64::try_from(wait).unwrap_or(1), first: count == self.limit.max + 1 })
    }

    /// Takes this request back out of the count (a photo that could not be stored): one
    /// statement, best effort.
    pub async fn refund(&self, env: &impl Platform, db: &str) {
        let sql = "UPDATE rate_limits SET count = count - 1 WHERE rule = ?1 AND caller = ?2 AND count > 0";
        if let Err(e) = env.execute(db, sql, &[self.limit.rule.into(), self.caller.as_str().into()]).await {
            crate::log::error(&format!("rate limit {}: refund failed: {e}", self.limit.rule));
        }
    }

    /// [`Count::gate_params`] with room for the one request that crosses the limit (the one
    /// told "too many"): `NOT` that gate holds for the requests after it, those answered with
    /// silence ([`Verdict::Over`] with `first: false`).
    pub fn notice_gate_params(&self) -> Vec<Value> {
        vec![self.limit.rule.into(), self.caller.as_str().into(), (self.limit.max + 1).into()]
    }
}

/// Counts the request and runs `reads` in the same batch (one round trip); their rows when
/// within the limit, [`Error::TooManyRequests`] when over it. `reads` must not write (they
/// run over the limit too; gate a write with [`Count::gate`]).
pub async fn check(env: &impl Platform, db: &str, count: &Count, reads: Vec<Statement>) -> Result<Vec<Rows>, Error> {
    let mut statements = Vec::with_capacity(reads.len() + 1);
    statements.push(count.statement());
    statements.extend(reads);
    let mut results = env.batch(db, &statements).await?;
    if results.is_empty() {
        return Err(Error::Internal("rate limit: the batch returned nothing".into()));
    }
    let counted = results.remove(0);
    count.verdict(&counted)?.into_result()?;
    Ok(results)
}

/// Removes windows that ended before `now`, at most `max` of them: for the tick. How many.
pub fn sweep(now: DateTime<Utc>, max: i64) -> Statement {
    Statement::new(
        "DELETE FROM rate_limits WHERE (rule, caller) IN
             (SELECT rule, caller FROM rate_limits WHERE window_end <= ?1 LIMIT ?2) RETURNING 1",
        vec![crate::web::stamp(now).into(), max.into()],
    )
}

/// The `rate_limits` table as every database's migration creates it; a test keeps the
/// migrations identical to it.
pub const SCHEMA: &str = "CREATE TABLE rate_limits (
    rule       TEXT NOT NULL,                  -- the rule's name: report_filing, sms, ...
    caller     TEXT NOT NULL,                  -- civic::auth::pseudonym of sub:/phone:/chat:/open311:/ip:
    count      INTEGER NOT NULL,               -- requests in the window, refused ones too
    window_end TEXT NOT NULL,                  -- UTC RFC 3339: the window opened at the first request
    PRIMARY KEY (rule, caller)
) STRICT, WITHOUT ROWID;

CREATE INDEX rate_limits_end ON rate_limits (window_end);
";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::native::{NativePlatform, block_on};

    const RULE: Rule = Rule { name: "test", default: "3/1h" };

    fn env() -> NativePlatform {
        let env = NativePlatform::in_memory(&["db"]).with_config("internal_secret", "k");
        block_on(env.execute("db", SCHEMA.split(';').next().unwrap_or_default(), &[])).unwrap();
        env.set_now("2026-01-01T00:00:00Z".parse().unwrap());
        env
    }

    fn hit(env: &NativePlatform, who: &Caller) -> Verdict {
        let count = RULE.count(env, who).unwrap();
        let rows = block_on(env.batch("db", &[count.statement()])).unwrap();
        count.verdict(&rows[0]).unwrap()
    }

    #[test]
    fn settings_parse() {
        assert_eq!(parse("10/1h"), Some((10, Duration::from_secs(3600))));
        assert_eq!(parse(" 30 / 10m "), Some((30, Duration::from_secs(600))));
        assert_eq!(parse("5/1day"), Some((5, Duration::from_secs(86_400))));
        for bad in ["", "10", "0/1h", "-1/1h", "10/", "10/0s", "x/1h", "10/1 fortnight"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        let env = NativePlatform::in_memory(&[]).with_config("rate_limit_test", "nonsense");
        assert!(matches!(RULE.limit(&env), Err(Error::Config(_))));
    }

    #[test]
    fn a_window_counts_refusals_and_resets_when_it_ends() {
        let env = env();
        let me = Caller::Phone("0905123456".into());
        assert_eq!([hit(&env, &me), hit(&env, &me), hit(&env, &me)], [Verdict::Within; 3]);
        assert_eq!(hit(&env, &me), Verdict::Over { retry_after: 3600, first: true });
        env.set_now("2026-01-01T00:20:00Z".parse().unwrap());
        assert_eq!(hit(&env, &me), Verdict::Over { retry_after: 2400, first: false });
        // The same line in another form is the same caller; another caller is served.
        assert!(matches!(hit(&env, &Caller::Phone("+84 905 123 456".into())), Verdict::Over { first: false, .. }));
        assert_eq!(hit(&env, &Caller::Phone("0905000111".into())), Verdict::Within);
        env.set_now("2026-01-01T01:00:00Z".parse().unwrap());
        assert_eq!(hit(&env, &me), Verdict::Within, "a new window");
        let rows = block_on(env.query("db", "SELECT caller, count FROM rate_limits", &[])).unwrap();
        assert!(rows.iter().all(|r| !r.str("caller").unwrap().contains("905")), "callers are pseudonyms");
        let swept = block_on(env.batch("db", &[sweep("2026-01-01T01:30:00Z".parse().unwrap(), 10)])).unwrap();
        assert_eq!(swept[0].len(), 1, "the other's window (00:20 to 01:20) ended, mine (01:00 to 02:00) holds");
    }

    #[test]
    fn the_gate_holds_back_writes_over_the_limit() {
        let env = env();
        block_on(env.execute("db", "CREATE TABLE t (x INTEGER)", &[])).unwrap();
        let me = Caller::Subject("citizen-1".into());
        for _ in 0..5 {
            let count = RULE.count(&env, &me).unwrap();
            let mut params: Vec<Value> = vec![7.into()];
            params.extend(count.gate_params());
            let write = Statement::new(format!("INSERT INTO t (x) SELECT ?1 WHERE {}", count.gate(2)), params);
            block_on(env.batch("db", &[count.statement(), write])).unwrap();
        }
        let rows = block_on(env.query("db", "SELECT count(*) AS n FROM t", &[])).unwrap();
        assert_eq!(rows.first().unwrap().i64("n").unwrap(), 3);
        let count = RULE.count(&env, &me).unwrap();
        assert!(matches!(block_on(check(&env, "db", &count, vec![])), Err(Error::TooManyRequests(3600))));
    }

    #[test]
    fn concurrent_requests_are_counted_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.sqlite");
        let setup = NativePlatform::open_files(&[("db", path.clone())]).unwrap().with_config("internal_secret", "k");
        block_on(setup.execute("db", SCHEMA.split(';').next().unwrap_or_default(), &[])).unwrap();
        let within = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    let env = NativePlatform::open_files(&[("db", path.clone())])
                        .unwrap()
                        .with_config("internal_secret", "k");
                    for _ in 0..5 {
                        if hit(&env, &Caller::Address(Some([10, 0, 0, 1].into()))) == Verdict::Within {
                            within.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        assert_eq!(within.into_inner(), 3, "40 requests from 8 threads, 3 served");
    }

    #[test]
    fn every_database_creates_the_same_table() {
        let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        for db in ["reports", "permits", "payments", "food", "chat"] {
            let creates: Vec<String> = std::fs::read_dir(migrations.join(db))
                .unwrap()
                .map(|f| std::fs::read_to_string(f.unwrap().path()).unwrap())
                .filter(|sql| sql.contains("CREATE TABLE rate_limits"))
                .collect();
            assert_eq!(creates.len(), 1, "{db}: one migration creates rate_limits");
            assert!(creates[0].contains(SCHEMA), "{db}: the table as civic::limit::SCHEMA has it");
        }
    }

    #[test]
    fn callers_by_what_identifies_them() {
        let v6: std::net::IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        assert_eq!(Caller::Address(Some(v6)).key(), "ip:2001:db8:1:2::/64");
        assert_eq!(Caller::Phone("0905 123 456".into()).key(), "phone:84905123456");
        assert_eq!(Caller::Chat { channel: "zalo".into(), user: " 42 ".into() }.key(), "chat:zalo:42");
        assert_eq!(Caller::Address(None).key(), "ip:unknown");
    }
}
