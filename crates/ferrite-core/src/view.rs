//! Stride arithmetic for view primitives, shared by every backend: a view is
//! new strides and offset over the same bytes.

use crate::shape::{broadcast_strides, contiguous_strides, Strides};
use crate::storage::Data;

/// Axis `i` of the result is axis `perm[i]` of the input.
pub fn permute(data: &Data, perm: &[usize]) -> Data {
    Data {
        strides: perm.iter().map(|&p| data.strides[p]).collect(),
        ..data.clone()
    }
}

/// Moves the origin to `starts` and multiplies strides by `steps`.
pub fn slice(data: &Data, starts: &[usize], steps: &[isize], elem_size: usize) -> Data {
    let shift: isize = starts
        .iter()
        .zip(&data.strides)
        .map(|(&s, &st)| s as isize * st)
        .sum();
    Data {
        storage: data.storage.clone(),
        offset: (data.offset as isize + shift * elem_size as isize) as usize,
        strides: data
            .strides
            .iter()
            .zip(steps)
            .map(|(&s, &k)| s * k)
            .collect(),
    }
}

/// Stride-0 view of `shape` data as `target`.
pub fn broadcast(data: &Data, shape: &[usize], target: &[usize]) -> Data {
    Data {
        strides: broadcast_strides(shape, &data.strides, target),
        ..data.clone()
    }
}

/// Reinterprets `data` (of shape `old`) as shape `new` without copying, if the
/// strides allow it; `None` means the backend must copy. Groups of old axes
/// that are contiguous among themselves can be split or merged freely.
pub fn reshape(data: &Data, old: &[usize], new: &[usize]) -> Option<Data> {
    if data.is_contiguous(old) {
        return Some(Data {
            strides: contiguous_strides(new),
            ..data.clone()
        });
    }
    // Size-1 old axes never matter; walk groups of old and new axes whose
    // products agree, and require each old group to be one strided run.
    let (od, os): (Vec<usize>, Vec<isize>) = old
        .iter()
        .zip(&data.strides)
        .filter(|(&d, _)| d != 1)
        .map(|(&d, &s)| (d, s))
        .unzip();
    let mut strides: Strides = Strides::from_elem(0, new.len());
    let (mut oi, mut ni) = (0usize, 0usize);
    while ni < new.len() && oi < od.len() {
        let (mut np, mut op) = (new[ni], od[oi]);
        let (mut nj, mut oj) = (ni + 1, oi + 1);
        while np != op {
            if np < op {
                np *= *new.get(nj)?;
                nj += 1;
            } else {
                op *= *od.get(oj)?;
                oj += 1;
            }
        }
        if (oi..oj - 1).any(|k| os[k] != od[k + 1] as isize * os[k + 1]) {
            return None;
        }
        strides[nj - 1] = os[oj - 1];
        for k in (ni + 1..nj).rev() {
            strides[k - 1] = strides[k] * new[k] as isize;
        }
        ni = nj;
        oi = oj;
    }
    Some(Data {
        strides,
        ..data.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::AlignedBuf;
    use std::sync::Arc;

    fn data(strides: &[isize]) -> Data {
        Data {
            storage: Arc::new(AlignedBuf::zeroed(4)),
            offset: 0,
            strides: strides.iter().copied().collect(),
        }
    }

    #[test]
    fn reshape_views_of_non_contiguous() {
        // Transposed (3, 4) viewed as (3, 2, 2): splitting the strided last axis works.
        let t = data(&[1, 3]);
        let r = reshape(&t, &[3, 4], &[3, 2, 2]).unwrap();
        assert_eq!(r.strides.as_slice(), &[1, 6, 3]);
        // Merging the two transposed axes cannot be a view.
        assert!(reshape(&t, &[3, 4], &[12]).is_none());
        // Size-1 axes are free.
        let r = reshape(&t, &[3, 4], &[1, 3, 1, 4]).unwrap();
        assert_eq!((r.strides[1], r.strides[3]), (1, 3));
        // A sliced row-major array (every other row) keeps rows mergeable with nothing.
        let s = data(&[16, 1]);
        let r = reshape(&s, &[4, 8], &[4, 2, 4]).unwrap();
        assert_eq!(r.strides.as_slice(), &[16, 4, 1]);
        assert!(reshape(&s, &[4, 8], &[32]).is_none());
    }
}
