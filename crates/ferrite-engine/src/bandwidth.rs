//! How fast this machine reads the weights that a decode step streams: the
//! bound memory bandwidth sets on generation, measured on the very memory
//! generation reads (its pages, its placement) and right beside it in time.
//!
//! Why not one bandwidth figure taken once: on a shared machine the rate moves
//! by a tenth or more within seconds as neighbours come and go, so a reading
//! taken before loading the model says little about the minute that follows.

use std::ops::Range;
use std::sync::Arc;
use std::time::Instant;

use ferrite_core::{Array, HostBytes};

/// Pieces closer than this in one buffer are read as one: a few KiB of padding
/// between tensors costs less than a separate start.
const MERGE_GAP: usize = 64 << 10;

/// Pieces smaller than this are left out of the reading: their start-up cost
/// would be timed as if it were bandwidth.
const MIN_PIECE: usize = 1 << 20;

/// The byte ranges behind a set of arrays, merged where they lie side by side
/// in one buffer, ready to be read as fast as the machine allows.
pub struct WeightReader {
    pieces: Vec<(Arc<dyn HostBytes>, Range<usize>)>,
}

impl WeightReader {
    /// The memory of `arrays`; arrays not yet computed, or not laid out
    /// contiguously, are left out.
    ///
    /// ```
    /// use ferrite_core::{Array, DType};
    /// use ferrite_engine::bandwidth::WeightReader;
    ///
    /// ferrite_cpu::install();
    /// let w = Array::zeros(&[1024, 1024], DType::F16)?.contiguous()?;
    /// w.eval()?;
    /// let reader = WeightReader::new(&[&w]);
    /// assert_eq!(reader.bytes(), 2 << 20);
    /// assert!(reader.read_gbs().is_some_and(|gbs| gbs > 0.0));
    /// # Ok::<(), ferrite_core::Error>(())
    /// ```
    pub fn new(arrays: &[&Array]) -> WeightReader {
        let mut ranges: Vec<(usize, Arc<dyn HostBytes>, Range<usize>)> = arrays
            .iter()
            .filter_map(|a| {
                let data = a.data()?;
                let len = a.dtype().bytes_for(a.size() as u64)? as usize;
                let end = data.offset.checked_add(len)?;
                let in_bounds = end <= data.storage.bytes().len();
                let base = data.storage.bytes().as_ptr() as usize;
                (data.is_contiguous(a.shape()) && in_bounds).then_some((
                    base,
                    data.storage,
                    data.offset..end,
                ))
            })
            .collect();
        ranges.sort_by_key(|(base, _, r)| (*base, r.start));
        let mut merged: Vec<(usize, Arc<dyn HostBytes>, Range<usize>)> = Vec::new();
        for (base, storage, range) in ranges {
            match merged.last_mut() {
                Some((b, _, last)) if *b == base && range.start <= last.end + MERGE_GAP => {
                    last.end = last.end.max(range.end);
                }
                _ => merged.push((base, storage, range)),
            }
        }
        let pieces = merged
            .into_iter()
            .filter(|(_, _, r)| r.len() >= MIN_PIECE)
            .map(|(_, storage, range)| (storage, range))
            .collect();
        WeightReader { pieces }
    }

    /// Bytes one reading covers.
    pub fn bytes(&self) -> usize {
        self.pieces.iter().map(|(_, r)| r.len()).sum()
    }

    /// Reads every byte once with the fastest plain reader
    /// ([`ferrite_kernels::read_peak`], on the calling thread's team) and
    /// returns the rate in GB/s; `None` when there is nothing large enough.
    pub fn read_gbs(&self) -> Option<f64> {
        if self.pieces.is_empty() {
            return None;
        }
        let t = Instant::now();
        let mut folded = 0;
        for (storage, range) in &self.pieces {
            folded ^= ferrite_kernels::read_peak(&storage.bytes()[range.clone()]);
        }
        let seconds = t.elapsed().as_secs_f64();
        std::hint::black_box(folded);
        Some(self.bytes() as f64 / seconds.max(1e-9) / 1e9)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrite_core::DType;

    fn evaluated(shape: &[usize], dtype: DType) -> Array {
        ferrite_cpu::install();
        let a = Array::zeros(shape, dtype)
            .and_then(|a| a.contiguous())
            .expect("array");
        a.eval().expect("eval");
        a
    }

    #[test]
    fn views_of_one_buffer_merge_and_small_pieces_drop_out() -> ferrite_core::Result<()> {
        let big = evaluated(&[3, 1 << 20], DType::F32);
        // Rows 0 and 2 of one buffer, 4 MiB apart (beyond the merge gap): two pieces.
        let rows: Vec<Array> = [0, 2]
            .iter()
            .map(|&r| big.slice(&[ferrite_core::SliceArg::range(r, r + 1)]))
            .collect::<ferrite_core::Result<_>>()?;
        for r in &rows {
            r.eval()?;
        }
        let reader = WeightReader::new(&[&rows[1], &rows[0]]);
        assert_eq!(reader.pieces.len(), 2);
        assert_eq!(reader.bytes(), 8 << 20);
        // The whole buffer and a row inside it: one piece, the whole buffer.
        let reader = WeightReader::new(&[&rows[0], &big]);
        assert_eq!(reader.pieces.len(), 1);
        assert_eq!(reader.bytes(), 12 << 20);
        // Too small to time; a pending array is left out.
        let small = evaluated(&[100], DType::F32);
        let pending = big.exp()?;
        let reader = WeightReader::new(&[&small, &pending]);
        assert_eq!(reader.bytes(), 0);
        assert_eq!(reader.read_gbs(), None);
        Ok(())
    }

    #[test]
    fn separate_buffers_stay_separate() {
        let a = evaluated(&[1 << 20], DType::F16);
        let b = evaluated(&[1 << 19], DType::F32);
        let reader = WeightReader::new(&[&a, &b, &a]);
        assert_eq!(reader.pieces.len(), 2);
        assert_eq!(reader.bytes(), 4 << 20);
        assert!(reader.read_gbs().is_some_and(|g| g.is_finite() && g > 0.0));
    }
}
