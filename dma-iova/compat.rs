// SPDX-License-Identifier: GPL-2.0

//! What the Rust abstractions of Linux 7.3 lack and dmavec's drivers need.
//!
//! Each item here is a candidate for `rust/kernel`, and goes from here when an equivalent
//! lands: [`cond_resched`] for `kernel::task`, [`flush_work`] for `kernel::workqueue`,
//! [`zero_io`] for `kernel::io` (which has single accesses only), [`MiscNames`] for
//! `kernel::miscdevice` (whose registrations borrow a `&'static CStr` name).
//!
//! C headers: [`include/linux/sched.h`](srctree/include/linux/sched.h),
//! [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h),
//! [`include/asm-generic/io.h`](srctree/include/asm-generic/io.h).

use crate::shim;
use kernel::{
    bindings,
    io::{Io, IoBackend, MmioBackend},
    prelude::*,
    sync::SetOnce,
    workqueue::{HasWork, Work},
};

/// Bytes of a misc device name and its NUL in [`MiscNames`]: a short prefix and a PCI name
/// (`dddd:bb:dd.f`, its domain up to eight digits) fit.
pub const MISC_NAME_LEN: usize = 32;

/// Up to `N` names of misc devices, `<prefix><device name>`, for the life of a module.
///
/// A [`MiscDeviceRegistration`](kernel::miscdevice::MiscDeviceRegistration) borrows its name
/// as a `&'static CStr` while it lives, but a driver names its misc devices after the devices
/// it binds. The names live here instead, in a static of the driver: a slot is written once,
/// and a device that binds again finds its name where it left it.
///
/// # Examples
///
/// ```ignore
/// static NAMES: MiscNames<32> = MiscNames::new();
///
/// let name = NAMES.get(b"dmavec-", pdev.as_ref().name())?; // "dmavec-0000:00:03.0"
/// MiscDeviceRegistration::register(MiscDeviceOptions { name })
/// ```
pub struct MiscNames<const N: usize>([SetOnce<[u8; MISC_NAME_LEN]>; N]);

impl<const N: usize> Default for MiscNames<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> MiscNames<N> {
    /// An empty set of names.
    pub const fn new() -> Self {
        Self([const { SetOnce::new() }; N])
    }

    /// Returns the name `prefix` + `dev_name`, taking a free slot for it the first time.
    ///
    /// # Errors
    ///
    /// `ENAMETOOLONG` if the name and its NUL exceed [`MISC_NAME_LEN`] bytes, `ENOSPC` once
    /// `N` different names are taken.
    pub fn get(&'static self, prefix: &[u8], dev_name: &CStr) -> Result<&'static CStr> {
        let dev_name = dev_name.to_bytes();
        let len = prefix.len() + dev_name.len();
        if len >= MISC_NAME_LEN {
            return Err(ENAMETOOLONG);
        }
        let mut name = [0u8; MISC_NAME_LEN];
        name[..prefix.len()].copy_from_slice(prefix);
        name[prefix.len()..len].copy_from_slice(dev_name);
        // Slots fill in order and are never emptied: the first that is empty (or that a
        // concurrent probe of another device is filling) comes after every name given out.
        for slot in &self.0 {
            if slot.as_ref().is_none() {
                slot.populate(name);
            }
            if let Some(taken) = slot.as_ref().filter(|taken| **taken == name) {
                return CStr::from_bytes_until_nul(taken).map_err(|_| EINVAL);
            }
        }
        Err(ENOSPC)
    }
}

/// Zeroes `[offset, offset + len)` of an MMIO region (`memset_io()`).
///
/// A loop of [`Io::try_write64`] costs a call and a bounds check per 8 bytes; `memset_io()` is
/// the architecture's bulk store, checked once.
///
/// # Errors
///
/// `EINVAL` if the range is not within the region, `EOVERFLOW` if it wraps.
///
/// # Examples
///
/// ```ignore
/// bar.try_access_with(|bar| dmavec::compat::zero_io(bar, first * PAGE_SIZE, PAGE_SIZE));
/// ```
pub fn zero_io<'a, IO: Io<'a, Backend = MmioBackend>>(io: IO, offset: usize, len: usize) -> Result {
    let end = offset.checked_add(len).ok_or(EOVERFLOW)?;
    if end > io.size() {
        return Err(EINVAL);
    }
    let base = MmioBackend::as_ptr(io.as_view()).cast::<u8>();
    // SAFETY: `io` is a live MMIO mapping of `io.size()` bytes at `base` (the invariant of its
    // view), and `[offset, end)` lies within it.
    unsafe { bindings::memset_io(base.wrapping_add(offset).cast(), 0, len) };
    Ok(())
}

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
/// dmavec::compat::flush_work(&*dev);
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
