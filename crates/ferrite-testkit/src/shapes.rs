//! Awkward shapes: the sizes that break kernels written for the easy case.

/// Axis sizes around the edges of loops, SIMD widths and tiles: empty, one,
/// and odd sizes just past powers of two.
pub const ODD_SIZES: &[usize] = &[0, 1, 3, 7, 17, 33, 129];

/// A deterministic list of shapes of rank 0 to `max_rank`: the scalar, every
/// odd size as a vector, and for each higher rank a rotation through
/// [`ODD_SIZES`] (so every rank meets empty, size-1 and odd axes). Shapes are
/// kept under 2^17 elements so tests stay fast.
pub fn awkward_shapes(max_rank: usize) -> Vec<Vec<usize>> {
    let mut shapes = vec![vec![]];
    for rank in 1..=max_rank {
        for start in 0..ODD_SIZES.len() {
            // A stride coprime with the table's length walks through all sizes.
            let mut shape: Vec<usize> = (0..rank)
                .map(|j| ODD_SIZES[(start + 3 * j) % ODD_SIZES.len()])
                .collect();
            while shape.iter().product::<usize>() >= 1 << 17 {
                let big = (0..rank).max_by_key(|&j| shape[j]).unwrap_or(0);
                shape[big] = 3;
            }
            if !shapes.contains(&shape) {
                shapes.push(shape);
            }
        }
    }
    shapes
}

#[cfg(test)]
mod tests {
    #[test]
    fn covers_the_edges() {
        let shapes = super::awkward_shapes(3);
        assert!(shapes.contains(&vec![]));
        for rank in 1..=3 {
            let of_rank: Vec<_> = shapes.iter().filter(|s| s.len() == rank).collect();
            assert!(
                of_rank.iter().any(|s| s.contains(&0)),
                "rank {rank} has an empty axis"
            );
            assert!(
                of_rank.iter().any(|s| s.contains(&1)),
                "rank {rank} has a size-1 axis"
            );
        }
        assert!(shapes.iter().all(|s| s.iter().product::<usize>() < 1 << 17));
    }
}
