// SPDX-License-Identifier: GPL-2.0

//! The importer API: any dma-buf mapped as an array of [`DmaVec`].
//!
//! An importer attaches dynamically ([`Attachment::new`]: `allow_peer2peer`, and an
//! [`Importer::invalidate`] callback), takes the dma-buf's reservation lock
//! ([`Attachment::lock`]) and maps ([`Locked::map`]). The attach asks the dma-buf core for the
//! DMA-vector mapping type first and the sg_table type second; an exporter
//! that offers the DMA-vector type, dmavec's or any other, maps the buffer to the array
//! itself, and no sg_table is built. With any other exporter the dma-buf core maps it
//! (`dma_buf_map_attachment()`) and the DMA side of its sg_table is presented as [`DmaVec`]
//! entries, adjacent segments merged.
//!
//! The mapping lives in the attachment and is reachable only through a [`Locked`] guard, which
//! proves the reservation lock is held: the locking rules of dma-buf are enforced by types. It
//! is unmapped by [`Locked::unmap`], by the importer's invalidate callback, or at detach.
//!
//! C header: [`include/linux/dma-buf.h`](srctree/include/linux/dma-buf.h) (dynamic
//! attachments, `dma_buf_attach_ops`).
//!
//! [`DmaVec`]: crate::range::DmaVec

use crate::{map::MapType, range::SegLimits};
use kernel::{
    device::Device,
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
    },
};
use kernel::{
    dma_buf::{
        attachment::{DynamicAttachment, ImportAttachment, Importer as DmaBufImporter},
        DmaBuf, ResvCell, ResvGuard,
    },
    dma_fence::FenceContext,
};

mod locked;
mod negotiated;

use locked::Mapped;
pub use locked::{Locked, MappedView};

/// How an [`Attachment`]'s current mapping was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// As an array of the DMA-vector mapping type (dmavec's mapping core, or another exporter
    /// that offers the type), with addresses of this kind.
    Dmavec(MapType),
    /// By another exporter, through the dma-buf core's sg_table.
    SgTable,
}

/// The number of `enum dmavec_map_type` (`<linux/dmavec.h>`), which uAPIs reuse (edu's
/// `DMAVEC_EDU_MAP_*`); `dmavec_capi.c` asserts the header's numbering.
impl From<MapKind> for u32 {
    fn from(k: MapKind) -> u32 {
        match k {
            MapKind::Dmavec(MapType::Iova) => 0,
            MapKind::Dmavec(MapType::Direct) => 1,
            MapKind::Dmavec(MapType::BusAddr) => 2,
            MapKind::SgTable => 3,
        }
    }
}

impl MapKind {
    /// A short name, as the uAPIs report it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Dmavec(t) => t.name(),
            Self::SgTable => "sg-table",
        }
    }
}

/// The importer's side of an attachment.
pub trait Importer: Send + Sync + 'static {
    /// The exporter invalidated the mapping; called with the reservation lock held. The
    /// importer must stop using the addresses and drop the mapping ([`Locked::unmap`]): at
    /// once, or, if DMA on the mapping is in flight under a fence ([`Locked::fence_dma`]),
    /// make that DMA stop soon and unmap after signalling the fence.
    fn invalidate(&self, locked: &mut Locked<'_>);
}

/// What the attachment's callback needs: stable in memory while attached.
struct Inner {
    importer: KBox<dyn Importer>,
    /// The current mapping, under the reservation lock of the dma-buf.
    mapped: ResvCell<Option<Mapped>>,
    /// The importer's own segment limits ([`Locked::set_seg_limits`]), `None` for the
    /// device's. Under the reservation lock.
    limits: ResvCell<Option<SegLimits>>,
    /// Set under the reservation lock when the attachment starts to go away
    /// ([`Attachment::retire`]): from then on the invalidate callback does not reach the
    /// importer, whose owner may be tearing it down.
    dead: Atomic<bool>,
    /// The fence timeline of this attachment's DMA ([`Locked::fence_dma`]) and its last
    /// sequence number.
    fence_context: FenceContext,
    fence_seqno: Atomic<u64>,
}

impl DmaBufImporter for Inner {
    fn invalidate_mappings(&self, attach: &ImportAttachment, resv: ResvGuard<'_>) {
        if self.dead.load(Relaxed) {
            // Being detached: nothing is mapped, and the owner is dropping the importer.
            return;
        }
        let mut locked = Locked {
            inner: self,
            attach,
            guard: resv,
        };
        self.importer.invalidate(&mut locked);
    }
}

/// A dynamic attachment of an importing device to a dma-buf.
pub struct Attachment {
    att: DynamicAttachment<Inner>,
}

impl Attachment {
    /// Attaches `dev` to `dmabuf` dynamically, accepting peer-to-peer memory, and asking for
    /// the DMA-vector mapping type first and the sg_table type second.
    ///
    /// # Errors
    ///
    /// What the exporter's attach refuses with (dmavec: `EPERM` for an importer that cannot
    /// reach its MMIO, `ENODEV` for a revoked buffer), `EOPNOTSUPP` if the exporter offers
    /// neither the DMA-vector nor the sg_table mapping type, or `ENOMEM`.
    ///
    /// # Examples
    ///
    /// ```ignore
    /// struct MyImporter;
    /// impl Importer for MyImporter {
    ///     fn invalidate(&self, locked: &mut Locked<'_>) {
    ///         // No DMA in flight here: drop the mapping at once.
    ///         locked.unmap();
    ///     }
    /// }
    ///
    /// let att = Attachment::new(DmaBuf::from_fd(fd)?, dev, MyImporter)?;
    /// let mut l = att.lock();
    /// let v = l.map(DataDirection::FromDevice)?;
    /// // `v.entries`: the `struct dma_vec` array, valid while `l` is held or until invalidated.
    /// ```
    pub fn new(dmabuf: ARef<DmaBuf>, dev: &Device, importer: impl Importer) -> Result<Self> {
        let importer: KBox<dyn Importer> = KBox::new(importer, GFP_KERNEL)?;
        let resv = dmabuf.resv();
        let inner = Inner {
            importer,
            mapped: ResvCell::new(resv, None),
            limits: ResvCell::new(resv, None),
            dead: Atomic::new(false),
            fence_context: FenceContext::new(c"dmavec"),
            fence_seqno: Atomic::new(0),
        };
        Ok(Self {
            att: DynamicAttachment::new(dmabuf, dev, inner)?,
        })
    }

    /// The dma-buf.
    pub fn dmabuf(&self) -> &DmaBuf {
        self.att.dmabuf()
    }

    /// Whether the exporter granted peer-to-peer access.
    pub fn peer2peer(&self) -> bool {
        self.att.peer2peer()
    }

    /// The attachment, for a caller that already holds the reservation lock (`guard`).
    ///
    /// # Panics
    ///
    /// If `guard` holds the lock of another reservation object than the dma-buf's.
    pub fn with_guard<'a>(&'a self, guard: ResvGuard<'a>) -> Locked<'a> {
        assert!(
            guard.is_of(self.dmabuf().resv()),
            "mismatched reservation lock"
        );
        Locked {
            inner: self.att.data(),
            attach: &self.att,
            guard,
        }
    }

    /// Takes the dma-buf's reservation lock.
    pub fn lock(&self) -> Locked<'_> {
        Locked {
            inner: self.att.data(),
            attach: &self.att,
            guard: self.att.dmabuf().resv().lock(),
        }
    }
}

impl Attachment {
    /// Unmaps and stops the importer's callbacks, under the reservation lock.
    ///
    /// After this the dma-buf core may still call the invalidate callback until the
    /// attachment is dropped (detached), but it no longer reaches the [`Importer`]. It is the
    /// first step of dropping the attachment; an owner that must not be called back while it
    /// tears itself down calls it first, through a shared reference (the C API's
    /// `dmavec_detach()` does). Maps after it still work, but nothing invalidates them any
    /// more: retire only what is about to be dropped.
    pub fn retire(&self) {
        let mut l = self.lock();
        l.unmap();
        self.att.data().dead.store(true, Relaxed);
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        // Then `att` detaches as it drops, with nothing mapped.
        self.retire();
    }
}
