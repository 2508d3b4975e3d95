//! Resident copies hold exactly the tensors' bytes, live apart from the file
//! mapping, and leave the mapped arrays readable after their pages are released.

mod common;

use common::{array, ggml};
use ferrite_core::{Array, DType};
use ferrite_formats::{resident_copies, Gguf, GgufWriter, SafeTensors, SafeTensorsWriter};

/// Awkward sizes around page and huge-page boundaries, several dtypes, a
/// block-quantized one, a scalar and an empty tensor.
fn tensors() -> Vec<(String, Array)> {
    let shapes: &[(&[usize], DType)] = &[
        (&[3, 5], DType::F32),
        (&[1023, 3], DType::BF16),
        (&[1025], DType::F16),
        (&[513, 1024], DType::F32), // just over 2 MiB
        (&[0, 7], DType::F32),
        (&[], DType::F32),
        (&[4, 256], ggml("Q4_K")),
        (&[70_001], DType::F16),
    ];
    shapes
        .iter()
        .enumerate()
        .map(|(i, (shape, dt))| (format!("t{i}"), array(shape, *dt, i as u8)))
        .collect()
}

fn check_copies(path: &std::path::Path, mapped: &[(String, Array)]) {
    let copies = resident_copies(path, mapped).expect("copy");
    assert_eq!(copies.len(), mapped.len());
    for ((name, a), c) in mapped.iter().zip(&copies) {
        assert_eq!(c.shape(), a.shape(), "{name}");
        assert_eq!(c.dtype(), a.dtype(), "{name}");
        let (a_bytes, c_bytes) = (a.to_bytes().unwrap(), c.to_bytes().unwrap());
        assert_eq!(c_bytes, a_bytes, "{name}: copy differs");
        if !a_bytes.is_empty() {
            let (ap, cp) = (a.data().unwrap(), c.data().unwrap());
            let a_at = ap.storage.bytes()[ap.offset..].as_ptr();
            let c_at = cp.storage.bytes()[cp.offset..].as_ptr();
            assert_ne!(a_at, c_at, "{name}: not a copy");
            assert_eq!(c_at as usize % 4096, 0, "{name}: copy not page aligned");
        }
    }
    // The copy released the mapped pages; reading them maps them again, unchanged.
    let originals = tensors();
    for (name, a) in mapped {
        let (_, original) = originals.iter().find(|(n, _)| n == name).unwrap();
        assert_eq!(
            a.to_bytes().unwrap(),
            original.to_bytes().unwrap(),
            "{name}: mapped tensor changed after its pages were released"
        );
    }
}

#[test]
fn copies_of_a_mapped_safetensors_file_match_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    let mut w = SafeTensorsWriter::new();
    // safetensors has no block-quantized types.
    for (name, a) in tensors()
        .into_iter()
        .filter(|(_, a)| a.dtype() != ggml("Q4_K"))
    {
        w.add_tensor(name, a);
    }
    w.write(&path).unwrap();
    let st = SafeTensors::open(&path).unwrap();
    let mapped: Vec<(String, Array)> = st
        .tensors()
        .iter()
        .map(|t| (t.name.clone(), st.array(&t.name).unwrap()))
        .collect();
    check_copies(&path, &mapped);
}

#[test]
fn copies_of_a_mapped_gguf_file_match_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.gguf");
    let mut w = GgufWriter::new();
    for (name, a) in tensors() {
        w.add_tensor(name, a);
    }
    w.write(&path).unwrap();
    let g = Gguf::open(&path).unwrap();
    let mapped: Vec<(String, Array)> = tensors()
        .into_iter()
        .map(|(name, _)| {
            let a = g.array(&name).unwrap();
            (name, a)
        })
        .collect();
    check_copies(&path, &mapped);
}

#[test]
fn nothing_to_copy_is_not_an_error() {
    let path = std::path::Path::new("none.gguf");
    assert!(resident_copies(path, &[]).unwrap().is_empty());
    let empty = vec![("e".to_string(), array(&[0], DType::F32, 0))];
    let copies = resident_copies(path, &empty).unwrap();
    assert_eq!(copies[0].shape(), [0]);
}
