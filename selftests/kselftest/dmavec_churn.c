// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency churn: several processes allocate, export, mmap, import into
 * edu, free and close at once, for a bounded time. It checks that every
 * call either works or fails with an errno the documentation lists; the
 * runner checks for splats and kmemleak afterwards.
 *
 * Usage: dmavec_churn [processes] [seconds]   (default 3 processes, 3 s)
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/dmavec.h>
#include <linux/dmavec_edu.h>
#include <linux/types.h>

#include "kselftest.h"
#include "dmavec_util.h"

#define PAGE 4096ULL

/* Errnos a racing, well-formed call may see. */
static int expected(int e)
{
	return e == ENOSPC || e == ENOENT || e == ENODEV || e == ENOMEM || e == EBUSY;
}

static long churn(unsigned int seed, int seconds, long *bad)
{
	time_t end = time(NULL) + seconds;
	long ops = 0;

	srand(seed);
	while (time(NULL) < end) {
		int dev = open_node("dmavec-", NULL, 0), edu, buf;
		struct dmavec_alloc a = { .size = PAGE * (1 + rand() % 32) };
		struct dmavec_range r = { .length = PAGE };
		struct dmavec_export e = { .count = 1, .fd_flags = O_RDWR | O_CLOEXEC };
		struct dmavec_free f = { 0 };
		__u8 *m;

		if (dev < 0)
			continue;
		ops++;
		if (ioctl(dev, DMAVEC_IOCTL_ALLOC, &a)) {
			*bad += !expected(errno);
			close(dev);
			continue;
		}
		r.handle = a.handle;
		r.offset = PAGE * (rand() % (a.size / PAGE));
		e.ranges = (__u64)(unsigned long)&r;
		ops++;
		if (ioctl(dev, DMAVEC_IOCTL_EXPORT, &e)) {
			*bad += !expected(errno);
			close(dev);
			continue;
		}
		buf = e.fd;
		if (rand() % 2) {
			f.handle = a.handle;
			ops++;
			*bad += ioctl(dev, DMAVEC_IOCTL_FREE, &f) != 0;
		}
		m = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, buf, 0);
		if (m != MAP_FAILED) {
			m[rand() % PAGE] ^= 0x5a;
			munmap(m, PAGE);
			ops++;
		}
		edu = rand() % 4 ? -1 : open_node("dmavec-edu-", NULL, 0);
		if (edu >= 0) {
			struct dmavec_edu_import im = { .fd = buf };
			struct dmavec_edu_xfer x = { .length = 256, .seed = rand() };

			ops++;
			if (!ioctl(edu, DMAVEC_EDU_IOCTL_IMPORT, &im)) {
				ops++;
				/* Another process may import meanwhile: then ENOENT or success. */
				if (ioctl(edu, DMAVEC_EDU_IOCTL_WRITE, &x))
					*bad += !expected(errno) && errno != EINVAL;
				ioctl(edu, DMAVEC_EDU_IOCTL_DETACH);
			} else {
				*bad += !expected(errno);
			}
			close(edu);
		}
		/* Close in either order. */
		if (rand() % 2) {
			close(buf);
			close(dev);
		} else {
			close(dev);
			close(buf);
		}
	}
	return ops;
}

int main(int argc, char **argv)
{
	int procs = argc > 1 ? atoi(argv[1]) : 3, seconds = argc > 2 ? atoi(argv[2]) : 3;
	const char *why = dmavec_missing(NEED_DEV);
	int pipes[64][2], i, status, failed = 0;
	long ops = 0, bad = 0;

	if (why) {
		printf("dmavec_churn: skipped: %s\n", why);
		return KSFT_SKIP;
	}
	/* Under the VM runner: churning without a device would pass on nothing. */
	if (!have_node("dmavec-")) {
		printf("dmavec_churn: no /dev/dmavec-* device\n");
		return 1;
	}
	if (procs > 64)
		procs = 64;
	for (i = 0; i < procs; i++) {
		if (pipe(pipes[i]))
			return 1;
		if (!fork()) {
			long r[2] = { 0, 0 };

			r[0] = churn(1000 + i, seconds, &r[1]);
			if (write(pipes[i][1], r, sizeof(r)) != sizeof(r))
				_exit(2);
			_exit(0);
		}
	}
	for (i = 0; i < procs; i++) {
		long r[2] = { 0, 0 };

		if (read(pipes[i][0], r, sizeof(r)) == sizeof(r)) {
			ops += r[0];
			bad += r[1];
		} else {
			failed++;
		}
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			failed++;
	printf("dmavec_churn: %d processes, %d s: %ld operations, %ld unexpected errors, ",
	       procs, seconds, ops, bad);
	printf("%d processes failed\n", failed);
	return bad || failed ? 1 : 0;
}
