#!/usr/bin/env python3
"""Runtime tests of the tracer under hostile input and faults (issue 15):
the capabilities it keeps, its output file (a symbolic link, a full disk),
a configuration that turns bad while watched and a flood of SIGHUPs,
processes with huge, odd and deep command lines and trees, a tracer
stopped under a storm, two tracers at once and one killed and restarted,
and connects made by TCP Fast Open and io_uring.

usage: sudo python3 test_hardening.py PATH-TO-pidtree-bcc

Traffic rule: every connect goes to a closed port on an address of this
test's own network namespace (harness.NetNs), refused at once.
"""
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import V4_REPORTED, Helper, Tracer  # noqa: E402

BINARY = None
NS = None
PORTS = None

# CAP_DAC_READ_SEARCH (2), CAP_SYS_PTRACE (19), and CAP_BPF (39) where the
# kernel has it, else CAP_SYS_ADMIN (21): src/kernel/privileges.h.
with open("/proc/sys/kernel/cap_last_cap") as _f:
    _LAST_CAP = int(_f.read())
KEPT_CAPS = (1 << 2) | (1 << 19) | (1 << (39 if _LAST_CAP >= 39 else 21))


def setUpModule():
    global NS, PORTS
    NS = harness.module_netns()
    PORTS = harness.Ports(20000, 29000)


def tearDownModule():
    harness.end_module(NS)


def start_tracer(testcase, *args, **kw):
    t = Tracer(BINARY, args, **kw)
    testcase.addCleanup(t.kill)
    t.wait_ready()
    return t


def connect_once(testcase, port, timeout=60, **kw):
    """One refused connect from a helper that stays alive until cleanup."""
    h = Helper(NS, [(V4_REPORTED, port)], **kw)
    testcase.addCleanup(h.release)
    h.wait_result(timeout)
    return h


def proc_status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def reload_lines(tracer):
    with tracer.cond:
        return [r for r in tracer.records
                if r is not None and r.get("type") == "config_reload"]


def wait_for(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out waiting for " + what)


class TestPrivileges(unittest.TestCase):
    def test_capabilities_dropped_in_every_thread_and_tracer_still_works(self):
        """With all three probes (snapshots read other processes' /proc,
        udp_session scans its map): every thread of the running tracer has
        exactly the kept capabilities in its effective, permitted and
        bounding sets, none inheritable or ambient, and no_new_privs; a
        connect is still reported and a reload still writes the maps."""
        port = PORTS.next()
        with tempfile.TemporaryDirectory() as d:
            config = os.path.join(d, "c.yml")
            with open(config, "w") as f:
                f.write("tcp_connect:\n  includeports: [%d]\n"
                        "net_listen: {}\nudp_session: {}\n" % (port + 1))
            t = start_tracer(self, "-c", config)
            tasks = os.listdir("/proc/%d/task" % t.pid)
            self.assertGreaterEqual(len(tasks), 1)
            for tid in tasks:
                st = proc_status(int(tid))
                with self.subTest(tid=tid):
                    for key in ("CapEff", "CapPrm", "CapBnd"):
                        self.assertEqual(int(st[key], 16), KEPT_CAPS,
                                         "%s of thread %s: %s" %
                                         (key, tid, st[key]))
                    self.assertEqual(int(st["CapInh"], 16), 0)
                    self.assertEqual(int(st["CapAmb"], 16), 0)
                    self.assertEqual(st["NoNewPrivs"], "1")
            # Filtered by the start's includeports: not reported.
            h = connect_once(self, port)
            # The reload (map updates after the drop) lets `port` through.
            with open(config + ".new", "w") as f:
                f.write("tcp_connect:\n  includeports: [%d]\n"
                        "net_listen: {}\nudp_session: {}\n" % port)
            os.rename(config + ".new", config)
            t.send(signal.SIGHUP)
            [line] = wait_for(lambda: reload_lines(t), 10, "a reload line")
            self.assertEqual(line["status"], "applied", line)
            h2 = connect_once(self, port)
            t.wait_events(lambda r: r["pid"] == h2.pid, 1, 15)
            self.assertEqual(t.events(lambda r: r["pid"] == h.pid), [])
            self.assertEqual(t.stop(), 0, t.describe())


class TestOutputFile(unittest.TestCase):
    def test_symbolic_link_refused_unless_asked(self):
        with tempfile.TemporaryDirectory() as d:
            target = os.path.join(d, "target")
            link = os.path.join(d, "events.jsonl")
            os.symlink(target, link)
            p = subprocess.run([BINARY, "-f", link], capture_output=True,
                               text=True, timeout=60)
            self.assertEqual(p.returncode, 1)
            self.assertEqual(
                p.stderr,
                "pidtree-bcc: error: output file '%s' is a symbolic link: "
                "refused (pass --output-follow-symlink to write through "
                "it)\n" % link)
            self.assertFalse(os.path.exists(target))
            port = PORTS.next()
            t = start_tracer(self, "-f", link, "--output-follow-symlink",
                             "--include-ports", str(port), stdout=None)
            h = connect_once(self, port)

            def written():
                with open(target) as f:
                    return [json.loads(l) for l in f
                            if json.loads(l).get("pid") == h.pid]
            wait_for(written, 15, "the event in the link's target")
            self.assertEqual(os.stat(target).st_mode & 0o777, 0o600)
            self.assertEqual(t.stop(), 0)

    def test_rotated_away_and_sighup_under_a_storm_loses_no_line(self):
        """logrotate without copytruncate: the file is renamed and SIGHUP
        sent, twice, while a connect storm runs. Lines go to the renamed
        file until the signal, then to a new file at the path; together
        they hold every connect of the storm once, whole lines only (one
        line each: the flood budget is off)."""
        with tempfile.TemporaryDirectory() as d:
            out = os.path.join(d, "events.jsonl")
            first = PORTS.block(10)
            t = start_tracer(self, "-f", out, "--flood-budget", "0",
                             "--include-ports", "%d-%d" % (first, first + 9))
            sent = 60000
            h = Helper(NS, [(V4_REPORTED, first + i) for i in range(10)],
                       count=sent, hold=False)
            self.addCleanup(h.release)
            for n in (1, 2):
                wait_for(lambda: os.path.exists(out) and
                         os.path.getsize(out) > 0, 15, "lines in the file")
                time.sleep(0.3)
                os.rename(out, "%s.%d" % (out, n))
                t.send(signal.SIGHUP)
            self.assertEqual(h.wait_result(120)["errors"],
                             {"ECONNREFUSED": sent})
            files = [out + ".1", out + ".2", out]

            def counts():
                events = lost = 0
                for path in files:
                    if not os.path.exists(path):
                        continue
                    with open(path, "rb") as f:
                        data = f.read()
                    for line in data.split(b"\n")[:-1]:
                        rec = json.loads(line)
                        if rec.get("pid") == h.pid:
                            events += 1
                        elif rec.get("type") == "lost_events":
                            lost = max(lost, rec["total"])
                return events, lost
            wait_for(lambda: sum(counts()) >= sent, 30, "every connect")
            self.assertEqual(t.stop(), 0, t.describe())
            events, lost = counts()
            self.assertEqual(events + lost, sent, (events, lost))
            for path in files:
                with open(path, "rb") as f:
                    data = f.read()
                # The storm may be over before the last reopen: that file
                # may be empty; the rotated ones each got lines.
                if path != out or data:
                    self.assertTrue(data.endswith(b"\n"), path)
                self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
            self.assertEqual([l for l in t.stderr_lines if "warning" in l],
                             [])

    def test_full_disk_exits_1_with_whole_lines_only(self):
        """The output on a 256 KiB tmpfs and a storm of reported connects:
        the tracer stops within seconds with exit status 1 and one line
        saying why, and the file holds whole JSON lines only."""
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs",
                        d], check=True)
        self.addCleanup(subprocess.run, ["umount", "-l", d])
        out = os.path.join(d, "events.jsonl")
        first = PORTS.block(10)
        t = start_tracer(self, "-f", out, "--include-ports",
                         "%d-%d" % (first, first + 9))
        h = Helper(NS, [(V4_REPORTED, first + i) for i in range(10)],
                   count=20000, hold=False)
        self.addCleanup(h.release)
        rc = t.wait_exit(60)
        self.assertEqual(rc, 1, t.describe())
        errors = [l for l in t.stderr_lines if "error" in l]
        self.assertEqual(errors, ["pidtree-bcc: error: writing output "
                                  "failed: No space left on device"],
                         t.stderr_lines)
        with open(out, "rb") as f:
            data = f.read()
        self.assertGreater(len(data), 100 * 1024)
        self.assertTrue(data.endswith(b"\n"), data[-200:])
        for line in data.split(b"\n")[:-1]:
            self.assertIsInstance(json.loads(line), dict)


class TestConfigFaults(unittest.TestCase):
    def test_watched_file_turns_bad_and_sighup_flood(self):
        """-w -c FILE: the file becomes garbage, a directory, a FIFO (which
        would block a reader) and then good again, while SIGHUP arrives
        thousands of times a second: each bad state is refused with its
        reason and the old rules stay (a connect to the first rules' port
        is still reported), the tracer never stops, and the good file is
        applied."""
        port, other = PORTS.next(), PORTS.next()
        with tempfile.TemporaryDirectory() as d:
            config = os.path.join(d, "c.yml")

            def write(text):
                with open(config + ".tmp", "w") as f:
                    f.write(text)
                os.rename(config + ".tmp", config)

            write("tcp_connect:\n  includeports: [%d]\n" % port)
            t = start_tracer(self, "-c", config, "-w")
            seen = 0

            def refused_with(reason):
                # The watch may also see the step between two states (the
                # file unlinked before the directory is made): such lines
                # are refusals too, each with its own reason, and the one
                # for this state follows them.
                nonlocal seen

                def upto_reason():
                    new = reload_lines(t)[seen:]
                    for i, l in enumerate(new):
                        if reason in l.get("reason", ""):
                            return new[:i + 1]
                    return None

                lines = wait_for(upto_reason, 15,
                                 "a reload line for " + reason)
                seen += len(lines)
                for l in lines:
                    self.assertEqual(l["status"], "refused", lines)
                    self.assertTrue(l["reason"], lines)

            write("tcp_connect: [\x00\xff garbage\n")
            refused_with("invalid YAML")
            os.unlink(config)
            os.mkdir(config)
            t.send(signal.SIGHUP)
            refused_with("it is a directory")
            os.rmdir(config)
            os.mkfifo(config)
            t.send(signal.SIGHUP)
            refused_with("not a regular file")
            os.unlink(config)
            # A flood of SIGHUPs: the tracer stays up and keeps reporting
            # with the rules it had.
            flood = subprocess.Popen(
                ["sh", "-c", "end=$(($(date +%%s) + 2)); while [ $(date "
                 "+%%s) -lt $end ]; do kill -HUP %d %d %d %d %d %d %d %d; "
                 "done" % ((t.pid,) * 8)])
            h = connect_once(self, port)
            flood.wait(30)
            self.assertIsNone(t.proc.poll(), t.describe())
            t.wait_events(lambda r: r["pid"] == h.pid, 1, 15)
            write("tcp_connect:\n  includeports: [%d]\n" % other)
            wait_for(lambda: [l for l in reload_lines(t)
                              if l["status"] == "applied"], 15, "applied")
            h2 = connect_once(self, other)
            t.wait_events(lambda r: r["pid"] == h2.pid, 1, 15)
            for l in reload_lines(t):
                if l["status"] == "refused":
                    self.assertTrue(l["reason"], l)
            self.assertEqual(t.bad_lines, [])
            self.assertEqual(t.stop(), 0)


class TestHostileProcesses(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.port = PORTS.next()
        cls.tracer = Tracer(BINARY, ["--include-ports", str(cls.port)])
        cls.addClassCleanup(cls.tracer.kill)
        cls.tracer.wait_ready()

    def event_of(self, pid):
        [ev] = self.tracer.wait_events(lambda r: r["pid"] == pid, 1, 30)
        return ev

    def assert_lines_clean(self):
        self.assertEqual(self.tracer.bad_lines, [])
        with self.tracer.cond:
            raw = [l for _, l in self.tracer.lines]
        for line in raw:
            self.assertNotIn(b"\n", line)
            json.loads(line)

    def test_huge_argv_and_thousands_of_arguments(self):
        """5 MB of argv (the kernel allows at most 6 MB, a quarter of an
        unlimited stack's cap) and 5000 arguments: one valid line each,
        the command line cut and marked."""
        soft, hard = resource.getrlimit(resource.RLIMIT_STACK)
        resource.setrlimit(resource.RLIMIT_STACK, (resource.RLIM_INFINITY,
                                                   hard))
        try:
            big = connect_once(self, self.port,
                               extra_args=["B" * 100_000] * 50)
            many = connect_once(self, self.port,
                                extra_args=["a%d" % i for i in range(5000)])
        finally:
            resource.setrlimit(resource.RLIMIT_STACK, (soft, hard))
        for h in (big, many):
            cmdline = self.event_of(h.pid)["proctree"][0]["cmdline"]
            self.assertTrue(cmdline.endswith(harness.CUT_MARKER),
                            cmdline[-100:])
            self.assertLess(len(cmdline), 64 * 1024)
        rss_kb = int(proc_status(self.tracer.pid)["VmRSS"].split()[0])
        self.assertLess(rss_kb, 200 * 1024 * harness.RSS_FACTOR)
        self.assert_lines_clean()

    def test_comm_of_control_bytes_and_invalid_utf8(self):
        """The program's file name (the kernel's comm) made of a newline,
        an escape sequence, quotes and invalid UTF-8: escaped, one line."""
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d)
        name = b'\n{"x":1}\x1b[2J\xff\xfe'
        path = os.path.join(d.encode(), name)
        os.symlink(harness.HELPER_PYTHON, path)
        h = connect_once(self, self.port,
                         command=lambda argv: [path] + argv[1:])
        pid = h.wait_result()["pid"]
        ev = self.event_of(pid)
        self.assertEqual(ev["comm"], name[:15].decode("utf-8", "replace"))
        self.assert_lines_clean()

    def test_tree_500_deep(self):
        """A chain of 500 shells: the whole tree, up to pid 1, in one valid
        line, and the tracer's memory stays bounded."""
        script = ('if [ "$1" -gt 0 ]; then sh -c "$S" sh $(($1 - 1)); '
                  'true; else exec "$@"; fi')

        def chain(argv):
            return ["env", "S=" + script.replace('exec "$@"',
                                                  "exec " + " ".join(argv)),
                    "sh", "-c", "sh -c \"$S\" sh 500; true"]
        h = connect_once(self, self.port, timeout=120, command=chain)
        pid = h.wait_result()["pid"]
        ev = self.event_of(pid)
        tree = ev["proctree"]
        self.assertGreaterEqual(len(tree), 502, len(tree))
        self.assertEqual(tree[-1]["pid"], 1)
        self.assertEqual(len({n["pid"] for n in tree}), len(tree))
        rss_kb = int(proc_status(self.tracer.pid)["VmRSS"].split()[0])
        self.assertLess(rss_kb, 200 * 1024 * harness.RSS_FACTOR)
        self.assert_lines_clean()


class TestStoppedTracer(unittest.TestCase):
    def test_sigstop_under_storm_then_whole_trees(self):
        """Stopped for 3 s while processes fork, exit and connect: once
        continued, every connect of the storm is written or counted as
        lost (the loss count covers the process events too, so written +
        lost is at least what was sent), and the tree of a chain started
        afterwards is whole. The flood budget is off, so the storm does
        overflow the buffer."""
        first = PORTS.block(5)
        t = start_tracer(self, "--perf-pages", "4", "--flood-budget", "0",
                         "--include-ports",
                         "%d-%d" % (first, first + 4))
        targets = [(V4_REPORTED, first + i) for i in range(5)]
        t.send(signal.SIGSTOP)
        try:
            churn = subprocess.Popen(
                ["sh", "-c", "i=0; while [ $i -lt 400 ]; do sh -c true; "
                 "i=$((i + 1)); done"])
            h = Helper(NS, targets, count=20000, hold=False)
            self.addCleanup(h.release)
            sent = 20000
            self.assertEqual(h.wait_result(120)["errors"],
                             {"ECONNREFUSED": sent})
            churn.wait(120)
            time.sleep(3)
        finally:
            t.send(signal.SIGCONT)
        for cpu in sorted(os.sched_getaffinity(0)):
            harness.run_helper(NS, targets[:1], count=2, cpu=cpu)
            sent += 2

        def accounted():
            lost = t.lost_records()
            return len(t.events()) + (lost[-1]["total"] if lost else 0)
        wait_for(lambda: accounted() >= sent, 30,
                 "every connect written or counted as lost")
        time.sleep(0.5)
        self.assertLessEqual(len(t.events()), sent)
        self.assertTrue(t.lost_records(), "nothing lost with 4 pages?")
        # After: a chain of two shells and the helper, whole up to pid 1.
        port = first
        h2 = Helper(NS, [(V4_REPORTED, port)],
                    command=lambda argv: ["sh", "-c", "sh -c '%s'; true"
                                          % " ".join(argv)])
        self.addCleanup(h2.release)
        pid = h2.wait_result()["pid"]
        [ev] = t.wait_events(lambda r: r["pid"] == pid, 1, 15)
        tree = ev["proctree"]
        self.assertEqual(ev["error"], "", ev)
        self.assertEqual(tree[-1]["pid"], 1)
        for child, parent in zip(tree, tree[1:]):
            self.assertEqual(harness.proc_ppid(child["pid"]), parent["pid"])
            self.assertEqual(child["cmdline"],
                             harness.proc_cmdline(child["pid"]))
        self.assertEqual(t.bad_lines, [])


class TestTwoTracers(unittest.TestCase):
    def test_side_by_side_and_sigkill_then_restart(self):
        """Two tracers with all three probes on one host each report the
        same connect; one killed with SIGKILL leaves none of its programs
        attached (its cgroup links die with it) while the other goes on;
        started again, both report."""
        port = PORTS.next()
        args = ("--probes", "tcp_connect,net_listen,udp_session",
                "--include-ports", str(port))
        a = start_tracer(self, *args)
        b = start_tracer(self, *args)
        h = connect_once(self, port)
        for t in (a, b):
            t.wait_events(lambda r: r["pid"] == h.pid, 1, 15)
        a_progs, _ = harness.fd_bpf_ids(a.pid)
        self.assertTrue(a_progs & harness.cgroup_prog_ids(),
                        "the tracer's cgroup programs are not attached")
        a.send(signal.SIGKILL)
        a.wait_exit(10)
        wait_for(lambda: not (a_progs & harness.cgroup_prog_ids() or
                              a_progs & harness.prog_ids("tracepoint")),
                 5, "the killed tracer's programs to go")
        h2 = connect_once(self, port)
        b.wait_events(lambda r: r["pid"] == h2.pid, 1, 15)
        a2 = start_tracer(self, *args)
        h3 = connect_once(self, port)
        for t in (a2, b):
            t.wait_events(lambda r: r["pid"] == h3.pid, 1, 15)
        for t in (a2, b):
            self.assertEqual(t.stop(), 0, t.describe())
            self.assertEqual(t.bad_lines, [])


class TestFastOpen(unittest.TestCase):
    def test_tcp_fast_open_sendto_is_reported(self):
        """sendto(MSG_FASTOPEN) connects without connect(): reported with
        the sending process and its tree."""
        port = PORTS.next()
        t = start_tracer(self, "--include-ports", str(port))
        code = ("import os, socket, sys\n"
                "s = socket.socket()\n"
                "try:\n"
                "    s.sendto(b'x', socket.MSG_FASTOPEN, (sys.argv[1], "
                "int(sys.argv[2])))\n"
                "except OSError:\n"
                "    pass\n"
                "print(os.getpid(), flush=True)\n"
                "sys.stdin.read()\n")
        p = subprocess.Popen(NS.prefix() + [harness.HELPER_PYTHON, "-c",
                                            code, V4_REPORTED, str(port)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
        self.addCleanup(p.stdout.close)
        self.addCleanup(p.kill)
        pid = int(p.stdout.readline())
        [ev] = t.wait_events(lambda r: r["pid"] == pid, 1, 15)
        self.assertEqual(ev["daddr"], V4_REPORTED)
        self.assertEqual(ev["port"], port)
        self.assertEqual(ev["proctree"][0]["pid"], pid)
        self.assertEqual(ev["proctree"][1]["pid"], os.getpid())
        p.stdin.close()
        p.wait(10)


class TestIoUring(unittest.TestCase):
    def helper(self):
        path = os.environ.get("PIDTREE_URING_CONNECT") or os.path.join(
            os.path.dirname(BINARY), "tests", "uring_connect")
        self.assertTrue(os.access(path, os.X_OK),
                        "the io_uring helper (tests/runtime/uring_connect."
                        "cpp) is not built at %s" % path)
        return path

    def test_io_uring_connects_inline_and_from_a_worker(self):
        """IORING_OP_CONNECT made in the submitting task (inline) and by an
        io-wq worker thread (IOSQE_ASYNC): both reported with the process
        that submitted it and its tree."""
        with open("/proc/sys/kernel/io_uring_disabled") as f:
            self.assertEqual(f.read().strip(), "0",
                             "io_uring is disabled on this host")
        port = PORTS.next()
        t = start_tracer(self, "--include-ports", str(port))
        for mode in ("inline", "async"):
            with self.subTest(mode=mode):
                p = subprocess.Popen(
                    NS.prefix() + [self.helper(), V4_REPORTED, str(port),
                                   mode],
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                self.addCleanup(p.stdout.close)
                self.addCleanup(p.kill)
                result = json.loads(p.stdout.readline())
                self.assertEqual(result["res"], -111, result)  # ECONNREFUSED
                pid = result["pid"]
                [ev] = t.wait_events(lambda r: r["pid"] == pid, 1, 15)
                self.assertEqual(ev["port"], port)
                tree = ev["proctree"]
                self.assertEqual(tree[0]["pid"], pid)
                self.assertIn("uring_connect", tree[0]["cmdline"])
                self.assertEqual(tree[1]["pid"], os.getpid())
                if mode == "async":
                    # The worker is a thread of the process: its own tid.
                    self.assertNotEqual(ev["tid"], pid, ev)
                p.stdin.close()
                p.wait(10)

class SlowReader:
    """Reads the tracer's stdout (a pipe) on a thread: while `slow`, at most
    `chunk` bytes every `pause` seconds, so the tracer's writes block and
    its perf buffer fills as a stalled log shipper would make it; then as
    fast as it comes. Keeps every line, parsed, and the bytes read.

    The default, about 3 MB/s, is some thirty times what a budget of 100
    lines a second writes with trees of 1 KB a line, and a hundredth of
    what an unbudgeted storm writes. (At 800 KB/s, CI's trees, with longer
    command lines above the test than here, were slow enough for a few
    events to be lost with the budget too: the reader, not the budget,
    was then the limit.)"""

    def __init__(self, fd, chunk=65536, pause=0.02):
        self.fd, self.chunk, self.pause = fd, chunk, pause
        self.slow = True
        self.cond = threading.Condition()
        self.records, self.bad = [], []
        self.bytes = 0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        rest = b""
        while True:
            data = os.read(self.fd, self.chunk if self.slow else 1 << 20)
            if not data:
                break
            self.bytes += len(data)
            lines = (rest + data).split(b"\n")
            rest = lines.pop()
            with self.cond:
                for line in lines:
                    try:
                        self.records.append(json.loads(line))
                    except ValueError:
                        self.bad.append(line)
                self.cond.notify_all()
            if self.slow:
                time.sleep(self.pause)
        if rest:
            self.bad.append(rest)
        os.close(self.fd)

    def wait(self, pred, timeout):
        deadline = time.monotonic() + timeout
        with self.cond:
            while not pred(self.records):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 0.2))
        return True

    def join(self, timeout=30):
        self._thread.join(timeout)


class TestFlood(unittest.TestCase):
    """Evasion by flood: one process connects at full rate while the
    output is read slowly (the perf buffer, 8 pages a CPU, overflows
    without a budget), and other processes make single connects, listens
    and UDP sessions meanwhile."""

    BUDGET = 100
    VICTIMS = 20

    def run_storm(self, budget, storm_count, victims):
        port, lport, uport = PORTS.next(), PORTS.next(), PORTS.next()
        d = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, d, True)
        config = os.path.join(d, "c.yml")
        with open(config, "w") as f:
            f.write("tcp_connect:\n  includeports: [%d]\n"
                    "net_listen:\n  includeports: [%d]\n"
                    "udp_session:\n  includeports: [%d]\n"
                    % (port, lport, uport))
        r, w = os.pipe()
        t = Tracer(BINARY, ["-c", config, "--perf-pages", "8",
                            "--flood-budget", str(budget)], stdout=w)
        os.close(w)
        self.addCleanup(t.kill)
        reader = SlowReader(r)
        t.wait_ready()
        storm = Helper(NS, [(V4_REPORTED, port)], count=storm_count)
        self.addCleanup(storm.release)
        pids = {"tcp_connect": [], "net_listen": [], "udp_session": []}
        time.sleep(0.5)
        for _ in range(victims):
            c = Helper(NS, [(V4_REPORTED, port)])
            self.addCleanup(c.release)
            c.wait_result(60)
            pids["tcp_connect"].append(c.pid)
            li = harness.ListenHelper(
                NS, ["tcp,%s,%d" % (V4_REPORTED, lport)], hold=False)
            self.addCleanup(li.release)
            self.assertEqual(li.wait_result(60)["sockets"][0]["error"], "")
            pids["net_listen"].append(li.pid)
            u = harness.UdpHelper(NS, ["to:%s,%d,1" % (V4_REPORTED, uport)])
            self.addCleanup(u.release)
            res = u.wait_result(60)
            self.assertEqual(res["sockets"][0]["sent"], 1)
            pids["udp_session"].append(u.pid)
            last_victim_ns = res["t_after_ns"]
        storm_result = storm.wait_result(300)
        # The victims came while the storm went on.
        if victims:
            self.assertLess(last_victim_ns, storm_result["t_after_ns"],
                            "the storm ended before the victims: make it "
                            "longer")
        made = sum(storm_result["errors"].values())
        self.assertEqual(made, storm_count, storm_result)
        reader.slow = False
        self.assertEqual(t.stop(timeout=60), 0, t.describe())
        reader.join()
        self.assertEqual(reader.bad, [])
        sys.stderr.write("\n  %d lines, %d bytes a line ... " % (
            len(reader.records), reader.bytes // max(len(reader.records), 1)))
        return reader.records, storm.pid, pids, storm_result

    def test_a_flood_cannot_push_out_other_processes_events(self):
        """With --flood-budget 100: every victim's connect, listen and UDP
        session has its own line (20 of 20 each), none is lost, and the
        storm's connects add up exactly: its own lines (the budget's) plus
        its flood_summary counts, with its tree."""
        n = 400000
        records, storm_pid, pids, result = self.run_storm(
            self.BUDGET, n, self.VICTIMS)
        lost = [r for r in records if r.get("type") == "lost_events"]
        self.assertEqual(lost, [])
        for probe, victims in pids.items():
            for pid in victims:
                mine = [r for r in records if r.get("probe") == probe and
                        r.get("pid") == pid and "type" not in r]
                with self.subTest(probe=probe, pid=pid):
                    self.assertEqual(len(mine), 1, mine)
        lines = [r for r in records if r.get("probe") == "tcp_connect" and
                 r.get("pid") == storm_pid and "type" not in r]
        summaries = [r for r in records if r.get("type") == "flood_summary"]
        self.assertTrue(summaries)
        for s in summaries:
            self.assertEqual(s["pid"], storm_pid, s)
            self.assertEqual(s["probe"], "tcp_connect")
            self.assertEqual((s["daddr"], s["port"]), (V4_REPORTED,
                                                       lines[0]["port"]))
            self.assertEqual(s["proctree"][0]["pid"], storm_pid)
            self.assertEqual(s["proctree"][1]["pid"], os.getpid())
            self.assertLessEqual(s["timestamp"], s["end_timestamp"])
        summarised = sum(s["count"] for s in summaries)
        self.assertEqual(len(lines) + summarised, n,
                         (len(lines), summarised))
        # The budget held: about 100 lines a second of the storm's
        # (a window's first events and the CPUs' races add a few).
        seconds = (result["t_after_ns"] - result["t_before_ns"]) / 1e9
        self.assertLess(len(lines), self.BUDGET * (seconds + 2) * 1.2,
                        (len(lines), seconds))
        self.assertEqual(
            [r for r in records if r.get("type") == "flood_untracked"], [])

    def test_without_a_budget_the_same_storm_overflows_the_buffer(self):
        """The control: --flood-budget 0, the same storm and slow reader:
        events are lost, so the test above does make the buffer overflow.
        How many victims still got through is printed (not asserted: it
        depends on timing)."""
        records, storm_pid, pids, _ = self.run_storm(0, 400000, self.VICTIMS)
        lost = sum(r["count"] for r in records
                   if r.get("type") == "lost_events")
        self.assertGreater(lost, 0)
        seen = {probe: sum(1 for pid in victims if any(
                    r.get("probe") == probe and r.get("pid") == pid
                    for r in records)) for probe, victims in pids.items()}
        sys.stderr.write("\n  without a budget: %d events lost; victims "
                         "reported: %s (of %d each) ... " %
                         (lost, seen, self.VICTIMS))


if __name__ == "__main__":
    harness.main(globals(), needs_root=True)
