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
 * The import races: processes loop EXPORT + IMPORT through every importer
 * (edu's driver, the C and the Rust test modules) while the exporter is
 * removed and rescanned, or unplugged by the monitor and plugged back. The
 * test hook dmavec_test/attach_delay_ms makes each attach sleep between its
 * revocation check and its use of the exporter's P2PDMA provider, so that
 * removals land in that window: an attach that used the provider after the
 * exporter freed it is a KASAN report (issue 12, item 1).
 *
 * DMAVEC_UNPLUG_CYCLES: cycles per test (default 1).
 * DMAVEC_RACE_CYCLES: cycles per import race test (default 5).
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

/* Shared between an import race test and its importer processes. */
struct race {
	long imported;		/* imports that attached and mapped */
	long enodev;		/* refused with ENODEV: revoked, or the exporter gone */
	long unexpected;	/* any other errno */
	int last_errno;
	int stop;
};

#define RTEST "/sys/kernel/debug/dmavec_test/"
#define CTEST "/sys/kernel/debug/dmavec_ctest/"
#define RACE_WORKERS 3
#define ATTACH_DELAY_MS "100"

/* Counts an import's outcome: 0, or the (positive) errno it failed with. */
static void race_note(struct race *r, int err)
{
	if (!err) {
		__atomic_add_fetch(&r->imported, 1, __ATOMIC_RELEASE);
	} else if (err == ENODEV) {
		__atomic_add_fetch(&r->enodev, 1, __ATOMIC_RELEASE);
	} else {
		__atomic_add_fetch(&r->unexpected, 1, __ATOMIC_RELEASE);
		r->last_errno = err;
	}
}

/*
 * Imports @fd through a test module's debugfs file: 0, or the errno it
 * reports, negated (the modules report -errno; race_note() takes errnos).
 */
static int module_import(const char *file, int fd)
{
	char buf[160];
	int f = open(file, O_RDWR), n, err = 0;

	if (f < 0)
		return errno;
	n = snprintf(buf, sizeof(buf), "%d\n", fd);
	if (write(f, buf, n) != n) {
		err = errno;
		close(f);
		return err;
	}
	n = pread(f, buf, sizeof(buf) - 1, 0);
	close(f);
	buf[n > 0 ? n : 0] = '\0';
	/* The report may be another process's: any report names some import's fate. */
	if (sscanf(buf, "error %d", &err) == 1)
		return -err;
	/* Neither a mapping nor an error: a garbled report, counted as unexpected. */
	err = strncmp(buf, "kind ", 5) ? EIO : 0;
	return err;
}

/* Importer process @w: EXPORT + IMPORT in a loop, through each importer in turn. */
static void import_loop(struct race *r, int w)
{
	int edu[MAX_EDU], nedu = open_edus(edu), k = w;
	char bdf[256];

	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		struct dmavec_alloc a = { .size = PAGE };
		int bar = open_node("dmavec-", bdf, sizeof(bdf)), i;

		if (bar < 0) {
			usleep(20000);
			continue;
		}
		if (ioctl(bar, DMAVEC_IOCTL_ALLOC, &a)) {
			race_note(r, errno);
			close(bar);
			continue;
		}
		for (i = 0; i < 16 && !__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE); i++) {
			struct dmavec_range rg = { .handle = a.handle, .length = PAGE };
			struct dmavec_export e = {
				.count = 1, .fd_flags = O_RDWR | O_CLOEXEC,
				.ranges = (__u64)(unsigned long)&rg,
			};
			struct dmavec_edu_import im = { 0 };
			int err = 0;

			if (ioctl(bar, DMAVEC_IOCTL_EXPORT, &e)) {
				race_note(r, errno);
				break;
			}
			switch (k++ % 3) {
			case 0:
				im.fd = e.fd;
				if (nedu < 1 || ioctl(edu[w % nedu], DMAVEC_EDU_IOCTL_IMPORT, &im))
					err = nedu < 1 ? ENXIO : errno;
				else
					ioctl(edu[w % nedu], DMAVEC_EDU_IOCTL_DETACH);
				break;
			case 1:
				err = module_import(CTEST "import", e.fd);
				break;
			default:
				err = module_import(RTEST "import", e.fd);
				break;
			}
			race_note(r, err);
			close(e.fd);
		}
		close(bar);
	}
	_exit(0);
}

static void import_race(struct __test_metadata *_metadata, enum event ev)
{
	struct race *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	const char *e = getenv("DMAVEC_RACE_CYCLES");
	int n = e && atoi(e) > 0 ? atoi(e) : 5, c, w, bar, status;
	char bdf[256], path[PATH_MAX], ans[64];
	pid_t pid[RACE_WORKERS];
	long seen;

	ASSERT_NE(MAP_FAILED, r);
	ASSERT_EQ(0, write_file(RTEST "attach_delay_ms", ATTACH_DELAY_MS))
		TH_LOG("no dmavec_test race hook");
	bar = wait_node(bdf, sizeof(bdf), 10000);
	ASSERT_GE(bar, 0) TH_LOG("no exporter node");
	close(bar);
	for (w = 0; w < RACE_WORKERS; w++) {
		pid[w] = fork_load();
		ASSERT_GE(pid[w], 0);
		if (!pid[w])
			import_loop(r, w);
	}
	for (c = 0; c < n; c++) {
		/* Imports are under way, then the exporter goes while some sleep in attach. */
		seen = ld(&r->imported);
		ASSERT_TRUE(POLL(30000, ld(&r->imported) >= seen + RACE_WORKERS))
			TH_LOG("cycle %d: the imports did not run", c);
		if (ev == REMOVE) {
			snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove", bdf);
			ASSERT_EQ(0, write_file(path, "1"));
		} else {
			ASSERT_EQ(0, agent_call("HOSTUNPLUG", ans, sizeof(ans))) TH_LOG("%s", ans);
		}
		ASSERT_TRUE(POLL(30000, gone(bdf))) TH_LOG("%s was not removed", bdf);
		/* Let the importers run into the missing exporter. */
		usleep(200000);
		if (ev == REMOVE) {
			ASSERT_EQ(0, write_file("/sys/bus/pci/rescan", "1"));
		} else {
			long end = now_ms() + 10000;
			int rc;

			while ((rc = agent_call("HOSTPLUG", ans, sizeof(ans))) && now_ms() < end)
				usleep(200000);
			ASSERT_EQ(0, rc) TH_LOG("HOSTPLUG: %s", ans);
		}
		bar = wait_node(bdf, sizeof(bdf), 30000);
		ASSERT_GE(bar, 0) TH_LOG("the exporter did not come back");
		close(bar);
	}
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	for (w = 0; w < RACE_WORKERS; w++) {
		ASSERT_EQ(pid[w], waitpid(pid[w], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	}
	EXPECT_EQ(0, write_file(RTEST "attach_delay_ms", "0"));
	TH_LOG("import race: %d %s cycles, %ld imports, %ld ENODEV, %ld other errors",
	       n, ev == REMOVE ? "remove" : "device_del", r->imported, r->enodev,
	       r->unexpected);
	EXPECT_EQ(0, r->unexpected) TH_LOG("last unexpected errno %d", r->last_errno);
	/* Some import met the exporter revoked or gone: the race was run. */
	EXPECT_GE(r->enodev, 1);
	munmap(r, sizeof(*r));
}

/* No per-test state: the fixture only gives the tests a longer timeout. */
FIXTURE(unplug) {
	int unused;
};

FIXTURE_SETUP(unplug)
{
	DMAVEC_NEEDS(return, NEED_DEV | NEED_EDU);
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

	DMAVEC_NEEDS(return, NEED_AGENT);
	if (agent_call("HOSTPLUGGABLE", ans, sizeof(ans)))
		SKIP(return, "the runner cannot unplug devices here: %s", ans);
	run(_metadata, DEVICE_DEL, "device_del");
}

TEST_F_TIMEOUT(unplug, remove_races_import, UNPLUG_TIMEOUT)
{
	DMAVEC_NEEDS(return, NEED_CTEST | NEED_RTEST);
	import_race(_metadata, REMOVE);
}

TEST_F_TIMEOUT(unplug, device_del_races_import, UNPLUG_TIMEOUT)
{
	char ans[64];

	DMAVEC_NEEDS(return, NEED_CTEST | NEED_RTEST | NEED_AGENT);
	if (agent_call("HOSTPLUGGABLE", ans, sizeof(ans)))
		SKIP(return, "the runner cannot unplug devices here: %s", ans);
	import_race(_metadata, DEVICE_DEL);
}

TEST_HARNESS_MAIN
