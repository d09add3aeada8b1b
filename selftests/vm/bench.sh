#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of "make bench": runs the matrix through
# debugfs/dmavec_bench/run (see bench/dmavec_bench.rs) and prints one
# "==DMAVEC== BENCH <row>" line per cell for the host (scripts/bench.py).
#
# Usage: bench.sh [smoke]   smoke: two small cells, 3 repetitions (make check)

run=/sys/kernel/debug/dmavec_bench/run
revoke=/sys/kernel/debug/dmavec_bench/revoke
M='==DMAVEC=='
reps=${DMAVEC_BENCH_REPS:-11}
bar=${DMAVEC_SHM_SIZE:-0}
status=0

# cell N SIZE ADJACENT
cell() {
	if ! echo "$1 $2 $3 $reps" > $run; then
		echo "$M STEP bench-$1x$2-$3 fail (bad cell)"
		status=1
		return
	fi
	r=$(cat $run)
	case $r in
	error*)
		echo "$M STEP bench-$1x$2-$3 fail ($r)"
		status=1
		;;
	*)
		echo "$M BENCH $r"
		;;
	esac
}

# revoke_cell K: revocation with K live attachments, and mapping them again.
revoke_cell() {
	if ! echo "$1 $reps" > $revoke; then
		echo "$M STEP bench-revoke-$1 fail (bad cell)"
		status=1
		return
	fi
	r=$(cat $revoke)
	case $r in
	error*)
		echo "$M STEP bench-revoke-$1 fail ($r)"
		status=1
		;;
	*)
		echo "$M REVOKE $r"
		;;
	esac
}

if [ "${1:-}" = smoke ]; then
	reps=3
	cell 64 4096 0
	cell 64 4096 1
	revoke_cell 8
	exit $status
fi

for k in 1 8 64; do
	revoke_cell $k
done

for n in 1 64 4096; do
	for size in 4096 65536 2097152; do
		cell $n $size 0
	done
done
# The same bytes as one contiguous region in n pieces, where it fits the BAR.
for n in 64 4096; do
	for size in 4096 65536 2097152; do
		[ $((n * size)) -le "$bar" ] && cell $n $size 1
	done
done
exit $status
