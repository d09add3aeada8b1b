// SPDX-License-Identifier: GPL-2.0

//! Streaming DMA mappings of physical address ranges: `dma_map_phys()` and the IOVA-linking
//! API (`dma_iova_try_alloc()`, `dma_iova_link()`, `dma_iova_sync()`, `dma_iova_destroy()`).
//!
//! Three types carry what the C API leaves to its callers:
//!
//! - [`PhysRange`]: memory that may be DMA-mapped. Building one is the `unsafe` promise that the
//!   memory belongs to the caller and stays valid while any mapping of it exists; every mapping
//!   function takes one, so none of them has a precondition of its own.
//! - [`DmaDevice`]: the device the DMA API is called for, which must be bound to its driver as
//!   long as anything mapped through it exists (`'a` bounds that when the device is borrowed as
//!   a [`Device<Bound>`]).
//! - [`IovaState`] and [`PhysMappings`]: what was mapped, recorded by the objects that mapped
//!   it. They unmap exactly that when dropped, with the direction and attributes it was mapped
//!   with, so there is no length, address or direction for a caller to get wrong.
//!
//! C header: [`include/linux/dma-mapping.h`](srctree/include/linux/dma-mapping.h)

use crate::{
    bindings,
    device::{Bound, Device},
    dma::{DataDirection, DmaAddress},
    ffi::c_ulong,
    prelude::*,
};
use core::{marker::PhantomData, mem::ManuallyDrop, ptr::NonNull};

/// A CPU physical address (`phys_addr_t`).
pub type PhysAddr = bindings::phys_addr_t;

/// The DMA attributes of the mapping calls of this module (`DMA_ATTR_*`).
///
/// When this module moves into `rust/kernel/dma/`, this is [`kernel::dma::Attrs`], whose raw
/// value is only visible inside the `kernel` crate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(transparent)]
pub struct Attrs(u32);

impl Attrs {
    /// No attribute.
    pub const EMPTY: Self = Self(0);
    /// `DMA_ATTR_MMIO`: the memory is MMIO (a peer device's BAR), not system memory. It is
    /// never bounced through swiotlb nor touched by the CPU, and is mapped without caching.
    pub const MMIO: Self = Self(bindings::DMA_ATTR_MMIO);
    /// `DMA_ATTR_SKIP_CPU_SYNC`: no CPU cache maintenance and no bounce-buffer copy when
    /// mapping or unmapping; the owner syncs (see [`PhysMappings::sync`]).
    pub const SKIP_CPU_SYNC: Self = Self(bindings::DMA_ATTR_SKIP_CPU_SYNC);

    /// Whether every attribute of `other` is set in `self`.
    #[inline]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// The raw `unsigned long` of the C functions.
    #[inline]
    pub const fn as_raw(self) -> c_ulong {
        self.0 as c_ulong
    }
}

impl core::ops::BitOr for Attrs {
    type Output = Self;

    #[inline]
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

/// One DMA segment: the kernel's `struct dma_vec` (`<linux/dmaengine.h>`).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DmaVec {
    /// Bus address of the segment for the device.
    pub addr: DmaAddress,
    /// Length of the segment in bytes.
    pub len: usize,
}

// `struct dma_vec` is { dma_addr_t addr; size_t len; }.
const _: () = assert!(size_of::<DmaVec>() == 16 && align_of::<DmaVec>() == 8);

/// A range of physical memory that may be DMA-mapped.
///
/// # Invariants
///
/// `len > 0`, `phys + len - 1` does not overflow, and the memory `[phys, phys + len)` may be
/// read and written by a device's DMA through any mapping made from this value (or a copy of
/// it) for as long as that mapping exists: it is not freed or handed to anyone else meanwhile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhysRange {
    phys: PhysAddr,
    len: usize,
}

impl PhysRange {
    /// A range of `len` bytes at `phys`.
    ///
    /// # Safety
    ///
    /// - `len > 0` and `phys + len - 1` does not overflow;
    /// - the memory belongs to the caller, who lets devices read and write it by DMA: system
    ///   memory the caller owns, or MMIO of a device whose driver the caller is, mapped with
    ///   [`Attrs::MMIO`];
    /// - it stays valid (not freed, not reused, the device owning MMIO stays bound) for as long
    ///   as any mapping made from the returned value, or a copy of it, exists.
    #[inline]
    pub const unsafe fn new(phys: PhysAddr, len: usize) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self { phys, len }
    }

    /// The physical start address.
    #[inline]
    pub const fn phys(&self) -> PhysAddr {
        self.phys
    }

    /// The length in bytes, never 0.
    #[inline]
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the range is empty: never.
    #[inline]
    pub const fn is_empty(&self) -> bool {
        false
    }

    /// `self` followed by `next`, if `next` starts where `self` ends and the sum fits a `usize`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::dma::iova::PhysRange;
    ///
    /// fn join_two(a: PhysRange, b: PhysRange) -> Option<usize> {
    ///     Some(a.join(b)?.len())
    /// }
    /// ```
    #[inline]
    pub fn join(self, next: Self) -> Option<Self> {
        let end = self.phys.checked_add(self.len as PhysAddr)?;
        if end != next.phys {
            return None;
        }
        let len = self.len.checked_add(next.len)?;
        // INVARIANT: Both ranges may be mapped as long as a mapping made from them exists, and
        // the union is exactly their bytes; it does not wrap, since `next` does not.
        Some(Self {
            phys: self.phys,
            len,
        })
    }
}

/// The streaming DMA API of one device.
///
/// A [`DmaDevice<'a>`] made from a [`Device<Bound>`] borrowed for `'a` ([`DmaDevice::new`])
/// cannot be used, nor can anything mapped through it live, past that borrow: what it maps is
/// unmapped before the driver can be unbound, as the DMA API requires (unbinding drops the
/// device's DMA ranges and may switch its IOMMU domain, and an unmap after that would unmap
/// the wrong thing).
///
/// Code that maps for a device it does not drive, with no such borrow, uses
/// [`DmaDevice::assume_bound`], promising that the device's driver keeps it bound for as long:
/// a dma-buf exporter mapping for an attachment's device relies on the importer's contract,
/// which is to unmap and detach before its driver is unbound.
///
/// # Invariants
///
/// `self.dev` is a valid `struct device`, bound to its driver, for as long as `self`, any copy
/// of it, and any [`IovaState`], [`PhysMapping`] or [`PhysMappings`] made through it exist.
#[derive(Clone, Copy)]
pub struct DmaDevice<'a> {
    dev: NonNull<bindings::device>,
    _bound: PhantomData<&'a Device<Bound>>,
}

// SAFETY: The DMA API may be called for a device from any thread; `DmaDevice` is a shared
// borrow of the device.
unsafe impl Send for DmaDevice<'_> {}
// SAFETY: See `Send`: every method takes `&self` and is thread-safe on the C side.
unsafe impl Sync for DmaDevice<'_> {}

impl<'a> DmaDevice<'a> {
    /// The DMA API of `dev`, bound for `'a`.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::DataDirection};
    /// use kernel::dma::iova::{Attrs, DmaDevice, PhysRange};
    ///
    /// /// Maps `r`, lets the device at it, and unmaps it when the mapping drops.
    /// fn with_mapping(dev: &Device<Bound>, r: PhysRange) -> Result {
    ///     let dma = DmaDevice::new(dev);
    ///     let m = dma.map_phys(r, DataDirection::ToDevice, Attrs::EMPTY)?;
    ///     pr_info!("{:#x} + {:#x}\n", m.addr(), m.len());
    ///     Ok(())
    /// }
    /// ```
    #[inline]
    pub fn new(dev: &'a Device<Bound>) -> Self {
        // INVARIANT: `dev` is bound for `'a`, which bounds `Self` and what it maps.
        Self {
            // CAST: `Device` is `#[repr(transparent)]` over `struct device`.
            dev: NonNull::from(dev).cast(),
            _bound: PhantomData,
        }
    }

    /// The device.
    #[inline]
    pub fn device(&self) -> &Device {
        // SAFETY: `self.dev` is valid while `self` exists (type invariant).
        unsafe { Device::from_raw(self.dev.as_ptr()) }
    }

    #[inline]
    fn raw(&self) -> *mut bindings::device {
        self.dev.as_ptr()
    }

    /// Allocates IOVA space for `size` bytes whose first byte will be linked from physical
    /// address `phys` (`dma_iova_try_alloc()`; only the offset of `phys` in the IOMMU granule
    /// matters, which the IOVA keeps), to link ranges into with `dir` and `attrs`.
    ///
    /// `None` when the device does not use the IOVA-linking API (no translating IOMMU, or one
    /// in passthrough), or the space is exhausted: map with [`DmaDevice::map_phys`] then.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::DataDirection};
    /// use kernel::dma::iova::{Attrs, DmaDevice, PhysRange};
    ///
    /// /// Two ranges, one contiguous IOVA range: its address, or `None` without an IOMMU.
    /// fn link_two(dev: &Device<Bound>, a: PhysRange, b: PhysRange) -> Result<Option<u64>> {
    ///     let dir = DataDirection::Bidirectional;
    ///     let dma = DmaDevice::new(dev);
    ///     let Some(mut iova) = dma.iova_try_alloc(a.phys(), a.len() + b.len(), dir, Attrs::EMPTY)
    ///     else {
    ///         return Ok(None);
    ///     };
    ///     iova.link(a)?;
    ///     iova.link(b)?;
    ///     iova.sync()?;
    ///     // `iova` unlinks both ranges and frees the space when it drops.
    ///     Ok(Some(iova.addr()))
    /// }
    /// ```
    #[inline]
    pub fn iova_try_alloc(
        &self,
        phys: PhysAddr,
        size: usize,
        dir: DataDirection,
        attrs: Attrs,
    ) -> Option<IovaState<'a>> {
        let mut state = bindings::dma_iova_state { addr: 0, __size: 0 };
        // SAFETY: `self.raw()` is a valid device (type invariant) and `state` a zeroed state,
        // as `dma_iova_try_alloc()` wants it. `phys` is only a number: it sets the offset of
        // the IOVA in its granule, nothing is mapped.
        if !unsafe { bindings::dma_iova_try_alloc(self.raw(), &mut state, phys, size) } {
            return None;
        }
        // INVARIANT: `state` was just allocated for `self.dev`, with `size` bytes (C stores it
        // in `__size`, with its flag bits above them); nothing is linked yet.
        Some(IovaState {
            dev: *self,
            state,
            size,
            linked: 0,
            dir,
            attrs,
        })
    }

    /// Maps `r` with `dma_map_phys()`, checked with `dma_mapping_error()`. Dropping the
    /// returned mapping unmaps it.
    ///
    /// # Errors
    ///
    /// `ENOMEM` when the DMA API cannot map it (no bounce buffer, beyond the DMA mask).
    #[inline]
    pub fn map_phys(
        &self,
        r: PhysRange,
        dir: DataDirection,
        attrs: Attrs,
    ) -> Result<PhysMapping<'a>> {
        let addr = self.map_raw(r, dir, attrs)?;
        // INVARIANT: `addr` maps exactly `r` for `self.dev` with `dir` and `attrs`.
        Ok(PhysMapping {
            dev: *self,
            seg: DmaVec { addr, len: r.len() },
            dir,
            attrs,
        })
    }

    /// An empty [`PhysMappings`] for `dir` and `attrs`, with room for one mapping, kept inline
    /// without an allocation; [`PhysMappings::reserve`] makes room for more.
    ///
    /// Infallible, so that it is built where its caller keeps it, not copied out of a
    /// `Result`.
    #[inline]
    pub fn phys_mappings(&self, dir: DataDirection, attrs: Attrs) -> PhysMappings<'a> {
        // INVARIANT: Nothing is mapped yet.
        PhysMappings {
            dev: *self,
            dir,
            attrs,
            one: DmaVec { addr: 0, len: 0 },
            v: ManuallyDrop::new(KVec::new()),
        }
    }

    /// `dma_map_phys()` of `r`, checked.
    #[inline(always)]
    fn map_raw(&self, r: PhysRange, dir: DataDirection, attrs: Attrs) -> Result<DmaAddress> {
        // SAFETY: `self.raw()` is a valid, bound device (type invariant); `r` may be mapped
        // for as long as the mapping exists (its type invariant), and our callers record the
        // mapping in an object that unmaps it before the device is unbound.
        let addr = unsafe {
            bindings::dma_map_phys(self.raw(), r.phys(), r.len(), dir.into(), attrs.as_raw())
        };
        // `dma_mapping_error()`, a static inline: DMA-API debugging records that the result
        // was checked, and the error value is all ones.
        #[cfg(CONFIG_DMA_API_DEBUG)]
        // SAFETY: `addr` was just returned for this device.
        unsafe {
            bindings::debug_dma_mapping_error(self.raw(), addr)
        };
        if addr == DmaAddress::MAX {
            return Err(ENOMEM);
        }
        Ok(addr)
    }

    /// `dma_unmap_phys()` of `seg`.
    ///
    /// # Safety
    ///
    /// `seg` is a live `dma_map_phys()` mapping of this device with `dir` and `attrs`, which
    /// is not used after this call.
    #[inline(always)]
    unsafe fn unmap_raw(&self, seg: DmaVec, dir: DataDirection, attrs: Attrs) {
        // SAFETY: As the caller guarantees.
        unsafe {
            bindings::dma_unmap_phys(self.raw(), seg.addr, seg.len, dir.into(), attrs.as_raw())
        }
    }

    /// `dma_sync_single_for_cpu()` (`for_cpu`) or `dma_sync_single_for_device()` of `seg`.
    ///
    /// [`PhysMapping::sync`] and [`PhysMappings::sync`] are the safe forms, for the owner of
    /// the mappings; this one serves code that keeps a copy of the segments elsewhere.
    ///
    /// # Safety
    ///
    /// `seg` is a live `dma_map_phys()` mapping of this device, made with `dir`.
    pub unsafe fn sync_single(&self, seg: DmaVec, dir: DataDirection, for_cpu: bool) {
        let (dev, dir) = (self.raw(), dir.into());
        if for_cpu {
            // SAFETY: `dev` is a valid device; the caller guarantees the mapping.
            unsafe { bindings::dma_sync_single_for_cpu(dev, seg.addr, seg.len, dir) }
        } else {
            // SAFETY: As above.
            unsafe { bindings::dma_sync_single_for_device(dev, seg.addr, seg.len, dir) }
        }
    }
}

impl DmaDevice<'static> {
    /// The DMA API of `dev`, which the caller keeps bound.
    ///
    /// # Safety
    ///
    /// `dev` stays valid and bound to its driver for as long as the returned value, any copy
    /// of it, and anything mapped through it ([`IovaState`], [`PhysMapping`],
    /// [`PhysMappings`]) exist.
    #[inline]
    pub unsafe fn assume_bound(dev: &Device) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self {
            // CAST: `Device` is `#[repr(transparent)]` over `struct device`.
            dev: NonNull::from(dev).cast(),
            _bound: PhantomData,
        }
    }
}

/// The device's maximum DMA segment size (`dma_get_max_seg_size()`): its DMA parameters', or
/// 64 KiB when it has none.
#[inline]
pub fn max_seg_size(dev: &Device) -> usize {
    let d = dev.as_raw();
    // SAFETY: `d` is a valid device; its `dma_parms` is NULL or valid as long as the device.
    let parms = unsafe { (*d).dma_parms };
    // SAFETY: See above: NULL or the device's DMA parameters.
    match unsafe { parms.as_ref() }.map_or(0, |p| p.max_segment_size) {
        0 => 64 * 1024,
        max => max as usize,
    }
}

/// The device's DMA segment boundary mask (`dma_get_seg_boundary()`): no segment may cross a
/// multiple of `mask + 1`; all ones when the device has no boundary.
#[inline]
pub fn seg_boundary(dev: &Device) -> u64 {
    let d = dev.as_raw();
    // SAFETY: As in `max_seg_size()`.
    let parms = unsafe { (*d).dma_parms };
    // SAFETY: As in `max_seg_size()`.
    match unsafe { parms.as_ref() }.map_or(0, |p| p.segment_boundary_mask) {
        0 => u64::MAX,
        mask => mask as u64,
    }
}

/// The device's DMA merge boundary (`dma_get_merge_boundary()`): the IOMMU granule minus one,
/// 0 when the device's mappings cannot be merged (no translating IOMMU).
#[inline]
pub fn merge_boundary(dev: &Device) -> u64 {
    // SAFETY: `dev` is a valid device.
    (unsafe { bindings::dma_get_merge_boundary(dev.as_raw()) }) as u64
}

/// The device's IOVA granule, `merge_boundary(dev) + 1`; 0 when there is none.
#[inline]
pub fn iova_granule(dev: &Device) -> u64 {
    match merge_boundary(dev) {
        0 => 0,
        b => b.wrapping_add(1),
    }
}

/// The highest bus address the device reaches without the DMA API's help (what
/// `dma_capable()` checks): its DMA mask, lowered by the bus limit; 0 without a mask.
#[inline]
pub fn dma_limit(dev: &Device) -> u64 {
    let d = dev.as_raw();
    // SAFETY: `d` is a valid device; `dma_mask` is NULL or points to its mask.
    let (mask, bus) = unsafe {
        (
            (*d).dma_mask.as_ref().copied().unwrap_or(0),
            (*d).bus_dma_limit,
        )
    };
    if bus == 0 {
        mask
    } else {
        mask.min(bus)
    }
}

/// Whether the device's DMA is cache-coherent (`dev_is_dma_coherent()`).
pub fn is_coherent(dev: &Device) -> bool {
    // SAFETY: `dev` is a valid device.
    unsafe { bindings::dev_is_dma_coherent(dev.as_raw()) }
}

/// Whether the device is untrusted (`pci_dev->untrusted`, dma-iommu's `dev_is_untrusted()`):
/// the IOMMU DMA layer bounces its mappings of memory not aligned to the IOVA granule through
/// swiotlb.
pub fn is_untrusted(dev: &Device) -> bool {
    if <&crate::pci::Device>::try_from(dev).is_err() {
        return false;
    }
    // SAFETY: `dev` is the `dev` field of a valid `struct pci_dev` (checked just above).
    unsafe { (*crate::container_of!(dev.as_raw(), bindings::pci_dev, dev)).untrusted() != 0 }
}

/// IOVA space of a device, with the ranges linked into it so far.
///
/// Ranges are linked one after the other from its start ([`IovaState::link`]); dropping it
/// unlinks them and frees the space (`dma_iova_destroy()`).
///
/// # Invariants
///
/// `state` was allocated by `dma_iova_try_alloc()` for `dev` with `size` bytes; its first
/// `linked` bytes, and no others, are linked, each range with `dir` and `attrs`, from
/// [`PhysRange`]s that stay valid until it is dropped.
pub struct IovaState<'a> {
    dev: DmaDevice<'a>,
    state: bindings::dma_iova_state,
    size: usize,
    linked: usize,
    dir: DataDirection,
    attrs: Attrs,
}

impl IovaState<'_> {
    /// The IOVA of the first byte.
    #[inline]
    pub fn addr(&self) -> DmaAddress {
        self.state.addr
    }

    /// The bytes of IOVA space allocated.
    #[inline]
    pub fn size(&self) -> usize {
        self.size
    }

    /// The bytes linked so far, from the start.
    #[inline]
    pub fn linked(&self) -> usize {
        self.linked
    }

    /// Links `r` right after what is linked (`dma_iova_link()`).
    ///
    /// # Errors
    ///
    /// `EINVAL` if `r` does not fit the space left, or what `dma_iova_link()` returns (`EIO`
    /// for a range whose alignment the IOVA layout cannot take, `ENOMEM`).
    #[inline]
    pub fn link(&mut self, r: PhysRange) -> Result {
        if r.len() > self.size - self.linked {
            return Err(EINVAL);
        }
        // SAFETY: `self.state` was allocated for this device, which is bound (type
        // invariants); `[linked, linked + r.len())` lies within it and is not linked yet; `r`
        // may be mapped until `self`, which unlinks it, is dropped.
        let ret = unsafe {
            bindings::dma_iova_link(
                self.dev.raw(),
                &mut self.state,
                r.phys(),
                self.linked,
                r.len(),
                self.dir.into(),
                self.attrs.as_raw(),
            )
        };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: `r.len()` more bytes are linked, right after the others.
        self.linked += r.len();
        Ok(())
    }

    /// Makes what is linked visible to the device (`dma_iova_sync()`: flushes the IOTLB).
    ///
    /// # Errors
    ///
    /// What `dma_iova_sync()` returns.
    #[inline]
    pub fn sync(&mut self) -> Result {
        // SAFETY: `self.state` belongs to this device and `[0, linked)` is linked (type
        // invariants).
        let ret =
            unsafe { bindings::dma_iova_sync(self.dev.raw(), &mut self.state, 0, self.linked) };
        if ret != 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }
}

impl Drop for IovaState<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `self.state` was allocated for this device, still bound, and exactly its
        // first `linked` bytes are linked with `dir` and `attrs` (type invariants); it is not
        // used after this.
        unsafe {
            bindings::dma_iova_destroy(
                self.dev.raw(),
                &mut self.state,
                self.linked,
                self.dir.into(),
                self.attrs.as_raw(),
            )
        }
    }
}

/// One `dma_map_phys()` mapping, unmapped when dropped.
///
/// # Invariants
///
/// `seg` is a live `dma_map_phys()` mapping of `dev` made with `dir` and `attrs`, of a
/// [`PhysRange`] that stays valid until it is dropped.
pub struct PhysMapping<'a> {
    dev: DmaDevice<'a>,
    seg: DmaVec,
    dir: DataDirection,
    attrs: Attrs,
}

impl PhysMapping<'_> {
    /// The DMA address.
    #[inline]
    pub fn addr(&self) -> DmaAddress {
        self.seg.addr
    }

    /// The length.
    #[inline]
    pub fn len(&self) -> usize {
        self.seg.len
    }

    /// Whether it is empty: never.
    #[inline]
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The mapping as a segment, its DMA address and length: a user whose one segment is the
    /// mapping itself needs no copy of it.
    #[inline]
    pub fn as_dma_vec(&self) -> &DmaVec {
        &self.seg
    }

    /// Syncs the mapping for the CPU (`for_cpu`) or back for the device.
    pub fn sync(&self, for_cpu: bool) {
        // SAFETY: `self.seg` is a live mapping of this device with `self.dir`.
        unsafe { self.dev.sync_single(self.seg, self.dir, for_cpu) }
    }
}

impl Drop for PhysMapping<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: A live mapping of this device with `dir` and `attrs` (type invariant), not
        // used after this.
        unsafe { self.dev.unmap_raw(self.seg, self.dir, self.attrs) }
    }
}

/// `dma_map_phys()` mappings of one device, all with the same direction and attributes; they
/// are unmapped, last first, when it drops.
///
/// Its [`PhysMappings::as_slice`] is the array of mappings, as mapped: a user whose segments
/// are the mappings themselves needs no copy of them.
///
/// # Invariants
///
/// Each element of [`PhysMappings::as_slice`] (`one` when `v` is empty and `one.len != 0`,
/// else `v`) is a live `dma_map_phys()` mapping of `dev` made with `dir` and `attrs`, of a
/// [`PhysRange`] that stays valid until it is dropped; `one.len == 0` or `v` is empty.
pub struct PhysMappings<'a> {
    dev: DmaDevice<'a>,
    dir: DataDirection,
    attrs: Attrs,
    one: DmaVec,
    /// Dropped by hand, only when it has a capacity: dropping an empty `KVec` still calls
    /// `krealloc(NULL, 0)`, a call per mapping of one range for nothing.
    v: ManuallyDrop<KVec<DmaVec>>,
}

impl PhysMappings<'_> {
    /// Maps `r` with `dma_map_phys()` and adds it; returns its DMA address.
    ///
    /// Within the capacity this never allocates; beyond it, it grows the array.
    ///
    /// # Errors
    ///
    /// `ENOMEM` when `r` cannot be mapped or the array cannot grow (nothing is left mapped of
    /// `r` then).
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::DataDirection};
    /// use kernel::dma::iova::{Attrs, DmaDevice, PhysRange};
    ///
    /// /// Maps each range, and returns how many segments the device got.
    /// fn map_all(dev: &Device<Bound>, ranges: &[PhysRange]) -> Result<usize> {
    ///     let dir = DataDirection::FromDevice;
    ///     let mut m = DmaDevice::new(dev).phys_mappings(dir, Attrs::EMPTY);
    ///     m.reserve(ranges.len())?;
    ///     for r in ranges {
    ///         m.push(*r)?;
    ///     }
    ///     m.sync(true); // The device wrote: let the CPU read.
    ///     Ok(m.as_slice().len()) // All unmapped when `m` drops.
    /// }
    /// ```
    #[inline]
    pub fn push(&mut self, r: PhysRange) -> Result<DmaAddress> {
        let addr = self.dev.map_raw(r, self.dir, self.attrs)?;
        let seg = DmaVec { addr, len: r.len() };
        // The array, once it has a capacity, holds every mapping (`one` is then empty): within
        // the capacity reserved at creation a push is a store, with no call.
        let stored = if self.v.capacity() != 0 {
            match self.v.push_within_capacity(seg) {
                Ok(()) => Ok(()),
                Err(_) => self.push_slow(seg),
            }
        } else if self.one.len == 0 {
            self.one = seg;
            Ok(())
        } else {
            self.push_slow(seg)
        };
        if stored.is_err() {
            // SAFETY: `seg` was mapped just above with `dir` and `attrs`, and is not recorded.
            unsafe { self.dev.unmap_raw(seg, self.dir, self.attrs) };
            return Err(ENOMEM);
        }
        // INVARIANT: `seg` is recorded, in `one` alone or in `v` (where `one` moved first).
        Ok(addr)
    }

    /// Maps each of `ranges` with `dma_map_phys()` and adds it, in order: [`PhysMappings::push`]
    /// of each in turn, for a caller of many ranges. Within the capacity reserved
    /// ([`PhysMappings::reserve`]) the loop keeps its state in locals and the array's length is
    /// written once, after it; beyond the capacity it pushes one at a time.
    ///
    /// # Errors
    ///
    /// As [`PhysMappings::push`], of the first range that fails. The ranges before it stay
    /// mapped and recorded (dropping `self` unmaps them); nothing of it or after it is mapped.
    ///
    /// # Examples
    ///
    /// ```
    /// use kernel::{device::{Bound, Device}, dma::DataDirection};
    /// use kernel::dma::iova::{Attrs, DmaDevice, PhysRange};
    ///
    /// /// Maps the ranges for the device to read, and returns the segments' total length.
    /// fn map_all(dev: &Device<Bound>, ranges: &[PhysRange]) -> Result<usize> {
    ///     let mut m = DmaDevice::new(dev).phys_mappings(DataDirection::ToDevice, Attrs::EMPTY);
    ///     m.reserve(ranges.len())?;
    ///     m.extend(ranges.iter().copied())?;
    ///     Ok(m.as_slice().iter().map(|seg| seg.len).sum()) // All unmapped when `m` drops.
    /// }
    /// ```
    #[inline]
    pub fn extend(&mut self, ranges: impl IntoIterator<Item = PhysRange>) -> Result {
        let (dev, dir, attrs) = (self.dev, self.dir, self.attrs);
        let mut ranges = ranges.into_iter();
        // With a capacity, the array holds every mapping (`one` is empty): fill its spare room.
        if self.v.capacity() != 0 && self.one.len == 0 {
            let mut n = 0;
            let mut ret = Ok(());
            for slot in self.v.spare_capacity_mut() {
                let Some(r) = ranges.next() else {
                    break;
                };
                match dev.map_raw(r, dir, attrs) {
                    Ok(addr) => {
                        slot.write(DmaVec { addr, len: r.len() });
                        n += 1;
                    }
                    Err(e) => {
                        ret = Err(e);
                        break;
                    }
                }
            }
            // SAFETY: The first `n` elements of the spare capacity were written just above.
            // INVARIANT: Each is a live mapping of `dev` with `dir` and `attrs`, of a
            // `PhysRange` (valid until `self` drops), and `one` is empty.
            unsafe { self.v.inc_len(n) };
            ret?;
        }
        for r in ranges {
            self.push(r)?;
        }
        Ok(())
    }

    /// Makes room for `capacity` mappings in all, so that pushing them allocates nothing; more
    /// than one are kept in an array.
    ///
    /// # Errors
    ///
    /// `ENOMEM`.
    #[inline]
    pub fn reserve(&mut self, capacity: usize) -> Result {
        if capacity > 1 && capacity > self.v.capacity() {
            self.reserve_slow(capacity)?;
        }
        Ok(())
    }

    #[cold]
    fn reserve_slow(&mut self, capacity: usize) -> Result {
        let more = capacity - self.v.len();
        self.v.reserve(more, GFP_KERNEL)?;
        if self.one.len != 0 {
            // Within the capacity just reserved: the array holds every mapping from now on.
            self.v.push(self.one, GFP_KERNEL)?;
            self.one.len = 0;
        }
        Ok(())
    }

    /// Records `seg` in `v`, moving `one` there first: the array grows.
    #[cold]
    fn push_slow(&mut self, seg: DmaVec) -> Result {
        if self.one.len != 0 {
            self.v.push(self.one, GFP_KERNEL)?;
            self.one.len = 0;
        }
        self.v.push(seg, GFP_KERNEL)?;
        Ok(())
    }

    /// The mappings, in the order they were made.
    #[inline]
    pub fn as_slice(&self) -> &[DmaVec] {
        if self.one.len != 0 {
            core::slice::from_ref(&self.one)
        } else {
            &self.v
        }
    }

    /// The direction of the mappings.
    #[inline]
    pub fn dir(&self) -> DataDirection {
        self.dir
    }

    /// How many mappings the array holds without growing (0 while one is kept inline).
    #[inline]
    pub fn capacity(&self) -> usize {
        self.v.capacity()
    }

    /// Syncs every mapping for the CPU (`dma_sync_single_for_cpu()`, `for_cpu`) or back for
    /// the device (`dma_sync_single_for_device()`).
    pub fn sync(&self, for_cpu: bool) {
        for seg in self.as_slice() {
            // SAFETY: Each element is a live mapping of this device with `self.dir`.
            unsafe { self.dev.sync_single(*seg, self.dir, for_cpu) };
        }
    }
}

impl Drop for PhysMappings<'_> {
    #[inline]
    fn drop(&mut self) {
        let (dev, dir, attrs) = (self.dev, self.dir, self.attrs);
        for seg in self.as_slice().iter().rev() {
            // SAFETY: Each element is a live mapping of this device with `dir` and `attrs`
            // (type invariant), unmapped once, here, and not used after.
            unsafe { dev.unmap_raw(*seg, dir, attrs) };
        }
        if self.v.capacity() != 0 {
            // SAFETY: Dropped once, here; `self.v` is not used after.
            unsafe { ManuallyDrop::drop(&mut self.v) };
        }
    }
}
