//! The `reports` database: storing a new report (with its first history event, its
//! `report.created` event and its idempotency key, atomically), finding a nearby open duplicate, reading a report, and the
//! [`Filter`] the list routes build their `WHERE` clause with.

use chrono::{DateTime, Duration, Utc};
use civic::limit::{Count, Verdict};
use civic::platform::{Row, Statement, Value};
use civic::{Error, Platform};

use crate::geo;
use crate::status::{Status, Step};

pub const DB: &str = "reports";

pub use civic::web::stamp;

/// How near (metres) and how recent (days) an open report of the same category must be for
/// a new one to be its duplicate.
pub const DUPLICATE_METRES: f64 = 50.0;
pub const DUPLICATE_DAYS: i64 = 7;

/// The next report code of the day (Vietnam time), `PA-YYMMDD-NNNN`, with the filing
/// counted against its rate limit in the same batch (one round trip): no code is taken over
/// the limit (`None`, and the [`Verdict`] says when to try again).
pub async fn next_code(
    env: &impl Platform,
    now: DateTime<Utc>,
    counted: &Count,
) -> Result<(Verdict, Option<String>), Error> {
    let day = now.with_timezone(&civic::web::vietnam()).format("%y%m%d").to_string();
    let mut params: Vec<Value> = vec![day.as_str().into()];
    params.extend(counted.gate_params());
    let take = Statement::new(
        format!(
            "INSERT INTO report_counters (day, n) SELECT ?1, 1 WHERE {}
             ON CONFLICT (day) DO UPDATE SET n = n + 1 RETURNING n",
            counted.gate(2)
        ),
        params,
    );
    let results = env.batch(DB, &[counted.statement(), take]).await?;
    let verdict = counted.verdict(results.first().ok_or_else(|| Error::Internal("counter".into()))?)?;
    if verdict != Verdict::Within {
        return Ok((verdict, None));
    }
    let rows = results.get(1).ok_or_else(|| Error::Internal("counter".into()))?;
    let n = rows.first().map(|r| r.i64("n")).transpose()?.ok_or_else(|| Error::Internal("counter".into()))?;
    Ok((verdict, Some(format!("PA-{day}-{n:04}"))))
}

/// The nearest open report of `category` within [`DUPLICATE_METRES`] of the point, filed in
/// the last [`DUPLICATE_DAYS`] days. Only originals count, so duplicates gather around the
/// report they repeat instead of chaining away from it.
pub async fn duplicate_of(
    env: &impl Platform,
    category: &str,
    lat: f64,
    lng: f64,
    now: DateTime<Utc>,
) -> Result<Option<String>, Error> {
    let area = civic::geo::bounding_box(civic::command::Location { lat, lng }, DUPLICATE_METRES);
    let rows = env
        .query(
            DB,
            "SELECT code, lat, lng FROM reports
             WHERE category = ?1 AND status IN (SELECT value FROM json_each(?7)) AND created_at >= ?2
               AND duplicate_of IS NULL
               AND lat BETWEEN ?3 AND ?4 AND lng BETWEEN ?5 AND ?6",
            &[
                category.into(),
                stamp(now - Duration::days(DUPLICATE_DAYS)).into(),
                area.south.into(),
                area.north.into(),
                area.west.into(),
                area.east.into(),
                Status::json_list(&Status::OPEN).into(),
            ],
        )
        .await?;
    let mut best: Option<(f64, String)> = None;
    for r in rows.iter() {
        let d = geo::distance_m(lat, lng, r.f64("lat")?, r.f64("lng")?);
        if d <= DUPLICATE_METRES && best.as_ref().is_none_or(|(b, _)| d < *b) {
            best = Some((d, r.str("code")?.to_owned()));
        }
    }
    Ok(best.map(|(_, code)| code))
}

/// A report as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    pub code: String,
    pub category: String,
    pub description: String,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
    pub address: Option<String>,
    pub district: Option<String>,
    pub media_urls: Vec<String>,
    pub agency: String,
    pub status: Status,
    pub reporter_sub: Option<String>,
    pub reporter_name: Option<String>,
    pub reporter_phone: Option<String>,
    pub anonymous: bool,
    pub channel: String,
    /// The sender's id on `channel` when filed through a command (Zalo user id, Telegram
    /// chat id, SMS phone number), to message them back; personal data, never shown publicly.
    pub channel_user: Option<String>,
    pub duplicate_of: Option<String>,
    pub created_at: String,
    pub due_at: String,
    /// Answers to the category's questions: code -> text, number or value keys.
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// The reporter's stars (1-5), once they rated it.
    pub rating: Option<i64>,
}

/// One event of a report's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub at: String,
    pub status: Step,
    pub agency: String,
    pub note: Option<String>,
    pub media_url: Option<String>,
}

/// Stores a new report with its first event, its `report.created` event in the outbox
/// ([`crate::notify::created`]) and, when given, its idempotency key, all or nothing.
/// `Ok(false)` when the key was taken meanwhile (a concurrent retry): nothing is stored
/// then. The caller marks its answer with [`civic::outbox::soon`] after `Ok(true)`.
pub async fn insert(env: &impl Platform, r: &Report, idempotency: Option<&str>) -> Result<bool, Error> {
    let media = serde_json::to_string(&r.media_urls).map_err(|e| Error::Internal(e.to_string()))?;
    let attributes = serde_json::to_string(&r.attributes).map_err(|e| Error::Internal(e.to_string()))?;
    let mut statements = vec![
        Statement::new(
            "INSERT INTO reports (code, category, description, lat, lng, address, district, media_urls, agency, status,
                                  reporter_sub, reporter_name, reporter_phone, anonymous, channel, duplicate_of,
                                  created_at, due_at, attributes, channel_user)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20)",
            vec![
                r.code.as_str().into(),
                r.category.as_str().into(),
                r.description.as_str().into(),
                r.lat.into(),
                r.lng.into(),
                r.address.clone().into(),
                r.district.clone().into(),
                media.into(),
                r.agency.as_str().into(),
                r.status.as_str().into(),
                r.reporter_sub.clone().into(),
                r.reporter_name.clone().into(),
                r.reporter_phone.clone().into(),
                r.anonymous.into(),
                r.channel.as_str().into(),
                r.duplicate_of.clone().into(),
                r.created_at.as_str().into(),
                r.due_at.as_str().into(),
                attributes.into(),
                r.channel_user.clone().into(),
            ],
        ),
        Statement::new(
            "INSERT INTO report_events (code, seq, at, status, agency, note, media_url, actor)
             VALUES (?1, 1, ?2, ?5, ?3, ?4, NULL, 'citizen')",
            vec![
                r.code.as_str().into(),
                r.created_at.as_str().into(),
                r.agency.as_str().into(),
                r.duplicate_of.as_ref().map(|d| format!("Trùng với phản ánh {d}")).into(),
                Step::To(r.status).as_str().into(),
            ],
        ),
    ];
    if let Some(key) = idempotency {
        // A key already taken breaks its primary key, and the whole batch with it.
        statements.push(Statement::new(
            "INSERT INTO idempotency (key, code, created_at) VALUES (?1, ?2, ?3)",
            vec![key.into(), r.code.as_str().into(), r.created_at.as_str().into()],
        ));
    }
    let (_, event) = civic::outbox::enqueue(env, &crate::notify::created(r), civic::outbox::Guard::Always)?;
    statements.extend(event);
    match env.batch(DB, &statements).await {
        Ok(_) => Ok(true),
        Err(e) => match idempotency {
            Some(key) if by_key(env, key).await?.is_some() => Ok(false),
            _ => Err(e.into()),
        },
    }
}

/// The report an idempotency key created.
pub async fn by_key(env: &impl Platform, key: &str) -> Result<Option<String>, Error> {
    let rows = env.query(DB, "SELECT code FROM idempotency WHERE key = ?1", &[key.into()]).await?;
    Ok(rows.first().map(|r| r.str("code").map(str::to_owned)).transpose()?)
}

fn opt_text(r: &Row<'_>, c: &str) -> Result<Option<String>, civic::platform::DbError> {
    r.opt_str(c).map(|v| v.map(str::to_owned))
}

/// What a report's views name besides the report: its category's names and its agency's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Names {
    /// The category's `(name_vi, name_en)`; `None` when the catalogue no longer has it.
    pub category: Option<(String, String)>,
    /// The agency's name; empty when there is no such agency.
    pub agency: String,
}

/// A report and its history, oldest event first; `None` if there is no report `code`
/// (upper case, as stored). One round trip: [`get_named`].
pub async fn get(env: &impl Platform, code: &str) -> Result<Option<(Report, Vec<Event>)>, Error> {
    Ok(get_named(env, code).await?.map(|(report, history, _)| (report, history)))
}

/// A report, its history oldest event first, and the names its views show ([`Names`]);
/// `None` if there is no report `code` (upper case, as stored). One batch of two statements
/// (one round trip): the report's row joined with its category's and agency's names, then
/// its events.
pub async fn get_named(env: &impl Platform, code: &str) -> Result<Option<(Report, Vec<Event>, Names)>, Error> {
    let results = env
        .batch(
            DB,
            &[
                Statement::new(
                    "SELECT r.*, c.code IS NOT NULL AS category_known, c.name_vi AS category_name_vi,
                            c.name_en AS category_name_en, coalesce(a.name, '') AS agency_name
                     FROM reports r LEFT JOIN categories c ON c.code = r.category
                                    LEFT JOIN agencies a ON a.code = r.agency
                     WHERE r.code = ?1",
                    vec![code.into()],
                ),
                Statement::new(
                    "SELECT at, status, agency, note, media_url FROM report_events WHERE code = ?1 ORDER BY seq",
                    vec![Value::from(code)],
                ),
            ],
        )
        .await?;
    let [rows, events] = results.as_slice() else {
        return Err(Error::Internal(format!("a report's reads returned {} results, not 2", results.len())));
    };
    let Some(r) = rows.first() else { return Ok(None) };
    let media: Vec<String> = serde_json::from_str(r.str("media_urls")?).unwrap_or_default();
    let report = Report {
        code: r.str("code")?.to_owned(),
        category: r.str("category")?.to_owned(),
        description: r.str("description")?.to_owned(),
        lat: r.opt_f64("lat")?,
        lng: r.opt_f64("lng")?,
        address: opt_text(&r, "address")?,
        district: opt_text(&r, "district")?,
        media_urls: media,
        agency: r.str("agency")?.to_owned(),
        status: Status::stored(r.str("status")?)?,
        reporter_sub: opt_text(&r, "reporter_sub")?,
        reporter_name: opt_text(&r, "reporter_name")?,
        reporter_phone: opt_text(&r, "reporter_phone")?,
        anonymous: r.i64("anonymous")? == 1,
        channel: r.str("channel")?.to_owned(),
        channel_user: opt_text(&r, "channel_user")?,
        duplicate_of: opt_text(&r, "duplicate_of")?,
        created_at: r.str("created_at")?.to_owned(),
        due_at: r.str("due_at")?.to_owned(),
        attributes: serde_json::from_str(r.str("attributes")?)
            .map_err(|e| Error::Internal(format!("reports.attributes: {e}")))?,
        rating: r.opt_i64("rating")?,
    };
    let category = if r.i64("category_known")? == 1 {
        Some((r.str("category_name_vi")?.to_owned(), r.str("category_name_en")?.to_owned()))
    } else {
        None
    };
    let names = Names { category, agency: r.str("agency_name")?.to_owned() };
    let mut history = Vec::with_capacity(events.len());
    for e in events.iter() {
        history.push(Event {
            at: e.str("at")?.to_owned(),
            status: Step::stored(e.str("status")?)?,
            agency: e.str("agency")?.to_owned(),
            note: opt_text(&e, "note")?,
            media_url: opt_text(&e, "media_url")?,
        });
    }
    Ok(Some((report, history, names)))
}

/// An agency's name.
pub async fn agency_name(env: &impl Platform, code: &str) -> Result<String, Error> {
    let rows = env.query(DB, "SELECT name FROM agencies WHERE code = ?1", &[code.into()]).await?;
    Ok(rows.first().map(|r| r.str("name").map(str::to_owned)).transpose()?.unwrap_or_default())
}

/// A `WHERE` clause built from optional conditions, each with its own numbered parameters.
#[derive(Debug, Default)]
pub struct Filter {
    clauses: Vec<String>,
    params: Vec<Value>,
}

impl Filter {
    /// Adds `clause`, whose one `?` (it may appear several times) becomes the next numbered
    /// parameter, bound to `value`.
    pub fn bind(&mut self, clause: &str, value: impl Into<Value>) {
        self.params.push(value.into());
        self.clauses.push(clause.replace('?', &format!("?{}", self.params.len())));
    }

    /// Adds `column IN (...)` over a list bound as one JSON array parameter, so a list of any
    /// length is one parameter (D1 takes at most 100 per statement).
    pub fn any_of(&mut self, column: &str, json_list: String) {
        self.bind(&format!("{column} IN (SELECT value FROM json_each(?))"), json_list);
    }

    /// The clauses joined with `AND`; `1 = 1` when there are none.
    pub fn sql(&self) -> String {
        if self.clauses.is_empty() { "1 = 1".to_owned() } else { self.clauses.join(" AND ") }
    }

    pub fn params(&self) -> &[Value] {
        &self.params
    }
}
