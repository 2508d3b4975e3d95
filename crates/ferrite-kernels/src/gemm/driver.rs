//! The blocked GEMM driver (Goto/BLIS loop nest), generic over a kernel [`Family`].
//!
//! The product is cut into steps of one `NC`-wide column block x one `KC`-deep k slice.
//! Each step packs its slice of A and its block of B into the calling thread's reusable
//! buffers, then cuts the output into tasks (one `MC` row block x a run of `chunk` B
//! panels) that rayon spreads over the cores; tasks write disjoint tiles of C. With
//! several threads the steps are pipelined: step `s + 1` is packed into a second buffer
//! set while step `s` computes. Inside a task each `MR x KC` A panel stays in L1 while the
//! task's B panels stream from L2.

use rayon::prelude::*;
use std::cell::RefCell;

/// Loop-nest blocking of one kernel family.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Blocking {
    /// Microkernel rows.
    pub mr: usize,
    /// Microkernel columns.
    pub nr: usize,
    /// k depth of one step (the `mr x kc` A panel should sit in L1).
    pub kc: usize,
    /// Rows of A per task (the `mc x kc` A block is re-read for each B chunk: L2).
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

/// Two sets of packing buffers: while the cores compute on one k slice, the next one is
/// packed into the other.
#[derive(Default)]
struct Scratch {
    a: [Vec<Line>; 2],
    b: [Vec<Line>; 2],
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

/// One A and one B packing buffer.
type Bufs<'a, P> = (&'a mut [P], &'a mut [P]);

/// Runs `f` with two buffer sets of `na` (A) and `nb` (B) elements, reusing this thread's
/// buffers (no allocation in steady state). A nested call on the same thread, which rayon
/// work-stealing can cause while this thread waits, gets fresh buffers instead.
fn with_scratch<P: PackElem, R>(
    na: usize,
    nb: usize,
    f: impl for<'s> FnOnce(Bufs<'s, P>, Bufs<'s, P>) -> R,
) -> R {
    let run = |s: &mut Scratch| {
        let [a0, a1] = &mut s.a;
        let [b0, b1] = &mut s.b;
        f(
            (as_elems(a0, na), as_elems(b0, nb)),
            (as_elems(a1, na), as_elems(b1, nb)),
        )
    };
    SCRATCH.with(|s| match s.try_borrow_mut() {
        Ok(mut s) => run(&mut s),
        Err(_) => run(&mut Scratch::default()),
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

/// Rows of A packed at once. Bounds the A scratch buffers (2 x `MAX_ROWS x kc`, 6 MiB each)
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

/// One `kc x nc` step of the loop nest: B columns `[jc, jc + ncb)`, k `[pc, pc + kcb)`.
#[derive(Clone, Copy)]
struct Step {
    jc: usize,
    ncb: usize,
    pc: usize,
    kcb: usize,
}

/// Rows `[i_off, i_off + m)` of the product; `out` points at C's row `i_off`.
///
/// Steps are software-pipelined: one parallel region computes step `s` from one buffer set
/// while packing step `s + 1` into the other, so a core that runs out of compute tasks
/// packs (memory-bound work overlapping the other core's FMAs) and there is one fork/join
/// per step instead of two.
fn run_rows<F: Family>(fam: &F, sh: &Shape, i_off: usize, m: usize, out: OutPtr) {
    let blk = fam.blocking();
    let (n, k) = (sh.n, sh.k);
    // Even out the k slices and the row blocks so no slice or block is a sliver.
    let kc = k.div_ceil(k.div_ceil(blk.kc)).next_multiple_of(blk.kstep);
    let nc = blk.nc.min(n.next_multiple_of(blk.nr));
    let na = m.div_ceil(blk.mr) * blk.mr * kc;
    let nb = nc.div_ceil(blk.nr) * blk.nr * kc;
    let steps: Vec<Step> = (0..n)
        .step_by(nc)
        .flat_map(|jc| {
            (0..k).step_by(kc).map(move |pc| Step {
                jc,
                ncb: nc.min(n - jc),
                pc,
                kcb: kc.min(k - pc),
            })
        })
        .collect();
    let ctx = Ctx {
        fam,
        sh,
        blk,
        i_off,
        m,
        out,
    };
    with_scratch::<F::P, _>(na, nb, |mut cur, mut next| {
        if sh.threads == 1 {
            // Nothing to overlap with: reuse one buffer set, which stays cache-hot.
            for &step in &steps {
                ctx.pack(step, &mut cur);
                ctx.compute(step, cur.0, cur.1);
            }
            return;
        }
        ctx.pack(steps[0], &mut cur);
        for (i, &step) in steps.iter().enumerate() {
            let (a, b) = (&*cur.0, &*cur.1);
            match steps.get(i + 1) {
                Some(&following) => {
                    rayon::join(
                        || ctx.compute(step, a, b),
                        || ctx.pack(following, &mut next),
                    );
                }
                None => ctx.compute(step, a, b),
            }
            std::mem::swap(&mut cur, &mut next);
        }
    });
}

/// Everything a step needs besides its buffers.
struct Ctx<'a, F> {
    fam: &'a F,
    sh: &'a Shape,
    blk: Blocking,
    i_off: usize,
    m: usize,
    out: OutPtr,
}

impl<F: Family> Ctx<'_, F> {
    /// Packs A's rows for `step`'s k slice and `step`'s B block.
    fn pack(&self, step: Step, bufs: &mut Bufs<'_, F::P>) {
        let (blk, m, threads) = (self.blk, self.m, self.sh.threads);
        let kcp = step.kcb.next_multiple_of(blk.kstep);
        let (ap, bp) = (blk.mr * kcp, blk.nr * kcp);
        let (a_panels, b_panels) = (m.div_ceil(blk.mr), step.ncb.div_ceil(blk.nr));
        let abuf = &mut bufs.0[..a_panels * ap];
        let bbuf = &mut bufs.1[..b_panels * bp];
        // Packing is uniform work: a few chunks per thread is enough to balance.
        let pa = a_panels.div_ceil(4 * threads);
        let pb = b_panels.div_ceil(4 * threads);
        let pack_a = |(ci, chunk): (usize, &mut [F::P])| {
            let i0 = ci * pa * blk.mr;
            let rows = (m - i0).min(pa * blk.mr);
            self.fam
                .pack_a(self.i_off + i0, rows, step.pc, step.kcb, chunk);
        };
        let pack_b = |(ci, chunk): (usize, &mut [F::P])| {
            let j0 = ci * pb * blk.nr;
            let cols = (step.ncb - j0).min(pb * blk.nr);
            self.fam
                .pack_b(step.jc + j0, cols, step.pc, step.kcb, chunk);
        };
        if threads > 1 {
            rayon::join(
                || abuf.par_chunks_mut(pa * ap).enumerate().for_each(pack_a),
                || bbuf.par_chunks_mut(pb * bp).enumerate().for_each(pack_b),
            );
        } else {
            abuf.chunks_mut(pa * ap).enumerate().for_each(pack_a);
            bbuf.chunks_mut(pb * bp).enumerate().for_each(pack_b);
        }
    }

    /// `C[rows, jc..jc + ncb] (+)= A_packed * B_packed` for `step`.
    fn compute(&self, step: Step, abuf: &[F::P], bbuf: &[F::P]) {
        let (blk, m, sh) = (self.blk, self.m, self.sh);
        let kcp = step.kcb.next_multiple_of(blk.kstep);
        let (ap, bp) = (blk.mr * kcp, blk.nr * kcp);
        let mc = m.div_ceil(m.div_ceil(blk.mc)).next_multiple_of(blk.mr);
        let m_blocks = m.div_ceil(mc);
        let b_panels = step.ncb.div_ceil(blk.nr);
        // Tasks of `chunk` B panels: small enough to stay in L2 and to give rayon many
        // pieces to balance, large enough to reuse each A panel from L1.
        let per_chunk = blk.chunk.min(b_panels);
        let n_chunks = b_panels.div_ceil(per_chunk);
        let acc = sh.accumulate || step.pc > 0;
        // Chunk-major order: rayon hands each thread a contiguous range of tasks, and this
        // way every range mixes all row blocks (the last one is usually shorter).
        let task = |t: usize| {
            let (mb, nb) = (t % m_blocks, t / m_blocks);
            let i0 = mb * mc;
            let rows = mc.min(m - i0);
            let j0 = nb * per_chunk * blk.nr;
            let cols = (per_chunk * blk.nr).min(step.ncb - j0);
            let a_blk = &abuf[(i0 / blk.mr) * ap..];
            let b_blk = &bbuf[nb * per_chunk * bp..];
            // SAFETY: task (mb, nb) owns rows [i0, i0 + rows) x columns
            // [jc + j0, jc + j0 + cols) of this slab of C, disjoint from every other task
            // of the step (and steps run one after another), in bounds of `c` (checked in
            // `run`).
            unsafe {
                let cp = self.out.get().add(i0 * sh.ldc + step.jc + j0);
                self.fam
                    .compute(kcp, a_blk, b_blk, cp, sh.ldc, rows, cols, acc);
            }
        };
        let tasks = m_blocks * n_chunks;
        if sh.threads > 1 {
            (0..tasks).into_par_iter().for_each(task);
        } else {
            (0..tasks).for_each(task);
        }
    }
}
