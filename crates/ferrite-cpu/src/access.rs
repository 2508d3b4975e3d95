//! Reading and writing elements of any dtype at any stride as `f32`/`f64`.
//! Dtype dispatch happens once per run of elements, never per element.

use ferrite_core::shape::numel;
use ferrite_core::{DType, Data};
use half::{bf16, f16};

/// The two arithmetic domains kernels compute in: f32 for float data, f64
/// when integers need exact arithmetic (every i32 and i64 up to 2^53).
pub trait Real: Copy + Send + Sync + PartialOrd + bytemuck::Pod + 'static {
    const ZERO: Self;
    /// The dtype whose elements are exactly this type, read without conversion.
    const NATIVE: Option<DType>;
    fn from_f64(v: f64) -> Self;
    fn to_f64(self) -> f64;
    fn from_f32(v: f32) -> Self;
    fn to_f32(self) -> f32;
    /// SIMD conversion of contiguous half-precision data, where the domain has one.
    fn load_f16(_bytes: &[u8], _start: isize, _out: &mut [Self]) -> bool {
        false
    }
    fn load_bf16(_bytes: &[u8], _start: isize, _out: &mut [Self]) -> bool {
        false
    }
    fn store_f16(_vals: &[Self], _out: &mut [u8]) -> bool {
        false
    }
    fn store_bf16(_vals: &[Self], _out: &mut [u8]) -> bool {
        false
    }
}

impl Real for f32 {
    const ZERO: f32 = 0.0;
    const NATIVE: Option<DType> = Some(DType::F32);
    fn load_f16(bytes: &[u8], start: isize, out: &mut [f32]) -> bool {
        let b = start as usize;
        bytemuck::try_cast_slice::<u8, f16>(&bytes[b..b + out.len() * 2])
            .is_ok_and(|src| ferrite_kernels::f16_to_f32(src, out).is_ok())
    }
    fn load_bf16(bytes: &[u8], start: isize, out: &mut [f32]) -> bool {
        let b = start as usize;
        bytemuck::try_cast_slice::<u8, bf16>(&bytes[b..b + out.len() * 2])
            .is_ok_and(|src| ferrite_kernels::bf16_to_f32(src, out).is_ok())
    }
    fn store_f16(vals: &[f32], out: &mut [u8]) -> bool {
        bytemuck::try_cast_slice_mut::<u8, f16>(out)
            .is_ok_and(|dst| ferrite_kernels::f32_to_f16(vals, dst).is_ok())
    }
    fn store_bf16(vals: &[f32], out: &mut [u8]) -> bool {
        bytemuck::try_cast_slice_mut::<u8, bf16>(out)
            .is_ok_and(|dst| ferrite_kernels::f32_to_bf16(vals, dst).is_ok())
    }
    fn from_f64(v: f64) -> f32 {
        v as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    fn from_f32(v: f32) -> f32 {
        v
    }
    fn to_f32(self) -> f32 {
        self
    }
}

impl Real for f64 {
    const ZERO: f64 = 0.0;
    const NATIVE: Option<DType> = None;
    fn from_f64(v: f64) -> f64 {
        v
    }
    fn to_f64(self) -> f64 {
        self
    }
    fn from_f32(v: f32) -> f64 {
        v as f64
    }
    fn to_f32(self) -> f32 {
        self as f32
    }
}

fn read<const N: usize>(bytes: &[u8], pos: isize) -> [u8; N] {
    let p = pos as usize;
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[p..p + N]);
    out
}

/// Elements of a typed view: contiguous, broadcast (stride 0) or strided.
fn typed_run<E: bytemuck::Pod, T: Real>(
    all: &[E],
    base: isize,
    stride: isize,
    out: &mut [T],
    conv: impl Fn(E) -> T,
) {
    match stride {
        1 => {
            let (b, n) = (base as usize, out.len());
            out.iter_mut()
                .zip(&all[b..b + n])
                .for_each(|(o, &v)| *o = conv(v));
        }
        0 => out.fill(conv(all[base as usize])),
        _ => out
            .iter_mut()
            .enumerate()
            .for_each(|(k, o)| *o = conv(all[(base + k as isize * stride) as usize])),
    }
}

/// Loads `out.len()` elements of `dtype` starting at byte `start`, `stride`
/// elements apart, converting to `T`.
pub fn load_run<T: Real>(bytes: &[u8], dtype: DType, start: isize, stride: isize, out: &mut [T]) {
    let size = dtype.size().unwrap_or(1) as isize;
    // Aligned storage (every owned buffer) is read as typed slices; only
    // misaligned mapped data takes the byte-wise path.
    macro_rules! typed {
        ($e:ty, $conv:expr, $fallback:expr) => {
            match bytemuck::try_cast_slice::<u8, $e>(bytes) {
                Ok(all) if start % size == 0 => typed_run(all, start / size, stride, out, $conv),
                _ => {
                    let mut pos = start;
                    for o in out.iter_mut() {
                        *o = $fallback(read(bytes, pos));
                        pos += stride * size;
                    }
                }
            }
        };
    }
    match dtype {
        DType::F32 => typed!(f32, T::from_f32, |b| T::from_f32(f32::from_ne_bytes(b))),
        DType::F16 if stride == 1 && T::load_f16(bytes, start, out) => {}
        DType::BF16 if stride == 1 && T::load_bf16(bytes, start, out) => {}
        DType::F16 => typed!(f16, |v: f16| T::from_f32(v.to_f32()), |b| T::from_f32(
            f16::from_ne_bytes(b).to_f32()
        )),
        DType::BF16 => typed!(bf16, |v: bf16| T::from_f32(v.to_f32()), |b| T::from_f32(
            bf16::from_ne_bytes(b).to_f32()
        )),
        DType::I32 => typed!(i32, |v: i32| T::from_f64(v as f64), |b| T::from_f64(
            i32::from_ne_bytes(b) as f64
        )),
        DType::I64 => typed!(i64, |v: i64| T::from_f64(v as f64), |b| T::from_f64(
            i64::from_ne_bytes(b) as f64
        )),
        DType::U8 => typed_run(bytes, start, stride, out, |v: u8| T::from_f64(v as f64)),
        DType::I8 => typed_run(bytes, start, stride, out, |v: u8| {
            T::from_f64(v as i8 as f64)
        }),
        DType::Bool => typed_run(bytes, start, stride, out, |v: u8| {
            T::from_f64((v != 0) as u8 as f64)
        }),
        DType::Block(_) | DType::Opaque(_) => out.fill(T::ZERO),
    }
}

/// Truncates toward zero to i64; narrowing that to a smaller integer type
/// then wraps (two's complement), as integer overflow and casts do in MLX and
/// NumPy (`u8 200 + 100 == 44`), instead of saturating like a float cast.
fn wide_int<T: Real>(v: T) -> i64 {
    v.to_f64() as i64
}

/// Stores `vals` contiguously as `dtype` into `out` (which holds exactly them).
pub fn store_run<T: Real>(vals: &[T], dtype: DType, out: &mut [u8]) {
    macro_rules! run {
        ($n:literal, $conv:expr) => {
            for (o, &v) in out.chunks_exact_mut($n).zip(vals) {
                o.copy_from_slice(&$conv(v));
            }
        };
    }
    match dtype {
        DType::F32 => match bytemuck::try_cast_slice_mut::<u8, f32>(out) {
            Ok(f) => f.iter_mut().zip(vals).for_each(|(o, &v)| *o = v.to_f32()),
            Err(_) => run!(4, |v: T| v.to_f32().to_ne_bytes()),
        },
        DType::F16 if T::store_f16(vals, out) => {}
        DType::BF16 if T::store_bf16(vals, out) => {}
        DType::F16 => run!(2, |v: T| f16::from_f32(v.to_f32()).to_ne_bytes()),
        DType::BF16 => run!(2, |v: T| bf16::from_f32(v.to_f32()).to_ne_bytes()),
        DType::I32 => run!(4, |v: T| (wide_int(v) as i32).to_ne_bytes()),
        DType::I64 => run!(8, |v: T| wide_int(v).to_ne_bytes()),
        DType::U8 => run!(1, |v: T| [wide_int(v) as u8]),
        DType::I8 => run!(1, |v: T| [wide_int(v) as i8 as u8]),
        DType::Bool => run!(1, |v: T| [(v.to_f64() != 0.0) as u8]),
        DType::Block(_) | DType::Opaque(_) => {}
    }
}

/// The largest value of float `dtype` strictly below `high`.
pub fn largest_below(high: f64, dtype: DType) -> f64 {
    // Steps one unit in the last place toward -inf on the sign-magnitude bits.
    fn down(bits: u64, sign: u64) -> u64 {
        if bits == 0 {
            sign | 1
        } else if bits & sign != 0 {
            bits + 1
        } else {
            bits - 1
        }
    }
    let r = round_to(high, dtype);
    if r < high {
        return r;
    }
    match dtype {
        DType::F16 => {
            f16::from_bits(down(f16::from_f64(r).to_bits() as u64, 0x8000) as u16).to_f64()
        }
        DType::BF16 => {
            bf16::from_bits(down(bf16::from_f64(r).to_bits() as u64, 0x8000) as u16).to_f64()
        }
        _ => f32::from_bits(down((r as f32).to_bits() as u64, 0x8000_0000) as u32) as f64,
    }
}

/// Rounds a run of values to `dtype` (one dispatch per run, not per element).
pub fn round_run<T: Real>(src: &[T], dtype: DType, dst: &mut [T]) {
    if Some(dtype) == T::NATIVE {
        dst.copy_from_slice(src);
        return;
    }
    macro_rules! each {
        ($d:expr) => {
            dst.iter_mut()
                .zip(src)
                .for_each(|(o, &v)| *o = round_to(v, $d))
        };
    }
    // Naming the dtype in each arm lets `round_to` inline to one conversion.
    match dtype {
        DType::F32 => each!(DType::F32),
        DType::F16 => each!(DType::F16),
        DType::BF16 => each!(DType::BF16),
        DType::I32 => each!(DType::I32),
        DType::I64 => each!(DType::I64),
        DType::U8 => each!(DType::U8),
        DType::I8 => each!(DType::I8),
        DType::Bool => each!(DType::Bool),
        DType::Block(_) | DType::Opaque(_) => dst.copy_from_slice(src),
    }
}

/// Rounds a value to what `dtype` can hold (used by casts inside fused kernels).
#[inline(always)]
pub fn round_to<T: Real>(v: T, dtype: DType) -> T {
    match dtype {
        DType::F32 => T::from_f32(v.to_f32()),
        DType::F16 => T::from_f32(f16::from_f32(v.to_f32()).to_f32()),
        DType::BF16 => T::from_f32(bf16::from_f32(v.to_f32()).to_f32()),
        DType::I32 => T::from_f64((wide_int(v) as i32) as f64),
        DType::I64 => T::from_f64(wide_int(v) as f64),
        DType::U8 => T::from_f64((wide_int(v) as u8) as f64),
        DType::I8 => T::from_f64((wide_int(v) as i8) as f64),
        DType::Bool => T::from_f64((v.to_f64() != 0.0) as u8 as f64),
        DType::Block(_) | DType::Opaque(_) => v,
    }
}

/// Visits the data of `shape` in row-major order as runs along the last axis:
/// `f(flat_index_of_run_start, byte_offset_of_run_start)`.
pub fn for_each_row(data: &Data, shape: &[usize], elem: usize, mut f: impl FnMut(usize, isize)) {
    let n = numel(shape);
    if n == 0 {
        return;
    }
    let inner = shape.last().copied().unwrap_or(1);
    let rows = n / inner.max(1);
    let outer = &shape[..shape.len().saturating_sub(1)];
    let mut idx = vec![0usize; outer.len()];
    for r in 0..rows {
        let off: isize = idx
            .iter()
            .zip(&data.strides)
            .map(|(&i, &s)| i as isize * s)
            .sum();
        f(r * inner, data.offset as isize + off * elem as isize);
        for d in (0..idx.len()).rev() {
            idx[d] += 1;
            if idx[d] < outer[d] {
                break;
            }
            idx[d] = 0;
        }
    }
}

/// Copies any strided data into a contiguous row-major `T` buffer.
pub fn gather_contiguous<T: Real>(data: &Data, shape: &[usize], dtype: DType, out: &mut [T]) {
    let inner = shape.last().copied().unwrap_or(1);
    let inner_stride = data.strides.last().copied().unwrap_or(1);
    let elem = dtype.size().unwrap_or(1);
    let bytes = data.storage.bytes();
    for_each_row(data, shape, elem, |flat, pos| {
        load_run(
            bytes,
            dtype,
            pos,
            inner_stride,
            &mut out[flat..flat + inner],
        );
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_every_dtype() {
        let vals = [0.0f64, 1.0, -2.0, 3.0, 100.0];
        for dt in [
            DType::F32,
            DType::F16,
            DType::BF16,
            DType::I32,
            DType::I64,
            DType::I8,
        ] {
            let mut bytes = vec![0u8; vals.len() * dt.size().unwrap()];
            store_run(&vals, dt, &mut bytes);
            let mut back = [0f64; 5];
            load_run(&bytes, dt, 0, 1, &mut back);
            assert_eq!(back, vals, "{dt}");
        }
    }
}
