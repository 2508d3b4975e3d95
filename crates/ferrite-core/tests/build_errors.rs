//! Op builders reject bad arguments at build time, with the op's name in the
//! message, before anything is evaluated (no backend is installed here).

use ferrite_core::prim::RopeLayout;
use ferrite_core::{Array, DType, Error, GgmlType, SliceArg};

fn f32s(shape: &[usize]) -> Array {
    Array::zeros(shape, DType::F32).unwrap()
}

fn err_text(r: Result<Array, Error>) -> String {
    match r {
        Ok(a) => panic!("expected an error, got {a:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn arrays_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Array>();
}

#[test]
fn shape_errors_name_the_op() {
    let (a, b) = (f32s(&[3]), f32s(&[4]));
    assert!(err_text(a.add(&b)).contains("cannot be broadcast"));
    assert!(err_text(f32s(&[2, 3]).matmul(&f32s(&[4, 5]))).starts_with("[matmul]"));
    assert!(err_text(f32s(&[2, 3]).reshape(&[4, -1])).starts_with("[reshape]"));
    assert!(err_text(f32s(&[2, 3]).reshape(&[-1, -1])).contains("invalid target shape"));
    assert!(err_text(f32s(&[2, 3]).sum(&[2], false)).contains("axis 2 is out of range"));
    assert!(err_text(f32s(&[2, 3]).sum(&[1, -1], false)).contains("more than once"));
    assert!(err_text(f32s(&[2, 3]).permute(&[0, 0])).starts_with("[permute]"));
    assert!(err_text(f32s(&[2, 3]).slice(&[SliceArg {
        start: None,
        stop: None,
        step: 0
    }]))
    .contains("step"));
    assert!(err_text(f32s(&[2, 3]).broadcast_to(&[3, 3])).starts_with("[broadcast_to]"));
    assert!(
        err_text(Array::concatenate(&[f32s(&[2, 3]), f32s(&[3, 3])], 1))
            .starts_with("[concatenate]")
    );
    assert!(err_text(Array::concatenate(&[], 0)).contains("no arrays"));
    assert!(err_text(f32s(&[2, 0]).argmax(1, false)).contains("empty axis"));
}

#[test]
fn dtype_and_argument_errors() {
    let ints = Array::zeros(&[4], DType::I32).unwrap();
    assert!(err_text(ints.softmax(0)).contains("floating-point"));
    assert!(err_text(f32s(&[4]).take(&f32s(&[2]), 0)).contains("integer"));
    assert!(
        err_text(f32s(&[2, 8]).rope(3, RopeLayout::Interleaved, 1e4, 1.0, 0, None))
            .contains("even")
    );
    assert!(
        err_text(f32s(&[8]).rope(8, RopeLayout::Interleaved, 1e4, 1.0, 0, None))
            .contains("at least 2 axes")
    );
    let (q, kv) = (f32s(&[1, 6, 2, 8]), f32s(&[1, 4, 3, 8]));
    assert!(err_text(Array::attention(&q, &kv, &kv, 1.0, true, None)).contains("multiple of Hkv"));
    assert!(err_text(Array::arange(0.0, 1.0, 0.0, DType::F32)).starts_with("[arange]"));
    assert!(err_text(Array::random_uniform(&[2], 1.0, 1.0, 0, DType::F32)).contains("below"));
    let q4 = DType::Block(GgmlType::from_name("Q4_0").unwrap());
    let blocks = Array::from_bytes(&[0u8; 18], &[32], q4).unwrap();
    assert!(err_text(blocks.exp()).contains("block-quantized"));
    assert!(err_text(Array::from_bytes(&[0u8; 17], &[32], q4)).contains("needs 18 bytes"));
}

#[test]
fn evaluating_without_a_backend_is_an_error() {
    let a = f32s(&[2]).exp().unwrap();
    assert!(matches!(a.eval(), Err(Error::NoBackend)));
}
