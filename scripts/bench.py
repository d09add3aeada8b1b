#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Print the table of make bench from the guest logs of its VM runs.

Each log holds '==DMAVEC== BENCH <n> <size> <path> <A> <B> <F> <bytesA> <bytesB>
<syncsA>' lines (selftests/vm/bench.sh, bench/dmavec_bench.rs): medians in ns
per map + unmap. The table adds the ratios A/B and A/F; below it, the
dma_iova_sync() calls per mapping and how each row compares with the targets
of the benchmark (informational: make bench fails only when a run fails).
"""
import datetime
import os
import platform
import re
import sys

MARK = "==DMAVEC== BENCH "
ROW = re.compile(r"(\d+) (\d+) ([a-z-]+) (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)")
COLS = ["n", "size", "path", "A", "B", "F", "A/B", "A/F", "bytesA", "bytesB"]


def human(size):
    for unit, shift in (("M", 20), ("K", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift}{unit}"
    return str(size)


def rows_of(path):
    rows = []
    with open(path, errors="replace") as f:
        for ln in f:
            if MARK not in ln:
                continue
            # A kernel message may follow on the same console line.
            m = ROW.match(ln.split(MARK, 1)[1])
            if not m:
                sys.exit(f"bench: cannot parse: {ln.strip()}")
            n, size, kind = int(m.group(1)), int(m.group(2)), m.group(3)
            a, b, fl, ba, bb, syncs = (int(x) for x in m.groups()[3:9])
            rows.append(dict(n=n, size=size, path=kind, A=a, B=b, F=fl,
                             bytesA=ba, bytesB=bb, syncs=syncs))
    return rows


def ratio(x, y):
    return f"{x / y:.2f}" if y else "-"


def machine():
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{platform.machine()} {cpu}, {os.cpu_count()} CPUs; guest: QEMU q35 under TCG"


def main():
    rows = [r for p in sys.argv[1:] for r in rows_of(p)]
    if not rows:
        sys.exit("bench: no BENCH rows in " + " ".join(sys.argv[1:]))
    table = [COLS]
    for r in rows:
        table.append([str(r["n"]), human(r["size"]), r["path"], str(r["A"]), str(r["B"]),
                      str(r["F"]), ratio(r["A"], r["B"]), ratio(r["A"], r["F"]),
                      str(r["bytesA"]), str(r["bytesB"])])
    widths = [max(len(t[i]) for t in table) for i in range(len(COLS))]
    print(f"dmavec bench, {datetime.date.today().isoformat()}, {machine()}")
    print("times: median ns per map + unmap; bytes: allocated per mapping")
    for t in table:
        print("  ".join(c.rjust(w) for c, w in zip(t, widths)).rstrip())

    syncs = sorted({(r["path"].split("-")[0], r["syncs"]) for r in rows})
    print("dma_iova_sync() per map, A: " +
          ", ".join(f"{p} {s}" for p, s in syncs) +
          " (B and F: one per IOVA mapping by construction)")

    def check(name, sel, cond):
        hit = [r for r in rows if sel(r)]
        ok = [r for r in hit if cond(r)]
        print(f"  {name}: {len(ok)} of {len(hit)} rows")

    print("targets:")
    iova = lambda r: r["path"].startswith("iova")
    direct = lambda r: r["path"].startswith("direct")
    check("translated A <= B", iova, lambda r: r["A"] <= r["B"])
    check("translated A/F <= 1.1", iova, lambda r: r["A"] <= 1.1 * r["F"])
    check("translated adjacent A/F < 1", lambda r: iova(r) and r["path"].endswith("-adj"),
          lambda r: r["A"] < r["F"])
    check("direct n >= 64 A/B <= 0.6", lambda r: direct(r) and r["n"] >= 64,
          lambda r: r["A"] <= 0.6 * r["B"])
    check("direct n = 4096 bytesA <= 0.5 bytesB", lambda r: direct(r) and r["n"] == 4096,
          lambda r: r["bytesA"] <= 0.5 * r["bytesB"])


if __name__ == "__main__":
    main()
