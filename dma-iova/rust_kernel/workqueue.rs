// SPDX-License-Identifier: GPL-2.0

//! Waiting for a work item, for `kernel::workqueue`.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h).

use kernel::{
    bindings,
    workqueue::{HasWork, Work},
};

/// Waits until the last queued instance of `item`'s work item `ID` has finished running
/// (`flush_work()`). Returns whether it had to wait.
///
/// An owner that stops queueing `item` (under its own lock) and then flushes it knows that no
/// instance runs afterwards: the code of its `run()` may then go away with its module.
///
/// # Examples
///
/// ```ignore
/// // Under the lock that the queueing paths check: nothing queues `dev` from now on.
/// dev.state.lock().closed = true;
/// dmavec::rust_kernel::workqueue::flush_work(&*dev);
/// ```
pub fn flush_work<T: HasWork<T, ID>, const ID: u64>(item: &T) -> bool {
    let ptr = core::ptr::from_ref(item).cast_mut();
    // SAFETY: `ptr` points to a valid `T`, whose `Work` field `raw_get_work` locates without
    // dereferencing anything else.
    let work = unsafe { T::raw_get_work(ptr) };
    // SAFETY: `work` points to the initialised `Work` of a live `T` (a `T` is only reachable
    // once pin-initialised): `raw_get` yields its `work_struct`, which `flush_work()` may wait
    // on from any sleeping context, queued or not.
    unsafe { bindings::flush_work(Work::<T, ID>::raw_get(work)) }
}
