//! Ordered parallel map: work on many independent items (record files) on every core, handing
//! results back in input order, a bounded batch at a time so memory stays flat on large folders.

use std::num::NonZeroUsize;
use std::thread;

/// Items handed to each thread per batch; large enough to amortise thread start-up.
const PER_THREAD: usize = 64;

/// Calls `f` on every item, in parallel, and `sink` on every result, in item order.
pub fn map_ordered<T, R, F, S>(items: &[T], f: F, mut sink: S)
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
    S: FnMut(R),
{
    let threads = thread::available_parallelism().map_or(1, NonZeroUsize::get);
    if threads == 1 || items.len() <= PER_THREAD {
        items.iter().map(&f).for_each(sink);
        return;
    }
    for batch in items.chunks(threads * PER_THREAD) {
        let part = batch.len().div_ceil(threads);
        let results: Vec<Vec<R>> = thread::scope(|scope| {
            let handles: Vec<_> = batch
                .chunks(part)
                .map(|chunk| scope.spawn(|| chunk.iter().map(&f).collect::<Vec<R>>()))
                .collect();
            // A panic in `f` is a bug; re-raise it on the calling thread.
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
                .collect()
        });
        results.into_iter().flatten().for_each(&mut sink);
    }
}

#[cfg(test)]
mod tests {
    use super::map_ordered;

    #[test]
    fn keeps_order_across_batches() {
        let items: Vec<usize> = (0..1000).collect();
        let mut seen = Vec::new();
        map_ordered(&items, |x| x * 2, |r| seen.push(r));
        assert_eq!(seen, items.iter().map(|x| x * 2).collect::<Vec<_>>());
    }
}
