// SPDX-License-Identifier: GPL-2.0

//! A PCI device found by ID: shared by the test-VM modules (`dmavec_test`, `dmavec_bench`),
//! each of which includes this file as a module of its own crate.

use core::ptr::NonNull;
use kernel::{bindings, device::Device, prelude::*};

/// A PCI device found by ID, with a reference held.
pub(crate) struct PciRef(NonNull<bindings::pci_dev>);

impl PciRef {
    /// The first device with these IDs.
    pub(crate) fn find(vendor: u32, device: u32) -> Result<Self> {
        // SAFETY: `pci_get_device` returns a referenced device or NULL.
        let p = unsafe { bindings::pci_get_device(vendor, device, core::ptr::null_mut()) };
        NonNull::new(p).map(Self).ok_or(ENODEV)
    }

    /// QEMU's edu device.
    pub(crate) fn edu() -> Result<Self> {
        Self::find(0x1234, 0x11e8)
    }

    /// The raw device.
    pub(crate) fn raw(&self) -> *mut bindings::pci_dev {
        self.0.as_ptr()
    }

    /// The generic device.
    pub(crate) fn dev(&self) -> &Device {
        // SAFETY: The reference keeps the device alive as long as `self`.
        unsafe { Device::from_raw(core::ptr::addr_of_mut!((*self.raw()).dev)) }
    }
}

impl Drop for PciRef {
    fn drop(&mut self) {
        // SAFETY: The reference taken in `find`.
        unsafe { bindings::pci_dev_put(self.raw()) };
    }
}
