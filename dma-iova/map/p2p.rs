// SPDX-License-Identifier: GPL-2.0

//! P2PDMA routing: the [`Provider`] of MMIO ranges, how an importer reaches them
//! ([`P2pType`]), and [`p2p_type_fallback`], which decides that without
//! `pci_p2pdma_map_type()` by walking the PCI bridges above both devices.
//!
//! C headers: [`include/linux/pci-p2pdma.h`](srctree/include/linux/pci-p2pdma.h),
//! [`include/linux/pci.h`](srctree/include/linux/pci.h).

use crate::{raw, shim};
use core::ptr::NonNull;
use kernel::{bindings, device::Device};

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
/// # Invariants
///
/// `self.0` points to a live `struct p2pdma_provider`.
#[derive(Clone, Copy)]
pub struct Provider(NonNull<bindings::p2pdma_provider>);

// SAFETY: A `struct p2pdma_provider` is written once by `pcim_p2pdma_init()` and only read
// afterwards, from any thread.
unsafe impl Send for Provider {}
// SAFETY: See `Send`.
unsafe impl Sync for Provider {}

impl Provider {
    /// Wraps a provider pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a `struct p2pdma_provider` that stays valid as long as the returned
    /// value, and every copy of it, is used. For a provider from `pcim_p2pdma_provider()` that
    /// is while the exporting device is bound: exporters revoke their buffers before unbind.
    pub unsafe fn from_raw(ptr: NonNull<bindings::p2pdma_provider>) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self(ptr)
    }

    /// The raw provider, for C calls.
    pub fn as_raw(&self) -> *mut bindings::p2pdma_provider {
        self.0.as_ptr()
    }

    /// The offset from CPU physical to PCI bus addresses (`pci_p2pdma_bus_addr_map()`).
    pub fn bus_offset(&self) -> u64 {
        // SAFETY: By the type invariant `self.0` is valid.
        unsafe { (*self.0.as_ptr()).bus_offset }
    }
}

/// Whether two PCI devices sit below a common bridge (a switch port or a root port).
///
/// # Safety
///
/// `a` and `b` are valid PCI devices.
unsafe fn share_a_bridge(a: *mut bindings::pci_dev, b: *mut bindings::pci_dev) -> bool {
    // SAFETY: Valid devices (caller); upstream bridges of valid devices are valid or null.
    unsafe {
        let mut x = shim::dmavec_shim_pci_upstream_bridge(a);
        while !x.is_null() {
            let mut y = shim::dmavec_shim_pci_upstream_bridge(b);
            while !y.is_null() {
                if x == y {
                    return true;
                }
                y = shim::dmavec_shim_pci_upstream_bridge(y);
            }
            x = shim::dmavec_shim_pci_upstream_bridge(x);
        }
    }
    false
}

/// How `dev` reaches `provider`'s MMIO, decided without `pci_p2pdma_map_type()`.
///
/// For kernels that do not export that function (7.3 without `patches/0001`). It is
/// conservative: P2PDMA must accept the pair (`pci_p2pdma_distance_many()`, which also applies
/// the host bridge whitelist), and devices below a common bridge are refused, because whether
/// their traffic goes straight through the switch (bus addresses) or up to the host bridge
/// depends on ACS redirection, which only the unexported function weighs. So it answers
/// `ThruHostBridge` or `NotSupported`, never `BusAddr`, and never something the kernel would
/// not.
pub fn p2p_type_fallback(provider: &Provider, dev: &Device) -> P2pType {
    // SAFETY: `provider` is live (type invariant), so its owner is a valid device; `dev` is
    // valid.
    let (owner, client) = unsafe {
        (
            shim::dmavec_shim_pci_dev((*provider.as_raw()).owner),
            shim::dmavec_shim_pci_dev(raw::device(dev)),
        )
    };
    if owner.is_null() || client.is_null() {
        return P2pType::NotSupported;
    }
    let mut clients = [raw::device(dev)];
    // SAFETY: `owner` is a valid PCI device, `clients` one valid device; not verbose: this may
    // be reached from user-triggered paths, which must not log.
    let dist = unsafe { bindings::pci_p2pdma_distance_many(owner, clients.as_mut_ptr(), 1, false) };
    // SAFETY: Both are valid PCI devices.
    if dist < 0 || unsafe { share_a_bridge(owner, client) } {
        return P2pType::NotSupported;
    }
    P2pType::ThruHostBridge
}
