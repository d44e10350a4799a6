//! The hot pure functions of permit-status: parsing a code and a push, rendering the JSON
//! views and the SMS reply. `cargo bench -p permit-status` prints figures; nothing here
//! passes or fails.

use std::hint::black_box;

use chrono::{DateTime, Utc};
use civic::Lang;
use criterion::{Criterion, criterion_group, criterion_main};
use permit_status::dossier::{Code, Status};
use permit_status::store::{Dossier, Event};
use permit_status::{push, sms, view};

const PUSH: &str = include_str!("../../../docs/examples/dossier-push.json");

fn dossier() -> Dossier {
    let body: serde_json::Value = serde_json::from_str(PUSH).expect("example push is JSON");
    let update = push::parse(&body).expect("example push is valid");
    let history = [Status::Registered, Status::Accepted, Status::Processing, Status::DocumentsRequested]
        .iter()
        .enumerate()
        .map(|(i, s)| Event {
            at: update.received_at + chrono::Duration::hours(i64::try_from(i).unwrap_or(0) * 20),
            status: *s,
            agency: update.agency.clone(),
            note: Some("Chuyển phòng Quản lý đô thị thẩm định hồ sơ".into()),
        })
        .collect();
    Dossier { code: Code::parse("000.00.19.H57-241105-0012").expect("code"), update, history }
}

fn hot(c: &mut Criterion) {
    let d = dossier();
    let now: DateTime<Utc> = "2024-11-18T03:00:00Z".parse().expect("time");
    let body: serde_json::Value = serde_json::from_str(PUSH).expect("example push is JSON");
    c.bench_function("code parse", |b| b.iter(|| Code::parse(black_box("000.00.19.h57-241105-0012"))));
    c.bench_function("push parse+validate", |b| b.iter(|| push::parse(black_box(&body))));
    c.bench_function("view public", |b| {
        b.iter(|| serde_json::to_vec(&view::view(black_box(&d), now, Lang::Vi, Some(true), false)))
    });
    c.bench_function("view verified (4 events)", |b| {
        b.iter(|| serde_json::to_vec(&view::view(black_box(&d), now, Lang::Vi, Some(true), true)))
    });
    c.bench_function("sms reply", |b| b.iter(|| sms::reply(black_box(&d), now, Some(false))));
}

criterion_group!(benches, hot);
criterion_main!(benches);
