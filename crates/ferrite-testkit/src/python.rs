//! The pinned Python environment the reference tests run.
//!
//! `python/ensure_venv.sh` creates `<repo>/.venv` from `python/requirements.txt`
//! (exact pins) when it is missing or stale and prints its interpreter; it is
//! safe to run from several test binaries at once. A venv that cannot be made
//! is a test failure, never a silent skip: only `FERRITE_SKIP_PYTHON=1`, set on
//! purpose, turns the Python-backed tests off.

use crate::repo_root;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// True when `FERRITE_SKIP_PYTHON=1` asks to skip every Python-backed test.
pub fn skip_requested() -> bool {
    std::env::var_os("FERRITE_SKIP_PYTHON").is_some_and(|v| v == "1")
}

/// The venv's python, made on first use (once per process).
pub fn python() -> Result<&'static Path, String> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON
        .get_or_init(ensure_venv)
        .as_deref()
        .map_err(Clone::clone)
}

fn ensure_venv() -> Result<PathBuf, String> {
    let script = repo_root().join("python/ensure_venv.sh");
    let out = Command::new("bash")
        .arg(&script)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} failed ({}); set FERRITE_SKIP_PYTHON=1 to skip the Python-backed tests on purpose.\n{}",
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if path.is_empty() {
        return Err(format!("{} printed no python path", script.display()));
    }
    Ok(PathBuf::from(path))
}

/// Runs `script` (a path relative to the repository root, or absolute) with
/// the venv's python and returns its stdout; a failure carries stderr.
pub fn run_script<S: AsRef<OsStr>>(script: &Path, args: &[S]) -> Result<String, String> {
    let python = python()?;
    let script = repo_root().join(script);
    let out = Command::new(python)
        .arg(&script)
        .args(args)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} {} failed ({}):\n{}",
            python.display(),
            script.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}
