//! The hot pure functions of food-safety: folding text, ranking candidates, rendering an SMS.
//! `cargo bench -p food-safety` prints figures; nothing here passes or fails.

use std::hint::black_box;

use chrono::NaiveDate;
use civic::text::{fold, sms, words};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use food_safety::model::Establishment;
use food_safety::search::rank;
use food_safety::store::Summary;

const DISHES: &[&str] = &["Phở", "Bún bò Huế", "Mì Quảng", "Bún chả cá", "Bánh xèo", "Cơm gà", "Bánh canh", "Lẩu bò"];
const PEOPLE: &[&str] = &["Bà Hoa", "Bà Mua", "Cô Ba", "Chị Lan", "Anh Tuấn", "Ông Tạ", "Bà Lữ", "Dì Năm", "Cô Thu"];

fn candidates(n: usize) -> Vec<Summary> {
    (0..n)
        .map(|i| {
            let name = format!("{} {} {}", DISHES[i % DISHES.len()], PEOPLE[(i / DISHES.len()) % PEOPLE.len()], i / 72);
            Summary {
                name_folded: fold(&name),
                establishment: Establishment {
                    id: format!("DN-{i:06}"),
                    name,
                    address: "12 Trần Phú".into(),
                    ward: "Thạch Thang".into(),
                    district: "Hải Châu".into(),
                    province: "Đà Nẵng".into(),
                    kind: "restaurant".into(),
                    certificate: None,
                    violations: Vec::new(),
                    lat: None,
                    lng: None,
                },
                violations: 0,
            }
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    c.bench_function("fold a name", |b| b.iter(|| fold(black_box("Nhà hàng Hải sản Bé Mặn Đà Nẵng"))));
    let list = candidates(2_400);
    let query = words("pho ba hoa");
    let today = NaiveDate::from_ymd_opt(2026, 11, 22).unwrap_or_default();
    c.bench_function("rank 2400 candidates", |b| {
        b.iter_batched(|| list.clone(), |l| rank(black_box(l), &query, today), BatchSize::LargeInput)
    });
    let long = "Nhà hàng Hải sản Bé Mặn, 12 Trần Phú, Thạch Thang, Hải Châu: GCN ATTP số 123/2024/ATTP-CNĐK còn hiệu lực đến 01/03/2027. Vi phạm: 1 lần. Soạn ATTP <tên> gửi 8188";
    c.bench_function("render one SMS", |b| b.iter(|| sms(black_box(long))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
