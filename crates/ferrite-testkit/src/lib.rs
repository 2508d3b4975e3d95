//! Test-only helpers for Ferrite's conformance tests (never published).
//!
//! * [`python`]: the repository's pinned Python venv (created on first use by
//!   `python/ensure_venv.sh`) and running scripts with it.
//! * [`compare`]: comparing arrays against reference values with a stated
//!   tolerance, and collecting every failure into one report.
//! * [`shapes`]: awkward shapes (empty, size-1, odd sizes) for property tests.

pub mod compare;
pub mod python;
pub mod shapes;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// The workspace root (the directory holding `python/` and `crates/`).
pub fn repo_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        // This crate lives at <root>/crates/ferrite-testkit, fixed at compile time.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        root.canonicalize().unwrap_or(root)
    })
}

/// Cargo's target directory (honours `CARGO_TARGET_DIR`), for caches that
/// must not land in the source tree.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => repo_root().join("target"),
    }
}

/// A stable 64-bit FNV-1a hash of byte strings (cache keys; not cryptographic).
pub fn content_hash<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        // The length separates parts, so ("ab", "c") and ("a", "bc") differ.
        for &b in part.iter().chain(&(part.len() as u64).to_le_bytes()) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}
