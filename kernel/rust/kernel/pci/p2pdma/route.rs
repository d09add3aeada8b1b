// SPDX-License-Identifier: GPL-2.0

//! How a device reaches a PCI peer's memory: the P2PDMA route query ([`P2pType::of`]), and a
//! BAR's provider that outlives probe, until unbind ([`BarProvider`]).
//!
//! C header: [`include/linux/pci-p2pdma.h`](srctree/include/linux/pci-p2pdma.h)

use crate::{
    bindings,
    device::{Core, Device},
    devres::Devres,
    pci::{self, P2pdmaProvider},
    prelude::*,
};

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
    /// use kernel::{device::Device, pci::{P2pType, P2pdmaProvider}};
    ///
    /// fn reachable(provider: &P2pdmaProvider, importer: &Device) -> bool {
    ///     P2pType::of(provider, importer) != P2pType::NotSupported
    /// }
    /// ```
    #[inline]
    pub fn of(provider: &P2pdmaProvider, dev: &Device) -> Self {
        // SAFETY: `provider` is a set-up provider and `dev` a valid device, both for the
        // duration of the call; the function only reads them (and the PCI core's cache).
        let t = unsafe { bindings::pci_p2pdma_map_type_nowarn(provider.as_raw(), dev.as_raw()) };
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

/// The P2PDMA provider of a memory BAR of a bound PCI device, reachable beyond probe.
///
/// [`pci::Device::p2pdma_provider`] lends the provider for the borrow of the device in probe:
/// the `struct p2pdma_provider` is device-managed (`pcim_p2pdma_init()`), freed when the
/// device is unbound. A [`BarProvider`] keeps a reference to it in a [`Devres`], which the
/// driver core revokes at unbind, before it frees the provider (device-managed resources are
/// released in reverse order, and the provider's came first): [`BarProvider::try_access_with`]
/// reaches the provider until then, and fails after. What needs no access, its bus offset and
/// its identity, is kept by value.
///
/// # Examples
///
/// ```
/// use kernel::{device::Core, pci, pci::BarProvider, prelude::*};
///
/// fn probe_bar(pdev: &pci::Device<Core<'_>>) -> Result<BarProvider> {
///     let p = BarProvider::new(pdev, 2)?;
///     pr_info!("bus offset {:#x}\n", p.bus_offset());
///     Ok(p)
/// }
/// ```
pub struct BarProvider {
    provider: Devres<ProviderRef>,
    bus_offset: u64,
    id: usize,
}

/// A reference to a device-managed `struct p2pdma_provider`, only kept in a [`Devres`].
///
/// # Invariants
///
/// The provider is valid until the [`Devres`] holding this is revoked.
struct ProviderRef(&'static P2pdmaProvider);

impl BarProvider {
    /// The provider of memory BAR `bar` of `pdev`, setting up the device's P2PDMA state first
    /// if no one did (as [`pci::Device::p2pdma_provider`], from probe or another bus callback).
    ///
    /// # Errors
    ///
    /// As [`pci::Device::p2pdma_provider`], or `ENOMEM`.
    pub fn new(pdev: &pci::Device<Core<'_>>, bar: u32) -> Result<Self> {
        let p = pdev.p2pdma_provider(bar)?;
        let (bus_offset, id) = (p.bus_offset(), core::ptr::from_ref(p) as usize);
        // SAFETY: The provider is device-managed, freed when `pdev` is unbound, by the release
        // action `pcim_p2pdma_init()` registered (before `p2pdma_provider()` returned). The
        // `Devres` made below is registered after it, so the driver core revokes it before it
        // frees the provider, waiting for every `try_access` in progress; the reference is
        // only reached through it (type invariant of `ProviderRef`).
        let raw = unsafe { &*core::ptr::from_ref(p) };
        // INVARIANT: As above.
        let provider = Devres::new(pdev.as_ref(), ProviderRef(raw))?;
        Ok(Self {
            provider,
            bus_offset,
            id,
        })
    }

    /// Calls `f` with the provider, unless its device was unbound (`None` then).
    #[inline]
    pub fn try_access_with<R>(&self, f: impl FnOnce(&P2pdmaProvider) -> R) -> Option<R> {
        self.provider.try_access_with(|p| f(p.0))
    }

    /// The offset from CPU physical to PCI bus addresses of the BAR
    /// (`pci_p2pdma_bus_addr_map()`), as it was when `self` was made; a BAR does not move
    /// while its driver is bound.
    #[inline]
    pub fn bus_offset(&self) -> u64 {
        self.bus_offset
    }

    /// The address of the `struct p2pdma_provider`: an identity, never dereferenced.
    #[inline]
    pub fn id(&self) -> usize {
        self.id
    }
}
