// SPDX-License-Identifier: GPL-2.0

//! The Rust abstractions of the series (`patches/series`), for a kernel without them (stock 7.3).
//!
//! dmavec's drivers are written against the kernel crate with those patches applied: a PCI
//! device's resource flags and P2PDMA providers, bus mastering of a bound device, a
//! [`pci::Vendor`] from a raw ID, and a `Send + Sync` maple tree. Built against a kernel
//! without them (`DMAVEC_STOCK_7_3=1`, or an unpatched tree), Kbuild leaves `dmavec_rust_apis`
//! unset and the drivers use what this file offers instead, under the same names where a
//! trait can give them. Each item goes when its patch lands.
//!
//! C headers: [`include/linux/pci.h`](srctree/include/linux/pci.h),
//! [`include/linux/pci-p2pdma.h`](srctree/include/linux/pci-p2pdma.h),
//! [`include/linux/maple_tree.h`](srctree/include/linux/maple_tree.h).

use crate::raw;
use core::{ops::Deref, ptr::NonNull};
use kernel::{
    bindings, device::Core, maple_tree::MapleTreeAlloc, pci, prelude::*, types::ForeignOwnable,
};

/// `pci::Device::resource_flags()` of the series.
pub trait PciResourceFlags {
    /// Returns the flags of PCI BAR resource `bar` (`pci_resource_flags()`).
    ///
    /// # Errors
    ///
    /// `EINVAL` if `bar` is not a resource index of a PCI device.
    fn resource_flags(&self, bar: u32) -> Result<usize>;
}

impl PciResourceFlags for pci::Device {
    fn resource_flags(&self, bar: u32) -> Result<usize> {
        if bar >= bindings::PCI_NUM_RESOURCES {
            return Err(EINVAL);
        }
        // CAST: `bar` is less than `PCI_NUM_RESOURCES`, as checked above.
        let index = bar as usize;
        // SAFETY: `raw::pci_dev` yields the valid `struct pci_dev` behind `self`, whose
        // `resource` array has at least `PCI_NUM_RESOURCES` entries; the flags of a standard BAR
        // are written at enumeration, before a driver can reach the device.
        Ok(unsafe { (*raw::pci_dev(self)).resource[index].flags })
    }
}

/// The `struct p2pdma_provider` of memory BAR `bar` of `pdev` (`pci::Device::p2pdma_provider()`
/// of the series): device-managed, valid while `pdev` is bound. From a bus callback only
/// (`Core`): `pcim_p2pdma_init()` relies on the device lock.
///
/// # Errors
///
/// As `pci::Device::p2pdma_provider()`: `EINVAL` for a BAR index past the standard BARs,
/// `ENODEV` for a BAR that is not memory, `EOPNOTSUPP` for non-mappable BARs, `ENOMEM`.
pub(crate) fn p2pdma_provider(
    pdev: &pci::Device<Core<'_>>,
    bar: u32,
) -> Result<NonNull<bindings::p2pdma_provider>> {
    if bar >= bindings::PCI_STD_NUM_BARS {
        return Err(EINVAL);
    }
    if pdev.resource_flags(bar)? & bindings::IORESOURCE_MEM as usize == 0 {
        return Err(ENODEV);
    }
    let raw = raw::pci_dev(pdev);
    // SAFETY: `raw` is the bound `struct pci_dev` behind `pdev`, its device lock held (`Core`).
    kernel::error::to_result(unsafe { bindings::pcim_p2pdma_init(raw) })?;
    // CAST: `bar` is less than `PCI_STD_NUM_BARS`, as checked above.
    // SAFETY: `raw` is bound, its P2PDMA state was just set up, and `bar` is a standard BAR.
    let provider = unsafe { bindings::pcim_p2pdma_provider(raw, bar as i32) };
    NonNull::new(provider).ok_or(EOPNOTSUPP)
}

/// Switches bus mastering of the device of `bar` on or off (`pci_set_master()`,
/// `pci_clear_master()`): `bar.try_access_with(|bar| bar.device().set_master())` with
/// the series.
///
/// # Errors
///
/// `ENODEV` once the device is unbound.
pub fn set_bus_master<const SIZE: usize>(bar: &pci::DevresBar<SIZE>, on: bool) -> Result {
    let pdev: &pci::Device = bar.device().try_into()?;
    let raw = raw::pci_dev(pdev);
    bar.try_access_with(|_| {
        // SAFETY: `raw` is the `struct pci_dev` of `bar`'s device, bound while its BAR is
        // accessible (devres revokes it before unbind completes). Neither function sleeps, so
        // both may run in the RCU read-side section of the access.
        unsafe {
            if on {
                bindings::pci_set_master(raw)
            } else {
                bindings::pci_clear_master(raw)
            }
        }
    })
    .ok_or(ENODEV)
}

/// `pci::DeviceId::from_id(pci::Vendor::from_raw(vendor), device)` (`Vendor::from_raw()` is
/// public in the series).
pub const fn device_id(vendor: u16, device: u32) -> pci::DeviceId {
    let raw = bindings::pci_device_id {
        vendor: vendor as u32,
        device,
        subvendor: !0,
        subdevice: !0,
        class: 0,
        class_mask: 0,
        driver_data: 0,
        override_only: 0,
    };
    // SAFETY: `pci::DeviceId` is `#[repr(transparent)]` over `struct pci_device_id` and adds no
    // invariant: this is the value `DeviceId::from_id()` builds.
    unsafe { core::mem::transmute::<bindings::pci_device_id, pci::DeviceId>(raw) }
}

/// A [`MapleTreeAlloc`] that may be shared between threads (the series makes the maple tree
/// `Send` and `Sync` itself).
///
/// Every method of the 7.3 `MapleTree` abstraction goes through an `mtree_*()` function, which
/// takes the tree's internal spinlock, or through `lock()`, which takes it too: the tree
/// serialises all access by itself.
#[pin_data]
pub struct SharedTree<T: ForeignOwnable> {
    #[pin]
    tree: MapleTreeAlloc<T>,
}

// SAFETY: The tree owns its values and frees them when dropped, from whatever thread: values
// must be `Send`. The C tree itself has no thread affinity.
unsafe impl<T: ForeignOwnable + Send> Send for SharedTree<T> {}
// SAFETY: All access to the tree is serialised by its internal spinlock (see above), and values
// are only reached under it: `Send` values suffice, as for `XArray`.
unsafe impl<T: ForeignOwnable + Send> Sync for SharedTree<T> {}

impl<T: ForeignOwnable> SharedTree<T> {
    /// An empty allocating tree.
    pub fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            tree <- MapleTreeAlloc::new(),
        })
    }
}

impl<T: ForeignOwnable> Deref for SharedTree<T> {
    type Target = MapleTreeAlloc<T>;

    fn deref(&self) -> &MapleTreeAlloc<T> {
        &self.tree
    }
}
