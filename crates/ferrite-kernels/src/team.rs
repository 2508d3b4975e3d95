//! A small team of spinning worker threads for short data-parallel kernels.
//!
//! Why not rayon alone: a generation step runs ~300 parallel kernels of 5-500 µs each
//! (one GEMV per weight matrix, norms, element-wise ops). An idle rayon worker sleeps on
//! a futex and takes 5-50 µs to wake, during which the calling thread does all the work
//! alone; over a step that costs 5-10% of the time, and most of a 10 µs row kernel.
//! Team workers instead spin for a short while after each job (as ggml's thread pool
//! does), so back-to-back kernels start on every core within a fraction of a
//! microsecond, then sleep so that an idle process burns no CPU. While spinning they
//! yield every few microseconds, so that with more threads than cores a spinning
//! worker does not hold up one that still has work.
//!
//! The team has `threads() - 1` workers; the calling thread is the last member and runs
//! tasks too. One job runs at a time. A call from inside a team task runs its tasks on
//! that thread (every thread is already busy with the outer job); a call from another
//! thread while the team is busy (several threads evaluating their own graphs) runs on
//! rayon. So callers never wait for each other and nested calls cannot deadlock.

pub use crate::ahead::read_ahead;
use crate::ahead::Cursor;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long an idle worker spins before sleeping: longer than the gaps between the
/// kernels of one generation step, far shorter than anything a person would notice as
/// background CPU use.
const SPIN: Duration = Duration::from_micros(200);

/// Spins between offers of the core to other threads (a few microseconds).
const YIELD_EVERY: u32 = 64;

/// Threads a parallel kernel uses: the size of the current rayon pool, which the CLI's
/// `--threads` sets (and tests set per pool with `ThreadPool::install`).
pub fn threads() -> usize {
    rayon::current_num_threads()
}

/// Runs `f(0), f(1), ..., f(tasks - 1)`, spread over [`threads`] threads; returns when all
/// have finished. Tasks are claimed one at a time, so uneven tasks balance themselves:
/// each thread takes consecutive tasks from its own share of the range first, then what
/// is left of the others' shares from their far ends, so neighbouring tasks (neighbouring
/// data) mostly run on the same thread. A panic in a task is re-raised on the caller once every task has stopped.
pub fn parallel_for(tasks: usize, f: impl Fn(usize) + Sync) {
    run_job(tasks, &f);
}

fn run_job(tasks: usize, f: &(dyn Fn(usize) + Sync)) {
    let Ok(tasks32) = u32::try_from(tasks) else {
        // Claims count in 32 bits; run absurdly many tasks as fewer groups of them.
        let per = tasks.div_ceil(u32::MAX as usize);
        return run_job(tasks.div_ceil(per), &|g| {
            (g * per..tasks.min((g + 1) * per)).for_each(f)
        });
    };
    let helpers = threads().saturating_sub(1).min(tasks.saturating_sub(1));
    if helpers == 0 {
        (0..tasks).for_each(f);
        return;
    }
    if IN_TASK.get() {
        (0..tasks).for_each(f);
        return;
    }
    let team = team();
    if team.busy.swap(true, SeqCst) {
        (0..tasks).into_par_iter().for_each(f);
        return;
    }
    team.grow(helpers);
    let job = Job {
        task: f,
        helpers,
        claims: Claims::new(tasks32, helpers + 1),
        panic: Mutex::new(None),
    };
    team.publish(&job);
    job.run_tasks(helpers);
    team.retire();
    team.busy.store(false, SeqCst);
    if let Some(payload) = job.panic.into_inner().unwrap_or_else(|p| p.into_inner()) {
        std::panic::resume_unwind(payload);
    }
}

/// Calls `f(index, chunk)` for the consecutive `chunk_len`-element pieces of `data` (the
/// last may be shorter), spread over the team as [`parallel_for`] does.
pub fn parallel_chunks_mut<T: Send>(
    data: &mut [T],
    chunk_len: usize,
    f: impl Fn(usize, &mut [T]) + Sync,
) {
    let len = data.len();
    let chunk_len = chunk_len.max(1);
    let base = SendPtr(data.as_mut_ptr());
    parallel_for(len.div_ceil(chunk_len), |i| {
        let start = i * chunk_len;
        let n = chunk_len.min(len - start);
        // SAFETY: task `i` is the only one given `[start, start + n)`, which lies inside
        // `data`; `data` stays mutably borrowed until every task has returned.
        let chunk = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), n) };
        f(i, chunk)
    });
}

/// A pointer that tasks may share; each task derives a disjoint slice from it.
struct SendPtr<T>(*mut T);

impl<T> SendPtr<T> {
    /// A method rather than field access, so closures capture the whole (Sync) wrapper.
    fn get(&self) -> *mut T {
        self.0
    }
}

// SAFETY: only used by `parallel_chunks_mut`, whose tasks touch disjoint elements.
unsafe impl<T: Send> Sync for SendPtr<T> {}

/// [`parallel_chunks_mut`] for fallible tasks: returns the first error any task returned
/// (tasks not yet started when it happened are skipped).
pub fn try_parallel_chunks_mut<T: Send, E: Send>(
    data: &mut [T],
    chunk_len: usize,
    f: impl Fn(usize, &mut [T]) -> Result<(), E> + Sync,
) -> Result<(), E> {
    let first_error = Mutex::new(None);
    let failed = AtomicBool::new(false);
    parallel_chunks_mut(data, chunk_len, |i, chunk| {
        if failed.load(SeqCst) {
            return;
        }
        if let Err(e) = f(i, chunk) {
            failed.store(true, SeqCst);
            lock(&first_error).get_or_insert(e);
        }
    });
    match first_error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

thread_local! {
    /// Whether this thread is running a team task.
    static IN_TASK: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// One call of [`parallel_for`]; lives on the caller's stack.
struct Job<'a> {
    task: &'a (dyn Fn(usize) + Sync),
    /// Workers with an index below this take part.
    helpers: usize,
    claims: Claims,
    /// The first task panic's payload, re-raised on the caller.
    panic: Mutex<Option<Box<dyn std::any::Any + Send>>>,
}

impl Job<'_> {
    /// Claims and runs tasks until none are left, as member `member` (worker `i` is
    /// member `i`, the caller the last one).
    fn run_tasks(&self, member: usize) {
        IN_TASK.set(true);
        self.claim_all(member);
        IN_TASK.set(false);
    }

    fn claim_all(&self, member: usize) {
        let home = self.claims.home(member);
        while let Some(i) = self.claims.next(home) {
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| (self.task)(i)));
            if let Err(payload) = run {
                lock(&self.panic).get_or_insert(payload);
            }
        }
    }
}

/// Most regions a job's tasks are split into; members beyond that share regions.
const MAX_REGIONS: usize = 32;

/// Hands out a job's task indices. Each member has a home region, a run of consecutive
/// tasks that it claims front to back, so that one thread's tasks touch neighbouring
/// data: a streaming kernel's prefetches then run ahead into the thread's own next task,
/// not into another core's. Regions follow the member numbers (worker `i` first, the
/// caller last), so an idle worker knows which data it will read first
/// ([`crate::ahead`]). A member whose region is empty takes tasks from the back of the
/// others', so uneven tasks and late joiners still balance.
struct Claims {
    /// Per region: the next unclaimed task at its front (low 32 bits) and one past the
    /// last unclaimed one (high 32 bits), updated together by compare-and-swap.
    regions: [AtomicU64; MAX_REGIONS],
    count: usize,
}

impl Claims {
    fn new(tasks: u32, members: usize) -> Self {
        let count = members.clamp(1, MAX_REGIONS);
        let bound = |r: usize| u64::from(tasks) * r as u64 / count as u64;
        Self {
            regions: std::array::from_fn(|r| {
                let (front, back) = if r < count {
                    (bound(r), bound(r + 1))
                } else {
                    (0, 0)
                };
                AtomicU64::new(front | back << 32)
            }),
            count,
        }
    }

    /// The home region of member `member`.
    fn home(&self, member: usize) -> usize {
        member % self.count
    }

    /// The next task for a member at home in region `home`; `None` once all are claimed.
    fn next(&self, home: usize) -> Option<usize> {
        self.take(home, true)
            .or_else(|| (1..self.count).find_map(|d| self.take((home + d) % self.count, false)))
    }

    fn take(&self, region: usize, front: bool) -> Option<usize> {
        let slot = &self.regions[region];
        let mut current = slot.load(SeqCst);
        loop {
            let (lo, hi) = (current & u64::from(u32::MAX), current >> 32);
            if lo >= hi {
                return None;
            }
            let (task, claimed) = if front {
                (lo, current + 1)
            } else {
                (hi - 1, lo | (hi - 1) << 32)
            };
            match slot.compare_exchange_weak(current, claimed, SeqCst, SeqCst) {
                Ok(_) => return Some(task as usize),
                Err(now) => current = now,
            }
        }
    }
}

/// A lifetime-erased pointer to the current [`Job`].
#[derive(Clone, Copy)]
struct JobPtr(*const Job<'static>);

// SAFETY: a `Job` is Sync (atomics and a `dyn Fn + Sync`), and the protocol in `Team`
// keeps it alive while any worker holds the pointer.
unsafe impl Send for JobPtr {}

struct Team {
    busy: AtomicBool,
    /// The published job, with its number. A worker copies the pointer and counts
    /// itself in `attached` under this lock, so the caller, which clears the slot under
    /// the same lock and then waits for `attached` to drop to zero, knows when no worker
    /// can touch the job any more.
    slot: Mutex<(u64, Option<JobPtr>)>,
    attached: AtomicUsize,
    /// Number of the latest job, polled by spinning workers.
    epoch: AtomicU64,
    sleepers: AtomicUsize,
    sleep_lock: Mutex<()>,
    wake: Condvar,
    spawned: Mutex<usize>,
}

fn team() -> &'static Team {
    static TEAM: OnceLock<Team> = OnceLock::new();
    TEAM.get_or_init(|| Team {
        busy: AtomicBool::new(false),
        slot: Mutex::new((0, None)),
        attached: AtomicUsize::new(0),
        epoch: AtomicU64::new(0),
        sleepers: AtomicUsize::new(0),
        sleep_lock: Mutex::new(()),
        wake: Condvar::new(),
        spawned: Mutex::new(0),
    })
}

/// Locks a mutex whose data stays consistent even if a holder panicked (plain values).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Team {
    /// Starts workers until there are `helpers`.
    fn grow(&'static self, helpers: usize) {
        let mut spawned = lock(&self.spawned);
        while *spawned < helpers {
            let index = *spawned;
            let started = std::thread::Builder::new()
                .name(format!("ferrite-team-{index}"))
                .spawn(move || self.work(index));
            if started.is_err() {
                // Fewer workers only means fewer threads take part: the caller runs
                // every task no worker claims.
                break;
            }
            *spawned += 1;
        }
    }

    fn publish(&self, job: &Job<'_>) {
        let epoch = {
            let mut slot = lock(&self.slot);
            slot.0 += 1;
            // SAFETY of the erasure: `retire` runs before `job` goes out of scope and
            // waits until no worker holds the pointer.
            slot.1 = Some(JobPtr((job as *const Job<'_>).cast::<Job<'static>>()));
            slot.0
        };
        self.epoch.store(epoch, SeqCst);
        if self.sleepers.load(SeqCst) > 0 {
            let _guard = lock(&self.sleep_lock);
            self.wake.notify_all();
        }
    }

    /// Called by the caller after its own share: waits for the tasks that workers are
    /// still running, then for every worker to let go of the job.
    fn retire(&self) {
        lock(&self.slot).1 = None;
        let mut spins = 0u32;
        while self.attached.load(SeqCst) > 0 {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(YIELD_EVERY) {
                // The worker we wait for may be waiting for this core (more threads
                // than cores).
                std::thread::yield_now();
            }
        }
    }

    fn work(&self, index: usize) {
        let mut seen = 0u64;
        let mut ahead = Cursor::default();
        loop {
            seen = self.wait_for_job(seen, index, &mut ahead);
            let job = {
                let slot = lock(&self.slot);
                match slot.1 {
                    Some(ptr) if slot.0 == seen => {
                        self.attached.fetch_add(1, SeqCst);
                        ptr
                    }
                    _ => continue,
                }
            };
            // SAFETY: counted in `attached` under the slot lock while the job was
            // published, so the caller's `retire` keeps it alive until we detach.
            let job = unsafe { &*job.0 };
            if index < job.helpers {
                job.run_tasks(index);
            }
            self.attached.fetch_sub(1, SeqCst);
        }
    }

    /// Spins, then sleeps, until a job newer than `seen` is published; returns its number.
    /// While spinning, worker `index` prefetches what the next job will read, if named.
    fn wait_for_job(&self, seen: u64, index: usize, ahead: &mut Cursor) -> u64 {
        let start = Instant::now();
        let mut spins = 0u32;
        let members = threads();
        loop {
            let epoch = self.epoch.load(SeqCst);
            if epoch != seen {
                return epoch;
            }
            if ahead.step(index, members) {
                continue;
            }
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(YIELD_EVERY) {
                continue;
            }
            if start.elapsed() <= SPIN {
                // A no-op unless this core has other runnable threads, such as team
                // members still working when there are more threads than cores.
                std::thread::yield_now();
            } else {
                let guard = lock(&self.sleep_lock);
                self.sleepers.fetch_add(1, SeqCst);
                let guard = self
                    .wake
                    .wait_while(guard, |_| self.epoch.load(SeqCst) == seen)
                    .unwrap_or_else(|p| p.into_inner());
                self.sleepers.fetch_sub(1, SeqCst);
                drop(guard);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    /// Runs `f` where `threads()` is 3, so that the team has workers on any machine.
    fn with_three_threads(f: impl FnOnce() + Send) {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .expect("a 3-thread pool");
        pool.install(f);
    }

    #[test]
    fn claims_go_front_to_back_at_home_then_steal_from_the_back() {
        let claims = Claims::new(10, 2);
        assert_eq!((claims.home(0), claims.home(1)), (0, 1));
        let first: Vec<_> = std::iter::from_fn(|| claims.take(0, true)).collect();
        assert_eq!(first, [0, 1, 2, 3, 4]);
        assert_eq!(claims.next(1), Some(5));
        assert_eq!(
            claims.next(0),
            Some(9),
            "an idle member steals the last task"
        );
        assert_eq!(claims.next(0), Some(8));
        let rest: Vec<_> = std::iter::from_fn(|| claims.next(1)).collect();
        assert_eq!(rest, [6, 7]);
        assert_eq!(claims.next(0), None);
        // More members than tasks, and more than MAX_REGIONS.
        for (tasks, members) in [(3u32, 5usize), (0, 2), (100, MAX_REGIONS + 7)] {
            let claims = Claims::new(tasks, members);
            let mut member = 0;
            let mut got: Vec<_> = std::iter::from_fn(|| {
                member += 1;
                claims.next(claims.home(member))
            })
            .collect();
            got.sort_unstable();
            assert_eq!(got, (0..tasks as usize).collect::<Vec<_>>());
        }
    }

    #[test]
    fn concurrent_claims_hand_out_each_task_once() {
        let tasks = 20_000u32;
        let claims = Claims::new(tasks, 4);
        let hits: Vec<AtomicU32> = (0..tasks).map(|_| AtomicU32::new(0)).collect();
        std::thread::scope(|s| {
            for member in 0..4 {
                let claims = &claims;
                let hits = &hits;
                s.spawn(move || {
                    let home = claims.home(member);
                    while let Some(i) = claims.next(home) {
                        hits[i].fetch_add(1, SeqCst);
                    }
                });
            }
        });
        assert!(hits.iter().all(|h| h.load(SeqCst) == 1));
    }

    #[test]
    fn every_task_runs_once() {
        with_three_threads(|| {
            for tasks in [0, 1, 2, 3, 17, 1000] {
                let hits: Vec<AtomicU32> = (0..tasks).map(|_| AtomicU32::new(0)).collect();
                parallel_for(tasks, |i| {
                    hits[i].fetch_add(1, SeqCst);
                });
                assert!(hits.iter().all(|h| h.load(SeqCst) == 1), "tasks = {tasks}");
            }
        });
    }

    #[test]
    fn concurrent_and_nested_calls_complete() {
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    // Each caller sees 3 threads, so the team (or, while another caller
                    // holds it, rayon) runs its tasks on several threads.
                    with_three_threads(|| {
                        for _ in 0..200 {
                            parallel_for(4, |_| {
                                parallel_for(3, |_| {
                                    total.fetch_add(1, SeqCst);
                                });
                            });
                        }
                    });
                });
            }
        });
        assert_eq!(total.load(SeqCst), 4 * 200 * 4 * 3);
    }

    #[test]
    fn chunks_cover_the_slice_once_in_order() {
        with_three_threads(|| {
            for (len, chunk) in [(0, 4), (1, 4), (17, 4), (64, 16), (1000, 7)] {
                let mut data = vec![usize::MAX; len];
                parallel_chunks_mut(&mut data, chunk, |i, part| {
                    assert!(part.len() <= chunk && !part.is_empty());
                    for (j, v) in part.iter_mut().enumerate() {
                        *v = i * chunk + j;
                    }
                });
                assert!(data.iter().enumerate().all(|(i, &v)| v == i), "len {len}");
            }
        });
    }

    #[test]
    fn fallible_chunks_return_the_error_and_succeed_otherwise() {
        with_three_threads(|| {
            let mut data = vec![0u32; 100];
            let failed = try_parallel_chunks_mut(&mut data, 10, |i, _| {
                if i == 3 {
                    Err(format!("chunk {i}"))
                } else {
                    Ok(())
                }
            });
            assert_eq!(failed, Err("chunk 3".to_string()));
            let ok = try_parallel_chunks_mut(&mut data, 10, |_, part| -> Result<(), String> {
                part.fill(1);
                Ok(())
            });
            assert_eq!(ok, Ok(()));
            assert!(data.iter().all(|&v| v == 1));
        });
    }

    #[test]
    fn a_panicking_task_panics_the_caller_and_the_team_recovers() {
        with_three_threads(|| {
            let outcome = std::panic::catch_unwind(|| {
                parallel_for(8, |i| assert!(i != 5, "task five fails"));
            });
            // The task's own message reaches the caller.
            let payload = outcome.expect_err("the caller panics");
            let message = (payload.downcast_ref::<&str>().copied())
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str));
            assert_eq!(message, Some("task five fails"));
            let count = AtomicUsize::new(0);
            parallel_for(8, |_| {
                count.fetch_add(1, SeqCst);
            });
            assert_eq!(count.load(SeqCst), 8);
        });
    }
}
