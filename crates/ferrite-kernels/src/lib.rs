//! CPU SIMD compute kernels on plain slices: GEMM (f32, bf16, f16 and mixed operands),
//! element-wise math, row kernels (softmax, norms), reductions and conversions.
//!
//! The crate knows nothing about arrays or graphs. Every public function is safe: lengths,
//! shapes and strides are validated (bad input is a [`KernelError`], never UB), and all
//! `unsafe` / SIMD code sits in small private modules behind them.
//!
//! # Instruction sets
//! Each kernel exists as AVX-512, AVX2+FMA and scalar code; the scalar path always exists
//! and is the reference. The best supported path is detected once at run time
//! ([`isa::detected`]); `FERRITE_ISA=scalar|avx2|avx512` lowers the process default, and
//! [`with_isa`] forces a path for the current thread (tests use it to check every path
//! in-process). Large GEMMs and large row / element-wise buffers use all threads: a
//! spinning team ([`team`]) sized like the current rayon pool.
//!
//! # Example
//! ```
//! use ferrite_kernels::{gemm_f32, softmax, MatRef};
//!
//! // C (2x2) = A (2x3) * B^T, where B is stored as a 2x3 row-major matrix.
//! let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
//! let b = [1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
//! let (am, bm) = (MatRef::row_major(&a, 2, 3)?, MatRef::row_major(&b, 2, 3)?);
//! let mut c = [0.0f32; 4];
//! gemm_f32(am, bm.t(), &mut c, 2, false)?;
//! assert_eq!(c, [4.0, 2.0, 10.0, 5.0]);
//!
//! let mut p = [0.0f32; 4];
//! softmax(&c, &mut p, 2)?; // two rows of length 2
//! assert!((p[0] + p[1] - 1.0).abs() < 1e-6);
//! # Ok::<(), ferrite_kernels::KernelError>(())
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

mod ahead;
mod convert;
mod decode;
mod error;
pub mod gemm;
pub mod isa;
mod mat;
mod reduce;
mod reuse;
mod rows;
mod simd;
mod stream;
pub mod team;
mod unary;

pub use convert::{bf16_to_f32, f16_to_f32, f32_to_bf16, f32_to_f16};
pub use decode::{mix_rows, row_dots};
pub use error::KernelError;
pub use gemm::{gemm, gemm_f32};
pub use isa::{with_isa, Isa};
pub use mat::{ElemKind, Element, MatRef};
pub use reduce::{axpy, dot, max, scale, sum};
pub use rows::{layer_norm, log_softmax, logsumexp, rms_norm, softmax, softmax_inplace};
pub use stream::read_peak;
pub use unary::{unary, unary_inplace, unary_mul, UnaryOp};
