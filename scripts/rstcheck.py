#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check rst documents with docutils, expanding the kernel's kernel-doc directive.

Usage: rstcheck.py KERNEL_SRC FILE.rst...
Every warning or error of docutils fails the check, including those in the
rst that scripts/kernel-doc generates for '.. kernel-doc::' directives.
"""
import os
import subprocess
import sys

from docutils import nodes, statemachine
from docutils.core import publish_doctree
from docutils.parsers.rst import Directive, directives

KSRC = None
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class KernelDoc(Directive):
    """'.. kernel-doc:: path' relative to the repository root."""
    required_arguments = 1
    optional_arguments = 0
    has_content = False
    option_spec = {"functions": directives.unchanged, "doc": directives.unchanged,
                   "internal": directives.flag, "export": directives.flag}

    def run(self):
        path = os.path.join(ROOT, self.arguments[0])
        out = subprocess.run([os.path.join(KSRC, "scripts/kernel-doc"), "-rst", path],
                             capture_output=True, text=True)
        if out.returncode != 0 or out.stderr.strip():
            raise self.error(f"kernel-doc failed on {path}: {out.stderr.strip()}")
        lines = statemachine.string2lines(out.stdout, convert_whitespace=True)
        self.state_machine.insert_input(lines, path)
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


def main():
    global KSRC
    KSRC = sys.argv[1]
    directives.register_directive("kernel-doc", KernelDoc)
    for d in ("c:function", "c:struct", "c:union", "c:enum", "c:macro", "c:type", "c:var"):
        directives.register_directive(d, CDomain)
    # Sphinx-only roles and directives used in kernel documentation.
    from docutils.parsers.rst import roles
    for r in ("c:func", "c:type", "c:macro", "c:member", "ref", "doc"):
        roles.register_generic_role(r, nodes.literal)
    bad = 0
    for f in sys.argv[2:]:
        with open(f) as fh:
            src = fh.read()
        settings = {"report_level": 2, "halt_level": 5, "warning_stream": sys.stderr}
        # toctree is Sphinx's; an index file is checked without it.
        if ".. toctree::" in src:
            src = src.split(".. toctree::")[0]
        import io
        err = io.StringIO()
        settings["warning_stream"] = err
        publish_doctree(src, source_path=f, settings_overrides=settings)
        if err.getvalue().strip():
            print(err.getvalue().strip())
            bad = 1
    sys.exit(bad)


if __name__ == "__main__":
    main()
