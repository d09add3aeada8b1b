// SPDX-License-Identifier: GPL-2.0
/*
 * vfio-pci's dma-buf of device memory, imported by edu: ivshmem-plain
 * (1af4:1110) is bound to vfio-pci and opened through iommufd, two ranges of
 * its BAR 2 are exported with VFIO_DEVICE_FEATURE_DMA_BUF, and edu DMAs into
 * them; the host checks the bytes in the file behind the BAR (host file
 * offset == BAR offset). Shown: the map edu gets, the sg_table a dma-buf core
 * importer gets, revocation by memory disable, reset and device close,
 * iommufd's IOMMU_IOAS_MAP_FILE of one range and of two, and vfio's errnos.
 *
 * The same program runs on two kernels: DMAVEC_VFIO_EXPECT=dmavec (vfio-pci
 * exports through dmavec) or DMAVEC_VFIO_EXPECT=stock (upstream vfio-pci).
 * Without either, every test is skipped.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/dmavec_edu.h>
#include <linux/iommufd.h>
#include <linux/types.h>
#include <linux/vfio.h>

#include "kselftest_harness.h"
#include "host_agent.h"
#include "dmavec_util.h"
#include "dmavec_edu_util.h"
#include "dmavec_vfio_util.h"

#define SZ_64K		0x10000ULL
#define SZ_128K		0x20000ULL
#define XFER		2048ULL
#define CTEST_SGT	"/sys/kernel/debug/dmavec_ctest/sgt"
#define MAX_BUFS	8

/* Buffer page 0..15 is BAR [64 KiB, 128 KiB), 16..31 is BAR [0, 64 KiB). */
static const struct vfio_region_dma_range two_ranges[2] = {
	{ .offset = SZ_64K, .length = SZ_64K },
	{ .offset = 0, .length = SZ_64K },
};

/* Buffer page 0..31 is BAR [0, 128 KiB), in two adjacent ranges. */
static const struct vfio_region_dma_range adjacent_ranges[2] = {
	{ .offset = 0, .length = SZ_64K },
	{ .offset = SZ_64K, .length = SZ_64K },
};

/* 1: upstream vfio-pci; 0: vfio-pci on dmavec; -1: not said (skip). */
static int vfio_expect(void)
{
	const char *e = getenv("DMAVEC_VFIO_EXPECT");

	if (e && !strcmp(e, "stock"))
		return 1;
	if (e && !strcmp(e, "dmavec"))
		return 0;
	return -1;
}

/* A test's state: ivshmem bound to vfio-pci, opened through iommufd; edu. */
struct vctx {
	struct vfio_dev vd;
	char edu_name[64];
	int edu, stock, translated;
	/*
	 * Invalidations edu counts for one revoke and restore: stock vfio-pci
	 * notifies the importers on both (vfio_pci_dma_buf_move()); dmavec's
	 * restore does not invalidate (Buffer::set_revoked()).
	 */
	unsigned int cycle;
	/* edu's IOMMU domain type before edu_domain() changed it, "" if it did not. */
	char edu_type[16];
	int bufs[MAX_BUFS], nbufs;
};

FIXTURE(vfio) {
	struct vctx c;
};

/* A dma-buf of BAR 2, closed by the teardown. */
static int get_dmabuf(struct vctx *v, __u32 nr, const struct vfio_region_dma_range *r)
{
	int fd = vfio_dmabuf(&v->vd, BAR2, 0, nr, r);

	if (fd >= 0 && v->nbufs < MAX_BUFS)
		v->bufs[v->nbufs++] = fd;
	return fd;
}

/* A dma-buf of BAR 2, imported by edu; its fd or -errno. */
static int import(struct vctx *v, __u32 nr, const struct vfio_region_dma_range *r)
{
	int fd = get_dmabuf(v, nr, r), err;

	if (fd < 0)
		return fd;
	err = edu_import(v->edu, fd);
	return err ? err : fd;
}

/* Puts PCI device @bdf, unbound, in an IOMMU domain of @type and binds it again. */
static int set_domain(const char *bdf, const char *type)
{
	int ret;

	if (dev_attr_write(bdf, "driver/unbind", bdf))
		return -errno;
	ret = dev_attr_write(bdf, "iommu_group/type", type) ? -errno : 0;
	/* Bound again whether or not the type changed. */
	if (write_file("/sys/bus/pci/drivers_probe", bdf) && !ret)
		ret = -errno;
	return ret;
}

/*
 * Puts every edu (the test's and dmavec_ctest's, which may be another) in an
 * IOMMU domain of @type ("identity", "DMA", "DMA-FQ"): each is unbound, its
 * group's type written (it can only change without a driver) and bound
 * again; the test's edu node is reopened in v->edu. The type the test's edu
 * had first is kept in v->edu_type for vfio_release(). 0 or -errno.
 */
static int edu_domain(struct vctx *v, const char *type)
{
	char cur[sizeof(v->edu_type)] = "", path[PATH_MAX], ven[16], dev[16];
	struct dirent *de;
	int ret = 0, err;
	DIR *d;

	if (dev_attr(v->edu_name, "iommu_group/type", cur, sizeof(cur)))
		return -ENODEV;
	cur[strcspn(cur, "\n")] = '\0';
	if (!v->edu_type[0])
		memcpy(v->edu_type, cur, sizeof(cur));
	if (v->edu >= 0) {
		close(v->edu);
		v->edu = -1;
	}
	d = opendir(PCI_DEVICES);
	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' ||
		    dev_attr(de->d_name, "vendor", ven, sizeof(ven)) ||
		    dev_attr(de->d_name, "device", dev, sizeof(dev)) ||
		    strcmp(ven, "0x1234\n") || strcmp(dev, "0x11e8\n"))
			continue;
		/* Every edu is tried; the first error is the answer. */
		err = set_domain(de->d_name, type);
		if (!ret)
			ret = err;
	}
	closedir(d);
	snprintf(path, sizeof(path), "/dev/dmavec-edu-%s", v->edu_name);
	v->edu = open(path, O_RDWR | O_CLOEXEC);
	if (v->edu < 0 && !ret)
		ret = -errno;
	return ret;
}

/* Closes everything and gives ivshmem back to its driver; 0 if it is back. */
static int vfio_release(struct vctx *v)
{
	int i;

	if (v->edu >= 0) {
		ioctl(v->edu, DMAVEC_EDU_IOCTL_DETACH);
		close(v->edu);
	}
	for (i = 0; i < v->nbufs; i++)
		close(v->bufs[i]);
	if (v->edu_type[0]) {
		v->edu = -1;
		if (edu_domain(v, v->edu_type))
			fprintf(stderr, "# %s: cannot put edu back in a '%s' domain\n",
				v->edu_name, v->edu_type);
		if (v->edu >= 0)
			close(v->edu);
	}
	return vfio_close(&v->vd);
}

FIXTURE_SETUP(vfio)
{
	struct vctx *v = &self->c;
	const char *why = NULL;
	int ret;

	v->vd.dev = -1;
	v->vd.iommufd = -1;
	v->edu = -1;
	v->nbufs = 0;
	v->edu_type[0] = '\0';
	v->stock = vfio_expect();
	if (v->stock < 0)
		SKIP(return, "DMAVEC_VFIO_EXPECT is neither 'dmavec' nor 'stock'");
	v->cycle = v->stock ? 2 : 1;
	if (find_ivshmem(v->vd.bdf, sizeof(v->vd.bdf)))
		SKIP(return, "no ivshmem-plain device (1af4:1110)");
	if (access("/sys/bus/pci/drivers/vfio-pci", F_OK))
		SKIP(return, "no vfio-pci driver");
	if (access("/dev/iommu", F_OK))
		SKIP(return, "no /dev/iommu");
	DMAVEC_NEEDS(return, NEED_EDU | NEED_AGENT);
	v->edu = open_node("dmavec-edu-", v->edu_name, sizeof(v->edu_name));
	ASSERT_GE(v->edu, 0) TH_LOG("no edu importer");
	v->translated = translated(v->edu_name);
	ret = vfio_open(&v->vd, SZ_128K, &why);
	if (ret) {
		/* The harness runs no teardown after a failed setup. */
		vfio_release(v);
		ASSERT_EQ(0, ret) TH_LOG("%s: %s: %s", v->vd.bdf, why, strerror(-ret));
	}
}

FIXTURE_TEARDOWN(vfio)
{
	vfio_release(&self->c);
}

/*
 * edu imports two reversed 64 KiB ranges and writes at buffer offsets that
 * land at BAR offsets 64 KiB, 128 KiB - 2 KiB and 100: checked in the host
 * file, read back by edu. dmavec: one IOVA entry behind a translating
 * IOMMU. Stock: the dma-buf core's sg_table, merged.
 */
TEST_F(vfio, two_reversed_ranges_reach_the_bar)
{
	struct vctx *v = &self->c;
	static const struct {
		__u64 buf, bar;
		__u32 seed;
	} w[] = {
		{ 0, SZ_64K, 1101 },
		{ SZ_64K - XFER, SZ_128K - XFER, 1102 },
		{ SZ_64K + 100, 100, 1103 },
	};
	__u8 want[XFER], got[XFER];
	struct dmavec_edu_info i;
	unsigned int k;

	ASSERT_LE(0, import(v, 2, two_ranges));
	for (k = 0; k < 3; k++) {
		ASSERT_EQ(0, edu_xfer(v->edu, DMAVEC_EDU_IOCTL_WRITE, w[k].buf, XFER,
				      w[k].seed, NULL));
		if (!k) {
			/* Mapped by the first transfer (INFO would map it too). */
			ASSERT_EQ(0, edu_info(v->edu, &i));
			TH_LOG("map type %u, %u entries, %llu bytes, first DMA address %#llx",
			       i.map_type, i.entries, (unsigned long long)i.size,
			       (unsigned long long)i.first_addr);
			EXPECT_EQ(SZ_128K, i.size);
			if (v->stock) {
				/*
				 * dma_buf_phys_vec_to_sgt() links both ranges into
				 * one IOVA range behind an IOMMU: one entry too.
				 */
				EXPECT_EQ(DMAVEC_EDU_MAP_SG_TABLE, i.map_type);
				EXPECT_EQ(v->translated ? 1 : 2, i.entries);
			} else if (v->translated) {
				EXPECT_EQ(DMAVEC_EDU_MAP_IOVA, i.map_type);
				EXPECT_EQ(1, i.entries);
			} else {
				EXPECT_NE(DMAVEC_EDU_MAP_SG_TABLE, i.map_type);
				EXPECT_EQ(2, i.entries);
			}
		}
		EXPECT_EQ(XFER, agent_check(w[k].bar, XFER, w[k].seed))
			TH_LOG("buffer offset %llu", (unsigned long long)w[k].buf);
		ASSERT_EQ(0, edu_xfer(v->edu, DMAVEC_EDU_IOCTL_READ, w[k].buf, XFER, 0, got));
		agent_pattern(w[k].seed, want, XFER);
		EXPECT_EQ(0, memcmp(want, got, XFER))
			TH_LOG("buffer offset %llu", (unsigned long long)w[k].buf);
	}
}

/* What a dma-buf core importer (dmavec_ctest's sgt file, for edu) mapped. */
struct core_map {
	unsigned int nents, pages;
	unsigned long long bytes, first;
	char line[256];
};

/* A new dma-buf of @nr ranges @r of BAR 2, mapped by the core importer; 0 or -1. */
static int core_map(struct vctx *v, __u32 nr, const struct vfio_region_dma_range *r,
		    struct core_map *m)
{
	int fd = get_dmabuf(v, nr, r);
	char fd_text[16];

	m->line[0] = '\0';
	if (fd < 0)
		return -1;
	snprintf(fd_text, sizeof(fd_text), "%d", fd);
	if (write_file(CTEST_SGT, fd_text) || read_text(CTEST_SGT, m->line, sizeof(m->line)))
		return -1;
	return sscanf(m->line, "nents %u pages %u bytes %llu first %llx", &m->nents, &m->pages,
		      &m->bytes, &m->first) == 4 ? 0 : -1;
}

/*
 * A dma-buf core importer (dmavec_ctest's sgt file, for edu) gets a
 * DMA-only table of 128 KiB: one entry over an IOVA behind a translating
 * IOMMU (dma_buf_phys_vec_to_sgt() and dmavec alike), else one per range.
 */
TEST_F(vfio, dma_buf_core_importer_gets_a_dma_only_table)
{
	struct vctx *v = &self->c;
	struct core_map m;

	if (access(CTEST_SGT, F_OK))
		SKIP(return, "no " CTEST_SGT " (dmavec_ctest)");
	ASSERT_EQ(0, core_map(v, 2, two_ranges, &m)) TH_LOG("'%s'", m.line);
	TH_LOG("%s: %s", v->translated ? "translated" : "not translated", m.line);
	EXPECT_EQ(0, m.pages);
	EXPECT_EQ(SZ_128K, m.bytes);
	EXPECT_EQ(v->translated ? 1 : 2, m.nents);
}

/*
 * Without IOMMU translation (edu in an identity domain), two adjacent ranges
 * in BAR order: dmavec maps them as one run, so a dma-buf core importer gets
 * an sg_table of one entry and edu one DIRECT entry; upstream's
 * dma_buf_phys_vec_to_sgt() maps each range on its own, an sg_table of two
 * (which dmavec's importer API merges into one entry for edu, SG_TABLE).
 * Both start at the BAR's bus address. edu's WRITEs at buffer offsets 100 and
 * 64 KiB + 100 reach the host file at the same BAR offsets.
 */
TEST_F(vfio, adjacent_ranges_without_translation)
{
	struct vctx *v = &self->c;
	__u8 want[XFER], got[XFER];
	struct dmavec_edu_info i;
	struct core_map m;
	unsigned int k;

	if (access(CTEST_SGT, F_OK))
		SKIP(return, "no " CTEST_SGT " (dmavec_ctest)");
	ASSERT_EQ(0, edu_domain(v, "identity")) TH_LOG("edu %s", v->edu_name);
	ASSERT_FALSE(translated(v->edu_name));

	ASSERT_EQ(0, core_map(v, 2, adjacent_ranges, &m)) TH_LOG("'%s'", m.line);
	TH_LOG("dma-buf core importer: %s", m.line);
	EXPECT_EQ(0, m.pages);
	EXPECT_EQ(SZ_128K, m.bytes);
	EXPECT_EQ(v->stock ? 2 : 1, m.nents);

	ASSERT_LE(0, import(v, 2, adjacent_ranges));
	for (k = 0; k < 2; k++) {
		__u64 off = k * SZ_64K + 100;

		ASSERT_EQ(0, edu_xfer(v->edu, DMAVEC_EDU_IOCTL_WRITE, off, XFER, 1151 + k, NULL));
		EXPECT_EQ(XFER, agent_check(off, XFER, 1151 + k)) TH_LOG("BAR offset %llu",
									 (unsigned long long)off);
		ASSERT_EQ(0, edu_xfer(v->edu, DMAVEC_EDU_IOCTL_READ, off, XFER, 0, got));
		agent_pattern(1151 + k, want, XFER);
		EXPECT_EQ(0, memcmp(want, got, XFER));
	}
	ASSERT_EQ(0, edu_info(v->edu, &i));
	TH_LOG("edu: map type %u, %u entries, %llu bytes, first DMA address %#llx",
	       i.map_type, i.entries, (unsigned long long)i.size,
	       (unsigned long long)i.first_addr);
	EXPECT_EQ(SZ_128K, i.size);
	EXPECT_EQ(v->stock ? DMAVEC_EDU_MAP_SG_TABLE : DMAVEC_EDU_MAP_DIRECT, i.map_type);
	EXPECT_EQ(1, i.entries);
	/* BAR offset 0 at its bus address, for both importers. */
	EXPECT_EQ(m.first, i.first_addr);
	/* The BAR's CPU physical address is its bus address on x86. */
	EXPECT_EQ(bar_phys(v->vd.bdf, BAR2), i.first_addr);
}

/*
 * Clearing PCI_COMMAND_MEMORY through vfio revokes the dma-buf: edu's next
 * WRITE fails with ENODEV and reaches nothing; setting it restores it.
 */
TEST_F(vfio, memory_disable_revokes_until_enabled)
{
	struct vctx *v = &self->c;
	struct dmavec_edu_info i;
	__u32 inv;

	ASSERT_LE(0, import(v, 2, two_ranges));
	ASSERT_EQ(0, edu_xfer(v->edu, DMAVEC_EDU_IOCTL_WRITE, 0, XFER, 1201, NULL));
	EXPECT_EQ(XFER, agent_check(SZ_64K, XFER, 1201));
	ASSERT_EQ(0, edu_info(v->edu, &i));
	inv = i.invalidations;
	ASSERT_EQ(0, agent_fill(SZ_64K, XFER, 1202));
	ASSERT_EQ(0, vfio_set_memory(&v->vd, 0));
	EXPECT_EQ(-ENODEV, edu_xfer(v->edu, DMAVEC_EDU_IOCTL_WRITE, 0, XFER, 1203, NULL));
	/* INFO maps too. */
	EXPECT_EQ(-ENODEV, edu_info(v->edu, &i));
	EXPECT_EQ(XFER, agent_check(SZ_64K, XFER, 1202));
	ASSERT_EQ(0, vfio_set_memory(&v->vd, 1));
	ASSERT_EQ(0, edu_info(v->edu, &i));
	EXPECT_EQ(inv + v->cycle, i.invalidations);
	ASSERT_EQ(0, edu_xfer(v->edu, DMAVEC_EDU_IOCTL_WRITE, 0, XFER, 1204, NULL));
	EXPECT_EQ(XFER, agent_check(SZ_64K, XFER, 1204));
}

/*
 * VFIO_DEVICE_RESET revokes around the reset and restores after it (memory
 * stays enabled in vfio's virtual config): edu maps again. Under resets, a
 * WRITE in flight succeeds or fails with ENODEV, nothing else.
 */
TEST_F_TIMEOUT(vfio, device_reset_revokes_and_restores, 120)
{
	struct vctx *v = &self->c;
	struct vfio_device_info di = { .argsz = sizeof(di) };
	struct dmavec_edu_info i;
	struct {
		int stop, ok, enodev, other, last_other;
	} *c;
	int k, status;
	pid_t pid;
	__u32 inv;

	ASSERT_EQ(0, ioctl(v->vd.dev, VFIO_DEVICE_GET_INFO, &di));
	if (!(di.flags & VFIO_DEVICE_FLAGS_RESET))
		SKIP(return, "vfio-pci reports no reset for %s", v->vd.bdf);
	ASSERT_LE(0, import(v, 2, two_ranges));
	ASSERT_EQ(0, edu_xfer(v->edu, DMAVEC_EDU_IOCTL_WRITE, 0, XFER, 1301, NULL));
	EXPECT_EQ(XFER, agent_check(SZ_64K, XFER, 1301));
	ASSERT_EQ(0, edu_info(v->edu, &i));
	inv = i.invalidations;
	ASSERT_EQ(0, ioctl(v->vd.dev, VFIO_DEVICE_RESET));
	ASSERT_EQ(0, edu_info(v->edu, &i));
	EXPECT_EQ(inv + v->cycle, i.invalidations);
	inv = i.invalidations;
	ASSERT_EQ(0, edu_xfer(v->edu, DMAVEC_EDU_IOCTL_WRITE, 0, XFER, 1302, NULL));
	EXPECT_EQ(XFER, agent_check(SZ_64K, XFER, 1302));

	c = mmap(NULL, sizeof(*c), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, c);
	memset(c, 0, sizeof(*c));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		/* No harness macros here: an ASSERT would run the teardown. */
		while (!__atomic_load_n(&c->stop, __ATOMIC_RELAXED)) {
			int r = edu_xfer(v->edu, DMAVEC_EDU_IOCTL_WRITE, 0, XFER, 1303, NULL);

			c->ok += !r;
			c->enodev += r == -ENODEV;
			if (r && r != -ENODEV) {
				c->other++;
				c->last_other = r;
			}
		}
		_exit(0);
	}
	for (k = 0; k < 5; k++) {
		usleep(150000);
		EXPECT_EQ(0, ioctl(v->vd.dev, VFIO_DEVICE_RESET)) TH_LOG("reset %d", k);
	}
	usleep(150000);
	__atomic_store_n(&c->stop, 1, __ATOMIC_RELAXED);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	TH_LOG("WRITEs under 5 resets: %d ok, %d ENODEV, %d other (last %d)", c->ok,
	       c->enodev, c->other, c->last_other);
	EXPECT_EQ(0, c->other);
	EXPECT_GE(c->ok, 1);
	EXPECT_TRUE(WIFEXITED(status));
	munmap(c, sizeof(*c));
	ASSERT_EQ(0, edu_info(v->edu, &i));
	EXPECT_EQ(inv + 5 * v->cycle, i.invalidations);
	ASSERT_EQ(0, edu_xfer(v->edu, DMAVEC_EDU_IOCTL_WRITE, 0, XFER, 1304, NULL));
	EXPECT_EQ(XFER, agent_check(SZ_64K, XFER, 1304));
}

/* Closing the device revokes for good (vfio_pci_dma_buf_cleanup()). */
TEST_F(vfio, closing_the_device_revokes_for_good)
{
	struct vctx *v = &self->c;
	struct dmavec_edu_info i;

	ASSERT_LE(0, import(v, 2, two_ranges));
	ASSERT_EQ(0, edu_xfer(v->edu, DMAVEC_EDU_IOCTL_WRITE, 0, XFER, 1401, NULL));
	EXPECT_EQ(XFER, agent_check(SZ_64K, XFER, 1401));
	ASSERT_EQ(0, agent_fill(SZ_64K, XFER, 1402));
	ASSERT_EQ(0, close(v->vd.dev));
	v->vd.dev = -1;
	ASSERT_EQ(0, close(v->vd.iommufd));
	v->vd.iommufd = -1;
	EXPECT_EQ(-ENODEV, edu_xfer(v->edu, DMAVEC_EDU_IOCTL_WRITE, 0, XFER, 1403, NULL));
	EXPECT_EQ(-ENODEV, edu_info(v->edu, &i));
	EXPECT_EQ(XFER, agent_check(SZ_64K, XFER, 1402));
}

/*
 * iommufd maps a one-range dma-buf of vfio-pci; two ranges are refused with
 * EOPNOTSUPP (vfio_pci_dma_buf_iommufd_map(), returned as is by
 * iopt_map_dmabuf() and IOMMU_IOAS_MAP_FILE).
 */
TEST_F(vfio, iommufd_maps_one_range_only)
{
	struct vctx *v = &self->c;
	static const struct vfio_region_dma_range one = { .offset = 0, .length = SZ_64K };
	struct iommu_ioas_map_file m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = v->vd.ioas,
		.length = SZ_64K,
	};
	struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = v->vd.ioas };
	int fd1, fd2, err;

	fd1 = get_dmabuf(v, 1, &one);
	ASSERT_LE(0, fd1);
	fd2 = get_dmabuf(v, 2, two_ranges);
	ASSERT_LE(0, fd2);
	m.fd = fd1;
	err = ioctl(v->vd.iommufd, IOMMU_IOAS_MAP_FILE, &m) ? errno : 0;
	ASSERT_EQ(0, err) TH_LOG("one range: %s", strerror(err));
	TH_LOG("one range mapped at IOVA %#llx", (unsigned long long)m.iova);
	u.iova = m.iova;
	u.length = SZ_64K;
	err = ioctl(v->vd.iommufd, IOMMU_IOAS_UNMAP, &u) ? errno : 0;
	EXPECT_EQ(0, err) TH_LOG("unmap: %s", strerror(err));
	EXPECT_EQ(SZ_64K, u.length);
	m.fd = fd2;
	m.iova = 0;
	err = ioctl(v->vd.iommufd, IOMMU_IOAS_MAP_FILE, &m) ? errno : 0;
	TH_LOG("two ranges: %s", strerror(err));
	EXPECT_EQ(EOPNOTSUPP, err);
}

/* One range of @region; a dma-buf made is closed at once. 0 or -errno. */
static int try_export(struct vctx *v, __u32 region, __u32 flags, __u32 nr, __u64 off, __u64 len)
{
	struct vfio_region_dma_range r = { .offset = off, .length = len };
	int fd = vfio_dmabuf(&v->vd, region, flags, nr, &r);

	if (fd >= 0)
		close(fd);
	return fd < 0 ? fd : 0;
}

/* Bad requests fail as vfio_pci_core_feature_dma_buf() says, on both kernels. */
TEST_F(vfio, bad_requests_keep_vfio_errnos)
{
	struct vctx *v = &self->c;
	__u64 end = v->vd.bar_size, size = ~0ULL;

	ASSERT_EQ(0, try_export(v, BAR2, 0, 1, 0, 4096));
	EXPECT_EQ(-EINVAL, try_export(v, BAR2, 0, 0, 0, 4096));		/* no range */
	EXPECT_EQ(-EINVAL, try_export(v, BAR2, 1, 1, 0, 4096));		/* flags */
	EXPECT_EQ(-EINVAL, try_export(v, BAR2, 0, 1, 0, 0));		/* empty */
	EXPECT_EQ(-EINVAL, try_export(v, BAR2, 0, 1, 100, 4096));	/* unaligned */
	EXPECT_EQ(-EINVAL, try_export(v, BAR2, 0, 1, 0, 100));
	EXPECT_EQ(-EINVAL, try_export(v, BAR2, 0, 1, end, 4096));	/* past the end */
	EXPECT_EQ(-EINVAL, try_export(v, BAR2, 0, 1, end - 4096, 8192));
	/* BAR start + offset overflows (vfio_pci_core_fill_phys_vec()). */
	EXPECT_EQ(-EOVERFLOW, try_export(v, BAR2, 0, 1, ~0xfffULL, 4096));
	/* ivshmem-plain has no BAR 1: vfio_pci_core_get_iomap() fails. */
	ASSERT_EQ(0, vfio_region(&v->vd, VFIO_PCI_BAR1_REGION_INDEX, &size, NULL));
	EXPECT_EQ(0, size);
	EXPECT_EQ(-ENODEV, try_export(v, VFIO_PCI_BAR1_REGION_INDEX, 0, 1, 0, 4096));
	EXPECT_EQ(-ENODEV, try_export(v, VFIO_PCI_ROM_REGION_INDEX, 0, 1, 0, 4096));
}

/* After the tests above (a fixture of its own runs after theirs). */
#define CTEST_TIME	"/sys/kernel/debug/dmavec_ctest/time"

/*
 * make bench only (DMAVEC_VFIO_BENCH=1): the median cost of one map + unmap
 * of vfio-pci's dma-buf of n ranges of 64 KiB, reversed (never adjacent) and
 * adjacent in BAR order, for a dma-buf core importer and for dmavec's
 * importer API, as "==DMAVEC== VFIOBENCH <kernel> <layout> <n> <bytes>
 * <core ns> <dmavec ns> <kind> <entries> <nents>" lines that scripts/bench.py
 * tabulates.
 */
TEST_F(vfio, map_unmap_cost)
{
	static const unsigned int ns[] = { 1, 16, 64, 256 };
	struct vfio_region_dma_range *r;
	const char *reps = getenv("DMAVEC_BENCH_REPS");
	unsigned long long core, vec;
	char line[256], cmd[32], kind[16];
	unsigned int entries, nents, c, k, i, adj;
	int fd, n;

	if (!getenv("DMAVEC_VFIO_BENCH"))
		SKIP(return, "make bench only (DMAVEC_VFIO_BENCH)");
	if (access(CTEST_TIME, F_OK))
		SKIP(return, "no " CTEST_TIME " (dmavec_ctest)");
	r = calloc(ns[3], sizeof(*r));
	ASSERT_NE(NULL, r);
	for (c = 0; c < 2 * ARRAY_SIZE(ns); c++) {
		adj = c / ARRAY_SIZE(ns);
		k = c % ARRAY_SIZE(ns);
		if (ns[k] * SZ_64K > self->c.vd.bar_size)
			continue;
		for (i = 0; i < ns[k]; i++) {
			r[i].offset = (adj ? i : ns[k] - 1 - i) * SZ_64K;
			r[i].length = SZ_64K;
		}
		/* Closed here, not by the teardown. */
		fd = vfio_dmabuf(&self->c.vd, BAR2, 0, ns[k], r);
		ASSERT_LE(0, fd);
		snprintf(cmd, sizeof(cmd), "%d %s", fd, reps ? reps : "21");
		ASSERT_EQ(0, write_file(CTEST_TIME, cmd));
		ASSERT_EQ(0, read_text(CTEST_TIME, line, sizeof(line)));
		n = sscanf(line, "core %llu dmavec %llu kind %15s entries %u nents %u",
			   &core, &vec, kind, &entries, &nents);
		ASSERT_EQ(5, n) TH_LOG("%s", line);
		printf("==DMAVEC== VFIOBENCH %s %s %u %llu %llu %llu %s %u %u\n",
		       self->c.stock ? "stock" : "dmavec", adj ? "adj" : "rev", ns[k],
		       ns[k] * SZ_64K, core, vec, kind, entries, nents);
		fflush(stdout);
		close(fd);
	}
	free(r);
}

FIXTURE(after) {
};

FIXTURE_SETUP(after)
{
}

FIXTURE_TEARDOWN(after)
{
}

/* ivshmem is back with the driver it had, with no override left. */
TEST_F(after, ivshmem_is_given_back)
{
	char bdf[64], drv[64], ovr[64] = "";

	if (vfio_expect() < 0)
		SKIP(return, "DMAVEC_VFIO_EXPECT is neither 'dmavec' nor 'stock'");
	if (find_ivshmem(bdf, sizeof(bdf)))
		SKIP(return, "no ivshmem-plain device (1af4:1110)");
	driver_of(bdf, drv, sizeof(drv));
	TH_LOG("%s: driver '%s', at start '%s'", bdf, drv, orig_drv);
	EXPECT_STRNE("vfio-pci", drv);
	/* Unknown at start: any driver but vfio-pci. */
	EXPECT_STREQ(orig_drv[0] ? orig_drv : drv, drv);
	ASSERT_EQ(0, dev_attr(bdf, "driver_override", ovr, sizeof(ovr)));
	EXPECT_STREQ("(null)\n", ovr);
}

TEST_HARNESS_MAIN
