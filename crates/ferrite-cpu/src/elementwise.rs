//! The fused element-wise interpreter: runs a [`FusedKernel`]'s register
//! program over tiles of the output, reading each input once at its own
//! strides (broadcast inputs have stride 0) and writing the output once.

use crate::access::{load_run, round_run, store_run};
use crate::layout::copy_strided;
use crate::math::Math;
use crate::pool::PooledBuf;
use crate::pool::Scratch;
use ferrite_core::fusion::{FusedKernel, Instr, Reg};
use ferrite_core::graph::Graph;
use ferrite_core::prim::{BinaryOp, UnaryOp};
use ferrite_core::shape::{broadcast_strides, contiguous_strides, numel};
use ferrite_core::{view, DType, Data, Result};
use ferrite_kernels::team;
use smallvec::SmallVec;

/// Elements per register tile: 4 KiB of f32, so a dozen registers stay in L1.
const TILE: usize = 1024;
/// Below this many elements one thread does the whole kernel.
const PARALLEL_MIN: usize = 1 << 16;

struct Operand {
    data: Data,
    dtype: DType,
    /// Element strides over the coalesced output shape.
    strides: Vec<isize>,
}

/// Runs `kernel` and returns the contiguous output.
pub fn run(graph: &Graph, kernel: &FusedKernel) -> Result<Data> {
    let out = graph.node(kernel.output);
    let (shape, out_dtype) = (out.shape.clone(), out.dtype);
    if let [Instr::Load(0), Instr::Cast(0, to)] = kernel.instrs[..] {
        let src = graph.node(kernel.loads[0]);
        if src.dtype == to {
            // A same-dtype copy (`contiguous()`) moves bytes, so every value
            // survives exactly (i64 above 2^53 would not survive an f64 trip).
            let data = view::broadcast(&graph.data(kernel.loads[0])?, &src.shape, &shape);
            let esize = to.size().unwrap_or(1);
            let mut buf = PooledBuf::take(numel(&shape) * esize);
            copy_strided(
                &data,
                &shape,
                esize,
                buf.bytes_mut(),
                0,
                &contiguous_strides(&shape),
            );
            return Ok(Data::contiguous(buf.into_storage(), 0, &shape));
        }
    }
    let mut operands = Vec::with_capacity(kernel.loads.len());
    for &l in &kernel.loads {
        let node = graph.node(l);
        let data = graph.data(l)?;
        let strides = broadcast_strides(&node.shape, &data.strides, &shape).to_vec();
        operands.push(Operand {
            data,
            dtype: node.dtype,
            strides,
        });
    }
    let (dims, mut operands) = coalesce(&shape, operands);
    let n = numel(&shape);
    let esize = out_dtype.size().unwrap_or(1);
    let mut buf = PooledBuf::take(n * esize);
    let wide = kernel.wide;
    operands.shrink_to_fit();
    let ctx = Ctx {
        kernel,
        gates: Gates::of(&kernel.instrs),
        operands: &operands,
        dims: &dims,
        out_dtype,
    };
    let chunk = if n >= PARALLEL_MIN {
        n.div_ceil(team::threads() * 4).max(TILE)
    } else {
        n.max(1)
    };
    let out_bytes = buf.bytes_mut();
    if out_bytes.is_empty() {
        return Ok(Data::contiguous(buf.into_storage(), 0, &shape));
    }
    let work = |i: usize, out: &mut [u8]| {
        let start = i * chunk;
        if wide {
            ctx.run_range::<f64>(start, out);
        } else {
            ctx.run_range::<f32>(start, out);
        }
    };
    if n >= PARALLEL_MIN {
        team::parallel_chunks_mut(out_bytes, chunk * esize, work);
    } else {
        work(0, out_bytes);
    }
    Ok(Data::contiguous(buf.into_storage(), 0, &shape))
}

/// Drops size-1 axes and merges neighbours that every operand walks as one,
/// so the inner loop is as long as possible.
fn coalesce(shape: &[usize], mut ops: Vec<Operand>) -> (Vec<usize>, Vec<Operand>) {
    let keep: Vec<usize> = (0..shape.len()).filter(|&d| shape[d] != 1).collect();
    let mut dims: Vec<usize> = keep.iter().map(|&d| shape[d]).collect();
    for op in &mut ops {
        op.strides = keep.iter().map(|&d| op.strides[d]).collect();
    }
    let mut d = dims.len();
    while d > 1 {
        d -= 1;
        let mergeable = ops
            .iter()
            .all(|o| o.strides[d - 1] == o.strides[d] * dims[d] as isize);
        if mergeable {
            dims[d - 1] *= dims[d];
            dims.remove(d);
            for o in &mut ops {
                o.strides.remove(d - 1);
            }
        }
    }
    if dims.is_empty() {
        dims.push(1);
        for o in &mut ops {
            o.strides.push(0);
        }
    }
    (dims, ops)
}

/// Multiplies by a unary result that nothing else reads, as in `silu(a) * b`: both run as
/// one `Math::unary_mul` pass, and the unary's register is never stored.
struct Gates {
    /// `fused[r] = Some((op, x, y))`: instruction `r` computes `op(x) * y`.
    fused: Vec<Option<(UnaryOp, Reg, Reg)>>,
    /// The unary instruction is computed by its multiply.
    skip: Vec<bool>,
}

impl Gates {
    fn of(instrs: &[Instr]) -> Gates {
        let mut uses = vec![0usize; instrs.len()];
        for instr in instrs {
            match *instr {
                Instr::Load(_) => {}
                Instr::Unary(_, a) | Instr::Cast(a, _) => uses[a] += 1,
                Instr::Binary(_, a, b) => {
                    uses[a] += 1;
                    uses[b] += 1;
                }
                Instr::Where(c, a, b) => {
                    uses[c] += 1;
                    uses[a] += 1;
                    uses[b] += 1;
                }
            }
        }
        let private_unary = |r: Reg, other: Reg| match instrs[r] {
            Instr::Unary(op, x) if uses[r] == 1 && r != other => Some((r, (op, x, other))),
            _ => None,
        };
        let mut g = Gates {
            fused: vec![None; instrs.len()],
            skip: vec![false; instrs.len()],
        };
        for (r, instr) in instrs.iter().enumerate() {
            if let Instr::Binary(BinaryOp::Mul, a, b) = *instr {
                if let Some((u, f)) = private_unary(a, b).or_else(|| private_unary(b, a)) {
                    g.fused[r] = Some(f);
                    g.skip[u] = true;
                }
            }
        }
        g
    }
}

/// The operand's whole storage as `T`, if its elements are exactly `T`.
fn native_slice<T: Math>(o: &Operand) -> Option<&[T]> {
    if Some(o.dtype) != T::NATIVE || !o.data.offset.is_multiple_of(std::mem::size_of::<T>()) {
        return None;
    }
    bytemuck::try_cast_slice::<u8, T>(o.data.storage.bytes()).ok()
}

struct Ctx<'a> {
    kernel: &'a FusedKernel,
    /// Per instruction, how `Math::unary_mul` runs it (see [`Gates`]).
    gates: Gates,
    operands: &'a [Operand],
    dims: &'a [usize],
    out_dtype: DType,
}

impl Ctx<'_> {
    /// Computes the output elements `[start, start + out.len() / esize)`.
    fn run_range<T: Math>(&self, start: usize, out: &mut [u8]) {
        if Some(self.out_dtype) == T::NATIVE {
            if let Ok(typed) = bytemuck::try_cast_slice_mut::<u8, T>(out) {
                // The last instruction writes straight into the output.
                let count = typed.len();
                return self.walk::<T>(start, count, |regs, native, bases, skip, len, o| {
                    self.tile(regs, native, bases, skip, len, Some(&mut typed[o..o + len]))
                });
            }
        }
        let esize = self.out_dtype.size().unwrap_or(1);
        let last = (self.kernel.instrs.len() - 1) * TILE;
        self.walk::<T>(
            start,
            out.len() / esize,
            |regs, native, bases, skip, len, o| {
                self.tile(regs, native, bases, skip, len, None);
                store_run(
                    &regs[last..last + len],
                    self.out_dtype,
                    &mut out[o * esize..(o + len) * esize],
                );
            },
        );
    }

    /// Walks `count` output elements from flat index `start` in runs along the
    /// inner axis and tiles of at most `TILE`, calling `f(registers, native
    /// inputs, operand byte bases, offset in run, tile length, offset in out)`.
    #[allow(clippy::type_complexity)]
    fn walk<T: Math>(
        &self,
        start: usize,
        count: usize,
        mut f: impl FnMut(&mut [T], &[Option<&[T]>], &[isize], isize, usize, usize),
    ) {
        let inner = *self.dims.last().unwrap_or(&1);
        let mut scratch = Scratch::<T>::new(self.kernel.instrs.len() * TILE);
        let regs = scratch.as_mut_slice();
        // Inputs already in the domain's type are read in place, not copied
        // through the register file.
        let native: SmallVec<[Option<&[T]>; 8]> =
            self.operands.iter().map(native_slice::<T>).collect();
        let end = start + count;
        let mut flat = start;
        while flat < end {
            let (row, col) = (flat / inner, flat % inner);
            let run = (inner - col).min(end - flat);
            let bases: SmallVec<[isize; 8]> = self
                .operands
                .iter()
                .map(|o| self.base(o, row, col))
                .collect();
            let mut done = 0;
            while done < run {
                let len = (run - done).min(TILE);
                f(
                    regs,
                    &native,
                    &bases,
                    done as isize,
                    len,
                    flat + done - start,
                );
                done += len;
            }
            flat += run;
        }
    }

    /// Byte offset of operand `o` at inner position `col` of outer row `row`.
    fn base(&self, o: &Operand, mut row: usize, col: usize) -> isize {
        let nd = self.dims.len();
        let mut off = col as isize * o.strides[nd - 1];
        for d in (0..nd - 1).rev() {
            off += (row % self.dims[d]) as isize * o.strides[d];
            row /= self.dims[d];
        }
        o.data.offset as isize + off * o.dtype.size().unwrap_or(1) as isize
    }

    fn tile<T: Math>(
        &self,
        regs: &mut [T],
        native: &[Option<&[T]>],
        bases: &[isize],
        skip: isize,
        len: usize,
        mut out: Option<&mut [T]>,
    ) {
        let last = self.kernel.instrs.len() - 1;
        let mut borrowed: SmallVec<[Option<&[T]>; 16]> = SmallVec::from_elem(None, last + 1);
        for (r, instr) in self.kernel.instrs.iter().enumerate() {
            if self.gates.skip[r] {
                continue;
            }
            let (before, rest) = regs.split_at_mut(r * TILE);
            let dst: &mut [T] = match out.take() {
                Some(o) if r == last => o,
                other => {
                    out = other;
                    &mut rest[..len]
                }
            };
            if let (Instr::Load(i), true) = (instr, r != last) {
                let o = &self.operands[*i];
                if let (Some(all), 1) = (native[*i], o.strides.last().copied().unwrap_or(0)) {
                    let at = bases[*i] / o.dtype.size().unwrap_or(1) as isize + skip;
                    borrowed[r] = Some(&all[at as usize..at as usize + len]);
                    continue;
                }
            }
            let src = |reg: usize| borrowed[reg].unwrap_or(&before[reg * TILE..reg * TILE + len]);
            match *instr {
                Instr::Load(i) => {
                    let o = &self.operands[i];
                    let esize = o.dtype.size().unwrap_or(1) as isize;
                    let stride = *o.strides.last().unwrap_or(&0);
                    load_run(
                        o.data.storage.bytes(),
                        o.dtype,
                        bases[i] + skip * stride * esize,
                        stride,
                        dst,
                    );
                }
                Instr::Unary(op, a) => T::unary(op, src(a), dst),
                Instr::Binary(op, a, b) => match self.gates.fused[r] {
                    Some((uop, x, y)) => T::unary_mul(uop, src(x), src(y), dst),
                    None => T::binary(op, src(a), src(b), dst),
                },
                Instr::Where(c, a, b) => {
                    let (c, a, b) = (src(c), src(a), src(b));
                    for (k, d) in dst.iter_mut().enumerate() {
                        *d = if c[k].to_f64() != 0.0 { a[k] } else { b[k] };
                    }
                }
                Instr::Cast(a, dtype) => round_run(src(a), dtype, dst),
            }
        }
    }
}

/// Writes `value` converted to `dtype` into every element of a new buffer.
pub fn fill(shape: &[usize], dtype: DType, value: f64) -> Data {
    let n = numel(shape);
    let esize = dtype.size().unwrap_or(1);
    let mut buf = PooledBuf::take(n * esize);
    let mut one = vec![0u8; esize];
    store_run(&[value], dtype, &mut one);
    for chunk in buf.bytes_mut().chunks_exact_mut(esize) {
        chunk.copy_from_slice(&one);
    }
    Data::contiguous(buf.into_storage(), 0, shape)
}

/// Computes `f(i)` for every flat index and stores it as `dtype`.
pub fn generate(shape: &[usize], dtype: DType, f: impl Fn(u64) -> f64 + Sync) -> Data {
    let n = numel(shape);
    let esize = dtype.size().unwrap_or(1);
    let mut buf = PooledBuf::take(n * esize);
    team::parallel_chunks_mut(buf.bytes_mut(), TILE * esize, |c, out| {
        let base = (c * TILE) as u64;
        let vals: Vec<f64> = (0..out.len() / esize).map(|k| f(base + k as u64)).collect();
        store_run(&vals, dtype, out);
    });
    Data::contiguous(buf.into_storage(), 0, shape)
}
