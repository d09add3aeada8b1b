// SPDX-License-Identifier: GPL-2.0

//! The attachments of a dmavec buffer: their state, and the one map path of both importer
//! faces ([`Buffer::map_attachment`]), whose [`LiveMapping`]s revocation waits for.
//!
//! A [`LiveMapping`] owns what it needs: a reference to the buffer and one to the state of
//! its attachment. The dma-buf core drops it at unmap, which an importer does before it
//! detaches, but nothing relies on that: whoever drops it last, the buffer and the state are
//! alive while it is.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h).

use super::Buffer;
use crate::{
    map::{KernelDma, MapType, Mapping, P2pType},
    range::{DmaVec, SegLimits},
    rust_kernel::{
        dma_buf::{mapping::DmaVecMap, DmaVecAddr, ResvGuard},
        dma_iova::DmaDevice,
    },
};
use kernel::{
    device::Device,
    dma::DataDirection,
    new_mutex,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
};

/// The `dma_map_phys()` runs of one live mapping of system memory, for the CPU access hooks.
struct CpuSync {
    id: u64,
    dir: DataDirection,
    runs: KVec<DmaVec>,
}

/// The live mappings of system memory of one attachment that need CPU syncs, and the id of
/// the next one.
struct CpuSyncs {
    list: KVec<CpuSync>,
    next_id: u64,
}

/// Per-attachment state of the exporter, reported in debugfs.
#[pin_data]
pub struct AttachState {
    /// The importing device.
    pub(crate) dev: ARef<Device>,
    /// How it reaches the buffer's MMIO, decided at attach (`None` for system memory).
    pub(crate) p2p: Option<P2pType>,
    /// The live mappings of system memory that need CPU syncs (those made with
    /// `dma_map_phys()`). Taken under the reservation lock (map, unmap, CPU access), so never
    /// contended; a lock of its own only because a mapping may be dropped anywhere.
    #[pin]
    cpu_sync: Mutex<CpuSyncs>,
    /// Mappings of this attachment alive.
    pub(crate) live: Atomic<u32>,
    /// Of the latest mapping: its path (`MapType` as u32, `u32::MAX` for none), entries, bytes.
    pub(crate) map_type: Atomic<u32>,
    pub(crate) entries: Atomic<u64>,
    pub(crate) bytes: Atomic<u64>,
}

impl AttachState {
    pub(super) fn new(dev: &Device, p2p: Option<P2pType>) -> Result<Arc<Self>> {
        Arc::pin_init(
            try_pin_init!(Self {
                dev: dev.into(),
                p2p,
                cpu_sync <- new_mutex!(
                    CpuSyncs {
                        list: KVec::new(),
                        next_id: 0,
                    },
                    "dmavec::AttachState::cpu_sync"
                ),
                live: Atomic::new(0),
                map_type: Atomic::new(u32::MAX),
                entries: Atomic::new(0),
                bytes: Atomic::new(0),
            }),
            GFP_KERNEL,
        )
    }

    /// Records the runs of a new mapping for CPU syncs; returns its id. `None` when it needs
    /// none.
    fn add_cpu_sync(&self, m: &Mapping) -> Result<Option<u64>> {
        let runs = m.mapped_runs();
        if runs.is_empty() {
            return Ok(None);
        }
        let mut copy = KVec::with_capacity(runs.len(), GFP_KERNEL)?;
        copy.extend_from_slice(runs, GFP_KERNEL)?;
        let mut s = self.cpu_sync.lock();
        let id = s.next_id;
        s.list.push(
            CpuSync {
                id,
                dir: m.dir(),
                runs: copy,
            },
            GFP_KERNEL,
        )?;
        s.next_id = id.wrapping_add(1);
        Ok(Some(id))
    }

    /// Forgets the runs of mapping `id`.
    fn remove_cpu_sync(&self, id: u64) {
        self.cpu_sync.lock().list.retain(|s| s.id != id);
    }

    /// Syncs every recorded mapping for the CPU (`for_cpu`) or back for the device.
    ///
    /// The reservation lock of the attachment's dma-buf is held (`_resv`): every map and
    /// unmap runs under it too, so no recorded mapping is unmapped while this syncs it.
    pub(super) fn sync(&self, for_cpu: bool, _resv: &ResvGuard<'_>) {
        // SAFETY: The attachment holds a reference to its device, which the importer keeps
        // bound while it is attached.
        let dma = unsafe { DmaDevice::assume_bound(&self.dev) };
        let s = self.cpu_sync.lock();
        for c in s.list.iter() {
            for r in c.runs.iter() {
                // SAFETY: A run of a live mapping of this device with `c.dir`: it leaves the
                // list when its mapping is unmapped, under the reservation lock held here.
                unsafe { dma.sync_single(*r, c.dir, for_cpu) };
            }
            crate::stats::STATS
                .cpu_syncs
                .add(c.runs.len() as u64, Relaxed);
        }
    }
}

impl Buffer {
    /// Maps the buffer for the device of the attachment whose state is `st`: the one map path
    /// of both importer faces. The reservation lock is held (`_resv`).
    pub(super) fn map_attachment(
        this: Arc<Buffer>,
        st: &Arc<AttachState>,
        dir: DataDirection,
        limits: Option<SegLimits>,
        _resv: &ResvGuard<'_>,
    ) -> Result<LiveMapping> {
        if this.is_revoked() {
            return Err(ENODEV);
        }
        // SAFETY: The attachment state holds a reference to the device until detach, and so
        // does every mapping (`LiveCount` holds the state); the importer keeps its device bound
        // while attached (the dma-buf importer's contract).
        let dev = unsafe { DmaDevice::assume_bound(&st.dev) };
        let dma = KernelDma::new(dev).with_limits(limits);
        let route = match (this.provider.as_ref(), st.p2p) {
            (Some(p), Some(t)) => Some((p, t)),
            _ => None,
        };
        let m = Mapping::map_exported(dma, &this.ranges, route, dir)?;
        // MMIO is never synced for the CPU (`begin_cpu_access` does nothing for it): only the
        // runs of system memory are recorded, which costs two allocations per map. On error
        // `m` unmaps as it drops.
        let sync_id = if this.is_mmio() {
            None
        } else {
            st.add_cpu_sync(&m)?
        };
        *this.live.lock() += 1;
        st.live.add(1, Relaxed);
        crate::stats::STATS.maps.add(1, Relaxed);
        st.map_type.store(m.map_type() as u32, Relaxed);
        st.entries.store(m.entries().len() as u64, Relaxed);
        st.bytes.store(m.size() as u64, Relaxed);
        Ok(LiveMapping {
            mapping: m,
            _count: LiveCount {
                buf: this,
                attach: st.clone(),
                sync_id,
            },
        })
    }
}

/// A mapping of a dmavec buffer, counted until dropped so that revocation can wait for it.
///
/// Fields drop in declaration order: the mapping is torn down before the count drops, since
/// a revoker may hand the memory out again once the count reaches zero.
pub struct LiveMapping {
    mapping: Mapping,
    _count: LiveCount,
}

/// One live mapping of `buf` through the attachment whose state is `attach`.
struct LiveCount {
    buf: Arc<Buffer>,
    attach: Arc<AttachState>,
    /// Its record for the CPU access hooks, if it has one.
    sync_id: Option<u64>,
}

// SAFETY: `entries()` is the mapping's, which does not change while it lives and stays where
// it is while the mapping is not moved (inline in it, or in its vector); the addresses are
// mapped for the importing device until the mapping drops.
unsafe impl DmaVecMap for LiveMapping {
    fn entries(&self) -> &[DmaVec] {
        self.mapping.entries()
    }

    fn addr(&self) -> DmaVecAddr {
        match self.mapping.map_type() {
            MapType::Iova => DmaVecAddr::Iova,
            MapType::Direct => DmaVecAddr::Direct,
            MapType::BusAddr => DmaVecAddr::BusAddr,
        }
    }
}

impl Drop for LiveCount {
    fn drop(&mut self) {
        if let Some(id) = self.sync_id {
            self.attach.remove_cpu_sync(id);
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
