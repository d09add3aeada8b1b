// SPDX-License-Identifier: GPL-2.0
/*
 * dmavec_bench: column B of the benchmark, the dma-buf core's own helper for
 * exporters of MMIO (drivers/dma-buf/dma-buf-mapping.c), and the static
 * inline DMA API functions the Rust side has no binding for.
 */
#include <linux/dma-buf.h>
#include <linux/dma-buf-mapping.h>
#include <linux/dma-mapping.h>
#include <linux/scatterlist.h>

#include "dmavec_bench.h"

/*
 * The layout of struct dma_buf_dma, private to dma-buf-mapping.c: what
 * dma_buf_phys_vec_to_sgt() allocates besides the scatterlist.
 */
struct dmavec_bench_dma_buf_dma {
	struct sg_table sgt;
	struct dma_iova_state *state;
	size_t size;
};

/**
 * dmavec_bench_sgt_map() - Map ranges the way upstream exporters do.
 * @attach: the importer's attachment, its reservation lock held
 * @provider: the P2PDMA provider of the ranges
 * @ranges: the physical ranges
 * @nr_ranges: number of @ranges
 * @size: their total length
 *
 * Return: the DMA-only sg_table, or an ERR_PTR().
 */
struct sg_table *dmavec_bench_sgt_map(struct dma_buf_attachment *attach,
				      struct p2pdma_provider *provider,
				      struct phys_vec *ranges, size_t nr_ranges,
				      size_t size)
{
	return dma_buf_phys_vec_to_sgt(attach, provider, ranges, nr_ranges,
				       size, DMA_BIDIRECTIONAL);
}

/**
 * dmavec_bench_sgt_unmap() - Unmap and free what dmavec_bench_sgt_map() made.
 * @attach: the attachment it was made for, its reservation lock held
 * @sgt: the table
 */
void dmavec_bench_sgt_unmap(struct dma_buf_attachment *attach,
			    struct sg_table *sgt)
{
	dma_buf_free_sgt(attach, sgt, DMA_BIDIRECTIONAL);
}

/**
 * dmavec_bench_sgt_bytes() - Bytes dma_buf_phys_vec_to_sgt() allocated.
 * @sgt: a table it returned
 *
 * The requested sizes: struct dma_buf_dma, the IOVA state if any, and the
 * scatterlist chunks of sg_alloc_table(), SG_MAX_SINGLE_ALLOC entries each
 * with the last entry of every full chunk used as the chain link.
 *
 * Return: the number of bytes.
 */
size_t dmavec_bench_sgt_bytes(struct sg_table *sgt)
{
	struct dmavec_bench_dma_buf_dma *dma =
		container_of(sgt, struct dmavec_bench_dma_buf_dma, sgt);
	/* orig_nents was cleared to mark the table DMA-only; nents is intact */
	unsigned int left = sgt->nents;
	size_t bytes = sizeof(*dma);

	if (dma->state)
		bytes += sizeof(*dma->state);
	while (left > SG_MAX_SINGLE_ALLOC) {
		bytes += SG_MAX_SINGLE_ALLOC * sizeof(struct scatterlist);
		left -= SG_MAX_SINGLE_ALLOC - 1;
	}
	return bytes + left * sizeof(struct scatterlist);
}

/**
 * dmavec_bench_sgt_dma_len() - Total DMA length of a table.
 * @sgt: the table
 *
 * Return: the sum of its DMA segment lengths.
 */
u64 dmavec_bench_sgt_dma_len(struct sg_table *sgt)
{
	struct scatterlist *sg;
	u64 len = 0;
	int i;

	for_each_sgtable_dma_sg(sgt, sg, i)
		len += sg_dma_len(sg);
	return len;
}

/**
 * dmavec_bench_set_seg_boundary() - dma_set_seg_boundary().
 * @dev: the device
 * @mask: the segment boundary mask
 */
void dmavec_bench_set_seg_boundary(struct device *dev, unsigned long mask)
{
	dma_set_seg_boundary(dev, mask);
}
