//! File bytes shared by every array of a file: a read-only memory map, or an
//! owned buffer for files parsed from memory.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use ferrite_core::HostBytes;
use memmap2::Mmap;

use crate::error::{Error, Result};

/// Owner of a whole file's bytes; arrays keep it alive through an `Arc`.
pub(crate) enum Source {
    Map(Mmap),
    Owned(Vec<u8>),
}

impl HostBytes for Source {
    fn bytes(&self) -> &[u8] {
        match self {
            Source::Map(m) => m,
            Source::Owned(v) => v,
        }
    }

    fn release(&self, range: std::ops::Range<usize>) {
        if let Source::Map(m) = self {
            // Inward to boundaries that are whole pages for every page size in
            // use (4 KiB to 64 KiB), so no neighbouring tensor's page is dropped
            // and no kernel rejects the range as misaligned.
            const PAGE: usize = 64 << 10;
            let start = range.start.next_multiple_of(PAGE);
            let end = range.end.min(m.len()) / PAGE * PAGE;
            if start < end {
                // SAFETY: the map is a shared read-only file mapping, so it holds
                // no private pages; after MADV_DONTNEED a read maps the file's
                // cached page again and sees the same bytes. Only a hint: an
                // error leaves the pages mapped.
                let _ = unsafe {
                    m.unchecked_advise_range(memmap2::UncheckedAdvice::DontNeed, start, end - start)
                };
            }
        }
    }
}

impl Source {
    /// Maps `path` read-only. Nothing is read until a page is touched, so
    /// opening a multi-gigabyte file costs only the pages of its header.
    pub(crate) fn map(path: &Path) -> Result<Arc<Source>> {
        let file = File::open(path).map_err(|e| Error::io(path, "cannot open", e))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io(path, "cannot stat", e))?;
        if !meta.is_file() {
            return Err(Error::format(path, "not a regular file"));
        }
        let len = meta.len();
        // mmap of an empty file fails on Linux; an empty buffer parses the same.
        if len == 0 {
            return Ok(Arc::new(Source::Owned(Vec::new())));
        }
        // SAFETY: the map is read-only. Like every mmap-based loader we assume
        // the file is not truncated or rewritten while mapped; writers in this
        // crate never modify a file in place (they write a temp file and rename).
        let map = unsafe { Mmap::map(&file) }.map_err(|e| Error::io(path, "cannot map", e))?;
        Ok(Arc::new(Source::Map(map)))
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Resident kilobytes of the mapping that holds `addr`, from /proc/self/smaps.
    fn mapped_rss_kib(addr: usize) -> u64 {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            if let Some((range, _)) = line.split_once(' ') {
                if let Some((lo, hi)) = range.split_once('-') {
                    if let (Ok(lo), Ok(hi)) =
                        (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                    {
                        inside = (lo..hi).contains(&addr);
                        continue;
                    }
                }
            }
            if inside {
                if let Some(kib) = line.strip_prefix("Rss:") {
                    return kib.trim().trim_end_matches(" kB").parse().unwrap();
                }
            }
        }
        panic!("no mapping holds {addr:#x}");
    }

    #[test]
    fn released_pages_leave_the_mapping_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        let data: Vec<u8> = (0..4u32 << 20).map(|i| (i % 253) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let source = Source::map(&path).unwrap();
        let addr = source.bytes().as_ptr() as usize;
        assert_eq!(source.bytes(), &data[..]);
        assert!(
            mapped_rss_kib(addr) >= 4 << 10,
            "reading did not map the file"
        );
        // An unaligned range releases only the whole 64 KiB pages inside it.
        source.release(1000..(3 << 20) + 5);
        let rss = mapped_rss_kib(addr);
        assert!(rss <= (1 << 10) + 128, "still mapped: {rss} KiB");
        assert_eq!(source.bytes(), &data[..]);
    }
}
