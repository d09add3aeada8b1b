#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the kernel's own selftests of the code that patches/0004 and
# patches/0007 change (the dma-buf core and its importers) as static binaries
# for the busybox guest, outside the kselftest make system, as
# scripts/vfio-selftests.sh builds vfio's: the uapi headers of the patched
# source (make headers, into OUTDIR/.khdr) and gcc -static on each test with
# the flags of its Makefile. Nothing is written into the source tree.
#   dmabuf-heap       tools/testing/selftests/dmabuf-heaps (system heap, vgem import)
#   udmabuf           tools/testing/selftests/drivers/dma-buf
#   iommufd           tools/testing/selftests/iommu (mock dma-buf exporter: dmabuf_*)
#   iommufd_fail_nth  tools/testing/selftests/iommu (fault injection, make soak)
#
# Usage: scripts/peer-selftests.sh OUTDIR
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

out=${1:?usage: $0 OUTDIR}
src=$(readlink -f "$DMAVEC_CACHE/src/current")
sel=$src/tools/testing/selftests

[ -f /usr/include/sys/capability.h ] && [ -f /usr/lib/x86_64-linux-gnu/libcap.a ] ||
	{ echo "[peer-selftests] iommufd needs libcap-dev (sys/capability.h, libcap.a)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Built once per kernel source (the patched tree's name changes with patches/)
# and version of this script.
stamp="$out/.peer-selftests-src"
key="$src $(sha256sum < "$0" | cut -c1-12)"
if [ "$(cat "$stamp" 2>/dev/null)" = "$key" ]; then
	exit 0
fi
rm -f "$stamp"
make -s -C "$src" O="$out/.khdr" headers >&2

# The flags of lib.mk and of each suite's Makefile; no tools/include (whose
# BITS_PER_LONG iommufd_utils.h redefines), as in the kselftest make.
cc() {
	gcc -static -O2 -Wall -Werror -D_GNU_SOURCE= \
		-isystem "$out/.khdr/usr/include" -I"$sel" "$@"
}
cc -Wl,-no-as-needed -o "$out/dmabuf-heap" "$sel/dmabuf-heaps/dmabuf-heap.c"
cc -o "$out/udmabuf" "$sel/drivers/dma-buf/udmabuf.c"

# 7.3's mock exporter hands iommufd's dmabuf_* cases no dma-buf: its
# IOMMU_TEST_OP_DMABUF_GET installs the new dma-buf's fd but returns 0
# (drivers/iommu/iommufd/selftest.c, iommufd_test_dmabuf_get(): "rc =
# dma_buf_fd(...); ... return 0;"), so the test maps and revokes fd 0, its
# stdin, and all 8 cases fail on unpatched 7.3 as on ours, without ever
# attaching. ioctl() is wrapped for that one command: when it returns 0, the
# test gets the fd the kernel installed (the lowest free one before the call,
# which fd_install() takes) once /proc/self/fdinfo shows a dma-buf of the
# iommufd exporter there; otherwise, or when a kernel returns the fd, the
# result is passed on unchanged.
mkdir -p "$out/.peer"
cat > "$out/.peer/dmabuf_get_fd.c" <<'C'
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "iommufd_test.h"

int __real_ioctl(int fd, unsigned long req, void *arg);

static int iommufd_dmabuf(int fd)
{
	char path[64], line[128];
	FILE *f;
	int found = 0;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strcmp(line, "exp_name:\tiommufd\n"))
			found = 1;
	fclose(f);
	return found;
}

int __wrap_ioctl(int fd, unsigned long req, ...)
{
	struct iommu_test_cmd *cmd;
	int next = -1, ret;
	va_list ap;

	va_start(ap, req);
	cmd = va_arg(ap, void *);
	va_end(ap);
	if (req == IOMMU_TEST_CMD && cmd->op == IOMMU_TEST_OP_DMABUF_GET) {
		next = fcntl(fd, F_DUPFD, 0);
		if (next >= 0)
			close(next);
	}
	ret = __real_ioctl(fd, req, cmd);
	if (ret == 0 && next >= 0 && iommufd_dmabuf(next))
		return next;
	return ret;
}
C
cc -Wno-unused-function -I"$src/drivers/iommu/iommufd" -Wl,--wrap=ioctl \
	-o "$out/iommufd" "$sel/iommu/iommufd.c" "$out/.peer/dmabuf_get_fd.c" -lcap
cc -Wno-unused-function -o "$out/iommufd_fail_nth" "$sel/iommu/iommufd_fail_nth.c" -lcap
echo "$key" > "$stamp"
