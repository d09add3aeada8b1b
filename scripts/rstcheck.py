#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check rst documents with docutils, expanding the kernel's kernel-doc directive.

Usage: rstcheck.py KERNEL_SRC FILE.rst...

Every warning or error of docutils fails the check, including those in the
rst that scripts/kernel-doc generates for '.. kernel-doc::' directives.

'.. kernel-doc::' paths are kernel-tree paths, as Sphinx resolves them in the
kernel; kernel_to_repo() finds the file in this repository, or in KERNEL_SRC.
The directive takes the options of the kernel's Documentation/sphinx/kerneldoc.py
(:doc:, :identifiers: or :functions:, :no-identifiers:, :export:, :internal:).
A :doc: title or an identifier that the file does not document fails the check,
and so does an identifier, or a DOC: section, included twice in the set.

toctree entries and :doc: links must name existing documents (relative to the
linking file, or to the Documentation directory with a leading '/'), and :ref:
labels must be defined in the set. A page that holds the comment
'.. repo-only:' stays in this repository; a page without it is posted with the
kernel series and must not link to a repo-only page.
"""
import glob
import io
import os
import re
import subprocess
import sys

from docutils import nodes, statemachine
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives, roles

KSRC = None
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ONLY = re.compile(r"^\.\. repo-only:", re.M)


_KPATHS = None


def kernel_to_repo(path):
    """The file of kernel-tree path PATH: in this repository if the series adds it
    (patches/series, through scripts/series.py), else in the kernel source tree."""
    global _KPATHS
    if _KPATHS is None:
        sys.path.insert(0, os.path.join(ROOT, "scripts"))
        import series
        _KPATHS = series.repo_files_by_kernel_path()
    if path in _KPATHS:
        return os.path.join(ROOT, _KPATHS[path])
    return os.path.join(KSRC, path)


class State:
    """What the checked files define and link to, checked once all are parsed."""
    links = []          # (from file, to file or None, what, line)
    labels = {}         # label -> file
    refs = []           # (file, label, line)
    included = {}       # (kernel path, identifier or "DOC: title") -> file
    errors = []


def doc_root(path):
    """The Documentation directory above PATH (the Sphinx source root)."""
    d = os.path.dirname(os.path.abspath(path))
    while d != "/" and os.path.basename(d) != "Documentation":
        d = os.path.dirname(d)
    return d if d != "/" else os.path.dirname(os.path.abspath(path))


def resolve_doc(src, target):
    """The .rst file a toctree entry or :doc: target of SRC names, or None."""
    if target.startswith("/"):
        base = os.path.join(doc_root(src), target.lstrip("/"))
    else:
        base = os.path.join(os.path.dirname(os.path.abspath(src)), target)
    path = os.path.normpath(base + ".rst")
    return path if os.path.isfile(path) else None


_declared = {}


def declared(path):
    """The identifiers and DOC: titles kernel-doc finds in PATH."""
    if path not in _declared:
        out = subprocess.run([os.path.join(KSRC, "scripts/kernel-doc"), "-rst", path],
                             capture_output=True, text=True)
        names = set()
        for ln in out.stdout.splitlines():
            m = re.match(r"\.\. c:(function|macro|struct|union|enum|type|var):: (.*)", ln)
            if m:
                decl = m.group(2)
                if m.group(1) in ("function", "macro"):
                    decl = decl.split("(")[0]
                names.add(decl.split()[-1].lstrip("*"))
            m = re.match(r"\.\. _(.*):$", ln)
            if m:
                names.add("DOC: " + m.group(1))
        _declared[path] = names
    return _declared[path]


class KernelDoc(Directive):
    """'.. kernel-doc:: path', a kernel-tree path, with the options of kerneldoc.py."""
    required_arguments = 1
    optional_arguments = 0
    has_content = False
    option_spec = {"doc": directives.unchanged_required, "export": directives.unchanged,
                   "internal": directives.unchanged, "identifiers": directives.unchanged,
                   "no-identifiers": directives.unchanged, "functions": directives.unchanged}

    def run(self):
        src = self.state.document.current_source
        kpath = self.arguments[0]
        path = kernel_to_repo(kpath)
        if not os.path.isfile(path):
            raise self.error(f"kernel-doc: no file for {kpath} (looked at {path})")
        cmd = [os.path.join(KSRC, "scripts/kernel-doc"), "-rst"]
        opts = dict(self.options)
        if "functions" in opts:
            opts["identifiers"] = opts.pop("functions")
        wanted = []
        patterns = []
        if "export" in opts:
            cmd.append("-export")
            patterns = (opts["export"] or "").split()
        elif "internal" in opts:
            cmd.append("-internal")
            patterns = (opts["internal"] or "").split()
        elif "doc" in opts:
            cmd += ["-function", opts["doc"]]
            wanted.append("DOC: " + opts["doc"])
        elif "identifiers" in opts:
            ids = [i.rstrip("\\").strip() for i in (opts["identifiers"] or "").split()]
            ids = [i for i in ids if i]
            for i in ids:
                cmd += ["-function", i]
            wanted += ids
            if not ids:
                cmd.append("-no-doc-sections")
        for i in (opts.get("no-identifiers") or "").split():
            cmd += ["-nosymbol", i]
        for pat in patterns:
            files = glob.glob(kernel_to_repo(pat))
            if not files:
                raise self.error(f"kernel-doc: no file matches {pat}")
            for f in files:
                cmd += ["-export-file", f]
        cmd.append(path)
        have = declared(path)
        for w in wanted:
            if w not in have:
                raise self.error(f"kernel-doc: {kpath} documents no '{w}'")
            prev = State.included.get((kpath, w))
            if prev:
                raise self.error(f"kernel-doc: '{w}' of {kpath} is included twice "
                                 f"({prev} and {src})")
            State.included[(kpath, w)] = src
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0 or out.stderr.strip():
            raise self.error(f"kernel-doc failed on {path}: {out.stderr.strip()}")
        if not out.stdout.strip():
            raise self.error(f"kernel-doc: nothing documented for this directive in {kpath}")
        for m in re.finditer(r"^\.\. _(.*):$", out.stdout, re.M):
            State.labels.setdefault(m.group(1), src)
        lines = statemachine.string2lines(out.stdout, convert_whitespace=True)
        self.state_machine.insert_input(lines, path)
        return []


class TocTree(Directive):
    """Sphinx's toctree: every entry must name a document."""
    has_content = True
    option_spec = {k: directives.unchanged for k in (
        "maxdepth", "caption", "name", "numbered", "titlesonly", "glob", "hidden",
        "includehidden", "reversed")}

    def run(self):
        src = self.state.document.current_source
        for i, entry in enumerate(self.content):
            entry = entry.strip()
            if not entry:
                continue
            m = re.match(r".*<(.+)>$", entry)
            target = m.group(1) if m else entry
            line = self.content.info(i)[1]
            State.links.append((src, resolve_doc(src, target), f"toctree entry {target}",
                                line + 1 if line is not None else "?"))
        return []


class CDomain(Directive):
    """Sphinx's C-domain directives (c:function, c:struct, ...): the body is checked."""
    required_arguments = 0
    optional_arguments = 1
    final_argument_whitespace = True
    has_content = True
    option_spec = {"noindex": directives.flag, "no-index-entry": directives.flag}

    def run(self):
        node = nodes.container()
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


def _target(text):
    m = re.match(r"(?s).*<(.+)>$", text)
    return m.group(1) if m else text


def doc_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    src = inliner.document.current_source
    target = _target(text)
    State.links.append((src, resolve_doc(src, target), f":doc: {target}", lineno))
    return [nodes.literal(rawtext, text)], []


def ref_role(name, rawtext, text, lineno, inliner, options=None, content=None):
    State.refs.append((inliner.document.current_source, _target(text).lower(), lineno))
    return [nodes.literal(rawtext, text)], []


def main():
    global KSRC
    KSRC = sys.argv[1]
    directives.register_directive("kernel-doc", KernelDoc)
    directives.register_directive("toctree", TocTree)
    for d in ("c:function", "c:struct", "c:union", "c:enum", "c:macro", "c:type", "c:var"):
        directives.register_directive(d, CDomain)
    # Sphinx-only roles used in kernel documentation.
    for r in ("c:func", "c:type", "c:macro", "c:member"):
        roles.register_generic_role(r, nodes.literal)
    roles.register_local_role("doc", doc_role)
    roles.register_local_role("ref", ref_role)
    bad = 0
    repo_only = {}
    files = [os.path.abspath(f) for f in sys.argv[2:]]
    for f in files:
        with open(f) as fh:
            src = fh.read()
        repo_only[f] = bool(REPO_ONLY.search(src))
        for m in re.finditer(r"^\.\. _([^:`]+):\s*$", src, re.M):
            State.labels.setdefault(m.group(1).lower(), f)
        err = io.StringIO()
        settings = {"report_level": 2, "halt_level": 5, "warning_stream": err}
        publish_doctree(src, source_path=f, settings_overrides=settings)
        if err.getvalue().strip():
            print(err.getvalue().strip())
            bad = 1
    for src, dst, what, line in State.links:
        if dst is None:
            print(f"{src}:{line}: {what}: no such document")
            bad = 1
        elif not repo_only.get(src, False):
            if dst in repo_only and repo_only[dst]:
                print(f"{src}:{line}: {what}: a posted page links to a repo-only page")
                bad = 1
            elif dst not in repo_only:
                with open(dst) as fh:
                    if REPO_ONLY.search(fh.read()):
                        print(f"{src}:{line}: {what}: a posted page links to a repo-only page")
                        bad = 1
    labels = {k.lower(): v for k, v in State.labels.items()}
    for src, label, line in State.refs:
        if label not in labels:
            print(f"{src}:{line}: :ref: {label}: no such label in the checked files")
            bad = 1
        elif not repo_only.get(src, False) and repo_only.get(labels[label], False):
            print(f"{src}:{line}: :ref: {label}: a posted page links to a repo-only page")
            bad = 1
    sys.exit(bad)


if __name__ == "__main__":
    main()
