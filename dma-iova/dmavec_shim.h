/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Private to the dmavec module: C wrappers that its Rust code calls (see
 * dmavec_shim.c). Declared here to satisfy -Wmissing-prototypes; the Rust
 * side declares them in ffi.rs.
 */
#ifndef DMAVEC_SHIM_H
#define DMAVEC_SHIM_H

#include <linux/dma-direction.h>
#include <linux/types.h>

struct device;
struct dma_buf;
struct dma_fence;
struct dma_resv;
struct file;
struct module;
struct dma_vec;
struct page;
struct pci_dev;
struct sg_table;
struct vm_area_struct;
struct vm_operations_struct;

struct pci_dev *dmavec_shim_pci_dev(struct device *dev);
phys_addr_t dmavec_shim_page_to_phys(struct page *page);
void dmavec_shim_cond_resched(void);
void dmavec_shim_dma_resv_assert_held(struct dma_resv *resv);
void dmavec_shim_get_dma_buf(struct dma_buf *dmabuf);
int dmavec_shim_sgt_fill(struct sg_table *sgt, const struct dma_vec *vecs,
			 unsigned int nents);
void dmavec_shim_sgt_free(struct sg_table *sgt, unsigned int nents);
int dmavec_shim_mmap_prepare(struct vm_area_struct *vma, bool mmio,
			     const struct vm_operations_struct *ops);
void dmavec_shim_zap(struct file *file);
bool dmavec_shim_module_get(struct module *owner);
void dmavec_shim_module_put(struct module *owner);
bool dmavec_shim_dev_is_dma_coherent(struct device *dev);
void dmavec_shim_dma_sync_single(struct device *dev, dma_addr_t addr,
				 size_t size, enum dma_data_direction dir,
				 bool for_cpu);
int dmavec_shim_dma_resv_lock_interruptible(struct dma_resv *resv);
struct dma_fence *dmavec_shim_fence_create(u64 context, u64 seqno);
void dmavec_shim_fence_get(struct dma_fence *fence);
void dmavec_shim_fence_put(struct dma_fence *fence);

#endif /* DMAVEC_SHIM_H */
