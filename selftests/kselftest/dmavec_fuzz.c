// SPDX-License-Identifier: GPL-2.0
/*
 * A bounded, seeded ioctl fuzzer for dmavec: random commands, sizes, counts
 * and pointers (valid buffers, unmapped, kernel and NULL addresses) over
 * /dev/dmavec-*, /dev/dmavec-edu-* and the dma-bufs they hand out. It
 * checks nothing itself: the runner fails the run on any oops or splat,
 * and kmemleak runs at the end.
 *
 * Usage: dmavec_fuzz [calls] [seed]   (default 2000, seed from the time)
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/dmavec.h>
#include <linux/dmavec_edu.h>
#include <linux/types.h>

#include "kselftest.h"
#include "dmavec_util.h"

static __u64 rng;

static __u64 next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static __u64 pick(const __u64 *v, size_t n)
{
	return v[next() % n];
}

#define NFDS 16

int main(int argc, char **argv)
{
	static const unsigned long cmds[] = {
		DMAVEC_IOCTL_INFO, DMAVEC_IOCTL_ALLOC, DMAVEC_IOCTL_FREE,
		DMAVEC_IOCTL_EXPORT, DMAVEC_EDU_IOCTL_IMPORT, DMAVEC_EDU_IOCTL_WRITE,
		DMAVEC_EDU_IOCTL_READ, DMAVEC_EDU_IOCTL_INFO, DMAVEC_EDU_IOCTL_DETACH,
		DMA_BUF_IOCTL_SYNC, DMA_BUF_SET_NAME_B, _IO(DMAVEC_IOCTL_MAGIC, 0x42),
		_IOWR(DMAVEC_IOCTL_MAGIC, 0x03, __u64),
	};
	static __u8 mem[1 << 16];
	static const __u64 sizes[] = {
		0, 1, 4095, 4096, 8192, 65536, 1 << 20, 16 << 20, 1ULL << 40, ~0ULL,
	};
	long calls = argc > 1 ? atol(argv[1]) : 2000;
	__u64 seed = argc > 2 ? strtoull(argv[2], NULL, 0) : (__u64)time(NULL);
	int dev, edu, fds[NFDS] = { -1 }, nfd = 0, i;
	const char *why = dmavec_missing(NEED_DEV);
	long n, ok = 0, failed = 0;
	char name[256];

	if (why) {
		printf("dmavec_fuzz: skipped: %s\n", why);
		return KSFT_SKIP;
	}
	rng = seed ? seed : 1;
	printf("dmavec_fuzz: %ld calls, seed %llu\n", calls, (unsigned long long)seed);
	fflush(stdout);
	dev = open_node("dmavec-", name, sizeof(name));
	edu = open_node("dmavec-edu-", NULL, 0);
	if (dev < 0) {
		printf("no /dev/dmavec-* device\n");
		return 1;
	}
	for (i = 0; i < NFDS; i++)
		fds[i] = -1;

	for (n = 0; n < calls; n++) {
		__u64 r = next(), p[8];
		unsigned long cmd = cmds[r % ARRAY_SIZE(cmds)];
		int target, ret, slot;
		void *arg;

		/* The argument: mostly a buffer of random words, sometimes a bad pointer. */
		for (i = 0; i < 8; i++)
			p[i] = next() & 1 ? pick(sizes, ARRAY_SIZE(sizes)) : next();
		memcpy(mem, p, sizeof(p));
		/* Plausible handles, counts and fds now and then. */
		if (next() % 3 == 0) {
			((__u32 *)mem)[0] = next() % 8;
			((__u32 *)mem)[2] = next() % 8;
		}
		if (cmd == DMAVEC_IOCTL_EXPORT) {
			struct dmavec_export *e = (void *)mem;
			struct dmavec_range *rg = (void *)(mem + 4096);

			for (i = 0; i < 16; i++) {
				rg[i].handle = next() % 8;
				rg[i].reserved = next() % 16 ? 0 : 1;
				rg[i].offset = (next() % 64) * 4096;
				rg[i].length = pick(sizes, ARRAY_SIZE(sizes));
			}
			e->ranges = next() % 8 ? (__u64)(unsigned long)rg : next();
			e->count = next() % 8 ? next() % 17 : (__u32)next();
			e->fd_flags = next() % 4 ? O_RDWR | O_CLOEXEC : (__u32)next();
			e->flags = next() % 8 ? 0 : (__u32)next();
			e->fd = next() % 8 ? 0 : (__s32)next();
			memset(e->reserved, 0, sizeof(e->reserved));
		}
		if (cmd == DMAVEC_EDU_IOCTL_IMPORT && nfd)
			((__s32 *)mem)[0] = next() % 4 ? fds[next() % nfd] : (__s32)next();
		if (cmd == DMAVEC_IOCTL_ALLOC && next() % 2) {
			struct dmavec_alloc *a = (void *)mem;

			memset(a, 0, sizeof(*a));
			a->size = (1 + next() % 64) * 4096;
			a->align = next() % 4 ? 0 : 4096ULL << (next() % 12);
		}
		if ((cmd == DMAVEC_EDU_IOCTL_WRITE || cmd == DMAVEC_EDU_IOCTL_READ) && next() % 2) {
			struct dmavec_edu_xfer *x = (void *)mem;

			x->offset = next() % 16384;
			x->length = 1 + next() % 8192;
			x->data = 0;
			if (cmd == DMAVEC_EDU_IOCTL_READ)
				x->data = (__u64)(unsigned long)(mem + 8192);
			x->flags = 0;
		}
		switch (next() % 16) {
		case 0:
			arg = NULL;
			break;
		case 1:
			/* A kernel address. */
			arg = (void *)0xffffffff81000000UL;
			break;
		case 2:
			/* Unmapped. */
			arg = (void *)0x1000UL;
			break;
		case 3:
			/* Straddles the end of the mapping. */
			arg = mem + sizeof(mem) - 4;
			break;
		default:
			arg = mem;
		}
		/* The target: the device, edu, or one of the dma-bufs. */
		target = dev;
		if (edu >= 0 && next() % 3 == 0)
			target = edu;
		else if (nfd && next() % 4 == 0)
			target = fds[next() % nfd];
		ret = ioctl(target, cmd, arg);
		if (ret >= 0) {
			ok++;
			if (cmd == DMAVEC_IOCTL_EXPORT && target == dev) {
				slot = nfd < NFDS ? nfd++ : (int)(next() % NFDS);
				if (fds[slot] >= 0)
					close(fds[slot]);
				fds[slot] = ((struct dmavec_export *)mem)->fd;
			}
		} else {
			failed++;
		}
		/* Now and then: mmap, touch and unmap a dma-buf, or close one. */
		if (nfd && next() % 16 == 0) {
			int f = fds[next() % nfd];
			size_t len = 4096 * (1 + next() % 4);
			__u8 *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, f, 0);

			if (m != MAP_FAILED) {
				m[0] ^= 1;
				munmap(m, len);
			}
		}
		if (nfd && next() % 64 == 0) {
			slot = next() % nfd;
			close(fds[slot]);
			fds[slot] = fds[--nfd];
		}
	}
	for (i = 0; i < nfd; i++)
		close(fds[i]);
	if (edu >= 0)
		close(edu);
	close(dev);
	printf("dmavec_fuzz: %ld calls done (%ld succeeded, %ld failed), seed %llu\n", calls, ok,
	       failed, (unsigned long long)seed);
	return 0;
}
