#!/usr/bin/env python3
"""End-to-end benchmark for pidtree-bcc (issue 5): what the tracer costs the
host, whether it keeps up, how fast it starts and how much memory it holds.

Run as root from the repository, after building (see bench/README.md):

    sudo bench/run.py                 # 11 rounds of 10 s reported storms,
                                      # 25 of 3 s filtered ones
    sudo bench/run.py --quick         # smoke run, about a minute
    sudo bench/run.py --profile       # add a perf profile of a reported storm

What it does, with its own network namespace (deleted on any exit):

  throughput  Rounds of connect storms by `loadgen` (2 worker processes,
              socket+connect+close to a closed port: refused at once), each
              with the tracer off and on, the order alternating per round:
              to a destination filtered in the kernel (10.255.0.7, default
              10/8 filter) and to a reported one (198.51.100.7). Both
              addresses exist only inside the namespace. The load runs under
              a chain of 6 shell levels with real-looking command lines, so
              every reported event carries a tree of 9+ processes.
              Filtered pairs are cheap and their target is the tightest, so
              after the --rounds rounds of both kinds, filtered-only rounds
              run up to --filtered-rounds.
              A tracer-on phase starts a fresh tracer (output to a file on
              tmpfs), waits for its ready line, measures its idle CPU, runs
              the storm, sends a few connects on every CPU (the kernel
              reports a perf-buffer loss only when the next event lands on
              that CPU), waits until the tracer is drained, reads its CPU
              time and memory, stops it with SIGINT and counts the lines.
  syscalls    getppid() in a loop by one process (`loadgen syscall`), with
              the tracer off, on with its process table (default), on with
              --exec-argv syscall (which attaches syscall tracepoints,
              putting every syscall on the host on the kernel's slow path)
              and on with --ancestry proc (no process events):
              ns per syscall, alternating, per round.
  startup     Several starts with a slow connect trickle running: time from
              exec to the ready line, and to the first trickle event
              written.
  memory      One tracer while `loadgen spawn` runs many short-lived
              processes (fork + exec /bin/true) under the same chain; RSS
              is sampled after each quarter.
  soak        (not in the default set) One tracer with all three probes
              and both plugins while `loadgen fork` makes --soak-processes
              short-lived processes (fork + exit) in ten parts and a
              connect trickle (--soak-interval-us apart) makes reported
              events the whole time: RSS after each part, events written
              and lost.

Traffic: only to 198.51.100.7 and 10.255.0.7, which this script creates on
the loopback device of its own namespace; nothing else is ever contacted.
"""
import argparse
import atexit
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

REPORTED = "198.51.100.7"  # TEST-NET-2: reported by default
FILTERED = "10.255.0.7"    # in the default 10/8 filter: dropped in the kernel
READY = "pidtree-bcc: tracing "
LOST_RE = re.compile(r"lost (\d+) events \((\d+) in all\)")
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1

TARGETS = {
    "filtered_ratio": 0.97,
    "reported_ratio": 0.80,
    "cpu_us_per_event": 3.0,
    "startup_s": 0.8,
    "rss_mb": 80.0,
    "bind_ratio": 0.95,
    "listen_rss_mb": 30.0,
    "udp_filtered_ratio": 0.97,
    "udp_one_socket_ratio": 0.95,
    "udp_storm_ratio": 0.80,
    "udp_cpu_us_per_session": 3.0,
    "udp_tcp_ratio": 0.98,
    "udp_rss_mb": 30.0,
    "unmatched_ratio": 0.97,
    "fork_ratio": 0.97,
    "spawn_ratio": 0.98,
}


def log(msg):
    print("[bench %s] %s" % (time.strftime("%H:%M:%S"), msg),
          file=sys.stderr, flush=True)


# ------------------------------------------------------------------ cleanup

_cleanups = []
_owned_pids = set()


def on_exit(fn):
    _cleanups.append(fn)


def _run_cleanups():
    while _cleanups:
        fn = _cleanups.pop()
        try:
            fn()
        except Exception as e:  # keep cleaning up
            print("cleanup: %s" % e, file=sys.stderr)


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


atexit.register(_run_cleanups)
for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def kill_group(proc):
    """Ends a process group this script started (start_new_session)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


# ------------------------------------------------------------- /proc access

def cpu_ticks(pid):
    """(utime, stime) of a process in clock ticks."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def mem_kb(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[key] = int(rest.split()[0])
    return out


def host_busy_ticks():
    """Busy ticks of the whole host (user+nice+system, all CPUs)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2]


def foreign_pct(busy_ticks, ours_s, wall):
    """CPU used by processes other than ours, in % of the whole host: a
    measure of how contended the machine was (approximate: tick-based)."""
    return max(0.0, 100.0 * (busy_ticks / CLK_TCK - ours_s) / wall / NCPU)


def foreign_processes():
    """Other pidtree-bcc tracers or load generators: they would see (and be
    flooded by) our storms, and load the CPUs we measure on."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in _owned_pids:
            continue
        try:
            with open("/proc/%s/comm" % entry) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm in ("pidtree-bcc", "loadgen", "hook_floor"):
            try:
                if os.getsid(int(entry)) in _owned_pids:
                    continue
            except OSError:
                continue
            found.append("%s(%s)" % (comm, entry))
    return found


# ----------------------------------------------------------------- namespace

class Namespace:
    def __init__(self):
        self.name = "pidtree-bench-%d" % os.getpid()
        subprocess.run(["ip", "netns", "add", self.name], check=True)
        on_exit(self.delete)
        for cmd in (["ip", "link", "set", "lo", "up"],
                    ["ip", "addr", "add", REPORTED + "/32", "dev", "lo"],
                    ["ip", "addr", "add", FILTERED + "/32", "dev", "lo"]):
            subprocess.run(["ip", "netns", "exec", self.name] + cmd,
                           check=True)

    def delete(self):
        subprocess.run(["ip", "netns", "delete", self.name], check=False)

    def prefix(self):
        return ["ip", "netns", "exec", self.name]


# ------------------------------------------------------ realistic ancestry

# Outermost first: (script path under the scratch dir, interpreter, args).
CLASSPATH = ":".join(
    "/srv/payments/lib/%s.jar" % j for j in (
        "payments-core-4.2.1", "jackson-databind-2.15.2",
        "netty-all-4.1.97.Final", "postgresql-42.6.0", "HikariCP-5.0.1"))
CHAIN = [
    ("usr/bin/supervisord", "/bin/sh",
     ["-n", "-c", "/etc/supervisor/supervisord.conf",
      "--pidfile", "/run/supervisord.pid", "--logfile",
      "/var/log/supervisor/supervisord.log"]),
    ("usr/bin/runsv", "/bin/sh", ["/etc/service/payments-api"]),
    ("srv/payments/bin/entrypoint.sh", "/bin/bash",
     ["--env=production", "--region=eu-west-1",
      "--config=/etc/payments/api.yaml", "--log-level=info",
      "--log-format=json"]),
    ("usr/bin/with-contenv", "/bin/sh",
     ["/srv/payments/bin/start-workers"]),
    ("srv/payments/bin/start-workers", "/bin/sh",
     ["--workers=2", "--max-requests=10000", "--graceful-timeout=30",
      "-Dpayments.env=production",
      "-Dlog4j.configurationFile=/etc/payments/log4j2.xml",
      "-cp", CLASSPATH, "com.example.payments.WorkerMain"]),
    ("srv/payments/bin/connect-pool", "/bin/sh",
     ["--target=payments-db", "--pool-size=64", "--retry=exponential"]),
]


LAUNCHER = "usr/local/sbin/service-launcher"


class Chain:
    """Shell scripts that start each other: every level waits for the next
    (no exec), so the load generator's workers have 6 real-looking ancestors.
    The innermost runs $PIDTREE_BENCH_CMD.

    Above them is a launcher started once, before any tracer, in a session
    of its own whose parent exits at once: it is re-parented to pid 1, and
    every tracer, seeding it from /proc, sees pid 1 as its parent. So the
    tree each event reports (worker, loadgen, 6 levels, launcher, pid 1) is
    the same however this script was started. (A chain forked from this
    script would carry this script's own ancestors: the tracer keeps the
    parent a process had at its fork.) The launcher reads request ids from
    a FIFO and runs each request's script, one at a time."""

    def __init__(self, scratch):
        self.scratch = scratch
        self.dir = os.path.join(scratch, "run")
        os.makedirs(self.dir)
        self.seq = 0
        self.leader = None
        for i, (path, interp, _args) in enumerate(CHAIN):
            full = os.path.join(scratch, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            if i + 1 < len(CHAIN):
                npath, ninterp, nargs = CHAIN[i + 1]
                run = " ".join(shlex.quote(a) for a in
                               [ninterp, os.path.join(scratch, npath)] + nargs)
            else:
                run = "$PIDTREE_BENCH_CMD"
            with open(full, "w") as f:
                f.write("#!%s\n# pidtree-bcc benchmark: one level of a "
                        "realistic process tree.\n%s\nstatus=$?\n"
                        "exit $status\n" % (interp, run))
            os.chmod(full, 0o755)
        launcher = os.path.join(scratch, LAUNCHER)
        os.makedirs(os.path.dirname(launcher), exist_ok=True)
        with open(launcher, "w") as f:
            # Sourcing the request runs its command as the launcher's child.
            f.write('#!/bin/sh\n# pidtree-bcc benchmark: runs load requests '
                    '(see bench/run.py).\ncd /\nexec 3<> "$2/requests"\n'
                    'while read -r id <&3; do\n'
                    '  [ "$id" = quit ] && exit 0\n'
                    '  . "$2/$id.sh" > "$2/$id.out" 2> "$2/$id.err"\n'
                    '  echo $? > "$2/$id.rc.tmp" && mv "$2/$id.rc.tmp" '
                    '"$2/$id.rc"\n'
                    'done\n')
        os.mkfifo(os.path.join(self.dir, "requests"))
        out = subprocess.run(
            ["setsid", "-f", "/bin/sh", "-c",
             'echo $$; exec "$@" </dev/null >/dev/null 2>&1', "sh",
             "/bin/sh", launcher, "--requests", self.dir],
            stdout=subprocess.PIPE, check=True).stdout
        self.leader = int(out.split()[0])
        _owned_pids.add(self.leader)
        on_exit(self.stop)
        self.fifo = os.open(os.path.join(self.dir, "requests"),
                            os.O_WRONLY)

    def stop(self):
        try:
            os.killpg(self.leader, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def run(self, ns, cmd, timeout):
        """Runs cmd under the chain; returns (exit status, stdout, stderr)."""
        self.seq += 1
        rid = "r%d" % self.seq
        path, interp, args = CHAIN[0]
        argv = (["env", "PIDTREE_BENCH_CMD=" + " ".join(cmd)] + ns.prefix() +
                [interp, os.path.join(self.scratch, path)] + args)
        with open(os.path.join(self.dir, rid + ".sh"), "w") as f:
            f.write(" ".join(shlex.quote(a) for a in argv) + "\n")
        os.write(self.fifo, (rid + "\n").encode())
        rc_path = os.path.join(self.dir, rid + ".rc")
        deadline = time.monotonic() + timeout
        while not os.path.exists(rc_path):
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("load generator did not finish: %s" % cmd)
            if not os.path.exists("/proc/%d" % self.leader):
                raise RuntimeError("the launcher is gone")
            time.sleep(0.02)
        result = []
        for ext in (".rc", ".out", ".err"):
            with open(os.path.join(self.dir, rid + ext)) as f:
                result.append(f.read())
            os.unlink(os.path.join(self.dir, rid + ext))
        os.unlink(os.path.join(self.dir, rid + ".sh"))
        return int(result[0]), result[1], result[2]


def parse_kv(text):
    for line in text.splitlines():
        if line.startswith("mode="):
            return {k: v for k, v in (p.split("=", 1) for p in line.split())}
    return None


def run_load(args, ns, chain, cmd, timeout):
    """Runs loadgen (under the chain when one is given); returns its
    figures, CPU included (loadgen's own rusage of its workers)."""
    if chain:
        rc, out, err = chain.run(ns, cmd, timeout)
    else:
        proc = subprocess.Popen(ns.prefix() + cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                start_new_session=True)
        _owned_pids.add(proc.pid)
        on_exit(lambda: kill_group(proc))
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            raise RuntimeError("load generator did not finish: %s" % cmd)
        rc, out, err = proc.returncode, out.decode(), err.decode()
    kv = parse_kv(out)
    if rc != 0 or kv is None or "cpu" not in kv:
        raise RuntimeError("load generator failed (%s): %s %s" %
                           (rc, out, err))
    return {"done": int(kv["done"]), "errors": int(kv["errors"]),
            "seconds": float(kv["seconds"]), "rate": float(kv["rate"]),
            "cpu_s": float(kv["cpu"])}


def loadgen_connect(args, addr, port, **kw):
    cmd = [args.loadgen, "connect", "--addr", addr, "--port", str(port)]
    for k, v in kw.items():
        cmd += ["--" + k.replace("_", "-")] + ([] if v is True else [str(v)])
    return cmd


# -------------------------------------------------------------------- tracer

class Tracer:
    """The tracer under test. Its output goes to out_path, or with
    `pattern` (and --tracer-output pipe) into a pipe read by bench/sink,
    which counts the lines holding `pattern` and keeps a sample of them in
    out_path + ".sample"; stop() then leaves its figures in sink_report.
    Its arguments: --tracer-args, then `extra_args`; --flood-budget 0 unless
    either gives one, so every phase but `flood` measures one line per
    event (the figures before the budget existed are comparable)."""

    def __init__(self, args, out_path, pattern=None, extra_args="",
                 binary=None):
        self.out_path = out_path
        self.sink = None
        self.sink_report = None
        if pattern is not None and args.tracer_output == "pipe":
            self.sample_path = out_path + ".sample"
            self.sink = subprocess.Popen(
                [args.sink, pattern, self.sample_path, "200"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                start_new_session=True)
            _owned_pids.add(self.sink.pid)
            self.out = self.sink.stdin
        else:
            self.out = open(out_path, "wb")
        self.stderr_tail = []
        self.lost_total = 0
        self.ready_at = None
        self.ready = threading.Event()
        argv = ([binary or args.binary] + shlex.split(args.tracer_args) +
                shlex.split(extra_args))
        if not any(a.startswith("--flood-budget") for a in argv):
            argv += ["--flood-budget", "0"]
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(argv, stdout=self.out,
                                     stderr=subprocess.PIPE,
                                     start_new_session=True)
        _owned_pids.add(self.proc.pid)
        on_exit(self.kill)
        if self.sink:
            self.out.close()  # the tracer holds the only write end
        self.reader = threading.Thread(target=self._read_stderr, daemon=True)
        self.reader.start()

    def _read_stderr(self):
        for raw in self.proc.stderr:
            now = time.monotonic()
            line = raw.decode(errors="replace").rstrip("\n")
            if self.ready_at is None and READY in line:
                self.ready_at = now
                self.ready.set()
                continue
            m = LOST_RE.search(line)
            if m:
                self.lost_total = int(m.group(2))
                continue
            self.stderr_tail = (self.stderr_tail + [line])[-20:]
        self.ready.set()  # exited: stop waiting

    def wait_ready(self, timeout=120):
        self.ready.wait(timeout)
        if self.ready_at is None:
            self.kill()
            raise RuntimeError("tracer did not become ready:\n" +
                               "\n".join(self.stderr_tail))
        return self.ready_at - self.t0

    @property
    def pid(self):
        return self.proc.pid

    def cpu(self):
        return cpu_ticks(self.proc.pid)

    def out_bytes(self):
        """Output so far: the file's size, or what the sink has read."""
        if not self.sink:
            return os.path.getsize(self.out_path)
        try:
            with open("/proc/%d/io" % self.sink.pid) as f:
                for line in f:
                    if line.startswith("rchar:"):
                        return int(line.split()[1])
        except OSError:
            pass
        return None

    def stop(self):
        """SIGINT, as a user would; returns the exit status."""
        self.proc.send_signal(signal.SIGINT)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = "killed (no exit 60 s after SIGINT)"
        self.reader.join(timeout=5)
        if self.sink:
            try:
                # The tracer has exited: the sink is at end of input.
                out = self.sink.stdout.read()
                self.sink.wait(timeout=120)
                self.sink_report = json.loads(out.decode())
            except (subprocess.TimeoutExpired, ValueError):
                kill_group(self.sink)
                raise RuntimeError("bench/sink gave no figures")
        else:
            self.out.close()
        return rc

    def kill(self):
        kill_group(self.proc)
        if self.sink:
            kill_group(self.sink)
        if not self.out.closed:
            self.out.close()


def wait_drained(tracer, settle=0.5, limit=120):
    """Waits until the tracer's CPU time and output size stop moving."""
    last = None
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        state = (tracer.cpu(), tracer.out_bytes())
        if state == last:
            return True
        last = state
        time.sleep(settle)
    return False


def count_lines(path, fixed=None):
    if fixed is None:
        out = subprocess.run(["wc", "-l", path], stdout=subprocess.PIPE,
                             check=True).stdout
        return int(out.split()[0])
    out = subprocess.run(["grep", "-c", "-F", fixed, path],
                         stdout=subprocess.PIPE).stdout
    return int(out.strip() or 0)


def sample_events(path, pattern, n=200):
    """Tree depth and line size of some of our events."""
    out = subprocess.run(["grep", "-m", str(n), "-F", pattern, path],
                         stdout=subprocess.PIPE).stdout
    depths, sizes = [], []
    for line in out.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        depths.append(len(ev.get("proctree", [])))
        sizes.append(len(line) + 1)
    return depths, sizes


def last_lost_total(path):
    out = subprocess.run(["grep", "-F", '"type":"lost_events"', path],
                         stdout=subprocess.PIPE).stdout.splitlines()
    return json.loads(out[-1])["total"] if out else 0


# -------------------------------------------------------------------- phases

def others_busy_pct(seconds=1.0):
    """CPU in use on the host, in % of all CPUs, while none of our load runs
    (only an idle tracer of ours, if any, which is near zero)."""
    b0, t0 = host_busy_ticks(), time.monotonic()
    time.sleep(seconds)
    return foreign_pct(host_busy_ticks() - b0, 0.0, time.monotonic() - t0)


def wait_quiet(args):
    """Our storms would flood another tracer, and other load skews our
    figures: wait (up to --quiet-wait s) until no foreign pidtree-bcc or
    loadgen runs and the other processes use at most --max-busy % of the
    CPUs. Returns whether that was reached."""
    start = time.monotonic()
    said = None
    while True:
        others = foreign_processes()
        busy = others_busy_pct() if not others else None
        if not others and busy <= args.max_busy:
            return True
        why = ("foreign %s" % " ".join(others) if others else
               "other processes using %.0f%% of the CPUs" % busy)
        # Another tracer would be flooded by our storm (someone's test may
        # be counting its events): wait for it far longer than for load.
        waited = time.monotonic() - start
        if waited >= (args.tracer_wait if others else args.quiet_wait):
            log("WARNING: measuring despite %s" % why)
            return False
        if said is None or time.monotonic() - said > 30:
            log("waiting: %s" % why)
            said = time.monotonic()
        time.sleep(1)


def storm_seconds(args, addr):
    """Reported storms last --duration (the target is about a sustained
    10 s storm); filtered ones --filtered-duration: nothing is buffered
    there, and shorter phases sit closer together in time, so the host's
    drift between an off and an on phase weighs less (see bench/README)."""
    return args.filtered_duration if addr == FILTERED else args.duration


def storm_cmd(args, addr):
    return loadgen_connect(args, addr, args.port, workers=args.workers,
                           duration=storm_seconds(args, addr))


def trailing_cmd(args, addr):
    return loadgen_connect(args, addr, args.port, workers=NCPU, pin=True,
                           count=NCPU * args.trailing)


def connect_storm(args, addr):
    """What a throughput phase runs: connects to addr, reported or not."""
    return {"cmd": storm_cmd(args, addr),
            "seconds": storm_seconds(args, addr),
            "trailing": trailing_cmd(args, addr),
            "pattern": '"daddr":"%s","port":%d,' % (addr, args.port),
            "tracer_args": ""}


def phase_off(args, ns, chain, addr, storm=None):
    storm = storm or connect_storm(args, addr)
    quiet = wait_quiet(args)
    busy0 = host_busy_ticks()
    t0 = time.monotonic()
    load = run_load(args, ns, chain, storm["cmd"], storm["seconds"] + 120)
    wall = time.monotonic() - t0
    return {"tracer": False, "addr": addr, "rate": load["rate"],
            "connects": load["done"], "errors": load["errors"],
            "quiet": quiet,
            "load_cpu_us": load["cpu_s"] / max(1, load["done"]) * 1e6,
            "foreign_pct": foreign_pct(host_busy_ticks() - busy0,
                                       load["cpu_s"], wall)}


def bpf_prog_stats():
    """{program name: (run_cnt, run_time_ns)} of the loaded BPF programs
    (kernel.bpf_stats_enabled must be on)."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"],
                         capture_output=True, text=True, check=False).stdout
    stats = {}
    for prog in json.loads(out or "[]"):
        if prog.get("run_cnt"):
            cnt, ns = stats.get(prog.get("name"), (0, 0))
            stats[prog.get("name")] = (cnt + prog["run_cnt"],
                                       ns + prog["run_time_ns"])
    return stats


def phase_on(args, ns, chain, addr, tag, storm=None):
    storm = storm or connect_storm(args, addr)
    quiet = wait_quiet(args)
    out_path = os.path.join(args.workdir, "events-%s.jsonl" % tag)
    pattern = storm["pattern"]
    # A storm whose lines are checked one by one (storm["verify"]) writes
    # them to a file.
    verify = storm.get("verify")
    tracer = Tracer(args, out_path, None if verify else pattern,
                    extra_args=storm["tracer_args"],
                    binary=storm.get("binary"))
    startup = tracer.wait_ready()
    time.sleep(args.settle)
    c0, t_idle0 = tracer.cpu(), time.monotonic()
    time.sleep(args.idle)
    c1, t1 = tracer.cpu(), time.monotonic()
    idle_rate = (sum(c1) - sum(c0)) / (t1 - t_idle0)  # ticks per second
    mem_before = mem_kb(tracer.pid)
    if args.bpf_stats:
        stats0 = bpf_prog_stats()
    busy0 = host_busy_ticks()
    tb = time.monotonic()
    load = run_load(args, ns, chain, storm["cmd"], storm["seconds"] + 120)
    storm_wall = time.monotonic() - tb
    if args.bpf_stats:
        stats1 = bpf_prog_stats()
        prog_ns = {name: (cnt - stats0.get(name, (0, 0))[0],
                          ns_ - stats0.get(name, (0, 0))[1])
                   for name, (cnt, ns_) in stats1.items()}
    busy = host_busy_ticks() - busy0
    c_storm = tracer.cpu()
    foreign = foreign_pct(busy, load["cpu_s"] +
                          (sum(c_storm) - sum(c1)) / CLK_TCK, storm_wall)
    # Trailing connects only after the tracer has caught up: into a full
    # buffer they would be lost too, and the loss never reported.
    wait_drained(tracer)
    trail = run_load(args, ns, None, storm["trailing"], 120)
    drained = wait_drained(tracer)
    c2, t2 = tracer.cpu(), time.monotonic()
    mem_after = mem_kb(tracer.pid)
    rc = tracer.stop()

    if tracer.sink_report is not None:
        rep = tracer.sink_report
        lines, lost_lines = rep["lines"], rep["lost_lines"]
        ours, out_bytes = rep["matches"], rep["bytes"]
        depths, sizes = sample_events(tracer.sample_path, pattern)
        lost = max(rep["last_lost_total"], tracer.lost_total)
        if not args.keep_output:
            os.unlink(tracer.sample_path)
    else:
        lines = count_lines(out_path)
        lost_lines = count_lines(out_path, '"type":"lost_events"')
        ours = count_lines(out_path, pattern)
        depths, sizes = sample_events(out_path, pattern)
        lost = max(last_lost_total(out_path), tracer.lost_total)
        out_bytes = os.path.getsize(out_path)
        checked = verify(out_path) if verify else {}
        if not args.keep_output:
            os.unlink(out_path)

    made = load["done"] + trail["done"]
    handled = lines - lost_lines
    cpu_ticks_used = sum(c2) - sum(c1)
    cpu_s = cpu_ticks_used / CLK_TCK
    idle_s = idle_rate / CLK_TCK * (t2 - t1)
    r = {"tracer": True, "addr": addr, "rate": load["rate"],
         "connects": load["done"], "errors": load["errors"], "quiet": quiet,
         "load_cpu_us": load["cpu_s"] / max(1, load["done"]) * 1e6,
         "startup_s": startup, "made": made, "delivered": ours,
         "lines": lines, "handled": handled, "lost": lost,
         "lost_lines": lost_lines, "exit": rc, "drained": drained,
         "cpu_user_s": (c2[0] - c1[0]) / CLK_TCK,
         "cpu_sys_s": (c2[1] - c1[1]) / CLK_TCK,
         "idle_cpu_pct": 100.0 * idle_rate / CLK_TCK,
         "tracer_cpu_pct_in_storm":
         100.0 * (sum(c_storm) - sum(c1)) / CLK_TCK / storm_wall,
         "drain_s": t2 - tb - storm_wall,
         "foreign_pct": foreign,
         "rss_before_kb": mem_before.get("VmRSS"),
         "rss_after_kb": mem_after.get("VmRSS"),
         "rss_after_anon_kb": mem_after.get("RssAnon"),
         "rss_after_file_kb": mem_after.get("RssFile"),
         "hwm_kb": mem_after.get("VmHWM"),
         "out_bytes": out_bytes,
         "tree_depth": statistics.median(depths) if depths else None,
         "line_bytes": statistics.median(sizes) if sizes else None}
    if handled > 0:
        r["cpu_us_per_event"] = cpu_s / handled * 1e6
        r["cpu_us_per_event_minus_idle"] = (cpu_s - idle_s) / handled * 1e6
    if tracer.sink_report is None:
        r.update(checked)
    if args.bpf_stats:
        r["bpf_progs"] = {name: {"runs": cnt, "ns_per_run": ns_ / cnt}
                          for name, (cnt, ns_) in prog_ns.items() if cnt}
    return r


def throughput(args, ns, chain, rounds):
    """Appends each completed round to `rounds`: --rounds of both kinds,
    then filtered-only ones up to --filtered-rounds (rows without the
    reported_* keys)."""
    total = max(args.rounds, args.filtered_rounds)
    for rnd in range(total):
        row = {}
        kinds = (("filtered", FILTERED), ("reported", REPORTED))
        if rnd >= args.rounds:
            kinds = kinds[:1]
        for kind, addr in kinds:
            order = ("off", "on") if rnd % 2 == 0 else ("on", "off")
            for state in order:
                log("round %d/%d: %s destination, tracer %s" %
                    (rnd + 1, total, kind, state))
                if state == "off":
                    res = phase_off(args, ns, chain, addr)
                else:
                    res = phase_on(args, ns, chain, addr,
                                   "%s-%d" % (kind, rnd))
                row["%s_%s" % (kind, state)] = res
                msg = "  %.0f connects/s" % res["rate"]
                if state == "on":
                    msg += ", written %d of %d, lost %d" % (
                        res["delivered"], res["made"], res["lost"])
                    if kind == "reported":
                        msg += ", %.2f us CPU/event" % res.get(
                            "cpu_us_per_event", float("nan"))
                log(msg)
        rounds.append(row)


def startup(args, ns, starts, extra_args=""):
    """Exec -> ready line, and exec -> first event of a slow trickle;
    appends each start to `starts`. `extra_args`: the tracer's, after
    --tracer-args."""
    trickle_port = args.port + 1
    trickle = subprocess.Popen(
        ns.prefix() + loadgen_connect(args, REPORTED, trickle_port, workers=0,
                                      interval_us=2000, duration=3600),
        stdout=subprocess.DEVNULL, start_new_session=True)
    _owned_pids.add(trickle.pid)
    on_exit(lambda: kill_group(trickle))
    pattern = ('"port":%d,' % trickle_port).encode()
    try:
        for i in range(args.starts):
            wait_quiet(args)
            log("start-up %d/%d" % (i + 1, args.starts))
            out_path = os.path.join(args.workdir, "startup-%d.jsonl" % i)
            tracer = Tracer(args, out_path, extra_args=extra_args)
            ready = tracer.wait_ready()
            first = None
            with open(out_path, "rb") as f:
                buf = b""
                deadline = time.monotonic() + 10
                while first is None and time.monotonic() < deadline:
                    chunk = f.read()
                    if chunk:
                        buf += chunk
                        if pattern in buf:
                            first = time.monotonic() - tracer.t0
                            break
                    time.sleep(0.002)
            time.sleep(1.0)
            mem = mem_kb(tracer.pid)
            tracer.stop()
            os.unlink(out_path)
            starts.append({"ready_s": ready, "first_event_s": first,
                           "hwm_kb": mem.get("VmHWM"),
                           "rss_kb": mem.get("VmRSS"),
                           "rss_anon_kb": mem.get("RssAnon"),
                           "rss_file_kb": mem.get("RssFile")})
    finally:
        kill_group(trickle)


# net_listen's benchmark configurations (written to the work directory):
# every probe as a user would run them, and the same with the storm's
# network filtered in the kernel.
LISTEN_CONFIG = """tcp_connect:
net_listen:
  protocols: [tcp, udp]
"""
LISTEN_FILTERED_CONFIG = LISTEN_CONFIG + """  filters:
    - subnet_name: ten
      network: 10.0.0.0/8
"""
BIND_PORT = 20000  # workers bind ports 20000-20099, 20100-20199, ...


def bind_storm(args, addr, config):
    def cmd(**kw):
        return [args.loadgen, "bind", "--addr", addr, "--port",
                str(BIND_PORT)] + [x for k, v in kw.items() for x in (
                    ["--" + k] + ([] if v is True else [str(v)]))]
    return {"cmd": cmd(workers=args.workers, duration=args.bind_duration),
            "seconds": args.bind_duration,
            "trailing": cmd(workers=NCPU, pin=True,
                            count=NCPU * args.trailing),
            "pattern": '"laddr":"%s","port":' % addr,
            "tracer_args": "-c " + shlex.quote(config)}


FLOOD_DEFAULT_BUDGET = 1000  # src/config/options.h kDefaultFloodBudget


def flood_verify(pattern):
    """Counts a storm's lines in the output file: its own (one per event)
    and its flood_summary lines with the events they count."""
    needle = pattern.encode()

    def verify(path):
        own = summaries = summarised = 0
        with open(path, "rb") as f:
            for raw in f:
                if needle not in raw:
                    continue
                if b'"type":"flood_summary"' in raw:
                    summaries += 1
                    summarised += json.loads(raw)["count"]
                else:
                    own += 1
        return {"own_lines": own, "summaries": summaries,
                "summarised": summarised}
    return verify


def flood(args, ns, chain, results):
    """The flood budget's figures (issue 15): reported connect storms with
    the tracer off, with no budget (--flood-budget 0: every event a line),
    with a budget no process reaches (the accounting's cost on the reported
    path) and with the default budget (a storm is summarised); then
    reported UDP bind storms off, without a budget and with the default."""
    config = os.path.join(args.workdir, "listen.yaml")
    with open(config, "w") as f:
        f.write(LISTEN_CONFIG)
    rounds = results.setdefault("flood", [])
    connects = connect_storm(args, REPORTED)
    binds = bind_storm(args, REPORTED, config)
    for rnd in range(args.flood_rounds):
        row = {}
        for kind, base, states in (
                ("connects", connects, ("off", "0", "1000000000", "default")),
                ("binds", binds, ("off", "0", "default"))):
            order = states if rnd % 2 == 0 else tuple(reversed(states))
            for state in order:
                log("flood round %d/%d: reported %s, tracer %s" %
                    (rnd + 1, args.flood_rounds, kind,
                     state if state == "off" else "budget " + state))
                if state == "off":
                    res = phase_off(args, ns, chain, REPORTED, base)
                else:
                    storm = dict(base)
                    # "default": the tracer's default, given (Tracer
                    # would add --flood-budget 0 otherwise).
                    budget = " --flood-budget " + (
                        str(FLOOD_DEFAULT_BUDGET) if state == "default"
                        else state)
                    storm["tracer_args"] = base["tracer_args"] + budget
                    if state == "default":
                        # Few lines: a file, counted line by line.
                        storm["verify"] = flood_verify(base["pattern"])
                    res = phase_on(args, ns, chain, REPORTED,
                                   "flood-%s-%s-%d" % (kind, state, rnd),
                                   storm)
                row["%s_%s" % (kind, state)] = res
                msg = "  %.0f per second" % res["rate"]
                if state != "off":
                    msg += ", %d lines of %d, lost %d" % (
                        res["delivered"], res["made"], res["lost"])
                if "summarised" in res:
                    msg += "; own lines %d + summarised %d in %d summaries" % (
                        res["own_lines"], res["summarised"], res["summaries"])
                log(msg)
        rounds.append(row)


def listen(args, ns, chain, results):
    """net_listen's figures: rounds of UDP bind storms (explicit ports, by
    `loadgen bind` under the chain) reported and filtered in the kernel,
    tracer off and on; then start-ups with tcp_connect and net_listen."""
    config = os.path.join(args.workdir, "listen.yaml")
    filtered = os.path.join(args.workdir, "listen-filtered.yaml")
    for path, text in ((config, LISTEN_CONFIG),
                       (filtered, LISTEN_FILTERED_CONFIG)):
        with open(path, "w") as f:
            f.write(text)
    rounds = results.setdefault("listen", [])
    # What net_listen's hooks cost TCP connects (its sock_ops program runs
    # for every TCP socket's callbacks): a filtered connect storm with
    # both probes on.
    connects = connect_storm(args, FILTERED)
    connects["tracer_args"] = "-c " + shlex.quote(config)
    connects["seconds"] = args.bind_duration
    connects["cmd"] = loadgen_connect(args, FILTERED, args.port,
                                      workers=args.workers,
                                      duration=args.bind_duration)
    for rnd in range(args.listen_rounds):
        row = {}
        for kind, addr, storm in (
                ("reported", REPORTED, bind_storm(args, REPORTED, config)),
                ("filtered", FILTERED, bind_storm(args, FILTERED, filtered)),
                ("connects", FILTERED, connects)):
            order = ("off", "on") if rnd % 2 == 0 else ("on", "off")
            for state in order:
                log("listen round %d/%d: %s binds, tracer %s" %
                    (rnd + 1, args.listen_rounds, kind, state))
                if state == "off":
                    res = phase_off(args, ns, chain, addr, storm)
                else:
                    res = phase_on(args, ns, chain, addr,
                                   "bind-%s-%d" % (kind, rnd), storm)
                row["%s_%s" % (kind, state)] = res
                msg = "  %.0f per second" % res["rate"]
                if state == "on":
                    msg += ", written %d of %d, lost %d" % (
                        res["delivered"], res["made"], res["lost"])
                log(msg)
        rounds.append(row)
    starts = results.setdefault("listen_startup", [])
    startup(args, ns, starts, extra_args="-c " + shlex.quote(config))


# udp_session's benchmark configurations: the probe alone (what its hooks
# cost), with the storm's network filtered in the kernel, and all three
# probes (start-up and memory).
UDP_CONFIG = "udp_session:\n"
UDP_FILTERED_CONFIG = UDP_CONFIG + """  filters:
    - subnet_name: ten
      network: 10.0.0.0/8
"""
ALL_CONFIG = """tcp_connect:
net_listen:
  protocols: [tcp, udp]
udp_session:
"""
UDP_PORT = 5353
TCP_PORT = 21000  # tcp-stream and tcp-accept: 21000, 21001, ... per worker


def udp_sums(port):
    """verify() for a storm's output file: the messages its udp_session
    lines count to `port`, and the lines of each kind."""
    def verify(path):
        msgs = sessions = interim = untracked = bad = 0
        with open(path, "rb") as f:
            for raw in f:
                try:
                    rec = json.loads(raw)
                except ValueError:
                    bad += 1
                    continue
                if rec.get("type") == "udp_sessions_untracked":
                    untracked += rec["count"]
                if rec.get("probe") != "udp_session":
                    continue
                mine = [d["msg_count"] for d in rec["destinations"]
                        if d["port"] == port]
                if mine:
                    sessions += 1
                    interim += rec["interim"]
                    msgs += sum(mine)
        return {"udp_msgs": msgs, "udp_lines": sessions,
                "udp_interim": interim, "udp_untracked": untracked,
                "bad_lines": bad}
    return verify


def udp_storm(args, kind, config):
    """What a udp phase runs. filtered/one_socket: one socket per worker,
    many sends (to the filtered network, or reported); storm: one socket
    per send; tcp_stream/tcp_accept: TCP traffic the probe's hooks must
    not slow. Trailing sends (one socket each, on every CPU) follow each
    storm so that a perf-buffer loss is reported."""
    addr = FILTERED if kind == "filtered" else REPORTED
    seconds = args.udp_duration
    per_socket = 1 if kind == "storm" else 0
    if kind.startswith("tcp_"):
        cmd = [args.loadgen, kind.replace("_", "-"), "--addr", "127.0.0.1",
               "--port", str(TCP_PORT), "--workers", str(args.workers),
               "--duration", str(seconds)]
    else:
        cmd = [args.loadgen, "udp", "--addr", addr, "--port", str(UDP_PORT),
               "--per-socket", str(per_socket), "--receive", "--workers",
               str(args.workers), "--duration", str(seconds)]
    trailing = [args.loadgen, "udp", "--addr", REPORTED, "--port",
                str(UDP_PORT), "--per-socket", "1", "--workers", str(NCPU),
                "--pin", "--count", str(NCPU * args.trailing)]
    storm = {"cmd": cmd, "seconds": seconds, "trailing": trailing,
             "pattern": '"daddr":"%s","port":%d,' % (REPORTED, UDP_PORT),
             "tracer_args": "-c " + shlex.quote(config)}
    if kind == "one_socket":
        storm["verify"] = udp_sums(UDP_PORT)
    return storm


UDP_KINDS = ("filtered", "one_socket", "storm", "tcp_stream", "tcp_accept")
# Loads also run under bench/hook_floor (the same hooks, programs that do
# nothing): what the kernel charges for the hooks alone.
FLOOR_KINDS = ("filtered", "tcp_stream", "tcp_accept")


def phase_floor(args, ns, chain, storm):
    """The storm with bench/hook_floor attached instead of the tracer."""
    quiet = wait_quiet(args)
    proc = subprocess.Popen([args.hook_floor], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    _owned_pids.add(proc.pid)
    on_exit(lambda: kill_group(proc))
    line = proc.stderr.readline().decode(errors="replace")
    if "attached" not in line:
        kill_group(proc)
        raise RuntimeError("hook_floor did not attach: %s" % line.strip())
    time.sleep(args.settle)
    try:
        load = run_load(args, ns, chain, storm["cmd"], storm["seconds"] + 120)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            kill_group(proc)
    return {"floor": True, "rate": load["rate"], "done": load["done"],
            "errors": load["errors"], "quiet": quiet}


def udp(args, ns, chain, results):
    """udp_session's figures: rounds of each UDP_KINDS load under the
    chain, tracer off and on (the order alternating by round); then
    start-ups with all three probes."""
    config = os.path.join(args.workdir, "udp.yaml")
    filtered = os.path.join(args.workdir, "udp-filtered.yaml")
    every = os.path.join(args.workdir, "all.yaml")
    for path, text in ((config, UDP_CONFIG), (filtered, UDP_FILTERED_CONFIG),
                       (every, ALL_CONFIG)):
        with open(path, "w") as f:
            f.write(text)
    rounds = results.setdefault("udp", [])
    for rnd in range(args.udp_rounds):
        row = {}
        for kind in UDP_KINDS:
            storm = udp_storm(args, kind,
                              filtered if kind == "filtered" else config)
            order = ("off", "floor", "on") if kind in FLOOR_KINDS else (
                "off", "on")
            if rnd % 2:
                order = order[::-1]
            for state in order:
                log("udp round %d/%d: %s, tracer %s" %
                    (rnd + 1, args.udp_rounds, kind, state))
                addr = FILTERED if kind == "filtered" else REPORTED
                if state == "floor":
                    res = phase_floor(args, ns, chain, storm)
                elif state == "off":
                    res = phase_off(args, ns, chain, addr, storm)
                else:
                    res = phase_on(args, ns, chain, addr,
                                   "udp-%s-%d" % (kind, rnd), storm)
                row["%s_%s" % (kind, state)] = res
                msg = "  %.0f per second" % res["rate"]
                if state == "on":
                    msg += ", written %d (made %d), lost %d" % (
                        res["delivered"], res["made"], res["lost"])
                    if "udp_msgs" in res:
                        msg += ", messages counted %d" % res["udp_msgs"]
                    if kind == "storm":
                        msg += ", %.2f us CPU/session" % res.get(
                            "cpu_us_per_event", float("nan"))
                log(msg)
        rounds.append(row)
    starts = results.setdefault("all_startup", [])
    startup(args, ns, starts, extra_args="-c " + shlex.quote(every))


# The containers phase (issue 14): what attribution, container_labels and
# the plugins cost.
UNMATCHED_CONFIG = """tcp_connect:
  container_labels: [pidtree-bench=no-such-container]
"""
PLUGINS_CONFIG = """tcp_connect:
  plugins:
    sourceipmap:
      hostfiles: [/etc/hosts]
    loginuidmap: {}
net_listen:
  protocols: [tcp, udp]
  plugins:
    loginuidmap: {}
udp_session:
"""
CONTAINER_KINDS = ("unmatched", "fork", "spawn", "reported")


def container_storm(args, kind, configs):
    """unmatched: connects to a reported address, every one dropped in the
    kernel by container_labels (the load is a host process); fork: fork +
    exit; spawn: fork + exec of /bin/true, with all three probes and both
    plugins; reported: reported connects, the tracer of this tree against
    --baseline-binary (state "base")."""
    seconds = args.container_duration
    if kind == "unmatched" or kind == "reported":
        storm = connect_storm(args, REPORTED)
        storm["cmd"] = loadgen_connect(args, REPORTED, args.port,
                                       workers=args.workers,
                                       duration=seconds)
        storm["seconds"] = seconds
        if kind == "unmatched":
            storm["tracer_args"] = "-c " + shlex.quote(configs["unmatched"])
        return storm
    if kind == "fork":
        cmd = [args.loadgen, "fork", "--workers", str(args.workers),
               "--duration", str(seconds)]
    else:
        cmd = [args.loadgen, "spawn", "--workers", str(args.workers),
               "--duration", str(seconds), "--", "/bin/true"]
    storm = connect_storm(args, REPORTED)
    storm.update({"cmd": cmd, "seconds": seconds,
                  "tracer_args": "-c " + shlex.quote(configs["plugins"])})
    return storm


def containers(args, ns, chain, results):
    configs = {"unmatched": os.path.join(args.workdir, "unmatched.yaml"),
               "plugins": os.path.join(args.workdir, "plugins.yaml")}
    for key, text in (("unmatched", UNMATCHED_CONFIG),
                      ("plugins", PLUGINS_CONFIG)):
        with open(configs[key], "w") as f:
            f.write(text)
    rounds = results.setdefault("containers", [])
    for rnd in range(args.container_rounds):
        row = {}
        for kind in args.container_kinds.split(","):
            if kind not in CONTAINER_KINDS:
                raise SystemExit("unknown --container-kinds entry %r" % kind)
            if kind == "reported" and not args.baseline_binary:
                continue
            storm = container_storm(args, kind, configs)
            order = ("off", "on") if kind != "reported" else ("base", "on")
            if kind in ("fork", "spawn") and args.baseline_binary:
                order = ("off", "base", "on")
            if rnd % 2:
                order = order[::-1]
            for state in order:
                log("containers round %d/%d: %s, tracer %s" %
                    (rnd + 1, args.container_rounds, kind, state))
                if state == "off":
                    res = phase_off(args, ns, chain, REPORTED, storm)
                else:
                    s = dict(storm)
                    if state == "base":
                        s["binary"] = args.baseline_binary
                    res = phase_on(args, ns, chain, REPORTED,
                                   "ct-%s-%s-%d" % (kind, state, rnd), s)
                row["%s_%s" % (kind, state)] = res
                msg = "  %.0f per second" % res["rate"]
                if state != "off":
                    msg += ", written %d (made %d), lost %d" % (
                        res["delivered"], res["made"], res["lost"])
                    if "cpu_us_per_event" in res:
                        msg += ", %.2f us CPU/event" % res["cpu_us_per_event"]
                log(msg)
        rounds.append(row)


SYSCALL_MODES = (("off", None), ("table", "--ancestry table"),
                 ("syscall", "--ancestry table --exec-argv syscall"),
                 ("proc", "--ancestry proc"))


def syscalls(args, ns, rounds):
    """ns per getppid() (a syscall that does nothing) by one process, with
    the tracer off; on with its process table as configured (argv from
    memory where the kernel has BTF: no syscall tracepoints); on with the
    process table fed by syscall tracepoints (--exec-argv syscall: execve
    argv, set*uid); and on with --ancestry proc (no process events at all).
    The order alternates by round."""
    for r in range(args.rounds):
        row = {}
        order = SYSCALL_MODES if r % 2 == 0 else SYSCALL_MODES[::-1]
        for name, extra in order:
            wait_quiet(args)
            log("syscalls %d/%d: tracer %s" % (r + 1, args.rounds, name))
            tracer = None
            if extra is not None:
                tracer = Tracer(args, os.path.join(args.workdir,
                                                   "syscalls.jsonl"),
                                extra_args=extra)
                tracer.wait_ready()
                time.sleep(args.settle)
            try:
                res = run_load(args, ns, None,
                               [args.loadgen, "syscall", "--workers", "0",
                                "--duration", str(args.syscall_seconds)],
                               timeout=args.syscall_seconds + 60)
            finally:
                if tracer:
                    tracer.stop()
            row[name] = 1e9 / res["rate"]
        rounds.append(row)


def memory(args, ns, chain):
    wait_quiet(args)
    out_path = os.path.join(args.workdir, "memory.jsonl")
    tracer = Tracer(args, out_path)
    tracer.wait_ready()
    time.sleep(args.settle + args.idle)
    samples = [(0, mem_kb(tracer.pid)["VmRSS"])]
    quarter = max(1, args.churn // 4)
    done = 0
    t0 = time.monotonic()
    for q in range(4):
        log("memory: short-lived processes %d-%d of %d" %
            (done + 1, done + quarter, quarter * 4))
        res = run_load(args, ns, chain,
                       [args.loadgen, "spawn", "--count", str(quarter),
                        "--workers", str(args.workers), "--", "/bin/true"],
                       3600)
        done += res["done"]
        wait_drained(tracer)
        samples.append((done, mem_kb(tracer.pid)["VmRSS"]))
    wall = time.monotonic() - t0
    mem = mem_kb(tracer.pid)
    rc = tracer.stop()
    os.unlink(out_path)
    return {"processes": done, "seconds": wall, "samples": samples,
            "hwm_kb": mem.get("VmHWM"), "exit": rc}


def soak(args, ns, chain):
    wait_quiet(args)
    out_path = os.path.join(args.workdir, "soak.jsonl")
    config = os.path.join(args.workdir, "soak.yaml")
    with open(config, "w") as f:
        f.write(PLUGINS_CONFIG)
    tracer = Tracer(args, out_path, REPORTED, extra_args="-c " + config)
    tracer.wait_ready()
    time.sleep(args.settle + args.idle)
    samples = [(0, mem_kb(tracer.pid)["VmRSS"])]
    trickle = subprocess.Popen(
        ns.prefix() + loadgen_connect(args, REPORTED, args.port, workers=0,
                                      interval_us=args.soak_interval_us,
                                      duration=36000),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True)
    _owned_pids.add(trickle.pid)
    on_exit(lambda: kill_group(trickle))
    part = max(1, args.soak_processes // 10)
    done = 0
    t0 = time.monotonic()
    for i in range(10):
        log("soak: short-lived processes %d-%d of %d" %
            (done + 1, done + part, part * 10))
        res = run_load(args, ns, None,
                       [args.loadgen, "fork", "--count", str(part),
                        "--workers", "1"], 3600)
        done += res["done"]
        samples.append((done, mem_kb(tracer.pid)["VmRSS"]))
    wall = time.monotonic() - t0
    trickle.send_signal(signal.SIGINT)
    try:
        out, _ = trickle.communicate(timeout=30)
        kv = parse_kv(out.decode()) or {}
    except subprocess.TimeoutExpired:
        kill_group(trickle)
        kv = {}
    wait_drained(tracer)
    mem = mem_kb(tracer.pid)
    rc = tracer.stop()
    rep = tracer.sink_report or {}
    return {"processes": done, "seconds": wall, "samples": samples,
            "hwm_kb": mem.get("VmHWM"), "exit": rc,
            "connects": int(kv.get("done", 0)),
            "written": rep.get("matches"),
            "lost": max(rep.get("last_lost_total", 0), tracer.lost_total)}


# Frames every sample passes through: they say nothing about the cost.
BORING_FRAMES = ("_start", "__libc_start", "] main", "entry_SYSCALL_64",
                 "do_syscall_64", "0xffffffffffffffff")


def short_symbol(text):
    """perf's C++ symbols without template arguments and std noise."""
    prev = None
    while prev != text:
        prev = text
        text = re.sub(r"<[^<>]*>", "", text)
    for noise in ("nlohmann::json_abi_v3_11_2::", "std::__cxx11::",
                  "(anonymous namespace)::", "[abi:cxx11]"):
        text = text.replace(noise, "")
    return text


def perf_rows(data, extra, percent_limit="0.5"):
    rep = subprocess.run(
        ["perf", "report", "-i", data, "--stdio", "--no-inline", "-g", "none",
         "--percent-limit", percent_limit] + extra,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    rows = []
    for line in rep.stdout.decode(errors="replace").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        line = short_symbol(line.rstrip())
        if any(s in line for s in BORING_FRAMES):
            continue
        rows.append(line)
    return rows


# What the connect probe costs a connecting process whose connect it
# filters out, in the kernel: our BPF programs, the kernel's code that runs
# them at the tracepoint (or kprobe), and what the filter path calls (the
# LPM trie, bpf_probe_read_kernel). Generic helpers that other BPF programs
# on a host call too (hash maps, bpf_get_current_*) are left out, so the
# share is not inflated by them; the filter path calls none of them with
# the default filters.
PROBE_SYMBOLS = re.compile(
    r"^(bpf_prog_[0-9a-f]+_(raw_tracepoint_|tracepoint__sock|pidtree_"
    r"|net_listen_)\S*"
    r"|__cgroup_bpf_run_filter_sock_ops"
    r"|trace_call_bpf|bpf_trace_run\d+|__bpf_trace_inet_sock_set_state"
    r"|perf_trace_buf_alloc|perf_trace_inet_sock_set_state"
    r"|perf_trace_run_bpf_submit|trie_lookup_elem"
    r"|bpf_probe_read_kernel|copy_from_kernel_nofault(_allowed)?"
    r"|kprobe_\w+|kretprobe_\w+|pre_handler_kretprobe|rethook_\w+)$")
PERF_ROW = re.compile(r"^\s*([0-9.]+)%\s+\[k\]\s+(\S+)\s*$")


def probe_share(report_text):
    """From `perf report --sort sym` text: the probe's symbols (see
    PROBE_SYMBOLS) as (total %, [(%, symbol), ...] largest first)."""
    rows = []
    for line in report_text.splitlines():
        m = PERF_ROW.match(line)
        if m and PROBE_SYMBOLS.match(m.group(2)):
            rows.append((float(m.group(1)), m.group(2)))
    rows.sort(reverse=True)
    return sum(pct for pct, _ in rows), rows


def profiled_storm(args, ns, chain, perf_argv, what, addr=REPORTED,
                   tracer_args=""):
    """A storm of --profile-duration s (reported unless `addr` says) with a
    tracer running (with `tracer_args`) and perf recording as perf_argv
    says."""
    wait_quiet(args)
    out_path = os.path.join(args.workdir, "profile.jsonl")
    tracer = Tracer(args, out_path, '"port":%d,' % args.port,
                    extra_args=tracer_args)
    tracer.wait_ready()
    time.sleep(args.settle)
    perf = subprocess.Popen(
        [a.replace("{pid}", str(tracer.pid)) for a in perf_argv],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)
    _owned_pids.add(perf.pid)
    on_exit(lambda: kill_group(perf))
    time.sleep(0.5)
    log("profile: %s storm of %g s, perf on %s" %
        ("reported" if addr == REPORTED else "filtered",
         args.profile_duration, what))
    load = run_load(args, ns, chain,
                    loadgen_connect(args, addr, args.port,
                                    workers=args.workers,
                                    duration=args.profile_duration),
                    args.profile_duration + 120)
    perf.send_signal(signal.SIGINT)
    perf.wait(timeout=120)
    tracer.stop()
    os.unlink(tracer.sample_path if tracer.sink else out_path)
    return load


def profile(args, ns, chain):
    """Two reported storms under perf (cpu-clock; no hardware counters in
    these VMs): one recording the tracer with DWARF call graphs (user-space
    cost), one recording the whole host, of which the load generator's
    samples show what the probe costs the connecting processes in the
    kernel."""
    if not shutil.which("perf"):
        log("profile: perf not found (apt-get install linux-perf)")
        return None
    out = {}
    data = os.path.join(args.workdir, "perf-tracer.data")
    profiled_storm(args, ns, chain,
                   ["perf", "record", "-q", "-e", "cpu-clock", "-F",
                    str(args.perf_freq), "--call-graph", "dwarf,16384",
                    "-p", "{pid}", "-o", data], "the tracer")
    out["self"] = perf_rows(data, ["--no-children", "--sort", "dso,sym"])
    out["children"] = perf_rows(data, ["--children", "--sort", "sym"])
    data_all = os.path.join(args.workdir, "perf-host.data")
    profiled_storm(args, ns, chain,
                   ["perf", "record", "-q", "-a", "-g", "-e", "cpu-clock",
                    "-F", str(args.perf_freq), "-o", data_all], "the host")
    out["loadgen"] = perf_rows(data_all, ["--no-children", "--comm",
                                          "loadgen", "--percentage",
                                          "relative", "--sort", "sym"])
    out["by_comm"] = perf_rows(data_all, ["--no-children", "--sort", "comm"])
    # What the probe costs the connects it filters out: its symbols' share
    # of the load generator's samples, the whole host recorded.
    data_filtered = os.path.join(args.workdir, "perf-filtered.data")
    profiled_storm(args, ns, chain,
                   ["perf", "record", "-q", "-a", "-e", "cpu-clock", "-F",
                    str(args.perf_freq), "-o", data_filtered], "the host",
                   addr=FILTERED)
    total, rows = probe_share("\n".join(perf_rows(
        data_filtered, ["--no-children", "--comm", "loadgen", "--percentage",
                        "relative", "--sort", "sym"], percent_limit="0")))
    out["filtered_probe"] = {"total_pct": total, "rows": rows}
    # The same with net_listen on too: what its state-change handler and
    # its sock_ops program add to a TCP connect.
    config = os.path.join(args.workdir, "profile-listen.yaml")
    with open(config, "w") as f:
        f.write(LISTEN_CONFIG)
    data_listen = os.path.join(args.workdir, "perf-filtered-listen.data")
    profiled_storm(args, ns, chain,
                   ["perf", "record", "-q", "-a", "-e", "cpu-clock", "-F",
                    str(args.perf_freq), "-o", data_listen],
                   "the host (tcp_connect and net_listen)", addr=FILTERED,
                   tracer_args="-c " + shlex.quote(config))
    total, rows = probe_share("\n".join(perf_rows(
        data_listen, ["--no-children", "--comm", "loadgen", "--percentage",
                      "relative", "--sort", "sym"], percent_limit="0")))
    out["filtered_probe_listen"] = {"total_pct": total, "rows": rows}
    for path in (data, data_all, data_filtered, data_listen):
        if args.keep_output:
            log("profile: perf data kept in %s" % path)
        else:
            os.unlink(path)
    return out


# ------------------------------------------------------------------- report

def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt_n(v):
    return "—" if v is None else "{:,.0f}".format(v)


def fmt_pct(v):
    return "—" if v is None else "%.1f%%" % (100 * v)


def verdict(ok):
    return "**pass**" if ok else "**FAIL**"


def report(args, results):
    lines = []
    add = lines.append
    frounds = results.get("throughput") or []   # every round: filtered
    rounds = [r for r in frounds if "reported_on" in r]  # and reported
    add("### pidtree-bcc end-to-end benchmark")
    add("")
    if results.get("interrupted"):
        add("**Interrupted (%s): only the phases completed before are "
            "shown.**" % results["interrupted"])
        add("")
    add("`%s`: %d rounds of %g s reported storms, %d of %g s filtered "
        "storms, %d loadgen workers; medians of rounds. %s, %d CPUs, kernel "
        "%s, tracer `%s`%s; storm output %s." %
        (results["command"], len(rounds), args.duration, len(frounds),
         args.filtered_duration, args.workers,
         results["date"], NCPU, platform.release(), results["version"],
         " " + args.tracer_args if args.tracer_args else "",
         "piped to bench/sink" if args.tracer_output == "pipe" else
         "to a file in " + args.workdir_base))
    if results["stale_sources"]:
        add("")
        add("**The binary is older than %s: these figures may not be the "
            "tree's.**" % ", ".join(results["stale_sources"][:5]))
    add("")
    add("| measure | tracer off | tracer on | result | target | |")
    add("|---|---|---|---|---|---|")
    # Either kind may have no rounds (--rounds 0: filtered storms only).
    kinds = [(kind, target, rr) for kind, target, rr in (
        ("filtered", TARGETS["filtered_ratio"], frounds),
        ("reported", TARGETS["reported_ratio"], rounds)) if rr]
    if kinds:
        for kind, target, rr in kinds:
            off = med([r[kind + "_off"]["rate"] for r in rr])
            on = med([r[kind + "_on"]["rate"] for r in rr])
            ratio = med([r[kind + "_on"]["rate"] / r[kind + "_off"]["rate"]
                         for r in rr])
            spread = [r[kind + "_on"]["rate"] / r[kind + "_off"]["rate"]
                      for r in rr]
            add("| %s destinations: connects/s (%d rounds) | %s | %s | %s "
                "on/off (rounds %s–%s) | ≥ %.0f%% | %s |" %
                (kind, len(rr), fmt_n(off), fmt_n(on), fmt_pct(ratio),
                 fmt_pct(min(spread)), fmt_pct(max(spread)), 100 * target,
                 verdict(ratio >= target)))
            # The same, from the rounds whose two phases ran on a quiet
            # host only: the better estimate when there are some.
            clean = [r[kind + "_on"]["rate"] / r[kind + "_off"]["rate"]
                     for r in rr
                     if r[kind + "_on"]["foreign_pct"] <= args.max_busy and
                     r[kind + "_off"]["foreign_pct"] <= args.max_busy]
            add("| %s: same, quiet rounds only (others ≤ %g%% of the CPUs "
                "in both phases) | | | %s (%d of %d rounds) | ≥ %.0f%% | %s |"
                % (kind, args.max_busy, fmt_pct(med(clean)), len(clean),
                   len(rr), 100 * target,
                   verdict(med(clean) >= target) if clean else "—"))
        for kind, _, rr in kinds:
            off = med([r[kind + "_off"]["load_cpu_us"] for r in rr])
            on = med([r[kind + "_on"]["load_cpu_us"] for r in rr])
            add("| %s: load generator CPU per connect (cross-check, less "
                "sensitive to other load) | %.2f µs | %.2f µs | %s on/off "
                "(implied throughput %s) | | |" %
                (kind, off, on, fmt_pct(med(
                    [r[kind + "_on"]["load_cpu_us"] /
                     r[kind + "_off"]["load_cpu_us"] for r in rr])),
                 fmt_pct(med([r[kind + "_off"]["load_cpu_us"] /
                              r[kind + "_on"]["load_cpu_us"]
                              for r in rr]))))
    if rounds:
        rep = [r["reported_on"] for r in rounds]
        made = med([r["made"] for r in rep])
        deliv = med([r["delivered"] for r in rep])
        lost = med([r["lost"] for r in rep])
        add("| reported: events made / written | | | %s / %s (%s) | all | %s |"
            % (fmt_n(made), fmt_n(deliv),
               fmt_pct(med([r["delivered"] / r["made"] for r in rep])),
               verdict(all(r["delivered"] >= r["made"] for r in rep))))
        add("| reported: lost events (kernel count) | | | %s (max %s) | 0 | "
            "%s |" % (fmt_n(lost), fmt_n(max(r["lost"] for r in rep)),
                      verdict(all(r["lost"] == 0 for r in rep))))
        cpu = med([r.get("cpu_us_per_event") for r in rep])
        cpu_idle = med([r.get("cpu_us_per_event_minus_idle") for r in rep])
        depth = med([r["tree_depth"] for r in rep])
        add("| user-space CPU (user+sys) per reported event | | | %.2f µs "
            "(%.2f µs without idle); trees of %s processes, ~%s B/line | "
            "≤ %.0f µs | %s |" %
            (cpu or 0, cpu_idle or 0, fmt_n(depth),
             fmt_n(med([r["line_bytes"] for r in rep])),
             TARGETS["cpu_us_per_event"],
             verdict(cpu is not None and cpu <= TARGETS["cpu_us_per_event"])))
        add("| tracer CPU during the reported storm | | | %.0f%% of one CPU "
            "(idle before: %.2f%%) | | |" %
            (med([r["tracer_cpu_pct_in_storm"] for r in rep]),
             med([r["idle_cpu_pct"] for r in rep])))
    if frounds:
        add("| filtered: tracer CPU during the storm / events written | | | "
            "%.1f%% / %s | 0 events | %s |" %
            (med([r["filtered_on"]["tracer_cpu_pct_in_storm"]
                  for r in frounds]),
             fmt_n(med([r["filtered_on"]["delivered"] for r in frounds])),
             verdict(all(r["filtered_on"]["delivered"] == 0
                         for r in frounds))))
    fp = (results.get("profile") or {}).get("filtered_probe")
    if fp:
        add("| filtered: the probe's share of the load generator's CPU "
            "(whole-host profile of a %g s filtered storm; see below) | | | "
            "%.2f%% | | |" % (args.profile_duration, fp["total_pct"]))
    fpl = (results.get("profile") or {}).get("filtered_probe_listen")
    if fpl:
        add("| filtered: the same with net_listen on too (its handler and "
            "sock_ops program included) | | | %.2f%% | | |" %
            fpl["total_pct"])
    sys_rounds = results.get("syscalls") or []
    if sys_rounds:
        off = med([r["off"] for r in sys_rounds])
        for name, what in (
                ("table", "the process table (default `--exec-argv`)"),
                ("syscall", "`--exec-argv syscall` (syscall tracepoints)"),
                ("proc", "`--ancestry proc` (no process events)")):
            if not all(name in r for r in sys_rounds):
                continue
            add("| getppid(): ns per call, tracer off / on with %s (%d "
                "rounds) | %.0f | %.0f | %.1f%% on/off (rounds %s) | | |" %
                (what, len(sys_rounds), off,
                 med([r[name] for r in sys_rounds]),
                 100 * med([r[name] / r["off"] for r in sys_rounds]),
                 "–".join("%.1f%%" % (100 * f(r[name] / r["off"]
                                               for r in sys_rounds))
                          for f in (min, max))))
    starts = results.get("startup") or []
    if starts:
        ready = med([s["ready_s"] for s in starts])
        first = med([s["first_event_s"] for s in starts])
        add("| start-up: exec → ready line (%d starts) | | | %.2f s "
            "(%.2f–%.2f) | < %.1f s | %s |" %
            (len(starts), ready, min(s["ready_s"] for s in starts),
             max(s["ready_s"] for s in starts), TARGETS["startup_s"],
             verdict(ready < TARGETS["startup_s"])))
        if first is not None:
            add("| start-up: exec → first event written | | | %.2f s | "
                "< %.1f s | %s |" % (first, TARGETS["startup_s"],
                                     verdict(first < TARGETS["startup_s"])))
        add("| peak RSS (VmHWM, includes BCC's compile) | | | %.1f MB | | |"
            % (med([s["hwm_kb"] for s in starts]) / 1024))
        add("| RSS once running, idle | | | %.1f MB (anon %.1f, file %.1f) | "
            "< %.0f MB | %s |" %
            (med([s["rss_kb"] for s in starts]) / 1024,
             med([s["rss_anon_kb"] for s in starts]) / 1024,
             med([s["rss_file_kb"] for s in starts]) / 1024, TARGETS["rss_mb"],
             verdict(med([s["rss_kb"] for s in starts]) / 1024 <
                     TARGETS["rss_mb"])))
    if rounds:
        rep = [r["reported_on"] for r in rounds]
        rss = med([r["rss_after_kb"] for r in rep]) / 1024
        add("| RSS after the reported storm (peak) | | | %.1f MB (%.1f MB); "
            "anon %.1f, file %.1f | < %.0f MB | %s |" %
            (rss, med([r["hwm_kb"] for r in rep]) / 1024,
             med([r["rss_after_anon_kb"] for r in rep]) / 1024,
             med([r["rss_after_file_kb"] for r in rep]) / 1024,
             TARGETS["rss_mb"],
             verdict(rss < TARGETS["rss_mb"])))
    mem = results.get("memory")
    if mem:
        s = mem["samples"]
        growth = (s[-1][1] - s[1][1]) / 1024
        add("| RSS over %s short-lived processes | | | %s MB (start, then "
            "after each quarter) | flat | %s |" %
            (fmt_n(mem["processes"]),
             " → ".join("%.1f" % (kb / 1024) for _, kb in s),
             verdict(growth <= 1.0)))
    soaked = results.get("soak")
    if soaked:
        s = soaked["samples"]
        growth = (s[-1][1] - s[1][1]) / 1024
        add("| soak: RSS over %s short-lived processes (fork + exit) in %.0f "
            "s, all three probes and both plugins | | | %s MB (start, then "
            "after each tenth) | flat | %s |" %
            (fmt_n(soaked["processes"]), soaked["seconds"],
             " → ".join("%.1f" % (kb / 1024) for _, kb in s),
             verdict(growth <= 1.0)))
        add("| soak: reported connects meanwhile: made, written, lost | | | "
            "%s, %s, %s | all written or lost | %s |" %
            (fmt_n(soaked["connects"]), fmt_n(soaked["written"] or 0),
             fmt_n(soaked["lost"]),
             verdict((soaked["written"] or 0) + soaked["lost"] >=
                     soaked["connects"] > 0)))
    lrounds = results.get("listen") or []
    if lrounds:
        for kind in ("reported", "filtered"):
            ratios = [r[kind + "_on"]["rate"] / r[kind + "_off"]["rate"]
                      for r in lrounds]
            add("| net_listen: UDP binds/s, %s in the kernel (%d rounds of "
                "%g s) | %s | %s | %s on/off (rounds %s–%s) | ≥ %.0f%% | "
                "%s |" %
                (kind if kind == "filtered" else "reported (every bind a "
                 "line), not filtered", len(lrounds), args.bind_duration,
                 fmt_n(med([r[kind + "_off"]["rate"] for r in lrounds])),
                 fmt_n(med([r[kind + "_on"]["rate"] for r in lrounds])),
                 fmt_pct(med(ratios)), fmt_pct(min(ratios)),
                 fmt_pct(max(ratios)), 100 * TARGETS["bind_ratio"],
                 verdict(med(ratios) >= TARGETS["bind_ratio"])))
        ratios = [r["connects_on"]["rate"] / r["connects_off"]["rate"]
                  for r in lrounds]
        add("| filtered TCP connects/s with tcp_connect **and** net_listen "
            "(its state-change handler and sock_ops program) on | %s | %s | "
            "%s on/off (rounds %s–%s) | | |" %
            (fmt_n(med([r["connects_off"]["rate"] for r in lrounds])),
             fmt_n(med([r["connects_on"]["rate"] for r in lrounds])),
             fmt_pct(med(ratios)), fmt_pct(min(ratios)),
             fmt_pct(max(ratios))))
        rep = [r["reported_on"] for r in lrounds]
        add("| net_listen: binds made / written, lost (kernel count) | | | "
            "%s / %s, lost %s (max %s) | all, 0 | %s |" %
            (fmt_n(med([r["made"] for r in rep])),
             fmt_n(med([r["delivered"] for r in rep])),
             fmt_n(med([r["lost"] for r in rep])),
             fmt_n(max(r["lost"] for r in rep)),
             verdict(all(r["delivered"] >= r["made"] and r["lost"] == 0
                         for r in rep))))
        add("| net_listen: user-space CPU per reported bind | | | %.2f µs | "
            "| |" % (med([r.get("cpu_us_per_event") for r in rep]) or 0))
        add("| net_listen: filtered binds written | | | %s | 0 | %s |" %
            (fmt_n(med([r["filtered_on"]["delivered"] for r in lrounds])),
             verdict(all(r["filtered_on"]["delivered"] == 0
                         for r in lrounds))))
    lstarts = results.get("listen_startup") or []
    if lstarts:
        ready = med([s["ready_s"] for s in lstarts])
        rss = med([s["rss_kb"] for s in lstarts]) / 1024
        add("| start-up with tcp_connect and net_listen (tcp, udp): exec → "
            "ready line (%d starts) | | | %.2f s (%.2f–%.2f) | < %.1f s | %s |"
            % (len(lstarts), ready, min(s["ready_s"] for s in lstarts),
               max(s["ready_s"] for s in lstarts), TARGETS["startup_s"],
               verdict(ready < TARGETS["startup_s"])))
        add("| RSS once running with tcp_connect and net_listen, idle | | | "
            "%.1f MB (anon %.1f, file %.1f) | < %.0f MB | %s |" %
            (rss, med([s["rss_anon_kb"] for s in lstarts]) / 1024,
             med([s["rss_file_kb"] for s in lstarts]) / 1024,
             TARGETS["listen_rss_mb"], verdict(rss < TARGETS["listen_rss_mb"])))
    frows = results.get("flood") or []
    if frows:
        def fratio(kind, state, base="off"):
            return [r["%s_%s" % (kind, state)]["rate"] /
                    r["%s_%s" % (kind, base)]["rate"] for r in frows]

        def frow(what, kind, state, base="off"):
            rr = fratio(kind, state, base)
            add("| flood: %s (%d rounds) | %s | %s | %s %s/%s (rounds "
                "%s–%s) | | |" %
                (what, len(frows),
                 fmt_n(med([r["%s_%s" % (kind, base)]["rate"]
                            for r in frows])),
                 fmt_n(med([r["%s_%s" % (kind, state)]["rate"]
                            for r in frows])),
                 fmt_pct(med(rr)), state, base, fmt_pct(min(rr)),
                 fmt_pct(max(rr))))
        frow("reported connects/s, no budget (every event a line)",
             "connects", "0")
        frow("… budget never reached (its accounting on every reported "
             "event) against no budget", "connects", "1000000000", "0")
        frow("… the default budget (1000/s a process: the storm "
             "summarised)", "connects", "default")
        frow("reported UDP binds/s, no budget", "binds", "0")
        frow("… the default budget", "binds", "default")
        for kind in ("connects", "binds"):
            dd = [r[kind + "_default"] for r in frows]
            exact = sum(d.get("own_lines", 0) + d.get("summarised", 0) ==
                        d["made"] for d in dd)
            add("| flood, default budget, %s: made / own lines + summarised "
                "(summary lines), lost | | | %s / %s + %s (%s), lost %s; "
                "exact in %d of %d rounds | exact | %s |" %
                (kind, fmt_n(med([d["made"] for d in dd])),
                 fmt_n(med([d.get("own_lines") for d in dd])),
                 fmt_n(med([d.get("summarised") for d in dd])),
                 fmt_n(med([d.get("summaries") for d in dd])),
                 fmt_n(max(d["lost"] for d in dd)), exact, len(dd),
                 verdict(exact == len(dd))))
    urounds = results.get("udp") or []
    if urounds:
        def ratios(kind):
            return [r[kind + "_on"]["rate"] / r[kind + "_off"]["rate"]
                    for r in urounds]

        def ratio_row(kind, what, target):
            rr = ratios(kind)
            add("| udp_session: %s (%d rounds of %g s) | %s | %s | %s on/off "
                "(rounds %s–%s) | ≥ %.0f%% | %s |" %
                (what, len(urounds), args.udp_duration,
                 fmt_n(med([r[kind + "_off"]["rate"] for r in urounds])),
                 fmt_n(med([r[kind + "_on"]["rate"] for r in urounds])),
                 fmt_pct(med(rr)), fmt_pct(min(rr)), fmt_pct(max(rr)),
                 100 * target, verdict(med(rr) >= target)))
        def floor_row(kind):
            floor = [r[kind + "_floor"]["rate"] / r[kind + "_off"]["rate"]
                     for r in urounds]
            own = [r[kind + "_on"]["rate"] / r[kind + "_floor"]["rate"]
                   for r in urounds]
            add("| … the same hooks with programs that return at once "
                "(bench/hook_floor: the kernel's own cost of the hooks) | %s "
                "| %s | %s floor/off (rounds %s–%s); udp_session's programs "
                "on top: %s on/floor | | |" %
                (fmt_n(med([r[kind + "_off"]["rate"] for r in urounds])),
                 fmt_n(med([r[kind + "_floor"]["rate"] for r in urounds])),
                 fmt_pct(med(floor)), fmt_pct(min(floor)),
                 fmt_pct(max(floor)), fmt_pct(med(own))))
        ratio_row("filtered", "UDP sends/s to a destination filtered in the "
                  "kernel (a socket per worker)",
                  TARGETS["udp_filtered_ratio"])
        floor_row("filtered")
        ratio_row("one_socket", "UDP sends/s, reported, a socket per worker "
                  "(counted in the kernel)", TARGETS["udp_one_socket_ratio"])
        one = [r["one_socket_on"] for r in urounds]
        add("| udp_session: one socket, many sends: messages sent / counted "
            "in its lines (every round) | | | %s / %s (%s) | exact | %s |" %
            (fmt_n(med([r["made"] for r in one])),
             fmt_n(med([r.get("udp_msgs", 0) for r in one])),
             "exact in %d of %d rounds" % (
                 sum(r.get("udp_msgs") == r["made"] for r in one), len(one)),
             verdict(all(r.get("udp_msgs") == r["made"] and
                         r.get("udp_untracked") == 0 for r in one))))
        ratio_row("storm", "sessions/s, one socket per send (a resolver's "
                  "pattern: every send a session and a line)",
                  TARGETS["udp_storm_ratio"])
        storm = [r["storm_on"] for r in urounds]
        add("| udp_session: sessions made / written, lost (kernel count) | | "
            "| %s / %s, lost %s (max %s) | all, 0 | %s |" %
            (fmt_n(med([r["made"] for r in storm])),
             fmt_n(med([r["delivered"] for r in storm])),
             fmt_n(med([r["lost"] for r in storm])),
             fmt_n(max(r["lost"] for r in storm)),
             verdict(all(r["delivered"] >= r["made"] and r["lost"] == 0
                         for r in storm))))
        cpu = med([r.get("cpu_us_per_event") for r in storm]) or 0
        add("| udp_session: tracer CPU (user+sys) per session | | | %.2f µs "
            "(%.2f µs without idle); ~%s B/line | ≤ %.0f µs | %s |" %
            (cpu, med([r.get("cpu_us_per_event_minus_idle")
                       for r in storm]) or 0,
             fmt_n(med([r["line_bytes"] for r in storm
                        if r.get("line_bytes")]) or 0),
             TARGETS["udp_cpu_us_per_session"],
             verdict(cpu <= TARGETS["udp_cpu_us_per_session"])))
        ratio_row("tcp_stream", "TCP writes/s of 64 B on loopback (unrelated "
                  "traffic: sock_send_length runs for each)",
                  TARGETS["udp_tcp_ratio"])
        floor_row("tcp_stream")
        ratio_row("tcp_accept", "TCP connect + accept + close/s on loopback "
                  "(unrelated: the release hook runs for each socket)",
                  TARGETS["udp_tcp_ratio"])
        floor_row("tcp_accept")
        rss = max(r["rss_after_kb"] for r in storm) / 1024
        add("| udp_session: RSS after the session storm | | | %.1f MB | < "
            "%.0f MB | %s |" % (rss, TARGETS["udp_rss_mb"],
                                verdict(rss < TARGETS["udp_rss_mb"])))
    crounds = results.get("containers") or []
    if crounds:
        def c_ratio(kind, on="on", off="off"):
            return [r["%s_%s" % (kind, on)]["rate"] /
                    r["%s_%s" % (kind, off)]["rate"] for r in crounds
                    if "%s_%s" % (kind, on) in r and
                    "%s_%s" % (kind, off) in r]

        def c_row(kind, what, target=None, on="on", off="off"):
            rr = c_ratio(kind, on, off)
            if not rr:
                return
            add("| %s (%d rounds of %g s) | %s | %s | %s %s/%s (rounds "
                "%s–%s) | %s | %s |" %
                (what, len(rr), args.container_duration,
                 fmt_n(med([r["%s_%s" % (kind, off)]["rate"]
                            for r in crounds if "%s_%s" % (kind, off) in r])),
                 fmt_n(med([r["%s_%s" % (kind, on)]["rate"]
                            for r in crounds if "%s_%s" % (kind, on) in r])),
                 fmt_pct(med(rr)), on, off, fmt_pct(min(rr)),
                 fmt_pct(max(rr)),
                 "≥ %.0f%%" % (100 * target) if target else "",
                 verdict(med(rr) >= target) if target else ""))
        c_row("unmatched", "containers: connects/s of a host process, "
              "reported but for container_labels (dropped in the kernel)",
              TARGETS["unmatched_ratio"])
        unm = [r["unmatched_on"] for r in crounds if "unmatched_on" in r]
        if unm:
            add("| containers: unmatched connects written | | | %s of %s | 0 "
                "| %s |" % (fmt_n(sum(r["delivered"] for r in unm)),
                            fmt_n(sum(r["made"] for r in unm)),
                            verdict(sum(r["delivered"] for r in unm) == 0)))
        c_row("fork", "containers: fork + exit/s, all three probes and both "
              "plugins on", TARGETS["fork_ratio"])
        c_row("fork", "… the same, --baseline-binary against off", on="base")
        c_row("fork", "… this tracer against --baseline-binary", off="base")
        c_row("spawn", "containers: fork + exec /bin/true/s, all three "
              "probes and both plugins on", TARGETS["spawn_ratio"])
        c_row("spawn", "… the same, --baseline-binary against off", on="base")
        c_row("spawn", "… this tracer against --baseline-binary", off="base")
        for kind in ("fork", "spawn"):
            for state in ("base", "on"):
                progs = [r["%s_%s" % (kind, state)].get("bpf_progs")
                         for r in crounds if "%s_%s" % (kind, state) in r]
                progs = [p for p in progs if p]
                if not progs:
                    continue
                names = sorted({n for p in progs for n in p
                                if "task" in n or "sched" in n or
                                "cgroup" in n})
                add("| … %s, %s: BPF ns per run (bpf_stats) | | | %s | | |" % (
                    kind, "baseline" if state == "base" else "this tracer",
                    ", ".join("%s %.0f" % (n, med([p[n]["ns_per_run"]
                                                    for p in progs
                                                    if n in p]))
                              for n in names)))
        if any("reported_on" in r for r in crounds):
            c_row("reported", "containers: reported connects/s, this tracer "
                  "(attribution on) against --baseline-binary", on="on",
                  off="base")
            for state, what in (("base", "baseline"), ("on", "this tracer")):
                rs = [r["reported_" + state] for r in crounds
                      if "reported_" + state in r]
                add("| … %s: CPU per reported connect, lost | | | %.2f µs, "
                    "lost %s | | |" % (
                        what, med([r.get("cpu_us_per_event") for r in rs])
                        or 0, fmt_n(sum(r["lost"] for r in rs))))
    astarts = results.get("all_startup") or []
    if astarts:
        ready = med([s["ready_s"] for s in astarts])
        rss = med([s["rss_kb"] for s in astarts]) / 1024
        add("| start-up with all three probes (tcp_connect, net_listen, "
            "udp_session): exec → ready line (%d starts) | | | %.2f s "
            "(%.2f–%.2f) | < %.1f s | %s |" %
            (len(astarts), ready, min(s["ready_s"] for s in astarts),
             max(s["ready_s"] for s in astarts), TARGETS["startup_s"],
             verdict(ready < TARGETS["startup_s"])))
        add("| RSS once running with all three probes, idle | | | %.1f MB "
            "(anon %.1f, file %.1f) | < %.0f MB | %s |" %
            (rss, med([s["rss_anon_kb"] for s in astarts]) / 1024,
             med([s["rss_file_kb"] for s in astarts]) / 1024,
             TARGETS["udp_rss_mb"], verdict(rss < TARGETS["udp_rss_mb"])))
    add("")
    add("Ratios are per round (off and on back to back, order alternating), "
        "then the median. \"Written\" counts the tracer's output lines for "
        "the storm's destination (including %d connects per CPU sent after "
        "each storm so that a perf-buffer loss is reported). CPU per event: "
        "the tracer's utime+stime from /proc over the storm and its drain, "
        "divided by the events it wrote. Start-up is timed from the driver's "
        "spawn of the tracer (fork+exec included)." % args.trailing)
    if rounds:
        add("")
        add("Per round (connects/s off → on; reported: written/made, lost, "
            "µs CPU per event; CPU used by other processes on the host "
            "during the storms, filtered off / on, reported off / on, in % "
            "of all CPUs):")
        add("")
        add("| round | filtered off → on | reported off → on | written / made "
            "| lost | µs/event | others' CPU |")
        add("|---|---|---|---|---|---|---|")
        for i, r in enumerate(rounds):
            ro = r["reported_on"]
            add("| %d | %s → %s | %s → %s | %s / %s | %s | %.2f | %s |" %
                (i + 1, fmt_n(r["filtered_off"]["rate"]),
                 fmt_n(r["filtered_on"]["rate"]),
                 fmt_n(r["reported_off"]["rate"]), fmt_n(ro["rate"]),
                 fmt_n(ro["delivered"]), fmt_n(ro["made"]), fmt_n(ro["lost"]),
                 ro.get("cpu_us_per_event", float("nan")),
                 " / ".join("%.0f%%" % r[k]["foreign_pct"] for k in
                            ("filtered_off", "filtered_on", "reported_off",
                             "reported_on"))))
    if frounds:
        extra = frounds[len(rounds):]
        if extra:
            add("")
            add("Filtered-only rounds %d–%d, connects/s off → on (on/off; "
                "others' CPU off / on): %s." %
                (len(rounds) + 1, len(frounds), "; ".join(
                    "%s → %s (%s; %.0f%% / %.0f%%)" %
                    (fmt_n(r["filtered_off"]["rate"]),
                     fmt_n(r["filtered_on"]["rate"]),
                     fmt_pct(r["filtered_on"]["rate"] /
                             r["filtered_off"]["rate"]),
                     r["filtered_off"]["foreign_pct"],
                     r["filtered_on"]["foreign_pct"]) for r in extra)))
        noisy = sum(not r[k]["quiet"] for r in frounds for k in r)
        if noisy:
            add("")
            add("%d of %d phases started on a busy host (other processes "
                "above %g%% of the CPUs, or another tracer/loadgen running, "
                "after waiting %g s): see the others' CPU column." %
                (noisy, sum(len(r) for r in frounds), args.max_busy,
                 args.quiet_wait))
    prof = results.get("profile")
    if prof:
        add("")
        add("Profile of the tracer during a %g s reported storm (perf, "
            "cpu-clock, DWARF call graphs), self time:" %
            args.profile_duration)
        add("")
        add("```")
        lines.extend(prof["self"][:25])
        add("```")
        add("")
        add("Inclusive (children) time:")
        add("")
        add("```")
        lines.extend(prof["children"][:30])
        add("```")
        add("")
        add("Whole host during another reported storm, by command, and the "
            "load generator's own samples (self time, % of its samples):")
        add("")
        add("```")
        lines.extend(prof["by_comm"][:8])
        add("")
        lines.extend(prof["loadgen"][:20])
        add("```")
        fp = prof.get("filtered_probe")
        if fp:
            add("")
            add("Whole host during a %g s filtered storm: the connect probe's "
                "symbols (bench/run.py `PROBE_SYMBOLS`) took %.2f%% of the "
                "load generator's samples: %s." %
                (args.profile_duration, fp["total_pct"],
                 ", ".join("`%s` %.2f%%" % (sym, pct)
                           for pct, sym in fp["rows"][:12]) or "none"))
        fpl = prof.get("filtered_probe_listen")
        if fpl:
            add("")
            add("The same with `tcp_connect` and `net_listen` on (`-c` with "
                "both; the probes' symbols, net_listen's `sock_ops` program "
                "and the kernel's code that runs it included): %.2f%%: %s." %
                (fpl["total_pct"], ", ".join(
                    "`%s` %.2f%%" % (sym, pct)
                    for pct, sym in fpl["rows"][:12]) or "none"))
    return "\n".join(lines)


def source_tree(binary):
    """The source tree a CMake-built binary came from (its build dir's
    CMakeCache.txt), else this script's tree."""
    cache = os.path.join(os.path.dirname(binary), "CMakeCache.txt")
    try:
        with open(cache) as f:
            for line in f:
                if line.startswith("CMAKE_HOME_DIRECTORY:INTERNAL="):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return ROOT


def stale_sources(binary, tree):
    """Sources newer than the binary: then the figures are not those of the
    tree that `git describe` names."""
    built = os.path.getmtime(binary)
    stale = []
    for sub in ("src", "include", "bpf"):
        for dirpath, _dirs, files in os.walk(os.path.join(tree, sub)):
            for name in files:
                path = os.path.join(dirpath, name)
                if os.path.getmtime(path) > built:
                    stale.append(os.path.relpath(path, tree))
    return sorted(stale)


def git_version(tree):
    try:
        return subprocess.run(["git", "-C", tree, "describe", "--always",
                               "--dirty"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL,
                              check=True).stdout.decode().strip()
    except Exception:
        return "unknown"


def main():
    p = argparse.ArgumentParser(
        description="End-to-end benchmark of pidtree-bcc (see bench/README.md)")
    p.add_argument("--binary", default=os.path.join(ROOT, "build-bench",
                                                    "pidtree-bcc"))
    p.add_argument("--loadgen", default=None,
                   help="default: bench/loadgen beside the binary")
    p.add_argument("--rounds", type=int, default=11)
    p.add_argument("--duration", type=float, default=10.0,
                   help="seconds per reported storm")
    p.add_argument("--filtered-duration", type=float, default=3.0,
                   help="seconds per filtered storm")
    p.add_argument("--filtered-rounds", type=int, default=25,
                   help="rounds of filtered storms: the first --rounds "
                        "come with a reported pair, the rest run alone")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--starts", type=int, default=7,
                   help="tracer starts for the start-up time")
    p.add_argument("--churn", type=int, default=20000,
                   help="short-lived processes in the memory phase")
    p.add_argument("--port", type=int, default=5791,
                   help="destination port (closed; below the ephemeral range)")
    p.add_argument("--trailing", type=int, default=4,
                   help="connects per CPU after each storm")
    p.add_argument("--settle", type=float, default=1.0,
                   help="seconds after the ready line before measuring")
    p.add_argument("--idle", type=float, default=2.0,
                   help="seconds of idle CPU measurement before each storm")
    p.add_argument("--tracer-args", default="",
                   help="extra tracer arguments, e.g. '--perf-pages 1024'")
    p.add_argument("--phases",
                   default="throughput,syscalls,startup,memory,listen,udp",
                   help="comma-separated subset of throughput,syscalls,"
                        "startup,memory,listen,udp,containers,soak,flood")
    p.add_argument("--flood-rounds", type=int, default=7,
                   help="rounds of the flood phase")
    p.add_argument("--listen-rounds", type=int, default=11,
                   help="rounds of UDP bind storms (listen phase)")
    p.add_argument("--bind-duration", type=float, default=5.0,
                   help="seconds per bind storm")
    p.add_argument("--udp-rounds", type=int, default=7,
                   help="rounds of each udp_session load (udp phase)")
    p.add_argument("--udp-duration", type=float, default=5.0,
                   help="seconds per udp_session load")
    p.add_argument("--soak-processes", type=int, default=1000000,
                   help="soak phase: short-lived processes in all")
    p.add_argument("--soak-interval-us", type=int, default=500,
                   help="soak phase: microseconds between trickle connects")
    p.add_argument("--container-rounds", type=int, default=7,
                   help="rounds of each load of the containers phase")
    p.add_argument("--container-duration", type=float, default=5.0,
                   help="seconds per load of the containers phase")
    p.add_argument("--container-kinds", default=",".join(CONTAINER_KINDS),
                   help="containers phase: which loads (unmatched, fork, "
                        "spawn, reported)")
    p.add_argument("--baseline-binary", default="",
                   help="containers phase: a tracer to compare reported "
                        "connects against (e.g. one built before the "
                        "enrich stage)")
    p.add_argument("--syscall-seconds", type=float, default=2.0,
                   help="seconds of getppid() per tracer mode and round")
    p.add_argument("--bpf-stats", action="store_true",
                   help="turn kernel.bpf_stats_enabled on for the run and "
                        "record each BPF program's runs and ns per run "
                        "during every tracer-on storm (in the JSON, and "
                        "per program in the containers phase's report)")
    p.add_argument("--profile", action="store_true",
                   help="also profile the tracer under a reported storm")
    p.add_argument("--profile-duration", type=float, default=5.0)
    p.add_argument("--perf-freq", type=int, default=999)
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1 round, 2 s storms, 2 starts, "
                        "1000 processes")
    p.add_argument("--quiet-wait", type=float, default=120,
                   help="seconds a phase waits for a quiet host (see "
                        "--max-busy) before it runs anyway (and is marked)")
    p.add_argument("--tracer-wait", type=float, default=1800,
                   help="seconds a phase waits for another pidtree-bcc or "
                        "loadgen to end before it runs anyway")
    p.add_argument("--max-busy", type=float, default=25,
                   help="%% of all CPUs other processes may use before a "
                        "phase starts")
    p.add_argument("--tracer-output", choices=("pipe", "file"),
                   default="pipe",
                   help="in the storms: a pipe read by bench/sink (default), "
                        "or a file in --workdir-base")
    p.add_argument("--workdir-base", default="/dev/shm",
                   help="where the tracer output goes (tmpfs)")
    p.add_argument("--keep-output", action="store_true")
    p.add_argument("--json", help="also write all raw figures to this file")
    args = p.parse_args()
    if args.bpf_stats:
        knob = "/proc/sys/kernel/bpf_stats_enabled"
        with open(knob) as f:
            before = f.read().strip()

        def restore():
            with open(knob, "w") as f:
                f.write(before)
        with open(knob, "w") as f:
            f.write("1")
        on_exit(restore)
    if args.quick:
        args.rounds, args.duration, args.starts, args.churn = 1, 2.0, 2, 1000
        args.filtered_rounds = 1
        args.filtered_duration = 1.0
        args.settle, args.idle, args.profile_duration = 0.5, 1.0, 2.0
        args.listen_rounds, args.bind_duration = 1, 2.0
        args.udp_rounds, args.udp_duration = 1, 2.0
        args.syscall_seconds = 1.0
    args.binary = os.path.abspath(args.binary)
    if args.loadgen is None:
        args.loadgen = os.path.join(os.path.dirname(args.binary), "bench",
                                    "loadgen")
    # The chain of shells runs loadgen from its own directory.
    args.loadgen = os.path.abspath(args.loadgen)
    args.sink = os.path.join(os.path.dirname(args.loadgen), "sink")
    args.hook_floor = os.path.join(os.path.dirname(args.loadgen),
                                   "hook_floor")
    for path in (args.binary, args.loadgen, args.sink, args.hook_floor):
        if not os.access(path, os.X_OK):
            sys.exit("not found: %s (build first: see bench/README.md)" % path)
    if os.geteuid() != 0:
        sys.exit("run as root (BPF and network namespaces)")
    if not 0 < args.port < 32768:
        sys.exit("--port must be below the ephemeral range")
    phases = set(args.phases.split(","))

    args.workdir = tempfile.mkdtemp(prefix="pidtree-bench-",
                                    dir=args.workdir_base)
    if not args.keep_output:
        on_exit(lambda: shutil.rmtree(args.workdir, ignore_errors=True))
    scratch = tempfile.mkdtemp(prefix="pidtree-bench-tree-")
    on_exit(lambda: shutil.rmtree(scratch, ignore_errors=True))

    tree = source_tree(args.binary)
    stale = stale_sources(args.binary, tree)
    if stale:
        log("WARNING: %s is older than %s: rebuild to measure the tree" %
            (args.binary, ", ".join(stale[:3])))
    results = {"command": " ".join(["bench/run.py"] + sys.argv[1:]),
               "binary": args.binary, "stale_sources": stale,
               "binary_built": datetime.datetime.fromtimestamp(
                   os.path.getmtime(args.binary)).isoformat(timespec="seconds"),
               "date": datetime.date.today().isoformat(),
               "version": git_version(tree), "source_tree": tree,
               "cpus": NCPU,
               "kernel": platform.release(),
               "loadavg_start": open("/proc/loadavg").read().split()[:3]}
    ns = Namespace()
    chain = Chain(scratch)
    log("namespace %s, tracer %s (%s)" % (ns.name, args.binary,
                                          results["version"]))
    # Whatever happens, report what was measured.
    try:
        if "throughput" in phases:
            results["throughput"] = []
            throughput(args, ns, chain, results["throughput"])
        if "syscalls" in phases:
            results["syscalls"] = []
            syscalls(args, ns, results["syscalls"])
        if "startup" in phases:
            results["startup"] = []
            startup(args, ns, results["startup"])
        if "memory" in phases:
            results["memory"] = memory(args, ns, chain)
        if "listen" in phases:
            listen(args, ns, chain, results)
        if "udp" in phases:
            udp(args, ns, chain, results)
        if "containers" in phases:
            containers(args, ns, chain, results)
        if "soak" in phases:
            results["soak"] = soak(args, ns, chain)
        if "flood" in phases:
            flood(args, ns, chain, results)
        if args.profile:
            results["profile"] = profile(args, ns, chain)
    except BaseException as e:
        results["interrupted"] = repr(e)
        raise
    finally:
        results["loadavg_end"] = open("/proc/loadavg").read().split()[:3]
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
        print(report(args, results), flush=True)


if __name__ == "__main__":
    main()
