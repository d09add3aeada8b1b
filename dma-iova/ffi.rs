// SPDX-License-Identifier: GPL-2.0

//! The helper's one file of raw C access and `unsafe` promises, outside the C API.
//!
//! - The raw pointers behind the kernel crate's device types ([`device`], [`pci_dev`]), for
//!   the C API and the test modules (the kernel crate keeps `as_raw()` to itself).
//! - The promises the helper's policy rests on, each made once, here:
//!   - [`Ranges::new`]: the exporter's promise that its physical ranges are its own, and what
//!     only a [`Ranges`] hands out on the strength of it: the [`PhysRange`]s the DMA API maps
//!     ([`Ranges::phys_runs`]) and the page frames user space maps ([`Ranges::pfn`]);
//!   - the registry of exported buffers ([`BUFFERS`]), a static lock initialised in module
//!     init;
//!   - the KUnit suite's fake P2PDMA providers ([`FakeProvider`]).
//!
//! Everything else of the helper is safe code on the safe interfaces of the abstractions.

use crate::{
    export::Buffer,
    map::{Provider, Unbind},
    range::{runs, PhysAddr, PhysVec, Ranges, RangesRuns},
};
use kernel::{
    bindings, device,
    list::List,
    page::{PAGE_SHIFT, PAGE_SIZE},
    pci,
    prelude::*,
    sync::global_lock,
};
use kernel::{dma::iova::PhysRange, dma_buf::exporter::Pfn};

const _: () = assert!(size_of::<device::Device>() == size_of::<bindings::device>());
const _: () = assert!(size_of::<pci::Device>() == size_of::<bindings::pci_dev>());

/// Returns the `struct device` behind `dev`.
///
/// `device::Device` is `#[repr(transparent)]` over `Opaque<bindings::device>`, itself
/// `#[repr(transparent)]` over the C struct, so a reference to one is a valid pointer to the
/// other.
#[inline]
pub fn device<Ctx: device::DeviceContext>(dev: &device::Device<Ctx>) -> *mut bindings::device {
    core::ptr::from_ref(dev)
        .cast::<bindings::device>()
        .cast_mut()
}

/// Returns the `struct pci_dev` behind `pdev`.
///
/// `pci::Device` is `#[repr(transparent)]` over `Opaque<bindings::pci_dev>`, as [`device`].
#[inline]
pub fn pci_dev<Ctx: device::DeviceContext>(pdev: &pci::Device<Ctx>) -> *mut bindings::pci_dev {
    core::ptr::from_ref(pdev)
        .cast::<bindings::pci_dev>()
        .cast_mut()
}

/// Proof that the memory of some ranges was vouched for: only this file makes one.
pub(crate) struct Vouched(());

impl Ranges {
    /// Checks `v` ([`check_phys_ranges`](crate::range::check_phys_ranges)) and counts its
    /// runs.
    ///
    /// # Safety
    ///
    /// The memory of `v` is the caller's to share, and stays valid (not freed, not reused; for
    /// MMIO, its device stays bound) for as long as the returned value and any mapping made
    /// from it exist: the DMA mappings of [`crate::Mapping`]s, and for an exported buffer the
    /// importers' mappings and user space's (a [`crate::Buffer`] waits for its mappings in
    /// [`crate::Buffer::revoke`] and unmaps user space there, so revoking before freeing the
    /// memory is enough). Devices may read and write it by DMA, and user space may map it
    /// (if the export allows `mmap`). It is system memory when mapped without a provider, and
    /// MMIO of the provider it is mapped with otherwise.
    ///
    /// # Errors
    ///
    /// As [`check_phys_ranges`](crate::range::check_phys_ranges).
    pub unsafe fn new(v: KVec<PhysVec>) -> Result<Self> {
        // INVARIANT: The caller vouches for the memory.
        Self::vouched(v, Vouched(()))
    }

    /// The runs ([`runs`]), as the [`PhysRange`]s the DMA API maps.
    #[inline]
    pub fn phys_runs(&self) -> PhysRuns<RangesRuns<'_>> {
        PhysRuns(RangesRuns::new(runs(self), self.runs() != self.len()))
    }

    /// Each range on its own, as the [`PhysRange`]s the DMA API maps: the runs when no two
    /// ranges are adjacent ([`Ranges::runs`] equals the number of ranges), without comparing
    /// each range with the next.
    #[inline]
    pub fn phys_ranges(&self) -> PhysRuns<core::iter::Copied<core::slice::Iter<'_, PhysVec>>> {
        PhysRuns(self.iter().copied())
    }

    /// The page frame at byte `off` of range `i`, for a CPU mapping of the buffer; `None` if
    /// there is no such byte, or its page is not entirely in the range.
    pub fn pfn(&self, i: usize, off: usize) -> Option<Pfn> {
        let r = self.get(i)?;
        if off >= r.len() {
            return None;
        }
        let p = PAGE_SIZE as PhysAddr;
        // Does not overflow: `r` passed `check_phys_ranges()`, so no byte of it wraps.
        let page = (r.paddr() + off as PhysAddr) & !(p - 1);
        let end = r.paddr() + r.len() as PhysAddr;
        if page < r.paddr() || end - page < p {
            return None;
        }
        // SAFETY: The page lies entirely in a range of a `Ranges`, which user space may map as
        // long as any mapping made from it exists (type invariant of `Ranges`: the promise of
        // `Ranges::new`'s caller, or a BAR whose unbind revokes its buffers, which zaps their
        // CPU mappings, first).
        Some(unsafe { Pfn::new(page >> PAGE_SHIFT) })
    }
}

/// The iterator of [`Ranges::phys_runs`] and [`Ranges::phys_ranges`]: runs or ranges of a
/// [`Ranges`], as [`PhysRange`]s.
pub struct PhysRuns<I>(I);

impl<I: Iterator<Item = PhysVec>> Iterator for PhysRuns<I> {
    type Item = PhysRange;

    #[inline]
    fn next(&mut self) -> Option<PhysRange> {
        let r = self.0.next()?;
        // SAFETY: A run or a range of a `Ranges` (only its `phys_runs()` and `phys_ranges()`
        // make a `PhysRuns`, of its own ranges), whose ranges passed `check_phys_ranges()` (so
        // it is not empty and does not wrap) and may be DMA-mapped as long as any mapping made
        // from them exists (type invariant of `Ranges`).
        Some(unsafe { PhysRange::new(r.paddr(), r.len()) })
    }
}

global_lock! {
    // SAFETY: Initialized in module init (`init_registry()`), before any buffer is exported.
    //
    // Every exported buffer until its release, for debugfs. An intrusive list: registering a
    // buffer allocates nothing, so nothing can fail once its dma-buf exists.
    pub(crate) unsafe(uninit) static BUFFERS: Mutex<List<Buffer>> = List::new();
}

/// Initializes the buffer registry. Called once, from module init.
pub(crate) fn init_registry() {
    // SAFETY: Called once, from `DmavecModule::init`, before anything else uses `BUFFERS`:
    // no buffer can be exported before dmavec's init returns (its users depend on it).
    unsafe { BUFFERS.init() };
}

/// `r` as the ranges of a buffer, for the map core's KUnit suite only: its backend is a fake
/// IOMMU that maps nothing (`map::mapping`'s tests), so no device and no user space ever
/// reaches these addresses. Not built outside test kernels.
#[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
pub(crate) fn ranges_for_the_fake_backend(r: &[PhysVec]) -> Result<Ranges> {
    let mut v = KVec::with_capacity(r.len(), GFP_KERNEL)?;
    v.extend_from_slice(r, GFP_KERNEL)?;
    // SAFETY: The only callers are the map core's tests, whose fake backend maps nothing.
    unsafe { Ranges::new(v) }
}

/// A `struct p2pdma_provider` with no owner, for tests whose DMA backend never looks at it.
#[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
pub(crate) struct FakeProvider(KBox<bindings::p2pdma_provider>);

#[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
impl FakeProvider {
    /// A provider whose bus offset is `bus_offset`.
    pub(crate) fn new(bus_offset: u64) -> Result<Self> {
        let raw = bindings::p2pdma_provider {
            owner: core::ptr::null_mut(),
            bus_offset,
        };
        Ok(Self(KBox::new(raw, GFP_KERNEL)?))
    }

    /// A [`Provider`] of it, to be dropped before `self`.
    pub(crate) fn provider(&self) -> Provider {
        // SAFETY: Test code only: every test drops every clone of the provider before `self`,
        // which owns the struct; only its bus offset and address are read.
        unsafe { Provider::from_raw(core::ptr::NonNull::from(&*self.0)) }
    }

    /// A provider of it that a test unbinds by hand, with
    /// [`revoke_unbound`](crate::export::revoke_unbound) on the returned `Unbind`.
    pub(crate) fn unbound_by_hand(&self) -> Result<(Provider, kernel::sync::Arc<Unbind>)> {
        let unbind = kernel::sync::Arc::new(
            Unbind {
                gone: kernel::sync::atomic::Atomic::new(false),
            },
            GFP_KERNEL,
        )?;
        let mut p = self.provider();
        p.unbind = Some(unbind.clone());
        Ok((p, unbind))
    }
}
