//! The closed set of primitives. A primitive says what a node computes; its
//! output shape and dtype were inferred by the op builder that created it, so
//! kernels trust their inputs. Autodiff will add per-primitive vjp/jvp rules as
//! graph-to-graph transforms over this enum without touching op users.

use crate::shape::Dims;

/// Element-wise functions of one input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    Neg,
    Abs,
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Square,
    Sin,
    Cos,
    Tanh,
    Sigmoid,
    Silu,
    GeluErf,
    GeluTanh,
    Relu,
    Relu2,
    LogicalNot,
}

/// Element-wise functions of two inputs (broadcast by the kernel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Maximum,
    Minimum,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl BinaryOp {
    /// Comparisons produce bool regardless of the input dtype.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge
        )
    }
}

/// Reductions that produce a value of the input's (float) type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    Sum,
    Mean,
    Max,
    Min,
    LogSumExp,
    /// Variance with `ddof` degrees of freedom removed from the divisor.
    Var {
        ddof: u32,
    },
}

/// Reductions to an index along one axis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgReduceOp {
    ArgMax,
    ArgMin,
}

/// How RoPE pairs up the features it rotates.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RopeLayout {
    /// Adjacent pairs `(x[2i], x[2i+1])`, as GGUF Llama files expect.
    Interleaved,
    /// Halves `(x[i], x[i + d/2])`, as Hugging Face checkpoints expect.
    SplitHalves,
}

/// The primitive that produces a node.
#[derive(Clone, Debug, PartialEq)]
pub enum Prim {
    /// Every element equal to `value` (converted to the node's dtype).
    Full {
        value: f64,
    },
    /// `start + i * step` along the only axis.
    Arange {
        start: f64,
        step: f64,
    },
    /// Counter-based normal samples: element `i` is a pure function of `(seed, i)`.
    RandomNormal {
        seed: u64,
        mean: f64,
        std: f64,
    },
    /// Counter-based uniform samples in `[low, high)`.
    RandomUniform {
        seed: u64,
        low: f64,
        high: f64,
    },
    Unary(UnaryOp),
    Binary(BinaryOp),
    /// `where(cond, a, b)`, all three broadcast to the output shape.
    Where,
    /// Conversion to the node's dtype (float to int truncates toward zero).
    Cast,
    /// Same elements, new shape; a view when the input layout allows it, a copy otherwise.
    Reshape,
    /// Axis `i` of the output is axis `perm[i]` of the input; always a view.
    Permute {
        perm: Vec<usize>,
    },
    /// Per-axis `start` and `step` (possibly negative); the node's shape gives the counts. A view.
    Slice {
        starts: Dims,
        steps: Vec<isize>,
    },
    /// Stride-0 view to the node's shape.
    Broadcast,
    /// Joins the inputs along `axis`.
    Concat {
        axis: usize,
    },
    /// Input 0 with input 1 written over positions `start..start + len` of `axis`
    /// (`len` is input 1's size there). When nothing else can see input 0's buffer,
    /// the backend writes into it instead of copying it (MLX's buffer donation), so
    /// appending one position to a preallocated KV cache costs that position only.
    SliceUpdate {
        axis: usize,
        start: usize,
    },
    /// `take_along_axis`: input 1 holds indices with the output's shape.
    GatherAlong {
        axis: usize,
    },
    /// `take` along `axis`: input 1 is an index array whose shape replaces that axis.
    Take {
        axis: usize,
    },
    Reduce {
        op: ReduceOp,
        axes: Vec<usize>,
        keepdims: bool,
    },
    ArgReduce {
        op: ArgReduceOp,
        axis: usize,
        keepdims: bool,
    },
    /// Softmax (or log-softmax) along `axis`.
    Softmax {
        axis: usize,
        log: bool,
    },
    /// RMSNorm over the last axis; input 1, if present, is the weight.
    RmsNorm {
        eps: f32,
    },
    /// LayerNorm over the last axis; optional weight then bias inputs.
    LayerNorm {
        eps: f32,
        has_weight: bool,
        has_bias: bool,
    },
    /// Rotary embedding of the first `dims` features of the last axis; the
    /// second-to-last axis is the position (`offset + t`, times `scale`). Input 1,
    /// if present, holds `dims / 2` periods `f_i` (MLX's `freqs`): the angle is
    /// `pos / f_i` instead of `pos · base^(-2i/dims)`, as for Llama 3 scaling.
    Rope {
        dims: usize,
        layout: RopeLayout,
        base: f32,
        scale: f32,
        offset: usize,
        has_freqs: bool,
    },
    /// `softmax(q kᵀ · scale + mask) v` with grouped-query heads: q is
    /// `[B, Hq, Tq, D]`, k/v are `[B, Hkv, Tk, D]` with `Hq % Hkv == 0`. A causal
    /// mask aligns the last query with the last key; input 3, if present, is an
    /// additive (float) or keep (bool) mask broadcastable to `[B, Hq, Tq, Tk]`.
    Attention {
        scale: f32,
        causal: bool,
        has_mask: bool,
    },
    /// Batched matrix product with broadcasting over leading axes; input 2,
    /// if present, is a bias broadcast onto the result.
    MatMul {
        has_bias: bool,
    },
}

impl Prim {
    /// The name used in errors and graph dumps.
    pub fn name(&self) -> &'static str {
        match self {
            Prim::Full { .. } => "full",
            Prim::Arange { .. } => "arange",
            Prim::RandomNormal { .. } => "random_normal",
            Prim::RandomUniform { .. } => "random_uniform",
            Prim::Unary(_) => "unary",
            Prim::Binary(_) => "binary",
            Prim::Where => "where",
            Prim::Cast => "cast",
            Prim::Reshape => "reshape",
            Prim::Permute { .. } => "permute",
            Prim::Slice { .. } => "slice",
            Prim::Broadcast => "broadcast",
            Prim::Concat { .. } => "concatenate",
            Prim::SliceUpdate { .. } => "slice_update",
            Prim::GatherAlong { .. } => "take_along_axis",
            Prim::Take { .. } => "take",
            Prim::Reduce { .. } => "reduce",
            Prim::ArgReduce { .. } => "arg_reduce",
            Prim::Softmax { .. } => "softmax",
            Prim::RmsNorm { .. } => "rms_norm",
            Prim::LayerNorm { .. } => "layer_norm",
            Prim::Rope { .. } => "rope",
            Prim::Attention { .. } => "attention",
            Prim::MatMul { .. } => "matmul",
        }
    }

    /// Element-wise primitives, which the fusion pass may chain into one kernel.
    pub fn is_elementwise(&self) -> bool {
        matches!(
            self,
            Prim::Unary(_) | Prim::Binary(_) | Prim::Where | Prim::Cast
        )
    }

    /// Primitives whose output is a view of input 0's data (never a kernel).
    pub fn is_view(&self) -> bool {
        matches!(
            self,
            Prim::Permute { .. } | Prim::Slice { .. } | Prim::Broadcast
        )
    }
}
