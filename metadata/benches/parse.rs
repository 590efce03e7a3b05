//! Parse throughput and model size on the two largest real documents.
//!
//! Run with `cargo bench -p bizgraph-metadata`. Criterion reports throughput per document; before
//! the timing runs, the bench prints the live heap held by one parsed model (counted by a
//! counting global allocator) relative to the document's size.

use std::alloc::System;
use std::hint::black_box;
use std::path::PathBuf;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const DOCUMENTS: [&str; 2] = [
    "MicrosoftGraph_v1.0.v4.csdl.xml",
    "UI_PPS_PURCHASEORDER_MANAGE_2.v4.xml",
];

fn fixture(name: &str) -> Vec<u8> {
    let dir = match std::env::var_os("BIZGRAPH_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/odata"),
    };
    std::fs::read(dir.join(name)).expect("fixture documents next to the workspace")
}

/// Net heap bytes still allocated by a parse, i.e. what the resulting model holds.
fn model_heap_bytes(bytes: &[u8]) -> usize {
    let region = Region::new(GLOBAL);
    let parsed = bizgraph_metadata::parse(bytes).expect("fixture parses");
    let stats = region.change();
    drop(parsed);
    // stats_alloc adds a reallocation's growth to bytes_allocated and its shrinking to
    // bytes_deallocated, so the difference of the two is the live heap.
    stats
        .bytes_allocated
        .saturating_sub(stats.bytes_deallocated)
}

fn parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for name in DOCUMENTS {
        let bytes = fixture(name);
        let heap = model_heap_bytes(&bytes);
        println!(
            "{name}: document {} bytes, model heap {heap} bytes ({:.0}% of the document)",
            bytes.len(),
            heap as f64 * 100.0 / bytes.len() as f64
        );
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| bizgraph_metadata::parse(black_box(&bytes)).expect("fixture parses"))
        });
    }
    group.finish();
}

criterion_group!(benches, parse);
criterion_main!(benches);
