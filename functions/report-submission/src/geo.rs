//! Where a report is: inside the province or not, its district, and how far apart two
//! reports are.
//!
//! The province is Da Nang: a report's coordinates must fall in its bounding box, and its
//! district is the one whose centre ([`civic::district::ALL`]) is nearest (a coarse stand-in
//! for boundary polygons, good enough to route by; an officer can reassign a report that
//! lands on the wrong side of a boundary). An address names its district in words
//! ([`civic::district::named_in`]).

use civic::district::{self, District};

/// The province's bounding box, WGS 84 degrees: (south, west, north, east).
pub const PROVINCE: (f64, f64, f64, f64) = (15.90, 107.80, 16.25, 108.35);

/// The mean Earth radius (IUGG), in metres.
const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Metres per degree of latitude (and of longitude at the equator), to the nearest 10 m.
const METRES_PER_DEGREE: f64 = 111_320.0;

/// The smallest cosine of the latitude [`degrees_for`] divides by, so that a box near a
/// pole stays finite (Da Nang, at 16° N, never comes near it).
const MIN_COS_LAT: f64 = 0.01;

/// Whether a point (degrees) lies in [`PROVINCE`], edges included.
pub fn in_province(lat: f64, lng: f64) -> bool {
    let (s, w, n, e) = PROVINCE;
    (s..=n).contains(&lat) && (w..=e).contains(&lng)
}

/// Great-circle distance in metres between two points in degrees (haversine, mean Earth
/// radius).
pub fn distance_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * a.sqrt().asin()
}

/// The degrees of latitude and longitude that `metres` spans at `lat` (for a bounding-box
/// prefilter before [`distance_m`]).
pub fn degrees_for(metres: f64, lat: f64) -> (f64, f64) {
    let dlat = metres / METRES_PER_DEGREE;
    let dlng = metres / (METRES_PER_DEGREE * lat.to_radians().cos().max(MIN_COS_LAT));
    (dlat, dlng)
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
        let (dlat, dlng) = degrees_for(50.0, 16.05);
        assert!(distance_m(16.05, 108.2, 16.05 + dlat, 108.2) <= 50.01);
        assert!(distance_m(16.05, 108.2, 16.05, 108.2 + dlng) <= 50.01);
    }

    #[test]
    fn province_and_districts() {
        assert!(in_province(16.0544, 108.2022));
        assert!(!in_province(21.0285, 105.8542), "Hà Nội");
        assert_eq!(district_at(16.0719, 108.2203).key, "hai chau");
        assert_eq!(district_at(16.0870, 108.2450).key, "son tra");
    }
}
