#!/usr/bin/env python3
"""Runtime tests of container attribution and container_labels, with real
Docker containers: dockerd is started here when none runs (and stopped at
the end), the image is made offline from busybox-static, and every
container runs with --network none, so its connects, listens and UDP sends
go to its own loopback only.

usage: sudo python3 test_containers.py PATH-TO-pidtree-bcc

Docker (docker.io) and busybox-static are installed by scripts/setup.sh.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Tracer  # noqa: E402

BINARY = None  # set by harness.main from argv[1]
DOCKER = "/usr/bin/docker"  # another client may come first in PATH
DOCKERD = "/usr/sbin/dockerd"
IMAGE = "pidtree-test:busybox"
PREFIX = "pidtree-test-"
EVENT_TIMEOUT = 20
_DOCKERD = None  # the daemon this module started, if any
NS = None  # the host processes' namespace


def docker(*args, check=True, timeout=60):
    return subprocess.run([DOCKER] + list(args), check=check, timeout=timeout,
                          capture_output=True, text=True)


def docker_up():
    try:
        return docker("info", check=False, timeout=10).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def start_dockerd():
    global _DOCKERD
    if docker_up():
        return
    for path in (DOCKER, DOCKERD):
        if not os.access(path, os.X_OK):
            raise AssertionError(
                "%s is missing: scripts/setup.sh installs docker.io" % path)
    log = os.path.join(harness.tmpdir(), "dockerd.log")
    with open(log, "w") as out:
        _DOCKERD = subprocess.Popen(
            [DOCKERD, "--iptables=false", "--ip6tables=false",
             "--bridge=none", "--ip-forward=false", "--ip-masq=false",
             "--exec-opt", "native.cgroupdriver=cgroupfs"],
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if docker_up():
            return
        if _DOCKERD.poll() is not None:
            break
        time.sleep(0.3)
    raise AssertionError("dockerd did not start; see %s" % log)


def stop_dockerd():
    global _DOCKERD
    if _DOCKERD is None:
        return
    _DOCKERD.terminate()
    try:
        _DOCKERD.wait(30)
    except subprocess.TimeoutExpired:
        _DOCKERD.kill()
        _DOCKERD.wait()
    _DOCKERD = None


def build_image():
    if docker("image", "inspect", IMAGE, check=False).returncode == 0:
        return
    busybox = shutil.which("busybox") or "/bin/busybox"
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "rootfs")
        for d in ("bin", "etc", "proc", "sys", "dev", "tmp"):
            os.makedirs(os.path.join(root, d))
        shutil.copy(busybox, os.path.join(root, "bin", "busybox"))
        applets = subprocess.run([busybox, "--list"], check=True,
                                 capture_output=True, text=True).stdout
        for a in applets.split():
            if a != "busybox":
                os.symlink("busybox", os.path.join(root, "bin", a))
        with open(os.path.join(root, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\n")
        tar = os.path.join(tmp, "rootfs.tar")
        subprocess.run(["tar", "-C", root, "-cf", tar, "."], check=True)
        docker("import", tar, IMAGE)


def remove_test_containers():
    ids = docker("ps", "-aq", "--filter", "name=" + PREFIX,
                 check=False).stdout.split()
    if ids:
        docker("rm", "-f", *ids, check=False)


def setUpModule():
    global NS
    NS = harness.module_netns()
    start_dockerd()
    build_image()
    remove_test_containers()


def tearDownModule():
    remove_test_containers()
    stop_dockerd()
    harness.end_module(NS)


# What each container does, on its own loopback: a TCP listen on PORT, a
# connect to it, and a DNS query over UDP to 127.0.0.1:53 (busybox's nc has
# no UDP; nslookup sends its query and hears "port unreachable" at once).
SCRIPT = ("sleep {delay}; nc -l -p {port} >/dev/null & sleep 0.3; "
          "nc 127.0.0.1 {port} </dev/null; "
          "nslookup -timeout=1 -retry=1 example.test 127.0.0.1 >/dev/null "
          "2>&1; sleep 0.5; kill $! 2>/dev/null; true")


def run_container(name, labels=(), port=8080, delay=0.2, detach=False):
    args = ["run", "--rm", "--network", "none", "--name", PREFIX + name]
    for label in labels:
        args += ["--label", label]
    if detach:
        args.insert(1, "-d")
    args += [IMAGE, "sh", "-c", SCRIPT.format(port=port, delay=delay)]
    return docker(*args, timeout=60)


def write_config(name, text):
    path = os.path.join(harness.tmpdir(), "ct-%s.yaml" % name)
    with open(path, "w") as f:
        f.write(text)
    return path


CONFIG_ALL = """\
tcp_connect:
  filters: []
net_listen:
  protocols: [tcp, udp]
udp_session:
  session_max_duration: 2
"""


class ContainerCase(unittest.TestCase):
    def start_tracer(self, config):
        t = Tracer(BINARY, ["-c", config])
        self.addCleanup(t.kill)
        t.wait_ready()
        return t

    def container_id(self, name):
        out = docker("inspect", "--format", "{{.Id}}", PREFIX + name,
                     check=False)
        return out.stdout.strip()

    def of_container(self, tracer, name, probe, count=1, pred=None):
        return tracer.wait_events(
            lambda r: r.get("container_name") == PREFIX + name and
            (pred is None or pred(r)), count, EVENT_TIMEOUT, probe=probe)


class TestAttribution(ContainerCase):
    def test_every_probe_names_the_container_and_host_events_none(self):
        t = self.start_tracer(write_config("all", CONFIG_ALL))
        # Detached, so its id can be read while it runs.
        cid = run_container("attr", labels=["team=payments", "tier=web"],
                            port=8081, delay=1, detach=True).stdout.strip()
        self.assertRegex(cid, "^[0-9a-f]{64}$")
        conn, = self.of_container(t, "attr", "tcp_connect",
                                  pred=lambda r: r["port"] == 8081)
        lis, = self.of_container(t, "attr", "net_listen",
                                 pred=lambda r: r["port"] == 8081)
        udp = self.of_container(
            t, "attr", "udp_session",
            pred=lambda r: any(d["port"] == 53 for d in r["destinations"]))
        for ev in (conn, lis, udp[0]):
            where = "\nline: %r" % (ev,)
            self.assertEqual(ev["container_id"], cid, where)
            self.assertEqual(ev["container_runtime"], "docker", where)
            self.assertEqual(ev["container_image"], IMAGE, where)
            self.assertEqual(ev["container_labels"],
                             {"team": "payments", "tier": "web"}, where)
        self.assertEqual(conn["daddr"], "127.0.0.1")
        self.assertEqual(conn["proctree"][0]["cmdline"],
                         "nc 127.0.0.1 8081")
        # A host process: none of the container fields.
        _, h = harness.run_helper(NS, [(harness.V4_REPORTED, 9)])
        host = t.wait_events(lambda r: r["pid"] == h["pid"], 1,
                             EVENT_TIMEOUT)
        for key in ("container_name", "container_id", "container_runtime",
                    "container_image", "container_labels"):
            self.assertNotIn(key, host[0])

    def test_containers_gone_before_their_events_are_read(self):
        """A container that connects once and exits at once: its cgroup is
        gone by the time its event is handled; it is known from the
        kernel's record of the cgroup's creation."""
        t = self.start_tracer(write_config("brief", CONFIG_ALL))
        for i in range(5):
            run_container("brief%d" % i, labels=["run=%d" % i],
                          port=8100 + i, delay=0)
        for i in range(5):
            ev, = self.of_container(t, "brief%d" % i, "tcp_connect",
                                    pred=lambda r, p=8100 + i: r["port"] == p)
            self.assertEqual(ev["container_labels"], {"run": str(i)})

    def test_a_container_older_than_the_tracer(self):
        run_container("old", labels=["team=old"], port=8082, delay=4,
                      detach=True)
        t = self.start_tracer(write_config("old", CONFIG_ALL))
        ev, = self.of_container(t, "old", "tcp_connect",
                                pred=lambda r: r["port"] == 8082)
        self.assertEqual(ev["container_labels"], {"team": "old"})


class TestContainerLabels(ContainerCase):
    """upstream's semantics: each entry an AND of KEY=GLOB, entries OR'ed;
    containers without labels and host processes are not reported."""

    def test_match_glob_and_or_partial_none_and_host(self):
        t = self.start_tracer(write_config("labels", """\
tcp_connect:
  filters: []
  container_labels:
    - team=pay*
    - env=prod,tier=web
net_listen:
  protocols: [tcp]
  container_labels: [team=payments]
udp_session:
  container_labels: [team=payments]
"""))
        cases = {
            "glob": (["team=payments"], 8090, True),
            "and": (["env=prod", "tier=web", "x=y"], 8091, True),
            "partial": (["env=prod"], 8092, False),
            "other": (["team=search"], 8093, False),
            "nolabels": ([], 8094, False),
        }
        for name, (labels, port, _) in cases.items():
            run_container(name, labels=labels, port=port, delay=0.2)
        _, h = harness.run_helper(NS, [(harness.V4_REPORTED, 9)])
        for name, (labels, port, want) in cases.items():
            if want:
                self.of_container(t, name, "tcp_connect",
                                  pred=lambda r, p=port: r["port"] == p)
        # Everything is in; none of the others came, on any probe.
        time.sleep(1.5)
        got = {r.get("container_name") for r in t.events()}
        self.assertEqual(got, {PREFIX + "glob", PREFIX + "and"},
                         t.describe())
        self.assertEqual(t.events(lambda r: r["pid"] == h["pid"]), [])
        listens = {r.get("container_name")
                   for r in t.events(probe="net_listen")}
        self.assertEqual(listens, {PREFIX + "glob"})
        self.of_container(t, "glob", "udp_session")
        sessions = {r.get("container_name")
                    for r in t.events(probe="udp_session")}
        self.assertEqual(sessions, {PREFIX + "glob"})

    def test_the_kernel_has_every_cgroup_decided(self):
        """Unmatched events never reach user space: each cgroup the tracer
        found at its start is in its container_reports map, with the
        probe's bit only for the matching container's."""
        ids = {}
        for name, label in (("kmatch", "team=payments"),
                            ("kother", "team=search")):
            ids[name] = docker(
                "run", "-d", "--rm", "--network", "none", "--label", label,
                "--name", PREFIX + name, IMAGE, "sleep", "30").stdout.strip()
            self.addCleanup(docker, "rm", "-f", PREFIX + name, check=False)
        t = self.start_tracer(write_config("kernel", """\
tcp_connect:
  container_labels: [team=pay*]
"""))
        root = cgroup_root()
        inodes = {name: os.stat(os.path.join(root, "docker", cid)).st_ino
                  for name, cid in ids.items()}
        reports = {}
        for m in harness.bpftool_json("map", "show"):
            if m.get("name") == "container_repor" and m.get(
                    "pids", [{}])[0].get("pid", t.pid) == t.pid:
                for e in harness.bpftool_json("map", "dump", "id",
                                              str(m["id"])):
                    key = int.from_bytes(bytes(int(x, 16) for x in e["key"]),
                                         "little")
                    reports[key] = int.from_bytes(
                        bytes(int(x, 16) for x in e["value"]), "little")
        decided, tcp_bit = 0x80, 1 << 0
        self.assertEqual(reports.get(inodes["kmatch"], 0) & (decided | tcp_bit),
                         decided | tcp_bit, reports)
        self.assertEqual(reports.get(inodes["kother"], 0) & (decided | tcp_bit),
                         decided, reports)
        self.assertEqual(reports.get(1, 0) & (decided | tcp_bit), decided,
                         reports)  # the root cgroup: host processes


def cgroup_root():
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] == "cgroup2" and fields[3] == "/":
                return fields[4]
    raise AssertionError("no cgroup2 mount")


if __name__ == "__main__":
    harness.main(globals(), needs_root=True)
