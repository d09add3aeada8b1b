#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The kernel patch series of dmavec, from patches/series.

patches/series is the one description of how this repository becomes kernel
source: which kernel changes are kept as patches, which commits are
generated from the repository's files, where each file goes in the kernel
tree, and in which order. Everything that puts dmavec into a kernel reads it:

  series.py patches [posted|test]
        the patch files of the series (both by default), in order, one per
        line.
  series.py source DIR
        apply to DIR, the unpacked kernel source, what every kernel of this
        repository is built with: the patch entries and the kernel entries
        (the Rust abstractions dmavec builds on), in their order.
  series.py kernel-files
        the kernel files that those entries add or change, one per line.
  series.py doctests SRC
        the KUnit names of the Rust doctests the kernel entries add
        (rust_doctest_kernel_<file>_<n>, as rust/kernel's doctest generator
        names them), one per line: every example of their own rust/kernel
        files, and those their hooks add to existing ones; numbered as in
        SRC, a kernel source with the entries applied.
  series.py key
        the hash of what the patch and kernel entries change (the diff
        hunks of the patches, the files and hooks of the kernel entries):
        the key of the cached source and of every kernel built from it.
        The generated commits are not in it: a change to dmavec's own
        files never invalidates a kernel build.
  series.py intree SRC TREE
        bring the generated commits into TREE, a kernel tree whose files are
        hard links to SRC (SRC has the patch entries applied): every mapped
        file in its final state, every hook applied. A file is written only
        when its content changes, and always as a new file (never through a
        link into SRC), so an unchanged file keeps its mtime and nothing is
        rebuilt for it.
  series.py checkpatch-filter < REPORT
        checkpatch.pl's report of a patch, less what scripts/checkpatch-exceptions
        accepts for the file (looked up by kernel path).
  series.py generate BASE_GIT OUT_POSTED OUT_TEST
        commit the series onto the base tree committed in BASE_GIT (a bare
        repository whose HEAD is the unpacked kernel source) and write it
        with git format-patch: the posted series with its cover letter to
        OUT_POSTED, the test series to OUT_TEST. DMAVEC_AUTHOR="Name
        <address>" sets author and Signed-off-by; without it the patches
        carry no sign-off and a placeholder author that names no person.
"""
import hashlib
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATCHES = os.path.join(ROOT, "patches")
UNSIGNED = "dmavec series (unsigned) <unsigned@invalid>"
# "# series: NAME" (Kconfig, Makefiles, .gitignore, config fragments) or
# ".. series: NAME" (rst).
MARK = re.compile(r"^(?:#|\.\.) series: (\S+)\s*$")


class Entry:
    def __init__(self, kind, name, series):
        self.kind = kind        # "patch", "kernel" or "commit"
        self.name = name        # patch file name or commit name
        self.series = series    # "posted" or "test"
        self.maps = []          # (repo path, kernel path)

    def path(self, suffix=""):
        return os.path.join(PATCHES, self.name + suffix)


def parse(path=os.path.join(PATCHES, "series")):
    entries, series, cur = [], None, None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            words = line.split()
            if line[0] in " \t":
                if cur is None or cur.kind == "patch" or len(words) != 2:
                    sys.exit(f"{path}:{n}: a map line belongs under a commit")
                cur.maps.append((words[0].rstrip("/"), words[1].rstrip("/")))
                continue
            if words == ["posted"] or words == ["test"]:
                series = words[0]
                continue
            if len(words) != 2 or words[0] not in ("patch", "kernel", "commit") or series is None:
                sys.exit(f"{path}:{n}: cannot parse: {line.rstrip()}")
            cur = Entry(words[0], words[1], series)
            entries.append(cur)
    names = [e.name for e in entries]
    if len(set(names)) != len(names):
        sys.exit(f"{path}: an entry appears twice")
    return entries


def repo_files():
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "-z", "--cached", "--others",
                          "--exclude-standard"], check=True, capture_output=True).stdout
    return sorted(f for f in out.decode().split("\0")
                  if f and os.path.isfile(os.path.join(ROOT, f)))


def mapping(entries):
    """{repo file: (index of its commit, kernel path)}: the most specific
    map line wins (a file over its directory)."""
    rules = []
    for i, e in enumerate(entries):
        for src, dst in e.maps:
            rules.append((src, dst, i))
    result = {}
    for f in repo_files():
        best = None
        for src, dst, i in rules:
            if f == src:
                cand = (len(src) + 1, i, dst)
            elif f.startswith(src + "/"):
                cand = (len(src), i, dst + f[len(src):])
            else:
                continue
            if best is None or cand[0] > best[0]:
                best = cand
        if best is not None and not best[2].startswith("-"):
            result[f] = (best[1], best[2])
    return result


def render(repo_file, upto, index_of):
    """The file as it is once commit number upto is applied: marked blocks of
    later commits left out, marker lines dropped."""
    with open(os.path.join(ROOT, repo_file), "rb") as f:
        data = f.read()
    if b"series: " not in data:
        return data
    out, skip = [], []
    for line in data.decode().splitlines(keepends=True):
        m = MARK.match(line)
        if m:
            name = m.group(1)
            if name == "end":
                if not skip:
                    sys.exit(f"{repo_file}: '# series: end' without a block")
                skip.pop()
            elif name == "repo":
                # This repository's own build (out of tree): never in a kernel tree.
                skip.append(True)
            else:
                if name not in index_of:
                    sys.exit(f"{repo_file}: '# series: {name}' names no commit")
                skip.append(index_of[name] > upto)
            continue
        if not any(skip):
            out.append(line)
    if skip:
        sys.exit(f"{repo_file}: a '# series:' block is not closed")
    # A block left out leaves the blank lines around it: keep one, and none
    # at the end of the file.
    text = re.sub(r"\n\n\n+", "\n\n", "".join(out))
    text = text.rstrip("\n") + "\n" if text.strip() else text
    return text.encode()


def maintainers_entry():
    """This repository's MAINTAINERS entry, its comment lines dropped."""
    with open(os.path.join(ROOT, "MAINTAINERS")) as f:
        lines = [l for l in f if not l.startswith("#")]
    author = os.environ.get("DMAVEC_AUTHOR", "").strip() or UNSIGNED
    return "".join(lines).strip("\n").replace("@AUTHOR@", author) + "\n"


def insert_maintainers(text, entry):
    """The kernel's MAINTAINERS with the entry inserted in alphabetical order
    among the entries (a title line followed by a line of the form "X:")."""
    lines = text.splitlines(keepends=True)
    title = entry.splitlines()[0]
    start = None
    for i, l in enumerate(lines):
        if l.startswith("Maintainers List"):
            start = i
            break
    if start is None:
        sys.exit("MAINTAINERS: no 'Maintainers List' section")
    for i in range(start + 1, len(lines) - 1):
        l = lines[i]
        if l.strip() and lines[i - 1].strip() == "" and re.match(r"^[A-Z]:\t", lines[i + 1]) \
                and l.rstrip("\n") > title:
            return "".join(lines[:i]) + entry + "\n" + "".join(lines[i:])
    sys.exit("MAINTAINERS: found no place for the entry")


def hook_targets(entry):
    """The kernel files the hooks of a commit edit."""
    p = entry.path(".hooks")
    if not os.path.exists(p):
        return []
    with open(p) as f:
        return [l[6:].split("\t")[0].strip() for l in f if l.startswith("+++ b/")]


def patch_diff(path):
    """The diff part of a format-patch file."""
    with open(path) as f:
        text = f.read()
    i = text.find("\ndiff --git ")
    if i < 0:
        sys.exit(f"{path}: no diff")
    return text[i + 1:]


# ------------------------------------------------------------------ commands
def cmd_patches(which=None):
    for e in parse():
        if e.kind == "patch" and which in (None, e.series):
            print(e.path())


def source_entries():
    """The entries every kernel is built with, in order, each with the
    repository files of a kernel entry: [(entry, {kernel path: repo file})]."""
    entries = parse()
    files = mapping(entries)
    out = []
    for i, e in enumerate(entries):
        if e.kind == "commit":
            continue
        out.append((e, {k: f for f, (ci, k) in files.items() if ci == i}))
    return out


def cmd_key():
    h = hashlib.sha256()
    for e, files in source_entries():
        if e.kind == "patch":
            diff = patch_diff(e.path())
        else:
            diff = "".join(f"file {k}\n" + open(os.path.join(ROOT, f)).read()
                           for k, f in sorted(files.items()))
            if os.path.exists(e.path(".hooks")):
                with open(e.path(".hooks")) as f:
                    diff += f.read()
        for line in diff.splitlines():
            if line.startswith("index ") or line.startswith("-- ") or line == "--":
                continue
            h.update(line.encode() + b"\n")
    print(h.hexdigest()[:12])


def cmd_source(tree):
    for e, files in source_entries():
        if e.kind == "patch":
            subprocess.run(["patch", "-d", tree, "-p1", "-s", "--no-backup-if-mismatch",
                            "-i", e.path()], check=True)
            continue
        for k, f in sorted(files.items()):
            dst = os.path.join(tree, k)
            if os.path.exists(dst):
                sys.exit(f"{e.name}: {k} exists: a kernel entry only adds files")
            write_new(dst, open(os.path.join(ROOT, f), "rb").read(), 0o644)
        if os.path.exists(e.path(".hooks")):
            subprocess.run(["patch", "-d", tree, "-p1", "-s", "--no-backup-if-mismatch",
                            "-i", e.path(".hooks")], check=True)


def cmd_kernel_files():
    out = set()
    for e, files in source_entries():
        out.update(files)
        for p in (e.path(), e.path(".hooks")) if e.kind == "patch" else (e.path(".hooks"),):
            if os.path.exists(p):
                with open(p) as f:
                    out.update(l[6:].split("\t")[0].strip() for l in f if l.startswith("+++ b/"))
    print("\n".join(sorted(out)))


DOC_FENCE = re.compile(r"^\s*//[/!]\s*```(\w*)")


def doctest_lines(path):
    """The line numbers (1-based) of the opening fences of the doctests in
    the Rust file path: code blocks of doc comments, in Rust (no language, or
    rust) and not ignored."""
    out, inside = [], False
    with open(path) as f:
        for n, line in enumerate(f, 1):
            m = DOC_FENCE.match(line)
            if not m:
                continue
            if inside:
                inside = False
                continue
            inside = True
            if m.group(1) in ("", "rust"):
                out.append(n)
    return out


def added_lines(hooks, kpath):
    """The new-file line numbers of the lines a diff adds to kpath."""
    out, cur, n = [], None, 0
    with open(hooks) as f:
        for line in f:
            if line.startswith("+++ b/"):
                cur = line[6:].split("\t")[0].strip()
            elif line.startswith("@@"):
                n = int(re.match(r"@@ -\S+ \+(\d+)", line).group(1))
            elif cur == kpath and line.startswith("+"):
                out.append(n)
                n += 1
            elif line.startswith(" "):
                n += 1
    return out


def cmd_doctests(src):
    def name(kpath, i):
        stem = kpath[len("rust/kernel/"):].replace("/", "_").replace(".", "_")
        return f"rust_doctest_kernel_{stem}_{i}"

    out = []
    for e, files in source_entries():
        if e.kind == "patch":
            continue
        for k in sorted(files):
            if k.startswith("rust/kernel/") and k.endswith(".rs"):
                out += [name(k, i) for i in range(len(doctest_lines(os.path.join(src, k))))]
        if os.path.exists(e.path(".hooks")):
            for k in hook_targets(e):
                if k.startswith("rust/kernel/") and k.endswith(".rs"):
                    new = set(added_lines(e.path(".hooks"), k))
                    tests = doctest_lines(os.path.join(src, k))
                    out += [name(k, i) for i, n in enumerate(tests) if n in new]
    print("\n".join(out))


def write_new(path, data, mode):
    """Write data to path as a new file, unless path has it already."""
    try:
        with open(path, "rb") as f:
            if f.read() == data:
                return False
    except FileNotFoundError:
        pass
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".series-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
    return True


def apply_hooks(entries, src, workdir):
    """The hooked kernel files after every hook: {kernel path: bytes}."""
    targets = []
    for e in entries:
        for t in hook_targets(e):
            if t not in targets:
                targets.append(t)
    maint = any(e.name == "dmavec-maintainers" for e in entries)
    for t in targets:
        os.makedirs(os.path.dirname(os.path.join(workdir, t)), exist_ok=True)
        with open(os.path.join(src, t), "rb") as a, open(os.path.join(workdir, t), "wb") as b:
            b.write(a.read())
    for e in entries:
        if os.path.exists(e.path(".hooks")):
            subprocess.run(["patch", "-p1", "-s", "--no-backup-if-mismatch", "-d", workdir,
                            "-i", e.path(".hooks")], check=True)
    result = {}
    for t in targets:
        with open(os.path.join(workdir, t), "rb") as f:
            result[t] = f.read()
    if maint:
        with open(os.path.join(src, "MAINTAINERS")) as f:
            result["MAINTAINERS"] = insert_maintainers(f.read(), maintainers_entry()).encode()
    return result


def cmd_intree(src, tree):
    entries = parse()
    index_of = {e.name: i for i, e in enumerate(entries) if e.kind == "commit"}
    last = len(entries) - 1
    wanted = {}
    for f, (i, kpath) in mapping(entries).items():
        if entries[i].kind != "commit":
            continue    # a kernel entry: in the source already
        wanted[kpath] = (render(f, last, index_of), os.stat(os.path.join(ROOT, f)).st_mode & 0o777)
    with tempfile.TemporaryDirectory() as work:
        commits = [e for e in entries if e.kind == "commit"]
        for kpath, data in apply_hooks(commits, src, work).items():
            wanted[kpath] = (data, os.stat(os.path.join(src, kpath)).st_mode & 0o777)
    listing = os.path.join(tree, ".dmavec-series-files")
    old = set()
    if os.path.exists(listing):
        with open(listing) as f:
            old = set(l.rstrip("\n") for l in f)
    changed = 0
    for kpath, (data, mode) in sorted(wanted.items()):
        changed += write_new(os.path.join(tree, kpath), data, mode)
    for kpath in sorted(old - set(wanted)):
        # No longer generated: back to the source's file, or gone.
        dst = os.path.join(tree, kpath)
        if os.path.exists(os.path.join(src, kpath)):
            with open(os.path.join(src, kpath), "rb") as f:
                changed += write_new(dst, f.read(),
                                     os.stat(os.path.join(src, kpath)).st_mode & 0o777)
        elif os.path.exists(dst):
            os.unlink(dst)
            changed += 1
    with open(listing + ".tmp", "w") as f:
        f.write("".join(k + "\n" for k in sorted(wanted)))
    os.replace(listing + ".tmp", listing)
    print(f"[series] {len(wanted)} generated files in {tree}, {changed} written", file=sys.stderr)


def repo_files_by_kernel_path():
    """{kernel path: repository file} of every file the generated commits add."""
    return {k: f for f, (i, k) in mapping(parse()).items()}


def git(repo, *args, env=None, input=None):
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run(["git", "-C", repo] + list(args), env=e, input=input,
                       capture_output=True)
    if r.returncode:
        sys.exit(f"git {' '.join(args)}: {r.stderr.decode()}")
    return r.stdout


def message_of_patch(path):
    """Subject and body of a format-patch file, without sign-offs."""
    with open(path) as f:
        text = f.read()
    head, _, rest = text.partition("\n\n")
    subj = re.search(r"^Subject: (?:\[PATCH[^\]]*\] )?(.*(?:\n .*)*)", head, re.M)
    if not subj:
        sys.exit(f"{path}: no Subject")
    subject = " ".join(s.strip() for s in subj.group(1).split("\n"))
    body = rest.split("\n---\n")[0]
    date = re.search(r"^Date: (.*)$", head, re.M)
    return subject, body, date.group(1) if date else None


def message_of_commit(e):
    with open(e.path(".commit")) as f:
        text = f.read()
    lines = [l for l in text.splitlines() if not l.startswith("# ")]
    while lines and not lines[0].strip():
        lines.pop(0)
    return lines[0], "\n".join(lines[2:]).strip("\n") + "\n", None


def finish_message(subject, body):
    body = "\n".join(l for l in body.rstrip("\n").splitlines()
                     if not l.startswith("Signed-off-by:")).rstrip("\n")
    author = os.environ.get("DMAVEC_AUTHOR", "").strip()
    msg = subject + "\n\n" + body + "\n"
    if author:
        msg += "\nSigned-off-by: " + author + "\n"
    return msg


def cmd_generate(base, out_posted, out_test):
    entries = parse()
    index_of = {e.name: i for i, e in enumerate(entries) if e.kind == "commit"}
    files = mapping(entries)
    author = os.environ.get("DMAVEC_AUTHOR", "").strip() or UNSIGNED
    m = re.match(r"^(.*?)\s*<(.*)>$", author)
    if not m:
        sys.exit("DMAVEC_AUTHOR must read 'Name <address>'")
    date = git(ROOT, "log", "-1", "--format=%aD").decode().strip() or "now"
    ident = {"GIT_AUTHOR_NAME": m.group(1), "GIT_AUTHOR_EMAIL": m.group(2),
             "GIT_COMMITTER_NAME": m.group(1), "GIT_COMMITTER_EMAIL": m.group(2),
             "GIT_COMMITTER_DATE": date}
    with tempfile.TemporaryDirectory() as work:
        idx = {"GIT_INDEX_FILE": os.path.join(work, "index")}
        git(base, "read-tree", "HEAD", env=idx)
        head = git(base, "rev-parse", "HEAD").decode().strip()
        marks = {}
        staged = {}     # kernel path -> the content last put in the index
        for i, e in enumerate(entries):
            if e.kind == "patch":
                git(base, "apply", "--cached", "--whitespace=nowarn", e.path(), env=idx)
                subject, body, pdate = message_of_patch(e.path())
            else:
                for f, (ci, kpath) in files.items():
                    data = render(f, i, index_of) if ci <= i else None
                    if data is None or staged.get(kpath) == data:
                        continue
                    staged[kpath] = data
                    blob = git(base, "hash-object", "-w", "--stdin",
                               input=data).decode().strip()
                    mode = "100755" if os.access(os.path.join(ROOT, f), os.X_OK) else "100644"
                    git(base, "update-index", "--add", "--cacheinfo",
                        f"{mode},{blob},{kpath}", env=idx)
                if os.path.exists(e.path(".hooks")):
                    git(base, "apply", "--cached", e.path(".hooks"), env=idx)
                if e.name == "dmavec-maintainers":
                    cur = git(base, "show", ":MAINTAINERS", env=idx).decode()
                    blob = git(base, "hash-object", "-w", "--stdin",
                               input=insert_maintainers(cur, maintainers_entry()).encode()
                               ).decode().strip()
                    git(base, "update-index", "--cacheinfo", f"100644,{blob},MAINTAINERS",
                        env=idx)
                subject, body, pdate = message_of_commit(e)
            tree = git(base, "write-tree", env=idx).decode().strip()
            env = dict(ident, GIT_AUTHOR_DATE=pdate or date)
            head = git(base, "commit-tree", tree, "-p", head, "-F", "-", env=env,
                       input=finish_message(subject, body).encode()).decode().strip()
            marks[e.series] = head
            if e.series == "posted":
                posted_end = head
        base_commit = git(base, "rev-parse", "HEAD").decode().strip()
        for d in (out_posted, out_test):
            os.makedirs(d, exist_ok=True)
            for f in os.listdir(d):
                if f.endswith(".patch"):
                    os.unlink(os.path.join(d, f))
        git(base, "format-patch", "-q", "--zero-commit", "--no-signature", "--cover-letter",
            "-o", out_posted, f"{base_commit}..{posted_end}", env=ident)
        git(base, "format-patch", "-q", "--zero-commit", "--no-signature",
            "--subject-prefix=PATCH TEST-ONLY", "-o", out_test,
            f"{posted_end}..{marks['test']}", env=ident)
        cover(os.path.join(out_posted, "0000-cover-letter.patch"))
        git(base, "update-ref", "refs/dmavec/series", posted_end)
        git(base, "update-ref", "refs/dmavec/series-test", marks["test"])


def cover(path):
    """Fill git's cover letter from patches/cover-letter.txt: its first line
    is the subject, the rest the body. A line "@figures SECTION@" takes that
    section of Documentation/figures.rst as the command that measured it
    wrote it; "@figures SECTION from RE@" only its lines from the first that
    matches RE to the next blank line; "@figures SECTION grep RE@" only the
    lines that match RE."""
    with open(os.path.join(PATCHES, "cover-letter.txt")) as f:
        tmpl = [l for l in f.read().splitlines() if not l.startswith("# ")]
    while tmpl and not tmpl[0].strip():
        tmpl.pop(0)
    subject, body = tmpl[0], []
    for line in tmpl[1:]:
        m = re.match(r"^@figures (\S+)(?: (from|grep) (.*))?@$", line)
        if not m:
            body.append(line)
            continue
        lines = figures(m.group(1))
        if m.group(2) == "from":
            start = next((i for i, l in enumerate(lines) if re.search(m.group(3), l)), None)
            if start is None:
                sys.exit(f"figures {m.group(1)}: nothing matches {m.group(3)}")
            end = next((i for i in range(start, len(lines)) if not lines[i].strip()),
                       len(lines))
            lines = lines[start:end]
        elif m.group(2) == "grep":
            lines = [l for l in lines if re.search(m.group(3), l)]
            if not lines:
                sys.exit(f"figures {m.group(1)}: nothing matches {m.group(3)}")
        body.extend(lines)
    with open(path) as f:
        text = f.read()
    text = text.replace("*** SUBJECT HERE ***", subject)
    text = text.replace("*** BLURB HERE ***", "\n".join(body).strip("\n"))
    with open(path, "w") as f:
        f.write(text)


def figures(section):
    """A section of Documentation/figures.rst as plain text: its literal
    blocks dedented, the "::" lines that introduce them dropped."""
    p = os.path.join(ROOT, "Documentation", "figures.rst")
    out, on = [], False
    with open(p) as f:
        for line in f:
            if line.strip() == f".. figures:begin:{section}":
                on = True
                continue
            if line.strip() == f".. figures:end:{section}":
                while out and not out[0].strip():
                    out.pop(0)
                while out and not out[-1].strip():
                    out.pop()
                return out
            if not on or line.strip() == "::":
                continue
            line = line.rstrip("\n")
            out.append(line[4:] if line.startswith("    ") else line)
    sys.exit(f"{p}: no section {section}")


def cmd_checkpatch_filter():
    """checkpatch.pl's report of a patch on stdin, less the findings that
    scripts/checkpatch-exceptions accepts for the file (the same list make
    check applies to this tree's files, looked up by kernel path): prints
    the rest, and "excepted: N (TYPE in FILE, ...)" on stderr."""
    rev = repo_files_by_kernel_path()
    allowed = {}
    with open(os.path.join(ROOT, "scripts", "checkpatch-exceptions")) as f:
        for line in f:
            w = line.split()
            if len(w) >= 2 and not line.startswith("#"):
                allowed[w[0]] = set(w[1].split(","))
    report = sys.stdin.read()
    kept, excepted = [], []
    for block in re.split(r"\n\s*\n", report.strip()):
        m = re.match(r"^(?:ERROR|WARNING|CHECK):(\w+):", block)
        if not m:
            continue
        f = re.search(r"FILE: ([^:]+):", block)
        repo = rev.get(f.group(1)) if f else None
        if repo and m.group(1) in allowed.get(repo, ()):
            excepted.append(f"{m.group(1)} in {f.group(1)}")
        else:
            kept.append(block)
    if kept:
        print("\n\n".join(kept))
    if excepted:
        print(f"excepted by scripts/checkpatch-exceptions: {len(excepted)} "
              f"({', '.join(sorted(set(excepted)))})", file=sys.stderr)


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    if a[0] == "patches" and len(a) <= 2:
        cmd_patches(a[1] if len(a) == 2 else None)
    elif a[0] == "source" and len(a) == 2:
        cmd_source(a[1])
    elif a[0] == "kernel-files" and len(a) == 1:
        cmd_kernel_files()
    elif a[0] == "doctests" and len(a) == 2:
        cmd_doctests(a[1])
    elif a[0] == "key" and len(a) == 1:
        cmd_key()
    elif a[0] == "intree" and len(a) == 3:
        cmd_intree(a[1], a[2])
    elif a[0] == "checkpatch-filter" and len(a) == 1:
        cmd_checkpatch_filter()
    elif a[0] == "generate" and len(a) == 4:
        cmd_generate(a[1], a[2], a[3])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
