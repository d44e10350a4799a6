//! GET /food-safety/establishments?q=<text>&district=<text>&limit=<n>
//!
//! Diacritic- and case-insensitive search on the name (every word of `q` must occur in it)
//! and, when given, on the district; best match first. Answers
//! `{"results": [...], "total": N}`.
//!
//! Without `q`, and with `page` or `page_size` (up to 500), it pages through every record by
//! id for the province's open-data portal (`district` still filters): `{"results", "total",
//! "page", "page_size"}`.

use bytes::Bytes;
use chrono::NaiveDate;
#[cfg(test)]
use civic::text::fold;
use civic::text::words;
use civic::{Error, FieldError, Msg, Platform};
use http::{Request, Response, StatusCode};
use serde::Serialize;

use crate::model::{Certificate, CertificateStatus};
use crate::store::{self, Filter, Summary};

pub const DEFAULT_LIMIT: usize = 10;
pub const MAX_LIMIT: usize = 50;
pub const MAX_PAGE_SIZE: i64 = 500;
/// Words of a query beyond this are ignored.
pub const MAX_WORDS: usize = 8;

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

/// How well a folded name matches the query words; higher is better.
pub fn score(name_folded: &str, query: &[String]) -> i64 {
    if query.is_empty() {
        return 0;
    }
    let name: Vec<&str> = name_folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let q: Vec<&str> = query.iter().map(String::as_str).collect();
    let base = if name == q {
        1000
    } else if name.starts_with(&q) {
        800
    } else if name.windows(q.len()).any(|w| w == q.as_slice()) {
        600
    } else if q.iter().all(|w| name.contains(w)) {
        400
    } else if q.iter().all(|w| name.iter().any(|n| n.starts_with(w))) {
        300
    } else {
        200
    };
    let extra = i64::try_from(name.len().saturating_sub(q.len()).min(50)).unwrap_or(50);
    base - extra
}

/// Sorts candidates best first: score, then a valid certificate, then name and id.
pub fn rank(mut list: Vec<Summary>, query: &[String], today: NaiveDate) -> Vec<(i64, Summary)> {
    let mut scored: Vec<(i64, Summary)> = list.drain(..).map(|s| (score(&s.name_folded, query), s)).collect();
    scored.sort_by(|(sa, a), (sb, b)| {
        let valid = |s: &Summary| CertificateStatus::of(s.establishment.certificate.as_ref(), today).is_valid();
        sb.cmp(sa)
            .then_with(|| valid(b).cmp(&valid(a)))
            .then_with(|| a.name_folded.cmp(&b.name_folded))
            .then_with(|| a.establishment.id.cmp(&b.establishment.id))
    });
    scored
}

/// Runs a search: candidates from the database, ranked here.
pub async fn find(env: &impl Platform, filter: &Filter) -> Result<(Vec<(i64, Summary)>, i64), Error> {
    let (list, total) = store::candidates(env, filter).await?;
    let today = civic::web::vn_today(env.now());
    Ok((rank(list, &filter.words, today), total))
}

pub async fn get(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let mut q = String::new();
    let mut district = None;
    let mut limit = DEFAULT_LIMIT;
    let (mut page, mut page_size, mut paged) = (1i64, 100i64, false);
    let mut errors = Vec::new();
    for (k, v) in civic::web::query_pairs(req) {
        match k.as_str() {
            "q" => q = v,
            "district" => district = Some(v),
            "limit" => match v.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => limit = n,
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
    if paged && !words(&q).is_empty() {
        errors.push(FieldError::new(
            "page",
            Msg::new("Phân trang chỉ dùng khi không có q", "paging is for listing without q"),
        ));
    }
    if q.chars().count() > 200 {
        errors.push(FieldError::new("q", Msg::too_long(200)));
    }
    if !errors.is_empty() {
        return Err(Error::Validation(errors));
    }
    let today = civic::web::vn_today(env.now());
    if paged {
        let district = district.map(|d| area_key(&d)).filter(|d| !d.is_empty());
        let (list, total) = store::page(env, district.as_deref(), page, page_size).await?;
        let results: Vec<Hit<'_>> = list.iter().map(|s| Hit::of(s, today)).collect();
        let body = serde_json::json!({"results": results, "total": total, "page": page, "page_size": page_size});
        return civic::web::json(StatusCode::OK, &body);
    }
    let mut query_words = words(&q);
    query_words.truncate(MAX_WORDS);
    let filter =
        Filter { words: query_words, district: district.map(|d| area_key(&d)).filter(|d| !d.is_empty()), place: None };
    let (ranked, total) = find(env, &filter).await?;
    let results: Vec<Hit<'_>> = ranked.iter().take(limit).map(|(_, s)| Hit::of(s, today)).collect();
    civic::web::json(StatusCode::OK, &serde_json::json!({"results": results, "total": total}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        words(s)
    }

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

    #[test]
    fn score_orders_exact_prefix_phrase_words() {
        let q = w("pho ba hoa");
        let exact = score(&fold("Phở Bà Hoa"), &q);
        let prefix = score(&fold("Phở Bà Hoa 2"), &q);
        let phrase = score(&fold("Quán Phở Bà Hoa"), &q);
        let scattered = score(&fold("Hoa Phở Bà"), &q);
        let partial = score(&fold("Phởxxx Bàyy Hoazz"), &q);
        assert!(
            exact > prefix && prefix > phrase && phrase > scattered && scattered > partial,
            "{exact} {prefix} {phrase} {scattered} {partial}"
        );
        assert!(score(&fold("Phở Bà"), &w("pho ba")) > score(&fold("Phở Bà Hoa Hải Châu"), &w("pho ba")));
    }
}
