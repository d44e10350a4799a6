//! Distances on the Earth (food-safety's `near` search, report-submission's duplicates): great-circle metres
//! (haversine on a sphere of the mean Earth radius), the box of degrees a radius spans around
//! a point, and the planar key SQL orders candidates by.
//!
//! Points are [`Location`]s in WGS 84 degrees. The box does not wrap across the 180°
//! meridian (it is clamped to ±180°): no province lies across it.

use crate::command::Location;

/// The mean Earth radius (IUGG), in metres.
pub const EARTH_RADIUS_M: f64 = 6_371_008.8;

/// Metres per degree of a great circle (about 111,195 m).
pub const METRES_PER_DEGREE: f64 = EARTH_RADIUS_M * std::f64::consts::PI / 180.0;

/// How much wider than the radius the SQL prefilter reaches (relative), so that rounding in
/// the box and in the planar key ([`Planar`]) never drops a place the exact distance keeps:
/// 0.5 m at 5 km, where the key errs by millimetres.
pub const SLACK: f64 = 1e-4;

/// Great-circle distance in metres between two points (haversine, [`EARTH_RADIUS_M`]).
pub fn distance_m(a: Location, b: Location) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dp = (b.lat - a.lat).to_radians();
    let dl = (b.lng - a.lng).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_M * h.sqrt().min(1.0).asin()
}

/// A box of degrees, edges included: south ≤ lat ≤ north, west ≤ lng ≤ east.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoundingBox {
    pub south: f64,
    pub north: f64,
    pub west: f64,
    pub east: f64,
}

/// The smallest box holding every point within `metres` of `at` (a spherical cap): the
/// latitudes `metres` spans, and the widest longitude difference of the cap,
/// `asin(sin r / cos lat)`; every longitude when the cap holds a pole. Clamped to ±90° and
/// ±180° (see the module docs).
pub fn bounding_box(at: Location, metres: f64) -> BoundingBox {
    let r = metres.max(0.0) / EARTH_RADIUS_M;
    let dlat = r.to_degrees();
    let (south, north) = (at.lat - dlat, at.lat + dlat);
    let ratio = r.sin() / at.lat.to_radians().cos();
    let (west, east) = if south <= -90.0 || north >= 90.0 || ratio.is_nan() || ratio >= 1.0 {
        (-180.0, 180.0)
    } else {
        let dlng = ratio.asin().to_degrees();
        ((at.lng - dlng).max(-180.0), (at.lng + dlng).min(180.0))
    };
    BoundingBox { south: south.max(-90.0), north: north.min(90.0), west, east }
}

/// The planar key SQL orders and filters candidates by, in squared degrees of latitude:
/// `(lat - lat0)² + ((lng - lng0) · (c - s · (lat - lat0)))²`, where `c - s · Δlat` is the
/// cosine of the mean latitude of the two points to first order (`c = cos lat0`,
/// `s = sin lat0 · π / 360`). Within 5 km it agrees with [`distance_m`] to millimetres, and
/// needs no trigonometry in SQL (SQLite's math functions are optional, and D1 has none).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Planar {
    pub lat0: f64,
    pub lng0: f64,
    pub c: f64,
    pub s: f64,
}

impl Planar {
    /// The key's constants around `at`.
    pub fn at(at: Location) -> Planar {
        let phi = at.lat.to_radians();
        Planar { lat0: at.lat, lng0: at.lng, c: phi.cos(), s: phi.sin() * std::f64::consts::PI / 360.0 }
    }

    /// The key of a point, as the SQL computes it (for tests).
    pub fn key(&self, p: Location) -> f64 {
        let dlat = p.lat - self.lat0;
        let east = (p.lng - self.lng0) * (self.c - self.s * dlat);
        dlat * dlat + east * east
    }
}

/// `metres` as a bound on [`Planar::key`] (squared degrees).
pub fn planar_bound(metres: f64) -> f64 {
    let deg = metres / METRES_PER_DEGREE;
    deg * deg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(lat: f64, lng: f64) -> Location {
        Location { lat, lng }
    }

    #[test]
    fn distance_table() {
        // (from, to, metres, tolerance)
        let cases = [
            (at(16.0544, 108.2022), at(16.0544, 108.2022), 0.0, 0.0),
            // 0.001° of latitude: 111.2 m anywhere
            (at(16.0544, 108.2022), at(16.0554, 108.2022), 111.19, 0.01),
            (at(0.0, 0.0), at(0.0, 1.0), 111_195.08, 0.01),
            // Phở Bà Hoa to Cà phê Sông Hàn (the fixture): about 460 m
            (at(16.0719, 108.2203), at(16.0740, 108.2240), 459.15, 0.01),
            // Hà Nội to Đà Nẵng: about 607 km
            (at(21.0285, 105.8542), at(16.0544, 108.2022), 606_600.0, 1_000.0),
            // antipodes: half the circumference
            (at(0.0, 0.0), at(0.0, 180.0), EARTH_RADIUS_M * std::f64::consts::PI, 0.01),
        ];
        for (a, b, want, tol) in cases {
            let d = distance_m(a, b);
            assert!((d - want).abs() <= tol, "{a:?} to {b:?}: {d} m, want {want}");
            assert!((distance_m(b, a) - d).abs() < 1e-6, "symmetric");
        }
    }

    /// The point `metres` from `from` on the initial `bearing` (degrees from north).
    fn destination(from: Location, bearing: f64, metres: f64) -> Location {
        let (p1, l1, b, r) =
            (from.lat.to_radians(), from.lng.to_radians(), bearing.to_radians(), metres / EARTH_RADIUS_M);
        let p2 = (p1.sin() * r.cos() + p1.cos() * r.sin() * b.cos()).asin();
        let l2 = l1 + (b.sin() * r.sin() * p1.cos()).atan2(r.cos() - p1.sin() * p2.sin());
        at(p2.to_degrees(), l2.to_degrees())
    }

    /// The box holds the whole circle (every point of it, bearing by bearing), and touches
    /// it: its north and south edges are the radius away.
    #[test]
    fn bounding_box_table() {
        let cases = [
            (at(16.0719, 108.2203), 1_000.0),
            (at(16.0719, 108.2203), 5_000.0),
            (at(-33.86, 151.21), 5_000.0),
            (at(69.65, 18.96), 5_000.0),
            (at(0.0, 179.95), 5_000.0),
        ];
        for (c, m) in cases {
            let b = bounding_box(c, m);
            assert!((distance_m(c, at(b.north, c.lng)) - m).abs() < 1e-6, "{c:?} {m}: {b:?}");
            assert!((distance_m(c, at(b.south, c.lng)) - m).abs() < 1e-6, "{c:?} {m}: {b:?}");
            for step in 0..3600 {
                let p = destination(c, f64::from(step) / 10.0, m * (1.0 - 1e-9));
                let inside =
                    (b.south..=b.north).contains(&p.lat) && ((b.west..=b.east).contains(&p.lng) || p.lng > 180.0);
                assert!(inside, "{c:?} {m} m, bearing {}: {p:?} outside {b:?}", f64::from(step) / 10.0);
            }
            assert!(b.west >= -180.0 && b.east <= 180.0);
        }
        // a cap holding a pole spans every longitude
        let polar = bounding_box(at(89.99, 10.0), 5_000.0);
        assert_eq!((polar.west, polar.east, polar.north), (-180.0, 180.0, 90.0));
        let nothing = bounding_box(at(16.0, 108.0), 0.0);
        assert_eq!((nothing.south, nothing.north, nothing.west, nothing.east), (16.0, 16.0, 108.0, 108.0));
    }

    /// The SQL's planar key agrees with the haversine distance within a few millimetres at
    /// 5 km in every direction, at Đà Nẵng's latitude and far from it.
    #[test]
    fn the_planar_key_agrees_with_haversine() {
        for c in [at(16.0719, 108.2203), at(60.0, 10.0), at(-45.0, -70.0), at(0.0, 0.0)] {
            let key = Planar::at(c);
            for step in 0..36 {
                let bearing = f64::from(step * 10).to_radians();
                for m in [100.0, 1_000.0, 5_000.0] {
                    let deg = m / METRES_PER_DEGREE;
                    let p = at(c.lat + deg * bearing.cos(), c.lng + deg * bearing.sin() / c.lat.to_radians().cos());
                    let planar = key.key(p).sqrt() * METRES_PER_DEGREE;
                    let exact = distance_m(c, p);
                    assert!((planar - exact).abs() < 0.01, "{c:?} bearing {step}0°: {planar} vs {exact}");
                    assert!(exact * (1.0 + SLACK) > planar, "the slack covers the key's error");
                }
            }
        }
        assert!((planar_bound(METRES_PER_DEGREE) - 1.0).abs() < 1e-12);
    }
}
