// SPDX-License-Identifier: GPL-2.0
/*
 * dmavec_ctest: the C API of <linux/dmavec.h> in use, for the kselftests.
 *
 * debugfs/dmavec_ctest/export: reading it exports 16 scattered pages of
 * system memory with dmavec_export() and returns the number of a new dma-buf
 * file descriptor in the reader's process.
 *
 * debugfs/dmavec_ctest/import: write "<fd>", or "<fd> <max segment>
 * <boundary mask>"; the dma-buf is attached for QEMU's edu device with
 * dmavec_attach(), given those limits with dmavec_set_seg_limits() if any,
 * mapped with dmavec_map() and detached. Reading returns "kind <type>
 * entries <n> bytes <bytes> maxlen <longest entry> unaligned <entries whose
 * address or length is not page aligned>", or "error <errno>".
 *
 * debugfs/dmavec_ctest/revoke: write a dma-buf file descriptor; it is
 * revoked and restored with dmavec_revoke(). Reading returns
 * "revoke <return value of the first call>".
 *
 * debugfs/dmavec_ctest/hold: write "<fd> <ms>"; the write holds the
 * dma-buf's reservation lock for that many milliseconds, as a slow importer
 * would. Reading returns "held <ms> exports <n>": the exports of "export"
 * that completed while the lock was held.
 *
 * Test VMs only: edu (1234:11e8) is used as a bare DMA master.
 */
#include <linux/debugfs.h>
#include <linux/delay.h>
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/dma-resv.h>
#include <linux/dmaengine.h>
#include <linux/dmavec.h>
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#define NR_PAGES 16

static struct dentry *root;
static atomic_t exports_done = ATOMIC_INIT(0);
static DEFINE_MUTEX(report_lock);
static char report[128];

struct ctest_buf {
	struct page *pages[2 * NR_PAGES];
};

static void ctest_release(void *priv)
{
	struct ctest_buf *b = priv;
	int i;

	for (i = 0; i < 2 * NR_PAGES; i++)
		__free_page(b->pages[i]);
	kfree(b);
}

static ssize_t export_read(struct file *file, char __user *ubuf, size_t len,
			   loff_t *ppos)
{
	struct phys_vec ranges[NR_PAGES];
	struct dmavec_export_info info = {
		.name = KBUILD_MODNAME,
		.owner = THIS_MODULE,
		.ranges = ranges,
		.nr_ranges = NR_PAGES,
		.flags = O_RDWR,
		.release = ctest_release,
	};
	struct dma_buf *dmabuf;
	struct ctest_buf *b;
	char out[16];
	int i, fd, n;

	if (*ppos)
		return 0;
	b = kzalloc_obj(*b);
	if (!b)
		return -ENOMEM;
	for (i = 0; i < 2 * NR_PAGES; i++) {
		b->pages[i] = alloc_page(GFP_KERNEL);
		if (!b->pages[i]) {
			while (i--)
				__free_page(b->pages[i]);
			kfree(b);
			return -ENOMEM;
		}
	}
	/* Every other page, in reverse order: discontiguous. */
	for (i = 0; i < NR_PAGES; i++) {
		ranges[i].paddr = page_to_phys(b->pages[2 * (NR_PAGES - 1 - i)]);
		ranges[i].len = PAGE_SIZE;
	}
	info.priv = b;
	dmabuf = dmavec_export(&info);
	if (IS_ERR(dmabuf)) {
		ctest_release(b);
		return PTR_ERR(dmabuf);
	}
	atomic_inc(&exports_done);
	fd = dma_buf_fd(dmabuf, O_CLOEXEC);
	if (fd < 0) {
		dma_buf_put(dmabuf);
		return fd;
	}
	n = scnprintf(out, sizeof(out), "%d\n", fd);
	return simple_read_from_buffer(ubuf, len, ppos, out, n);
}

static const char *const kinds[] = {
	[DMAVEC_MAP_IOVA] = "iova",
	[DMAVEC_MAP_DIRECT] = "direct",
	[DMAVEC_MAP_BUS_ADDR] = "bus-addr",
	[DMAVEC_MAP_SG_TABLE] = "sg-table",
};

static void ctest_invalidate(struct dmavec_attachment *att, void *priv)
{
	dmavec_unmap(att);
}

static const struct dmavec_importer_ops ctest_importer = {
	.invalidate = ctest_invalidate,
};

static int ctest_import(int fd, bool limits, u64 max_seg, u64 boundary)
{
	const struct dma_vec *vecs;
	enum dmavec_map_type type;
	struct dmavec_attachment *att;
	struct dma_buf *dmabuf;
	struct pci_dev *edu;
	size_t nr, i, bytes = 0, maxlen = 0, unaligned = 0;
	int ret;

	edu = pci_get_device(0x1234, 0x11e8, NULL);
	if (!edu)
		return -ENODEV;
	/* An importer driver raises its device's maximum segment size. */
	dma_set_max_seg_size(&edu->dev, UINT_MAX);
	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto put_dev;
	}
	att = dmavec_attach(dmabuf, &edu->dev, &ctest_importer, NULL);
	dma_buf_put(dmabuf);
	if (IS_ERR(att)) {
		ret = PTR_ERR(att);
		goto put_dev;
	}
	dmabuf = dmavec_attachment_dmabuf(att);
	dma_resv_lock(dmabuf->resv, NULL);
	ret = limits ? dmavec_set_seg_limits(att, max_seg, boundary) : 0;
	if (!ret)
		ret = dmavec_map(att, DMA_BIDIRECTIONAL, &vecs, &nr, &type);
	if (!ret) {
		for (i = 0; i < nr; i++) {
			bytes += vecs[i].len;
			maxlen = max(maxlen, vecs[i].len);
			if (!PAGE_ALIGNED(vecs[i].addr) ||
			    !PAGE_ALIGNED(vecs[i].len))
				unaligned++;
		}
		scnprintf(report, sizeof(report),
			  "kind %s entries %zu bytes %zu maxlen %zu unaligned %zu\n",
			  type < ARRAY_SIZE(kinds) ? kinds[type] : "?", nr,
			  bytes, maxlen, unaligned);
		dmavec_unmap(att);
	}
	dma_resv_unlock(dmabuf->resv);
	dmavec_detach(att);
put_dev:
	pci_dev_put(edu);
	return ret;
}

static ssize_t import_write(struct file *file, const char __user *ubuf,
			    size_t len, loff_t *ppos)
{
	u64 max_seg, boundary;
	char buf[64];
	int fd, n, ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	n = sscanf(buf, "%d %llu %llu", &fd, &max_seg, &boundary);
	if (n != 1 && n != 3)
		return -EINVAL;
	mutex_lock(&report_lock);
	ret = ctest_import(fd, n == 3, max_seg, boundary);
	if (ret)
		scnprintf(report, sizeof(report), "error %d\n", ret);
	mutex_unlock(&report_lock);
	return len;
}

static ssize_t import_read(struct file *file, char __user *ubuf, size_t len,
			   loff_t *ppos)
{
	ssize_t ret;

	mutex_lock(&report_lock);
	ret = simple_read_from_buffer(ubuf, len, ppos, report, strlen(report));
	mutex_unlock(&report_lock);
	return ret;
}

static ssize_t revoke_write(struct file *file, const char __user *ubuf,
			    size_t len, loff_t *ppos)
{
	struct dma_buf *dmabuf;
	int fd, ret;

	ret = kstrtoint_from_user(ubuf, len, 10, &fd);
	if (ret)
		return ret;
	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	ret = dmavec_revoke(dmabuf, true);
	if (!ret)
		dmavec_revoke(dmabuf, false);
	dma_buf_put(dmabuf);
	mutex_lock(&report_lock);
	scnprintf(report, sizeof(report), "revoke %d\n", ret);
	mutex_unlock(&report_lock);
	return len;
}

static ssize_t hold_write(struct file *file, const char __user *ubuf,
			  size_t len, loff_t *ppos)
{
	struct dma_buf *dmabuf;
	unsigned int ms;
	char buf[32];
	int fd, n;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (sscanf(buf, "%d %u", &fd, &ms) != 2 || ms > 10000)
		return -EINVAL;
	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	dma_resv_lock(dmabuf->resv, NULL);
	n = atomic_read(&exports_done);
	msleep(ms);
	n = atomic_read(&exports_done) - n;
	dma_resv_unlock(dmabuf->resv);
	dma_buf_put(dmabuf);
	mutex_lock(&report_lock);
	scnprintf(report, sizeof(report), "held %u exports %d\n", ms, n);
	mutex_unlock(&report_lock);
	return len;
}

static const struct file_operations export_fops = {
	.owner = THIS_MODULE,
	.read = export_read,
};

static const struct file_operations import_fops = {
	.owner = THIS_MODULE,
	.read = import_read,
	.write = import_write,
};

static const struct file_operations hold_fops = {
	.owner = THIS_MODULE,
	.read = import_read,
	.write = hold_write,
};

static const struct file_operations revoke_fops = {
	.owner = THIS_MODULE,
	.read = import_read,
	.write = revoke_write,
};

static int __init dmavec_ctest_init(void)
{
	root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("export", 0400, root, NULL, &export_fops);
	debugfs_create_file("import", 0600, root, NULL, &import_fops);
	debugfs_create_file("revoke", 0600, root, NULL, &revoke_fops);
	debugfs_create_file("hold", 0600, root, NULL, &hold_fops);
	return 0;
}

static void __exit dmavec_ctest_exit(void)
{
	debugfs_remove(root);
}

module_init(dmavec_ctest_init);
module_exit(dmavec_ctest_exit);

MODULE_DESCRIPTION("dmavec C API tests (test VMs only)");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("DMAVEC");
MODULE_IMPORT_NS("DMA_BUF");
