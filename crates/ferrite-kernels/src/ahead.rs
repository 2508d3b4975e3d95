//! Reading the next parallel kernel's data while the team waits for it.
//!
//! Between the GEMVs of a decode step the calling thread runs short serial work (norms,
//! RoPE, attention, building the graph) for tens of microseconds at a time, several
//! percent of the step, while memory sits idle and the workers spin. A caller that knows
//! which bytes the next kernel will stream names them with [`read_ahead`]; each idle
//! worker then prefetches the start of its own share (team members take consecutive
//! shares in member order, see `team::Claims`), so it begins the kernel on lines that
//! are already in cache, and memory works through the gap. The caller's share is left
//! alone: it is busy, and lines fetched into another core's cache helped no more than
//! a longer run of the worker's own.
//!
//! Only prefetch instructions touch the named bytes, and they never fault: a stale or
//! freed range costs wasted reads, never a wrong one.

use crate::stream::prefetch;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};

/// Bytes of its share each worker prefetches. Measured with a throwaway harness (an
/// 8 MB f32 GEMV after 30 or 100 µs of serial work, alternating with and without): the
/// GEMV finished 13-22 µs sooner with 1 MiB, about as much as with 512 KiB of the
/// worker's share plus 512 KiB of the caller's (fetched into the worker's cache), and
/// more than with 256 KiB each. Half of a 2 MiB L2.
const SHARE_BYTES: usize = 1 << 20;

/// Cache lines requested per step, between checks for a new job.
const LINES_PER_STEP: usize = 16;

/// The range named last, seqlock style: `epoch` changes after every write.
struct Hint {
    epoch: AtomicU64,
    start: AtomicUsize,
    len: AtomicUsize,
}

static HINT: Hint = Hint {
    epoch: AtomicU64::new(0),
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
};

/// Names the bytes the next parallel kernel will read, in the order its tasks read them,
/// so that idle team workers fetch the start of each member's share into cache.
///
/// ```
/// let weights = vec![0u8; 1 << 20];
/// ferrite_kernels::team::read_ahead(&weights);
/// // ... serial work; then the kernel that streams `weights` runs on the team.
/// ferrite_kernels::team::read_ahead(&[]); // nothing worth fetching
/// ```
pub fn read_ahead(bytes: &[u8]) {
    // Odd while the range is being written, so a reader never pairs a new start with
    // an old length.
    HINT.epoch.fetch_add(1, SeqCst);
    HINT.start.store(bytes.as_ptr() as usize, SeqCst);
    HINT.len.store(bytes.len(), SeqCst);
    HINT.epoch.fetch_add(1, SeqCst);
}

/// One worker's progress through the named range.
#[derive(Default)]
pub(crate) struct Cursor {
    epoch: u64,
    /// The byte range still to fetch.
    next: usize,
    end: usize,
}

impl Cursor {
    /// Prefetches the next few lines of worker `worker`'s share for a team of
    /// `members` (the caller being the last); returns false when there is nothing left.
    pub(crate) fn step(&mut self, worker: usize, members: usize) -> bool {
        let epoch = HINT.epoch.load(SeqCst);
        if epoch != self.epoch {
            if epoch % 2 == 1 {
                return true; // being written: look again
            }
            let (start, len) = (HINT.start.load(SeqCst), HINT.len.load(SeqCst));
            if HINT.epoch.load(SeqCst) != epoch {
                return true;
            }
            self.epoch = epoch;
            let (from, to) = (len * worker / members, len * (worker + 1) / members);
            self.next = start + from;
            self.end = self.next + SHARE_BYTES.min(to - from);
        }
        if self.next >= self.end {
            return false;
        }
        let end = self.end.min(self.next + LINES_PER_STEP * 64);
        for line in (self.next..end).step_by(64) {
            prefetch::<u8, true>(line as *const u8);
        }
        self.next = end;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hint is global, so one test walks every case in order.
    #[test]
    fn workers_fetch_the_start_of_their_own_share() {
        let data = vec![1u8; 3 * SHARE_BYTES];
        let base = data.as_ptr() as usize;
        read_ahead(&data);
        let mut cursor = Cursor::default();
        let mut steps = 0;
        while cursor.step(0, 2) {
            steps += 1;
            assert!(steps < 1 << 20, "the cursor must finish");
        }
        // SHARE_BYTES of the first half, LINES_PER_STEP lines per step.
        assert_eq!(steps, SHARE_BYTES / (64 * LINES_PER_STEP));
        assert_eq!(cursor.end, base + SHARE_BYTES);
        assert!(!cursor.step(0, 2), "nothing new: nothing to do");
        // A small range is fetched whole from the worker's share; an empty one not at all.
        read_ahead(&data[..1000]);
        let mut other = Cursor::default();
        let mut steps = 0;
        while other.step(1, 3) {
            steps += 1;
        }
        assert_eq!(steps, 1, "333 bytes: one step");
        assert_eq!(
            (other.next, other.end),
            (base + 666, base + 666),
            "[333, 666) fetched"
        );
        read_ahead(&[]);
        assert!(!Cursor::default().step(0, 2));
    }
}
