// SPDX-License-Identifier: GPL-2.0

//! The exporter API: dma-bufs whose `dma_buf_ops` belong to dmavec.
//!
//! An exporter describes its buffer (physical ranges, the P2PDMA provider of MMIO, a name) and
//! gets a dma-buf ([`DmaBuf`]) plus a shared handle on the buffer ([`Buffer`]) through which it
//! revokes access when the memory goes away (device reset, remove, free) and restores it after.
//!
//! A dmavec buffer offers two mapping types to the dma-buf core's negotiation at attach
//! (`struct dma_buf_mapping_type`): the DMA-vector type, whose importers
//! (`dma_buf_map_dma_vec()`, and [`crate::import`]) get the array of
//! [`DmaVec`](crate::range::DmaVec) of a [`Mapping`](crate::map::Mapping) as it is, and the
//! sg_table type, whose importers
//! (`dma_buf_map_attachment()`) get a DMA-only sg_table built from the same mapping.
//! [`is_dmavec`] tells the exporter-side C API its own buffers.
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
    map::{Provider, Unbind},
    range::{PhysVec, Ranges},
};
use core::ffi::c_void;
use kernel::dma_buf::{
    exporter::{self, WeakDmaBuf},
    ResvUsage,
};
use kernel::{
    list::{AtomicTracker, ListArc, ListLinks, TryNewListArc},
    new_condvar, new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc, ArcBorrow, CondVar, Mutex,
    },
};

mod attachment;
mod cpu;
mod dma_buf_ops;
mod registry;

pub use dma_buf_ops::is_dmavec;
use dma_buf_ops::OPS;
pub use exporter::Owner as ModuleOwner;
pub use kernel::dma_buf::{data_direction as direction, DmaBuf};
use registry::BUFFERS;
pub(crate) use registry::{exit_registry, Registry};

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
    /// The dma-buf, until it is released: a reference that does not keep it alive.
    dmabuf: Option<WeakDmaBuf>,
}

/// An exported buffer, shared by its dma-buf and its exporter.
#[pin_data]
pub struct Buffer {
    ranges: Ranges,
    /// Buffer offset at which each range starts, for the fault handler's binary search.
    offsets: KVec<usize>,
    provider: Option<Provider>,
    size: usize,
    name: &'static CStr,
    /// The exporter's module, whose code (`ops`' drop glue) and data (`name`) the buffer uses:
    /// the dma-buf holds a reference to it until its release returns, and whoever else may
    /// hold the last `Arc<Buffer>` after that (the registry's dump) holds one too.
    owner: ModuleOwner,
    /// Whether the dma-buf may be mapped into user space ([`ExportInfo::mmap`]).
    mmap: bool,
    ops: KBox<dyn ExporterOps>,
    /// Written with the reservation lock held; read by attach (advisory) and map (locked).
    revoked: Atomic<bool>,
    /// Revoked for good: the provider's device was unbound ([`revoke_unbound`]). Set under
    /// the registry's lock, before the revocation; read by restore, under the state lock.
    unbound: Atomic<bool>,
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

/// What [`export`] needs to know.
pub struct ExportInfo {
    /// The buffer's physical ranges, in buffer order, checked and vouched for: of a BAR of
    /// `provider` ([`Ranges::of_bar`]), or promised by the exporter ([`Ranges::new`]).
    pub ranges: Ranges,
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

/// Exports a buffer.
///
/// Returns the dma-buf (one reference; [`DmaBuf::install_fd`] installs another in a file
/// descriptor)
/// and the exporter's handle on the buffer.
///
/// `ops` is boxed by the caller so that this function is not generic: its locks are then
/// initialised in this crate only, with one lockdep class name (a generic function would be
/// instantiated in every calling crate, each with its own copy of the names).
///
/// # Errors
///
/// `ENODEV` when the provider's device is unbound, `EINVAL` for ranges of a BAR
/// ([`Ranges::of_bar`]) exported with another provider than theirs, `ENOMEM`, or what
/// `dma_buf_export()` returns.
///
/// # Examples
///
/// An exporter of a BAR, as `dmavec_bar` is; an exporter of system memory that owns its pages,
/// and an importer of it, are compiled and run as the KUnit suite `dmavec_examples`
/// (`selftests/modules/dmavec_test.rs`).
///
/// ```ignore
/// struct MyExport; // What the dma-buf keeps alive until it is released.
/// impl ExporterOps for MyExport {}
///
/// let (buf, dmabuf) = dmavec::export(
///     ExportInfo {
///         ranges: Ranges::of_bar(v, &provider)?, // a KVec<PhysVec> in the BAR
///         provider: Some(provider), // its P2PDMA provider
///         name: c"my_driver",
///         owner: kernel::module::this_module::<LocalModule>().into(),
///         flags: O_RDWR,
///         mmap: true,
///     },
///     KBox::new(MyExport, GFP_KERNEL)?,
/// )?;
/// let fd = dmabuf.install_fd(O_CLOEXEC)?;
/// // Later, before the BAR goes away: no importer can reach it once this returns.
/// buf.revoke();
/// ```
pub fn export(info: ExportInfo, ops: KBox<dyn ExporterOps>) -> Result<(Arc<Buffer>, ARef<DmaBuf>)> {
    if info.provider.as_ref().is_some_and(Provider::is_unbound) {
        return Err(ENODEV);
    }
    let ranges = info.ranges;
    // Ranges of a BAR are valid while the buffers of their provider are revoked at unbind.
    if let Some(bar) = ranges.bar_provider() {
        if !info.provider.as_ref().is_some_and(|p| p.is_of_same(bar)) {
            return Err(EINVAL);
        }
    }
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
            owner: info.owner,
            mmap: info.mmap,
            ops,
            revoked: Atomic::new(false),
            unbound: Atomic::new(false),
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
    let (dmabuf, weak) = exporter::export(
        &OPS,
        buf.clone(),
        exporter::ExportInfo {
            name: info.name,
            owner: info.owner,
            size,
            flags: info.flags,
        },
    )?;
    // The dma-buf owns a reference to `buf` now and its release drops it: nothing below may
    // fail, or an exporter's `release` would run while this function reports an error.
    buf.state.lock().dmabuf = Some(weak);
    let mut list = BUFFERS.lock();
    if buf.provider.as_ref().is_some_and(Provider::is_unbound) {
        // Unbound since the check above, and `revoke_unbound()` has walked the registry
        // already (it marks the provider under this lock first): born revoked for good. No
        // importer can have reached the dma-buf yet, so there is nothing to invalidate.
        buf.unbound.store(true, Relaxed);
        buf.revoked.store(true, Relaxed);
    }
    list.push_back(registered);
    drop(list);
    Ok((buf, dmabuf))
}

/// Revokes for good every buffer exported with the provider of `unbind`: its device is being
/// unbound, and the provider goes with it (see [`Provider::of_bar`]).
///
/// Buffers are revoked one at a time, each with the registry's lock released, since a
/// revocation waits for importers and one may release another buffer meanwhile.
pub(crate) fn revoke_unbound(unbind: &Unbind) {
    // Under the lock, against a registration in progress: from here on `export()` registers
    // no live buffer with this provider.
    {
        let _list = BUFFERS.lock();
        unbind.gone.store(true, Relaxed);
    }
    loop {
        let next: Option<Arc<Buffer>> = {
            let list = BUFFERS.lock();
            let found = list.iter().find(|b| {
                !b.unbound.load(Relaxed) && b.provider.as_ref().is_some_and(|p| p.is_of(unbind))
            });
            found.map(|b| {
                b.unbound.store(true, Relaxed);
                b.into()
            })
        };
        let Some(buf) = next else {
            return;
        };
        buf.revoke();
    }
}

/// The buffer behind a dmavec dma-buf; `None` for a dma-buf of another exporter.
pub(crate) fn buffer_of(dmabuf: &DmaBuf) -> Option<ArcBorrow<'_, Buffer>> {
    OPS.data_of(dmabuf)
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
    /// if it never restores.
    ///
    /// The waits hold no lock of the buffer's (faults, attaches and debugfs go on meanwhile)
    /// and have no timeout: every importer is revocable and promises to end its DMA and unmap
    /// soon after its invalidation, and returning before it did would let the exporter reuse
    /// memory an importer still reaches. A concurrent revocation waits as long.
    pub fn revoke(&self) {
        self.set_revoked(true);
    }

    /// Restores access after [`Buffer::revoke`]: the next map succeeds again. Does nothing for
    /// a buffer whose [`Provider::of_bar`] device was unbound: that revocation is for good.
    pub fn restore(&self) {
        self.set_revoked(false);
    }

    fn set_revoked(&self, revoked: bool) {
        let state = self.state.lock();
        if !revoked && self.unbound.load(Relaxed) {
            // The provider's device is gone: revoked for good.
            return;
        }
        // A reference to the dma-buf, if its file is not dying: the dma-buf core calls release
        // from the dentry's `d_release`, after the inode was put, and release waits for the
        // state lock held here, so the dma-buf may be one whose file is being torn down.
        let Some(dmabuf) = state.dmabuf.as_ref().and_then(WeakDmaBuf::upgrade) else {
            // Released, or its file is dying: nothing can attach, map or mmap it any more (each
            // importer and each VMA holds a reference to the file), so there is nothing to
            // invalidate, zap or wait for.
            self.revoked.store(revoked, Relaxed);
            return;
        };
        let resv = dmabuf.resv().lock();
        let was = self.revoked.load(Relaxed);
        self.revoked.store(revoked, Relaxed);
        if revoked && !was {
            crate::stats::STATS.revocations.add(1, Relaxed);
            dmabuf.invalidate_mappings(&resv);
            // CPU mappings too: faults take the state lock we hold, and see `revoked`.
            dmabuf.zap_cpu_mappings();
        }
        drop(resv);
        drop(state);
        if revoked {
            // The fences of DMA the importers still have queued, waited for with no lock held:
            // faults, attaches and debugfs take the state lock, and an importer the
            // reservation lock, and none of them waits for a slow importer's DMA. Nothing new
            // can be mapped meanwhile (the buffer is marked revoked). Every revocation waits,
            // not only the one that marked the buffer: none returns before the DMA is over.
            dmabuf.resv().wait(ResvUsage::Bookkeep);
        }
        // The last reference may be this one, when the dma-buf was closed meanwhile: `fput()`
        // then defers the release (task work or a worker), which takes the state lock.
        drop(dmabuf);
        if revoked {
            // Importers unmap from their invalidate callback or soon after it.
            let mut live = self.live.lock();
            while *live > 0 {
                self.unmapped.wait(&mut live);
            }
        }
    }
}

#[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
#[kunit_tests(dmavec_export)]
mod tests {
    use super::*;
    use crate::test_hooks::FakeProvider;
    use kernel::page::PAGE_SIZE;

    struct NoOps;
    impl ExporterOps for NoOps {}

    /// MMIO that is never mapped: a page of a fake BAR.
    const BAR: u64 = 0x1_0000_0000;

    fn export_with(provider: &Provider) -> Result<(Arc<Buffer>, ARef<DmaBuf>)> {
        let mut ranges = KVec::new();
        ranges.push(PhysVec::new(BAR, PAGE_SIZE), GFP_KERNEL)?;
        export(
            ExportInfo {
                // No importer attaches and `mmap` is off: nothing maps these.
                ranges: Ranges::of_bar(ranges, provider)?,
                provider: Some(provider.clone()),
                name: c"dmavec_export_test",
                owner: kernel::module::this_module::<crate::LocalModule>().into(),
                flags: kernel::dma_buf::O_RDWR,
                mmap: false,
            },
            KBox::new(NoOps, GFP_KERNEL)?,
        )
    }

    /// A provider of `raw` with a one-page fake BAR, unbound by hand.
    fn unbound_by_hand(raw: &FakeProvider) -> Result<(Provider, Arc<Unbind>)> {
        let (mut p, unbind) = raw.unbound_by_hand()?;
        p.bar = Some((BAR, BAR + PAGE_SIZE as u64 - 1));
        Ok((p, unbind))
    }

    /// What [`Provider::of_bar`]'s devres action does at unbind: the buffers of that provider,
    /// and only those, are revoked for good, and the provider exports nothing more.
    #[test]
    fn unbinding_a_provider_revokes_its_buffers_for_good() -> Result {
        // Nothing dereferences these providers: no importer attaches to or maps the buffers
        // below, and neither a buffer's release nor the registry's dump reads its provider.
        // Two of them, at distinct addresses.
        let (raw_gone, raw_kept) = (FakeProvider::new(0)?, FakeProvider::new(0)?);
        let (gone, unbind) = unbound_by_hand(&raw_gone)?;
        let (kept, _) = unbound_by_hand(&raw_kept)?;
        let (a, da) = export_with(&gone)?;
        let (b, db) = export_with(&kept)?;
        a.revoke();
        a.restore();
        assert!(!a.is_revoked());

        revoke_unbound(&unbind);
        assert!(a.is_revoked());
        assert!(!b.is_revoked());
        assert!(gone.is_unbound());
        assert!(!kept.is_unbound());
        // For good: neither a restore (after a reset, say) nor a new export brings it back.
        a.restore();
        assert!(a.is_revoked());
        assert_eq!(export_with(&gone).err(), Some(ENODEV));
        // The other provider's buffers come and go as before.
        b.revoke();
        b.restore();
        assert!(!b.is_revoked());
        // Twice (a second devres action for the same BAR) changes nothing.
        revoke_unbound(&unbind);
        assert!(a.is_revoked());
        drop((da, db));
        // The buffers, and their clones of the providers, go with their dma-bufs (released
        // above, or deferred to a work item that only drops them), before `raw_*`: the
        // providers are only compared by address meanwhile.
        drop((a, b, gone, kept));
        Ok(())
    }
}
