// SPDX-License-Identifier: GPL-2.0

//! dmavec_bench: the cost of one map + unmap of the same MMIO ranges, for the same importing
//! device, three ways (`make bench`, test VMs only):
//!
//! - **A**: dmavec's mapping core as its exporter calls it for an attachment,
//!   [`Mapping::map_checked`] and drop: an array of `struct dma_vec`;
//! - **B**: the dma-buf core's helper for MMIO exporters, `dma_buf_phys_vec_to_sgt()` and
//!   `dma_buf_free_sgt()` (through `dmavec_bench_sgt.c`): a DMA-only sg_table;
//! - **F**: the floor, the bare DMA API calls of the path A took and nothing else:
//!   `dma_iova_try_alloc()`, `dma_iova_link()` per range, one `dma_iova_sync()` and
//!   `dma_iova_destroy()` on the IOVA path; `dma_map_phys()` and `dma_unmap_phys()` per range
//!   on the direct path.
//!
//! The ranges are BAR 2 of ivshmem (bound to dmavec_bar, which set up its P2PDMA provider); the
//! importer is QEMU's edu device, bound to no driver, used as a bare DMA master: it is given a
//! 64-bit DMA mask and the highest segment limits a device can have (`UINT_MAX`, no boundary),
//! as a GPU's driver would set. Nothing DMAs.
//!
//! `debugfs/dmavec_bench/run`: write `<n> <size> <adjacent> [<reps>]`, then read one line
//! `<n> <size> <path> <A> <B> <F> <A/B> <A/F> <bytesA> <bytesB> <syncsA> <entriesA> <entriesB>`,
//! or `error <errno>`:
//!
//! - the ranges are `n` pieces of `size` bytes: with `adjacent` 1 one contiguous region of the
//!   BAR split into `n` (it must fit), else BAR chunks in reverse order (never adjacent),
//!   wrapping around the BAR when `n * size` exceeds it (the same pages at a second IOVA);
//! - A, B and F are medians over `reps` (default 11, at least 3) interleaved repetitions, in
//!   nanoseconds per map + unmap; each repetition times a batch of iterations long enough for
//!   the clock (at least 2 ms, at most 1000 iterations);
//! - A/B and A/F are the medians of the ratios within each repetition, in thousandths: the
//!   three batches of a repetition run back to back, so their ratio is immune to what drifts
//!   between repetitions;
//! - bytesA and bytesB are the bytes each allocates per mapping (requested sizes: A's entry
//!   array and unmap record; B's `struct dma_buf_dma`, IOVA state and scatterlist chunks);
//! - syncsA is the number of `dma_iova_sync()` calls per A mapping, from dmavec's counters;
//! - entriesA and entriesB are the entries of A's array and of B's sg_table (A maps as an
//!   importer that states no segment limit, [`SegLimits::UNLIMITED`], as edu does; B's
//!   segments are `unsigned int` long at most).
//!
//! `debugfs/dmavec_bench/revoke`: write `<k> [<reps>]`, then read `<k> <revoke> <remap>`, or
//! `error <errno>`: a dmavec buffer of 16 discontiguous 64 KiB ranges of the BAR has `k` live
//! attachments of edu, each mapped, whose importers unmap from their invalidate callback.
//! `revoke` is the median time of [`dmavec::Buffer::revoke`]: from its call to its return, when
//! no importer can reach the memory any more; `remap` the median time to map all `k`
//! attachments again after [`dmavec::Buffer::restore`]. Both in nanoseconds, over `reps`
//! (default 11) repetitions.

use core::{fmt, ptr::NonNull};
use dmavec::{
    export,
    map::{KernelDma, P2pType},
    range::Ranges,
    stats::STATS,
    Attachment, DmaBuf, ExportInfo, ExporterOps, Importer, Locked, MapType, Mapping, PhysVec,
    Provider, SegLimits,
};
use kernel::dma::iova::{self as dma_iova, Attrs, DmaDevice};
use kernel::{
    bindings, debugfs,
    device::Device,
    dma::DataDirection,
    error::{from_err_ptr, to_result},
    ffi, new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{aref::ARef, atomic::Relaxed, Arc, Mutex},
    time::{Instant, Monotonic},
    uaccess::UserSliceReader,
};

const BIDI: DataDirection = DataDirection::Bidirectional;
const MMIO: ffi::c_ulong = bindings::DMA_ATTR_MMIO as ffi::c_ulong;

/// Iterations of one timed batch: at least this long ...
const BATCH_NS: u64 = 2_000_000;
/// ... and at most this many.
const BATCH_MAX: u64 = 1000;

// Only pointers and integers cross this boundary. The lint flags the bindgen mirrors of
// `struct device` and friends, which contain zero-length array members.
#[expect(improper_ctypes)]
extern "C" {
    fn dmavec_bench_sgt_map(
        attach: *mut bindings::dma_buf_attachment,
        provider: *mut bindings::p2pdma_provider,
        ranges: *mut bindings::phys_vec,
        nr_ranges: usize,
        size: usize,
    ) -> *mut bindings::sg_table;
    fn dmavec_bench_sgt_unmap(
        attach: *mut bindings::dma_buf_attachment,
        sgt: *mut bindings::sg_table,
    );
    fn dmavec_bench_sgt_bytes(sgt: *mut bindings::sg_table) -> usize;
    fn dmavec_bench_sgt_dma_len(sgt: *mut bindings::sg_table) -> u64;
    fn dmavec_bench_set_seg_boundary(dev: *mut bindings::device, mask: ffi::c_ulong);
}

#[path = "../selftests/modules/pci_ref.rs"]
mod pci_ref;
use pci_ref::PciRef;

/// The importer: edu with the DMA limits of a capable device; `EBUSY` while a driver owns it.
fn importer() -> Result<PciRef> {
    let edu = PciRef::edu()?;
    let dev = dmavec::raw::device(edu.dev());
    // SAFETY: A valid device. A driver bound to it owns its DMA settings: leave them alone.
    if !unsafe { (*dev).driver }.is_null() {
        return Err(EBUSY);
    }
    // SAFETY: A valid device with no driver; only test VMs load this module, and edu never
    // DMAs here (QEMU's edu is created with a 64-bit dma_mask by the VM runner).
    unsafe {
        to_result(bindings::dma_set_mask_and_coherent(dev, u64::MAX))?;
        bindings::dma_set_max_seg_size(dev, u32::MAX);
        dmavec_bench_set_seg_boundary(dev, ffi::c_ulong::MAX);
    }
    Ok(edu)
}

/// ivshmem's BAR 2: the device, its P2PDMA provider, the BAR's start and length.
fn exporter() -> Result<(PciRef, Provider, u64, u64)> {
    let shm = PciRef::find(0x1af4, 0x1110)?;
    // SAFETY: A valid device; BAR 2 is a standard BAR index.
    let prov = unsafe { bindings::pcim_p2pdma_provider(shm.raw(), 2) };
    // SAFETY: Valid while dmavec_bar stays bound, which the bench VM keeps it.
    let prov = unsafe { Provider::from_raw(NonNull::new(prov).ok_or(ENODEV)?) };
    // SAFETY: A valid device.
    let (start, len) = unsafe {
        (
            bindings::pci_resource_start(shm.raw(), 2),
            bindings::pci_resource_len(shm.raw(), 2),
        )
    };
    Ok((shm, prov, start, len))
}

/// A dmavec dma-buf of `ranges` of the BAR behind `prov`.
fn export_mmio(
    ranges: KVec<PhysVec>,
    prov: Provider,
) -> Result<(Arc<dmavec::Buffer>, ARef<DmaBuf>)> {
    export(
        ExportInfo {
            // SAFETY: ivshmem's BAR 2, which the bench VM keeps bound to dmavec_bar while the
            // bench runs; the bench drops its buffers before it returns.
            ranges: unsafe { Ranges::new(ranges) }?,
            provider: Some(prov),
            name: c"dmavec_bench",
            owner: kernel::module::this_module::<LocalModule>().into(),
            flags: bindings::O_RDWR,
            mmap: true,
        },
        KBox::new(NoRelease, GFP_KERNEL)?,
    )
}

/// One cell of the matrix.
#[derive(Clone, Copy)]
struct Cell {
    n: usize,
    size: usize,
    adjacent: bool,
    reps: usize,
}

impl Cell {
    fn parse(s: &str) -> Result<Self> {
        let mut w = s.split_ascii_whitespace();
        let mut num = |default: Option<usize>| -> Result<usize> {
            match w.next() {
                Some(t) => t.parse().map_err(|_| EINVAL),
                None => default.ok_or(EINVAL),
            }
        };
        let c = Self {
            n: num(None)?,
            size: num(None)?,
            adjacent: num(None)? != 0,
            reps: num(Some(11))?,
        };
        if c.n == 0 || c.n > 65536 || c.size == 0 || c.size % PAGE_SIZE != 0 || c.reps < 3 {
            return Err(EINVAL);
        }
        c.n.checked_mul(c.size).ok_or(EOVERFLOW)?;
        Ok(c)
    }

    /// The ranges of this cell within a BAR at `start` of `len` bytes.
    fn ranges(&self, start: u64, len: u64) -> Result<KVec<PhysVec>> {
        let chunks = len / self.size as u64;
        if chunks == 0 || (self.adjacent && (self.n as u64) > chunks) {
            return Err(E2BIG);
        }
        let mut v = KVec::with_capacity(self.n, GFP_KERNEL)?;
        for i in 0..self.n as u64 {
            let chunk = if self.adjacent {
                i
            } else {
                (self.n as u64 - 1 - i) % chunks
            };
            v.push(
                PhysVec::new(start + chunk * self.size as u64, self.size),
                GFP_KERNEL,
            )?;
        }
        Ok(v)
    }
}

/// The bench holds the attachment only to call B with it; nothing is ever mapped through it.
struct Idle;

impl Importer for Idle {
    fn invalidate(&self, locked: &mut Locked<'_>) {
        locked.unmap();
    }
}

/// The ranges are device memory nobody allocated: nothing to give back on release.
struct NoRelease;

impl ExporterOps for NoRelease {}

/// What one method is timed on.
struct Setup<'a> {
    dev: &'a Device,
    prov: Provider,
    /// The ranges, checked once as the exporter does at export.
    ranges: Ranges,
    /// The path A took, which F repeats.
    path: MapType,
    /// `pci_p2pdma_map_type()` of the provider and the importer, decided once as at attach.
    route: P2pType,
    /// The importer's IOVA granule, asked once as at attach.
    granule: u64,
    /// F's per-range DMA addresses on the direct path (allocated outside the timing).
    addrs: KVec<bindings::dma_addr_t>,
}

impl<'a> Setup<'a> {
    /// What A, B and F are timed on: `ranges` of `prov`'s BAR for `dev`, whose route and IOVA
    /// granule are asked here, once, as an exporter does at attach.
    fn new(dev: &'a Device, prov: &Provider, ranges: Ranges, path: MapType) -> Result<Self> {
        let n = ranges.len();
        Ok(Self {
            dev,
            prov: prov.clone(),
            ranges,
            path,
            route: prov.p2p_type(dev),
            granule: dma_iova::iova_granule(dev),
            addrs: KVec::from_elem(0, n, GFP_KERNEL)?,
        })
    }

    fn a(&self) -> Result {
        // As dmavec's exporter maps for an attachment: the device reference, the P2PDMA route
        // and the IOVA granule are the attachment's, taken and asked when it was made.
        // SAFETY: `self.dev` (edu, kept bound while the bench runs) outlives the mapping,
        // dropped below.
        let dma = KernelDma::new(unsafe { DmaDevice::assume_bound(self.dev) })
            .with_limits(Some(SegLimits::UNLIMITED))
            .with_granule(Some(self.granule));
        // Mapped and unmapped, nothing else: what a mapping allocates is `map_once()`'s to
        // report, outside the timing.
        Mapping::map_checked(dma, &self.ranges, Some((&self.prov, self.route)), BIDI).map(drop)
    }

    /// Returns the bytes B allocated and its entries.
    fn b(&self, locked: &Locked<'_>) -> Result<(usize, u32)> {
        let provider = self.prov.p2pdma().ok_or(EINVAL)?.as_raw();
        // SAFETY: The reservation lock is held (`locked`), `PhysVec` is `struct phys_vec`
        // (`repr(C)`, same layout), the helper only reads the ranges, and the provider is live.
        let sgt = from_err_ptr(unsafe {
            dmavec_bench_sgt_map(
                locked.attachment().as_raw(),
                provider,
                self.ranges.as_ptr().cast_mut().cast(),
                self.ranges.len(),
                self.ranges.size(),
            )
        })?;
        // SAFETY: `sgt` was returned by `dma_buf_phys_vec_to_sgt()` and is unmapped once, below.
        let bytes = unsafe { dmavec_bench_sgt_bytes(sgt) };
        // SAFETY: `sgt` is a live table from `dma_buf_phys_vec_to_sgt()`, not yet unmapped.
        let len = unsafe { dmavec_bench_sgt_dma_len(sgt) };
        // SAFETY: `sgt` is a live table (DMA-only: `nents` counts its DMA segments).
        let nents = unsafe { (*sgt).nents };
        // SAFETY: `sgt` is a live table from `dma_buf_phys_vec_to_sgt()`, unmapped here once,
        // with the reservation lock it was mapped under still held (`locked`).
        unsafe { dmavec_bench_sgt_unmap(locked.attachment().as_raw(), sgt) };
        if len != self.ranges.size() as u64 {
            return Err(EIO);
        }
        Ok((bytes, nents))
    }

    fn f(&mut self) -> Result {
        let dev = dmavec::raw::device(self.dev);
        match self.path {
            MapType::Iova => {
                let mut st = bindings::dma_iova_state { addr: 0, __size: 0 };
                // SAFETY: A valid device and a fresh state; the ranges are the provider's MMIO.
                if !unsafe {
                    bindings::dma_iova_try_alloc(
                        dev,
                        &mut st,
                        self.ranges[0].paddr(),
                        self.ranges.size(),
                    )
                } {
                    return Err(ENOMEM);
                }
                let mut off = 0;
                let mut ret = Ok(());
                for r in self.ranges.iter() {
                    // SAFETY: `off + len` stays within the allocated IOVA space.
                    let e = unsafe {
                        bindings::dma_iova_link(
                            dev,
                            &mut st,
                            r.paddr(),
                            off,
                            r.len(),
                            BIDI.into(),
                            MMIO,
                        )
                    };
                    if e != 0 {
                        ret = to_result(e);
                        break;
                    }
                    off += r.len();
                }
                if ret.is_ok() {
                    // SAFETY: `off` bytes from the start are linked.
                    ret = to_result(unsafe { bindings::dma_iova_sync(dev, &mut st, 0, off) });
                }
                // SAFETY: `off` bytes from the start are linked.
                unsafe { bindings::dma_iova_destroy(dev, &mut st, off, BIDI.into(), MMIO) };
                ret
            }
            MapType::Direct => {
                let mut mapped = 0;
                let mut ret = Ok(());
                for (r, a) in self.ranges.iter().zip(self.addrs.iter_mut()) {
                    // SAFETY: A valid device; the range is the provider's MMIO.
                    *a = unsafe {
                        bindings::dma_map_phys(dev, r.paddr(), r.len(), BIDI.into(), MMIO)
                    };
                    // `dma_mapping_error()`, inline as in C.
                    #[cfg(CONFIG_DMA_API_DEBUG)]
                    // SAFETY: `*a` was just returned for `dev`.
                    unsafe {
                        bindings::debug_dma_mapping_error(dev, *a)
                    };
                    if *a == bindings::dma_addr_t::MAX {
                        ret = Err(ENOMEM);
                        break;
                    }
                    mapped += 1;
                }
                for (r, a) in self.ranges[..mapped].iter().zip(self.addrs.iter()) {
                    // SAFETY: Mapped above with the same size and direction.
                    unsafe { bindings::dma_unmap_phys(dev, *a, r.len(), BIDI.into(), MMIO) };
                }
                ret
            }
            // Bus addresses: no DMA API call at all.
            MapType::BusAddr => Ok(()),
        }
    }
}

/// Nanoseconds per iteration of `k` iterations of `f`.
fn batch(k: u64, mut f: impl FnMut() -> Result) -> Result<u64> {
    let t = Instant::<Monotonic>::now();
    for _ in 0..k {
        f()?;
    }
    Ok(t.elapsed().as_nanos().max(0) as u64 / k)
}

fn median(v: &mut [u64]) -> u64 {
    // An insertion sort of the few samples: core's sort_unstable() ends in a panic path that
    // objtool does not know to be noreturn.
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && v[j - 1] > v[j] {
            v.swap(j - 1, j);
            j -= 1;
        }
    }
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// One row of the table.
struct Row {
    cell: Cell,
    path: MapType,
    ns: [u64; 3],
    /// Medians of the per-repetition ratios A/B and A/F, in thousandths.
    ratios: [u64; 2],
    bytes_a: usize,
    bytes_b: usize,
    syncs_a: u64,
    entries_a: usize,
    entries_b: u32,
}

/// One untimed map of `ranges` for `dev`, as A maps them but asking every query: the path A
/// takes, its entries and bytes.
fn map_once(dev: &Device, ranges: &Ranges, prov: &Provider) -> Result<Mapping> {
    // SAFETY: edu stays bound while the bench runs, and its callers drop the mapping before
    // they return.
    let dma = unsafe { DmaDevice::assume_bound(dev) };
    let limits = Some(SegLimits::UNLIMITED);
    Mapping::map(
        KernelDma::new(dma).with_limits(limits),
        ranges,
        Some(prov),
        BIDI,
    )
}

fn run(cell: Cell) -> Result<Row> {
    let edu = importer()?;
    let (_shm, prov, start, len) = exporter()?;
    // SAFETY: As in `export_mmio()`: ivshmem's BAR 2, bound while the bench runs.
    let ranges = unsafe { Ranges::new(cell.ranges(start, len)?) }?;

    // B needs an attachment of edu to a dma-buf of these ranges, with its reservation lock.
    let mut v = KVec::with_capacity(ranges.len(), GFP_KERNEL)?;
    v.extend_from_slice(&ranges, GFP_KERNEL)?;
    let (_buf, dmabuf) = export_mmio(v, prov.clone())?;
    let att = Attachment::new(dmabuf, edu.dev(), Idle)?;
    let locked = att.lock();

    // One untimed round of each: the path, the bytes, a check, warm caches.
    let syncs = STATS.iova_syncs.load(Relaxed);
    let m = map_once(edu.dev(), &ranges, &prov)?;
    let path = m.map_type();
    let total: usize = m.entries().iter().map(|e| e.len).sum();
    let bytes_a = m.heap_bytes();
    let entries_a = m.entries().len();
    drop(m);
    let syncs_a = STATS.iova_syncs.load(Relaxed) - syncs;
    if total != ranges.size() {
        return Err(EIO);
    }
    let mut s = Setup::new(edu.dev(), &prov, ranges, path)?;
    let (bytes_b, entries_b) = s.b(&locked)?;
    s.f()?;

    // Calibrate the batch on A.
    let once = batch(1, || s.a())?.max(1);
    let k = (BATCH_NS / once).clamp(1, BATCH_MAX);

    let mut t: [KVec<u64>; 3] = [KVec::new(), KVec::new(), KVec::new()];
    for i in 0..cell.reps {
        // Interleaved, in a rotating order: no method always runs first or after another.
        for j in 0..3 {
            let which = (i + j) % 3;
            let ns = match which {
                0 => batch(k, || s.a())?,
                1 => batch(k, || s.b(&locked).map(|_| ()))?,
                _ => batch(k, || s.f())?,
            };
            t[which].push(ns, GFP_KERNEL)?;
        }
    }
    drop(locked);
    // The three methods of one repetition ran back to back: their ratios cancel what drifts
    // between repetitions (the host, the emulator).
    let mut ab = KVec::with_capacity(cell.reps, GFP_KERNEL)?;
    let mut af = KVec::with_capacity(cell.reps, GFP_KERNEL)?;
    for ((a, b), f) in t[0].iter().zip(t[1].iter()).zip(t[2].iter()) {
        ab.push(a * 1000 / (*b).max(1), GFP_KERNEL)?;
        af.push(a * 1000 / (*f).max(1), GFP_KERNEL)?;
    }
    Ok(Row {
        cell,
        path,
        ratios: [median(&mut ab), median(&mut af)],
        ns: [median(&mut t[0]), median(&mut t[1]), median(&mut t[2])],
        bytes_a,
        bytes_b,
        syncs_a,
        entries_a,
        entries_b,
    })
}

impl fmt::Display for Row {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} {} {}{} {} {} {} {} {} {} {} {} {} {}",
            self.cell.n,
            self.cell.size,
            self.path.name(),
            if self.cell.adjacent { "-adj" } else { "" },
            self.ns[0],
            self.ns[1],
            self.ns[2],
            self.ratios[0],
            self.ratios[1],
            self.bytes_a,
            self.bytes_b,
            self.syncs_a,
            self.entries_a,
            self.entries_b
        )
    }
}

/// `debugfs/dmavec_bench/profile`: `<n> <size> <adjacent> [<reps>]`, answered with
/// `<n> <size> <path> <F> <D> <A> <K> <(A-K)/F>`: where A's time goes beyond the floor F.
///
/// - D is F's calls made through the Rust DMA abstraction (`kernel::dma::iova`), as A makes
///   them: an `IovaState`; one `PhysMapping` for a single run; `PhysMappings` filled by
///   `extend()` otherwise. D - F is what the abstraction costs, and A - D what dmavec's
///   mapping core adds (its path choice, its checks, the entries and the `Mapping` itself).
/// - K is the allocation and free of A's entry array alone (`KVec::with_capacity()` of A's
///   heap bytes and its drop; 0 when A allocates nothing): what A pays that F, which writes
///   its addresses into an array allocated outside the timing, does not.
///
/// Medians in nanoseconds per map + unmap, over `reps` interleaved repetitions; (A-K)/F is
/// the median of the repetitions' ratios, in thousandths.
fn profile(cell: Cell) -> Result<(MapType, [u64; 5])> {
    let edu = importer()?;
    let (_shm, prov, start, len) = exporter()?;
    // SAFETY: As in `export_mmio()`: ivshmem's BAR 2, bound while the bench runs.
    let ranges = unsafe { Ranges::new(cell.ranges(start, len)?) }?;
    let (path, heap) = {
        let m = map_once(edu.dev(), &ranges, &prov)?;
        (m.map_type(), m.heap_bytes())
    };
    let mut s = Setup::new(edu.dev(), &prov, ranges, path)?;
    let (phys, size) = (s.ranges[0].paddr(), s.ranges.size());
    // SAFETY: edu stays bound while the bench runs; D drops what it maps before it returns.
    let dma = unsafe { DmaDevice::assume_bound(edu.dev()) };
    let d = |s: &Setup<'_>| -> Result {
        let attrs = Attrs::MMIO;
        let r = &s.ranges;
        match path {
            MapType::Iova => {
                let mut iova = dma.iova_try_alloc(phys, size, BIDI, attrs).ok_or(ENOMEM)?;
                for run in r.phys_runs() {
                    iova.link(run)?;
                }
                iova.sync()
            }
            _ if r.runs() == 1 => {
                let run = r.phys_runs().next().ok_or(EINVAL)?;
                dma.map_phys(run, BIDI, attrs).map(drop)
            }
            _ => {
                let mut m = dma.phys_mappings(BIDI, attrs);
                m.reserve(r.runs())?;
                if r.runs() == r.len() {
                    m.extend(r.phys_ranges())
                } else {
                    m.extend(r.phys_runs())
                }
            }
        }
    };
    let entries = heap / size_of::<dma_iova::DmaVec>();
    let alloc = || -> Result {
        if entries != 0 {
            let v = KVec::<dma_iova::DmaVec>::with_capacity(entries, GFP_KERNEL)?;
            drop(v);
        }
        Ok(())
    };
    let once = batch(1, || s.a())?.max(1);
    let k = (BATCH_NS / once).clamp(1, BATCH_MAX);
    let mut t: [KVec<u64>; 4] = [KVec::new(), KVec::new(), KVec::new(), KVec::new()];
    for i in 0..cell.reps {
        for j in 0..4 {
            let which = (i + j) % 4;
            let ns = match which {
                0 => batch(k, || s.f())?,
                1 => batch(k, || d(&s))?,
                2 => batch(k, || s.a())?,
                _ => batch(k, alloc)?,
            };
            t[which].push(ns, GFP_KERNEL)?;
        }
    }
    let mut akf = KVec::with_capacity(cell.reps, GFP_KERNEL)?;
    for ((f, a), k) in t[0].iter().zip(t[2].iter()).zip(t[3].iter()) {
        akf.push(a.saturating_sub(*k) * 1000 / (*f).max(1), GFP_KERNEL)?;
    }
    Ok((
        path,
        [
            median(&mut t[0]),
            median(&mut t[1]),
            median(&mut t[2]),
            median(&mut t[3]),
            median(&mut akf),
        ],
    ))
}

/// `debugfs/dmavec_bench/profile`: a [`Cell`].
fn profile_request(s: &str, out: &mut Text<'_>) -> Result {
    let cell = Cell::parse(s)?;
    let (path, [f, d, a, k, akf]) = profile(cell)?;
    let (n, size, p) = (cell.n, cell.size, path.name());
    fmt::write(out, format_args!("{n} {size} {p} {f} {d} {a} {k} {akf}\n")).map_err(|_| ENOMEM)
}

/// Attachments the revocation benchmark goes up to.
const REVOKE_MAX_K: usize = 64;

/// One cell of the revocation benchmark: `(k, revoke ns, remap ns)`.
fn revoke_cell(k: usize, reps: usize) -> Result<(usize, u64, u64)> {
    if k == 0 || k > REVOKE_MAX_K || reps < 3 {
        return Err(EINVAL);
    }
    let edu = importer()?;
    let (_shm, prov, start, len) = exporter()?;
    let cell = Cell {
        n: 16,
        size: 64 * 1024,
        adjacent: false,
        reps,
    };
    let (buf, dmabuf) = export_mmio(cell.ranges(start, len)?, prov)?;
    let mut atts = KVec::with_capacity(k, GFP_KERNEL)?;
    for _ in 0..k {
        atts.push(
            Attachment::new(dmabuf.clone(), edu.dev(), Idle)?,
            GFP_KERNEL,
        )?;
    }
    let map_all = |atts: &KVec<Attachment>| -> Result {
        for a in atts.iter() {
            a.lock().map(BIDI)?;
        }
        Ok(())
    };
    let mut rv = KVec::with_capacity(reps, GFP_KERNEL)?;
    let mut mp = KVec::with_capacity(reps, GFP_KERNEL)?;
    for _ in 0..reps {
        let t = Instant::<Monotonic>::now();
        map_all(&atts)?;
        mp.push(t.elapsed().as_nanos().max(0) as u64, GFP_KERNEL)?;
        let t = Instant::<Monotonic>::now();
        buf.revoke();
        rv.push(t.elapsed().as_nanos().max(0) as u64, GFP_KERNEL)?;
        // Every importer unmapped from its callback: nothing is mapped any more.
        for a in atts.iter() {
            if a.lock().mapped().is_some() {
                return Err(EIO);
            }
        }
        buf.restore();
    }
    Ok((k, median(&mut rv), median(&mut mp)))
}

/// `debugfs/dmavec_bench/revoke`: `<k> [<reps>]`.
fn revoke_request(s: &str, out: &mut Text<'_>) -> Result {
    let mut w = s.split_ascii_whitespace();
    let k: usize = w.next().ok_or(EINVAL)?.parse().map_err(|_| EINVAL)?;
    let reps: usize = match w.next() {
        Some(t) => t.parse().map_err(|_| EINVAL)?,
        None => 11,
    };
    let (k, rv, mp) = revoke_cell(k, reps)?;
    fmt::write(out, format_args!("{k} {rv} {mp}\n")).map_err(|_| ENOMEM)
}

/// `debugfs/dmavec_bench/run`: a [`Cell`].
fn run_request(s: &str, out: &mut Text<'_>) -> Result {
    let row = run(Cell::parse(s)?)?;
    fmt::write(out, format_args!("{row}")).map_err(|_| ENOMEM)
}

/// A debugfs file that runs the request written to it and keeps its report (or
/// `error <errno>`) for the next read.
#[pin_data]
struct ReportFile {
    #[pin]
    report: Mutex<KVec<u8>>,
    request: fn(&str, &mut Text<'_>) -> Result,
}

impl ReportFile {
    fn new(request: fn(&str, &mut Text<'_>) -> Result) -> impl PinInit<Self> {
        pin_init!(Self {
            report <- new_mutex!(KVec::new()),
            request,
        })
    }
}

/// A `fmt::Write` into a byte vector.
struct Text<'a>(&'a mut KVec<u8>);

impl fmt::Write for Text<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| fmt::Error)
    }
}

impl debugfs::Reader for ReportFile {
    fn read_from_slice(&self, reader: &mut UserSliceReader) -> Result {
        let mut buf = [0u8; 64];
        let n = reader.len().min(buf.len());
        reader.read_slice(&mut buf[..n])?;
        let s = core::str::from_utf8(&buf[..n]).map_err(|_| EINVAL)?;
        let mut out = KVec::new();
        if let Err(e) = (self.request)(s, &mut Text(&mut out)) {
            out.clear();
            fmt::write(
                &mut Text(&mut out),
                format_args!("error {}\n", e.to_errno()),
            )
            .map_err(|_| ENOMEM)?;
        }
        *self.report.lock() = out;
        Ok(())
    }
}

impl fmt::Debug for ReportFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = self.report.lock();
        f.write_str(core::str::from_utf8(&r).unwrap_or("?"))
    }
}

#[pin_data]
struct DmavecBench {
    #[pin]
    _run: debugfs::File<ReportFile>,
    #[pin]
    _revoke: debugfs::File<ReportFile>,
    #[pin]
    _profile: debugfs::File<ReportFile>,
    _root: debugfs::Dir,
}

impl kernel::InPlaceModule for DmavecBench {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        let root = debugfs::Dir::new(c"dmavec_bench");
        try_pin_init!(Self {
            _run <- root.read_write_file(c"run", ReportFile::new(run_request)),
            _revoke <- root.read_write_file(c"revoke", ReportFile::new(revoke_request)),
            _profile <- root.read_write_file(c"profile", ReportFile::new(profile_request)),
            _root: root,
        })
    }
}

module! {
    type: DmavecBench,
    name: "dmavec_bench",
    authors: ["dmavec developers"],
    description: "dmavec map/unmap benchmark against the dma-buf core's sg_table helper",
    license: "GPL",
    imports_ns: ["DMA_BUF", "DMAVEC"],
}
