use ferrite_core::{Array, DType, SliceArg};

fn arr(v: &[f32], s: &[usize]) -> Array {
    Array::from_slice(v, s).unwrap()
}

#[test]
fn basics() {
    ferrite_cpu::install();
    let a = arr(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &[2, 3]);
    let b = arr(&[10.0, 20.0, 30.0], &[3]);
    assert_eq!(
        a.add(&b).unwrap().to_vec::<f32>().unwrap(),
        vec![11.0, 22.0, 33.0, 14.0, 25.0, 36.0]
    );
    let t = a.transpose().unwrap();
    assert_eq!(
        t.to_vec::<f32>().unwrap(),
        vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
    );
    let s = a
        .slice(&[
            SliceArg::full(),
            SliceArg {
                start: None,
                stop: None,
                step: -2,
            },
        ])
        .unwrap();
    assert_eq!(s.to_vec::<f32>().unwrap(), vec![3.0, 1.0, 6.0, 4.0]);
    assert_eq!(
        a.sum(&[1], false).unwrap().to_vec::<f32>().unwrap(),
        vec![6.0, 15.0]
    );
    assert_eq!(a.sum(&[0], true).unwrap().shape(), &[1, 3]);
    let m = a.matmul(&t).unwrap();
    assert_eq!(m.to_vec::<f32>().unwrap(), vec![14.0, 32.0, 32.0, 77.0]);
    let sm = a.softmax(0).unwrap().to_vec::<f32>().unwrap();
    assert!((sm[0] + sm[3] - 1.0).abs() < 1e-6);
    let fused = a
        .silu()
        .unwrap()
        .mul(&a)
        .unwrap()
        .astype(DType::BF16)
        .unwrap();
    assert_eq!(fused.to_f32_vec().unwrap().len(), 6);
    assert_eq!(
        a.argmax(1, false).unwrap().to_vec::<i32>().unwrap(),
        vec![2, 2]
    );
    let ids = Array::from_slice(&[1i32, 0, 1], &[3]).unwrap();
    assert_eq!(
        a.take(&ids, 0).unwrap().to_vec::<f32>().unwrap()[..3],
        [4.0, 5.0, 6.0]
    );
    let c = Array::concatenate(&[a.clone(), a.clone()], 1).unwrap();
    assert_eq!(
        c.to_vec::<f32>().unwrap()[..6],
        [1.0, 2.0, 3.0, 1.0, 2.0, 3.0]
    );
}

/// Attention against its definition built from other ops (K/V heads repeated explicitly).
#[test]
fn attention_matches_composition() {
    ferrite_cpu::install();
    let (b, hq, hkv, tq, tk, d) = (2, 6, 2, 5, 9, 8);
    let q = Array::random_normal(&[b, hq, tq, d], 0.0, 1.0, 1, DType::F32).unwrap();
    let k = Array::random_normal(&[b, hkv, tk, d], 0.0, 1.0, 2, DType::F32).unwrap();
    let v = Array::random_normal(&[b, hkv, tk, d], 0.0, 1.0, 3, DType::F32).unwrap();
    let scale = 0.3f32;
    let got = Array::attention(&q, &k, &v, scale, true, None)
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    let rep = |x: &Array| {
        let idx: Vec<i32> = (0..hq as i32).map(|h| h / (hq / hkv) as i32).collect();
        x.take(&Array::from_slice(&idx, &[hq]).unwrap(), 1).unwrap()
    };
    let s = q
        .matmul(&rep(&k).swapaxes(-1, -2).unwrap())
        .unwrap()
        .mul_scalar(scale as f64)
        .unwrap();
    // Causal with tq < tk: query i sees keys j <= i + (tk - tq).
    let i = Array::arange(0.0, tq as f64, 1.0, DType::I32)
        .unwrap()
        .reshape(&[tq as isize, 1])
        .unwrap();
    let j = Array::arange(0.0, tk as f64, 1.0, DType::I32).unwrap();
    let keep = j.le(&i.add_scalar((tk - tq) as f64).unwrap()).unwrap();
    let neg = Array::full(&[], f64::NEG_INFINITY, DType::F32).unwrap();
    let s = Array::where_(&keep, &s, &neg).unwrap();
    let want = s
        .softmax(-1)
        .unwrap()
        .matmul(&rep(&v))
        .unwrap()
        .to_vec::<f32>()
        .unwrap();
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() < 1e-5, "{g} vs {w}");
    }
}

/// A very long unevaluated chain neither overflows the stack when evaluated
/// (kernels are capped in size) nor when dropped (nodes unlink iteratively).
#[test]
fn long_chains_are_safe() {
    ferrite_cpu::install();
    let x = Array::ones(&[3], DType::F32).unwrap();
    let mut y = x.clone();
    for _ in 0..200_000 {
        y = y.add(&x).unwrap();
    }
    assert_eq!(y.to_vec::<f32>().unwrap(), vec![200_001.0; 3]);
    let mut z = x.clone();
    for _ in 0..200_000 {
        z = z.mul(&x).unwrap();
    }
    drop(z);
}
