// SPDX-License-Identifier: GPL-2.0

//! The physical address of a page: the future `Page::phys_addr()` of `rust/kernel/page.rs`.
//!
//! C header: [`include/asm-generic/memory_model.h`](srctree/include/asm-generic/memory_model.h)

use kernel::{io::PhysAddr, page::Page};

/// The physical address of the first byte of `page` (`page_to_phys()`).
///
/// Only a number: mapping it for DMA needs the promise of
/// [`PhysRange::new`](super::dma_iova::PhysRange::new), which the owner of the page makes.
pub fn phys_addr(page: &Page) -> PhysAddr {
    // SAFETY: `page.as_ptr()` is a valid `struct page` for the duration of the call.
    unsafe { crate::shim::dmavec_shim_page_to_phys(page.as_ptr()) }
}
