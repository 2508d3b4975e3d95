//! Where the weights of the matrix products live while a model runs: in the
//! mapped file, or copied into memory on 2 MiB pages (see
//! [`ferrite_formats::resident_copies`] for why that decodes faster).

use std::collections::HashMap;
use std::path::Path;

use ferrite_core::Array;
use ferrite_formats::TensorInfo;

use crate::error::Result;
use crate::weights::Weights;

/// Where a model's streamed weights (every projection and the output head)
/// live. Norms, biases and an untied embedding table stay mapped either way:
/// they are small or read a row at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WeightMemory {
    /// [`Resident`](WeightMemory::Resident) when the kernel offers 2 MiB
    /// pages and the copy takes at most three quarters of the available
    /// memory; otherwise [`Mapped`](WeightMemory::Mapped).
    #[default]
    Auto,
    /// Read in place from the mapped file: nothing is copied, pages load on
    /// first use and are shared with the page cache and other processes.
    Mapped,
    /// Copied at load time into anonymous memory advised for 2 MiB pages:
    /// generation reads fewer page-table entries and runs faster, for the
    /// time of the copy and memory that is no longer shared.
    Resident,
}

impl WeightMemory {
    /// `Mapped` or `Resident`: what `Auto` means for `bytes` of weights here.
    pub fn resolve(self, bytes: u64) -> WeightMemory {
        match self {
            WeightMemory::Auto => {
                let fits = available_memory().is_some_and(|avail| bytes <= avail / 4 * 3);
                if fits && ferrite_formats::huge_pages_available() {
                    WeightMemory::Resident
                } else {
                    WeightMemory::Mapped
                }
            }
            other => other,
        }
    }
}

/// `MemAvailable` from `/proc/meminfo`, in bytes.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// `inner` with the tensors `names` served from resident copies.
pub(crate) struct ResidentWeights<'a> {
    inner: &'a dyn Weights,
    copies: HashMap<String, Array>,
}

impl<'a> ResidentWeights<'a> {
    /// Copies `names` out of `inner`; a missing name is the same error
    /// `inner` would give the model.
    pub(crate) fn copy(inner: &'a dyn Weights, names: &[String]) -> Result<ResidentWeights<'a>> {
        let tensors = names
            .iter()
            .map(|n| Ok((n.clone(), inner.array(n)?)))
            .collect::<Result<Vec<_>>>()?;
        let copies = ferrite_formats::resident_copies(inner.path(), &tensors)?;
        Ok(ResidentWeights {
            inner,
            copies: names.iter().cloned().zip(copies).collect(),
        })
    }
}

impl Weights for ResidentWeights<'_> {
    fn path(&self) -> &Path {
        self.inner.path()
    }

    fn info(&self, name: &str) -> Option<&TensorInfo> {
        self.inner.info(name)
    }

    fn array(&self, name: &str) -> Result<Array> {
        match self.copies.get(name) {
            Some(a) => Ok(a.clone()),
            None => self.inner.array(name),
        }
    }
}
