//! Where evaluated data lives: owned aligned host memory, a read-only memory
//! map of a model file, or any other byte owner, behind one trait so a view of
//! a 2 GB mapped file costs one `Arc` clone.

use crate::shape::{contiguous_strides, Strides};
use std::sync::Arc;

/// Immutable host bytes owned by something that outlives every view of them
/// (an `AlignedBuf`, an `mmap`, a pooled buffer of a backend).
pub trait HostBytes: Send + Sync + 'static {
    fn bytes(&self) -> &[u8];

    /// Writable bytes, for an owner that may be written once it is the only
    /// holder (a backend's own buffers); `None` for read-only owners such as a
    /// memory-mapped file.
    fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        None
    }

    /// A hint that `range` of the bytes will not be read again soon. An owner
    /// backed by a file mapping may drop this process's page-table entries for
    /// it (the kernel keeps the pages cached and maps them again on the next
    /// read), so a copied-out model file stops counting in resident memory.
    /// Others ignore it; the bytes never change.
    fn release(&self, _range: std::ops::Range<usize>) {}
}

/// One cache line; owned buffers are built from these so that every owned
/// buffer is 64-byte aligned and can be read as any element type.
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
#[repr(C, align(64))]
struct CacheLine([u8; 64]);

/// A zero-initialised, 64-byte-aligned byte buffer.
pub struct AlignedBuf {
    lines: Vec<CacheLine>,
    len: usize,
}

impl AlignedBuf {
    /// A buffer of `len` zero bytes.
    pub fn zeroed(len: usize) -> AlignedBuf {
        AlignedBuf {
            lines: vec![CacheLine([0; 64]); len.div_ceil(64)],
            len,
        }
    }

    /// Copies `bytes` into a new aligned buffer.
    pub fn from_slice(bytes: &[u8]) -> AlignedBuf {
        let mut buf = AlignedBuf::zeroed(bytes.len());
        buf.bytes_mut().copy_from_slice(bytes);
        buf
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Capacity in bytes (a whole number of cache lines).
    pub fn capacity(&self) -> usize {
        self.lines.len() * 64
    }

    /// Reuses this allocation for `len` bytes; contents are unspecified.
    /// Returns `false` (and leaves the buffer alone) if it is too small.
    pub fn resize_within(&mut self, len: usize) -> bool {
        if len > self.capacity() {
            return false;
        }
        self.len = len;
        true
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.lines)[..self.len]
    }

    /// The buffer as a mutable slice of `T`; always aligned, so this only
    /// fails if the length is not a multiple of `T`'s size.
    pub fn typed_mut<T: bytemuck::Pod>(&mut self) -> &mut [T] {
        bytemuck::cast_slice_mut(self.bytes_mut())
    }
}

impl HostBytes for AlignedBuf {
    fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.lines)[..self.len]
    }

    fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        Some(AlignedBuf::bytes_mut(self))
    }
}

/// The evaluated value of an array: a byte owner, the byte offset of element
/// `[0, 0, ...]`, and per-axis strides in elements (views share the owner).
#[derive(Clone)]
pub struct Data {
    pub storage: Arc<dyn HostBytes>,
    pub offset: usize,
    pub strides: Strides,
}

impl Data {
    /// Contiguous data for `shape` starting at byte `offset` of `storage`.
    pub fn contiguous(storage: Arc<dyn HostBytes>, offset: usize, shape: &[usize]) -> Data {
        Data {
            storage,
            offset,
            strides: contiguous_strides(shape),
        }
    }

    /// True if the elements are laid out row-major without gaps (size-1 axes
    /// may carry any stride).
    pub fn is_contiguous(&self, shape: &[usize]) -> bool {
        let mut expected = 1isize;
        for (&d, &s) in shape.iter().zip(&self.strides).rev() {
            if d == 0 {
                return true;
            }
            if d != 1 {
                if s != expected {
                    return false;
                }
                expected *= d as isize;
            }
        }
        true
    }

    /// The bytes of a contiguous array of `len_bytes`, starting at the offset.
    pub fn contiguous_bytes(&self, len_bytes: usize) -> &[u8] {
        &self.storage.bytes()[self.offset..self.offset + len_bytes]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligned_buffers() {
        let mut b = AlignedBuf::zeroed(10);
        assert_eq!(b.bytes().len(), 10);
        assert_eq!(b.bytes().as_ptr() as usize % 64, 0);
        b.bytes_mut()[3] = 7;
        assert_eq!(b.bytes()[3], 7);
        assert!(b.resize_within(64));
        assert!(!b.resize_within(65));
    }

    #[test]
    fn contiguity() {
        let d = Data::contiguous(Arc::new(AlignedBuf::zeroed(96)), 0, &[2, 3, 4]);
        assert!(d.is_contiguous(&[2, 3, 4]));
        let t = Data {
            strides: [1, 2, 6].into_iter().collect(),
            ..d.clone()
        };
        assert!(!t.is_contiguous(&[4, 3, 2]));
        let one = Data {
            strides: [99, 1].into_iter().collect(),
            ..d
        };
        assert!(one.is_contiguous(&[1, 5]));
    }
}
