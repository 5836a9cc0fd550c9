#!/usr/bin/env python3
"""Runtime tests of net_listen that need a tracer of their own: periodic
snapshots, reloads, --probes, and net_listen beside tcp_connect. (The
cases of every backend are in tests/vm/test_vm_backends.py, which runs
here as runtime_backends and on Debian's stock kernel as vm.)

usage: sudo python3 test_net_listen.py PATH-TO-pidtree-bcc

Traffic rule: listens and binds send nothing; the one connect goes to an
address of the test's own namespace, on a closed port.
"""
import os
import signal
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (V4_REPORTED, V4_SECOND, V6_REPORTED,  # noqa: E402
                     ListenHelper, Tracer, timestamp_ns)

BINARY = None  # set by harness.main from argv[1]
NS = None
PORTS = harness.Ports(42000, 45000)


def setUpModule():
    global NS
    NS = harness.module_netns()


def tearDownModule():
    harness.end_module(NS)


def write_config(test, text):
    path = os.path.join(harness.tmpdir(), "nl-%s.yaml" % test.id().split(
        ".")[-1])
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)
    return path


def listens_of(tracer, pid, count, timeout=15, snapshot=None):
    return tracer.wait_events(
        lambda r: r["pid"] == pid and (snapshot is None or
                                       r["snapshot"] == snapshot),
        count, timeout, probe="net_listen")


def keys(evs):
    return {(e["protocol"], e["laddr"], e["port"]) for e in evs}


class TestNetListenAlone(unittest.TestCase):

    def start(self, args):
        tracer = Tracer(BINARY, args)
        self.addCleanup(tracer.kill)
        return tracer.wait_ready()

    def listener(self, specs, netns="test", **kw):
        h = ListenHelper(NS if netns == "test" else None, specs, **kw)
        self.addCleanup(h.release)
        result = h.wait_result()
        for sock in result["sockets"]:
            self.assertEqual(sock["error"], "", result)
        return h, result

    def test_probes_flag_runs_upstreams_defaults(self):
        """--probes net_listen: TCP only, no filters (a listener on
        loopback is news too), no tcp_connect."""
        tracer = self.start(["--probes", "net_listen"])
        self.assertEqual(tracer.stderr_lines[-1],
                         "pidtree-bcc: tracing TCP listens with the %s "
                         "backend; Ctrl-C to stop" % tracer.backend)
        tcp = PORTS.next()
        h, _ = self.listener(["tcp,127.0.0.1,%d" % tcp,
                              "udp,127.0.0.1,%d" % PORTS.next()])
        evs = listens_of(tracer, h.pid, 1)
        time.sleep(0.5)
        self.assertEqual(keys(tracer.events(lambda r: r["pid"] == h.pid,
                                            probe="net_listen")),
                         {("tcp", "127.0.0.1", tcp)}, tracer.describe())
        self.assertFalse(evs[0]["snapshot"])
        # No snapshot_periodicity: no snapshot either.
        self.assertEqual(tracer.events(lambda r: r["snapshot"],
                                       probe="net_listen"), [])

    def test_beside_tcp_connect_in_one_program(self):
        tracer = self.start(["--probes", "tcp_connect,net_listen"])
        self.assertEqual(
            tracer.stderr_lines[-1],
            "pidtree-bcc: tracing TCP connects with the %s backend, TCP "
            "listens with the %s backend; Ctrl-C to stop"
            % (tracer.backend, tracer.backend))
        h, result = self.listener(["tcp6-unbound"])
        port = PORTS.next()
        c, _ = harness.run_helper(NS, [(V4_REPORTED, port)])
        [listen] = listens_of(tracer, h.pid, 1)
        self.assertEqual(listen["port"], result["sockets"][0]["port"])
        [connect] = tracer.wait_events(lambda r: r["pid"] == c.pid)
        self.assertEqual(connect["port"], port)
        # One program and one perf buffer for both.
        progs, _ = harness.fd_bpf_ids(tracer.pid)
        raw = [p for p in harness.bpftool_json("perf", "show")
               if p.get("pid") == tracer.pid and
               p.get("tracepoint") == "inet_sock_set_state"]
        self.assertEqual(len(raw), 1, raw)

    def test_snapshots_every_period(self):
        """One snapshot at start, then one every snapshot_periodicity
        seconds; a listener that came later is in the next one."""
        early, _ = self.listener(["tcp,%s,%d" % (V4_SECOND, PORTS.next())])
        path = write_config(self, "net_listen:\n  protocols: [tcp, udp]\n"
                                  "  snapshot_periodicity: 2\n")
        tracer = self.start(["-c", path])
        first = listens_of(tracer, early.pid, 1, snapshot=True)
        self.assertEqual(len(first), 1, tracer.describe())
        late, result = self.listener(["udp,%s,0" % V6_REPORTED])
        [live] = listens_of(tracer, late.pid, 1, snapshot=False)
        self.assertEqual(live["port"], result["sockets"][0]["port"])
        snaps = listens_of(tracer, early.pid, 3, timeout=10, snapshot=True)
        self.assertGreaterEqual(len(snaps), 3, tracer.describe())
        times = [timestamp_ns(e["timestamp"]) for e in snaps[:3]]
        for a, b in zip(times, times[1:]):
            self.assertGreater(b - a, 1_500_000_000, times)
            self.assertLess(b - a, 4_000_000_000, times)
        later = listens_of(tracer, late.pid, 1, snapshot=True)
        self.assertEqual(keys(later), keys([live]))
        self.assertEqual(tracer.bad_lines, [])

    def test_reload_changes_the_filters_in_place(self):
        port = PORTS.next()
        path = write_config(self, "net_listen:\n  filters:\n"
                                  "    - {subnet_name: doc2, network: "
                                  "198.51.100.0/24}\n")
        tracer = self.start(["-c", path])
        before, _ = self.listener(["tcp,%s,%d" % (V4_REPORTED, port)])
        time.sleep(1)
        self.assertEqual(tracer.events(lambda r: r["pid"] == before.pid,
                                       probe="net_listen"), [])
        before.release()
        write_config(self, "net_listen:\n  excludeports: [1]\n")
        tracer.send(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not [
                r for r in tracer.records
                if r and r.get("type") == "config_reload"]:
            time.sleep(0.05)
        [reload] = [r for r in tracer.records
                    if r and r.get("type") == "config_reload"]
        self.assertEqual(reload["status"], "applied", reload)
        after, _ = self.listener(["tcp,%s,%d" % (V4_REPORTED, port)])
        [ev] = listens_of(tracer, after.pid, 1)
        self.assertEqual(ev["port"], port)
        # A file without the probe is refused: the probes change only at a
        # restart.
        write_config(self, "tcp_connect:\n")
        tracer.send(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and len(
                [r for r in tracer.records
                 if r and r.get("type") == "config_reload"]) < 2:
            time.sleep(0.05)
        refused = [r for r in tracer.records
                   if r and r.get("type") == "config_reload"][1]
        self.assertEqual(refused["status"], "refused", refused)
        self.assertIn("no longer has a net_listen section",
                      refused["reason"])

    def test_a_file_without_a_probe_that_runs_is_refused(self):
        for text, want in (
                ("# a comment alone\n",
                 "enables no probe that this version runs"),
                ("", "enables no probe that this version runs"),
                ("_anchor: 1\n", "enables no probe that this version runs")):
            path = write_config(self, text)
            p = harness.run([BINARY, "-c", path], check=False)
            self.assertEqual(p.returncode, 2, p.stderr)
            err = p.stderr.decode().strip().split("\n")
            self.assertIn(want, err[-1])
            self.assertTrue(err[-1].startswith("pidtree-bcc: error: "), err)


if __name__ == "__main__":
    harness.main(globals(), needs_root=True)
