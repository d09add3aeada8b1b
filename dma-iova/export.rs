// SPDX-License-Identifier: GPL-2.0

//! The exporter API: dma-bufs whose `dma_buf_ops` belong to dmavec.
//!
//! An exporter describes its buffer (physical ranges, the P2PDMA provider of MMIO, a name) and
//! gets a dma-buf ([`DmaBuf`]) plus a shared handle on the buffer ([`Buffer`]) through which it
//! revokes access when the memory goes away (device reset, remove, free) and restores it after.
//!
//! Every dmavec buffer has the same `dma_buf_ops`, so importers recognise one ([`is_dmavec`])
//! and map it to an array of [`DmaVec`] directly (see [`crate::import`]); the dma-buf core's
//! importers (`dma_buf_map_attachment()`) are served a DMA-only sg_table built from the same
//! [`Mapping`].
//!
//! # Policy
//!
//! - MMIO is only attached by importers that accept it: `peer2peer` (else `EPERM`).
//! - Every importer must be revocable, i.e. dynamic with an `invalidate_mappings` callback
//!   (`dma_buf_attach_revocable()`, else `EOPNOTSUPP`; there is no pinning, as in vfio-pci):
//!   every buffer can be revoked, and revocation waits for the importers to unmap, which only
//!   a revocable importer promises to do in bounded time.
//! - MMIO is only attached by importers that P2PDMA lets reach it (else `EPERM`).
//! - A revoked buffer refuses new attachments and maps with `ENODEV`.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h).
//!
//! # Locking
//!
//! Map and unmap run with the dma-buf's reservation lock held (asserted); `revoked` is written
//! under it and under the buffer's state lock. [`Buffer::revoke`] takes the state lock, then
//! the reservation lock: the order is state lock → reservation lock, and nothing takes them the
//! other way round. Attach runs without the reservation lock (the dma-buf core calls it so), so
//! it decides under the state lock: the P2PDMA provider is only touched by an attach that saw
//! the buffer not revoked under that lock, and once [`Buffer::revoke`] returns, no attach is
//! still using it.

use crate::{
    map::{DmaBackend, KernelDma, MapType, Mapping, P2pType, Provider},
    range::{DmaVec, PhysVec, Ranges, SegLimits},
    shim,
};
use core::{
    cell::{Cell, UnsafeCell},
    ffi::c_void,
    fmt,
    ptr::NonNull,
};
use kernel::{
    bindings,
    device::Device,
    dma::DataDirection,
    error::{from_err_ptr, from_result, to_result},
    ffi::{c_int, c_uint, c_ulong},
    list::{AtomicTracker, List, ListArc, ListLinks, TryNewListArc},
    new_condvar, new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        global_lock, Arc, CondVar, Mutex,
    },
    ThisModule,
};

/// Callbacks of an exporter.
pub trait ExporterOps: Send + Sync + 'static {
    /// The dma-buf was released: no importer and no file can reach the memory any more, and
    /// the exporter may reuse it.
    fn release(&self, _buf: &Buffer) {}

    /// Returns the exporter's private data if `key` names this exporter, `None` otherwise (the
    /// default): how a C exporter recognises its own dma-bufs (`dmavec_export_priv()`).
    fn private_for(&self, _key: usize) -> Option<*mut c_void> {
        None
    }
}

/// The exporter's mutable view of its dma-buf.
struct State {
    /// The dma-buf, until it is released.
    dmabuf: Option<NonNull<bindings::dma_buf>>,
}

// SAFETY: The pointer is only dereferenced under the state lock, while the dma-buf is alive.
unsafe impl Send for State {}

/// An exported buffer, shared by its dma-buf and its exporter.
#[pin_data]
pub struct Buffer {
    ranges: Ranges,
    /// Buffer offset at which each range starts, for the fault handler's binary search.
    offsets: KVec<usize>,
    provider: Option<Provider>,
    size: usize,
    name: &'static CStr,
    /// Whether the dma-buf may be mapped into user space ([`ExportInfo::mmap`]).
    mmap: bool,
    ops: KBox<dyn ExporterOps>,
    /// Written with the reservation lock held; read by attach (advisory) and map (locked).
    revoked: Atomic<bool>,
    #[pin]
    state: Mutex<State>,
    /// Mappings alive, across all attachments.
    #[pin]
    live: Mutex<usize>,
    #[pin]
    unmapped: CondVar,
    /// Links of the registry ([`BUFFERS`]); no other list uses them.
    #[pin]
    links: ListLinks,
    #[pin]
    links_track: AtomicTracker,
}

kernel::list::impl_list_arc_safe! {
    impl ListArcSafe<0> for Buffer {
        tracked_by links_track: AtomicTracker;
    }
}
kernel::list::impl_list_item! {
    impl ListItem<0> for Buffer {
        using ListLinks { self.links };
    }
}

global_lock! {
    // SAFETY: Initialized in module init, before any buffer is exported.
    //
    // Every exported buffer until its release, for debugfs. An intrusive list: registering a
    // buffer allocates nothing, so nothing can fail once its dma-buf exists.
    unsafe(uninit) static BUFFERS: Mutex<List<Buffer>> = List::new();
}

/// Initializes the buffer registry. Called once, from module init.
pub(crate) fn init_registry() {
    // SAFETY: Called once, in module init, before anything else uses `BUFFERS`.
    unsafe { BUFFERS.init() };
}

/// Frees the registry's array at module exit: a static is never dropped.
pub(crate) fn exit_registry() {
    // Every buffer holds a reference on its exporter module, which holds one on dmavec:
    // the list is empty here.
    let mut list = BUFFERS.lock();
    while list.pop_front().is_some() {}
}

/// What [`export`] needs to know.
pub struct ExportInfo {
    /// The buffer's physical ranges, in buffer order (see
    /// [`check_phys_ranges`](crate::range::check_phys_ranges)).
    pub ranges: KVec<PhysVec>,
    /// The P2PDMA provider of MMIO ranges; `None` for system memory.
    pub provider: Option<Provider>,
    /// The exporter's name, as `/sys/kernel/debug/dma_buf/bufinfo` shows it.
    pub name: &'static CStr,
    /// The exporter's module: it stays loaded while the dma-buf exists.
    pub owner: ModuleOwner,
    /// File flags of the dma-buf (`O_RDWR`, `O_ACCMODE` bits).
    pub flags: u32,
    /// Whether user space may `mmap()` the dma-buf; if not, that fails with `EINVAL`, as for
    /// a dma-buf whose ops have no `mmap` (vfio-pci's BARs are mapped through its device file).
    pub mmap: bool,
}

/// The module that owns a dma-buf's code (`dma_buf_export_info.owner`).
#[derive(Clone, Copy)]
pub struct ModuleOwner(*mut bindings::module);

impl From<&'static ThisModule> for ModuleOwner {
    fn from(m: &'static ThisModule) -> Self {
        Self(m.as_ptr())
    }
}

impl ModuleOwner {
    /// A C module pointer.
    ///
    /// # Safety
    ///
    /// `m` is `THIS_MODULE` of the module whose code and data the exported buffer uses.
    pub unsafe fn from_raw(m: *mut bindings::module) -> Self {
        Self(m)
    }
}

/// A reference to a dma-buf (its file).
pub struct DmaBuf(NonNull<bindings::dma_buf>);

// SAFETY: A dma-buf reference may be used and dropped from any thread.
unsafe impl Send for DmaBuf {}
// SAFETY: See `Send`.
unsafe impl Sync for DmaBuf {}

impl DmaBuf {
    /// Takes a reference to the dma-buf of file descriptor `fd` (`dma_buf_get()`).
    ///
    /// # Errors
    ///
    /// `EBADF` for a bad descriptor, `EINVAL` if it is not a dma-buf.
    pub fn from_fd(fd: i32) -> Result<Self> {
        // SAFETY: `dma_buf_get` accepts any integer.
        let p = from_err_ptr(unsafe { bindings::dma_buf_get(fd) })?;
        NonNull::new(p).map(Self).ok_or(EINVAL)
    }

    /// Wraps a reference the caller owns.
    ///
    /// # Safety
    ///
    /// `ptr` is a valid dma-buf and the caller transfers one reference to the returned value.
    pub unsafe fn from_raw(ptr: NonNull<bindings::dma_buf>) -> Self {
        Self(ptr)
    }

    /// The raw dma-buf.
    pub fn as_raw(&self) -> *mut bindings::dma_buf {
        self.0.as_ptr()
    }

    /// Size in bytes.
    pub fn size(&self) -> usize {
        // SAFETY: `self` holds a reference, so the dma-buf is valid.
        unsafe { (*self.as_raw()).size }
    }

    /// Installs the dma-buf in a new file descriptor, which takes over this reference.
    ///
    /// # Errors
    ///
    /// `EMFILE` and the like; the reference is then dropped.
    pub fn into_fd(self, flags: u32) -> Result<u32> {
        // SAFETY: `self` holds a reference; on success it moves to the file descriptor table.
        let fd = unsafe { bindings::dma_buf_fd(self.as_raw(), flags as c_int) };
        if fd < 0 {
            return Err(Error::from_errno(fd));
        }
        core::mem::forget(self);
        Ok(fd as u32)
    }
}

impl DmaBuf {
    /// Installs the dma-buf in a new file descriptor, as [`DmaBuf::into_fd`], but only after
    /// `before_install` succeeded with the reserved descriptor number (typically: copying it
    /// to user space). On failure nothing was installed and the reference is dropped.
    pub fn into_fd_with(
        self,
        flags: u32,
        before_install: impl FnOnce(u32) -> Result,
    ) -> Result<u32> {
        let res = kernel::fs::file::FileDescriptorReservation::get_unused_fd_flags(flags)?;
        let fd = res.reserved_fd();
        before_install(fd)?;
        // SAFETY: `self` holds a reference, so the dma-buf's file is valid; the `ARef` takes
        // a reference of its own for the descriptor table.
        let file: ARef<kernel::fs::File> =
            unsafe { kernel::fs::File::from_raw_file((*self.as_raw()).file) }.into();
        res.fd_install(file);
        Ok(fd)
    }
}

impl Clone for DmaBuf {
    fn clone(&self) -> Self {
        // SAFETY: `self` holds a reference, so the file is alive and may take another.
        unsafe { shim::dmavec_shim_get_dma_buf(self.as_raw()) };
        Self(self.0)
    }
}

impl Drop for DmaBuf {
    fn drop(&mut self) {
        // SAFETY: `self` owns one reference.
        unsafe { bindings::dma_buf_put(self.as_raw()) };
    }
}

/// Whether `dmabuf` was exported by dmavec.
pub fn is_dmavec(dmabuf: &DmaBuf) -> bool {
    // SAFETY: `dmabuf` holds a reference.
    core::ptr::eq(unsafe { (*dmabuf.as_raw()).ops }, &DMAVEC_OPS)
}

/// Exports a buffer.
///
/// Returns the dma-buf (one reference, to be installed with [`DmaBuf::into_fd`] or dropped)
/// and the exporter's handle on the buffer.
///
/// `ops` is boxed by the caller so that this function is not generic: its locks are then
/// initialised in this crate only, with one lockdep class name (a generic function would be
/// instantiated in every calling crate, each with its own copy of the names).
///
/// # Errors
///
/// `EINVAL`/`EOVERFLOW` for ranges [`check_phys_ranges`](crate::range::check_phys_ranges)
/// refuses, `ENOMEM`, or what `dma_buf_export()` returns.
///
/// # Examples
///
/// ```ignore
/// struct MyExport; // What the dma-buf keeps alive until it is released.
/// impl ExporterOps for MyExport {}
///
/// let (buf, dmabuf) = dmavec::export(
///     ExportInfo {
///         ranges,                  // KVec<PhysVec> of the device's BAR
///         provider: Some(provider), // its P2PDMA provider
///         name: c"my_driver",
///         owner: kernel::module::this_module::<LocalModule>().into(),
///         flags: bindings::O_RDWR,
///         mmap: true,
///     },
///     KBox::new(MyExport, GFP_KERNEL)?,
/// )?;
/// let fd = dmabuf.into_fd(bindings::O_CLOEXEC)?;
/// // Later, before the BAR goes away: no importer can reach it once this returns.
/// buf.revoke();
/// ```
pub fn export(info: ExportInfo, ops: KBox<dyn ExporterOps>) -> Result<(Arc<Buffer>, DmaBuf)> {
    let ranges = Ranges::new(info.ranges)?;
    let size = ranges.size();
    let mut offsets = KVec::with_capacity(ranges.len(), GFP_KERNEL)?;
    let mut off = 0usize;
    for r in ranges.iter() {
        offsets.push(off, GFP_KERNEL)?;
        off += r.len();
    }
    let buf = Arc::pin_init(
        try_pin_init!(Buffer {
            ranges,
            offsets,
            provider: info.provider,
            size,
            name: info.name,
            mmap: info.mmap,
            ops,
            revoked: Atomic::new(false),
            state <- new_mutex!(State { dmabuf: None }, "dmavec::Buffer::state"),
            live <- new_mutex!(0, "dmavec::Buffer::live"),
            unmapped <- new_condvar!("dmavec::Buffer::unmapped"),
            links <- ListLinks::new(),
            links_track <- AtomicTracker::new(),
        }),
        GFP_KERNEL,
    )?;
    // The registry's reference; a new buffer is in no list, so this cannot fail. It is the
    // last fallible step: once the dma-buf exists, nothing below can fail.
    let registered = ListArc::try_from_arc(buf.clone()).map_err(|_| EINVAL)?;
    let priv_ = Arc::into_raw(buf.clone());
    let exp = bindings::dma_buf_export_info {
        exp_name: info.name.as_char_ptr(),
        owner: info.owner.0,
        ops: &DMAVEC_OPS,
        size,
        flags: info.flags as c_int,
        resv: core::ptr::null_mut(),
        priv_: priv_.cast_mut().cast(),
    };
    // SAFETY: `exp` is fully initialized; `DMAVEC_OPS` is static.
    let raw = from_err_ptr(unsafe { bindings::dma_buf_export(&exp) });
    let Some(raw) = raw.ok().and_then(NonNull::new) else {
        // SAFETY: The export failed, so the dma-buf did not take the reference.
        drop(unsafe { Arc::from_raw(priv_) });
        return Err(raw.err().unwrap_or(ENOMEM));
    };
    // The dma-buf owns `priv_` now and its release callback drops it: nothing below may fail,
    // or an exporter's `release` would run while this function reports an error.
    let dmabuf = DmaBuf(raw);
    buf.state.lock().dmabuf = Some(dmabuf.0);
    BUFFERS.lock().push_back(registered);
    Ok((buf, dmabuf))
}

/// Converts a `dma_buf_attachment` exporter-private pointer to its [`AttachState`].
///
/// # Safety
///
/// `attach` is an attachment of a dmavec buffer, between our `attach` and `detach` callbacks.
unsafe fn attach_state<'a>(attach: *mut bindings::dma_buf_attachment) -> &'a AttachState {
    // SAFETY: Our attach callback stored a `KBox<AttachState>` in `priv`; detach frees it.
    unsafe { &*(*attach).priv_.cast::<AttachState>() }
}

/// Calls `f(peer2peer, state)` for every attachment of a dmavec dma-buf.
///
/// # Safety
///
/// `dmabuf` is a live dmavec dma-buf and its reservation lock is held: the dma-buf core holds
/// it to change the attachment list, and every attachment on it was accepted by our attach.
unsafe fn for_each_attachment(
    dmabuf: *mut bindings::dma_buf,
    mut f: impl FnMut(bool, &AttachState),
) {
    // SAFETY: As the caller guarantees: the list is stable and its nodes are attachments of
    // ours, between our attach and detach callbacks.
    unsafe {
        let head = core::ptr::addr_of_mut!((*dmabuf).attachments);
        let mut node = (*head).next;
        while node != head {
            let a = kernel::container_of!(node, bindings::dma_buf_attachment, node);
            f((*a).peer2peer, attach_state(a));
            node = (*node).next;
        }
    }
}

/// The buffer behind a dmavec dma-buf.
///
/// # Safety
///
/// `dmabuf` was exported by [`export`] and is not yet released.
pub(crate) unsafe fn buffer_of<'a>(dmabuf: *mut bindings::dma_buf) -> &'a Buffer {
    // SAFETY: `export` stored an `Arc<Buffer>` reference in `priv`, dropped only in release.
    unsafe { &*(*dmabuf).priv_.cast::<Buffer>() }
}

/// The `dma_map_phys()` runs of one live mapping of system memory, for the CPU access hooks.
struct CpuSync {
    id: u64,
    dir: DataDirection,
    runs: KVec<DmaVec>,
}

/// Per-attachment state of the exporter, reported in debugfs.
pub(crate) struct AttachState {
    /// The importing device.
    pub(crate) dev: ARef<Device>,
    /// How it reaches the buffer's MMIO, decided at attach (`None` for system memory).
    pub(crate) p2p: Option<P2pType>,
    /// The live mappings of system memory that need CPU syncs (those made with
    /// `dma_map_phys()`), by mapping id. Only touched with the reservation lock held.
    cpu_sync: UnsafeCell<KVec<CpuSync>>,
    /// The id of the next such mapping; under the reservation lock too.
    next_id: Cell<u64>,
    /// Mappings of this attachment alive.
    pub(crate) live: Atomic<u32>,
    /// Of the latest mapping: its path (`MapType` as u32, `u32::MAX` for none), entries, bytes.
    pub(crate) map_type: Atomic<u32>,
    pub(crate) entries: Atomic<u64>,
    pub(crate) bytes: Atomic<u64>,
}

// SAFETY: `cpu_sync` and `next_id` are only accessed with the dma-buf's reservation lock held,
// which serialises every thread; the other fields are `Send + Sync`.
unsafe impl Send for AttachState {}
// SAFETY: See `Send`.
unsafe impl Sync for AttachState {}

impl AttachState {
    /// Records the runs of a new mapping for CPU syncs; returns its id. `None` when it needs
    /// none.
    ///
    /// # Safety
    ///
    /// The reservation lock of the attachment's dma-buf is held.
    unsafe fn add_cpu_sync(&self, m: &Mapping) -> Result<Option<u64>> {
        let runs = m.mapped_runs();
        if runs.is_empty() {
            return Ok(None);
        }
        let mut copy = KVec::with_capacity(runs.len(), GFP_KERNEL)?;
        copy.extend_from_slice(runs, GFP_KERNEL)?;
        let id = self.next_id.get();
        // SAFETY: The caller holds the reservation lock, which serialises all access.
        let list = unsafe { &mut *self.cpu_sync.get() };
        list.push(
            CpuSync {
                id,
                dir: m.dir(),
                runs: copy,
            },
            GFP_KERNEL,
        )?;
        self.next_id.set(id.wrapping_add(1));
        Ok(Some(id))
    }

    /// Forgets the runs of mapping `id`.
    ///
    /// # Safety
    ///
    /// The reservation lock of the attachment's dma-buf is held.
    unsafe fn remove_cpu_sync(&self, id: u64) {
        // SAFETY: The caller holds the reservation lock.
        let list = unsafe { &mut *self.cpu_sync.get() };
        list.retain(|s| s.id != id);
    }

    /// Syncs every recorded mapping for the CPU (`for_cpu`) or back for the device.
    ///
    /// # Safety
    ///
    /// The reservation lock of the attachment's dma-buf is held.
    unsafe fn sync(&self, for_cpu: bool) {
        // SAFETY: The attachment holds a reference to its device.
        let dma = unsafe { KernelDma::new_unreferenced(&self.dev) };
        // SAFETY: The caller holds the reservation lock.
        let list = unsafe { &*self.cpu_sync.get() };
        for s in list.iter() {
            for r in s.runs.iter() {
                dma.sync_phys(r.addr, r.len, s.dir, for_cpu);
            }
            crate::stats::STATS
                .cpu_syncs
                .add(s.runs.len() as u64, Relaxed);
        }
    }
}

impl Buffer {
    /// Size in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The buffer's physical ranges.
    pub fn ranges(&self) -> &[PhysVec] {
        &self.ranges
    }

    /// Whether the buffer is MMIO (has a P2PDMA provider).
    pub fn is_mmio(&self) -> bool {
        self.provider.is_some()
    }

    /// Whether the buffer is revoked.
    pub fn is_revoked(&self) -> bool {
        self.revoked.load(Relaxed)
    }

    /// The exporter's callbacks.
    pub(crate) fn exporter_ops(&self) -> &dyn ExporterOps {
        &*self.ops
    }

    /// Revokes access: invalidates every importer's mapping, refuses new attachments and
    /// maps with `ENODEV`, zaps CPU mappings of the dma-buf, waits for the fences of its
    /// reservation object, and waits until every mapping is gone. After it returns no importer
    /// can reach the memory, and no attach is still using the provider: the exporter may free it
    /// if it never restores. The wait is bounded because every importer is revocable.
    pub fn revoke(&self) {
        self.set_revoked(true);
    }

    /// Restores access after [`Buffer::revoke`]: the next map succeeds again.
    pub fn restore(&self) {
        self.set_revoked(false);
    }

    fn set_revoked(&self, revoked: bool) {
        let state = self.state.lock();
        let Some(d) = state.dmabuf else {
            // Released: nothing can be mapped any more.
            self.revoked.store(revoked, Relaxed);
            return;
        };
        // SAFETY: The dma-buf is alive while `state` is locked (release takes the lock).
        let resv = unsafe { (*d.as_ptr()).resv };
        // SAFETY: `resv` is the dma-buf's reservation object; no acquire context.
        unsafe { bindings::dma_resv_lock(resv, core::ptr::null_mut()) };
        let was = self.revoked.load(Relaxed);
        self.revoked.store(revoked, Relaxed);
        if revoked && !was {
            crate::stats::STATS.revocations.add(1, Relaxed);
            // SAFETY: The reservation lock is held, as required.
            unsafe { bindings::dma_buf_invalidate_mappings(d.as_ptr()) };
            // CPU mappings too: faults take the state lock we hold, and see `revoked`.
            // SAFETY: The dma-buf and its file are alive.
            unsafe { shim::dmavec_shim_zap(d.as_ptr()) };
            // SAFETY: `resv` is the live dma-buf's reservation object, which may be waited on
            // with its lock held: wait for the fences of DMA the importers still have queued.
            unsafe {
                bindings::dma_resv_wait_timeout(
                    resv,
                    bindings::dma_resv_usage_DMA_RESV_USAGE_BOOKKEEP,
                    false,
                    c_ulong::MAX >> 1,
                )
            };
        }
        // SAFETY: Locked above.
        unsafe { bindings::dma_resv_unlock(resv) };
        drop(state);
        if revoked {
            // Importers unmap from their invalidate callback or soon after it.
            let mut live = self.live.lock();
            while *live > 0 {
                self.unmapped.wait(&mut live);
            }
        }
    }

    /// Maps the buffer for `attach`'s device: the one map path of both importer faces.
    ///
    /// # Safety
    ///
    /// `attach` is an attachment of this buffer's dma-buf, and the reservation lock is held.
    pub(crate) unsafe fn map_attachment(
        &self,
        attach: *mut bindings::dma_buf_attachment,
        dir: DataDirection,
        limits: Option<SegLimits>,
    ) -> Result<LiveMapping<'_>> {
        // SAFETY: The caller guarantees `attach` is valid and ours.
        unsafe { shim::dmavec_shim_dma_resv_assert_held((*(*attach).dmabuf).resv) };
        if self.is_revoked() {
            return Err(ENODEV);
        }
        // SAFETY: The caller guarantees `attach` is an attachment of this buffer's dma-buf,
        // which is what `attach_state` needs.
        let st = unsafe { attach_state(attach) };
        // SAFETY: The attachment state holds a reference to the device until detach, and its
        // mappings are gone by then (`LiveCount` borrows the state too).
        let dma = unsafe { KernelDma::new_unreferenced(&st.dev) }.with_limits(limits);
        let route = match (self.provider.as_ref(), st.p2p) {
            (Some(p), Some(t)) => Some((p, t)),
            _ => None,
        };
        let m = Mapping::map_checked(dma, &self.ranges, route, dir)?;
        // SAFETY: The caller holds the reservation lock. On error `m` unmaps as it drops.
        let sync_id = unsafe { st.add_cpu_sync(&m) }?;
        *self.live.lock() += 1;
        st.live.add(1, Relaxed);
        crate::stats::STATS.maps.add(1, Relaxed);
        st.map_type.store(m.map_type() as u32, Relaxed);
        st.entries.store(m.entries().len() as u64, Relaxed);
        st.bytes.store(m.size() as u64, Relaxed);
        Ok(LiveMapping {
            mapping: m,
            _count: LiveCount {
                buf: self,
                attach: st,
                sync_id,
            },
        })
    }
}

/// A mapping of a dmavec buffer, counted until dropped so that revocation can wait for it.
///
/// Fields drop in declaration order: the mapping is torn down before the count drops, since
/// a revoker may hand the memory out again once the count reaches zero.
pub(crate) struct LiveMapping<'a> {
    mapping: Mapping,
    _count: LiveCount<'a>,
}

/// One live mapping of `buf` through `attach`; dropped with the reservation lock held, as every
/// unmap is.
struct LiveCount<'a> {
    buf: &'a Buffer,
    attach: &'a AttachState,
    /// Its record for the CPU access hooks, if it has one.
    sync_id: Option<u64>,
}

impl LiveMapping<'_> {
    pub(crate) fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// Forgets the borrow: the owner guarantees the buffer and attachment outlive it.
    pub(crate) fn into_static(self) -> LiveMapping<'static> {
        // SAFETY: Only lifetimes change; callers keep the attachment (and thus the buffer,
        // which the attachment's dma-buf reference keeps alive) until this mapping is dropped.
        unsafe { core::mem::transmute(self) }
    }
}

impl Drop for LiveCount<'_> {
    fn drop(&mut self) {
        if let Some(id) = self.sync_id {
            // SAFETY: Mappings are dropped with the reservation lock held (see above).
            unsafe { self.attach.remove_cpu_sync(id) };
        }
        crate::stats::STATS.unmaps.add(1, Relaxed);
        self.attach.live.fetch_sub(1, Relaxed);
        let mut live = self.buf.live.lock();
        *live -= 1;
        if *live == 0 {
            self.buf.unmapped.notify_all();
        }
    }
}

impl fmt::Debug for Buffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state.lock();
        write!(
            f,
            "buffer {:p} exporter {} size {} {} ranges {}{}",
            self,
            self.name.to_str().unwrap_or("?"),
            self.size,
            if self.is_mmio() { "mmio" } else { "ram" },
            self.ranges.len(),
            if self.is_revoked() { " revoked" } else { "" },
        )?;
        for r in self.ranges.iter() {
            write!(f, " {:?}", r)?;
        }
        writeln!(f)?;
        let Some(d) = state.dmabuf else {
            return Ok(());
        };
        // SAFETY: Alive while `state` is locked.
        let resv = unsafe { (*d.as_ptr()).resv };
        // SAFETY: `resv` is the dma-buf's reservation object; no acquire context.
        unsafe { bindings::dma_resv_lock(resv, core::ptr::null_mut()) };
        // SAFETY: A live dmavec dma-buf, its reservation lock held.
        unsafe {
            for_each_attachment(d.as_ptr(), |peer2peer, st| {
                let t = st.map_type.load(Relaxed);
                let _ = writeln!(
                    f,
                    "  attachment {} p2p {} live {} type {} entries {} bytes {}",
                    st.dev.name().to_str().unwrap_or("?"),
                    peer2peer,
                    st.live.load(Relaxed),
                    MapType::from_u32(t).map_or("none", MapType::name),
                    st.entries.load(Relaxed),
                    st.bytes.load(Relaxed),
                );
            })
        };
        // SAFETY: Locked above.
        unsafe { bindings::dma_resv_unlock(resv) };
        Ok(())
    }
}

/// The debugfs `buffers` file: every dmavec buffer and its attachments.
pub(crate) struct Registry;

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A snapshot under the global lock; each buffer is then printed, taking its own locks
        // (the reservation lock among them), with the global lock released, so that an importer
        // holding a reservation lock never stalls every export and release.
        let mut snapshot: KVec<Arc<Buffer>> = KVec::new();
        {
            let list = BUFFERS.lock();
            for b in list.iter() {
                snapshot
                    .push(b.into(), GFP_KERNEL)
                    .map_err(|_| fmt::Error)?;
            }
        }
        for b in snapshot.iter() {
            write!(f, "{:?}", **b)?;
        }
        Ok(())
    }
}

// ---- dma_buf_ops ----

/// # Safety
///
/// The dma-buf core calls this with a live dmavec dma-buf and its new attachment.
unsafe extern "C" fn dmavec_attach(
    dmabuf: *mut bindings::dma_buf,
    attach: *mut bindings::dma_buf_attachment,
) -> c_int {
    from_result(|| {
        // SAFETY: The dma-buf core calls with a live dma-buf of ours and a new attachment.
        let buf = unsafe { buffer_of(dmabuf) };
        // SAFETY: `attach` is the new attachment the dma-buf core passes, valid for this call.
        let dev_ptr = unsafe { (*attach).dev };
        // SAFETY: The importing device is valid for the duration of the attachment.
        let dev = unsafe { Device::from_raw(dev_ptr) };
        // SAFETY: `attach` is valid.
        if buf.provider.is_some() && !unsafe { (*attach).peer2peer } {
            return Err(EPERM);
        }
        // SAFETY: `attach` is valid for this call, its importer ops already set by the core.
        if !unsafe { bindings::dma_buf_attach_revocable(attach) } {
            return Err(EOPNOTSUPP);
        }
        // The dma-buf core does not hold the reservation lock here: decide under the state
        // lock, which revocation takes too, so that the provider, whose memory the exporter may
        // free once it revoked the buffer for good, is only touched while the buffer is not
        // revoked.
        let state = buf.state.lock();
        if buf.is_revoked() {
            return Err(ENODEV);
        }
        #[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
        crate::test_hooks::attach_delay();
        let mut p2p = None;
        if let Some(p) = buf.provider.as_ref() {
            let t = KernelDma::new(dev).p2p_type(p);
            // A device that is not a PCI device has no P2PDMA route at all: it attaches, and
            // every map of MMIO for it fails with EPERM. Such an importer only uses what the
            // exporter hands it outside the mapping ops (iommufd's attachment to vfio-pci's
            // dma-buf, whose device is iommufd's own, through `dmavec_export_ranges()`).
            // SAFETY: `dev_ptr` is the attachment's valid device.
            let is_pci = !unsafe { shim::dmavec_shim_pci_dev(dev_ptr) }.is_null();
            if t == P2pType::NotSupported && is_pci {
                return Err(EPERM);
            }
            p2p = Some(t);
        }
        drop(state);
        let st = KBox::new(
            AttachState {
                dev: dev.into(),
                p2p,
                cpu_sync: UnsafeCell::new(KVec::new()),
                next_id: Cell::new(0),
                live: Atomic::new(0),
                map_type: Atomic::new(u32::MAX),
                entries: Atomic::new(0),
                bytes: Atomic::new(0),
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `attach` is valid; `detach` frees this box.
        unsafe { (*attach).priv_ = KBox::into_raw(st).cast() };
        Ok(0)
    })
}

/// # Safety
///
/// The dma-buf core calls this once, for an attachment `dmavec_attach` accepted.
unsafe extern "C" fn dmavec_detach(
    _dmabuf: *mut bindings::dma_buf,
    attach: *mut bindings::dma_buf_attachment,
) {
    // SAFETY: `priv` holds the box `dmavec_attach` stored; the core calls detach once.
    drop(unsafe { KBox::from_raw((*attach).priv_.cast::<AttachState>()) });
}

/// The sg_table a dma-buf core importer gets, with the mapping behind it.
struct SgtMapping {
    sgt: bindings::sg_table,
    nents: c_uint,
    live: LiveMapping<'static>,
}

/// # Safety
///
/// The dma-buf core calls this with an attachment of a live dmavec dma-buf and its
/// reservation lock held.
unsafe extern "C" fn dmavec_map_dma_buf(
    attach: *mut bindings::dma_buf_attachment,
    dir: bindings::dma_data_direction,
) -> *mut bindings::sg_table {
    // SAFETY: The core calls with an attachment of a live dma-buf of ours, resv held.
    let buf = unsafe { buffer_of((*attach).dmabuf) };
    let Some(dir) = direction(dir) else {
        return EINVAL.to_ptr();
    };
    // SAFETY: `attach` is an attachment of `buf`'s dma-buf and the core holds its
    // reservation lock, as `map_attachment` requires.
    let live = match unsafe { buf.map_attachment(attach, dir, None) } {
        Ok(l) => l.into_static(),
        Err(e) => return e.to_ptr(),
    };
    let entries = live.mapping().entries();
    let Ok(nents) = c_uint::try_from(entries.len()) else {
        return EOVERFLOW.to_ptr();
    };
    let s = SgtMapping {
        // SAFETY: All-zero is a valid empty `sg_table`.
        sgt: unsafe { core::mem::zeroed() },
        nents,
        live,
    };
    let mut b = match KBox::new(s, GFP_KERNEL) {
        Ok(b) => b,
        Err(_) => return ENOMEM.to_ptr(),
    };
    let entries = b.live.mapping().entries().as_ptr();
    let nents = b.nents;
    // SAFETY: `b.sgt` is ours; `entries` holds `nents` elements laid out as `struct dma_vec`,
    // owned by the mapping in `b`, which the table does not outlive.
    let ret = unsafe {
        shim::dmavec_shim_sgt_fill(core::ptr::addr_of_mut!(b.sgt), entries.cast(), nents)
    };
    if ret != 0 {
        return Error::from_errno(ret).to_ptr();
    }
    let raw = KBox::into_raw(b);
    // SAFETY: `raw` is valid; unmap recovers the box with `container_of!`.
    unsafe { core::ptr::addr_of_mut!((*raw).sgt) }
}

/// # Safety
///
/// The dma-buf core calls this with the reservation lock held and a table `dmavec_map_dma_buf`
/// returned for this attachment.
unsafe extern "C" fn dmavec_unmap_dma_buf(
    attach: *mut bindings::dma_buf_attachment,
    sgt: *mut bindings::sg_table,
    _dir: bindings::dma_data_direction,
) {
    // SAFETY: The core calls with the resv held.
    unsafe { shim::dmavec_shim_dma_resv_assert_held((*(*attach).dmabuf).resv) };
    // SAFETY: `sgt` is the `sgt` field of an `SgtMapping` that `dmavec_map_dma_buf` leaked.
    let s = unsafe { KBox::from_raw(kernel::container_of!(sgt, SgtMapping, sgt)) };
    // SAFETY: The table was filled by `dmavec_shim_sgt_fill` with `s.nents` entries.
    unsafe { shim::dmavec_shim_sgt_free(sgt, s.nents) };
    drop(s);
}

/// # Safety
///
/// The dma-buf core calls this once, when the last reference to a dmavec dma-buf is gone.
unsafe extern "C" fn dmavec_release(dmabuf: *mut bindings::dma_buf) {
    // SAFETY: `priv` holds the reference `export` took; release is called once.
    let buf = unsafe { Arc::from_raw((*dmabuf).priv_.cast::<Buffer>()) };
    // SAFETY: `BUFFERS` is the only list a `Buffer` is ever inserted in.
    drop(unsafe { BUFFERS.lock().remove(&buf) });
    buf.state.lock().dmabuf = None;
    buf.ops.release(&buf);
}

impl Buffer {
    /// Syncs every live mapping of the buffer that needs it for the CPU (`for_cpu`) or back
    /// for the devices: the ownership hand-over of `DMA_BUF_IOCTL_SYNC` and of
    /// `dma_buf_{begin,end}_cpu_access()`.
    ///
    /// # Safety
    ///
    /// `dmabuf` is this buffer's live dma-buf.
    unsafe fn sync_cpu(&self, dmabuf: *mut bindings::dma_buf, for_cpu: bool) -> Result {
        // SAFETY: The caller guarantees a live dma-buf.
        let resv = unsafe { (*dmabuf).resv };
        // SAFETY: `resv` is the dma-buf's reservation object; no acquire context.
        to_result(unsafe { shim::dmavec_shim_dma_resv_lock_interruptible(resv) })?;
        // SAFETY: A live dmavec dma-buf, its reservation lock held (above); `sync` needs it.
        unsafe { for_each_attachment(dmabuf, |_, st| st.sync(for_cpu)) };
        // SAFETY: Locked above.
        unsafe { bindings::dma_resv_unlock(resv) };
        Ok(())
    }

    /// The physical page backing buffer offset `off`, for CPU mappings.
    fn pfn_at(&self, off: usize) -> Option<u64> {
        if off >= self.size {
            return None;
        }
        // The last range starting at or before `off`.
        let i = match self.offsets.binary_search(&off) {
            Ok(i) => i,
            Err(i) => i.checked_sub(1)?,
        };
        let r = self.ranges.get(i)?;
        Some((r.paddr() + (off - self.offsets[i]) as u64) >> bindings::PAGE_SHIFT)
    }

    /// Whether CPU mappings are possible: every range whole pages.
    fn mappable(&self) -> bool {
        let p = bindings::PAGE_SIZE as u64;
        self.ranges
            .iter()
            .all(|r| r.paddr() % p == 0 && r.len() as u64 % p == 0)
    }
}

/// The CPU access hooks: hands the buffer over to the CPU (`for_cpu`) or back to the devices.
///
/// # Safety
///
/// `dmabuf` is a live dmavec dma-buf.
unsafe fn cpu_access(dmabuf: *mut bindings::dma_buf, for_cpu: bool) -> c_int {
    // SAFETY: The caller guarantees `dmabuf` is a live dmavec dma-buf.
    let buf = unsafe { buffer_of(dmabuf) };
    if buf.is_mmio() {
        // Uncached, and never bounced: nothing to hand over.
        return 0;
    }
    // SAFETY: `dmabuf` is `buf`'s live dma-buf (the caller's guarantee).
    from_result(|| unsafe { buf.sync_cpu(dmabuf, for_cpu) }.map(|()| 0))
}

/// # Safety
///
/// The dma-buf core calls this with a live dmavec dma-buf.
unsafe extern "C" fn dmavec_begin_cpu_access(
    dmabuf: *mut bindings::dma_buf,
    _dir: bindings::dma_data_direction,
) -> c_int {
    // SAFETY: The dma-buf core calls this hook of dmavec's ops on a live dma-buf of ours.
    unsafe { cpu_access(dmabuf, true) }
}

/// # Safety
///
/// The dma-buf core calls this with a live dmavec dma-buf.
unsafe extern "C" fn dmavec_end_cpu_access(
    dmabuf: *mut bindings::dma_buf,
    _dir: bindings::dma_data_direction,
) -> c_int {
    // SAFETY: The dma-buf core calls this hook of dmavec's ops on a live dma-buf of ours.
    unsafe { cpu_access(dmabuf, false) }
}

/// # Safety
///
/// The dma-buf core calls this with a live dmavec dma-buf and a new VMA within its size.
unsafe extern "C" fn dmavec_mmap(
    dmabuf: *mut bindings::dma_buf,
    vma: *mut bindings::vm_area_struct,
) -> c_int {
    from_result(|| {
        // SAFETY: The dma-buf core calls `mmap` of dmavec's ops on a live dma-buf of ours.
        let buf = unsafe { buffer_of(dmabuf) };
        if !buf.mmap || !buf.mappable() {
            return Err(EINVAL);
        }
        if buf.is_revoked() {
            return Err(ENODEV);
        }
        // SAFETY: `vma` is being set up by mmap; `DMAVEC_VM_OPS` is static.
        to_result(unsafe { shim::dmavec_shim_mmap_prepare(vma, buf.is_mmio(), &DMAVEC_VM_OPS) })?;
        Ok(0)
    })
}

/// # Safety
///
/// The MM calls this for a VMA that `dmavec_mmap` set up: its file is a live dmavec dma-buf.
unsafe extern "C" fn dmavec_fault(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
    // SAFETY: `vmf` describes a fault in one of our VMAs; the VMA's file holds a reference to
    // the dma-buf, whose `private_data` is the dma-buf.
    let (vma, pgoff, addr, dmabuf) = unsafe {
        let a = &(*vmf).__bindgen_anon_1;
        (
            a.vma,
            a.pgoff,
            a.address,
            (*(*a.vma).vm_file).private_data.cast::<bindings::dma_buf>(),
        )
    };
    // SAFETY: See above.
    let buf = unsafe { buffer_of(dmabuf) };
    let sigbus = bindings::vm_fault_reason_VM_FAULT_SIGBUS as bindings::vm_fault_t;
    let Some(off) = pgoff.checked_mul(bindings::PAGE_SIZE) else {
        return sigbus;
    };
    // Serialised with revocation, which zaps the mappings under this lock.
    let _state = buf.state.lock();
    if buf.is_revoked() {
        return sigbus;
    }
    match buf.pfn_at(off) {
        // SAFETY: `vma` is a PFN-mapped VMA of ours and `addr` lies in it; the page belongs to
        // the buffer, which is not revoked.
        Some(pfn) => unsafe { bindings::vmf_insert_pfn(vma, addr, pfn as c_ulong) },
        None => sigbus,
    }
}

/// The VM operations of CPU mappings of dmavec buffers.
static DMAVEC_VM_OPS: bindings::vm_operations_struct = bindings::vm_operations_struct {
    fault: Some(dmavec_fault),
    ..pin_init::zeroed()
};

pub(crate) fn direction(d: bindings::dma_data_direction) -> Option<DataDirection> {
    Some(match d {
        bindings::dma_data_direction::DMA_BIDIRECTIONAL => DataDirection::Bidirectional,
        bindings::dma_data_direction::DMA_TO_DEVICE => DataDirection::ToDevice,
        bindings::dma_data_direction::DMA_FROM_DEVICE => DataDirection::FromDevice,
        _ => return None,
    })
}

/// The ops of every dmavec dma-buf.
pub(crate) fn ops() -> &'static bindings::dma_buf_ops {
    &DMAVEC_OPS
}

/// The dma-buf ops of every dmavec buffer: importers recognise dmavec buffers by them.
static DMAVEC_OPS: bindings::dma_buf_ops = bindings::dma_buf_ops {
    attach: Some(dmavec_attach),
    detach: Some(dmavec_detach),
    map_dma_buf: Some(dmavec_map_dma_buf),
    unmap_dma_buf: Some(dmavec_unmap_dma_buf),
    release: Some(dmavec_release),
    begin_cpu_access: Some(dmavec_begin_cpu_access),
    end_cpu_access: Some(dmavec_end_cpu_access),
    mmap: Some(dmavec_mmap),
    ..pin_init::zeroed()
};
