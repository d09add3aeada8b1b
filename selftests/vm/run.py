#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Boot the dmavec test VM under QEMU (TCG) and judge what the guest reports.

The guest (selftests/vm/init) prints result blocks between '==DMAVEC==' markers
on the console (ttyS0). This runner:
  * builds the QEMU command line for a topology ('iommu': q35 + intel-iommu in
    translated mode, ivshmem-plain backed by a host file, edu; 'switch': the
    same devices behind an emulated PCIe switch);
    the guest's --mode picks what it runs (selftests/vm/init: check, switch,
    route, big, bounce, ...);
  * serves the host agent on ttyS1, through which guest tests read and write
    the ivshmem backing file (HOSTREAD/HOSTWRITE/HOSTFILL, see host_agent.h);
  * counts KUnit and kselftest cases, named steps, and fails the run on any
    failed test, a missing or truncated block, a guest panic, a timeout, or a
    kernel splat anywhere in the guest log.
It prints one line per failure, a summary, and exits non-zero on any failure.
"""
import argparse
import json
import os
import re
import select
import socket
import subprocess
import sys
import shutil
import tempfile
import time

MARK = "==DMAVEC=="

# Kernel splats that fail a run wherever they appear in the guest log.
SPLATS = [
    (re.compile(r"\bBUG:"), "BUG"),
    (re.compile(r"\bWARNING:"), "WARNING"),
    (re.compile(r"\bOops\b|general protection fault"), "oops"),
    (re.compile(r"KASAN:|kasan:.*report"), "KASAN"),
    (re.compile(r"UBSAN:"), "UBSAN"),
    (re.compile(r"possible circular locking dependency|possible recursive locking|"
                r"inconsistent lock state|INFO: possible irq lock inversion|"
                r"suspicious RCU usage|lockdep is turned off"), "lockdep"),
    # "DMA-API: <driver> <device>: <complaint>" (not the informational start-up lines).
    (re.compile(r"DMA-API: \S+ \S+: "), "DMA-API debug"),
    (re.compile(r"kmemleak: \d+ new suspected memory leaks"), "kmemleak"),
    (re.compile(r"Kernel panic"), "panic"),
    # A CPU held too long: RCU stalls, soft and hard lockups, tasks blocked for minutes.
    (re.compile(r"rcu: INFO: \S+ (self-)?detected stall|rcu_\w+ detected stalls|"
                r"watchdog: BUG: soft lockup|Watchdog detected hard LOCKUP|"
                r"blocked for more than \d+ seconds"), "stall"),
    (re.compile(r"\bCall Trace:"), "call trace"),
    # An IOMMU fault: allowed only inside a window the guest opens for a test that
    # provokes one on purpose (==DMAVEC== EXPECT dmar-fault ... EXPECT-END dmar-fault).
    (re.compile(r"DMAR: \[DMA (Read|Write)|DMAR: DRHD: handling fault"), "dmar-fault"),
]

TAP_RE = re.compile(r"^(\s*)(not ok|ok) (\d+)(?: -)? ?([^#]*)(?:#\s*(\S+)(.*))?$")


class Agent:
    """Serves guest requests on ttyS1 against the ivshmem backing file.

    Requests are single lines, answers one line:
      HOSTPING                      -> OK   (tests ask it first to know the agent is there)
      HOSTREAD <off> <len>          -> OK <hex bytes>
      HOSTWRITE <off> <hex>         -> OK
      HOSTFILL <off> <len> <seed>   -> OK   (the pattern of host_agent.h)
      HOSTCHECK <off> <len> <seed>  -> OK <bytes of the file that match the pattern>
      HOSTZERO <off> <len>          -> OK <bytes of the file that are zero>
      HOSTPLUGGABLE                 -> OK when the two below work (QEMU monitor)
      HOSTUNPLUG                    -> OK: device_del of ivshmem (the guest sees a
                                       PCIe hot-unplug request)
      HOSTPLUG                      -> OK: device_add of ivshmem again, on the same
                                       port and memory; ERR while QEMU still deletes it
    """

    def __init__(self, path, shm, qmp_path=None, shm_bus=None):
        self.shm = shm
        self.sock = None
        self.path = path
        self.buf = b""
        self.qmp_path = qmp_path
        self.qmp = None
        self.shm_bus = shm_bus
        self.plugs = 0
        self.backend = None  # a backend added for a plug that has not succeeded yet

    def plug(self):
        """device_add of ivshmem on a new memory backend of the same host file.

        QEMU 7.2 aborts when a device is added again on the backend of a deleted
        one (qemu_ram_set_idstr), so every plug gets its own backend object.
        """
        if self.backend is None:
            self.plugs += 1
            bid = f"shm{self.plugs}"
            err = self.monitor("object-add", **{
                "qom-type": "memory-backend-file", "id": bid, "mem-path": self.shm,
                "size": os.path.getsize(self.shm), "share": True})
            if err:
                return err
            self.backend = bid
        err = self.monitor("device_add", driver="ivshmem-plain", memdev=self.backend,
                           bus=self.shm_bus, id="shm")
        if not err:
            self.backend = None
        return err

    def monitor(self, cmd, **args):
        """Runs one QMP command; returns None or the error's description."""
        if self.qmp is None:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(self.qmp_path)
            self.qmp = s.makefile("rwb")
            self.qmp.readline()  # the greeting
            self.monitor("qmp_capabilities")
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        self.qmp.write(json.dumps(msg).encode() + b"\n")
        self.qmp.flush()
        while True:
            ans = json.loads(self.qmp.readline())
            if "return" in ans:
                return None
            if "error" in ans:
                return ans["error"].get("desc", "error")
            # An asynchronous event (DEVICE_DELETED, ...): not the answer.

    def connect(self, deadline):
        while time.time() < deadline:
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(self.path)
                self.sock = s
                return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("QEMU agent socket did not appear")

    def pump(self):
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buf += data
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            reply = self.handle(line.decode(errors="replace").strip())
            self.sock.sendall(reply.encode() + b"\n")
        return True

    def handle(self, line):
        try:
            words = line.split()
            if not words:
                return "ERR empty"
            cmd, args = words[0], words[1:]
            if cmd == "HOSTPING":
                return "OK"
            if cmd in ("HOSTPLUGGABLE", "HOSTUNPLUG", "HOSTPLUG"):
                if not self.qmp_path:
                    return "ERR no QEMU monitor"
                err = None
                if cmd == "HOSTUNPLUG":
                    err = self.monitor("device_del", id="shm")
                elif cmd == "HOSTPLUG":
                    err = self.plug()
                return "ERR " + err if err else "OK"
            with open(self.shm, "r+b") as f:
                if cmd == "HOSTREAD":
                    off, ln = int(args[0], 0), int(args[1], 0)
                    f.seek(off)
                    return "OK " + f.read(ln).hex()
                if cmd == "HOSTWRITE":
                    f.seek(int(args[0], 0))
                    f.write(bytes.fromhex(args[1]))
                    return "OK"
                if cmd == "HOSTFILL":
                    off, ln, seed = (int(a, 0) for a in args[:3])
                    f.seek(off)
                    f.write(pattern(seed, ln))
                    return "OK"
                if cmd == "HOSTCHECK":
                    off, ln, seed = (int(a, 0) for a in args[:3])
                    f.seek(off)
                    got = f.read(ln)
                    want = pattern(seed, ln)
                    return "OK %d" % sum(1 for a, b in zip(got, want) if a == b)
                if cmd == "HOSTZERO":
                    off, ln = int(args[0], 0), int(args[1], 0)
                    f.seek(off)
                    got = f.read(ln)
                    return "OK %d" % got.count(0)
            return "ERR unknown command"
        except (ValueError, IndexError, OSError, json.JSONDecodeError) as e:
            return "ERR " + str(e).replace("\n", " ")


def pattern(seed, n):
    """The byte pattern shared with host_agent.h: xorshift32 from the seed."""
    x = (seed & 0xFFFFFFFF) or 0x9E3779B9
    out = bytearray(n)
    for i in range(n):
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        out[i] = x & 0xFF
    return bytes(out)


def qemu_cmd(a, shm, agent_path, qmp_path):
    # Caching mode makes the guest's Intel IOMMU driver refuse lazy invalidation ("batching
    # disallowed due to virtualization"): --lazy-iommu turns it off, which emulated devices
    # do not need.
    caching = "off" if a.lazy_iommu else "on"
    dev = ["-device", f"intel-iommu,intremap=on,caching-mode={caching}"] if a.iommu else []
    mem = ["-object", f"memory-backend-file,id=shm0,mem-path={shm},size={a.shm_size},share=on"]
    edu = f"edu,dma_mask={a.edu_dma_mask}"
    if a.topology == "switch":
        devs = ["-device", "pcie-root-port,id=rp1,bus=pcie.0,chassis=1,slot=1",
                "-device", "x3130-upstream,id=up1,bus=rp1",
                "-device", "xio3130-downstream,id=dn1,bus=up1,chassis=2,slot=0",
                "-device", "xio3130-downstream,id=dn2,bus=up1,chassis=3,slot=0",
                "-device", "ivshmem-plain,memdev=shm0,bus=dn1,id=shm",
                "-device", edu + ",bus=dn2"]
    elif a.topology == "pxb":
        # ivshmem as in 'iommu'; edu behind a PCIe expander bridge, another host bridge,
        # which is not on the P2PDMA whitelist: P2PDMA cannot route edu to ivshmem's BAR.
        devs = ["-device", "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,slot=1",
                "-device", "ivshmem-plain,memdev=shm0,bus=rp0,id=shm",
                "-device", "pxb-pcie,id=pxb1,bus_nr=128,bus=pcie.0",
                "-device", "pcie-root-port,id=rp9,bus=pxb1,chassis=9,slot=0",
                "-device", edu + ",bus=rp9"]
    else:
        # ivshmem behind a root port: a secondary bus reset gives it a reset method
        # (sysfs 'reset'), and the port's native hotplug lets the monitor unplug it.
        # Two edu devices: two importers at once.
        devs = ["-device", "pcie-root-port,id=rp0,bus=pcie.0,chassis=1,slot=1",
                "-device", "ivshmem-plain,memdev=shm0,bus=rp0,id=shm",
                "-device", edu, "-device", edu]
    # loglevel=5: the console shows warnings and worse, not the informational
    # messages (driver probes, KUnit) that would otherwise be printed at any
    # moment into the guest's own output lines; the guest dumps the whole kernel
    # log at the end (DMESG-BEGIN ... DMESG-END) for the splat check.
    append = (f"console=ttyS0 loglevel=5 log_buf_len=4M panic=-1 printk.devkmsg=on dmavec.mode={a.mode} "
              f"dmavec.shm_size={a.shm_size} ")
    if not a.iommu:
        append += "intel_iommu=off "
    elif a.lazy_iommu:
        append += "intel_iommu=on iommu.strict=0 "
    else:
        append += "intel_iommu=on iommu.strict=1 "
    if a.mode in ("check", "intree"):
        # The vfio selftests map every mmap()able BAR; libvfio cannot map ivshmem's
        # 256-byte BAR0 unless it takes a whole page.
        append += "pci=resource_alignment=12@pci:1af4:1110 "
    append += a.append
    # -icount: the guest clock counts instructions (1 ns each), not host time.
    icount = ["-icount", "shift=0,sleep=off"] if a.icount else []
    return (["qemu-system-x86_64", "-accel", "tcg", *icount, "-m", a.memory, "-smp", "2",
             "-machine", "q35,kernel-irqchip=split", "-nographic",
             # Native PCIe hotplug (pciehp) for the root port, not ACPI hotplug:
             # device_del then reaches the guest as an attention-button press.
             "-global", "ICH9-LPC.acpi-pci-hotplug-with-bridge-support=off",
             "-no-reboot", "-nodefaults", "-net", "none",
             "-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con",
             "-chardev", f"socket,id=agent,path={agent_path},server=on,wait=on",
             "-serial", "chardev:agent",
             "-qmp", f"unix:{qmp_path},server=on,wait=off"]
            + dev + mem + devs
            + ["-kernel", a.kernel, "-initrd", a.initrd, "-append", append.strip()])


class Result:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = 0
        self.failures = []

    def ok(self, name):
        self.passed += 1
        print(f"  ok    {name}")

    def fail(self, name, why=""):
        self.failed += 1
        self.failures.append(name)
        print(f"  FAIL  {name}{': ' + why if why else ''}")

    def skip(self, name, why=""):
        self.skipped += 1
        print(f"  skip  {name}{': ' + why if why else ''}")


DUMP = "DMESG| "
KNOWN = {"BOOTED": 1, "DONE": 1, "STEP": 3, "BEGIN": 3, "END": 3, "EXPECT": 2,
         "EXPECT-END": 2, "BENCH": 10, "REVOKE": 4, "PROFILE": 9, "VFIOBENCH": 10,
         "IIOBENCH": 6, "IIORATIO": 3, "DEMO": 1, "DMESG-BEGIN": 1, "DMESG-END": 1}


def judge(lines, res, timed_out, exempt):
    """Walk the guest log: result blocks, steps, completion, splats."""
    booted = done = False
    block = None  # (kind, name, cases, plan)
    for ln in lines:
        # The guest's dump of the kernel log ("DMESG| " lines) is only scanned for splats.
        if ln.startswith(DUMP):
            continue
        if MARK in ln:
            words = ln.split(MARK, 1)[1].split()
            # A marker line that a kernel message cut in two would drop a result:
            # such a line fails the run instead.
            if not words or len(words) < KNOWN.get(words[0], 99):
                res.fail("guest console", "garbled marker line: " + ln.strip()[:120])
                continue
            if words[0] == "BOOTED":
                booted = True
            elif words[0] == "DONE":
                done = True
            elif words[0] == "STEP" and len(words) >= 3:
                # A kernel message may follow on the same console line.
                if re.match(r"ok(\[|$)", words[2]):
                    res.ok(f"step {words[1]}")
                else:
                    res.fail(f"step {words[1]}", " ".join(words[3:]))
            elif words[0] == "BEGIN" and len(words) >= 3:
                block = [words[1], words[2], 0, None]
            elif words[0] == "END" and block:
                kind, name, cases, plan = block
                rc = next((w[3:] for w in words if w.startswith("rc=")), "0")
                if cases == 0:
                    res.fail(f"{kind} {name}", "no test case reported")
                elif plan is not None and cases != plan:
                    res.fail(f"{kind} {name}", f"{cases} of {plan} planned cases reported")
                elif kind == "kselftest" and rc not in ("0", "4"):
                    # kselftest exits 4 when everything was skipped (counted as skips).
                    res.fail(f"{kind} {name}", f"exit status {rc}")
                block = None
            continue
        if block is None:
            continue
        kind, name = block[0], block[1]
        m = re.match(r"^(\s*)1\.\.(\d+)", ln)
        if m and (kind == "kselftest" and not m.group(1)
                  or kind == "kunit" and len(m.group(1).expandtabs()) == 4):
            block[3] = int(m.group(2))
            continue
        m = TAP_RE.match(ln)
        if not m:
            continue
        indent, status, _, case, directive, reason = m.groups()
        # KUnit: test cases are the indented lines (the unindented one is the suite).
        # kselftest: test cases are the unindented lines.
        if (kind == "kunit") != bool(indent):
            continue
        # KUnit: the cases of a parameterised test are nested one level deeper; the
        # test's own line, which fails if any of them does, is the one counted.
        if kind == "kunit" and len(indent.expandtabs()) > 4:
            continue
        block[2] += 1
        full = f"{kind} {name}: {case.strip()}"
        if directive and directive.upper() == "SKIP":
            res.skip(full, reason.strip())
        elif status == "ok":
            res.ok(full)
        else:
            res.fail(full)
    if block:
        res.fail(f"{block[0]} {block[1]}", "block not finished (guest died?)")
    if not booted:
        res.fail("guest boot", "the guest init never started")
    if timed_out:
        res.fail("guest run", "timeout")
    elif not done:
        res.fail("guest run", "guest did not finish (panic or crash)")
        # The last lines say how: a kernel panic, or QEMU's own error (an emulated
        # device's hw_error() aborts the VM without a kernel message).
        for ln in [ln for ln in lines if not ln.startswith(DUMP)][-25:]:
            print(f"        | {ln.rstrip()[:160]}")
    else:
        res.ok("guest run finished")
    # A test that provokes a splat on purpose opens a window for its kind in the
    # kernel log (EXPECT <kind> ... EXPECT-END <kind>, KERN_INFO, so only the
    # guest's dump of the log shows it, in the log's own order). A console line
    # is exempt when the dump has the same line inside such a window.
    def splat_kind(ln):
        for rx, what in SPLATS:
            if rx.search(ln):
                return what
        return None

    expected, allowed = set(), set()
    for ln in lines:
        if not ln.startswith(DUMP):
            continue
        text = ln[len(DUMP):]
        if MARK in text:
            words = text.split(MARK, 1)[1].split()
            if len(words) == 2 and words[0] == "EXPECT":
                expected.add(words[1])
            elif len(words) == 2 and words[0] == "EXPECT-END":
                expected.discard(words[1])
            continue
        if splat_kind(text) in expected:
            allowed.add(text.strip())
    splats = []
    for ln in lines:
        text = ln[len(DUMP):] if ln.startswith(DUMP) else ln
        if MARK in text or any(re.search(e, text) for e in exempt):
            continue
        what = splat_kind(text)
        if what and text.strip() not in allowed:
            splats.append((what, text.strip()))
    if splats:
        for what, ln in splats[:10]:
            print(f"        splat ({what}): {ln}")
        res.fail("guest log free of splats", f"{len(splats)} splat line(s)")
    else:
        res.ok("guest log free of splats")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kernel", required=True)
    p.add_argument("--initrd", required=True)
    p.add_argument("--mode", default="check")
    p.add_argument("--topology", choices=["iommu", "switch", "pxb"], default="iommu")
    p.add_argument("--no-iommu", dest="iommu", action="store_false")
    p.add_argument("--lazy-iommu", action="store_true",
                   help="lazy IOTLB invalidation (iommu.strict=0, and no caching mode)")
    p.add_argument("--shm-size", type=lambda s: int(s, 0), default=16 << 20)
    p.add_argument("--edu-dma-mask", default="0xffffffffffffffff")
    p.add_argument("--icount", action="store_true",
                   help="guest clock = instructions executed (QEMU -icount shift=0): "
                   "a time the guest measures is then an instruction count, the same "
                   "from boot to boot whatever the host does")
    p.add_argument("--memory", default="2G")
    p.add_argument("--timeout", type=int, default=600)
    p.add_argument("--append", default="")
    p.add_argument("--log", help="write the whole guest console here")
    p.add_argument("--shm", help="ivshmem backing file to use (kept); default: a temporary one")
    p.add_argument("--exempt", action="append", default=[],
                   help="regex of a log line expected by a test, not counted as a splat")
    p.add_argument("--quiet", action="store_true", help="do not echo the guest console")
    p.add_argument("--counts", help="write 'passed failed skipped' to this file")
    a = p.parse_args()
    if a.shm_size & (a.shm_size - 1):
        p.error("--shm-size must be a power of two (ivshmem)")

    tmp = tempfile.mkdtemp(prefix="dmavec-vm-")
    # The backing file on tmpfs where there is one: the guest writes gigabytes of it in the
    # big runs, which a disk-backed file would make the host write back, throttling QEMU.
    shm_dir = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else tmp
    shm = a.shm
    if not shm:
        fd, shm = tempfile.mkstemp(prefix="dmavec-shm-", dir=shm_dir)
        os.close(fd)
    with open(shm, "wb") as f:
        f.truncate(a.shm_size)
    agent_path = os.path.join(tmp, "agent.sock")
    qmp_path = os.path.join(tmp, "qmp.sock")
    cmd = qemu_cmd(a, shm, agent_path, qmp_path)
    log = open(a.log, "w") if a.log else None
    start = time.time()
    q = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    agent = Agent(agent_path, shm, qmp_path, "dn1" if a.topology == "switch" else "rp0")
    lines, partial, timed_out = [], b"", False
    try:
        agent.connect(time.time() + 30)
        deadline = start + a.timeout
        fds = [q.stdout, agent.sock]
        while True:
            left = deadline - time.time()
            if left <= 0:
                timed_out = True
                break
            r, _, _ = select.select(fds, [], [], min(left, 1.0))
            if agent.sock in r and not agent.pump():
                fds.remove(agent.sock)
            if q.stdout in r:
                data = os.read(q.stdout.fileno(), 65536)
                if not data:
                    break
                partial += data
                *done, partial = partial.split(b"\n")
                for raw in done:
                    ln = raw.decode(errors="replace").rstrip("\r")
                    lines.append(ln)
                    if log:
                        log.write(ln + "\n")
                    if not a.quiet:
                        print("| " + ln, flush=True)
    finally:
        if q.poll() is None:
            q.kill()
        q.wait()
        if partial:
            lines.append(partial.decode(errors="replace"))
        if log:
            log.close()
        # The backing file of a big run holds gigabytes once written: never keep it
        # unless asked to (--shm).
        shutil.rmtree(tmp, ignore_errors=True)
        if not a.shm:
            os.unlink(shm)
    elapsed = time.time() - start
    res = Result()
    print(f"--- results ({a.mode}, {a.topology}, {elapsed:.0f} s) ---")
    judge(lines, res, timed_out, a.exempt)
    print(f"{res.passed} passed, {res.failed} failed" +
          (f", {res.skipped} skipped" if res.skipped else ""))
    if a.counts:
        with open(a.counts, "w") as f:
            f.write(f"{res.passed} {res.failed} {res.skipped}\n")
    sys.exit(1 if res.failed else 0)


if __name__ == "__main__":
    main()
