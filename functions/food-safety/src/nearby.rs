//! Places near a point: `GET /food-safety/establishments?near=<lat>,<lng>&radius=<m>` (see
//! [`crate::search`]) and the chat bot's answer to a shared location (see [`crate::command`]).
//!
//! One SQL statement reads the candidates inside the radius's bounding box through an index
//! ([`crate::store::near`]); the distances are then measured exactly here (great circle,
//! [`civic::geo::distance_m`]), and only places within the radius are kept. Places without
//! coordinates are never returned.

use chrono::NaiveDate;
use civic::command::Location;
use civic::{Error, Platform};

use crate::model::CertificateStatus;
use crate::store::{self, Summary};

/// The radius when none is given, in metres.
pub const DEFAULT_RADIUS_M: u32 = 1_000;
/// The largest radius, in metres.
pub const MAX_RADIUS_M: u32 = 5_000;

/// Candidates read beyond the places asked for, so that the exact distances pick the nearest
/// even where the planar order of the SQL and the great circle disagree (by millimetres).
const MARGIN: usize = 10;

/// The places within the radius, best first, and how many there are.
#[derive(Debug, Default)]
pub struct Nearby {
    /// Each place with its great-circle distance in metres.
    pub places: Vec<(f64, Summary)>,
    /// How many places lie within the radius (more than `places` when capped).
    pub total: i64,
}

/// A `near` value, `<lat>,<lng>` in WGS 84 degrees (spaces around the numbers allowed);
/// `None` unless both are finite numbers with `lat` within ±90 and `lng` within ±180.
pub fn parse_near(s: &str) -> Option<Location> {
    let (lat, lng) = s.split_once(',')?;
    let number = |t: &str| t.trim().parse::<f64>().ok().filter(|v| v.is_finite());
    let (lat, lng) = (number(lat)?, number(lng)?);
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lng)).then_some(Location { lat, lng })
}

/// A `radius` value: a whole number of metres from 1 to [`MAX_RADIUS_M`], else `None`.
pub fn parse_radius(s: &str) -> Option<u32> {
    s.parse::<u32>().ok().filter(|m| (1..=MAX_RADIUS_M).contains(m))
}

/// The places within `radius_m` metres of `at`, at most `limit`: nearest first or, with
/// `certified_on`, those holding a certificate valid that day (valid or expiring) first and
/// then nearest first; ties by id. Reads the database once.
pub async fn find(
    env: &impl Platform,
    at: Location,
    radius_m: u32,
    limit: usize,
    certified_on: Option<NaiveDate>,
) -> Result<Nearby, Error> {
    let metres = f64::from(radius_m);
    let (candidates, total) = store::near(env, at, metres, limit.saturating_add(MARGIN), certified_on).await?;
    let mut places: Vec<(f64, Summary)> = candidates
        .into_iter()
        .filter_map(|s| {
            let (lat, lng) = (s.establishment.lat?, s.establishment.lng?);
            Some((civic::geo::distance_m(at, Location { lat, lng }), s))
        })
        .filter(|(d, _)| *d <= metres)
        .collect();
    let uncertified = |s: &Summary| match certified_on {
        Some(day) => !CertificateStatus::of(s.establishment.certificate.as_ref(), day).is_valid(),
        None => false,
    };
    places.sort_by(|(da, a), (db, b)| {
        uncertified(a)
            .cmp(&uncertified(b))
            .then(da.total_cmp(db))
            .then_with(|| a.establishment.id.cmp(&b.establishment.id))
    });
    places.truncate(limit);
    Ok(Nearby { places, total })
}

#[cfg(test)]
mod tests {
    use super::*;
    use civic::platform::native::{NativePlatform, block_on};

    #[test]
    fn parse_near_table() {
        let ok = |lat, lng| Some(Location { lat, lng });
        let cases = [
            ("16.0719,108.2203", ok(16.0719, 108.2203)),
            (" 16.0719 , 108.2203 ", ok(16.0719, 108.2203)),
            ("-33.86,151.21", ok(-33.86, 151.21)),
            ("90,180", ok(90.0, 180.0)),
            ("-90,-180", ok(-90.0, -180.0)),
            ("16,108", ok(16.0, 108.0)),
            ("91,108", None),
            ("16,181", None),
            ("16.07", None),
            ("16.07,", None),
            (",108.22", None),
            ("16.07,108.22,5", None),
            ("16.07;108.22", None),
            ("16,07,108,22", None),
            ("NaN,108", None),
            ("inf,108", None),
            ("16.07,-inf", None),
            ("abc,def", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_near(text), want, "parse_near({text:?})");
        }
    }

    #[test]
    fn parse_radius_table() {
        let cases = [
            ("1000", Some(1000)),
            ("1", Some(1)),
            ("5000", Some(5000)),
            ("5001", None),
            ("0", None),
            ("-5", None),
            ("1000.5", None),
            ("1e3", None),
            ("", None),
            ("99999999999999999999", None),
            ("abc", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_radius(text), want, "parse_radius({text:?})");
        }
    }

    fn env() -> NativePlatform {
        let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
        NativePlatform::in_memory_migrated(&[store::DB], &migrations).unwrap()
    }

    /// The demo data's 2,400 places: the SQL's answer matches measuring every place
    /// exactly, for both orders and several radii.
    #[test]
    fn find_agrees_with_measuring_every_place() {
        let env = env();
        let all = serde_json::Value::Array(crate::demo::establishments(crate::demo::COUNT));
        let items = crate::import::parse_batch(&all).unwrap();
        block_on(store::upsert(&env, &items, store::Violations::Replace)).unwrap();
        let today: NaiveDate = "2025-06-01".parse().unwrap();
        let centre = Location { lat: 16.0544, lng: 108.2022 };
        for (radius, limit) in [(300, 50), (1_000, 5), (1_000, 50), (5_000, 10)] {
            let metres = f64::from(radius);
            let mut want: Vec<(f64, &str)> = items
                .iter()
                .filter_map(|e| Some((civic::geo::distance_m(centre, Location { lat: e.lat?, lng: e.lng? }), &*e.id)))
                .filter(|(d, _)| *d <= metres)
                .collect();
            want.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(b.1)));
            let found = block_on(find(&env, centre, radius, limit, None)).unwrap();
            assert_eq!(found.total, i64::try_from(want.len()).unwrap(), "total within {radius} m");
            let got: Vec<&str> = found.places.iter().map(|(_, s)| s.establishment.id.as_str()).collect();
            let want_ids: Vec<&str> = want.iter().take(limit).map(|(_, id)| *id).collect();
            assert_eq!(got, want_ids, "nearest {limit} within {radius} m");

            let certified = block_on(find(&env, centre, radius, limit, Some(today))).unwrap();
            let valid = |id: &str| {
                let e = items.iter().find(|e| e.id == id).unwrap();
                CertificateStatus::of(e.certificate.as_ref(), today).is_valid()
            };
            let mut want = want.clone();
            want.sort_by(|a, b| valid(b.1).cmp(&valid(a.1)).then(a.0.total_cmp(&b.0)).then(a.1.cmp(b.1)));
            let got: Vec<&str> = certified.places.iter().map(|(_, s)| s.establishment.id.as_str()).collect();
            let want_ids: Vec<&str> = want.iter().take(limit).map(|(_, id)| *id).collect();
            assert_eq!(got, want_ids, "certified first, {limit} within {radius} m");
        }
        assert!(block_on(find(&env, Location { lat: 21.0, lng: 105.8 }, 5_000, 10, None)).unwrap().places.is_empty());
    }

    /// The candidates are read through the index: a range on latitude of a covering index,
    /// never a scan of the table.
    #[test]
    fn the_query_plan_uses_the_index() {
        let env = env();
        for certified in [false, true] {
            let sql = format!("EXPLAIN QUERY PLAN {}", store::near_sql(certified));
            let mut params: Vec<civic::platform::Value> = vec![0.0.into(); 10];
            params.push(5_i64.into());
            if certified {
                params.push("2025-06-01".into());
            }
            let rows = block_on(env.query(store::DB, &sql, &params)).unwrap();
            let plan: Vec<String> = rows.iter().map(|r| r.str("detail").unwrap().to_owned()).collect();
            assert!(plan.iter().all(|d| !d.starts_with("SCAN establishments")), "no scan of the table: {plan:#?}");
            assert!(
                plan.iter().any(|d| d.contains("USING COVERING INDEX establishments_near (lat>? AND lat<?)")),
                "{plan:#?}"
            );
            assert!(plan.iter().any(|d| d.contains("USING INTEGER PRIMARY KEY (rowid=?)")), "{plan:#?}");
        }
    }
}
