// SPDX-License-Identifier: GPL-2.0

//! The reservation object of a dma-buf and its lock.
//!
//! Every dma-buf has a reservation object (`struct dma_resv`): a `ww_mutex` and the fences of
//! the DMA that uses the buffer. The lock is the dma-buf's lock: the dma-buf core holds it to
//! change the list of attachments, and exporters and dynamic importers hold it to map, unmap
//! and invalidate. Here the rule "this call needs the reservation lock" is a type: such a call
//! takes a [`ResvGuard`], which exists only while the lock is held, either because it took the
//! lock ([`DmaResv::lock`], [`DmaResv::lock_interruptible`]; dropping it unlocks) or because
//! the dma-buf core holds it around a callback (the guard the callback is given does not
//! unlock). Data protected by the lock lives in a [`ResvCell`].
//!
//! | call | lock |
//! |------|------|
//! | [`DmaResv::lock`], [`DmaResv::lock_interruptible`] | takes it |
//! | [`DmaResv::wait`] | none (must not hold it: it waits for DMA) |
//! | [`ResvGuard::add_fence`] | held ([`ResvGuard`]) |
//! | [`ResvCell::get_mut`] | held ([`ResvGuard`]) |
//!
//! No acquire context is used: a guard locks one object, and code that needs several takes
//! them in an order of its own (`ww_mutex` without a context behaves as a plain mutex).
//!
//! C header: [`include/linux/dma-resv.h`](srctree/include/linux/dma-resv.h).

use crate::dma_fence::DmaFence;
use crate::{
    bindings,
    error::to_result,
    ffi::c_ulong,
    prelude::*,
    types::{NotThreadSafe, Opaque},
};
use core::cell::UnsafeCell;

/// How a fence in a reservation object is used (`enum dma_resv_usage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResvUsage {
    /// Kernel memory management (`DMA_RESV_USAGE_KERNEL`).
    Kernel,
    /// Implicit write synchronisation (`DMA_RESV_USAGE_WRITE`).
    Write,
    /// Implicit read synchronisation (`DMA_RESV_USAGE_READ`).
    Read,
    /// No implicit synchronisation; waited for by those who want every user gone
    /// (`DMA_RESV_USAGE_BOOKKEEP`).
    Bookkeep,
}

impl ResvUsage {
    fn as_raw(self) -> bindings::dma_resv_usage {
        match self {
            Self::Kernel => bindings::dma_resv_usage_DMA_RESV_USAGE_KERNEL,
            Self::Write => bindings::dma_resv_usage_DMA_RESV_USAGE_WRITE,
            Self::Read => bindings::dma_resv_usage_DMA_RESV_USAGE_READ,
            Self::Bookkeep => bindings::dma_resv_usage_DMA_RESV_USAGE_BOOKKEEP,
        }
    }
}

/// A reservation object (`struct dma_resv`).
///
/// Only borrowed: it lives in (or beside) the dma-buf that [`DmaBuf::resv`] borrows it from.
///
/// # Invariants
///
/// `self.0` is an initialised `struct dma_resv`, valid for as long as the reference to it.
///
/// [`DmaBuf::resv`]: super::DmaBuf::resv
#[repr(transparent)]
pub struct DmaResv(Opaque<bindings::dma_resv>);

// SAFETY: A reservation object is a `ww_mutex` and an RCU-protected fence list: every
// operation on it may run on any thread, and shared references only reach those operations.
unsafe impl Send for DmaResv {}
// SAFETY: See `Send`.
unsafe impl Sync for DmaResv {}

impl DmaResv {
    /// Borrows the reservation object at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` is an initialised `struct dma_resv` that stays valid for `'a`.
    pub unsafe fn from_raw<'a>(ptr: *mut bindings::dma_resv) -> &'a Self {
        // SAFETY: `DmaResv` is a transparent wrapper of `struct dma_resv`; the caller
        // guarantees validity for `'a`.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The raw reservation object.
    pub fn as_raw(&self) -> *mut bindings::dma_resv {
        self.0.get()
    }

    /// Takes the lock (`dma_resv_lock()`, no acquire context), uninterruptibly.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma_buf::{DmaBuf, ResvUsage};
    ///
    /// /// Stops every importer's use of `dmabuf`'s mappings and waits for its DMA.
    /// fn invalidate_and_wait(dmabuf: &DmaBuf) {
    ///     let guard = dmabuf.resv().lock();
    ///     dmabuf.invalidate_mappings(&guard);
    ///     // Unlocked here: the fences are waited for with no lock held.
    ///     drop(guard);
    ///     dmabuf.resv().wait(ResvUsage::Bookkeep);
    /// }
    /// ```
    pub fn lock(&self) -> ResvGuard<'_> {
        // SAFETY: By the type invariant the object is valid. Without an acquire context
        // `dma_resv_lock()` cannot fail with `-EDEADLK` or `-EALREADY`.
        unsafe { bindings::dma_resv_lock(self.as_raw(), core::ptr::null_mut()) };
        // INVARIANT: Locked just above; the guard unlocks on drop.
        ResvGuard {
            resv: self,
            unlock: true,
            _not_send: NotThreadSafe,
        }
    }

    /// Takes the lock (`dma_resv_lock_interruptible()`).
    ///
    /// # Errors
    ///
    /// `EINTR` if a signal arrived while waiting.
    pub fn lock_interruptible(&self) -> Result<ResvGuard<'_>> {
        // SAFETY: By the type invariant the object is valid; no acquire context.
        to_result(unsafe {
            bindings::dma_resv_lock_interruptible(self.as_raw(), core::ptr::null_mut())
        })?;
        // INVARIANT: Locked just above; the guard unlocks on drop.
        Ok(ResvGuard {
            resv: self,
            unlock: true,
            _not_send: NotThreadSafe,
        })
    }

    /// Waits, without a timeout, until every fence of `usage` or stricter is signalled
    /// (`dma_resv_wait_timeout()` with `MAX_SCHEDULE_TIMEOUT`), uninterruptibly.
    ///
    /// Needs no lock, and must not be called with this object's lock held: the fences are
    /// signalled by whoever runs the DMA, and that may need the lock.
    pub fn wait(&self, usage: ResvUsage) {
        // SAFETY: By the type invariant the object is valid; `dma_resv_wait_timeout()` takes
        // no lock of the caller's and walks the fences under RCU.
        unsafe {
            bindings::dma_resv_wait_timeout(self.as_raw(), usage.as_raw(), false, c_ulong::MAX >> 1)
        };
    }
}

/// Proof that the lock of a reservation object is held.
///
/// Made by [`DmaResv::lock`] (it unlocks on drop), or by a callback of the dma-buf core that
/// is called with the lock held (then it does not unlock: the core does). A guard is not
/// [`Send`]: the lock belongs to the thread that took it.
///
/// # Invariants
///
/// The lock of `resv` is held by the current thread for as long as the guard lives; if
/// `unlock`, the guard owns it and releases it on drop.
pub struct ResvGuard<'a> {
    resv: &'a DmaResv,
    unlock: bool,
    _not_send: NotThreadSafe,
}

impl<'a> ResvGuard<'a> {
    /// A guard for a lock the caller holds (the dma-buf core, around a callback): it does not
    /// unlock.
    ///
    /// # Safety
    ///
    /// The lock of `resv` is held by the current thread for `'a`, and nothing else uses a
    /// guard for it meanwhile except through shared references.
    pub unsafe fn assume_locked(resv: &'a DmaResv) -> Self {
        // SAFETY: The object is valid (type invariant of `DmaResv`); with lockdep this checks
        // the caller's promise (`dma_resv_assert_held()`).
        unsafe { bindings::dma_resv_assert_held(resv.as_raw()) };
        // INVARIANT: The caller guarantees the lock is held for `'a`.
        Self {
            resv,
            unlock: false,
            _not_send: NotThreadSafe,
        }
    }

    /// The locked object.
    pub fn resv(&self) -> &'a DmaResv {
        self.resv
    }

    /// Whether this guard holds the lock of `resv`.
    pub fn is_of(&self, resv: &DmaResv) -> bool {
        core::ptr::eq(self.resv, resv)
    }

    /// Adds `fence` with `usage` (`dma_resv_reserve_fences()` and `dma_resv_add_fence()`);
    /// the object takes a reference of its own.
    ///
    /// # Errors
    ///
    /// `ENOMEM` if no slot could be reserved.
    pub fn add_fence(&self, fence: &DmaFence, usage: ResvUsage) -> Result {
        let resv = self.resv.as_raw();
        // SAFETY: By the type invariant the lock is held, as both calls require.
        to_result(unsafe { bindings::dma_resv_reserve_fences(resv, 1) })?;
        // SAFETY: The lock is held and a slot was reserved just above; `fence` is valid while
        // borrowed, and the object takes its own reference.
        unsafe { bindings::dma_resv_add_fence(resv, fence.as_raw(), usage.as_raw()) };
        Ok(())
    }
}

impl Drop for ResvGuard<'_> {
    fn drop(&mut self) {
        if self.unlock {
            // SAFETY: By the type invariant this guard took the lock and still holds it.
            unsafe { bindings::dma_resv_unlock(self.resv.as_raw()) };
        }
    }
}

/// Data protected by the lock of one reservation object.
///
/// [`ResvCell::get_mut`] needs the guard of that lock, uniquely borrowed: while the reference
/// it returns lives, the guard cannot be handed to a dma-buf core call, so no callback that
/// the core makes under the same lock (an invalidation, with a guard of its own) can run
/// meanwhile on this thread, and no other thread holds the lock.
///
/// # Invariants
///
/// `resv` is the address of the reservation object whose lock protects `data`; `data` is only
/// accessed with that lock held.
pub struct ResvCell<T> {
    resv: *const DmaResv,
    data: UnsafeCell<T>,
}

// SAFETY: `data` is only reached with the reservation lock held, by one thread at a time, so
// `T: Send` suffices for both; `resv` is only compared, never dereferenced.
unsafe impl<T: Send> Send for ResvCell<T> {}
// SAFETY: See `Send`.
unsafe impl<T: Send> Sync for ResvCell<T> {}

impl<T> ResvCell<T> {
    /// Data protected by the lock of `resv`.
    pub fn new(resv: &DmaResv, data: T) -> Self {
        // INVARIANT: `data` is only reached through `get_mut`, which checks the guard.
        Self {
            resv,
            data: UnsafeCell::new(data),
        }
    }

    /// The data, with the lock held.
    ///
    /// # Panics
    ///
    /// If `guard` holds the lock of another reservation object.
    pub fn get_mut<'g>(&'g self, guard: &'g mut ResvGuard<'_>) -> &'g mut T {
        assert!(
            core::ptr::eq(guard.resv, self.resv),
            "mismatched reservation lock"
        );
        // SAFETY: The guard proves the lock of `resv` is held by this thread, so no other
        // thread reaches `data`; it is borrowed uniquely for `'g`, so no other reference
        // obtained through it or through a guard of a callback nested in a core call made with
        // it is alive (see the type's documentation).
        unsafe { &mut *self.data.get() }
    }
}
