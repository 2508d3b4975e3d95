//! Streaming reads: software prefetch hints and the fastest plain read of a buffer, the
//! reference rate that bandwidth-bound kernels (the decode GEMV) are measured against.
//!
//! Why a reader of our own rather than a plain sum: on the machines measured here a loop
//! that also asks for each line 16 KiB ahead to be brought into L2 reads DRAM about 10%
//! faster than the hardware prefetchers alone manage (`decode_gemv` and `peaks` print
//! both), so a plain sum understates what the memory can deliver.

use crate::team;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// How far ahead of its loads [`read_peak`] asks for lines into L2.
const READ_AHEAD: usize = 16 << 10;

/// A hint to bring the cache line at `p` into L1 (or only as far as L2 with `L2`); a
/// no-op off x86-64. Prefetches never fault, so `p` need not point into an allocation.
#[inline(always)]
pub(crate) fn prefetch<T, const L2: bool>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: prefetch instructions do not access memory architecturally and never fault.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0, _MM_HINT_T1};
        if L2 {
            _mm_prefetch(p.cast::<i8>(), _MM_HINT_T1)
        } else {
            _mm_prefetch(p.cast::<i8>(), _MM_HINT_T0)
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Reads every byte of `bytes` once, as fast as this machine allows: each team thread
/// ([`team::threads`]) streams one contiguous part with prefetches ahead. Returns an XOR
/// fold of the contents (so the reads cannot be optimised away); its value means
/// nothing else. Time it to get the read bandwidth that bounds a bandwidth-bound kernel.
///
/// ```
/// let buf = vec![1u8; 1 << 20];
/// let t = std::time::Instant::now();
/// ferrite_kernels::read_peak(&buf);
/// let gb_per_s = buf.len() as f64 / t.elapsed().as_secs_f64() / 1e9;
/// assert!(gb_per_s > 0.0);
/// ```
pub fn read_peak(bytes: &[u8]) -> u64 {
    let threads = team::threads().max(1);
    let part = bytes.len().div_ceil(threads).next_multiple_of(64).max(64);
    let folded = AtomicU64::new(0);
    team::parallel_for(bytes.len().div_ceil(part), |t| {
        let start = t * part;
        let chunk = &bytes[start..bytes.len().min(start + part)];
        folded.fetch_xor(fold_fastest(chunk), Relaxed);
    });
    folded.into_inner()
}

/// [`fold`], with 64-byte loads where the CPU has them: with 16-byte loads the reader
/// streams no faster than the hardware prefetchers alone.
fn fold_fastest(chunk: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if crate::isa::active() == crate::Isa::Avx512 {
        let whole = chunk.len() - chunk.len() % 256;
        // SAFETY: `Avx512` is only active on CPUs that have AVX-512F (`crate::isa`);
        // `chunk[..whole]` is readable.
        let head = unsafe { fold_avx512(chunk.as_ptr(), whole) };
        return head ^ fold(&chunk[whole..]);
    }
    fold(chunk)
}

/// XOR of the `len` bytes at `p` as 64-bit words, four lines per step.
///
/// # Safety
/// AVX-512F available; `p` readable for `len` bytes, `len` a multiple of 256.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fold_avx512(p: *const u8, len: usize) -> u64 {
    use std::arch::x86_64::*;
    let mut acc = [_mm512_setzero_si512(); 4];
    let mut i = 0;
    while i < len {
        for (u, a) in acc.iter_mut().enumerate() {
            let line = p.wrapping_add(i + 64 * u);
            prefetch::<u8, true>(line.wrapping_add(READ_AHEAD));
            // SAFETY: `i + 64 * u + 64 <= len` since `len` is a multiple of 256.
            *a = _mm512_xor_si512(*a, unsafe { _mm512_loadu_si512(line.cast()) });
        }
        i += 256;
    }
    let all = _mm512_xor_si512(
        _mm512_xor_si512(acc[0], acc[1]),
        _mm512_xor_si512(acc[2], acc[3]),
    );
    let mut words = [0u64; 8];
    // SAFETY: `words` is 64 writable bytes.
    unsafe { _mm512_storeu_si512(words.as_mut_ptr().cast(), all) };
    words.iter().fold(0, |x, &w| x ^ w)
}

/// XOR of `chunk` as 64-bit words (zero-padded at the end), with L2 prefetches
/// [`READ_AHEAD`] bytes ahead. Eight accumulators per line let the compiler vectorise it.
fn fold(chunk: &[u8]) -> u64 {
    let mut acc = [0u64; 8];
    let mut add_line = |line: &[u8]| {
        for (a, word) in acc.iter_mut().zip(line.chunks_exact(8)) {
            let mut w = [0u8; 8];
            w.copy_from_slice(word);
            *a ^= u64::from_ne_bytes(w);
        }
    };
    let lines = chunk.chunks_exact(64);
    let rest = lines.remainder();
    for (i, line) in lines.enumerate() {
        prefetch::<u8, true>(chunk.as_ptr().wrapping_add(i * 64 + READ_AHEAD));
        add_line(line);
    }
    let mut last = [0u8; 64];
    last[..rest.len()].copy_from_slice(rest);
    add_line(&last);
    acc.iter().fold(0, |x, &a| x ^ a)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fold is the XOR of the native-endian 64-bit words of the buffer, zero-padded:
    /// check it against a byte-at-a-time reference on awkward lengths, thread counts and ISAs
    /// (parts start at multiples of 64 bytes, so byte `i` is always byte `i % 8` of a word).
    #[test]
    fn read_peak_folds_every_byte() {
        for len in [0usize, 1, 7, 63, 64, 65, 1000, 4095, 70_001] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 131 % 251) as u8).collect();
            let mut expected = [0u8; 8];
            for (i, &b) in bytes.iter().enumerate() {
                expected[i % 8] ^= b;
            }
            let want = u64::from_ne_bytes(expected);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(3)
                .build()
                .expect("pool");
            assert_eq!(pool.install(|| read_peak(&bytes)), want, "length {len}");
            assert_eq!(read_peak(&bytes), want, "length {len}");
            // Each ISA's fold on this thread, the scalar one included, against the same
            // reference (read_peak's workers use the process default only).
            for isa in [crate::Isa::Scalar, crate::Isa::Avx2, crate::Isa::Avx512] {
                if let Some(got) = crate::with_isa(isa, || fold_fastest(&bytes)) {
                    assert_eq!(got, want, "length {len}, {isa}");
                }
            }
        }
    }
}
