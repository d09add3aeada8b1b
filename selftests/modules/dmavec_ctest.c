// SPDX-License-Identifier: GPL-2.0
/*
 * dmavec_ctest: the C API of <linux/dmavec.h> in use, for the kselftests.
 *
 * debugfs/dmavec_ctest/export: reading it exports 16 discontiguous pages of
 * system memory with dmavec_export() and returns the number of a new dma-buf
 * file descriptor in the reader's process. export_nommap: the same with
 * DMAVEC_EXPORT_NO_MMAP.
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
 * debugfs/dmavec_ctest/sgt: write a dma-buf file descriptor; it is attached
 * for edu as a dma-buf core importer would (dma_buf_dynamic_attach(),
 * peer-to-peer, revocable), mapped with dma_buf_map_attachment(), unmapped
 * and detached. Reading returns "nents <n> pages <entries with a struct
 * page> bytes <sum of the DMA lengths> first <first DMA address>", or
 * "error <errno>".
 *
 * debugfs/dmavec_ctest/time: write "<fd> <reps>" (reps 1 to 1001); the
 * dma-buf is attached for edu once as a dma-buf core importer and once with
 * dmavec_attach(), and mapped + unmapped @reps times through each, back to
 * back. Reading returns "core <median ns> dmavec <median ns> kind <type>
 * entries <n> nents <sg_table entries>", or "error <errno>": the map + unmap
 * cost of an exporter's mapping as each kind of importer sees it (make bench,
 * vfio-pci's dma-buf before and after its conversion).
 *
 * debugfs/dmavec_ctest/export_unaligned: as export, but the first range
 * starts CTEST_MID_OFF bytes into its page (and the buffer is that much
 * shorter): a buffer that cannot be mmap()ed, whose first range an IOMMU
 * bounces for an untrusted importer (it is not aligned to the IOVA granule).
 *
 * debugfs/dmavec_ctest/export_pages: write "<n>" (1 to 256); reading then
 * exports n pages of system memory, every other page of one physically
 * contiguous block in block order (n ranges that no mapping merges), and
 * returns the number of a new dma-buf file descriptor, as export does; or
 * fails with EINVAL before a valid write. For IIO's submit benchmark
 * (dmavec_iio_test), against a udmabuf of the same layout.
 *
 * debugfs/dmavec_ctest/cpu_buf: write a dma-buf file descriptor of export or
 * export_unaligned; the module keeps a reference to it (the one before is
 * dropped), write -1 to drop it. debugfs/dmavec_ctest/cpu: read() and write()
 * at file offset N read and write byte N of that buffer with the CPU,
 * through the exporter's own kernel mapping of its pages: the CPU's view of
 * a buffer that has no mmap, to be used between DMA_BUF_IOCTL_SYNC START and
 * END as an mmap would.
 *
 * debugfs/dmavec_ctest/edu_untrusted: write 1 (0) to mark every edu device
 * untrusted (trusted) as the PCI core marks a device behind an
 * external-facing port (pci_dev->untrusted); reading returns the first edu's
 * flag. The IOMMU DMA layer reads it at each map and sync call; set it
 * before the importer maps.
 *
 * debugfs/dmavec_ctest/edu_min_align_mask: write a mask to set every edu
 * device's DMA minimum alignment mask (dma_set_min_align_mask(), as NVMe
 * sets one): the low address bits a bounce slot keeps; reading returns the
 * first edu's.
 *
 * The KUnit suite dmavec_capi tests the exporter's side of the C API that
 * the files above do not reach (dmavec_export_priv(), dmavec_export_ranges(),
 * the export flags) and the mapping core's C face (dmavec_mapping_*()).
 *
 * Test VMs only: edu (1234:11e8) is used as a bare DMA master.
 */
#include <kunit/test.h>
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
#include <linux/sort.h>
#include <linux/uaccess.h>

#define NR_PAGES 16
/* 2 * NR_PAGES pages: ctest_export() uses every other one. */
#define CTEST_ORDER 5
static_assert(1 << CTEST_ORDER == 2 * NR_PAGES);
/* The first range of export_unaligned starts this far into its page. */
#define CTEST_MID_OFF 256

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

/*
 * Exports 16 discontiguous pages, the first range starting @first_off bytes
 * into its page; the caller owns the dma-buf's reference.
 */
static struct dma_buf *ctest_export(unsigned int export_flags, size_t first_off)
{
	struct phys_vec ranges[NR_PAGES];
	struct dmavec_export_info info = {
		.name = KBUILD_MODNAME,
		.owner = THIS_MODULE,
		.ranges = ranges,
		.nr_ranges = NR_PAGES,
		.flags = O_RDWR,
		.release = ctest_release,
		.export_flags = export_flags,
	};
	struct dma_buf *dmabuf;
	struct ctest_buf *b;
	struct page *page;
	int i;

	b = kzalloc_obj(*b);
	if (!b)
		return ERR_PTR(-ENOMEM);
	/*
	 * One physically contiguous block, split into pages that are freed
	 * one by one: the layout below does not depend on where the page
	 * allocator puts separate pages (two of them may touch).
	 */
	page = alloc_pages(GFP_KERNEL, CTEST_ORDER);
	if (!page) {
		kfree(b);
		return ERR_PTR(-ENOMEM);
	}
	split_page(page, CTEST_ORDER);
	for (i = 0; i < 2 * NR_PAGES; i++)
		b->pages[i] = page + i;
	/*
	 * Every other page of the block, in reverse order: no range ends where
	 * the next one starts, so the 16 ranges are 16 runs by construction.
	 */
	for (i = 0; i < NR_PAGES; i++) {
		ranges[i].paddr = page_to_phys(b->pages[2 * (NR_PAGES - 1 - i)]);
		ranges[i].len = PAGE_SIZE;
	}
	ranges[0].paddr += first_off;
	ranges[0].len -= first_off;
	info.priv = b;
	dmabuf = dmavec_export(&info);
	if (IS_ERR(dmabuf))
		ctest_release(b);
	return dmabuf;
}

/*
 * A read of an export file: @dmabuf (or its error) becomes a new file
 * descriptor of the reader, whose number is what it reads.
 */
static ssize_t ctest_read_fd(struct dma_buf *dmabuf, char __user *ubuf,
			     size_t len, loff_t *ppos)
{
	char out[16];
	int fd, n;

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

/* export_pages: the last valid count written, 0 before. */
#define CTEST_MAX_PAGES 256
static unsigned int export_pages_nr;

struct ctest_pages {
	unsigned int order;
	struct page *block;
};

static void ctest_pages_release(void *priv)
{
	struct ctest_pages *b = priv;

	__free_pages(b->block, b->order);
	kfree(b);
}

/* @nr discontiguous pages of one block; the caller owns the reference. */
static struct dma_buf *ctest_export_pages(unsigned int nr)
{
	struct dmavec_export_info info = {
		.name = KBUILD_MODNAME,
		.owner = THIS_MODULE,
		.nr_ranges = nr,
		.flags = O_RDWR,
		.release = ctest_pages_release,
	};
	struct phys_vec *ranges;
	struct dma_buf *dmabuf;
	struct ctest_pages *b;
	unsigned int i;

	ranges = kvmalloc_array(nr, sizeof(*ranges), GFP_KERNEL);
	b = kzalloc_obj(*b);
	if (!ranges || !b) {
		dmabuf = ERR_PTR(-ENOMEM);
		goto out;
	}
	b->order = get_order(2 * nr * PAGE_SIZE);
	b->block = alloc_pages(GFP_KERNEL | __GFP_NOWARN, b->order);
	if (!b->block) {
		dmabuf = ERR_PTR(-ENOMEM);
		goto out;
	}
	for (i = 0; i < nr; i++) {
		ranges[i].paddr = page_to_phys(b->block + 2 * i);
		ranges[i].len = PAGE_SIZE;
	}
	info.ranges = ranges;
	info.priv = b;
	/* dmavec_export() copies the ranges; the block is the buffer's. */
	dmabuf = dmavec_export(&info);
	if (!IS_ERR(dmabuf))
		b = NULL;
	else
		__free_pages(b->block, b->order);
out:
	kfree(b);
	kvfree(ranges);
	return dmabuf;
}

static ssize_t export_pages_write(struct file *file, const char __user *ubuf,
				  size_t len, loff_t *ppos)
{
	unsigned int nr;
	int ret;

	ret = kstrtouint_from_user(ubuf, len, 0, &nr);
	if (ret)
		return ret;
	if (!nr || nr > CTEST_MAX_PAGES)
		return -EINVAL;
	WRITE_ONCE(export_pages_nr, nr);
	return len;
}

static ssize_t export_pages_read(struct file *file, char __user *ubuf,
				 size_t len, loff_t *ppos)
{
	unsigned int nr = READ_ONCE(export_pages_nr);

	if (*ppos)
		return 0;
	if (!nr)
		return -EINVAL;
	return ctest_read_fd(ctest_export_pages(nr), ubuf, len, ppos);
}

static const struct file_operations export_pages_fops = {
	.owner = THIS_MODULE,
	.read = export_pages_read,
	.write = export_pages_write,
};

static ssize_t export_read_flags(char __user *ubuf, size_t len, loff_t *ppos,
				 unsigned int export_flags)
{
	struct dma_buf *dmabuf;

	if (*ppos)
		return 0;
	dmabuf = ctest_export(export_flags, 0);
	if (!IS_ERR(dmabuf))
		atomic_inc(&exports_done);
	return ctest_read_fd(dmabuf, ubuf, len, ppos);
}

static ssize_t export_read(struct file *file, char __user *ubuf, size_t len,
			   loff_t *ppos)
{
	return export_read_flags(ubuf, len, ppos, 0);
}

static ssize_t export_nommap_read(struct file *file, char __user *ubuf,
				  size_t len, loff_t *ppos)
{
	return export_read_flags(ubuf, len, ppos, DMAVEC_EXPORT_NO_MMAP);
}

/*
 * QEMU's edu device, the bare DMA master of the import files (a reference
 * for pci_dev_put()), with the maximum segment size an importer driver
 * sets; NULL without one.
 */
static struct pci_dev *ctest_edu(void)
{
	struct pci_dev *edu = pci_get_device(0x1234, 0x11e8, NULL);

	if (edu)
		dma_set_max_seg_size(&edu->dev, UINT_MAX);
	return edu;
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

	edu = ctest_edu();
	if (!edu)
		return -ENODEV;
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

static void ctest_sgt_invalidate(struct dma_buf_attachment *attach)
{
	/* The map below is undone before the reservation lock is dropped. */
}

static const struct dma_buf_attach_ops ctest_sgt_importer = {
	.allow_peer2peer = true,
	.invalidate_mappings = ctest_sgt_invalidate,
};

/* A dma-buf core importer: what the dma-buf's own map_dma_buf hands out. */
static int ctest_sgt(int fd)
{
	struct dma_buf_attachment *attach;
	size_t bytes = 0, pages = 0;
	dma_addr_t first = 0;
	struct dma_buf *dmabuf;
	struct scatterlist *sg;
	struct sg_table *sgt;
	struct pci_dev *edu;
	unsigned int i;
	int ret = 0;

	edu = ctest_edu();
	if (!edu)
		return -ENODEV;
	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto put_dev;
	}
	attach = dma_buf_dynamic_attach(dmabuf, &edu->dev, &ctest_sgt_importer,
					NULL);
	if (IS_ERR(attach)) {
		ret = PTR_ERR(attach);
		goto put_buf;
	}
	dma_resv_lock(dmabuf->resv, NULL);
	sgt = dma_buf_map_attachment(attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt)) {
		ret = PTR_ERR(sgt);
	} else {
		for_each_sgtable_dma_sg(sgt, sg, i) {
			if (!i)
				first = sg_dma_address(sg);
			bytes += sg_dma_len(sg);
		}
		/* The CPU side: the dma-buf core hides it (mangles page_link). */
		for (i = 0; i < sgt->orig_nents; i++)
			if (sg_page(&sgt->sgl[i]))
				pages++;
		scnprintf(report, sizeof(report),
			  "nents %u pages %zu bytes %zu first %pad\n",
			  sgt->nents, pages, bytes, &first);
		dma_buf_unmap_attachment(attach, sgt, DMA_BIDIRECTIONAL);
	}
	dma_resv_unlock(dmabuf->resv);
	dma_buf_detach(dmabuf, attach);
put_buf:
	dma_buf_put(dmabuf);
put_dev:
	pci_dev_put(edu);
	return ret;
}

static ssize_t sgt_write(struct file *file, const char __user *ubuf,
			 size_t len, loff_t *ppos)
{
	int fd, ret;

	ret = kstrtoint_from_user(ubuf, len, 10, &fd);
	if (ret)
		return ret;
	mutex_lock(&report_lock);
	ret = ctest_sgt(fd);
	if (ret)
		scnprintf(report, sizeof(report), "error %d\n", ret);
	mutex_unlock(&report_lock);
	return len;
}

#define TIME_MAX_REPS 1001

static int cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static int ctest_time(int fd, unsigned int reps)
{
	struct dma_buf_attachment *core;
	struct dmavec_attachment *att;
	enum dmavec_map_type type = DMAVEC_MAP_IOVA;
	const struct dma_vec *vecs;
	unsigned int i, nents = 0;
	struct dma_buf *dmabuf;
	struct sg_table *sgt;
	u64 *tc, *td, t0;
	struct pci_dev *edu;
	size_t nr = 0;
	int ret = 0;

	edu = ctest_edu();
	if (!edu)
		return -ENODEV;
	tc = kcalloc(2 * reps, sizeof(*tc), GFP_KERNEL);
	if (!tc) {
		ret = -ENOMEM;
		goto put_dev;
	}
	td = tc + reps;
	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto free;
	}
	core = dma_buf_dynamic_attach(dmabuf, &edu->dev, &ctest_sgt_importer,
				      NULL);
	if (IS_ERR(core)) {
		ret = PTR_ERR(core);
		goto put_buf;
	}
	att = dmavec_attach(dmabuf, &edu->dev, &ctest_importer, NULL);
	if (IS_ERR(att)) {
		ret = PTR_ERR(att);
		goto detach_core;
	}
	dma_resv_lock(dmabuf->resv, NULL);
	for (i = 0; i < reps && !ret; i++) {
		t0 = ktime_get_ns();
		sgt = dma_buf_map_attachment(core, DMA_BIDIRECTIONAL);
		if (IS_ERR(sgt)) {
			ret = PTR_ERR(sgt);
			break;
		}
		nents = sgt->nents;
		dma_buf_unmap_attachment(core, sgt, DMA_BIDIRECTIONAL);
		tc[i] = ktime_get_ns() - t0;
		t0 = ktime_get_ns();
		ret = dmavec_map(att, DMA_BIDIRECTIONAL, &vecs, &nr, &type);
		if (!ret)
			dmavec_unmap(att);
		td[i] = ktime_get_ns() - t0;
	}
	dma_resv_unlock(dmabuf->resv);
	if (!ret) {
		sort(tc, reps, sizeof(*tc), cmp_u64, NULL);
		sort(td, reps, sizeof(*td), cmp_u64, NULL);
		scnprintf(report, sizeof(report),
			  "core %llu dmavec %llu kind %s entries %zu nents %u\n",
			  tc[reps / 2], td[reps / 2],
			  type < ARRAY_SIZE(kinds) ? kinds[type] : "?", nr,
			  nents);
	}
	dmavec_detach(att);
detach_core:
	dma_buf_detach(dmabuf, core);
put_buf:
	dma_buf_put(dmabuf);
free:
	kfree(tc);
put_dev:
	pci_dev_put(edu);
	return ret;
}

static ssize_t time_write(struct file *file, const char __user *ubuf,
			  size_t len, loff_t *ppos)
{
	unsigned int reps;
	char buf[32];
	int fd, ret;

	if (len >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, len))
		return -EFAULT;
	buf[len] = '\0';
	if (sscanf(buf, "%d %u", &fd, &reps) != 2 || !reps ||
	    reps > TIME_MAX_REPS)
		return -EINVAL;
	mutex_lock(&report_lock);
	ret = ctest_time(fd, reps);
	if (ret)
		scnprintf(report, sizeof(report), "error %d\n", ret);
	mutex_unlock(&report_lock);
	return len;
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

static const struct file_operations export_nommap_fops = {
	.owner = THIS_MODULE,
	.read = export_nommap_read,
};

static const struct file_operations sgt_fops = {
	.owner = THIS_MODULE,
	.read = import_read,
	.write = sgt_write,
};

static const struct file_operations time_fops = {
	.owner = THIS_MODULE,
	.read = import_read,
	.write = time_write,
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

static ssize_t export_unaligned_read(struct file *file, char __user *ubuf,
				     size_t len, loff_t *ppos)
{
	if (*ppos)
		return 0;
	return ctest_read_fd(ctest_export(0, CTEST_MID_OFF), ubuf, len, ppos);
}

/* The buffer of cpu_buf (a reference), its ranges and size, under cpu_lock. */
static DEFINE_MUTEX(cpu_lock);
static struct dma_buf *cpu_dmabuf;
static const struct phys_vec *cpu_ranges;
static size_t cpu_nr_ranges;

static ssize_t cpu_buf_write(struct file *file, const char __user *ubuf,
			     size_t len, loff_t *ppos)
{
	const struct phys_vec *ranges = NULL;
	struct dma_buf *dmabuf = NULL, *old;
	size_t nr = 0;
	int fd, ret;

	ret = kstrtoint_from_user(ubuf, len, 10, &fd);
	if (ret)
		return ret;
	if (fd >= 0) {
		dmabuf = dma_buf_get(fd);
		if (IS_ERR(dmabuf))
			return PTR_ERR(dmabuf);
		/* Only this module's buffers: system memory it allocated. */
		ret = dmavec_export_priv(dmabuf, ctest_release) ? 0 : -EINVAL;
		if (!ret) {
			dma_resv_lock(dmabuf->resv, NULL);
			ret = dmavec_export_ranges(dmabuf, &ranges, &nr);
			dma_resv_unlock(dmabuf->resv);
		}
		if (ret) {
			dma_buf_put(dmabuf);
			return ret;
		}
	}
	mutex_lock(&cpu_lock);
	old = cpu_dmabuf;
	cpu_dmabuf = dmabuf;
	cpu_ranges = ranges;
	cpu_nr_ranges = nr;
	mutex_unlock(&cpu_lock);
	if (old)
		dma_buf_put(old);
	return len;
}

/*
 * Copies @len bytes at buffer offset *@ppos of the cpu_buf buffer to or from
 * @ubuf; short at the end of the buffer.
 */
static ssize_t cpu_rw(char __user *ubuf, size_t len, loff_t *ppos,
		      bool write)
{
	size_t i, start = 0, done = 0;
	loff_t pos = *ppos;
	int ret = 0;

	if (pos < 0)
		return -EINVAL;
	mutex_lock(&cpu_lock);
	if (!cpu_dmabuf)
		ret = -ENOENT;
	/* The ranges stay valid, and the pages ours, while the reference is held. */
	for (i = 0; !ret && i < cpu_nr_ranges && done < len; i++) {
		const struct phys_vec *r = &cpu_ranges[i];
		size_t off, n;
		void *cpu;

		start += r->len;
		if (pos + done >= start)
			continue;
		off = r->len - (start - (pos + done));
		n = min(r->len - off, len - done);
		cpu = phys_to_virt(r->paddr + off);
		if (write ? copy_from_user(cpu, ubuf + done, n) :
			    copy_to_user(ubuf + done, cpu, n))
			ret = -EFAULT;
		else
			done += n;
	}
	mutex_unlock(&cpu_lock);
	if (ret)
		return ret;
	*ppos = pos + done;
	return done;
}

static ssize_t cpu_read(struct file *file, char __user *ubuf, size_t len,
			loff_t *ppos)
{
	return cpu_rw(ubuf, len, ppos, false);
}

static ssize_t cpu_write(struct file *file, const char __user *ubuf,
			 size_t len, loff_t *ppos)
{
	return cpu_rw((char __user *)ubuf, len, ppos, true);
}

/*
 * Sets pci_dev->untrusted of every edu device. A plain store to a bitfield:
 * test VMs only, while nothing else changes the device's flags.
 */
static ssize_t edu_untrusted_write(struct file *file, const char __user *ubuf,
				   size_t len, loff_t *ppos)
{
	struct pci_dev *edu = NULL;
	bool on;
	int ret;

	ret = kstrtobool_from_user(ubuf, len, &on);
	if (ret)
		return ret;
	while ((edu = pci_get_device(0x1234, 0x11e8, edu)))
		edu->untrusted = on;
	return len;
}

static ssize_t edu_untrusted_read(struct file *file, char __user *ubuf,
				  size_t len, loff_t *ppos)
{
	struct pci_dev *edu = pci_get_device(0x1234, 0x11e8, NULL);
	char out[4];
	int n;

	if (!edu)
		return -ENODEV;
	n = scnprintf(out, sizeof(out), "%d\n", edu->untrusted ? 1 : 0);
	pci_dev_put(edu);
	return simple_read_from_buffer(ubuf, len, ppos, out, n);
}

/* Sets the DMA minimum alignment mask of every edu device; test VMs only. */
static ssize_t edu_min_align_mask_write(struct file *file,
					const char __user *ubuf, size_t len,
					loff_t *ppos)
{
	struct pci_dev *edu = NULL;
	unsigned int mask;
	int ret;

	ret = kstrtouint_from_user(ubuf, len, 0, &mask);
	if (ret)
		return ret;
	while ((edu = pci_get_device(0x1234, 0x11e8, edu)))
		dma_set_min_align_mask(&edu->dev, mask);
	return len;
}

static ssize_t edu_min_align_mask_read(struct file *file, char __user *ubuf,
				       size_t len, loff_t *ppos)
{
	struct pci_dev *edu = pci_get_device(0x1234, 0x11e8, NULL);
	char out[16];
	int n;

	if (!edu)
		return -ENODEV;
	n = scnprintf(out, sizeof(out), "%#x\n", dma_get_min_align_mask(&edu->dev));
	pci_dev_put(edu);
	return simple_read_from_buffer(ubuf, len, ppos, out, n);
}

static const struct file_operations edu_min_align_mask_fops = {
	.owner = THIS_MODULE,
	.read = edu_min_align_mask_read,
	.write = edu_min_align_mask_write,
};

static const struct file_operations export_unaligned_fops = {
	.owner = THIS_MODULE,
	.read = export_unaligned_read,
};

static const struct file_operations cpu_buf_fops = {
	.owner = THIS_MODULE,
	.write = cpu_buf_write,
};

static const struct file_operations cpu_fops = {
	.owner = THIS_MODULE,
	.read = cpu_read,
	.write = cpu_write,
	.llseek = default_llseek,
};

static const struct file_operations edu_untrusted_fops = {
	.owner = THIS_MODULE,
	.read = edu_untrusted_read,
	.write = edu_untrusted_write,
};

static int __init dmavec_ctest_init(void)
{
	root = debugfs_create_dir(KBUILD_MODNAME, NULL);
	debugfs_create_file("export", 0400, root, NULL, &export_fops);
	debugfs_create_file("export_nommap", 0400, root, NULL,
			    &export_nommap_fops);
	debugfs_create_file("sgt", 0600, root, NULL, &sgt_fops);
	debugfs_create_file("time", 0600, root, NULL, &time_fops);
	debugfs_create_file("import", 0600, root, NULL, &import_fops);
	debugfs_create_file("revoke", 0600, root, NULL, &revoke_fops);
	debugfs_create_file("hold", 0600, root, NULL, &hold_fops);
	debugfs_create_file("export_unaligned", 0400, root, NULL,
			    &export_unaligned_fops);
	debugfs_create_file("export_pages", 0600, root, NULL,
			    &export_pages_fops);
	debugfs_create_file("cpu_buf", 0200, root, NULL, &cpu_buf_fops);
	debugfs_create_file("cpu", 0600, root, NULL, &cpu_fops);
	debugfs_create_file("edu_untrusted", 0600, root, NULL,
			    &edu_untrusted_fops);
	debugfs_create_file("edu_min_align_mask", 0600, root, NULL,
			    &edu_min_align_mask_fops);
	return 0;
}

static void __exit dmavec_ctest_exit(void)
{
	debugfs_remove(root);
	if (cpu_dmabuf)
		dma_buf_put(cpu_dmabuf);
}

static void other_release(void *priv)
{
}

static void capi_free_page(void *priv)
{
	__free_page(priv);
}

/* dmavec_export_priv() answers the exporter that passes its release only. */
static void capi_export_priv_names_the_exporter(struct kunit *test)
{
	struct dma_buf *dmabuf = ctest_export(0, 0);
	void *priv;

	KUNIT_ASSERT_FALSE(test, IS_ERR(dmabuf));
	priv = dmavec_export_priv(dmabuf, ctest_release);
	KUNIT_EXPECT_NOT_NULL(test, priv);
	KUNIT_EXPECT_NULL(test, dmavec_export_priv(dmabuf, other_release));
	KUNIT_EXPECT_NULL(test, dmavec_export_priv(dmabuf, NULL));
	dma_buf_put(dmabuf);
}

/* The ranges as exported, under the reservation lock; -ENODEV revoked. */
static void capi_export_ranges_follow_revocation(struct kunit *test)
{
	struct dma_buf *dmabuf = ctest_export(0, 0);
	const struct phys_vec *r = NULL;
	struct ctest_buf *b;
	size_t nr = 0, i;

	KUNIT_ASSERT_FALSE(test, IS_ERR(dmabuf));
	b = dmavec_export_priv(dmabuf, ctest_release);
	KUNIT_ASSERT_NOT_NULL(test, b);
	dma_resv_lock(dmabuf->resv, NULL);
	KUNIT_EXPECT_EQ(test, 0, dmavec_export_ranges(dmabuf, &r, &nr));
	dma_resv_unlock(dmabuf->resv);
	KUNIT_ASSERT_EQ(test, (size_t)NR_PAGES, nr);
	for (i = 0; i < nr; i++) {
		KUNIT_EXPECT_EQ(test, r[i].len, (size_t)PAGE_SIZE);
		KUNIT_EXPECT_EQ(test, r[i].paddr,
				page_to_phys(b->pages[2 * (NR_PAGES - 1 - i)]));
	}
	KUNIT_ASSERT_EQ(test, 0, dmavec_revoke(dmabuf, true));
	dma_resv_lock(dmabuf->resv, NULL);
	KUNIT_EXPECT_EQ(test, -ENODEV, dmavec_export_ranges(dmabuf, &r, &nr));
	dma_resv_unlock(dmabuf->resv);
	KUNIT_ASSERT_EQ(test, 0, dmavec_revoke(dmabuf, false));
	dma_resv_lock(dmabuf->resv, NULL);
	KUNIT_EXPECT_EQ(test, 0, dmavec_export_ranges(dmabuf, &r, &nr));
	dma_resv_unlock(dmabuf->resv);
	dma_buf_put(dmabuf);
}

/* Unknown export flags are refused; a built-in exporter has no module. */
static void capi_export_flags_and_owner(struct kunit *test)
{
	struct phys_vec range;
	struct dmavec_export_info info = {
		.name = KBUILD_MODNAME,
		.ranges = &range,
		.nr_ranges = 1,
		.flags = O_RDWR,
	};
	struct dma_buf *dmabuf;
	struct page *page;

	page = alloc_page(GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, page);
	range.paddr = page_to_phys(page);
	range.len = PAGE_SIZE;
	info.release = capi_free_page;
	info.priv = page;
	info.export_flags = 1U << 31;
	KUNIT_EXPECT_EQ(test, -EINVAL, PTR_ERR(dmavec_export(&info)));
	/* The page is still ours: a failed export never calls release. */
	info.export_flags = DMAVEC_EXPORT_NO_MMAP;
	dmabuf = dmavec_export(&info);
	if (IS_ERR(dmabuf))
		__free_page(page);
	KUNIT_ASSERT_FALSE(test, IS_ERR(dmabuf));
	KUNIT_EXPECT_TRUE(test, dmavec_is_dmavec(dmabuf));
	KUNIT_EXPECT_PTR_EQ(test, page, dmavec_export_priv(dmabuf, capi_free_page));
	KUNIT_EXPECT_NULL(test, dmavec_export_priv(dmabuf, ctest_release));
	/* The dma-buf frees the page when it is released. */
	dma_buf_put(dmabuf);
}

/*
 * dmavec_mapping_map() for edu: two pages of system memory in reverse order
 * become one entry behind a translating IOMMU, the entries cover both pages
 * and the type says how they were made; bad input fails with the errnos of
 * <linux/dmavec.h> and maps nothing (DMA-API debugging and kmemleak check).
 */
static void capi_mapping_map_and_errnos(struct kunit *test)
{
	struct pci_dev *edu = ctest_edu();
	struct dmavec_mapping *m;
	const struct dma_vec *v;
	struct page *a, *b;
	struct phys_vec r[2];
	size_t nr = 0, i, total = 0;

	if (!edu)
		kunit_skip(test, "no edu device (1234:11e8)");
	a = alloc_page(GFP_KERNEL);
	b = alloc_page(GFP_KERNEL);
	if (!a || !b)
		goto out;
	r[0] = (struct phys_vec){ page_to_phys(b), PAGE_SIZE };
	r[1] = (struct phys_vec){ page_to_phys(a), PAGE_SIZE };
	m = dmavec_mapping_map(&edu->dev, NULL, r, 2, DMA_TO_DEVICE);
	if (IS_ERR(m)) {
		KUNIT_FAIL(test, "dmavec_mapping_map(): %ld", PTR_ERR(m));
		goto out;
	}
	v = dmavec_mapping_vecs(m, &nr);
	for (i = 0; i < nr; i++)
		total += v[i].len;
	KUNIT_EXPECT_EQ(test, 2 * PAGE_SIZE, total);
	if (dmavec_mapping_type(m) == DMAVEC_MAP_IOVA) {
		KUNIT_EXPECT_EQ(test, 1, nr);
	} else {
		KUNIT_EXPECT_EQ(test, DMAVEC_MAP_DIRECT, dmavec_mapping_type(m));
		KUNIT_EXPECT_LE(test, nr, 2);
	}
	dmavec_mapping_unmap(m);

	KUNIT_EXPECT_EQ(test, -EINVAL,
			PTR_ERR(dmavec_mapping_map(&edu->dev, NULL, r, 0, DMA_TO_DEVICE)));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			PTR_ERR(dmavec_mapping_map(&edu->dev, NULL, NULL, 2, DMA_TO_DEVICE)));
	KUNIT_EXPECT_EQ(test, -EINVAL,
			PTR_ERR(dmavec_mapping_map(&edu->dev, NULL, r, 2, DMA_NONE)));
	/* An inner boundary inside a page. */
	r[0].len = PAGE_SIZE / 2;
	KUNIT_EXPECT_EQ(test, -EINVAL,
			PTR_ERR(dmavec_mapping_map(&edu->dev, NULL, r, 2, DMA_TO_DEVICE)));
	r[0].len = 0;
	KUNIT_EXPECT_EQ(test, -EINVAL,
			PTR_ERR(dmavec_mapping_map(&edu->dev, NULL, r, 2, DMA_TO_DEVICE)));
	/* A range that wraps the physical address space. */
	r[0] = (struct phys_vec){ (phys_addr_t)-PAGE_SIZE, 2 * PAGE_SIZE };
	KUNIT_EXPECT_EQ(test, -EOVERFLOW,
			PTR_ERR(dmavec_mapping_map(&edu->dev, NULL, r, 1, DMA_TO_DEVICE)));
	dmavec_mapping_unmap(NULL);
out:
	if (a)
		__free_page(a);
	if (b)
		__free_page(b);
	pci_dev_put(edu);
	KUNIT_EXPECT_TRUE(test, a && b);
}

static struct kunit_case capi_cases[] = {
	KUNIT_CASE(capi_export_priv_names_the_exporter),
	KUNIT_CASE(capi_export_ranges_follow_revocation),
	KUNIT_CASE(capi_export_flags_and_owner),
	KUNIT_CASE(capi_mapping_map_and_errnos),
	{}
};

static struct kunit_suite capi_suite = {
	.name = "dmavec_capi",
	.test_cases = capi_cases,
};

kunit_test_suite(capi_suite);

module_init(dmavec_ctest_init);
module_exit(dmavec_ctest_exit);

MODULE_DESCRIPTION("dmavec C API tests (test VMs only)");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS("DMAVEC");
MODULE_IMPORT_NS("DMA_BUF");
