//! Demo dossiers: a deterministic, plausible set of administrative dossiers (hồ sơ TTHC)
//! across agencies, procedures and all ten statuses, dated relative to the day they are made
//! so that some are always open, some due soon and some overdue. Each dossier is a series of
//! pushes, exactly as the one-stop-shop system would send them. The documented example
//! `000.00.19.H57-241105-0012` is always there, with its fee paid.
//!
//! The procedure codes are illustrative, not the national catalogue's.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use serde_json::{Value, json};

use super::Rng;

/// How many dossiers `up` loads.
pub const COUNT: usize = 300;

/// (agency code, agency name, procedures it handles)
type Agency = (&'static str, &'static str, &'static [Procedure]);
/// (procedure code, name, field, days to process, fee in VND, applicant is a business)
type Procedure = (&'static str, &'static str, &'static str, i64, i64, bool);

const CONSTRUCTION: &[Procedure] = &[
    ("1.009972", "Cấp giấy phép xây dựng nhà ở riêng lẻ", "Xây dựng", 15, 75_000, false),
    ("1.009974", "Cấp giấy phép sửa chữa, cải tạo công trình", "Xây dựng", 15, 75_000, false),
    ("1.009980", "Gia hạn giấy phép xây dựng", "Xây dựng", 5, 15_000, false),
];
const LAND: &[Procedure] = &[
    ("1.004203", "Cấp giấy chứng nhận quyền sử dụng đất lần đầu", "Đất đai", 30, 100_000, false),
    ("1.004227", "Đăng ký biến động quyền sử dụng đất do chuyển nhượng", "Đất đai", 10, 50_000, false),
];
const JUSTICE: &[Procedure] = &[
    ("2.000488", "Cấp phiếu lý lịch tư pháp cho công dân Việt Nam", "Lý lịch tư pháp", 10, 200_000, false),
    ("1.001193", "Đăng ký kết hôn có yếu tố nước ngoài", "Hộ tịch", 15, 1_000_000, false),
];
const DISTRICT: &[Procedure] = &[
    ("1.001612", "Đăng ký thành lập hộ kinh doanh", "Thành lập và hoạt động của hộ kinh doanh", 3, 100_000, true),
    ("1.004222", "Đăng ký khai sinh", "Hộ tịch", 1, 0, false),
    ("2.000908", "Chứng thực bản sao từ bản chính", "Chứng thực", 1, 2_000, false),
    ("1.003003", "Cấp giấy phép kinh doanh bán lẻ sản phẩm rượu", "Lưu thông hàng hóa trong nước", 10, 1_100_000, true),
];
const FOOD: &[Procedure] =
    &[("1.002425", "Cấp giấy chứng nhận cơ sở đủ điều kiện an toàn thực phẩm", "An toàn thực phẩm", 20, 700_000, true)];
const TRANSPORT: &[Procedure] = &[
    ("1.002804", "Cấp đổi giấy phép lái xe do ngành Giao thông vận tải cấp", "Đường bộ", 5, 135_000, false),
    ("1.002820", "Cấp phù hiệu xe kinh doanh vận tải", "Đường bộ", 2, 0, true),
];

const AGENCIES: &[Agency] = &[
    ("000.00.19.H57", "Sở Xây dựng", CONSTRUCTION),
    ("000.00.22.H57", "Sở Tài nguyên và Môi trường", LAND),
    ("000.00.11.H57", "Sở Tư pháp", JUSTICE),
    ("000.00.15.H57", "Sở Giao thông vận tải", TRANSPORT),
    ("000.00.31.H57", "Ban Quản lý An toàn thực phẩm", FOOD),
    ("000.20.19.H57", "UBND quận Hải Châu", DISTRICT),
    ("000.21.19.H57", "UBND quận Thanh Khê", DISTRICT),
    ("000.22.19.H57", "UBND quận Sơn Trà", DISTRICT),
    ("000.23.19.H57", "UBND quận Ngũ Hành Sơn", DISTRICT),
];

const FAMILY: &[&str] =
    &["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ", "Ngô"];
const MIDDLE: &[&str] = &["Văn", "Thị", "Hữu", "Minh", "Ngọc", "Thanh", "Quốc", "Đức", "Thị Thu", "Hoàng"];
const GIVEN: &[&str] = &[
    "An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Khoa", "Lan", "Linh", "Long", "Mai", "Nam", "Phúc",
    "Quân", "Tâm", "Thảo", "Trung", "Vy",
];
const COMPANY: &[&str] = &["Công ty TNHH", "Công ty Cổ phần", "Hộ kinh doanh"];
const TRADE: &[&str] = &["Sông Hàn", "Biển Xanh", "Minh Phát", "Hải Vân", "Phú Quý", "An Khang", "Mỹ Khê", "Ngọc Lan"];

const NOTES: &[(i64, &str)] = &[
    (1, "Nộp trực tuyến trên Cổng dịch vụ công"),
    (2, "Đã tiếp nhận tại Bộ phận một cửa"),
    (3, "Hồ sơ không thuộc thẩm quyền giải quyết"),
    (4, "Chuyển phòng chuyên môn thẩm định"),
    (5, "Bổ sung bản sao giấy tờ tùy thân có chứng thực"),
    (6, "Đề nghị nộp lệ phí"),
    (7, "Công dân đề nghị rút hồ sơ"),
    (8, "Dừng xử lý theo đề nghị của cơ quan thẩm định"),
    (9, "Đã ký duyệt kết quả"),
    (10, "Đã trả kết quả cho công dân"),
];

fn note(status: i64) -> &'static str {
    NOTES.iter().find(|(s, _)| *s == status).map_or("", |(_, n)| n)
}

fn vn(t: DateTime<Utc>) -> String {
    t.with_timezone(&civic::web::vietnam()).to_rfc3339()
}

fn at(day: NaiveDate, hour: u32, minute: u32) -> DateTime<Utc> {
    let local = day.and_time(NaiveTime::from_hms_opt(hour, minute, 0).unwrap_or_default());
    civic::web::vietnam().from_local_datetime(&local).single().map_or_else(Utc::now, |t| t.with_timezone(&Utc))
}

/// One demo dossier: its code and its pushes, oldest first, and whether its fee was paid.
pub struct Demo {
    pub code: String,
    pub pushes: Vec<Value>,
    pub fee_vnd: i64,
    pub paid: bool,
}

/// The path a dossier's statuses take to its final one.
fn path(last: i64, rng: &mut Rng) -> Vec<i64> {
    let mut p = match last {
        1 => vec![1],
        2 => vec![1, 2],
        3 => vec![1, 3],
        _ => vec![1, 2, 4],
    };
    match last {
        5 => p.push(5),
        6 => p.push(6),
        7 | 8 => p.push(last),
        9 | 10 => {
            if rng.below(4) == 0 {
                p.extend([5, 4]);
            }
            p.push(9);
            if last == 10 {
                p.push(10);
            }
        }
        _ => {}
    }
    p
}

fn applicant(rng: &mut Rng, business: bool) -> Value {
    let phone = format!("09{:08}", rng.next() % 100_000_000);
    if business && rng.below(3) > 0 {
        let name = format!("{} {} {}", rng.pick(COMPANY), rng.pick(TRADE), rng.pick(GIVEN));
        json!({"name": name, "phone": phone, "kind": "business"})
    } else {
        let name = format!("{} {} {}", rng.pick(FAMILY), rng.pick(MIDDLE), rng.pick(GIVEN));
        json!({"name": name, "phone": phone, "kind": "citizen"})
    }
}

/// The documented example of the README and the API description.
fn example() -> Demo {
    let base = json!({"procedure_code": "1.001234", "procedure_name": "Cấp giấy phép xây dựng nhà ở riêng lẻ",
        "field": "Xây dựng", "agency": "UBND quận Hải Châu",
        "applicant": {"name": "Nguyễn Văn An", "phone": "0905123456", "kind": "citizen"},
        "received_at": "2024-11-05T08:30:00+07:00", "due_at": "2024-11-15T17:00:00+07:00",
        "result_at": null, "fee_vnd": 150_000});
    let steps = [
        (2, "2024-11-05T08:30:00+07:00", "Đã tiếp nhận tại Bộ phận một cửa"),
        (4, "2024-11-06T09:00:00+07:00", "Chuyển phòng Quản lý đô thị"),
    ];
    let pushes = steps
        .iter()
        .map(|(status, at, note)| {
            let mut p = base.clone();
            p["status"] = json!(status);
            p["status_at"] = json!(at);
            p["note"] = json!(note);
            p
        })
        .collect();
    Demo { code: "000.00.19.H57-241105-0012".into(), pushes, fee_vnd: 150_000, paid: true }
}

/// `count` dossiers received in the 60 days before `today`, plus the documented example.
pub fn dossiers(count: usize, today: NaiveDate) -> Vec<Demo> {
    let mut rng = Rng(0xD055_1E55_0000_0001);
    let mut out = vec![example()];
    let mut seq = std::collections::HashMap::new();
    while out.len() < count {
        let (agency_code, agency, procedures) = *rng.pick(AGENCIES);
        let (proc_code, proc_name, field, days, fee, business) = *rng.pick(procedures);
        let ago = i64::try_from(rng.below(60)).unwrap_or(0);
        let day = today - Duration::days(ago);
        let now = at(today, 12, 0).min(Utc::now());
        let received =
            at(day, 7 + u32::try_from(rng.below(9)).unwrap_or(0), 5 * u32::try_from(rng.below(12)).unwrap_or(0))
                .min(now - Duration::minutes(10));
        let due = at(day + Duration::days(days + i64::try_from(rng.below(3)).unwrap_or(0)), 17, 0);
        let n = seq.entry((agency_code, day)).or_insert(0);
        *n += 1;
        let code = format!("{agency_code}-{}-{:04}", day.format("%y%m%d"), n);
        // Older dossiers are further along; some stall and run past their due date.
        let last = match (ago, rng.below(100)) {
            (0..=1, r) => [1, 2, 4][r % 3],
            (_, 0..=2) => 3,
            (_, 3..=5) => 7,
            (_, 6..=7) => 8,
            (_, 8..=14) => 5,
            (_, 15..=22) if fee > 0 => 6,
            (a, r) if a > days && r < 30 => 4,
            (a, r) if a >= days => {
                if r < 75 {
                    10
                } else {
                    9
                }
            }
            _ => 4,
        };
        let statuses = path(last, &mut rng);
        let who = applicant(&mut rng, business);
        let mut t = received;
        let mut pushes = Vec::new();
        let mut result_at = Value::Null;
        for (i, status) in statuses.iter().enumerate() {
            if i > 0 {
                let step = Duration::minutes(i64::try_from(30 + rng.below(60 * 24 * 3)).unwrap_or(60));
                t = (t + step).min(now - Duration::minutes(i64::try_from(statuses.len() - i).unwrap_or(0)));
            }
            if *status == 9 {
                result_at = json!(vn(t));
            }
            pushes.push(json!({"procedure_code": proc_code, "procedure_name": proc_name, "field": field,
                "agency": agency, "applicant": who, "received_at": vn(received), "due_at": vn(due),
                "status": status, "status_at": vn(t), "note": note(*status), "result_at": result_at,
                "fee_vnd": fee}));
        }
        let paid = fee > 0 && (statuses.contains(&9) || (last == 6 && rng.below(2) == 0));
        out.push(Demo { code, pushes, fee_vnd: fee, paid });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_dossiers_are_valid_varied_and_some_overdue() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap();
        let all = dossiers(COUNT, today);
        assert_eq!(all.len(), COUNT);
        let now = at(today, 12, 0);
        let mut statuses = std::collections::BTreeSet::new();
        let mut overdue = 0;
        let mut codes = std::collections::HashSet::new();
        for d in &all {
            assert!(codes.insert(d.code.clone()), "unique code {}", d.code);
            assert!(permit_status::dossier::Code::parse(&d.code).is_some(), "{}", d.code);
            let mut last = None;
            for p in &d.pushes {
                let u = permit_status::push::parse(p).unwrap_or_else(|e| panic!("{}: {e:?}", d.code));
                assert!(last.is_none_or(|l| l < u.status_at), "pushes in time order: {}", d.code);
                assert!(u.status_at <= now || d.code.contains("241105"), "no push from the future: {}", d.code);
                last = Some(u.status_at);
            }
            let u = permit_status::push::parse(d.pushes.last().unwrap()).unwrap();
            statuses.insert(u.status.code());
            if permit_status::dossier::Timeliness::of(u.due_at, u.status, now).overdue {
                overdue += 1;
            }
        }
        assert_eq!(statuses.into_iter().collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>(), "every status");
        assert!((COUNT / 20..COUNT / 2).contains(&overdue), "{overdue} overdue");
        assert!(all.iter().filter(|d| d.paid).count() > COUNT / 10);
        assert_eq!(all.len(), dossiers(COUNT, today).len());
        assert_eq!(all[5].pushes, dossiers(COUNT, today)[5].pushes, "deterministic");
    }
}
