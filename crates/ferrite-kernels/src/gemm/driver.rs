//! The blocked GEMM driver (Goto/BLIS loop nest), generic over a kernel [`Family`].
//!
//! For each `NC`-wide column block and `KC`-deep slice of k, all of A's slice and the B
//! block are packed (in parallel, into the calling thread's reusable buffers), then the
//! `MC x NC` output is cut into tasks of one `MC` row block times a run of B panels that
//! rayon spreads over the cores. Tasks write disjoint tiles of C.

use rayon::prelude::*;
use std::cell::RefCell;

/// Loop-nest blocking of one kernel family.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Blocking {
    /// Microkernel rows.
    pub mr: usize,
    /// Microkernel columns.
    pub nr: usize,
    /// k depth of one packed slice (B panel of `kc x nr` should sit in L1).
    pub kc: usize,
    /// Rows of A per task (the `mc x kc` A block should sit in L2).
    pub mc: usize,
    /// Columns of B packed at once (the `kc x nc` block lives in L3).
    pub nc: usize,
    /// B panels per compute task (the task's `kc x chunk * nr` B block sits in L2).
    pub chunk: usize,
    /// k granularity of the packed layout (2 for bf16 pairs).
    pub kstep: usize,
}

/// A packed element type: plain data, any bit pattern valid, alignment at most 64.
pub(crate) trait PackElem: Copy + Send + Sync + 'static {}
impl PackElem for f32 {}
impl PackElem for u16 {}

/// A microkernel with its packing routines.
pub(crate) trait Family: Sync {
    type P: PackElem;
    fn blocking(&self) -> Blocking;
    /// Packs rows `[i0, i0 + rows)` x k `[p0, p0 + kc)` of A as `mr`-row panels.
    fn pack_a(&self, i0: usize, rows: usize, p0: usize, kc: usize, dst: &mut [Self::P]);
    /// Packs k `[p0, p0 + kc)` x columns `[j0, j0 + cols)` of B as `nr`-column panels.
    fn pack_b(&self, j0: usize, cols: usize, p0: usize, kc: usize, dst: &mut [Self::P]);
    /// `C[.. rows, .. cols] (+)= A_packed * B_packed` where `kc` is the padded depth.
    ///
    /// # Safety
    /// `c` valid for `rows x cols` with row stride `ldc`, not written by anyone else
    /// meanwhile; the packed slices as produced by `pack_a` / `pack_b`.
    #[allow(clippy::too_many_arguments)]
    unsafe fn compute(
        &self,
        kc: usize,
        a: &[Self::P],
        b: &[Self::P],
        c: *mut f32,
        ldc: usize,
        rows: usize,
        cols: usize,
        accumulate: bool,
    );
}

/// A 64-byte aligned cache line of scratch memory.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

#[derive(Default)]
struct Scratch {
    a: Vec<Line>,
    b: Vec<Line>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn as_elems<P: PackElem>(buf: &mut Vec<Line>, n: usize) -> &mut [P] {
    let lines = (n * std::mem::size_of::<P>()).div_ceil(64);
    if buf.len() < lines {
        buf.resize(lines, Line([0; 64]));
    }
    // SAFETY: `P` is plain data with alignment <= 64 (PackElem), the buffer holds at least
    // `n * size_of::<P>()` initialised bytes and is exclusively borrowed.
    unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<P>(), n) }
}

/// Runs `f` with packing buffers of `na` and `nb` elements, reusing this thread's buffers
/// (no allocation in steady state). A nested call on the same thread, which rayon
/// work-stealing can cause while this thread waits, gets fresh buffers instead.
fn with_scratch<P: PackElem, R>(
    na: usize,
    nb: usize,
    f: impl FnOnce(&mut [P], &mut [P]) -> R,
) -> R {
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => {
            let s = &mut *s;
            f(as_elems(&mut s.a, na), as_elems(&mut s.b, nb))
        }
        Err(_) => {
            let mut s = Scratch::default();
            f(as_elems(&mut s.a, na), as_elems(&mut s.b, nb))
        }
    })
}

/// Shares the output pointer with rayon tasks, which write disjoint tiles.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: tasks only write disjoint tiles of C (see `run`), and `run` holds the exclusive
// borrow of C until all tasks have joined.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// A method rather than field access, so closures capture the `Send` wrapper and not
    /// the bare pointer.
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Below this many multiply-adds a GEMM runs on the calling thread: fork/join costs
/// several microseconds, which is more than such a product takes on one core.
const PARALLEL_MIN_MACS: usize = 1 << 21;

/// Rows of A packed at once. Bounds the A scratch buffer (`MAX_ROWS x kc`, 6 MiB for f32)
/// for tall products; B is repacked once per such slab, negligible next to its compute.
const MAX_ROWS: usize = 4096;

/// `C (+)= A * B` for an `m x n x k` product described by `fam`, with `c` row-major with
/// row stride `ldc`. `m, n, k > 0`.
pub(crate) fn run<F: Family>(
    fam: &F,
    m: usize,
    n: usize,
    k: usize,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) {
    assert!(
        c.len() >= (m - 1) * ldc + n,
        "gemm driver called with an unchecked output"
    );
    let threads = rayon::current_num_threads();
    let parallel = threads > 1 && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_MIN_MACS;
    let shape = Shape {
        n,
        k,
        ldc,
        accumulate,
        threads: if parallel { threads } else { 1 },
    };
    for i_off in (0..m).step_by(MAX_ROWS) {
        let rows = MAX_ROWS.min(m - i_off);
        run_rows(
            fam,
            &shape,
            i_off,
            rows,
            OutPtr(c[i_off * ldc..].as_mut_ptr()),
        );
    }
}

/// What stays fixed across the row slabs of one product.
struct Shape {
    n: usize,
    k: usize,
    ldc: usize,
    accumulate: bool,
    /// 1 when the product runs on the calling thread only.
    threads: usize,
}

/// Rows `[i_off, i_off + m)` of the product; `out` points at C's row `i_off`.
fn run_rows<F: Family>(fam: &F, sh: &Shape, i_off: usize, m: usize, out: OutPtr) {
    let blk = fam.blocking();
    let (n, k, threads) = (sh.n, sh.k, sh.threads);
    let parallel = threads > 1;
    // Even out the k slices and the row blocks so no slice or block is a sliver.
    let kc = k.div_ceil(k.div_ceil(blk.kc)).next_multiple_of(blk.kstep);
    let mc = m.div_ceil(m.div_ceil(blk.mc)).next_multiple_of(blk.mr);
    let nc = blk.nc.min(n.next_multiple_of(blk.nr));
    let a_panels = m.div_ceil(blk.mr);
    let na = a_panels * blk.mr * kc;
    let nb = nc.div_ceil(blk.nr) * blk.nr * kc;
    with_scratch::<F::P, _>(na, nb, |abuf, bbuf| {
        for jc in (0..n).step_by(nc) {
            let ncb = nc.min(n - jc);
            let b_panels = ncb.div_ceil(blk.nr);
            for pc in (0..k).step_by(kc) {
                let kcb = kc.min(k - pc);
                let kcp = kcb.next_multiple_of(blk.kstep);
                let (ap, bp) = (blk.mr * kcp, blk.nr * kcp);
                let abuf = &mut abuf[..a_panels * ap];
                let bbuf = &mut bbuf[..b_panels * bp];
                // Packing is uniform work: a few chunks per thread is enough to balance.
                let pa = a_panels.div_ceil(4 * threads);
                let pb = b_panels.div_ceil(4 * threads);
                let pack_a = |(ci, chunk): (usize, &mut [F::P])| {
                    let i0 = ci * pa * blk.mr;
                    fam.pack_a(i_off + i0, (m - i0).min(pa * blk.mr), pc, kcb, chunk);
                };
                let pack_b = |(ci, chunk): (usize, &mut [F::P])| {
                    let j0 = ci * pb * blk.nr;
                    fam.pack_b(jc + j0, (ncb - j0).min(pb * blk.nr), pc, kcb, chunk);
                };
                if parallel {
                    rayon::join(
                        || abuf.par_chunks_mut(pa * ap).enumerate().for_each(pack_a),
                        || bbuf.par_chunks_mut(pb * bp).enumerate().for_each(pack_b),
                    );
                } else {
                    abuf.chunks_mut(pa * ap).enumerate().for_each(pack_a);
                    bbuf.chunks_mut(pb * bp).enumerate().for_each(pack_b);
                }
                let (abuf, bbuf) = (&*abuf, &*bbuf);
                let acc = sh.accumulate || pc > 0;
                // Tasks of `chunk` B panels: small enough to stay in L2 and to give rayon
                // many pieces to balance, large enough to reuse each A panel from L1.
                let per_chunk = blk.chunk.min(b_panels);
                let n_chunks = b_panels.div_ceil(per_chunk);
                let task = |t: usize| {
                    let (mb, nb) = (t / n_chunks, t % n_chunks);
                    let i0 = mb * mc;
                    let rows = mc.min(m - i0);
                    let j0 = nb * per_chunk * blk.nr;
                    let cols = (per_chunk * blk.nr).min(ncb - j0);
                    let a_blk = &abuf[(i0 / blk.mr) * ap..];
                    let b_blk = &bbuf[nb * per_chunk * bp..];
                    // SAFETY: task (mb, nb) owns rows [i0, i0 + rows) x columns
                    // [jc + j0, jc + j0 + cols) of this slab of C, disjoint from every other
                    // task, and in bounds of `c` (checked in `run`).
                    unsafe {
                        let cp = out.get().add(i0 * sh.ldc + jc + j0);
                        fam.compute(kcp, a_blk, b_blk, cp, sh.ldc, rows, cols, acc);
                    }
                };
                let tasks = m.div_ceil(mc) * n_chunks;
                if parallel {
                    (0..tasks).into_par_iter().for_each(task);
                } else {
                    (0..tasks).for_each(task);
                }
            }
        }
    });
}
