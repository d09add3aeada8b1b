// SPDX-License-Identifier: GPL-2.0

//! The exporter side of dma-buf: `struct dma_buf_ops` as the [`Exporter`] trait.
//!
//! An exporter implements [`Exporter`] for the data its dma-bufs keep alive (one `Arc<T>` per
//! dma-buf, given back to [`Exporter::release`]), declares one static [`Ops`] table for it, and
//! exports with [`export`]. The abstraction owns the rest of the C protocol:
//!
//! - attach and detach: [`Exporter::attach`] returns the attachment's data
//!   ([`Exporter::AttachData`]), kept in the attachment and dropped at detach; neither runs
//!   with the reservation lock held, and the attachment is not yet (no longer) in the
//!   dma-buf's list.
//! - map and unmap, with the reservation lock held (the callback gets the [`ResvGuard`]):
//!   [`Exporter::map`] makes one [`DmaVecMap`] per map, with the importing device's DMA API
//!   ([`DmaDevice`]) for a lifetime that the mapping bounds; the abstraction hands it out as the
//!   DMA-vector mapping type, or builds the DMA-only sg_table of the sg_table type from it
//!   ([`super::mapping`]), keeps it in the attachment's list of live mappings
//!   ([`ExporterAttachment::for_each_mapping`], for the CPU access hooks), and drops it at
//!   unmap, the lock held again.
//! - the mapping-type negotiation (`match_mapping`): the DMA-vector type, then the sg_table
//!   type.
//! - CPU access ([`Exporter::begin_cpu_access`], [`Exporter::end_cpu_access`]): no lock held.
//! - `mmap()` as a PFN mapping populated on fault ([`Exporter::mmap`], [`Exporter::fault`]):
//!   no lock of the dma-buf's held.
//! - release, when the last reference to the dma-buf's file is gone: no lock held; the
//!   [`WeakDmaBuf`] of the export stops giving the dma-buf out before [`Exporter::release`].
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h).
//!
//! # Examples
//!
//! An exporter of memory it owns, mapped for each importer with `dma_map_phys()`:
//!
//! ```
//! use kernel::dma::{iova::*, DataDirection};
//! use kernel::dma_buf::{attachment::*, exporter::*, mapping::*, *};
//! use kernel::{sync::{Arc, ArcBorrow}, ThisModule};
//!
//! /// The buffer: memory the driver owns, as physical ranges.
//! struct MyBuf { ranges: KVec<PhysRange> }
//! /// One importer's mapping, unmapped when dropped (at unmap).
//! struct MyMap<'a>(PhysMappings<'a>);
//! impl DmaVecMap for MyMap<'_> {
//!     fn entries(&self) -> &[DmaVec] { self.0.as_slice() }
//!     fn addr(&self) -> DmaVecAddr { DmaVecAddr::Direct }
//! }
//!
//! #[vtable]
//! impl Exporter for MyBuf {
//!     type AttachData = ();
//!     type Mapping<'a> = MyMap<'a>;
//!     fn attach(_: ArcBorrow<'_, Self>, _: &NewAttachment) -> Result { Ok(()) }
//!     fn map<'a>(this: ArcBorrow<'_, Self>, _: &ExporterAttachment<Self>, dev: DmaDevice<'a>,
//!                dir: DataDirection, _: &ResvGuard<'_>) -> Result<MyMap<'a>> {
//!         let mut m = dev.phys_mappings(dir, Attrs::EMPTY);
//!         m.reserve(this.ranges.len())?;
//!         for r in this.ranges.iter() { m.push(*r)?; }
//!         Ok(MyMap(m))
//!     }
//!     fn release(_: Arc<Self>) {}
//! }
//!
//! static OPS: Ops<MyBuf> = Ops::new();
//! /// Exports `buf` and gives user space a file descriptor for it.
//! fn export_fd(buf: Arc<MyBuf>, size: usize, module: &'static ThisModule) -> Result<u32> {
//!     let info = ExportInfo { name: c"my_driver", owner: module.into(), size, flags: O_RDWR };
//!     let (dmabuf, _weak) = export(&OPS, buf, info)?;
//!     dmabuf.install_fd(O_CLOEXEC)
//! }
//! ```

use super::{
    attachment::{AttachPriv, ExporterAttachment, MapNode, NewAttachment},
    data_direction,
    mapping::{exporter_matches, DmaVecMap, SgtMapping},
    DmaBuf, ResvGuard,
};
use crate::dma::iova::DmaDevice;
use crate::{
    bindings,
    dma::DataDirection,
    error::{from_err_ptr, from_result, to_result, VTABLE_DEFAULT_ERROR},
    ffi::{c_int, c_ulong},
    new_spinlock,
    prelude::*,
    sync::{aref::ARef, Arc, ArcBorrow, SpinLock},
    ThisModule,
};
use core::{marker::PhantomData, ptr::NonNull};

/// The module that owns an exported dma-buf's code (`dma_buf_export_info.owner`): it stays
/// loaded while the dma-buf exists.
#[derive(Clone, Copy)]
pub struct Owner(*mut bindings::module);

// SAFETY: A module pointer is only handed to the module reference counting functions, which
// any thread may call.
unsafe impl Send for Owner {}
// SAFETY: See `Send`: `&Owner` only gives the pointer's value.
unsafe impl Sync for Owner {}

impl From<&'static ThisModule> for Owner {
    fn from(m: &'static ThisModule) -> Self {
        Self(m.as_ptr())
    }
}

impl Owner {
    /// A C module pointer (NULL for code built into the kernel).
    ///
    /// # Safety
    ///
    /// `m` is `THIS_MODULE` of the module whose code and data the exported buffer uses.
    pub unsafe fn from_raw(m: *mut bindings::module) -> Self {
        Self(m)
    }

    /// Takes a reference to the module (`try_module_get()`), unless it is being removed.
    ///
    /// The module must be live: the dma-bufs it exported hold a reference to it until their
    /// release.
    pub fn try_get(&self) -> Option<OwnerRef> {
        // SAFETY: `self.0` is a module that holds a reference to itself through a dma-buf it
        // exported, or NULL: `try_module_get()` accepts both.
        // INVARIANT: Taken here, put on drop.
        unsafe { bindings::try_module_get(self.0) }.then_some(OwnerRef(self.0))
    }
}

/// A reference to an exporter's module, put on drop.
///
/// # Invariants
///
/// The reference was taken with `try_module_get()`.
pub struct OwnerRef(*mut bindings::module);

// SAFETY: `module_put()` may be called from any thread.
unsafe impl Send for OwnerRef {}
// SAFETY: `&OwnerRef` gives nothing.
unsafe impl Sync for OwnerRef {}

impl Drop for OwnerRef {
    fn drop(&mut self) {
        // SAFETY: By the type invariant, a reference taken with `try_module_get()`.
        unsafe { bindings::module_put(self.0) };
    }
}

/// What [`export`] needs to know besides the exporter's data.
pub struct ExportInfo {
    /// The exporter's name, as `/sys/kernel/debug/dma_buf/bufinfo` shows it.
    pub name: &'static CStr,
    /// The exporter's module.
    pub owner: Owner,
    /// Size in bytes.
    pub size: usize,
    /// File flags of the dma-buf ([`super::O_RDWR`], `O_ACCMODE` bits).
    pub flags: u32,
}

/// How [`Exporter::mmap`] maps the dma-buf: a PFN mapping (`VM_PFNMAP | VM_IO`, so
/// `get_user_pages()` fails on it), populated by [`Exporter::fault`]. The mapping must be
/// shared (`MAP_PRIVATE` fails with `EINVAL`).
pub struct PfnMap {
    /// Whether the pages are mapped uncached (MMIO).
    pub uncached: bool,
}

/// A page fault in a CPU mapping of a dma-buf (`struct vm_fault`).
///
/// # Invariants
///
/// `vma` is a VMA that [`Exporter::mmap`] set up as a [`PfnMap`], and `addr` the page-aligned
/// faulting address in it, with the mmap lock held, for the duration of the fault.
pub struct PfnFault {
    vma: *mut bindings::vm_area_struct,
    addr: c_ulong,
    pgoff: usize,
}

/// What a fault handler returns (`vm_fault_t`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct VmFaultResult(bindings::vm_fault_t);

impl VmFaultResult {
    /// `VM_FAULT_SIGBUS`: the access gets `SIGBUS`.
    pub const SIGBUS: Self =
        Self(bindings::vm_fault_reason_VM_FAULT_SIGBUS as bindings::vm_fault_t);
}

impl PfnFault {
    /// The page of the dma-buf that faulted (`vmf->pgoff`).
    pub fn pgoff(&self) -> usize {
        self.pgoff
    }

    /// Inserts page frame `pfn` at the faulting address (`vmf_insert_pfn()`).
    pub fn insert_pfn(&self, pfn: Pfn) -> VmFaultResult {
        // SAFETY: By the type invariant `vma` is a PFN-mapped VMA and `addr` lies in it, the
        // mmap lock held; user space may access the page (type invariant of `Pfn`).
        VmFaultResult(unsafe { bindings::vmf_insert_pfn(self.vma, self.addr, pfn.0 as c_ulong) })
    }
}

/// A page frame that user space may map ([`PfnFault::insert_pfn`]).
///
/// # Invariants
///
/// The page is memory of the exporter's, which user space may read and write through any CPU
/// mapping of its dma-buf it is inserted into, for as long as that mapping exists: the
/// exporter zaps the CPU mappings ([`DmaBuf::zap_cpu_mappings`]) before it frees or reuses
/// the memory, and inserts it no more after that zap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pfn(u64);

impl Pfn {
    /// Page frame number `pfn`.
    ///
    /// # Safety
    ///
    /// The page is as the type invariant says.
    pub const unsafe fn new(pfn: u64) -> Self {
        // INVARIANT: Guaranteed by the caller.
        Self(pfn)
    }

    /// The page frame number.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

/// The callbacks of an exporter, for the data `Self` its dma-bufs keep alive.
///
/// Which lock each callback runs with is in the [module documentation](self).
#[vtable]
pub trait Exporter: Send + Sync + Sized + 'static {
    /// The exporter's data of one attachment, from attach to detach.
    type AttachData: Send + Sync;

    /// A mapping of one attachment, from map to unmap, made with the importing device's DMA
    /// API for `'a` ([`Exporter::map`]).
    type Mapping<'a>: DmaVecMap;

    /// An importer attaches: accept it (returning its data) or refuse with an error, which
    /// the importer's attach returns. The reservation lock is not held.
    fn attach(this: ArcBorrow<'_, Self>, attach: &NewAttachment) -> Result<Self::AttachData>;

    /// Maps the buffer for `attach`'s device through `dev`, its DMA API, with the reservation
    /// lock held (`resv`). The mapping is dropped at unmap, with the lock held again.
    ///
    /// The importer keeps its device bound while it is attached and unmaps before it detaches
    /// (the dma-buf importer's contract): `dev` is good for as long as the mapping exists,
    /// which `'a` expresses, and for nothing beyond it.
    fn map<'a>(
        this: ArcBorrow<'_, Self>,
        attach: &ExporterAttachment<Self>,
        dev: DmaDevice<'a>,
        dir: DataDirection,
        resv: &ResvGuard<'_>,
    ) -> Result<Self::Mapping<'a>>;

    /// Hands the buffer over to the CPU (`DMA_BUF_IOCTL_SYNC` start,
    /// `dma_buf_begin_cpu_access()`). No lock is held.
    fn begin_cpu_access(
        _this: ArcBorrow<'_, Self>,
        _dmabuf: &DmaBuf,
        _dir: DataDirection,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Hands the buffer back to the devices. No lock is held.
    fn end_cpu_access(_this: ArcBorrow<'_, Self>, _dmabuf: &DmaBuf, _dir: DataDirection) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `mmap()` of the dma-buf: returns how to map it, or an error. Without it, `mmap()` fails
    /// with `EINVAL`.
    fn mmap(_this: ArcBorrow<'_, Self>, _dmabuf: &DmaBuf) -> Result<PfnMap> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// A page fault in a mapping [`Exporter::mmap`] set up. No lock of the dma-buf's is held.
    fn fault(_this: ArcBorrow<'_, Self>, _fault: &PfnFault) -> VmFaultResult {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// The dma-buf is released: no importer and no file can reach it any more. Gets back the
    /// data given to [`export`].
    fn release(this: Arc<Self>);
}

/// The `dma_buf_ops` of an exporter, as a static of the exporter's: the dma-bufs it exported
/// are those whose ops are this table ([`Ops::data_of`]).
pub struct Ops<T: Exporter> {
    ops: bindings::dma_buf_ops,
    _p: PhantomData<T>,
}

// SAFETY: The table is constant data (function pointers).
unsafe impl<T: Exporter> Sync for Ops<T> {}

impl<T: Exporter> Default for Ops<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Exporter> Ops<T> {
    /// The table of `T`.
    pub const fn new() -> Self {
        Self {
            ops: VTable::<T>::OPS,
            _p: PhantomData,
        }
    }

    /// The exporter's data of `dmabuf`, if this table exported it.
    pub fn data_of<'a>(&'static self, dmabuf: &'a DmaBuf) -> Option<ArcBorrow<'a, T>> {
        // SAFETY: The dma-buf is valid (type invariant of `DmaBuf`); `ops` is constant.
        if !core::ptr::eq(unsafe { (*dmabuf.as_raw()).ops }, &self.ops) {
            return None;
        }
        // SAFETY: Exported by `export` with this table, so `priv` is its `Priv<T>`, freed at
        // release only, which the live file (`DmaBuf`'s invariant) has not reached.
        Some(
            unsafe { priv_of::<T>(dmabuf.as_raw()) }
                .data
                .as_arc_borrow(),
        )
    }

    /// The attachments of `dmabuf`, if this table exported it: every importer that attached
    /// and has not yet detached.
    ///
    /// # Panics
    ///
    /// If `guard` holds the lock of another reservation object.
    pub fn attachments<'a>(
        &'static self,
        dmabuf: &'a DmaBuf,
        guard: &'a ResvGuard<'_>,
    ) -> Option<impl Iterator<Item = &'a ExporterAttachment<T>> + 'a> {
        assert!(guard.is_of(dmabuf.resv()), "mismatched reservation lock");
        self.data_of(dmabuf)?;
        // SAFETY: The dma-buf is valid.
        let head = unsafe { &raw mut (*dmabuf.as_raw()).attachments };
        // SAFETY: `head` is a valid list head.
        let mut node = unsafe { (*head).next };
        Some(core::iter::from_fn(move || {
            if node == head {
                return None;
            }
            // SAFETY: The list is stable while the reservation lock is held (`guard`: the core
            // changes it only under that lock), and its nodes are attachments that our attach
            // accepted and detach has not yet seen (the core adds after attach, removes before
            // detach).
            unsafe {
                let a = crate::container_of!(node, bindings::dma_buf_attachment, node);
                node = (*node).next;
                Some(ExporterAttachment::<T>::from_raw(a))
            }
        }))
    }
}

/// What the dma-buf's `priv` points to.
struct Priv<T> {
    data: Arc<T>,
    weak: Arc<SpinLock<Option<RawDmaBuf>>>,
}

/// # Safety
///
/// `dmabuf` was exported by [`export`] for `T` and is not yet released.
unsafe fn priv_of<'a, T>(dmabuf: *mut bindings::dma_buf) -> &'a Priv<T> {
    // SAFETY: `export` stored a `KBox<Priv<T>>` in `priv`, freed only at release.
    unsafe { &*(*dmabuf).priv_.cast::<Priv<T>>() }
}

/// A dma-buf pointer, only dereferenced under [`WeakDmaBuf`]'s lock.
struct RawDmaBuf(NonNull<bindings::dma_buf>);

// SAFETY: Only dereferenced under the lock, while the dma-buf is not released.
unsafe impl Send for RawDmaBuf {}

/// A reference to an exported dma-buf that does not keep it alive.
///
/// [`WeakDmaBuf::upgrade`] gives a counted reference while the dma-buf's file is alive, `None`
/// once its last reference is gone (the file is dying, or the dma-buf released).
///
/// # Invariants
///
/// The pointer is that of a valid dma-buf while it is `Some`: the release callback sets it to
/// `None`, under the lock, before the dma-buf core frees the dma-buf.
#[derive(Clone)]
pub struct WeakDmaBuf(Arc<SpinLock<Option<RawDmaBuf>>>);

impl WeakDmaBuf {
    /// A counted reference to the dma-buf, unless its file is dying or it is released.
    pub fn upgrade(&self) -> Option<ARef<DmaBuf>> {
        let slot = self.0.lock();
        let d = slot.as_ref()?;
        // SAFETY: By the type invariant the dma-buf is valid while the lock is held.
        // `get_file_active()` takes a reference only if the count is not zero: the dma-buf core
        // releases a dma-buf from the dentry's `d_release`, after the file's count reached zero
        // and its inode was put, so a dying file must not be used.
        let f = unsafe { bindings::get_file_active(&raw mut (*d.0.as_ptr()).file) };
        if f.is_null() {
            return None;
        }
        // SAFETY: A reference to the dma-buf's file is a reference to the dma-buf, which the
        // `ARef` owns.
        Some(unsafe { ARef::from_raw(d.0.cast()) })
    }
}

/// Exports `data` as a new dma-buf (`dma_buf_export()`) with the ops of `ops`.
///
/// Returns the dma-buf (one reference) and a [`WeakDmaBuf`] of it for the exporter, which
/// needs to reach the dma-buf to invalidate and zap, but must not keep it alive. The dma-buf
/// holds `data` until [`Exporter::release`].
///
/// # Errors
///
/// `ENOMEM`, or what `dma_buf_export()` returns; `data` is then dropped.
pub fn export<T: Exporter>(
    ops: &'static Ops<T>,
    data: Arc<T>,
    info: ExportInfo,
) -> Result<(ARef<DmaBuf>, WeakDmaBuf)> {
    let weak = Arc::pin_init(
        new_spinlock!(None, "kernel::dma_buf::WeakDmaBuf"),
        GFP_KERNEL,
    )?;
    let priv_ = KBox::into_raw(KBox::new(
        Priv {
            data,
            weak: weak.clone(),
        },
        GFP_KERNEL,
    )?);
    let exp = bindings::dma_buf_export_info {
        exp_name: info.name.as_char_ptr(),
        owner: info.owner.0,
        ops: &ops.ops,
        size: info.size,
        flags: info.flags as c_int,
        resv: core::ptr::null_mut(),
        priv_: priv_.cast(),
    };
    // SAFETY: `exp` is fully initialised; the ops are static.
    let raw = from_err_ptr(unsafe { bindings::dma_buf_export(&exp) });
    let Some(raw) = raw.as_ref().ok().and_then(|p| NonNull::new(*p)) else {
        // SAFETY: The export failed, so the dma-buf did not take `priv_`.
        drop(unsafe { KBox::from_raw(priv_) });
        return Err(raw.err().unwrap_or(ENOMEM));
    };
    *weak.lock() = Some(RawDmaBuf(raw));
    // SAFETY: `dma_buf_export()` returned a dma-buf with one reference, which the `ARef` owns.
    let dmabuf = unsafe { ARef::from_raw(raw.cast()) };
    Ok((dmabuf, WeakDmaBuf(weak)))
}

struct VTable<T>(PhantomData<T>);

impl<T: Exporter> VTable<T> {
    const OPS: bindings::dma_buf_ops = bindings::dma_buf_ops {
        attach: Some(Self::attach),
        detach: Some(Self::detach),
        map_dma_buf: Some(Self::map_dma_buf),
        unmap_dma_buf: Some(Self::unmap_dma_buf),
        release: Some(Self::release),
        begin_cpu_access: if T::HAS_BEGIN_CPU_ACCESS {
            Some(Self::begin_cpu_access)
        } else {
            None
        },
        end_cpu_access: if T::HAS_END_CPU_ACCESS {
            Some(Self::end_cpu_access)
        } else {
            None
        },
        mmap: if T::HAS_MMAP { Some(Self::mmap) } else { None },
        match_mapping: Some(Self::match_mapping),
        ..pin_init::zeroed()
    };

    const DMA_VEC_OPS: bindings::dma_buf_dma_vec_ops = bindings::dma_buf_dma_vec_ops {
        map_dma_vec: Some(Self::map_dma_vec),
        unmap_dma_vec: Some(Self::unmap_dma_vec),
    };

    const VM_OPS: bindings::vm_operations_struct = bindings::vm_operations_struct {
        fault: Some(Self::fault),
        ..pin_init::zeroed()
    };

    /// # Safety
    ///
    /// `dmabuf` was exported with `OPS` and is not released (its file may be dying only in
    /// `release`).
    unsafe fn this<'a>(dmabuf: *mut bindings::dma_buf) -> ArcBorrow<'a, T> {
        // SAFETY: As the caller guarantees.
        unsafe { priv_of::<T>(dmabuf) }.data.as_arc_borrow()
    }

    /// # Safety
    ///
    /// Called by the dma-buf core with a dma-buf of ours and its new attachment.
    unsafe extern "C" fn attach(
        dmabuf: *mut bindings::dma_buf,
        attach: *mut bindings::dma_buf_attachment,
    ) -> c_int {
        from_result(|| {
            // SAFETY: The core calls with a live dma-buf of ours and a new attachment, valid
            // for this call, whose importer fields are set.
            let (this, new) = unsafe { (Self::this(dmabuf), NewAttachment::from_raw(attach)) };
            let data = KBox::new(AttachPriv::<T>::new(T::attach(this, new)?), GFP_KERNEL)?;
            // SAFETY: `attach` is valid; `detach` frees the box, and nothing reads `priv`
            // before attach returns (the core adds the attachment to the list after it).
            unsafe { (*attach).priv_ = KBox::into_raw(data).cast() };
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the dma-buf core once, for an attachment `attach` accepted, after it left the
    /// dma-buf's list.
    unsafe extern "C" fn detach(
        _dmabuf: *mut bindings::dma_buf,
        attach: *mut bindings::dma_buf_attachment,
    ) {
        // SAFETY: `priv` holds the box `attach` stored; the core detaches once. The importer
        // unmapped every mapping before (its contract), so the list of live mappings is empty.
        drop(unsafe { KBox::from_raw((*attach).priv_.cast::<AttachPriv<T>>()) });
    }

    /// Maps for an attachment, the one map of both mapping types, and hands the mapping to
    /// `f`, with the lock still held (a mapping `f` drops is dropped with the lock held).
    ///
    /// # Safety
    ///
    /// `attach` is an attachment of a live dma-buf of ours whose reservation lock the caller
    /// holds, accepted by `attach`.
    unsafe fn do_map<R>(
        attach: *mut bindings::dma_buf_attachment,
        dir: bindings::dma_data_direction,
        f: impl FnOnce(T::Mapping<'static>, &ExporterAttachment<T>) -> Result<R>,
    ) -> Result<R> {
        let dir = data_direction(dir).ok_or(EINVAL)?;
        // SAFETY: As the caller guarantees: a live attachment of a live dma-buf of ours.
        let (this, a, dmabuf) = unsafe {
            (
                Self::this((*attach).dmabuf),
                ExporterAttachment::<T>::from_raw(attach),
                DmaBuf::from_raw((*attach).dmabuf),
            )
        };
        // SAFETY: The caller holds the lock for the duration of the callback, which the guard,
        // local to this function, does not outlive.
        let guard = unsafe { ResvGuard::assume_locked(dmabuf.resv()) };
        // `T::map` takes any lifetime: what it keeps of the device, it keeps in the mapping,
        // which the abstraction drops at unmap, before the importer detaches.
        f(T::map(this, a, a.dma_device(), dir, &guard)?, a)
    }

    /// # Safety
    ///
    /// Called by the dma-buf core with the reservation lock held, for an attachment of a live
    /// dma-buf of ours of the sg_table type.
    unsafe extern "C" fn map_dma_buf(
        attach: *mut bindings::dma_buf_attachment,
        dir: bindings::dma_data_direction,
    ) -> *mut bindings::sg_table {
        let link = |m, a: &ExporterAttachment<T>| {
            let b = SgtMapping::new(MapNode::new(m))?;
            // SAFETY: The lock is held (`do_map`'s caller holds it); the node is in the box,
            // which stays where it is until `unmap_dma_buf` unlinks it, with the lock held.
            unsafe { a.link(b.map()) };
            Ok(b)
        };
        // SAFETY: The core's guarantees are `do_map`'s.
        match unsafe { Self::do_map(attach, dir, link) } {
            Ok(b) => SgtMapping::into_raw(b),
            Err(e) => e.to_ptr(),
        }
    }

    /// # Safety
    ///
    /// Called by the dma-buf core with the reservation lock held and a table `map_dma_buf`
    /// returned for this attachment.
    unsafe extern "C" fn unmap_dma_buf(
        attach: *mut bindings::dma_buf_attachment,
        sgt: *mut bindings::sg_table,
        _dir: bindings::dma_data_direction,
    ) {
        // SAFETY: The core calls with the lock held.
        unsafe { bindings::dma_resv_assert_held((*(*attach).dmabuf).resv) };
        // SAFETY: `sgt` came from `map_dma_buf`; the core unmaps it once. It drops (table,
        // then mapping) with the lock held.
        let b = unsafe { SgtMapping::<MapNode<T::Mapping<'static>>>::from_raw(sgt) };
        // SAFETY: The lock is held; `map_dma_buf` linked the node into the list of `attach`,
        // which is not detached (the importer unmaps first).
        unsafe { ExporterAttachment::<T>::from_raw(attach).unlink(b.map()) };
        drop(b);
    }

    /// # Safety
    ///
    /// Called by the dma-buf core with the reservation lock held, for an attachment of a live
    /// dma-buf of ours of the DMA-vector type, and `map` to fill.
    unsafe extern "C" fn map_dma_vec(
        attach: *mut bindings::dma_buf_attachment,
        dir: bindings::dma_data_direction,
        map: *mut bindings::dma_buf_dma_vec,
    ) -> c_int {
        from_result(|| {
            // Boxed first: the entries may be inline in the mapping, which must stay where it
            // is until unmap. On failure the mapping drops, the lock still held.
            // SAFETY: The core's guarantees are `do_map`'s.
            let m = unsafe {
                Self::do_map(attach, dir, |m, _| {
                    Ok(KBox::into_raw(KBox::new(MapNode::new(m), GFP_KERNEL)?))
                })
            }?;
            // SAFETY: The lock is held (the core's guarantee); the node is in the box leaked
            // just above, which stays where it is until `unmap_dma_vec` unlinks and frees it;
            // `attach` is an accepted attachment, not detached while mapped.
            unsafe { ExporterAttachment::<T>::from_raw(attach).link(m) };
            // SAFETY: `m` is the leaked box, which only `unmap_dma_vec` frees. From here on it
            // is only read, through shared references, until then: the array it gives now is
            // the array it keeps (see `DmaVecMap`).
            let (e, addr) = unsafe { ((*m).entries(), (*m).addr()) };
            // SAFETY: `map` is the core's, valid for this call. `exp_priv` owns the mapping
            // until `unmap_dma_vec`; `vecs` points into it.
            unsafe {
                *map = bindings::dma_buf_dma_vec {
                    vecs: e.as_ptr().cast(),
                    nr: e.len(),
                    addr: addr as bindings::dma_buf_dma_vec_addr,
                    exp_priv: m.cast(),
                };
            }
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the dma-buf core with the reservation lock held and a mapping `map_dma_vec`
    /// filled for this attachment.
    unsafe extern "C" fn unmap_dma_vec(
        attach: *mut bindings::dma_buf_attachment,
        map: *mut bindings::dma_buf_dma_vec,
        _dir: bindings::dma_data_direction,
    ) {
        // SAFETY: The core calls with the lock held.
        unsafe { bindings::dma_resv_assert_held((*(*attach).dmabuf).resv) };
        // SAFETY: `map` is the core's, filled by `map_dma_vec`.
        let m = unsafe { (*map).exp_priv.cast::<MapNode<T::Mapping<'static>>>() };
        // SAFETY: The lock is held; `map_dma_vec` linked the node into the list of `attach`,
        // which is not detached (the importer unmaps first).
        unsafe { ExporterAttachment::<T>::from_raw(attach).unlink(m) };
        // SAFETY: `exp_priv` holds the box `map_dma_vec` leaked; the core unmaps once. It
        // drops with the lock held.
        drop(unsafe { KBox::from_raw(m) });
    }

    /// # Safety
    ///
    /// Called by the dma-buf core with the negotiation of a new attachment of ours.
    unsafe extern "C" fn match_mapping(args: *mut bindings::dma_buf_match_args) -> c_int {
        let exp = exporter_matches(&Self::DMA_VEC_OPS);
        // SAFETY: `args` is the core's, valid for this call; `exp` outlives the call and the
        // core copies the chosen entry. `DMA_VEC_OPS` is static.
        unsafe { bindings::dma_buf_match_mapping(args, exp.as_ptr(), exp.len()) }
    }

    /// # Safety
    ///
    /// Called by the dma-buf core once, when the last reference to a dma-buf of ours is gone.
    unsafe extern "C" fn release(dmabuf: *mut bindings::dma_buf) {
        // SAFETY: `priv` holds the box `export` stored; release is called once.
        let p = unsafe { KBox::from_raw((*dmabuf).priv_.cast::<Priv<T>>()) };
        // INVARIANT: The weak references stop reaching the dma-buf, which the core frees
        // after this returns.
        *p.weak.lock() = None;
        let Priv { data, weak } = KBox::into_inner(p);
        drop(weak);
        T::release(data);
    }

    /// Both CPU access callbacks: `f` is [`Exporter::begin_cpu_access`] or
    /// [`Exporter::end_cpu_access`].
    ///
    /// # Safety
    ///
    /// `dmabuf` is a live dma-buf of ours, its file alive for the call.
    unsafe fn cpu_access(
        dmabuf: *mut bindings::dma_buf,
        dir: bindings::dma_data_direction,
        f: fn(ArcBorrow<'_, T>, &DmaBuf, DataDirection) -> Result,
    ) -> c_int {
        from_result(|| {
            let dir = data_direction(dir).ok_or(EINVAL)?;
            // SAFETY: A live dma-buf of ours, its file alive for the call (the caller's
            // guarantee).
            let (this, d) = unsafe { (Self::this(dmabuf), DmaBuf::from_raw(dmabuf)) };
            f(this, d, dir).map(|()| 0)
        })
    }

    /// # Safety
    ///
    /// Called by the dma-buf core with a live dma-buf of ours.
    unsafe extern "C" fn begin_cpu_access(
        dmabuf: *mut bindings::dma_buf,
        dir: bindings::dma_data_direction,
    ) -> c_int {
        // SAFETY: As this function's own guarantee.
        unsafe { Self::cpu_access(dmabuf, dir, T::begin_cpu_access) }
    }

    /// # Safety
    ///
    /// Called by the dma-buf core with a live dma-buf of ours.
    unsafe extern "C" fn end_cpu_access(
        dmabuf: *mut bindings::dma_buf,
        dir: bindings::dma_data_direction,
    ) -> c_int {
        // SAFETY: As this function's own guarantee.
        unsafe { Self::cpu_access(dmabuf, dir, T::end_cpu_access) }
    }

    /// # Safety
    ///
    /// Called by the dma-buf core with a live dma-buf of ours and a new VMA of its file within
    /// its size.
    unsafe extern "C" fn mmap(
        dmabuf: *mut bindings::dma_buf,
        vma: *mut bindings::vm_area_struct,
    ) -> c_int {
        from_result(|| {
            // SAFETY: A live dma-buf of ours, its file alive for the call.
            let (this, d) = unsafe { (Self::this(dmabuf), DmaBuf::from_raw(dmabuf)) };
            let how = T::mmap(this, d)?;
            // SAFETY: `vma` is being set up by mmap; `VM_OPS` is static, and its fault handler
            // finds this dma-buf through the VMA's file, whose reference the VMA holds.
            to_result(unsafe {
                bindings::dma_buf_vma_set_pfnmap(vma, how.uncached, &Self::VM_OPS)
            })?;
            Ok(0)
        })
    }

    /// # Safety
    ///
    /// Called by the MM for a VMA that `mmap` set up, with the mmap lock held.
    unsafe extern "C" fn fault(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
        // SAFETY: `vmf` describes a fault in one of our VMAs; its file is the dma-buf's, whose
        // `private_data` is the dma-buf, alive while the VMA holds the file.
        let (vma, pgoff, addr, dmabuf) = unsafe {
            let a = &(*vmf).__bindgen_anon_1;
            (
                a.vma,
                a.pgoff,
                a.address,
                (*(*a.vma).vm_file).private_data.cast::<bindings::dma_buf>(),
            )
        };
        // INVARIANT: A VMA `mmap` set up, the faulting address in it, the mmap lock held.
        let f = PfnFault { vma, addr, pgoff };
        // SAFETY: A live dma-buf of ours (see above).
        T::fault(unsafe { Self::this(dmabuf) }, &f).0
    }
}
