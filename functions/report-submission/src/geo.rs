//! Where a report is: inside the province or not, its district, and how far apart two
//! reports are.
//!
//! The province is Da Nang: a report's coordinates must fall in its bounding box, and its
//! district is the nearest district centre (a coarse stand-in for boundary polygons, good
//! enough to route by; an officer can reassign a report that lands on the wrong side of a
//! boundary). An address names its district in words (`... quận Hải Châu`).

/// (district, centre latitude, centre longitude)
pub const DISTRICTS: &[(&str, f64, f64)] = &[
    ("Hải Châu", 16.0580, 108.2140),
    ("Thanh Khê", 16.0640, 108.1870),
    ("Sơn Trà", 16.0950, 108.2500),
    ("Ngũ Hành Sơn", 16.0050, 108.2550),
    ("Liên Chiểu", 16.0850, 108.1400),
    ("Cẩm Lệ", 16.0150, 108.1950),
    ("Hòa Vang", 15.9800, 108.1000),
];

/// The province's bounding box: (south, west, north, east).
pub const PROVINCE: (f64, f64, f64, f64) = (15.90, 107.80, 16.25, 108.35);

pub fn in_province(lat: f64, lng: f64) -> bool {
    let (s, w, n, e) = PROVINCE;
    (s..=n).contains(&lat) && (w..=e).contains(&lng)
}

/// Great-circle distance in metres (haversine, mean Earth radius).
pub fn distance_m(lat1: f64, lng1: f64, lat2: f64, lng2: f64) -> f64 {
    const R: f64 = 6_371_008.8;
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = (lat2 - lat1).to_radians();
    let dl = (lng2 - lng1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * a.sqrt().asin()
}

/// The degrees of latitude and longitude that `metres` spans at `lat` (for a bounding-box
/// prefilter before [`distance_m`]).
pub fn degrees_for(metres: f64, lat: f64) -> (f64, f64) {
    let dlat = metres / 111_320.0;
    let dlng = metres / (111_320.0 * lat.to_radians().cos().max(0.01));
    (dlat, dlng)
}

/// The folded name of the district whose centre is nearest.
pub fn district_at(lat: f64, lng: f64) -> String {
    let nearest = DISTRICTS
        .iter()
        .min_by(|a, b| distance_m(lat, lng, a.1, a.2).total_cmp(&distance_m(lat, lng, b.1, b.2)))
        .map_or("", |d| d.0);
    civic::text::fold(nearest)
}

/// The folded name of the district an address names, if it names one.
pub fn district_in(address: &str) -> Option<String> {
    let words = civic::text::words(address).join(" ");
    DISTRICTS
        .iter()
        .map(|d| civic::text::words(d.0).join(" "))
        .find(|d| format!(" {words} ").contains(&format!(" {d} ")))
}

/// The display name of a district by its folded name (`hai chau` -> `Hải Châu`).
pub fn district_name(key: &str) -> Option<&'static str> {
    DISTRICTS.iter().map(|d| d.0).find(|d| civic::text::words(d).join(" ") == key)
}

/// A folded district name as the routing table keys it (`Quận Hải Châu` -> `hai chau`).
pub fn district_key(name: &str) -> String {
    let words = civic::text::words(name);
    let skip = ["quan", "huyen", "q"];
    words.iter().skip_while(|w| skip.contains(&w.as_str())).cloned().collect::<Vec<_>>().join(" ")
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
        assert_eq!(district_at(16.0719, 108.2203), "hai chau");
        assert_eq!(district_at(16.0870, 108.2450), "son tra");
        assert_eq!(district_in("12 Trần Phú, phường Thạch Thang, quận Hải Châu").as_deref(), Some("hai chau"));
        assert_eq!(district_in("Đường Nguyễn Tất Thành, Liên Chiểu, Đà Nẵng").as_deref(), Some("lien chieu"));
        assert_eq!(district_in("gần chợ"), None);
        assert_eq!(district_key("Quận Hải Châu"), "hai chau");
        assert_eq!(district_name("hai chau"), Some("Hải Châu"));
        assert_eq!(district_name("nowhere"), None);
        assert_eq!(district_key("huyện Hòa Vang"), "hoa vang");
    }
}
