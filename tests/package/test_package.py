#!/usr/bin/env python3
"""The Debian package (issue 16): built with CPack from the build
directory, installed with dpkg -i, its unit checked with systemd-analyze
verify, its binary run as the unit runs it (the unit's ExecStart, under its
CapabilityBoundingSet and NoNewPrivileges, emulated with setpriv: no
systemd runs here) and against runtime test cases, then removed and purged.

usage: sudo python3 test_package.py PATH-TO-build/pidtree-bcc

Traffic rule: connects go to a closed port on an address of this test's
own network namespace (harness.NetNs).
"""
import glob
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "runtime"))
import harness  # noqa: E402
from harness import V4_REPORTED, Helper  # noqa: E402

BINARY = None
NS = None
UNIT = "/usr/lib/systemd/system/pidtree-bcc.service"
LOG = "/var/log/pidtree-bcc/events.jsonl"
INSTALLED = ["/usr/sbin/pidtree-bcc", "/etc/pidtree-bcc/config.yml",
             "/etc/logrotate.d/pidtree-bcc", UNIT,
             "/usr/share/man/man8/pidtree-bcc.8",
             "/usr/lib/pidtree-bcc/kernel-headers.sh",
             "/usr/share/doc/pidtree-bcc/README.md",
             "/usr/share/doc/pidtree-bcc/docs/flags.md",
             "/usr/share/doc/pidtree-bcc/docs/troubleshooting.md"]


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=600,
                          **kw)


def unit_values(path, key):
    with open(path) as f:
        return [line.split("=", 1)[1].strip() for line in f
                if line.startswith(key + "=")]


def purge():
    run(["dpkg", "--purge", "pidtree-bcc"])


class TestPackage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        global NS
        build = os.path.dirname(BINARY)
        cls.out = tempfile.mkdtemp(prefix="pidtree-pkg-")
        p = run(["cpack", "-G", "DEB", "--config",
                 os.path.join(build, "CPackConfig.cmake"), "-B", cls.out])
        if p.returncode != 0:
            raise AssertionError("cpack failed:\n" + p.stdout + p.stderr)
        [cls.deb] = glob.glob(os.path.join(cls.out, "*.deb"))
        purge()  # a package left by an earlier run
        p = run(["dpkg", "-i", cls.deb])
        if p.returncode != 0:
            purge()
            raise AssertionError("dpkg -i failed:\n" + p.stdout + p.stderr)
        NS = harness.module_netns()

    @classmethod
    def tearDownClass(cls):
        harness.end_module(NS)
        purge()
        shutil.rmtree(cls.out, ignore_errors=True)

    def test_contents_and_control(self):
        p = run(["dpkg-deb", "--field", self.deb, "Package", "Depends"])
        self.assertIn("Package: pidtree-bcc", p.stdout)
        self.assertIn("libbpfcc", p.stdout)
        self.assertIn("linux-headers-", p.stdout)
        for path in INSTALLED:
            self.assertTrue(os.path.exists(path), path)
        with open("/var/lib/dpkg/info/pidtree-bcc.conffiles") as f:
            self.assertEqual(sorted(f.read().split()),
                             ["/etc/logrotate.d/pidtree-bcc",
                              "/etc/pidtree-bcc/config.yml"])
        p = run(["/usr/sbin/pidtree-bcc", "--version"])
        self.assertEqual(p.returncode, 0)
        p = run(["man", "-l", "/usr/share/man/man8/pidtree-bcc.8"],
                env=dict(os.environ, MANWIDTH="80"))
        self.assertIn("pidtree-bcc", p.stdout)

    def test_unit_verifies(self):
        p = run(["systemd-analyze", "verify", UNIT])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(p.stderr.strip(), "", p.stderr)

    def test_logrotate_file_parses(self):
        """logrotate's own check of the file (-d: nothing is rotated)."""
        p = run(["logrotate", "-d", "/etc/logrotate.d/pidtree-bcc"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertNotIn("error", (p.stdout + p.stderr).lower())

    def test_runs_as_the_unit_runs_it(self):
        """The unit's ExecStart, with the capabilities of its
        CapabilityBoundingSet only and no_new_privs: the configuration
        shipped is loaded, a connect is written to the log file, the stats
        line comes, SIGHUP reloads, SIGTERM ends it with 0."""
        [start] = unit_values(UNIT, "ExecStart")
        [caps] = unit_values(UNIT, "CapabilityBoundingSet")
        self.assertEqual(unit_values(UNIT, "NoNewPrivileges"), ["yes"])
        argv = shlex.split(start)
        # Stats every second rather than every minute, to see one here.
        i = argv.index("--stats-interval")
        argv[i + 1] = "1"
        bounding = ",".join(["-all"] + ["+" + c[4:].lower()
                                        for c in caps.split()])
        os.makedirs(os.path.dirname(LOG), mode=0o700, exist_ok=True)
        if os.path.exists(LOG):
            os.unlink(LOG)
        tracer = subprocess.Popen(
            ["setpriv", "--bounding-set", bounding, "--inh-caps", "-all",
             "--no-new-privs"] + argv,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True)
        def end():
            if tracer.poll() is None:
                tracer.kill()
                tracer.wait()
            tracer.stderr.close()
        self.addCleanup(end)
        # BCC may say things first (e.g. that AF_ALG is missing).
        seen = []
        for _ in range(20):
            seen.append(tracer.stderr.readline())
            if "pidtree-bcc: tracing" in seen[-1] or not seen[-1]:
                break
        self.assertIn("pidtree-bcc: tracing", seen[-1], seen)
        port = 33333
        h = Helper(NS, [(V4_REPORTED, port)])
        self.addCleanup(h.release)
        h.wait_result(60)

        def lines():
            if not os.path.exists(LOG):
                return []
            with open(LOG) as f:
                return [json.loads(l) for l in f if l.strip()]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = lines()
            mine = [r for r in got if r.get("pid") == h.pid]
            stats = [r for r in got if r.get("type") == "stats"]
            if mine and stats:
                break
            time.sleep(0.2)
        self.assertEqual(len(mine), 1, got[-5:])
        self.assertEqual(mine[0]["daddr"], V4_REPORTED)
        self.assertEqual(mine[0]["source_host"], "")  # sourceipmap is on
        self.assertTrue(stats)
        self.assertEqual(os.stat(LOG).st_mode & 0o777, 0o600)
        tracer.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not [
                r for r in lines() if r.get("type") == "config_reload"]:
            time.sleep(0.2)
        [reload] = [r for r in lines() if r.get("type") == "config_reload"]
        self.assertEqual(reload["status"], "applied", reload)
        tracer.send_signal(signal.SIGTERM)
        self.assertEqual(tracer.wait(30), 0, tracer.stderr.read())

    def test_runtime_cases_with_the_installed_binary(self):
        p = run([sys.executable,
                 os.path.join(os.path.dirname(HERE), "runtime",
                              "test_runtime.py"),
                 "/usr/sbin/pidtree-bcc", "TestEventFields", "TestFilters"])
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])

    def test_zz_remove_keeps_conffiles_and_purge_removes_them(self):
        p = run(["dpkg", "-r", "pidtree-bcc"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertFalse(os.path.exists("/usr/sbin/pidtree-bcc"))
        self.assertFalse(os.path.exists(UNIT))
        self.assertTrue(os.path.exists("/etc/pidtree-bcc/config.yml"))
        p = run(["dpkg", "--purge", "pidtree-bcc"])
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        for path in INSTALLED + ["/var/log/pidtree-bcc"]:
            self.assertFalse(os.path.exists(path), path)



if __name__ == "__main__":
    harness.main(globals(), needs_root=True)
