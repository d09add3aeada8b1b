#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make bench: boot the VM (plain kernel) twice, with the importer behind the
# translating IOMMU and with the IOMMU in passthrough (iommu=pt), run the
# dmavec_bench matrix in each, and print one table (scripts/bench.py).
#
# DMAVEC_BENCH_REPS=<n> changes the repetitions per cell (default 21).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
cd "$DMAVEC_ROOT"

kdir=$(vm_ready plain)
# A 1 GiB BAR (a sparse host file): 4096 ranges of 64 KiB fit it contiguously.
shm=$((1 << 30))
status=0
logs=()
for path in translated direct; do
	append="dmavec.bench_reps=${DMAVEC_BENCH_REPS:-21}"
	[ $path = direct ] && append+=" iommu=pt"
	echo "booting the VM ($path) and running the matrix ..." >&2
	python3 selftests/vm/run.py --kernel "$kdir/arch/x86/boot/bzImage" \
		--initrd out/plain/initrd.gz --mode bench --shm-size $shm --quiet \
		--append "$append" --log "out/logs/vm-bench-$path.log" --timeout 3000 \
		> "out/logs/vm-bench-$path.result" || status=$?
	if [ $status -ne 0 ]; then
		grep FAIL "out/logs/vm-bench-$path.result" >&2 || true
		tail -n 20 "out/logs/vm-bench-$path.log" >&2
		exit $status
	fi
	logs+=("out/logs/vm-bench-$path.log")
done
python3 "$here/bench.py" "${logs[@]}"
