// SPDX-License-Identifier: GPL-2.0
/*
 * kselftests of the dmavec helper module as seen from user space: its
 * debugfs counters follow the maps it makes, and a dma-buf it exported
 * keeps its exporter's module loaded.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "dmavec_util.h"
#include "dmavec_edu_util.h"

#define STATS "/sys/kernel/debug/dmavec/stats"
#define CTEST "/sys/kernel/debug/dmavec_ctest/"

static int read_counter(const char *file, const char *key, unsigned long long *val)
{
	char line[128], fmt[64];
	FILE *f = fopen(file, "r");
	int found = 0;

	if (!f)
		return -1;
	snprintf(fmt, sizeof(fmt), "%s: %%llu", key);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, val) == 1)
			found = 1;
	fclose(f);
	return found ? 0 : -1;
}

TEST(stats_has_every_counter)
{
	unsigned long long maps, unmaps, syncs, revocations, cpu_syncs;

	DMAVEC_NEEDS(return, NEED_STATS);
	ASSERT_EQ(0, read_counter(STATS, "maps", &maps));
	ASSERT_EQ(0, read_counter(STATS, "unmaps", &unmaps));
	ASSERT_EQ(0, read_counter(STATS, "iova_syncs", &syncs));
	ASSERT_EQ(0, read_counter(STATS, "revocations", &revocations));
	ASSERT_EQ(0, read_counter(STATS, "cpu_syncs", &cpu_syncs));
	/* Nothing can have been unmapped that was not mapped. */
	EXPECT_LE(unmaps, maps);
	/*
	 * iova_syncs counts every IOVA mapping of the mapping core, whoever
	 * made it (the KUnit suites ran at load, with more than one).
	 */
	EXPECT_GT(syncs, 0);
}

/*
 * One import of a dmavec buffer through the C importer (dmavec_ctest: attach,
 * map, unmap, detach) is one map, one unmap and one dma_iova_sync() of the
 * mapping core, and no revocation.
 */
TEST(stats_count_a_map_and_its_unmap)
{
	unsigned long long m0, u0, s0, r0, m1, u1, s1, r1;
	char buf[16];
	int fd, f;

	DMAVEC_NEEDS(return, NEED_STATS | NEED_CTEST);
	fd = read_fd_from(CTEST "export");
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, read_counter(STATS, "maps", &m0));
	ASSERT_EQ(0, read_counter(STATS, "unmaps", &u0));
	ASSERT_EQ(0, read_counter(STATS, "iova_syncs", &s0));
	ASSERT_EQ(0, read_counter(STATS, "revocations", &r0));
	f = open(CTEST "import", O_WRONLY);
	ASSERT_GE(f, 0);
	snprintf(buf, sizeof(buf), "%d\n", fd);
	ASSERT_EQ((ssize_t)strlen(buf), write(f, buf, strlen(buf)));
	close(f);
	ASSERT_EQ(0, read_counter(STATS, "maps", &m1));
	ASSERT_EQ(0, read_counter(STATS, "unmaps", &u1));
	ASSERT_EQ(0, read_counter(STATS, "iova_syncs", &s1));
	ASSERT_EQ(0, read_counter(STATS, "revocations", &r1));
	EXPECT_EQ(m0 + 1, m1);
	EXPECT_EQ(u0 + 1, u1);
	EXPECT_EQ(s0 + 1, s1);
	EXPECT_EQ(r0, r1);
	close(fd);
}

/* The module's reference count, from sysfs; -1 if unknown. */
static long module_refcnt(const char *mod)
{
	char path[128];
	long n = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/%s/refcnt", mod);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

/*
 * dmavec_export() hands the exporter's THIS_MODULE to the dma-buf: while
 * the dma-buf lives, the exporter's module (whose release callback and
 * memory it uses) cannot be unloaded; after its release it can again.
 */
TEST(dmabuf_pins_its_exporter_module)
{
	long before;
	int fd;

	DMAVEC_NEEDS(return, NEED_CTEST);
	before = module_refcnt("dmavec_ctest");
	ASSERT_GE(before, 0);
	fd = read_fd_from(CTEST "export");
	ASSERT_GE(fd, 0);
	EXPECT_EQ(before + 1, module_refcnt("dmavec_ctest"));
	close(fd);
	EXPECT_EQ(before, module_refcnt("dmavec_ctest"));
}

TEST_HARNESS_MAIN
