//! Any bytes must parse to a validated file or an error, never a panic; every
//! tensor of an accepted file must map to an array of exactly its bytes, and
//! writing it back must give a file with the same metadata and tensors.
#![no_main]

use ferrite_formats::{Gguf, GgufWriter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(g) = Gguf::from_bytes(data.to_vec()) else {
        return;
    };
    let mut out = GgufWriter::new();
    for (k, v) in g.metadata() {
        out.add_metadata(k.clone(), v.clone());
    }
    for t in g.tensors() {
        let a = g.array(&t.name).expect("validated tensor must map");
        assert_eq!(a.to_bytes().expect("bytes").len() as u64, t.bytes());
        out.add_tensor(t.name.clone(), a);
    }
    let again = Gguf::from_bytes(out.to_bytes().expect("rewrite")).expect("reparse");
    // Debug text compares NaN floats equal, which PartialEq does not.
    assert_eq!(
        format!("{:?}", again.metadata()),
        format!("{:?}", g.metadata())
    );
    assert_eq!(again.alignment(), g.alignment());
    for (t, u) in g.tensors().iter().zip(again.tensors()) {
        assert_eq!((&u.name, &u.shape, u.dtype), (&t.name, &t.shape, t.dtype));
        let (a, b) = (
            g.array(&t.name).expect("a"),
            again.array(&u.name).expect("b"),
        );
        assert_eq!(a.to_bytes().expect("a"), b.to_bytes().expect("b"));
    }
});
