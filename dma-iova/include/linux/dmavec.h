/* SPDX-License-Identifier: GPL-2.0 */
/*
 * dmavec: dma-buf mappings as arrays of (dma_addr, len).
 *
 * The C interface of the dmavec module, for C exporters and importers.
 * Every symbol is exported in the "DMAVEC" namespace: users need
 * MODULE_IMPORT_NS("DMAVEC").
 */
#ifndef _LINUX_DMAVEC_H
#define _LINUX_DMAVEC_H

#include <linux/types.h>

/**
 * dmavec_phys_vec_check() - Validate an exporter's physical ranges
 * @vecs: the ranges
 * @nr: number of entries in @vecs
 * @total: if not NULL, receives the sum of the lengths on success
 *
 * Every range must be non-empty and page aligned at both ends and must not
 * wrap the physical address space; there must be at least one range and
 * the total length must fit in size_t. This is the check every dmavec
 * mapping applies to its input, offered so that exporters can reject bad
 * descriptions before they create a buffer.
 *
 * Context: Any context.
 * Return: 0 on success; -EINVAL for no ranges, an empty or misaligned
 * range; -EOVERFLOW when a range wraps or the total does not fit.
 */
int dmavec_phys_vec_check(const struct phys_vec *vecs, size_t nr,
			  size_t *total);

#endif /* _LINUX_DMAVEC_H */
