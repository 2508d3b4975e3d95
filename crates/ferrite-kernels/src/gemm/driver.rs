//! The blocked GEMM driver (Goto/BLIS loop nest), generic over a kernel [`Family`].
//!
//! The product is cut into steps of one `NC`-wide column block x one `KC`-deep k slice.
//! Each step packs its slice of A and its block of B into the thread's reusable buffers,
//! then runs the microkernel over `MC` row blocks x runs of `chunk` B panels. Inside such
//! a task each `MR x KC` A panel stays in L1 while the task's B panels stream from L2.
//!
//! With several threads the output is split once into one contiguous part per thread
//! (columns, or rows for tall products), and each thread runs the whole loop nest on its
//! part with its own packing buffers. Measured on a 2-core AVX-512 machine, this beat a
//! shared packed B with per-step rayon fork/join (and packing pipelined on the second
//! buffer set) by 5-10 points of peak: there is no synchronisation at all, each core's
//! B block stays in its own L2, and no core waits on a ragged last task of a step. The
//! price is that both threads pack the shared operand (A when splitting columns), which
//! `run` keeps to the smaller one.

use crate::reuse::Reuse;
use std::ops::Range;

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

/// The A and B packing buffers of one thread.
#[derive(Default)]
struct Scratch {
    a: Vec<Line>,
    b: Vec<Line>,
}

/// Packing buffers, reused by whichever thread runs a part (see `crate::reuse`).
static SCRATCH: Reuse<Scratch> = Reuse::new();

fn as_elems<P: PackElem>(buf: &mut Vec<Line>, n: usize) -> &mut [P] {
    let lines = (n * std::mem::size_of::<P>()).div_ceil(64);
    if buf.len() < lines {
        buf.resize(lines, Line([0; 64]));
    }
    // SAFETY: `P` is plain data with alignment <= 64 (PackElem), the buffer holds at least
    // `n * size_of::<P>()` initialised bytes and is exclusively borrowed.
    unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr().cast::<P>(), n) }
}

/// Shares the output pointer with the threads' parts, which write disjoint tiles.
#[derive(Clone, Copy)]
struct OutPtr(*mut f32);
// SAFETY: parts only write disjoint tiles of C (see `run`), and `run` holds the exclusive
// borrow of C until all parts have joined.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// A method rather than field access, so closures capture the `Send` wrapper and not
    /// the bare pointer.
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// Below this many multiply-adds a GEMM runs on the calling thread: waking another thread
/// costs several microseconds, which is more than such a product takes on one core.
const PARALLEL_MIN_MACS: usize = 1 << 21;

/// Rows of A packed at once. Bounds a thread's A scratch buffer (`MAX_ROWS x kc`, 6 MiB)
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
    let threads = crate::team::threads();
    let parallel = threads > 1 && m.saturating_mul(n).saturating_mul(k) >= PARALLEL_MIN_MACS;
    let out = OutPtr(c.as_mut_ptr());
    if !parallel {
        let sh = Shape {
            k,
            ldc,
            accumulate,
            part_rows: m,
            part_cols: n,
        };
        SCRATCH.with(|s| part(fam, &sh, 0..m, 0..n, out, s));
        return;
    }
    // Every thread packs all of the operand that the split does not cut: A (m x k) when
    // splitting columns, B (k x n) when splitting rows. Duplicate the smaller one, unless
    // that leaves too few microkernel tiles along the split to balance the threads.
    let blk = fam.blocking();
    let (col_tiles, row_tiles) = (n.div_ceil(blk.nr), m.div_ceil(blk.mr));
    let even = |tiles: usize| tiles >= 4 * threads;
    let split_cols = match (even(col_tiles), even(row_tiles)) {
        (true, true) => m <= n,
        (cols, rows) if cols != rows => cols,
        _ => col_tiles * blk.nr >= row_tiles * blk.mr,
    };
    let (len, unit) = if split_cols { (n, blk.nr) } else { (m, blk.mr) };
    // Whole microkernel tiles per part, as even as they can be.
    let per = len.div_ceil(unit).div_ceil(threads) * unit;
    let sh = Shape {
        k,
        ldc,
        accumulate,
        part_rows: if split_cols { m } else { per },
        part_cols: if split_cols { per } else { n },
    };
    SCRATCH.with_many(len.div_ceil(per), |scratch| {
        crate::team::parallel_chunks_mut(scratch, 1, |t, s| {
            let r = t * per..len.min((t + 1) * per);
            if split_cols {
                part(fam, &sh, 0..m, r, out, &mut s[0]);
            } else {
                part(fam, &sh, r, 0..n, out, &mut s[0]);
            }
        })
    });
}

/// What stays fixed across the parts of one product.
struct Shape {
    k: usize,
    ldc: usize,
    accumulate: bool,
    /// The largest part's extent. Every part sizes its scratch by it, not by its own
    /// (possibly shorter) extent: idle buffers go to whichever part asks, so a buffer sized
    /// for a short part would otherwise be grown again, at random, long after warm-up.
    part_rows: usize,
    part_cols: usize,
}

/// `C[rows, cols] (+)= A[rows, ..] * B[.., cols]` on the calling thread.
fn part<F: Family>(
    fam: &F,
    sh: &Shape,
    rows: Range<usize>,
    cols: Range<usize>,
    out: OutPtr,
    scratch: &mut Scratch,
) {
    for i_off in rows.clone().step_by(MAX_ROWS) {
        let m = MAX_ROWS.min(rows.end - i_off);
        run_rows(fam, sh, i_off, m, cols.clone(), out, scratch);
    }
}

/// One `kc x nc` step of the loop nest: B columns `[jc, jc + ncb)`, k `[pc, pc + kcb)`.
#[derive(Clone, Copy)]
struct Step {
    jc: usize,
    ncb: usize,
    pc: usize,
    kcb: usize,
}

/// Rows `[i_off, i_off + m)` x columns `cols` of the product.
fn run_rows<F: Family>(
    fam: &F,
    sh: &Shape,
    i_off: usize,
    m: usize,
    cols: Range<usize>,
    out: OutPtr,
    scratch: &mut Scratch,
) {
    let blk = fam.blocking();
    let k = sh.k;
    // Even out the k slices and the row blocks so no slice or block is a sliver.
    let kc = k.div_ceil(k.div_ceil(blk.kc)).next_multiple_of(blk.kstep);
    let nc = blk.nc.min(cols.len().next_multiple_of(blk.nr));
    let na = MAX_ROWS.min(sh.part_rows).div_ceil(blk.mr) * blk.mr * kc;
    let nb_cols = blk.nc.min(sh.part_cols.next_multiple_of(blk.nr));
    let nb = nb_cols.div_ceil(blk.nr) * blk.nr * kc;
    let ctx = Ctx {
        fam,
        sh,
        blk,
        i_off,
        m,
        out,
    };
    let abuf = as_elems::<F::P>(&mut scratch.a, na);
    let bbuf = as_elems::<F::P>(&mut scratch.b, nb);
    for jc in cols.clone().step_by(nc) {
        for pc in (0..k).step_by(kc) {
            let step = Step {
                jc,
                ncb: nc.min(cols.end - jc),
                pc,
                kcb: kc.min(k - pc),
            };
            ctx.pack(step, abuf, bbuf);
            ctx.compute(step, abuf, bbuf);
        }
    }
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
    fn pack(&self, step: Step, abuf: &mut [F::P], bbuf: &mut [F::P]) {
        let (blk, m) = (self.blk, self.m);
        let kcp = step.kcb.next_multiple_of(blk.kstep);
        let (a_panels, b_panels) = (m.div_ceil(blk.mr), step.ncb.div_ceil(blk.nr));
        self.fam.pack_a(
            self.i_off,
            m,
            step.pc,
            step.kcb,
            &mut abuf[..a_panels * blk.mr * kcp],
        );
        self.fam.pack_b(
            step.jc,
            step.ncb,
            step.pc,
            step.kcb,
            &mut bbuf[..b_panels * blk.nr * kcp],
        );
    }

    /// `C[rows, jc..jc + ncb] (+)= A_packed * B_packed` for `step`.
    fn compute(&self, step: Step, abuf: &[F::P], bbuf: &[F::P]) {
        let (blk, m, sh) = (self.blk, self.m, self.sh);
        let kcp = step.kcb.next_multiple_of(blk.kstep);
        let (ap, bp) = (blk.mr * kcp, blk.nr * kcp);
        let mc = m.div_ceil(m.div_ceil(blk.mc)).next_multiple_of(blk.mr);
        let b_panels = step.ncb.div_ceil(blk.nr);
        // Runs of `chunk` B panels small enough to stay in L2 next to the A block, large
        // enough to reuse each A panel from L1.
        let per_chunk = blk.chunk.min(b_panels);
        let acc = sh.accumulate || step.pc > 0;
        for nb in 0..b_panels.div_ceil(per_chunk) {
            let j0 = nb * per_chunk * blk.nr;
            let cols = (per_chunk * blk.nr).min(step.ncb - j0);
            let b_blk = &bbuf[nb * per_chunk * bp..];
            for i0 in (0..m).step_by(mc) {
                let rows = mc.min(m - i0);
                let a_blk = &abuf[(i0 / blk.mr) * ap..];
                // SAFETY: this thread's part owns rows [i_off, i_off + m) x columns
                // [jc, jc + ncb) of C (disjoint from the other parts, see `run`, which holds
                // the exclusive borrow of C until all parts have joined); the tile is in
                // bounds of `c` (checked in `run`).
                unsafe {
                    let cp = self
                        .out
                        .get()
                        .add((self.i_off + i0) * sh.ldc + step.jc + j0);
                    self.fam
                        .compute(kcp, a_blk, b_blk, cp, sh.ldc, rows, cols, acc);
                }
            }
        }
    }
}
