//! What a file says about one tensor.

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use ferrite_core::{Array, DType, HostBytes};

use crate::error::{Error, Result};
use crate::source::Source;

/// One tensor's descriptor, as validated when the file was opened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorInfo {
    /// The tensor's name in the file.
    pub name: String,
    /// The element type; GGML types Ferrite does not compute with (quantized
    /// blocks, f64, i16) are [`DType::Block`], safetensors types GGML lacks
    /// (u32, fp8 ...) [`DType::Opaque`].
    pub dtype: DType,
    /// Row-major logical shape, slowest dimension first. GGUF stores `ne[]`
    /// fastest-first; this is that list reversed, so both formats agree.
    pub shape: Vec<usize>,
    /// Absolute byte range of the data in its file.
    pub range: Range<u64>,
}

impl TensorInfo {
    /// Number of elements (1 for a scalar).
    pub fn elements(&self) -> u64 {
        // Validated at open: the product fits in u64.
        self.shape.iter().map(|&d| d as u64).product()
    }

    /// Size of the data in bytes.
    pub fn bytes(&self) -> u64 {
        self.range.end - self.range.start
    }
}

/// Multiplies dimensions, `None` on u64 overflow. A zero dimension does not
/// excuse the others: their product must fit too, so that code multiplying
/// the dimensions in any order (e.g. for strides) cannot overflow.
pub(crate) fn checked_elements(dims: &[u64]) -> Option<u64> {
    let nonzero = dims
        .iter()
        .filter(|&&d| d != 0)
        .try_fold(1u64, |acc, &d| acc.checked_mul(d))?;
    Some(if dims.contains(&0) { 0 } else { nonzero })
}

/// Finds the first pair of overlapping byte ranges, checking neighbours in
/// offset order.
pub(crate) fn find_overlap(tensors: &[TensorInfo]) -> Option<(&TensorInfo, &TensorInfo)> {
    let mut order: Vec<&TensorInfo> = tensors.iter().filter(|t| t.bytes() > 0).collect();
    order.sort_by_key(|t| t.range.start);
    order
        .windows(2)
        .find(|w| w[0].range.end > w[1].range.start)
        .map(|w| (w[0], w[1]))
}

/// Formats a byte range the way error messages show it.
pub(crate) fn show_range(r: &Range<u64>) -> String {
    format!("[{}..{})", r.start, r.end)
}

/// A zero-copy array over `t`'s bytes in `source`.
pub(crate) fn array(path: &Path, source: &Arc<Source>, t: &TensorInfo) -> Result<Array> {
    // The range was checked against the buffer when the file was opened.
    let offset = t.range.start as usize;
    let owner: Arc<dyn HostBytes> = source.clone();
    Array::from_host_bytes(owner, offset, &t.shape, t.dtype)
        .map_err(|e| Error::array(path, &t.name, e))
}

/// A byte count in decimal units (`8.38 MB`), as file managers show sizes; every
/// tool that prints a model's size uses this, so one model shows one size.
///
/// ```
/// assert_eq!(ferrite_formats::human_bytes(512), "512 B");
/// assert_eq!(ferrite_formats::human_bytes(8_384_512), "8.38 MB");
/// ```
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", UNITS[unit])
    }
}
