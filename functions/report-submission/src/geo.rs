//! Where a report is: inside the province or not, its district, and how far apart two
//! reports are (distances: [`civic::geo`]).
//!
//! The province is Da Nang: a report's coordinates must fall in its bounding box, and its
//! district is the one whose centre ([`civic::district::ALL`]) is nearest (a coarse stand-in
//! for boundary polygons, good enough to route by; an officer can reassign a report that
//! lands on the wrong side of a boundary). An address names its district in words
//! ([`civic::district::named_in`]).

use civic::command::Location;
use civic::district::{self, District};

/// The province's bounding box, WGS 84 degrees: (south, west, north, east).
pub const PROVINCE: (f64, f64, f64, f64) = (15.90, 107.80, 16.25, 108.35);

/// Whether a point (degrees) lies in [`PROVINCE`], edges included.
pub fn in_province(lat: f64, lng: f64) -> bool {
    let (s, w, n, e) = PROVINCE;
    (s..=n).contains(&lat) && (w..=e).contains(&lng)
}

/// Great-circle distance in metres between two points in degrees ([`civic::geo::distance_m`]).
pub fn distance_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    civic::geo::distance_m(Location { lat: lat1, lng: lng1 }, Location { lat: lat2, lng: lng2 })
}

/// The district whose centre is nearest to a point (degrees).
pub fn district_at(lat: f64, lng: f64) -> &'static District {
    let away = |d: &&District| distance_m(lat, lng, d.lat, d.lng);
    let nearest = district::ALL.iter().min_by(|a, b| away(a).total_cmp(&away(b)));
    // ALL is not empty; the first district stands in for the impossible.
    nearest.unwrap_or(&district::ALL[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_metres() {
        // 0.001° of latitude is about 111 m anywhere.
        let d = distance_m(16.0544, 108.2022, 16.0554, 108.2022);
        assert!((d - 111.2).abs() < 0.5, "{d}");
        assert_eq!(distance_m(16.0, 108.0, 16.0, 108.0), 0.0);
    }

    #[test]
    fn province_and_districts() {
        assert!(in_province(16.0544, 108.2022));
        assert!(!in_province(21.0285, 105.8542), "Hà Nội");
        assert_eq!(district_at(16.0719, 108.2203).key, "hai chau");
        assert_eq!(district_at(16.0870, 108.2450).key, "son tra");
    }
}
