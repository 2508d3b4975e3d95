//! `m == 1` products (`y = x * B`, the decode step): bandwidth-bound, so B is streamed
//! once in its own layout instead of being packed.
//!
//! * B rows contiguous (`B` is `k x n` row-major): `y += x[k] * B[k, :]`, four rows per
//!   pass so the reads are four sequential streams and `y` stays in L1.
//! * B columns contiguous (`B = W^T`, `W` an `n x k` row-major weight): `y[j] = x . W[j, :]`,
//!   four dot products at a time sharing the loads of `x`.

use crate::mat::{load_as_f32, Element, MatRef};
use crate::reuse::Reuse;
use crate::simd::{multiversion, Simd};
use crate::stream::prefetch;
use crate::{team, Isa};

/// Work (multiply-adds) below which the product stays on the calling thread.
const PARALLEL_MIN_MACS: usize = 1 << 17;

/// Tasks a parallel GEMV is cut into per thread (see `gemv`).
const TASKS_PER_THREAD: usize = 32;

/// How far ahead of the weights being read the column kernel asks for them, in bytes of
/// the order it reads them in: into L1 and into L2. See `gemv_cols_impl`.
const PREFETCH_L1_BYTES: usize = 8 << 10;
const PREFETCH_L2_BYTES: usize = 96 << 10;

/// Columns per pass of the row-contiguous kernel: 8 KiB of `y`, well inside L1.
const COL_BLOCK: usize = 2048;

/// `y (+)= x * b` with `x.len() == b.rows()`, `y.len() == b.cols()`.
pub(crate) fn gemv<T: Element>(
    isa: Isa,
    x: &[f32],
    b: &MatRef<'_, T>,
    y: &mut [f32],
    accumulate: bool,
) {
    let (k, n) = (b.rows(), b.cols());
    assert!(
        x.len() == k && y.len() == n,
        "gemv called with mismatched lengths"
    );
    let threads = team::threads();
    let parallel = threads > 1 && k.saturating_mul(n) >= PARALLEL_MIN_MACS;
    if parallel && b.col_stride() == 1 && k >= 8 * threads {
        return gemv_rows_split_k(isa, x, b, y, accumulate, threads);
    }
    let chunk = if parallel {
        // Several tasks per thread, so that a thread that starts late or is interrupted
        // does not leave the others waiting at the end. The team hands each thread a
        // run of consecutive tasks first (`team::parallel_for`), so the column kernel's
        // prefetches, which run on past the end of its task, mostly fetch its own next one.
        n.div_ceil(TASKS_PER_THREAD * threads).next_multiple_of(16)
    } else {
        n
    };
    let part = |ci: usize, ys: &mut [f32]| {
        let j0 = ci * chunk;
        let w = ys.len();
        let b0 = b.ptr_at(0, j0);
        let (rs, cs) = (b.row_stride(), b.col_stride());
        // SAFETY: columns [j0, j0 + w) and rows [0, k) of `b` are in bounds (MatRef
        // invariant); `x` has k elements and `ys` has w.
        unsafe {
            if cs == 1 {
                gemv_rows(isa, x.as_ptr(), k, b0, rs, ys.as_mut_ptr(), w, accumulate);
            } else if rs == 1 {
                let rows_left = n - j0;
                gemv_cols(
                    isa,
                    x.as_ptr(),
                    k,
                    b0,
                    cs,
                    ys.as_mut_ptr(),
                    w,
                    rows_left,
                    accumulate,
                );
            } else {
                gemv_strided(x, b0, rs, cs, ys, accumulate);
            }
        }
    };
    if chunk < n {
        team::parallel_chunks_mut(y, chunk, part);
    } else {
        part(0, y);
    }
}

/// Row-contiguous B on several threads: splitting the columns would make every thread
/// read short strided pieces of each row, so split k instead (each thread streams a
/// contiguous band of rows into its own partial `y`) and add the partials.
fn gemv_rows_split_k<T: Element>(
    isa: Isa,
    x: &[f32],
    b: &MatRef<'_, T>,
    y: &mut [f32],
    accumulate: bool,
    parts: usize,
) {
    let (k, n) = (b.rows(), b.cols());
    let per = k.div_ceil(parts);
    let partials = |buf: &mut Vec<f32>| {
        buf.clear();
        buf.resize(parts * n, 0.0);
        team::parallel_chunks_mut(buf, n, |p, ys| {
            let k0 = p * per;
            let rows = per.min(k.saturating_sub(k0));
            if rows > 0 {
                // SAFETY: rows [k0, k0 + rows) and all n columns of `b` are in bounds
                // (MatRef invariant); `x[k0..]` has at least `rows` elements; `ys` has n.
                unsafe {
                    let b0 = b.ptr_at(k0, 0);
                    gemv_rows(
                        isa,
                        x[k0..].as_ptr(),
                        rows,
                        b0,
                        b.row_stride(),
                        ys.as_mut_ptr(),
                        n,
                        false,
                    );
                }
            }
        });
        for (j, yj) in y.iter_mut().enumerate() {
            let s: f32 = (0..parts).map(|p| buf[p * n + j]).sum();
            *yj = if accumulate { *yj + s } else { s };
        }
    };
    PARTIALS.with(partials);
}

/// Reused buffers for the partial results of [`gemv_rows_split_k`].
static PARTIALS: Reuse<Vec<f32>> = Reuse::new();

/// Any-stride fallback.
///
/// # Safety
/// `b` valid for `x.len()` rows of `y.len()` columns with the given strides.
unsafe fn gemv_strided<T: Element>(
    x: &[f32],
    b: *const T,
    rs: usize,
    cs: usize,
    y: &mut [f32],
    accumulate: bool,
) {
    for (j, yj) in y.iter_mut().enumerate() {
        let mut s = 0.0f32;
        for (kk, &xk) in x.iter().enumerate() {
            s += xk * unsafe { (*b.add(kk * rs + j * cs)).to_f32() };
        }
        *yj = if accumulate { *yj + s } else { s };
    }
}

/// # Safety
/// `b[kk * rs + j]` valid for `kk < k`, `j < w`; `x` valid for `k`, `y` for `w`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn gemv_rows_impl<S: Simd, T: Element>(
    x: *const f32,
    k: usize,
    b: *const T,
    rs: usize,
    y: *mut f32,
    w: usize,
    accumulate: bool,
) {
    let l = S::LANES;
    unsafe {
        if !accumulate {
            std::ptr::write_bytes(y, 0, w);
        }
        for c0 in (0..w).step_by(COL_BLOCK) {
            let cw = COL_BLOCK.min(w - c0);
            let full = cw - cw % l;
            let (b, y) = (b.add(c0), y.add(c0));
            let mut kk = 0;
            while kk + 4 <= k {
                let xs = [0, 1, 2, 3].map(|r| S::splat(*x.add(kk + r)));
                let rows = [0, 1, 2, 3].map(|r| b.add((kk + r) * rs));
                let mut j = 0;
                while j < full {
                    let mut acc = S::load(y.add(j));
                    for r in 0..4 {
                        acc = S::madd(xs[r], load_as_f32::<S, T>(rows[r].add(j)), acc);
                    }
                    S::store(y.add(j), acc);
                    j += l;
                }
                kk += 4;
            }
            for kr in kk..k {
                let xv = S::splat(*x.add(kr));
                let row = b.add(kr * rs);
                let mut j = 0;
                while j < full {
                    S::store(
                        y.add(j),
                        S::madd(xv, load_as_f32::<S, T>(row.add(j)), S::load(y.add(j))),
                    );
                    j += l;
                }
            }
            for j in full..cw {
                let mut s = *y.add(j);
                for kr in 0..k {
                    s += *x.add(kr) * (*b.add(kr * rs + j)).to_f32();
                }
                *y.add(j) = s;
            }
        }
    }
}

/// # Safety
/// `b[kk + j * cs]` valid for `kk < k`, `j < w`; `x` valid for `k`, `y` for `w`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn gemv_cols_impl<S: Simd, T: Element>(
    x: *const f32,
    k: usize,
    b: *const T,
    cs: usize,
    y: *mut f32,
    w: usize,
    rows_left: usize,
    accumulate: bool,
) {
    // Four columns (weight rows) summed together: four concurrent streams keep memory
    // busy and share each load of x. Each weight line is also requested twice ahead of
    // its use, 8 KiB ahead into L1 and 96 KiB ahead into L2, counted along the order the
    // groups are read in, so across row, group and task ends: the hardware prefetchers
    // alone stop at every 4 KiB page and a 2048-wide f16 row is one page. Measured with
    // the `decode_gemv` example (TinyLlama-shaped step against `read_peak`, paired
    // rounds): the L2 requests took f32 from 78% to 96-100% of the read peak and f16
    // from 83% (next group into L1 only) to 88-92%; 4-16 KiB into L1 and 48-192 KiB into
    // L2, and 2 or 8 columns per group, were within the noise of these or worse.
    unsafe {
        let per_row = |bytes: usize| bytes / (4 * std::mem::size_of::<T>());
        cols_in_groups::<S, T, 4>(
            x,
            k,
            b,
            cs,
            y,
            w,
            rows_left,
            accumulate,
            per_row(PREFETCH_L1_BYTES),
            per_row(PREFETCH_L2_BYTES),
        )
    }
}

/// A position a fixed distance ahead of the one being read, in the order that
/// [`cols_in_groups`] reads the weights (group by group, each group's rows side by side),
/// for prefetching. Only computes addresses, never dereferences them.
struct Ahead<T, const GROUP: usize> {
    /// Elements ahead per row; `k` for a whole group ahead.
    distance: usize,
    b: *const T,
    cs: usize,
    k: usize,
    /// Rows of the matrix from `b` on; targets past the last row stay on it.
    rows_left: usize,
    /// Groups ahead of the current one and the offset in their rows.
    groups: usize,
    off: usize,
    rows: [*const T; GROUP],
}

impl<T, const GROUP: usize> Ahead<T, GROUP> {
    fn new(distance: usize, b: *const T, cs: usize, k: usize, rows_left: usize) -> Self {
        let rows = [b; GROUP];
        Self {
            distance,
            b,
            cs,
            k,
            rows_left,
            groups: 0,
            off: 0,
            rows,
        }
    }

    /// Aims `distance` ahead of the start of the group whose first row is `j`.
    #[inline(always)]
    fn start(&mut self, j: usize) {
        self.groups = self.distance / self.k;
        self.off = self.distance % self.k;
        self.aim(j);
    }

    #[inline(always)]
    fn aim(&mut self, j: usize) {
        let first = j + self.groups * GROUP;
        self.rows = std::array::from_fn(|c| {
            self.b
                .wrapping_add((first + c).min(self.rows_left - 1) * self.cs)
        });
    }

    /// Moves `step` elements on in the group whose first row is `j`.
    #[inline(always)]
    fn advance(&mut self, j: usize, step: usize) {
        self.off += step;
        if self.off >= self.k {
            self.off -= self.k;
            self.groups += 1;
            self.aim(j);
        }
    }

    #[inline(always)]
    fn prefetch<const L2: bool>(&self, c: usize) {
        prefetch::<T, L2>(self.rows[c].wrapping_add(self.off));
    }
}

/// `GROUP` columns at a time, each line of them requested `l1_ahead` elements (per
/// row) ahead into L1 and `l2_ahead` into L2 (see `gemv_cols_impl`).
///
/// # Safety
/// As `gemv_cols_impl`, and `rows_left >= w`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn cols_in_groups<S: Simd, T: Element, const GROUP: usize>(
    x: *const f32,
    k: usize,
    b: *const T,
    cs: usize,
    y: *mut f32,
    w: usize,
    rows_left: usize,
    accumulate: bool,
    l1_ahead: usize,
    l2_ahead: usize,
) {
    let l = S::LANES;
    let full = k - k % l;
    let line = 64 / std::mem::size_of::<T>();
    unsafe {
        let dot_tail = |col: *const T| {
            let mut s = 0.0f32;
            for kk in full..k {
                s += *x.add(kk) * (*col.add(kk)).to_f32();
            }
            s
        };
        let finish = |j: usize, v: f32| {
            let yj = y.add(j);
            *yj = if accumulate { *yj + v } else { v };
        };
        let mut l1 = Ahead::<T, GROUP>::new(l1_ahead, b, cs, k.max(1), rows_left);
        let mut l2 = Ahead::<T, GROUP>::new(l2_ahead, b, cs, k.max(1), rows_left);
        let mut j = 0;
        while j + GROUP <= w {
            let cols: [*const T; GROUP] = std::array::from_fn(|c| b.add((j + c) * cs));
            l1.start(j);
            l2.start(j);
            let mut acc = [S::splat(0.0); GROUP];
            let mut kk = 0;
            while kk < full {
                let xv = S::load(x.add(kk));
                let new_line = kk % line < l;
                for c in 0..GROUP {
                    if new_line {
                        l1.prefetch::<false>(c);
                        l2.prefetch::<true>(c);
                    }
                    acc[c] = S::madd(xv, load_as_f32::<S, T>(cols[c].add(kk)), acc[c]);
                }
                l1.advance(j, l);
                l2.advance(j, l);
                kk += l;
            }
            for c in 0..GROUP {
                finish(j + c, S::hsum(acc[c]) + dot_tail(cols[c]));
            }
            j += GROUP;
        }
        for j in j..w {
            let col = b.add(j * cs);
            let mut acc = S::splat(0.0);
            let mut kk = 0;
            while kk < full {
                acc = S::madd(S::load(x.add(kk)), load_as_f32::<S, T>(col.add(kk)), acc);
                kk += l;
            }
            finish(j, S::hsum(acc) + dot_tail(col));
        }
    }
}

multiversion!(unsafe fn gemv_rows<T: Element>(x: *const f32, k: usize, b: *const T, rs: usize, y: *mut f32, w: usize, accumulate: bool) => gemv_rows_impl);
multiversion!(unsafe fn gemv_cols<T: Element>(x: *const f32, k: usize, b: *const T, cs: usize, y: *mut f32, w: usize, rows_left: usize, accumulate: bool) => gemv_cols_impl);
