//! Malformed files must give an error naming the problem: never a panic, an
//! out-of-bounds read, or an allocation of a size the file claims.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{small_gguf, small_safetensors, Raw};
use ferrite_formats::{Gguf, SafeTensors};

/// Refuses any single allocation over 64 MiB, which aborts the test binary:
/// inputs here are a few kilobytes, so only trusting a claimed size could
/// ask for that much.
struct Capped;
const CAP: usize = 64 << 20;
static LARGEST: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Capped {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        if layout.size() > CAP {
            return std::ptr::null_mut();
        }
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOC: Capped = Capped;

fn st_err(bytes: &[u8]) -> String {
    match SafeTensors::from_bytes(bytes.to_vec()) {
        Ok(_) => panic!("malformed safetensors accepted"),
        Err(e) => e.to_string(),
    }
}

fn gguf_err(bytes: &[u8]) -> String {
    match Gguf::from_bytes(bytes.to_vec()) {
        Ok(_) => panic!("malformed GGUF accepted"),
        Err(e) => e.to_string(),
    }
}

#[track_caller]
fn assert_mentions(msg: &str, needle: &str) {
    assert!(
        msg.contains(needle),
        "error {msg:?} does not mention {needle:?}"
    );
    assert!(
        msg.starts_with("<memory>: "),
        "error {msg:?} does not name the file"
    );
    assert!(!msg.contains('\n'), "error {msg:?} is not one line");
}

#[test]
fn safetensors_every_truncation_fails() {
    let file = small_safetensors();
    assert!(SafeTensors::from_bytes(file.clone()).is_ok());
    for len in 0..file.len() {
        let msg = st_err(&file[..len]);
        assert!(
            msg.contains("too short") || msg.contains("past end of file"),
            "prefix of {len} bytes: {msg}"
        );
    }
}

fn safetensors_cases() -> Vec<(Vec<u8>, &'static str)> {
    let f32x4 = r#""dtype":"F32","shape":[4]"#;
    vec![
        (Raw::new().u64(1000).bytes(b"{}").0, "header length 1000 extends past end of file"),
        (Raw::new().u64(1 << 62).bytes(b"{}").0, "exceeds the"),
        (Raw::new().u64(u64::MAX).0, "exceeds the"),
        (Raw::new().u64(4).bytes(b"{\xff\xfe}").0, "not valid UTF-8"),
        (Raw::safetensors("[1,2]", 0).0, "does not start with '{'"),
        (Raw::safetensors("{\"a\":", 0).0, "invalid header JSON"),
        (
            Raw::safetensors(&format!(r#"{{"a":{{{f32x4},"data_offsets":[0,16]}}}}"#), 8).0,
            "tensor 'a' data [0..16)",
        ),
        (
            Raw::safetensors(&format!(r#"{{"a":{{{f32x4},"data_offsets":[0,16]}}}}"#), 8).0,
            "extends past end of file",
        ),
        (
            Raw::safetensors(
                &format!(r#"{{"a":{{{f32x4},"data_offsets":[0,16]}},"b":{{{f32x4},"data_offsets":[8,24]}}}}"#),
                24,
            )
            .0,
            "overlap",
        ),
        (
            Raw::safetensors(r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,2],"data_offsets":[0,4]}}"#, 4).0,
            "overflows u64",
        ),
        (
            Raw::safetensors(r#"{"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,4]}}"#, 4).0,
            "overflows u64",
        ),
        (
            Raw::safetensors(r#"{"a":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}}"#, 0).0,
            "overflows u64",
        ),
        (
            Raw::safetensors(r#"{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}}"#, 16).0,
            "hold 16 bytes but shape [3] of F32 needs 12",
        ),
        (Raw::safetensors(r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, 16).0, "reversed"),
        (
            Raw::safetensors(r#"{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, 4).0,
            "tensor 'a': invalid value",
        ),
        (
            Raw::safetensors(r#"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#, 2).0,
            "tensor 'a': 3 elements of F4 are not a whole number of bytes",
        ),
        (
            Raw::safetensors(r#"{"a":{"dtype":"Q9","shape":[1],"data_offsets":[0,4]}}"#, 4).0,
            "unknown dtype 'Q9' in tensor 'a'",
        ),
        (
            Raw::safetensors(r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, 8).0,
            "duplicate tensor name 'a'",
        ),
        (Raw::safetensors(r#"{"__metadata__":{"k":"1","k":"2"}}"#, 0).0, "duplicate __metadata__ key 'k'"),
        (Raw::safetensors(r#"{"__metadata__":{"k":1}}"#, 0).0, "__metadata__ 'k' must be a string"),
        (Raw::safetensors(r#"{"a":{"shape":[1],"data_offsets":[0,4]}}"#, 4).0, "missing field `dtype`"),
        (Raw::safetensors(&format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)), 0).0, "start with"),
        (
            Raw::safetensors(&format!(r#"{{"a":{}1{}}}"#, "[".repeat(10_000), "]".repeat(10_000)), 0).0,
            "invalid header JSON",
        ),
    ]
}

#[test]
fn safetensors_header_problems() {
    for (bytes, needle) in safetensors_cases() {
        assert_mentions(&st_err(&bytes), needle);
    }
}

#[test]
fn gguf_every_truncation_fails() {
    let file = small_gguf();
    let g = Gguf::from_bytes(file.clone()).expect("valid");
    // Trailing alignment padding is optional; everything before it is not.
    let end = g.tensors().iter().map(|t| t.range.end).max().unwrap_or(0) as usize;
    for len in 0..end {
        let msg = gguf_err(&file[..len]);
        assert!(
            msg.contains("end of file") || msg.contains("too short") || msg.contains("exceeds"),
            "prefix of {len} bytes: {msg}"
        );
    }
}

/// A file with one metadata entry of raw type id and payload, no tensors.
fn one_kv(ty: u32, payload: Raw) -> Vec<u8> {
    Raw::gguf(3, 0, 1).str(b"k").u32(ty).bytes(&payload.0).0
}

/// A file with one tensor descriptor followed by `data` bytes.
fn one_tensor(ne: &[u64], ty: u32, offset: u64, data: usize) -> Vec<u8> {
    Raw::gguf(3, 1, 0)
        .tensor("t", ne, ty, offset)
        .data(32, data)
        .0
}

fn nested(depth: usize) -> Raw {
    let mut r = Raw::new();
    for _ in 0..depth {
        r = r.u32(9).u64(1);
    }
    r.u32(0).u64(0)
}

fn gguf_cases() -> Vec<(Vec<u8>, &'static str)> {
    let big = 1u64 << 60;
    vec![
        (b"GG".to_vec(), "too short"),
        (Raw::new().bytes(b"GGML").u32(3).0, "not a GGUF file"),
        (Raw::gguf(1, 0, 0).0, "version 1 is not supported"),
        (Raw::gguf(4, 0, 0).0, "unsupported GGUF version 4"),
        (Raw::gguf(3u32.swap_bytes(), 0, 0).0, "big-endian"),
        (
            Raw::gguf(3, big, 0).0,
            "tensor: count 1152921504606846976 exceeds",
        ),
        (Raw::gguf(3, 0, big).0, "metadata: count"),
        (
            Raw::gguf(3, 0, 1).u64(big).bytes(&[0; 32]).0,
            "string length 1152921504606846976",
        ),
        (
            Raw::gguf(3, 0, 1).str(b"a\xffb").u32(0).u8(0).0,
            "metadata key #0: string at offset 24 is not valid UTF-8",
        ),
        (one_kv(8, Raw::new().str(b"\xc3")), "'k'"),
        (one_kv(8, Raw::new().str(b"\xc3")), "not valid UTF-8"),
        (one_kv(8, Raw::new().u64(big)), "string length"),
        (one_kv(13, Raw::new().u8(0)), "unknown value type id 13"),
        (one_kv(7, Raw::new().u8(2)), "bool at offset"),
        (
            one_kv(9, Raw::new().u32(0).u64(big)),
            "array of u8: count 1152921504606846976 exceeds",
        ),
        (
            one_kv(9, Raw::new().u32(8).u64(big)),
            "array of string: count",
        ),
        (
            one_kv(9, Raw::new().u32(9).u64(big)),
            "array of array: count",
        ),
        (one_kv(9, Raw::new().u32(12).u64(u64::MAX)), "exceeds"),
        (
            one_kv(9, Raw::new().u32(99).u64(1)),
            "unknown element type id 99",
        ),
        (
            one_kv(9, Raw::new().u32(8).u64(1).str(b"\xff")),
            "not valid UTF-8",
        ),
        (one_kv(9, nested(17)), "nested deeper than 16"),
        (one_kv(9, nested(1000)), "nested deeper than 16"),
        (
            Raw::gguf(3, 0, 2).kv_u32("k", 1).kv_u32("k", 2).0,
            "duplicate metadata key 'k'",
        ),
        (
            Raw::gguf(3, 0, 1).kv_u32("general.alignment", 0).0,
            "general.alignment 0 is not a power of two",
        ),
        (
            Raw::gguf(3, 0, 1).kv_u32("general.alignment", 48).0,
            "general.alignment 48",
        ),
        (
            Raw::gguf(3, 0, 1).kv_u32("general.alignment", 1 << 31).0,
            "general.alignment",
        ),
        (
            Raw::gguf(3, 0, 1)
                .str(b"general.alignment")
                .u32(10)
                .u64(32)
                .0,
            "general.alignment has type u64, expected u32",
        ),
        (
            one_tensor(&[1, 1, 1, 1, 1], 0, 0, 4),
            "has 5 dimensions; GGUF allows at most 4",
        ),
        (
            one_tensor(&[u32::MAX as u64 + 1, 1 << 32], 0, 0, 4),
            "overflows u64",
        ),
        (one_tensor(&[u64::MAX], 0, 0, 4), "larger than int64"),
        // Found by fuzzing: zero elements, but the other dimensions overflow.
        (one_tensor(&[0, 1 << 40, 1 << 40], 0, 0, 4), "overflows u64"),
        (one_tensor(&[4], 99, 0, 16), "unknown GGML type id 99"),
        (one_tensor(&[4], 4, 0, 16), "unknown GGML type id 4"),
        (
            one_tensor(&[48], 2, 0, 64),
            "ne[0] = 48 is not a multiple of the Q4_0 block size 32",
        ),
        (
            one_tensor(&[4], 0, 16, 64),
            "data offset 16 is not a multiple of the alignment 32",
        ),
        (one_tensor(&[4], 0, 0, 15), "tensor 't' data [64..80)"),
        (
            one_tensor(&[4], 0, 0, 15),
            "extends past end of file (79 bytes)",
        ),
        (one_tensor(&[4], 0, big * 8, 16), "extends past end of file"),
        (
            one_tensor(&[1 << 40, 1 << 20], 1, 0, 16),
            "extends past end of file",
        ),
        (
            Raw::gguf(3, 2, 0)
                .tensor("a", &[16], 0, 0)
                .tensor("b", &[16], 0, 32)
                .data(32, 128)
                .0,
            "tensors 'a' [96..160) and 'b' [128..192) overlap",
        ),
        (
            Raw::gguf(3, 2, 0)
                .tensor("a", &[4], 0, 0)
                .tensor("a", &[4], 0, 32)
                .data(32, 64)
                .0,
            "duplicate tensor name 'a'",
        ),
        (
            Raw::gguf(3, 1, 0).str(b"\xfft").bytes(&[0; 32]).0,
            "name of tensor #0",
        ),
        (
            Raw::gguf(3, 1, 0).u64(big).bytes(&[0; 32]).0,
            "name of tensor #0: string length",
        ),
    ]
}

#[test]
fn gguf_header_problems() {
    for (bytes, needle) in gguf_cases() {
        assert_mentions(&gguf_err(&bytes), needle);
    }
}

#[test]
fn no_allocation_near_the_claimed_sizes() {
    // Runs after or alongside the cases above; any over-cap request would
    // already have aborted the binary, this documents the bound.
    let _ = gguf_err(&one_kv(9, Raw::new().u32(8).u64(1 << 60)));
    assert!(LARGEST.load(Ordering::Relaxed) <= CAP);
}

/// The checked-in fuzz seed corpus must not panic either.
#[test]
fn seed_corpus_does_not_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut n = 0;
    for sub in ["safetensors", "gguf"] {
        for entry in std::fs::read_dir(dir.join(sub)).expect("corpus dir") {
            let bytes = std::fs::read(entry.expect("entry").path()).expect("read");
            let _ = if sub == "gguf" {
                Gguf::from_bytes(bytes).map(drop)
            } else {
                SafeTensors::from_bytes(bytes).map(drop)
            };
            n += 1;
        }
    }
    assert!(n >= 10, "corpus has only {n} files");
}

/// Regenerates tests/corpus (the fuzzers' seeds): valid files and one file per
/// malformed case. Run with `cargo test -p ferrite-formats --test malformed -- --ignored`.
#[test]
#[ignore]
fn write_seed_corpus() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let sets = [
        ("safetensors", small_safetensors(), safetensors_cases()),
        ("gguf", small_gguf(), gguf_cases()),
    ];
    for (sub, valid, cases) in sets {
        let d = dir.join(sub);
        std::fs::create_dir_all(&d).expect("mkdir");
        std::fs::write(d.join("valid"), valid).expect("write");
        for (i, (bytes, _)) in cases.into_iter().enumerate() {
            std::fs::write(d.join(format!("bad-{i:02}")), bytes).expect("write");
        }
    }
}
