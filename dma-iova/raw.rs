// SPDX-License-Identifier: GPL-2.0

//! Raw pointers to the C structures behind the kernel crate's device types.
//!
//! The kernel crate keeps `as_raw()` crate-private, but the IOVA-linking DMA
//! API and the P2PDMA helpers this crate wraps take `struct device *` and
//! `struct pci_dev *`. Both Rust types are `#[repr(transparent)]` wrappers
//! around `Opaque<T>` (itself `#[repr(transparent)]` over the C struct), so a
//! reference to one is a valid pointer to the other. This module is the only
//! place that relies on it.

use kernel::{bindings, device, pci};

const _: () = assert!(size_of::<device::Device>() == size_of::<bindings::device>());
const _: () = assert!(size_of::<pci::Device>() == size_of::<bindings::pci_dev>());

/// Returns the `struct device` behind `dev`.
#[inline]
pub fn device<Ctx: device::DeviceContext>(dev: &device::Device<Ctx>) -> *mut bindings::device {
    // `device::Device` is `#[repr(transparent)]` over `Opaque<bindings::device>`.
    core::ptr::from_ref(dev)
        .cast::<bindings::device>()
        .cast_mut()
}

/// Returns the `struct pci_dev` behind `pdev`.
#[inline]
pub fn pci_dev<Ctx: device::DeviceContext>(pdev: &pci::Device<Ctx>) -> *mut bindings::pci_dev {
    // `pci::Device` is `#[repr(transparent)]` over `Opaque<bindings::pci_dev>`.
    core::ptr::from_ref(pdev)
        .cast::<bindings::pci_dev>()
        .cast_mut()
}
