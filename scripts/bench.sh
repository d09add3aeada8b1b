#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: boot the VM (plain kernel) three times, with the importer
# behind the translating IOMMU in strict and in lazy mode, and with the IOMMU
# in passthrough (iommu=pt), run the dmavec_bench matrix, the revocation
# cells and vfio-pci's dma-buf (upstream's) in each; then boot the in-tree
# kernel without sanitizers (vfio-pci exports through dmavec) in the same
# three modes for vfio-pci's rows; print the tables (scripts/bench.py) and
# write them into Documentation/figures.rst (sections bench and vfio).
#
# DMAVEC_BENCH_REPS=<n> changes the repetitions per cell (default 21); such a
# run only prints its tables: the figures file keeps those of default runs.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
cd "$DMAVEC_ROOT"

kdir=$(vm_ready plain)
# An 8 GiB BAR (a sparse host file, never written): 4096 ranges of 2 MiB fit it
# contiguously, and the 6 GiB rows fit it.
shm=$((8 << 30))
logs=()
# boot NAME MODE KERNEL INITRD GUEST_MODE TIMEOUT RUN.PY-ARGS...: one boot in IOMMU
# MODE: strict and lazy put the importer behind the translating IOMMU, which
# flushes its IOTLB on every unmap (strict) or in batches (iommu.strict=0); pt
# puts the IOMMU in passthrough, the direct path. Its log joins the tables.
boot() {
	local name=$1 mode=$2 kernel=$3 initrd=$4 guest=$5 timeout=$6 status=0
	shift 6
	local append="dmavec.bench_reps=${DMAVEC_BENCH_REPS:-21}" opts=()
	case $mode in
	lazy) opts=(--lazy-iommu) ;;
	pt) append+=" iommu=pt" ;;
	esac
	python3 selftests/vm/run.py --kernel "$kernel/arch/x86/boot/bzImage" \
		--initrd "$initrd" --mode "$guest" --quiet "${opts[@]}" "$@" \
		--append "$append" --log "out/logs/vm-$name-$mode.log" --timeout "$timeout" \
		> "out/logs/vm-$name-$mode.result" || status=$?
	if [ $status -ne 0 ]; then
		grep FAIL "out/logs/vm-$name-$mode.result" >&2 || true
		tail -n 20 "out/logs/vm-$name-$mode.log" >&2
		exit $status
	fi
	logs+=("$mode=out/logs/vm-$name-$mode.log")
}
for mode in strict lazy pt; do
	echo "booting the VM ($mode) and running the matrix ..." >&2
	boot bench $mode "$kdir" out/plain/initrd.gz bench 3000 --shm-size $shm
done
# vfio-pci converted: the in-tree kernel, dmavec and vfio-pci built in, no
# sanitizers (built on first use; make check does not need it).
"$here/intree.sh" yplain >&2
src=$(readlink -f "$DMAVEC_CACHE/src/current")
ykdir="$DMAVEC_CACHE/intree/$(basename "$src")/build-yplain"
ird=out/intree
mkdir -p "$ird"
DMAVEC_NO_MODULES=1 "$here/initramfs.sh" "$ird" "$ird/initrd.gz" >&2
for mode in strict lazy pt; do
	echo "booting the in-tree VM ($mode) for vfio-pci on dmavec ..." >&2
	boot vfiobench $mode "$ykdir" "$ird/initrd.gz" vfiobench 1800
done
fig=()
[ -n "${DMAVEC_BENCH_REPS:-}" ] || fig=(--figures)
python3 "$here/bench.py" "${fig[@]}" "${logs[@]}"
