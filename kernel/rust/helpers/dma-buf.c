// SPDX-License-Identifier: GPL-2.0

#include <linux/dma-buf.h>
#include <linux/dmaengine.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>

__rust_helper void rust_helper_get_dma_buf(struct dma_buf *dmabuf)
{
	get_dma_buf(dmabuf);
}

/*
 * The DMA-only sg_table of a DMA-vector mapping, for importers that take
 * sg_tables: the DMA address and length of each entry from @vecs, no page
 * (dma-buf importers must not touch the CPU side of a mapped table).
 * orig_nents is 0, as no CPU entry is set; rust_helper_dma_vec_sgt_free()
 * restores it to free the table.
 */
__rust_helper int rust_helper_dma_vec_sgt_fill(struct sg_table *sgt,
					       const struct dma_vec *vecs,
					       unsigned int nents)
{
	struct scatterlist *sg;
	unsigned int i;
	int ret;

	ret = sg_alloc_table(sgt, nents, GFP_KERNEL | __GFP_ZERO);
	if (ret)
		return ret;
	for_each_sgtable_dma_sg(sgt, sg, i) {
		sg_dma_address(sg) = vecs[i].addr;
		sg_dma_len(sg) = vecs[i].len;
	}
	sgt->orig_nents = 0;
	return 0;
}

__rust_helper void rust_helper_dma_vec_sgt_free(struct sg_table *sgt,
						unsigned int nents)
{
	sgt->orig_nents = nents;
	sg_free_table(sgt);
}

/*
 * Sets a new shared VMA of a dma-buf up for faults that insert PFNs
 * (vmf_insert_pfn()), uncached for MMIO.
 */
__rust_helper int rust_helper_dma_buf_vma_set_pfnmap(struct vm_area_struct *vma,
						     bool uncached,
						     const struct vm_operations_struct *ops)
{
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	vm_flags_set(vma, VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP);
	if (uncached)
		vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	vma->vm_ops = ops;
	return 0;
}
