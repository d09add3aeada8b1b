// SPDX-License-Identifier: GPL-2.0

//! dmavec_test: tests of the dmavec crate on real devices, through its Rust API.
//!
//! The KUnit suite `dmavec_hw` maps for QEMU's `edu` device (1234:11e8, bound to no driver in
//! the test VM, used here as a bare DMA master) behind the emulated Intel IOMMU: system memory,
//! ivshmem MMIO through the host bridge, the exporter/importer round trip with revocation, and
//! the dma-buf core's sg_table importers.
//!
//! `debugfs/dmavec_test/import`: write a dma-buf file descriptor; the buffer is attached for edu
//! with the importer API, mapped, described, and detached. Reading the file returns
//! "kind <kind> entries <n> bytes <bytes>" (or "error <errno>"). The kselftests use it on
//! buffers of other exporters (dma-buf heaps, udmabuf).

use core::{fmt, ptr::NonNull};
use dmavec::map::KernelDma;
use dmavec::{
    export, map::P2pType, stats::STATS, Attachment, ExportInfo, ExporterOps, Importer, Locked,
    MapKind, MapType, Mapping, PhysVec, Provider, Ranges,
};
use kernel::dma::iova::DmaDevice;
use kernel::{
    bindings, debugfs,
    device::Device,
    dma::DataDirection,
    error::from_err_ptr,
    ffi::c_ulong,
    new_mutex,
    page::{Page, PAGE_SIZE},
    prelude::*,
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc, Mutex,
    },
    uaccess::UserSliceReader,
};

const P: usize = PAGE_SIZE;
const BIDI: DataDirection = DataDirection::Bidirectional;

#[path = "pci_ref.rs"]
mod pci_ref;
use pci_ref::PciRef;

impl PciRef {
    fn set_max_seg(&self, size: u32) {
        // SAFETY: A valid device; only test VMs load this module.
        unsafe { bindings::dma_set_max_seg_size(dmavec::raw::device(self.dev()), size) };
    }
}

/// ivshmem, bound to dmavec_bar (which set up its P2PDMA provider): the device, the provider of
/// its BAR 2, and the BAR's physical start.
fn ivshmem_bar() -> Result<(PciRef, Provider, u64)> {
    let shm = PciRef::find(0x1af4, 0x1110)?;
    // SAFETY: A valid device; BAR 2 is a standard BAR index.
    let prov = unsafe { bindings::pcim_p2pdma_provider(shm.raw(), 2) };
    // SAFETY: Valid while dmavec_bar is bound, which the test VM keeps it while this runs.
    let prov = unsafe { Provider::from_raw(NonNull::new(prov).ok_or(ENODEV)?) };
    // SAFETY: A valid device.
    let start = unsafe { bindings::pci_resource_start(shm.raw(), 2) };
    Ok((shm, prov, start))
}

/// The physical address `iova` translates to in `dev`'s IOMMU domain.
fn iova_to_phys(dev: &Device, iova: u64) -> u64 {
    // SAFETY: A valid device.
    let dom = unsafe { bindings::iommu_get_domain_for_dev(dmavec::raw::device(dev)) };
    if dom.is_null() {
        return 0;
    }
    // SAFETY: `dom` is the device's live domain.
    unsafe { bindings::iommu_iova_to_phys(dom, iova) }
}

/// `n` pages of system memory, and every other one of them as a range, in reverse order.
fn scattered_pages(n: usize) -> Result<(KVec<Page>, KVec<PhysVec>)> {
    let mut pages = KVec::with_capacity(2 * n, GFP_KERNEL)?;
    for _ in 0..2 * n {
        pages.push(Page::alloc_page(GFP_KERNEL)?, GFP_KERNEL)?;
    }
    let mut ranges = KVec::with_capacity(n, GFP_KERNEL)?;
    for i in (0..n).rev() {
        ranges.push(PhysVec::from_page(&pages[2 * i]), GFP_KERNEL)?;
    }
    Ok((pages, ranges))
}

/// The DMA API of the edu device.
fn edu_dma(edu: &PciRef) -> KernelDma<'static> {
    // SAFETY: The test VM keeps edu bound to dmavec_edu while the suites run, and every
    // mapping made with this is dropped within its test, while `edu` holds a reference.
    KernelDma::new(unsafe { DmaDevice::assume_bound(edu.dev()) })
}

/// `ranges` as the ranges of a buffer: pages the test allocated, or ivshmem's BAR 2.
fn owned(ranges: &[PhysVec]) -> Result<Ranges> {
    let mut v = KVec::with_capacity(ranges.len(), GFP_KERNEL)?;
    v.extend_from_slice(ranges, GFP_KERNEL)?;
    // SAFETY: The tests own these pages until every mapping and buffer of them is gone, and
    // the test VM keeps ivshmem bound to dmavec_bar, whose BAR 2 the tests only map for
    // devices and user space (dmavec_bar's own users being idle while they run).
    unsafe { Ranges::new(v) }
}

/// Counts invalidations and drops the mapping, as an importer must.
struct CountingImporter(Arc<Atomic<u32>>);

impl Importer for CountingImporter {
    fn invalidate(&self, locked: &mut Locked<'_>) {
        self.0.add(1, Relaxed);
        locked.unmap();
    }
}

/// Records that the dma-buf was released.
struct FlagOnRelease(Arc<Atomic<u32>>);

impl ExporterOps for FlagOnRelease {
    fn release(&self, _buf: &dmavec::Buffer) {
        self.0.add(1, Relaxed);
    }
}

/// Exports `ranges` (MMIO of `provider`, or system memory for `None`); `released` counts the
/// release of the dma-buf.
fn export_ranges(
    ranges: &[PhysVec],
    provider: Option<Provider>,
    released: Arc<Atomic<u32>>,
) -> Result<(Arc<dmavec::Buffer>, ARef<dmavec::DmaBuf>)> {
    export(
        ExportInfo {
            ranges: owned(ranges)?,
            provider,
            name: c"dmavec_test",
            owner: kernel::module::this_module::<LocalModule>().into(),
            flags: bindings::O_RDWR,
            mmap: true,
        },
        KBox::new(FlagOnRelease(released), GFP_KERNEL)?,
    )
}

/// The documentation's exporter and importer, compiled and run: an exporter of system memory it
/// owns, and an importer that maps it as an array and gives it back when the exporter revokes.
#[kunit_tests(dmavec_examples)]
mod examples {
    use super::*;

    /// What an exporter of system memory keeps alive for its dma-buf: its pages. The buffer
    /// holds its `ExporterOps` until the last reference to it goes, after the dma-buf's release
    /// and after every mapping, so the pages outlive every use of them.
    struct OwnPages {
        _pages: KVec<Page>,
    }

    impl ExporterOps for OwnPages {}

    /// An exporter: `n` pages of system memory it allocates, in reverse order, as one dma-buf.
    fn export_own_pages(n: usize) -> Result<(Arc<dmavec::Buffer>, ARef<dmavec::DmaBuf>)> {
        let mut pages = KVec::with_capacity(n, GFP_KERNEL)?;
        for _ in 0..n {
            pages.push(Page::alloc_page(GFP_KERNEL)?, GFP_KERNEL)?;
        }
        let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
        for p in pages.iter().rev() {
            v.push(PhysVec::from_page(p), GFP_KERNEL)?;
        }
        // SAFETY: The pages are ours, importers may map them and user space may map them, and
        // they move into the buffer's `ExporterOps` below: they stay until the buffer goes,
        // after every mapping made from these ranges.
        let ranges = unsafe { Ranges::new(v) }?;
        export(
            ExportInfo {
                ranges,
                provider: None,
                name: c"dmavec_example",
                owner: kernel::module::this_module::<LocalModule>().into(),
                flags: bindings::O_RDWR,
                mmap: true,
            },
            KBox::new(OwnPages { _pages: pages }, GFP_KERNEL)?,
        )
    }

    /// An importer: when the exporter invalidates its mapping, it stops using it and unmaps.
    struct Importing;

    impl Importer for Importing {
        fn invalidate(&self, locked: &mut Locked<'_>) {
            locked.unmap();
        }
    }

    #[test]
    fn an_importer_maps_an_exporters_pages_as_an_array() -> Result {
        let edu = PciRef::edu()?;
        let (buf, dmabuf) = export_own_pages(4)?;
        let att = Attachment::new(dmabuf, edu.dev(), Importing)?;
        // What a driver programs its device with: `(addr, len)` pairs, in buffer order. Taken
        // out under the lock, asserted after it.
        let (bytes, entries, sum) = {
            let mut l = att.lock();
            let v = l.map(DataDirection::ToDevice)?;
            let sum: usize = v.entries.iter().map(|e| e.len).sum();
            (v.bytes, v.entries.len(), sum)
        };
        assert_eq!(bytes, 4 * P);
        assert_eq!(sum, 4 * P);
        assert!(entries >= 1);
        // The exporter takes its memory back: the importer was told, and has unmapped.
        buf.revoke();
        let mapped = att.lock().mapped().is_some();
        assert!(!mapped);
        Ok(())
    }
}

#[kunit_tests(dmavec_hw)]
mod tests {
    use super::*;

    #[test]
    fn ram_64_ranges_one_iova_entry() -> Result {
        let edu = PciRef::edu()?;
        let (_pages, ranges) = scattered_pages(64)?;

        // The default maximum segment of a PCI device is 64 KiB: 4 entries of 16 pages.
        edu.set_max_seg(64 * 1024);
        let m = Mapping::map(edu_dma(&edu), &owned(&ranges)?, None, BIDI)?;
        assert_eq!(m.map_type(), MapType::Iova);
        assert_eq!(m.entries().len(), 4);
        drop(m);

        edu.set_max_seg(u32::MAX);
        let syncs = STATS.iova_syncs.load(Relaxed);
        let m = Mapping::map(edu_dma(&edu), &owned(&ranges)?, None, BIDI)?;
        assert_eq!(STATS.iova_syncs.load(Relaxed), syncs + 1);
        assert_eq!(m.map_type(), MapType::Iova);
        assert_eq!(m.entries().len(), 1);
        let e = m.entries()[0];
        assert_eq!(e.len, 64 * P);
        // Every page of the single IOVA range translates to its own, discontiguous page.
        for (i, r) in ranges.iter().enumerate() {
            assert!(e.addr + (i * P) as u64 != r.paddr());
            assert_eq!(iova_to_phys(edu.dev(), e.addr + (i * P) as u64), r.paddr());
        }
        drop(m);
        // Unmapped: the IOVA no longer translates.
        assert_eq!(iova_to_phys(edu.dev(), e.addr), 0);
        edu.set_max_seg(u32::MAX);
        Ok(())
    }

    #[test]
    fn ivshmem_mmio_through_host_bridge() -> Result {
        let edu = PciRef::edu()?;
        let (_shm, prov, start) = ivshmem_bar()?;
        let mut ranges = KVec::new();
        for i in (0..16u64).rev() {
            ranges.push(PhysVec::new(start + 2 * i * P as u64, P), GFP_KERNEL)?;
        }
        edu.set_max_seg(u32::MAX);
        let m = Mapping::map(edu_dma(&edu), &owned(&ranges)?, Some(&prov), BIDI)?;
        assert_eq!(m.map_type(), MapType::Iova);
        assert!(m.is_mmio());
        assert_eq!(m.entries().len(), 1);
        let e = m.entries()[0];
        for (i, r) in ranges.iter().enumerate() {
            assert_eq!(iova_to_phys(edu.dev(), e.addr + (i * P) as u64), r.paddr());
        }
        drop(m);
        edu.set_max_seg(u32::MAX);
        Ok(())
    }

    #[test]
    fn edu_reaches_ivshmem_through_the_host_bridge() -> Result {
        let edu = PciRef::edu()?;
        let (_shm, prov, _) = ivshmem_bar()?;
        // ivshmem behind its root port, edu on the root bus: no common bridge, and the q35
        // host bridge is whitelisted (the test series).
        let raw = prov.p2pdma().ok_or(EINVAL)?.as_raw();
        // SAFETY: Valid provider and device.
        let kernel = P2pType::from_raw(unsafe {
            bindings::pci_p2pdma_map_type_nowarn(raw, dmavec::raw::device(edu.dev()))
        });
        assert_eq!(kernel, P2pType::ThruHostBridge);
        Ok(())
    }

    #[test]
    fn export_import_revoke_restore() -> Result {
        let edu = PciRef::edu()?;
        edu.set_max_seg(u32::MAX);
        let (_pages, ranges) = scattered_pages(64)?;
        let released = Arc::new(Atomic::new(0u32), GFP_KERNEL)?;
        let (buf, dmabuf) = export_ranges(&ranges, None, released.clone())?;
        assert!(dmavec::is_dmavec(&dmabuf));
        assert_eq!(dmabuf.size(), 64 * P);

        let inval = Arc::new(Atomic::new(0u32), GFP_KERNEL)?;
        let att = Attachment::new(dmabuf.clone(), edu.dev(), CountingImporter(inval.clone()))?;
        // Values are taken out under the lock and asserted after it: a failed KUnit assertion
        // ends the test thread on the spot, and must not do so with the lock held.
        let (kind, n, bytes) = {
            let mut l = att.lock();
            let v = l.map(BIDI)?;
            (v.kind, v.entries.len(), v.bytes)
        };
        assert_eq!(kind, MapKind::Dmavec(MapType::Iova));
        assert_eq!(n, 1);
        assert_eq!(bytes, 64 * P);
        // Revocation invalidates the importer, which unmaps; then maps fail.
        buf.revoke();
        assert_eq!(inval.load(Relaxed), 1);
        let (was_mapped, again) = {
            let mut l = att.lock();
            (l.mapped().is_some(), l.map(BIDI).err())
        };
        assert!(!was_mapped);
        assert_eq!(again, Some(ENODEV));
        buf.restore();
        let n = att.lock().map(BIDI)?.entries.len();
        assert_eq!(n, 1);
        drop(att);
        drop(buf);
        assert_eq!(released.load(Relaxed), 0);
        drop(dmabuf);
        // The last fput() of a kernel thread is deferred: run it.
        // SAFETY: No locks held.
        unsafe { bindings::flush_delayed_fput() };
        assert_eq!(released.load(Relaxed), 1);
        edu.set_max_seg(u32::MAX);
        Ok(())
    }

    /// The callback of a dma-buf core importer that is revocable: it has nothing to drop here
    /// (the test unmaps before it revokes anything).
    ///
    /// # Safety
    ///
    /// The dma-buf core calls it with an attachment and its reservation lock held.
    unsafe extern "C" fn core_importer_invalidate(_attach: *mut bindings::dma_buf_attachment) {}

    /// A dynamic, revocable importer of the dma-buf core (not of dmavec's importer API).
    static CORE_IMPORTER: bindings::dma_buf_attach_ops = bindings::dma_buf_attach_ops {
        allow_peer2peer: false,
        invalidate_mappings: Some(core_importer_invalidate),
    };

    /// A dynamic attachment through the dma-buf core's importer API and its one mapping (the
    /// map's result), both undone when dropped.
    struct CoreMap {
        dmabuf: *mut bindings::dma_buf,
        att: *mut bindings::dma_buf_attachment,
        sgt: Result<*mut bindings::sg_table>,
    }

    impl CoreMap {
        /// Attaches `dev` to `dmabuf` with `ops` and maps it bidirectionally.
        ///
        /// # Safety
        ///
        /// `dev` is a valid device until the returned value is dropped, and `dmabuf` outlives
        /// it.
        unsafe fn new(
            dmabuf: &dmavec::DmaBuf,
            dev: *mut bindings::device,
            ops: &'static bindings::dma_buf_attach_ops,
        ) -> Result<Self> {
            // SAFETY: `dmabuf` holds a reference; `dev` is valid (the caller's guarantee);
            // `ops` is static.
            let att = from_err_ptr(unsafe {
                bindings::dma_buf_dynamic_attach(dmabuf.as_raw(), dev, ops, core::ptr::null_mut())
            })?;
            // SAFETY: `dmabuf` holds a reference; a dynamic attachment maps with the
            // reservation lock held.
            let sgt = from_err_ptr(unsafe {
                let resv = (*dmabuf.as_raw()).resv;
                bindings::dma_resv_lock(resv, core::ptr::null_mut());
                let sgt = bindings::dma_buf_map_attachment(att, BIDI.into());
                bindings::dma_resv_unlock(resv);
                sgt
            });
            Ok(Self {
                dmabuf: dmabuf.as_raw(),
                att,
                sgt,
            })
        }
    }

    impl Drop for CoreMap {
        fn drop(&mut self) {
            // SAFETY: The dma-buf outlives `self` (see `new`); the table, if mapped, is
            // unmapped with the reservation lock held, then the attachment is detached.
            unsafe {
                if let Ok(sgt) = self.sgt {
                    let resv = (*self.dmabuf).resv;
                    bindings::dma_resv_lock(resv, core::ptr::null_mut());
                    bindings::dma_buf_unmap_attachment(self.att, sgt, BIDI.into());
                    bindings::dma_resv_unlock(resv);
                }
                bindings::dma_buf_detach(self.dmabuf, self.att);
            }
        }
    }

    #[test]
    fn core_importer_gets_dma_only_sg_table() -> Result {
        let edu = PciRef::edu()?;
        edu.set_max_seg(u32::MAX);
        let (_pages, ranges) = scattered_pages(8)?;
        let released = Arc::new(Atomic::new(0u32), GFP_KERNEL)?;
        let (_buf, dmabuf) = export_ranges(&ranges, None, released)?;
        let dev = dmavec::raw::device(edu.dev());
        // SAFETY: `edu` holds the device; `dmabuf` outlives the mapping.
        let m = unsafe { CoreMap::new(&dmabuf, dev, &CORE_IMPORTER) }?;
        if let Ok(sgt) = m.sgt {
            // SAFETY: A mapped table.
            let (nents, orig, sg) = unsafe { ((*sgt).nents, (*sgt).orig_nents, (*sgt).sgl) };
            assert_eq!(nents, 1);
            assert_eq!(orig, 0);
            // SAFETY: `sg` is the first entry.
            let (addr, len, page) = unsafe {
                (
                    bindings::sg_dma_address(sg),
                    bindings::sg_dma_len(sg),
                    (*sg).page_link,
                )
            };
            assert_eq!(len as usize, 8 * P);
            assert_eq!(page & !3, 0);
            assert_eq!(iova_to_phys(edu.dev(), addr), ranges[0].paddr());
        }
        let mapped = m.sgt.is_ok();
        drop(m);
        assert!(mapped);
        edu.set_max_seg(u32::MAX);
        Ok(())
    }

    /// A revocable peer-to-peer importer of the dma-buf core.
    static P2P_CORE_IMPORTER: bindings::dma_buf_attach_ops = bindings::dma_buf_attach_ops {
        allow_peer2peer: true,
        invalidate_mappings: Some(core_importer_invalidate),
    };

    /// An importer whose device is not a PCI device has no P2PDMA route: it attaches to MMIO
    /// (iommufd does so to vfio-pci's dma-buf, and reads the ranges through the exporter),
    /// and every map fails with `EPERM`.
    #[test]
    fn non_pci_importer_attaches_to_mmio_but_cannot_map() -> Result {
        let (_shm, prov, start) = ivshmem_bar()?;
        let mut v = KVec::new();
        v.push(PhysVec::new(start, 4 * P), GFP_KERNEL)?;
        let released = Arc::new(Atomic::new(0u32), GFP_KERNEL)?;
        let (_buf, dmabuf) = export_ranges(&v, Some(prov), released)?;
        let faux = kernel::faux::Registration::new(c"dmavec_test_faux", None)?;
        let fdev: &kernel::faux::Device<kernel::device::Bound> = faux.as_ref();
        let dev = dmavec::raw::device(fdev.as_ref());
        // SAFETY: The faux device stays registered until `faux` drops, after `m`; `dmabuf`
        // outlives the mapping. The attach succeeds (`?`).
        let m = unsafe { CoreMap::new(&dmabuf, dev, &P2P_CORE_IMPORTER) }?;
        let err = m.sgt.as_ref().err().copied();
        drop(m);
        assert_eq!(err, Some(EPERM));
        Ok(())
    }

    /// Once an attachment is being detached, an invalidation no longer reaches its importer,
    /// whose owner may be tearing it down: between the unmap and the detach the dma-buf core
    /// can still invalidate the attachment (issue 12, item 8).
    #[test]
    fn retired_attachment_is_not_called_back() -> Result {
        let edu = PciRef::edu()?;
        let (_pages, ranges) = scattered_pages(2)?;
        let released = Arc::new(Atomic::new(0u32), GFP_KERNEL)?;
        let (buf, dmabuf) = export_ranges(&ranges, None, released)?;
        let inval = Arc::new(Atomic::new(0u32), GFP_KERNEL)?;
        let att = Attachment::new(dmabuf, edu.dev(), CountingImporter(inval.clone()))?;
        assert!(att.lock().map(BIDI).is_ok());
        buf.revoke();
        assert_eq!(inval.load(Relaxed), 1);
        buf.restore();
        assert!(att.lock().map(BIDI).is_ok());
        // Where `drop` unlocks before `dma_buf_detach()`: an invalidation then must not call
        // the importer, and must find nothing mapped.
        att.retire();
        assert!(att.lock().mapped().is_none());
        buf.revoke();
        assert_eq!(inval.load(Relaxed), 1);
        buf.restore();
        drop(att);
        Ok(())
    }

    /// Every buffer can be revoked, and revocation waits for the importers to unmap, so a
    /// static importer, which never unmaps on request, is refused even for system memory:
    /// revocation can then never wait forever (issue 12, item 4).
    #[test]
    fn static_importer_of_ram_is_refused() -> Result {
        let edu = PciRef::edu()?;
        let (_pages, ranges) = scattered_pages(2)?;
        let released = Arc::new(Atomic::new(0u32), GFP_KERNEL)?;
        let (buf, dmabuf) = export_ranges(&ranges, None, released)?;
        let dev = dmavec::raw::device(edu.dev());
        // SAFETY: `dmabuf` holds a reference; `dev` is valid.
        let att = unsafe { bindings::dma_buf_attach(dmabuf.as_raw(), dev) };
        let refused = from_err_ptr(att).err();
        if refused.is_none() {
            // SAFETY: Attached just above.
            unsafe { bindings::dma_buf_detach(dmabuf.as_raw(), att) };
        }
        assert_eq!(refused, Some(EOPNOTSUPP));
        // Nothing can hold the revocation up: it returns.
        buf.revoke();
        buf.restore();
        Ok(())
    }

    #[test]
    fn mmio_refuses_legacy_and_pinning_importers() -> Result {
        let edu = PciRef::edu()?;
        let (_shm, prov, start) = ivshmem_bar()?;
        let mut v = KVec::new();
        v.push(PhysVec::new(start, 4 * P), GFP_KERNEL)?;
        let released = Arc::new(Atomic::new(0u32), GFP_KERNEL)?;
        let (_buf, dmabuf) = export_ranges(&v, Some(prov), released)?;
        let dev = dmavec::raw::device(edu.dev());
        // SAFETY: `dmabuf` holds a reference; `dev` is valid.
        let att = unsafe { bindings::dma_buf_attach(dmabuf.as_raw(), dev) };
        assert_eq!(from_err_ptr(att).err(), Some(EPERM));

        // Peer-to-peer capable but not revocable (no invalidate callback): no pinning of MMIO.
        static PINNING: bindings::dma_buf_attach_ops = bindings::dma_buf_attach_ops {
            allow_peer2peer: true,
            invalidate_mappings: None,
        };
        // SAFETY: `dmabuf` holds a reference to the dma-buf, `dev` is edu's valid device, and
        // `PINNING` is static.
        let att = unsafe {
            bindings::dma_buf_dynamic_attach(dmabuf.as_raw(), dev, &PINNING, core::ptr::null_mut())
        };
        assert_eq!(from_err_ptr(att).err(), Some(EOPNOTSUPP));
        Ok(())
    }
}

/// `debugfs/dmavec_test/import`: the report of the last import.
#[pin_data]
struct ImportFile {
    #[pin]
    report: Mutex<KVec<u8>>,
}

/// edu's segment limits, set for one import and restored when dropped.
struct LimitsOverride<'a> {
    edu: &'a PciRef,
    saved: (u32, c_ulong),
}

impl<'a> LimitsOverride<'a> {
    fn set(edu: &'a PciRef, max_seg: u32, boundary_mask: c_ulong) -> Result<Self> {
        let dev = dmavec::raw::device(edu.dev());
        // SAFETY: A valid PCI device, whose `dma_parms` points into its `pci_dev` (never null
        // for PCI); only test VMs load this module.
        let saved = unsafe {
            let p = (*dev).dma_parms.as_mut().ok_or(ENODEV)?;
            let saved = (p.max_segment_size, p.segment_boundary_mask);
            p.max_segment_size = max_seg;
            p.segment_boundary_mask = boundary_mask;
            saved
        };
        Ok(Self { edu, saved })
    }
}

impl Drop for LimitsOverride<'_> {
    fn drop(&mut self) {
        let dev = dmavec::raw::device(self.edu.dev());
        // SAFETY: As in `set`, which found `dma_parms` non-null.
        if let Some(p) = unsafe { (*dev).dma_parms.as_mut() } {
            (p.max_segment_size, p.segment_boundary_mask) = self.saved;
        }
    }
}

impl ImportFile {
    /// Imports `fd` for edu and describes the mapping. With `limits` (maximum segment size,
    /// boundary mask) edu's limits are set for the import, the mapping is made for
    /// `ToDevice`, and the report adds the longest entry, the entries that cross a boundary,
    /// and what mapping the attachment again for `FromDevice` and for `ToDevice` returns.
    fn run(fd: i32, limits: Option<(u32, c_ulong)>) -> Result<KVec<u8>> {
        let edu = PciRef::edu()?;
        // Dropped after the attachment (declared before it): restored once it is detached.
        let _limits = limits
            .map(|(m, b)| LimitsOverride::set(&edu, m, b))
            .transpose()?;
        let dmabuf = dmavec::DmaBuf::from_fd(fd)?;
        let inval = Arc::new(Atomic::new(0u32), GFP_KERNEL)?;
        let att = Attachment::new(dmabuf, edu.dev(), CountingImporter(inval))?;
        let mut l = att.lock();
        let dir = if limits.is_some() {
            DataDirection::ToDevice
        } else {
            BIDI
        };
        let v = l.map(dir)?;
        let total: usize = v.entries.iter().map(|e| e.len).sum();
        let mut out = KVec::new();
        let s = format_args!(
            "kind {} entries {} bytes {} total {}\n",
            v.kind.name(),
            v.entries.len(),
            v.bytes,
            total
        );
        write_to(&mut out, s)?;
        if let Some((_, mask)) = limits {
            // CAST: `unsigned long` is 64 bits wide on the 64-bit kernels this runs on.
            let mask = mask as u64;
            let maxlen = v.entries.iter().map(|e| e.len).max().unwrap_or(0);
            let crossing = v
                .entries
                .iter()
                .filter(|e| (e.addr & !mask) != ((e.addr + e.len as u64 - 1) & !mask))
                .count();
            let other = l
                .map(DataDirection::FromDevice)
                .err()
                .map_or(0, |e| e.to_errno());
            let same = l
                .map(DataDirection::ToDevice)
                .err()
                .map_or(0, |e| e.to_errno());
            write_to(
                &mut out,
                format_args!(
                    "maxlen {maxlen} crossing {crossing} other-dir {other} same-dir {same}\n"
                ),
            )?;
        }
        Ok(out)
    }
}

fn write_to(out: &mut KVec<u8>, args: fmt::Arguments<'_>) -> Result {
    let s = kernel::str::CString::try_from_fmt(args)?;
    out.extend_from_slice(s.to_bytes(), GFP_KERNEL)?;
    Ok(())
}

impl debugfs::Reader for ImportFile {
    /// Takes "<fd>", or "<fd> <max segment size> <boundary mask>" (see [`ImportFile::run`]).
    fn read_from_slice(&self, reader: &mut UserSliceReader) -> Result {
        let mut buf = [0u8; 64];
        let n = reader.len().min(buf.len());
        reader.read_slice(&mut buf[..n])?;
        let s = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?;
        let mut words = s.split_whitespace();
        let fd: i32 = words.next().ok_or(EINVAL)?.parse().map_err(|_| EINVAL)?;
        let limits = match (words.next(), words.next()) {
            (None, _) => None,
            (Some(m), Some(b)) => Some((
                m.parse().map_err(|_| EINVAL)?,
                b.parse().map_err(|_| EINVAL)?,
            )),
            _ => return Err(EINVAL),
        };
        let report = match Self::run(fd, limits) {
            Ok(r) => r,
            Err(e) => {
                let mut v = KVec::new();
                write_to(&mut v, format_args!("error {}\n", e.to_errno()))?;
                v
            }
        };
        *self.report.lock() = report;
        Ok(())
    }
}

impl fmt::Debug for ImportFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.report.lock();
        f.write_str(core::str::from_utf8(&r).unwrap_or("?"))
    }
}

/// The ivshmem BAR pages `export_bar` exports: buffer page `j` is BAR page
/// `BAR_BASE_PAGE + 2 * (BAR_PAGES - 1 - j)` (discontiguous, reversed).
const BAR_BASE_PAGE: u64 = 256;
const BAR_PAGES: u64 = 16;

/// `debugfs/dmavec_test/export_bar` (read: a new MMIO dma-buf fd) and `revoke` (write 1 to
/// revoke the last one, 0 to restore it).
#[pin_data]
struct BarExports {
    #[pin]
    last: Mutex<Option<Arc<dmavec::Buffer>>>,
}

impl BarExports {
    fn export(&self) -> Result<u32> {
        let (_shm, prov, start) = ivshmem_bar()?;
        let mut ranges = KVec::new();
        for i in (0..BAR_PAGES).rev() {
            let page = BAR_BASE_PAGE + 2 * i;
            ranges.push(PhysVec::new(start + page * P as u64, P), GFP_KERNEL)?;
        }
        let (buf, dmabuf) = export_ranges(
            &ranges,
            Some(prov),
            Arc::new(Atomic::new(0u32), GFP_KERNEL)?,
        )?;
        let fd = dmabuf.install_fd(bindings::O_CLOEXEC)?;
        *self.last.lock() = Some(buf);
        Ok(fd)
    }
}

impl fmt::Debug for BarExports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.export() {
            Ok(fd) => writeln!(f, "{}", fd),
            Err(e) => writeln!(f, "error {}", e.to_errno()),
        }
    }
}

impl debugfs::Reader for BarExports {
    fn read_from_slice(&self, reader: &mut UserSliceReader) -> Result {
        let mut b = [0u8; 1];
        reader.read_slice(&mut b)?;
        let last = self.last.lock();
        let buf = last.as_ref().ok_or(ENOENT)?;
        match b[0] {
            b'1' => buf.revoke(),
            b'0' => buf.restore(),
            _ => return Err(EINVAL),
        }
        Ok(())
    }
}

/// `debugfs/dmavec_test/attach_delay_ms`: dmavec's [`dmavec::test_hooks::ATTACH_DELAY_MS`],
/// for the race tests of the kselftests (the import that races a removal).
struct AttachDelay;

impl debugfs::Reader for AttachDelay {
    fn read_from_slice(&self, reader: &mut UserSliceReader) -> Result {
        let mut buf = [0u8; 16];
        let n = reader.len().min(buf.len());
        reader.read_slice(&mut buf[..n])?;
        let s = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?;
        let ms: u32 = s.trim().parse().map_err(|_| EINVAL)?;
        dmavec::test_hooks::ATTACH_DELAY_MS.store(ms, Relaxed);
        Ok(())
    }
}

impl fmt::Debug for AttachDelay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", dmavec::test_hooks::ATTACH_DELAY_MS.load(Relaxed))
    }
}

/// `debugfs/dmavec_test/fence_hold`: an importer (edu) whose DMA does not end until the test
/// says so, for the race tests of the kselftests. Writing `<fd>` attaches edu to the dma-buf,
/// maps it and publishes an unsignalled fence (`Locked::fence_dma()`): a revocation of the
/// buffer waits for it. Writing `0` signals the fence and detaches. Reading gives `1` while a
/// fence is held, else `0`.
#[pin_data]
struct FenceHold {
    #[pin]
    held: Mutex<Option<(dmavec::Fence, Attachment)>>,
}

impl FenceHold {
    fn hold(fd: i32) -> Result<(dmavec::Fence, Attachment)> {
        let edu = PciRef::edu()?;
        let dmabuf = dmavec::DmaBuf::from_fd(fd)?;
        let inval = Arc::new(Atomic::new(0u32), GFP_KERNEL)?;
        let att = Attachment::new(dmabuf, edu.dev(), CountingImporter(inval))?;
        let fence = {
            let mut l = att.lock();
            l.map(BIDI)?;
            l.fence_dma()?
        };
        Ok((fence, att))
    }
}

impl debugfs::Reader for FenceHold {
    fn read_from_slice(&self, reader: &mut UserSliceReader) -> Result {
        let mut buf = [0u8; 16];
        let n = reader.len().min(buf.len());
        reader.read_slice(&mut buf[..n])?;
        let s = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?;
        let fd: i32 = s.trim().parse().map_err(|_| EINVAL)?;
        // Dropped outside the lock: the fence is signalled, then edu detaches.
        let old = if fd == 0 {
            self.held.lock().take()
        } else {
            let new = Self::hold(fd)?;
            self.held.lock().replace(new)
        };
        drop(old);
        Ok(())
    }
}

impl fmt::Debug for FenceHold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", u8::from(self.held.lock().is_some()))
    }
}

/// `debugfs/dmavec_test/{release,registry,scrub}_hold`: one of dmavec's [`Gate`]s, for the race
/// tests of the kselftests. Writing `1` arms it, `0` disarms it (and lets the held tasks go on);
/// reading gives `<armed> <tasks that reached it since it was armed>`.
///
/// [`Gate`]: dmavec::test_hooks::Gate
struct GateFile(&'static dmavec::test_hooks::Gate);

impl debugfs::Reader for GateFile {
    fn read_from_slice(&self, reader: &mut UserSliceReader) -> Result {
        let mut buf = [0u8; 4];
        let n = reader.len().min(buf.len());
        reader.read_slice(&mut buf[..n])?;
        match core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?.trim() {
            "1" => self.0.arm(true),
            "0" => self.0.arm(false),
            _ => return Err(EINVAL),
        }
        Ok(())
    }
}

impl fmt::Debug for GateFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{} {}", u8::from(self.0.is_armed()), self.0.reached())
    }
}

#[pin_data]
struct DmavecTest {
    #[pin]
    _delay: debugfs::File<AttachDelay>,
    #[pin]
    _release_hold: debugfs::File<GateFile>,
    #[pin]
    _registry_hold: debugfs::File<GateFile>,
    #[pin]
    _scrub_hold: debugfs::File<GateFile>,
    #[pin]
    _fence_hold: debugfs::File<FenceHold>,
    #[pin]
    _import: debugfs::File<ImportFile>,
    #[pin]
    _bar: debugfs::Scope<BarExports>,
    _root: debugfs::Dir,
}

impl kernel::InPlaceModule for DmavecTest {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        // An importer driver raises its device's maximum segment size; do so for edu.
        if let Ok(edu) = PciRef::edu() {
            edu.set_max_seg(u32::MAX);
        }
        let root = debugfs::Dir::new(c"dmavec_test");
        try_pin_init!(Self {
            _delay <- root.read_write_file(c"attach_delay_ms", AttachDelay),
            _release_hold <- root.read_write_file(
                c"release_hold",
                GateFile(&dmavec::test_hooks::RELEASE_HOLD)
            ),
            _registry_hold <- root.read_write_file(
                c"registry_hold",
                GateFile(&dmavec::test_hooks::REGISTRY_HOLD)
            ),
            _scrub_hold <- root.read_write_file(
                c"scrub_hold",
                GateFile(&dmavec::test_hooks::SCRUB_HOLD)
            ),
            _fence_hold <- root.read_write_file(
                c"fence_hold",
                pin_init!(FenceHold {
                    held <- new_mutex!(None),
                })
            ),
            _import <- root.read_write_file(
                c"import",
                pin_init!(ImportFile {
                    report <- new_mutex!(KVec::new()),
                })
            ),
            _bar <- root.scope(
                pin_init!(BarExports { last <- new_mutex!(None) }),
                c"bar",
                |b, dir| {
                    dir.read_only_file(c"export", b);
                    dir.write_only_file(c"revoke", b);
                }
            ),
            _root: root,
        })
    }
}

module! {
    type: DmavecTest,
    name: "dmavec_test",
    authors: ["dmavec developers"],
    description: "dmavec tests on real devices (test VMs only)",
    license: "GPL",
    imports_ns: ["DMA_BUF", "DMAVEC"],
}
