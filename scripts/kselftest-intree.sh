#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# The kselftests build inside a kernel tree unchanged: selftests/kselftest
# goes to tools/testing/selftests/drivers/dmavec of a copy of the kernel
# source, uapi/linux/dmavec*.h to its include/uapi/linux, and the kernel's
# own make builds them: "make headers", then the kselftest make with
# TARGETS=drivers/dmavec, both into an O= directory. No kernel is built.
#
# The copy is hard links (cp -al) to the cached source, made once per
# source: only new files are added to it, and no file of it may be written
# (that would write the cache); the script fails if one was.
#
# Usage: scripts/kselftest-intree.sh [--run]
#   --run   also run the tests (make run_tests): on a machine without the
#           devices every test must skip, none fail
# DMAVEC_KSELFTEST_WORK: the work directory (default out/kselftest-intree).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

run=
case ${1:-} in
--run) run=1 ;;
"") ;;
*) echo "usage: $0 [--run]" >&2; exit 2 ;;
esac
src=$(readlink -f "$DMAVEC_CACHE/src/current")
work=${DMAVEC_KSELFTEST_WORK:-$DMAVEC_ROOT/out/kselftest-intree}
ksrc=$work/src
kout=$work/out
sel=$ksrc/tools/testing/selftests/drivers/dmavec

if [ "$(cat "$work/src.key" 2>/dev/null)" != "$src" ]; then
	rm -rf "$work"
	mkdir -p "$work"
	cp -al "$src" "$ksrc"
	echo "$src" > "$work/src.key"
fi
mark=$work/run.mark
touch "$mark"

# This tree's files, as new files (removed first: never written through a link).
rm -rf "$sel"
mkdir "$sel"
mapfile -t files < <(git -C "$DMAVEC_ROOT" ls-files --cached --others --exclude-standard \
	selftests/kselftest)
for f in "${files[@]}"; do
	[ -f "$DMAVEC_ROOT/$f" ] && cp "$DMAVEC_ROOT/$f" "$sel/"
done
for h in "$DMAVEC_ROOT"/uapi/linux/*.h; do
	name=$(basename "$h")
	if [ -e "$src/include/uapi/linux/$name" ]; then
		echo "[kselftest-intree] the kernel source has include/uapi/linux/$name already" >&2
		exit 1
	fi
	rm -f "$ksrc/include/uapi/linux/$name"
	cp "$h" "$ksrc/include/uapi/linux/$name"
done

echo "[kselftest-intree] make -C <linux> O=<out> headers" >&2
make -s -C "$ksrc" O="$kout" headers >&2
# A clean build of this directory: a Makefile change is no prerequisite.
rm -rf "$kout/kselftest/drivers/dmavec"
echo "[kselftest-intree] make -C <linux>/tools/testing/selftests TARGETS=drivers/dmavec O=<out>" >&2
make -C "$ksrc/tools/testing/selftests" TARGETS=drivers/dmavec O="$kout" >&2

rc=0
progs=0
for c in "$sel"/*.c; do
	p=$(basename "$c" .c)
	if [ -x "$kout/kselftest/drivers/dmavec/$p" ]; then
		progs=$((progs + 1))
	else
		echo "[kselftest-intree] not built: $p" >&2
		rc=1
	fi
done
if [ -n "$run" ]; then
	log=$kout/run_tests.log
	make -C "$ksrc/tools/testing/selftests" TARGETS=drivers/dmavec O="$kout" \
		run_tests > "$log" 2>&1 || rc=1
	# One line per program, and within each program's output, one per test case.
	if grep -E '^(# )?not ok ' "$log" >&2; then
		echo "[kselftest-intree] failures in run_tests (see $log)" >&2
		rc=1
	fi
	echo "[kselftest-intree] run_tests: $(grep -cE '^ok [0-9]+ selftests: ' "$log") programs ok," \
		"$(grep -c '# SKIP' "$log") cases skipped" >&2
fi
# Nothing written through the hard links (the cached source).
written=$(find "$ksrc" -newer "$mark" -type f -not -path "$sel/*" \
	-not -path "$ksrc/include/uapi/linux/dmavec*" | head -5)
if [ -n "$written" ]; then
	echo "[kselftest-intree] files of the linked source were written:" >&2
	echo "$written" >&2
	rc=1
fi
[ $rc -eq 0 ] && echo "[kselftest-intree] $progs programs built in tools/testing/selftests/drivers/dmavec" >&2
exit $rc
