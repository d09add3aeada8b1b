#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the kernel's own vfio selftests (tools/testing/selftests/vfio) as
# static binaries for the busybox guest, outside the kselftest make system:
# the uapi headers of the patched source (make headers, into OUTDIR/.khdr;
# the host's are too old for linux/iommufd.h) and gcc -static on each test
# plus libvfio and its drivers. Nothing is written into the source tree.
#
# Usage: scripts/vfio-selftests.sh OUTDIR
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

out=${1:?usage: $0 OUTDIR}
src=$(readlink -f "$DMAVEC_CACHE/src/current")
sel=$src/tools/testing/selftests
tests="vfio_pci_device_test vfio_dma_mapping_test vfio_dma_mapping_mmio_test vfio_iommufd_setup_test"

[ -f /usr/include/uuid/uuid.h ] && [ -f /usr/lib/x86_64-linux-gnu/libuuid.a ] ||
	{ echo "[vfio-selftests] libvfio needs uuid-dev (uuid/uuid.h, libuuid.a)" >&2; exit 1; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
# Built once per kernel source (the patched tree's name changes with patches/).
stamp="$out/.vfio-selftests-src"
if [ "$(cat "$stamp" 2>/dev/null)" = "$src" ]; then
	exit 0
fi
rm -f "$stamp"
make -s -C "$src" O="$out/.khdr" headers >&2

# -isystem, not -I: the uapi linux/types.h must not shadow tools/include's.
for t in $tests; do
	gcc -static -O2 -Wall -Werror -D_GNU_SOURCE -pthread \
		-isystem "$out/.khdr/usr/include" -I"$sel" -I"$sel/vfio/lib/include" \
		-I"$src/tools/include" -o "$out/$t" "$sel/vfio/$t.c" \
		"$sel"/vfio/lib/*.c "$sel"/vfio/lib/drivers/*/*.c -luuid
done
echo "$src" > "$stamp"
