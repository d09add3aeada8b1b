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
