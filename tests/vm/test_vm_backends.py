#!/usr/bin/env python3
"""Both connect backends compared on one kernel, one tracer per backend.

usage: sudo python3 test_vm_backends.py PATH-TO-pidtree-bcc [unittest args]

Written for Debian's stock kernel under qemu (tests/vm/run-vm.sh), where BCC
compiles each program for up to a few minutes on the emulated CPU: so every
tracer is started once, all of them side by side, and every case makes its
connects once and checks them against each tracer that the case is about.
It runs on any kernel: without kprobes (our build machines), --backend kprobe
must fail clearly and auto must pick the tracepoint.

Tracers (backend mode x option set):
  default  kprobe, auto, tracepoint, and on a kernel with kprobes also
           auto-nokprobes: auto in a mount namespace where the kprobe
           interfaces are hidden, which must fall back to the tracepoint
  exclude  kprobe, tracepoint: custom networks and --exclude-ports
  include  kprobe, tracepoint: --no-default-filters, a network, --include-ports

PIDTREE_TEST_COMPILES: how many tracers compile at once (default: the
number of CPUs, at most 4). PIDTREE_READY_TIMEOUT (harness.py): seconds a
tracer may take to start.

Traffic rule (as in tests/runtime): connects go only to loopback and to
addresses this test creates in network namespaces of its own; the
"unroutable" connects go to an address that has no route in such a
namespace (whose only interface is lo), so they fail in the route lookup
and no packet is made.
"""
import collections
import contextlib
import json
import os
import pwd
import resource
import shlex
import signal
import subprocess
import sys
import time
import unittest

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "runtime"))
import harness  # noqa: E402
from harness import V4_REPORTED, V4_SECOND, V6_REPORTED, Tracer  # noqa: E402
# The same event checks and case tables as the runtime tests on our kernel.
from test_runtime import (A, FILTERED_BY_DEFAULT, HELPER_COMM,  # noqa: E402
                          READY_LINE, SKEW_NS, EventAsserts, canonical,
                          next_port, port_block, t, timestamp_ns)

BINARY = None   # argv[1]
NS = None       # the test's network namespace
KPROBES = harness.kprobes_available()
# Seconds to wait for a case's events (every tracer handles every connect;
# slow under emulation).
EVENT_TIMEOUT = 30

V4_UNROUTABLE = "192.0.2.1"          # TEST-NET-1: no route in the namespace
V6_UNROUTABLE = "2001:db8:ffff::1"   # no route in the namespace

# Shell run in a private mount namespace before the tracer: hides the kprobe
# interfaces pidtree-bcc looks for (the perf kprobe PMU and tracefs's
# kprobe_events), keeping the tracepoints; or, with "notracepoint", hides
# the connect tracepoint too. Nothing outside that namespace changes.
HIDE_SCRIPT = r"""
set -eu
real=$(mktemp -d)
mount -t tracefs tracefs "$real"
mount -t tmpfs -o size=1m tmpfs /sys/bus/event_source/devices
mount -t tmpfs -o size=1m tmpfs /sys/kernel/tracing
mkdir /sys/kernel/tracing/events
if [ "$1" = keeptracepoint ]; then
  mount --bind "$real/events" /sys/kernel/tracing/events
fi
shift
exec "$@"
"""


def hidden(what):
    """argv prefix: run the rest with kprobes hidden (what=keeptracepoint)
    or with kprobes and the connect tracepoint hidden (notracepoint)."""
    return ["unshare", "--mount", "--propagation", "private",
            "sh", "-c", HIDE_SCRIPT, "sh", what]


# ---------------------------------------------------------------- tracers

# net_listen's configuration files (written at import: the tracers start
# before any test). "listen": every protocol, filters on the local address,
# a snapshot at start; "listen-strict": same_namespace_only and
# exclude_random_bind. Their ports are this run's.
LISTEN_EXCEPT_PORT = next_port()      # kept by the 203.0.113.0/24 rule
LISTEN_EXCLUDED_PORT = next_port()    # excludeports
LISTEN_CONFIG = os.path.join(harness.tmpdir(), "listen.yaml")
LISTEN_STRICT_CONFIG = os.path.join(harness.tmpdir(), "listen-strict.yaml")
with open(LISTEN_CONFIG, "w") as _f:
    _f.write("""net_listen:
  protocols: [tcp, udp]
  snapshot_periodicity: 3600
  filters:
    - subnet_name: doc3
      network: 203.0.113.0
      network_mask: 255.255.255.0
      except_ports: [%d]
  excludeports: [%d]
""" % (LISTEN_EXCEPT_PORT, LISTEN_EXCLUDED_PORT))
with open(LISTEN_STRICT_CONFIG, "w") as _f:
    _f.write("""net_listen:
  protocols: [tcp, udp]
  same_namespace_only: true
  exclude_random_bind: true
""")

# udp_session's: "udp" with a short session_max_duration (so idle expiry
# and interim lines happen within a case), filters on the destination;
# "udp-upstream" is upstream's example configuration, verbatim (all three
# probes, its udp_session section as it is there).
UDP_MAX_DURATION = 2.0
UDP_EXCEPT_PORT = next_port()     # kept by the 203.0.113.0/24 rule
UDP_EXCLUDED_PORT = next_port()   # excludeports
UDP_CONFIG = os.path.join(harness.tmpdir(), "udp.yaml")
UPSTREAM_CONFIG = os.path.join(
    os.path.dirname(HERE), "unit", "fixtures", "config",
    "upstream-example_config.yml")
with open(UDP_CONFIG, "w") as _f:
    _f.write("""udp_session:
  session_max_duration: %s
  filters:
    - subnet_name: doc3
      network: 203.0.113.0
      network_mask: 255.255.255.0
      except_ports: [%d]
  excludeports: [%d]
""" % (UDP_MAX_DURATION, UDP_EXCEPT_PORT, UDP_EXCLUDED_PORT))

OPTION_SETS = {
    "default": [],
    # --flood-budget 20 on these three (their cases make few events a
    # process; TestFlood floods them): a process over it is reached even
    # at an emulated CPU's connect rate.
    "listen": ["-c", LISTEN_CONFIG, "--flood-budget", "20"],
    "listen-strict": ["-c", LISTEN_STRICT_CONFIG],
    "udp": ["-c", UDP_CONFIG],
    "udp-upstream": ["-c", UPSTREAM_CONFIG, "--flood-budget", "20"],
    "exclude": ["--filter", "203.0.113.0/24", "--filter", "2001:db8::7/128",
                "--exclude-ports", "4000-4010,5555"],
    "include": ["--flood-budget", "20", "--no-default-filters", "--filter",
                "10.0.0.0/8",
                "--include-ports", "6000,6100-6105"],
}


class Spec:
    """One tracer: a backend mode with an option set."""

    def __init__(self, mode, options, backend, prefix=()):
        self.key = mode if options == "default" else mode + "+" + options
        self.mode, self.options = mode, options
        self.backend = backend       # the backend it must report
        self.prefix = list(prefix)
        self.argv = ["--backend", "auto" if mode.startswith("auto")
                     else mode] + OPTION_SETS[options]


def all_specs():
    """Slowest (kprobe: BCC parses <net/sock.h>) first."""
    specs = []
    if KPROBES:
        specs += [Spec("kprobe", "default", "kprobe"),
                  Spec("auto", "default", "kprobe"),
                  Spec("kprobe", "exclude", "kprobe"),
                  Spec("kprobe", "include", "kprobe")]
    else:
        specs.append(Spec("auto", "default", "tracepoint"))
    specs += [Spec("tracepoint", "default", "tracepoint"),
              Spec("tracepoint", "exclude", "tracepoint"),
              Spec("tracepoint", "include", "tracepoint")]
    # net_listen: with kprobes, upstream's inet_listen kprobes for TCP;
    # the tracepoint backend's state change and sock_ops everywhere; UDP
    # through the cgroup bind hooks on both.
    for options in ("listen", "listen-strict"):
        if KPROBES:
            specs.append(Spec("kprobe", options, "kprobe"))
        specs.append(Spec("tracepoint", options, "tracepoint"))
    # udp_session: with kprobes, udp_sendmsg/udpv6_sendmsg; the cgroup
    # send hooks and sock_send_length otherwise; the release hook on both.
    for options in ("udp", "udp-upstream"):
        if KPROBES:
            specs.append(Spec("kprobe", options, "kprobe"))
        specs.append(Spec("tracepoint", options, "tracepoint"))
    if KPROBES:
        specs.append(Spec("auto-nokprobes", "default", "tracepoint",
                          hidden("keeptracepoint")))
    return specs


class Pool:
    """The tracers of this run, started side by side (at most `parallel`
    compiling at once, to bound memory), each once."""

    def __init__(self):
        self.specs = {}
        self.tracers = {}
        self.errors = {}
        self.ready_after = {}

    def start(self, specs, parallel):
        pending = list(specs)
        compiling = []
        t0 = time.monotonic()
        while pending or compiling:
            while pending and len(compiling) < parallel:
                spec = pending.pop(0)
                self.specs[spec.key] = spec
                tracer = Tracer(BINARY, spec.argv,
                                user_argv_prefix=spec.prefix)
                compiling.append((spec, tracer, time.monotonic()))
            time.sleep(0.2)
            for item in list(compiling):
                spec, tracer, started = item
                waited = time.monotonic() - started
                if tracer.ready.is_set():
                    self.tracers[spec.key] = tracer
                    self.ready_after[spec.key] = waited
                elif tracer.proc.poll() is not None:
                    time.sleep(0.2)  # let the stderr reader finish
                    self.errors[spec.key] = (
                        "tracer %s exited with %s before tracing:\n%s"
                        % (spec.key, tracer.proc.returncode,
                           "\n".join(tracer.stderr_lines)))
                elif waited > harness.READY_TIMEOUT:
                    tracer.kill()
                    self.errors[spec.key] = (
                        "tracer %s printed no 'tracing' line in %.0f s:\n%s"
                        % (spec.key, waited, "\n".join(tracer.stderr_lines)))
                else:
                    continue
                compiling.remove(item)
                sys.stderr.write(
                    "[%s: %s after %.0f s]\n" % (
                        spec.key, "ready" if spec.key in self.tracers
                        else "FAILED", waited))
        sys.stderr.write("[%d tracer(s) started in %.0f s]\n"
                         % (len(self.specs), time.monotonic() - t0))

    def keys(self, options):
        return [k for k, s in self.specs.items() if s.options == options]

    def get(self, key):
        if key in self.errors:
            raise AssertionError(self.errors[key])
        return self.tracers[key]


POOL = Pool()
# test id -> tracer keys whose checks passed (printed at the end)
CHECKED = collections.OrderedDict()


# ---------------------------------------------------------------- helpers

class KeepHelper:
    """keep_helper.py in a namespace (see its docstring)."""

    def __init__(self, netns, targets, listen=()):
        self.argv = [harness.HELPER_PYTHON, os.path.join(HERE,
                                                         "keep_helper.py")]
        for a, p in listen:
            self.argv += ["--listen", "%s,%d" % (a, p)]
        self.argv += ["--hold"] + ["%s,%d" % (a, p) for a, p in targets]
        self.proc = subprocess.Popen(netns.prefix() + self.argv,
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.pid = self.proc.pid

    def cmdline(self):
        return " ".join(self.argv)

    def wait_result(self, timeout=30):
        line = harness._readline_timeout(self.proc.stdout, timeout)
        if not line:
            self.release()
            raise AssertionError("keep_helper gave no result; stderr: %r"
                                 % self.proc.stderr.read())
        return json.loads(line)

    def release(self):
        if not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            if not f.closed:
                f.close()


def shell_chain(marker, shells):
    """A `command` for a helper: sh -c '...' -> sh -c '...' -> the helper,
    each level exiting right after its child. Fills shells["inner"] and
    ["outer"] with the command lines the two shells will report."""
    def chain(helper_argv):
        inner = shlex.join(helper_argv) + "; exit 0"
        outer = "sh -c %s inner-%s; exit 0" % (shlex.quote(inner), marker)
        shells["inner"] = "sh -c %s inner-%s" % (inner, marker)
        shells["outer"] = "sh -c %s outer-%s" % (outer, marker)
        return ["sh", "-c", outer, "outer-" + marker]
    return chain


_port_ranges = {}


def port_range(netns):
    """The namespace's ephemeral port range (low, high)."""
    if netns.name not in _port_ranges:
        out = subprocess.run(netns.prefix() + [
            "cat", "/proc/sys/net/ipv4/ip_local_port_range"], check=True,
            stdout=subprocess.PIPE).stdout.split()
        _port_ranges[netns.name] = (int(out[0]), int(out[1]))
    return _port_ranges[netns.name]


def make_namespace():
    global NS
    if NS is None:
        harness.NetNs.remove_stale()
        NS = harness.NetNs().create()
    return NS


# A listener that is there before any tracer starts: what a snapshot at
# start must find (started by Program.runTests before the pool).
EARLY = None
EARLY_PORTS = {"tcp": next_port(), "udp": next_port(), "filtered": next_port()}


def start_early_listener():
    global EARLY
    EARLY = harness.ListenHelper(make_namespace(), [
        "tcp,%s,%d" % (V4_REPORTED, EARLY_PORTS["tcp"]),
        "udp,%s,%d" % (V6_REPORTED, EARLY_PORTS["udp"]),
        "tcp,%s,%d" % (V4_SECOND, EARLY_PORTS["filtered"])])
    result = EARLY.wait_result()
    if any(sock["error"] for sock in result["sockets"]):
        raise AssertionError("early listener: %r" % result)


def setUpModule():
    make_namespace()


def tearDownModule():
    if EARLY:
        EARLY.release()
    if NS:
        NS.delete()


class Case(unittest.TestCase, EventAsserts):
    OPTIONS = ()  # the option sets whose tracers this class needs

    def helper(self, targets, netns=None, **kw):
        h = harness.Helper(netns or NS, targets, **kw)
        self.addCleanup(h.release)
        return h

    def on_each(self, options, check):
        """check(tracer, spec) for every tracer of an option set, each in a
        subTest of its own (one failing backend does not hide the others)."""
        keys = POOL.keys(options)
        self.assertTrue(keys, "no tracers with options %r" % options)
        for key in keys:
            with self.subTest(tracer=key):
                tracer = POOL.get(key)
                check(tracer, POOL.specs[key])
                CHECKED.setdefault(self.id().split(".", 1)[1], []).append(
                    key)

    @contextlib.contextmanager
    def stopped(self, options):
        """Every running tracer of the option set SIGSTOPped inside."""
        tracers = [POOL.tracers[k] for k in POOL.keys(options)
                   if k in POOL.tracers]
        for tracer in tracers:
            tracer.send(signal.SIGSTOP)
        try:
            yield
        finally:
            for tracer in tracers:
                tracer.send(signal.SIGCONT)

    def events_of(self, tracer, pid, count=1):
        evs = tracer.wait_events(lambda r: r["pid"] == pid, count,
                                 EVENT_TIMEOUT)
        self.assertEqual(len(evs), count, "want %d event(s) of pid %d%s"
                         % (count, pid, tracer.describe(
                             lambda r: r.get("pid") == pid)))
        return evs

    def settled_events(self, tracer, pred, want_count):
        """The events matching pred once want_count arrived (or the wait
        ran out), plus 0.5 s for any that should not be there."""
        tracer.wait_events(pred, want_count, EVENT_TIMEOUT)
        time.sleep(0.5)
        return tracer.events(pred)

    def assert_sport(self, ev, backend, netns=None):
        """kprobe: the ephemeral port the kernel chose; tracepoint: 0 (the
        tracepoint fires before the port is chosen)."""
        if backend == "tracepoint":
            self.assertEqual(ev["sport"], 0, ev)
        else:
            low, high = port_range(netns or NS)
            self.assertTrue(low <= ev["sport"] <= high,
                            "sport %d not in %d-%d: %r"
                            % (ev["sport"], low, high, ev))

    def assert_connect_time(self, tracer, ev, result):
        ts = timestamp_ns(ev["timestamp"])
        self.assertGreaterEqual(ts, result["t_before_ns"] - SKEW_NS, ev)
        self.assertLessEqual(ts, result["t_after_ns"] + SKEW_NS, ev)
        read = tracer.read_time(ev)
        self.assertLessEqual(ts, read + SKEW_NS, ev)
        return ts, read


# ============================================================ default options

class TestDefaultOptions(Case):
    """Event fields and ancestry, every backend mode, default options."""

    OPTIONS = ("default",)

    def test_backend_line(self):
        def check(tracer, spec):
            self.assertEqual(tracer.backend, spec.backend)
            self.assertEqual(tracer.stderr_lines,
                             [READY_LINE % spec.backend])
            # What holds the connect program: with the kernel's BTF the
            # tracepoint backend attaches a raw tracepoint.
            attached = {(p.get("fd_type"), p.get("tracepoint") or
                         p.get("func"))
                        for p in harness.bpftool_json("perf", "show")
                        if p.get("pid") == tracer.pid}
            if spec.backend == "tracepoint":
                raw = os.path.exists(harness.KERNEL_BTF)
                self.assertIn(("raw_tracepoint" if raw else "tracepoint",
                               "inet_sock_set_state"), attached)
            else:
                self.assertIn(("kprobe", "tcp_v4_connect"), attached)
                self.assertIn(("kretprobe", "tcp_v6_connect"), attached)
        self.on_each("default", check)

    def test_ipv4_process_chain(self):
        """helper <- sh <- sh <- this test <- ... <- 1: exact fields, and the
        whole tree against /proc while every process is alive."""
        port = next_port()
        shells = {}
        h = self.helper([(V4_REPORTED, port)],
                        command=shell_chain("marker", shells))
        result = h.wait_result()
        self.assertEqual(result["errors"], {"ECONNREFUSED": 1})
        pid = result["pid"]

        def check(tracer, spec):
            [ev] = self.events_of(tracer, pid)
            self.assert_event(
                ev, tracer, pid=pid, tid=pid, comm=HELPER_COMM, uid=0,
                username="root", family="ipv4", saddr=V4_REPORTED,
                daddr=V4_REPORTED, port=port, error="")
            self.assert_sport(ev, spec.backend)
            self.assert_connect_time(tracer, ev, result)
            tree = ev["proctree"]
            want_head = [
                {"pid": pid, "cmdline": h.cmdline(), "username": "root"},
                {"pid": result["ppid"], "cmdline": shells["inner"],
                 "username": "root"},
                {"pid": h.pid, "cmdline": shells["outer"],
                 "username": "root"},
                {"pid": os.getpid(),
                 "cmdline": harness.proc_cmdline(os.getpid()),
                 "username": "root"},
            ]
            self.assertEqual(tree[:len(want_head)], want_head)
            self.assertEqual(tree[-1]["pid"], 1, tree)
            self.assertEqual(len({n["pid"] for n in tree}), len(tree), tree)
            for child, parent in zip(tree, tree[1:]):
                self.assertEqual(harness.proc_ppid(child["pid"]),
                                 parent["pid"], tree)
            for node in tree:
                self.assertEqual(node["cmdline"],
                                 harness.proc_cmdline(node["pid"]), node)
                uid = os.stat("/proc/%d" % node["pid"]).st_uid
                self.assertEqual(node["username"], pwd.getpwuid(uid).pw_name)
            self.assert_clean_output(tracer)
        self.on_each("default", check)

    def test_ipv6(self):
        port = next_port()
        h = self.helper([(V6_REPORTED, port)])
        result = h.wait_result()
        self.assertEqual(result["errors"], {"ECONNREFUSED": 1})

        def check(tracer, spec):
            [ev] = self.events_of(tracer, h.pid)
            self.assert_event(
                ev, tracer, pid=h.pid, tid=h.pid, comm=HELPER_COMM, uid=0,
                username="root", family="ipv6", saddr=V6_REPORTED,
                daddr=V6_REPORTED, port=port, error="")
            self.assert_sport(ev, spec.backend)
            self.assertEqual(ev["proctree"][0]["cmdline"], h.cmdline())
            self.assertEqual(ev["proctree"][1]["pid"], os.getpid())
            self.assert_connect_time(tracer, ev, result)
        self.on_each("default", check)

    def test_ipv4_mapped_ipv6(self):
        """An IPv6 socket connecting to an IPv4 address: one event, family
        ipv6, both addresses mapped (tcp_v6_connect calls tcp_v4_connect:
        the kprobe backend must report it once)."""
        port = next_port()
        mapped = "::ffff:" + V4_REPORTED
        h = self.helper([(mapped, port)])
        self.assertEqual(h.wait_result()["errors"], {"ECONNREFUSED": 1})

        def check(tracer, spec):
            [ev] = self.events_of(tracer, h.pid)
            self.assert_event(ev, tracer, pid=h.pid, family="ipv6",
                              daddr=mapped, saddr=mapped, port=port,
                              error="")
            self.assert_sport(ev, spec.backend)
            time.sleep(0.3)
            self.assertEqual(len(tracer.events(
                lambda r: r["pid"] == h.pid)), 1, "reported twice")
        self.on_each("default", check)

    def test_thread_connect(self):
        port = next_port()
        h = self.helper([(V4_SECOND, port)], thread=True)
        result = h.wait_result()
        self.assertNotEqual(result["tid"], result["pid"])

        def check(tracer, spec):
            [ev] = self.events_of(tracer, h.pid)
            self.assert_event(ev, tracer, pid=h.pid, tid=result["tid"],
                              daddr=V4_SECOND, saddr=V4_SECOND, port=port,
                              error="")
            self.assertEqual(ev["proctree"][0]["cmdline"], h.cmdline())
        self.on_each("default", check)

    def test_unprivileged_connecting_user(self):
        port = next_port()
        h = self.helper([(V4_REPORTED, port)], wrapper=[
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"])
        self.assertEqual(h.wait_result()["errors"], {"ECONNREFUSED": 1})
        name = pwd.getpwuid(65534).pw_name

        def check(tracer, spec):
            [ev] = self.events_of(tracer, h.pid)
            self.assert_event(ev, tracer, pid=h.pid, uid=65534,
                              username=name, port=port, error="")
            self.assertEqual(ev["proctree"][0], {
                "pid": h.pid, "cmdline": h.cmdline(), "username": name})
            self.assertEqual(ev["proctree"][1]["pid"], os.getpid())
            self.assertEqual(ev["proctree"][1]["username"], "root")
        self.on_each("default", check)

    def test_bound_source_port(self):
        """A socket bound first: both backends report the bound port."""
        port, sport = next_port(), next_port()
        h4 = self.helper([(V4_REPORTED, port)], bind_port=sport)
        h6 = self.helper([(V6_REPORTED, port)], bind_port=sport)
        for h in (h4, h6):
            self.assertEqual(h.wait_result()["errors"], {"ECONNREFUSED": 1})

        def check(tracer, spec):
            for h, daddr in ((h4, V4_REPORTED), (h6, V6_REPORTED)):
                [ev] = self.events_of(tracer, h.pid)
                self.assert_event(ev, tracer, pid=h.pid, sport=sport,
                                  saddr=daddr, daddr=daddr, port=port)
        self.on_each("default", check)

    def test_exited_process_keeps_its_whole_tree(self):
        port = next_port()
        with self.stopped("default"):
            h = self.helper([(V4_REPORTED, port)], hold=False)
            h.wait_result()
            h.release()

        def check(tracer, spec):
            [ev] = self.events_of(tracer, h.pid)
            self.assertEqual(ev["error"], "", ev)
            self.assertEqual(ev["proctree"][0], {
                "pid": h.pid, "cmdline": h.cmdline(), "username": "root"})
            self.assertEqual(ev["proctree"][1]["pid"], os.getpid())
            self.assertEqual(ev["proctree"][-1]["pid"], 1)
        self.on_each("default", check)

    def test_timestamp_is_taken_at_connect_time(self):
        port = next_port()
        with self.stopped("default"):
            h = self.helper([(V4_REPORTED, port)])
            result = h.wait_result()
            time.sleep(1.5)

        def check(tracer, spec):
            [ev] = self.events_of(tracer, h.pid)
            ts, read = self.assert_connect_time(tracer, ev, result)
            self.assertGreaterEqual(read - ts, 1_400_000_000)
        self.on_each("default", check)

    def test_default_filters(self):
        table = FILTERED_BY_DEFAULT + [
            t(V4_REPORTED, True), t(V4_SECOND, True), t(V6_REPORTED, True),
            t("::ffff:198.51.100.7", True)]
        run_table(self, "default", table)


def run_table(case, options, table):
    """All connects of the table from one helper; then, for every tracer of
    the option set, exactly the rows marked reported (and nothing else of
    that helper) must come out, each with its fields."""
    table = [(a, next_port() if p is A else p, r) for a, p, r in table]
    keys = [(canonical(a), p) for a, p, _ in table]
    case.assertEqual(len(set(keys)), len(keys), "duplicate table rows")
    want = sorted((canonical(a), p) for a, p, r in table if r)
    h = case.helper([(a, p) for a, p, _ in table])
    result = h.wait_result()
    case.assertEqual(result["errors"], {"ECONNREFUSED": len(table)})
    mine = lambda r: r["pid"] == h.pid  # noqa: E731

    def check(tracer, spec):
        evs = case.settled_events(tracer, mine, len(want))
        seen = sorted((e["daddr"], e["port"]) for e in evs)
        case.assertEqual(seen, want, "%s: reported %s, expected %s%s" % (
            spec.key, seen, want, tracer.describe(
                lambda r: r.get("pid") == h.pid)))
        for ev in evs:
            case.assert_event(
                ev, tracer, pid=h.pid, saddr=ev["daddr"], error="",
                family="ipv6" if ":" in ev["daddr"] else "ipv4")
            case.assert_sport(ev, spec.backend)
            case.assertEqual(ev["proctree"][0]["cmdline"], h.cmdline())
        case.assert_clean_output(tracer)
    case.on_each(options, check)


# ============================================================ failed connects

class TestFailedConnects(Case):
    """Which connects each backend reports: the kprobe backend those for
    which tcp_v4_connect()/tcp_v6_connect() returned 0; the tracepoint every
    socket that reached SYN_SENT. See docs/backends.md."""

    OPTIONS = ("default",)

    def test_refused_is_reported(self):
        """Nothing listens: the SYN goes out, the RST comes back; the connect
        function had returned 0 before: both report it."""
        port = next_port()
        h = self.helper([(V4_REPORTED, port), (V6_REPORTED, port)])
        self.assertEqual(h.wait_result()["errors"], {"ECONNREFUSED": 2})

        def check(tracer, spec):
            evs = self.events_of(tracer, h.pid, 2)
            self.assertEqual(sorted(e["daddr"] for e in evs),
                             sorted([V4_REPORTED, V6_REPORTED]))
        self.on_each("default", check)

    def test_accepted_is_reported_with_its_source_port(self):
        port = next_port()
        h = KeepHelper(NS, [(V4_REPORTED, port), (V6_REPORTED, port)],
                       listen=[(V4_REPORTED, port), (V6_REPORTED, port)])
        self.addCleanup(h.release)
        result = h.wait_result()
        self.assertEqual([r["error"] for r in result["results"]],
                         ["ok", "ok"], result)
        sports = {r["addr"]: r["sport"] for r in result["results"]}

        def check(tracer, spec):
            evs = self.events_of(tracer, h.pid, 2)
            for ev in evs:
                want = 0 if spec.backend == "tracepoint" else \
                    sports[ev["daddr"]]
                self.assert_event(ev, tracer, pid=h.pid, port=port,
                                  saddr=ev["daddr"], sport=want, error="")
                self.assertEqual(ev["proctree"][0]["cmdline"], h.cmdline())
        self.on_each("default", check)

    def test_unroutable_is_not_reported(self):
        """No route (the namespace has only lo): ENETUNREACH from the route
        lookup, before the socket reaches SYN_SENT: no backend reports it."""
        port = next_port()
        h = self.helper([(V4_UNROUTABLE, port), (V6_UNROUTABLE, port),
                         (V4_REPORTED, port)])
        self.assertEqual(h.wait_result()["errors"],
                         {"ENETUNREACH": 2, "ECONNREFUSED": 1})

        def check(tracer, spec):
            # The last connect is reported: once it is in, the two before
            # it would be too.
            evs = self.settled_events(tracer, lambda r: r["pid"] == h.pid, 1)
            self.assertEqual([e["daddr"] for e in evs], [V4_REPORTED],
                             tracer.describe(lambda r: r.get("pid") == h.pid))
        self.on_each("default", check)

    def test_no_free_source_port(self):
        """Two ephemeral ports in the namespace, two connections holding
        them: the next connect to the same destination fails with
        EADDRNOTAVAIL after the socket went to SYN_SENT. The tracepoint
        reports it (sport 0); the kprobe backend does not (tcp_v*_connect
        returned an error)."""
        ns = harness.NetNs().create()
        self.addCleanup(ns.delete)
        eph = port_block(2)
        subprocess.run(ns.prefix() + [
            "sh", "-c", "echo %d %d > /proc/sys/net/ipv4/ip_local_port_range"
            % (eph, eph + 1)], check=True)
        port = next_port()
        targets = [(V4_REPORTED, port)] * 3 + [(V6_REPORTED, port)] * 3
        h = KeepHelper(ns, targets,
                       listen=[(V4_REPORTED, port), (V6_REPORTED, port)])
        self.addCleanup(h.release)
        result = h.wait_result()
        self.assertEqual([r["error"] for r in result["results"]],
                         ["ok", "ok", "EADDRNOTAVAIL"] * 2, result)
        held = sorted((r["addr"], r["sport"]) for r in result["results"]
                      if r["error"] == "ok")
        self.assertEqual(held, sorted((a, p)
                                      for a in (V4_REPORTED, V6_REPORTED)
                                      for p in (eph, eph + 1)))

        def check(tracer, spec):
            want = 6 if spec.backend == "tracepoint" else 4
            evs = self.settled_events(tracer, lambda r: r["pid"] == h.pid,
                                      want)
            got = sorted((e["daddr"], e["sport"]) for e in evs)
            if spec.backend == "tracepoint":
                expected = sorted([(V4_REPORTED, 0), (V6_REPORTED, 0)] * 3)
            else:
                expected = held
            self.assertEqual(got, expected, tracer.describe(
                lambda r: r.get("pid") == h.pid))
            for ev in evs:
                self.assert_event(ev, tracer, pid=h.pid, port=port,
                                  saddr=ev["daddr"], error="")
        self.on_each("default", check)


# ============================================================ custom filters

class TestCustomFilters(Case):
    OPTIONS = ("exclude", "include")

    def test_networks_and_excluded_ports(self):
        """--filter 203.0.113.0/24 --filter 2001:db8::7/128
        --exclude-ports 4000-4010,5555 (default networks still filtered)."""
        run_table(self, "exclude", [
            t(V4_REPORTED, True), t(V4_SECOND, False),
            t("::ffff:" + V4_SECOND, False), t(V6_REPORTED, False),
            t("fd00::7", False), t("10.255.0.7", False),
            t(V4_REPORTED, False, 4000), t(V4_REPORTED, False, 4005),
            t(V4_REPORTED, False, 4010), t(V4_REPORTED, False, 5555),
            t("::ffff:" + V4_REPORTED, False, 4003),
            t(V4_REPORTED, True, 3999), t(V4_REPORTED, True, 4011),
            t(V4_REPORTED, True, 5554), t(V4_REPORTED, True, 5556),
            t("::ffff:" + V4_REPORTED, True, 4012)])

    def test_no_defaults_network_and_included_ports(self):
        """--no-default-filters --filter 10.0.0.0/8
        --include-ports 6000,6100-6105."""
        run_table(self, "include", [
            t(V4_REPORTED, True, 6000), t(V4_REPORTED, True, 6100),
            t(V4_REPORTED, True, 6103), t(V4_REPORTED, True, 6105),
            t(V6_REPORTED, True, 6101), t(V4_REPORTED, False, 5999),
            t(V4_REPORTED, False, 6001), t(V4_REPORTED, False, 6099),
            t(V4_REPORTED, False, 6106), t(V6_REPORTED, False, 6106),
            t("10.255.0.7", False, 6000), t("::ffff:10.255.0.7", False, 6102),
            t("172.16.255.7", True, 6104), t("127.0.0.1", True, 6102),
            t("::1", True, 6104), t("fd00::7", True, 6000),
            t(V4_REPORTED, False, A)])


# ============================================================ refused choices

# ============================================================ net_listen

LISTEN_KEYS = {"timestamp", "probe", "pid", "tid", "comm", "uid", "username",
               "family", "laddr", "port", "protocol", "netns", "snapshot",
               "proctree", "error"}


class ListenCase(Case):
    """Checks on net_listen's events."""

    def listen_events(self, tracer, pred, count=1):
        return tracer.wait_events(pred, count, EVENT_TIMEOUT,
                                  probe="net_listen")

    def settled_listens(self, tracer, pred, want_count):
        tracer.wait_events(pred, want_count, EVENT_TIMEOUT,
                           probe="net_listen")
        time.sleep(0.5)
        return tracer.events(pred, probe="net_listen")

    def assert_listens(self, tracer, pids, want):
        """The events of `pids` (one or several) are one per socket of
        `want` ((protocol, laddr, port) each), and no more; returns them."""
        pids = pids if isinstance(pids, (list, tuple)) else [pids]
        evs = self.settled_listens(tracer, lambda r: r["pid"] in pids,
                                   len(want))
        self.assertEqual({socket_key(e) for e in evs}, want,
                         tracer.describe(lambda r: r.get("pid") in pids))
        self.assertEqual(len(evs), len(want), tracer.describe(
            lambda r: r.get("pid") in pids))
        return evs

    def assert_listen(self, ev, tracer, snapshot=False, **expected):
        where = "\nevent: %r%s" % (ev, tracer.describe(
            lambda r: r.get("pid") == ev.get("pid")))
        keys = LISTEN_KEYS - ({"tid"} if snapshot else set())
        self.assertEqual(set(ev), keys, "unexpected set of keys" + where)
        self.assertEqual(ev["probe"], "net_listen", where)
        self.assertEqual(ev["snapshot"], snapshot, where)
        self.assertRegex(ev["timestamp"], harness.TIMESTAMP_RE, where)
        self.assertIn(ev["protocol"], ("tcp", "udp"), where)
        self.assertEqual(ev["family"],
                         "ipv6" if ":" in ev["laddr"] else "ipv4", where)
        for key, value in expected.items():
            self.assertEqual(ev[key], value, key + where)

    def assert_listen_time(self, tracer, ev, result):
        ts = timestamp_ns(ev["timestamp"])
        self.assertGreaterEqual(ts, result["t_before_ns"] - SKEW_NS, ev)
        self.assertLessEqual(ts, result["t_after_ns"] + SKEW_NS, ev)

    def listener(self, specs, netns="test", **kw):
        h = harness.ListenHelper(NS if netns == "test" else None, specs,
                                 **kw)
        self.addCleanup(h.release)
        result = h.wait_result()
        for sock in result["sockets"]:
            self.assertEqual(sock["error"], "", result)
        return h, result


def socket_key(ev):
    return (ev["protocol"], ev["laddr"], ev["port"])


def wanted(result, protocol_of=lambda spec: spec.split(",")[0][:3]):
    return {(protocol_of(s["spec"]), canonical(s["addr"]), s["port"])
            for s in result["sockets"]}


class TestNetListen(ListenCase):
    """net_listen with every protocol, filters and a snapshot at start,
    on each backend."""

    OPTIONS = ("listen",)

    def test_backend_line_and_hooks(self):
        def check(tracer, spec):
            self.assertEqual(tracer.backend, spec.backend)
            self.assertEqual(
                tracer.stderr_lines,
                ["pidtree-bcc: tracing TCP listens with the %s backend and "
                 "UDP binds; Ctrl-C to stop" % spec.backend])
            progs, _ = harness.fd_bpf_ids(tracer.pid)
            attached = {(p.get("fd_type"), p.get("tracepoint") or
                         p.get("func"))
                        for p in harness.bpftool_json("perf", "show")
                        if p.get("pid") == tracer.pid}
            cgroup = {(a["attach_type"], a["name"])
                      for c in harness.cgroup_tree()
                      for a in c.get("programs", []) if a["id"] in progs}
            # Without exclude_random_bind, no hook before the bind.
            udp = {("cgroup_inet4_post_bind", "net_listen_post_bind4"),
                   ("cgroup_inet6_post_bind", "net_listen_post_bind6")}
            if spec.backend == "kprobe":
                self.assertIn(("kprobe", "inet_listen"), attached)
                self.assertIn(("kretprobe", "inet_listen"), attached)
                self.assertEqual(cgroup, udp)
            else:
                self.assertIn(("raw_tracepoint", "inet_sock_set_state"),
                              attached)
                self.assertEqual(cgroup, udp | {("cgroup_sock_ops",
                                                 "net_listen_sock_ops")})
        self.on_each("listen", check)

    def test_tcp_listens_bound_unbound_and_wildcard(self):
        h, result = self.listener([
            "tcp,%s,%d" % (V4_REPORTED, next_port()), "tcp4-unbound",
            "tcp,%s,%d" % (V6_REPORTED, next_port()), "tcp6-unbound",
            "tcp,0.0.0.0,%d" % next_port(), "tcp,::,%d" % next_port(),
            "tcp,%s,0" % V4_REPORTED])
        want = wanted(result)
        for sock in result["sockets"]:
            self.assertNotEqual(sock["port"], 0, result)
        netns = harness.netns_inode(NS)

        def check(tracer, spec):
            evs = self.assert_listens(tracer, h.pid, want)
            for ev in evs:
                self.assert_listen(ev, tracer, pid=h.pid, tid=h.pid,
                                   comm=HELPER_COMM, uid=0, username="root",
                                   protocol="tcp", netns=netns, error="")
                self.assertEqual(ev["proctree"][0]["cmdline"], h.cmdline())
                self.assertEqual(ev["proctree"][1]["pid"], os.getpid())
                self.assert_listen_time(tracer, ev, result)
        self.on_each("listen", check)

    def test_udp_binds_with_the_real_port(self):
        h, result = self.listener([
            "udp,%s,%d" % (V4_REPORTED, next_port()),
            "udp,%s,0" % V6_REPORTED, "udp,%s,0" % V4_REPORTED,
            "udp,0.0.0.0,%d" % next_port(), "udp,::,%d" % next_port()])
        want = wanted(result)
        netns = harness.netns_inode(NS)

        def check(tracer, spec):
            evs = self.assert_listens(tracer, h.pid, want)
            for ev in evs:
                self.assert_listen(ev, tracer, pid=h.pid, tid=h.pid,
                                   protocol="udp", netns=netns, error="")
                self.assert_listen_time(tracer, ev, result)
        self.on_each("listen", check)

    def test_filters_on_the_local_address_and_port(self):
        reported = [
            "tcp,%s,%d" % (V4_SECOND, LISTEN_EXCEPT_PORT),  # except_ports
            "tcp,%s,%d" % (V4_REPORTED, next_port()),       # no rule
            "udp,%s,%d" % (V6_REPORTED, next_port())]
        filtered = [
            "tcp,%s,%d" % (V4_SECOND, next_port()),         # 203.0.113.0/24
            "udp,%s,%d" % (V4_SECOND, next_port()),
            "tcp,::ffff:%s,%d" % (V4_SECOND, next_port()),  # mapped: as v4
            "udp,%s,%d" % (V4_REPORTED, LISTEN_EXCLUDED_PORT),  # excludeports
            "tcp,%s,%d" % (V6_REPORTED, LISTEN_EXCLUDED_PORT)]
        h, result = self.listener(reported + filtered)
        want = wanted({"sockets": result["sockets"][:len(reported)]})

        def check(tracer, spec):
            evs = self.assert_listens(tracer, h.pid, want)
        self.on_each("listen", check)

    def test_listeners_whose_whole_chain_exits_at_once(self):
        """helper <- sh <- sh, all gone a moment after the listen: the trees
        come from the process table as they were at the listen."""
        shells = {}
        h = harness.ListenHelper(NS, ["tcp4-unbound",
                                      "udp,%s,0" % V6_REPORTED],
                                 hold=False,
                                 command=shell_chain("listen", shells))
        self.addCleanup(h.release)
        result = h.wait_result()
        h.release()  # every process of the chain has exited
        pid = result["pid"]
        want = wanted(result)

        def check(tracer, spec):
            evs = self.assert_listens(tracer, pid, want)
            for ev in evs:
                self.assert_listen(ev, tracer, pid=pid, error="")
                self.assertEqual(
                    [(n["pid"], n["cmdline"]) for n in ev["proctree"][:4]],
                    [(pid, h.cmdline()), (result["ppid"], shells["inner"]),
                     (h.pid, shells["outer"]),
                     (os.getpid(), harness.proc_cmdline(os.getpid()))])
                self.assertEqual(ev["proctree"][-1]["pid"], 1)
        self.on_each("listen", check)

    def test_snapshot_at_start_finds_the_earlier_listener(self):
        """EARLY listened in the test's namespace before any tracer ran:
        the snapshot at start reports it, with its tree, once per socket;
        its filtered socket not at all."""
        early = EARLY.wait_result()
        netns = harness.netns_inode(NS)
        want = {("tcp", V4_REPORTED, EARLY_PORTS["tcp"]),
                ("udp", V6_REPORTED, EARLY_PORTS["udp"])}

        def check(tracer, spec):
            evs = self.assert_listens(tracer, EARLY.pid, want)
            for ev in evs:
                self.assert_listen(ev, tracer, snapshot=True, pid=EARLY.pid,
                                   comm=HELPER_COMM, uid=0, username="root",
                                   netns=netns, error="")
                self.assertEqual(ev["proctree"][0]["cmdline"],
                                 EARLY.cmdline())
                self.assertEqual(ev["proctree"][-1]["pid"], 1)
                # Taken once the tracer ran, not at the listen.
                self.assertGreater(timestamp_ns(ev["timestamp"]),
                                   early["t_after_ns"])
        self.on_each("listen", check)


class TestNetListenStrict(ListenCase):
    """same_namespace_only and exclude_random_bind."""

    OPTIONS = ("listen-strict",)

    def test_hooks_before_the_bind_mark_port_zero(self):
        def check(tracer, spec):
            progs, _ = harness.fd_bpf_ids(tracer.pid)
            cgroup = {(a["attach_type"], a["name"])
                      for c in harness.cgroup_tree()
                      for a in c.get("programs", []) if a["id"] in progs}
            self.assertLessEqual({("cgroup_inet4_bind", "net_listen_bind4"),
                                  ("cgroup_inet6_bind", "net_listen_bind6")},
                                 cgroup)
        self.on_each("listen-strict", check)

    def test_same_namespace_only(self):
        """A listener in the test's namespace is left out; one in ours (on
        loopback, where nothing is sent) is reported."""
        other, _ = self.listener(["tcp,%s,%d" % (V4_REPORTED, next_port()),
                                  "udp,%s,%d" % (V6_REPORTED, next_port())])
        ours, result = self.listener(["tcp,127.0.0.1,0",
                                      "udp,127.0.0.1,%d" % next_port()],
                                     netns=None)
        want = wanted(result)
        host = harness.netns_inode(None)

        def check(tracer, spec):
            evs = self.assert_listens(tracer, [ours.pid, other.pid], want)
            for ev in evs:
                self.assert_listen(ev, tracer, pid=ours.pid, netns=host)
        self.on_each("listen-strict", check)

    def test_exclude_random_bind(self):
        """UDP binds to port 0 are left out; TCP, even unbound, is not."""
        udp_port = next_port()
        h, result = self.listener(["udp,127.0.0.1,0",
                                   "udp,127.0.0.1,%d" % udp_port,
                                   "udp,::1,0", "tcp4-unbound"],
                                  netns=None)
        unbound = result["sockets"][3]["port"]
        want = {("udp", "127.0.0.1", udp_port), ("tcp", "0.0.0.0", unbound)}

        def check(tracer, spec):
            evs = self.assert_listens(tracer, h.pid, want)
        self.on_each("listen-strict", check)


class TestNetListenUnload(ListenCase):
    """Runs after the other net_listen cases (by name): stops their
    tracers, the "listen" ones with SIGINT and the "listen-strict" ones
    with SIGKILL, and finds nothing of theirs loaded or attached."""

    OPTIONS = ("listen", "listen-strict")

    def test_nothing_left_after_sigint_and_sigkill(self):
        owned = {}
        for options, sig in (("listen", signal.SIGINT),
                             ("listen-strict", signal.SIGKILL)):
            for key in POOL.keys(options):
                tracer = POOL.get(key)
                progs, maps = harness.fd_bpf_ids(tracer.pid)
                self.assertTrue(progs, key)
                owned[key] = (progs, maps, sig)
        for key, (_, _, sig) in owned.items():
            POOL.get(key).send(sig)
        for key, (progs, maps, sig) in owned.items():
            tracer = POOL.get(key)
            rc = tracer.wait_exit(30)
            self.assertEqual(rc, 0 if sig == signal.SIGINT else -9, key)
        # The kernel frees programs and links a moment after the last fd.
        deadline = time.monotonic() + 10
        while True:
            loaded = {p["id"] for p in harness.bpftool_json("prog", "show")}
            attached = harness.cgroup_prog_ids()
            left = {k: (progs & loaded, progs & attached)
                    for k, (progs, _, _) in owned.items()
                    if progs & (loaded | attached)}
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(left, {}, "programs still loaded or attached")
        # Binding and listening work as before.
        h, result = self.listener(["tcp,127.0.0.1,0", "udp,127.0.0.1,0"],
                                  netns=None)
        for key in owned:
            CHECKED.setdefault(self.id().split(".", 1)[1], []).append(key)


# ============================================================ udp_session

UDP_KEYS = {"timestamp", "probe", "pid", "tid", "comm", "uid", "username",
            "family", "saddr", "sport", "destinations",
            "other_destinations_msg_count", "interim", "end_timestamp",
            "proctree", "error"}
SEND_LENGTH = harness.has_tracepoint("sock", "sock_send_length")
# A session's last line comes within a scan (max/10, at least 50 ms) of
# its idle time-out.
UDP_SCAN = max(UDP_MAX_DURATION / 10, 0.05)


def dest_counts(lines):
    """{(daddr, port): messages} over a session's lines."""
    out = collections.Counter()
    for ev in lines:
        for d in ev["destinations"]:
            out[(d["daddr"], d["port"])] += d["msg_count"]
    return dict(out)


class UdpCase(Case):
    """Checks on udp_session's lines."""

    def udp_helper(self, specs, netns="test", **kw):
        h = harness.UdpHelper(NS if netns == "test" else None, specs, **kw)
        self.addCleanup(h.release)
        result = h.wait_result()
        return h, result

    def session_lines(self, tracer, pred, count=1, settle=0.5):
        """The udp_session lines matching pred once `count` arrived (or the
        wait ran out), plus `settle` seconds for any that should not be
        there."""
        tracer.wait_events(pred, count, EVENT_TIMEOUT, probe="udp_session")
        time.sleep(settle)
        return tracer.events(pred, probe="udp_session")

    def of_socket(self, tracer, pid, sport, count=1, settle=0.5):
        evs = self.session_lines(
            tracer, lambda r: r["pid"] == pid and r["sport"] == sport,
            count, settle)
        self.assertEqual(len(evs), count, "want %d line(s) of %d:%d%s" % (
            count, pid, sport, tracer.describe(
                lambda r: r.get("pid") == pid, )
            + self.udp_describe(tracer, pid)))
        return evs

    def udp_describe(self, tracer, pid):
        evs = tracer.events(lambda r: r.get("pid") == pid,
                            probe="udp_session")
        return "\nudp_session lines of pid %d:\n%s" % (
            pid, "\n".join(json.dumps(e) for e in evs[:20]))

    def assert_session(self, ev, tracer, result, **expected):
        where = "\nline: %r" % (ev,)
        self.assertEqual(set(ev), UDP_KEYS, "unexpected set of keys" + where)
        self.assertEqual(ev["probe"], "udp_session", where)
        self.assertRegex(ev["timestamp"], harness.TIMESTAMP_RE, where)
        self.assertRegex(ev["end_timestamp"], harness.TIMESTAMP_RE, where)
        # timestamp: the first send, in the kernel.
        first = timestamp_ns(ev["timestamp"])
        self.assertGreaterEqual(first, result["t_before_ns"] - SKEW_NS, where)
        self.assertLessEqual(first, result["t_after_ns"] + SKEW_NS, where)
        self.assertGreaterEqual(timestamp_ns(ev["end_timestamp"]), first,
                                where)
        for d in ev["destinations"]:
            self.assertEqual(set(d), {"daddr", "port", "duration",
                                      "msg_count"}, where)
            self.assertGreater(d["msg_count"], 0, where)
            self.assertGreaterEqual(d["duration"], 0, where)
        for key, value in expected.items():
            self.assertEqual(ev[key], value, key + where)


class TestUdpSession(UdpCase):
    """udp_session with filters on the destination and a 2 s
    session_max_duration, on each backend."""

    OPTIONS = ("udp",)

    def test_backend_line_and_hooks(self):
        def check(tracer, spec):
            self.assertEqual(tracer.backend, spec.backend)
            want = ["pidtree-bcc: tracing UDP sessions with the %s backend; "
                    "Ctrl-C to stop" % spec.backend]
            if spec.backend == "tracepoint" and not SEND_LENGTH:
                want.insert(0, "pidtree-bcc: note: udp_session: this kernel "
                            "has no sock:sock_send_length tracepoint (Linux "
                            "6.3+), so the tracepoint backend does not see "
                            "sends on connected UDP sockets (send(), or "
                            "sendto() without an address); --backend kprobe "
                            "does, where the kernel has kprobes")
            self.assertEqual(tracer.stderr_lines, want)
            progs, _ = harness.fd_bpf_ids(tracer.pid)
            attached = {(p.get("fd_type"), p.get("tracepoint") or
                         p.get("func"))
                        for p in harness.bpftool_json("perf", "show")
                        if p.get("pid") == tracer.pid}
            raw = {p.get("tp_name") for p in
                   harness.bpftool_json("link", "show")
                   if p.get("type") == "raw_tracepoint"
                   and p.get("prog_id") in progs}
            cgroup = {(a["attach_type"], a["name"])
                      for c in harness.cgroup_tree()
                      for a in c.get("programs", []) if a["id"] in progs}
            release = {("cgroup_inet_sock_release", "udp_session_release")}
            if spec.backend == "kprobe":
                self.assertIn(("kprobe", "udp_sendmsg"), attached)
                self.assertIn(("kprobe", "udpv6_sendmsg"), attached)
                self.assertEqual(cgroup, release)
                self.assertNotIn("sock_send_length", raw)
            else:
                self.assertEqual(cgroup, release | {
                    ("cgroup_udp4_sendmsg", "udp_session_sendmsg4"),
                    ("cgroup_udp6_sendmsg", "udp_session_sendmsg6")})
                self.assertEqual("sock_send_length" in raw, SEND_LENGTH,
                                 raw)
        self.on_each("udp", check)

    def test_unconnected_sends_to_two_destinations(self):
        port1, port2 = next_port(), next_port()
        h, result = self.udp_helper([
            "to:%s,%d,3/%s,%d,2/%s,%d,1" % (
                V4_REPORTED, port1, V4_REPORTED, port2, V4_REPORTED, port1)])
        sock = result["sockets"][0]
        self.assertEqual(sock["error"], "", result)

        def check(tracer, spec):
            ev, = self.of_socket(tracer, h.pid, sock["sport"])
            self.assert_session(ev, tracer, result, pid=h.pid, tid=h.pid,
                                comm=HELPER_COMM, uid=0, username="root",
                                family="ipv4", saddr="0.0.0.0", error="",
                                interim=False,
                                other_destinations_msg_count=0)
            self.assertEqual(dest_counts([ev]), {(V4_REPORTED, port1): 4,
                                                 (V4_REPORTED, port2): 2})
            self.assertEqual(ev["proctree"][0]["cmdline"], h.cmdline())
            self.assertEqual(ev["proctree"][1]["pid"], os.getpid())
            self.assertEqual(ev["proctree"][-1]["pid"], 1)
        self.on_each("udp", check)

    def test_more_destinations_than_slots(self):
        """20 destinations: the first 16 one by one, the rest counted in
        other_destinations_msg_count (a full record is the longest event
        there is: it came padded, and was once refused as malformed)."""
        ports = [next_port() for _ in range(20)]
        h, result = self.udp_helper([
            "/".join("%s,%d,%d" % (V4_REPORTED, p, 2 if i == 0 else 1)
                     for i, p in enumerate(ports)).join(["to:", ""])])
        sock = result["sockets"][0]
        self.assertEqual(sock["error"], "", result)
        self.assertEqual(sock["sent"], 21, result)

        def check(tracer, spec):
            ev, = self.of_socket(tracer, h.pid, sock["sport"])
            self.assert_session(ev, tracer, result, pid=h.pid,
                                family="ipv4", error="", interim=False,
                                other_destinations_msg_count=4)
            want = {(V4_REPORTED, p): 1 for p in ports[:16]}
            want[(V4_REPORTED, ports[0])] = 2
            self.assertEqual(dest_counts([ev]), want)
            self.assertEqual([d["port"] for d in ev["destinations"]],
                             ports[:16])
        self.on_each("udp", check)

    def test_connected_sends(self):
        """send() on connected sockets, IPv4 and IPv6, with receivers (no
        port unreachable back): counted against the connected destination
        where the hooks see them (not by the tracepoint backend before
        Linux 6.3)."""
        p4, p6 = next_port(), next_port()
        h, result = self.udp_helper(
            ["conn:%s,%d,5" % (V4_REPORTED, p4),
             "conn:%s,%d,4" % (V6_REPORTED, p6)],
            receive=[(V4_REPORTED, p4), (V6_REPORTED, p6)])
        s4, s6 = result["sockets"]
        self.assertEqual((s4["error"], s6["error"]), ("", ""), result)

        def check(tracer, spec):
            if spec.backend == "tracepoint" and not SEND_LENGTH:
                evs = self.session_lines(
                    tracer, lambda r: r["pid"] == h.pid, 1, settle=1.0)
                self.assertEqual(evs, [], "seen without sock_send_length?")
                return
            ev4, = self.of_socket(tracer, h.pid, s4["sport"])
            ev6, = self.of_socket(tracer, h.pid, s6["sport"])
            self.assert_session(ev4, tracer, result, family="ipv4",
                                saddr=V4_REPORTED, error="")
            self.assert_session(ev6, tracer, result, family="ipv6",
                                saddr=V6_REPORTED, error="")
            self.assertEqual(dest_counts([ev4]), {(V4_REPORTED, p4): 5})
            self.assertEqual(dest_counts([ev6]), {(V6_REPORTED, p6): 4})
        self.on_each("udp", check)

    def test_ipv6_and_ipv4_mapped_destinations(self):
        port = next_port()
        h, result = self.udp_helper([
            "to:%s,%d,3" % (V6_REPORTED, port),
            "v6to:::ffff:%s,%d,2/::ffff:%s,%d,4/%s,%d,1" % (
                V4_REPORTED, port, V4_SECOND, port, V6_REPORTED, port)])
        v6, mapped = result["sockets"]
        self.assertEqual((v6["error"], mapped["error"]), ("", ""), result)

        def check(tracer, spec):
            ev, = self.of_socket(tracer, h.pid, v6["sport"])
            self.assert_session(ev, tracer, result, family="ipv6",
                                saddr="::", error="")
            self.assertEqual(dest_counts([ev]), {(V6_REPORTED, port): 3})
            # Mapped destinations are the IPv4 addresses they are, and
            # filtered as such (203.0.113.0/24); the socket stays IPv6.
            ev, = self.of_socket(tracer, h.pid, mapped["sport"])
            self.assert_session(ev, tracer, result, family="ipv6")
            self.assertEqual(dest_counts([ev]), {(V4_REPORTED, port): 2,
                                                 (V6_REPORTED, port): 1})
        self.on_each("udp", check)

    def test_sendmmsg_counts_each_message(self):
        port = next_port()
        h, result = self.udp_helper(["mmsg:%s,%d,7" % (V4_REPORTED, port)])
        sock = result["sockets"][0]
        self.assertEqual((sock["error"], sock["sent"]), ("", 7), result)

        def check(tracer, spec):
            ev, = self.of_socket(tracer, h.pid, sock["sport"])
            self.assertEqual(dest_counts([ev]), {(V4_REPORTED, port): 7})
        self.on_each("udp", check)

    def test_filters_on_the_destination(self):
        """A socket that sends only to filtered destinations has no
        session; one that also sends elsewhere lists only the rest."""
        port = next_port()
        h, result = self.udp_helper([
            "to:%s,%d,3" % (V4_SECOND, port),                 # doc3 rule
            "to:%s,%d,2" % (V4_REPORTED, UDP_EXCLUDED_PORT),  # excludeports
            "to:%s,%d,2/%s,%d,1/%s,%d,3" % (
                V4_SECOND, port, V4_SECOND, UDP_EXCEPT_PORT,  # except_ports
                V4_REPORTED, UDP_EXCLUDED_PORT)])
        only_filtered = [s["sport"] for s in result["sockets"][:2]]
        mixed = result["sockets"][2]

        def check(tracer, spec):
            ev, = self.of_socket(tracer, h.pid, mixed["sport"])
            self.assertEqual(dest_counts([ev]),
                             {(V4_SECOND, UDP_EXCEPT_PORT): 1})
            self.assertEqual(tracer.events(
                lambda r: r["pid"] == h.pid and r["sport"] in only_filtered,
                probe="udp_session"), [])
        self.on_each("udp", check)

    def test_sender_whose_whole_chain_exits_without_close(self):
        """helper <- sh <- sh, all gone at once, the socket never closed:
        the process's exit releases it, and the tree is the one of the
        first send."""
        shells = {}
        port = next_port()
        h = harness.UdpHelper(NS, ["to:%s,%d,2" % (V4_REPORTED, port)],
                              exit_open=True,
                              command=shell_chain("udp", shells))
        self.addCleanup(h.release)
        result = h.wait_result()
        h.release()
        pid = result["pid"]
        sport = result["sockets"][0]["sport"]

        def check(tracer, spec):
            ev, = self.of_socket(tracer, pid, sport)
            self.assert_session(ev, tracer, result, pid=pid, error="",
                                interim=False)
            self.assertEqual(dest_counts([ev]), {(V4_REPORTED, port): 2})
            self.assertEqual(
                [(n["pid"], n["cmdline"]) for n in ev["proctree"][:4]],
                [(pid, h.cmdline()), (result["ppid"], shells["inner"]),
                 (h.pid, shells["outer"]),
                 (os.getpid(), harness.proc_cmdline(os.getpid()))])
        self.on_each("udp", check)

    def test_idle_socket_expires_while_its_process_lives(self):
        port = next_port()
        h, result = self.udp_helper(["to:%s,%d,2" % (V4_REPORTED, port)],
                                    hold=True)
        sport = result["sockets"][0]["sport"]
        sent_at = result["t_after_ns"]

        def check(tracer, spec):
            ev, = self.of_socket(tracer, h.pid, sport)
            self.assert_session(ev, tracer, result, interim=False,
                                error="session_max_duration_exceeded")
            self.assertEqual(dest_counts([ev]), {(V4_REPORTED, port): 2})
            self.assertIsNone(h.proc.poll(), "the sender is still alive")
            # Ended by the time-out: after session_max_duration idle, and
            # within a scan or so of it.
            idle = (timestamp_ns(ev["end_timestamp"]) - sent_at) / 1e9
            self.assertGreaterEqual(idle, UDP_MAX_DURATION - 0.05, ev)
            self.assertLess(idle, UDP_MAX_DURATION + 3 * UDP_SCAN + 0.5, ev)
        self.on_each("udp", check)
        h.release()
        # The release of a socket whose session expired adds no line.
        time.sleep(1)
        for key in POOL.keys("udp"):
            self.assertEqual(len(POOL.get(key).events(
                lambda r: r["pid"] == h.pid and r["sport"] == sport,
                probe="udp_session")), 1, key)

    def test_a_socket_that_keeps_sending_past_max_duration(self):
        """Interim lines at least once per session_max_duration, each with
        its period's counts; all lines add up to what was sent."""
        port = next_port()
        sends = int(UDP_MAX_DURATION * 2.6 / 0.1)
        h, result = self.udp_helper(
            ["every:%s,%d,100,%d" % (V4_REPORTED, port, sends)])
        sock = result["sockets"][0]
        self.assertEqual((sock["error"], sock["sent"]), ("", sends), result)
        took = (result["t_after_ns"] - result["t_before_ns"]) / 1e9
        periods = int(took // UDP_MAX_DURATION)

        def check(tracer, spec):
            evs = tracer.wait_events(
                lambda r: r["pid"] == h.pid and r["sport"] == sock["sport"]
                and not r["interim"], 1, EVENT_TIMEOUT, probe="udp_session")
            self.assertTrue(evs, self.udp_describe(tracer, h.pid))
            time.sleep(0.3)
            lines = tracer.events(
                lambda r: r["pid"] == h.pid and r["sport"] == sock["sport"],
                probe="udp_session")
            interim = [e for e in lines if e["interim"]]
            self.assertEqual(len(lines) - len(interim), 1, lines)
            self.assertFalse(lines[-1]["interim"], lines)
            self.assertGreaterEqual(len(interim), periods, lines)
            for ev in lines:
                self.assert_session(ev, tracer, result, error="")
            # Never more than session_max_duration (and a scan) apart.
            ends = [timestamp_ns(lines[0]["timestamp"])]
            ends += [timestamp_ns(e["end_timestamp"]) for e in lines]
            for a, b in zip(ends, ends[1:]):
                self.assertLess((b - a) / 1e9,
                                UDP_MAX_DURATION + 2 * UDP_SCAN, lines)
            self.assertEqual(dest_counts(lines), {(V4_REPORTED, port): sends})
        self.on_each("udp", check)

    def test_a_storm_of_one_send_sockets_is_all_accounted_for(self):
        """A resolver's pattern: one socket per query, one send each."""
        port = next_port()
        count = 300
        h, result = self.udp_helper(
            ["to:%s,%d,1" % (V4_REPORTED, port)] * count)
        sports = {s["sport"] for s in result["sockets"]}
        self.assertTrue(all(s["error"] == "" for s in result["sockets"]))

        def check(tracer, spec):
            evs = self.session_lines(
                tracer, lambda r: r["pid"] == h.pid, count)
            self.assertEqual(len(evs), count, self.udp_describe(tracer, h.pid))
            self.assertEqual({e["sport"] for e in evs} | sports, sports)
            self.assertEqual(dest_counts(evs), {(V4_REPORTED, port): count})
            self.assertEqual(tracer.lost_records(), [])
            self.assertEqual([r for r in tracer.records if r and r.get(
                "type") == "udp_sessions_untracked"], [])
        self.on_each("udp", check)


class TestUdpSessionAsUpstream(UdpCase):
    """Upstream's example configuration, unchanged: all three probes run,
    and udp_session reports what it reported there."""

    OPTIONS = ("udp-upstream",)

    def test_all_three_probes_and_a_session(self):
        port = next_port()
        h, result = self.udp_helper(["to:%s,%d,2" % (V6_REPORTED, port),
                                     "to:127.0.0.1,%d,1" % port])
        v6, loopback = result["sockets"]

        def check(tracer, spec):
            self.assertIn("tracing TCP connects with the %s backend, TCP "
                          "listens with the %s backend, UDP sessions with "
                          "the %s backend" % ((spec.backend,) * 3),
                          tracer.stderr_lines[-1])
            ev, = self.of_socket(tracer, h.pid, v6["sport"])
            self.assert_session(ev, tracer, result, error="")
            self.assertEqual(dest_counts([ev]), {(V6_REPORTED, port): 2})
            # 127.0.0.0/8 is in upstream's filters. (The helper's pid as
            # well as the port: another test's socket may have had the
            # same ephemeral port.)
            self.assertEqual(tracer.events(
                lambda r: r["pid"] == h.pid and
                r["sport"] == loopback["sport"], probe="udp_session"), [])
        self.on_each("udp-upstream", check)


class TestUdpSessionUnload(UdpCase):
    """Runs after the other udp_session cases (by name): stops their
    tracers, "udp" with SIGINT (a session still open is reported, marked)
    and "udp-upstream" with SIGKILL; nothing of theirs stays loaded or
    attached, and UDP sends work as before."""

    OPTIONS = ("udp", "udp-upstream")

    def test_open_sessions_at_sigint_and_nothing_left(self):
        port = next_port()
        h, result = self.udp_helper(["to:%s,%d,3" % (V4_REPORTED, port)],
                                    hold=True)
        sport = result["sockets"][0]["sport"]
        owned = {}
        for options, sig in (("udp", signal.SIGINT),
                             ("udp-upstream", signal.SIGKILL)):
            for key in POOL.keys(options):
                tracer = POOL.get(key)
                progs, maps = harness.fd_bpf_ids(tracer.pid)
                self.assertTrue(progs, key)
                owned[key] = (progs, maps, sig)
        for key, (_, _, sig) in owned.items():
            POOL.get(key).send(sig)
        for key, (progs, maps, sig) in owned.items():
            tracer = POOL.get(key)
            rc = tracer.wait_exit(30)
            self.assertEqual(rc, 0 if sig == signal.SIGINT else -9, key)
            if sig == signal.SIGINT:
                ev, = tracer.events(
                    lambda r: r["pid"] == h.pid and r["sport"] == sport,
                    probe="udp_session")
                self.assert_session(ev, tracer, result, interim=True,
                                    error="tracer_stopped")
                self.assertEqual(dest_counts([ev]), {(V4_REPORTED, port): 3})
        deadline = time.monotonic() + 10
        while True:
            loaded = {p["id"] for p in harness.bpftool_json("prog", "show")}
            attached = harness.cgroup_prog_ids()
            left = {k: (progs & loaded, progs & attached)
                    for k, (progs, _, _) in owned.items()
                    if progs & (loaded | attached)}
            if not left or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(left, {}, "programs still loaded or attached")
        # Sends work as before, connected and not.
        _, after = self.udp_helper(
            ["to:%s,%d,2" % (V4_REPORTED, port),
             "conn:%s,%d,2" % (V6_REPORTED, port)],
            receive=[(V6_REPORTED, port)])
        self.assertEqual([s["error"] for s in after["sockets"]], ["", ""],
                         after)
        for key in owned:
            CHECKED.setdefault(self.id().split(".", 1)[1], []).append(key)


class TestFlood(Case):
    """A process over its flood budget (20 reported events a second on
    the "include", "listen" and "udp-upstream" tracers), on each backend of
    each probe: the events beyond it come as flood_summary lines, and its
    lines plus their counts are exactly what it did. Without a slow reader
    (the runtime tests have one)."""

    OPTIONS = ("include", "listen", "udp-upstream")
    COUNT = 300

    @classmethod
    def setUpClass(cls):
        # The helpers keep their COUNT sockets open until they exit.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = cls.COUNT + 100
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE,
                               (min(want, hard), hard))

    def accounted(self, tracer, pid, probe, want):
        def total():
            lines = tracer.events(lambda r: r.get("pid") == pid, probe=probe)
            summaries = tracer.typed(
                "flood_summary",
                lambda r: r.get("pid") == pid and r.get("probe") == probe)
            return lines, summaries
        deadline = time.monotonic() + EVENT_TIMEOUT
        while True:
            lines, summaries = total()
            n = len(lines) + sum(s["count"] for s in summaries)
            if n >= want or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        time.sleep(0.5)
        lines, summaries = total()
        where = tracer.describe(lambda r: r.get("pid") == pid)
        self.assertTrue(summaries, "no flood_summary line" + where)
        self.assertEqual(len(lines) + sum(s["count"] for s in summaries),
                         want, where)
        self.assertLess(len(lines), want, where)
        for s in summaries:
            self.assertEqual(s["proctree"][0]["pid"], pid, s)
        return summaries

    def test_connects_beyond_the_budget_are_summarised(self):
        port = 6000  # the "include" set's
        h = self.helper([(V4_REPORTED, port)], count=self.COUNT)
        self.assertEqual(h.wait_result(120)["errors"],
                         {"ECONNREFUSED": self.COUNT})

        def check(tracer, spec):
            for s in self.accounted(tracer, h.pid, "tcp_connect",
                                    self.COUNT):
                self.assertEqual((s["daddr"], s["port"]),
                                 (V4_REPORTED, port), s)
        self.on_each("include", check)

    def test_binds_beyond_the_budget_are_summarised(self):
        h = harness.ListenHelper(NS, ["udp,%s,0" % V4_REPORTED] * self.COUNT,
                                 hold=False)
        self.addCleanup(h.release)
        res = h.wait_result(120)
        self.assertTrue(all(x["error"] == "" for x in res["sockets"]))

        def check(tracer, spec):
            for s in self.accounted(tracer, h.pid, "net_listen", self.COUNT):
                self.assertEqual((s["laddr"], s["protocol"]),
                                 (V4_REPORTED, "udp"), s)
        self.on_each("listen", check)

    def test_sessions_beyond_the_budget_are_summarised(self):
        port = next_port()
        h = harness.UdpHelper(NS, ["to:%s,%d,1" % (V4_REPORTED, port)] *
                              self.COUNT)
        self.addCleanup(h.release)
        h.wait_result(120)

        def check(tracer, spec):
            for s in self.accounted(tracer, h.pid, "udp_session",
                                    self.COUNT):
                self.assertEqual((s["daddr"], s["port"]),
                                 (V4_REPORTED, port), s)
        self.on_each("udp-upstream", check)


class TestUnavailableBackend(Case):
    """A --backend the kernel cannot honour: exit 1, one clear line, before
    anything is compiled. Where the kernel has kprobes (and the tracepoint),
    the missing interface is hidden from pidtree-bcc in a private mount
    namespace."""

    def refused(self, argv, prefix=()):
        start = time.monotonic()
        p = subprocess.run(list(prefix) + [BINARY] + argv,
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=120)
        err = p.stderr.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 1, err)
        self.assertEqual(p.stdout, b"")
        self.assertTrue(err.startswith("pidtree-bcc: error: "), err)
        self.assertEqual(err.count("\n"), 1, err)
        self.assertLess(time.monotonic() - start, 10,
                        "refused only after compiling?")
        return err

    def test_kprobe_without_kprobes(self):
        prefix = hidden("keeptracepoint") if KPROBES else ()
        err = self.refused(["--backend", "kprobe"], prefix)
        self.assertIn("--backend kprobe: this kernel has no kprobes", err)
        self.assertIn("use --backend tracepoint or auto", err)
        CHECKED.setdefault(self.id().split(".", 1)[1], []).append(
            "kprobe (hidden)" if KPROBES else "kprobe")

    def test_tracepoint_without_the_tracepoint(self):
        err = self.refused(["--backend", "tracepoint"],
                           hidden("notracepoint"))
        self.assertIn("--backend tracepoint: this kernel has no "
                      "sock:inet_sock_set_state tracepoint", err)
        CHECKED.setdefault(self.id().split(".", 1)[1], []).append(
            "tracepoint (hidden)")

    def test_auto_without_either(self):
        err = self.refused(["--backend", "auto"], hidden("notracepoint"))
        self.assertIn("neither kprobes nor the sock:inet_sock_set_state", err)
        CHECKED.setdefault(self.id().split(".", 1)[1], []).append(
            "auto (both hidden)")


# ============================================================ main

def test_classes(suite):
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from test_classes(item)
        else:
            yield type(item)


class Program(unittest.TestProgram):
    """unittest's command line; starts the tracers the selected tests need
    (all at once) before running them."""

    def runTests(self):
        options = set()
        for cls in test_classes(self.test):
            options.update(getattr(cls, "OPTIONS", ()))
        specs = [s for s in all_specs() if s.options in options]
        if "listen" in options:
            start_early_listener()
        if specs:
            parallel = int(os.environ.get(
                "PIDTREE_TEST_COMPILES", min(4, os.cpu_count() or 1)))
            POOL.start(specs, parallel)
        try:
            super().runTests()
        finally:
            Tracer.kill_all()
            kernel = os.uname().release
            sys.stderr.write("\nchecked on kernel %s (kprobes: %s):\n"
                             % (kernel, "yes" if KPROBES else "no"))
            for name, keys in CHECKED.items():
                sys.stderr.write("  %-66s %s\n" % (name, " ".join(keys)))


def main():
    global BINARY
    if len(sys.argv) < 2:
        sys.exit("usage: %s PATH-TO-pidtree-bcc [unittest args]"
                 % sys.argv[0])
    BINARY = os.path.abspath(sys.argv[1])
    if not os.access(BINARY, os.X_OK):
        sys.exit("FAIL: %s is not an executable" % BINARY)
    if os.geteuid() != 0:
        sys.exit("FAIL: needs root (BPF, network namespaces)")
    prog = Program(module="__main__", argv=[sys.argv[0]] + sys.argv[2:],
                   verbosity=2, exit=False)
    sys.exit(0 if prog.result.wasSuccessful() else 1)


if __name__ == "__main__":
    main()
