//! The backend interface. A backend receives the whole graph at once, so it
//! can fuse, plan memory, or (on a GPU) record and replay it.

use crate::error::{Error, Result};
use crate::graph::Graph;
use std::sync::{Arc, RwLock};

/// Something that computes graphs.
pub trait Backend: Send + Sync {
    /// A short name for logs ("cpu", "cuda").
    fn name(&self) -> &'static str;
    /// Computes every pending node of `graph`, calling [`Graph::finish`] for
    /// each one it materialises.
    fn eval_graph(&self, graph: &mut Graph) -> Result<()>;
}

static BACKEND: RwLock<Option<Arc<dyn Backend>>> = RwLock::new(None);

/// Makes `backend` the one that evaluates arrays from now on.
pub fn install(backend: Arc<dyn Backend>) {
    *BACKEND.write().unwrap_or_else(|p| p.into_inner()) = Some(backend);
}

/// The installed backend.
pub fn current() -> Result<Arc<dyn Backend>> {
    BACKEND
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .ok_or(Error::NoBackend)
}
