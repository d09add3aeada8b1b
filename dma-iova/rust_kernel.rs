// SPDX-License-Identifier: GPL-2.0

//! Rust abstractions for `rust/kernel`, staged in this crate until they move into the series.
//!
//! Each file here is written as its `rust/kernel` counterpart will be (module docs linking the C
//! header, `# Invariants`, `// SAFETY:` comments stating what the C side guarantees), and moves
//! into a patch of `patches/series` when its interface settles: `kernel::` paths then become
//! `crate::`, and the users below `dma-iova/` import it from `kernel::` instead of from here.
//! Until then this is the only part of the helper besides the C API that holds `unsafe` code;
//! the helper's policy (ranges, segment limits, route choice, revocation, the registry) sits on
//! the safe interfaces these modules give.

pub mod dma_buf;
pub mod dma_fence;
