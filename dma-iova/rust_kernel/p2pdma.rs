// SPDX-License-Identifier: GPL-2.0

//! How a device reaches a PCI peer's memory: the P2PDMA route query.
//!
//! The future additions to `rust/kernel/pci/p2pdma.rs`.
//!
//! C header: [`include/linux/pci-p2pdma.h`](srctree/include/linux/pci-p2pdma.h)

use kernel::{bindings, device::Device, pci::P2pdmaProvider};

/// How a device reaches the MMIO of a P2PDMA provider, as `pci_p2pdma_map_type()` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum P2pType {
    /// Through the host bridge: mapped by the DMA API (`DMA_ATTR_MMIO`), translated by the
    /// device's IOMMU or at the CPU physical address.
    ThruHostBridge,
    /// With PCI bus addresses, through a common switch: no DMA API call.
    BusAddr,
    /// Not at all.
    NotSupported,
}

impl P2pType {
    /// The route from `dev` to the memory of `provider` (`pci_p2pdma_map_type_nowarn()`).
    ///
    /// Not the verbose `pci_p2pdma_map_type()`: the question may be asked on behalf of user
    /// space (a dma-buf attach), which must not be able to make the kernel log. The PCI core
    /// caches the answer per pair of devices; it does not change while both exist.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::Device, pci::{p2pdma::P2pType, P2pdmaProvider}};
    ///
    /// fn reachable(provider: &P2pdmaProvider, importer: &Device) -> bool {
    ///     P2pType::of(provider, importer) != P2pType::NotSupported
    /// }
    /// ```
    #[inline]
    pub fn of(provider: &P2pdmaProvider, dev: &Device) -> Self {
        // SAFETY: `provider` is a set-up provider and `dev` a valid device, both for the
        // duration of the call; the function only reads them (and the PCI core's cache).
        let t = unsafe {
            bindings::pci_p2pdma_map_type_nowarn(provider.as_raw(), crate::raw::device(dev))
        };
        Self::from_raw(t)
    }

    /// The Rust value of an `enum pci_p2pdma_map_type`; the values that never answer a query
    /// for a provider (`UNKNOWN`, `NONE`) are [`P2pType::NotSupported`].
    #[inline]
    pub fn from_raw(t: bindings::pci_p2pdma_map_type) -> Self {
        match t {
            bindings::pci_p2pdma_map_type_PCI_P2PDMA_MAP_THRU_HOST_BRIDGE => Self::ThruHostBridge,
            bindings::pci_p2pdma_map_type_PCI_P2PDMA_MAP_BUS_ADDR => Self::BusAddr,
            _ => Self::NotSupported,
        }
    }
}
