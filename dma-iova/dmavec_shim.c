// SPDX-License-Identifier: GPL-2.0
/*
 * C side of the dmavec module:
 *  - wrappers of the static inline functions and macros the Rust side
 *    needs (the kernel crate has no helpers for them);
 *  - EXPORT_SYMBOL_NS_GPL() of the C API (implemented in Rust, capi.rs);
 *  - checks that the Rust mirrors of kernel structures match their C layout.
 */
#include <linux/build_bug.h>
#include <linux/dma-buf.h>
#include <linux/dma-buf-mapping.h>
#include <linux/dma-fence.h>
#include <linux/dma-map-ops.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/dmaengine.h>
#include <linux/dmavec.h>
#include <linux/export.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/scatterlist.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/stddef.h>

#include "dmavec_shim.h"

/* Rust's DmaVec mirrors struct dma_vec. */
static_assert(sizeof(struct dma_vec) == 16);
static_assert(offsetof(struct dma_vec, addr) == 0);
static_assert(offsetof(struct dma_vec, len) == 8);

struct pci_dev *dmavec_shim_pci_dev(struct device *dev)
{
	return dev_is_pci(dev) ? to_pci_dev(dev) : NULL;
}

struct pci_dev *dmavec_shim_pci_upstream_bridge(struct pci_dev *pdev)
{
	return pci_upstream_bridge(pdev);
}

phys_addr_t dmavec_shim_page_to_phys(struct page *page)
{
	return page_to_phys(page);
}

void dmavec_shim_dma_resv_assert_held(struct dma_resv *resv)
{
	dma_resv_assert_held(resv);
}

void dmavec_shim_get_dma_buf(struct dma_buf *dmabuf)
{
	get_dma_buf(dmabuf);
}

/*
 * A DMA-only sg_table for the dma-buf core's importers: the DMA side holds
 * the entries, there is no CPU side (no pages), and orig_nents is 0 so
 * that users who look can tell. The allocation is remembered by the caller
 * and restored before freeing: sg_free_table() walks orig_nents entries.
 */
int dmavec_shim_sgt_fill(struct sg_table *sgt, const struct dma_vec *vecs,
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

void dmavec_shim_sgt_free(struct sg_table *sgt, unsigned int nents)
{
	sgt->orig_nents = nents;
	sg_free_table(sgt);
}

/*
 * CPU mappings of a dmavec buffer: shared only, PFN-mapped (GUP fails on
 * them), populated on fault by @ops, uncached for MMIO.
 */
int dmavec_shim_mmap_prepare(struct vm_area_struct *vma, bool mmio,
			     const struct vm_operations_struct *ops)
{
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	vm_flags_set(vma, VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP);
	if (mmio)
		vma->vm_page_prot = pgprot_noncached(vma->vm_page_prot);
	vma->vm_ops = ops;
	return 0;
}

/* Zaps every CPU mapping of @dmabuf: the next access faults. */
/*
 * A reference to the file of @dmabuf, or NULL once its count has reached
 * zero: the dma-buf core releases a dma-buf from the dentry's d_release,
 * after the inode that f_mapping points into was put, so a dying file must
 * not be touched. Nothing can map or attach a dma-buf whose file is dying:
 * every VMA and every importer holds a reference to it.
 */
struct file *dmavec_shim_dma_buf_file_get(struct dma_buf *dmabuf)
{
	return get_file_active(&dmabuf->file);
}

/*
 * A reference to module @owner (NULL for built-in code), unless it is being
 * removed: try_module_get() and module_put() are inline without
 * CONFIG_MODULE_UNLOAD.
 */
bool dmavec_shim_module_get(struct module *owner)
{
	return try_module_get(owner);
}

void dmavec_shim_module_put(struct module *owner)
{
	module_put(owner);
}

/* Zaps the CPU mappings of the live file @file of a dma-buf. */
void dmavec_shim_zap(struct file *file)
{
	unmap_mapping_range(file->f_mapping, 0, 0, true);
}

void dmavec_shim_cond_resched(void)
{
	cond_resched();
}

bool dmavec_shim_dev_is_dma_coherent(struct device *dev)
{
	return dev_is_dma_coherent(dev);
}

void dmavec_shim_dma_sync_single(struct device *dev, dma_addr_t addr,
				 size_t size, enum dma_data_direction dir,
				 bool for_cpu)
{
	if (for_cpu)
		dma_sync_single_for_cpu(dev, addr, size, dir);
	else
		dma_sync_single_for_device(dev, addr, size, dir);
}

int dmavec_shim_dma_resv_lock_interruptible(struct dma_resv *resv)
{
	return dma_resv_lock_interruptible(resv, NULL);
}

/*
 * A fence of one importer DMA (fence.rs): the fence and its lock in one
 * allocation, freed by the default release (the fence is its first member).
 */
struct dmavec_fence {
	struct dma_fence base;
	spinlock_t lock;	/* the fence's lock, given to dma_fence_init() */
};

static const char *dmavec_fence_name(struct dma_fence *fence)
{
	return "dmavec";
}

static const struct dma_fence_ops dmavec_fence_ops = {
	.get_driver_name = dmavec_fence_name,
	.get_timeline_name = dmavec_fence_name,
};

struct dma_fence *dmavec_shim_fence_create(u64 context, u64 seqno)
{
	struct dmavec_fence *f = kzalloc_obj(*f);

	if (!f)
		return NULL;
	spin_lock_init(&f->lock);
	dma_fence_init(&f->base, &dmavec_fence_ops, &f->lock, context, seqno);
	return &f->base;
}

void dmavec_shim_fence_put(struct dma_fence *fence)
{
	dma_fence_put(fence);
}

EXPORT_SYMBOL_NS_GPL(dmavec_phys_vec_check, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_export, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_export_priv, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_export_ranges, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_revoke, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_is_dmavec, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_attach, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_detach, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_attachment_dmabuf, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_map, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_set_seg_limits, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_unmap, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_mapping_map, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_mapping_vecs, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_mapping_type, "DMAVEC");
EXPORT_SYMBOL_NS_GPL(dmavec_mapping_unmap, "DMAVEC");

/* capi.rs mirrors struct dmavec_export_info. */
static_assert(offsetof(struct dmavec_export_info, release) == 48);
static_assert(offsetof(struct dmavec_export_info, export_flags) == 64);
static_assert(sizeof(struct dmavec_export_info) == 72);

/* capi.rs encodes enum dmavec_map_type with these values. */
static_assert(DMAVEC_MAP_IOVA == 0 && DMAVEC_MAP_DIRECT == 1);
static_assert(DMAVEC_MAP_BUS_ADDR == 2 && DMAVEC_MAP_SG_TABLE == 3);
#ifdef DMA_BUF_IMAPPING_DMA_VEC
/* The DMA-vector mapping type (patches/0007) reports the map types by them. */
static_assert((int)DMA_BUF_DMA_VEC_IOVA == (int)DMAVEC_MAP_IOVA);
static_assert((int)DMA_BUF_DMA_VEC_DIRECT == (int)DMAVEC_MAP_DIRECT);
static_assert((int)DMA_BUF_DMA_VEC_BUS_ADDR == (int)DMAVEC_MAP_BUS_ADDR);
#endif
