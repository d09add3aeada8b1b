// SPDX-License-Identifier: GPL-2.0
/*
 * Hot-unplug and reset of the exporter under load. Every edu device of the
 * VM imports its own dma-buf of ivshmem's BAR and runs a DMA loop (WRITE a
 * pattern, READ it back, compare); another process keeps touching a mmap of
 * each dma-buf. Then the exporter goes away or is reset, in a loop:
 *
 * - remove: sysfs "remove", then "rescan";
 * - reset: sysfs "reset" (dmavec_bar revokes its exports around it);
 * - device_del: QEMU's monitor unplugs the device (PCIe native hotplug in
 *   the guest), then plugs it back (the host agent: HOSTUNPLUG, HOSTPLUG).
 *
 * After a removal every DMA loop must stop with ENODEV and every mmap must
 * SIGBUS, with no transfer reading back wrong data; after a reset both must
 * come back. All file descriptors close, and the device returns. The
 * runner checks the kernel log (KASAN, lockdep, DMA-API debug, IOMMU
 * faults) and kmemleak; the modules are unloaded at the end of the run.
 *
 * DMAVEC_UNPLUG_CYCLES: cycles per test (default 1).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/dmavec.h>
#include <linux/dmavec_edu.h>
#include <linux/types.h>

#include "kselftest_harness.h"
#include "host_agent.h"
#include "dmavec_util.h"

#define PAGE 4096ULL
#define MAX_EDU 4
#define XFER 2048

enum event { REMOVE, RESET, DEVICE_DEL };

/* Shared between the test and its load processes. */
struct load {
	long dma_ok[MAX_EDU];	/* WRITE + READ + compare rounds that passed */
	int dma_errno[MAX_EDU];	/* what stopped the loop: 0 (told to stop) or an errno */
	long enodev[MAX_EDU];	/* ENODEV seen while the exporter was revoked (reset) */
	int bad[MAX_EDU];	/* wrong data read back, or an unexpected errno */
	long touches;
	long sigbus;
	int stop;
};

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static long ld(long *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static int cycles(void)
{
	const char *e = getenv("DMAVEC_UNPLUG_CYCLES");

	return e && atoi(e) > 0 ? atoi(e) : 1;
}

/* Opens every /dev/dmavec-edu-* node; returns how many. */
static int open_edus(int *fds)
{
	struct dirent *de;
	char path[PATH_MAX];
	DIR *d = opendir("/dev");
	int n = 0;

	while (d && (de = readdir(d)) && n < MAX_EDU) {
		if (strncmp(de->d_name, "dmavec-edu-", 11))
			continue;
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		fds[n] = open(path, O_RDWR | O_CLOEXEC);
		if (fds[n] >= 0)
			n++;
	}
	if (d)
		closedir(d);
	return n;
}

/* Waits up to @ms for the exporter's node to exist again; returns its fd. */
static int wait_node(char *bdf, size_t len, long ms)
{
	long end = now_ms() + ms;
	int fd;

	while ((fd = open_node("dmavec-", bdf, len)) < 0 && now_ms() < end)
		usleep(50000);
	return fd;
}

static int gone(const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	return access(path, F_OK) != 0;
}

/* The DMA loop of importer @i, until told to stop or the exporter is gone. */
static void dma_loop(struct load *l, int i, int edu, enum event ev)
{
	static __u8 got[XFER], want[XFER];
	__u32 seed = 1000 * (i + 1);

	while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
		struct dmavec_edu_xfer w = { .length = XFER, .seed = ++seed };
		struct dmavec_edu_xfer r = { .length = XFER, .data = (__u64)(unsigned long)got };
		int e = 0;

		if (ioctl(edu, DMAVEC_EDU_IOCTL_WRITE, &w) || ioctl(edu, DMAVEC_EDU_IOCTL_READ, &r))
			e = errno;
		if (!e) {
			agent_pattern(seed, want, XFER);
			if (memcmp(got, want, XFER))
				l->bad[i]++;
			__atomic_add_fetch(&l->dma_ok[i], 1, __ATOMIC_RELEASE);
			continue;
		}
		if (e == ENODEV && ev == RESET) {
			/* Revoked for the reset: it comes back. */
			l->enodev[i]++;
			usleep(1000);
			continue;
		}
		if (e != ENODEV)
			l->bad[i]++;
		l->dma_errno[i] = e;
		break;
	}
	_exit(0);
}

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(bus_jmp, 1);
}

/* Touches every mapping until told to stop; after a SIGBUS, once more per 10 ms. */
static void touch_loop(struct load *l, __u8 **maps, int n, enum event ev)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	static unsigned int k;	/* in memory: kept across siglongjmp() */

	sigaction(SIGBUS, &sa, NULL);
	if (sigsetjmp(bus_jmp, 1)) {
		__atomic_add_fetch(&l->sigbus, 1, __ATOMIC_RELEASE);
		if (ev != RESET)
			_exit(0);
		usleep(10000);
	}
	while (!__atomic_load_n(&l->stop, __ATOMIC_ACQUIRE)) {
		__u8 *m = maps[k++ % n];

		m[PAGE + 17] = m[17] ^ 0x5a;
		__atomic_add_fetch(&l->touches, 1, __ATOMIC_RELEASE);
	}
	_exit(0);
}

/* Polls @cond every 10 ms for up to @ms; evaluates to its last value. */
#define POLL(ms, cond) ({						\
	long __end = now_ms() + (ms);					\
	int __c;							\
	while (!(__c = !!(cond)) && now_ms() < __end)			\
		usleep(10000);						\
	__c;								\
})

/* Whether every importer's DMA loop has passed min[i] rounds (all: @min 0). */
static int dma_reached(struct load *l, int n, const long *min)
{
	int i;

	for (i = 0; i < n; i++)
		if (ld(&l->dma_ok[i]) < (min ? min[i] : 2))
			return 0;
	return 1;
}

/* Whether every importer's DMA loop has ended with an errno. */
static int dma_cut_off(struct load *l, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!__atomic_load_n(&l->dma_errno[i], __ATOMIC_ACQUIRE))
			return 0;
	return 1;
}

/* A load process dies with the test, whichever way the test ends. */
static pid_t fork_load(void)
{
	pid_t p = fork();

	if (!p)
		prctl(PR_SET_PDEATHSIG, SIGKILL);
	return p;
}

static void cycle(struct __test_metadata *_metadata, enum event ev, long *stats)
{
	struct load *l = mmap(NULL, sizeof(*l), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	int edu[MAX_EDU], buf[MAX_EDU], nedu, i, bar, status;
	struct dmavec_alloc a = { .size = 32 * PAGE };
	pid_t dma[MAX_EDU], toucher;
	long snap[MAX_EDU];
	__u8 *maps[MAX_EDU];
	char bdf[256], path[PATH_MAX], ans[64];

	ASSERT_NE(MAP_FAILED, l);
	bar = wait_node(bdf, sizeof(bdf), 10000);
	ASSERT_GE(bar, 0) TH_LOG("no exporter node");
	nedu = open_edus(edu);
	ASSERT_GE(nedu, 1) TH_LOG("no edu importer");
	ASSERT_EQ(0, ioctl(bar, DMAVEC_IOCTL_ALLOC, &a));
	/* Importer i: BAR pages 4i + 2 and 4i, discontiguous and reversed. */
	for (i = 0; i < nedu; i++) {
		struct dmavec_range r[2] = {
			{ .handle = a.handle, .offset = (4 * i + 2) * PAGE, .length = PAGE },
			{ .handle = a.handle, .offset = 4 * i * PAGE, .length = PAGE },
		};
		struct dmavec_export e = {
			.count = 2, .fd_flags = O_RDWR | O_CLOEXEC,
			.ranges = (__u64)(unsigned long)r,
		};
		struct dmavec_edu_import im = { 0 };

		ASSERT_EQ(0, ioctl(bar, DMAVEC_IOCTL_EXPORT, &e));
		buf[i] = e.fd;
		maps[i] = mmap(NULL, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, buf[i], 0);
		ASSERT_NE(MAP_FAILED, maps[i]);
		im.fd = buf[i];
		ASSERT_EQ(0, ioctl(edu[i], DMAVEC_EDU_IOCTL_IMPORT, &im));
	}
	for (i = 0; i < nedu; i++) {
		dma[i] = fork_load();
		ASSERT_GE(dma[i], 0);
		if (!dma[i])
			dma_loop(l, i, edu[i], ev);
	}
	toucher = fork_load();
	ASSERT_GE(toucher, 0);
	if (!toucher)
		touch_loop(l, maps, nedu, ev);

	/* Under load: every importer has DMA'd, the mappings are being touched. */
	ASSERT_TRUE(POLL(10000, dma_reached(l, nedu, NULL) && ld(&l->touches) > 0))
		TH_LOG("the load did not start");

	switch (ev) {
	case REMOVE:
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove", bdf);
		ASSERT_EQ(0, write_file(path, "1"));
		break;
	case RESET:
		for (i = 0; i < nedu; i++)
			snap[i] = ld(&l->dma_ok[i]) + 2;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset", bdf);
		ASSERT_EQ(0, write_file(path, "1"));
		/* Back after the reset: DMA and CPU access work again. */
		ASSERT_TRUE(POLL(10000, dma_reached(l, nedu, snap)))
			TH_LOG("DMA did not resume after the reset");
		snap[0] = ld(&l->touches);
		ASSERT_TRUE(POLL(5000, ld(&l->touches) > snap[0]));
		break;
	case DEVICE_DEL:
		ASSERT_EQ(0, agent_call("HOSTUNPLUG", ans, sizeof(ans))) TH_LOG("%s", ans);
		/* pciehp powers the slot off after its 5 s attention-button delay. */
		ASSERT_TRUE(POLL(30000, gone(bdf))) TH_LOG("%s was not unplugged", bdf);
		break;
	}

	if (ev == RESET) {
		__atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
	} else {
		/* Every importer was cut off: its loop ends with ENODEV; the mmaps fault. */
		ASSERT_TRUE(POLL(10000, dma_cut_off(l, nedu)))
			TH_LOG("a DMA loop still runs after the removal");
		ASSERT_TRUE(POLL(10000, ld(&l->sigbus) > 0)) TH_LOG("no SIGBUS");
		for (i = 0; i < nedu; i++) {
			struct dmavec_edu_info info;

			EXPECT_EQ(ENODEV, l->dma_errno[i]);
			EXPECT_EQ(-1, ioctl(edu[i], DMAVEC_EDU_IOCTL_INFO, &info));
			EXPECT_EQ(ENODEV, errno);
		}
	}
	for (i = 0; i < nedu; i++) {
		ASSERT_EQ(dma[i], waitpid(dma[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
		EXPECT_EQ(0, l->bad[i]) TH_LOG("importer %d: wrong data or errno", i);
		stats[1] += l->dma_ok[i];
		stats[3] += l->enodev[i];
	}
	__atomic_store_n(&l->stop, 1, __ATOMIC_RELEASE);
	ASSERT_EQ(toucher, waitpid(toucher, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	stats[2] += l->sigbus;

	/* Everything closes, in any state. */
	for (i = 0; i < nedu; i++) {
		ioctl(edu[i], DMAVEC_EDU_IOCTL_DETACH);
		EXPECT_EQ(0, munmap(maps[i], 2 * PAGE));
		EXPECT_EQ(0, close(buf[i]));
		EXPECT_EQ(0, close(edu[i]));
	}
	EXPECT_EQ(0, close(bar));

	if (ev == REMOVE)
		ASSERT_EQ(0, write_file("/sys/bus/pci/rescan", "1"));
	if (ev == DEVICE_DEL) {
		long end = now_ms() + 10000;
		int r;

		/* The host may still be deleting it: retry while the id is taken. */
		while ((r = agent_call("HOSTPLUG", ans, sizeof(ans))) && now_ms() < end)
			usleep(200000);
		ASSERT_EQ(0, r) TH_LOG("HOSTPLUG: %s", ans);
	}
	/* The exporter is back, with its whole BAR free. */
	bar = wait_node(bdf, sizeof(bdf), 30000);
	ASSERT_GE(bar, 0) TH_LOG("the exporter did not come back");
	a.size = 32 * PAGE;
	EXPECT_EQ(0, ioctl(bar, DMAVEC_IOCTL_ALLOC, &a));
	close(bar);
	stats[0]++;
	munmap(l, sizeof(*l));
}

static void run(struct __test_metadata *_metadata, enum event ev, const char *name)
{
	long stats[4] = { 0 };	/* cycles, DMA rounds, SIGBUS, ENODEV while revoked */
	int n = cycles(), c;

	for (c = 0; c < n; c++)
		cycle(_metadata, ev, stats);
	TH_LOG("unplug: %ld %s cycles under load, %ld DMA rounds, %ld SIGBUS, %ld ENODEV",
	       stats[0], name, stats[1], stats[2], stats[3]);
}

/* No per-test state: the fixture only gives the tests a longer timeout. */
FIXTURE(unplug) {
	int unused;
};

FIXTURE_SETUP(unplug)
{
}

FIXTURE_TEARDOWN(unplug)
{
}

/* Each cycle takes up to a few seconds; a monitor unplug takes pciehp's 5 s more. */
#define UNPLUG_TIMEOUT 900

TEST_F_TIMEOUT(unplug, remove_under_dma_load, UNPLUG_TIMEOUT)
{
	run(_metadata, REMOVE, "remove");
}

TEST_F_TIMEOUT(unplug, reset_under_dma_load, UNPLUG_TIMEOUT)
{
	run(_metadata, RESET, "reset");
}

TEST_F_TIMEOUT(unplug, device_del_under_dma_load, UNPLUG_TIMEOUT)
{
	char ans[64];

	if (agent_call("HOSTPLUGGABLE", ans, sizeof(ans)))
		SKIP(return, "the runner cannot unplug devices here: %s", ans);
	run(_metadata, DEVICE_DEL, "device_del");
}

TEST_HARNESS_MAIN
