// SPDX-License-Identifier: GPL-2.0

//! The mapping algorithm: [`Mapping::map`] picks the path ([`MapType`]) by which one importing
//! device reaches the ranges, maps their runs and builds the entries; dropping the [`Mapping`]
//! unmaps them. The paths are described in the [parent module](super).

use super::{DirectMaps, DirectOne, DmaBackend, IovaLink, KernelDma, P2pType, Provider};
use crate::{
    range::{runs, DmaVec, Ranges, SegLimits},
    stats::STATS,
};
use kernel::dma::iova::Attrs;
use kernel::dma::iova::PhysRange;
use kernel::{dma::DataDirection, page::PAGE_SIZE, prelude::*, sync::atomic::Relaxed};

/// The path a [`Mapping`] took.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum MapType {
    /// One IOVA range, linked range by range and synced once.
    Iova = 0,
    /// `dma_map_phys()` per range: no translating IOMMU, no IOVA space, or system memory for an
    /// importer whose mapping needs CPU syncs (not cache-coherent, or untrusted).
    Direct = 1,
    /// PCI bus addresses: no DMA API involved.
    BusAddr = 2,
}

impl MapType {
    /// The inverse of `as u32`.
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            0 => Some(Self::Iova),
            1 => Some(Self::Direct),
            2 => Some(Self::BusAddr),
            _ => None,
        }
    }

    /// A short name, as debugfs and the uAPIs report it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Iova => "iova",
            Self::Direct => "direct",
            Self::BusAddr => "bus-addr",
        }
    }
}

/// What tearing a mapping down takes: the objects that made the mappings, which undo exactly
/// them when they drop.
enum Undo<B: DmaBackend> {
    /// Nothing: bus addresses.
    Nothing,
    /// The IOVA space and what is linked into it.
    Iova(B::Iova),
    /// The `dma_map_phys()` mappings of the runs, as mapped.
    Direct(B::Direct),
    /// The `dma_map_phys()` mapping of the one run, which is also the one entry.
    One(B::One),
}

/// Where a [`Mapping`]'s entries are.
enum Entries {
    /// Exactly one entry, without an allocation: the common case of the IOVA path.
    One(DmaVec),
    /// An array of them.
    Many(KVec<DmaVec>),
    /// The direct path's `dma_map_phys()` mappings, as recorded ([`Undo::Direct`]) or as the
    /// one mapping ([`Undo::One`]): one entry per run.
    Record,
}

/// A buffer's ranges mapped for one importing device: an array of [`DmaVec`].
///
/// Dropping it unmaps. A mapping that failed half way is dropped the same way, which is how
/// every error path unwinds exactly what was done.
// `repr(C)`, the undo state first: its record, which a map fills in place, stays 8-byte aligned
// in a `Result<Mapping>`, so that moving the mapping out of the map is a few moves rather than
// a `rep movs` (slow under emulation, and then a fifth of a one-range map).
#[repr(C)]
pub struct Mapping<B: DmaBackend = KernelDma<'static>> {
    undo: Undo<B>,
    entries: Entries,
    size: usize,
    map_type: MapType,
    dir: DataDirection,
    mmio: bool,
}

impl<B: DmaBackend> Mapping<B> {
    /// Maps `ranges` for the device behind `backend`.
    ///
    /// `provider` is the P2PDMA provider of MMIO ranges, `None` for system memory.
    ///
    /// # Errors
    ///
    /// - `EPERM`: the ranges are of [`Ranges::of_bar`], which only an exported buffer maps
    ///   (its revocation at unbind is what keeps them valid), or the importer cannot reach
    ///   this MMIO (`PCI_P2PDMA_MAP_NOT_SUPPORTED`);
    /// - `EINVAL`: the importer's maximum segment size is below `PAGE_SIZE`, or an inner range
    ///   boundary is not aligned to an IOVA granule larger than a page;
    /// - `ERANGE`: the buffer is larger than the importer's DMA mask or bus limit can address
    ///   ([`DmaBackend::dma_limit`]), or an entry would lie beyond it: on the bus-address path,
    ///   and for MMIO on the direct path without a translating IOMMU;
    /// - `ENOMEM`, or the error of the DMA call that failed.
    ///
    /// # Examples
    ///
    /// ```ignore
    /// /// Maps an exporter's `ranges` of system memory for `dev` and programs the device.
    /// fn program(dev: &Device<Bound>, ranges: &Ranges) -> Result {
    ///     let m = Mapping::map(KernelDma::new(DmaDevice::new(dev)), ranges, None, ToDevice)?;
    ///     for e in m.entries() {
    ///         // Program the device with `e.addr` and `e.len`: one entry behind an IOMMU.
    ///     }
    ///     Ok(()) // `m` drops: unmapped.
    /// }
    /// ```
    pub fn map(
        backend: B,
        ranges: &Ranges,
        provider: Option<&Provider>,
        dir: DataDirection,
    ) -> Result<Self> {
        if ranges.bar_provider().is_some() {
            return Err(EPERM);
        }
        let route = provider.map(|p| (p, backend.p2p_type(p)));
        Self::map_inner(backend, ranges, route, dir)
    }

    /// [`Mapping::map`] with the route to MMIO already known: `provider` and what
    /// `pci_p2pdma_map_type()` answers for it and the importer ([`DmaBackend::p2p_type`]).
    /// That answer does not change while both devices exist (the PCI core caches it too), so
    /// an exporter asks once per attachment, when it decides whether to accept the importer.
    /// A map then costs the DMA API calls and the entry array only.
    ///
    /// # Errors
    ///
    /// As [`Mapping::map`].
    #[inline]
    pub fn map_checked(
        backend: B,
        ranges: &Ranges,
        route: Option<(&Provider, P2pType)>,
        dir: DataDirection,
    ) -> Result<Self> {
        if ranges.bar_provider().is_some() {
            return Err(EPERM);
        }
        Self::map_inner(backend, ranges, route, dir)
    }

    /// [`Mapping::map_checked`] for an exported buffer, whose ranges may be of
    /// [`Ranges::of_bar`]: the buffer is revoked, waiting for its mappings, before the BAR's
    /// device is unbound.
    #[inline]
    pub(crate) fn map_exported(
        backend: B,
        ranges: &Ranges,
        route: Option<(&Provider, P2pType)>,
        dir: DataDirection,
    ) -> Result<Self> {
        Self::map_inner(backend, ranges, route, dir)
    }

    /// The common part. The mapping is built in locals and put together at the end: on an
    /// error, what was mapped so far unmaps as its local drops. Inlined into its three
    /// callers: the `Mapping` is then built where the caller keeps it, not copied out of a
    /// `Result` (a `rep movs` of the whole struct, slow under emulation).
    #[inline(always)]
    fn map_inner(
        backend: B,
        ranges: &Ranges,
        route: Option<(&Provider, P2pType)>,
        dir: DataDirection,
    ) -> Result<Self> {
        let size = ranges.size();
        let limits = backend.limits()?;
        let (provider, p2p) = match route {
            Some((p, t)) => (Some(p), Some(t)),
            None => (None, None),
        };
        let mmio = provider.is_some();
        let attrs = if mmio { Attrs::MMIO } else { Attrs::EMPTY };
        let done = |entries, map_type, undo| {
            Ok(Self {
                entries,
                size,
                map_type,
                dir,
                mmio,
                undo,
            })
        };
        match (p2p, provider) {
            (Some(P2pType::NotSupported), _) => return Err(EPERM),
            (Some(P2pType::BusAddr), Some(p)) => {
                // No DMA API call sees these addresses: check them against the importer's
                // mask here, as `dma_capable()` would.
                let off = p.bus_offset();
                let last = ranges.last_byte();
                if last.checked_add(off).ok_or(EOVERFLOW)? > backend.dma_limit() {
                    return Err(ERANGE);
                }
                let mut entries = KVec::new();
                for r in runs(ranges) {
                    // Below `last + off`, checked above.
                    limits.push(&mut entries, r.paddr() + off, r.len())?;
                }
                return done(Entries::Many(entries), MapType::BusAddr, Undo::Nothing);
            }
            _ => {}
        }
        // The IOVA-linking API works through dma-iommu only, whose devices always have a merge
        // boundary (the IOMMU page size, minus one): without one there is no IOVA to try for.
        let granule = backend.iova_granule();
        // System memory takes the IOVA path only for a cache-coherent, trusted importer. The
        // others need CPU syncs of their mapping, which the DMA API offers for `dma_map_phys()`
        // mappings only: a non-coherent one for its cache, an untrusted one because
        // `dma_iova_link()` bounces every piece of a range that is not aligned to the IOVA
        // granule through swiotlb, and nothing syncs those bounce slots before
        // `dma_iova_unlink()` (`dma_iova_sync()` flushes the IOTLB only).
        if granule != 0 && (mmio || (backend.coherent() && !backend.untrusted())) {
            let first = ranges.first().ok_or(EINVAL)?.paddr();
            if let Some(mut iova) = backend.iova_try_alloc(first, size, dir, attrs) {
                let entries = Self::map_iova(&mut iova, ranges, granule, &limits)?;
                return done(entries, MapType::Iova, Undo::Iova(iova));
            }
        }
        // No path maps more than the importer can address: every entry is mapped at once, at
        // distinct addresses within its reach. (An IOVA allocation only succeeds within it:
        // checked here, off the IOVA path.)
        let reach = backend.dma_limit();
        if reach != 0 && size as u64 - 1 > reach {
            return Err(ERANGE);
        }
        // Without a translating IOMMU, MMIO is reached at its own address, which the DMA API
        // would refuse with a warning when the mask cannot hold it: refuse it quietly here.
        if mmio && granule == 0 {
            if ranges.last_byte() > reach {
                return Err(ERANGE);
            }
            // MMIO at its own address (plus a constant offset): runs, being maximal, never turn
            // out DMA-contiguous, and limits that admit the whole buffer never split one. Only
            // the DMA calls remain; the record of the mappings is the entries.
            if limits.admits(size) {
                return Self::map_mmio_runs(&backend, ranges, dir, attrs, done);
            }
        }
        // Typically one entry per run: reserve them, so that mapping allocates once; a single
        // entry is kept inline.
        let mut rec = backend.direct(dir, attrs);
        rec.reserve(ranges.runs())?;
        let entries = Self::map_direct(&mut rec, ranges, &limits)?;
        done(entries, MapType::Direct, Undo::Direct(rec))
    }

    /// MMIO reached at its own address, with limits that admit the whole buffer: each run is
    /// one mapping and one entry. One run is mapped alone ([`DmaBackend::map_one`]), without a
    /// record of many; ranges of which no two are adjacent are each a run, mapped without
    /// comparing each with the next.
    #[inline(always)]
    fn map_mmio_runs(
        backend: &B,
        ranges: &Ranges,
        dir: DataDirection,
        attrs: Attrs,
        done: impl FnOnce(Entries, MapType, Undo<B>) -> Result<Self>,
    ) -> Result<Self> {
        if ranges.runs() == 1 {
            let r = ranges.phys_runs().next().ok_or(EINVAL)?;
            let one = backend.map_one(r, dir, attrs)?;
            return done(Entries::Record, MapType::Direct, Undo::One(one));
        }
        let mut rec = backend.direct(dir, attrs);
        rec.reserve(ranges.runs())?;
        if ranges.runs() == ranges.len() {
            rec.extend(ranges.phys_ranges())?;
        } else {
            rec.extend(ranges.phys_runs())?;
        }
        done(Entries::Record, MapType::Direct, Undo::Direct(rec))
    }

    /// Links the runs into `iova` and syncs it: one entry, unless the importer's limits split
    /// the IOVA range.
    fn map_iova(
        iova: &mut B::Iova,
        ranges: &Ranges,
        granule: u64,
        limits: &SegLimits,
    ) -> Result<Entries> {
        // Inner run boundaries are page aligned; an IOMMU granule larger than a page asks more.
        if ranges.runs() > 1 && granule > PAGE_SIZE as u64 {
            let mut it = runs(ranges).peekable();
            let mut first = true;
            while let Some(r) = it.next() {
                let end = r.paddr() + r.len() as u64;
                if (!first && r.paddr() % granule != 0)
                    || (it.peek().is_some() && end % granule != 0)
                {
                    return Err(EINVAL);
                }
                first = false;
            }
        }
        for r in ranges.phys_runs() {
            iova.link(r)?;
        }
        iova.sync()?;
        STATS.iova_syncs.add(1, Relaxed);
        let seg = DmaVec {
            addr: iova.addr(),
            len: ranges.size(),
        };
        if limits.appends_whole(&[], seg) {
            return Ok(Entries::One(seg));
        }
        let mut entries = KVec::new();
        limits.push(&mut entries, seg.addr, seg.len)?;
        Ok(Entries::Many(entries))
    }

    /// The direct path in general: maps the runs into `rec`; while every run appends as a whole
    /// new entry the record is the entries, else they are kept apart from it.
    fn map_direct(rec: &mut B::Direct, ranges: &Ranges, limits: &SegLimits) -> Result<Entries> {
        let mut it = ranges.phys_runs();
        let first = loop {
            let Some(r) = it.next() else {
                return Ok(Entries::Record);
            };
            let addr = rec.push(r)?;
            let seg = DmaVec { addr, len: r.len() };
            let mapped = rec.as_slice();
            if !limits.appends_whole(&mapped[..mapped.len() - 1], seg) {
                break seg;
            }
        };
        // This run merges into the entry before it or is split: from here on the entries are
        // kept apart from the record, starting with those mapped before it.
        let before = &rec.as_slice()[..rec.as_slice().len() - 1];
        let mut entries = KVec::with_capacity(ranges.runs(), GFP_KERNEL)?;
        // Within the capacity: never allocates.
        entries.extend_from_slice(before, GFP_KERNEL)?;
        limits.push(&mut entries, first.addr, first.len)?;
        for r in it {
            // Recorded: on failure, dropping the record unmaps the run.
            let addr = rec.push(r)?;
            limits.push(&mut entries, addr, r.len())?;
        }
        Ok(Entries::Many(entries))
    }

    /// The DMA segments, in buffer order.
    #[inline]
    pub fn entries(&self) -> &[DmaVec] {
        match (&self.entries, &self.undo) {
            (Entries::One(e), _) => core::slice::from_ref(e),
            (Entries::Many(v), _) => v,
            (Entries::Record, Undo::Direct(rec)) => rec.as_slice(),
            (Entries::Record, Undo::One(one)) => core::slice::from_ref(one.seg()),
            (Entries::Record, _) => &[],
        }
    }

    /// The path the mapping took.
    pub fn map_type(&self) -> MapType {
        self.map_type
    }

    /// Bytes mapped.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether the mapped memory is MMIO.
    pub fn is_mmio(&self) -> bool {
        self.mmio
    }

    /// Memory the mapping allocated beyond its own struct: the entry array, and the record of
    /// the `dma_map_phys()` mappings where the entries are not it.
    pub fn heap_bytes(&self) -> usize {
        let rec = match &self.undo {
            Undo::Direct(rec) => rec.capacity(),
            _ => 0,
        };
        let entries = match &self.entries {
            Entries::Many(v) => v.capacity(),
            _ => 0,
        };
        (entries + rec) * size_of::<DmaVec>()
    }

    /// The ranges `dma_map_phys()` mapped, as it mapped them: the units of unmapping and of
    /// CPU syncs. Empty on the IOVA and bus-address paths.
    pub fn mapped_runs(&self) -> &[DmaVec] {
        match (&self.undo, &self.entries) {
            (Undo::Direct(rec), _) => rec.as_slice(),
            (Undo::One(one), _) => core::slice::from_ref(one.seg()),
            _ => &[],
        }
    }

    /// Syncs the `dma_map_phys()` mappings for the CPU (`for_cpu`) or back for the device;
    /// nothing on the IOVA and bus-address paths, which only map what needs no sync.
    pub fn sync(&self, for_cpu: bool) {
        match &self.undo {
            Undo::Direct(rec) => rec.sync(for_cpu),
            Undo::One(one) => one.sync(for_cpu),
            _ => {}
        }
    }

    /// The direction the mapping was made for.
    pub fn dir(&self) -> DataDirection {
        self.dir
    }
}

#[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
#[kunit_tests(dmavec_map)]
mod tests {
    use super::*;
    use crate::range::PhysVec;
    use crate::test_hooks::FakeProvider;
    use core::cell::{Cell, RefCell};

    const P: usize = PAGE_SIZE;
    const IOVA_BASE: u64 = 0xffff_0000_0000;
    const DIRECT_OFFSET: u64 = 0x1_0000_0000;

    /// What the fake saw.
    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    enum Call {
        Alloc(u64),
        Link {
            phys: u64,
            off: usize,
            len: usize,
            attrs: Attrs,
        },
        Sync {
            off: usize,
            len: usize,
        },
        Destroy(usize),
        Map {
            phys: u64,
            len: usize,
        },
        Unmap {
            addr: u64,
            len: usize,
        },
    }

    /// A fake IOMMU: forces a path and fails the n-th call of a kind.
    struct Fake {
        iommu: bool,
        p2p: P2pType,
        limits: SegLimits,
        dma_limit: u64,
        coherent: bool,
        untrusted: bool,
        granule: u64,
        fail_link_at: Option<usize>,
        fail_map_at: Option<usize>,
        fail_sync: bool,
        links: Cell<usize>,
        maps: Cell<usize>,
        calls: RefCell<KVec<Call>>,
    }

    impl Fake {
        fn new(iommu: bool) -> Self {
            Self {
                iommu,
                p2p: P2pType::ThruHostBridge,
                limits: SegLimits::UNLIMITED,
                dma_limit: u64::MAX,
                coherent: true,
                untrusted: false,
                granule: P as u64,
                fail_link_at: None,
                fail_map_at: None,
                fail_sync: false,
                links: Cell::new(0),
                maps: Cell::new(0),
                calls: RefCell::new(KVec::new()),
            }
        }

        fn log(&self, c: Call) {
            // A failed push only loses a record, which the assertions then catch.
            let _ = self.calls.borrow_mut().push(c, GFP_KERNEL);
        }

        fn count(&self, f: impl Fn(&Call) -> bool) -> usize {
            self.calls.borrow().iter().filter(|c| f(c)).count()
        }
    }

    /// The fake's IOVA space: logs links and syncs, and its destruction.
    struct FakeIova<'a> {
        f: &'a Fake,
        addr: u64,
        linked: usize,
        attrs: Attrs,
    }

    impl IovaLink for FakeIova<'_> {
        fn addr(&self) -> u64 {
            self.addr
        }
        fn link(&mut self, r: PhysRange) -> Result {
            let n = self.f.links.get();
            self.f.links.set(n + 1);
            if self.f.fail_link_at == Some(n) {
                return Err(EIO);
            }
            self.f.log(Call::Link {
                phys: r.phys(),
                off: self.linked,
                len: r.len(),
                attrs: self.attrs,
            });
            self.linked += r.len();
            Ok(())
        }
        fn sync(&mut self) -> Result {
            if self.f.fail_sync {
                return Err(EIO);
            }
            self.f.log(Call::Sync {
                off: 0,
                len: self.linked,
            });
            Ok(())
        }
    }

    impl Drop for FakeIova<'_> {
        fn drop(&mut self) {
            self.f.log(Call::Destroy(self.linked));
        }
    }

    /// The fake's record of direct mappings: stored as `PhysMappings` stores them (one entry
    /// inline, else an array), unmapped last first when dropped.
    struct FakeDirect<'a> {
        f: &'a Fake,
        one: DmaVec,
        v: KVec<DmaVec>,
    }

    impl DirectMaps for FakeDirect<'_> {
        fn reserve(&mut self, capacity: usize) -> Result {
            if capacity > 1 && capacity > self.v.capacity() {
                self.v.reserve(capacity - self.v.len(), GFP_KERNEL)?;
                if self.one.len != 0 {
                    self.v.push(self.one, GFP_KERNEL)?;
                    self.one.len = 0;
                }
            }
            Ok(())
        }
        fn push(&mut self, r: PhysRange) -> Result<u64> {
            let seg = self.f.map(r)?;
            if self.v.capacity() == 0 && self.one.len == 0 {
                self.one = seg;
            } else {
                if self.one.len != 0 {
                    self.v.push(self.one, GFP_KERNEL)?;
                    self.one.len = 0;
                }
                self.v.push(seg, GFP_KERNEL)?;
            }
            Ok(seg.addr)
        }
        fn as_slice(&self) -> &[DmaVec] {
            if self.one.len != 0 {
                core::slice::from_ref(&self.one)
            } else {
                &self.v
            }
        }
        fn capacity(&self) -> usize {
            self.v.capacity()
        }
        fn sync(&self, _for_cpu: bool) {}
    }

    impl Drop for FakeDirect<'_> {
        fn drop(&mut self) {
            for e in self.as_slice().iter().rev() {
                self.f.log(Call::Unmap {
                    addr: e.addr,
                    len: e.len,
                });
            }
        }
    }

    /// The fake's mapping of one run: logged as a map, and as an unmap when dropped.
    struct FakeOne<'a> {
        f: &'a Fake,
        seg: DmaVec,
    }

    impl DirectOne for FakeOne<'_> {
        fn seg(&self) -> &DmaVec {
            &self.seg
        }
        fn sync(&self, _for_cpu: bool) {}
    }

    impl Drop for FakeOne<'_> {
        fn drop(&mut self) {
            self.f.log(Call::Unmap {
                addr: self.seg.addr,
                len: self.seg.len,
            });
        }
    }

    impl Fake {
        /// Counts a `dma_map_phys()` and logs it: `ENOMEM` if it is the one to fail.
        fn map(&self, r: PhysRange) -> Result<DmaVec> {
            let n = self.maps.get();
            self.maps.set(n + 1);
            if self.fail_map_at == Some(n) {
                return Err(ENOMEM);
            }
            self.log(Call::Map {
                phys: r.phys(),
                len: r.len(),
            });
            Ok(v_at(r.phys() + DIRECT_OFFSET, r.len()))
        }
    }

    impl<'a> DmaBackend for &'a Fake {
        type Iova = FakeIova<'a>;
        type Direct = FakeDirect<'a>;
        type One = FakeOne<'a>;

        fn p2p_type(&self, _p: &Provider) -> P2pType {
            self.p2p
        }
        fn limits(&self) -> Result<SegLimits> {
            Ok(self.limits)
        }
        fn dma_limit(&self) -> u64 {
            self.dma_limit
        }
        fn iova_granule(&self) -> u64 {
            self.granule
        }
        fn coherent(&self) -> bool {
            self.coherent
        }
        fn untrusted(&self) -> bool {
            self.untrusted
        }
        fn iova_try_alloc(
            &self,
            phys: u64,
            size: usize,
            _d: DataDirection,
            attrs: Attrs,
        ) -> Option<FakeIova<'a>> {
            self.log(Call::Alloc(size as u64));
            // As the real allocator: the IOVA space is what the mask addresses.
            let ok = self.iommu && size as u64 - 1 <= self.dma_limit;
            ok.then(|| FakeIova {
                f: self,
                addr: IOVA_BASE + (phys % P as u64),
                linked: 0,
                attrs,
            })
        }
        fn direct(&self, _d: DataDirection, _a: Attrs) -> FakeDirect<'a> {
            FakeDirect {
                f: self,
                one: v_at(0, 0),
                v: KVec::new(),
            }
        }
        fn map_one(&self, r: PhysRange, _d: DataDirection, _a: Attrs) -> Result<FakeOne<'a>> {
            Ok(FakeOne {
                f: self,
                seg: self.map(r)?,
            })
        }
    }

    /// `r` as the ranges of a buffer (the fake maps nothing).
    fn rg(r: &[PhysVec]) -> Result<Ranges> {
        crate::ffi::ranges_for_the_fake_backend(r)
    }

    /// `n` discontiguous single-page ranges: every other page from 1 MiB, in reverse order.
    fn scattered(n: usize) -> Result<KVec<PhysVec>> {
        let mut v = KVec::with_capacity(n, GFP_KERNEL)?;
        for i in (0..n).rev() {
            v.push(PhysVec::new(0x10_0000 + (2 * i * P) as u64, P), GFP_KERNEL)?;
        }
        Ok(v)
    }

    const BIDI: DataDirection = DataDirection::Bidirectional;

    #[test]
    fn iova_64_ranges_one_entry_one_sync() -> Result {
        let f = Fake::new(true);
        let r = scattered(64)?;
        let raw = FakeProvider::new(0)?;
        let p = raw.provider();
        let m = Mapping::map(&f, &rg(&r)?, Some(&p), BIDI)?;
        assert_eq!(m.map_type(), MapType::Iova);
        assert_eq!(
            m.entries(),
            &[DmaVec {
                addr: IOVA_BASE,
                len: 64 * P
            }]
        );
        assert_eq!(
            f.count(|c| matches!(c, Call::Sync { off: 0, len } if *len == 64 * P)),
            1
        );
        // Each range linked once, at its own offset, as MMIO.
        let mmio = Attrs::MMIO;
        for (i, range) in r.iter().enumerate() {
            let want = Call::Link {
                phys: range.paddr(),
                off: i * P,
                len: P,
                attrs: mmio,
            };
            assert_eq!(f.count(|c| *c == want), 1);
        }
        drop(m);
        assert_eq!(f.count(|c| *c == Call::Destroy(64 * P)), 1);
        Ok(())
    }

    #[test]
    fn iova_ram_links_without_mmio_attr() -> Result {
        let f = Fake::new(true);
        let m = Mapping::map(&f, &rg(&scattered(2)?)?, None, BIDI)?;
        assert_eq!(m.map_type(), MapType::Iova);
        assert!(!m.is_mmio());
        assert_eq!(
            f.count(|c| matches!(
                c,
                Call::Link {
                    attrs: Attrs::EMPTY,
                    ..
                }
            )),
            2
        );
        Ok(())
    }

    #[test]
    fn iova_split_by_max_segment() -> Result {
        let mut f = Fake::new(true);
        f.limits = SegLimits::new(16 * P, u64::MAX)?;
        let m = Mapping::map(&f, &rg(&scattered(64)?)?, None, BIDI)?;
        assert_eq!(m.entries().len(), 4);
        for (i, e) in m.entries().iter().enumerate() {
            assert_eq!(
                *e,
                DmaVec {
                    addr: IOVA_BASE + (i * 16 * P) as u64,
                    len: 16 * P
                }
            );
        }
        Ok(())
    }

    #[test]
    fn iova_failure_at_k_of_n_unwinds() -> Result {
        for k in [0usize, 1, 5, 9] {
            let mut f = Fake::new(true);
            f.fail_link_at = Some(k);
            assert_eq!(
                Mapping::map(&f, &rg(&scattered(10)?)?, None, BIDI).err(),
                Some(EIO)
            );
            // Exactly the k linked ranges are destroyed (0: the IOVA space is freed), no sync.
            assert_eq!(f.count(|c| *c == Call::Destroy(k * P)), 1);
            assert_eq!(f.count(|c| matches!(c, Call::Destroy(_))), 1);
            assert_eq!(f.count(|c| matches!(c, Call::Sync { .. })), 0);
        }
        Ok(())
    }

    #[test]
    fn iova_sync_failure_unwinds_everything() -> Result {
        let mut f = Fake::new(true);
        f.fail_sync = true;
        assert_eq!(
            Mapping::map(&f, &rg(&scattered(8)?)?, None, BIDI).err(),
            Some(EIO)
        );
        assert_eq!(f.count(|c| *c == Call::Destroy(8 * P)), 1);
        Ok(())
    }

    #[test]
    fn iova_granule_larger_than_page_rejects_inner_boundary() -> Result {
        let mut f = Fake::new(true);
        f.granule = 16 * P as u64;
        let r = [PhysVec::new(0x10_0000, P), PhysVec::new(0x20_0000, P)];
        assert_eq!(Mapping::map(&f, &rg(&r)?, None, BIDI).err(), Some(EINVAL));
        assert_eq!(f.count(|c| matches!(c, Call::Link { .. })), 0);
        assert_eq!(f.count(|c| *c == Call::Destroy(0)), 1);
        Ok(())
    }

    /// The `Unmap` calls the fake saw, in order.
    fn unmaps(f: &Fake) -> Result<KVec<Call>> {
        let mut v = KVec::new();
        for c in f.calls.borrow().iter() {
            if matches!(c, Call::Unmap { .. }) {
                v.push(*c, GFP_KERNEL)?;
            }
        }
        Ok(v)
    }

    #[test]
    fn direct_maps_each_run_once_and_merges() -> Result {
        let f = Fake::new(false);
        let r = [
            PhysVec::new(0x1000, P),
            PhysVec::new(0x2000, 2 * P),
            PhysVec::new(0x8000, P),
        ];
        let m = Mapping::map(&f, &rg(&r)?, None, BIDI)?;
        assert_eq!(m.map_type(), MapType::Direct);
        // The two adjacent ranges are one run: one dma_map_phys() call.
        assert_eq!(f.count(|c| matches!(c, Call::Map { .. })), 2);
        assert_eq!(
            m.entries(),
            &[
                DmaVec {
                    addr: 0x1000 + DIRECT_OFFSET,
                    len: 3 * P
                },
                DmaVec {
                    addr: 0x8000 + DIRECT_OFFSET,
                    len: P
                },
            ]
        );
        // The entries match the runs: they are the unmap record, nothing else is allocated.
        assert_eq!(m.heap_bytes(), 2 * size_of::<DmaVec>());
        drop(m);
        // Unmapped as mapped: per run, in reverse.
        assert_eq!(
            &unmaps(&f)?[..],
            &[
                Call::Unmap {
                    addr: 0x8000 + DIRECT_OFFSET,
                    len: P
                },
                Call::Unmap {
                    addr: 0x1000 + DIRECT_OFFSET,
                    len: 3 * P
                },
            ]
        );
        Ok(())
    }

    #[test]
    fn direct_split_run_keeps_a_record() -> Result {
        let mut f = Fake::new(false);
        f.limits = SegLimits::new(2 * P, u64::MAX)?;
        // Run 0 fits one entry; run 1 (two adjacent ranges) is split by the limit.
        let r = [
            PhysVec::new(0x1000, P),
            PhysVec::new(0x3000, 2 * P),
            PhysVec::new(0x5000, P),
        ];
        let m = Mapping::map(&f, &rg(&r)?, None, BIDI)?;
        assert_eq!(m.entries().len(), 3);
        // The 3 entries do not match the 2 runs: a record keeps the runs as they were mapped.
        assert_eq!(
            m.mapped_runs(),
            &[
                DmaVec {
                    addr: 0x1000 + DIRECT_OFFSET,
                    len: P
                },
                DmaVec {
                    addr: 0x3000 + DIRECT_OFFSET,
                    len: 3 * P
                },
            ]
        );
        drop(m);
        assert_eq!(
            &unmaps(&f)?[..],
            &[
                Call::Unmap {
                    addr: 0x3000 + DIRECT_OFFSET,
                    len: 3 * P
                },
                Call::Unmap {
                    addr: 0x1000 + DIRECT_OFFSET,
                    len: P
                },
            ]
        );
        Ok(())
    }

    #[test]
    fn iova_links_each_run_once() -> Result {
        let f = Fake::new(true);
        // 64 pages of one region, split in 64 ranges, plus one range elsewhere.
        let mut r = KVec::with_capacity(65, GFP_KERNEL)?;
        for i in 0..64u64 {
            r.push(PhysVec::new(0x20_0000 + i * P as u64, P), GFP_KERNEL)?;
        }
        r.push(PhysVec::new(0x1000, P), GFP_KERNEL)?;
        let m = Mapping::map(&f, &rg(&r)?, None, BIDI)?;
        assert_eq!(m.entries().len(), 1);
        assert_eq!(f.count(|c| matches!(c, Call::Link { .. })), 2);
        let big = Call::Link {
            phys: 0x20_0000,
            off: 0,
            len: 64 * P,
            attrs: Attrs::EMPTY,
        };
        assert_eq!(f.count(|c| *c == big), 1);
        let small = Call::Link {
            phys: 0x1000,
            off: 64 * P,
            len: P,
            attrs: Attrs::EMPTY,
        };
        assert_eq!(f.count(|c| *c == small), 1);
        // The single entry is kept inline: nothing allocated.
        assert_eq!(m.heap_bytes(), 0);
        Ok(())
    }

    #[test]
    fn direct_failure_at_k_of_n_unwinds() -> Result {
        for k in [0usize, 1, 3, 5] {
            let mut f = Fake::new(false);
            f.fail_map_at = Some(k);
            assert_eq!(
                Mapping::map(&f, &rg(&scattered(6)?)?, None, BIDI).err(),
                Some(ENOMEM)
            );
            assert_eq!(f.count(|c| matches!(c, Call::Map { .. })), k);
            assert_eq!(f.count(|c| matches!(c, Call::Unmap { .. })), k);
        }
        // The same with a separate record: run 1 is split by the segment limit.
        let r = [
            PhysVec::new(0x1000, P),
            PhysVec::new(0x3000, 2 * P),
            PhysVec::new(0x9000, P),
            PhysVec::new(0xb000, P),
        ];
        for k in 0..4usize {
            let mut f = Fake::new(false);
            f.limits = SegLimits::new(P, u64::MAX)?;
            f.fail_map_at = Some(k);
            assert_eq!(Mapping::map(&f, &rg(&r)?, None, BIDI).err(), Some(ENOMEM));
            assert_eq!(f.count(|c| matches!(c, Call::Unmap { .. })), k);
        }
        Ok(())
    }

    /// MMIO without a translating IOMMU, with limits that admit the whole buffer: one entry
    /// per run, mapped once and unmapped once, through the checked and the unchecked entry
    /// points; a failure at the k-th run unwinds exactly the k before it.
    #[test]
    fn direct_mmio_whole_runs() -> Result {
        let raw = FakeProvider::new(0)?;
        let p = raw.provider();
        // Ranges 1 and 2 are adjacent: 5 ranges, 4 runs.
        let r = [
            PhysVec::new(0x9000, P),
            PhysVec::new(0x1000, P),
            PhysVec::new(0x2000, 2 * P),
            PhysVec::new(0x7000, P),
            PhysVec::new(0x20000, P),
        ];
        let checked = rg(&r)?;
        for unchecked in [true, false] {
            let mut f = Fake::new(false);
            f.granule = 0;
            let m = if unchecked {
                Mapping::map(&f, &rg(&r)?, Some(&p), BIDI)?
            } else {
                Mapping::map_checked(&f, &checked, Some((&p, P2pType::ThruHostBridge)), BIDI)?
            };
            assert_eq!(m.map_type(), MapType::Direct);
            let want = [(0x9000, P), (0x1000, 3 * P), (0x7000, P), (0x20000, P)];
            assert_eq!(m.entries().len(), want.len());
            for (e, (phys, len)) in m.entries().iter().zip(want) {
                assert_eq!(*e, v_at(phys + DIRECT_OFFSET, len));
            }
            drop(m);
            assert_eq!(f.count(|c| matches!(c, Call::Map { .. })), 4);
            assert_eq!(f.count(|c| matches!(c, Call::Unmap { .. })), 4);
        }
        // A single run is mapped alone, kept inline: one map, one unmap of it, and its entry
        // is the mapping that syncs and unmaps.
        let mut f = Fake::new(false);
        f.granule = 0;
        let m = Mapping::map(&f, &rg(&r[1..3])?, Some(&p), BIDI)?;
        let one = v_at(0x1000 + DIRECT_OFFSET, 3 * P);
        assert_eq!(m.entries(), &[one]);
        assert_eq!(m.mapped_runs(), &[one]);
        assert_eq!(m.heap_bytes(), 0);
        drop(m);
        let (phys, len) = (0x1000, 3 * P);
        assert_eq!(f.count(|c| *c == Call::Map { phys, len }), 1);
        let (addr, len) = (one.addr, one.len);
        assert_eq!(&unmaps(&f)?[..], &[Call::Unmap { addr, len }]);
        // Its failure leaves nothing mapped.
        let mut f = Fake::new(false);
        f.granule = 0;
        f.fail_map_at = Some(0);
        let e = Mapping::map(&f, &rg(&r[1..3])?, Some(&p), BIDI).err();
        assert_eq!(e, Some(ENOMEM));
        assert_eq!(f.calls.borrow().len(), 0);
        for k in 0..4usize {
            let mut f = Fake::new(false);
            f.granule = 0;
            f.fail_map_at = Some(k);
            assert_eq!(
                Mapping::map(&f, &rg(&r)?, Some(&p), BIDI).err(),
                Some(ENOMEM)
            );
            assert_eq!(f.count(|c| matches!(c, Call::Map { .. })), k);
            assert_eq!(f.count(|c| matches!(c, Call::Unmap { .. })), k);
        }
        Ok(())
    }

    fn v_at(addr: u64, len: usize) -> DmaVec {
        DmaVec { addr, len }
    }

    #[test]
    fn bus_addr_adds_offset_and_maps_nothing() -> Result {
        let mut f = Fake::new(true);
        f.p2p = P2pType::BusAddr;
        let raw = FakeProvider::new(0x4000_0000)?;
        let p = raw.provider();
        let r = [PhysVec::new(0xfd00_0000, P), PhysVec::new(0xfd00_1000, P)];
        let m = Mapping::map(&f, &rg(&r)?, Some(&p), BIDI)?;
        assert_eq!(m.map_type(), MapType::BusAddr);
        assert_eq!(
            m.entries(),
            &[DmaVec {
                addr: 0x1_3d00_0000,
                len: 2 * P
            }]
        );
        drop(m);
        assert_eq!(f.calls.borrow().len(), 0);
        Ok(())
    }

    /// A non-coherent importer maps system memory with `dma_map_phys()`, whose mappings the
    /// CPU access hooks can sync, even behind an IOMMU; MMIO still takes the IOVA path.
    #[test]
    fn non_coherent_importer_maps_ram_directly() -> Result {
        let mut f = Fake::new(true);
        f.coherent = false;
        let r = scattered(4)?;
        let m = Mapping::map(&f, &rg(&r)?, None, BIDI)?;
        assert_eq!(m.map_type(), MapType::Direct);
        assert_eq!(m.mapped_runs().len(), 4);
        drop(m);
        let raw = FakeProvider::new(0)?;
        let p = raw.provider();
        let m = Mapping::map(&f, &rg(&r)?, Some(&p), BIDI)?;
        assert_eq!(m.map_type(), MapType::Iova);
        assert!(m.mapped_runs().is_empty());
        Ok(())
    }

    /// An untrusted importer (`pci_dev->untrusted`) maps system memory with `dma_map_phys()`,
    /// whose bounce slots the CPU access hooks can sync, even behind an IOMMU and for ranges
    /// that would not bounce (a first range starting mid-page here, which would); MMIO, which
    /// never bounces, still takes the IOVA path.
    #[test]
    fn untrusted_importer_maps_ram_directly() -> Result {
        let mut f = Fake::new(true);
        f.untrusted = true;
        let mut r = scattered(4)?;
        r[0] = PhysVec::new(r[0].paddr() + 256, P - 256);
        let m = Mapping::map(&f, &rg(&r)?, None, BIDI)?;
        assert_eq!(m.map_type(), MapType::Direct);
        assert_eq!(m.mapped_runs().len(), 4);
        assert_eq!(
            m.mapped_runs()[0],
            v_at(r[0].paddr() + DIRECT_OFFSET, P - 256)
        );
        assert_eq!(
            f.count(|c| matches!(c, Call::Alloc(_) | Call::Link { .. })),
            0
        );
        drop(m);
        assert_eq!(f.count(|c| matches!(c, Call::Unmap { .. })), 4);
        let raw = FakeProvider::new(0)?;
        let p = raw.provider();
        let m = Mapping::map(&f, &rg(&scattered(4)?)?, Some(&p), BIDI)?;
        assert_eq!(m.map_type(), MapType::Iova);
        assert!(m.mapped_runs().is_empty());
        Ok(())
    }

    /// Bus addresses bypass the DMA API, so nothing else checks them against the importer's
    /// mask: a 32-bit importer is refused memory above 4 GiB (issue 12, item 11).
    #[test]
    fn bus_addr_beyond_the_dma_mask_is_erange() -> Result {
        let mut f = Fake::new(true);
        f.p2p = P2pType::BusAddr;
        f.dma_limit = 0xffff_ffff;
        let raw = FakeProvider::new(0)?;
        let p = raw.provider();
        // Below 4 GiB, up to the last byte the mask reaches: mapped.
        let low = [PhysVec::new(0xffff_f000, P)];
        assert_eq!(
            Mapping::map(&f, &rg(&low)?, Some(&p), BIDI)?
                .entries()
                .len(),
            1
        );
        // One range above 4 GiB, after one below: refused, nothing mapped.
        let high = [PhysVec::new(0xfd00_0000, P), PhysVec::new(0x2_0000_0000, P)];
        assert_eq!(
            Mapping::map(&f, &rg(&high)?, Some(&p), BIDI).err(),
            Some(ERANGE)
        );
        assert_eq!(f.calls.borrow().len(), 0);
        Ok(())
    }

    const GIB: usize = 1 << 30;

    /// 6 GiB of MMIO at 8 GiB, as two 3 GiB ranges in reverse order.
    fn six_gib_swapped() -> [PhysVec; 2] {
        let base = 0x2_0000_0000u64;
        [
            PhysVec::new(base + 3 * GIB as u64, 3 * GIB),
            PhysVec::new(base, 3 * GIB),
        ]
    }

    /// The arithmetic of issue 15: a buffer past 4 GiB is one entry for an importer that
    /// states no limit, and `ceil(size / max_seg)` page-aligned entries for one that does,
    /// whatever the maximum (a device's `UINT_MAX` included: rounded down to a page).
    #[test]
    fn six_gib_entries_follow_the_importer_limits() -> Result {
        let raw = FakeProvider::new(0)?;
        let p = raw.provider();
        let r = six_gib_swapped();
        let size = 6 * GIB;
        let mut f = Fake::new(true);
        let m = Mapping::map(&f, &rg(&r)?, Some(&p), BIDI)?;
        assert_eq!(m.map_type(), MapType::Iova);
        assert_eq!(m.entries(), &[v_at(IOVA_BASE, size)]);
        drop(m);
        for max in [GIB, GIB + GIB / 2, u32::MAX as usize, 5 * GIB, 7 * GIB] {
            f.limits = SegLimits::new(max, u64::MAX)?;
            let m = Mapping::map(&f, &rg(&r)?, Some(&p), BIDI)?;
            let seg = max & !(P - 1);
            assert_eq!(m.entries().len(), size.div_ceil(seg));
            let mut addr = IOVA_BASE;
            for e in m.entries() {
                assert_eq!(e.addr, addr);
                assert!(e.len <= seg);
                assert_eq!(e.addr % P as u64, 0);
                assert_eq!(e.len % P, 0);
                addr += e.len as u64;
            }
            assert_eq!(addr - IOVA_BASE, size as u64);
        }
        // A 4 GiB boundary splits at each multiple of 4 GiB of the IOVA.
        f.limits = SegLimits::new(usize::MAX, (4 * GIB - 1) as u64)?;
        let m = Mapping::map(&f, &rg(&r)?, Some(&p), BIDI)?;
        let first = (4 * GIB) as u64 - IOVA_BASE % (4 * GIB) as u64;
        assert_eq!(m.entries().len(), 2 + usize::from(first < 2 * GIB as u64));
        assert_eq!(m.entries()[0].len as u64, first);
        Ok(())
    }

    /// An importer whose DMA mask cannot address the buffer is refused before any DMA call,
    /// on every path: behind an IOMMU the IOVA space is too small, and without one MMIO
    /// beyond the mask would make the DMA API warn.
    #[test]
    fn buffer_beyond_the_mask_is_erange_before_any_call() -> Result {
        let raw = FakeProvider::new(0)?;
        let p = raw.provider();
        let mut f = Fake::new(true);
        f.dma_limit = 0xffff_ffff;
        assert_eq!(
            Mapping::map(&f, &rg(&six_gib_swapped())?, Some(&p), BIDI).err(),
            Some(ERANGE)
        );
        assert_eq!(
            f.count(|c| matches!(c, Call::Link { .. } | Call::Map { .. })),
            0
        );
        // Exactly 4 GiB fits a 32-bit mask behind an IOMMU.
        let four = [PhysVec::new(0x2_0000_0000, 4 * GIB)];
        assert_eq!(
            Mapping::map(&f, &rg(&four)?, Some(&p), BIDI)?
                .entries()
                .len(),
            1
        );
        assert_eq!(f.count(|c| matches!(c, Call::Link { .. })), 1);
        // No IOMMU: MMIO above 4 GiB is out of a 32-bit importer's reach, RAM may bounce.
        let mut d = Fake::new(false);
        d.granule = 0;
        d.dma_limit = 0xffff_ffff;
        let high = [PhysVec::new(0xfd00_0000, P), PhysVec::new(0x2_0000_0000, P)];
        assert_eq!(
            Mapping::map(&d, &rg(&high)?, Some(&p), BIDI).err(),
            Some(ERANGE)
        );
        assert_eq!(d.count(|c| matches!(c, Call::Map { .. })), 0);
        let m = Mapping::map(&d, &rg(&high)?, None, BIDI)?;
        assert_eq!(m.map_type(), MapType::Direct);
        assert_eq!(d.count(|c| matches!(c, Call::Map { .. })), 2);
        Ok(())
    }

    #[test]
    fn not_supported_is_eperm_without_calls() -> Result {
        let mut f = Fake::new(true);
        f.p2p = P2pType::NotSupported;
        let raw = FakeProvider::new(0)?;
        let p = raw.provider();
        assert_eq!(
            Mapping::map(&f, &rg(&scattered(2)?)?, Some(&p), BIDI).err(),
            Some(EPERM)
        );
        assert_eq!(f.calls.borrow().len(), 0);
        Ok(())
    }

    /// Bad ranges never become a `Ranges`: nothing can try to map them.
    #[test]
    fn bad_input_is_refused_by_ranges() -> Result {
        assert_eq!(rg(&[]).err(), Some(EINVAL));
        let wrap = [PhysVec::new(u64::MAX - P as u64 + 1, 2 * P)];
        assert_eq!(rg(&wrap).err(), Some(EOVERFLOW));
        let zero = [PhysVec::new(0x1000, P), PhysVec::new(0x3000, 0)];
        assert_eq!(rg(&zero).err(), Some(EINVAL));
        Ok(())
    }

    /// Ranges of a BAR need no promise, since unbinding revokes the buffers exported from
    /// them: they must lie in the BAR, and only an exported buffer maps them.
    #[test]
    fn bar_ranges_only_map_through_a_buffer() -> Result {
        let raw = FakeProvider::new(0)?;
        let mut p = raw.provider();
        let bar = 0x1_0000_0000u64;
        let v = |addr: u64, len: usize| -> Result<KVec<PhysVec>> {
            let mut v = KVec::new();
            v.push(PhysVec::new(addr, len), GFP_KERNEL)?;
            Ok(v)
        };
        // Not a provider of a BAR.
        assert_eq!(Ranges::of_bar(v(bar, P)?, &p).err(), Some(EINVAL));
        p.bar = Some((bar, bar + 16 * P as u64 - 1));
        assert_eq!(
            Ranges::of_bar(v(bar - P as u64, P)?, &p).err(),
            Some(EINVAL)
        );
        assert_eq!(
            Ranges::of_bar(v(bar + 15 * P as u64, 2 * P)?, &p).err(),
            Some(EINVAL)
        );
        assert_eq!(Ranges::of_bar(v(bar, 0)?, &p).err(), Some(EINVAL));
        let r = Ranges::of_bar(v(bar + P as u64, 15 * P)?, &p)?;
        assert!(r.bar_provider().is_some());
        let f = Fake::new(true);
        assert_eq!(Mapping::map(&f, &r, Some(&p), BIDI).err(), Some(EPERM));
        let route = Some((&p, P2pType::ThruHostBridge));
        assert_eq!(Mapping::map_checked(&f, &r, route, BIDI).err(), Some(EPERM));
        assert_eq!(f.calls.borrow().len(), 0);
        let m = Mapping::map_exported(&f, &r, route, BIDI)?;
        assert_eq!(m.entries(), &[v_at(IOVA_BASE, 15 * P)]);
        Ok(())
    }
}
