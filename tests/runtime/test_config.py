#!/usr/bin/env python3
"""Runtime tests of the configuration file and its reload (root, real
kernel): connects filtered as the file says, a reload under a steady stream
of connects switching the rules with nothing lost or misfiltered, and an
invalid reload that keeps the running rules, and remote includes
(!include http://) changing and failing on a server on loopback.

usage: test_config.py PATH-TO-pidtree-bcc [unittest args]
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conf_server  # noqa: E402
import harness  # noqa: E402
from harness import V4_REPORTED, V4_SECOND, V6_REPORTED, Tracer  # noqa: E402

BINARY = None  # set by harness.main from argv[1]
NS = None
PORTS = harness.Ports(21000, 28000)
next_port = PORTS.next


def setUpModule():
    global NS
    NS = harness.module_netns()


def tearDownModule():
    harness.end_module(NS)


def connect_all(targets):
    """Connects to each (address, port) in order from one process in the
    namespace."""
    code = ("import socket, sys\n"
            "for t in sys.argv[1:]:\n"
            "    a, p = t.rsplit(',', 1)\n"
            "    f = socket.AF_INET6 if ':' in a else socket.AF_INET\n"
            "    s = socket.socket(f); s.connect_ex((a, int(p))); s.close()\n")
    subprocess.run(NS.prefix() + [harness.HELPER_PYTHON, "-c", code] +
                   ["%s,%d" % t for t in targets], check=True)


class ConfigFile:
    def __init__(self, testcase):
        self.dir = tempfile.mkdtemp(prefix="pidtree-cfg-")
        testcase.addCleanup(subprocess.run, ["rm", "-rf", self.dir])
        self.path = os.path.join(self.dir, "pidtree.yaml")

    def write(self, text, name="pidtree.yaml"):
        # Write and rename, as editors do: the reader never sees half a file.
        path = os.path.join(self.dir, name)
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.rename(tmp, path)
        return path


def reload_lines(tracer):
    with tracer.cond:
        return [r for r in tracer.records
                if r is not None and r.get("type") == "config_reload"]


def wait_reload(tracer, n, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = reload_lines(tracer)
        if len(lines) >= n:
            return lines
        time.sleep(0.05)
    raise AssertionError("no config_reload line #%d%s"
                         % (n, tracer.describe()))


class FilteringFromTheFile(unittest.TestCase):

    def test_rules_ports_and_includes(self):
        """Longest prefix decides, with its port exceptions; probe-level
        excludeports; an include; the defaults do not apply."""
        cfg = ConfigFile(self)
        cfg.write("subnet_name: narrow\n"
                  "network: 198.51.100.7\n"
                  "network_mask: 255.255.255.255\n"
                  "include_ports: [7001]\n", "more.yaml")
        cfg.write("""
_nets: &nets
  - subnet_name: doc2
    network: 198.51.100.0
    network_mask: 255.255.255.0
    except_ports: [7000, "7100-7101"]
  - !include more.yaml
  - subnet_name: v6
    network: "2001:db8::"
    network_mask: 32
tcp_connect:
  filters: *nets
  excludeports: [7200]
net_listen:
  filters: *nets
""")
        tracer = Tracer(BINARY, ["-c", cfg.path])
        self.addCleanup(tracer.kill)
        tracer.wait_ready()
        # net_listen runs beside tcp_connect, with its own rules.
        self.assertIn("pidtree-bcc: tracing TCP connects with the %s backend, "
                      "TCP listens with the %s backend; Ctrl-C to stop"
                      % (tracer.backend, tracer.backend),
                      tracer.stderr_lines)
        base = next_port()
        cases = [
            # 198.51.100.7/32 (only 7001 filtered) is the most specific:
            ((V4_REPORTED, 7001), False), ((V4_REPORTED, 7000), True),
            ((V4_REPORTED, 7005), True),
            # 203.0.113.9 matches no rule; 7200 is excluded for all.
            ((V4_SECOND, 7005), True), ((V4_SECOND, 7200), False),
            ((V4_REPORTED, 7200), False),
            ((V6_REPORTED, 7000), False),
            # The file names filters: 10/8 and loopback are not excluded.
            (("10.255.0.7", 7006), True), (("127.0.0.1", 7007), True),
            (("::ffff:10.255.0.7", 7008), True),
        ]
        marker = (V4_SECOND, base)
        connect_all([t for t, _ in cases] + [marker])
        tracer.wait_events(lambda r: r["port"] == base, 1, 15)
        time.sleep(0.5)
        got = {(r["daddr"], r["port"]) for r in tracer.events()
               if r["port"] != base and 7000 <= r["port"] <= 7200}
        want = {(canonical(a), port) for (a, port), rep in cases if rep}
        self.assertEqual(got, want, tracer.describe())


def canonical(addr):
    import socket
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    return socket.inet_ntop(fam, socket.inet_pton(fam, addr))


class Reload(unittest.TestCase):

    def test_reload_under_a_steady_stream(self):
        """Connects alternate between two destinations, each pair on its own
        port, while the file swaps which one is filtered: the reported
        connects show one clean switch, with nothing lost or misfiltered."""
        cfg = ConfigFile(self)
        rule = ("tcp_connect:\n  filters:\n    - subnet_name: x\n"
                "      network: %s/32\n")
        cfg.write(rule % V4_REPORTED)  # A filtered, B reported
        tracer = Tracer(BINARY, ["-c", cfg.path, "--watch-config"])
        self.addCleanup(tracer.kill)
        tracer.wait_ready()
        pairs = 3000
        first = PORTS.block(pairs)
        code = ("import socket, sys, time\n"
                "a, b, first, n = sys.argv[1], sys.argv[2], int(sys.argv[3]),"
                " int(sys.argv[4])\n"
                "for i in range(n):\n"
                "    for d in (a, b):\n"
                "        s = socket.socket(); s.connect_ex((d, first + i));"
                " s.close()\n"
                "    time.sleep(0.001)\n"
                "print('done', flush=True)\n")
        load = subprocess.Popen(
            NS.prefix() + [harness.HELPER_PYTHON, "-c", code, V4_REPORTED,
                           V4_SECOND, str(first), str(pairs)],
            stdout=subprocess.PIPE)
        self.addCleanup(load.kill)
        # Swap the rules while the stream runs.
        tracer.wait_events(lambda r: r["port"] >= first + 200, 1, 20)
        cfg.write(rule % V4_SECOND)  # now B filtered, A reported
        load.wait(60)
        tracer.wait_events(lambda r: r["port"] == first + pairs - 1, 1, 20)
        time.sleep(0.5)
        [line] = reload_lines(tracer)
        self.assertEqual(line["status"], "applied", line)
        self.assertEqual(line["trigger"], "file change")
        self.assertEqual(line["rules"], 1)
        seq = []  # (pair index, which) in connect order
        for r in tracer.events(lambda r: first <= r["port"] < first + pairs):
            seq.append((r["port"] - first,
                        0 if r["daddr"] == V4_REPORTED else 1))
        seq.sort()
        a_seen = [i for i, w in seq if w == 0]
        b_seen = [i for i, w in seq if w == 1]
        # Before the switch only B, after it only A: B is 0..k-1 (+ maybe k),
        # A is k..n-1; every pair gives exactly one event.
        self.assertTrue(b_seen and a_seen, tracer.describe())
        k = a_seen[0]
        self.assertEqual(a_seen, list(range(k, pairs)),
                         "A (reported after the switch) has gaps")
        self.assertIn(b_seen, (list(range(0, k)), list(range(0, k + 1))),
                      "B (reported before the switch) has gaps or late "
                      "events: last B %d, first A %d" % (b_seen[-1], k))
        self.assertGreater(k, 100)
        self.assertLess(k, pairs - 100)
        self.assertEqual(tracer.lost_records(), [])

    def test_invalid_reload_keeps_the_rules(self):
        cfg = ConfigFile(self)
        cfg.write("tcp_connect:\n  filters:\n    - {subnet_name: x, network: "
                  "%s/32}\n" % V4_REPORTED)
        tracer = Tracer(BINARY, ["-c", cfg.path])
        self.addCleanup(tracer.kill)
        tracer.wait_ready()
        cfg.write("tcp_connect:\n  filters:\n    - {subnet_name: x, network: "
                  "%s/33}\n" % V4_SECOND)
        tracer.send(signal.SIGHUP)
        [line] = wait_reload(tracer, 1)
        self.assertEqual(line["status"], "refused")
        self.assertEqual(line["trigger"], "SIGHUP")
        self.assertIn("pidtree.yaml:3:33: tcp_connect.filters[0].network: "
                      "prefix length must be 0-32", line["reason"])
        self.assertTrue(any("configuration reload refused (SIGHUP), the "
                            "running rules stay" in l
                            for l in tracer.stderr_lines))
        port = next_port()
        connect_all([(V4_REPORTED, port), (V4_SECOND, port)])
        evs = tracer.wait_events(lambda r: r["port"] == port, 1, 15)
        time.sleep(0.5)
        evs = tracer.events(lambda r: r["port"] == port)
        self.assertEqual([e["daddr"] for e in evs], [V4_SECOND])
        # Then a valid one is applied.
        cfg.write("tcp_connect:\n  filters: []\n")
        tracer.send(signal.SIGHUP)
        lines = wait_reload(tracer, 2)
        self.assertEqual(lines[1]["status"], "applied")
        port = next_port()
        connect_all([(V4_REPORTED, port)])
        self.assertEqual(len(tracer.wait_events(
            lambda r: r["port"] == port, 1, 15)), 1)

    def test_bad_file_at_start_is_exit_2(self):
        cfg = ConfigFile(self)
        cfg.write("tcp_connect:\n  filterz: []\n")
        p = subprocess.run([BINARY, "-c", cfg.path], capture_output=True,
                           timeout=30)
        self.assertEqual(p.returncode, 2)
        self.assertEqual(p.stdout, b"")
        self.assertEqual(p.stderr.decode().splitlines(),
                         ["pidtree-bcc: error: %s:2:3: tcp_connect: unknown "
                          "key 'filterz' (expected filters, includeports, "
                          "excludeports, plugins or container_labels)"
                          % cfg.path])



class RemoteIncludes(unittest.TestCase):
    """!include http:// from a server on loopback (conf_server): with -w a
    changed remote file is applied in place, a failed refetch keeps the
    last good copy and says so, and SIGHUP fetches again at once."""

    def test_a_changed_remote_file_reloads_and_a_failed_fetch_keeps_it(self):
        server = conf_server.ConfServer()
        self.addCleanup(server.close)
        first, second = next_port(), next_port()
        server.set("/ports.yml", "[%d]\n" % first)
        cfg = ConfigFile(self)
        cfg.write("tcp_connect:\n  excludeports: !include %s\n"
                  % server.url("/ports.yml"))
        tracer = Tracer(BINARY, ["-c", cfg.path, "-w",
                                 "--remote-include-interval", "1"])
        self.addCleanup(tracer.kill)
        tracer.wait_ready()
        connect_all([(V4_REPORTED, first), (V4_REPORTED, second)])
        evs = tracer.wait_events(lambda r: r["port"] in (first, second), 1)
        self.assertEqual([e["port"] for e in evs], [second])
        # The remote file changes: applied within about the interval.
        server.set("/ports.yml", "[%d]\n" % second)
        [line] = wait_reload(tracer, 1, timeout=10)
        self.assertEqual(line["status"], "applied", line)
        self.assertEqual(line["trigger"], "remote change")
        connect_all([(V4_REPORTED, first), (V4_REPORTED, second)])
        evs = tracer.wait_events(lambda r: r["port"] in (first, second), 2)
        time.sleep(0.5)
        self.assertEqual(
            [e["port"] for e in tracer.events(
                lambda r: r["port"] in (first, second))], [second, first])
        # The server fails: the copy stays, and each failed fetch says so.
        server.set("/ports.yml", "oops\n", status=500)
        lines = wait_reload(tracer, 2, timeout=10)
        self.assertEqual(lines[1]["status"], "refused", lines[1])
        self.assertEqual(lines[1]["trigger"], "remote fetch")
        self.assertRegex(lines[1]["reason"], r"^cannot fetch '%s': The "
                         r"requested URL returned error: 500; the copy "
                         r"fetched at \S+Z stays$"
                         % re.escape(server.url("/ports.yml")))
        self.assertTrue(any("warning: remote include: cannot fetch" in l
                            for l in tracer.stderr_lines))
        third = next_port()
        before = len(tracer.events(lambda r: r["port"] == second))
        connect_all([(V4_REPORTED, second), (V4_REPORTED, third)])
        tracer.wait_events(lambda r: r["port"] == third, 1)
        time.sleep(0.5)
        self.assertEqual(len(tracer.events(lambda r: r["port"] == second)),
                         before, "the last good copy is not in force")
        # Healed, with a long interval: SIGHUP fetches it again soon.
        tracer.stop()
        server.set("/ports.yml", "[%d]\n" % first)
        slow = Tracer(BINARY, ["-c", cfg.path, "-w",
                               "--remote-include-interval", "3600"])
        self.addCleanup(slow.kill)
        slow.wait_ready()
        fetched = server.count("/ports.yml")
        server.set("/ports.yml", "[%d]\n" % third)
        slow.send(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while (time.monotonic() < deadline and
               server.count("/ports.yml") == fetched):
            time.sleep(0.05)
        self.assertEqual(server.count("/ports.yml"), fetched + 1)
        time.sleep(1)  # the loop applies what the fetch found
        lines = reload_lines(slow)
        # The SIGHUP reload, then the change the fetch found (or one
        # reload, when the fetch was back before the loop looked).
        self.assertEqual(lines[0]["trigger"], "SIGHUP")
        self.assertTrue(all(l["status"] == "applied" for l in lines), lines)
        self.assertIn([l["trigger"] for l in lines],
                      (["SIGHUP"], ["SIGHUP", "remote change"]))
        connect_all([(V4_REPORTED, first), (V4_REPORTED, third)])
        evs = slow.wait_events(lambda r: r["port"] in (first, third), 1)
        time.sleep(0.5)
        self.assertEqual([e["port"] for e in slow.events(
            lambda r: r["port"] in (first, third))], [first])
        self.assertEqual(slow.stop(), 0)


def ready_count(tracer):
    with tracer.cond:
        return sum(1 for l in tracer.stderr_lines if l.endswith(
            "; Ctrl-C to stop"))


def wait_ready_count(tracer, n, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready_count(tracer) >= n:
            return
        if tracer.proc.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError("tracer not ready %d times%s" % (n,
                                                          tracer.describe()))


class RestartOnChange(unittest.TestCase):
    """With -w a supervisor runs the tracer (pipeline/supervisor.h): a
    change the running programs cannot take in place starts it again with
    the new file, at most 5 times in 10 minutes, and the tracer dies with
    its supervisor."""

    def start(self, cfg, text):
        cfg.write(text)
        t = Tracer(BINARY, ["-c", cfg.path, "-w"])
        self.addCleanup(t.kill)
        t.wait_ready()
        [child] = harness.proc_children(t.pid)
        return t, child

    def test_a_new_protocol_restarts_the_tracer_with_it(self):
        cfg = ConfigFile(self)
        t, child = self.start(cfg, "net_listen:\n  protocols: [tcp]\n")
        self.assertEqual(harness.proc_cmdline(child),
                         harness.proc_cmdline(t.pid))
        cfg.write("net_listen:\n  protocols: [tcp, udp]\n")
        [line] = wait_reload(t, 1)
        self.assertEqual(line["status"], "restart", line)
        self.assertEqual(line["trigger"], "file change")
        self.assertIn("net_listen.protocols changed", line["reason"])
        wait_ready_count(t, 2)
        [again] = harness.proc_children(t.pid)
        self.assertNotEqual(again, child)
        self.assertFalse(os.path.exists("/proc/%d" % child))
        # The new tracer has the UDP hooks: a UDP bind is reported.
        port = next_port()
        h = harness.ListenHelper(NS, ["udp,0.0.0.0,%d" % port])
        self.addCleanup(h.release)
        h.wait_result()
        t.wait_events(lambda r: r["port"] == port and
                      r.get("protocol") == "udp", 1, 15, probe="net_listen")
        # Filters still change in place: no restart.
        cfg.write("net_listen:\n  protocols: [tcp, udp]\n"
                  "  excludeports: [1]\n")
        lines = wait_reload(t, 2)
        self.assertEqual(lines[1]["status"], "applied", lines[1])
        self.assertEqual(harness.proc_children(t.pid), [again])
        self.assertEqual(t.stop(), 0, t.describe())
        self.assertEqual(t.bad_lines, [])

    def test_restarts_are_bounded(self):
        cfg = ConfigFile(self)
        t, _ = self.start(cfg, "net_listen:\n  snapshot_periodicity: 0\n")
        for n in range(1, 7):
            cfg.write("net_listen:\n  snapshot_periodicity: %d\n" % n)
            if n <= 5:
                wait_ready_count(t, n + 1)
        self.assertEqual(t.wait_exit(30), 1)
        self.assertTrue(any("more than 5 restarts in 600 s" in l
                            for l in t.stderr_lines), t.describe())
        self.assertEqual(len([l for l in reload_lines(t)
                              if l["status"] == "restart"]), 6)

    def test_the_tracer_dies_with_its_supervisor(self):
        cfg = ConfigFile(self)
        t, child = self.start(cfg, "tcp_connect: {}\nnet_listen: {}\n")
        progs, _ = harness.fd_bpf_ids(child)
        self.assertTrue(progs & harness.cgroup_prog_ids())
        t.send(signal.SIGKILL)
        t.wait_exit(10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and os.path.exists(
                "/proc/%d" % child):
            time.sleep(0.05)
        self.assertFalse(os.path.exists("/proc/%d" % child))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (
                progs & harness.cgroup_prog_ids() or
                progs & harness.prog_ids("tracepoint")):
            time.sleep(0.05)
        self.assertFalse(progs & harness.cgroup_prog_ids())
        self.assertFalse(progs & harness.prog_ids("tracepoint"))

if __name__ == "__main__":
    harness.main(globals(), needs_root=True)
