#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Print the tables of make bench from the guest logs of its VM runs.

Arguments: MODE=LOG, one per boot (strict, lazy, pt: the IOMMU mode). Each log
holds '==DMAVEC== BENCH <n> <size> <path> <A> <B> <F> <A/B> <A/F> <bytesA>
<bytesB> <syncsA> <entriesA> <entriesB>' lines (selftests/vm/bench.sh, bench/dmavec_bench.rs):
medians in ns per map + unmap, ratios in thousandths; and '==DMAVEC== REVOKE
<k> <revoke> <remap>' lines: median ns of a revocation with k live
attachments, and of mapping them again; '==DMAVEC== PROFILE <n> <size> <path>
<F> <D> <A> <K> <(A-K)/F>' lines: where A's time goes (F, D through the Rust
DMA abstraction, A, K the allocation of A's entry array alone, and the median
of the repetitions' (A-K)/F in thousandths); and '==DMAVEC== VFIOBENCH <kernel>
<layout> <n> <bytes> <core> <dmavec> <kind> <entries> <nents>' lines: median
ns per map + unmap of vfio-pci's dma-buf of n ranges (rev: reversed, adj:
adjacent in BAR order) for a dma-buf core importer and
for dmavec's importer API, on upstream's vfio-pci (stock) or on vfio-pci
exporting through dmavec; and '==DMAVEC== IIOBENCH <n> <type> <entries> <ns>
<allocs>' lines (selftests/kselftest/dmavec_iio_test.c): IIO's DMABUF submit
of a block of n pages, median ns from ENQUEUE's entry to the DMA engine's
prep, for a dma-buf of the DMA-vector or the sg_table type, and the
allocations per submit (-1: not counted), with '==DMAVEC== IIORATIO <n>
<ratio x1000>' lines: the median of the DMA-vector/sg_table ratios of pairs of
submits. The map table is followed by the
dma_iova_sync() calls per mapping and how the rows compare with the targets
of the benchmark (informational: make bench fails only when a run fails).

With --figures (first argument), the tables are also written to
Documentation/figures.rst (scripts/figures.py): the map table, its targets and
the revocation and IIO tables to section 'bench', vfio-pci's table to section
'vfio'.
"""
import datetime
import os
import platform
import re
import sys

import figures

MARK = "==DMAVEC== BENCH "
REVOKE = "==DMAVEC== REVOKE "
PROFILE = "==DMAVEC== PROFILE "
PROFILE_ROW = re.compile(r"(\d+) (\d+) ([a-z-]+) (\d+) (\d+) (\d+) (\d+) (\d+)")
VFIO = "==DMAVEC== VFIOBENCH "
VFIO_ROW = re.compile(r"(stock|dmavec) (rev|adj) (\d+) (\d+) (\d+) (\d+) ([a-z-]+) (\d+) (\d+)")
ROW = re.compile(r"(\d+) (\d+) ([a-z-]+)" + r" (\d+)" * 10)
REVOKE_ROW = re.compile(r"(\d+) (\d+) (\d+)")
IIO = "==DMAVEC== IIOBENCH "
IIO_ROW = re.compile(r"(\d+) (dma_vec|sg_table) (\d+) (\d+) (-?\d+)")
IIO_RATIO = "==DMAVEC== IIORATIO "
IIO_RATIO_ROW = re.compile(r"(\d+) (\d+)")
COLS = ["iommu", "n", "size", "path", "A", "B", "F", "A/B", "A/F", "bytesA", "bytesB",
        "entA", "entB", "A/F target"]


def af_target(r):
    """The issue's A/F target for a row, as (text, met): every translated row
    <= 1.10 (adjacent ranges < 1), direct n = 1 <= 2.0, direct n >= 64
    <= 1.15; rows with no target ("-", None)."""
    direct = r["path"].startswith("direct")
    if r["path"].endswith("-adj"):
        lim, ok = "< 1", r["AF"] < 1
    elif not direct:
        lim, ok = "<= 1.10", r["AF"] <= 1.1
    elif r["n"] == 1:
        lim, ok = "<= 2.0", r["AF"] <= 2.0
    elif r["n"] >= 64:
        lim, ok = "<= 1.15", r["AF"] <= 1.15
    else:
        return "-", None
    return f"{lim} {'met' if ok else 'MISSED'}", ok


def human(size):
    for unit, shift in (("G", 30), ("M", 20), ("K", 10)):
        if size >= 1 << shift and size % (1 << shift) == 0:
            return f"{size >> shift}{unit}"
    return str(size)


def rows_of(mode, path, vfio, profiles, iio):
    rows, revokes = [], []
    with open(path, errors="replace") as f:
        for ln in f:
            # The guest's dump of the kernel log at the end repeats the rows.
            if ln.startswith("DMESG| "):
                continue
            if VFIO in ln:
                m = VFIO_ROW.match(ln.split(VFIO, 1)[1])
                if not m:
                    sys.exit(f"bench: cannot parse: {ln.strip()}")
                kern, layout, n, size, core, vec, kind, ent, nents = m.groups()
                vfio.setdefault((mode, layout, int(n), int(size)), {})[kern] = dict(
                    core=int(core), vec=int(vec), kind=kind, ent=int(ent), nents=int(nents))
                continue
            if IIO_RATIO in ln:
                m = IIO_RATIO_ROW.match(ln.split(IIO_RATIO, 1)[1])
                if not m:
                    sys.exit(f"bench: cannot parse: {ln.strip()}")
                iio.setdefault((mode, int(m.group(1))), {})["ratio"] = int(m.group(2)) / 1000
                continue
            if IIO in ln:
                m = IIO_ROW.match(ln.split(IIO, 1)[1])
                if not m:
                    sys.exit(f"bench: cannot parse: {ln.strip()}")
                n, kind, ent, ns, allocs = m.groups()
                iio.setdefault((mode, int(n)), {})[kind] = dict(
                    ent=int(ent), ns=int(ns), allocs=int(allocs))
                continue
            if PROFILE in ln:
                m = PROFILE_ROW.match(ln.split(PROFILE, 1)[1])
                if not m:
                    sys.exit(f"bench: cannot parse: {ln.strip()}")
                n, size, kind = int(m.group(1)), int(m.group(2)), m.group(3)
                f, d, a, k, akf = (int(x) for x in m.groups()[3:8])
                profiles.append(dict(mode=mode, n=n, size=size, path=kind, F=f, D=d, A=a,
                                     K=k, AKF=akf))
                continue
            if REVOKE in ln:
                m = REVOKE_ROW.match(ln.split(REVOKE, 1)[1])
                if not m:
                    sys.exit(f"bench: cannot parse: {ln.strip()}")
                k, rv, mp = (int(x) for x in m.groups())
                revokes.append(dict(mode=mode, k=k, revoke=rv, remap=mp))
                continue
            if MARK not in ln:
                continue
            # A kernel message may follow on the same console line.
            m = ROW.match(ln.split(MARK, 1)[1])
            if not m:
                sys.exit(f"bench: cannot parse: {ln.strip()}")
            n, size, kind = int(m.group(1)), int(m.group(2)), m.group(3)
            a, b, fl, ab, af, ba, bb, syncs, ea, eb = (int(x) for x in m.groups()[3:13])
            rows.append(dict(mode=mode, n=n, size=size, path=kind, A=a, B=b, F=fl,
                             AB=ab / 1000, AF=af / 1000, bytesA=ba, bytesB=bb, syncs=syncs,
                             entA=ea, entB=eb))
    return rows, revokes


class Out:
    """Lines printed, kept for the figures file: 'bench' and 'vfio' parts."""
    part = "bench"
    lines = {"bench": [], "vfio": []}


def emit(line=""):
    """Prints LINE, and keeps it for the figures file."""
    Out.lines[Out.part].append(line)
    sys.stdout.write(line + "\n")


def print_table(table):
    widths = [max(len(t[i]) for t in table) for i in range(len(table[0]))]
    for t in table:
        emit("  ".join(c.rjust(w) for c, w in zip(t, widths)).rstrip())


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
    args = sys.argv[1:]
    write_figures = bool(args) and args[0] == "--figures"
    if write_figures:
        args = args[1:]
    rows, revokes, vfio, profiles, iio = [], [], {}, [], {}
    for arg in args:
        mode, _, path = arg.rpartition("=")
        r, v = rows_of(mode or "-", path, vfio, profiles, iio)
        rows += r
        revokes += v
    if not rows:
        sys.exit("bench: no BENCH rows in " + " ".join(args))
    table = [COLS]
    for r in rows:
        table.append([r["mode"], str(r["n"]), human(r["size"]), r["path"], str(r["A"]),
                      str(r["B"]), str(r["F"]), f"{r['AB']:.2f}", f"{r['AF']:.2f}",
                      str(r["bytesA"]), str(r["bytesB"]), str(r["entA"]), str(r["entB"]),
                      af_target(r)[0]])
    emit(f"dmavec bench, {datetime.date.today().isoformat()}, {machine()}")
    emit("A, B, F: median ns per map + unmap; A/B, A/F: median of the ratios within each")
    emit("repetition (A, B and F run back to back); bytes: allocated per mapping;")
    emit("entA, entB: entries of A's array (an importer stating no segment limit) and of")
    emit("B's sg_table; A/F target: the row's target and whether it is met")
    print_table(table)

    syncs = sorted({(r["path"].split("-")[0], r["syncs"]) for r in rows})
    emit("dma_iova_sync() per map, A: " +
          ", ".join(f"{p} {s}" for p, s in syncs) +
          " (B and F: one per IOVA mapping by construction)")

    def check(name, sel, cond):
        hit = [r for r in rows if sel(r)]
        ok = [r for r in hit if cond(r)]
        emit(f"  {name}: {len(ok)} of {len(hit)} rows")

    emit("targets:")
    iova = lambda r: r["path"].startswith("iova")
    direct = lambda r: r["path"].startswith("direct")
    for mode in sorted({r["mode"] for r in rows if iova(r)}, reverse=True):
        m_iova = lambda r, mode=mode: iova(r) and r["mode"] == mode
        check(f"translated ({mode}) A/B <= 1", m_iova, lambda r: r["AB"] <= 1)
        check(f"translated ({mode}) A/F <= 1.1", m_iova, lambda r: r["AF"] <= 1.1)
        check(f"translated ({mode}) adjacent A/F < 1",
              lambda r, m=m_iova: m(r) and r["path"].endswith("-adj"), lambda r: r["AF"] < 1)
    check("direct n = 1 A/F <= 2.0", lambda r: direct(r) and r["n"] == 1,
          lambda r: r["AF"] <= 2.0)
    check("direct n >= 64 A/F <= 1.15", lambda r: direct(r) and r["n"] >= 64,
          lambda r: r["AF"] <= 1.15)
    check("direct n >= 64 A/B <= 0.6", lambda r: direct(r) and r["n"] >= 64,
          lambda r: r["AB"] <= 0.6)
    # What bounds A/B on the direct path: the DMA calls alone (F) against B.
    fb = [r["F"] / r["B"] for r in rows if direct(r) and r["n"] >= 64
          and not r["path"].endswith("-adj")]
    if fb:
        emit(f"  (direct, n >= 64, ranges not adjacent: F/B is {min(fb):.2f} to {max(fb):.2f},"
              " the floor of A/B for any implementation that maps each range)")
    check("direct n = 4096 bytesA <= 0.5 bytesB", lambda r: direct(r) and r["n"] == 4096,
          lambda r: r["bytesA"] <= 0.5 * r["bytesB"])
    check("translated, past 4 GiB: one entry (B needs at least two)",
          lambda r: iova(r) and r["size"] * r["n"] > 1 << 32,
          lambda r: r["entA"] == 1 and r["entB"] >= 2)

    if profiles:
        emit()
        emit("where A's time goes (debugfs profile): F, the bare DMA calls; D, the same calls")
        emit("through the Rust DMA abstraction (kernel::dma::iova) as A makes them; A, dmavec's")
        emit("mapping core; K, the allocation and free of A's entry array alone (F writes into an")
        emit("array allocated outside the timing); median ns per map + unmap, one range and 64")
        emit("ranges of 4 KiB, not adjacent; (A-K)/F: median of the repetitions' ratios")
        table = [["iommu", "n", "path", "F", "D", "A", "K", "D-F", "A-D", "per range A-F",
                  "A/F", "(A-K)/F"]]
        for p in profiles:
            table.append([p["mode"], str(p["n"]), p["path"], str(p["F"]), str(p["D"]),
                          str(p["A"]), str(p["K"]), str(p["D"] - p["F"]), str(p["A"] - p["D"]),
                          str((p["A"] - p["F"]) // p["n"]), f"{p['A'] / max(p['F'], 1):.2f}",
                          f"{p['AKF'] / 1000:.2f}"])
        print_table(table)

    if revokes:
        emit()
        emit("revocation: a buffer of 16 ranges of 64 KiB with k live attachments of one importer,")
        emit("each unmapping from its invalidate callback; median ns from revoke() to its return")
        emit("(no importer can reach the memory), and to map all k again after restore()")
        table = [["iommu", "k", "revoke", "per att", "remap", "per att", "revoke/remap"]]
        for v in revokes:
            table.append([v["mode"], str(v["k"]), str(v["revoke"]),
                          str(v["revoke"] // v["k"]), str(v["remap"]),
                          str(v["remap"] // v["k"]),
                          f"{v['revoke'] / max(v['remap'], 1):.2f}"])
        print_table(table)

    if iio:
        emit()
        emit("IIO's DMABUF submit (dmavec_iio_test; the DMA engine completes without edu):")
        emit("median ns from ENQUEUE's entry to the DMA engine's prep, a whole block of n")
        emit("pages; vec: a dmavec buffer of n discontiguous pages (DMA-vector type), sgt: a")
        emit("udmabuf of n pages, every other page of a memfd (sg_table type); ent: entries")
        emit("the engine got; vec/sgt: the median of the ratios of pairs of submits, one")
        emit("of each buffer, alternately first; allocs: allocations per submit, counted")
        emit("with fail-nth")
        table = [["iommu", "n", "ent vec", "ent sgt", "vec", "sgt", "vec/sgt", "allocs vec",
                  "allocs sgt"]]
        for (mode, n), k in sorted(iio.items(), key=lambda i: (i[0][0] != "strict", i[0])):
            v, g = k.get("dma_vec"), k.get("sg_table")
            if not v or not g:
                table.append([mode, str(n)] + ["-"] * 7)
                continue
            cnt = lambda a: "-" if a < 0 else str(a)
            ratio = k.get("ratio", v["ns"] / max(g["ns"], 1))
            table.append([mode, str(n), str(v["ent"]), str(g["ent"]), str(v["ns"]),
                          str(g["ns"]), f"{ratio:.2f}",
                          cnt(v["allocs"]), cnt(g["allocs"])])
        print_table(table)

    if vfio:
        sys.stdout.write("\n")
        Out.part = "vfio"
        emit("vfio-pci's dma-buf (VFIO_DEVICE_FEATURE_DMA_BUF, n ranges of 64 KiB of one BAR,")
        emit("rev: reversed, adj: adjacent in BAR order): median ns per map + unmap, upstream's")
        emit("vfio-pci (stock) against vfio-pci on dmavec (conv); core: a dma-buf core importer")
        emit("(dma_buf_map_attachment(), an sg_table either way); vec: dmavec's importer API")
        emit("(the array; on stock, converted from the sg_table); ent: entries of the array;")
        emit("nents: of the core's sg_table (stock/conv)")
        table = [["iommu", "ranges", "n", "size", "core stock", "core conv", "conv/stock",
                  "vec stock", "vec conv", "conv/stock", "vec conv/core stock", "kind stock",
                  "kind conv", "ent", "nents"]]
        for (mode, layout, n, size), k in sorted(
                vfio.items(), key=lambda i: (i[0][0] != "strict", i[0][0], i[0][1] != "rev",
                                             i[0][2])):
            st, cv = k.get("stock"), k.get("dmavec")
            if not st or not cv:
                table.append([mode, layout, str(n), human(size)] + ["-"] * 11)
                continue
            table.append([mode, layout, str(n), human(size), str(st["core"]), str(cv["core"]),
                          f"{cv['core'] / st['core']:.2f}", str(st["vec"]), str(cv["vec"]),
                          f"{cv['vec'] / st['vec']:.2f}", f"{cv['vec'] / st['core']:.2f}",
                          st["kind"], cv["kind"], f"{st['ent']}/{cv['ent']}",
                          f"{st['nents']}/{cv['nents']}"])
        print_table(table)

    if write_figures:
        for part in ("bench", "vfio"):
            if Out.lines[part]:
                figures.set_section(part, figures.body_of("\n".join(Out.lines[part]),
                                                          literal=True, with_stamp=True))


if __name__ == "__main__":
    main()
