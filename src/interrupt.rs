//! What SIGINT (Ctrl-C) and SIGTERM do to a command: it says how far it got, undoes what it
//! must not leave behind (a real ZooKeeper server it started, that server's directory), and
//! exits with status 130, as a shell reports a process that SIGINT ended.
//!
//! A command registers each such cleanup while it holds the thing ([`on_interrupt`]: the
//! returned guard unregisters it when dropped, once the command undid it itself) and keeps a
//! line saying where it is ([`set_status`]). [`install`] (once, in `main`) sets the handler,
//! which runs on a thread of its own (the `ctrlc` crate's), so the work need not poll anything.
//! Without `install` (the library in a test) nothing is ever run.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Set as the handler starts: from then on the handler owns the exit (status 130), and what
/// the interrupted work reports as failing (a server it was waiting for, now killed) is its
/// doing, not a failure to report.
static INTERRUPTED: AtomicBool = AtomicBool::new(false);

type Cleanup = Box<dyn FnOnce() + Send>;

/// The registered cleanups (by id) and the status line.
struct State {
    next: u64,
    cleanups: Vec<(u64, Cleanup)>,
    status: Option<String>,
}

static STATE: Mutex<State> = Mutex::new(State {
    next: 0,
    cleanups: Vec::new(),
    status: None,
});

fn state() -> std::sync::MutexGuard<'static, State> {
    STATE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Sets the handler. Later calls do nothing.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        INTERRUPTED.store(true, Ordering::SeqCst);
        let (status, cleanups) = {
            let mut s = state();
            (s.status.take(), std::mem::take(&mut s.cleanups))
        };
        match status {
            Some(status) => eprintln!("\ninterrupted: {status}"),
            None => eprintln!("\ninterrupted"),
        }
        // Last registered, first undone.
        for (_, cleanup) in cleanups.into_iter().rev() {
            cleanup();
        }
        std::process::exit(130);
    });
}

/// Whether an interruption is under way (its handler will exit the process).
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Called where the process would end on its own: if an interruption is under way, waits for
/// its handler to finish the cleanup and exit 130, so the exit status and the last words are
/// the interruption's, whichever thread gets there first.
pub fn defer_to_handler() {
    if interrupted() {
        loop {
            std::thread::park();
        }
    }
}

/// Runs `cleanup` if the process is interrupted while the returned guard lives.
#[must_use = "the cleanup is unregistered when the guard is dropped"]
pub fn on_interrupt(cleanup: impl FnOnce() + Send + 'static) -> Guard {
    let mut s = state();
    let id = s.next;
    s.next += 1;
    s.cleanups.push((id, Box::new(cleanup)));
    Guard(id)
}

/// Unregisters its cleanup when dropped.
#[derive(Debug)]
pub struct Guard(u64);

impl Drop for Guard {
    fn drop(&mut self) {
        state().cleanups.retain(|(id, _)| *id != self.0);
    }
}

/// The line an interruption prints now (the last one set wins); `None` clears it.
pub fn set_status(status: Option<String>) {
    state().status = status;
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: a dropped guard takes its cleanup away, a live one leaves it registered.
    #[test]
    fn a_guard_unregisters_its_cleanup_when_dropped() {
        let kept = on_interrupt(|| {});
        let count = || state().cleanups.len();
        let before = count();
        let dropped = on_interrupt(|| {});
        assert_eq!(count(), before + 1);
        drop(dropped);
        assert_eq!(count(), before);
        drop(kept);
        assert_eq!(count(), before - 1);
    }
}
