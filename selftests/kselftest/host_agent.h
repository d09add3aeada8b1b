/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Guest side of the VM runner's host agent (selftests/vm/run.py): lets a
 * test read and write the host file that backs ivshmem's shared memory, so
 * that data written by the guest or by a device is checked from outside the
 * guest. Requests go over the second serial port, one line each way.
 */
#ifndef DMAVEC_HOST_AGENT_H
#define DMAVEC_HOST_AGENT_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <linux/types.h>

#ifndef HOST_AGENT_TTY
#define HOST_AGENT_TTY "/dev/ttyS1"
#endif
/* How long the host may take to answer a request; longer, and it failed. */
#define HOST_AGENT_TIMEOUT_MS 120000
/* How long agent_available() waits for the answer to its HOSTPING. */
#define HOST_AGENT_PING_MS 3000

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

/*
 * Opens the serial port without waiting for a carrier and without flow
 * control, raw, non-blocking (agent_io() polls): a port that nothing answers
 * on makes a request time out, never hang.
 */
static inline int agent_open(void)
{
	struct termios t;
	int fd = open(HOST_AGENT_TTY, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (tcgetattr(fd, &t)) {
		/* Not a terminal. */
		close(fd);
		return -1;
	}
	cfmakeraw(&t);
	t.c_cflag |= CLOCAL | CREAD;
	t.c_cflag &= ~CRTSCTS;
	tcsetattr(fd, TCSANOW, &t);
	/* Nothing left over from an earlier request that timed out. */
	tcflush(fd, TCIFLUSH);
	return fd;
}

static inline long agent_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Waits until @fd is ready for @events or the time is @end; 1 if ready. */
static inline int agent_wait(int fd, short events, long end)
{
	struct pollfd p = { .fd = fd, .events = events };
	long left;
	int n;

	do {
		left = end - agent_now_ms();
		if (left <= 0)
			return 0;
		n = poll(&p, 1, left);
	} while (n < 0 && errno == EINTR);
	return n > 0 && (p.revents & events);
}

/*
 * Sends one request line and reads the answer line into @ans
 * (NUL-terminated, empty if none came) within @timeout_ms.
 */
static inline int agent_call_timeout(const char *req, char *ans, size_t ans_len,
				     long timeout_ms)
{
	long end = agent_now_ms() + timeout_ms;
	size_t n = 0, len = strlen(req), sent = 0;
	char *line = malloc(len + 1);
	int fd, ret = -1, answered = 0;
	ssize_t w;
	char c;

	ans[0] = '\0';
	if (!line)
		return -1;
	memcpy(line, req, len);
	line[len++] = '\n';
	fd = agent_open();
	if (fd < 0)
		goto out;
	while (sent < len) {
		w = write(fd, line + sent, len - sent);
		if (w > 0)
			sent += w;
		else if (w < 0 && errno != EAGAIN && errno != EINTR)
			goto out;
		else if (!agent_wait(fd, POLLOUT, end))
			goto out;
	}
	while (n + 1 < ans_len) {
		w = read(fd, &c, 1);
		if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
			if (!agent_wait(fd, POLLIN, end))
				goto out;
			continue;
		}
		if (w != 1)
			goto out;
		if (c == '\n')
			break;
		ans[n++] = c;
	}
	answered = 1;
out:
	ans[n] = '\0';
	if (answered && !strncmp(ans, "OK", 2))
		ret = 0;
	if (fd >= 0)
		close(fd);
	free(line);
	return ret;
}

static inline int agent_call(const char *req, char *ans, size_t ans_len)
{
	return agent_call_timeout(req, ans, ans_len, HOST_AGENT_TIMEOUT_MS);
}

/* Whether the host agent answers (a HOSTPING within HOST_AGENT_PING_MS). */
static inline int agent_available(void)
{
	char ans[16];

	return agent_call_timeout("HOSTPING", ans, sizeof(ans), HOST_AGENT_PING_MS) == 0;
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
