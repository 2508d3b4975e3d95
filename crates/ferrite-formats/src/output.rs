//! Writing a file so that readers never see a partial one: everything goes to
//! a temporary file beside the target, which is renamed over it only once
//! complete and synced.

use std::io::{BufWriter, Write};
use std::path::Path;

use ferrite_core::Array;

use crate::error::{Error, Result};

pub(crate) fn write_atomically(
    path: &Path,
    body: impl FnOnce(&mut dyn Write) -> Result<()>,
) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Some(name) = path.file_name() else {
        return Err(Error::format(path, "output path has no file name"));
    };
    // Same directory, so the rename cannot cross file systems.
    let tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".tmp")
        .tempfile_in(dir)
        .map_err(|e| Error::io(path, "cannot create temporary file", e))?;
    {
        let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file());
        body(&mut w)?;
        w.flush().map_err(|e| Error::io(path, "cannot write", e))?;
    }
    #[cfg(unix)]
    {
        // Temporary files are created 0600; a model file is normally shared.
        use std::os::unix::fs::PermissionsExt;
        let perms = std::fs::Permissions::from_mode(0o644);
        tmp.as_file()
            .set_permissions(perms)
            .map_err(|e| Error::io(path, "cannot set permissions", e))?;
    }
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io(path, "cannot sync", e))?;
    tmp.persist(path)
        .map_err(|e| Error::io(path, "cannot rename temporary file into place", e.error))?;
    Ok(())
}

/// Writes an array's row-major bytes, checking they are the `expected` size
/// the header already promised.
pub(crate) fn write_array(
    w: &mut dyn Write,
    path: &Path,
    name: &str,
    array: &Array,
    expected: u64,
) -> Result<()> {
    let written = array
        .with_bytes(|b| {
            if b.len() as u64 != expected {
                return Err(Error::format(
                    path,
                    format!(
                        "tensor '{name}' has {} bytes of data, expected {expected}",
                        b.len()
                    ),
                ));
            }
            w.write_all(b)
                .map_err(|e| Error::io(path, "cannot write", e))
        })
        .map_err(|e| Error::array(path, name, e))?;
    written
}

/// Zero bytes to pad `len` up to a multiple of `align`.
pub(crate) fn padding(len: u64, align: u64) -> u64 {
    (align - len % align) % align
}
