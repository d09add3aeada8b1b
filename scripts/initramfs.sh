#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the guest initramfs: static busybox, the runner's init, the modules
# of one build, and the kselftests (selftests/kselftest) built statically
# with the kernel source's kselftest lib.mk.
#
# Usage: scripts/initramfs.sh MODULE_DIR OUTPUT.cpio.gz
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

mods=${1:?usage: $0 MODULE_DIR OUTPUT}
out=${2:?usage: $0 MODULE_DIR OUTPUT}
src=$(readlink -f "$DMAVEC_CACHE/src/current")
tests="$mods/tests"
stage="$mods/initramfs"

mkdir -p "$tests"
# Absolute: the kselftest make runs in selftests/kselftest.
tests=$(cd "$tests" && pwd)
# The kernel's own vfio selftests, and the kernel's uapi headers (in
# $tests/.khdr) that dmavec_vfio_test needs too: the host's are older.
"$here/vfio-selftests.sh" "$tests"
# The kernel's own suites of the dma-buf core, which the series
# changes: dmabuf-heaps, udmabuf, iommufd and iommufd_fail_nth.
"$here/peer-selftests.sh" "$tests"
# The kselftests, through their kernel-style Makefile (selftests/kselftest,
# tools/testing/selftests/drivers/dmavec in a kernel tree) and the source's
# lib.mk, static for the busybox guest; make rebuilds what changed (a source,
# the headers beside it, uapi/, the harness). stdout stays clean.
make -C "$DMAVEC_ROOT/selftests/kselftest" KSFT_DIR="$src/tools/testing/selftests" \
	OUTPUT="$tests" CC=gcc LDFLAGS=-static \
	KHDR_INCLUDES="-isystem $tests/.khdr/usr/include" >&2

rm -rf "$stage"
mkdir -p "$stage"/{bin,dev,proc,sys,tmp,lib/modules,tests}
cp /bin/busybox "$stage/bin/busybox"
ln -s busybox "$stage/bin/sh"
cp "$DMAVEC_ROOT/selftests/vm/init" "$stage/init"
if [ -z "${DMAVEC_NO_MODULES:-}" ]; then
	cp "$mods"/*.ko "$stage/lib/modules/"
	[ -f "$mods/dmavec.ko" ] || { echo "no modules in $mods" >&2; exit 1; }
fi
cp "$tests"/* "$stage/tests/"
cp "$DMAVEC_ROOT/selftests/vm/demo.sh" "$DMAVEC_ROOT/selftests/vm/bench.sh" "$stage/tests/"
(cd "$stage" && find . | cpio -o -H newc --quiet | gzip -1) > "$out"
