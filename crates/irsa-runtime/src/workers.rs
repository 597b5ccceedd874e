//! Connection workers: one single-threaded Tokio runtime per core, each serving the
//! connections handed to it from accept to close.
//!
//! Why not the multi-threaded runtime's work stealing: a request on a keep-alive
//! connection is a few tens of microseconds of work between two socket events. Under
//! load the multi-threaded scheduler keeps waking idle workers to steal such tasks, and
//! profiles of `irsa webhook` showed a fifth of its CPU time in futex wake-ups and context
//! switches (`try_to_wake_up`, `finish_task_switch`) rather than in serving. A connection
//! pinned to one thread wakes only that thread's reactor, as an nginx worker does. New
//! connections are dealt round-robin, so the load spreads over the threads. The price: a
//! handler that blocks stalls the other connections of its thread for as long, where work
//! stealing would have moved them. The webhook's handlers never block; `irsa local`'s IAM
//! writes commit its store inline (an fsync, milliseconds), which held a worker thread
//! before too, and are rare next to the STS calls the pinning is for.
//!
//! The threads are started on first use and live as long as the process. Everything else
//! (accept loops, watches, timers of the application) stays on the caller's runtime; the
//! synchronisation between the two (semaphores, watch channels) is runtime-agnostic.

use std::future::Future;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::Handle;

struct Workers {
    handles: Vec<Handle>,
    next: AtomicUsize,
}

/// Starts one worker per available core (at least one). `None` when not even one could be
/// started, in which case connections run on the caller's runtime.
fn start() -> Option<Workers> {
    let count = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let mut handles = Vec::with_capacity(count);
    for index in 0..count {
        let (sender, receiver) = std::sync::mpsc::channel();
        let started = std::thread::Builder::new()
            .name(format!("irsa-conn-{index}"))
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match runtime {
                    Ok(runtime) => {
                        let _ = sender.send(Some(runtime.handle().clone()));
                        runtime.block_on(std::future::pending::<()>());
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot start a connection worker");
                        let _ = sender.send(None);
                    }
                }
            });
        if let Err(e) = started {
            tracing::warn!(error = %e, "cannot start a connection worker thread");
            continue;
        }
        if let Ok(Some(handle)) = receiver.recv() {
            handles.push(handle);
        }
    }
    (!handles.is_empty()).then(|| Workers {
        handles,
        next: AtomicUsize::new(0),
    })
}

/// Runs `task` on the next worker (round-robin), or on the current runtime when there are
/// no workers.
pub(crate) fn spawn<F>(task: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    static WORKERS: OnceLock<Option<Workers>> = OnceLock::new();
    match WORKERS.get_or_init(start) {
        Some(workers) => {
            let index = workers.next.fetch_add(1, Ordering::Relaxed) % workers.handles.len();
            if let Some(handle) = workers.handles.get(index) {
                handle.spawn(task);
            }
        }
        None => {
            tokio::spawn(task);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn tasks_run_round_robin_on_worker_threads_not_on_the_caller() {
        let caller = std::thread::current().id();
        let mut names = Vec::new();
        for _ in 0..4 {
            let (tx, rx) = tokio::sync::oneshot::channel();
            spawn(async move {
                let me = std::thread::current();
                let _ = tx.send((me.id(), me.name().map(str::to_owned)));
            });
            let (id, name) = rx.await.expect("the worker ran the task");
            assert_ne!(id, caller, "the task ran on the caller's thread");
            names.push(name.unwrap_or_default());
        }
        assert!(
            names.iter().all(|n| n.starts_with("irsa-conn-")),
            "{names:?}"
        );
        let distinct: std::collections::BTreeSet<_> = names.iter().collect();
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        assert_eq!(
            distinct.len(),
            cores.min(4),
            "round-robin over {cores} workers: {names:?}"
        );
    }
}
