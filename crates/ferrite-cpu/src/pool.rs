//! A buffer pool so that evaluating the same graph again allocates nothing:
//! buffers released by dead intermediates are kept by size and handed out again.

use ferrite_core::{AlignedBuf, HostBytes};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Pooled bytes kept for reuse at most; beyond this, released buffers are freed.
const MAX_POOLED_BYTES: usize = 4 << 30;

struct Pool {
    free: HashMap<usize, Vec<AlignedBuf>>,
    pooled_bytes: usize,
}

static POOL: Mutex<Option<Pool>> = Mutex::new(None);

fn with_pool<R>(f: impl FnOnce(&mut Pool) -> R) -> R {
    let mut guard = POOL.lock().unwrap_or_else(|p| p.into_inner());
    f(guard.get_or_insert_with(|| Pool {
        free: HashMap::new(),
        pooled_bytes: 0,
    }))
}

/// Buffers are reused for requests of the same class. Up to 4 KiB a class is a whole
/// number of cache lines; above, classes are eight per power of two (at most 12.5%
/// slack). A buffer that grows a little every step, as a KV cache extended by
/// concatenation does, then stays in one class for several steps and reuses the buffer
/// freed a step earlier: with line-sized classes every step asked for a size never seen
/// before, so each one faulted in fresh pages (3% of a TinyLlama decode step at 128
/// tokens) and left a buffer in the pool that nothing would ask for again.
fn class(len: usize) -> usize {
    let lines = len.div_ceil(64) * 64;
    if lines <= 4096 {
        return lines;
    }
    let octave = 1usize << (usize::BITS - 1 - lines.leading_zeros());
    let step = octave / 8;
    lines.div_ceil(step) * step
}

/// A buffer that returns to the pool when its last owner drops it.
pub struct PooledBuf(Option<AlignedBuf>);

impl PooledBuf {
    /// A buffer of `len` bytes with unspecified contents.
    pub fn take(len: usize) -> PooledBuf {
        let cap = class(len);
        let reused = with_pool(|p| {
            let buf = p.free.get_mut(&cap).and_then(|v| v.pop());
            if buf.is_some() {
                p.pooled_bytes -= cap;
            }
            buf
        });
        let mut buf = reused.unwrap_or_else(|| AlignedBuf::zeroed(cap));
        buf.resize_within(len);
        PooledBuf(Some(buf))
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        self.0.as_mut().map_or(&mut [], |b| b.bytes_mut())
    }

    pub fn typed_mut<T: bytemuck::Pod>(&mut self) -> &mut [T] {
        bytemuck::cast_slice_mut(self.bytes_mut())
    }

    /// Shares the finished buffer as array storage.
    pub fn into_storage(self) -> Arc<dyn HostBytes> {
        Arc::new(self)
    }
}

impl HostBytes for PooledBuf {
    fn bytes(&self) -> &[u8] {
        self.0.as_ref().map_or(&[], |b| b.bytes())
    }

    fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        Some(PooledBuf::bytes_mut(self))
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        if let Some(buf) = self.0.take() {
            let cap = buf.capacity();
            with_pool(|p| {
                if p.pooled_bytes + cap <= MAX_POOLED_BYTES {
                    p.pooled_bytes += cap;
                    p.free.entry(cap).or_default().push(buf);
                }
            });
        }
    }
}

/// Frees every pooled buffer (e.g. after a model is unloaded).
pub fn clear() {
    with_pool(|p| {
        p.free.clear();
        p.pooled_bytes = 0;
    });
}

/// Scratch `f32`/`f64` space from the pool for intermediate conversions.
pub struct Scratch<T: bytemuck::Pod> {
    buf: PooledBuf,
    _t: std::marker::PhantomData<T>,
}

impl<T: bytemuck::Pod> Scratch<T> {
    pub fn new(len: usize) -> Scratch<T> {
        Scratch {
            buf: PooledBuf::take(len * std::mem::size_of::<T>()),
            _t: std::marker::PhantomData,
        }
    }

    pub fn as_slice(&self) -> &[T] {
        bytemuck::cast_slice(self.buf.bytes())
    }

    pub fn as_mut_slice(&mut self) -> &mut [T] {
        self.buf.typed_mut()
    }
}

/// An f32 result buffer for a node of any float dtype: f32 outputs are
/// computed in their final buffer; others in scratch, converted once at the end.
pub struct F32Out {
    out: PooledBuf,
    scratch: Option<Scratch<f32>>,
    dtype: ferrite_core::DType,
}

impl F32Out {
    pub fn new(n: usize, dtype: ferrite_core::DType) -> F32Out {
        let out = PooledBuf::take(n * dtype.size().unwrap_or(4));
        let scratch = (dtype != ferrite_core::DType::F32).then(|| Scratch::new(n));
        F32Out {
            out,
            scratch,
            dtype,
        }
    }

    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        match &mut self.scratch {
            Some(s) => s.as_mut_slice(),
            None => self.out.typed_mut(),
        }
    }

    /// The finished buffer (converted to the output dtype if needed).
    pub fn finish(mut self) -> Arc<dyn HostBytes> {
        if let Some(s) = &self.scratch {
            crate::access::store_run(s.as_slice(), self.dtype, self.out.bytes_mut());
        }
        self.out.into_storage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reuses_released_buffers() {
        let a = PooledBuf::take(777_777);
        let ptr = a.bytes().as_ptr() as usize;
        drop(a);
        let b = PooledBuf::take(777_777);
        assert_eq!(b.bytes().as_ptr() as usize, ptr);
        assert_eq!(b.bytes().len(), 777_777);
    }

    #[test]
    fn classes_cover_each_size_with_little_slack() {
        let mut last = 0;
        for len in (0..5000).chain((5000..10_000_000).step_by(997)) {
            let c = class(len);
            assert!(c >= len && c.is_multiple_of(64), "class {c} of {len}");
            assert!(c >= last, "classes grow with the size");
            assert!(
                len <= 4096 || (c - len) * 8 <= len,
                "class {c} of {len}: over 12.5%"
            );
            last = c;
        }
        assert_eq!(class(4096), 4096);
        assert_eq!(class(4097), 4608);
    }

    #[test]
    fn a_buffer_grown_a_little_each_step_reuses_the_one_freed_before() {
        // A cache of 100 KiB growing by 1 KiB per step, old buffer freed after the new
        // one is taken, as concatenation does.
        let mut held = PooledBuf::take(100 << 10);
        let mut seen = std::collections::HashSet::new();
        seen.insert(held.bytes().as_ptr() as usize);
        for step in 1..=16 {
            let next = PooledBuf::take((100 + step) << 10);
            seen.insert(next.bytes().as_ptr() as usize);
            held = next;
        }
        drop(held);
        assert!(
            seen.len() <= 6,
            "{} distinct buffers for 17 steps",
            seen.len()
        );
    }
}
