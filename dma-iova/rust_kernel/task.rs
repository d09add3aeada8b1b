// SPDX-License-Identifier: GPL-2.0

//! Yielding the CPU, for `kernel::task`.
//!
//! C header: [`include/linux/sched.h`](srctree/include/linux/sched.h).

use crate::shim;

/// Gives the CPU to another task if one is due (`cond_resched()`).
///
/// Long loops in process context call it between steps, so that they never trip the RCU-stall
/// or soft-lockup detectors on a kernel without full preemption.
// Not inlined into users: the C shim it calls is private to this module.
#[inline(never)]
pub fn cond_resched() {
    // SAFETY: `cond_resched()` has no precondition beyond process context, which is what a
    // Rust caller that may sleep runs in.
    unsafe { shim::dmavec_shim_cond_resched() };
}
