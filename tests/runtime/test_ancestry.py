#!/usr/bin/env python3
"""Runtime tests of race-free ancestry (root, real kernel).

The process table is fed by the kernel's fork/exec/exit events, so a
process that connects and exits (or execs) at once is still reported with
the tree and command line it had at the connect.

usage: test_ancestry.py PATH-TO-pidtree-bcc [unittest args]

PIDTREE_TEST_ANCESTRY=proc runs the same cases against the old lookup (a
/proc walk when the event is handled), to show that they catch its race:
with it, the short-lived chain and exec cases fail.
"""
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import V4_REPORTED, V4_SECOND, Tracer  # noqa: E402

BINARY = None  # set by harness.main from argv[1]
NS = None
ANCESTRY = os.environ.get("PIDTREE_TEST_ANCESTRY", "table")

PORTS = harness.Ports(11000, 20000)
next_port = PORTS.next


def setUpModule():
    global NS
    NS = harness.module_netns()


def tearDownModule():
    harness.end_module(NS)


def own_tree():
    """[(pid, cmdline)] of this test process up to pid 1, from /proc."""
    out, pid = [], os.getpid()
    while True:
        out.append((pid, harness.proc_cmdline(pid)))
        if pid == 1:
            return out
        pid = harness.proc_ppid(pid)


class Load:
    """Background work while the cases run: a stream of reported connects
    (kept moderate: this test reads every line in Python), a storm of
    connects filtered in the kernel, and fork/exec churn from two shells."""

    def __init__(self):
        py = harness.HELPER_PYTHON
        helper = harness.helper_script()
        self.procs = [
            subprocess.Popen(NS.prefix() + [py, helper, "--count", "3000",
                                            "%s,%d" % (V4_SECOND, 9)],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL),
            subprocess.Popen(NS.prefix() + [py, helper, "--count", "200000",
                                            "10.255.0.7,9"],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL),
        ] + [
            subprocess.Popen(["sh", "-c", "i=0; while [ $i -lt 3000 ]; do "
                              "/bin/true; i=$((i+1)); done"],
                             stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
            for _ in range(2)
        ]

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
            p.wait()


class RaceFreeAncestry(unittest.TestCase):
    """With --exec-argv auto: argv from the new program's memory where the
    kernel has BTF (this machine and CI's), else from execve()."""
    EXEC_ARGV = "auto"

    @classmethod
    def setUpClass(cls):
        cls.tracer = Tracer(BINARY, ["--ancestry", ANCESTRY, "--exec-argv",
                                     cls.EXEC_ARGV])
        cls.tracer.wait_ready()

    @classmethod
    def tearDownClass(cls):
        cls.tracer.kill()

    def events_on_port(self, port, count=1, timeout=20):
        evs = self.tracer.wait_events(
            lambda r: r["port"] == port and r["daddr"] == V4_REPORTED,
            count, timeout)
        self.assertEqual(len(evs), count, "port %d%s" % (
            port, self.tracer.describe(lambda r: r.get("port") == port)))
        return evs

    def test_short_lived_chains_under_load(self):
        """sh -> sh -> bash that connects once and exits, many times over,
        while other processes connect and fork: every tree complete."""
        tail = own_tree()
        load = Load()
        self.addCleanup(load.stop)
        time.sleep(0.5)  # let the load get going
        chains = []
        for i in range(120):
            port = next_port()
            inner = ("bash -c 'exec 3<>/dev/tcp/%s/%d' 2>/dev/null; "
                     ": inner-%d" % (V4_REPORTED, port, i))
            outer = 'sh -c "%s"; : outer-%d' % (inner, i)
            p = subprocess.Popen(NS.prefix() + ["sh", "-c", outer],
                                 stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)
            chains.append((port, p, inner, outer))
            if i % 10 == 9:  # ten at a time
                for _, q, _, _ in chains[-10:]:
                    q.wait()
        for _, p, _, _ in chains:
            p.wait()
        problems = []
        self.assertEqual(self.tracer.lost_records(), [])
        for port, p, inner, outer in chains:
            evs = self.tracer.wait_events(
                lambda r, port=port: r["port"] == port and
                r["daddr"] == V4_REPORTED, 1, 20)
            if len(evs) != 1:
                problems.append("port %d: %d events" % (port, len(evs)))
                continue
            ev = evs[0]
            got = [(n["pid"], n["cmdline"]) for n in ev["proctree"]]
            want_top = ["bash -c exec 3<>/dev/tcp/%s/%d" % (V4_REPORTED, port),
                        "sh -c " + inner, "sh -c " + outer]
            if ([c for _, c in got[:3]] != want_top or
                    got[2][0] != p.pid or got[3:] != tail or
                    ev["pid"] != got[0][0] or ev["error"] != ""):
                problems.append("port %d: tree %r error %r"
                                % (port, got[:4], ev["error"]))
        self.assertEqual(problems, [], "%d of %d chains wrong:\n%s" % (
            len(problems), len(chains), "\n".join(problems[:10])))
        self.assertEqual(self.tracer.lost_records(), [])
        self.assertEqual(self.tracer.bad_lines, [])

    def test_connect_then_exec_keeps_the_connecting_cmdline(self):
        port = next_port()
        code = ("import os, socket; s = socket.socket(); "
                "s.connect_ex(('%s', %d)); "
                "os.execv('/bin/sleep', ['sleep', '1'])" % (V4_REPORTED, port))
        argv = [harness.HELPER_PYTHON, "-c", code, "--marker=%d" % port]
        p = subprocess.Popen(NS.prefix() + argv)
        [ev] = self.events_on_port(port)
        p.wait()
        self.assertEqual(ev["pid"], p.pid)
        self.assertEqual(ev["proctree"][0]["pid"], p.pid)
        self.assertEqual(ev["proctree"][0]["cmdline"], " ".join(argv))
        self.assertEqual(ev["error"], "")

    def test_process_started_before_the_tracer_is_in_the_tree(self):
        """A shell that existed before the tracer attached (so it is only
        known from the /proc scan) connects through a child."""
        port = next_port()
        script = ("read go; bash -c 'exec 3<>/dev/tcp/%s/%d' 2>/dev/null; "
                  ": started-before" % (V4_REPORTED, port))
        shell = subprocess.Popen(NS.prefix() + ["sh", "-c", script],
                                 stdin=subprocess.PIPE)
        self.addCleanup(shell.kill)
        time.sleep(0.3)
        tracer = Tracer(BINARY, ["--ancestry", ANCESTRY])
        self.addCleanup(tracer.kill)
        tracer.wait_ready()
        shell.stdin.write(b"go\n")
        shell.stdin.flush()
        shell.wait(10)
        evs = tracer.wait_events(lambda r: r["port"] == port, 1, 20)
        self.assertEqual(len(evs), 1, tracer.describe())
        tree = evs[0]["proctree"]
        self.assertEqual(tree[1], {"pid": shell.pid,
                                   "cmdline": "sh -c " + script,
                                   "username": "root"})
        self.assertEqual([(n["pid"], n["cmdline"]) for n in tree[2:]],
                         own_tree())
        self.assertEqual(evs[0]["error"], "")

    def test_uid_change_shows_in_the_tree(self):
        port = next_port()
        code = ("import os, socket, time; os.setgid(65534); os.setuid(65534);"
                " socket.socket().connect_ex(('%s', %d)); time.sleep(0.5)"
                % (V4_REPORTED, port))
        p = subprocess.Popen(NS.prefix() + [harness.HELPER_PYTHON, "-c", code])
        [ev] = self.events_on_port(port)
        p.wait()
        self.assertEqual(ev["username"], "nobody")
        self.assertEqual(ev["proctree"][0]["username"], "nobody")
        self.assertEqual(ev["proctree"][1]["username"], "root")

    def test_uid_change_then_fork_shows_in_the_parent(self):
        """A process drops to nobody, then forks a child that connects: the
        parent's node says nobody too (from its set*uid() exit, or, without
        syscall events, from the fork itself)."""
        port = next_port()
        code = ("import os, socket, time; os.setgid(65534); os.setuid(65534)\n"
                "if os.fork() == 0:\n"
                "    socket.socket().connect_ex(('%s', %d)); os._exit(0)\n"
                "os.wait(); time.sleep(0.5)" % (V4_REPORTED, port))
        p = subprocess.Popen(NS.prefix() + [harness.HELPER_PYTHON, "-c", code])
        [ev] = self.events_on_port(port)
        p.wait()
        self.assertEqual(ev["proctree"][1]["pid"], p.pid)
        self.assertEqual([n["username"] for n in ev["proctree"][:3]],
                         ["nobody", "nobody", "root"], ev)

    def test_many_short_arguments(self):
        """300 arguments in 1.2 kB: all kept when argv is read from memory;
        cut at 256 (and marked) when read at execve()."""
        port = next_port()
        code = ("import socket; socket.socket().connect_ex(('%s', %d))"
                % (V4_REPORTED, port))
        argv = [harness.HELPER_PYTHON, "-c", code] + ["a%d" % i
                                                       for i in range(297)]
        p = subprocess.Popen(NS.prefix() + argv)
        [ev] = self.events_on_port(port)
        p.wait()
        cmdline = ev["proctree"][0]["cmdline"]
        if self.tracer_reads_memory():
            self.assertEqual(cmdline, harness.kernel_cmdline(argv))
        else:
            self.assertEqual(cmdline, " ".join(argv[:256]) + harness.CUT_MARKER)

    def tracer_reads_memory(self):
        return (self.EXEC_ARGV == "memory" or
                (self.EXEC_ARGV == "auto" and os.path.exists(harness.KERNEL_BTF)))

    def test_threads_never_appear_as_nodes(self):
        port = next_port()
        code = ("import socket, threading, time\n"
                "def go():\n"
                "    t = threading.Thread(target=lambda: socket.socket()"
                ".connect_ex(('%s', %d)))\n"
                "    t.start(); t.join()\n"
                "w = threading.Thread(target=go); w.start(); w.join()\n"
                % (V4_REPORTED, port))
        p = subprocess.Popen(NS.prefix() + [harness.HELPER_PYTHON, "-c", code])
        [ev] = self.events_on_port(port)
        p.wait()
        self.assertEqual(ev["pid"], p.pid)
        self.assertNotEqual(ev["tid"], p.pid)
        self.assertEqual(ev["proctree"][0]["pid"], p.pid)
        self.assertEqual(ev["proctree"][1]["pid"], os.getpid())

    def test_long_argv_is_cut_and_marked(self):
        port = next_port()
        code = ("import socket; socket.socket().connect_ex(('%s', %d))"
                % (V4_REPORTED, port))
        argv = [harness.HELPER_PYTHON, "-c", code] + ["x" * 1000] * 20
        p = subprocess.Popen(NS.prefix() + argv)
        [ev] = self.events_on_port(port)
        p.wait()
        cmdline = ev["proctree"][0]["cmdline"]
        self.assertEqual(cmdline, harness.kernel_cmdline(argv))
        self.assertTrue(cmdline.endswith(harness.CUT_MARKER))


class RaceFreeAncestrySyscallArgv(RaceFreeAncestry):
    """The same with argv read at execve() through syscall tracepoints (the
    fallback for kernels without BTF)."""
    EXEC_ARGV = "syscall"


class ProcWalkFallback(unittest.TestCase):
    """--ancestry proc: the documented racy mode reports what it could
    not read in `error`."""

    def test_exited_process_is_reported_with_an_error(self):
        tracer = Tracer(BINARY, ["--ancestry", "proc"])
        self.addCleanup(tracer.kill)
        tracer.wait_ready()
        port = next_port()
        tracer.send(signal.SIGSTOP)
        try:
            p = subprocess.Popen(NS.prefix() + [
                harness.HELPER_PYTHON, "-c",
                "import socket; socket.socket().connect_ex(('%s', %d))"
                % (V4_REPORTED, port)])
            p.wait()
        finally:
            tracer.send(signal.SIGCONT)
        evs = tracer.wait_events(lambda r: r["port"] == port, 1, 20)
        self.assertEqual(len(evs), 1, tracer.describe())
        self.assertEqual(evs[0]["proctree"], [])
        self.assertIn("the event's process %d exited" % p.pid, evs[0]["error"])


if __name__ == "__main__":
    harness.main(globals(), needs_root=True)
