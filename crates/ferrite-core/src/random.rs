//! Counter-based random numbers: element `i` of a seeded array is a pure
//! function of `(seed, i)`, so results never depend on thread count or order.

/// SplitMix64's finaliser: a bijective mix with full avalanche.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn bits(seed: u64, index: u64, stream: u64) -> u64 {
    mix(mix(seed ^ 0x9e37_79b9_7f4a_7c15).wrapping_add(index.wrapping_mul(2).wrapping_add(stream)))
}

/// A uniform sample in `[0, 1)` with 53 random bits.
pub fn uniform(seed: u64, index: u64) -> f64 {
    (bits(seed, index, 0) >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A standard normal sample (Box-Muller on two independent uniforms).
pub fn normal(seed: u64, index: u64) -> f64 {
    let u1 = ((bits(seed, index, 0) >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
    let u2 = (bits(seed, index, 1) >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    #[test]
    fn moments() {
        let n = 200_000u64;
        let xs: Vec<f64> = (0..n).map(|i| super::normal(7, i)).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(
            mean.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "mean {mean} var {var}"
        );
        let us: Vec<f64> = (0..n).map(|i| super::uniform(7, i)).collect();
        assert!(us.iter().all(|&u| (0.0..1.0).contains(&u)));
        let mean = us.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.005);
        assert_ne!(super::normal(1, 0), super::normal(2, 0));
    }
}
