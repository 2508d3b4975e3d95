//! Copies of tensors in anonymous memory on 2 MiB pages.
//!
//! Decoding streams every weight matrix once per token. Read through the
//! 4 KiB pages of a file mapping, that stream takes a TLB miss every 4 KiB; the
//! page cache backs only part of a mapping with 2 MiB folios, and which part
//! depends on how the file was read. Anonymous memory advised with
//! `MADV_HUGEPAGE` gets 2 MiB pages wherever the kernel has them, and measured
//! here a plain read of it runs 8–20% faster than of 4 KiB pages. The price
//! is the copy at load time and memory the page cache can no longer share.

use std::path::Path;
use std::sync::Arc;

use ferrite_core::{Array, HostBytes};
use memmap2::{Advice, Mmap, MmapMut};

use crate::error::{Error, Result};

/// One anonymous read-only region holding the copied tensors.
struct Region(Mmap);

impl HostBytes for Region {
    fn bytes(&self) -> &[u8] {
        &self.0
    }
}

/// Each tensor starts on a 4 KiB boundary, so no page is shared between
/// tensors and every start is aligned for any element type.
const TENSOR_ALIGN: usize = 4096;

/// The size of a transparent huge page on x86-64 and most arm64 kernels.
const HUGE_PAGE: usize = 2 << 20;

/// Whether the kernel gives anonymous memory 2 MiB pages when asked
/// (`/sys/kernel/mm/transparent_hugepage/enabled` is `always` or `madvise`).
/// Without them a copy costs load time and memory and reads no faster.
pub fn huge_pages_available() -> bool {
    std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
        .map(|s| s.contains("[always]") || s.contains("[madvise]"))
        .unwrap_or(false)
}

/// Copies `tensors` (name, array) of the file at `path` into one anonymous
/// region advised for 2 MiB pages and returns arrays over the copies, in the
/// same order, with the same shapes, dtypes and bytes. The copy runs on every
/// available core: on a fresh machine, faulting in the pages costs more than
/// copying the bytes.
///
/// ```
/// # fn main() -> ferrite_formats::Result<()> {
/// use ferrite_core::Array;
/// let w = Array::from_slice(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2]).unwrap();
/// let copies = ferrite_formats::resident_copies("w.bin".as_ref(), &[("w".into(), w)])?;
/// assert_eq!(copies[0].to_vec::<f32>().unwrap(), [1.0, 2.0, 3.0, 4.0]);
/// # Ok(()) }
/// ```
pub fn resident_copies(path: &Path, tensors: &[(String, Array)]) -> Result<Vec<Array>> {
    let too_large = || Error::format(path, "tensors too large to copy into memory");
    let mut lens = Vec::with_capacity(tensors.len());
    let mut offsets = Vec::with_capacity(tensors.len());
    let mut total = 0usize;
    for (_, a) in tensors {
        let len = a
            .dtype()
            .bytes_for(a.size() as u64)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(too_large)?;
        offsets.push(total);
        lens.push(len);
        total = total
            .checked_add(len.next_multiple_of(TENSOR_ALIGN))
            .ok_or_else(too_large)?;
    }
    if total == 0 {
        return Ok(tensors.iter().map(|(_, a)| a.clone()).collect());
    }
    let mut region = MmapMut::map_anon(total.next_multiple_of(HUGE_PAGE))
        .map_err(|e| Error::io(path, "cannot allocate memory for resident weights", e))?;
    // Only advice: where the kernel has no huge page free, 4 KiB pages serve.
    let _ = region.advise(Advice::HugePage);
    let mut rest: &mut [u8] = &mut region;
    let mut slots = Vec::with_capacity(tensors.len());
    for (i, len) in lens.iter().enumerate() {
        let end = offsets.get(i + 1).copied().unwrap_or(total);
        let (slot, tail) = std::mem::take(&mut rest).split_at_mut(end - offsets[i]);
        slots.push(&mut slot[..*len]);
        rest = tail;
    }
    for ((name, a), slot) in tensors.iter().zip(slots) {
        let len = slot.len();
        a.with_bytes(|b| parallel_copy(slot, b))
            .map_err(|e| Error::array(path, name, e))?;
        // Without this, the copied file pages would stay mapped too and the
        // process would count every weight twice until it exits.
        if let Some(d) = a.data() {
            d.storage.release(d.offset..d.offset + len);
        }
    }
    let region: Arc<dyn HostBytes> =
        Arc::new(Region(region.make_read_only().map_err(|e| {
            Error::io(path, "cannot protect resident weights", e)
        })?));
    tensors
        .iter()
        .zip(offsets)
        .map(|((name, a), off)| {
            Array::from_host_bytes(region.clone(), off, a.shape(), a.dtype())
                .map_err(|e| Error::array(path, name, e))
        })
        .collect()
}

/// `dst.copy_from_slice(src)` split over the available cores, in runs of whole
/// huge pages so each page is faulted in by one thread.
fn parallel_copy(dst: &mut [u8], src: &[u8]) {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let run = dst.len().div_ceil(threads).next_multiple_of(HUGE_PAGE);
    if threads == 1 || dst.len() <= run {
        dst.copy_from_slice(src);
        return;
    }
    std::thread::scope(|s| {
        for (d, sr) in dst.chunks_mut(run).zip(src.chunks(run)) {
            s.spawn(move || d.copy_from_slice(sr));
        }
    });
}
