#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the kernel's own selftests of the code that the series
# changes (the dma-buf core and its importers) as static binaries
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

# iommufd's dmabuf_* cases take the dma-buf's fd from the return value of
# IOMMU_TEST_OP_DMABUF_GET, which 7.3's mock exporter returns only with
# patches/iommufd-selftest-Return-the-dma-buf-fd-of-IOMMU_TEST_OP_DMABUF_GET.patch
# (test series); on a kernel without it they get fd 0 and fail.
cc -Wno-unused-function -o "$out/iommufd" "$sel/iommu/iommufd.c" -lcap
cc -Wno-unused-function -o "$out/iommufd_fail_nth" "$sel/iommu/iommufd_fail_nth.c" -lcap
echo "$key" > "$stamp"
