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
