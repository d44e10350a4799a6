//! Demo data: a deterministic, plausible set of Da Nang eating places (real districts, wards
//! and streets; Vietnamese names; valid, expired and missing certificates; some violations),
//! for `cargo xtask up`, the search tests and the benchmarks (any count, 100,000 included).

use serde_json::{Value, json};

use civic::demo::Rng;
use civic::district::{self, District};

/// How many establishments `up` loads.
pub const COUNT: usize = 2_400;

/// Where the generator scatters each district's eating places, in the order of [`district::ALL`]: (latitude, longitude), WGS 84 degrees. These are not the
/// districts' routing centres; they are kept as they were so the seeded demo data, which
/// tests and benchmarks depend on, stays the same.
const SCATTER_CENTRES: [(f64, f64); district::ALL.len()] = [
    (16.0544, 108.2022),
    (16.0646, 108.1880),
    (16.0860, 108.2400),
    (16.0000, 108.2550),
    (16.0750, 108.1500),
    (16.0150, 108.1950),
    (15.9900, 108.1300),
];

/// The side of the square, in degrees (about 4.4 km), centred on a district's scatter
/// centre, in which the generator places its eating places.
const SCATTER_SPAN: f64 = 0.04;

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

/// Well-known places with names the generator never makes, so that a search test can name
/// the one place a query means: (id, name, address, ward, district, certificate state).
/// Certificate state: `v` valid, `x` expired, `-` none.
pub const LANDMARKS: &[(&str, &str, &str, &str, &str, char)] = &[
    ("DN-000201", "Mì Quảng Ếch Bếp Trang", "24 Lê Duẩn", "Hải Châu 1", "Hải Châu", 'v'),
    ("DN-000202", "Bún chả cá Ông Tạ Chợ Cồn", "113A Nguyễn Chí Thanh", "Hải Châu 1", "Hải Châu", 'v'),
    ("DN-000203", "Bê thui Cầu Mống", "90 Hoàng Diệu", "Phước Ninh", "Hải Châu", 'x'),
    ("DN-000204", "Bánh tráng cuốn thịt heo Mậu", "35 Đỗ Thúc Tịnh", "Khuê Trung", "Cẩm Lệ", 'v'),
    ("DN-000205", "Chè Xuân Trang", "31 Lê Duẩn", "Hải Châu 1", "Hải Châu", '-'),
    ("DN-000206", "Nhà hàng Madame Lân", "4 Bạch Đằng", "Thạch Thang", "Hải Châu", 'v'),
    ("DN-000207", "Cơm gà A Hải", "100 Thái Phiên", "Phước Ninh", "Hải Châu", 'v'),
    ("DN-000208", "Cơm gà Bà Buội", "22 Phan Châu Trinh", "Phước Ninh", "Hải Châu", 'x'),
    ("DN-000209", "Bún bò Huế O Xuân", "45 Ngô Gia Tự", "Hải Châu 1", "Hải Châu", 'v'),
    ("DN-000210", "Bánh canh Nga", "78 Nguyễn Chí Thanh", "Hải Châu 1", "Hải Châu", '-'),
    ("DN-000211", "Nem lụi Huế Bà Thìn", "15 Tiểu La", "Hòa Cường Bắc", "Hải Châu", 'v'),
    ("DN-000212", "Highlands Coffee Vĩnh Trung Plaza", "255 Hùng Vương", "Vĩnh Trung", "Thanh Khê", 'v'),
    ("DN-000213", "Cà phê Trung Nguyên Legend", "138 Bạch Đằng", "Hải Châu 1", "Hải Châu", 'v'),
    ("DN-000214", "Cộng Cà Phê Bạch Đằng", "98 Bạch Đằng", "Hải Châu 1", "Hải Châu", 'x'),
    ("DN-000215", "Khách sạn Mường Thanh Grand", "962 Ngô Quyền", "An Hải Bắc", "Sơn Trà", 'v'),
    ("DN-000216", "Bếp ăn tập thể Trường Tiểu học Lê Lai", "12 Lê Lai", "Thạch Thang", "Hải Châu", 'v'),
    ("DN-000217", "Lẩu dê Nhất Ly", "116 Nguyễn Văn Thoại", "Mỹ An", "Ngũ Hành Sơn", '-'),
    ("DN-000218", "Ốc Thanh Hường", "5 Trần Bình Trọng", "Hải Châu 2", "Hải Châu", 'v'),
    ("DN-000219", "Bánh bèo Bà Bé", "100 Hoàng Văn Thụ", "Phước Ninh", "Hải Châu", 'x'),
    ("DN-000220", "Mì Quảng 1A", "1A Hải Phòng", "Thạch Thang", "Hải Châu", 'v'),
    ("DN-000221", "Bún mắm Vân", "23/14 Trần Kế Xương", "Hải Châu 2", "Hải Châu", '-'),
    ("DN-000222", "Quán Trần", "4 Lê Duẩn", "Hải Châu 1", "Hải Châu", 'v'),
    ("DN-000223", "Phở Sướng Hà Nội", "28 Trần Quốc Toản", "Phước Ninh", "Hải Châu", 'v'),
    ("DN-000224", "Nhà hàng chay Tâm An", "84 Phan Đăng Lưu", "Hòa Cường Bắc", "Hải Châu", 'v'),
    ("DN-000225", "Pizza 4P's Hoàng Văn Thụ", "8 Hoàng Văn Thụ", "Phước Ninh", "Hải Châu", 'v'),
    ("DN-000226", "Bánh xèo Tôm Nhảy Bà Mai", "2 Lý Tự Trọng", "Thạch Thang", "Hải Châu", 'x'),
    ("DN-000227", "Gà nướng Ò Ó O", "111 Nguyễn Văn Linh", "Nam Dương", "Hải Châu", '-'),
    ("DN-000228", "Bánh mì Ông Tây", "69 Lê Lợi", "Thạch Thang", "Hải Châu", 'v'),
    ("DN-000229", "Hải sản Thủy Tùng", "3 Võ Nguyên Giáp", "Phước Mỹ", "Sơn Trà", 'v'),
    ("DN-000230", "Bún thịt nướng Kiều Bảo", "185 Nguyễn Văn Linh", "Thạc Gián", "Thanh Khê", 'v'),
    ("DN-000231", "Chè Liên", "189 Hoàng Diệu", "Nam Dương", "Hải Châu", 'v'),
    ("DN-000232", "Bún chả cá Hờn", "113/4 Nguyễn Chí Thanh", "Hải Châu 1", "Hải Châu", 'x'),
    ("DN-000233", "Cháo lòng Hòa Vang", "ĐT 602", "Hòa Sơn", "Hòa Vang", '-'),
    ("DN-000234", "Tiệm bánh Hạnh Phúc", "20 Tôn Đức Thắng", "Hòa Minh", "Liên Chiểu", 'v'),
    ("DN-000235", "Gỏi cá Nam Ô Bà Tám", "Làng chài Nam Ô", "Hòa Hiệp Nam", "Liên Chiểu", 'v'),
];

fn landmark(l: &(&str, &str, &str, &str, &str, char)) -> Value {
    let (id, name, address, ward, district, cert) = *l;
    let certificate = match cert {
        'v' => json!({"number": format!("{}/2025/ATTP-CNĐK", &id[3..]), "issued": "2025-02-01",
                      "expires": "2028-02-01", "authority": "Ban Quản lý An toàn thực phẩm thành phố Đà Nẵng"}),
        'x' => json!({"number": format!("{}/2020/ATTP-CNĐK", &id[3..]), "issued": "2020-02-01",
                      "expires": "2023-02-01", "authority": "Ban Quản lý An toàn thực phẩm thành phố Đà Nẵng"}),
        _ => Value::Null,
    };
    json!({"id": id, "name": name, "address": address, "ward": ward, "district": district, "province": "Đà Nẵng",
           "kind": "restaurant", "certificate": certificate, "violations": [], "lat": null, "lng": null})
}

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
    out.extend(LANDMARKS.iter().take(count.saturating_sub(1)).map(landmark));
    while out.len() < count {
        let i = out.len();
        let at = rng.below(district::ALL.len());
        let District { name: district, wards, .. } = district::ALL[at];
        let (lat0, lng0) = SCATTER_CENTRES[at];
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
            "lat": ((lat0 + (rng.unit() - 0.5) * SCATTER_SPAN) * 1e5).round() / 1e5,
            "lng": ((lng0 + (rng.unit() - 0.5) * SCATTER_SPAN) * 1e5).round() / 1e5,
        }));
    }
    out
}

/// One place of `all` as a citizen might type it: without diacritics, with one or two typos
/// (in words of four letters or more: a letter dropped, doubled, swapped with the next or
/// replaced), a quarter of the time followed by the district and a quarter by the street.
/// Returns the query and the place's position in `all`.
pub fn misspelled(all: &[Value], rng: &mut Rng) -> (String, usize) {
    let i = rng.below(all.len());
    let e = &all[i];
    let text = |k: &str| e[k].as_str().unwrap_or_default();
    let mut words = civic::text::words(text("name"));
    for _ in 0..1 + rng.below(2) {
        let at_word = rng.below(words.len().max(1));
        let Some(word) = words.get(at_word) else { break };
        let w: Vec<char> = word.chars().collect();
        if w.len() < 4 || w.iter().any(char::is_ascii_digit) {
            continue;
        }
        let at = 1 + rng.below(w.len() - 2);
        let mut t = w.clone();
        match rng.below(4) {
            0 => drop(t.remove(at)),
            1 => t.insert(at, w[at]),
            2 => t.swap(at, at + 1),
            _ => t[at] = *rng.pick(&['a', 'e', 'o', 'n', 'h', 'u']),
        }
        words[at_word] = t.into_iter().collect();
    }
    match rng.below(4) {
        0 => words.extend(civic::text::words(text("district"))),
        1 => words.extend(civic::text::words(text("address")).into_iter().skip(1)),
        _ => {}
    }
    (words.join(" "), i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_data_is_valid_varied_and_deterministic() {
        let items = establishments(COUNT);
        assert_eq!(items, establishments(COUNT));
        let parsed = crate::import::parse_batch(&Value::Array(items)).expect("demo data validates");
        assert_eq!(parsed.len(), COUNT);
        let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let mut counts = std::collections::HashMap::new();
        for e in &parsed {
            *counts.entry(crate::model::CertificateStatus::of(e.certificate.as_ref(), today)).or_insert(0) += 1;
        }
        for status in ["valid", "expired", "none"] {
            let n = counts.iter().find(|(k, _)| serde_json::to_value(k).unwrap() == status).map_or(0, |(_, n)| *n);
            assert!(n > COUNT / 10, "{status}: {n}");
        }
        assert!(parsed.iter().filter(|e| !e.violations.is_empty()).count() > COUNT / 10);
    }
}
