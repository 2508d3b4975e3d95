//! Each layer of `ferrite-nn` against an independent scalar reference written
//! here: f64 loops over the same `Vec<f32>` inputs, no Ferrite ops. Inputs are
//! seeded pseudo-random values of awkward sizes (odd dims, batch and sequence 1
//! and > 1), so nothing depends on hand-written expected outputs.

use std::ops::Range;

use ferrite_core::prim::RopeLayout;
use ferrite_core::{Array, DType, Llama3RopeScaling, Result};
use ferrite_nn::{
    Attention, AttentionConfig, Embedding, KvCache, LayerKv, Linear, RmsNorm, Rope, RopeScaling,
    SwiGlu,
};

// ---------------------------------------------------------------- helpers

/// SplitMix64: a tiny seeded generator, so the test needs no extra dependency.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `n` values uniform in `[-scale, scale)`.
    fn vec(&mut self, n: usize, scale: f32) -> Vec<f32> {
        (0..n)
            .map(|_| ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale)
            .collect()
    }
}

fn arr(v: &[f32], shape: &[usize]) -> Array {
    Array::from_slice(v, shape).expect("test data matches its shape")
}

fn f64s(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| x as f64).collect()
}

/// Passes when `|got - want| <= atol + rtol * |want|` everywhere; the message
/// names the worst element so a failure says how far off it is.
#[track_caller]
fn assert_close(what: &str, got: &[f32], want: &[f64], atol: f64, rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = (0usize, 0.0f64);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let excess = (g as f64 - w).abs() - (atol + rtol * w.abs());
        if excess > worst.1 || excess.is_nan() {
            worst = (i, excess);
        }
    }
    let i = worst.0;
    assert!(
        worst.1 <= 0.0,
        "{what}: element {i} is {} but the reference gives {} (atol {atol}, rtol {rtol})",
        got[i],
        want[i]
    );
}

// ------------------------------------------------------ scalar references

/// `y[r, o] = Σ_i x[r, i] · w[o, i] + b[o]` with `w` stored `[out, in]`.
fn linear_ref(x: &[f64], w: &[f32], b: Option<&[f32]>, out: usize) -> Vec<f64> {
    let inp = w.len() / out;
    let mut y = Vec::with_capacity(x.len() / inp * out);
    for row in x.chunks_exact(inp) {
        for o in 0..out {
            let dot: f64 = (0..inp).map(|i| row[i] * w[o * inp + i] as f64).sum();
            y.push(dot + b.map_or(0.0, |b| b[o] as f64));
        }
    }
    y
}

fn silu(x: f64) -> f64 {
    x / (1.0 + (-x).exp())
}

/// `theta_i = base^(-2i/dims)` for `i < dims/2`.
fn plain_inv_freq(dims: usize, base: f64) -> Vec<f64> {
    (0..dims / 2)
        .map(|i| base.powf(-2.0 * i as f64 / dims as f64))
        .collect()
}

/// Llama 3.1's frequency scaling as published (Meta's `apply_scaling`, also
/// Hugging Face's `_compute_llama3_parameters`): wavelengths shorter than
/// `ctx / high` keep their frequency, longer than `ctx / low` are divided by
/// `factor`, and the band between blends the two by
/// `smooth = (ctx / wavelen - low) / (high - low)`. Also returns how many
/// frequencies fell in each band, so a test can check it covered all three.
/// (At a wavelength of exactly `ctx / low` Meta blends to `f / factor` while
/// MLX and Ferrite keep `f`; no frequency used here sits on that boundary.)
fn llama3_inv_freq(dims: usize, base: f64, s: Llama3RopeScaling) -> (Vec<f64>, [usize; 3]) {
    let (factor, ctx) = (s.factor as f64, s.original_max_position_embeddings as f64);
    let (low, high) = (s.low_freq_factor as f64, s.high_freq_factor as f64);
    let (low_wavelen, high_wavelen) = (ctx / low, ctx / high);
    let mut bands = [0; 3];
    let freqs = plain_inv_freq(dims, base)
        .into_iter()
        .map(|f| {
            let wavelen = 2.0 * std::f64::consts::PI / f;
            if wavelen < high_wavelen {
                bands[0] += 1;
                f
            } else if wavelen > low_wavelen {
                bands[2] += 1;
                f / factor
            } else {
                bands[1] += 1;
                let smooth = (ctx / wavelen - low) / (high - low);
                (1.0 - smooth) * f / factor + smooth * f
            }
        })
        .collect();
    (freqs, bands)
}

/// Rotates the first `2 * inv_freq.len()` features of one head vector by
/// `pos · theta_i`: pairs `(2i, 2i+1)` when interleaved, `(i, i + half)` when
/// split in halves; the rest pass through.
fn rotate_ref(v: &mut [f64], pos: f64, inv_freq: &[f64], layout: RopeLayout) {
    let half = inv_freq.len();
    for (i, &f) in inv_freq.iter().enumerate() {
        let (s, c) = (pos * f).sin_cos();
        let (a, b) = match layout {
            RopeLayout::Interleaved => (2 * i, 2 * i + 1),
            RopeLayout::SplitHalves => (i, i + half),
        };
        let (x0, x1) = (v[a], v[b]);
        v[a] = x0 * c - x1 * s;
        v[b] = x0 * s + x1 * c;
    }
}

/// RoPE of `x [..., T, D]`: row `r` is at position `(offset + r % T) · pos_scale`.
fn rope_ref(
    x: &[f32],
    t: usize,
    d: usize,
    offset: usize,
    pos_scale: f64,
    inv_freq: &[f64],
    layout: RopeLayout,
) -> Vec<f64> {
    let mut y = f64s(x);
    for (r, row) in y.chunks_exact_mut(d).enumerate() {
        let pos = (offset + r % t) as f64 * pos_scale;
        rotate_ref(row, pos, inv_freq, layout);
    }
    y
}

// The head layout every attention test uses: 6 query heads sharing 2 KV heads
// (groups of 3), odd head_dim 7 with a 6-dim partial rotary, hidden 11.
const HIDDEN: usize = 11;
const HQ: usize = 6;
const HKV: usize = 2;
const HD: usize = 7;
const ROPE_DIMS: usize = 6;

/// An attention layer's parameters as plain data; `build` makes the Ferrite
/// layer from the very same numbers the reference reads.
#[derive(Clone)]
struct AttnParams {
    layout: RopeLayout,
    window: Option<usize>,
    /// `[out, in]` weights of the q, k, v and o projections.
    w: [Vec<f32>; 4],
    /// q/k/v biases (Qwen2 style) or none (Llama); o never has one.
    qkv_bias: Option<[Vec<f32>; 3]>,
}

impl AttnParams {
    fn random(rng: &mut Rng, layout: RopeLayout, window: Option<usize>, bias: bool) -> AttnParams {
        // Weights ~ 2/sqrt(fan_in) so the softmax is neither flat nor one-hot.
        let (ws, (qd, kd)) = (2.0 / (HIDDEN as f32).sqrt(), (HQ * HD, HKV * HD));
        let mut v = |n: usize, scale: f32| rng.vec(n, scale);
        AttnParams {
            layout,
            window,
            w: [
                v(qd * HIDDEN, ws),
                v(kd * HIDDEN, ws),
                v(kd * HIDDEN, ws),
                v(HIDDEN * qd, 1.0 / (qd as f32).sqrt()),
            ],
            qkv_bias: bias.then(|| [v(qd, 0.5), v(kd, 0.5), v(kd, 0.5)]),
        }
    }

    fn build(&self) -> Result<Attention> {
        let (h, qd, kd) = (HIDDEN, HQ * HD, HKV * HD);
        let lin = |i: usize, o: usize, n: usize| {
            let bias = self.qkv_bias.as_ref().filter(|_| i < 3);
            Linear::new(arr(&self.w[i], &[o, n]), bias.map(|b| arr(&b[i], &[o])))
        };
        let cfg = AttentionConfig {
            n_heads: HQ,
            n_kv_heads: HKV,
            head_dim: HD,
            rope: Rope::new(ROPE_DIMS, 10000.0, self.layout, &RopeScaling::None)?,
            sliding_window: self.window,
        };
        Attention::new(
            lin(0, qd, h)?,
            lin(1, kd, h)?,
            lin(2, kd, h)?,
            lin(3, h, qd)?,
            cfg,
        )
    }

    /// The whole sequence `x [B, T, hidden]` from position 0: project (with
    /// bias), rotate q and k per head at position `t` (after the bias, as
    /// `Attention::forward` does; v is not rotated), repeat each K/V head for its
    /// `hq / hkv` query heads (query head `h` reads KV head `h / group`), mask
    /// causally (and by the window), softmax(q·k / sqrt(d)) · v, project out.
    fn reference(&self, x: &[f32], b: usize, t: usize) -> Vec<f64> {
        let (hq, hkv, d) = (HQ, HKV, HD);
        let proj = |i: usize, out: usize| {
            let bias = self.qkv_bias.as_ref().map(|bs| bs[i].as_slice());
            linear_ref(&f64s(x), &self.w[i], bias, out)
        };
        let (mut q, mut k, v) = (proj(0, hq * d), proj(1, hkv * d), proj(2, hkv * d));
        let inv_freq = plain_inv_freq(ROPE_DIMS, 10000.0);
        for (m, heads) in [(&mut q, hq), (&mut k, hkv)] {
            for (r, row) in m.chunks_exact_mut(heads * d).enumerate() {
                for head in row.chunks_exact_mut(d) {
                    rotate_ref(head, (r % t) as f64, &inv_freq, self.layout);
                }
            }
        }
        let group = hq / hkv;
        let scale = 1.0 / (d as f64).sqrt();
        let mut ctx = vec![0.0; b * t * hq * d];
        for bi in 0..b {
            for h in 0..hq {
                let g = h / group;
                let qv = |i: usize| &q[((bi * t + i) * hq + h) * d..][..d];
                let kv = |m: &[f64], j: usize| m[((bi * t + j) * hkv + g) * d..][..d].to_vec();
                for i in 0..t {
                    let first = self.window.map_or(0, |w| (i + 1).saturating_sub(w));
                    let scores: Vec<f64> = (first..=i)
                        .map(|j| {
                            qv(i).iter().zip(kv(&k, j)).map(|(a, b)| a * b).sum::<f64>() * scale
                        })
                        .collect();
                    let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                    let e: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
                    let sum: f64 = e.iter().sum();
                    let out = &mut ctx[((bi * t + i) * hq + h) * d..][..d];
                    for (j, p) in (first..=i).zip(&e) {
                        for (o, vj) in out.iter_mut().zip(kv(&v, j)) {
                            *o += p / sum * vj;
                        }
                    }
                }
            }
        }
        linear_ref(&ctx, &self.w[3], None, HIDDEN)
    }
}

/// Positions `r` of `v [B, T, w]`, as `[B, r.len(), w]`.
fn positions<T: Copy>(v: &[T], b: usize, t: usize, w: usize, r: Range<usize>) -> Vec<T> {
    (0..b)
        .flat_map(|bi| v[(bi * t + r.start) * w..(bi * t + r.end) * w].to_vec())
        .collect()
}

/// Feeds positions `cache.len()..T` of `x [B, T, hidden]` through `attn` in
/// chunks of the given lengths and returns their outputs, `[B, T - len, hidden]`.
fn run_chunks(
    attn: &Attention,
    cache: &mut LayerKv,
    x: &[f32],
    (b, t, h): (usize, usize, usize),
    chunks: &[usize],
) -> Result<Vec<f32>> {
    let mut parts = Vec::new();
    for &n in chunks {
        let start = cache.len();
        let part = positions(x, b, t, h, start..start + n);
        let y = attn.forward(&arr(&part, &[b, n, h]), cache)?;
        assert_eq!(y.shape(), [b, n, h]);
        assert_eq!(
            cache.len(),
            start + n,
            "append grows the cache by the chunk"
        );
        parts.push(y.to_vec::<f32>()?);
    }
    assert_eq!(cache.len(), t, "chunks cover the sequence");
    Ok((0..b)
        .flat_map(|bi| {
            let parts = parts.iter().zip(chunks);
            parts.flat_map(move |(y, &n)| y[bi * n * h..(bi + 1) * n * h].to_vec())
        })
        .collect())
}

// Attention runs in f32 (GEMM/GEMV with different summation orders, f32
// softmax) against an f64 reference; outputs are O(1) and the observed error
// is ~2e-7, so these leave a 10x margin.
#[track_caller]
fn assert_attn_close(what: &str, got: &[f32], want: &[f64]) {
    assert_close(what, got, want, 2e-6, 1e-5);
}

// ------------------------------------------------------------------ tests

#[test]
fn linear_matches_scalar_matmul_with_and_without_bias() -> Result<()> {
    ferrite_cpu::install();
    let mut rng = Rng(1);
    let (inp, out) = (13, 7);
    let w = rng.vec(out * inp, 1.0);
    let bias = rng.vec(out, 1.0);
    // One row, and a batched [2, 3, in] input (leading axes are kept).
    for shape in [vec![1, inp], vec![2, 3, inp]] {
        let x = rng.vec(shape.iter().product(), 1.0);
        for b in [None, Some(&bias)] {
            let layer = Linear::new(arr(&w, &[out, inp]), b.map(|b| arr(b, &[out])))?;
            assert_eq!((layer.in_features(), layer.out_features()), (inp, out));
            let y = layer.forward(&arr(&x, &shape))?;
            let mut want_shape = shape.clone();
            *want_shape.last_mut().unwrap() = out;
            assert_eq!(y.shape(), want_shape.as_slice());
            let want = linear_ref(&f64s(&x), &w, b.map(|b| b.as_slice()), out);
            // 13-term f32 dot products of O(1) values: observed error ~3e-7.
            assert_close("linear", &y.to_vec::<f32>()?, &want, 2e-6, 1e-6);
        }
    }
    Ok(())
}

#[test]
fn linear_constructor_rejects_bad_shapes_with_errors() {
    let z = |shape: &[usize]| Array::zeros(shape, DType::F32).unwrap();
    let err = Linear::new(z(&[4, 3]), Some(z(&[3])))
        .unwrap_err()
        .to_string();
    assert!(err.contains("Linear") && err.contains("bias"), "{err}");
    assert!(Linear::new(z(&[4, 3]), Some(z(&[1, 4]))).is_err());
    for shape in [&[12][..], &[2, 2, 3]] {
        let err = Linear::new(z(shape), None).unwrap_err().to_string();
        assert!(err.contains("Linear") && err.contains("[out, in]"), "{err}");
    }
}

#[test]
fn embedding_gathers_rows_bit_exactly_and_rejects_unknown_ids() -> Result<()> {
    ferrite_cpu::install();
    let mut rng = Rng(2);
    let (vocab, dim) = (11, 5);
    let table = rng.vec(vocab * dim, 3.0);
    let emb = Embedding::new(arr(&table, &[vocab, dim]))?;
    assert_eq!((emb.vocab_size(), emb.dim()), (vocab, dim));
    // Repeated ids, the first and the last row, and a single id.
    for ids in [vec![3u32, 0, 10, 3, 7], vec![10]] {
        let y = emb.forward(&ids, DType::F32)?;
        assert_eq!(y.shape(), [ids.len(), dim]);
        let want: Vec<u32> = ids
            .iter()
            .flat_map(|&id| &table[id as usize * dim..][..dim])
            .map(|x| x.to_bits())
            .collect();
        let got: Vec<u32> = y.to_vec::<f32>()?.iter().map(|x| x.to_bits()).collect();
        assert_eq!(got, want, "a gather copies rows, so bits must match");
    }
    let err = emb.forward(&[1, 11], DType::F32).unwrap_err().to_string();
    assert!(err.contains("token id 11") && err.contains("11"), "{err}");
    assert!(Embedding::new(arr(&table, &[vocab * dim])).is_err());
    Ok(())
}

#[test]
fn rms_norm_matches_formula() -> Result<()> {
    ferrite_cpu::install();
    let mut rng = Rng(3);
    let (d, eps) = (17, 1e-5f32);
    let w = rng.vec(d, 2.0);
    let norm = RmsNorm::new(arr(&w, &[d]), eps)?;
    for (shape, scale) in [(vec![1, d], 1.0), (vec![3, 2, d], 4.0), (vec![2, d], 1e-3)] {
        // The 1e-3 rows have mean(x²) ~ 3e-7, below eps: eps must sit inside
        // the square root, added to the mean, for these to match.
        let x = rng.vec(shape.iter().product(), scale);
        let want: Vec<f64> = x
            .chunks_exact(d)
            .flat_map(|row| {
                let ms = row.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / d as f64;
                let r = 1.0 / (ms + eps as f64).sqrt();
                row.iter()
                    .zip(&w)
                    .map(move |(&v, &wi)| v as f64 * r * wi as f64)
            })
            .collect();
        let y = norm.forward(&arr(&x, &shape))?;
        assert_eq!(y.shape(), shape.as_slice());
        assert_close("rms_norm", &y.to_vec::<f32>()?, &want, 1e-6, 1e-6);
    }
    assert!(RmsNorm::new(arr(&w, &[1, d]), eps).is_err());
    Ok(())
}

#[test]
fn rope_both_layouts_match_scalar_rotation_with_offsets() -> Result<()> {
    ferrite_cpu::install();
    let mut rng = Rng(4);
    // x [B=2, H=3, T, D=10]; dims 10 rotates everything, dims 6 leaves 4
    // features untouched (partial rotary). T = 1 is a decode step.
    for layout in [RopeLayout::Interleaved, RopeLayout::SplitHalves] {
        for (dims, t, offset) in [(10, 5, 0), (6, 5, 7), (10, 1, 123), (6, 3, 4000)] {
            let d = 10;
            let x = rng.vec(2 * 3 * t * d, 1.0);
            let rope = Rope::new(dims, 10000.0, layout, &RopeScaling::None)?;
            assert_eq!((rope.dims(), rope.layout()), (dims, layout));
            let y = rope.forward(&arr(&x, &[2, 3, t, d]), offset)?;
            let inv_freq = plain_inv_freq(dims, 10000.0);
            let want = rope_ref(&x, t, d, offset, 1.0, &inv_freq, layout);
            // The kernel computes angles in f64 and rotates in f32 (observed
            // error ~1e-7 on |x| < 1).
            assert_close("rope", &y.to_vec::<f32>()?, &want, 1e-6, 0.0);
        }
    }
    Ok(())
}

#[test]
fn rope_scalings_match_scalar_references_and_bad_ones_are_errors() -> Result<()> {
    ferrite_cpu::install();
    let mut rng = Rng(5);
    let (dims, d, t, base) = (16, 18, 4, 10000.0);
    let plain = plain_inv_freq(dims, base as f64);
    // Llama 3 parameters chosen so the 8 wavelengths of dims 16
    // (2π·10⁴^(i/8): 6.3 ... 19869) fall in all three bands:
    // < 2048/8 = 256 kept, > 2048/1 stretched, the two between blended.
    let l3 = Llama3RopeScaling {
        factor: 8.0,
        low_freq_factor: 1.0,
        high_freq_factor: 8.0,
        original_max_position_embeddings: 2048.0,
    };
    let (l3_freq, bands) = llama3_inv_freq(dims, base as f64, l3);
    assert_eq!(bands, [4, 2, 2], "the reference covers every band");
    let factors: Vec<f32> = (0..dims / 2).map(|i| 1.0 + i as f32 * 0.75).collect();
    let ff_freq: Vec<f64> = plain
        .iter()
        .zip(&factors)
        .map(|(f, &k)| f / k as f64)
        .collect();
    let cases: [(RopeScaling, f64, &[f64]); 3] = [
        // Linear: positions divided by the factor.
        (RopeScaling::Linear { factor: 4.0 }, 0.25, &plain),
        (RopeScaling::Llama3(l3), 1.0, &l3_freq),
        // GGUF rope_freqs: each period base^(2i/d) multiplied by f_i.
        (RopeScaling::FreqFactors(factors.clone()), 1.0, &ff_freq),
    ];
    for layout in [RopeLayout::Interleaved, RopeLayout::SplitHalves] {
        for (scaling, pos_scale, inv_freq) in &cases {
            let rope = Rope::new(dims, base, layout, scaling)?;
            for offset in [0, 3001] {
                let x = rng.vec(3 * t * d, 1.0);
                let y = rope.forward(&arr(&x, &[1, 3, t, d]), offset)?;
                let want = rope_ref(&x, t, d, offset, *pos_scale, inv_freq, layout);
                // Llama 3 and freq factors hand the kernel f32 periods: a
                // 6e-8 relative rounding times angles up to ~3000 rad bounds
                // the error by ~2e-4 at offset 3001 (observed ~2e-5).
                let tol = if offset == 0 { 1e-6 } else { 2e-4 };
                let what = format!("rope {scaling:?} {layout:?} offset {offset}");
                assert_close(&what, &y.to_vec::<f32>()?, &want, tol, 0.0);
            }
        }
    }
    let rejected = |s: RopeScaling| Rope::new(8, 1e4, RopeLayout::SplitHalves, &s).is_err();
    assert!(rejected(RopeScaling::Linear { factor: 0.0 }));
    assert!(rejected(RopeScaling::Linear { factor: f32::NAN }));
    assert!(
        rejected(RopeScaling::FreqFactors(vec![1.0; 3])),
        "3 factors for 8 dims"
    );
    Ok(())
}

#[test]
fn attention_gqa_full_forward_matches_scalar_reference() -> Result<()> {
    ferrite_cpu::install();
    let mut rng = Rng(6);
    // With and without q/k/v bias, both layouts; one token, and sequences
    // at batch 1 and 2.
    for (layout, bias) in [
        (RopeLayout::SplitHalves, true),
        (RopeLayout::Interleaved, false),
    ] {
        let p = AttnParams::random(&mut rng, layout, None, bias);
        let attn = p.build()?;
        for (b, t) in [(1, 1), (1, 6), (2, 5)] {
            let x = rng.vec(b * t * HIDDEN, 1.0);
            let mut cache = LayerKv::default();
            let y = attn.forward(&arr(&x, &[b, t, HIDDEN]), &mut cache)?;
            assert_eq!(cache.len(), t);
            let what = format!("attention {layout:?} bias {bias} B{b} T{t}");
            let want = p.reference(&x, b, t);
            assert_attn_close(&what, &y.to_vec::<f32>()?, &want);
        }
    }
    Ok(())
}

#[test]
fn attention_rejects_bad_head_layouts() -> Result<()> {
    let lin = |o: usize, i: usize| Linear::new(Array::zeros(&[o, i], DType::F32)?, None);
    let make = |hq: usize, hkv: usize, rope_dims: usize, q_out: usize| {
        let d = 7;
        let cfg = AttentionConfig {
            n_heads: hq,
            n_kv_heads: hkv,
            head_dim: d,
            rope: Rope::new(rope_dims, 1e4, RopeLayout::SplitHalves, &RopeScaling::None)?,
            sliding_window: None,
        };
        let (k, v) = (lin(hkv * d, 11)?, lin(hkv * d, 11)?);
        Attention::new(lin(q_out, 11)?, k, v, lin(11, hq * d)?, cfg)
    };
    make(6, 2, 6, 42)?; // the layout the other tests use
    assert!(make(6, 4, 6, 42).is_err(), "6 query heads, 4 KV heads");
    assert!(make(6, 2, 8, 42).is_err(), "8 rotary dims, head_dim 7");
    let err = make(6, 2, 6, 35).unwrap_err().to_string();
    assert!(err.contains("q projection has 35 features"), "{err}");
    Ok(())
}

#[test]
fn cached_decode_matches_full_sequence_at_every_position() -> Result<()> {
    ferrite_cpu::install();
    let mut rng = Rng(8);
    let p = AttnParams::random(&mut rng, RopeLayout::SplitHalves, None, true);
    let attn = p.build()?;
    let dims = (2, 9, HIDDEN);
    let x = rng.vec(2 * 9 * HIDDEN, 1.0);
    let want = p.reference(&x, 2, 9);
    let full = run_chunks(&attn, &mut LayerKv::default(), &x, dims, &[9])?;
    // Prefill 4 then one token at a time; and prefill 3, a 2-token chunk at
    // offset 3 (causal mask aligned to the last key), then single tokens.
    for chunks in [&[4, 1, 1, 1, 1, 1][..], &[3, 2, 1, 1, 1, 1]] {
        let got = run_chunks(&attn, &mut LayerKv::default(), &x, dims, chunks)?;
        let what = format!("cached decode {chunks:?}");
        assert_attn_close(&what, &got, &want);
        // The one-shot forward, up to f32 summation order (GEMV vs GEMM).
        assert_attn_close(&what, &got, &f64s(&full));
    }
    Ok(())
}

#[test]
fn sliding_window_matches_scalar_reference() -> Result<()> {
    ferrite_cpu::install();
    let mut rng = Rng(9);
    let p = AttnParams::random(&mut rng, RopeLayout::Interleaved, Some(3), false);
    let attn = p.build()?;
    let (b, t) = (2, 8);
    let x = rng.vec(b * t * HIDDEN, 1.0);
    let want = p.reference(&x, b, t);
    // The window must bite: the plain causal reference differs.
    let causal = AttnParams {
        window: None,
        ..p.clone()
    }
    .reference(&x, b, t);
    assert!(want.iter().zip(&causal).any(|(a, c)| (a - c).abs() > 1e-2));
    // One shot; decode that starts inside the window (total <= 3 needs no
    // mask) and crosses it; a multi-token chunk at an offset past the window.
    for chunks in [&[8][..], &[2, 1, 1, 1, 1, 1, 1], &[4, 3, 1]] {
        let got = run_chunks(&attn, &mut LayerKv::default(), &x, (b, t, HIDDEN), chunks)?;
        let what = format!("sliding window {chunks:?}");
        assert_attn_close(&what, &got, &want);
    }
    Ok(())
}

#[test]
fn swiglu_matches_scalar_reference() -> Result<()> {
    ferrite_cpu::install();
    let mut rng = Rng(10);
    let (hidden, inter) = (9, 13);
    let wg = rng.vec(inter * hidden, 1.0);
    let wu = rng.vec(inter * hidden, 1.0);
    let wd = rng.vec(hidden * inter, 1.0 / (inter as f32).sqrt());
    let lin = |w: &[f32], o: usize, i: usize| Linear::new(arr(w, &[o, i]), None);
    let (gate, up) = (lin(&wg, inter, hidden)?, lin(&wu, inter, hidden)?);
    let mlp = SwiGlu::new(gate.clone(), up.clone(), lin(&wd, hidden, inter)?)?;
    assert_eq!(mlp.parameters().len(), 3);
    for shape in [vec![1, hidden], vec![2, 3, hidden]] {
        let x = rng.vec(shape.iter().product(), 1.0);
        let xs = f64s(&x);
        let g = linear_ref(&xs, &wg, None, inter);
        let u = linear_ref(&xs, &wu, None, inter);
        let h: Vec<f64> = g.iter().zip(&u).map(|(&g, &u)| silu(g) * u).collect();
        let want = linear_ref(&h, &wd, None, hidden);
        let y = mlp.forward(&arr(&x, &shape))?;
        assert_eq!(y.shape(), shape.as_slice());
        assert_close("swiglu", &y.to_vec::<f32>()?, &want, 2e-6, 1e-6);
    }
    // down must map the intermediate size back to hidden.
    assert!(SwiGlu::new(gate, up, lin(&wd, inter, hidden)?).is_err());
    Ok(())
}

#[test]
fn truncate_then_reappend_equals_never_appending_the_dropped_tokens() -> Result<()> {
    ferrite_cpu::install();
    let mut rng = Rng(11);
    let p = AttnParams::random(&mut rng, RopeLayout::SplitHalves, None, true);
    let attn = p.build()?;
    let (b, keep, t, h) = (2, 4, 7, HIDDEN);
    let right = rng.vec(b * t * h, 1.0);
    // Same prefix, different last 3 tokens: these get appended, then rewound.
    let mut wrong = right.clone();
    for row in wrong.chunks_exact_mut(t * h) {
        row[keep * h..].copy_from_slice(&rng.vec((t - keep) * h, 1.0));
    }
    let mut cache = LayerKv::default();
    assert!(cache.is_empty());
    run_chunks(&attn, &mut cache, &wrong, (b, t, h), &[keep, 2, 1])?;
    assert_eq!(cache.arrays().count(), 2);
    cache.truncate(t + 5)?; // past the end: a no-op
    assert_eq!(cache.len(), t);
    cache.truncate(keep)?;
    assert_eq!(cache.len(), keep);
    // Re-append the real continuation (a chunk, then a single token).
    let tail = run_chunks(&attn, &mut cache, &right, (b, t, h), &[2, 1])?;
    let never = run_chunks(&attn, &mut LayerKv::default(), &right, (b, t, h), &[t])?;
    let want = positions(&p.reference(&right, b, t), b, t, h, keep..t);
    assert_attn_close("after truncate vs reference", &tail, &want);
    let never = f64s(&positions(&never, b, t, h, keep..t));
    assert_attn_close("after truncate vs fresh cache", &tail, &never);
    cache.truncate(0)?;
    assert!(cache.is_empty() && cache.arrays().count() == 0);

    // The whole-model cache: one LayerKv per layer, truncated and cleared together.
    let mut kv = KvCache::new(3);
    assert!(kv.is_empty());
    for i in 0..3 {
        let layer = kv.layer_mut(i).expect("3 layers");
        run_chunks(&attn, layer, &right, (b, t, h), &[t])?;
    }
    assert!(kv.layer_mut(3).is_none());
    assert_eq!((kv.len(), kv.arrays().len()), (t, 6));
    kv.truncate(1)?;
    assert_eq!(kv.len(), 1);
    kv.clear();
    assert!(kv.is_empty() && kv.arrays().is_empty());
    Ok(())
}

#[test]
fn cache_grows_past_its_capacity_and_decode_writes_in_place() -> Result<()> {
    ferrite_cpu::install();
    let mut rng = Rng(12);
    let p = AttnParams::random(&mut rng, RopeLayout::SplitHalves, None, false);
    let attn = p.build()?;
    let (b, t, h) = (2, 262, HIDDEN);
    let x = rng.vec(b * t * h, 1.0);
    let want = p.reference(&x, b, t);
    let key_buffer = |c: &LayerKv| {
        c.arrays()
            .next()
            .and_then(|k| k.data())
            .map(|d| d.storage.bytes().as_ptr() as usize)
    };
    let mut got = vec![0.0f32; b * t * h];
    let mut feed = |cache: &mut LayerKv, n: usize| -> Result<()> {
        let start = cache.len();
        let part = positions(&x, b, t, h, start..start + n);
        let y = attn
            .forward(&arr(&part, &[b, n, h]), cache)?
            .to_vec::<f32>()?;
        for bi in 0..b {
            let dst = (bi * t + start) * h;
            got[dst..dst + n * h].copy_from_slice(&y[bi * n * h..(bi + 1) * n * h]);
        }
        Ok(())
    };
    let mut cache = LayerKv::default();
    feed(&mut cache, 250)?;
    feed(&mut cache, 1)?;
    assert_eq!(cache.capacity(), 256);
    let home = key_buffer(&cache);
    assert!(
        home.is_some(),
        "the cache buffer is evaluated with the step"
    );
    while cache.len() < t {
        feed(&mut cache, 1)?;
        if cache.len() <= 256 {
            let at = cache.len();
            assert_eq!(key_buffer(&cache), home, "decode to {at} copied the cache");
        }
    }
    assert_eq!((cache.len(), cache.capacity()), (262, 512));
    // Keys and values that are not [B, H_kv, T, D] alike are an error naming both shapes.
    let flat = Array::zeros(&[2, 8], DType::F32)?;
    let err = cache.append(flat.clone(), flat).unwrap_err().to_string();
    assert!(
        err.contains("[2, 8]") && err.contains("B, H_kv, T, D"),
        "{err}"
    );
    let (k4, v4) = (
        Array::zeros(&[2, 2, 1, 8], DType::F32)?,
        Array::zeros(&[2, 2, 3, 8], DType::F32)?,
    );
    assert!(cache.append(k4, v4).is_err(), "T differs");
    let wide = Array::zeros(&[2, 2, 1, 9], DType::F32)?;
    assert!(
        cache.append(wide.clone(), wide).is_err(),
        "D differs from the cache's"
    );
    assert_eq!(cache.len(), 262, "a rejected append changes nothing");
    let kept = run_chunks(&attn, &mut cache, &x, (b, t, h), &[0]);
    assert!(kept.is_ok(), "the cache still works after rejected appends");
    assert_attn_close("cache across a growth", &got, &want);
    Ok(())
}
