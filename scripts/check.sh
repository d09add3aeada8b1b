#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: set-up if needed, the debug test kernel (cached), the style
# gates (rustfmt, checkpatch --strict, kernel-doc, rst, SPDX, rust-analyzer),
# the modules (compiled by clippy-driver: zero
# warnings), the VM suites on the debug kernel (translated IOMMU, with
# upstream's vfio-pci and vfio's own selftests; exporter and importer behind a
# PCIe switch; ...), and the in-tree build (=y, debug
# flavour, booted: its KUnit suites, vfio-pci exporting through dmavec, vfio's
# selftests with the results of the check run). Ends with one line "N passed,
# N failed" and exits non-zero on any failure.
# The kernel's own suites of the dma-buf core, which the series changes,
# run on the debug kernel too (scripts/peer-selftests.sh), each case counted:
#   dmabuf-heaps: the system heap's buffers, imported by vgem (check run);
#   iommufd: its dma-buf cases, the mock exporter attached, pinned, revoked (check run);
#   udmabuf (drivers/dma-buf): its own boot, 4 GiB with 1024 2 MiB huge pages;
#   all of iommufd and iommufd_fail_nth: make soak (scripts/soak.sh).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"
cd "$DMAVEC_ROOT"

passed=0
failed=0
# A run that starts without the cache's debug kernel builds everything (a
# fresh machine): its time goes to its own section of the figures.
fresh=
[ -e "$DMAVEC_CACHE/build/debug" ] || fresh=1
logdir="$DMAVEC_ROOT/out/logs"
mkdir -p "$logdir"

pass() { passed=$((passed + 1)); echo "ok    $*"; }
fail() { failed=$((failed + 1)); echo "FAIL  $*"; }
finish() {
	local line
	line="$passed passed, $failed failed, $SECONDS s, $(python3 scripts/figures.py stamp)"
	echo "$line" | python3 scripts/figures.py set check
	[ -n "$fresh" ] && echo "$line, empty cache" | python3 scripts/figures.py set check-fresh
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

# gate NAME CMD...: run a gate, its output kept in out/logs/NAME.log.
gate() {
	local name=$1; shift
	if "$@" > "$logdir/$name.log" 2>&1; then
		pass "$name"
	else
		fail "$name (see out/logs/$name.log)"
		sed 's/^/      /' "$logdir/$name.log" | tail -n 30
	fi
}

echo "== set-up and debug test kernel"
if ! "$here/setup.sh" all; then fail "set-up"; finish; fi
if ! kdir=$("$here/kernel.sh" debug); then fail "debug kernel build"; finish; fi
pass "debug kernel ($kdir)"
src=$(readlink -f "$DMAVEC_CACHE/src/current")

echo "== style gates"
mapfile -t rs_files < <(git ls-files --cached --others --exclude-standard '*.rs')
mapfile -t c_files < <(git ls-files --cached --others --exclude-standard '*.c' '*.h')
gate rustfmt /usr/bin/rustfmt --check --edition 2021 \
	--config-path "$src/.rustfmt.toml" "${rs_files[@]}"
checkpatch() {
	local out
	out=$("$src/scripts/checkpatch.pl" --no-tree --strict --quiet --show-types \
		"$@" 2>&1) || true
	printf '%s\n' "$out"
	! printf '%s\n' "$out" | grep -qE '^(ERROR|WARNING|CHECK):'
}
# Each C file on its own, with the exceptions scripts/checkpatch-exceptions justifies.
checkpatch_files() {
	local f ign rc=0
	for f in "$@"; do
		ign=$(awk -v f="$f" '$1 == f { print $2 }' scripts/checkpatch-exceptions)
		checkpatch ${ign:+--ignore "$ign"} -f "$f" || rc=1
	done
	return $rc
}
gate checkpatch checkpatch_files "${c_files[@]}" "${rs_files[@]}"
# The patch entries of patches/series (the generated commits are this tree's
# files, which the gates above check; make series-check checks the series as
# posted). Patches go in on stdin: inside a git work tree checkpatch checks
# something else. FILE_PATH_CHANGES ("does MAINTAINERS need updating?") is
# raised for any new file; the only ones are vfio-pci's, which the VFIO
# DRIVER entry already covers (F: drivers/vfio/), and
# rust/kernel/pci/p2pdma.rs, which PCI SUBSYSTEM [RUST] covers
# (F: rust/kernel/pci/). MISSING_SIGN_OFF: the stored patches carry none;
# make series adds DMAVEC_AUTHOR's.
checkpatch_patches() {
	local p rc=0
	while IFS= read -r p; do
		echo "$p:"
		checkpatch --ignore FILE_PATH_CHANGES,MISSING_SIGN_OFF - < "$p" || rc=1
	done < <(python3 scripts/series.py patches)
	return $rc
}
gate checkpatch-patches checkpatch_patches
kerneldoc() {
	local out
	out=$("$src/scripts/kernel-doc" -none -Wall "$@" 2>&1)
	printf '%s\n' "$out"
	[ -z "$out" ]
}
gate kernel-doc kerneldoc "${c_files[@]}"
# Every file carries an SPDX identifier in its first lines; the kernel patches
# are diffs of kernel files, whose licences are theirs.
spdx() {
	local f rc=0
	while IFS= read -r f; do
		case $f in patches/*.patch) continue ;; esac
		head -n 3 "$f" | grep -q 'SPDX-License-Identifier:' || { echo "no SPDX: $f"; rc=1; }
	done < <(git ls-files --cached --others --exclude-standard)
	return $rc
}
gate spdx spdx
mapfile -t rst_files < <(git ls-files --cached --others --exclude-standard '*.rst')
gate rst python3 scripts/rstcheck.py "$src" "${rst_files[@]}"
# The kselftests as the kernel builds them: copied to
# tools/testing/selftests/drivers/dmavec of the source, built and run with the
# kselftest make (on this host, without the devices, every case skips).
gate kselftest-intree "$here/kselftest-intree.sh" --run

echo "== modules (clippy-driver, zero warnings)"
if "$here/modules.sh" debug CLIPPY=1 > "$logdir/modules.log" 2>&1 &&
   ! grep -qE '(warning|error)(\[[a-z0-9_:]+\])?:' "$logdir/modules.log"; then
	pass "modules build warning-free (CLIPPY=1)"
else
	fail "modules build (see out/logs/modules.log)"
	tail -n 40 "$logdir/modules.log" | sed 's/^/      /'
	finish
fi

gate rust-analyzer "$here/rust-analyzer.sh" "$DMAVEC_ROOT/out/rust-project.json"

# The kernel of kunit.py's step (the last one) builds meanwhile, at low
# priority: the VMs leave part of the two cores idle. It must be done before
# the in-tree builds, which bring this tree into the same source tree.
nice -n 19 "$here/intree.sh" kunit-build > "$logdir/kunit-build.log" 2>&1 &
kunit_build=$!

echo "== VM suite (debug kernel, intel-iommu translated)"
if ! "$here/initramfs.sh" out/debug out/debug/initrd.gz > "$logdir/initramfs.log" 2>&1; then
	fail "initramfs and kselftests build (see out/logs/initramfs.log)"
	tail -n 30 "$logdir/initramfs.log" | sed 's/^/      /'
	finish
fi
pass "initramfs and kselftests build"
# vm NAME ARGS...: one VM run, its counts added to the total.
vm() {
	local name=$1 counts p f sk
	shift
	counts=$(mktemp)
	python3 selftests/vm/run.py --kernel "$kdir/arch/x86/boot/bzImage" \
		--initrd out/debug/initrd.gz --quiet --log "$logdir/vm-$name.log" \
		--counts "$counts" --timeout "${DMAVEC_VM_TIMEOUT:-900}" "$@" \
		| grep -v '^  ok ' | grep -vE '^[0-9]+ passed, [0-9]+ failed'
	read -r p f sk < "$counts" || { p=0; f=1; sk=0; }
	rm -f "$counts"
	passed=$((passed + p))
	failed=$((failed + f))
	echo "   VM $name: $p passed, $f failed${sk:+, $sk skipped} (guest log: out/logs/vm-$name.log)"
}
vm check --mode check
echo "== VM suite: udmabuf's kselftest, with the 2 GiB of huge pages its last cases map"
vm udmabuf --mode udmabuf --memory 4G --append hugepages=1024
echo "== VM suite: exporter and importer behind one PCIe switch (bus addresses), bounce buffers"
# swiotlb=force: system memory mapped for edu bounces, so the RAM round trip
# only passes when the CPU access hooks hand the buffer over.
vm switch --mode switch --topology switch --append "iommu=pt swiotlb=force"
echo "== VM suite: an untrusted importer of system memory that bounces behind a translated IOMMU"
vm bounce --mode bounce --append "swiotlb=force"
echo "== VM suite: an importer P2PDMA cannot route to the exporter (another host bridge)"
vm route --mode route --topology pxb
echo "== VM suite: bus addresses above 4 GiB for a 32-bit importer (8 GiB BAR behind the switch)"
vm far --mode route --topology switch --shm-size 8589934592 --append "iommu=pt dmavec.route=far"

echo "== VM suite: an 8 GiB BAR above 4 GiB, once per IOMMU mode (strict, lazy, passthrough, off)"
for m in strict lazy pt off; do
	opts=()
	a=
	case $m in
	lazy) opts=(--lazy-iommu) ;;	# iommu.strict=0, and no caching mode
	pt) a=iommu=pt ;;
	off) a=intel_iommu=off ;;
	esac
	vm big-$m --mode big --shm-size 8589934592 "${opts[@]}" --append "dmavec.iommu_mode=$m $a"
done

# vfio_results LOG: "test-case result" of every vfio selftest case in a guest log.
vfio_results() {
	awk '/^==DMAVEC== BEGIN kselftest vfio_/ { on = 1; next }
	     /^==DMAVEC== END kselftest vfio_/ { on = 0 }
	     on && /^(not )?ok [0-9]+ / {
		name = ($1 == "not") ? $4 : $3
		res = ($1 == "not") ? "fail" : (/# SKIP/ ? "skip" : "pass")
		print name, res
	     }' "$1" | sort
}
# vfio_same STOCK_LOG CONVERTED_LOG: the same cases with the same results, and some passed.
vfio_same() {
	local a b
	a=$(vfio_results "$1")
	b=$(vfio_results "$2")
	printf 'upstream vfio-pci: %s\n' "$(echo "$a" | awk '{ n[$2]++ } END { for (r in n) printf "%s %d ", r, n[r] }')"
	printf 'vfio-pci on dmavec: %s\n' "$(echo "$b" | awk '{ n[$2]++ } END { for (r in n) printf "%s %d ", r, n[r] }')"
	echo "$a" | grep -q ' pass$' || { echo "no vfio selftest passed upstream"; return 1; }
	diff <(echo "$a") <(echo "$b")
}

# Its failure shows in the kunit.py step, which builds again.
wait "$kunit_build" || true

# The =y kernel only: an in-tree =m build proves little that the M= build of the
# modules above and the =y kernel don't, and costs a kernel build (make intree
# still builds both).
echo "== in-tree build: the series applied, dmavec =y, the kernel's KUnit suites"
if "$here/intree.sh" y > "$logdir/intree.log" 2>&1; then
	pass "in-tree build, =y"
	# That source is the base kernel with both series applied, and nothing
	# else: make series, then every file the series changes compared.
	gate series-is-intree-source "$here/series.sh" verify \
		"$("$here/intree.sh" source 2>/dev/null)"
	counts=$(mktemp)
	DMAVEC_INTREE_COUNTS=$counts "$here/intree.sh" boot 2>&1 |
		grep -v '^  ok ' | grep -vE '^[0-9]+ passed, [0-9]+ failed'
	read -r p f sk < "$counts" || { p=0; f=1; sk=0; }
	rm -f "$counts"
	passed=$((passed + p))
	failed=$((failed + f))
	echo "   VM intree: $p passed, $f failed (guest log: out/logs/vm-intree.log)"
	# The kernel's own vfio selftests give the converted vfio-pci (in-tree run) the
	# results upstream's vfio-pci got (check run), case by case.
	gate vfio-selftests-same vfio_same "$logdir/vm-check.log" "$logdir/vm-intree.log"
else
	fail "in-tree build (see out/logs/intree.log)"
	tail -n 30 "$logdir/intree.log" | sed 's/^/      /'
fi

# The hermetic suites as a kernel developer runs them: kunit.py with the
# tree's .kunitconfig, on its own small x86_64 kernel under QEMU. Its summary
# ("Ran N tests: passed: P, failed: F, ...") gives the count; its exit status
# and the summary must both say that nothing failed, crashed or was skipped.
echo "== kunit.py run --kunitconfig=drivers/dma-buf/dmavec --kunitconfig=drivers/dma-buf (x86_64, QEMU)"
if "$here/intree.sh" kunit > "$logdir/kunit.log" 2>&1; then kunit_rc=0; else kunit_rc=$?; fi
summary=$(grep -o 'Ran [0-9]* tests: .*' "$logdir/kunit.log" | tail -n 1)
kp=$(echo "$summary" | grep -o 'passed: [0-9]*' | grep -o '[0-9]*')
kt=$(echo "$summary" | grep -o 'Ran [0-9]*' | grep -o '[0-9]*')
if [ "$kunit_rc" -eq 0 ] && [ -n "$kp" ] && [ "$kp" -gt 0 ] && [ "$kp" = "$kt" ]; then
	passed=$((passed + kp))
	echo "   kunit.py: $summary (log: out/logs/kunit.log)"
	# Of those, the examples of the series' Rust abstractions (rust/kernel
	# files of its kernel entries, and what their hooks add), compiled and
	# run as doctests: every one of them must have passed.
	names=$(python3 scripts/series.py doctests "$src")
	nn=$(echo "$names" | grep -c . || true)
	nd=$(grep -oE '\[PASSED\] rust_doctest_kernel_[a-z0-9_]+' "$logdir/kunit.log" |
		sed 's/.* //' | grep -cxF "$names" || true)
	if [ "$nd" = "$nn" ] && [ "$nn" -gt 0 ]; then
		echo "   of which $nd doctests of the series' abstractions (rust_doctests_kernel)"
	else
		fail "kunit.py: $nd of the $nn doctests of the series' abstractions passed"
	fi
else
	fail "kunit.py (exit $kunit_rc, ${summary:-no summary}; see out/logs/kunit.log)"
	grep -E '\[(FAILED|CRASHED|SKIPPED)\]' "$logdir/kunit.log" | sed 's/^/      /'
	tail -n 30 "$logdir/kunit.log" | sed 's/^/      /'
fi
finish
