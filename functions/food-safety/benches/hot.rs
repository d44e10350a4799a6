//! The search core of food-safety at province scale: 100,000 demo establishments in SQLite
//! (FTS5 index and typo keys, in memory), searched the way the HTTP route does, plus the pure
//! steps around it. `cargo bench -p food-safety` prints figures; nothing here passes or fails.

#![allow(clippy::disallowed_methods)] // a native benchmark times itself

use std::hint::black_box;

use bytes::Bytes;
use civic::platform::native::{NativePlatform, block_on};
use civic::text::{fold, sms};
use criterion::{Criterion, criterion_group, criterion_main};
use food_safety::phrase::parse;

const ROWS: usize = 100_000;

fn loaded() -> NativePlatform {
    let migrations = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let env = NativePlatform::in_memory_migrated(&["food"], &migrations).expect("migrations");
    for chunk in food_safety::demo::establishments(ROWS).chunks(food_safety::import::MAX_ITEMS) {
        let items = food_safety::import::parse_batch(&serde_json::Value::Array(chunk.to_vec())).expect("valid");
        block_on(food_safety::store::upsert(&env, &items, food_safety::store::Violations::Replace)).expect("import");
    }
    env
}

fn bench(c: &mut Criterion) {
    let env = loaded();
    let queries = [
        ("exact name", "pho ba hoa"),
        ("typos", "mi quang ech bep trag"),
        ("name and district", "com ga a hai hai chau"),
        ("common words", "banh mi"),
        ("abbreviations", "nh madame lan q. hai chau"),
        ("no match", "sushi tokyo"),
    ];
    let mut group = c.benchmark_group(format!("search {ROWS} places"));
    for (label, q) in queries {
        group.bench_function(label, |b| {
            b.iter(|| block_on(food_safety::search::find(&env, &parse(black_box(q)), None)).expect("search"))
        });
    }
    group.bench_function("GET /food-safety/establishments?q=pho+ba+hao", |b| {
        b.iter(|| {
            let req = http::Request::get("/food-safety/establishments?q=pho+ba+hao").body(Bytes::new()).expect("req");
            block_on(food_safety::handle(req, &env))
        })
    });
    group.finish();
    // the mixed load: 500 misspelled demo names, each timed once (printed, never asserted)
    let all = food_safety::demo::establishments(food_safety::demo::COUNT);
    let mut rng = civic::demo::Rng(2026);
    let mut took: Vec<std::time::Duration> = (0..500)
        .map(|_| {
            let q = food_safety::demo::misspelled(&all, &mut rng).0;
            let t = std::time::Instant::now();
            block_on(food_safety::search::find(&env, &parse(&q), None)).expect("search");
            t.elapsed()
        })
        .collect();
    took.sort_unstable();
    println!(
        "search {ROWS} places, 500 misspelled names: p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
        took[250], took[450], took[495], took[499]
    );
    c.bench_function("parse a query", |b| b.iter(|| parse(black_box("Quán phở bà Hảo, q. Hải Châu"))));
    c.bench_function("fold a name", |b| b.iter(|| fold(black_box("Nhà hàng Hải sản Bé Mặn Đà Nẵng"))));
    let long = "Nhà hàng Hải sản Bé Mặn, 12 Trần Phú, Thạch Thang, Hải Châu: GCN ATTP số 123/2024/ATTP-CNĐK còn hiệu lực đến 01/03/2027. Vi phạm: 1 lần. Soạn ATTP <tên> gửi 8188";
    c.bench_function("render one SMS", |b| b.iter(|| sms(black_box(long))));
}

criterion_group!(benches, bench);
criterion_main!(benches);
