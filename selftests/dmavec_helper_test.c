// SPDX-License-Identifier: GPL-2.0
/*
 * kselftests of the dmavec helper module as seen from user space: its
 * debugfs counters, and that the exporter module links against it.
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kselftest_harness.h"

#define STATS "/sys/kernel/debug/dmavec/stats"

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
	unsigned long long maps, unmaps, syncs;

	ASSERT_EQ(0, read_counter(STATS, "maps", &maps));
	ASSERT_EQ(0, read_counter(STATS, "unmaps", &unmaps));
	ASSERT_EQ(0, read_counter(STATS, "iova_syncs", &syncs));
	/* Nothing can have been unmapped that was not mapped. */
	EXPECT_LE(unmaps, maps);
	/*
	 * iova_syncs counts every IOVA mapping of the mapping core, whoever
	 * made it (the KUnit suites ran at load, with more than one).
	 */
	EXPECT_GT(syncs, 0);
}

TEST(stats_is_read_only)
{
	struct stat st;

	ASSERT_EQ(0, stat(STATS, &st));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(0, st.st_mode & 0222);
}

TEST(exporter_holds_helper)
{
	unsigned int refcnt = 0;
	FILE *f;

	/* dmavec_bar calls into the dmavec crate: the module loader must know. */
	EXPECT_EQ(0, access("/sys/module/dmavec/holders/dmavec_bar", F_OK));
	f = fopen("/sys/module/dmavec/refcnt", "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%u", &refcnt));
	fclose(f);
	EXPECT_GE(refcnt, 1);
}

TEST_HARNESS_MAIN
