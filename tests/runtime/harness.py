"""Shared helpers for the pidtree-bcc runtime and CLI tests.

- NetNs: a network namespace of the test's own, with the addresses the tests
  connect to. Traffic rule: tests connect ONLY to loopback or to addresses
  created here, inside this namespace.
- Tracer: runs pidtree-bcc, waits for its "tracing" line, collects stdout
  lines (parsed as JSON) and stderr lines from reader threads, and is always
  killed in cleanup.
- Helper: runs connect_helper.py inside the namespace.
- BPF object listing (bpftool, /proc/PID/fdinfo).
"""
import atexit
import calendar
import json
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# The binary under test was built with ASan and UBSan (-DPIDTREE_SANITIZE,
# set by tests/CMakeLists.txt): its shadow memory and quarantine make RSS
# bounds meaningless, so memory checks allow this factor.
SANITIZED = os.environ.get("PIDTREE_SANITIZED") == "1"
RSS_FACTOR = 5 if SANITIZED else 1
# Seconds to wait for the "tracing" line (BCC compiles the program first:
# ~2 s here; raise it under CPU emulation).
READY_TIMEOUT = float(os.environ.get("PIDTREE_READY_TIMEOUT", "60"))

# The interpreter that runs the connect helper. An absolute path, so that the
# helper's command line is exactly what we pass (a pyenv-style shim would
# re-exec with another argv[0]); the system one, so that user nobody can run
# it too.
HELPER_PYTHON = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) \
    else os.path.realpath(sys.executable)

TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{6})Z$")

EVENT_KEYS = {"timestamp", "probe", "pid", "tid", "comm", "uid", "username",
              "family", "saddr", "sport", "daddr", "port", "proctree", "error"}
LOST_KEYS = {"type", "count", "total", "timestamp"}

# Addresses created inside the test namespace (and nowhere else).
V4_REPORTED = "198.51.100.7"      # TEST-NET-2: reported by default
V4_SECOND = "203.0.113.9"         # TEST-NET-3: a second unfiltered address
V6_REPORTED = "2001:db8::7"       # documentation prefix: reported by default
V4_IN_DEFAULT_FILTERS = ["10.255.0.7", "172.16.255.7", "192.168.255.7",
                         "169.254.255.7"]
V6_IN_DEFAULT_FILTERS = ["fd00::7"]


def timestamp_ns(text):
    """RFC 3339 UTC text with 6 fractional digits -> ns since the epoch."""
    m = TIMESTAMP_RE.match(text)
    if not m:
        raise ValueError("bad timestamp %r" % (text,))
    y, mo, d, h, mi, s, us = (int(g) for g in m.groups())
    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    return secs * 1_000_000_000 + us * 1000


def run(argv, check=True, **kw):
    return subprocess.run(argv, check=check, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, **kw)


# ---------------------------------------------------------------- temp dir

_tmpdir = None


def tmpdir():
    """A 0755 scratch dir (readable by user nobody), removed at exit."""
    global _tmpdir
    if _tmpdir is None:
        _tmpdir = tempfile.mkdtemp(prefix="pidtree-rt-")
        os.chmod(_tmpdir, 0o755)
        atexit.register(shutil.rmtree, _tmpdir, True)
    return _tmpdir


def helper_script():
    """connect_helper.py, copied where user nobody can read it."""
    return _copied_script("connect_helper.py")


# ---------------------------------------------------------------- netns

class NetNs:
    """A network namespace of this test run: pidtree-rt-<pid>-<n>."""

    _count = 0

    def __init__(self):
        NetNs._count += 1
        self.name = "pidtree-rt-%d-%d" % (os.getpid(), NetNs._count)
        self._created = False

    @staticmethod
    def remove_stale():
        """Deletes pidtree-rt-<pid>-* namespaces whose test run is gone."""
        out = run(["ip", "netns", "list"], check=False).stdout.decode()
        for line in out.splitlines():
            m = re.match(r"^(pidtree-rt-(\d+)-\d+)\b", line)
            if m and not os.path.exists("/proc/" + m.group(2)):
                run(["ip", "netns", "delete", m.group(1)], check=False)

    def create(self):
        run(["ip", "netns", "add", self.name])
        self._created = True
        atexit.register(self.delete)
        self.ip("link", "set", "lo", "up")
        for a in [V4_REPORTED, V4_SECOND] + V4_IN_DEFAULT_FILTERS:
            self.ip("addr", "add", a + "/32", "dev", "lo")
        for a in [V6_REPORTED] + V6_IN_DEFAULT_FILTERS:
            self.ip("-6", "addr", "add", a + "/128", "dev", "lo", "nodad")
        return self

    def ip(self, *args):
        return run(["ip", "-n", self.name] + list(args))

    def prefix(self):
        return ["ip", "netns", "exec", self.name]

    def delete(self):
        if self._created:
            run(["ip", "netns", "delete", self.name], check=False)
            self._created = False


class Ports:
    """Destination ports for one test module, unique within the run: counted
    up from a random start in [low, high) so that concurrent runs differ."""

    def __init__(self, low, high):
        self._next = random.randrange(low, high, 100)

    def next(self):
        self._next += 1
        return self._next

    def block(self, n):
        """The first of n consecutive fresh ports."""
        first = self._next + 1
        self._next += n
        return first


def module_netns():
    """A test module's own namespace (after removing those of dead runs)."""
    NetNs.remove_stale()
    return NetNs().create()


def end_module(netns):
    Tracer.kill_all()
    if netns:
        netns.delete()


# ---------------------------------------------------------------- helper

class _HelperProcess:
    """A helper script that prints one JSON line when its work is done and,
    with --hold, stays until its stdin is closed."""

    what = "helper"

    def _start(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self.result = None

    def cmdline(self):
        """The helper's argv joined by spaces, as text (bytes decoded with
        U+FFFD for invalid UTF-8)."""
        parts = [a if isinstance(a, bytes) else a.encode() for a in self.argv]
        return b" ".join(parts).decode("utf-8", "replace")

    def wait_result(self, timeout=30):
        """Waits for the helper's JSON line (its work is done)."""
        if self.result is None:
            line = _readline_timeout(self.proc.stdout, timeout)
            if not line:
                self.release()
                raise AssertionError(
                    "%s %d gave no result; stderr: %r"
                    % (self.what, self.pid, self.proc.stderr.read()))
            self.result = json.loads(line)
        return self.result

    def release(self, timeout=10):
        """Lets a --hold helper exit."""
        if self.proc.stdin and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for f in (self.proc.stdout, self.proc.stderr):
            if f and not f.closed:
                f.close()


def _copied_script(name):
    """A helper script copied to the scratch dir (so user nobody can read
    it wherever the checkout lives)."""
    path = os.path.join(tmpdir(), name)
    if not os.path.exists(path):
        shutil.copy(os.path.join(HERE, name), path)
        os.chmod(path, 0o755)
    return path


class Helper(_HelperProcess):
    """connect_helper.py run in the namespace (optionally through a wrapper
    command such as setpriv). Popen.pid is the helper's pid: `ip netns exec`
    and setpriv exec, they do not fork."""

    what = "connect helper"

    def __init__(self, netns, targets, hold=True, thread=False, count=None,
                 bind_port=None, extra_args=(), wrapper=(), command=None,
                 cpu=None, bind_addr=None):
        """command: optional function(helper argv) -> the argv to run in the
        namespace instead (e.g. a shell chain that ends in the helper); then
        self.pid is the pid of that command, and the helper's own pid is
        wait_result()["pid"]."""
        self.argv = [HELPER_PYTHON, helper_script()]
        if hold:
            self.argv.append("--hold")
        if thread:
            self.argv.append("--thread")
        if count is not None:
            self.argv += ["--count", str(count)]
        if bind_port is not None:
            self.argv += ["--bind-port", str(bind_port)]
        if bind_addr is not None:
            self.argv += ["--bind-addr", bind_addr]
        if cpu is not None:
            self.argv += ["--cpu", str(cpu)]
        self.argv += ["%s,%d" % (a, p) for a, p in targets]
        if extra_args:
            self.argv += ["--"] + list(extra_args)
        inner = command(self.argv) if command else self.argv
        self._start(netns.prefix() + list(wrapper) + inner)


def _readline_timeout(f, timeout):
    box = []
    t = threading.Thread(target=lambda: box.append(f.readline()), daemon=True)
    t.start()
    t.join(timeout)
    return box[0] if box else b""


class ListenHelper(_HelperProcess):
    """listen_helper.py (see its docstring), in `netns` or, with netns None,
    in the host's namespace (loopback addresses only). Popen.pid is the
    helper's pid unless `command` wraps it (then wait_result()["pid"])."""

    what = "listen helper"

    def __init__(self, netns, specs, hold=True, command=None):
        self.argv = [HELPER_PYTHON, _copied_script("listen_helper.py")] + \
            (["--hold"] if hold else []) + list(specs)
        inner = command(self.argv) if command else self.argv
        self._start((netns.prefix() if netns else []) + inner)


class UdpHelper(_HelperProcess):
    """udp_helper.py (see its docstring), in `netns` (or, with None, the
    host's namespace: loopback addresses only). Popen.pid is the helper's
    pid unless `command` wraps it (then wait_result()["pid"])."""

    what = "udp helper"

    def __init__(self, netns, specs, receive=(), hold=False,
                 exit_open=False, command=None):
        self.argv = [HELPER_PYTHON, _copied_script("udp_helper.py")]
        for addr, port in receive:
            self.argv += ["--receive", "%s,%d" % (addr, port)]
        if hold:
            self.argv.append("--hold")
        if exit_open:
            self.argv.append("--exit-open")
        self.argv += list(specs)
        inner = command(self.argv) if command else self.argv
        self._start((netns.prefix() if netns else []) + inner)


def has_tracepoint(category, name):
    """Whether the kernel has the tracepoint (tracefs, wherever mounted)."""
    return any(os.path.exists("%s/events/%s/%s" % (root, category, name))
               for root in ("/sys/kernel/tracing",
                            "/sys/kernel/debug/tracing"))


def netns_inode(netns=None):
    """The inode of a test namespace (or, with None, of our own)."""
    path = "/run/netns/" + netns.name if netns else "/proc/self/ns/net"
    return os.stat(path).st_ino


def run_helper(netns, targets, **kw):
    """Runs a non-holding helper to completion; returns its result."""
    kw.setdefault("hold", False)
    h = Helper(netns, targets, **kw)
    try:
        return h, h.wait_result()
    finally:
        h.release()


# ---------------------------------------------------------------- tracer

class Tracer:
    """pidtree-bcc under test.

    stdout: None (a pipe read by a thread: self.lines), or any Popen stdout
    value (a file, an fd, subprocess.DEVNULL) that the test handles itself.
    """

    _live = set()

    def __init__(self, binary, args=(), stdout=None, preexec_fn=None,
                 user_argv_prefix=()):
        self.binary = binary
        self.args = list(args)
        self.cond = threading.Condition()
        self.lines = []        # (wall-clock ns when read, raw bytes w/o \n)
        self.records = []      # parsed JSON (or None for a bad line)
        self.bad_lines = []
        self.stderr_lines = []
        self.ready = threading.Event()
        self.backend = None
        self._threads = []
        self.proc = subprocess.Popen(
            list(user_argv_prefix) + [binary] + self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout is None else stdout,
            stderr=subprocess.PIPE, preexec_fn=preexec_fn)
        Tracer._live.add(self)
        self.pid = self.proc.pid
        if stdout is None:
            self._spawn(self._read_stdout)
        self._spawn(self._read_stderr)

    # -- reader threads
    def _spawn(self, fn):
        t = threading.Thread(target=fn, daemon=True)
        t.start()
        self._threads.append(t)

    def _read_stdout(self):
        f = self.proc.stdout
        for raw in iter(f.readline, b""):
            now = time.time_ns()
            line = raw[:-1] if raw.endswith(b"\n") else raw
            try:
                rec = json.loads(line)
                if not isinstance(rec, dict):
                    raise ValueError("not an object")
            except ValueError:
                rec = None
            with self.cond:
                self.lines.append((now, line))
                self.records.append(rec)
                if rec is None:
                    self.bad_lines.append(line)
                self.cond.notify_all()
        with self.cond:
            self.cond.notify_all()

    def _read_stderr(self):
        for raw in iter(self.proc.stderr.readline, b""):
            text = raw.decode("utf-8", "replace").rstrip("\n")
            with self.cond:
                self.stderr_lines.append(text)
                # "tracing TCP connects with the X backend, ...; Ctrl-C to
                # stop" (the first backend named is the first probe's)
                if re.match(r"pidtree-bcc: tracing .*; Ctrl-C to stop$",
                            text):
                    m = re.search(r"with the (\w+) backend", text)
                    self.backend = m.group(1) if m else None
                    self.ready.set()
                self.cond.notify_all()

    # -- lifecycle
    def wait_ready(self, timeout=READY_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.ready.wait(0.1):
                return self
            if self.proc.poll() is not None:
                time.sleep(0.2)  # let the stderr thread finish
                raise AssertionError(
                    "pidtree-bcc %s exited with %s before tracing; stderr:\n%s"
                    % (" ".join(self.args), self.proc.returncode,
                       "\n".join(self.stderr_lines)))
        self.kill()
        raise AssertionError(
            "pidtree-bcc %s printed no 'tracing' line in %.0f s; stderr:\n%s"
            % (" ".join(self.args), timeout, "\n".join(self.stderr_lines)))

    def send(self, sig):
        if self.proc.poll() is None:
            os.kill(self.pid, sig)

    def wait_exit(self, timeout):
        """Exit code, or None if still running after timeout."""
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        for t in self._threads:
            t.join(5)
        return rc

    def stop(self, sig=signal.SIGINT, timeout=5):
        self.send(sig)
        rc = self.wait_exit(timeout)
        if rc is None:
            self.kill()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            try:
                os.kill(self.pid, signal.SIGCONT)
                self.proc.kill()
            except ProcessLookupError:
                pass
            self.proc.wait()
        for t in self._threads:
            t.join(5)
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None and not f.closed:
                f.close()
        Tracer._live.discard(self)

    @classmethod
    def kill_all(cls):
        for t in list(cls._live):
            t.kill()

    # -- events
    def events(self, pred=None, probe="tcp_connect"):
        """The probe's event lines (typed lines, flood_summary included,
        are not events: see typed())."""
        with self.cond:
            recs = [r for r in self.records
                    if r is not None and r.get("probe") == probe and
                    "type" not in r]
        return [r for r in recs if pred is None or pred(r)]

    def typed(self, kind, pred=None):
        """Lines of `kind` ("lost_events", "flood_summary", ...)."""
        with self.cond:
            recs = [r for r in self.records
                    if r is not None and r.get("type") == kind]
        return [r for r in recs if pred is None or pred(r)]

    def lost_records(self):
        with self.cond:
            return [r for r in self.records
                    if r is not None and r.get("type") == "lost_events"]

    def wait_events(self, pred, count=1, timeout=15, probe="tcp_connect"):
        """Waits until at least `count` events of `probe` match pred;
        returns them."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = [r for r in self.records if r is not None
                         and r.get("probe") == probe and "type" not in r
                         and pred(r)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and
                                 not any(t.is_alive() for t in self._threads)):
                    return found
                self.cond.wait(min(left, 0.2))

    def read_time(self, record):
        """CLOCK_REALTIME ns at which the line of `record` was read."""
        with self.cond:
            for (t, _), r in zip(self.lines, self.records):
                if r is record:
                    return t
        return None

    def describe(self, pred=None, limit=20):
        """Recent stdout lines (matching pred) and stderr, for messages."""
        with self.cond:
            lines = [l for (_, l), r in zip(self.lines, self.records)
                     if pred is None or (r is not None and pred(r))]
            err = list(self.stderr_lines)
        shown = [l[:600].decode("utf-8", "replace") for l in lines[-limit:]]
        return ("\n--- %d stdout line(s)%s, last %d:\n%s\n--- stderr:\n%s"
                % (len(lines), " matching" if pred else "", len(shown),
                   "\n".join(shown), "\n".join(err)))


atexit.register(Tracer.kill_all)


# ---------------------------------------------------------------- BPF objects

def find_bpftool():
    found = shutil.which("bpftool")
    if found:
        return found
    for d in ("/usr/sbin", "/sbin", "/usr/local/sbin"):
        p = os.path.join(d, "bpftool")
        if os.access(p, os.X_OK):
            return p
    return None


def bpftool_json(*args):
    tool = find_bpftool()
    out = run([tool, "-j"] + list(args)).stdout
    return json.loads(out) if out.strip() else []


def prog_ids(prog_type):
    """Ids of the loaded BPF programs of a type ("tracepoint", "kprobe")."""
    return {p["id"] for p in bpftool_json("prog", "show")
            if p.get("type") == prog_type}


def cgroup_tree():
    """`bpftool cgroup tree` as JSON. Where no cgroup2 file system is
    mounted (the VM's guest; the tracer then mounts its own, privately),
    one is mounted in a mount namespace of bpftool's own."""
    tool = find_bpftool()
    with open("/proc/self/mountinfo") as f:
        mounted = any(" - cgroup2 " in line for line in f)
    if mounted:
        return bpftool_json("cgroup", "tree")
    script = ("mount -t cgroup2 none /mnt && exec %s -j cgroup tree /mnt"
              % shlex.quote(tool))
    out = run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
               script]).stdout
    return json.loads(out) if out.strip() else []


def cgroup_prog_ids():
    """Ids of the programs attached anywhere in the cgroup v2 tree."""
    return {a["id"] for c in cgroup_tree() for a in c.get("programs", [])}


def map_ids():
    return {m["id"] for m in bpftool_json("map", "show")}


def fd_bpf_ids(pid):
    """(prog ids, map ids) of the BPF objects process pid holds fds of."""
    progs, maps = set(), set()
    d = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(d):
        try:
            with open(os.path.join(d, fd)) as f:
                text = f.read()
        except OSError:
            continue
        for m in re.finditer(r"^(prog_id|map_id):\s*(\d+)", text, re.M):
            (progs if m.group(1) == "prog_id" else maps).add(int(m.group(2)))
    return progs, maps


def bpf_prog_holders():
    """prog id -> pids of the processes that hold an fd of it."""
    holders = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            progs, _ = fd_bpf_ids(int(entry))
        except OSError:
            continue
        for p in progs:
            holders.setdefault(p, set()).add(int(entry))
    return holders


# ---------------------------------------------------------------- /proc

def proc_ppid(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("PPid:"):
                return int(line.split()[1])
    raise AssertionError("no PPid in /proc/%d/status" % pid)


def proc_children(pid):
    """The pids whose parent is `pid` (pgrep -P)."""
    out = subprocess.run(["pgrep", "-P", str(pid)], stdout=subprocess.PIPE,
                         text=True).stdout.split()
    return [int(p) for p in out]


def proc_cmdline(pid):
    with open("/proc/%d/cmdline" % pid, "rb") as f:
        raw = f.read()
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")


# What the kernel keeps of an argv (bpf/event.h: PIDTREE_ARGS_SIZE) and the
# marker of a cut command line (src/process/procfs.h).
ARGS_SIZE = 8192
CUT_MARKER = "...[truncated]"
KERNEL_BTF = "/sys/kernel/btf/vmlinux"  # --exec-argv auto reads argv from
#                                          memory where this exists


def kernel_cmdline(argv):
    """The cmdline pidtree-bcc reports for a process exec'd with argv (str
    or bytes items): the first ARGS_SIZE bytes of the NUL-separated argv,
    joined by spaces, marked when cut."""
    raw = b"".join((a if isinstance(a, bytes) else a.encode()) + b"\0"
                   for a in argv)
    cut = len(raw) > ARGS_SIZE
    kept = raw[:ARGS_SIZE].rstrip(b"\0").replace(b"\0", b" ")
    text = kept.decode("utf-8", "replace")
    return text + CUT_MARKER if cut else text


def kprobes_available():
    return (os.path.exists("/sys/bus/event_source/devices/kprobe") or
            os.path.exists("/sys/kernel/tracing/kprobe_events") or
            os.path.exists("/sys/kernel/debug/tracing/kprobe_events"))


def main(test_module_globals, needs_root):
    """Entry point shared by the scripts: argv[1] is the binary."""
    import unittest
    if len(sys.argv) < 2:
        sys.stderr.write("usage: %s PATH-TO-pidtree-bcc\n" % sys.argv[0])
        sys.exit(2)
    binary = os.path.abspath(sys.argv[1])
    if not os.access(binary, os.X_OK):
        sys.stderr.write("FAIL: %s is not an executable\n" % binary)
        sys.exit(1)
    test_module_globals["BINARY"] = binary
    if needs_root and os.geteuid() != 0:
        sys.stderr.write(
            "FAIL: the runtime tests must run as root (they load BPF programs "
            "and create network namespaces); they are required in CI, so "
            "they fail rather than skip. Run: sudo python3 %s %s\n"
            % (sys.argv[0], binary))
        sys.exit(1)
    # Arguments after the binary select tests, as for unittest.main.
    prog = unittest.main(argv=[sys.argv[0]] + sys.argv[2:], verbosity=2,
                         exit=False)
    sys.exit(0 if prog.result.wasSuccessful() else 1)
