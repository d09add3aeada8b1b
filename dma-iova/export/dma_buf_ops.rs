// SPDX-License-Identifier: GPL-2.0

//! The exporter callbacks of every dmavec buffer ([`Exporter`] for [`Buffer`]): attach, the
//! one map of both mapping types (the DMA-vector type and the sg_table type, which the
//! [`exporter`](kernel::dma_buf::exporter) abstraction builds from the same
//! mapping), release; those of CPU access are in [`super::cpu`].
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h).

use super::{
    attachment::{AttachState, LiveMapping},
    registry::{RemoveBuffer, BUFFERS},
    Buffer,
};
use crate::map::P2pType;
use kernel::dma::iova::DmaDevice;
use kernel::dma_buf::{
    attachment::{ExporterAttachment, NewAttachment},
    exporter::{Exporter, Ops, PfnFault, PfnMap, VmFaultResult},
    DmaBuf, ResvGuard,
};
use kernel::{
    dma::DataDirection,
    pci,
    prelude::*,
    sync::{Arc, ArcBorrow},
};

/// The dma-buf ops of every dmavec buffer.
pub(super) static OPS: Ops<Buffer> = Ops::new();

/// Whether `dmabuf` was exported by dmavec.
pub fn is_dmavec(dmabuf: &DmaBuf) -> bool {
    OPS.data_of(dmabuf).is_some()
}

#[vtable]
impl Exporter for Buffer {
    type AttachData = Arc<AttachState>;
    type Mapping<'a> = LiveMapping<'a>;

    fn attach(this: ArcBorrow<'_, Self>, attach: &NewAttachment) -> Result<Arc<AttachState>> {
        let buf = &*this;
        if buf.provider.is_some() && !attach.peer2peer() {
            return Err(EPERM);
        }
        if !attach.is_revocable() {
            return Err(EOPNOTSUPP);
        }
        let dev = attach.dev();
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
            let t = p.p2p_type(dev);
            // A device that is not a PCI device has no P2PDMA route at all: it attaches, and
            // every map of MMIO for it fails with EPERM. Such an importer only uses what the
            // exporter hands it outside the mapping ops (iommufd's attachment to vfio-pci's
            // dma-buf, whose device is iommufd's own, through `dmavec_export_ranges()`).
            let is_pci = <&pci::Device>::try_from(dev).is_ok();
            if t == P2pType::NotSupported && is_pci {
                return Err(EPERM);
            }
            p2p = Some(t);
        }
        drop(state);
        AttachState::new(dev, p2p)
    }

    fn map<'a>(
        this: ArcBorrow<'_, Self>,
        attach: &ExporterAttachment<Self>,
        dev: DmaDevice<'a>,
        dir: DataDirection,
        resv: &ResvGuard<'_>,
    ) -> Result<LiveMapping<'a>> {
        // The importer's own segment limits do not reach an exporter: the entries follow its
        // device's, and a dmavec importer with limits of its own merges and splits them
        // (`import::negotiated`).
        Buffer::map_attachment(this.into(), attach.data(), dev, dir, None, resv)
    }

    fn begin_cpu_access(this: ArcBorrow<'_, Self>, dmabuf: &DmaBuf, _dir: DataDirection) -> Result {
        this.cpu_access(dmabuf, true)
    }

    fn end_cpu_access(this: ArcBorrow<'_, Self>, dmabuf: &DmaBuf, _dir: DataDirection) -> Result {
        this.cpu_access(dmabuf, false)
    }

    fn mmap(this: ArcBorrow<'_, Self>, _dmabuf: &DmaBuf) -> Result<PfnMap> {
        this.mmap()
    }

    fn fault(this: ArcBorrow<'_, Self>, fault: &PfnFault) -> VmFaultResult {
        this.fault(fault)
    }

    fn release(buf: Arc<Self>) {
        // The window of a revocation racing the last close: the file is dying and its inode
        // was put, the buffer is still registered and its state still names the dma-buf.
        #[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
        crate::test_hooks::RELEASE_HOLD.pass();
        drop(BUFFERS.lock().remove_buffer(&buf));
        buf.state.lock().dmabuf = None;
        buf.ops.release(&buf);
    }
}
