// SPDX-License-Identifier: GPL-2.0

//! The attachments of a dmavec buffer: their state, and the one map path of both importer
//! faces ([`Buffer::map_attachment`]), whose [`LiveMapping`]s revocation waits for, and the CPU
//! access hooks sync (the exporter abstraction keeps them in their attachment's list of live
//! mappings, [`ExporterAttachment::for_each_mapping`]).
//!
//! [`ExporterAttachment::for_each_mapping`]:
//!     kernel::dma_buf::attachment::ExporterAttachment::for_each_mapping
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
};
use kernel::{
    device::Device,
    dma::DataDirection,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc,
    },
};
use kernel::{
    dma::iova::{self as dma_iova, DmaDevice},
    dma_buf::{mapping::DmaVecMap, DmaVecAddr, ResvGuard},
};

/// Per-attachment state of the exporter, reported in debugfs.
pub struct AttachState {
    /// The importing device.
    pub(crate) dev: ARef<Device>,
    /// How it reaches the buffer's MMIO, decided at attach (`None` for system memory).
    pub(crate) p2p: Option<P2pType>,
    /// Its IOVA granule, asked at attach ([`KernelDma::with_granule`]): a map makes no DMA API
    /// call beyond those that map.
    granule: u64,
    /// Mappings of this attachment alive.
    pub(crate) live: Atomic<u32>,
    /// Of the latest mapping: its path (`MapType` as u32, `u32::MAX` for none), entries, bytes.
    pub(crate) map_type: Atomic<u32>,
    pub(crate) entries: Atomic<u64>,
    pub(crate) bytes: Atomic<u64>,
}

impl AttachState {
    pub(super) fn new(dev: &Device, p2p: Option<P2pType>) -> Result<Arc<Self>> {
        Ok(Arc::new(
            Self {
                dev: dev.into(),
                p2p,
                granule: dma_iova::iova_granule(dev),
                live: Atomic::new(0),
                map_type: Atomic::new(u32::MAX),
                entries: Atomic::new(0),
                bytes: Atomic::new(0),
            },
            GFP_KERNEL,
        )?)
    }
}

impl LiveMapping<'_> {
    /// Syncs the mapping for the CPU (`for_cpu`) or back for the device: its `dma_map_phys()`
    /// mappings of system memory, the only ones that need it (nothing on the IOVA and
    /// bus-address paths). The reservation lock is held: the mapping is not unmapped meanwhile.
    pub(super) fn sync(&self, for_cpu: bool) {
        let runs = self.mapping.mapped_runs().len();
        if runs == 0 {
            return;
        }
        self.mapping.sync(for_cpu);
        crate::stats::STATS.cpu_syncs.add(runs as u64, Relaxed);
    }
}

impl Buffer {
    /// Maps the buffer for the device of the attachment whose state is `st`: the one map path
    /// of both importer faces. The reservation lock is held (`_resv`).
    pub(super) fn map_attachment<'a>(
        this: Arc<Buffer>,
        st: &Arc<AttachState>,
        dev: DmaDevice<'a>,
        dir: DataDirection,
        limits: Option<SegLimits>,
        _resv: &ResvGuard<'_>,
    ) -> Result<LiveMapping<'a>> {
        if this.is_revoked() {
            return Err(ENODEV);
        }
        let dma = KernelDma::new(dev)
            .with_limits(limits)
            .with_granule(Some(st.granule));
        let route = match (this.provider.as_ref(), st.p2p) {
            (Some(p), Some(t)) => Some((p, t)),
            _ => None,
        };
        let m = Mapping::map_exported(dma, &this.ranges, route, dir)?;
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
            },
        })
    }
}

/// A mapping of a dmavec buffer for a device bound for `'a`, counted until dropped so that
/// revocation can wait for it.
///
/// Fields drop in declaration order: the mapping is torn down before the count drops, since
/// a revoker may hand the memory out again once the count reaches zero.
pub struct LiveMapping<'a> {
    mapping: Mapping<KernelDma<'a>>,
    _count: LiveCount,
}

/// One live mapping of `buf` through the attachment whose state is `attach`.
struct LiveCount {
    buf: Arc<Buffer>,
    attach: Arc<AttachState>,
}

/// The entries are the mapping's: mapped for the importing device until it drops.
impl DmaVecMap for LiveMapping<'_> {
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
        crate::stats::STATS.unmaps.add(1, Relaxed);
        self.attach.live.fetch_sub(1, Relaxed);
        let mut live = self.buf.live.lock();
        *live -= 1;
        if *live == 0 {
            self.buf.unmapped.notify_all();
        }
    }
}
