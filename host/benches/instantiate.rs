//! What a fresh instance per request costs the local host: a new store and the instantiation
//! of a pre-instantiated component (food-safety's Spin build), with the pooling allocator and
//! with wasmtime's default on-demand allocator. `cargo bench -p civic-host` prints figures;
//! it needs `cargo xtask build` (or `up`) to have built the component.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark's setup failing is a failed run

use std::sync::Arc;

use civic_host::app::{ComponentConfig, compile, engine_with, linker};
use civic_host::server::RequestState;
use civic_host::sqlite::Databases;
use criterion::{Criterion, criterion_group, criterion_main};
use wasmtime::Store;

fn bench(c: &mut Criterion) {
    let wasm =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/release/food_safety.wasm");
    if !wasm.exists() {
        eprintln!("{} is not built: run `cargo xtask build` first", wasm.display());
        return;
    }
    let config = Arc::new(ComponentConfig {
        id: "food-safety".into(),
        environment: Vec::new(),
        variables: Default::default(),
        sqlite_databases: Default::default(),
        allowed_hosts: Arc::default(),
    });
    let databases = Arc::new(Databases::default());
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut group = c.benchmark_group("fresh instance per request");
    for (label, pooling) in [("pooling allocator", true), ("on-demand allocator", false)] {
        let engine = engine_with(pooling, None).unwrap();
        let pre = compile(&engine, &linker(&engine).unwrap(), "food-safety", &wasm).unwrap();
        group.bench_function(label, |b| {
            b.iter(|| {
                let mut store = Store::new(&engine, RequestState::new(config.clone(), databases.clone()));
                store.set_epoch_deadline(u64::MAX / 2);
                rt.block_on(pre.instantiate_async(&mut store)).unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
