// SPDX-License-Identifier: GPL-2.0

//! The device-memory allocator: page ranges of the BAR, kept in a maple tree.
//!
//! Allocation is `mtree_alloc_range()` (lowest fit, O(log n)); an aligned allocation retries
//! from the next aligned boundary past a misaligned fit, so it costs one search per used block
//! it skips. Free ranges are the maple tree's gaps: no fragmentation bookkeeping of our own.

use kernel::{
    maple_tree::AllocErrorKind,
    prelude::*,
    sync::atomic::{Atomic, Relaxed},
};

/// An allocating maple tree that several threads use: it serialises access itself.
pub(crate) type SharedTree<T> = kernel::maple_tree::MapleTreeAlloc<T>;

/// Page ranges `[0, pages)` of a BAR, allocated in whole pages.
#[pin_data]
pub(crate) struct BarAlloc {
    /// Each allocation is one entry over its pages; its value is its length in pages.
    #[pin]
    tree: SharedTree<KBox<usize>>,
    pages: usize,
    free: Atomic<u64>,
}

impl BarAlloc {
    /// An allocator of `pages` pages, all free.
    pub(crate) fn new(pages: usize) -> impl PinInit<Self> {
        let free = Atomic::new(pages as u64);
        pin_init!(Self {
            tree <- SharedTree::new(),
            pages,
            free,
        })
    }

    /// Pages not allocated.
    pub(crate) fn free_pages(&self) -> u64 {
        self.free.load(Relaxed)
    }

    /// Allocates `n` pages whose first page index is a multiple of `align` (a power of two).
    /// Returns the first page index.
    ///
    /// # Errors
    ///
    /// `EINVAL` for `n == 0` or an `align` that is not a power of two, `ENOSPC` when no free
    /// range fits, `ENOMEM`.
    pub(crate) fn alloc(&self, n: usize, align: usize) -> Result<usize> {
        if n == 0 || !align.is_power_of_two() {
            return Err(EINVAL);
        }
        if n > self.pages {
            return Err(ENOSPC);
        }
        let last = self.pages - 1;
        let mut min = 0usize;
        while min + n <= self.pages {
            let idx = self
                .tree
                .alloc_range(n, KBox::new(n, GFP_KERNEL)?, min..=last, GFP_KERNEL)
                .map_err(|e| match e.cause {
                    AllocErrorKind::Busy => ENOSPC,
                    AllocErrorKind::InvalidRequest => EINVAL,
                    _ => ENOMEM,
                })?;
            if idx % align == 0 {
                self.free.fetch_sub(n as u64, Relaxed);
                return Ok(idx);
            }
            drop(self.tree.erase(idx));
            min = idx.checked_next_multiple_of(align).ok_or(ENOSPC)?;
        }
        Err(ENOSPC)
    }

    /// Frees the allocation that starts at page `first`.
    pub(crate) fn free(&self, first: usize) {
        if let Some(n) = self.tree.erase(first) {
            self.free.fetch_add(*n as u64, Relaxed);
        }
    }
}

#[cfg(CONFIG_DMAVEC_KUNIT_TEST)]
#[kunit_tests(dmavec_bar_alloc)]
mod tests {
    use super::*;

    fn new(pages: usize) -> Result<Pin<KBox<BarAlloc>>> {
        KBox::pin_init(BarAlloc::new(pages), GFP_KERNEL)
    }

    #[test]
    fn lowest_fit_and_reuse() -> Result {
        let a = new(16)?;
        assert_eq!(a.alloc(4, 1), Ok(0));
        assert_eq!(a.alloc(4, 1), Ok(4));
        assert_eq!(a.free_pages(), 8);
        a.free(0);
        assert_eq!(a.free_pages(), 12);
        // The hole at 0 is reused; a larger request goes past it.
        assert_eq!(a.alloc(2, 1), Ok(0));
        assert_eq!(a.alloc(4, 1), Ok(8));
        Ok(())
    }

    #[test]
    fn alignment() -> Result {
        let a = new(64)?;
        assert_eq!(a.alloc(1, 1), Ok(0));
        assert_eq!(a.alloc(4, 8), Ok(8));
        assert_eq!(a.alloc(1, 1), Ok(1));
        assert_eq!(a.alloc(16, 16), Ok(16));
        assert_eq!(a.alloc(8, 32), Ok(32));
        assert_eq!(a.alloc(3, 3), Err(EINVAL));
        assert_eq!(a.alloc(0, 1), Err(EINVAL));
        Ok(())
    }

    #[test]
    fn exhaustion_and_fragmentation() -> Result {
        let a = new(8)?;
        assert_eq!(a.alloc(9, 1), Err(ENOSPC));
        for i in 0..8 {
            assert_eq!(a.alloc(1, 1), Ok(i));
        }
        assert_eq!(a.alloc(1, 1), Err(ENOSPC));
        // Free every other page: 4 pages free, but no 2 contiguous.
        for i in (0..8).step_by(2) {
            a.free(i);
        }
        assert_eq!(a.free_pages(), 4);
        assert_eq!(a.alloc(2, 1), Err(ENOSPC));
        a.free(1);
        assert_eq!(a.alloc(3, 1), Ok(0));
        assert_eq!(a.alloc(2, 2), Err(ENOSPC));
        Ok(())
    }

    #[test]
    fn aligned_request_skips_used_blocks() -> Result {
        let a = new(64)?;
        assert_eq!(a.alloc(1, 1), Ok(0));
        assert_eq!(a.alloc(1, 16), Ok(16));
        assert_eq!(a.alloc(1, 16), Ok(32));
        assert_eq!(a.alloc(16, 16), Ok(48));
        assert_eq!(a.alloc(16, 16), Err(ENOSPC));
        assert_eq!(a.alloc(15, 1), Ok(1));
        Ok(())
    }
}
