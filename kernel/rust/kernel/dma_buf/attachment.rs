// SPDX-License-Identifier: GPL-2.0

//! Attachments of a device to a dma-buf (`struct dma_buf_attachment`), from both sides.
//!
//! - The exporter's view: [`NewAttachment`] while its attach callback decides, then
//!   [`ExporterAttachment`], which carries the exporter's data of the attachment.
//! - The importer's: [`DynamicAttachment`], a dynamic, revocable attachment
//!   (`dma_buf_mapping_attach()` with a `dma_buf_attach_ops` whose `invalidate_mappings` is
//!   the [`Importer`] trait's), asking for the DMA-vector mapping type first and the sg_table
//!   type second. It maps and unmaps with the reservation lock held, proved by a
//!   [`ResvGuard`]; the exporter may invalidate the mappings at any time the lock is held,
//!   and the importer then stops using them and unmaps.
//!
//! An attachment is never detached while an importer's mapping of it exists: dropping a
//! [`DynamicAttachment`] that is still mapped leaks it (with a warning), so that a mapping can
//! be read safely for as long as it exists.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h).
//!
//! # Examples
//!
//! An importer that maps a dma-buf from user space as an array of DMA addresses:
//!
//! ```
//! use kernel::{device::Device, dma::DataDirection};
//! use kernel::dma_buf::{attachment::*, mapping::MappingType, *};
//!
//! struct MyImporter;
//! impl Importer for MyImporter {
//!     fn invalidate_mappings(&self, _attach: &ImportAttachment, _resv: ResvGuard<'_>) {
//!         // Stop the DMA; unmap now or soon after.
//!     }
//! }
//!
//! /// Attaches `dev` to the dma-buf of `fd` and programs the device with its segments.
//! fn import(fd: i32, dev: &Device) -> Result<DynamicAttachment<MyImporter>> {
//!     let att = DynamicAttachment::new(DmaBuf::from_fd(fd)?, dev, MyImporter)?;
//!     let resv = att.dmabuf().resv().lock();
//!     if att.mapping_type() == MappingType::DmaVec {
//!         let m = att.map_dma_vec(DataDirection::FromDevice, &resv)?;
//!         for v in m.entries() {
//!             pr_info!("segment {:#x}+{:#x}\n", v.addr, v.len);
//!         }
//!         att.unmap_dma_vec(m, &resv);
//!     }
//!     drop(resv);
//!     Ok(att)
//! }
//! ```

use super::{
    exporter::Exporter,
    mapping::{importer_matches, DmaVecAddr, DmaVecImport, DmaVecMap, MappingType, SgtImport},
    DmaBuf, DmaVec, ResvGuard,
};
use crate::dma::iova::DmaDevice;
use crate::{
    bindings,
    device::Device,
    dma::DataDirection,
    error::{from_err_ptr, to_result},
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
    },
    types::Opaque,
};
use core::{cell::UnsafeCell, marker::PhantomData, mem::ManuallyDrop, ops::Deref, ptr::NonNull};

/// An attachment the exporter's attach callback is deciding on.
///
/// # Invariants
///
/// A new attachment, valid for the duration of the attach callback, whose device, dma-buf and
/// importer fields are set.
#[repr(transparent)]
pub struct NewAttachment(Opaque<bindings::dma_buf_attachment>);

impl NewAttachment {
    /// # Safety
    ///
    /// `ptr` is a new attachment as the type invariant says, valid for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::dma_buf_attachment) -> &'a Self {
        // SAFETY: Transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast::<Self>() }
    }

    fn raw(&self) -> *mut bindings::dma_buf_attachment {
        self.0.get()
    }

    /// The importing device.
    pub fn dev(&self) -> &Device {
        // SAFETY: By the type invariant `dev` is set, and the importer keeps it valid while
        // attached.
        unsafe { Device::from_raw((*self.raw()).dev) }
    }

    /// Whether the importer accepts peer-to-peer (MMIO) memory.
    pub fn peer2peer(&self) -> bool {
        // SAFETY: By the type invariant the attachment is valid.
        unsafe { (*self.raw()).peer2peer }
    }

    /// Whether the importer is revocable (`dma_buf_attach_revocable()`): dynamic, with an
    /// `invalidate_mappings` callback, so it unmaps when told to.
    pub fn is_revocable(&self) -> bool {
        // SAFETY: By the type invariant the attachment is valid and its importer ops set.
        unsafe { bindings::dma_buf_attach_revocable(self.raw()) }
    }
}

/// What an accepted attachment's `priv` points to: the exporter's data of the attachment, and
/// the list of its live mappings.
pub(super) struct AttachPriv<T: Exporter> {
    pub(super) data: T::AttachData,
    /// The first node of the list of the attachment's live mappings, linked through
    /// [`MapNode::next`]; null when there is none. Read and written only with the reservation
    /// lock of the attachment's dma-buf held.
    maps: UnsafeCell<*const MapNode<T::Mapping<'static>>>,
}

impl<T: Exporter> AttachPriv<T> {
    pub(super) fn new(data: T::AttachData) -> Self {
        Self {
            data,
            maps: UnsafeCell::new(core::ptr::null()),
        }
    }
}

/// An exporter's mapping, in the box that holds it from map to unmap, linked into the list of
/// its attachment's live mappings meanwhile ([`ExporterAttachment::mappings`]).
pub(super) struct MapNode<M> {
    /// The next node of the list; read and written only with the reservation lock held.
    next: UnsafeCell<*const MapNode<M>>,
    map: M,
}

// SAFETY: `next` is only used with the reservation lock held, from whichever thread holds it;
// the rest is `M`.
unsafe impl<M: Send> Send for MapNode<M> {}
// SAFETY: See `Send`.
unsafe impl<M: Sync> Sync for MapNode<M> {}

impl<M> MapNode<M> {
    pub(super) fn new(map: M) -> Self {
        Self {
            next: UnsafeCell::new(core::ptr::null()),
            map,
        }
    }
}

impl<M: DmaVecMap> DmaVecMap for MapNode<M> {
    fn entries(&self) -> &[DmaVec] {
        self.map.entries()
    }

    fn addr(&self) -> DmaVecAddr {
        self.map.addr()
    }
}

/// An attachment an exporter accepted, with its data.
///
/// # Invariants
///
/// An attachment of a dma-buf exported with `T`'s ops, which `T::attach` accepted and which is
/// not yet detached: its `priv` is the `AttachPriv<T>` the attach callback stored.
#[repr(transparent)]
pub struct ExporterAttachment<T: Exporter>(Opaque<bindings::dma_buf_attachment>, PhantomData<T>);

impl<T: Exporter> ExporterAttachment<T> {
    /// # Safety
    ///
    /// `ptr` is an attachment as the type invariant says, not detached for `'a`.
    pub(super) unsafe fn from_raw<'a>(ptr: *mut bindings::dma_buf_attachment) -> &'a Self {
        // SAFETY: Transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast::<Self>() }
    }

    fn raw(&self) -> *mut bindings::dma_buf_attachment {
        self.0.get()
    }

    fn priv_(&self) -> &AttachPriv<T> {
        // SAFETY: By the type invariant `priv` is the attach callback's `AttachPriv<T>`, freed
        // at detach only.
        unsafe { &*(*self.raw()).priv_.cast::<AttachPriv<T>>() }
    }

    /// The importing device.
    pub fn dev(&self) -> &Device {
        // SAFETY: The importer keeps the device valid while attached.
        unsafe { Device::from_raw((*self.raw()).dev) }
    }

    /// The DMA API of the importing device, for the mappings of [`Exporter::map`].
    ///
    /// The importer keeps its device bound to its driver while it is attached, and unmaps
    /// every mapping of the attachment before it detaches (the dma-buf importer's contract):
    /// a mapping made with the returned value lives no longer than that, being dropped at
    /// unmap. [`Exporter::map`] gets it for a lifetime of its own, which nothing it keeps
    /// beyond the mapping can hold.
    pub(super) fn dma_device(&self) -> DmaDevice<'static> {
        // SAFETY: See above: only `Exporter::map` gets it, for a lifetime it must keep within
        // the mapping it returns, which the abstraction drops at unmap, before detach.
        unsafe { DmaDevice::assume_bound(self.dev()) }
    }

    /// Whether the importer accepts peer-to-peer (MMIO) memory.
    pub fn peer2peer(&self) -> bool {
        // SAFETY: By the type invariant the attachment is valid.
        unsafe { (*self.raw()).peer2peer }
    }

    /// The exporter's data of the attachment.
    pub fn data(&self) -> &T::AttachData {
        &self.priv_().data
    }

    /// Calls `f` with each of the attachment's live mappings: those [`Exporter::map`] made
    /// and that are not yet unmapped, with the reservation lock held (`guard`), under which
    /// they cannot be unmapped.
    ///
    /// `f` gets each mapping for a lifetime of its own, as [`Exporter::map`] made it: nothing
    /// the mapping holds for its device can be kept beyond the call.
    ///
    /// # Panics
    ///
    /// If `guard` holds the lock of another reservation object than the dma-buf's.
    pub fn for_each_mapping(
        &self,
        guard: &ResvGuard<'_>,
        mut f: impl for<'m> FnMut(&'m T::Mapping<'m>),
    ) {
        // SAFETY: By the type invariant the attachment, and its dma-buf, are valid.
        let dmabuf = unsafe { DmaBuf::from_raw((*self.raw()).dmabuf) };
        assert!(guard.is_of(dmabuf.resv()), "mismatched reservation lock");
        // SAFETY: The list is only changed with the reservation lock held, which `guard` holds.
        let mut node = unsafe { *self.priv_().maps.get() };
        // SAFETY: `node` is null or a node of the list, which stays linked, and its box alive,
        // while the lock is held (unmap unlinks it with the lock held).
        while let Some(n) = unsafe { node.as_ref() } {
            // SAFETY: As above.
            node = unsafe { *n.next.get() };
            let m = core::ptr::from_ref(&n.map).cast::<T::Mapping<'_>>();
            // SAFETY: A live mapping (see above). CAST: It was made for a device that stays
            // bound while the attachment exists, so for the whole call; `f` takes any
            // lifetime, so it keeps nothing of the mapping's beyond it.
            f(unsafe { &*m });
        }
    }

    /// Links `node` into the list of live mappings.
    ///
    /// # Safety
    ///
    /// The reservation lock is held; `node` is a mapping of this attachment, in a box that is
    /// not moved nor freed until it is unlinked with [`ExporterAttachment::unlink`].
    pub(super) unsafe fn link(&self, node: *const MapNode<T::Mapping<'static>>) {
        let head = self.priv_().maps.get();
        // SAFETY: The lock is held, so nothing else reads or writes the list; `node` is valid.
        unsafe {
            *(*node).next.get() = *head;
            *head = node;
        }
    }

    /// Unlinks `node` from the list of live mappings.
    ///
    /// # Safety
    ///
    /// The reservation lock is held; `node` was linked with [`ExporterAttachment::link`].
    pub(super) unsafe fn unlink(&self, node: *const MapNode<T::Mapping<'static>>) {
        let mut p = self.priv_().maps.get();
        // SAFETY: The lock is held; `p` points to the head or to the `next` of a linked node,
        // all valid while linked.
        unsafe {
            while !(*p).is_null() {
                if *p == node {
                    *p = *(*node).next.get();
                    return;
                }
                p = (**p).next.get();
            }
        }
    }
}

/// The importer's callbacks of a [`DynamicAttachment`].
pub trait Importer: Send + Sync + 'static {
    /// The exporter invalidates the mappings of the attachment (`invalidate_mappings`), with
    /// the reservation lock held (`resv`). The importer must stop using the addresses and
    /// unmap: at once, or, if DMA on the mapping is in flight under a fence in the
    /// reservation object, make that DMA stop soon and unmap after the fence is signalled.
    ///
    /// Called until the attachment is dropped, so also while it is being dropped.
    fn invalidate_mappings(&self, attach: &ImportAttachment, resv: ResvGuard<'_>);
}

/// What `importer_priv` points to: the count of mappings first (`ImportAttachment` reads it
/// without knowing `T`).
#[repr(C)]
struct ImportPriv<T> {
    maps: Atomic<usize>,
    data: T,
}

/// An importer's dynamic attachment to a dma-buf, detached on drop (`dma_buf_detach()`).
///
/// # Invariants
///
/// `raw` is an attachment of `dmabuf` made by [`DynamicAttachment::new`], with `priv_` as its
/// `importer_priv`, not yet detached.
pub struct DynamicAttachment<T: Importer> {
    raw: NonNull<bindings::dma_buf_attachment>,
    priv_: ManuallyDrop<Pin<KBox<ImportPriv<T>>>>,
    dmabuf: ManuallyDrop<ARef<DmaBuf>>,
}

// SAFETY: The attachment may be used and dropped from any thread; its mappings are under the
// reservation lock, and `T: Send + Sync`.
unsafe impl<T: Importer> Send for DynamicAttachment<T> {}
// SAFETY: See `Send`.
unsafe impl<T: Importer> Sync for DynamicAttachment<T> {}

impl<T: Importer> DynamicAttachment<T> {
    const OPS: bindings::dma_buf_attach_ops = bindings::dma_buf_attach_ops {
        allow_peer2peer: true,
        invalidate_mappings: Some(Self::invalidate_mappings),
    };

    /// Attaches `dev` to `dmabuf` dynamically, accepting peer-to-peer memory, and asking for
    /// the DMA-vector mapping type first and the sg_table type second
    /// (`dma_buf_mapping_attach()`). The reservation lock must not be held.
    ///
    /// # Errors
    ///
    /// What the exporter's attach refuses with, `EOPNOTSUPP` if the exporter offers neither
    /// type, or `ENOMEM`.
    pub fn new(dmabuf: ARef<DmaBuf>, dev: &Device, data: T) -> Result<Self> {
        let priv_ = KBox::pin(
            ImportPriv {
                maps: Atomic::new(0),
                data,
            },
            GFP_KERNEL,
        )?;
        let imp = importer_matches();
        let p = core::ptr::from_ref::<ImportPriv<T>>(&priv_).cast_mut();
        // (`raw::device()` is `Device::as_raw()`, crate-private in `kernel`.)
        // SAFETY: `dmabuf` holds a reference and `dev` is valid; the core reads `imp` during
        // the call only; `OPS` is static and `p` stays valid (pinned) until detach in `drop`.
        let raw = from_err_ptr(unsafe {
            bindings::dma_buf_mapping_attach(
                dmabuf.as_raw(),
                dev.as_raw(),
                imp.as_ptr(),
                imp.len(),
                &Self::OPS,
                p.cast(),
            )
        })?;
        // INVARIANT: Attached just above with `priv_`.
        Ok(Self {
            raw: NonNull::new(raw).ok_or(ENOMEM)?,
            priv_: ManuallyDrop::new(priv_),
            dmabuf: ManuallyDrop::new(dmabuf),
        })
    }

    /// The dma-buf.
    pub fn dmabuf(&self) -> &DmaBuf {
        &self.dmabuf
    }

    /// The importer's data.
    pub fn data(&self) -> &T {
        &self.priv_.data
    }

    /// # Safety
    ///
    /// Called by the dma-buf core with the reservation lock held, for an attachment made by
    /// [`DynamicAttachment::new`], not yet detached.
    unsafe extern "C" fn invalidate_mappings(attach: *mut bindings::dma_buf_attachment) {
        // SAFETY: The core's guarantees: `importer_priv` is the pinned `ImportPriv<T>`, valid
        // until detach; the attachment and its dma-buf are valid for the call, and the lock is
        // held for it, which the guard (moved into the callee) does not outlive.
        unsafe {
            let p = &*(*attach).importer_priv.cast::<ImportPriv<T>>();
            let a = ImportAttachment::from_raw(attach);
            let guard = ResvGuard::assume_locked(DmaBuf::from_raw((*attach).dmabuf).resv());
            p.data.invalidate_mappings(a, guard);
        }
    }
}

impl<T: Importer> Deref for DynamicAttachment<T> {
    type Target = ImportAttachment;

    fn deref(&self) -> &ImportAttachment {
        // SAFETY: By the type invariant the attachment is one of ours, not yet detached.
        unsafe { ImportAttachment::from_raw(self.raw.as_ptr()) }
    }
}

impl<T: Importer> Drop for DynamicAttachment<T> {
    fn drop(&mut self) {
        if self.priv_.maps.load(Relaxed) != 0 {
            // A mapping still exists and may be read: never detach (the exporter would free
            // what it points to). Leak the attachment, its data and its reference.
            crate::pr_warn!("dma-buf attachment dropped while mapped: leaked\n");
            return;
        }
        // SAFETY: By the type invariant attached and not yet detached; the reservation lock
        // is not held (a guard borrows the attachment, so none outlives it).
        unsafe { bindings::dma_buf_detach(self.dmabuf.as_raw(), self.raw.as_ptr()) };
        // SAFETY: Detached: no callback uses them any more, and they are not used after.
        unsafe {
            ManuallyDrop::drop(&mut self.priv_);
            ManuallyDrop::drop(&mut self.dmabuf);
        }
    }
}

/// An importer's attachment, as its methods and the invalidate callback see it.
///
/// # Invariants
///
/// An attachment made by [`DynamicAttachment::new`], not yet detached: its `importer_priv`
/// starts with the count of its mappings.
#[repr(transparent)]
pub struct ImportAttachment(Opaque<bindings::dma_buf_attachment>);

impl ImportAttachment {
    /// # Safety
    ///
    /// `ptr` is an attachment as the type invariant says, for `'a`.
    unsafe fn from_raw<'a>(ptr: *mut bindings::dma_buf_attachment) -> &'a Self {
        // SAFETY: Transparent wrapper; the caller guarantees validity.
        unsafe { &*ptr.cast::<Self>() }
    }

    /// The raw attachment, for C functions of the dma-buf core.
    pub fn as_raw(&self) -> *mut bindings::dma_buf_attachment {
        self.0.get()
    }

    fn maps(&self) -> &Atomic<usize> {
        // SAFETY: By the type invariant `importer_priv` is an `ImportPriv<_>`, `repr(C)` with
        // the count first, valid until detach.
        unsafe { &*(*self.as_raw()).importer_priv.cast::<Atomic<usize>>() }
    }

    fn dmabuf(&self) -> &DmaBuf {
        // SAFETY: The attachment holds its dma-buf (the `DynamicAttachment` a reference).
        unsafe { DmaBuf::from_raw((*self.as_raw()).dmabuf) }
    }

    fn check(&self, guard: &ResvGuard<'_>) {
        assert!(
            guard.is_of(self.dmabuf().resv()),
            "mismatched reservation lock"
        );
    }

    /// The importing device.
    pub fn dev(&self) -> &Device {
        // SAFETY: The device is valid while attached (the importer's guarantee at attach).
        unsafe { Device::from_raw((*self.as_raw()).dev) }
    }

    /// Whether the exporter granted peer-to-peer access.
    pub fn peer2peer(&self) -> bool {
        // SAFETY: By the type invariant the attachment is valid.
        unsafe { (*self.as_raw()).peer2peer }
    }

    /// The negotiated mapping type, constant while attached.
    pub fn mapping_type(&self) -> MappingType {
        // SAFETY: By the type invariant the attachment is valid; `map_type` is constant.
        let t = unsafe { (*self.as_raw()).map_type.type_ };
        if core::ptr::eq(t, &raw const bindings::dma_buf_mapping_dma_vec_type) {
            MappingType::DmaVec
        } else {
            MappingType::SgTable
        }
    }

    /// Maps the attachment as an array (`dma_buf_map_dma_vec()`), with the lock held.
    ///
    /// # Errors
    ///
    /// `EINVAL` if the attachment's type is not the DMA-vector type, or what the exporter
    /// returns.
    ///
    /// # Panics
    ///
    /// If `guard` holds the lock of another reservation object.
    pub fn map_dma_vec(&self, dir: DataDirection, guard: &ResvGuard<'_>) -> Result<DmaVecImport> {
        self.check(guard);
        if self.mapping_type() != MappingType::DmaVec {
            return Err(EINVAL);
        }
        // An empty mapping, which the core fills.
        let mut map: bindings::dma_buf_dma_vec = pin_init::zeroed();
        // SAFETY: The attachment is of the DMA-vector type and the lock is held.
        to_result(unsafe { bindings::dma_buf_map_dma_vec(self.as_raw(), dir.into(), &mut map) })?;
        self.maps().fetch_add(1, Relaxed);
        // SAFETY: `as_raw()` is not null.
        let attach = unsafe { NonNull::new_unchecked(self.as_raw()) };
        // INVARIANT: Filled by the core just above, for this attachment.
        match DmaVecImport::new(map, attach, dir) {
            Ok(m) => Ok(m),
            Err((e, m)) => {
                self.unmap_dma_vec(m, guard);
                Err(e)
            }
        }
    }

    /// Unmaps a mapping [`ImportAttachment::map_dma_vec`] made (`dma_buf_unmap_dma_vec()`),
    /// with the lock held.
    ///
    /// # Panics
    ///
    /// If `guard` holds the lock of another reservation object, or `m` is another
    /// attachment's.
    pub fn unmap_dma_vec(&self, mut m: DmaVecImport, guard: &ResvGuard<'_>) {
        self.check(guard);
        assert!(
            core::ptr::eq(m.attach.as_ptr(), self.as_raw()),
            "mismatched attachment"
        );
        // SAFETY: Mapped for this attachment by `map_dma_vec` (type invariant of
        // `DmaVecImport`), not yet unmapped; the lock is held.
        unsafe { bindings::dma_buf_unmap_dma_vec(self.as_raw(), &mut m.map, m.dir.into()) };
        self.maps().fetch_sub(1, Relaxed);
    }

    /// Maps the attachment as an sg_table (`dma_buf_map_attachment()`), with the lock held.
    ///
    /// # Errors
    ///
    /// What the exporter or the dma-buf core returns.
    ///
    /// # Panics
    ///
    /// If `guard` holds the lock of another reservation object.
    pub fn map_sgt(&self, dir: DataDirection, guard: &ResvGuard<'_>) -> Result<SgtImport> {
        self.check(guard);
        // SAFETY: The attachment is valid and the lock is held.
        let sgt =
            from_err_ptr(unsafe { bindings::dma_buf_map_attachment(self.as_raw(), dir.into()) })?;
        let sgt = NonNull::new(sgt).ok_or(ENOMEM)?;
        self.maps().fetch_add(1, Relaxed);
        // SAFETY: `as_raw()` is not null.
        let attach = unsafe { NonNull::new_unchecked(self.as_raw()) };
        // INVARIANT: Mapped just above, for this attachment.
        Ok(SgtImport { sgt, attach, dir })
    }

    /// Unmaps a table [`ImportAttachment::map_sgt`] mapped (`dma_buf_unmap_attachment()`),
    /// with the lock held.
    ///
    /// # Panics
    ///
    /// If `guard` holds the lock of another reservation object, or `m` is another
    /// attachment's.
    pub fn unmap_sgt(&self, m: SgtImport, guard: &ResvGuard<'_>) {
        self.check(guard);
        assert!(
            core::ptr::eq(m.attach.as_ptr(), self.as_raw()),
            "mismatched attachment"
        );
        // SAFETY: Mapped for this attachment by `map_sgt`, not yet unmapped; the lock is held.
        unsafe { bindings::dma_buf_unmap_attachment(self.as_raw(), m.sgt.as_ptr(), m.dir.into()) };
        self.maps().fetch_sub(1, Relaxed);
    }
}
