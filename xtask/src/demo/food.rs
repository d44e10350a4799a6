//! Demo data: a deterministic, plausible set of Da Nang eating places (real districts, wards
//! and streets; Vietnamese names; valid, expired and missing certificates; some violations).

use serde_json::{Value, json};

use super::Rng;

/// How many establishments `up` loads.
pub const COUNT: usize = 2_400;

const DISTRICTS: &[(&str, f64, f64, &[&str])] = &[
    (
        "Hải Châu",
        16.0544,
        108.2022,
        &[
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
    ),
    (
        "Thanh Khê",
        16.0646,
        108.1880,
        &[
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
    ),
    (
        "Sơn Trà",
        16.0860,
        108.2400,
        &["Thọ Quang", "Nại Hiên Đông", "Mân Thái", "An Hải Bắc", "Phước Mỹ", "An Hải Tây", "An Hải Đông"],
    ),
    ("Ngũ Hành Sơn", 16.0000, 108.2550, &["Mỹ An", "Khuê Mỹ", "Hòa Quý", "Hòa Hải"]),
    ("Liên Chiểu", 16.0750, 108.1500, &["Hòa Hiệp Bắc", "Hòa Hiệp Nam", "Hòa Khánh Bắc", "Hòa Khánh Nam", "Hòa Minh"]),
    ("Cẩm Lệ", 16.0150, 108.1950, &["Khuê Trung", "Hòa Phát", "Hòa An", "Hòa Thọ Tây", "Hòa Thọ Đông", "Hòa Xuân"]),
    (
        "Hòa Vang",
        15.9900,
        108.1300,
        &[
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
    ),
];

const STREETS: &[&str] = &[
    "Trần Phú",
    "Bạch Đằng",
    "Lê Duẩn",
    "Nguyễn Văn Linh",
    "Hùng Vương",
    "Phan Châu Trinh",
    "Ông Ích Khiêm",
    "Hoàng Diệu",
    "Nguyễn Chí Thanh",
    "Lê Lợi",
    "Hải Phòng",
    "Điện Biên Phủ",
    "Hà Huy Tập",
    "Nguyễn Tất Thành",
    "Ngô Quyền",
    "Võ Nguyên Giáp",
    "Phạm Văn Đồng",
    "Hồ Nghinh",
    "Nguyễn Văn Thoại",
    "Lê Văn Hiến",
    "Trường Sa",
    "Tôn Đức Thắng",
    "Nguyễn Lương Bằng",
    "Âu Cơ",
    "Cách Mạng Tháng Tám",
    "Ông Ích Đường",
    "Trưng Nữ Vương",
    "Núi Thành",
    "2 Tháng 9",
    "Nguyễn Hữu Thọ",
    "Lê Thanh Nghị",
    "Tiểu La",
    "Hàm Nghi",
    "Lý Thái Tổ",
    "Quang Trung",
];

const DISHES: &[&str] = &[
    "Phở",
    "Bún bò Huế",
    "Mì Quảng",
    "Bún chả cá",
    "Bánh xèo",
    "Bún mắm nêm",
    "Cơm gà",
    "Bánh canh",
    "Bánh bèo",
    "Lẩu bò",
    "Cháo lòng",
    "Bánh mì",
    "Chè",
    "Ốc",
    "Bê thui",
    "Gỏi cá Nam Ô",
    "Bún thịt nướng",
    "Bánh tráng cuốn thịt heo",
    "Hến trộn",
    "Cơm tấm",
    "Bánh cuốn",
    "Bún riêu",
    "Nem lụi",
    "Bánh ướt",
];

const PEOPLE: &[&str] = &[
    "Bà Hoa",
    "Bà Mua",
    "Cô Ba",
    "Chị Lan",
    "Anh Tuấn",
    "Ông Tạ",
    "Bà Lữ",
    "Dì Năm",
    "Cô Thu",
    "Chú Hải",
    "Bà Dưỡng",
    "Mệ Tư",
    "O Hạnh",
    "Thanh",
    "Hương",
    "Phương",
    "Minh",
    "Hùng",
    "Bà Rơi",
    "Cô Sáu",
    "Ông Lâm",
    "Bé Mặn",
    "Năm Đảnh",
    "Thu Hằng",
    "Bà Vân",
    "Dũng",
    "Cô Loan",
    "Ông Già",
    "A Mập",
    "Bà Phiến",
];

const PLACES: &[&str] = &[
    "Sông Hàn",
    "Mỹ Khê",
    "Biển Đông",
    "Non Nước",
    "Sơn Trà",
    "Hội An Xưa",
    "Phố Cổ",
    "Bà Nà",
    "Hoàng Sa",
    "Hương Cau",
    "Mộc",
    "Gió Biển",
    "Ngọc Lan",
    "Thiên Ân",
    "Phú Quý",
    "Hải Vân",
    "An Nhiên",
    "Làng Chài",
];

const VIOLATIONS: &[&str] = &[
    "Không có sổ kiểm thực ba bước",
    "Không lưu mẫu thức ăn theo quy định",
    "Người trực tiếp chế biến không có giấy xác nhận kiến thức ATTP",
    "Không đảm bảo vệ sinh khu vực chế biến",
    "Sử dụng nguyên liệu không rõ nguồn gốc",
    "Không khám sức khỏe định kỳ cho người chế biến",
    "Dụng cụ chứa đựng thực phẩm không đảm bảo vệ sinh",
    "Kinh doanh khi giấy chứng nhận đã hết hạn",
];

fn name(rng: &mut Rng) -> (String, &'static str) {
    match rng.below(20) {
        0..=8 => (format!("{} {}", rng.pick(DISHES), rng.pick(PEOPLE)), "street_food"),
        9..=11 => (format!("Quán {} {}", rng.pick(DISHES), rng.pick(PEOPLE)), "eatery"),
        12..=13 => (format!("Nhà hàng {}", rng.pick(PLACES)), "restaurant"),
        14 => (format!("Nhà hàng Hải sản {}", rng.pick(PEOPLE)), "restaurant"),
        15..=16 => (format!("Cà phê {}", rng.pick(PLACES)), "cafe"),
        17 => (format!("Tiệm bánh {}", rng.pick(PEOPLE)), "bakery"),
        18 => (format!("Bếp ăn tập thể Trường {}", rng.pick(PLACES)), "canteen"),
        _ => (format!("Khách sạn {}", rng.pick(PLACES)), "hotel"),
    }
}

fn date(y: i32, day_of_year: usize) -> String {
    let d = chrono_like(y, day_of_year);
    format!("{:04}-{:02}-{:02}", d.0, d.1, d.2)
}

/// (year, month, day) of the n-th day (0-based, < 365) of a year; February has 28 days here.
fn chrono_like(y: i32, n: usize) -> (i32, usize, usize) {
    const MONTHS: [usize; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut n = n % 365;
    for (m, len) in MONTHS.iter().enumerate() {
        if n < *len {
            return (y, m + 1, n + 1);
        }
        n -= len;
    }
    (y, 12, 31)
}

/// The demo establishments, in the import format of `PUT /food-safety/establishments`.
pub fn establishments(count: usize) -> Vec<Value> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut out = Vec::with_capacity(count);
    // The documented example, so the README's queries answer as written.
    out.push(json!({"id": "DN-000123", "name": "Phở Bà Hoa", "address": "12 Trần Phú", "ward": "Thạch Thang",
        "district": "Hải Châu", "province": "Đà Nẵng", "kind": "restaurant",
        "certificate": {"number": "123/2024/ATTP-CNĐK", "issued": "2024-03-01",
                        "expires": "2027-03-01", "authority": "Ban Quản lý ATTP Đà Nẵng"},
        "violations": [{"date": "2025-06-01", "description": "Không có sổ kiểm thực ba bước", "penalty_vnd": 5_000_000}],
        "lat": 16.0719, "lng": 108.2203}));
    while out.len() < count {
        let i = out.len();
        let (district, lat0, lng0, wards) = DISTRICTS[rng.below(DISTRICTS.len())];
        let (name, kind) = name(&mut rng);
        let roll = rng.below(100);
        let certificate = if roll < 80 {
            let year = 2021 + i32::try_from(rng.below(5)).unwrap_or(0);
            let day = rng.below(365);
            let number = format!("{}/{year}/ATTP-CNĐK", 1 + rng.below(2_000));
            let authority = if rng.below(3) == 0 {
                format!("UBND quận {district}")
            } else {
                "Ban Quản lý An toàn thực phẩm thành phố Đà Nẵng".to_owned()
            };
            json!({"number": number, "issued": date(year, day), "expires": date(year + 3, day), "authority": authority})
        } else {
            Value::Null
        };
        let violations: Vec<Value> = if rng.below(100) < 22 {
            (0..1 + rng.below(3))
                .map(|_| {
                    let year = 2022 + i32::try_from(rng.below(4)).unwrap_or(0);
                    json!({"date": date(year, rng.below(365)), "description": rng.pick(VIOLATIONS),
                           "penalty_vnd": 500_000 * i64::try_from(rng.below(60)).unwrap_or(0)})
                })
                .collect()
        } else {
            Vec::new()
        };
        out.push(json!({
            "id": format!("DN-{:06}", 1_000 + i),
            "name": name,
            "address": format!("{} {}", 1 + rng.below(400), rng.pick(STREETS)),
            "ward": rng.pick(wards),
            "district": district,
            "province": "Đà Nẵng",
            "kind": kind,
            "certificate": certificate,
            "violations": violations,
            "lat": ((lat0 + (rng.unit() - 0.5) * 0.04) * 1e5).round() / 1e5,
            "lng": ((lng0 + (rng.unit() - 0.5) * 0.04) * 1e5).round() / 1e5,
        }));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_data_is_valid_varied_and_deterministic() {
        let items = establishments(COUNT);
        assert_eq!(items, establishments(COUNT));
        let parsed = food_safety::import::parse_batch(&Value::Array(items)).expect("demo data validates");
        assert_eq!(parsed.len(), COUNT);
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let mut counts = std::collections::HashMap::new();
        for e in &parsed {
            *counts.entry(food_safety::model::CertificateStatus::of(e.certificate.as_ref(), today)).or_insert(0) += 1;
        }
        for status in ["valid", "expired", "none"] {
            let n = counts.iter().find(|(k, _)| serde_json::to_value(k).unwrap() == status).map_or(0, |(_, n)| *n);
            assert!(n > COUNT / 10, "{status}: {n}");
        }
        assert!(parsed.iter().filter(|e| !e.violations.is_empty()).count() > COUNT / 10);
    }
}
