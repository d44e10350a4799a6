//! The establishment record as imported and as answered.

use chrono::NaiveDate;
use serde::Serialize;

/// The longest establishment id (characters): the registry's ids are far shorter; a longer
/// one is refused on import and is no establishment on lookup.
pub const MAX_ID: usize = 64;

/// The longest certificate number (characters).
pub const MAX_CERT_NUMBER: usize = 64;

/// The largest fine of one violation (VND), ten billion: far above any fine the law sets, so
/// only a typo is refused.
pub const MAX_PENALTY_VND: i64 = 10_000_000_000;

/// A food-safety certificate (giấy chứng nhận cơ sở đủ điều kiện ATTP).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Certificate {
    /// e.g. `123/2024/ATTP-CNĐK`
    pub number: String,
    /// `YYYY-MM-DD`
    pub issued: NaiveDate,
    /// `YYYY-MM-DD`; the certificate is valid through this day (Vietnam time).
    pub expires: NaiveDate,
    /// The issuing authority, e.g. `Ban Quản lý ATTP Đà Nẵng`.
    pub authority: String,
}

/// One inspection violation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub date: NaiveDate,
    pub description: String,
    /// The fine in VND (0 for a warning).
    pub penalty_vnd: i64,
}

/// An eating place as the province's registry knows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Establishment {
    pub id: String,
    pub name: String,
    pub address: String,
    pub ward: String,
    pub district: String,
    pub province: String,
    /// restaurant, street_food, cafe, ... (see [`KINDS`]).
    pub kind: String,
    pub certificate: Option<Certificate>,
    pub violations: Vec<Violation>,
    pub lat: Option<f64>,
    pub lng: Option<f64>,
}

/// The kinds of establishment the registry uses.
pub const KINDS: &[&str] = &[
    "restaurant",
    "eatery",
    "street_food",
    "cafe",
    "bakery",
    "canteen",
    "catering",
    "food_shop",
    "market_stall",
    "hotel",
    "food_production",
    "other",
];

/// Whether a place holds a valid certificate on a given day (Vietnam time).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CertificateStatus {
    Valid,
    /// Valid, but for at most [`EXPIRING_DAYS`] more days: flagged so the place renews.
    Expiring,
    Expired,
    None,
}

/// How close to its expiry a valid certificate is flagged as expiring.
pub const EXPIRING_DAYS: i64 = 30;

impl CertificateStatus {
    /// Valid today, expiring or not.
    pub fn is_valid(self) -> bool {
        matches!(self, CertificateStatus::Valid | CertificateStatus::Expiring)
    }

    pub fn of(cert: Option<&Certificate>, today: NaiveDate) -> CertificateStatus {
        match cert {
            None => CertificateStatus::None,
            Some(c) if c.expires >= today && c.issued <= today => {
                if (c.expires - today).num_days() <= EXPIRING_DAYS {
                    CertificateStatus::Expiring
                } else {
                    CertificateStatus::Valid
                }
            }
            Some(c) if c.expires < today => CertificateStatus::Expired,
            // issued in the future: not valid yet
            Some(_) => CertificateStatus::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn certificate_status_table() {
        let cert = Certificate {
            number: "1/2024/ATTP".into(),
            issued: d("2024-03-01"),
            expires: d("2027-03-01"),
            authority: "Ban Quản lý ATTP Đà Nẵng".into(),
        };
        let cases = [
            (Some(&cert), "2025-01-01", CertificateStatus::Valid),
            (Some(&cert), "2027-01-29", CertificateStatus::Valid),
            (Some(&cert), "2027-01-30", CertificateStatus::Expiring),
            (Some(&cert), "2027-03-01", CertificateStatus::Expiring),
            (Some(&cert), "2027-03-02", CertificateStatus::Expired),
            (Some(&cert), "2024-02-29", CertificateStatus::None),
            (None, "2025-01-01", CertificateStatus::None),
        ];
        for (c, today, want) in cases {
            assert_eq!(CertificateStatus::of(c, d(today)), want, "on {today}");
        }
    }
}
