//! Per-packet cost of parse + classify + encapsulation, for filters of 10 and 10,000 rules.
//! `scripts/bench.sh` also counts its instructions per packet under callgrind (through
//! `examples/packet_path_ipp.rs`, which runs the same code).

mod common;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};

fn packet_path(c: &mut Criterion) {
    let frames = common::frames(4096);
    let mut g = c.benchmark_group("parse+classify+encap");
    g.throughput(Throughput::Elements(frames.len() as u64));
    for rules in [10usize, 1000, 10_000] {
        let table = common::table(rules);
        let mut out = [0u8; 128];
        g.bench_function(format!("{rules} rules"), |b| b.iter(|| common::run_burst(black_box(&table), black_box(&frames), &mut out)));
    }
    g.finish();
}

criterion_group!(benches, packet_path);
criterion_main!(benches);
