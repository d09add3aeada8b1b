// SPDX-License-Identifier: GPL-2.0
/*
 * The array as a negotiated dma-buf mapping type: edu, through
 * dmavec's importer API, asks the dma-buf core for the DMA-vector type and
 * gets it from two exporters, dmavec_bar's buffers and dmavec_ownexp's, which
 * keeps its own dma_buf_ops and maps with dmavec's mapping core as a library;
 * a dma-buf core importer (dmavec_ctest's sgt file) still gets an sg_table
 * from both; debugfs shows each attachment's type; revocation works through
 * the new type.
 *
 * Needs dmavec_bar on ivshmem-plain, dmavec_edu on edu, the test modules
 * dmavec_ctest and dmavec_ownexp, and the VM runner's host agent: BAR offsets
 * are host file offsets.
 */

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/dmavec.h>
#include <linux/dmavec_edu.h>
#include <linux/types.h>

#include "kselftest_harness.h"
#include "host_agent.h"
#include "dmavec_util.h"
#include "dmavec_edu_util.h"

#define OWNEXP		"/sys/kernel/debug/dmavec_ownexp/"
#define CTEST_SGT	"/sys/kernel/debug/dmavec_ctest/sgt"
#define SZ_64K		0x10000ULL
#define SZ_128K		0x20000ULL
#define XFER		2048ULL
#define PAGE		4096ULL

/* dmavec_ctest's dma-buf core importer on @fd: "nents <n> pages <n> bytes <n> first <a>". */
static int core_import(int fd, unsigned int *nents, unsigned int *pages,
		       unsigned long long *bytes)
{
	char line[256], fd_text[16];
	unsigned long long first;

	snprintf(fd_text, sizeof(fd_text), "%d", fd);
	if (write_file(CTEST_SGT, fd_text) || read_line(CTEST_SGT, line, sizeof(line)))
		return -1;
	return sscanf(line, "nents %u pages %u bytes %llu first %llx", nents, pages, bytes,
		      &first) == 4 ? 0 : -1;
}

static void own_maps(unsigned int *vec, unsigned int *sgt)
{
	char line[64];

	*vec = *sgt = ~0U;
	if (!read_line(OWNEXP "maps", line, sizeof(line)))
		sscanf(line, "vec %u sgt %u", vec, sgt);
}

/* Whether edu sits in a translated (DMA) IOMMU domain. */
static int translated(const char *bdf)
{
	char path[PATH_MAX], type[32] = "";

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group/type", bdf);
	if (read_line(path, type, sizeof(type)))
		return 0;
	return !strcmp(type, "DMA") || !strcmp(type, "DMA-FQ");
}

FIXTURE(types) {
	int edu, translated;
	char edu_bdf[64];
};

FIXTURE_SETUP(types)
{
	DMAVEC_NEEDS(return, NEED_DEV | NEED_EDU | NEED_CTEST | NEED_AGENT);
	if (access(OWNEXP "export", R_OK))
		SKIP(return, "no dmavec_ownexp: this kernel lacks the dma-buf mapping types");
	self->edu = open_node("dmavec-edu-", self->edu_bdf, sizeof(self->edu_bdf));
	ASSERT_LE(0, self->edu);
	self->translated = translated(self->edu_bdf);
}

FIXTURE_TEARDOWN(types)
{
	if (self->edu >= 0) {
		ioctl(self->edu, DMAVEC_EDU_IOCTL_DETACH);
		close(self->edu);
	}
}

/*
 * A dmavec buffer: edu negotiates the DMA-vector type (debugfs says so) and
 * gets the mapping core's array, one IOVA entry behind a translating IOMMU;
 * a dma-buf core importer of the same buffer gets a DMA-only sg_table.
 */
TEST_F(types, dmavec_buffer_negotiates_the_dma_vector_type)
{
	struct dmavec_export e = { .count = 2, .fd_flags = O_RDWR | O_CLOEXEC };
	unsigned long long bytes;
	struct dmavec_range r[2];
	struct dmavec_alloc a;
	struct dmavec_edu_info i;
	unsigned int nents, pages;
	char type[64];
	int bar;

	bar = open_node("dmavec-", NULL, 0);
	ASSERT_LE(0, bar);
	memset(&a, 0, sizeof(a));
	a.size = 16 * PAGE;
	ASSERT_EQ(0, ioctl(bar, DMAVEC_IOCTL_ALLOC, &a));
	memset(r, 0, sizeof(r));
	r[0].handle = a.handle;
	r[1].handle = a.handle;
	r[0].offset = 8 * PAGE;
	r[0].length = 8 * PAGE;
	r[1].length = 8 * PAGE;
	e.ranges = (__u64)(unsigned long)r;
	ASSERT_EQ(0, ioctl(bar, DMAVEC_IOCTL_EXPORT, &e));

	ASSERT_EQ(0, edu_import(self->edu, e.fd));
	ASSERT_EQ(0, edu_info(self->edu, &i));
	ASSERT_EQ(0, attached_type(fd_ino(e.fd), self->edu_bdf, type, sizeof(type)))
		TH_LOG("edu %s not attached in " BUFINFO, self->edu_bdf);
	TH_LOG("edu's attachment: %s; map type %u, %u entries", type, i.map_type, i.entries);
	EXPECT_STREQ("dma_vec", type);
	EXPECT_EQ(16 * PAGE, i.size);
	EXPECT_NE(DMAVEC_EDU_MAP_SG_TABLE, i.map_type);
	if (self->translated) {
		EXPECT_EQ(DMAVEC_EDU_MAP_IOVA, i.map_type);
		EXPECT_EQ(1, i.entries);
	}

	ASSERT_EQ(0, core_import(e.fd, &nents, &pages, &bytes));
	EXPECT_EQ(0, pages);
	EXPECT_EQ(16 * PAGE, bytes);
	if (self->translated)
		EXPECT_EQ(1, nents);

	ASSERT_EQ(0, ioctl(self->edu, DMAVEC_EDU_IOCTL_DETACH));
	close(e.fd);
	close(bar);
}

/*
 * dmavec_ownexp's buffer (its own dma_buf_ops, BAR bytes [64K, 128K) then
 * [0, 64K)): edu negotiates the DMA-vector type with it, no ops check
 * involved; what edu writes lands in the host file where the ranges say and
 * reads back.
 */
TEST_F(types, own_exporter_array_reaches_edu_and_the_host)
{
	static const struct {
		__u64 buf, bar;
		__u32 seed;
	} w[] = {
		{ 0, SZ_64K, 1601 },
		{ SZ_64K - XFER, SZ_128K - XFER, 1602 },
		{ SZ_64K + 100, 100, 1603 },
	};
	unsigned int vec0, sgt0, vec1, sgt1, k;
	__u8 want[XFER], got[XFER];
	struct dmavec_edu_info i;
	char type[64];
	int fd;

	own_maps(&vec0, &sgt0);
	fd = read_fd_from(OWNEXP "export");
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, edu_import(self->edu, fd));
	for (k = 0; k < 3; k++) {
		ASSERT_EQ(0, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, w[k].buf, XFER,
				      w[k].seed, NULL));
		EXPECT_EQ(XFER, agent_check(w[k].bar, XFER, w[k].seed))
			TH_LOG("buffer offset %llu", (unsigned long long)w[k].buf);
		ASSERT_EQ(0, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_READ, w[k].buf, XFER, 0, got));
		agent_pattern(w[k].seed, want, XFER);
		EXPECT_EQ(0, memcmp(want, got, XFER));
	}
	ASSERT_EQ(0, edu_info(self->edu, &i));
	ASSERT_EQ(0, attached_type(fd_ino(fd), self->edu_bdf, type, sizeof(type)));
	TH_LOG("edu's attachment: %s; map type %u, %u entries, first DMA address %#llx",
	       type, i.map_type, i.entries, (unsigned long long)i.first_addr);
	EXPECT_STREQ("dma_vec", type);
	EXPECT_EQ(SZ_128K, i.size);
	if (self->translated) {
		EXPECT_EQ(DMAVEC_EDU_MAP_IOVA, i.map_type);
		EXPECT_EQ(1, i.entries);
	} else {
		EXPECT_NE(DMAVEC_EDU_MAP_SG_TABLE, i.map_type);
		EXPECT_EQ(2, i.entries);
	}
	own_maps(&vec1, &sgt1);
	EXPECT_LT(vec0, vec1);
	EXPECT_EQ(sgt0, sgt1);
	ASSERT_EQ(0, ioctl(self->edu, DMAVEC_EDU_IOCTL_DETACH));
	close(fd);
}

/* A dma-buf core importer of dmavec_ownexp's buffer gets its sg_table. */
TEST_F(types, own_exporter_serves_sg_table_importers)
{
	unsigned int vec0, sgt0, vec1, sgt1, nents, pages;
	unsigned long long bytes;
	int fd;

	own_maps(&vec0, &sgt0);
	fd = read_fd_from(OWNEXP "export");
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, core_import(fd, &nents, &pages, &bytes));
	EXPECT_EQ(0, pages);
	EXPECT_EQ(SZ_128K, bytes);
	EXPECT_EQ(self->translated ? 1 : 2, nents);
	own_maps(&vec1, &sgt1);
	EXPECT_EQ(vec0, vec1);
	EXPECT_EQ(sgt0 + 1, sgt1);
	close(fd);
}

/*
 * Revocation through the new type: edu is invalidated once, its next WRITE
 * and INFO fail with ENODEV and nothing reaches the host file; restoring
 * lets the next WRITE land.
 */
TEST_F(types, own_exporter_revokes_through_the_dma_vector_type)
{
	struct dmavec_edu_info i;
	__u32 inv;
	int fd;

	fd = read_fd_from(OWNEXP "export");
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, edu_import(self->edu, fd));
	ASSERT_EQ(0, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, 0, XFER, 1701, NULL));
	ASSERT_EQ(0, edu_info(self->edu, &i));
	inv = i.invalidations;
	ASSERT_EQ(0, agent_fill(SZ_64K, XFER, 1702));

	ASSERT_EQ(0, write_file(OWNEXP "revoke", "1"));
	EXPECT_EQ(-ENODEV, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, 0, XFER, 1703, NULL));
	EXPECT_EQ(-ENODEV, edu_info(self->edu, &i));
	EXPECT_EQ(XFER, agent_check(SZ_64K, XFER, 1702));

	ASSERT_EQ(0, write_file(OWNEXP "revoke", "0"));
	ASSERT_EQ(0, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, 0, XFER, 1704, NULL));
	EXPECT_EQ(XFER, agent_check(SZ_64K, XFER, 1704));
	ASSERT_EQ(0, edu_info(self->edu, &i));
	EXPECT_EQ(inv + 1, i.invalidations);
	ASSERT_EQ(0, ioctl(self->edu, DMAVEC_EDU_IOCTL_DETACH));
	close(fd);
}

/*
 * The provider of dmavec_ownexp's buffers goes with dmavec_bar's binding:
 * unbinding ivshmem revokes them for good (still ENODEV after the rebind),
 * and a new export works again.
 */
TEST_F(types, unbinding_the_bar_revokes_own_exports_for_good)
{
	char bdf[64], path[PATH_MAX];
	int fd, fd2, bar;

	bar = open_node("dmavec-", bdf, sizeof(bdf));
	ASSERT_LE(0, bar);
	close(bar);
	fd = read_fd_from(OWNEXP "export");
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, edu_import(self->edu, fd));
	ASSERT_EQ(0, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, 0, XFER, 1801, NULL));

	ASSERT_EQ(0, write_file("/sys/bus/pci/drivers/dmavec_bar/unbind", bdf));
	EXPECT_EQ(-ENODEV, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, 0, XFER, 1802, NULL));
	EXPECT_GT(0, read_fd_from(OWNEXP "export"));
	ASSERT_EQ(0, write_file("/sys/bus/pci/drivers_probe", bdf));
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/dmavec_bar/%s", bdf);
	ASSERT_EQ(0, access(path, F_OK));
	EXPECT_EQ(-ENODEV, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, 0, XFER, 1803, NULL));

	fd2 = read_fd_from(OWNEXP "export");
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, edu_import(self->edu, fd2));
	ASSERT_EQ(0, edu_xfer(self->edu, DMAVEC_EDU_IOCTL_WRITE, 0, XFER, 1804, NULL));
	EXPECT_EQ(XFER, agent_check(SZ_64K, XFER, 1804));
	ASSERT_EQ(0, ioctl(self->edu, DMAVEC_EDU_IOCTL_DETACH));
	close(fd2);
	close(fd);
}

TEST_HARNESS_MAIN
