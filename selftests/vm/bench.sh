#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Guest side of "make bench": runs the matrix through
# debugfs/dmavec_bench/run (see bench/dmavec_bench.rs) and prints one
# "==DMAVEC== BENCH <row>" line per cell for the host (scripts/bench.py).
#
# Usage: bench.sh [smoke|map]
#   smoke: two small cells, 3 repetitions (make check)
#   map: the fixed cost of a mapping only: the profile and the map rows of
#        1 and 64 ranges of 4 KiB (the VM's mode benchmap, for a quick look)

run=/sys/kernel/debug/dmavec_bench/run
revoke=/sys/kernel/debug/dmavec_bench/revoke
M='==DMAVEC=='
reps=${DMAVEC_BENCH_REPS:-11}
bar=${DMAVEC_SHM_SIZE:-0}
status=0

# request FILE MARK NAME ARGS...: write ARGS to FILE, print its report after MARK.
request() {
	f=$1 mark=$2 name=$3
	shift 3
	if ! echo "$* $reps" > $f; then
		echo "$M STEP bench-$name fail (bad cell)"
		status=1
		return
	fi
	r=$(cat $f)
	case $r in
	error*)
		echo "$M STEP bench-$name fail ($r)"
		status=1
		;;
	*)
		echo "$M $mark $r"
		;;
	esac
}

# cell N SIZE ADJACENT: one map + unmap cell.
cell() {
	request $run BENCH "$1x$2-$3" "$@"
}

# profile_cell N SIZE ADJACENT: where A's time goes beyond F (path F D A K (A-K)/F).
profile_cell() {
	request /sys/kernel/debug/dmavec_bench/profile PROFILE "profile-$1x$2-$3" "$@"
}

# The cells whose fixed cost the profile splits: one range of 4 KiB, 64, and
# two of 3 GiB where the BAR holds them. After each profile, the command
# given as arguments runs with the cell's arguments (cell: its map row; true:
# nothing).
profiled_cells() {
	for c in "1 4096 0" "64 4096 0"; do
		profile_cell $c
		"$@" $c
	done
	if [ "$bar" -ge $((8 << 30)) ]; then
		profile_cell 2 $((3 << 30)) 0
		"$@" 2 $((3 << 30)) 0
	fi
}

# revoke_cell K: revocation with K live attachments, and mapping them again.
revoke_cell() {
	request $revoke REVOKE "revoke-$1" "$@"
}

if [ "${1:-}" = smoke ]; then
	reps=3
	cell 64 4096 0
	cell 64 4096 1
	revoke_cell 8
	exit $status
fi

if [ "${1:-}" = map ]; then
	profiled_cells cell
	exit $status
fi

for k in 1 8 64; do
	revoke_cell $k
done

# The fixed cost of a mapping, split (the matrix below has their rows).
profiled_cells true

for n in 1 64 4096; do
	for size in 4096 65536 2097152; do
		cell $n $size 0
	done
done
# Past 4 GiB, where an sg_table entry (unsigned int) cannot hold a range: 6 GiB in
# one range and in two swapped 3 GiB ranges, where the BAR holds them.
if [ "$bar" -ge $((8 << 30)) ]; then
	cell 1 $((6 << 30)) 0
	cell 2 $((3 << 30)) 0
fi
# The same bytes as one contiguous region in n pieces, where it fits the BAR.
for n in 64 4096; do
	for size in 4096 65536 2097152; do
		[ $((n * size)) -le "$bar" ] && cell $n $size 1
	done
done
exit $status
