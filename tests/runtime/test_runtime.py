#!/usr/bin/env python3
"""Runtime tests of pidtree-bcc: root, the real kernel, real BPF.

usage: sudo python3 test_runtime.py PATH-TO-pidtree-bcc

Traffic rule: every connect goes to an address that this test creates inside
its own network namespace (pidtree-rt-<pid>-<n>), or to that namespace's
loopback; all of them to closed ports, so each connect is refused at once.
Nothing else is ever contacted.

Other programs on the machine (other tracers, other tests) may connect and
load BPF programs while this runs, so every assertion is about the events of
processes this test started (matched by pid) and about the BPF objects that
the tracer under test holds.
"""
import collections
import fcntl
import json
import os
import pwd
import random
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (V4_REPORTED, V4_SECOND, V6_REPORTED,  # noqa: E402
                     Helper, Tracer, timestamp_ns)

BINARY = None  # set by harness.main from argv[1]
NS = None      # the test's network namespace, made in setUpModule

SKEW_NS = 50_000_000  # clock skew allowed between the kernel and us
READY_LINE = ("pidtree-bcc: tracing TCP connects with the %s backend; "
              "Ctrl-C to stop")
EXPECTED_BACKEND = "kprobe" if harness.kprobes_available() else "tracepoint"
HELPER_COMM = os.path.basename(harness.HELPER_PYTHON)[:15]

def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# Destination ports stay below the ephemeral range: a connect to a local
# closed port whose ephemeral source port happened to equal it would connect
# the socket to itself (TCP simultaneous open) instead of being refused.
_next_port = random.randrange(10000, max(10100, _ephemeral_low() - 2000), 100)


def next_port():
    """A port no other case of this run uses (a random base per run, so
    that a concurrent run of these tests matches nothing of ours)."""
    global _next_port
    _next_port += 1
    return _next_port


def port_block(n):
    global _next_port
    first = _next_port + 1
    _next_port += n
    return first


def setUpModule():
    global NS
    harness.NetNs.remove_stale()
    NS = harness.NetNs().create()


def tearDownModule():
    Tracer.kill_all()
    if NS:
        NS.delete()


def start_tracer(testcase, *args, **kw):
    """Starts pidtree-bcc, waits for its 'tracing' line, kills it in
    cleanup whatever happens."""
    t = Tracer(BINARY, args, **kw)
    testcase.addCleanup(t.kill)
    t.wait_ready()
    return t


def start_helper(testcase, *args, **kw):
    h = Helper(NS, *args, **kw)
    testcase.addCleanup(h.release)
    return h


# The tracepoints that feed the process table; with --exec-argv auto the
# syscall ones only where the kernel has no BTF (argv is then read at
# execve()).
PROCESS_TRACEPOINTS = {"task_newtask", "sched_process_exec",
                       "sched_process_exit", "cgroup_mkdir", "cgroup_rmdir"}
if not os.path.exists(harness.KERNEL_BTF):
    PROCESS_TRACEPOINTS |= {
        "sys_enter_execve", "sys_enter_execveat", "sys_exit_execve",
        "sys_exit_execveat", "sys_exit_setuid", "sys_exit_setreuid",
        "sys_exit_setresuid"}


def all_prog_ids():
    return (harness.prog_ids("tracepoint") | harness.prog_ids("kprobe") |
            harness.prog_ids("raw_tracepoint"))


# Runs the command after it with the kernel's BTF hidden: /dev/null bound
# over it in a mount namespace of its own (nothing else sees the mount).
HIDE_BTF = ["unshare", "-m", "--propagation", "private", "sh", "-c",
            'mount --bind /dev/null %s && exec "$@"' % harness.KERNEL_BTF,
            "sh"]

# With the kernel's BTF, the tracepoint backend's program is a raw
# tracepoint (bpf/tcp_connect_tracepoint.bpf.c).
RAW_CONNECT_TRACEPOINT = (EXPECTED_BACKEND == "tracepoint" and
                          os.path.exists(harness.KERNEL_BTF))


def canonical(addr):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    return socket.inet_ntop(family, socket.inet_pton(family, addr))


class EventAsserts:
    """Checks on one connect event."""

    def assert_event(self, ev, tracer=None, **expected):
        where = "\nevent: %r" % (ev,)
        if tracer is not None:
            where += tracer.describe(lambda r: r.get("pid") == ev.get("pid"))
        self.assertEqual(set(ev), harness.EVENT_KEYS,
                         "unexpected set of keys" + where)
        self.assertEqual(ev["probe"], "tcp_connect", where)
        self.assertRegex(ev["timestamp"], harness.TIMESTAMP_RE, where)
        for key in ("pid", "tid", "uid", "sport", "port"):
            self.assertIsInstance(ev[key], int, key + where)
        self.assertIn(ev["family"], ("ipv4", "ipv6"), where)
        self.assertIsInstance(ev["proctree"], list, where)
        for node in ev["proctree"]:
            self.assertEqual(set(node), {"pid", "cmdline", "username"},
                             where)
        if ev["proctree"]:
            self.assertEqual(ev["proctree"][0]["pid"], ev["pid"], where)
        for key, want in expected.items():
            self.assertEqual(ev[key], want, "field %r%s" % (key, where))

    def assert_clean_output(self, tracer):
        self.assertEqual(tracer.bad_lines, [],
                         "stdout lines that are not JSON objects"
                         + tracer.describe())
        self.assertEqual(tracer.lost_records(), [],
                         "the tracer lost events" + tracer.describe())


# ============================================================ event fields

class TestEventFields(unittest.TestCase, EventAsserts):
    """One tracer (default options) for all cases: exact event fields."""

    @classmethod
    def setUpClass(cls):
        cls.tracer = Tracer(BINARY, [])
        cls.addClassCleanup(cls.tracer.kill)
        cls.tracer.wait_ready()

    def tearDown(self):
        self.tracer.send(signal.SIGCONT)  # in case a test stopped it

    def events_of(self, pid, count=1, timeout=15):
        evs = self.tracer.wait_events(lambda r: r["pid"] == pid, count,
                                      timeout)
        self.assertEqual(len(evs), count,
                         "want %d event(s) of pid %d%s"
                         % (count, pid, self.tracer.describe(
                             lambda r: r.get("pid") == pid)))
        return evs

    def assert_connect_time(self, ev, result):
        ts = timestamp_ns(ev["timestamp"])
        self.assertGreaterEqual(
            ts, result["t_before_ns"] - SKEW_NS,
            "event time %s is before the connect started (%d ns)"
            % (ev["timestamp"], result["t_before_ns"]))
        self.assertLessEqual(
            ts, result["t_after_ns"] + SKEW_NS,
            "event time %s is after the connect returned (%d ns)"
            % (ev["timestamp"], result["t_after_ns"]))
        read = self.tracer.read_time(ev)
        self.assertLessEqual(ts, read + SKEW_NS,
                             "event time is after its line was read")
        return ts, read

    def test_backend_line(self):
        self.assertEqual(self.tracer.backend, EXPECTED_BACKEND)
        self.assertEqual(self.tracer.stderr_lines[0],
                         READY_LINE % EXPECTED_BACKEND)

    def test_ipv4_process_chain(self):
        """python helper <- sh (inner) <- sh (outer) <- this test <- ... <- 1,
        each level alive until the event is read."""
        port = next_port()
        inner_marker, outer_marker = "pidtree-inner-marker", "pidtree-outer"
        shells = {}

        def chain(helper_argv):
            inner = shlex.join(helper_argv) + "; exit 0"
            outer = "sh -c %s %s; exit 0" % (shlex.quote(inner), inner_marker)
            shells["inner"] = "sh -c %s %s" % (inner, inner_marker)
            shells["outer"] = "sh -c %s %s" % (outer, outer_marker)
            return ["sh", "-c", outer, outer_marker]

        h = start_helper(self, [(V4_REPORTED, port)], command=chain)
        result = h.wait_result()
        self.assertEqual(result["errors"], {"ECONNREFUSED": 1})
        pid = result["pid"]
        [ev] = self.events_of(pid)
        self.assert_event(
            ev, self.tracer, pid=pid, tid=pid, comm=HELPER_COMM, uid=0,
            username="root", family="ipv4", saddr=V4_REPORTED,
            daddr=V4_REPORTED, port=port, error="")
        if EXPECTED_BACKEND == "tracepoint":
            self.assertEqual(ev["sport"], 0)
        self.assert_connect_time(ev, result)

        tree = ev["proctree"]
        want_head = [
            {"pid": pid, "cmdline": h.cmdline(), "username": "root"},
            {"pid": result["ppid"], "cmdline": shells["inner"],
             "username": "root"},
            {"pid": h.pid, "cmdline": shells["outer"], "username": "root"},
            {"pid": os.getpid(), "cmdline": harness.proc_cmdline(os.getpid()),
             "username": "root"},
        ]
        self.assertGreaterEqual(len(tree), len(want_head) + 1, tree)
        self.assertEqual(tree[:len(want_head)], want_head)
        # The whole chain against /proc, while every process is alive.
        self.assertEqual(tree[-1]["pid"], 1, "the chain must end at pid 1")
        self.assertEqual(len({n["pid"] for n in tree}), len(tree), tree)
        for child, parent in zip(tree, tree[1:]):
            self.assertEqual(harness.proc_ppid(child["pid"]), parent["pid"],
                             "pid %d's parent is not %d"
                             % (child["pid"], parent["pid"]))
        for node in tree:
            self.assertEqual(node["cmdline"],
                             harness.proc_cmdline(node["pid"]), node)
            uid = os.stat("/proc/%d" % node["pid"]).st_uid
            self.assertEqual(node["username"], pwd.getpwuid(uid).pw_name)
        self.assert_clean_output(self.tracer)

    def test_ipv6(self):
        port = next_port()
        h = start_helper(self, [(V6_REPORTED, port)])
        result = h.wait_result()
        self.assertEqual(result["errors"], {"ECONNREFUSED": 1})
        [ev] = self.events_of(h.pid)
        self.assert_event(
            ev, self.tracer, pid=h.pid, tid=h.pid, comm=HELPER_COMM, uid=0,
            username="root", family="ipv6", saddr="2001:db8::7",
            daddr="2001:db8::7", port=port, error="")
        self.assertEqual(ev["proctree"][0]["cmdline"], h.cmdline())
        self.assertEqual(ev["proctree"][1]["pid"], os.getpid())
        self.assert_connect_time(ev, result)

    def test_ipv4_mapped_ipv6(self):
        port = next_port()
        h = start_helper(self, [("::ffff:" + V4_REPORTED, port)])
        h.wait_result()
        [ev] = self.events_of(h.pid)
        self.assert_event(ev, self.tracer, pid=h.pid, family="ipv6",
                          daddr="::ffff:198.51.100.7", port=port, error="")

    def test_thread_connect(self):
        port = next_port()
        h = start_helper(self, [(V4_SECOND, port)], thread=True)
        result = h.wait_result()
        self.assertNotEqual(result["tid"], result["pid"])
        [ev] = self.events_of(h.pid)
        self.assert_event(ev, self.tracer, pid=h.pid, tid=result["tid"],
                          daddr=V4_SECOND, port=port, error="")
        self.assertEqual(ev["proctree"][0]["pid"], h.pid)
        self.assertEqual(ev["proctree"][0]["cmdline"], h.cmdline())

    def test_unprivileged_connecting_user(self):
        port = next_port()
        h = start_helper(self, [(V4_REPORTED, port)], wrapper=[
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        result = h.wait_result()
        self.assertEqual(result["errors"], {"ECONNREFUSED": 1})
        [ev] = self.events_of(h.pid)
        name = pwd.getpwuid(65534).pw_name
        self.assert_event(ev, self.tracer, pid=h.pid, uid=65534,
                          username=name, port=port, error="")
        self.assertEqual(ev["proctree"][0],
                         {"pid": h.pid, "cmdline": h.cmdline(),
                          "username": name})
        self.assertEqual(ev["proctree"][1]["pid"], os.getpid())
        self.assertEqual(ev["proctree"][1]["username"], "root")

    def test_bound_source_port(self):
        port, sport = next_port(), next_port()
        h = start_helper(self, [(V4_REPORTED, port)], bind_port=sport)
        self.assertEqual(h.wait_result()["errors"], {"ECONNREFUSED": 1})
        [ev] = self.events_of(h.pid)
        self.assert_event(ev, self.tracer, pid=h.pid, sport=sport,
                          saddr=V4_REPORTED, daddr=V4_REPORTED, port=port)

    def test_unbound_ipv6_source_port(self):
        port = next_port()
        h = start_helper(self, [(V6_REPORTED, port)])
        h.wait_result()
        [ev] = self.events_of(h.pid)
        if EXPECTED_BACKEND == "tracepoint":
            self.assert_event(ev, self.tracer, sport=0)
        else:
            self.assertGreater(ev["sport"], 0)

    def test_exited_process_keeps_its_whole_tree(self):
        """A process gone long before its event is handled: the process
        table still knows it and its ancestors, so the tree is complete."""
        port = next_port()
        self.tracer.send(signal.SIGSTOP)
        try:
            h = start_helper(self, [(V4_REPORTED, port)], hold=False)
            h.wait_result()
            h.release()
        finally:
            self.tracer.send(signal.SIGCONT)
        [ev] = self.events_of(h.pid)
        self.assertEqual(ev["error"], "", ev)
        self.assertEqual(ev["proctree"][0],
                         {"pid": h.pid, "cmdline": h.cmdline(),
                          "username": "root"})
        # Its parent is this test process, which is alive: from there on
        # the tree is what /proc says.
        self.assertEqual(ev["proctree"][1]["pid"], os.getpid())
        self.assertEqual(ev["proctree"][1]["cmdline"],
                         harness.proc_cmdline(os.getpid()))
        self.assertEqual(ev["proctree"][-1]["pid"], 1)

    def test_timestamp_is_taken_at_connect_time(self):
        """The tracer is stopped while the connect happens and resumed 1.5 s
        later: the timestamp must be the connect's, not the read's."""
        port = next_port()
        self.tracer.send(signal.SIGSTOP)
        try:
            h = start_helper(self, [(V4_REPORTED, port)])
            result = h.wait_result()
            time.sleep(1.5)
        finally:
            self.tracer.send(signal.SIGCONT)
        [ev] = self.events_of(h.pid)
        ts, read = self.assert_connect_time(ev, result)
        self.assertGreaterEqual(read - ts, 1_400_000_000,
                                "the line was read %d ms after the connect"
                                % ((read - ts) // 1_000_000))

    def test_hostile_command_line(self):
        port = next_port()
        big = b"<" + b"A" * 100_000 + b">"
        forged = b'"}\n{"probe":"tcp_connect","pid":1}\n'
        extra = [b"line1\nline2", b'say "hi" \\ and \\\\ back\\slash',
                 b"\x01ctrl\x1besc\x7fdel\ttab", b"\xff\xfe", b"caf\xc3\xa9",
                 forged, big, b"{}", b"\\u0000"]
        h = start_helper(self, [(V4_REPORTED, port)], extra_args=extra)
        h.wait_result()
        [ev] = self.events_of(h.pid)
        time.sleep(0.3)
        cmdline = ev["proctree"][0]["cmdline"]
        # argv is captured in the kernel at exec, bounded: the 100 kB
        # argument is cut, and the cut is marked.
        self.assertEqual(cmdline, harness.kernel_cmdline(h.argv))
        self.assertTrue(cmdline.endswith("A" * 1000 + harness.CUT_MARKER),
                        cmdline[-80:])
        self.assertIn("line1\nline2", cmdline)
        self.assertIn('say "hi" \\ and \\\\ back\\slash', cmdline)
        self.assertIn("\x01ctrl\x1besc\x7fdel\ttab", cmdline)
        self.assertIn(" \ufffd\ufffd ", cmdline)
        self.assertIn("caf\u00e9", cmdline)
        self.assertIn(forged.decode(), cmdline)
        self.assertIn(" <AAAA", cmdline)
        self.assertEqual(ev["error"], "")
        # Exactly one event for the pid, and nothing forged got through.
        self.assertEqual(len(self.tracer.events(
            lambda r: r["pid"] == h.pid)), 1)
        for rec in self.tracer.records:
            if rec is not None:
                self.assertIn(set(rec), (harness.EVENT_KEYS,
                                         harness.LOST_KEYS),
                              "a line with foreign keys: %r" % (rec,))
        with self.tracer.cond:
            raw = [l for _, l in self.tracer.lines]
        self.assertFalse(any(l.startswith(b'{"probe":"tcp_connect","pid":1}')
                             for l in raw))
        self.assert_clean_output(self.tracer)


# ============================================================ filters

A = None  # port placeholder: a fresh unique port


def t(addr, reported, port=A):
    return (addr, port, reported)


FILTERED_BY_DEFAULT = [
    t("127.0.0.1", False), t("10.255.0.7", False), t("172.16.255.7", False),
    t("192.168.255.7", False), t("169.254.255.7", False), t("::1", False),
    t("fd00::7", False), t("::ffff:10.255.0.7", False),
    t("::ffff:127.0.0.1", False), t("::ffff:192.168.255.7", False),
]

# (name, tracer options, [(destination, port, reported?)]). All connects of a
# case come from one helper process; after they are done, the test waits for
# the reported ones, then 0.5 s more, and compares the exact set it saw.
FILTER_CASES = [
    ("default_filters", [], FILTERED_BY_DEFAULT + [
        t(V4_REPORTED, True), t(V4_SECOND, True), t(V6_REPORTED, True),
        t("::ffff:198.51.100.7", True)]),
    ("no_default_filters", ["--no-default-filters"],
     [(a, p, True) for a, p, _ in FILTERED_BY_DEFAULT] +
     [t(V4_REPORTED, True), t(V6_REPORTED, True)]),
    ("filter_v4_network", ["--filter", "198.51.100.0/24"], [
        t(V4_REPORTED, False), t("::ffff:198.51.100.7", False),
        t("10.255.0.7", False), t(V6_REPORTED, True), t(V4_SECOND, True)]),
    ("filter_v6_network", ["--filter", "2001:db8::/32"], [
        t(V6_REPORTED, False), t("fd00::7", False), t(V4_REPORTED, True),
        t("::ffff:198.51.100.7", True)]),
    ("filter_host_and_repeat", ["--filter", "203.0.113.9/32",
                                "--filter", "2001:db8::7/128"], [
        t(V4_SECOND, False), t(V6_REPORTED, False), t(V4_REPORTED, True)]),
    ("filter_without_defaults", ["--no-default-filters",
                                 "--filter", "10.0.0.0/8"], [
        t("10.255.0.7", False), t("::ffff:10.255.0.7", False),
        t("172.16.255.7", True), t("127.0.0.1", True), t("::1", True)]),
    ("exclude_ports", ["--exclude-ports", "4000-4010,5555"], [
        t(V4_REPORTED, False, 4000), t(V4_REPORTED, False, 4005),
        t(V4_REPORTED, False, 4010), t(V4_REPORTED, False, 5555),
        t(V6_REPORTED, False, 4007), t("10.255.0.7", False, 4011),
        t(V4_REPORTED, True, 3999), t(V4_REPORTED, True, 4011),
        t(V4_REPORTED, True, 5554), t(V4_REPORTED, True, 5556),
        t(V6_REPORTED, True, 4011)]),
    ("include_ports", ["--include-ports", "6000,6100-6105"], [
        t(V4_REPORTED, True, 6000), t(V4_REPORTED, True, 6100),
        t(V4_REPORTED, True, 6103), t(V4_REPORTED, True, 6105),
        t(V6_REPORTED, True, 6101), t(V4_REPORTED, False, 5999),
        t(V4_REPORTED, False, 6001), t(V4_REPORTED, False, 6099),
        t(V4_REPORTED, False, 6106), t(V6_REPORTED, False, 6106),
        t("10.255.0.7", False, 6000)]),
]


class TestFilters(unittest.TestCase, EventAsserts):
    def run_case(self, options, table):
        table = [(a, next_port() if p is A else p, r) for a, p, r in table]
        keys = [(canonical(a), p) for a, p, _ in table]
        self.assertEqual(len(set(keys)), len(keys), "duplicate table rows")
        want = {(canonical(a), p) for a, p, r in table if r}
        tracer = start_tracer(self, *options)
        h = start_helper(self, [(a, p) for a, p, _ in table])
        result = h.wait_result()
        self.assertEqual(result["errors"], {"ECONNREFUSED": len(table)},
                         "every connect must be refused at once (are the "
                         "netns addresses there?)")
        mine = lambda r: r["pid"] == h.pid  # noqa: E731
        tracer.wait_events(mine, len(want), timeout=15)
        time.sleep(0.5)
        evs = tracer.events(mine)
        seen = [(e["daddr"], e["port"]) for e in evs]
        self.assertEqual(
            sorted(seen), sorted(want),
            "options %s: reported %s, expected %s%s"
            % (options, sorted(seen), sorted(want),
               tracer.describe(lambda r: r.get("pid") == h.pid)))
        for ev in evs:
            self.assert_event(
                ev, tracer, pid=h.pid, saddr=ev["daddr"], error="",
                family="ipv6" if ":" in ev["daddr"] else "ipv4")
            self.assertEqual(ev["proctree"][0]["cmdline"], h.cmdline())
        self.assert_clean_output(tracer)


def _make_filter_test(options, table):
    def test(self):
        self.run_case(options, table)
    test.__doc__ = "pidtree-bcc %s" % " ".join(options)
    return test


for _name, _options, _table in FILTER_CASES:
    setattr(TestFilters, "test_" + _name, _make_filter_test(_options, _table))


# ============================================================ bursts

class TestBursts(unittest.TestCase, EventAsserts):
    """No event may be lost at the default buffer size. Only this test's
    ports are included, so traffic of other programs cannot fill the buffer
    and make a loss that is not ours. One process's every connect is a line
    here: the flood budget is off (--flood-budget 0; test_hardening's
    TestFlood tests it)."""

    PORTS = 20

    def burst(self, processes, per_process):
        first = port_block(self.PORTS)
        last = first + self.PORTS - 1
        tracer = start_tracer(self, "--flood-budget", "0", "--include-ports",
                              "%d-%d" % (first, last))
        targets = [(V4_REPORTED if i % 2 else V6_REPORTED, first + i)
                   for i in range(self.PORTS)]
        helpers = [start_helper(self, targets, count=per_process)
                   for _ in range(processes)]
        for h in helpers:
            self.assertEqual(h.wait_result(120)["errors"],
                             {"ECONNREFUSED": per_process})
        pids = {h.pid for h in helpers}
        total = processes * per_process
        tracer.wait_events(lambda r: r["pid"] in pids, total, timeout=60)
        time.sleep(0.5)
        for h in helpers:
            evs = tracer.events(lambda r: r["pid"] == h.pid)
            self.assertEqual(len(evs), per_process,
                             "pid %d: %d events of %d; lost records: %s%s"
                             % (h.pid, len(evs), per_process,
                                tracer.lost_records(), tracer.describe()))
            ports = collections.Counter((e["daddr"], e["port"]) for e in evs)
            want = collections.Counter()
            for i in range(per_process):
                a, p = targets[i % len(targets)]
                want[(a, p)] += 1
            self.assertEqual(ports, want)
            bad = [e for e in evs if e["error"] or e["tid"] != h.pid
                   or e["proctree"][0]["cmdline"] != h.cmdline()]
            self.assertEqual(bad[:3], [], "events with wrong fields")
        self.assertEqual(len(tracer.events()), total,
                         "events of other pids on this test's ports")
        self.assert_clean_output(tracer)
        self.assertEqual([l for l in tracer.stderr_lines[1:]], [])

    def test_one_process_5000_connects(self):
        self.burst(1, 5000)

    def test_four_processes_2000_connects_each(self):
        self.burst(4, 2000)

    def test_lost_events_are_counted(self):
        """A 1-page buffer and a stopped reader: what does not fit is lost,
        and reported + lost adds up to what was sent. The kernel writes a
        buffer's loss record only with the next event into that buffer, so
        after the burst a few more connects are made on every CPU."""
        first = port_block(self.PORTS)
        tracer = start_tracer(self, "--perf-pages", "1", "--flood-budget", "0",
                              "--include-ports",
                              "%d-%d" % (first, first + self.PORTS - 1))
        targets = [(V4_REPORTED, first + i) for i in range(self.PORTS)]
        sent = 3000
        tracer.send(signal.SIGSTOP)
        try:
            h = start_helper(self, targets, count=sent, hold=False)
            self.assertEqual(h.wait_result(60)["errors"],
                             {"ECONNREFUSED": sent})
        finally:
            tracer.send(signal.SIGCONT)
        # Let the tracer drain what fitted, then poke every CPU's buffer.
        seen = -1
        while len(tracer.events()) != seen:
            seen = len(tracer.events())
            time.sleep(0.5)
        self.assertLess(seen, sent, "nothing was lost with a 1-page buffer?")
        pokes = 3
        for cpu in sorted(os.sched_getaffinity(0)):
            _, res = harness.run_helper(NS, targets[:1], count=pokes, cpu=cpu)
            self.assertEqual(res["errors"], {"ECONNREFUSED": pokes})
            sent += pokes

        def accounted():
            lost = tracer.lost_records()
            return len(tracer.events()) + (lost[-1]["total"] if lost else 0)

        deadline = time.monotonic() + 20
        while accounted() < sent and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        lost = tracer.lost_records()
        self.assertTrue(lost, "no lost_events line" + tracer.describe())
        running = 0
        for rec in lost:
            self.assertEqual(set(rec), harness.LOST_KEYS, rec)
            self.assertEqual(rec["type"], "lost_events")
            self.assertRegex(rec["timestamp"], harness.TIMESTAMP_RE)
            self.assertGreater(rec["count"], 0)
            running += rec["count"]
            self.assertEqual(rec["total"], running, lost)
        self.assertEqual(accounted(), sent,
                         "reported %d + lost %d != sent %d%s"
                         % (len(tracer.events()), running, sent,
                            tracer.describe(limit=3)))
        lost_lines = [l for l in tracer.stderr_lines
                      if l.startswith("pidtree-bcc: lost ")]
        self.assertEqual(len(lost_lines), len(lost), tracer.stderr_lines)
        self.assertEqual(tracer.bad_lines, [])


# ============================================================ lifecycle

class TestLifecycle(unittest.TestCase, EventAsserts):
    def require_bpftool(self):
        if not harness.find_bpftool():
            self.fail("bpftool is needed to list loaded BPF programs: "
                      "apt-get install bpftool (Debian 12: /usr/sbin/bpftool)")

    def test_signals_exit_0_and_unload(self):
        """SIGINT and SIGTERM: exit 0 within 3 s, and the BPF programs
        (listed by bpftool) are back to what they were before the start.
        Programs that other processes load meanwhile are told apart by who
        holds them (/proc/PID/fdinfo), so on a quiet machine this is exact
        set equality."""
        self.require_bpftool()
        # The connect probe(s), and the tracepoints that feed the
        # process table.
        want_tracepoints = set(PROCESS_TRACEPOINTS)
        want_raw = set()
        if RAW_CONNECT_TRACEPOINT:
            want_raw.add("inet_sock_set_state")
            want_progs = len(want_tracepoints) + 1
        elif EXPECTED_BACKEND == "tracepoint":
            want_tracepoints.add("inet_sock_set_state")
            want_progs = len(want_tracepoints)
        else:
            want_progs = len(want_tracepoints) + 3  # v4, v6 entry; return
        for sig in (signal.SIGINT, signal.SIGTERM):
            with self.subTest(signal=sig.name):
                before = all_prog_ids()
                tracer = start_tracer(self)
                progs, maps = harness.fd_bpf_ids(tracer.pid)
                self.assertEqual(len(progs), want_progs,
                                 "BPF programs held: %s" % progs)
                during = all_prog_ids()
                self.assertTrue(progs <= during,
                                "our programs %s are not listed: %s"
                                % (progs, during))
                self.assertFalse(progs & before)
                holders = harness.bpf_prog_holders()
                foreign = {i: holders.get(i) for i in during - before - progs
                           if not holders.get(i, set()) - {tracer.pid}}
                self.assertEqual(foreign, {},
                                 "new programs held by no other process")
                attached = [p for p in harness.bpftool_json("perf", "show")
                            if p.get("pid") == tracer.pid]
                self.assertEqual(
                    {(p.get("fd_type"), p.get("tracepoint")) for p in attached
                     if p.get("tracepoint")},
                    {("tracepoint", t) for t in want_tracepoints} |
                    {("raw_tracepoint", t) for t in want_raw})
                self.assertTrue({p.get("prog_id") for p in attached} <= progs)
                start = time.monotonic()
                tracer.send(sig)
                rc = tracer.wait_exit(3)
                took = time.monotonic() - start
                self.assertEqual(rc, 0, "exit code after %s within 3 s%s"
                                 % (sig.name, tracer.describe()))
                self.assertEqual(tracer.stderr_lines,
                                 [READY_LINE % EXPECTED_BACKEND])
                # The kernel frees programs and maps once the last
                # reference goes; allow it a moment.
                deadline = time.monotonic() + 3
                while True:
                    after = all_prog_ids()
                    left_maps = maps & harness.map_ids()
                    if not (progs & after or left_maps) or \
                            time.monotonic() > deadline:
                        break
                    time.sleep(0.1)
                self.assertFalse(progs & after,
                                 "our program is still loaded after exit")
                self.assertFalse(left_maps,
                                 "our maps are still loaded after exit")
                holders = harness.bpf_prog_holders()
                orphans = sorted(i for i in after - before
                                 if not holders.get(i))
                self.assertEqual(orphans, [],
                                 "programs loaded since the start that "
                                 "no process holds")
                sys.stderr.write("[%s: exit in %.2f s] " % (sig.name, took))

    def test_compiler_memory_given_back_and_output_pipe_widened(self):
        """Once ready, the pages of LLVM/Clang code the compile touched are
        no longer resident, the tracer is well under 80 MB, and it still
        reports; its output pipe was widened to 1 MiB."""
        port = next_port()
        tracer = start_tracer(self, "--include-ports", str(port))
        status = {}
        with open("/proc/%d/status" % tracer.pid) as f:
            for line in f:
                key, _, value = line.partition(":")
                if value.strip().endswith("kB"):
                    status[key] = int(value.split()[0])
        compiler_kb = 0
        with open("/proc/%d/smaps" % tracer.pid) as f:
            in_compiler = False
            for line in f:
                fields = line.split()
                if "-" in fields[0] and len(fields) >= 5:
                    in_compiler = len(fields) >= 6 and any(
                        n in fields[5] for n in ("libLLVM", "libclang"))
                elif in_compiler and fields[0] == "Rss:":
                    compiler_kb += int(fields[1])
        # The compile did happen (its peak is still on record)...
        self.assertGreater(status["VmHWM"], 60 * 1024, status)
        # ...and what it left is gone: only copied (RELRO) pages remain.
        self.assertLess(compiler_kb, 16 * 1024, status)
        self.assertLess(status["VmRSS"], 80 * 1024 * harness.RSS_FACTOR,
                        status)
        h = start_helper(self, [(V4_REPORTED, port)])
        h.wait_result()
        self.assertEqual(
            len(tracer.wait_events(lambda r: r.get("pid") == h.pid)), 1,
            "no event after the memory was given back" + tracer.describe())
        F_GETPIPE_SZ = 1032
        self.assertEqual(fcntl.fcntl(tracer.proc.stdout.fileno(),
                                     F_GETPIPE_SZ), 1 << 20)
        sys.stderr.write("[RSS %.1f MB, peak %.1f MB, LLVM/Clang %.1f MB] "
                         % (status["VmRSS"] / 1024, status["VmHWM"] / 1024,
                            compiler_kb / 1024))

    def test_compile_sees_a_short_kallsyms_that_nothing_else_sees(self):
        """BCC's compile reads a /proc/kallsyms of two lines (kallsyms.h):
        while the tracer starts, one of its threads has a mount over
        /proc/kallsyms, and the host never does; once ready, that thread
        and its namespace are gone; and BCC took the same decision it takes
        from the real file (bpf_probe_read_kernel, not the compat helper
        it falls back to when the symbol is missing)."""
        self.require_bpftool()
        host_ns = os.readlink("/proc/self/ns/mnt")

        def kallsyms_mounted(mountinfo_path):
            try:
                with open(mountinfo_path) as f:
                    return any(line.split()[4] == "/proc/kallsyms"
                               for line in f)
            except OSError:  # the task is gone
                return False

        tracer = Tracer(BINARY, [])
        self.addCleanup(tracer.kill)
        seen_in_thread = 0
        seen_on_host = 0
        while not tracer.ready.is_set() and tracer.proc.poll() is None:
            try:
                tids = os.listdir("/proc/%d/task" % tracer.pid)
            except OSError:
                tids = []
            for tid in tids:
                if tid != str(tracer.pid) and kallsyms_mounted(
                        "/proc/%d/task/%s/mountinfo" % (tracer.pid, tid)):
                    seen_in_thread += 1
            if kallsyms_mounted("/proc/self/mountinfo"):
                seen_on_host += 1
            time.sleep(0.005)
        tracer.wait_ready()
        self.assertGreater(seen_in_thread, 0,
                           "no tracer thread had /proc/kallsyms bound during "
                           "the compile")
        self.assertEqual(seen_on_host, 0)
        for tid in os.listdir("/proc/%d/task" % tracer.pid):
            self.assertEqual(
                os.readlink("/proc/%d/task/%s/ns/mnt" % (tracer.pid, tid)),
                host_ns)
        self.assertFalse(kallsyms_mounted("/proc/%d/mountinfo" % tracer.pid))
        with open("/proc/kallsyms") as f:
            self.assertGreater(sum(1 for _ in f), 1000)
        helpers = set()
        progs, _ = harness.fd_bpf_ids(tracer.pid)
        for prog in progs:
            text = harness.run([harness.find_bpftool(), "prog", "dump",
                                "xlated", "id", str(prog)]).stdout.decode()
            helpers.update(re.findall(r"call (bpf_probe_read\w*)", text))
        self.assertIn("bpf_probe_read_kernel", helpers)
        self.assertNotIn("bpf_probe_read_compat", helpers)
        self.assertNotIn("bpf_probe_read_compat_str", helpers)

    def test_events_in_buffer_at_sigint_are_written(self):
        """The tracer is stopped, a connect lands in the buffer, SIGINT is
        queued, the tracer resumes: the event must still be written."""
        port = next_port()
        tracer = start_tracer(self, "--include-ports", str(port))
        tracer.send(signal.SIGSTOP)
        try:
            h = start_helper(self, [(V4_REPORTED, port)])
            h.wait_result()
            tracer.send(signal.SIGINT)
        finally:
            tracer.send(signal.SIGCONT)
        rc = tracer.wait_exit(3)
        self.assertEqual(rc, 0, tracer.describe())
        evs = tracer.events(lambda r: r["pid"] == h.pid)
        self.assertEqual(len(evs), 1,
                         "the event in the buffer at SIGINT was not written"
                         + tracer.describe())
        self.assert_event(evs[0], tracer, port=port, error="")

    def test_reader_gone_after_first_line(self):
        """pidtree-bcc | head -n 1: exits 0, quietly, once head is gone."""
        port = next_port()
        r, w = os.pipe()
        try:
            head = subprocess.Popen(["head", "-n", "1"], stdin=r,
                                    stdout=subprocess.PIPE)
            self.addCleanup(head.stdout.close)
            self.addCleanup(head.kill)
            tracer = Tracer(BINARY, ["--include-ports", str(port)], stdout=w)
            self.addCleanup(tracer.kill)
        finally:
            os.close(r)
            os.close(w)
        tracer.wait_ready()
        h = start_helper(self, [(V4_REPORTED, port)])
        h.wait_result()
        line = harness._readline_timeout(head.stdout, 15)
        self.assertTrue(line, "head printed nothing" + tracer.describe())
        ev = json.loads(line)
        self.assert_event(ev, None, pid=h.pid, port=port)
        self.assertEqual(head.wait(5), 0)
        start = time.monotonic()
        rc = tracer.wait_exit(2)
        self.assertEqual(rc, 0, "tracer still running (or failed) 2 s after "
                         "its reader exited" + tracer.describe())
        sys.stderr.write("[exit %.2f s after head] "
                         % (time.monotonic() - start))
        self.assertEqual(tracer.stderr_lines, [READY_LINE % EXPECTED_BACKEND])

    def test_reader_gone_before_any_event(self):
        port = next_port()  # included, never connected to: no events
        r, w = os.pipe()
        try:
            tracer = Tracer(BINARY, ["--include-ports", str(port)], stdout=w)
            self.addCleanup(tracer.kill)
        finally:
            os.close(w)
        try:
            tracer.wait_ready()
        finally:
            os.close(r)
        start = time.monotonic()
        rc = tracer.wait_exit(2)
        self.assertEqual(rc, 0, "tracer did not exit 0 within 2 s of its "
                         "reader closing the pipe" + tracer.describe())
        sys.stderr.write("[exit %.2f s after close] "
                         % (time.monotonic() - start))
        self.assertEqual(tracer.stderr_lines, [READY_LINE % EXPECTED_BACKEND])

    def test_output_file_appends(self):
        path = os.path.join(harness.tmpdir(), "events-%d.jsonl" % next_port())
        with open(path, "w") as f:
            f.write("previous line\n")
        port = next_port()
        tracer = start_tracer(self, "-f", path, "--include-ports", str(port))
        h = start_helper(self, [(V4_REPORTED, port), (V6_REPORTED, port)])
        h.wait_result()

        def file_events():
            with open(path, "rb") as f:
                lines = f.read().split(b"\n")
            return lines

        deadline = time.monotonic() + 15
        while len(file_events()) < 4 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(tracer.stop(signal.SIGINT, 3), 0)
        lines = file_events()
        self.assertEqual(lines[0], b"previous line", "not appended")
        self.assertEqual(lines[-1], b"", "file does not end in a newline")
        evs = [json.loads(l) for l in lines[1:-1]]
        self.assertEqual(len(evs), 2, lines)
        for ev, daddr in zip(evs, (V4_REPORTED, V6_REPORTED)):
            self.assert_event(ev, None, pid=h.pid, daddr=daddr, port=port)
        self.assertEqual(tracer.lines, [], "stdout must stay empty")

    def test_output_file_that_cannot_be_opened(self):
        path = os.path.join(harness.tmpdir(), "no-such-dir", "out.jsonl")
        p = subprocess.run([BINARY, "-f", path], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.returncode, 1, p.stderr)
        self.assertEqual(p.stdout, b"")
        err = p.stderr.decode()
        self.assertTrue(err.startswith("pidtree-bcc: error: ") and
                        path in err and err.count("\n") == 1, err)


# ============================================================ backends

class TestBackends(unittest.TestCase, EventAsserts):
    def traces(self, tracer):
        port = next_port()
        h = start_helper(self, [(V4_REPORTED, port)])
        h.wait_result()
        evs = tracer.wait_events(lambda r: r["pid"] == h.pid)
        self.assertEqual(len(evs), 1, tracer.describe())
        self.assert_event(evs[0], tracer, pid=h.pid, port=port,
                          daddr=V4_REPORTED, error="")
        return evs[0]

    def test_kprobe_backend(self):
        if harness.kprobes_available():
            tracer = start_tracer(self, "--backend", "kprobe")
            self.assertEqual(tracer.backend, "kprobe")
            ev = self.traces(tracer)
            self.assertGreater(ev["sport"], 0)
            return
        p = subprocess.run([BINARY, "--backend", "kprobe"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 1, err)
        self.assertEqual(p.stdout, b"")
        self.assertTrue(err.startswith("pidtree-bcc: error: "), err)
        self.assertEqual(err.count("\n"), 1, err)
        self.assertIn("kprobes", err)

    def test_tracepoint_backend(self):
        tracer = start_tracer(self, "--backend", "tracepoint")
        self.assertEqual(tracer.backend, "tracepoint")
        self.assertEqual(self.traces(tracer)["sport"], 0)

    def test_tracepoint_backend_with_and_without_kernel_btf(self):
        """The tracepoint backend reads the socket itself in a raw
        tracepoint, at offsets from the kernel's BTF; with the BTF hidden
        (/dev/null bound over it in a mount namespace of the test's own) it
        reads the classic tracepoint's record. Both report the same fields
        for the same connects, and filter the same ones."""
        seen = {}
        # The same in both modes.
        port, sport, sport2 = next_port(), next_port(), next_port()
        for mode, prefix in (("raw", ()), ("classic", HIDE_BTF)):
            with self.subTest(mode=mode):
                if mode == "raw" and not os.path.exists(harness.KERNEL_BTF):
                    self.fail("this kernel has no BTF to test the raw "
                              "tracepoint with")
                tracer = Tracer(BINARY, ["--backend", "tracepoint"],
                                user_argv_prefix=prefix)
                self.addCleanup(tracer.kill)
                tracer.wait_ready()
                attached = [p.get("fd_type") for p in
                            harness.bpftool_json("perf", "show")
                            if p.get("pid") == tracer.pid and
                            p.get("tracepoint") == "inet_sock_set_state"]
                self.assertEqual(attached, ["raw_tracepoint" if mode == "raw"
                                            else "tracepoint"])
                cases = {
                    "ipv4": ([(V4_REPORTED, port)], {}),
                    "ipv6": ([(V6_REPORTED, port)], {}),
                    "mapped": ([("::ffff:" + V4_SECOND, port)], {}),
                    "bound": ([(V4_REPORTED, port)], {"bind_port": sport}),
                    # A source address unlike the destination.
                    "from": ([(V4_REPORTED, port)],
                             {"bind_addr": V4_SECOND, "bind_port": sport2}),
                    # Filtered by default (loopback), then one reported:
                    # only the second may show.
                    "filtered": ([("127.0.0.1", port), (V4_SECOND, port)],
                                 {}),
                }
                for name, (targets, kw) in cases.items():
                    h = start_helper(self, targets, **kw)
                    h.wait_result()
                    [ev] = tracer.wait_events(lambda r: r["pid"] == h.pid)
                    time.sleep(0.2)  # room for a wrong second event
                    evs = tracer.events(lambda r: r["pid"] == h.pid)
                    self.assertEqual(len(evs), 1, tracer.describe())
                    self.assert_event(ev, tracer, pid=h.pid, error="")
                    seen.setdefault(name, []).append(
                        {k: ev[k] for k in ("family", "saddr", "sport",
                                            "daddr")})
                tracer.stop()
        self.assertEqual(seen["ipv4"][0], {
            "family": "ipv4", "saddr": V4_REPORTED, "sport": 0,
            "daddr": V4_REPORTED})
        self.assertEqual(seen["ipv6"][0], {
            "family": "ipv6", "saddr": canonical(V6_REPORTED), "sport": 0,
            "daddr": canonical(V6_REPORTED)})
        self.assertEqual(seen["mapped"][0]["daddr"], "::ffff:" + V4_SECOND)
        self.assertEqual(seen["bound"][0]["sport"], sport)
        self.assertEqual(seen["from"][0]["saddr"], V4_SECOND)
        self.assertEqual(seen["from"][0]["daddr"], V4_REPORTED)
        self.assertEqual(seen["from"][0]["sport"], sport2)
        self.assertEqual(seen["filtered"][0]["daddr"], V4_SECOND)
        for name, (raw, classic) in seen.items():
            self.assertEqual(raw, classic, name)

    def test_auto_backend(self):
        tracer = start_tracer(self, "--backend", "auto")
        self.assertEqual(tracer.backend, EXPECTED_BACKEND)
        self.traces(tracer)


# ============================================================ errors

class TestRuntimeErrors(unittest.TestCase):
    def test_not_root(self):
        copy = os.path.join(harness.tmpdir(), "pidtree-bcc-nobody")
        shutil.copy(BINARY, copy)
        os.chmod(copy, 0o755)
        p = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             copy], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, timeout=60)
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 1, err)
        self.assertEqual(p.stdout, b"")
        self.assertTrue(err.startswith("pidtree-bcc: error: "), err)
        self.assertEqual(err.count("\n"), 1, err)
        self.assertRegex(err, r"root|sudo")

    def test_exec_argv_without_kernel_btf(self):
        """With the kernel's BTF hidden (an empty file bound over it in a
        mount namespace of the test's own): `--exec-argv memory` is refused
        in one line; `auto` says so in a note and builds the program that
        reads argv at execve()."""
        def run(*args):
            return subprocess.run(
                HIDE_BTF + [BINARY] + list(args),
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, timeout=60)

        p = run("--exec-argv", "memory")
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 1, err)
        self.assertEqual(p.stdout, b"")
        self.assertEqual(err.count("\n"), 1, err)
        self.assertTrue(err.startswith(
            "pidtree-bcc: error: --exec-argv memory needs the kernel's BTF: "
            "cannot read %s: " % harness.KERNEL_BTF), err)
        self.assertTrue(err.endswith(" (try --exec-argv syscall)\n"), err)

        p = run("-p")
        err = p.stderr.decode()
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(err.count("\n"), 1, err)
        self.assertTrue(err.startswith(
            "pidtree-bcc: note: cannot read %s: " % harness.KERNEL_BTF), err)
        self.assertIn("read at execve() through syscall tracepoints", err)
        program = p.stdout.decode()
        self.assertIn("#define PIDTREE_ARGV_FROM_MEMORY 0\n", program)
        self.assertNotIn("#define PIDTREE_TASK_MM", program)
        self.assertIn("#define PIDTREE_SOCK_FROM_BTF 0\n", program)
        # The same without the bind: the BTF is read, and no note.
        p = subprocess.run([BINARY, "-p"], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(p.stderr, b"")
        self.assertIn(b"#define PIDTREE_ARGV_FROM_MEMORY 1\n", p.stdout)
        self.assertIn(b"#define PIDTREE_SOCK_FROM_BTF %d\n"
                      % (EXPECTED_BACKEND == "tracepoint"), p.stdout)

    def test_bad_filter_as_root(self):
        for args in (["--filter", "10.1.0.0/8"], ["--filter", "bogus"],
                     ["--include-ports", "1-2-3"]):
            with self.subTest(args=args):
                start = time.monotonic()
                p = subprocess.run([BINARY] + args, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, timeout=60)
                err = p.stderr.decode()
                self.assertEqual(p.returncode, 2, err)
                self.assertEqual(p.stdout, b"")
                self.assertTrue(err.startswith("pidtree-bcc: error: "), err)
                self.assertEqual(err.count("\n"), 1, err)
                self.assertIn(args[1], err)
                self.assertLess(time.monotonic() - start, 5,
                                "bad input must be refused before loading")


if __name__ == "__main__":
    harness.main(globals(), needs_root=True)
