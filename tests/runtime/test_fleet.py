#!/usr/bin/env python3
"""Runtime tests of what a fleet runs the tracer with (issue 16): the
stats line, upstream's --lost-event-telemetry and --health-check-period,
and a real log shipper (rsyslog's imfile, forwarding over TCP to a
receiver on loopback) reading the output file through a rotation.

usage: sudo python3 test_fleet.py PATH-TO-pidtree-bcc

Traffic rule: every connect goes to a closed port on an address of this
test's own network namespace (harness.NetNs), refused at once.
"""
import json
import os
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


if __name__ == "__main__":
    harness.main(globals(), needs_root=True)
