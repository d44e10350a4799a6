//! The districts of Đà Nẵng, once: their names, search keys, centres, wards and the agency
//! code of each district's People's Committee (UBND).
//!
//! A district is keyed by its folded name without the `quận`/`huyện` prefix ([`key`]:
//! `Quận Hải Châu` -> `hai chau`); the reports database stores and routes by that key. The
//! table's order is fixed: the demo generators pick from it by position with a seeded random
//! generator, so reordering it changes the demo data.

use crate::text;

/// One district.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct District {
    /// The display name, with diacritics and without the `quận`/`huyện` prefix: `Hải Châu`.
    pub name: &'static str,
    /// The search key, [`key`] of [`District::name`]: `hai chau`.
    pub key: &'static str,
    /// The centre, WGS 84 degrees of latitude: where a report is routed from when it gives
    /// coordinates (the nearest centre wins).
    pub lat: f64,
    /// The centre, WGS 84 degrees of longitude.
    pub lng: f64,
    /// The agency code of the district's People's Committee in the reports catalogue:
    /// `ubnd-hai-chau`.
    pub agency: &'static str,
    /// The wards and communes (phường, xã), display names.
    pub wards: &'static [&'static str],
}

/// The districts, in a fixed order (see the module header).
pub const ALL: &[District] = &[
    District {
        name: "Hải Châu",
        key: "hai chau",
        lat: 16.0580,
        lng: 108.2140,
        agency: "ubnd-hai-chau",
        wards: &[
            "Thạch Thang",
            "Hải Châu 1",
            "Hải Châu 2",
            "Phước Ninh",
            "Hòa Thuận Tây",
            "Hòa Thuận Đông",
            "Nam Dương",
            "Bình Hiên",
            "Bình Thuận",
            "Hòa Cường Bắc",
            "Hòa Cường Nam",
            "Thanh Bình",
            "Thuận Phước",
        ],
    },
    District {
        name: "Thanh Khê",
        key: "thanh khe",
        lat: 16.0640,
        lng: 108.1870,
        agency: "ubnd-thanh-khe",
        wards: &[
            "Tam Thuận",
            "Thanh Khê Tây",
            "Thanh Khê Đông",
            "Xuân Hà",
            "Tân Chính",
            "Chính Gián",
            "Vĩnh Trung",
            "Thạc Gián",
            "An Khê",
            "Hòa Khê",
        ],
    },
    District {
        name: "Sơn Trà",
        key: "son tra",
        lat: 16.0950,
        lng: 108.2500,
        agency: "ubnd-son-tra",
        wards: &["Thọ Quang", "Nại Hiên Đông", "Mân Thái", "An Hải Bắc", "Phước Mỹ", "An Hải Tây", "An Hải Đông"],
    },
    District {
        name: "Ngũ Hành Sơn",
        key: "ngu hanh son",
        lat: 16.0050,
        lng: 108.2550,
        agency: "ubnd-ngu-hanh-son",
        wards: &["Mỹ An", "Khuê Mỹ", "Hòa Quý", "Hòa Hải"],
    },
    District {
        name: "Liên Chiểu",
        key: "lien chieu",
        lat: 16.0850,
        lng: 108.1400,
        agency: "ubnd-lien-chieu",
        wards: &["Hòa Hiệp Bắc", "Hòa Hiệp Nam", "Hòa Khánh Bắc", "Hòa Khánh Nam", "Hòa Minh"],
    },
    District {
        name: "Cẩm Lệ",
        key: "cam le",
        lat: 16.0150,
        lng: 108.1950,
        agency: "ubnd-cam-le",
        wards: &["Khuê Trung", "Hòa Phát", "Hòa An", "Hòa Thọ Tây", "Hòa Thọ Đông", "Hòa Xuân"],
    },
    District {
        name: "Hòa Vang",
        key: "hoa vang",
        lat: 15.9800,
        lng: 108.1000,
        agency: "ubnd-hoa-vang",
        wards: &[
            "Hòa Bắc",
            "Hòa Liên",
            "Hòa Ninh",
            "Hòa Sơn",
            "Hòa Nhơn",
            "Hòa Phú",
            "Hòa Phong",
            "Hòa Châu",
            "Hòa Tiến",
            "Hòa Phước",
            "Hòa Khương",
        ],
    },
];

/// The words a district name may start with that are not part of its key: `quận`, `huyện`
/// and the abbreviation `Q.`, folded.
const PREFIXES: [&str; 3] = ["quan", "huyen", "q"];

/// A district name as the routing table keys it: folded ([`text::words`]), leading
/// `quận`/`huyện`/`Q.` dropped (`Quận Hải Châu` -> `hai chau`, `huyện Hòa Vang` ->
/// `hoa vang`). Any text gives a key; only the names in [`ALL`] give a known one.
pub fn key(name: &str) -> String {
    let words = text::words(name);
    let start = words.iter().take_while(|w| PREFIXES.contains(&w.as_str())).count();
    words[start..].join(" ")
}

/// The district whose key is `key` (`hai chau` -> Hải Châu).
pub fn by_key(key: &str) -> Option<&'static District> {
    ALL.iter().find(|d| d.key == key)
}

/// The first district (in table order) that a text names as whole words, in any case and
/// with or without diacritics (`12 Trần Phú, quận Hải Châu` -> Hải Châu).
pub fn named_in(text: &str) -> Option<&'static District> {
    let words = format!(" {} ", text::words(text).join(" "));
    ALL.iter().find(|d| words.contains(&format!(" {} ", d.key)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_folded_names() {
        for d in ALL {
            assert_eq!(key(d.name), d.key, "{}", d.name);
            assert_eq!(format!("ubnd-{}", d.key.replace(' ', "-")), d.agency);
            assert!(!d.wards.is_empty());
        }
        assert_eq!(key("Quận Hải Châu"), "hai chau");
        assert_eq!(key("huyện Hòa Vang"), "hoa vang");
        assert_eq!(key("Q. Sơn Trà"), "son tra");
        assert_eq!(key(""), "");
    }

    #[test]
    fn lookups() {
        assert_eq!(by_key("hai chau").map(|d| d.name), Some("Hải Châu"));
        assert_eq!(by_key("nowhere"), None);
        let named = |t: &str| named_in(t).map(|d| d.key);
        assert_eq!(named("12 Trần Phú, phường Thạch Thang, quận Hải Châu"), Some("hai chau"));
        assert_eq!(named("Đường Nguyễn Tất Thành, Liên Chiểu, Đà Nẵng"), Some("lien chieu"));
        assert_eq!(named("gần chợ"), None);
        assert_eq!(named("Hải Châuu"), None, "whole words only");
    }
}
