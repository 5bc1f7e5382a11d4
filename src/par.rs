//! Ordered parallel map over a work queue: independent pieces of work (record files, runs of
//! lines of a big `.jsonl` file) are pulled lazily from an iterator, processed on every core as
//! soon as a worker is free, and handed back in input order as soon as each next result is
//! ready. At most a bounded number of pieces are in flight, so memory stays flat whatever the
//! number of pieces, and a slow piece holds back only the output behind it, never the workers.

use std::collections::{BTreeMap, VecDeque};
use std::num::NonZeroUsize;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;

/// Pieces in flight (queued, being processed, or done and waiting for their turn) per worker:
/// enough that a slow piece does not starve the other workers, few enough to keep memory flat.
const IN_FLIGHT_PER_WORKER: usize = 16;

/// How the work was spread, for tests and benchmarks: pieces processed by each worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spread {
    pub per_worker: Vec<usize>,
}

impl Spread {
    /// Pieces processed in all.
    pub fn pieces(&self) -> usize {
        self.per_worker.iter().sum()
    }

    /// Workers that processed at least one piece.
    pub fn workers_used(&self) -> usize {
        self.per_worker.iter().filter(|&&n| n > 0).count()
    }
}

/// The number of workers to use: one per core.
pub fn default_workers() -> usize {
    thread::available_parallelism().map_or(1, NonZeroUsize::get)
}

/// Calls `f` on every item, in parallel, and `sink` on every result, in item order.
pub fn map_ordered<T, R, F, S>(items: &[T], f: F, sink: S)
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
    S: FnMut(R),
{
    stream_ordered(items.iter(), default_workers(), f, sink);
}

struct Queue<T> {
    jobs: VecDeque<(usize, T)>,
    closed: bool,
}

type Outcome<R> = thread::Result<R>;

fn lock<X>(m: &Mutex<X>) -> MutexGuard<'_, X> {
    // A worker's panic is caught before it could poison anything; be tolerant anyway.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Pulls items from `items` on the calling thread, runs `f` on them on `workers` threads, and
/// calls `sink` on the calling thread with each result in item order, as soon as it is ready.
/// A panic in `f` is a bug: it is re-raised on the calling thread.
pub fn stream_ordered<I, T, R, F, S>(items: I, workers: usize, f: F, mut sink: S) -> Spread
where
    I: IntoIterator<Item = T>,
    T: Send,
    R: Send,
    F: Fn(T) -> R + Sync,
    S: FnMut(R),
{
    let mut items = items.into_iter();
    if workers <= 1 {
        let mut n = 0;
        for item in items {
            sink(f(item));
            n += 1;
        }
        return Spread {
            per_worker: vec![n],
        };
    }
    let queue = Mutex::new(Queue {
        jobs: VecDeque::new(),
        closed: false,
    });
    let work_ready = Condvar::new();
    let results: Mutex<BTreeMap<usize, Outcome<R>>> = Mutex::new(BTreeMap::new());
    let result_ready = Condvar::new();
    let bound = workers * IN_FLIGHT_PER_WORKER;
    let mut per_worker = vec![0; workers];
    thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                let (queue, work_ready, results, result_ready, f) =
                    (&queue, &work_ready, &results, &result_ready, &f);
                scope.spawn(move || {
                    let mut done = 0usize;
                    loop {
                        let job = {
                            let mut q = lock(queue);
                            loop {
                                if let Some(job) = q.jobs.pop_front() {
                                    break Some(job);
                                }
                                if q.closed {
                                    break None;
                                }
                                q = work_ready.wait(q).unwrap_or_else(PoisonError::into_inner);
                            }
                        };
                        let Some((seq, item)) = job else { break };
                        let outcome = panic::catch_unwind(AssertUnwindSafe(|| f(item)));
                        done += 1;
                        lock(results).insert(seq, outcome);
                        result_ready.notify_one();
                    }
                    done
                })
            })
            .collect();

        // Only the calling thread waits for results, so one notification per result reaches it.
        let (mut next_in, mut next_out) = (0usize, 0usize);
        let mut exhausted = false;
        let mut failure = None;
        loop {
            while !exhausted && next_in - next_out < bound {
                match items.next() {
                    Some(item) => {
                        lock(&queue).jobs.push_back((next_in, item));
                        work_ready.notify_one();
                        next_in += 1;
                    }
                    None => exhausted = true,
                }
            }
            if next_out == next_in {
                break;
            }
            let outcome = {
                let mut r = lock(&results);
                loop {
                    if let Some(outcome) = r.remove(&next_out) {
                        break outcome;
                    }
                    r = result_ready.wait(r).unwrap_or_else(PoisonError::into_inner);
                }
            };
            next_out += 1;
            match outcome {
                Ok(result) => sink(result),
                Err(payload) => {
                    failure = Some(payload);
                    break;
                }
            }
        }
        {
            let mut q = lock(&queue);
            q.closed = true;
            q.jobs.clear();
        }
        work_ready.notify_all();
        for (count, h) in per_worker.iter_mut().zip(handles) {
            *count = h.join().unwrap_or_else(|e| panic::resume_unwind(e));
        }
        if let Some(payload) = failure {
            panic::resume_unwind(payload);
        }
    });
    Spread { per_worker }
}

#[cfg(test)]
mod tests {
    use super::{map_ordered, stream_ordered};

    #[test]
    fn keeps_order_across_batches() {
        let items: Vec<usize> = (0..1000).collect();
        let mut seen = Vec::new();
        map_ordered(&items, |x| x * 2, |r| seen.push(r));
        assert_eq!(seen, items.iter().map(|x| x * 2).collect::<Vec<_>>());
    }

    #[test]
    fn a_slow_item_holds_back_only_the_output_behind_it() {
        // Item 0 is slow: the other worker goes on with the queue meanwhile, and the results
        // still come out in order.
        let mut seen = Vec::new();
        let spread = stream_ordered(
            0..200usize,
            2,
            |x| {
                if x == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                }
                x
            },
            |r| seen.push(r),
        );
        assert_eq!(seen, (0..200).collect::<Vec<_>>());
        assert_eq!(spread.pieces(), 200);
        assert_eq!(spread.workers_used(), 2, "{spread:?}");
    }

    #[test]
    fn a_panic_in_a_worker_reaches_the_caller() {
        let caught = std::panic::catch_unwind(|| {
            stream_ordered(0..100usize, 2, |x| assert!(x != 50, "boom"), |()| {});
        });
        assert!(caught.is_err());
    }
}
