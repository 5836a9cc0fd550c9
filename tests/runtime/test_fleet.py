#!/usr/bin/env python3
"""Runtime tests of what a fleet runs the tracer with (issue 16): the
stats line, upstream's --lost-event-telemetry and --health-check-period,
a real log shipper (rsyslog's imfile, forwarding over TCP to a
receiver on loopback) reading the output file through a rotation, and
--format text in a terminal (tmux) as a person sees it.

usage: sudo python3 test_fleet.py PATH-TO-pidtree-bcc

Traffic rule: every connect goes to a closed port on an address of this
test's own network namespace (harness.NetNs), refused at once.
"""
import json
import os
import re
import shlex
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


def setUpModule():
    global NS, PORTS
    NS = harness.module_netns()
    PORTS = harness.Ports(29000, 30000)


def tearDownModule():
    harness.end_module(NS)


def records_of(tracer, kind):
    with tracer.cond:
        return [r for r in tracer.records
                if r is not None and r.get("type") == kind]


def wait_records(tracer, kind, count, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = records_of(tracer, kind)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    raise AssertionError("%d %s line(s) of %d in %d s:\n%s" % (
        len(records_of(tracer, kind)), kind, count, timeout,
        tracer.describe()))


class TestTelemetry(unittest.TestCase):
    def start(self, *args):
        t = Tracer(BINARY, args)
        self.addCleanup(t.kill)
        t.wait_ready()
        return t

    def connects(self, port, count):
        h = Helper(NS, [(V4_REPORTED, port)], count=count)
        self.addCleanup(h.release)
        h.wait_result(60)
        return h

    def test_a_stats_line_every_interval(self):
        """--stats-interval 1: a stats line about every second, whose
        counters follow what the tracer did: the probe's lines, the
        process table, its RSS and CPU."""
        port = PORTS.next()
        t = self.start("--stats-interval", "1", "--include-ports", str(port))
        h = self.connects(port, 3)
        t.wait_events(lambda r: r["pid"] == h.pid, 3, 15)
        first = wait_records(t, "stats", 1, 10)
        n = len(first)
        lines = wait_records(t, "stats", n + 2, 10)
        last = lines[-1]
        self.assertEqual(set(last), {
            "type", "timestamp", "interval_s", "events", "events_interval",
            "lines", "lost", "lost_interval", "malformed",
            "container_dropped", "process_table", "reloads", "rss_kb",
            "cpu_s", "cpu_pct"}, last)
        self.assertRegex(last["timestamp"], harness.TIMESTAMP_RE)
        self.assertGreater(last["interval_s"], 0.9)
        self.assertLess(last["interval_s"], 1.5)
        self.assertGreaterEqual(last["lines"]["tcp_connect"], 3)
        self.assertGreaterEqual(last["events"], 3)
        self.assertEqual(last["lost"], 0)
        self.assertGreater(last["process_table"]["live"], 10)
        self.assertEqual(last["reloads"], {"applied": 0, "refused": 0})
        self.assertGreater(last["rss_kb"], 5000)
        self.assertGreater(last["cpu_s"], 0)
        self.assertGreaterEqual(last["cpu_pct"], 0)
        # The counters only grow; the interval's are since the line before.
        for a, b in zip(lines, lines[1:]):
            self.assertLessEqual(a["events"], b["events"])
            self.assertEqual(b["events"] - a["events"], b["events_interval"])
        self.assertEqual(t.bad_lines, [])
        self.assertEqual(t.stop(), 0)

    def test_upstreams_lost_event_telemetry_and_health_check_period(self):
        """Upstream's unit files start unchanged: --lost-event-telemetry 5
        writes a lost_event_telemetry line once 5 more events were handled,
        and --health-check-period is taken."""
        port = PORTS.next()
        t = self.start("--lost-event-telemetry", "5", "--health-check-period",
                       "30", "--include-ports", str(port))
        # Two rounds, each handled in batches of its own: a line each (a
        # batch that passes several multiples makes one).
        for _ in range(2):
            h = self.connects(port, 6)
            t.wait_events(lambda r: r["pid"] == h.pid, 6, 15)
            time.sleep(0.3)
        lines = wait_records(t, "lost_event_telemetry", 2, 10)
        for line in lines:
            self.assertEqual(set(line), {"type", "timestamp", "count"}, line)
            self.assertEqual(line["count"], 0)
        self.assertEqual(t.stop(), 0)


class Receiver:
    """A TCP receiver on loopback: keeps every byte sent to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.data = bytearray()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._read, args=(conn,),
                             daemon=True).start()

    def _read(self, conn):
        with conn:
            while True:
                chunk = conn.recv(1 << 16)
                if not chunk:
                    return
                with self.lock:
                    self.data += chunk

    def lines(self):
        with self.lock:
            return bytes(self.data).split(b"\n")[:-1]

    def close(self):
        self.sock.close()


RSYSLOG_CONF = """
global(workDirectory="{work}" maxMessageSize="64k")
module(load="imfile" mode="inotify")
input(type="imfile" file="{file}" tag="pidtree-bcc" reopenOnTruncate="on")
template(name="line" type="string" string="%msg%\\n")
action(type="omfwd" target="127.0.0.1" port="{port}" protocol="tcp"
       template="line")
"""


class TestShipper(unittest.TestCase):
    def test_rsyslog_imfile_forwards_every_line_through_a_rotation(self):
        """rsyslog (its own instance and configuration) follows the output
        file with imfile and forwards each line over TCP: the file is
        rotated (renamed, then SIGHUP) while connects are written, and
        every connect arrives once, each line whole JSON."""
        rsyslogd = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"
        self.assertTrue(os.access(rsyslogd, os.X_OK),
                        "rsyslogd missing: scripts/setup.sh installs it")
        d = tempfile.mkdtemp(prefix="pidtree-ship-")
        self.addCleanup(shutil.rmtree, d, True)
        work = os.path.join(d, "work")
        os.mkdir(work)
        out = os.path.join(d, "events.jsonl")
        receiver = Receiver()
        self.addCleanup(receiver.close)
        conf = os.path.join(d, "rsyslog.conf")
        with open(conf, "w") as f:
            f.write(RSYSLOG_CONF.format(work=work, file=out,
                                        port=receiver.port))
        port = PORTS.next()
        # Every connect its own line (no flood summaries) for the count.
        t = Tracer(BINARY, ["-f", out, "--flood-budget", "0",
                            "--include-ports", str(port)],
                   stdout=subprocess.DEVNULL)
        self.addCleanup(t.kill)
        t.wait_ready()
        rs = subprocess.Popen([rsyslogd, "-n", "-f", conf, "-i",
                               os.path.join(d, "rsyslogd.pid")],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

        def stop_rsyslog():
            if rs.poll() is None:
                rs.terminate()
                try:
                    rs.wait(10)
                except subprocess.TimeoutExpired:
                    rs.kill()
                    rs.wait()
            rs.stdout.close()
        self.addCleanup(stop_rsyslog)
        time.sleep(1)
        if rs.poll() is not None:
            self.fail("rsyslogd exited: " +
                      rs.stdout.read().decode(errors="replace"))
        pids, want = [], 0
        for n in (1, 2):
            h = Helper(NS, [(V4_REPORTED, port)], count=500)
            self.addCleanup(h.release)
            h.wait_result(60)
            pids.append(h.pid)
            want += 500
            time.sleep(0.5)
            # logrotate without copytruncate: rename, then postrotate's
            # SIGHUP; a connect storm meanwhile.
            storm = Helper(NS, [(V4_REPORTED, port)], count=500, hold=False)
            self.addCleanup(storm.release)
            os.rename(out, "%s.%d" % (out, n))
            t.send(signal.SIGHUP)
            storm.wait_result(60)
            pids.append(storm.pid)
            want += 500
        deadline = time.monotonic() + 60

        def ours():
            got = []
            for raw in receiver.lines():
                rec = json.loads(raw)  # every line whole JSON
                if rec.get("pid") in pids and "type" not in rec:
                    got.append(rec)
            return got
        while time.monotonic() < deadline and len(ours()) < want:
            time.sleep(0.2)
        got = ours()
        self.assertEqual(len(got), want, "%d of %d lines arrived" %
                         (len(got), want))
        for pid in pids:
            self.assertEqual(sum(1 for r in got if r["pid"] == pid), 500, pid)
        for raw in receiver.lines():
            self.assertIsInstance(json.loads(raw), dict)
        self.assertEqual(t.stop(), 0)


SGR = re.compile(r"\x1b\[[0-9;]*m")


class TestTextInATerminal(unittest.TestCase):
    """--format text as a person sees it: the tracer in a tmux pane (a
    server of this test's own, -L), a connect made, the pane read back
    with tmux capture-pane, then Ctrl-C typed into it."""

    def setUp(self):
        self.tmux = shutil.which("tmux")
        self.assertIsNotNone(self.tmux, "tmux missing: scripts/setup.sh "
                             "installs it")
        self.socket = "pidtree-test-%d" % os.getpid()
        self.dir = tempfile.mkdtemp(prefix="pidtree-tmux-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.addCleanup(self.tmux_run, "kill-server", check=False)

    def tmux_run(self, *args, check=True):
        p = subprocess.run([self.tmux, "-L", self.socket, "-f", "/dev/null"]
                           + list(args), stdin=subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=30)
        if check and p.returncode != 0:
            self.fail("tmux %s: %s" % (" ".join(args), p.stderr.decode()))
        return p.stdout.decode("utf-8", "replace")

    def start_in_pane(self, name, env, port):
        """The tracer in a new session's pane, its stderr to a file, the
        shell writing its exit status afterwards and staying so the pane
        can still be read. Returns (tracer pid, stderr path, status
        path)."""
        err = os.path.join(self.dir, name + ".err")
        status = os.path.join(self.dir, name + ".status")
        tracer = [BINARY, "--format", "text", "--include-ports", str(port)]
        script = ("trap true INT; %s %s 2>%s; echo $? >%s; exec sleep 600" % (
            " ".join(shlex.quote(e) for e in env),
            " ".join(shlex.quote(a) for a in tracer), shlex.quote(err),
            shlex.quote(status)))
        self.tmux_run("new-session", "-d", "-s", name, "-x", "400", "-y",
                      "60", "sh -c %s" % shlex.quote(script))
        shell = int(self.tmux_run("list-panes", "-t", name, "-F",
                                  "#{pane_pid}").split()[0])
        deadline = time.monotonic() + harness.READY_TIMEOUT
        pid = None
        while time.monotonic() < deadline:
            if pid is None:
                children = harness.proc_children(shell)
                pid = children[0] if children else None
                if pid is not None:
                    self.addCleanup(self.kill, pid)
            if os.path.exists(err):
                with open(err) as f:
                    if "Ctrl-C to stop" in f.read():
                        return pid, err, status
            if os.path.exists(status):
                break
            time.sleep(0.1)
        stderr = ""
        if os.path.exists(err):
            with open(err) as f:
                stderr = f.read()
        self.fail("the tracer in tmux did not start; stderr:\n" + stderr)

    @staticmethod
    def kill(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def capture(self, name, escapes=False):
        # The scrollback too (-S -): on a host whose tree is deep, the
        # event's headline may have scrolled out of the visible rows.
        args = ["capture-pane", "-p", "-J", "-S", "-", "-t", name]
        if escapes:
            args.insert(1, "-e")
        return self.tmux_run(*args)

    def wait_pane(self, name, text, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pane = self.capture(name)
            if text in pane:
                return pane
            time.sleep(0.2)
        self.fail("%r not in the pane in %d s:\n%s" % (text, timeout,
                                                         self.capture(name)))

    def connect_and_read(self, name, env):
        port = PORTS.next()
        pid, err, status = self.start_in_pane(name, env, port)
        h = Helper(NS, [(V4_REPORTED, port)])
        self.addCleanup(h.release)
        h.wait_result(60)
        pane = self.wait_pane(name, "-> %s:%d" % (V4_REPORTED, port))
        coloured = self.capture(name, escapes=True)
        lines = pane.splitlines()
        head = [i for i, line in enumerate(lines)
                if "-> %s:%d" % (V4_REPORTED, port) in line]
        self.assertEqual(len(head), 1, pane)
        event = lines[head[0]:]
        # The headline: time, probe, source -> destination.
        self.assertRegex(event[0], r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+Z"
                         r"  tcp_connect  \S+:\d+ -> %s:%d$" % (
                             re.escape(V4_REPORTED), port))
        self.assertRegex(event[1], r"^    by pid %d (tid %d )?\(python3\) "
                         r"user root uid 0$" % (h.pid, h.pid))
        # The tree from pid 1 down: this test above the helper, each
        # level indented further, the helper's command line last.
        tree = [line for line in event[2:] if line.strip()]
        self.assertRegex(tree[0], r"^    1 root  \S")
        mine = [i for i, line in enumerate(tree)
                if re.search(r"\u2514\u2500 %d root  " % os.getpid(), line)]
        helper = [i for i, line in enumerate(tree)
                  if re.search(r"\u2514\u2500 %d root  " % h.pid, line)]
        self.assertEqual(len(mine), 1, pane)
        self.assertEqual(len(helper), 1, pane)
        self.assertLess(mine[0], helper[0], pane)
        self.assertTrue(tree[helper[0]].endswith(h.cmdline()), pane)
        indent = [len(line) - len(line.lstrip()) for line in tree[
            :helper[0] + 1]]
        self.assertEqual(indent, sorted(indent), pane)
        self.assertFalse([line for line in lines
                          if line.lstrip().startswith('{"')],
                         "a JSON line in the text view:\n" + pane)
        self.assertEqual(SGR.sub("", coloured).rstrip("\n"),
                         pane.rstrip("\n"))
        # Ctrl-C typed in the pane: the tracer stops cleanly.
        self.tmux_run("send-keys", "-t", name, "C-c")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not os.path.exists(status):
            time.sleep(0.1)
        time.sleep(0.2)
        with open(status) as f, open(err) as e:
            self.assertEqual(f.read().strip(), "0", e.read())
        return coloured, h

    def test_a_connect_reads_as_a_headline_and_a_tree_in_colour(self):
        coloured, h = self.connect_and_read(
            "colour", ["env", "-u", "NO_COLOR", "TERM=screen"])
        self.assertRegex(coloured, r"\x1b\[[0-9;]*1[0-9;]*mtcp_connect",
                         "the probe is not bold")
        # The event's own command line stands out (bold).
        self.assertRegex(coloured, r"\x1b\[[0-9;]*1[0-9;]*m%s" %
                         re.escape(h.cmdline()[:20]))

    def test_no_colour_with_NO_COLOR(self):
        coloured, _ = self.connect_and_read(
            "nocolour", ["env", "NO_COLOR=1", "TERM=screen"])
        self.assertIsNone(SGR.search(coloured), repr(coloured))

    def test_no_colour_in_a_file(self):
        """-f FILE from a terminal: the view, without escapes."""
        port = PORTS.next()
        out = os.path.join(self.dir, "view.txt")
        t = Tracer(BINARY, ["--format", "text", "-f", out,
                            "--include-ports", str(port)],
                   stdout=subprocess.DEVNULL)
        self.addCleanup(t.kill)
        t.wait_ready()
        h = Helper(NS, [(V4_REPORTED, port)])
        self.addCleanup(h.release)
        h.wait_result(60)
        want = "-> %s:%d" % (V4_REPORTED, port)
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline and want not in text:
            time.sleep(0.2)
            with open(out, encoding="utf-8") as f:
                text = f.read()
        self.assertIn(want, text)
        self.assertIn("by pid %d " % h.pid, text)
        self.assertNotIn("\x1b", text)
        self.assertEqual(t.stop(), 0)


if __name__ == "__main__":
    harness.main(globals(), needs_root=True)
