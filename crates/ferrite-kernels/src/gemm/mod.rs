//! Matrix multiplication `C (+)= A * B` with f32 output.
//!
//! Operands are strided views ([`MatRef`]) of f32, bf16 or f16; C is row-major. Paths:
//! * `m == 1` (GEMV): B is streamed in place, without packing.
//! * bf16 x bf16 where `vdpbf16ps` is fast (see [`crate::isa::bf16_dot_default`]): the
//!   dot-product kernel on k-pair packed panels. When asked for explicitly
//!   ([`crate::isa::bf16_activation_rounding`]), an f32 A times a bf16 B (activations
//!   times bf16 weights, `m > 1`) takes it too, A rounded to bf16.
//! * everything else: operands are widened to f32 while packing and run through the f32
//!   microkernel of the active ISA (6x64 AVX-512, 6x16 AVX2, 4x4 scalar).

mod bf16;
mod driver;
mod gemv;
mod kernel;
mod pack;
mod transpose;

use crate::mat::{check_out, ElemKind, Element, MatRef};
use crate::reuse::Reuse;
use crate::{isa, Isa, KernelError};
use driver::{Blocking, Family};
#[cfg(target_arch = "x86_64")]
use half::bf16 as Bf16;

/// `C = A * B` (or `C += A * B` when `accumulate`) for f32 operands.
///
/// `a` is `m x k`, `b` is `k x n`, and `c` holds C row-major with row stride `ldc >= n`.
/// Operands may have any strides, so transposed inputs need no copy. Large products use
/// all threads (see [`crate::team`]).
///
/// # Errors
/// [`KernelError::Mismatch`] if `a.cols() != b.rows()`, `ldc < n`, or `c` is too short.
pub fn gemm_f32(
    a: MatRef<'_, f32>,
    b: MatRef<'_, f32>,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) -> Result<(), KernelError> {
    gemm(a, b, c, ldc, accumulate)
}

/// [`gemm_f32`] for any mix of f32, bf16 and f16 operands, accumulating in f32.
///
/// The reference semantics are: widen every element to f32 exactly, then multiply and
/// accumulate in f32 (summation order unspecified). bf16 x bf16 may use `vdpbf16ps`
/// ([`crate::isa::bf16_dot_active`]), which treats subnormal bf16 inputs as zero. Where
/// [`crate::isa::bf16_activation_rounding`] is on (an explicit request only), an f32 A
/// times a bf16 B with more than one row is computed as `round_to_bf16(A) * B` on that
/// kernel, the precision llama.cpp gives bf16 models (activations rounded, f32
/// accumulation and output).
///
/// # Errors
/// As [`gemm_f32`].
pub fn gemm<TA: Element, TB: Element>(
    a: MatRef<'_, TA>,
    b: MatRef<'_, TB>,
    c: &mut [f32],
    ldc: usize,
    accumulate: bool,
) -> Result<(), KernelError> {
    let (m, k, n) = (a.rows(), a.cols(), b.cols());
    if b.rows() != k {
        return Err(KernelError::Mismatch {
            what: "rows of B (inner dimension)",
            expected: k,
            got: b.rows(),
        });
    }
    check_out(m, n, ldc, c.len())?;
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            for row in c.chunks_mut(ldc).take(m) {
                row[..n].fill(0.0);
            }
        }
        return Ok(());
    }
    let isa = isa::active();
    if m == 1 {
        gemv_row(isa, &a, &b, &mut c[..n], accumulate);
        return Ok(());
    }
    #[cfg(target_arch = "x86_64")]
    if TA::KIND == ElemKind::Bf16
        && TB::KIND == ElemKind::Bf16
        && isa == Isa::Avx512
        && isa::bf16_dot_active()
    {
        // SAFETY of the reinterpretation: `KIND` says both element types are bf16.
        let (a, b) = unsafe { (retype::<TA, Bf16>(a), retype::<TB, Bf16>(b)) };
        driver::run(&Bf16Family { a, b }, m, n, k, c, ldc, accumulate);
        return Ok(());
    }
    #[cfg(target_arch = "x86_64")]
    if TA::KIND == ElemKind::F32
        && TB::KIND == ElemKind::Bf16
        && isa == Isa::Avx512
        && isa::bf16_activation_rounding()
    {
        // SAFETY of the reinterpretation: `KIND` says the element types are f32 and bf16.
        let (a, b) = unsafe { (retype::<TA, f32>(a), retype::<TB, Bf16>(b)) };
        ROUNDED_A.with(|rounded| {
            let a = round_to_bf16(&a, rounded);
            driver::run(&Bf16Family { a, b }, m, n, k, c, ldc, accumulate);
        });
        return Ok(());
    }
    driver::run(&F32Family { isa, a, b }, m, n, k, c, ldc, accumulate);
    Ok(())
}

/// Reused buffers for A rounded to bf16 (see `crate::reuse`).
#[cfg(target_arch = "x86_64")]
static ROUNDED_A: Reuse<Vec<Bf16>> = Reuse::new();

/// `a` rounded to nearest-even bf16, as a dense row-major view over `buf`.
#[cfg(target_arch = "x86_64")]
fn round_to_bf16<'b>(a: &MatRef<'_, f32>, buf: &'b mut Vec<Bf16>) -> MatRef<'b, Bf16> {
    let (m, k) = (a.rows(), a.cols());
    buf.clear();
    buf.resize(m * k, Bf16::ZERO);
    for (i, row) in buf.chunks_exact_mut(k).enumerate() {
        if a.col_stride() == 1 {
            let start = i * a.row_stride();
            // The row is in bounds (MatRef invariant) and has as many elements as `row`.
            if let Err(e) = crate::convert::f32_to_bf16(&a.data()[start..start + k], row) {
                unreachable!("equal lengths: {e}");
            }
        } else {
            for (j, v) in row.iter_mut().enumerate() {
                *v = Bf16::from_f32(a.get(i, j).unwrap_or(0.0));
            }
        }
    }
    match MatRef::row_major(buf, m, k) {
        Ok(v) => v,
        Err(e) => unreachable!("a buffer sized m * k holds an m x k matrix: {e}"),
    }
}

/// Reinterprets a view whose element type is known (by `KIND`) to be `U`.
///
/// # Safety
/// `T` and `U` must be the same type.
#[cfg(target_arch = "x86_64")]
unsafe fn retype<T: Element, U: Element>(m: MatRef<'_, T>) -> MatRef<'_, U> {
    debug_assert_eq!(T::KIND, U::KIND);
    let d = m.data();
    // SAFETY: same type, so same layout and length.
    let data = unsafe { std::slice::from_raw_parts(d.as_ptr().cast::<U>(), d.len()) };
    match MatRef::new(data, m.rows(), m.cols(), m.row_stride(), m.col_stride()) {
        Ok(v) => v,
        Err(e) => unreachable!("re-validating an already valid view failed: {e}"),
    }
}

/// `m == 1`: widen the row of A to a contiguous f32 vector (unless it already is one).
fn gemv_row<TA: Element, TB: Element>(
    isa: Isa,
    a: &MatRef<'_, TA>,
    b: &MatRef<'_, TB>,
    y: &mut [f32],
    accumulate: bool,
) {
    let k = a.cols();
    if TA::KIND == ElemKind::F32 && (a.col_stride() == 1 || k == 1) {
        let start = a.ptr_at(0, 0).cast::<f32>();
        // SAFETY: TA is f32 and the k elements of row 0 are contiguous and in bounds.
        let x = unsafe { std::slice::from_raw_parts(start, k) };
        return gemv::gemv(isa, x, b, y, accumulate);
    }
    let widen = |x: &mut Vec<f32>| {
        x.clear();
        x.resize(k, 0.0);
        if a.col_stride() == 1 {
            crate::convert::widen_with(isa, &a.data()[..k], x);
        } else {
            for (j, v) in x.iter_mut().enumerate() {
                *v = a.get(0, j).map_or(0.0, Element::to_f32);
            }
        }
    };
    // The widened row lives in a reused buffer (see `crate::reuse`).
    ROW.with(|x| {
        widen(x);
        gemv::gemv(isa, x, b, y, accumulate);
    });
}

static ROW: Reuse<Vec<f32>> = Reuse::new();

/// f32 microkernels with operands of any element type widened while packing.
struct F32Family<'a, TA, TB> {
    isa: Isa,
    a: MatRef<'a, TA>,
    b: MatRef<'a, TB>,
}

/// `(MR, vectors per row)` of the f32 microkernel of each ISA; NR = vectors * lanes.
///
/// AVX-512: 6 x 4 zmm (24 accumulators) beat 14 x 2 (28) by 2-3% on Sapphire Rapids, on
/// 1 and 2 cores, although it has fewer accumulators: per 24 FMAs it issues 10 loads
/// instead of 16 per 28, and its A panel (9 KiB at KC = 384) leaves most of L1 to the B
/// stream. 8 x 3, 12 x 2 and 4 x 6 measured no better than 14 x 2.
const TILE_AVX512: (usize, usize) = (6, 4);
const TILE_AVX2: (usize, usize) = (6, 2);
const TILE_SCALAR: (usize, usize) = (4, 4);

impl<TA: Element, TB: Element> Family for F32Family<'_, TA, TB> {
    type P = f32;

    fn blocking(&self) -> Blocking {
        // KC: the MR x KC A panel (9 KiB for AVX-512) stays in L1; a task's B panels
        // (KC x 384 for AVX-512, 576 KiB) stay in L2 next to the MC x KC A block (~500 KiB).
        // (KC 256 / 512 / 768 and B runs of 192 / 768 columns measured no better.)
        let (mr, nr) = match self.isa {
            Isa::Avx512 => (TILE_AVX512.0, TILE_AVX512.1 * 16),
            Isa::Avx2 => (TILE_AVX2.0, TILE_AVX2.1 * 8),
            Isa::Scalar => TILE_SCALAR,
        };
        Blocking {
            mr,
            nr,
            kc: 384,
            mc: 336,
            nc: 4096,
            chunk: if self.isa == Isa::Avx512 { 6 } else { 12 },
            kstep: 1,
        }
    }

    fn pack_a(&self, i0: usize, rows: usize, p0: usize, kc: usize, dst: &mut [f32]) {
        pack::pack_a_f32(self.isa, &self.a, i0, rows, p0, kc, self.blocking().mr, dst);
    }

    fn pack_b(&self, j0: usize, cols: usize, p0: usize, kc: usize, dst: &mut [f32]) {
        pack::pack_b_f32(self.isa, &self.b, j0, cols, p0, kc, self.blocking().nr, dst);
    }

    unsafe fn compute(
        &self,
        kc: usize,
        a: &[f32],
        b: &[f32],
        c: *mut f32,
        ldc: usize,
        rows: usize,
        cols: usize,
        accumulate: bool,
    ) {
        // SAFETY: forwarded contract; `self.isa` is supported (crate::isa invariant).
        unsafe {
            match self.isa {
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => f32_avx512(kc, a, b, c, ldc, rows, cols, accumulate),
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => f32_avx2(kc, a, b, c, ldc, rows, cols, accumulate),
                _ => {
                    kernel::macro_f32::<crate::simd::Scalar, { TILE_SCALAR.0 }, { TILE_SCALAR.1 }>(
                        kc, a, b, c, ldc, rows, cols, accumulate,
                    )
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
unsafe fn f32_avx512(
    kc: usize,
    a: &[f32],
    b: &[f32],
    c: *mut f32,
    ldc: usize,
    rows: usize,
    cols: usize,
    acc: bool,
) {
    use crate::simd::x86::Avx512;
    unsafe {
        kernel::macro_f32::<Avx512, { TILE_AVX512.0 }, { TILE_AVX512.1 }>(
            kc, a, b, c, ldc, rows, cols, acc,
        )
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma,f16c")]
#[allow(clippy::too_many_arguments)]
unsafe fn f32_avx2(
    kc: usize,
    a: &[f32],
    b: &[f32],
    c: *mut f32,
    ldc: usize,
    rows: usize,
    cols: usize,
    acc: bool,
) {
    use crate::simd::x86::Avx2;
    unsafe {
        kernel::macro_f32::<Avx2, { TILE_AVX2.0 }, { TILE_AVX2.1 }>(
            kc, a, b, c, ldc, rows, cols, acc,
        )
    }
}

/// bf16 x bf16 through `vdpbf16ps`.
#[cfg(target_arch = "x86_64")]
struct Bf16Family<'a> {
    a: MatRef<'a, Bf16>,
    b: MatRef<'a, Bf16>,
}

#[cfg(target_arch = "x86_64")]
impl Family for Bf16Family<'_> {
    type P = u16;

    fn blocking(&self) -> Blocking {
        // Same byte footprint as the f32 blocking: twice the k depth at half the size.
        Blocking {
            mr: bf16::MR,
            nr: bf16::NV * 16,
            kc: 768,
            mc: 336,
            nc: 4096,
            chunk: 12,
            kstep: 2,
        }
    }

    fn pack_a(&self, i0: usize, rows: usize, p0: usize, kc: usize, dst: &mut [u16]) {
        bf16::pack_a(&self.a, i0, rows, p0, kc, dst);
    }

    fn pack_b(&self, j0: usize, cols: usize, p0: usize, kc: usize, dst: &mut [u16]) {
        bf16::pack_b(&self.b, j0, cols, p0, kc, dst);
    }

    unsafe fn compute(
        &self,
        kc: usize,
        a: &[u16],
        b: &[u16],
        c: *mut f32,
        ldc: usize,
        rows: usize,
        cols: usize,
        accumulate: bool,
    ) {
        // SAFETY: this family is only built after checking AVX-512 + BF16 support.
        unsafe { bf16::macro_bf16(kc, a, b, c, ldc, rows, cols, accumulate) }
    }
}
