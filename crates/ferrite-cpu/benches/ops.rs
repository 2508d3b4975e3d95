//! Criterion benchmarks of the foundation issue's op cases
//! (`cargo bench -p ferrite-cpu --bench ops [-- FILTER]`).

#[path = "cases/mod.rs"]
mod cases;

use cases::Work;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn ops(c: &mut Criterion) {
    ferrite_cpu::install();
    let cases = match cases::cases("") {
        Ok(cases) => cases,
        Err(e) => panic!("building benchmark inputs failed: {e}"),
    };
    for mut case in cases {
        let id = format!("{}/{}", case.name, case.shape);
        let mut group = c.benchmark_group(&case.name);
        match case.work {
            Work::Bytes(n) => group.throughput(Throughput::Bytes(n as u64)),
            Work::Flops(n) | Work::Nodes(n) => group.throughput(Throughput::Elements(n as u64)),
        };
        group.bench_function(&case.shape, |b| {
            b.iter(|| {
                if let Err(e) = (case.run)() {
                    panic!("{id}: {e}");
                }
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = ops
}
criterion_main!(benches);
