//! Cancellation shared between the thread running an action and whoever asks
//! for the cancel (the stdin watcher, a signal, the engine).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

type Waker = Box<dyn Fn() + Send>;

/// Cloneable cancel switch. Once cancelled it stays cancelled.
#[derive(Clone, Default)]
pub struct CancelHandle {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    canceled: AtomicBool,
    next_id: AtomicU64,
    // Wakers let a blocked run loop react at once instead of polling the flag.
    wakers: Mutex<Vec<(u64, Waker)>>,
}

impl std::fmt::Debug for CancelHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelHandle")
            .field("canceled", &self.is_canceled())
            .finish()
    }
}

impl CancelHandle {
    pub fn new() -> Self {
        Self::default()
    }

    /// Requests cancellation. Safe to call from any thread, any number of times.
    pub fn cancel(&self) {
        let wakers = lock(&self.inner.wakers);
        // Set under the lock so that `on_cancel` either sees the flag or is
        // in the list we are about to wake: no cancel is ever missed.
        if self.inner.canceled.swap(true, Ordering::SeqCst) {
            return;
        }
        for (_, wake) in wakers.iter() {
            wake();
        }
    }

    pub fn is_canceled(&self) -> bool {
        self.inner.canceled.load(Ordering::SeqCst)
    }

    /// Calls `wake` once when cancelled (at once if already cancelled) for as
    /// long as the returned guard lives.
    #[allow(dead_code)] // unused when only the `noop` feature is compiled
    pub(crate) fn on_cancel(&self, wake: impl Fn() + Send + 'static) -> CancelGuard {
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let mut wakers = lock(&self.inner.wakers);
        if self.inner.canceled.load(Ordering::SeqCst) {
            wake();
        } else {
            wakers.push((id, Box::new(wake)));
        }
        CancelGuard {
            inner: Arc::clone(&self.inner),
            id,
        }
    }
}

/// Unregisters a waker when dropped.
pub(crate) struct CancelGuard {
    inner: Arc<Inner>,
    id: u64,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        lock(&self.inner.wakers).retain(|(id, _)| *id != self.id);
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking waker must not disable cancellation for everyone else.
    m.lock().unwrap_or_else(|e| e.into_inner())
}
