#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write measured figures into Documentation/figures.rst, the one place they live.

Usage:
  figures.py set SECTION [--literal] [--stamp] < BODY
      Replace the body of SECTION (the lines between '.. figures:begin:SECTION'
      and '.. figures:end:SECTION') with BODY, rst read from stdin. A missing
      section is appended, under a heading named SECTION. --literal puts BODY
      in a literal block; --stamp puts 'Measured DATE, commit HASH.' before it.
      The file is replaced atomically, under a lock, so that concurrent
      writers of different sections lose nothing.
  figures.py run SECTION [--literal] [--stamp] -- COMMAND [ARG...]
      Run COMMAND (with DMAVEC_FIGURES_RUN=1 in its environment), copying its
      standard output to ours as it comes; if it exits with status 0, write
      that output to SECTION as 'set' does. Exit with COMMAND's status. A
      script that measures can thus re-run itself under it:
        [ -n "${DMAVEC_FIGURES_RUN:-}" ] || exec python3 scripts/figures.py run NAME ... -- "$0" "$@"
  figures.py get SECTION
      Print the body of SECTION.
  figures.py stamp
      Print 'DATE, commit HASH' (today's date; HASH is HEAD's, with '-dirty' when
      tracked files other than figures.rst differ from it).

DMAVEC_FIGURES names another file (for tests).
"""
import datetime
import fcntl
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIGURES = os.environ.get("DMAVEC_FIGURES") or os.path.join(ROOT, "Documentation", "figures.rst")
NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
MARKER = re.compile(r"^\.\. figures:(begin|end):")

HEADER = """.. SPDX-License-Identifier: GPL-2.0
.. repo-only: the measured figures stay in the dmavec repository.

=======
Figures
=======
"""


def begin(name):
    return f".. figures:begin:{name}"


def end(name):
    return f".. figures:end:{name}"


def stamp():
    """'DATE, commit HASH' of the repository as it is now."""
    date = datetime.date.today().isoformat()
    rel = os.path.relpath(FIGURES, ROOT)
    spec = ["."] if rel.startswith("..") else [".", f":!{rel}"]
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", ROOT, "status", "--porcelain",
                                "--untracked-files=no", "--"] + spec,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return f"{date}, commit unknown"
    return f"{date}, commit {head}{'-dirty' if dirty else ''}"


def find(lines, name):
    """Indices of the begin and end markers of section NAME, or None."""
    try:
        b = lines.index(begin(name))
        e = lines.index(end(name), b + 1)
    except ValueError:
        return None
    return b, e


def body_of(text, literal, with_stamp):
    lines = [ln.rstrip() for ln in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        sys.exit("figures: empty body")
    if any(MARKER.match(ln) for ln in lines):
        sys.exit("figures: the body holds a section marker")
    if literal:
        lines = ["::", ""] + [("    " + ln) if ln else "" for ln in lines]
    if with_stamp:
        lines = [f"Measured {stamp()}.", ""] + lines
    return lines


def set_section(name, body):
    d = os.path.dirname(FIGURES)
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            with open(FIGURES) as f:
                lines = f.read().splitlines()
        except FileNotFoundError:
            lines = HEADER.splitlines()
        at = find(lines, name)
        if at:
            b, e = at
            lines[b + 1:e] = [""] + body + [""]
        else:
            while lines and not lines[-1]:
                lines.pop()
            lines += ["", "", name, "=" * len(name), "", begin(name), ""] + body + ["", end(name)]
        tmp = tempfile.NamedTemporaryFile("w", dir=d, prefix=".figures.", suffix=".tmp",
                                          delete=False)
        try:
            with tmp:
                tmp.write("\n".join(lines) + "\n")
                tmp.flush()
                os.fsync(tmp.fileno())
            os.chmod(tmp.name, 0o644)
            os.replace(tmp.name, FIGURES)
        except BaseException:
            os.unlink(tmp.name)
            raise
    finally:
        os.close(fd)


def get_section(name):
    with open(FIGURES) as f:
        lines = f.read().splitlines()
    at = find(lines, name)
    if not at:
        sys.exit(f"figures: no section {name} in {FIGURES}")
    return "\n".join(lines[at[0] + 1:at[1]]).strip("\n")


def run(name, opts, cmd):
    env = dict(os.environ, DMAVEC_FIGURES_RUN="1")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env)
    out = []
    try:
        for raw in proc.stdout:
            sys.stdout.buffer.write(raw)
            sys.stdout.buffer.flush()
            out.append(raw.decode(errors="replace"))
        status = proc.wait()
    except KeyboardInterrupt:
        proc.wait()
        sys.exit(130)
    if status == 0:
        set_section(name, body_of("".join(out), "--literal" in opts, "--stamp" in opts))
    sys.exit(status if status >= 0 else 128 - status)


def main(argv):
    if len(argv) >= 1 and argv[0] == "stamp" and len(argv) == 1:
        print(stamp())
        return
    if len(argv) >= 2 and argv[0] in ("set", "get", "run") and NAME.match(argv[1]):
        name = argv[1]
        opts = argv[2:]
        if argv[0] == "get" and not opts:
            print(get_section(name))
            return
        if argv[0] == "run" and "--" in opts:
            i = opts.index("--")
            if set(opts[:i]) <= {"--literal", "--stamp"} and opts[i + 1:]:
                run(name, opts[:i], opts[i + 1:])
        if argv[0] == "set" and set(opts) <= {"--literal", "--stamp"}:
            set_section(name, body_of(sys.stdin.read(), "--literal" in opts, "--stamp" in opts))
            return
    sys.exit(__doc__.strip())


if __name__ == "__main__":
    main(sys.argv[1:])
