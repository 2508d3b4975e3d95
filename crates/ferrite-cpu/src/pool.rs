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

/// Capacities are whole cache lines; buffers are reused for requests of the same class.
fn class(len: usize) -> usize {
    len.div_ceil(64) * 64
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
}
