/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private to the dmavec_bench module: the C side of the benchmark (see
 * dmavec_bench_sgt.c), called from dmavec_bench.rs.
 */
#ifndef DMAVEC_BENCH_H
#define DMAVEC_BENCH_H

#include <linux/types.h>

struct device;
struct dma_buf_attachment;
struct p2pdma_provider;
struct phys_vec;
struct sg_table;

struct sg_table *dmavec_bench_sgt_map(struct dma_buf_attachment *attach,
				      struct p2pdma_provider *provider,
				      struct phys_vec *ranges, size_t nr_ranges,
				      size_t size);
void dmavec_bench_sgt_unmap(struct dma_buf_attachment *attach,
			    struct sg_table *sgt);
size_t dmavec_bench_sgt_bytes(struct sg_table *sgt);
u64 dmavec_bench_sgt_dma_len(struct sg_table *sgt);
void dmavec_bench_set_seg_boundary(struct device *dev, unsigned long mask);

#endif /* DMAVEC_BENCH_H */
