//! `Array`: a node of the lazy graph. Building one validates and infers its
//! shape and dtype; nothing is computed until [`Array::eval`] or a read.

use crate::dtype::DType;
use crate::error::{Error, Result};
use crate::prim::Prim;
use crate::shape::{numel, numel_checked, Dims};
use crate::storage::{AlignedBuf, Data, HostBytes};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// A lazily evaluated n-dimensional array. Cloning is cheap (one `Arc`), and
/// arrays are `Send + Sync`: several threads may build and evaluate graphs that
/// share nodes.
#[derive(Clone)]
pub struct Array(pub(crate) Arc<Node>);

pub(crate) struct Node {
    pub(crate) id: u64,
    pub(crate) shape: Dims,
    pub(crate) dtype: DType,
    pub(crate) state: Mutex<State>,
}

/// A node is pending (primitive and inputs) until evaluated; evaluation
/// detaches it from its inputs so intermediates die with their last consumer.
#[derive(Clone)]
pub(crate) enum State {
    Pending {
        prim: Prim,
        inputs: Vec<Array>,
    },
    Ready(Data),
    /// The data was handed to the node's last consumer, which overwrote it in place
    /// (see [`crate::graph::Graph::donate`]); nothing can read it any more.
    Donated,
}

static NEXT_ID: AtomicU64 = AtomicU64::new(0);

impl Drop for Node {
    /// Dropping the last handle of a long unevaluated chain would otherwise
    /// recurse once per node and overflow the stack; instead, inputs whose
    /// last owner this is are unlinked onto an explicit stack.
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(|p| p.into_inner());
        let State::Pending { inputs, .. } = state else {
            return;
        };
        let mut stack = std::mem::take(inputs);
        while let Some(a) = stack.pop() {
            if let Ok(mut node) = Arc::try_unwrap(a.0) {
                let state = node.state.get_mut().unwrap_or_else(|p| p.into_inner());
                if let State::Pending { inputs, .. } = state {
                    stack.append(inputs);
                }
            }
        }
    }
}

impl Array {
    pub(crate) fn from_state(shape: Dims, dtype: DType, state: State) -> Array {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        Array(Arc::new(Node {
            id,
            shape,
            dtype,
            state: Mutex::new(state),
        }))
    }

    /// A new pending node; op builders call this after validating everything.
    pub(crate) fn pending(shape: Dims, dtype: DType, prim: Prim, inputs: Vec<Array>) -> Array {
        Array::from_state(shape, dtype, State::Pending { prim, inputs })
    }

    /// Zero-copy leaf over bytes owned elsewhere (e.g. a memory-mapped model
    /// file): element `[0, ...]` is at `byte_offset`, row-major contiguous.
    pub fn from_host_bytes(
        owner: Arc<dyn HostBytes>,
        byte_offset: usize,
        shape: &[usize],
        dtype: DType,
    ) -> Result<Array> {
        let len = byte_len("from_host_bytes", shape, dtype)?;
        let end = byte_offset.checked_add(len);
        if end.is_none_or(|end| end > owner.bytes().len()) {
            return Err(Error::Data {
                op: "from_host_bytes",
                msg: format!(
                    "{len} bytes at offset {byte_offset} do not fit in a buffer of {} bytes",
                    owner.bytes().len()
                ),
            });
        }
        let data = Data::contiguous(owner, byte_offset, shape);
        Ok(Array::from_state(shape.into(), dtype, State::Ready(data)))
    }

    /// Leaf that owns a copy of `bytes` (row-major, native-endian elements).
    pub fn from_bytes(bytes: &[u8], shape: &[usize], dtype: DType) -> Result<Array> {
        let len = byte_len("from_bytes", shape, dtype)?;
        if len != bytes.len() {
            return Err(Error::Data {
                op: "from_bytes",
                msg: format!(
                    "shape {shape:?} of {dtype} needs {len} bytes, got {}",
                    bytes.len()
                ),
            });
        }
        let data = Data::contiguous(Arc::new(AlignedBuf::from_slice(bytes)), 0, shape);
        Ok(Array::from_state(shape.into(), dtype, State::Ready(data)))
    }

    /// Leaf from a slice of elements.
    pub fn from_slice<T: Element>(values: &[T], shape: &[usize]) -> Result<Array> {
        Array::from_bytes(bytemuck::cast_slice(values), shape, T::DTYPE)
    }

    /// A 0-dimensional array.
    pub fn scalar<T: Element>(value: T) -> Array {
        let data = Data::contiguous(
            Arc::new(AlignedBuf::from_slice(bytemuck::bytes_of(&value))),
            0,
            &[],
        );
        Array::from_state(Dims::new(), T::DTYPE, State::Ready(data))
    }

    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    pub fn ndim(&self) -> usize {
        self.0.shape.len()
    }

    pub fn dtype(&self) -> DType {
        self.0.dtype
    }

    /// Number of elements.
    pub fn size(&self) -> usize {
        numel(&self.0.shape)
    }

    /// A process-unique id, stable for the node's life (graph dumps, caches).
    pub fn id(&self) -> u64 {
        self.0.id
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written state
        // (every write is a single assignment), so a poisoned lock is still usable.
        self.0
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// True once the value has been computed.
    pub fn is_evaluated(&self) -> bool {
        matches!(*self.lock(), State::Ready(_))
    }

    /// The evaluated data, if any (backends read their inputs through this).
    pub fn data(&self) -> Option<Data> {
        match &*self.lock() {
            State::Ready(d) => Some(d.clone()),
            State::Pending { .. } | State::Donated => None,
        }
    }

    /// Moves the data out, leaving the node [`State::Donated`].
    pub(crate) fn take_data(&self) -> Option<Data> {
        let mut state = self.lock();
        match std::mem::replace(&mut *state, State::Donated) {
            State::Ready(d) => Some(d),
            other => {
                *state = other;
                None
            }
        }
    }

    /// The primitive and inputs of a pending node.
    pub fn pending_op(&self) -> Option<(Prim, Vec<Array>)> {
        match &*self.lock() {
            State::Pending { prim, inputs } => Some((prim.clone(), inputs.clone())),
            State::Ready(_) | State::Donated => None,
        }
    }

    /// Stores the computed value and drops the references to the inputs. The
    /// first value stored wins: evaluated data never changes, even when two
    /// threads computed the same shared node.
    pub(crate) fn set_data(&self, data: Data) {
        let mut state = self.lock();
        if matches!(*state, State::Pending { .. }) {
            *state = State::Ready(data);
        }
    }

    /// Computes this array (and whatever it depends on).
    pub fn eval(&self) -> Result<()> {
        crate::eval::eval(std::slice::from_ref(self))
    }

    /// Evaluates and returns the elements in row-major order as raw bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        self.with_bytes(|b| b.to_vec())
    }

    /// Evaluates and lends the row-major bytes; zero-copy when the data is
    /// already contiguous, otherwise a contiguous copy is made first.
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        self.eval()?;
        let data = self.data().ok_or(Error::Backend {
            op: "eval",
            msg: "array not evaluated".into(),
        })?;
        let len = byte_len("to_bytes", self.shape(), self.dtype())?;
        if data.is_contiguous(self.shape()) {
            return Ok(f(data.contiguous_bytes(len)));
        }
        let copy = self.contiguous()?;
        copy.eval()?;
        let data = copy.data().ok_or(Error::Backend {
            op: "eval",
            msg: "copy not evaluated".into(),
        })?;
        Ok(f(data.contiguous_bytes(len)))
    }

    /// Evaluates and converts to a vector of `T` (which must be the dtype).
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if self.dtype() != T::DTYPE {
            return crate::error::dtype_err(
                "to_vec",
                self.dtype(),
                format!("requested {} elements; cast the array first", T::DTYPE),
            );
        }
        // The bytes may not be aligned for T (e.g. a mapped file), so copy element-wise.
        self.with_bytes(|b| {
            b.chunks_exact(std::mem::size_of::<T>())
                .map(bytemuck::pod_read_unaligned)
                .collect()
        })
    }

    /// Evaluates and returns the elements converted to f32.
    pub fn to_f32_vec(&self) -> Result<Vec<f32>> {
        self.astype(DType::F32)?.to_vec::<f32>()
    }

    /// The single element of a size-1 array, as f64.
    pub fn item(&self) -> Result<f64> {
        if self.size() != 1 {
            return crate::error::shape_err(
                "item",
                format!(
                    "array of shape {:?} has more than one element",
                    self.shape()
                ),
            );
        }
        Ok(match self.dtype() {
            // Integers read as themselves: f32 would lose digits above 2^24.
            DType::I64 => self.to_vec::<i64>()?[0] as f64,
            DType::I32 => self.to_vec::<i32>()?[0] as f64,
            _ => self.astype(DType::F32)?.to_vec::<f32>()?[0] as f64,
        })
    }
}

impl std::fmt::Debug for Array {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Array(id={}, shape={:?}, dtype={})",
            self.id(),
            self.shape(),
            self.dtype()
        )
    }
}

fn byte_len(op: &'static str, shape: &[usize], dtype: DType) -> Result<usize> {
    let n = numel_checked(shape).ok_or_else(|| Error::Shape {
        op,
        msg: format!("shape {shape:?} overflows"),
    })?;
    dtype
        .bytes_for(n as u64)
        .and_then(|b| usize::try_from(b).ok())
        .ok_or_else(|| Error::Data {
            op,
            msg: format!("{n} elements of {dtype} is not a valid size"),
        })
}

/// Rust element types that map to a Ferrite dtype.
pub trait Element: bytemuck::Pod + Send + Sync {
    const DTYPE: DType;
}

macro_rules! element {
    ($($t:ty => $d:ident),*) => { $(impl Element for $t { const DTYPE: DType = DType::$d; })* };
}
element!(f32 => F32, half::f16 => F16, half::bf16 => BF16, i32 => I32, i64 => I64, u8 => U8, i8 => I8);
