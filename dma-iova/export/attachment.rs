// SPDX-License-Identifier: GPL-2.0

//! The attachments of a dmavec buffer: their state, and the one map path of both importer
//! faces ([`Buffer::map_attachment`]), whose [`LiveMapping`]s revocation waits for.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h).

use super::Buffer;
use crate::{
    map::{KernelDma, Mapping, P2pType},
    range::{DmaVec, SegLimits},
    rust_kernel::dma_iova::DmaDevice,
    shim,
};
use core::cell::{Cell, UnsafeCell};
use kernel::{
    bindings,
    device::Device,
    dma::DataDirection,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
    },
};

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
pub(super) unsafe fn for_each_attachment(
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

/// The `dma_map_phys()` runs of one live mapping of system memory, for the CPU access hooks.
pub(super) struct CpuSync {
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
    pub(super) cpu_sync: UnsafeCell<KVec<CpuSync>>,
    /// The id of the next such mapping; under the reservation lock too.
    pub(super) next_id: Cell<u64>,
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
    pub(super) unsafe fn sync(&self, for_cpu: bool) {
        // SAFETY: The attachment holds a reference to its device, which the importer keeps
        // bound while it is attached.
        let dma = unsafe { DmaDevice::assume_bound(&self.dev) };
        // SAFETY: The caller holds the reservation lock.
        let list = unsafe { &*self.cpu_sync.get() };
        for s in list.iter() {
            for r in s.runs.iter() {
                // SAFETY: A run of a live mapping of this device with `s.dir`: it is removed
                // from the list, under the reservation lock, before the mapping is dropped.
                unsafe { dma.sync_single(*r, s.dir, for_cpu) };
            }
            crate::stats::STATS
                .cpu_syncs
                .add(s.runs.len() as u64, Relaxed);
        }
    }
}

impl Buffer {
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
        // mappings are gone by then (`LiveCount` borrows the state too); the importer keeps
        // its device bound while attached (the dma-buf importer's contract).
        let dev = unsafe { DmaDevice::assume_bound(&st.dev) };
        let dma = KernelDma::new(dev).with_limits(limits);
        let route = match (self.provider.as_ref(), st.p2p) {
            (Some(p), Some(t)) => Some((p, t)),
            _ => None,
        };
        let m = Mapping::map_exported(dma, &self.ranges, route, dir)?;
        // MMIO is never synced for the CPU (`begin_cpu_access` does nothing for it): only the
        // runs of system memory are recorded, which costs two allocations per map.
        let sync_id = if self.is_mmio() {
            None
        } else {
            // SAFETY: The caller holds the reservation lock. On error `m` unmaps as it drops.
            unsafe { st.add_cpu_sync(&m) }?
        };
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
