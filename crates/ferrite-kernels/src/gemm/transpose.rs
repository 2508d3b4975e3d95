//! Transposing packs: turn rows that are contiguous along k (a row-major A, or a B stored
//! as an `n x k` weight) into the k-major panel layout with in-register transposes (16x16
//! on AVX-512, 8x8 on AVX2), several times faster than an element-by-element gather.

#![cfg(target_arch = "x86_64")]

use crate::mat::{load_as_f32, Element};
use crate::simd::x86::{Avx2, Avx512};
use std::arch::x86_64::*;

/// Elements ahead of the current 16-wide k block that the row prefetches target.
const PREFETCH_AHEAD: usize = 128;

/// Transposes a 16x16 block held as 16 row vectors (64 shuffles in four stages:
/// 32-bit and 64-bit interleaves inside 128-bit lanes, then two 128-bit lane shuffles).
#[inline(always)]
unsafe fn transpose16(r: [__m512; 16]) -> [__m512; 16] {
    unsafe {
        let mut t = [_mm512_setzero_ps(); 16];
        for j in 0..8 {
            t[2 * j] = _mm512_unpacklo_ps(r[2 * j], r[2 * j + 1]);
            t[2 * j + 1] = _mm512_unpackhi_ps(r[2 * j], r[2 * j + 1]);
        }
        // u[4j + q], 128-bit lane L = rows 4j..4j+3 of column 4L + q.
        let mut u = [_mm512_setzero_ps(); 16];
        for j in 0..4 {
            u[4 * j] = _mm512_shuffle_ps::<0x44>(t[4 * j], t[4 * j + 2]);
            u[4 * j + 1] = _mm512_shuffle_ps::<0xEE>(t[4 * j], t[4 * j + 2]);
            u[4 * j + 2] = _mm512_shuffle_ps::<0x44>(t[4 * j + 1], t[4 * j + 3]);
            u[4 * j + 3] = _mm512_shuffle_ps::<0xEE>(t[4 * j + 1], t[4 * j + 3]);
        }
        let mut o = [_mm512_setzero_ps(); 16];
        for q in 0..4 {
            let v0 = _mm512_shuffle_f32x4::<0x88>(u[q], u[4 + q]);
            let v1 = _mm512_shuffle_f32x4::<0xDD>(u[q], u[4 + q]);
            let w0 = _mm512_shuffle_f32x4::<0x88>(u[8 + q], u[12 + q]);
            let w1 = _mm512_shuffle_f32x4::<0xDD>(u[8 + q], u[12 + q]);
            o[q] = _mm512_shuffle_f32x4::<0x88>(v0, w0);
            o[8 + q] = _mm512_shuffle_f32x4::<0xDD>(v0, w0);
            o[4 + q] = _mm512_shuffle_f32x4::<0x88>(v1, w1);
            o[12 + q] = _mm512_shuffle_f32x4::<0xDD>(v1, w1);
        }
        o
    }
}

/// `dst[k * w + i] = src[i * rs + k]` (widened to f32) for `i < valid`, `k < kc`.
///
/// # Safety
/// CPU must support AVX-512 F/BW/VL/DQ (+F16C); `src[i * rs + k]` readable for `i < valid`,
/// `k < kc`; `dst` writable for `kc * w` floats; `valid <= w`.
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c")]
pub(crate) unsafe fn pack_rows_transposed<T: Element>(
    src: *const T,
    rs: usize,
    valid: usize,
    kc: usize,
    w: usize,
    dst: *mut f32,
) {
    let full = kc - kc % 16;
    for g in (0..valid).step_by(16) {
        let rows = 16.min(valid - g);
        let mask: __mmask16 = ((1u32 << rows) - 1) as __mmask16;
        let mut k = 0;
        while k < full {
            let row = |i: usize| src.wrapping_add((g + i.min(rows - 1)) * rs + k);
            // Rows past `rows` repeat the last valid one (the masked stores drop them), so
            // the trip count is fixed and all 16 rows stay in registers.
            // SAFETY: rows g..g + rows < valid, columns k..k + 16 <= kc.
            let r: [__m512; 16] =
                std::array::from_fn(|i| unsafe { load_as_f32::<Avx512, T>(row(i)) });
            // The rows are far apart (often a power of two): more streams than the
            // hardware prefetcher follows, so fetch a few lines ahead explicitly.
            for i in 0..rows {
                _mm_prefetch::<_MM_HINT_T0>(row(i).wrapping_add(PREFETCH_AHEAD).cast());
            }
            // SAFETY: pure register shuffles.
            let o = unsafe { transpose16(r) };
            for (kk, v) in o.iter().enumerate() {
                // SAFETY: writes `rows` floats at (k + kk) * w + g, inside the panel.
                unsafe { _mm512_mask_storeu_ps(dst.add((k + kk) * w + g), mask, *v) };
            }
            k += 16;
        }
        for k in full..kc {
            for i in 0..rows {
                // SAFETY: as above, element-wise for the k tail.
                // (Unaligned: bf16 pairs are packed through this routine as f32 bits.)
                unsafe {
                    *dst.add(k * w + g + i) = src.add((g + i) * rs + k).read_unaligned().to_f32()
                };
            }
        }
    }
}

/// Transposes an 8x8 block held as 8 row vectors (AVX: two in-lane interleave stages,
/// then a 128-bit lane exchange).
#[inline(always)]
unsafe fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    unsafe {
        let mut t = [_mm256_setzero_ps(); 8];
        for j in 0..4 {
            t[2 * j] = _mm256_unpacklo_ps(r[2 * j], r[2 * j + 1]);
            t[2 * j + 1] = _mm256_unpackhi_ps(r[2 * j], r[2 * j + 1]);
        }
        // u[4h + q], 128-bit lane L = rows 4h..4h+3 of column 4L + q.
        let mut u = [_mm256_setzero_ps(); 8];
        for h in 0..2 {
            u[4 * h] = _mm256_shuffle_ps::<0x44>(t[4 * h], t[4 * h + 2]);
            u[4 * h + 1] = _mm256_shuffle_ps::<0xEE>(t[4 * h], t[4 * h + 2]);
            u[4 * h + 2] = _mm256_shuffle_ps::<0x44>(t[4 * h + 1], t[4 * h + 3]);
            u[4 * h + 3] = _mm256_shuffle_ps::<0xEE>(t[4 * h + 1], t[4 * h + 3]);
        }
        let mut o = [_mm256_setzero_ps(); 8];
        for q in 0..4 {
            o[q] = _mm256_permute2f128_ps::<0x20>(u[q], u[4 + q]);
            o[4 + q] = _mm256_permute2f128_ps::<0x31>(u[q], u[4 + q]);
        }
        o
    }
}

/// AVX2 version of [`pack_rows_transposed`], same contract (CPU must support AVX2, FMA
/// and F16C).
#[target_feature(enable = "avx2,fma,f16c")]
pub(crate) unsafe fn pack_rows_transposed_avx2<T: Element>(
    src: *const T,
    rs: usize,
    valid: usize,
    kc: usize,
    w: usize,
    dst: *mut f32,
) {
    let full = kc - kc % 8;
    for g in (0..valid).step_by(8) {
        let rows = 8.min(valid - g);
        // maskstore writes the lanes whose mask element has its top bit set.
        let lanes: [i32; 8] = std::array::from_fn(|i| if i < rows { -1 } else { 0 });
        // SAFETY: reads 8 i32 from a local array.
        let mask = unsafe { _mm256_loadu_si256(lanes.as_ptr().cast()) };
        let mut k = 0;
        while k < full {
            let row = |i: usize| src.wrapping_add((g + i.min(rows - 1)) * rs + k);
            // SAFETY: rows g..g + rows < valid, columns k..k + 8 <= kc; rows past `rows`
            // repeat the last valid one and are dropped by the masked stores.
            let r: [__m256; 8] = std::array::from_fn(|i| unsafe { load_as_f32::<Avx2, T>(row(i)) });
            // SAFETY: pure register shuffles.
            let o = unsafe { transpose8(r) };
            for (kk, v) in o.iter().enumerate() {
                // SAFETY: writes `rows` floats at (k + kk) * w + g, inside the panel.
                unsafe { _mm256_maskstore_ps(dst.add((k + kk) * w + g), mask, *v) };
            }
            k += 8;
        }
        for k in full..kc {
            for i in 0..rows {
                // SAFETY: element-wise for the k tail.
                unsafe {
                    *dst.add(k * w + g + i) = src.add((g + i) * rs + k).read_unaligned().to_f32()
                };
            }
        }
    }
}
