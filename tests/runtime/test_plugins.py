#!/usr/bin/env python3
"""Runtime tests of upstream's plugins: sourceipmap (host files merged,
changed and removed while the tracer runs) and loginuidmap (the audit
login uid on the tree, read in the kernel), their start-up errors and
unload_on_init_exception.

usage: sudo python3 test_plugins.py PATH-TO-pidtree-bcc

Traffic rule: connects go to an address of the test's own namespace, on a
closed port.
"""
import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import V4_REPORTED, Helper, Tracer  # noqa: E402

BINARY = None  # set by harness.main from argv[1]
NS = None
PORTS = harness.Ports(45000, 46000)
EVENT_TIMEOUT = 15


def setUpModule():
    global NS
    NS = harness.module_netns()


def tearDownModule():
    harness.end_module(NS)


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)
    return path


def tmp(name):
    return os.path.join(harness.tmpdir(), name)


class PluginCase(unittest.TestCase):
    def start(self, config_text, name):
        config = write(tmp("pl-%s.yaml" % name), config_text)
        t = Tracer(BINARY, ["-c", config])
        self.addCleanup(t.kill)
        t.wait_ready()
        return t

    def connect(self, tracer, **kw):
        port = PORTS.next()
        _, result = harness.run_helper(NS, [(V4_REPORTED, port)], **kw)
        ev, = tracer.wait_events(lambda r: r["port"] == port, 1,
                                 EVENT_TIMEOUT)
        return ev, result

    def refused(self, config_text, name):
        config = write(tmp("pl-%s.yaml" % name), config_text)
        t = Tracer(BINARY, ["-c", config])
        self.addCleanup(t.kill)
        rc = t.wait_exit(30)
        return rc, "\n".join(t.stderr_lines)


class TestSourceIpMap(PluginCase):
    def test_merged_files_changes_and_a_file_that_goes(self):
        first = write(tmp("hosts-a"), "# ours\n%s web01 web01.example  "
                      "# a comment\nnot-an-address x\n" % V4_REPORTED)
        second = write(tmp("hosts-b"), "%s later-wins\n" % V4_REPORTED)
        t = self.start("""\
tcp_connect:
  plugins:
    sourceipmap:
      hostfiles: [%s, %s]
      attribute_key: src_name
""" % (first, second), "sourceipmap")
        ev, _ = self.connect(t)
        self.assertEqual(ev["saddr"], V4_REPORTED)
        self.assertEqual(ev["src_name"], "later-wins")  # the later file wins
        self.assertNotIn("source_host", ev)
        # A change is used within a second.
        write(second, "192.0.2.1 elsewhere\n")
        deadline = time.monotonic() + 3
        while True:
            ev, _ = self.connect(t)
            if ev["src_name"] != "later-wins" or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertEqual(ev["src_name"], "web01 web01.example")
        # A file that goes keeps its last map, with a note.
        os.unlink(first)
        deadline = time.monotonic() + 3
        while not any("is gone" in line for line in t.stderr_lines):
            self.assertLess(time.monotonic(), deadline, t.stderr_lines)
            time.sleep(0.1)
        ev, _ = self.connect(t)
        self.assertEqual(ev["src_name"], "web01 web01.example")

    def test_an_unmapped_source_is_empty(self):
        hosts = write(tmp("hosts-c"), "192.0.2.1 other\n")
        t = self.start("""\
tcp_connect:
  plugins:
    sourceipmap:
      hostfiles: [%s]
""" % hosts, "unmapped")
        ev, _ = self.connect(t)
        self.assertEqual(ev["source_host"], "")

    def test_a_missing_file_stops_the_start_unless_unloaded(self):
        missing = tmp("no-such-hosts")
        text = """\
tcp_connect:
  plugins:
    sourceipmap:
      hostfiles: [%s]
%s"""
        rc, err = self.refused(text % (missing, ""), "missing")
        self.assertEqual(rc, 2, err)
        self.assertRegex(
            err, r"pidtree-bcc: error: .*pl-missing\.yaml:4:\d+: "
            r"tcp_connect\.plugins\.sourceipmap: cannot read host file '%s': "
            r"No such file or directory" % missing)
        t = self.start(text % (missing,
                               "      unload_on_init_exception: true\n"),
                       "unloaded")
        self.assertTrue(any("plugin unloaded (unload_on_init_exception)" in
                            line for line in t.stderr_lines), t.stderr_lines)
        ev, _ = self.connect(t)
        self.assertNotIn("source_host", ev)

    def test_a_plugin_on_a_probe_it_does_not_serve(self):
        rc, err = self.refused("""\
net_listen:
  plugins:
    sourceipmap:
      hostfiles: [/etc/hosts]
""", "unsupported")
        self.assertEqual(rc, 2, err)
        self.assertIn("plugin sourceipmap does not support probe net_listen",
                      err)


# Sets the login uid (as pam_loginuid does at a login), then becomes the
# helper: its tree has it from its exec on, in the kernel's records.
def with_loginuid(uid):
    return lambda argv: ["sh", "-c",
                         'echo %d > /proc/self/loginuid && exec "$@"' % uid,
                         "sh"] + argv


class TestLoginUidMap(PluginCase):
    def test_login_uid_on_every_node_below_pid_1(self):
        t = self.start("""\
tcp_connect:
  plugins:
    loginuidmap: {}
""", "loginuid")
        ev, result = self.connect(t, command=with_loginuid(65534))
        tree = ev["proctree"]
        self.assertEqual(tree[0]["pid"], result["pid"])
        self.assertEqual(tree[0]["loginuid"], 65534, ev)
        self.assertEqual(tree[0]["loginname"], "nobody", ev)
        # The test itself has no login uid: neither field.
        self.assertEqual(tree[1]["pid"], os.getpid())
        self.assertNotIn("loginuid", tree[1])
        self.assertNotIn("loginuid", tree[-1])
        self.assertEqual(tree[-1]["pid"], 1)

    def test_top_level_only_and_a_helper_gone_at_once(self):
        t = self.start("""\
tcp_connect:
  plugins:
    loginuidmap:
      top_level: true
""", "toplevel")
        # The helper exits right after its connect: its login uid comes
        # from the kernel's records, not from /proc.
        ev, result = self.connect(t, command=lambda argv: [
            "sh", "-c", 'echo 65534 > /proc/self/loginuid && '
            'sh -c \'exec "$@"\' sh "$@"; true', "sh"] + argv)
        tree = ev["proctree"]
        self.assertEqual(tree[0]["pid"], result["pid"])
        self.assertEqual(tree[0]["loginuid"], 65534, ev)
        # Its parent shell has the same login uid, but top_level shows only
        # the event's own node.
        self.assertEqual(tree[1]["cmdline"][:5], "sh -c")
        self.assertNotIn("loginuid", tree[1])


if __name__ == "__main__":
    harness.main(globals(), needs_root=True)
