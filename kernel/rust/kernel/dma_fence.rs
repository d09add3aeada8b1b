// SPDX-License-Identifier: GPL-2.0

//! DMA fences: the completion of one piece of DMA, which others wait for.
//!
//! A [`DmaFence`] is reference counted ([`ARef<DmaFence>`]): the reservation object of a
//! dma-buf takes its own reference when the fence is added to it
//! ([`ResvGuard::add_fence`](super::dma_buf::resv::ResvGuard::add_fence)), and waiters hold
//! theirs. Fences made here ([`DmaFence::new`]) belong to a timeline of the caller's
//! ([`FenceContext`]) and are signalled by [`DmaFence::signal`]; signalling needs no lock, and
//! may be done from any thread. A fence that is never signalled makes its waiters wait forever.
//!
//! C header: [`include/linux/dma-fence.h`](srctree/include/linux/dma-fence.h).

use crate::{
    bindings,
    ffi::c_char,
    prelude::*,
    str::CStr,
    sync::aref::{ARef, AlwaysRefCounted},
    types::Opaque,
};
use core::ptr::NonNull;

/// A fence timeline (`dma_fence_context_alloc()`): the fences of one context are signalled in
/// the order of their sequence numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FenceContext {
    id: u64,
    name: &'static CStr,
}

impl FenceContext {
    /// A new timeline, whose fences report `name` as their driver and timeline name.
    pub fn new(name: &'static CStr) -> Self {
        // SAFETY: Allocating a context number has no precondition.
        let id = unsafe { bindings::dma_fence_context_alloc(1) };
        Self { id, name }
    }
}

/// The allocation behind a fence made by [`DmaFence::new`].
///
/// `base` comes first: with no `release` op, the last `dma_fence_put()` frees the fence with
/// `kfree_rcu()` through the address of `base`, which is that of the allocation.
#[repr(C)]
struct OwnFence {
    base: bindings::dma_fence,
    lock: bindings::spinlock_t,
    name: &'static CStr,
}

/// `get_driver_name` and `get_timeline_name` of the fences made here.
///
/// # Safety
///
/// `fence` is the `base` of a live [`OwnFence`].
unsafe extern "C" fn own_fence_name(fence: *mut bindings::dma_fence) -> *const c_char {
    // SAFETY: By the function's safety requirement `fence` is the first field of an `OwnFence`,
    // whose `name` is immutable after initialisation.
    unsafe { (*fence.cast::<OwnFence>()).name.as_char_ptr() }
}

static OWN_FENCE_OPS: bindings::dma_fence_ops = bindings::dma_fence_ops {
    get_driver_name: Some(own_fence_name),
    get_timeline_name: Some(own_fence_name),
    // SAFETY: The remaining ops are optional: all-zeroes (`None`) is valid for each.
    ..unsafe { core::mem::zeroed() }
};

/// A DMA fence (`struct dma_fence`).
///
/// # Invariants
///
/// The fence is valid and its reference count is non-zero while a reference to it exists;
/// [`ARef<DmaFence>`] owns one count.
///
/// # Examples
///
/// ```
/// use kernel::dma_fence::{DmaFence, FenceContext};
///
/// let ctx = FenceContext::new(c"example");
/// let fence = DmaFence::new(ctx, 1)?;
/// let other = fence.clone(); // what a waiter keeps
/// fence.signal();
/// other.signal(); // signalled already: nothing happens
/// drop(other);
/// # Ok::<(), Error>(())
/// ```
#[repr(transparent)]
pub struct DmaFence(Opaque<bindings::dma_fence>);

// SAFETY: A fence may be signalled, waited for and put from any thread: its state is
// protected by its own spinlock and its count is atomic.
unsafe impl Send for DmaFence {}
// SAFETY: See `Send`.
unsafe impl Sync for DmaFence {}

// SAFETY: `dma_fence_get()` and `dma_fence_put()` count the references of a fence; the fence
// is freed (through its ops' release, RCU-delayed) only when the count reaches zero.
unsafe impl AlwaysRefCounted for DmaFence {
    fn inc_ref(&self) {
        // SAFETY: A reference exists, so the count is non-zero.
        unsafe { bindings::dma_fence_get(self.as_raw()) };
    }

    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up one count, which this puts.
        unsafe { bindings::dma_fence_put(obj.cast().as_ptr()) };
    }
}

impl DmaFence {
    /// A new, unsignalled fence with sequence number `seqno` on timeline `context`, with a
    /// lock of its own, named after the timeline.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    pub fn new(context: FenceContext, seqno: u64) -> Result<ARef<Self>> {
        let own = KBox::new(
            OwnFence {
                // SAFETY: All-zeroes is a valid `struct dma_fence` to initialise below.
                base: unsafe { core::mem::zeroed() },
                // SAFETY: All-zeroes is a valid `spinlock_t` to initialise below.
                lock: unsafe { core::mem::zeroed() },
                name: context.name,
            },
            GFP_KERNEL,
        )?;
        let own = KBox::into_raw(own);
        // SAFETY: `own` is a new allocation that nothing else sees yet; its lock is
        // initialised before `dma_fence_init()` hands it to the fence, and the fence takes
        // ownership of the allocation (freed by the last `dma_fence_put()`, see `OwnFence`).
        unsafe {
            bindings::__spin_lock_init(
                &raw mut (*own).lock,
                c"OwnFence::lock".as_char_ptr(),
                crate::static_lock_class!().as_ptr(),
            );
            bindings::dma_fence_init(
                &raw mut (*own).base,
                &OWN_FENCE_OPS,
                &raw mut (*own).lock,
                context.id,
                seqno,
            );
        }
        // SAFETY: A new fence with the one count `dma_fence_init()` gave it, which the `ARef`
        // owns; `DmaFence` is a transparent wrapper of `struct dma_fence`.
        Ok(unsafe { ARef::from_raw(NonNull::new_unchecked(own.cast::<Self>())) })
    }

    /// The raw fence.
    pub fn as_raw(&self) -> *mut bindings::dma_fence {
        self.0.get()
    }

    /// Signals the fence (`dma_fence_signal()`): the DMA it covers is complete, and its
    /// waiters wake up. Signalling a signalled fence does nothing.
    pub fn signal(&self) {
        // SAFETY: By the type invariant the fence is valid; it takes its own lock.
        unsafe { bindings::dma_fence_signal(self.as_raw()) };
    }
}
