//! Helpers shared by the integration tests.
#![allow(dead_code)]

use ferrite_kernels::{isa, with_isa, Isa};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Awkward slice lengths: empty, below/at/above every vector width and unroll factor.
pub const SIZES: [usize; 16] = [
    0, 1, 3, 7, 8, 15, 16, 17, 31, 33, 63, 65, 127, 255, 1000, 4099,
];

/// Runs `f` once per ISA this CPU supports, with every kernel forced onto it.
pub fn each_isa(mut f: impl FnMut(Isa)) {
    for i in isa::available() {
        with_isa(i, || f(i)).expect("available ISA must be accepted");
    }
}

pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

pub fn randv(r: &mut StdRng, n: usize, lo: f32, hi: f32) -> Vec<f32> {
    (0..n).map(|_| r.gen_range(lo..hi)).collect()
}
