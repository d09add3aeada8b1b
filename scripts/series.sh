#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# make series: the patch series of patches/series as git format-patch files,
# against the base kernel exactly as set-up unpacks it (Debian's
# linux-source-7.3, committed once into a cached git repository):
#   out/series/        the posted series, with its cover letter
#   out/series-test/   the test-only patches, applied on top, never posted
# DMAVEC_AUTHOR="Name <address>" sets the author and the Signed-off-by line;
# without it the patches carry no sign-off (they need a DCO sign-off before
# posting, which nothing here can give).
#
# make series-check: git am of both series on the base, then, for each
# posted patch in turn, an incremental W=1 build of an x86_64 kernel with
# Rust, dmavec =m and vfio-pci on it (kernel/base.config, plain.config,
# series-check.config), failing on a compiler warning in a file the patch
# touches; checkpatch --strict of the patch, kernel-doc -Wall of the headers
# it touches; at the end checkkconfigsymbols over the series,
# get_maintainer.pl for every file the series adds and make htmldocs of the
# documentation directories it touches. One line per patch.
#
# series.sh verify TREE: after make series, every file the two series change
# is in TREE (the in-tree kernels' source, scripts/intree.sh) as git am of
# the series makes it: the in-tree build is built from the series, and from
# nothing else. make check runs it.
#
# Usage: scripts/series.sh [series|check|verify TREE]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/env.sh"

what=${1:-series}
"$here/setup.sh" all
deb=$(ls "$DMAVEC_CACHE"/apt/debs/linux-source-${KERNEL_SERIES}_*.deb | sort -V | tail -n1)
ver=$(dpkg-deb -f "$deb" Version)
sdir=$DMAVEC_CACHE/series
bare=$sdir/base-$ver.git
ident=(-c user.name=dmavec -c user.email=dmavec@invalid)

# The base: the unpacked source, one commit, made once per Debian version.
if [ ! -f "$bare/dmavec-ready" ]; then
	echo "[series] committing linux-source $ver as the base (once)" >&2
	rm -rf "$sdir"/base-*.git "$sdir/unpack" "$sdir/check" "$sdir/check-build"
	mkdir -p "$sdir/unpack"
	dpkg-deb --fsys-tarfile "$deb" |
		tar -x -O --wildcards "./usr/src/linux-source-$KERNEL_SERIES.tar.xz" |
		tar -xJ -C "$sdir/unpack" --strip-components=1
	git init -q --bare "$bare"
	git --git-dir="$bare" --work-tree="$sdir/unpack" add -A -f
	GIT_AUTHOR_DATE="2026-01-01T00:00:00Z" GIT_COMMITTER_DATE="2026-01-01T00:00:00Z" \
		git --git-dir="$bare" --work-tree="$sdir/unpack" "${ident[@]}" commit -q \
		-m "Linux $ver (Debian linux-source-$KERNEL_SERIES, as unpacked)"
	git --git-dir="$bare" tag base
	rm -rf "$sdir/unpack"
	touch "$bare/dmavec-ready"
fi

python3 "$here/series.py" generate "$bare" "$DMAVEC_ROOT/out/series" "$DMAVEC_ROOT/out/series-test"
echo "[series] $(ls "$DMAVEC_ROOT"/out/series/*.patch | wc -l) files in out/series" \
	"(cover letter included), $(ls "$DMAVEC_ROOT"/out/series-test/*.patch | wc -l) in out/series-test" >&2
[ "$what" = series ] && exit 0
if [ "$what" = verify ]; then
	tree=${2:?usage: $0 verify TREE}
	n=0 bad=0
	while IFS= read -r -d '' f; do
		n=$((n + 1))
		if ! cmp -s <(git --git-dir="$bare" show "refs/dmavec/series-test:$f") "$tree/$f"; then
			echo "differs from the series: $f"
			bad=1
		fi
	done < <(git --git-dir="$bare" diff -z --name-only --no-renames --diff-filter=d \
		base refs/dmavec/series-test)
	while IFS= read -r -d '' f; do
		n=$((n + 1))
		[ -e "$tree/$f" ] && { echo "deleted by the series, present: $f"; bad=1; }
	done < <(git --git-dir="$bare" diff -z --name-only --no-renames --diff-filter=D \
		base refs/dmavec/series-test)
	[ $bad -eq 0 ] && echo "the $n files the series changes are in $tree as git am makes them"
	exit $bad
fi
[ "$what" = check ] || { echo "usage: $0 [series|check|verify TREE]" >&2; exit 2; }

# ------------------------------------------------------------ series-check
wt=$sdir/check
kout=$sdir/check-build
# A clone sharing the base's objects, not a worktree of the bare repository:
# checkpatch's spdxcheck.py (GitPython) refuses a worktree of a bare one.
if [ ! -d "$wt/.git" ]; then
	rm -rf "$wt"
	git clone -q --shared --no-checkout "$bare" "$wt"
	git -C "$wt" checkout -q --detach base
fi
cd "$wt"
git am --abort >/dev/null 2>&1 || true
# Back to the base: only files the last check's series changed are rewritten,
# so the build below stays incremental.
git checkout -q -f --detach base
git clean -q -f -d -x
kmake() { make -s -C "$wt" O="$kout" "${KMAKE_VARS[@]}" -j"${DMAVEC_JOBS:-3}" "$@"; }
# configure FRAGMENT...: merge the fragments over the current .config.
configure() {
	"$wt/scripts/kconfig/merge_config.sh" -m -O "$kout" "$kout/.config" "$@" >/dev/null 2>&1
	make -s -C "$wt" O="$kout" "${KMAKE_VARS[@]}" olddefconfig
}
frags=("$DMAVEC_ROOT/kernel/base.config" "$DMAVEC_ROOT/kernel/plain.config"
       "$DMAVEC_ROOT/kernel/series-check.config")
key=$(cat "${frags[@]}" | sha256sum | cut -c1-12)
if [ "$(cat "$kout/.dmavec-key" 2>/dev/null)" != "$key" ]; then
	rm -rf "$kout"
	mkdir -p "$kout"
	# Not kconfig() of env.sh: base.config names symbols that patches add,
	# which the base does not know yet.
	make -s -C "$wt" O="$kout" "${KMAKE_VARS[@]}" allnoconfig
	echo "$key" > "$kout/.dmavec-key"
fi
configure "${frags[@]}"
start=$(date +%s)
kmake W=1 bzImage modules > "$kout/.base.log" 2>&1 || { tail -n 30 "$kout/.base.log"; exit 1; }
echo "base: built in $(( $(date +%s) - start )) s"

# What checkpatch (spdxcheck.py) and make htmldocs need, from the Debian
# packages of the machine's release.
missing=()
for m in ply:python3-ply git:python3-git sphinx:python3-sphinx; do
	/usr/bin/python3 -c "import ${m%%:*}" 2>/dev/null || missing+=("${m#*:}")
done
[ ${#missing[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	--no-install-recommends "${missing[@]}" >/dev/null

# kdoc FILE: its kernel-doc -Wall warnings, one per line, without line numbers.
kdoc() {
	"$wt/scripts/kernel-doc" -none -Wall "$1" 2>&1 | paste -sd$'\001' |
		sed 's/\x01 /  /g' | tr '\001' '\n' | sed -E 's/^(Warning: [^:]+):[0-9]+ /\1 /' | grep . || true
}

rc=0
n=0
# FILE_PATH_CHANGES ("does MAINTAINERS need updating?") is checkpatch's guess
# for any new file; get_maintainer.pl below checks that a maintainer answers
# for every new file of the series. Unsigned patches (no DMAVEC_AUTHOR) lack
# the sign-off only a person can give.
cpignore=(--ignore FILE_PATH_CHANGES)
if [ -z "${DMAVEC_AUTHOR:-}" ]; then
	cpignore=(--ignore FILE_PATH_CHANGES,MISSING_SIGN_OFF)
	echo "checkpatch: MISSING_SIGN_OFF not checked (DMAVEC_AUTHOR unset: the patches are unsigned)"
fi
for p in "$DMAVEC_ROOT"/out/series/0*.patch; do
	case $p in */0000-cover-letter.patch) continue ;; esac
	n=$((n + 1))
	name=$(basename "$p")
	git "${ident[@]}" am -q --keep-cr "$p" || { echo "$name: does not apply"; exit 1; }
	files=$(git diff --name-only HEAD~1 HEAD)
	grep -q 'Kconfig' <<< "$files" && configure "${frags[@]}"
	start=$(date +%s)
	notes=()
	notes_ok=()
	if ! kmake W=1 bzImage modules > "$kout/.patch.log" 2>&1; then
		notes+=("BUILD FAILED")
		tail -n 30 "$kout/.patch.log" | sed 's/^/    /'
	fi
	secs=$(( $(date +%s) - start ))
	re=$(grep -E '\.(c|h|rs)$' <<< "$files" | sed 's/[.]/[.]/g' | paste -sd'|' || true)
	if [ -n "$re" ] &&
	   grep -E "((^|[ /])($re):[0-9]+:[0-9]+: warning:)|(^ *--> (.*/)?($re):[0-9]+:[0-9]+)" \
		"$kout/.patch.log" > "$kout/.warn" 2>/dev/null; then
		notes+=("$(wc -l < "$kout/.warn") W=1 warnings")
		sed 's/^/    /' "$kout/.warn"
	fi
	scripts/checkpatch.pl --strict --quiet --show-types "${cpignore[@]}" "$p" 2>&1 |
		python3 "$DMAVEC_ROOT/scripts/series.py" checkpatch-filter > "$kout/.cp" 2> "$kout/.cpx" || true
	cp=$(grep -cE '^(ERROR|WARNING|CHECK):' "$kout/.cp" || true)
	[ "$cp" -eq 0 ] || { notes+=("$cp checkpatch"); sed 's/^/    /' "$kout/.cp"; }
	[ -s "$kout/.cpx" ] && notes_ok+=("checkpatch $(cat "$kout/.cpx")")
	# kernel-doc -Wall of every header the patch touches: what it reports
	# that it did not report before the patch (messages compared without
	# their line numbers) fails; what was there already is upstream's.
	hdrs=$(grep -E '\.h$' <<< "$files" | while read -r f; do [ -f "$f" ] && echo "$f"; done || true)
	for f in $hdrs; do
		kdoc "$f" > "$kout/.kd.new"
		if git cat-file -e "HEAD~1:$f" 2>/dev/null; then
			mkdir -p "$kout/.kd/$(dirname "$f")"
			git show "HEAD~1:$f" > "$kout/.kd/$f"
			(cd "$kout/.kd" && kdoc "$f") > "$kout/.kd.old"
		else
			: > "$kout/.kd.old"
		fi
		new=$(diff <(sort "$kout/.kd.old") <(sort "$kout/.kd.new") | sed -n 's/^> //p' || true)
		old=$(grep -c . "$kout/.kd.old" || true)
		if [ -n "$new" ]; then
			notes+=("$(grep -c . <<< "$new") new kernel-doc warnings in $f")
			sed 's/^/    /' <<< "$new"
		fi
		[ "$old" -eq 0 ] || notes_ok+=("kernel-doc: $f has $old warnings before this patch too (upstream's), none new")
	done
	if [ ${#notes[@]} -eq 0 ]; then
		printf '%2d ok   %4d s  %s\n' "$n" "$secs" "$name"
		[ ${#notes_ok[@]} -eq 0 ] || printf '                  %s\n' "${notes_ok[@]}"
	else
		printf '%2d FAIL %4d s  %s: %s\n' "$n" "$secs" "$name" "$(IFS=,; echo "${notes[*]}")"
		rc=1
	fi
done

# Over the whole posted series.
ck=$(python3 scripts/checkkconfigsymbols.py --diff base..HEAD 2>&1 || true)
if [ -n "$ck" ]; then echo "checkkconfigsymbols: FAIL"; echo "$ck" | sed 's/^/    /'; rc=1
else echo "checkkconfigsymbols: ok"; fi
bad=0
while IFS= read -r f; do
	grep -q '(maintainer:' <(scripts/get_maintainer.pl --no-git --no-git-fallback -f "$f" \
		2>/dev/null) || { echo "    get_maintainer.pl names no maintainer for $f"; bad=1; }
done < <(git diff --name-only --diff-filter=A base..HEAD)
if [ $bad -eq 0 ]; then echo "get_maintainer.pl: ok for every new file"
else echo "get_maintainer.pl: FAIL"; rc=1; fi

# The documentation the series touches, through the kernel's own make
# htmldocs (Sphinx from the Debian package), one SPHINXDIRS directory at a
# time: a warning in a file the series adds or changes fails, except a link
# to a document of another directory that the tree has (SPHINXDIRS builds
# each directory on its own, so such links cannot resolve there).
rst=$(git diff --name-only base..HEAD -- 'Documentation/*.rst')
dirs=$(for f in $rst; do d=${f#Documentation/}; d=${d%/*}; [ "$d" = "${f#Documentation/}" ] && continue
	echo "$d"; done | sort -u)
docs_bad=0
for d in $dirs; do
	make -s -C "$wt" O="$kout/docs" htmldocs SPHINXDIRS="$d" > "$kout/.docs.log" 2>&1 ||
		{ echo "    htmldocs SPHINXDIRS=$d failed"; docs_bad=1; }
	while IFS= read -r w; do
		doc=$(sed -n "s/.*unknown document: '\/\([^']*\)'.*/\1/p" <<< "$w")
		[ -n "$doc" ] && [ -f "Documentation/$doc.rst" ] && continue
		echo "    $w"
		docs_bad=1
	done < <(grep -F "$(printf '%s\n' $rst $(git diff --name-only base..HEAD -- '*.h' '*.c'))" \
		"$kout/.docs.log" | grep -i 'warning\|error')
done
if [ $docs_bad -eq 0 ]; then echo "htmldocs (SPHINXDIRS=$(echo $dirs)): ok"
else echo "htmldocs: FAIL"; rc=1; fi

# The test series applies on top and builds.
for p in "$DMAVEC_ROOT"/out/series-test/0*.patch; do
	git "${ident[@]}" am -q --keep-cr "$p" || { echo "$(basename "$p"): does not apply"; exit 1; }
done
configure "${frags[@]}" "$DMAVEC_ROOT/kernel/intree-m.config"
start=$(date +%s)
if kmake bzImage modules > "$kout/.test.log" 2>&1; then
	echo "test series: applies and builds ($(( $(date +%s) - start )) s)"
else
	echo "test series: BUILD FAILED"; tail -n 30 "$kout/.test.log" | sed 's/^/    /'; rc=1
fi
exit $rc
