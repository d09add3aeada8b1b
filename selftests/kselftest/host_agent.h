/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest side of the VM runner's host agent (selftests/vm/run.py): lets a
 * test read and write the host file that backs ivshmem's shared memory, so
 * that data written by the guest or by a device is checked from outside the
 * guest. Requests go over the second serial port, one line each way.
 */
#ifndef DMAVEC_HOST_AGENT_H
#define DMAVEC_HOST_AGENT_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include <linux/types.h>

#define HOST_AGENT_TTY "/dev/ttyS1"

/* The pattern shared with run.py: xorshift32 bytes from a seed. */
static inline void agent_pattern(__u32 seed, __u8 *buf, size_t n)
{
	__u32 x = seed ? seed : 0x9E3779B9u;
	size_t i;

	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = x & 0xff;
	}
}

static inline int agent_open(void)
{
	struct termios t;
	int fd = open(HOST_AGENT_TTY, O_RDWR | O_NOCTTY);

	if (fd < 0)
		return -1;
	if (tcgetattr(fd, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(fd, TCSANOW, &t);
	}
	return fd;
}

/* Sends one request line and reads the answer line into @ans (NUL-terminated). */
static inline int agent_call(const char *req, char *ans, size_t ans_len)
{
	size_t n = 0;
	int fd = agent_open();

	if (fd < 0)
		return -1;
	if (write(fd, req, strlen(req)) != (ssize_t)strlen(req) || write(fd, "\n", 1) != 1)
		goto err;
	while (n + 1 < ans_len) {
		char c;

		if (read(fd, &c, 1) != 1)
			goto err;
		if (c == '\n')
			break;
		ans[n++] = c;
	}
	ans[n] = '\0';
	close(fd);
	return strncmp(ans, "OK", 2) ? -1 : 0;
err:
	close(fd);
	return -1;
}

/* Reads @len bytes at @off of the host file into @buf. */
static inline int agent_read(__u64 off, void *buf, size_t len)
{
	size_t alen = 2 * len + 8, i;
	char req[64], *ans = malloc(alen);
	int ret = -1;

	if (!ans)
		return -1;
	snprintf(req, sizeof(req), "HOSTREAD %llu %zu", (unsigned long long)off, len);
	if (agent_call(req, ans, alen) == 0 && strlen(ans) == 3 + 2 * len) {
		ret = 0;
		for (i = 0; i < len && !ret; i++)
			if (sscanf(ans + 3 + 2 * i, "%2hhx", (unsigned char *)buf + i) != 1)
				ret = -1;
	}
	free(ans);
	return ret;
}

/* Fills @len bytes at @off of the host file with agent_pattern(@seed). */
static inline int agent_fill(__u64 off, size_t len, __u32 seed)
{
	char req[96], ans[64];

	snprintf(req, sizeof(req), "HOSTFILL %llu %zu %u", (unsigned long long)off, len, seed);
	return agent_call(req, ans, sizeof(ans));
}

/*
 * Has the host compare @len bytes at @off of its file with
 * agent_pattern(@seed); returns how many match, or -1.
 */
static inline long agent_check(__u64 off, size_t len, __u32 seed)
{
	char req[96], ans[64];
	long n;

	snprintf(req, sizeof(req), "HOSTCHECK %llu %zu %u", (unsigned long long)off, len, seed);
	if (agent_call(req, ans, sizeof(ans)) || sscanf(ans, "OK %ld", &n) != 1)
		return -1;
	return n;
}

/* Has the host count the zero bytes of @len bytes at @off of its file; or -1. */
static inline long agent_zero(__u64 off, size_t len)
{
	char req[96], ans[64];
	long n;

	snprintf(req, sizeof(req), "HOSTZERO %llu %zu", (unsigned long long)off, len);
	if (agent_call(req, ans, sizeof(ans)) || sscanf(ans, "OK %ld", &n) != 1)
		return -1;
	return n;
}

#endif /* DMAVEC_HOST_AGENT_H */
