//! `slice_update` against an index-by-index reference, and its buffer donation: the
//! write goes into the target's buffer only when nothing else can see that buffer.

use ferrite_core::{Array, DType, Result};

/// Row-major strides of `shape`.
fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// `target` with `update` written at `start` of `axis`, element by element.
fn reference(
    target: &[f32],
    shape: &[usize],
    update: &[f32],
    u_shape: &[usize],
    axis: usize,
    start: usize,
) -> Vec<f32> {
    let (ts, us) = (strides(shape), strides(u_shape));
    let mut out = target.to_vec();
    for (flat, &u) in update.iter().enumerate() {
        let pos: usize = (0..u_shape.len())
            .map(|d| {
                let i = flat / us[d] % u_shape[d];
                (if d == axis { i + start } else { i }) * ts[d]
            })
            .sum();
        out[pos] = u;
    }
    out
}

fn random(shape: &[usize], seed: u64) -> Result<Array> {
    Array::random_normal(shape, 0.0, 1.0, seed, DType::F32)
}

/// Where an evaluated array's bytes live.
fn address(a: &Array) -> usize {
    a.data().map_or(0, |d| d.storage.bytes().as_ptr() as usize)
}

#[test]
fn matches_reference_on_awkward_shapes_axes_and_layouts() -> Result<()> {
    ferrite_cpu::install();
    let shapes: [&[usize]; 5] = [&[7], &[3, 5], &[2, 3, 17], &[1, 4, 9, 5], &[3, 1, 2]];
    let mut seed = 1;
    for shape in shapes {
        for axis in 0..shape.len() {
            for (start, len) in [(0, shape[axis]), (0, 1), (shape[axis] - 1, 1), (1, 0)] {
                if start + len > shape[axis] {
                    continue;
                }
                let mut u_shape = shape.to_vec();
                u_shape[axis] = len;
                seed += 2;
                let target = random(shape, seed)?;
                let update = random(&u_shape, seed + 1)?;
                let (t, u) = (target.to_vec::<f32>()?, update.to_vec::<f32>()?);
                let want = reference(&t, shape, &u, &u_shape, axis, start);
                let what = format!("{shape:?} axis {axis} at {start} len {len}");
                let got = target.slice_update(&update, axis as isize, start)?;
                assert_eq!(got.to_vec::<f32>()?, want, "{what}");
                // A transposed target (not writable in place: copied) and update.
                if shape.len() >= 2 {
                    let n = shape.len();
                    let mut perm: Vec<usize> = (0..n).collect();
                    perm.swap(0, n - 1);
                    let tt = target.permute(&perm)?.contiguous()?.permute(&perm)?;
                    let ut = update.permute(&perm)?.contiguous()?.permute(&perm)?;
                    let got = tt.slice_update(&ut, axis as isize, start)?;
                    assert_eq!(got.to_vec::<f32>()?, want, "{what}, transposed");
                }
            }
        }
    }
    Ok(())
}

#[test]
fn converts_the_update_to_the_targets_dtype() -> Result<()> {
    ferrite_cpu::install();
    let target = Array::zeros(&[2, 3], DType::F16)?;
    let update = Array::from_slice(&[1.5f32, -2.25], &[2, 1])?;
    let got = target.slice_update(&update, 1, 2)?;
    assert_eq!(got.dtype(), DType::F16);
    assert_eq!(
        got.astype(DType::F32)?.to_vec::<f32>()?,
        [0.0, 0.0, 1.5, 0.0, 0.0, -2.25]
    );
    Ok(())
}

#[test]
fn rejects_updates_that_do_not_fit() -> Result<()> {
    let target = Array::zeros(&[2, 4], DType::F32)?;
    let cases: [(&[usize], isize, usize); 4] = [
        (&[2, 2], 1, 3), // past the end
        (&[3, 1], 1, 0), // other axis differs
        (&[2], 0, 0),    // rank differs
        (&[2, 1], 2, 0), // no such axis
    ];
    for (shape, axis, start) in cases {
        let update = Array::zeros(shape, DType::F32)?;
        let err = target
            .slice_update(&update, axis, start)
            .expect_err("must not fit")
            .to_string();
        assert!(err.contains("slice_update"), "{err}");
    }
    Ok(())
}

#[test]
fn writes_in_place_only_when_nothing_else_sees_the_buffer() -> Result<()> {
    ferrite_cpu::install();
    let row = |v: f32| Array::from_slice(&[v; 3], &[1, 3]);

    // A buffer held only by the chain of updates: every step writes into it.
    // (The first write may copy: a filled array can be a broadcast scalar.)
    let mut buf = Array::zeros(&[64, 3], DType::F32)?.slice_update(&row(0.0)?, 0, 0)?;
    buf.eval()?;
    let home = address(&buf);
    for i in 1..64 {
        buf = buf.slice_update(&row(i as f32)?, 0, i)?;
        buf.eval()?;
        assert_eq!(address(&buf), home, "step {i} moved the buffer");
    }
    let want: Vec<f32> = (0..64).flat_map(|i| [i as f32; 3]).collect();
    assert_eq!(buf.to_vec::<f32>()?, want);

    // The caller still holds the target: it keeps its values.
    let kept = buf.clone();
    let updated = buf.slice_update(&row(-1.0)?, 0, 5)?;
    assert_eq!(updated.slice_axis(0, 5, 6)?.to_vec::<f32>()?, [-1.0; 3]);
    assert_ne!(address(&updated), home);
    assert_eq!(kept.to_vec::<f32>()?, want);

    // Only an evaluated view of the target survives: the storage is shared, so the
    // view keeps its values too.
    let view = kept.slice_axis(0, 0, 8)?;
    view.eval()?;
    let updated = kept.slice_update(&row(-2.0)?, 0, 0)?;
    drop(kept);
    assert_eq!(updated.slice_axis(0, 0, 1)?.to_vec::<f32>()?, [-2.0; 3]);
    assert_eq!(view.to_vec::<f32>()?, want[..24]);

    // Another reader in the same graph runs first or not: the target is not handed
    // over while a later consumer still needs it.
    let base = Array::zeros(&[4, 3], DType::F32)?.contiguous()?;
    let both = base.slice_update(&row(7.0)?, 0, 1)?.add(&base)?;
    drop(base);
    let sum = both.to_vec::<f32>()?;
    assert_eq!(&sum[3..6], [7.0; 3]);
    assert!(sum[..3].iter().chain(&sum[6..]).all(|&v| v == 0.0));
    Ok(())
}
