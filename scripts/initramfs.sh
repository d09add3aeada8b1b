#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the guest initramfs: static busybox, the runner's init, the modules
# of one build, and the kselftests compiled statically against the kernel
# source's kselftest_harness.h.
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
# The kernel's own vfio selftests, and the kernel's uapi headers (in
# $tests/.khdr) that dmavec_vfio_test needs too: the host's are older.
"$here/vfio-selftests.sh" "$tests"
for t in "$DMAVEC_ROOT"/selftests/*_test.c "$DMAVEC_ROOT"/selftests/dmavec_demo.c \
	 "$DMAVEC_ROOT"/selftests/dmavec_fuzz.c "$DMAVEC_ROOT"/selftests/dmavec_churn.c; do
	b=$(basename "$t" .c)
	if [ ! -x "$tests/$b" ] || [ "$t" -nt "$tests/$b" ] ||
	   [ -n "$(find "$DMAVEC_ROOT/selftests" "$DMAVEC_ROOT/uapi" -name '*.h' -newer "$tests/$b" 2>/dev/null)" ]; then
		gcc -static -O2 -Wall -Werror -D_GNU_SOURCE \
			-I"$src/tools/testing/selftests" -I"$DMAVEC_ROOT/selftests" \
			-I"$DMAVEC_ROOT/uapi" -isystem "$tests/.khdr/usr/include" \
			-o "$tests/$b" "$t"
	fi
done

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
