// SPDX-License-Identifier: GPL-2.0

//! Physical input ranges and DMA output entries.
//!
//! [`PhysVec`] is the kernel's `struct phys_vec`: plain data, which anyone may build and
//! check ([`check_phys_ranges`]). [`Ranges`] is what gets mapped: an exporter's ranges,
//! checked once, and vouched for, either by an `unsafe` promise ([`Ranges::new`]) or because
//! they lie in a BAR whose unbind revokes every buffer exported from it ([`Ranges::of_bar`]).
//! Only a [`Ranges`] hands out the [`PhysRange`]s the DMA API maps ([`Ranges::phys_runs`]), and
//! the page frames user space maps ([`Ranges::pfn`]); those, and [`Ranges::new`], are in
//! [`crate::ffi`], the helper's one file of `unsafe` promises.
//!
//! [`PhysRange`]: kernel::dma::iova::PhysRange
//! [`DmaVec`] is the kernel's `struct dma_vec` (what an importer gets back).
//! [`SegLimits`] holds an importer's segment constraints, and
//! [`SegLimits::push`] appends a DMA-contiguous range to an output array,
//! merging it into the previous entry where the two touch and splitting it
//! wherever the importer's maximum segment size or segment boundary requires.
//!
//! C headers: [`include/linux/dmaengine.h`](srctree/include/linux/dmaengine.h)
//! (`struct dma_vec`), [`include/linux/types.h`](srctree/include/linux/types.h)
//! (`struct phys_vec`).

use crate::{ffi::Vouched, map::Provider};
use kernel::{page::PAGE_SIZE, prelude::*};

pub use crate::ffi::PhysRuns;
pub use kernel::dma::iova::DmaVec;

/// A bus address as the importing device sees it (`dma_addr_t`).
pub type DmaAddr = kernel::dma::DmaAddress;

/// A physical address (`phys_addr_t`).
pub type PhysAddr = kernel::io::PhysAddr;

/// One range of an exporter's buffer: the kernel's `struct phys_vec`.
///
/// Plain data: building one promises nothing, and nothing maps it. Only a [`Ranges`] made of
/// them is mapped.
#[repr(C)]
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PhysVec {
    paddr: PhysAddr,
    len: usize,
}

// `struct phys_vec` is { phys_addr_t paddr; size_t len; } (the C API asserts the same).
const _: () = assert!(size_of::<PhysVec>() == 16 && align_of::<PhysVec>() == 8);

impl PhysVec {
    /// A range of `len` bytes at physical address `paddr`.
    pub const fn new(paddr: PhysAddr, len: usize) -> Self {
        Self { paddr, len }
    }

    /// The physical start address.
    pub const fn paddr(&self) -> PhysAddr {
        self.paddr
    }

    /// The length in bytes.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the range is empty.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole of one page of system memory.
    pub fn from_page(page: &kernel::page::Page) -> Self {
        Self::new(page.phys_addr(), PAGE_SIZE)
    }
}

impl core::fmt::Debug for PhysVec {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "[{:#x} + {:#x}]", self.paddr(), self.len())
    }
}

/// Checks an exporter's ranges and returns their total length.
///
/// The rules are those of the IOVA-linking API, applied whatever path a
/// mapping later takes, so that a buffer maps the same way for every
/// importer: every range is non-empty and does not wrap the physical
/// address space; every boundary *between* two ranges is page aligned (the
/// first range may start and the last may end anywhere in a page); and the
/// total fits in a mapping size (below 2^63, whose top bit the IOVA API
/// reserves).
///
/// # Errors
///
/// `EINVAL` for no ranges, an empty range or a misaligned inner boundary;
/// `EOVERFLOW` when a range wraps or the total is too large.
pub fn check_phys_ranges(ranges: &[PhysVec]) -> Result<usize> {
    const P: PhysAddr = PAGE_SIZE as PhysAddr;
    let n = ranges.len();
    if n == 0 {
        return Err(EINVAL);
    }
    let mut total: usize = 0;
    for (i, r) in ranges.iter().enumerate() {
        if r.is_empty() {
            return Err(EINVAL);
        }
        let last = r
            .paddr()
            .checked_add(r.len() as PhysAddr - 1)
            .ok_or(EOVERFLOW)?;
        if (i > 0 && r.paddr() % P != 0) || (i + 1 < n && last % P != P - 1) {
            return Err(EINVAL);
        }
        total = total.checked_add(r.len()).ok_or(EOVERFLOW)?;
    }
    if total as u64 >= 1 << 63 {
        return Err(EOVERFLOW);
    }
    Ok(total)
}

/// An exporter's ranges, checked once, that may be mapped for DMA and into user space: what
/// [`crate::export`] exports and [`crate::Mapping::map`] maps.
///
/// # Invariants
///
/// `v` passes [`check_phys_ranges`] with the total `size`, has `runs` [`runs`], and `last` is
/// the highest address of any of its bytes.
///
/// The memory of `v` may be read and written by DMA of any device and mapped into user space,
/// and stays valid for as long as `self` and any mapping made from it exist, when `bar` is
/// `None` (the promise of [`Ranges::new`]'s caller). When `bar` is `Some`, `v` lies in the
/// BAR of that [`Provider::of_bar`] provider: MMIO of a bound device, which stays valid until
/// the device is unbound, and unbinding revokes every buffer exported with the provider,
/// waiting for its mappings; such ranges are only mapped through such a buffer.
pub struct Ranges {
    v: KVec<PhysVec>,
    size: usize,
    runs: usize,
    last: PhysAddr,
    bar: Option<Provider>,
}

impl Ranges {
    /// Checks `v` ([`check_phys_ranges`]) and counts its runs, its memory vouched for by the
    /// caller of [`Ranges::new`] (in [`crate::ffi`], the one maker of a [`Vouched`]).
    pub(crate) fn vouched(v: KVec<PhysVec>, _: Vouched) -> Result<Self> {
        // INVARIANT: `Ranges::new`'s caller vouches for the memory.
        Self::checked(v, None)
    }

    /// Checks `v` ([`check_phys_ranges`]), each range of which must lie in the BAR of
    /// `provider`, a [`Provider::of_bar`].
    ///
    /// Such ranges need no promise: when the BAR's device is unbound, every buffer exported
    /// with `provider` is revoked for good before the BAR goes away. They can only be
    /// exported, with `provider` ([`crate::export`]); [`crate::Mapping::map`] refuses them.
    ///
    /// # Errors
    ///
    /// `EINVAL` if `provider` is not of a BAR or a range lies outside it, else as
    /// [`check_phys_ranges`].
    ///
    /// # Examples
    ///
    /// ```ignore
    /// // In probe: `let provider = dmavec::Provider::of_bar(pdev, 2)?;`
    /// let mut v = KVec::new();
    /// v.push(PhysVec::new(bar_start + offset, len), GFP_KERNEL)?;
    /// let ranges = Ranges::of_bar(v, &provider)?;
    /// ```
    pub fn of_bar(v: KVec<PhysVec>, provider: &Provider) -> Result<Self> {
        let (start, end) = provider.bar().ok_or(EINVAL)?;
        for r in v.iter() {
            // Empty or wrapping ranges are left to `check_phys_ranges()`.
            let Some(last) = r
                .paddr()
                .checked_add((r.len() as PhysAddr).saturating_sub(1))
            else {
                return Err(EOVERFLOW);
            };
            if r.paddr() < start || last > end {
                return Err(EINVAL);
            }
        }
        // INVARIANT: Within the BAR of an `of_bar` provider, which `bar` keeps.
        Self::checked(v, Some(provider.clone()))
    }

    fn checked(v: KVec<PhysVec>, bar: Option<Provider>) -> Result<Self> {
        let size = check_phys_ranges(&v)?;
        let runs = runs(&v).count();
        let last = last_byte(&v);
        // INVARIANT: Checked and counted just now; `v` cannot change afterwards. The memory
        // is as our callers state.
        Ok(Self {
            v,
            size,
            runs,
            last,
            bar,
        })
    }

    /// The highest physical address of the buffer's bytes.
    pub fn last_byte(&self) -> PhysAddr {
        self.last
    }

    /// The total length.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The number of runs of physically adjacent ranges.
    pub fn runs(&self) -> usize {
        self.runs
    }

    /// The provider whose BAR holds the ranges, for ranges of [`Ranges::of_bar`].
    pub fn bar_provider(&self) -> Option<&Provider> {
        self.bar.as_ref()
    }
}

impl core::ops::Deref for Ranges {
    type Target = [PhysVec];

    fn deref(&self) -> &[PhysVec] {
        &self.v
    }
}

/// The highest address of any byte of `ranges`, which passed [`check_phys_ranges`] (so no
/// range wraps).
pub fn last_byte(ranges: &[PhysVec]) -> PhysAddr {
    ranges
        .iter()
        .map(|r| r.paddr() + (r.len() as PhysAddr - 1))
        .max()
        .unwrap_or(0)
}

/// The runs of `ranges`: maximal sequences of ranges that are physically adjacent (each starts
/// where the one before it ends), each merged into one range.
///
/// Mapping a run with one call instead of one per range saves DMA API calls and, on the IOVA
/// path, lets the IOMMU driver use large pages where the run and its IOVA are aligned.
#[inline]
pub fn runs(ranges: &[PhysVec]) -> Runs<'_> {
    Runs { rest: ranges }
}

/// The iterator of [`runs`].
pub struct Runs<'a> {
    rest: &'a [PhysVec],
}

impl Runs<'_> {
    /// The next range as a run of its own, for ranges known to have no adjacent pair: the
    /// runs are then the ranges, and none needs comparing with the next.
    #[inline]
    fn next_alone(&mut self) -> Option<PhysVec> {
        let (r, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(*r)
    }
}

/// The runs of a [`Ranges`], which knows whether any two of its ranges are adjacent: without
/// any, each range is a run of its own, and none is compared with the next.
pub struct RangesRuns<'a> {
    runs: Runs<'a>,
    merge: bool,
}

impl<'a> RangesRuns<'a> {
    /// `runs`, merging adjacent ranges only if `merge`.
    #[inline]
    pub(crate) fn new(runs: Runs<'a>, merge: bool) -> Self {
        Self { runs, merge }
    }
}

impl Iterator for RangesRuns<'_> {
    type Item = PhysVec;

    #[inline]
    fn next(&mut self) -> Option<PhysVec> {
        if self.merge {
            self.runs.next()
        } else {
            self.runs.next_alone()
        }
    }
}

impl Iterator for Runs<'_> {
    type Item = PhysVec;

    #[inline]
    fn next(&mut self) -> Option<PhysVec> {
        let (first, mut rest) = self.rest.split_first()?;
        let (paddr, mut len) = (first.paddr(), first.len());
        while let Some((r, tail)) = rest.split_first() {
            // A run never reaches past the end of the physical address space or of `usize`.
            let adjacent = paddr
                .checked_add(len as PhysAddr)
                .is_some_and(|end| end == r.paddr());
            match len.checked_add(r.len()) {
                Some(l) if adjacent => len = l,
                _ => break,
            }
            rest = tail;
        }
        self.rest = rest;
        Some(PhysVec::new(paddr, len))
    }
}

/// An importer's segment constraints.
///
/// # Invariants
///
/// `max_seg` is a non-zero multiple of `PAGE_SIZE`; `boundary_mask + 1` is a
/// power of two no smaller than `PAGE_SIZE`, or `boundary_mask` is all ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SegLimits {
    max_seg: usize,
    boundary_mask: u64,
}

impl SegLimits {
    /// No limit: one entry per DMA-contiguous run.
    pub const UNLIMITED: Self = Self {
        // INVARIANT: `usize::MAX & PAGE_MASK` is a non-zero multiple of `PAGE_SIZE`; the mask is
        // all ones.
        max_seg: usize::MAX & !(PAGE_SIZE - 1),
        boundary_mask: u64::MAX,
    };

    /// Builds limits from `dma_get_max_seg_size()` and `dma_get_seg_boundary()`.
    ///
    /// The maximum segment size is rounded down to `PAGE_SIZE`, since entries
    /// are built from whole pages.
    ///
    /// # Errors
    ///
    /// `EINVAL` if the maximum segment size is smaller than a page, or the
    /// boundary mask is not of the form `2^n - 1` with `2^n >= PAGE_SIZE`.
    #[inline]
    pub fn new(max_seg_size: usize, boundary_mask: u64) -> Result<Self> {
        let max_seg = max_seg_size & !(PAGE_SIZE - 1);
        let boundary_ok = boundary_mask == u64::MAX
            || (boundary_mask.wrapping_add(1).is_power_of_two()
                && boundary_mask >= PAGE_SIZE as u64 - 1);
        if max_seg == 0 || !boundary_ok {
            return Err(EINVAL);
        }
        // INVARIANT: checked just above.
        Ok(Self {
            max_seg,
            boundary_mask,
        })
    }

    /// The maximum segment length in bytes.
    pub const fn max_seg(&self) -> usize {
        self.max_seg
    }

    /// Whether a DMA-contiguous range of `len` bytes never needs a split, wherever it lies:
    /// no boundary, and no longer than the maximum segment.
    #[inline]
    pub const fn admits(&self, len: usize) -> bool {
        self.boundary_mask == u64::MAX && len <= self.max_seg
    }

    /// Whether [`SegLimits::push`] of `seg` onto `out` appends exactly `seg` as a new entry:
    /// `seg` does not continue the last entry and needs no split.
    #[inline]
    pub fn appends_whole(&self, out: &[DmaVec], seg: DmaVec) -> bool {
        let continues = out
            .last()
            .is_some_and(|l| l.addr.wrapping_add(l.len as DmaAddr) == seg.addr);
        !continues && seg.len > 0 && self.room(seg.addr, 0) >= seg.len
    }

    /// How many more bytes an entry that starts at `start` and holds `used`
    /// bytes may take: bounded by the maximum segment size, and by the end of
    /// the boundary window that `start` lies in.
    #[inline]
    fn room(&self, start: DmaAddr, used: usize) -> usize {
        let by_size = self.max_seg.saturating_sub(used);
        // Bytes of `start`'s window from `start` on, minus one (the window may be all of 2^64).
        let span = (start | self.boundary_mask) - start;
        let used = used as u64;
        let by_bound = if used > span {
            Some(0)
        } else {
            // `None`: 2^64 bytes, beyond any `usize`.
            (span - used).checked_add(1)
        };
        match by_bound {
            Some(b) if b < by_size as u64 => b as usize,
            _ => by_size,
        }
    }

    /// Appends the DMA-contiguous range `[addr, addr + len)` to `out`.
    ///
    /// The range is merged into the last entry of `out` if that entry ends at
    /// `addr`, and is split so that no entry is longer than the maximum
    /// segment size or crosses a segment boundary. On error `out` may hold a
    /// prefix of the range; callers drop or truncate it while unwinding.
    ///
    /// # Errors
    ///
    /// `EINVAL` for an empty range, `EOVERFLOW` if it wraps the address
    /// space, `ENOMEM` if `out` cannot grow.
    pub fn push(&self, out: &mut KVec<DmaVec>, mut addr: DmaAddr, mut len: usize) -> Result {
        if len == 0 {
            return Err(EINVAL);
        }
        addr.checked_add(len as DmaAddr - 1).ok_or(EOVERFLOW)?;
        while len > 0 {
            if let Some(last) = out.last_mut() {
                if last.addr.wrapping_add(last.len as DmaAddr) == addr {
                    let n = self.room(last.addr, last.len).min(len);
                    if n > 0 {
                        last.len += n;
                        // Wraps only past the last byte of the address space, when `len` hits 0.
                        addr = addr.wrapping_add(n as DmaAddr);
                        len -= n;
                        continue;
                    }
                }
            }
            let n = self.room(addr, 0).min(len);
            out.push(DmaVec { addr, len: n }, GFP_KERNEL)?;
            addr = addr.wrapping_add(n as DmaAddr);
            len -= n;
        }
        Ok(())
    }
}

#[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
#[kunit_tests(dmavec_range)]
mod tests {
    use super::*;

    const P: usize = PAGE_SIZE;

    fn v(addr: u64, len: usize) -> DmaVec {
        DmaVec { addr, len }
    }

    #[test]
    fn phys_ranges_total() -> Result {
        let r = [PhysVec::new(0x10000, P), PhysVec::new(0x40000, 3 * P)];
        assert_eq!(check_phys_ranges(&r), Ok(4 * P));
        Ok(())
    }

    #[test]
    fn phys_ranges_rejects_bad_input() -> Result {
        assert_eq!(check_phys_ranges(&[]), Err(EINVAL));
        assert_eq!(check_phys_ranges(&[PhysVec::new(0x1000, 0)]), Err(EINVAL));
        let top = PhysAddr::MAX - P as PhysAddr + 1;
        assert_eq!(check_phys_ranges(&[PhysVec::new(top, P)]), Ok(P));
        assert_eq!(
            check_phys_ranges(&[PhysVec::new(top, 2 * P)]),
            Err(EOVERFLOW)
        );
        let big = 1usize << 62;
        let two = [PhysVec::new(0, big), PhysVec::new(1 << 62, big)];
        assert_eq!(check_phys_ranges(&two), Err(EOVERFLOW));
        Ok(())
    }

    #[test]
    fn phys_ranges_inner_boundaries_must_be_aligned() -> Result {
        // A single range may start and end anywhere.
        assert_eq!(check_phys_ranges(&[PhysVec::new(0x1800, 100)]), Ok(100));
        // First may start mid-page, last may end mid-page.
        let ok = [PhysVec::new(0x1800, 0x800), PhysVec::new(0x8000, 0x10)];
        assert_eq!(check_phys_ranges(&ok), Ok(0x810));
        // A second range starting mid-page.
        let bad = [PhysVec::new(0x1000, P), PhysVec::new(0x8800, P)];
        assert_eq!(check_phys_ranges(&bad), Err(EINVAL));
        // A first range ending mid-page.
        let bad = [PhysVec::new(0x1000, P + 8), PhysVec::new(0x8000, P)];
        assert_eq!(check_phys_ranges(&bad), Err(EINVAL));
        Ok(())
    }

    #[test]
    fn limits_round_and_reject() -> Result {
        assert_eq!(SegLimits::new(P + 123, u64::MAX)?.max_seg(), P);
        assert_eq!(SegLimits::new(P - 1, u64::MAX), Err(EINVAL));
        assert_eq!(SegLimits::new(P, 0xfff0), Err(EINVAL));
        assert_eq!(SegLimits::new(P, (P as u64 / 2) - 1), Err(EINVAL));
        assert!(SegLimits::new(P, 0xffff_ffff).is_ok());
        Ok(())
    }

    #[test]
    fn runs_merge_physically_adjacent_ranges() -> Result {
        let r = [
            PhysVec::new(0x1000, P),
            PhysVec::new(0x2000, 2 * P),
            PhysVec::new(0x8000, P),
            PhysVec::new(0x7000, P),
            PhysVec::new(0x8000, P),
        ];
        let mut out = KVec::new();
        for run in runs(&r) {
            out.push((run.paddr(), run.len()), GFP_KERNEL)?;
        }
        assert_eq!(&out[..], &[(0x1000, 3 * P), (0x8000, P), (0x7000, 2 * P)]);
        // Never across the end of the physical address space.
        let top = u64::MAX - P as u64 + 1;
        let r = [PhysVec::new(top, P), PhysVec::new(0, P)];
        assert_eq!(runs(&r).count(), 2);
        assert_eq!(runs(&[]).count(), 0);
        Ok(())
    }

    #[test]
    fn appends_whole_only_without_merge_or_split() -> Result {
        let lim = SegLimits::new(4 * P, 0xffff)?;
        let out = [v(0x1000, P)];
        assert!(lim.appends_whole(&out, v(0x3000, P)));
        assert!(!lim.appends_whole(&out, v(0x2000, P)));
        assert!(!lim.appends_whole(&out, v(0x3000, 5 * P)));
        assert!(!lim.appends_whole(&out, v(0xf000, 2 * P)));
        assert!(lim.appends_whole(&[], v(0xe000, 2 * P)));
        Ok(())
    }

    #[test]
    fn adjacent_ranges_merge_into_one_entry() -> Result {
        let mut out = KVec::new();
        for i in 0..64u64 {
            SegLimits::UNLIMITED.push(&mut out, 0x10_0000 + i * P as u64, P)?;
        }
        assert_eq!(out.len(), 1);
        assert_eq!(out[0], v(0x10_0000, 64 * P));
        Ok(())
    }

    #[test]
    fn gaps_start_new_entries() -> Result {
        let mut out = KVec::new();
        SegLimits::UNLIMITED.push(&mut out, 0x1000, P)?;
        SegLimits::UNLIMITED.push(&mut out, 0x3000, P)?;
        SegLimits::UNLIMITED.push(&mut out, 0x4000, P)?;
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], v(0x1000, P));
        assert_eq!(out[1], v(0x3000, 2 * P));
        Ok(())
    }

    #[test]
    fn split_by_max_segment() -> Result {
        let lim = SegLimits::new(4 * P + 100, u64::MAX)?;
        let mut out = KVec::new();
        lim.push(&mut out, 0x100_0000, 10 * P)?;
        assert_eq!(out.len(), 3);
        assert_eq!(out[0], v(0x100_0000, 4 * P));
        assert_eq!(out[1], v(0x100_0000 + 4 * P as u64, 4 * P));
        assert_eq!(out[2], v(0x100_0000 + 8 * P as u64, 2 * P));
        // A following adjacent range first fills the last entry.
        lim.push(&mut out, 0x100_0000 + 10 * P as u64, 3 * P)?;
        assert_eq!(out.len(), 4);
        assert_eq!(out[2].len, 4 * P);
        assert_eq!(out[3], v(0x100_0000 + 12 * P as u64, P));
        Ok(())
    }

    #[test]
    fn split_at_segment_boundary() -> Result {
        // 64 KiB boundary; the range starts 2 pages below it.
        let lim = SegLimits::new(usize::MAX, 0xffff)?;
        let mut out = KVec::new();
        lim.push(&mut out, 0x1_0000 - 2 * P as u64, 5 * P)?;
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], v(0x1_0000 - 2 * P as u64, 2 * P));
        assert_eq!(out[1], v(0x1_0000, 3 * P));
        for e in out.iter() {
            assert_eq!(e.addr >> 16, (e.addr + e.len as u64 - 1) >> 16);
        }
        Ok(())
    }

    #[test]
    fn no_merge_across_boundary() -> Result {
        // The first entry fills its 64 KiB window exactly; the adjacent next range must not
        // extend it into the next window.
        let lim = SegLimits::new(usize::MAX, 0xffff)?;
        let mut out = KVec::new();
        lim.push(&mut out, 0x2_0000, 0x1_0000)?;
        lim.push(&mut out, 0x3_0000, P)?;
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], v(0x2_0000, 0x1_0000));
        assert_eq!(out[1], v(0x3_0000, P));
        Ok(())
    }

    #[test]
    fn push_rejects_empty_and_wrapping() -> Result {
        let mut out = KVec::new();
        assert_eq!(SegLimits::UNLIMITED.push(&mut out, 0x1000, 0), Err(EINVAL));
        assert_eq!(
            SegLimits::UNLIMITED.push(&mut out, u64::MAX - P as u64 + 2, P),
            Err(EOVERFLOW)
        );
        assert!(out.is_empty());
        // The very last page of the address space is fine.
        SegLimits::UNLIMITED.push(&mut out, u64::MAX - P as u64 + 1, P)?;
        assert_eq!(out.len(), 1);
        Ok(())
    }
}
