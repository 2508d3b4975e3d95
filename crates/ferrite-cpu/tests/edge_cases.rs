//! Regressions for edge cases found in review: empty contractions, fused
//! versus unfused agreement, exact integer copies, huge slice steps, shape
//! overflow, half-open uniform samples, integer scalars.

use ferrite_core::{Array, DType, SliceArg};
use half::f16;

fn setup() {
    ferrite_cpu::install();
}

#[test]
fn batched_matmul_with_empty_inner_axis_is_zero() {
    setup();
    let p = Array::zeros(&[2, 3, 0], DType::F32).unwrap();
    let v = Array::zeros(&[2, 0, 4], DType::F32).unwrap();
    assert_eq!(
        p.matmul(&v).unwrap().to_vec::<f32>().unwrap(),
        vec![0.0; 24]
    );
    let bias = Array::ones(&[4], DType::F32).unwrap();
    assert_eq!(
        p.matmul_bias(&v, &bias).unwrap().to_vec::<f32>().unwrap(),
        vec![1.0; 24]
    );
}

#[test]
fn fused_chains_round_every_intermediate_like_unfused_ones() {
    setup();
    // Booleans: true + true is true (1), not 2, inside a kernel too.
    let x = Array::from_slice(&[1.0f32], &[1]).unwrap();
    let t = x.gt(&Array::scalar(0.0f32)).unwrap();
    let fused = t.add(&t).unwrap().eq(&t).unwrap().to_f32_vec().unwrap();
    let s = t.add(&t).unwrap();
    s.eval().unwrap();
    let unfused = s.eq(&t).unwrap().to_f32_vec().unwrap();
    assert_eq!(fused, unfused);
    assert_eq!(fused, vec![1.0]);
    // f16: the product is rounded to f16 before the comparison.
    let a = Array::from_slice(&[f16::from_f32(1.0 + 2f32.powi(-10))], &[1]).unwrap();
    let z = Array::from_slice(&[f16::from_f32(1.0 + 2f32.powi(-9))], &[1]).unwrap();
    let fused = a.mul(&a).unwrap().eq(&z).unwrap().to_f32_vec().unwrap();
    let p = a.mul(&a).unwrap();
    p.eval().unwrap();
    assert_eq!(fused, p.eq(&z).unwrap().to_f32_vec().unwrap());
}

#[test]
fn integer_copies_are_exact() {
    setup();
    let big = (1i64 << 53) + 1;
    let x = Array::from_slice(&[big, 7], &[2]).unwrap();
    let rev = x
        .slice(&[SliceArg {
            start: None,
            stop: None,
            step: -1,
        }])
        .unwrap();
    assert_eq!(rev.to_vec::<i64>().unwrap(), vec![7, big]);
    assert_eq!(Array::scalar(16_777_217i32).item().unwrap(), 16_777_217.0);
}

#[test]
fn huge_slice_steps_do_not_overflow() {
    setup();
    let x = Array::from_slice(&[1.0f32, 2.0, 3.0], &[3]).unwrap();
    let up = x
        .slice(&[SliceArg {
            start: None,
            stop: None,
            step: isize::MAX,
        }])
        .unwrap();
    assert_eq!(up.to_vec::<f32>().unwrap(), vec![1.0]);
    let down = x
        .slice(&[SliceArg {
            start: None,
            stop: None,
            step: isize::MIN,
        }])
        .unwrap();
    assert_eq!(down.to_vec::<f32>().unwrap(), vec![3.0]);
}

#[test]
fn overflowing_shapes_are_rejected() {
    setup();
    let s = Array::scalar(0f32);
    assert!(s.broadcast_to(&[1 << 33, 1 << 33]).is_err());
    assert!(s.reshape(&[1 << 40, 1 << 40, -1]).is_err());
    assert!(Array::scalar(1f32)
        .rms_norm(Some(&Array::zeros(&[0], DType::F32).unwrap()), 1e-5)
        .is_err());
}

#[test]
fn uniform_samples_stay_below_high() {
    setup();
    // In bf16 most values of [0.99, 1) round up to 1.0; none may equal `high`.
    let u = Array::random_uniform(&[4096], 0.99, 1.0, 3, DType::BF16).unwrap();
    assert!(u
        .to_f32_vec()
        .unwrap()
        .iter()
        .all(|&v| (0.98..1.0).contains(&v)));
}

#[test]
fn fractional_scalars_promote_integers() {
    setup();
    let x = Array::from_slice(&[1i32, 2, 3], &[3]).unwrap();
    let y = x.mul_scalar(0.5).unwrap();
    assert_eq!(y.dtype(), DType::F32);
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![0.5, 1.0, 1.5]);
    assert_eq!(
        x.add_scalar(2.0).unwrap().to_vec::<i32>().unwrap(),
        vec![3, 4, 5]
    );
}

#[test]
fn mixed_float_matmul_equals_matmul_of_widened_operands() {
    setup();
    // f32 activations times bf16/f16 weights read through a transposed view (as
    // a Linear layer does): widening while packing gives the promoted product exactly.
    let x = Array::random_normal(&[5, 37], 0.0, 1.0, 1, DType::F32).unwrap();
    for dtype in [DType::BF16, DType::F16] {
        let w = Array::random_normal(&[19, 37], 0.0, 1.0, 2, DType::F32)
            .unwrap()
            .astype(dtype)
            .unwrap();
        let mixed = x.matmul(&w.transpose().unwrap()).unwrap();
        assert_eq!(mixed.dtype(), DType::F32);
        let wide = w.astype(DType::F32).unwrap().transpose().unwrap();
        let want = x.matmul(&wide).unwrap();
        assert_eq!(
            mixed.to_vec::<f32>().unwrap(),
            want.to_vec::<f32>().unwrap(),
            "{dtype}"
        );
        // The other way round: bf16/f16 activations times f32 weights.
        let back = w.matmul(&x.transpose().unwrap()).unwrap();
        let want = w
            .astype(DType::F32)
            .unwrap()
            .matmul(&x.transpose().unwrap())
            .unwrap();
        assert_eq!(
            back.to_vec::<f32>().unwrap(),
            want.to_vec::<f32>().unwrap(),
            "{dtype}"
        );
    }
}
