//! Primitives that move bytes without arithmetic: views, copies, concatenation
//! and gathers by index.

use crate::access::{gather_contiguous, load_run};
use crate::pool::{PooledBuf, Scratch};
use ferrite_core::shape::{contiguous_strides, numel, Strides};
use ferrite_core::{view, DType, Data, Error, Result};
use std::sync::Arc;

/// Copies elements of `esize` bytes laid out as `shape` at `src`'s strides
/// into `dst` at `dst_offset`/`dst_strides`.
pub fn copy_strided(
    src: &Data,
    shape: &[usize],
    esize: usize,
    dst: &mut [u8],
    dst_offset: usize,
    dst_strides: &[isize],
) {
    if numel(shape) == 0 {
        return;
    }
    let bytes = src.storage.bytes();
    let nd = shape.len();
    if nd == 0 {
        dst[dst_offset..dst_offset + esize].copy_from_slice(&bytes[src.offset..src.offset + esize]);
        return;
    }
    let inner = shape[nd - 1];
    let (s_in, d_in) = (src.strides[nd - 1], dst_strides[nd - 1]);
    let mut idx = vec![0usize; nd - 1];
    loop {
        let s_off: isize = idx
            .iter()
            .zip(&src.strides)
            .map(|(&i, &s)| i as isize * s)
            .sum();
        let d_off: isize = idx
            .iter()
            .zip(dst_strides)
            .map(|(&i, &s)| i as isize * s)
            .sum();
        let s0 = src.offset as isize + s_off * esize as isize;
        let d0 = dst_offset as isize + d_off * esize as isize;
        if s_in == 1 && d_in == 1 {
            let (s, d) = (s0 as usize, d0 as usize);
            dst[d..d + inner * esize].copy_from_slice(&bytes[s..s + inner * esize]);
        } else {
            for k in 0..inner as isize {
                let s = (s0 + k * s_in * esize as isize) as usize;
                let d = (d0 + k * d_in * esize as isize) as usize;
                dst[d..d + esize].copy_from_slice(&bytes[s..s + esize]);
            }
        }
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// Bytes per element; block formats only ever move whole, so they count bytes.
fn elem_size(dtype: DType) -> usize {
    dtype.size().unwrap_or(1)
}

/// A view if the strides allow it, else a contiguous copy.
pub fn reshape(data: &Data, old: &[usize], new: &[usize], dtype: DType) -> Result<Data> {
    if let Some(v) = view::reshape(data, old, new) {
        return Ok(v);
    }
    if dtype.is_block() {
        return Err(Error::Backend {
            op: "reshape",
            msg: "block-quantized data must be contiguous".into(),
        });
    }
    let esize = elem_size(dtype);
    let mut buf = PooledBuf::take(numel(old) * esize);
    copy_strided(
        data,
        old,
        esize,
        buf.bytes_mut(),
        0,
        &contiguous_strides(old),
    );
    Ok(Data::contiguous(buf.into_storage(), 0, new))
}

/// Joins inputs along `axis` into a new contiguous buffer.
pub fn concat(
    parts: &[(Data, Vec<usize>)],
    out_shape: &[usize],
    axis: usize,
    dtype: DType,
) -> Data {
    let esize = elem_size(dtype);
    let mut buf = PooledBuf::take(numel(out_shape) * esize);
    let strides = contiguous_strides(out_shape);
    let mut pos = 0usize;
    for (data, shape) in parts {
        let offset = pos * strides[axis] as usize * esize;
        copy_strided(data, shape, esize, buf.bytes_mut(), offset, &strides);
        pos += shape[axis];
    }
    Data::contiguous(buf.into_storage(), 0, out_shape)
}

/// `target` (of `shape`) with `update` written at `start` along `axis`. The write goes
/// into `target`'s own buffer when its layout is contiguous (so every position is
/// written once) and nothing else shares the storage; otherwise into a fresh copy.
/// The graph only hands over a buffer nobody else can read (`Graph::donate`), and the
/// storage check here covers views of it that were made before.
pub fn slice_update(
    mut target: Data,
    shape: &[usize],
    update: (&Data, &[usize]),
    axis: usize,
    start: usize,
    dtype: DType,
) -> Data {
    let esize = elem_size(dtype);
    if target.is_contiguous(shape) {
        let strides = target.strides.clone();
        let at = target.offset as isize + start as isize * strides[axis] * esize as isize;
        if let Some(bytes) = Arc::get_mut(&mut target.storage).and_then(|s| s.bytes_mut()) {
            copy_strided(update.0, update.1, esize, bytes, at as usize, &strides);
            return target;
        }
    }
    let mut buf = PooledBuf::take(numel(shape) * esize);
    let strides = contiguous_strides(shape);
    copy_strided(&target, shape, esize, buf.bytes_mut(), 0, &strides);
    let at = start * strides[axis] as usize * esize;
    copy_strided(update.0, update.1, esize, buf.bytes_mut(), at, &strides);
    Data::contiguous(buf.into_storage(), 0, shape)
}

/// Reads an index array as i64 values, resolving negatives against `len`
/// and rejecting anything out of range.
fn indices(
    data: &Data,
    shape: &[usize],
    dtype: DType,
    len: usize,
    op: &'static str,
) -> Result<Vec<usize>> {
    let mut vals = Scratch::<f64>::new(numel(shape));
    gather_contiguous(data, shape, dtype, vals.as_mut_slice());
    vals.as_slice()
        .iter()
        .map(|&v| {
            let i = v as i64;
            let j = if i < 0 { i + len as i64 } else { i };
            if j < 0 || j >= len as i64 {
                Err(Error::Backend {
                    op,
                    msg: format!("index {i} is out of range for an axis of size {len}"),
                })
            } else {
                Ok(j as usize)
            }
        })
        .collect()
}

/// NumPy `take`: `out[pre, j, post] = a[pre, idx[j], post]`.
pub fn take(
    a: (&Data, &[usize]),
    idx: (&Data, &[usize], DType),
    axis: usize,
    dtype: DType,
) -> Result<Data> {
    let (a_data, a_shape) = a;
    let esize = elem_size(dtype);
    let ids = indices(idx.0, idx.1, idx.2, a_shape[axis], "take")?;
    let pre: usize = a_shape[..axis].iter().product();
    let post_shape = &a_shape[axis + 1..];
    let post: usize = post_shape.iter().product();
    let mut buf = PooledBuf::take(pre * ids.len() * post * esize);
    let out = buf.bytes_mut();
    let pre_shape = &a_shape[..axis];
    let pre_strides: Strides = a_data.strides[..axis].into();
    let post_strides: Vec<isize> = contiguous_strides(post_shape).to_vec();
    for p in 0..pre {
        // Offset of a[p, 0, 0...] from the multi-index of p.
        let (mut rem, mut off) = (p, 0isize);
        for d in (0..pre_shape.len()).rev() {
            off += (rem % pre_shape[d]) as isize * pre_strides[d];
            rem /= pre_shape[d];
        }
        for (j, &i) in ids.iter().enumerate() {
            let row = Data {
                storage: a_data.storage.clone(),
                offset: (a_data.offset as isize
                    + (off + i as isize * a_data.strides[axis]) * esize as isize)
                    as usize,
                strides: a_data.strides[axis + 1..].into(),
            };
            let dst = (p * ids.len() + j) * post * esize;
            copy_strided(&row, post_shape, esize, out, dst, &post_strides);
        }
    }
    let mut shape = a_shape[..axis].to_vec();
    shape.extend_from_slice(idx.1);
    shape.extend_from_slice(post_shape);
    Ok(Data::contiguous(buf.into_storage(), 0, &shape))
}

/// `take_along_axis` over a source and index array already broadcast to
/// the output shape (except the source's `axis`).
pub fn gather_along(
    src: (&Data, &[usize]),
    idx: (&Data, &[usize], DType),
    axis: usize,
    dtype: DType,
) -> Result<Data> {
    let (s_data, s_shape) = src;
    let out_shape = idx.1;
    let ids = indices(idx.0, out_shape, idx.2, s_shape[axis], "take_along_axis")?;
    let esize = elem_size(dtype);
    let mut buf = PooledBuf::take(ids.len() * esize);
    let out = buf.bytes_mut();
    let bytes = s_data.storage.bytes();
    let nd = out_shape.len();
    for (flat, &i) in ids.iter().enumerate() {
        let (mut rem, mut off) = (flat, 0isize);
        for d in (0..nd).rev() {
            let coord = if d == axis { i } else { rem % out_shape[d] };
            off += coord as isize * s_data.strides[d];
            rem /= out_shape[d];
        }
        let s = (s_data.offset as isize + off * esize as isize) as usize;
        out[flat * esize..(flat + 1) * esize].copy_from_slice(&bytes[s..s + esize]);
    }
    Ok(Data::contiguous(buf.into_storage(), 0, out_shape))
}

/// Contiguous `f32` rows of `data` (zero-copy when it already is aligned f32).
pub fn f32_rows(data: &Data, shape: &[usize], dtype: DType) -> F32Rows {
    let n = numel(shape);
    if dtype == DType::F32 && data.is_contiguous(shape) {
        let bytes = &data.storage.bytes()[data.offset..data.offset + n * 4];
        if bytemuck::try_cast_slice::<u8, f32>(bytes).is_ok() {
            return F32Rows::Borrowed(data.clone(), n);
        }
    }
    let mut s = Scratch::<f32>::new(n);
    if data.is_contiguous(shape) {
        load_run(
            data.storage.bytes(),
            dtype,
            data.offset as isize,
            1,
            s.as_mut_slice(),
        );
    } else {
        gather_contiguous(data, shape, dtype, s.as_mut_slice());
    }
    F32Rows::Owned(s)
}

/// Row-major f32 values, borrowed from the input or converted into scratch.
pub enum F32Rows {
    Borrowed(Data, usize),
    Owned(Scratch<f32>),
}

impl F32Rows {
    pub fn as_slice(&self) -> &[f32] {
        match self {
            F32Rows::Borrowed(d, n) => {
                bytemuck::cast_slice(&d.storage.bytes()[d.offset..d.offset + n * 4])
            }
            F32Rows::Owned(s) => s.as_slice(),
        }
    }
}
