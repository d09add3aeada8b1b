#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: boot the VM (plain kernel) three times, with the importer
# behind the translating IOMMU in strict and in lazy mode, and with the IOMMU
# in passthrough (iommu=pt), run the dmavec_bench matrix, the revocation
# cells and vfio-pci's dma-buf (upstream's) in each; then boot the in-tree
# kernel without sanitizers (vfio-pci exports through dmavec) in the same
# three modes for vfio-pci's rows; print the tables (scripts/bench.py).
#
# DMAVEC_BENCH_REPS=<n> changes the repetitions per cell (default 21).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
cd "$DMAVEC_ROOT"

kdir=$(vm_ready plain)
# An 8 GiB BAR (a sparse host file, never written): 4096 ranges of 2 MiB fit it
# contiguously, and the 6 GiB rows fit it.
shm=$((8 << 30))
status=0
logs=()
# strict and lazy: the importer behind the translating IOMMU, which flushes
# its IOTLB on every unmap (strict) or in batches (iommu.strict=0); pt: the
# IOMMU in passthrough, the direct path.
for mode in strict lazy pt; do
	append="dmavec.bench_reps=${DMAVEC_BENCH_REPS:-21}"
	opts=()
	case $mode in
	lazy) opts=(--lazy-iommu) ;;
	pt) append+=" iommu=pt" ;;
	esac
	echo "booting the VM ($mode) and running the matrix ..." >&2
	python3 selftests/vm/run.py --kernel "$kdir/arch/x86/boot/bzImage" \
		--initrd out/plain/initrd.gz --mode bench --shm-size $shm --quiet "${opts[@]}" \
		--append "$append" --log "out/logs/vm-bench-$mode.log" --timeout 3000 \
		> "out/logs/vm-bench-$mode.result" || status=$?
	if [ $status -ne 0 ]; then
		grep FAIL "out/logs/vm-bench-$mode.result" >&2 || true
		tail -n 20 "out/logs/vm-bench-$mode.log" >&2
		exit $status
	fi
	logs+=("$mode=out/logs/vm-bench-$mode.log")
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
	append="dmavec.bench_reps=${DMAVEC_BENCH_REPS:-21}"
	opts=()
	case $mode in
	lazy) opts=(--lazy-iommu) ;;
	pt) append+=" iommu=pt" ;;
	esac
	echo "booting the in-tree VM ($mode) for vfio-pci on dmavec ..." >&2
	python3 selftests/vm/run.py --kernel "$ykdir/arch/x86/boot/bzImage" \
		--initrd "$ird/initrd.gz" --mode vfiobench --quiet "${opts[@]}" \
		--append "$append" --log "out/logs/vm-vfiobench-$mode.log" --timeout 1800 \
		> "out/logs/vm-vfiobench-$mode.result" || status=$?
	if [ $status -ne 0 ]; then
		grep FAIL "out/logs/vm-vfiobench-$mode.result" >&2 || true
		tail -n 20 "out/logs/vm-vfiobench-$mode.log" >&2
		exit $status
	fi
	logs+=("$mode=out/logs/vm-vfiobench-$mode.log")
done
python3 "$here/bench.py" "${logs[@]}"
