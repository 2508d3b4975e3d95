//! Scratch buffers reused across calls *and threads*. A per-thread buffer would
//! allocate again whenever a rayon worker that never ran a kernel picks up work,
//! so repeated evaluation would not reach an allocation-free steady state; a
//! shared free list hands whichever buffer is idle to whichever thread asks,
//! and a re-entrant call (work-stealing inside a kernel) simply takes another.
//!
//! A parallel kernel takes all its parts' buffers at once ([`Reuse::with_many`]) on the
//! calling thread: how many buffers it needs is then fixed by the number of parts, not by
//! how many of them happened to run at the same time (which varies from run to run).

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
        self.with_many(1, |items| f(&mut items[0]))
    }

    /// Runs `f` with `count` distinct buffers, idle ones first, then returns them all.
    pub(crate) fn with_many<R>(&self, count: usize, f: impl FnOnce(&mut [T]) -> R) -> R {
        let mut items: Vec<T> = {
            let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
            let keep = free.len().saturating_sub(count);
            free.split_off(keep)
        };
        items.resize_with(count, T::default);
        let result = f(&mut items);
        self.free
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .append(&mut items);
        result
    }
}
