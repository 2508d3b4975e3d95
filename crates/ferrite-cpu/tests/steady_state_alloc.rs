//! Steady-state evaluation of a repeated graph allocates no new buffers: a
//! counting allocator sees no large allocation after the first run (graph
//! nodes themselves are small and not counted).

use ferrite_core::{Array, DType};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Allocations at least this big are data buffers; every array below is far larger.
const LARGE: usize = 64 * 1024;

struct Counting;
static LARGE_ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            LARGE_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() >= LARGE {
            LARGE_ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        unsafe { System.alloc_zeroed(layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn step(x: &Array, w: &Array, g: &Array) -> ferrite_core::Result<Vec<f32>> {
    let h = x.rms_norm(Some(g), 1e-5)?.matmul(w)?;
    let y = h.silu()?.mul(&h)?.softmax(-1)?.sum(&[0], false)?;
    y.to_vec::<f32>()
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
    let first = step(&x, &w, &g)?;
    step(&x, &w, &g)?;
    let before = LARGE_ALLOCS.load(Ordering::Relaxed);
    for _ in 0..10 {
        assert_eq!(step(&x, &w, &g)?, first);
    }
    let after = LARGE_ALLOCS.load(Ordering::Relaxed);
    assert_eq!(
        after - before,
        0,
        "steady-state evaluation made {} large allocations",
        after - before
    );
    Ok(())
}
