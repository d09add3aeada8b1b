// SPDX-License-Identifier: GPL-2.0

//! CPU access to a dmavec buffer: `mmap()` of the dma-buf, its page faults, and the
//! `{begin,end}_cpu_access` hand-over of system memory between the CPU and the devices.
//!
//! C headers: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h),
//! [`include/linux/mm.h`](srctree/include/linux/mm.h).

use super::{dma_buf_ops::OPS, Buffer};
use kernel::dma_buf::{
    exporter::{Pfn, PfnFault, PfnMap, VmFaultResult},
    DmaBuf,
};
use kernel::{page::PAGE_SIZE, prelude::*};

impl Buffer {
    /// The CPU access hooks: hands the buffer over to the CPU (`for_cpu`) or back to the
    /// devices, syncing every live mapping of the buffer that needs it: the ownership hand-over
    /// of `DMA_BUF_IOCTL_SYNC` and of `dma_buf_{begin,end}_cpu_access()`.
    pub(super) fn cpu_access(&self, dmabuf: &DmaBuf, for_cpu: bool) -> Result {
        if self.is_mmio() {
            // Uncached, and never bounced: nothing to hand over.
            return Ok(());
        }
        // Every map and unmap runs with the reservation lock held: no mapping is unmapped
        // while it is synced.
        let resv = dmabuf.resv().lock_interruptible()?;
        for a in OPS.attachments(dmabuf, &resv).into_iter().flatten() {
            a.for_each_mapping(&resv, |m| m.sync(for_cpu));
        }
        Ok(())
    }

    /// The physical page backing buffer offset `off`, for CPU mappings.
    fn pfn_at(&self, off: usize) -> Option<Pfn> {
        if off >= self.size {
            return None;
        }
        // The last range starting at or before `off`.
        let i = match self.offsets.binary_search(&off) {
            Ok(i) => i,
            Err(i) => i.checked_sub(1)?,
        };
        self.ranges.pfn(i, off - self.offsets[i])
    }

    /// Whether CPU mappings are possible: every range whole pages.
    fn mappable(&self) -> bool {
        let p = PAGE_SIZE as u64;
        self.ranges
            .iter()
            .all(|r| r.paddr() % p == 0 && r.len() as u64 % p == 0)
    }

    /// `mmap()` of the dma-buf: a PFN mapping, uncached for MMIO.
    pub(super) fn mmap(&self) -> Result<PfnMap> {
        if !self.mmap || !self.mappable() {
            return Err(EINVAL);
        }
        if self.is_revoked() {
            return Err(ENODEV);
        }
        Ok(PfnMap {
            uncached: self.is_mmio(),
        })
    }

    /// A fault in a CPU mapping of the dma-buf.
    pub(super) fn fault(&self, fault: &PfnFault) -> VmFaultResult {
        let Some(off) = fault.pgoff().checked_mul(PAGE_SIZE) else {
            return VmFaultResult::SIGBUS;
        };
        // Serialised with revocation, which zaps the mappings under this lock.
        let _state = self.state.lock();
        if self.is_revoked() {
            return VmFaultResult::SIGBUS;
        }
        // A page of the buffer's ranges, and the buffer is not revoked: revocation zaps every
        // CPU mapping under the state lock held here before the exporter may reuse the memory,
        // and no fault inserts a page of a revoked buffer.
        match self.pfn_at(off) {
            Some(pfn) => fault.insert_pfn(pfn),
            None => VmFaultResult::SIGBUS,
        }
    }
}
