//! Steady-state evaluation of a repeated graph allocates no new buffers: a
//! counting allocator sees no new data buffer after the first runs, large or
//! small. Data buffers are told apart from graph nodes (which every build makes
//! afresh) by their cache-line alignment: the 64-aligned allocations are
//! `AlignedBuf`s (array storage) and the GEMM kernels' scratch lines, both of
//! which must be reused.

use ferrite_core::{Array, DType};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Allocations at least this big are counted whatever their alignment.
const LARGE: usize = 64 * 1024;
/// `AlignedBuf`'s alignment: a data buffer of any size.
const BUFFER_ALIGN: usize = 64;

struct Counting;
static LARGE_ALLOCS: AtomicUsize = AtomicUsize::new(0);
static BUFFER_ALLOCS: AtomicUsize = AtomicUsize::new(0);

fn count(layout: Layout) {
    if layout.size() >= LARGE {
        LARGE_ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
    if layout.align() == BUFFER_ALIGN {
        BUFFER_ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout);
        unsafe { System.alloc_zeroed(layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn step(x: &Array, w: &Array, g: &Array) -> ferrite_core::Result<Vec<f32>> {
    let h = x.rms_norm(Some(g), 1e-5)?.matmul(w)?;
    let y = h.silu()?.mul(&h)?.softmax(-1)?.sum(&[0], false)?;
    // Small buffers too: a 16-element slice, its square, a 1-element max.
    let small = y.slice(&[ferrite_core::SliceArg::range(0, 16)])?.square()?;
    let m = small.max(&[0], true)?;
    y.add(&m)?.to_vec::<f32>()
}

#[test]
fn repeated_graph_allocates_no_new_buffers() -> ferrite_core::Result<()> {
    ferrite_cpu::install();
    let x = Array::random_normal(&[64, 256], 0.0, 1.0, 1, DType::F32)?;
    let w = Array::random_normal(&[256, 256], 0.0, 0.05, 2, DType::F32)?;
    let g = Array::ones(&[256], DType::F32)?;
    for a in [&x, &w, &g] {
        a.eval()?;
    }
    let counts = || {
        (
            LARGE_ALLOCS.load(Ordering::Relaxed),
            BUFFER_ALLOCS.load(Ordering::Relaxed),
        )
    };
    let start = counts();
    let first = step(&x, &w, &g)?;
    // The first run fills the pool: the counter does see data buffers, small ones
    // included (more buffers than the large ones).
    let filled = counts();
    assert!(
        filled.1 - start.1 > filled.0 - start.0,
        "{start:?} -> {filled:?}"
    );
    step(&x, &w, &g)?;
    let before = counts();
    for _ in 0..10 {
        assert_eq!(step(&x, &w, &g)?, first);
    }
    let after = counts();
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (0, 0),
        "steady-state evaluation made (large, data-buffer) allocations"
    );
    Ok(())
}
