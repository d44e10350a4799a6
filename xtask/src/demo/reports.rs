//! Demo categories (Open311 services), agencies and routing for Da Nang, modelled on what
//! the city's 1022 portal and Hue-S take in, and a few dozen reports across the districts.

use serde_json::{Value, json};

use civic::district;

use super::Rng;

/// The side of the square, in degrees (about 2.2 km), centred on a district's centre, in
/// which the demo filings of that district lie.
const JITTER_SPAN: f64 = 0.02;

/// (code, vi, en, description vi, description en, keywords, hours, default agency, by district)
type Category = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    i64,
    &'static str,
    bool,
);

const CATEGORIES: &[Category] = &[
    (
        "road-damage",
        "Hư hỏng mặt đường",
        "Road damage",
        "Ổ gà, sụt lún, bong tróc mặt đường",
        "Potholes, subsidence, broken surface",
        &["o ga", "sut lun", "duong hong"],
        72,
        "so-gtvt",
        false,
    ),
    (
        "pavement-encroachment",
        "Lấn chiếm vỉa hè, lòng đường",
        "Pavement encroachment",
        "Buôn bán, để xe, vật liệu trên vỉa hè, lòng đường",
        "Stalls, parking or materials on the pavement",
        &["lan chiem", "via he"],
        72,
        "so-gtvt",
        true,
    ),
    (
        "street-light",
        "Đèn chiếu sáng công cộng",
        "Street light",
        "Đèn đường không sáng, cột đèn nghiêng, hở điện",
        "Street light out, leaning pole, exposed wiring",
        // "den duong hong" outweighs road damage's "duong hong" in "đèn đường hỏng"
        &["den duong", "chieu sang", "den duong hong", "den hong"],
        48,
        "chieu-sang",
        false,
    ),
    (
        "traffic-signal",
        "Đèn tín hiệu giao thông",
        "Traffic signal",
        "Đèn giao thông hỏng, biển báo mất",
        "Broken traffic light, missing sign",
        &["den giao thong", "bien bao"],
        24,
        "so-gtvt",
        false,
    ),
    (
        "drainage",
        "Thoát nước, ngập úng",
        "Drainage and flooding",
        "Cống nghẹt, mất nắp hố ga, ngập khi mưa",
        "Blocked drain, missing manhole cover, flooding",
        &["cong", "ho ga", "ngap"],
        48,
        "thoat-nuoc",
        false,
    ),
    (
        "rubbish",
        "Rác thải, vệ sinh môi trường",
        "Rubbish",
        "Rác thải không đúng nơi quy định, thùng rác đầy",
        "Dumped rubbish, overflowing bins",
        &["rac", "ve sinh"],
        24,
        "moi-truong",
        false,
    ),
    (
        "trees",
        "Cây xanh",
        "Trees",
        "Cây gãy đổ, nhánh cây nguy hiểm, chặt cây trái phép",
        "Fallen or dangerous trees, illegal felling",
        &["cay", "cay xanh"],
        24,
        "cay-xanh",
        false,
    ),
    (
        "water-supply",
        "Cấp nước",
        "Water supply",
        "Mất nước, vỡ ống, nước bẩn",
        "No water, burst pipe, dirty water",
        &["mat nuoc", "vo ong", "nuoc sach"],
        48,
        "cap-nuoc",
        false,
    ),
    (
        "illegal-construction",
        "Trật tự xây dựng",
        "Illegal construction",
        "Xây dựng không phép, sai phép, gây mất an toàn",
        "Building without or against a permit, unsafe works",
        &["xay dung", "xay trai phep"],
        120,
        "so-xay-dung",
        true,
    ),
    (
        "noise",
        "Tiếng ồn",
        "Noise",
        "Karaoke, công trình gây ồn ngoài giờ",
        "Karaoke, construction noise out of hours",
        &["on", "karaoke"],
        48,
        "ioc",
        true,
    ),
    (
        "food-safety",
        "An toàn thực phẩm",
        "Food safety",
        "Cơ sở kinh doanh thực phẩm mất vệ sinh",
        "Unhygienic food business",
        &["attp", "thuc pham"],
        72,
        "attp",
        false,
    ),
    (
        "stray-animals",
        "Gia súc, động vật thả rông",
        "Stray animals",
        "Gia súc thả rông, chó không rọ mõm",
        "Loose livestock, unmuzzled dogs",
        &["cho", "gia suc"],
        72,
        "ioc",
        true,
    ),
    ("other", "Khác", "Other", "Những phản ánh khác về đô thị", "Anything else about the city", &[], 120, "ioc", false),
];

const AGENCIES: &[(&str, &str)] = &[
    ("so-gtvt", "Sở Giao thông vận tải"),
    ("so-xay-dung", "Sở Xây dựng"),
    ("chieu-sang", "Công ty Chiếu sáng và Thiết bị đô thị"),
    ("thoat-nuoc", "Công ty Thoát nước và Xử lý nước thải"),
    ("moi-truong", "Công ty Môi trường đô thị"),
    ("cay-xanh", "Công ty Công viên cây xanh"),
    ("cap-nuoc", "Công ty Cấp nước"),
    ("attp", "Ban Quản lý An toàn thực phẩm"),
    ("ioc", "Trung tâm Giám sát điều hành đô thị thông minh"),
];

/// The catalogue, in the body format of `PUT /reports/categories`.
pub fn catalogue() -> Value {
    let mut agencies: Vec<Value> = AGENCIES.iter().map(|(code, name)| json!({"code": code, "name": name})).collect();
    agencies.extend(district::ALL.iter().map(|d| json!({"code": d.agency, "name": format!("UBND quận {}", d.name)})));
    let categories: Vec<Value> = CATEGORIES
        .iter()
        .map(|(code, vi, en, dvi, den, keywords, hours, agency, by_district)| {
            let mut routes = serde_json::Map::new();
            routes.insert("*".into(), json!(agency));
            if *by_district {
                for d in district::ALL {
                    routes.insert(d.name.to_owned(), json!(d.agency));
                }
            }
            let mut category = json!({"code": code, "name_vi": vi, "name_en": en, "description_vi": dvi,
                "description_en": den, "keywords": keywords, "deadline_hours": hours, "routes": routes});
            if *code == "street-light" {
                category["attributes"] = street_light_questions();
            }
            category
        })
        .collect();
    json!({"agencies": agencies, "categories": categories})
}

/// The extra questions of the street-light category (its Open311 service definition), all
/// optional so that the demo filings, which answer none, still file.
fn street_light_questions() -> Value {
    json!([
        {"code": "pole", "datatype": "string", "order": 1, "description": "Số hiệu cột đèn (ghi trên cột)",
         "datatype_description": "VD: HC-0412"},
        {"code": "fault", "datatype": "multivaluelist", "order": 2, "description": "Đèn bị làm sao?",
         "values": [{"key": "dark", "name": "Không sáng"}, {"key": "flicker", "name": "Chập chờn"},
                    {"key": "day", "name": "Sáng cả ban ngày"}, {"key": "wiring", "name": "Dây điện hở"}]},
        {"code": "safety", "datatype": "text", "variable": false, "order": 3,
         "description": "Đừng chạm vào cột đèn hay dây điện bị hở; gọi 1022 nếu nguy hiểm."}
    ])
}

/// `count` filings spread over the districts, in the body format of `POST /reports`.
pub fn filings(count: usize) -> Vec<Value> {
    let mut rng = Rng(0x5EED_0000_0000_0042);
    (0..count)
        .map(|i| {
            let d = rng.pick(district::ALL);
            let (code, vi, ..) = *rng.pick(CATEGORIES);
            let jitter = |rng: &mut Rng| (rng.unit() - 0.5) * JITTER_SPAN;
            json!({"category": code, "description": format!("{vi} tại {} (phản ánh mẫu số {})", d.name, i + 1),
                "lat": ((d.lat + jitter(&mut rng)) * 1e5).round() / 1e5, "lng": ((d.lng + jitter(&mut rng)) * 1e5).round() / 1e5,
                "phone": format!("09{:08}", rng.next() % 100_000_000)})
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_valid_and_filings_parse() {
        let c: report_submission::category::Catalogue = serde_json::from_value(catalogue()).unwrap();
        assert!(c.categories.len() >= 12);
        assert_eq!(report_submission::category::check(&c), Vec::new());
        for f in filings(40) {
            report_submission::report::parse(&f, true, |_| false).unwrap();
        }
    }
}
