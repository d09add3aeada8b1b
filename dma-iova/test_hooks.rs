// SPDX-License-Identifier: GPL-2.0

//! Hooks that widen race windows for the race tests, built into test kernels only
//! (`CONFIG_DMAVEC_KUNIT_TEST`); `dmavec_test` exposes them in debugfs.
//!
//! They make a race that a test provokes land inside the window it targets, so that a test
//! fails reliably when the synchronisation it checks is missing, rather than once in a
//! thousand runs.

use kernel::{
    sync::atomic::{Atomic, Relaxed},
    time::{delay::fsleep, Delta},
};

/// Milliseconds the exporter's attach callback sleeps after it found the buffer not revoked
/// and before it asks P2PDMA for the route (which uses the exporter's provider): the window
/// of a revocation (remove, unplug) racing an import.
pub static ATTACH_DELAY_MS: Atomic<u32> = Atomic::new(0);

/// Sleeps for [`ATTACH_DELAY_MS`], if set.
pub(crate) fn attach_delay() {
    let ms = ATTACH_DELAY_MS.load(Relaxed);
    if ms > 0 {
        fsleep(Delta::from_millis(i64::from(ms)));
    }
}

/// A point in dmavec's code where a race test holds the task that reaches it.
///
/// While the gate is armed, a task that reaches it counts itself in [`Gate::reached`] and waits
/// until the test disarms the gate. A test arms it, makes a task reach it, waits until
/// [`Gate::reached`] says so, does what must race that task at exactly that point, and disarms
/// it: the race lands in its window by construction, with no timing involved.
pub struct Gate {
    armed: Atomic<bool>,
    reached: Atomic<u32>,
}

impl Gate {
    const fn new() -> Self {
        Self {
            armed: Atomic::new(false),
            reached: Atomic::new(0),
        }
    }

    /// Arms (`true`) or disarms (`false`) the gate; disarming lets every held task go on.
    pub fn arm(&self, on: bool) {
        if on {
            self.reached.store(0, Relaxed);
        }
        self.armed.store(on, Relaxed);
    }

    /// How many tasks reached the gate since it was armed.
    pub fn reached(&self) -> u32 {
        self.reached.load(Relaxed)
    }

    /// Whether the gate is armed.
    pub fn is_armed(&self) -> bool {
        self.armed.load(Relaxed)
    }

    /// Holds the calling task while the gate is armed. Before it counts itself, it waits for
    /// every RCU callback queued so far (`rcu_barrier()`): memory that the caller's context
    /// freed through RCU (an inode put before a dma-buf's release) is then really freed, and
    /// a use of it while the task is held is a KASAN report, not a matter of luck.
    pub fn pass(&self) {
        if !self.armed.load(Relaxed) {
            return;
        }
        kernel::sync::rcu::rcu_barrier();
        self.reached.fetch_add(1, Relaxed);
        while self.armed.load(Relaxed) {
            fsleep(Delta::from_millis(1));
        }
    }
}

/// Held at the start of a dmavec dma-buf's release, before it takes the buffer's state lock:
/// the file is dying (its count is zero, its inode put) while the exporter still sees the
/// buffer, the window of a revocation racing the last close.
pub static RELEASE_HOLD: Gate = Gate::new();

/// Held by a reader of the debugfs `buffers` file between its snapshot of the registry and
/// its printing: the window of a dma-buf release and an exporter module's removal racing the
/// reader.
pub static REGISTRY_HOLD: Gate = Gate::new();

/// Held by an exporter's background work before it starts (`dmavec_bar`'s scrubber of freed
/// memory): the window of allocations that wait for it.
pub static SCRUB_HOLD: Gate = Gate::new();

pub(crate) use crate::ffi::FakeProvider;
