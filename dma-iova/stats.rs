// SPDX-License-Identifier: GPL-2.0

//! Counters that tests and operators read from `/sys/kernel/debug/dmavec/stats`.

use core::fmt;
use kernel::sync::atomic::{Atomic, Relaxed};

/// Global dmavec counters.
pub struct Stats {
    /// Mappings of dmavec buffers made for importers (all paths).
    pub maps: Atomic<u64>,
    /// Those torn down.
    pub unmaps: Atomic<u64>,
    /// `dma_iova_sync()` calls the mapping core issued: one per IOVA-path mapping, for any
    /// user of the core (buffer mappings or not).
    pub iova_syncs: Atomic<u64>,
    /// Buffers revoked (each transition from accessible to revoked).
    pub revocations: Atomic<u64>,
    /// `dma_map_phys()` runs of system memory synced by the CPU access hooks
    /// (`DMA_BUF_IOCTL_SYNC`), for the CPU or back for the device.
    pub cpu_syncs: Atomic<u64>,
}

/// The module's counters.
pub static STATS: Stats = Stats {
    maps: Atomic::new(0),
    unmaps: Atomic::new(0),
    iova_syncs: Atomic::new(0),
    revocations: Atomic::new(0),
    cpu_syncs: Atomic::new(0),
};

impl fmt::Debug for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "maps: {}", self.maps.load(Relaxed))?;
        writeln!(f, "unmaps: {}", self.unmaps.load(Relaxed))?;
        writeln!(f, "iova_syncs: {}", self.iova_syncs.load(Relaxed))?;
        writeln!(f, "revocations: {}", self.revocations.load(Relaxed))?;
        writeln!(f, "cpu_syncs: {}", self.cpu_syncs.load(Relaxed))
    }
}
