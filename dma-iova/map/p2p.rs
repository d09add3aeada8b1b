// SPDX-License-Identifier: GPL-2.0

//! P2PDMA routing: the [`Provider`] of MMIO ranges, how an importer reaches them
//! ([`P2pType`]).
//!
//! C headers: [`include/linux/pci-p2pdma.h`](srctree/include/linux/pci-p2pdma.h),
//! [`include/linux/pci.h`](srctree/include/linux/pci.h).

use kernel::{
    device::{Core, Device},
    devres,
    io::PhysAddr,
    pci::{self, P2pdmaProvider},
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc,
    },
};

use kernel::pci::BarProvider;
pub use kernel::pci::P2pType;

/// A P2PDMA provider: the owner of MMIO ranges, and their PCI bus offset.
///
/// A provider of a bound PCI device ([`Provider::of_bar`]) knows when the device is unbound:
/// every buffer exported with it is then revoked for good, and its `struct p2pdma_provider`,
/// which is device-managed, is only reached through a [`BarProvider`], which fails once the
/// device is unbound. One from C (`Provider::from_raw()` of the C API) relies on its exporter
/// for that.
///
/// # Invariants
///
/// `self.bar`, if `Some`, is the first and last byte of the BAR of an `of_bar` provider.
#[derive(Clone)]
pub struct Provider {
    pub(crate) raw: Source,
    pub(crate) unbind: Option<Arc<Unbind>>,
    pub(crate) bar: Option<(PhysAddr, PhysAddr)>,
}

/// Where a [`Provider`]'s `struct p2pdma_provider` comes from.
#[derive(Clone)]
pub(crate) enum Source {
    /// From C, valid for as long as the provider is used (`Provider::from_raw()`'s promise).
    Static(&'static P2pdmaProvider),
    /// Of a BAR of a bound device: reachable until the device is unbound.
    Bar(Arc<BarProvider>),
}

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
        let raw = Arc::new(BarProvider::new(pdev, bar)?, GFP_KERNEL)?;
        let start = pdev.resource_start(bar)?;
        let len = pdev.resource_len(bar)?;
        let last = start
            .checked_add(len.checked_sub(1).ok_or(ENODEV)?)
            .ok_or(EOVERFLOW)?;
        let unbind = Arc::new(
            Unbind {
                gone: Atomic::new(false),
            },
            GFP_KERNEL,
        )?;
        // Registered after the provider's `Devres`: released before it.
        devres::register(pdev.as_ref(), UnbindGuard(unbind.clone()), GFP_KERNEL)?;
        // INVARIANT: `[start, last]` is the BAR, which the device keeps while bound.
        Ok(Self {
            raw: Source::Bar(raw),
            unbind: Some(unbind),
            bar: Some((start, last)),
        })
    }

    /// Whether this is the provider `unbind` belongs to.
    pub(crate) fn is_of(&self, unbind: &Unbind) -> bool {
        self.unbind
            .as_ref()
            .is_some_and(|u| core::ptr::eq(&**u, unbind))
    }

    /// The address of the `struct p2pdma_provider`: an identity, never dereferenced.
    fn id(&self) -> usize {
        match &self.raw {
            Source::Static(p) => core::ptr::from_ref(*p) as usize,
            Source::Bar(b) => b.id(),
        }
    }

    /// Whether `self` and `other` are the same `struct p2pdma_provider`.
    pub(crate) fn is_of_same(&self, other: &Provider) -> bool {
        self.id() == other.id()
    }

    /// Whether the provider's device has been unbound ([`Provider::of_bar`]).
    pub(crate) fn is_unbound(&self) -> bool {
        self.unbind.as_ref().is_some_and(|u| u.gone.load(Relaxed))
    }

    /// The first and last byte of the BAR of an [`Provider::of_bar`] provider.
    pub(crate) fn bar(&self) -> Option<(PhysAddr, PhysAddr)> {
        self.bar
    }

    /// The provider of C (`Provider::from_raw()`), for C calls (`.p2pdma()?.as_raw()`);
    /// `None` for a provider of [`Provider::of_bar`], which is only reached while its device is
    /// bound ([`Provider::p2p_type`]).
    pub fn p2pdma(&self) -> Option<&P2pdmaProvider> {
        match &self.raw {
            Source::Static(p) => Some(p),
            Source::Bar(_) => None,
        }
    }

    /// The offset from CPU physical to PCI bus addresses (`pci_p2pdma_bus_addr_map()`).
    #[inline]
    pub fn bus_offset(&self) -> u64 {
        match &self.raw {
            Source::Static(p) => p.bus_offset(),
            Source::Bar(b) => b.bus_offset(),
        }
    }

    /// How `dev` reaches this provider's memory (`pci_p2pdma_map_type_nowarn()`); not at all
    /// once the device of a [`Provider::of_bar`] provider is unbound.
    #[inline]
    pub fn p2p_type(&self, dev: &Device) -> P2pType {
        match &self.raw {
            Source::Static(p) => P2pType::of(p, dev),
            Source::Bar(b) => b
                .try_access_with(|p| P2pType::of(p, dev))
                .unwrap_or(P2pType::NotSupported),
        }
    }
}
