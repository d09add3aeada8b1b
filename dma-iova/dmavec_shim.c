// SPDX-License-Identifier: GPL-2.0
/*
 * C side of the dmavec module: exports the C API (implemented in Rust, see
 * capi.rs) in the "DMAVEC" namespace, and checks that the Rust mirrors of
 * the kernel's structures match their C layout.
 */
#include <linux/build_bug.h>
#include <linux/dmaengine.h>
#include <linux/dmavec.h>
#include <linux/export.h>
#include <linux/stddef.h>

/* Rust's DmaVec mirrors struct dma_vec. */
static_assert(sizeof(struct dma_vec) == 16);
static_assert(offsetof(struct dma_vec, addr) == 0);
static_assert(offsetof(struct dma_vec, len) == 8);

EXPORT_SYMBOL_NS_GPL(dmavec_phys_vec_check, "DMAVEC");
