//! Sharded models: `model.safetensors.index.json` maps each tensor name to the
//! shard file holding it.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Component, Path};

use ferrite_core::HostBytes;
use serde::Deserialize;

use super::{header, SafeTensors, Shard, MAX_HEADER_BYTES};
use crate::error::{Error, Result};
use crate::source::Source;
use crate::tensor::TensorInfo;

#[derive(Deserialize)]
struct Index {
    weight_map: BTreeMap<String, String>,
}

/// Opens every shard the index lists and checks that each listed tensor is in
/// the file the index names. Tensors a shard holds but the index does not list
/// are left out, as Hugging Face loaders do.
pub(super) fn open(index_path: &Path) -> Result<SafeTensors> {
    let len = fs::metadata(index_path)
        .map_err(|e| Error::io(index_path, "cannot open", e))?
        .len();
    if len > MAX_HEADER_BYTES {
        return Err(Error::format(
            index_path,
            format!("index is {len} bytes, over the {MAX_HEADER_BYTES}-byte limit"),
        ));
    }
    let text = fs::read(index_path).map_err(|e| Error::io(index_path, "cannot read", e))?;
    let index: Index = serde_json::from_slice(&text)
        .map_err(|e| Error::format(index_path, format!("invalid index JSON: {e}")))?;
    let dir = index_path.parent().unwrap_or(Path::new("."));

    // Shards in order of first mention (weight_map is sorted by tensor name).
    let mut shard_of_file: HashMap<&str, usize> = HashMap::new();
    let mut shards = Vec::new();
    let mut headers = Vec::new();
    let mut metadata = BTreeMap::new();
    for file in index.weight_map.values() {
        if shard_of_file.contains_key(file.as_str()) {
            continue;
        }
        // A shard name must stay inside the model directory.
        let rel = Path::new(file);
        if !rel.components().all(|c| matches!(c, Component::Normal(_))) {
            return Err(Error::format(
                index_path,
                format!("shard path '{file}' is not a plain relative file name"),
            ));
        }
        let path = dir.join(rel);
        let source = Source::map(&path)?;
        let h = header::parse(source.bytes()).map_err(|b| b.at(&path))?;
        for (k, v) in &h.metadata {
            metadata.entry(k.clone()).or_insert_with(|| v.clone());
        }
        let by_name: HashMap<String, TensorInfo> =
            h.tensors.into_iter().map(|t| (t.name.clone(), t)).collect();
        shard_of_file.insert(file, shards.len());
        headers.push(by_name);
        shards.push(Shard { path, source });
    }

    let mut tensors = Vec::with_capacity(index.weight_map.len());
    for (name, file) in &index.weight_map {
        let s = shard_of_file[file.as_str()];
        let Some(t) = headers[s].remove(name) else {
            return Err(Error::format(
                index_path,
                format!(
                    "index lists tensor '{name}' in '{file}', but that file has no such tensor"
                ),
            ));
        };
        tensors.push((t, s));
    }
    tensors.sort_by_key(|(t, s)| (*s, t.range.start));
    Ok(SafeTensors::assemble(index_path, shards, tensors, metadata))
}
