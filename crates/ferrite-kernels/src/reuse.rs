//! Scratch buffers reused across calls *and threads*. A per-thread buffer would
//! allocate again whenever a rayon worker that never ran a kernel picks up work,
//! so repeated evaluation would not reach an allocation-free steady state; a
//! shared free list hands whichever buffer is idle to whichever thread asks,
//! and a re-entrant call (work-stealing inside a kernel) simply takes another.

use std::sync::Mutex;

pub(crate) struct Reuse<T> {
    free: Mutex<Vec<T>>,
}

impl<T: Default> Reuse<T> {
    pub(crate) const fn new() -> Reuse<T> {
        Reuse {
            free: Mutex::new(Vec::new()),
        }
    }

    /// Runs `f` with an idle buffer (or a new one), then returns it to the list.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // The list only holds plain buffers, so a poisoned lock is still consistent.
        let taken = self.free.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let mut item = taken.unwrap_or_default();
        let result = f(&mut item);
        self.free
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(item);
        result
    }
}
