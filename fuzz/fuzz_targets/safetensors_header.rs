//! Any bytes must parse to a validated file or an error, never a panic; every
//! tensor of an accepted file must map to an array of exactly its bytes, and
//! writing it back must give a file that parses to the same tensors.
#![no_main]

use ferrite_formats::{SafeTensors, SafeTensorsWriter};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(st) = SafeTensors::from_bytes(data.to_vec()) else {
        return;
    };
    let mut out = SafeTensorsWriter::new();
    for (k, v) in st.metadata() {
        out.add_metadata(k.clone(), v.clone());
    }
    for t in st.tensors() {
        let a = st.array(&t.name).expect("validated tensor must map");
        assert_eq!(a.to_bytes().expect("bytes").len() as u64, t.bytes());
        out.add_tensor(t.name.clone(), a);
    }
    let again = SafeTensors::from_bytes(out.to_bytes().expect("rewrite")).expect("reparse");
    assert_eq!(again.metadata(), st.metadata());
    assert_eq!(again.tensors().len(), st.tensors().len());
    for t in st.tensors() {
        let u = again.tensor(&t.name).expect("tensor kept");
        assert_eq!((&u.shape, u.dtype), (&t.shape, t.dtype));
        let (a, b) = (
            st.array(&t.name).expect("a"),
            again.array(&t.name).expect("b"),
        );
        assert_eq!(a.to_bytes().expect("a"), b.to_bytes().expect("b"));
    }
});
