/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the dmavec kselftests: finding dmavec_bar's device
 * nodes, writing sysfs files, what a test needs to run, and fail-nth
 * sweeps of the calls of a test.
 */
#ifndef DMAVEC_UTIL_H
#define DMAVEC_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Opens the first /dev/<prefix>* node (O_RDWR | O_CLOEXEC); stores the rest
 * of its name (the PCI name) in @name if not NULL. "dmavec-" does not
 * match the edu importer's "dmavec-edu-" nodes.
 */
static inline int open_node(const char *prefix, char *name, size_t len)
{
	struct dirent *de;
	char path[PATH_MAX];
	DIR *d = opendir("/dev");
	size_t n = strlen(prefix);
	int fd = -1;

	if (!d)
		return -1;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, prefix, n))
			continue;
		if (!strcmp(prefix, "dmavec-") && !strncmp(de->d_name, "dmavec-edu-", 11))
			continue;
		if (name)
			snprintf(name, len, "%s", de->d_name + n);
		snprintf(path, sizeof(path), "/dev/%s", de->d_name);
		fd = open(path, O_RDWR | O_CLOEXEC);
		break;
	}
	closedir(d);
	return fd;
}

static inline int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ret;

	if (fd < 0)
		return -1;
	ret = write(fd, s, strlen(s)) == (ssize_t)strlen(s) ? 0 : -1;
	close(fd);
	return ret;
}

/*
 * Whether the test runs under the dmavec VM runner, whose init
 * (selftests/vm/init) exports DMAVEC_MODE: there everything a test needs
 * is present, so a missing device or module is a failure.
 */
static inline int dmavec_runner(void)
{
	return !!getenv("DMAVEC_MODE");
}

/* What a test needs, for dmavec_missing(). */
enum {
	NEED_DEV = 1 << 0,	/* a /dev/dmavec-* node: dmavec_bar bound to ivshmem */
	NEED_STATS = 1 << 1,	/* debugfs dmavec/: the dmavec module */
};

/* Whether the first /dev/<prefix>* node (see open_node()) opens. */
static inline int have_node(const char *prefix)
{
	int fd = open_node(prefix, NULL, 0);

	if (fd < 0)
		return 0;
	close(fd);
	return 1;
}

/*
 * What of @needs this system lacks, as the reason to skip a test, or NULL.
 * Under the VM runner always NULL: the test runs and fails on what lacks.
 */
static inline const char *dmavec_missing(unsigned int needs)
{
	if (dmavec_runner())
		return NULL;
	if ((needs & NEED_DEV) && !have_node("dmavec-"))
		return "no /dev/dmavec-* node (dmavec_bar and QEMU's ivshmem-plain)";
	if ((needs & NEED_STATS) && access("/sys/kernel/debug/dmavec/stats", R_OK))
		return "no debugfs dmavec/stats (the dmavec module; debugfs mounted?)";
	return NULL;
}

/*
 * Skips the test (running @statement, usually "return") when this system
 * lacks some of @needs; under the VM runner the test runs on.
 */
#define DMAVEC_NEEDS(statement, needs) do {				\
	const char *__why = dmavec_missing(needs);			\
									\
	if (__why)							\
		SKIP(statement, "%s", __why);				\
} while (0)

/*
 * fail-nth of this thread, kept open: writing N makes the N-th fault
 * injection point of the next calls fail; reading gives what is left (0:
 * the failure was injected).
 */
static int fail_fd = -1;

static inline int fail_nth(int n)
{
	char buf[16];
	int len;

	if (fail_fd < 0)
		fail_fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (fail_fd < 0)
		return -1;
	len = snprintf(buf, sizeof(buf), "%d", n);
	return pwrite(fail_fd, buf, len, 0) == len ? 0 : -1;
}

/* Whether this kernel injects faults (fail-nth: the debug flavour). */
static inline int fail_nth_available(void)
{
	return access("/proc/thread-self/fail-nth", W_OK) == 0;
}

static inline int fail_left(void)
{
	char buf[16] = "";

	if (fail_fd < 0 || pread(fail_fd, buf, sizeof(buf) - 1, 0) <= 0)
		return -1;
	return atoi(buf);
}

/*
 * A fail-nth sweep over one call: for n = 1, 2, ... the n-th fault injection
 * point of the call fails, until the call succeeds without a failure
 * injected. A success may absorb the injected failure (an internal retry
 * with other flags), so a success with the failure consumed does not end the
 * sweep: @after undoes it and the sweep goes on.
 *
 * @prepare (or NULL) runs before each call, without injection; @call returns
 * >= 0 or -errno; @after (or NULL) runs after each call that had a failure
 * injected, with its result, to undo a success or to clean up a failure.
 */
struct fail_sweep_ops {
	int (*prepare)(void *ctx);
	int (*call)(void *ctx);
	void (*after)(void *ctx, int ret);
};

struct fail_sweep_counts {
	int injected;	/* calls that had a failure injected */
	int enomem;	/* ... and failed with ENOMEM */
	int absorbed;	/* ... and succeeded anyway (undone by @after) */
	int other;	/* ... and failed otherwise */
	int unconsumed;	/* calls that failed with the failure still armed */
};

/*
 * Returns the result of the last call: that of the call that succeeded
 * without a failure injected, or an error (-EOPNOTSUPP: no fault injection;
 * -EIO: @prepare failed; the last call's error after 500 failures).
 */
static inline int fail_sweep(const struct fail_sweep_ops *ops, void *ctx,
			     struct fail_sweep_counts *c)
{
	int n, ret = -EOPNOTSUPP, left;

	memset(c, 0, sizeof(*c));
	for (n = 1; n <= 500; n++) {
		if (ops->prepare && ops->prepare(ctx))
			return -EIO;
		if (fail_nth(n))
			return -EOPNOTSUPP;
		ret = ops->call(ctx);
		left = fail_left();
		fail_nth(0);
		if (ret >= 0 && left)
			return ret;
		if (left)
			c->unconsumed++;
		else
			c->injected++;
		if (ret >= 0)
			c->absorbed++;
		else if (ret == -ENOMEM)
			c->enomem++;
		else
			c->other++;
		if (ops->after)
			ops->after(ctx, ret);
	}
	return ret;
}

#endif /* DMAVEC_UTIL_H */
