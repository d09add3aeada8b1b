// SPDX-License-Identifier: GPL-2.0

//! P2PDMA routing: the [`Provider`] of MMIO ranges, how an importer reaches them
//! ([`P2pType`]).
//!
//! C headers: [`include/linux/pci-p2pdma.h`](srctree/include/linux/pci-p2pdma.h),
//! [`include/linux/pci.h`](srctree/include/linux/pci.h).

use core::ptr::NonNull;
use kernel::{
    bindings,
    device::Core,
    devres, pci,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

/// How the importer reaches the memory, as `pci_p2pdma_map_type()` answers for MMIO.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum P2pType {
    /// Through the host bridge, translated by the importer's IOMMU or direct.
    ThruHostBridge,
    /// With PCI bus addresses, through a common switch.
    BusAddr,
    /// Not at all.
    NotSupported,
}

impl P2pType {
    /// The Rust value of an `enum pci_p2pdma_map_type`.
    pub fn from_raw(t: bindings::pci_p2pdma_map_type) -> Self {
        match t {
            bindings::pci_p2pdma_map_type_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE => Self::ThruHostBridge,
            bindings::pci_p2pdma_map_type_PCI_P2PDMA_MAP_BUS_ADDR => Self::BusAddr,
            _ => Self::NotSupported,
        }
    }
}

/// A P2PDMA provider: the owner of MMIO ranges, and their PCI bus offset.
///
/// A provider of a bound PCI device ([`Provider::of_bar`]) knows when the device is unbound:
/// every buffer exported with it is then revoked for good, before the device-managed
/// `struct p2pdma_provider` is freed. One from C ([`Provider::from_raw`]) relies on its
/// exporter for that.
///
/// # Invariants
///
/// `self.raw` points to a `struct p2pdma_provider` that is live while a buffer exported with
/// it can be mapped: forever if `self.unbind` is `None` (the promise of `from_raw`'s caller),
/// else until `self.unbind` is dropped at unbind, which revokes those buffers for good first.
#[derive(Clone)]
pub struct Provider {
    raw: NonNull<bindings::p2pdma_provider>,
    unbind: Option<Arc<Unbind>>,
}

// SAFETY: A `struct p2pdma_provider` is written once by `pcim_p2pdma_init()` and only read
// afterwards, from any thread; `Unbind` is `Send + Sync`.
unsafe impl Send for Provider {}
// SAFETY: See `Send`.
unsafe impl Sync for Provider {}

/// Whether the device of a [`Provider::of_bar`] provider has been unbound.
pub(crate) struct Unbind {
    /// Set, under the buffer registry's lock, when the device is being unbound.
    pub(crate) gone: Atomic<bool>,
}

/// Device-managed: dropped when the provider's device is unbound, before the provider itself
/// is freed (devres releases in reverse order, and `pcim_p2pdma_init()` came first).
struct UnbindGuard(Arc<Unbind>);

impl Drop for UnbindGuard {
    fn drop(&mut self) {
        crate::export::revoke_unbound(&self.0);
    }
}

impl Provider {
    /// Returns the P2PDMA provider of memory BAR `bar` of `pdev`, setting up the device's
    /// P2PDMA state first if no one did. Only from `probe` (or another bus callback): setting
    /// up that state relies on the device lock held there.
    ///
    /// The provider is device-managed: when `pdev` is unbound, every buffer exported with it
    /// is revoked for good (as [`Buffer::revoke`](crate::Buffer::revoke) does, and
    /// [`Buffer::restore`](crate::Buffer::restore) no longer undoes it), and [`export`] with it
    /// fails with `ENODEV`. An exporter that revokes its buffers on unbind itself loses
    /// nothing; one that forgets cannot leave an importer mapping freed memory.
    ///
    /// # Errors
    ///
    /// `EINVAL` for a BAR index past the standard BARs, `ENODEV` for a BAR that is not memory,
    /// `EOPNOTSUPP` for a device whose BARs cannot be mapped, `ENOMEM`.
    ///
    /// # Examples
    ///
    /// ```ignore
    /// // In probe: the exporter keeps it with its device state, for every export.
    /// let provider = dmavec::Provider::of_bar(pdev, 2)?;
    /// ```
    ///
    /// [`export`]: crate::export
    pub fn of_bar(pdev: &pci::Device<Core<'_>>, bar: u32) -> Result<Self> {
        let raw = NonNull::new(pdev.p2pdma_provider(bar)?.as_raw()).ok_or(ENODEV)?;
        let unbind = Arc::new(
            Unbind {
                gone: Atomic::new(false),
            },
            GFP_KERNEL,
        )?;
        // Registered after `pcim_p2pdma_init()`'s release action: released before it.
        devres::register(pdev.as_ref(), UnbindGuard(unbind.clone()), GFP_KERNEL)?;
        // INVARIANT: `UnbindGuard` revokes the buffers of this provider before it is freed.
        Ok(Self {
            raw,
            unbind: Some(unbind),
        })
    }

    /// Wraps a provider pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a `struct p2pdma_provider` that stays valid as long as the returned
    /// value, and every clone of it, is used. For a provider from `pcim_p2pdma_provider()` that
    /// is while the exporting device is bound: exporters revoke their buffers before unbind.
    pub unsafe fn from_raw(ptr: NonNull<bindings::p2pdma_provider>) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            raw: ptr,
            unbind: None,
        }
    }

    /// A provider of `raw` that a test unbinds by hand, with
    /// [`revoke_unbound`](crate::export::revoke_unbound) on the returned [`Unbind`].
    ///
    /// # Safety
    ///
    /// As [`Provider::from_raw`].
    #[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
    pub(crate) unsafe fn unbound_by_hand(
        raw: NonNull<bindings::p2pdma_provider>,
    ) -> Result<(Self, Arc<Unbind>)> {
        let unbind = Arc::new(
            Unbind {
                gone: Atomic::new(false),
            },
            GFP_KERNEL,
        )?;
        let p = Self {
            raw,
            unbind: Some(unbind.clone()),
        };
        Ok((p, unbind))
    }

    /// Whether this is the provider `unbind` belongs to.
    pub(crate) fn is_of(&self, unbind: &Unbind) -> bool {
        self.unbind
            .as_ref()
            .is_some_and(|u| core::ptr::eq(&**u, unbind))
    }

    /// Whether the provider's device has been unbound ([`Provider::of_bar`]).
    pub(crate) fn is_unbound(&self) -> bool {
        self.unbind.as_ref().is_some_and(|u| u.gone.load(Relaxed))
    }

    /// The raw provider, for C calls.
    pub fn as_raw(&self) -> *mut bindings::p2pdma_provider {
        self.raw.as_ptr()
    }

    /// The offset from CPU physical to PCI bus addresses (`pci_p2pdma_bus_addr_map()`).
    pub fn bus_offset(&self) -> u64 {
        // SAFETY: By the type invariant `self.raw` is valid while it is used.
        unsafe { (*self.raw.as_ptr()).bus_offset }
    }
}
