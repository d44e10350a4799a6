//! `GET /food-safety/establishments?q=<text>&district=<text>&limit=<n>`
//!
//! Finds the place a citizen means from what they typed: without diacritics, misspelled,
//! words in any order, with or without the street, ward or district (see [`crate::phrase`]
//! for how the text is read and [`crate::rank`] for the order). `district` restricts to one
//! district. Answers `{"results": [...], "total": N}`, best match first. A `q` of more than
//! 200 characters or [`MAX_WORDS`] words is refused (422), not cut short.
//!
//! The words are looked up in SQLite's FTS5 index of the folded names and places, and names
//! in the index of folded names, never by scanning the table; typo corrections come from the
//! `search_keys` table (see [`crate::fuzzy`]). A search is at most two database round trips
//! (see [`find`]).
//!
//! Without `q` (or with `page` or `page_size`, up to 500), it pages through every record by
//! id for the province's open-data portal (`district` still filters): `{"results", "total",
//! "page", "page_size"}`.
//!
//! With `near=<lat>,<lng>` (WGS 84 degrees) it finds the places within `radius` metres
//! (default [`DEFAULT_RADIUS_M`], at most [`MAX_RADIUS_M`]) by great-circle distance, nearest
//! first, at most `limit` (default [`DEFAULT_LIMIT`]): `{"results": [hit + "distance_m"],
//! "total"}`, `distance_m` in whole metres, `total` how many places lie within the radius.
//! Places without coordinates are never found (see [`crate::nearby`]). `near` is not
//! combined with `q`, `district`, `page` or `page_size`, and `radius` needs `near`: 400
//! naming the parameter, as for a malformed `near` or a `radius` that is not a whole number
//! from 1 to 5000 (every such problem in the `detail`). A repeated `near` or `radius` is a 422.

use std::collections::{BTreeSet, HashSet};

use bytes::Bytes;
use chrono::NaiveDate;
use civic::text::words;
use civic::{Error, FieldError, Msg, Platform};
use http::{Request, Response, StatusCode};
use serde::Serialize;

use crate::model::{Certificate, CertificateStatus};
use crate::nearby::{DEFAULT_RADIUS_M, MAX_RADIUS_M, Nearby};
use crate::phrase::{Item, MAX_WORDS};
use crate::rank::{Near, Score};
use crate::store::{self, Step, StepRows, Summary};

pub const DEFAULT_LIMIT: usize = 10;
/// The longest `q` (characters); longer is refused (422), as is one of more than
/// [`MAX_WORDS`] words.
pub const MAX_Q_CHARS: usize = 200;
pub const MAX_LIMIT: usize = 50;
pub const MAX_PAGE_SIZE: i64 = 500;

/// One search hit.
#[derive(Debug, Serialize)]
pub struct Hit<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub address: &'a str,
    pub ward: &'a str,
    pub district: &'a str,
    pub certificate_status: CertificateStatus,
    pub certificate: Option<&'a Certificate>,
    /// How many violations are on record.
    pub violations: i64,
}

impl<'a> Hit<'a> {
    pub fn of(s: &'a Summary, today: NaiveDate) -> Hit<'a> {
        let e = &s.establishment;
        Hit {
            id: &e.id,
            name: &e.name,
            address: &e.address,
            ward: &e.ward,
            district: &e.district,
            certificate_status: CertificateStatus::of(e.certificate.as_ref(), today),
            certificate: e.certificate.as_ref(),
            violations: s.violations,
        }
    }
}

/// One place of a `near` search: a [`Hit`] and how far it is.
#[derive(Debug, Serialize)]
pub struct NearHit<'a> {
    #[serde(flatten)]
    pub hit: Hit<'a>,
    /// The great-circle distance from `near`, in whole metres.
    pub distance_m: i64,
}

/// Drops administrative prefixes so `Quận Hải Châu`, `q. hai chau` and `Hải Châu` match alike.
pub fn area_key(s: &str) -> String {
    let mut w = words(s);
    const PREFIXES: &[&[&str]] = &[
        &["thanh", "pho"],
        &["thi", "xa"],
        &["thi", "tran"],
        &["quan"],
        &["huyen"],
        &["phuong"],
        &["xa"],
        &["tp"],
        &["q"],
        &["p"],
    ];
    if let Some(p) = PREFIXES
        .iter()
        .find(|p| w.len() > p.len() && w.starts_with(&p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>()))
    {
        w.drain(..p.len());
    }
    w.join(" ")
}

/// The most places read from the text index per step of a search, in its order (see
/// [`find`]).
pub const EXACT_LIMIT: usize = 100;
pub const LOOSE_LIMIT: usize = 200;
/// Places matching every word in their name that make the looser steps unnecessary.
pub const ENOUGH: usize = 10;
/// The most typo corrections tried per query word, nearest first.
pub const MAX_NEAR: usize = 12;

/// A ranked search.
#[derive(Debug, Default)]
pub struct Found {
    /// Matches, best first, with their scores (see [`crate::rank`]).
    pub ranked: Vec<(i64, Summary)>,
    /// How many places match: the matches ranked or, when a step of whole words matched more
    /// than it read, that step's count if it is more.
    pub total: i64,
}

fn quote(phrase: &[String]) -> String {
    format!("\"{}\"", phrase.join(" ").replace('"', "\"\""))
}

/// How an item is written into an FTS5 query.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Spelling {
    /// As typed.
    Typed,
    /// A plain hard word the index does not know is replaced by its nearest corrections.
    Corrected,
    /// A plain hard word as typed, as the start of a word, or any of its corrections (for a
    /// word the index knows, only with `known_too`).
    Loose { known_too: bool },
}

/// One item as an FTS5 expression (see [`Spelling`]); `known` are the query words the index
/// holds as they are.
fn expression(item: &Item, near: &Near, spelling: Spelling) -> String {
    let mut alternatives: Vec<String> = item.forms.iter().map(|f| quote(f)).collect();
    if let Some(w) = item.plain().filter(|_| !item.soft) {
        let corrections = near.corrections.get(w).map(Vec::as_slice).unwrap_or_default();
        match spelling {
            Spelling::Typed => {}
            Spelling::Corrected if near.known.contains(w) => {}
            Spelling::Corrected => {
                let nearest = corrections.iter().map(|(_, d)| *d).min();
                let best = corrections.iter().filter(|(_, d)| Some(*d) == nearest);
                alternatives.extend(best.map(|(n, _)| quote(std::slice::from_ref(n))));
            }
            Spelling::Loose { known_too } => {
                // as typed anywhere; as a prefix (3 letters or more) or corrected in the name
                // only: place words are few and common, loosely they would match most places.
                // A word the index knows is corrected only in short queries: its corrections
                // are common words (`chao`: `cha`, `cho`, `chi`...) that together match half the
                // province; in a query of three words or more, a real word typed for another
                // (`hung` for `Hương`) is left to the step that leaves one word out.
                let corrections = if near.known.contains(w) && !known_too { &[][..] } else { corrections };
                let mut loose: Vec<String> = corrections.iter().map(|(n, _)| quote(std::slice::from_ref(n))).collect();
                if w.chars().count() >= 3 {
                    loose.insert(0, format!("{}*", quote(std::slice::from_ref(&w.to_owned()))));
                }
                if !loose.is_empty() {
                    alternatives.push(format!("name_folded : ({})", loose.join(" OR ")));
                }
            }
        }
    }
    if alternatives.len() == 1 { alternatives.remove(0) } else { format!("({})", alternatives.join(" OR ")) }
}

fn all_of(parts: &[String]) -> String {
    parts.join(" AND ")
}

/// An FTS5 query for the places that match every one of `parts` but at most one (at least
/// two parts). Written as `(a AND b AND all_but_one(rest)) OR ((a OR b) AND all_of(rest))`,
/// not as the OR of every part left out in turn: the same places, but each part appears
/// about a quarter as often, and FTS5 reads a part's list once per appearance (half the
/// time over common words at 100,000 places).
fn all_but_one(parts: &[String]) -> String {
    match parts {
        [] | [_] => String::new(),
        [a, b] => format!("({a} OR {b})"),
        [a, b, rest @ ..] => {
            let inner = all_but_one(rest);
            let both = if inner.is_empty() { format!("{a} AND {b}") } else { format!("{a} AND {b} AND {inner}") };
            format!("(({both}) OR (({a} OR {b}) AND {}))", all_of(rest))
        }
    }
}

/// The plain hard words of a query, whose typos are corrected.
fn plain_words(items: &[Item]) -> Vec<&str> {
    items.iter().filter(|i| !i.soft).filter_map(Item::plain).collect()
}

/// Typo corrections of the plain hard words, from the indexed words `found` that share a
/// deletion key with them (see [`store::words_statement`]): those within their tolerance,
/// nearest first, at most [`MAX_NEAR`] each, and which of the words the index holds as typed.
fn corrections(items: &[Item], found: &[String]) -> Near {
    let plain = plain_words(items);
    let known: HashSet<String> =
        plain.iter().filter(|w| found.iter().any(|f| f == *w)).map(|w| (*w).to_owned()).collect();
    let mut near = Near { known, ..Near::default() };
    for w in plain {
        let mut list: Vec<(String, usize)> = found
            .iter()
            .filter(|f| f.as_str() != w)
            .filter_map(|f| crate::fuzzy::near(w, f).map(|d| (f.clone(), d)))
            .collect();
        // nearest first; among equals, those that keep the first letter and the length
        let first = w.chars().next();
        list.sort_by_key(|(f, d)| (*d, f.chars().next() != first, f.len().abs_diff(w.len()), f.clone()));
        list.truncate(MAX_NEAR);
        near.corrections.insert(w.to_owned(), list);
    }
    near
}

/// The most names [`name_starts`] gives.
pub const MAX_NAMES: usize = 12;

/// What a place's name may be or start with, by the query: its items' words in order, each
/// item as one of its forms and, with `near`, a plain hard word the index does not know as
/// its nearest corrections; with the soft items and without them; at most [`MAX_NAMES`].
/// These are read through the index of names ([`store::names_statement`]): the exact and
/// the longer names of a common query, which the text index would find only among
/// thousands.
fn name_starts(items: &[Item], near: Option<&Near>) -> Vec<String> {
    let alternatives = |item: &Item| -> Vec<String> {
        let corrections = near.and_then(|n| {
            let w = item.plain().filter(|w| !item.soft && !n.known.contains(*w))?;
            let list = n.corrections.get(w)?;
            let nearest = list.iter().map(|(_, d)| *d).min()?;
            Some(list.iter().filter(|(_, d)| *d == nearest).map(|(c, _)| c.clone()).collect::<Vec<_>>())
        });
        corrections.unwrap_or_else(|| item.forms.iter().map(|f| f.join(" ")).collect())
    };
    let mut out: Vec<String> = Vec::new();
    for with_soft in [true, false] {
        let mut names = vec![String::new()];
        for item in items.iter().filter(|i| with_soft || !i.soft) {
            let alts = alternatives(item);
            names = names
                .iter()
                .flat_map(|n| alts.iter().map(move |a| if n.is_empty() { a.clone() } else { format!("{n} {a}") }))
                .take(MAX_NAMES)
                .collect();
        }
        out.extend(names.into_iter().filter(|n| !n.is_empty() && !out.contains(n)).collect::<Vec<_>>());
    }
    out.truncate(MAX_NAMES);
    out
}

/// The places a search has read so far, ranked.
struct Pool<'a> {
    items: &'a [Item],
    today: NaiveDate,
    seen: HashSet<String>,
    places: Vec<Summary>,
    ranked: Vec<(Score, usize)>,
    /// How many places matched the first step of whole words that matched more than it read.
    total: Option<i64>,
}

impl<'a> Pool<'a> {
    fn new(items: &'a [Item], today: NaiveDate) -> Pool<'a> {
        Pool { items, today, seen: HashSet::new(), places: Vec::new(), ranked: Vec::new(), total: None }
    }

    /// Matches with every word in the name (or in the place for a district or ward).
    fn name_matches(&self) -> usize {
        self.ranked.iter().filter(|(s, _)| s.in_name).count()
    }

    /// Whether a looser step could not find a better match: the best place matches
    /// completely, or [`ENOUGH`] places match every word in their name.
    fn settled(&self) -> bool {
        self.ranked.first().is_some_and(|(s, _)| s.complete) || self.name_matches() >= ENOUGH
    }

    fn add(&mut self, read: StepRows, near: &Near) {
        if self.total.is_none() {
            self.total = read.total;
        }
        let before = self.places.len();
        self.places.extend(read.places.into_iter().filter(|s| self.seen.insert(s.establishment.id.clone())));
        if self.places.len() > before {
            self.ranked = crate::rank::rank(&self.places, self.items, near, self.today);
        }
    }

    fn found(self) -> Found {
        let ranked_len = i64::try_from(self.ranked.len()).unwrap_or(i64::MAX);
        let total = self.total.map_or(ranked_len, |t| t.max(ranked_len));
        let mut places: Vec<Option<Summary>> = self.places.into_iter().map(Some).collect();
        let ranked = self.ranked.into_iter().filter_map(|(s, i)| places[i].take().map(|p| (s.points, p))).collect();
        Found { ranked, total }
    }
}

/// Runs a search against the text index in steps, from the most to the least precise, and
/// stops once the best place matches completely or [`ENOUGH`] places match every word in
/// their name (a place matching more precisely outranks the looser matches a later step
/// would add):
/// 1. every item as typed (soft items too), in the name; then in the name or the place;
/// 2. every hard item, the words the index does not know replaced by their nearest
///    corrections (what the citizen most likely meant), in the name with the kind words,
///    then without them; then anywhere;
/// 3. every hard item as typed, or in the name as a prefix or any of its corrections (in
///    queries of three hard items or more, only the words the index does not know are
///    corrected: a known word's corrections are common words);
/// 4. unless three places match every hard item of step 2 in their name: step 2 with any
///    one hard item left out (for three hard items or more, as a third may miss).
///
/// Beside steps 1 and 2, the places whose name is or starts with the query (as typed, then
/// as meant: [`name_starts`]) are read through the index of names.
///
/// Two database round trips at most: the typo corrections, the names and step 1 in one
/// batch; unless that settled the search, the rest in another, as one statement whose
/// steps SQLite skips by the same rules before it reads the index for them. Each step reads
/// at most [`EXACT_LIMIT`] (steps 3 and 4: [`LOOSE_LIMIT`]) places, in the index's order;
/// when more match a step of whole words, they are counted ([`Found::total`]). Place words
/// are few and common (`hoa` of every `Hòa ...` ward), which is why the name alone is tried
/// first.
pub async fn find(env: &impl Platform, items: &[Item], district: Option<&str>) -> Result<Found, Error> {
    if items.is_empty() {
        return Ok(Found::default());
    }
    let today = civic::web::vn_today(env.now());
    let keys: BTreeSet<String> = plain_words(items).iter().flat_map(|w| crate::fuzzy::query_keys(w)).collect();
    let keys: Vec<String> = keys.into_iter().collect();
    let in_name = |expr: &str| format!("name_folded : ({expr})");
    let exact = |expr: String| Step { count: true, ..Step::new(expr, EXACT_LIMIT) };
    // round trip 1: the corrections, and every item as typed
    let plain_near = Near::default();
    let typed: Vec<String> = items.iter().map(|i| expression(i, &plain_near, Spelling::Typed)).collect();
    let first = [exact(in_name(&all_of(&typed))), Step { unless: vec![(0, ENOUGH)], ..exact(all_of(&typed)) }];
    let mut before = vec![store::names_statement(&name_starts(items, None), district)];
    if !keys.is_empty() {
        before.push(store::words_statement(&keys));
    }
    let (rows, read) = store::run_steps(env, before, &first, district).await?;
    let found = rows.get(1).map(store::words).transpose()?.unwrap_or_default();
    let near = corrections(items, &found);
    let done: Vec<(String, usize)> = first.iter().zip(&read).map(|(s, r)| (s.expr.clone(), r.places.len())).collect();
    let mut pool = Pool::new(items, today);
    let named = rows.first().map(store::summaries).transpose()?.unwrap_or_default();
    pool.add(StepRows { places: named, total: None }, &near);
    for r in read {
        if pool.settled() {
            break;
        }
        pool.add(r, &near);
    }
    let hard: Vec<&Item> = items.iter().filter(|i| !i.soft).collect();
    if pool.settled() || hard.is_empty() {
        return Ok(pool.found());
    }

    // round trip 2: as meant, then loosely
    let corrected: Vec<String> = hard.iter().map(|i| expression(i, &near, Spelling::Corrected)).collect();
    // as meant with the kind words first (`cf an nihen`: the cafés among the An Nhiên)
    let with_kinds: Vec<String> = items.iter().map(|i| expression(i, &near, Spelling::Corrected)).collect();
    let spelling = Spelling::Loose { known_too: hard.len() < 3 };
    let loose: Vec<String> = hard.iter().map(|i| expression(i, &near, spelling)).collect();
    let all_corrected = all_of(&corrected);
    // each step reads nothing once an earlier one found ENOUGH places with every word in the
    // name
    let (kinds_in_name, corrected_in_name) = (0, 1);
    let settled = vec![(kinds_in_name, ENOUGH), (corrected_in_name, ENOUGH)];
    let mut steps = vec![
        exact(in_name(&all_of(&with_kinds))),
        Step { unless: settled[..1].to_vec(), ..exact(in_name(&all_corrected)) },
        Step { unless: settled.clone(), ..exact(all_corrected.clone()) },
        Step { unless: settled.clone(), ..Step::new(all_of(&loose), LOOSE_LIMIT) },
    ];
    // a third of the hard words may miss: leave each out in turn (spelled as meant, to keep
    // the step as selective as step 2)
    let mut leave_one_out = None;
    if corrected.len() >= 3 {
        let expr = all_but_one(&corrected);
        leave_one_out = Some(expr.clone());
        let unless = [&settled[..], &[(corrected_in_name, 3)]].concat();
        steps.push(Step { unless, ..Step::new(expr, LOOSE_LIMIT) });
    }
    for step in &mut steps {
        step.known = done.iter().find(|(e, _)| *e == step.expr).map(|(_, n)| *n);
    }
    let last = leave_one_out.and_then(|e| steps.iter().position(|s| s.expr == e));
    let names = vec![store::names_statement(&name_starts(items, Some(&near)), district)];
    let (rows, read) = store::run_steps(env, names, &steps, district).await?;
    let named = rows.first().map(store::summaries).transpose()?.unwrap_or_default();
    pool.add(StepRows { places: named, total: None }, &near);
    for (i, r) in read.into_iter().enumerate() {
        if pool.settled() {
            break;
        }
        if Some(i) == last && pool.name_matches() >= 3 {
            break;
        }
        pool.add(r, &near);
    }
    Ok(pool.found())
}

/// The parameters that are not combined with `near`.
pub const NOT_WITH_NEAR: [&str; 4] = ["q", "district", "page", "page_size"];

/// Reads a `near` search from its parameters: `Ok(None)` when neither `near` nor `radius` is
/// given; the point and radius (metres) when they are fine; else a 400 ([`Error::BadRequest`])
/// whose detail names every offending parameter: a malformed `near`, a `radius` that is not a
/// whole number of metres from 1 to [`MAX_RADIUS_M`], a `radius` without `near`, or any of
/// `given` (the other parameters present with a value, blank ones ignored) that
/// [`NOT_WITH_NEAR`] lists.
pub fn near_query(
    near: Option<&str>,
    radius: Option<&str>,
    given: &[&str],
) -> Result<Option<(civic::command::Location, u32)>, Error> {
    if near.is_none() && radius.is_none() {
        return Ok(None);
    }
    let mut vi: Vec<String> = Vec::new();
    let mut en: Vec<String> = Vec::new();
    let at = near.and_then(crate::nearby::parse_near);
    match near {
        None => {
            vi.push("radius: chỉ dùng cùng near".into());
            en.push("radius: only with near".into());
        }
        Some(_) if at.is_none() => {
            vi.push("near: phải có dạng <vĩ độ>,<kinh độ> (độ, WGS 84), ví dụ 16.0719,108.2203".into());
            en.push("near: must be <lat>,<lng> in WGS 84 degrees, e.g. 16.0719,108.2203".into());
        }
        Some(_) => {}
    }
    let metres = match radius {
        None => Some(DEFAULT_RADIUS_M),
        Some(r) => crate::nearby::parse_radius(r),
    };
    if metres.is_none() {
        vi.push(format!("radius: phải là số mét nguyên từ 1 đến {MAX_RADIUS_M}"));
        en.push(format!("radius: must be a whole number of metres from 1 to {MAX_RADIUS_M}"));
    }
    if near.is_some() {
        for p in NOT_WITH_NEAR.iter().filter(|p| given.contains(p)) {
            vi.push(format!("{p}: không dùng cùng near"));
            en.push(format!("{p}: not combined with near"));
        }
    }
    match (at, metres) {
        (Some(at), Some(metres)) if vi.is_empty() => Ok(Some((at, metres))),
        _ => Err(Error::BadRequest(Msg::new(vi.join("; "), en.join("; ")))),
    }
}

/// The route (see the module docs): a `near` search, the open-data listing, or a text search,
/// by the parameters given. 400 for a bad `near` search ([`near_query`]), 422 naming every
/// other bad parameter, 503 when the database fails.
pub async fn get(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let near = civic::web::query_param(req, "near")?;
    let radius = civic::web::query_param(req, "radius")?;
    let mut q = String::new();
    let mut district = None;
    let mut limit = DEFAULT_LIMIT;
    let mut limit_given = false;
    let (mut page, mut page_size, mut paged) = (1i64, 100i64, false);
    let mut errors = Vec::new();
    let pairs = civic::web::query_pairs(req);
    let given: Vec<&str> =
        NOT_WITH_NEAR.into_iter().filter(|p| pairs.iter().any(|(k, v)| k == p && !v.trim().is_empty())).collect();
    for (k, v) in pairs {
        match k.as_str() {
            "q" => q = v,
            "district" => district = Some(v),
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => {
                    limit = n;
                    limit_given = true;
                }
                _ => errors.push(FieldError::new(
                    "limit",
                    Msg::new(
                        format!("Phải là số từ 1 đến {MAX_LIMIT}"),
                        format!("must be a number from 1 to {MAX_LIMIT}"),
                    ),
                )),
            },
            "page" => {
                paged = true;
                match v.parse::<i64>() {
                    Ok(n) if n >= 1 => page = n,
                    _ => errors.push(FieldError::new("page", Msg::new("Phải là số từ 1", "must be a number from 1"))),
                }
            }
            "page_size" => {
                paged = true;
                match v.parse::<i64>() {
                    Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => page_size = n,
                    _ => errors.push(FieldError::new(
                        "page_size",
                        Msg::new(format!("Từ 1 đến {MAX_PAGE_SIZE}"), format!("from 1 to {MAX_PAGE_SIZE}")),
                    )),
                }
            }
            _ => {}
        }
    }
    if let Some((at, radius_m)) = near_query(near.as_deref(), radius.as_deref(), &given)? {
        if !errors.is_empty() {
            return Err(Error::Validation(errors));
        }
        return near_get(env, at, radius_m, limit).await;
    }
    if paged && !words(&q).is_empty() {
        errors.push(FieldError::new(
            "page",
            Msg::new("Phân trang chỉ dùng khi không có q", "paging is for listing without q"),
        ));
    }
    if q.chars().count() > MAX_Q_CHARS {
        errors.push(FieldError::new("q", Msg::too_long(MAX_Q_CHARS)));
    } else if crate::phrase::too_long(&q) {
        errors.push(FieldError::new(
            "q",
            Msg::new(format!("Tối đa {MAX_WORDS} từ"), format!("at most {MAX_WORDS} words")),
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let today = civic::web::vn_today(env.now());
    if paged || words(&q).is_empty() {
        if limit_given && !paged {
            page_size = i64::try_from(limit).unwrap_or(page_size);
        }
        let district = district.map(|d| area_key(&d)).filter(|d| !d.is_empty());
        let (list, total) = store::page(env, district.as_deref(), page, page_size).await?;
        let results: Vec<Hit<'_>> = list.iter().map(|s| Hit::of(s, today)).collect();
        let body = serde_json::json!({"results": results, "total": total, "page": page, "page_size": page_size});
        return civic::web::json(StatusCode::OK, &body);
    }
    let district = district.map(|d| area_key(&d)).filter(|d| !d.is_empty());
    let Found { ranked, total } = find(env, &crate::phrase::parse(&q), district.as_deref()).await?;
    let results: Vec<Hit<'_>> = ranked.iter().take(limit).map(|(_, s)| Hit::of(s, today)).collect();
    civic::web::json(StatusCode::OK, &serde_json::json!({"results": results, "total": total}))
}

/// The places within `radius_m` of `at`, nearest first, at most `limit`.
async fn near_get(
    env: &impl Platform,
    at: civic::command::Location,
    radius_m: u32,
    limit: usize,
) -> Result<Response<Bytes>, Error> {
    let Nearby { places, total } = crate::nearby::find(env, at, radius_m, limit, None).await?;
    let today = civic::web::vn_today(env.now());
    let results: Vec<NearHit<'_>> =
        places.iter().map(|(d, s)| NearHit { hit: Hit::of(s, today), distance_m: d.round() as i64 }).collect();
    civic::web::json(StatusCode::OK, &serde_json::json!({"results": results, "total": total}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_key_table() {
        let cases = [
            ("Hải Châu", "hai chau"),
            ("Quận Hải Châu", "hai chau"),
            ("q. hai chau", "hai chau"),
            ("Huyện Hòa Vang", "hoa vang"),
            ("Phường Thạch Thang", "thach thang"),
            ("quan", "quan"),
            ("Thành phố Đà Nẵng", "da nang"),
        ];
        for (input, want) in cases {
            assert_eq!(area_key(input), want, "area_key({input:?})");
        }
    }

    /// `all_but_one` finds exactly the rows that have every word but at most one, for three to
    /// five words, checked against every subset of them in a real FTS5 table.
    #[test]
    fn all_but_one_is_every_part_but_at_most_one() {
        use civic::platform::Platform;
        use civic::platform::native::{NativePlatform, block_on};
        let words = ["alpha", "beta", "gamma", "delta", "omega"];
        for n in 3..=words.len() {
            let env = NativePlatform::in_memory(&["t"]);
            block_on(env.execute("t", "CREATE VIRTUAL TABLE f USING fts5(x)", &[])).unwrap();
            for mask in 0u32..(1 << n) {
                let text: Vec<&str> = (0..n).filter(|i| mask & (1 << i) != 0).map(|i| words[i]).collect();
                let sql = "INSERT INTO f (rowid, x) VALUES (?1, ?2)";
                block_on(env.execute("t", sql, &[i64::from(mask).into(), format!("zz {}", text.join(" ")).into()]))
                    .unwrap();
            }
            let parts: Vec<String> = words[..n].iter().map(|w| format!("\"{w}\"")).collect();
            let rows =
                block_on(env.query("t", "SELECT rowid AS m FROM f WHERE f MATCH ?1", &[all_but_one(&parts).into()]))
                    .unwrap();
            let mut got: Vec<i64> = rows.iter().map(|r| r.i64("m").unwrap()).collect();
            got.sort_unstable();
            let want: Vec<i64> = (0u32..(1 << n)).filter(|m| m.count_ones() as usize + 1 >= n).map(i64::from).collect();
            assert_eq!(got, want, "{n} words");
        }
    }

    /// A query past the word cap is refused whole, naming the cap, not searched cut short.
    #[test]
    fn a_query_of_too_many_words_is_refused() {
        use civic::platform::native::{NativePlatform, block_on};
        let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        let env = NativePlatform::in_memory_migrated(&[store::DB], &migrations).unwrap();
        let get = |q: &str| {
            let uri = format!("/food-safety/establishments?q={}", q.replace(' ', "+"));
            block_on(crate::handle(Request::get(uri).header("accept-language", "en").body(Bytes::new()).unwrap(), &env))
        };
        assert_eq!(get(&["pho"; MAX_WORDS].join(" ")).status(), StatusCode::OK);
        let resp = get(&["pho"; MAX_WORDS + 1].join(" "));
        assert_eq!(resp.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        assert_eq!(v["errors"][0]["field"], "q");
        assert_eq!(v["errors"][0]["message"], format!("at most {MAX_WORDS} words"));
    }
}
