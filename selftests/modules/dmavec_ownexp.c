// SPDX-License-Identifier: GPL-2.0
/*
 * dmavec_ownexp: a dma-buf exporter that keeps its own dma_buf_ops and offers
 * the dma-buf core's DMA-vector mapping type before the
 * sg_table type, as any driver with its own exporter could: the array comes
 * from dmavec's mapping core used as a library (dmavec_mapping_map()), the
 * sg_table from dma_buf_phys_vec_to_sgt(). It is not a dmavec buffer: no
 * importer can recognise it by its ops, and none needs to.
 *
 * It exports MMIO the way vfio-pci does: ranges of BAR 2 of QEMU's
 * ivshmem-plain (1af4:1110) while dmavec_bar drives it, with the P2PDMA
 * provider dmavec_bar registered for that BAR. The provider lives as long as
 * that binding, so the exporter revokes its buffers for good when ivshmem is
 * unbound (a bus notifier, called before the driver's remove), and touches
 * the provider only while a buffer is not revoked.
 *
 * debugfs/dmavec_ownexp/export: reading it exports BAR 2 bytes [64K, 128K)
 * then [0, 64K) (two ranges in reverse order) and returns the number of a
 * new dma-buf file descriptor; -ENODEV without ivshmem bound to dmavec_bar.
 *
 * debugfs/dmavec_ownexp/revoke: write "1" to revoke every buffer (importers
 * are invalidated, revocation waits for their DMA fences and their unmaps,
 * maps fail with -ENODEV), "0" to restore them.
 *
 * debugfs/dmavec_ownexp/maps: reads "vec <n> sgt <n>": the maps made
 * through each type since load.
 *
 * Test VMs only.
 */

#include <linux/debugfs.h>
#include <linux/dma-buf.h>
#include <linux/dma-buf-mapping.h>
#include <linux/dma-resv.h>
#include <linux/dmavec.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#define OWNEXP_BAR	2
#define OWNEXP_RANGE	SZ_64K

/**
 * struct ownexp_buf - one exported dma-buf
 * @dmabuf: the dma-buf; its reservation lock guards @revoked and @mapped
 * @node: on ownexp_bufs, under ownexp_lock
 * @pdev: ivshmem, referenced
 * @provider: dmavec_bar's P2PDMA provider of BAR 2; used only while not
 *	@revoked, since it goes away with that binding
 * @ranges: the exported ranges, in buffer order
 * @revoked: maps fail with -ENODEV
 * @gone: ivshmem was unbound: revoked for good (under ownexp_lock)
 * @mapped: live mappings of either type
 * @unmapped: woken when @mapped drops
 */
struct ownexp_buf {
	struct dma_buf *dmabuf;
	struct list_head node;
	struct pci_dev *pdev;
	struct p2pdma_provider *provider;
	struct phys_vec ranges[2];
	bool revoked;
	bool gone;
	atomic_t mapped;
	wait_queue_head_t unmapped;
};

static DEFINE_MUTEX(ownexp_lock);
static LIST_HEAD(ownexp_bufs);
static atomic_t vec_maps = ATOMIC_INIT(0), sgt_maps = ATOMIC_INIT(0);
static struct dentry *root;

static void ownexp_unmapped(struct ownexp_buf *b)
{
	if (atomic_dec_and_test(&b->mapped))
		wake_up(&b->unmapped);
}

static int ownexp_map_dma_vec(struct dma_buf_attachment *attach,
			      enum dma_data_direction dir,
			      struct dma_buf_dma_vec *map)
{
	struct ownexp_buf *b = attach->dmabuf->priv;
	struct dmavec_mapping *m;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (b->revoked)
		return -ENODEV;
	m = dmavec_mapping_map(attach->dev, b->provider, b->ranges,
			       ARRAY_SIZE(b->ranges), dir);
	if (IS_ERR(m))
		return PTR_ERR(m);
	map->vecs = dmavec_mapping_vecs(m, &map->nr);
	/* enum dmavec_map_type has the numbers of enum dma_buf_dma_vec_addr. */
	map->addr = (enum dma_buf_dma_vec_addr)dmavec_mapping_type(m);
	map->exp_priv = m;
	atomic_inc(&b->mapped);
	atomic_inc(&vec_maps);
	return 0;
}

static void ownexp_unmap_dma_vec(struct dma_buf_attachment *attach,
				 struct dma_buf_dma_vec *map,
				 enum dma_data_direction dir)
{
	dma_resv_assert_held(attach->dmabuf->resv);
	dmavec_mapping_unmap(map->exp_priv);
	ownexp_unmapped(attach->dmabuf->priv);
}

static const struct dma_buf_dma_vec_ops ownexp_vec_ops = {
	.map_dma_vec = ownexp_map_dma_vec,
	.unmap_dma_vec = ownexp_unmap_dma_vec,
};

static int ownexp_match_mapping(struct dma_buf_match_args *args)
{
	static const struct dma_buf_mapping_match exp[] = {
		DMA_BUF_EMAPPING_DMA_VEC(&ownexp_vec_ops),
		DMA_BUF_EMAPPING_SGT(),
	};

	return dma_buf_match_mapping(args, exp, ARRAY_SIZE(exp));
}

static int ownexp_attach(struct dma_buf *dmabuf,
			 struct dma_buf_attachment *attach)
{
	/* MMIO: only importers that take it and can be revoked (as vfio-pci). */
	if (!attach->peer2peer || !dma_buf_attach_revocable(attach))
		return -EOPNOTSUPP;
	return 0;
}

static struct sg_table *ownexp_map_dma_buf(struct dma_buf_attachment *attach,
					   enum dma_data_direction dir)
{
	struct ownexp_buf *b = attach->dmabuf->priv;
	struct sg_table *sgt;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (b->revoked)
		return ERR_PTR(-ENODEV);
	sgt = dma_buf_phys_vec_to_sgt(attach, b->provider, b->ranges,
				      ARRAY_SIZE(b->ranges),
				      ARRAY_SIZE(b->ranges) * OWNEXP_RANGE, dir);
	if (!IS_ERR(sgt)) {
		atomic_inc(&b->mapped);
		atomic_inc(&sgt_maps);
	}
	return sgt;
}

static void ownexp_unmap_dma_buf(struct dma_buf_attachment *attach,
				 struct sg_table *sgt,
				 enum dma_data_direction dir)
{
	dma_resv_assert_held(attach->dmabuf->resv);
	dma_buf_free_sgt(attach, sgt, dir);
	ownexp_unmapped(attach->dmabuf->priv);
}

static void ownexp_release(struct dma_buf *dmabuf)
{
	struct ownexp_buf *b = dmabuf->priv;

	mutex_lock(&ownexp_lock);
	list_del(&b->node);
	mutex_unlock(&ownexp_lock);
	pci_dev_put(b->pdev);
	kfree(b);
}

static const struct dma_buf_ops ownexp_ops = {
	.match_mapping = ownexp_match_mapping,
	.attach = ownexp_attach,
	.map_dma_buf = ownexp_map_dma_buf,
	.unmap_dma_buf = ownexp_unmap_dma_buf,
	.release = ownexp_release,
};

/*
 * Revokes or restores @b, with ownexp_lock held. Revocation invalidates the
 * importers, waits for the fences of their DMA, then for their unmaps: once
 * it returns no mapping of the buffer is in use.
 */
static void ownexp_set_revoked(struct ownexp_buf *b, bool revoked)
{
	struct dma_resv *resv = b->dmabuf->resv;

	lockdep_assert_held(&ownexp_lock);
	dma_resv_lock(resv, NULL);
	b->revoked = revoked || b->gone;
	if (b->revoked) {
		dma_buf_invalidate_mappings(b->dmabuf);
		dma_resv_wait_timeout(resv, DMA_RESV_USAGE_BOOKKEEP, false,
				      MAX_SCHEDULE_TIMEOUT);
	}
	dma_resv_unlock(resv);
	if (b->revoked)
		wait_event(b->unmapped, !atomic_read(&b->mapped));
}

/* Exports BAR 2 of @pdev, which the caller holds bound to dmavec_bar. */
static struct dma_buf *ownexp_export(struct pci_dev *pdev)
{
	DEFINE_DMA_BUF_EXPORT_INFO(info);
	resource_size_t bar = pci_resource_start(pdev, OWNEXP_BAR);
	struct p2pdma_provider *provider;
	struct dma_buf *dmabuf;
	struct ownexp_buf *b;

	provider = pcim_p2pdma_provider(pdev, OWNEXP_BAR);
	if (!provider || pci_resource_len(pdev, OWNEXP_BAR) < 2 * OWNEXP_RANGE)
		return ERR_PTR(-ENODEV);
	b = kzalloc_obj(*b);
	if (!b)
		return ERR_PTR(-ENOMEM);
	b->pdev = pci_dev_get(pdev);
	b->provider = provider;
	b->ranges[0] = (struct phys_vec){ bar + OWNEXP_RANGE, OWNEXP_RANGE };
	b->ranges[1] = (struct phys_vec){ bar, OWNEXP_RANGE };
	init_waitqueue_head(&b->unmapped);
	INIT_LIST_HEAD(&b->node);
	info.ops = &ownexp_ops;
	info.size = ARRAY_SIZE(b->ranges) * OWNEXP_RANGE;
	info.flags = O_RDWR;
	info.priv = b;
	dmabuf = dma_buf_export(&info);
	if (IS_ERR(dmabuf)) {
		pci_dev_put(b->pdev);
		kfree(b);
		return dmabuf;
	}
	b->dmabuf = dmabuf;
	mutex_lock(&ownexp_lock);
	list_add(&b->node, &ownexp_bufs);
	mutex_unlock(&ownexp_lock);
	return dmabuf;
}

static ssize_t export_read(struct file *file, char __user *ubuf, size_t len,
			   loff_t *ppos)
{
	struct dma_buf *dmabuf = ERR_PTR(-ENODEV);
	struct pci_dev *pdev;
	char out[16];
	int fd, n;

	if (*ppos)
		return 0;
	pdev = pci_get_device(0x1af4, 0x1110, NULL);
	if (!pdev)
		return -ENODEV;
	/* Bound to dmavec_bar, which cannot unbind until the export is listed. */
	device_lock(&pdev->dev);
	if (pdev->dev.driver && !strcmp(pdev->dev.driver->name, "dmavec_bar"))
		dmabuf = ownexp_export(pdev);
	device_unlock(&pdev->dev);
	pci_dev_put(pdev);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	fd = dma_buf_fd(dmabuf, O_CLOEXEC);
	if (fd < 0) {
		dma_buf_put(dmabuf);
		return fd;
	}
	n = scnprintf(out, sizeof(out), "%d\n", fd);
	return simple_read_from_buffer(ubuf, len, ppos, out, n);
}

static ssize_t revoke_write(struct file *file, const char __user *ubuf,
			    size_t len, loff_t *ppos)
{
	struct ownexp_buf *b;
	bool revoked;
	int ret;

	ret = kstrtobool_from_user(ubuf, len, &revoked);
	if (ret)
		return ret;
	mutex_lock(&ownexp_lock);
	list_for_each_entry(b, &ownexp_bufs, node)
		ownexp_set_revoked(b, revoked);
	mutex_unlock(&ownexp_lock);
	return len;
}

static ssize_t maps_read(struct file *file, char __user *ubuf, size_t len,
			 loff_t *ppos)
{
	char out[48];
	int n;

	n = scnprintf(out, sizeof(out), "vec %d sgt %d\n",
		      atomic_read(&vec_maps), atomic_read(&sgt_maps));
	return simple_read_from_buffer(ubuf, len, ppos, out, n);
}

/* ivshmem leaves dmavec_bar, and its provider with it: revoke for good. */
static int ownexp_bus_notify(struct notifier_block *nb, unsigned long action,
			     void *data)
{
	struct pci_dev *pdev = to_pci_dev(data);
	struct ownexp_buf *b;

	if (action != BUS_NOTIFY_UNBIND_DRIVER)
		return NOTIFY_DONE;
	mutex_lock(&ownexp_lock);
	list_for_each_entry(b, &ownexp_bufs, node) {
		if (b->pdev != pdev || b->gone)
			continue;
		b->gone = true;
		ownexp_set_revoked(b, true);
	}
	mutex_unlock(&ownexp_lock);
	return NOTIFY_OK;
}

static struct notifier_block ownexp_nb = {
	.notifier_call = ownexp_bus_notify,
};

static const struct file_operations export_fops = {
	.owner = THIS_MODULE,
	.read = export_read,
};

static const struct file_operations revoke_fops = {
	.owner = THIS_MODULE,
	.write = revoke_write,
};

static const struct file_operations maps_fops = {
	.owner = THIS_MODULE,
	.read = maps_read,
};

static int __init dmavec_ownexp_init(void)
{
	int ret;

	ret = bus_register_notifier(&pci_bus_type, &ownexp_nb);
	if (ret)
		return ret;
	root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("export", 0400, root, NULL, &export_fops);
	debugfs_create_file("revoke", 0200, root, NULL, &revoke_fops);
	debugfs_create_file("maps", 0400, root, NULL, &maps_fops);
	return 0;
}

/* Every dma-buf holds a reference to this module: none is left here. */
static void __exit dmavec_ownexp_exit(void)
{
	debugfs_remove(root);
	bus_unregister_notifier(&pci_bus_type, &ownexp_nb);
}

module_init(dmavec_ownexp_init);
module_exit(dmavec_ownexp_exit);

MODULE_DESCRIPTION("An exporter with its own dma_buf_ops offering the DMA-vector mapping type (test VMs only)");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("DMAVEC");
MODULE_IMPORT_NS("DMA_BUF");
