#!/usr/bin/env python3
"""Command-line tests of pidtree-bcc that need neither root nor BPF.

usage: python3 test_cli.py PATH-TO-pidtree-bcc
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conf_server  # noqa: E402
import harness  # noqa: E402

BINARY = None  # set by harness.main from argv[1]

ERROR_PREFIX = "pidtree-bcc: error: "


def run(args, timeout=30, prefix=()):
    """Runs the binary; returns (rc, stdout bytes, stderr text)."""
    p = subprocess.run(list(prefix) + [BINARY] + list(args),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=timeout)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def printable(value):
    """How the binary echoes a value: control bytes as \\xNN."""
    return re.sub(r"[\x00-\x1f\x7f]",
                  lambda m: "\\x%02x" % ord(m.group(0)), value)


# (arguments, text the single error line must contain). Each is run with -p
# appended too, so that a parser that lets the bad value through would print
# the program (exit 0) instead of failing.
BAD_INPUTS = [
    (["--filter", "300.1.1.1/8"], "300.1.1.1/8"),
    (["--filter", "10.1.0.0/8"], "10.1.0.0/8"),          # host bits set
    (["--filter", "2001:db8::1/32"], "2001:db8::1/32"),  # host bits set
    (["--filter", "::1/129"], "::1/129"),
    (["--filter", "10.0.0.0/-1"], "10.0.0.0/-1"),
    (["--filter", 'x;system("id")'], 'x;system("id")'),
    (["--filter", "10.0.0.0/8\nfoo"], printable("10.0.0.0/8\nfoo")),
    (["--filter", "1.2.3.0/24\x1b[31m"], printable("1.2.3.0/24\x1b[31m")),
    (["--filter", "1" * 300], "1" * 100),
    (["--include-ports", "70000"], "70000"),
    (["--include-ports", "90-80"], "90-80"),
    (["--include-ports", "80,"], "80,"),
    (["--include-ports", "\x1b[31m"], printable("\x1b[31m")),
    (["--exclude-ports", ""], "''"),
    (["--exclude-ports", "22;reboot"], "22;reboot"),
    (["--include-ports", "80", "--exclude-ports", "22"], "--exclude-ports"),
    (["--backend", "foo"], "foo"),
    (["--backend", ""], "''"),
    (["--perf-pages", "3"], "3"),
    (["--perf-pages", "0"], "0"),
    (["--perf-pages", "131072"], "131072"),
    (["--perf-pages", "abc"], "abc"),
    (["--output-file", ""], "--output-file"),
    (["--remote-include-interval", "0"], "--remote-include-interval"),
    (["--remote-include-interval", "1h"], "--remote-include-interval"),
    (["--remote-include-timeout", "301"], "--remote-include-timeout"),
    (["--remote-include-ca", ""], "--remote-include-ca"),
    (["--bogus"], "--bogus"),
    (["--probes", "tcp_connect,bogus"], "unknown probe 'bogus'"),
    (["--probes", ""], "unknown probe ''"),
    (["--probes", "tcp_connect,"], "unknown probe ''"),
    (["--probes", "udp_session,bogus"], "unknown probe 'bogus'"),
    (["--probes", "net_listen\x1b[31m"], printable("net_listen\x1b[31m")),
    (["--probes", "net_listen", "-c", "/nonexistent.yaml"],
     "--probes cannot be combined with --config"),
]

HELP_FLAGS = ["-h", "--help", "-v", "--version", "--backend", "--filter",
              "--no-default-filters", "--include-ports", "--exclude-ports",
              "-f", "--output-file", "-p", "--print-and-quit", "--perf-pages",
              "--probes"]


class TestHelpAndVersion(unittest.TestCase):
    def test_help_mentions_every_flag(self):
        for flag in ("--help", "-h"):
            rc, out, err = run([flag])
            text = out.decode()
            self.assertEqual(rc, 0, err)
            self.assertEqual(err, "")
            for f in HELP_FLAGS:
                self.assertRegex(text, r"(^|[\s,])%s\b" % re.escape(f),
                                 "%s not in %s output:\n%s" % (f, flag, text))
            for word in ("auto", "kprobe", "tracepoint", "CIDR", "net_listen",
                         "udp_session", "tcp_connect: do not report"):
                self.assertIn(word, text)

    def test_version(self):
        for flag in ("-v", "--version"):
            rc, out, err = run([flag])
            self.assertEqual(rc, 0, err)
            self.assertRegex(out.decode(), r"^pidtree-bcc \d+\.\d+\.\d+\S*\n$")
            self.assertEqual(err, "")


REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
FLAG = re.compile(r"(?<![\w-])(--[a-z][a-z-]*[a-z]|-[a-zA-Z])(?![\w-])")


def help_flags(text):
    """The flags --help lists: the first column of its option lines."""
    flags = set()
    for line in text.splitlines():
        m = re.match(r"^\s+(-\S.*?)(\s{2,}|$)", line)
        if m:
            flags.update(FLAG.findall(m.group(1)))
    return flags


def man_flags(text):
    """The flags the man page's OPTIONS section names in its .TP tags."""
    section = text.split(".SH OPTIONS", 1)[1].split("\n.SH ", 1)[0]
    lines = section.splitlines()
    tags = [lines[i + 1] for i, line in enumerate(lines[:-1])
            if line.strip() == ".TP"]
    flags = set()
    for tag in tags:
        plain = re.sub(r"\\f[BIRP]", "", tag).replace("\\-", "-")
        flags.update(FLAG.findall(plain))
    return flags


def docs_flags(text):
    """The flags docs/flags.md's table names in its first column."""
    flags = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            flags.update(FLAG.findall(line.split(" | ", 1)[0]))
    return flags


class TestFlagListsAgree(unittest.TestCase):
    """--help, the man page (packaging/pidtree-bcc.8) and docs/flags.md
    name the same flags: adding one to the binary without the others, or
    the other way round, fails here."""

    def test_help_man_page_and_docs_name_the_same_flags(self):
        rc, out, err = run(["--help"])
        self.assertEqual(rc, 0, err)
        in_help = help_flags(out.decode())
        self.assertIn("--format", in_help)
        self.assertIn("-c", in_help)
        self.assertGreater(len(in_help), 20, sorted(in_help))
        with open(os.path.join(REPO, "packaging", "pidtree-bcc.8")) as f:
            in_man = man_flags(f.read())
        with open(os.path.join(REPO, "docs", "flags.md")) as f:
            in_docs = docs_flags(f.read())
        self.assertEqual(sorted(in_help - in_man), [], "in --help, not in "
                         "the man page")
        self.assertEqual(sorted(in_man - in_help), [], "in the man page, not "
                         "in --help")
        self.assertEqual(sorted(in_help - in_docs), [], "in --help, not in "
                         "docs/flags.md")
        self.assertEqual(sorted(in_docs - in_help), [], "in docs/flags.md, "
                         "not in --help")

    def test_the_comparison_sees_a_missing_flag(self):
        man = (".SH OPTIONS\n.TP\n.BI \\-c \" FILE\" \"\\fR, \\fP\\-\\-config"
               " \" FILE\nText \\-\\-not\\-a\\-tag.\n.TP\n.B \\-\\-x\\-y\n"
               ".SH SIGNALS\n.TP\n.B \\-\\-signal\n")
        self.assertEqual(man_flags(man), {"-c", "--config", "--x-y"})
        helptext = ("Options:\n  -h,--help   Print\n  --a-b N     "
                    "see --c-d\n")
        self.assertEqual(help_flags(helptext), {"-h", "--help", "--a-b"})
        docs = "| `-w, --watch-config` | see `--other` |\n| x | y |\n"
        self.assertEqual(docs_flags(docs), {"-w", "--watch-config"})


class TestRemoteIncludes(unittest.TestCase):
    """!include http(s):// fetched at start (-p loads the file and needs
    no root) from a server on loopback: what is accepted and each way a
    fetch fails, one line and exit status 2."""

    NETS = ("- subnet_name: docs\n  network: 198.51.100.0\n"
            "  network_mask: 255.255.255.0\n")

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="pidtree-remote-")
        cls.cert = conf_server.make_certificate(cls.dir)
        cls.http = conf_server.ConfServer()
        cls.https = conf_server.ConfServer(cls.cert)

    @classmethod
    def tearDownClass(cls):
        cls.http.close()
        cls.https.close()
        shutil.rmtree(cls.dir, True)

    def main_file(self, url, key="filters"):
        path = os.path.join(self.dir, "main.yml")
        with open(path, "w") as f:
            f.write("tcp_connect:\n  %s: !include %s\n" % (key, url))
        return path

    def load(self, url, *flags, key="filters"):
        return run(["-c", self.main_file(url, key), "-p"] + list(flags))

    def assert_refused(self, result, text):
        rc, out, err = result
        self.assertEqual(rc, 2, err)
        self.assertEqual(out, b"")
        self.assertEqual(len(err.splitlines()), 1, err)
        self.assertTrue(err.startswith(ERROR_PREFIX), err)
        self.assertIn(text, err)

    def test_http_and_https_with_its_authority(self):
        self.http.set("/nets.yml", self.NETS)
        rc, out, err = self.load(self.http.url("/nets.yml"))
        self.assertEqual(rc, 0, err)
        self.assertIn(b"BPF", out)
        self.https.set("/nets.yml", self.NETS)
        rc, out, err = self.load(self.https.url("/nets.yml"),
                                 "--remote-include-ca", self.cert[0])
        self.assertEqual(rc, 0, err)
        # A remote file's relative include is beside its URL.
        self.http.set("/fleet/ports.yml", "!include more/ports.yml\n")
        self.http.set("/fleet/more/ports.yml", "[22, 8000-9000]\n")
        rc, out, err = self.load(self.http.url("/fleet/ports.yml"),
                                 key="excludeports")
        self.assertEqual(rc, 0, err)
        self.assertEqual(self.http.count("/fleet/more/ports.yml"), 1)

    def test_an_unknown_authority_is_refused(self):
        self.https.set("/nets.yml", self.NETS)
        url = self.https.url("/nets.yml")
        self.assert_refused(self.load(url),
                            "main.yml:2:12: !include: cannot fetch '%s': "
                            "SSL certificate problem" % url)

    def test_https_is_not_redirected_to_http(self):
        self.http.set("/plain.yml", self.NETS)
        self.https.set("/moved.yml", "", status=302,
                       location=self.http.url("/plain.yml"))
        self.assert_refused(
            self.load(self.https.url("/moved.yml"), "--remote-include-ca",
                      self.cert[0]),
            "cannot fetch '%s'" % self.https.url("/moved.yml"))
        # The scheme in capitals is https too.
        upper = self.https.url("/moved.yml").replace("https://", "HTTPS://")
        self.assert_refused(
            self.load(upper, "--remote-include-ca", self.cert[0]),
            "cannot fetch '%s'" % upper)
        self.assertEqual(self.http.count("/plain.yml"), 0)

    def test_a_status_a_timeout_a_size_and_bad_yaml(self):
        url = self.http.url("/missing.yml")
        self.assert_refused(self.load(url), "cannot fetch '%s': The "
                            "requested URL returned error: 404" % url)
        self.http.set("/slow.yml", self.NETS, delay=4)
        start = time.monotonic()
        self.assert_refused(
            self.load(self.http.url("/slow.yml"), "--remote-include-timeout",
                      "1"), "timed out")
        self.assertLess(time.monotonic() - start, 3.5)
        self.http.set("/huge.yml", "# " + "x" * (5 << 20) + "\n")
        self.assert_refused(self.load(self.http.url("/huge.yml")),
                            "larger than 4 MiB")
        self.http.set("/bad.yml", "- subnet_name: a\n  network: 300.1.1.1"
                      "\n")
        self.assert_refused(self.load(self.http.url("/bad.yml")),
                            "%s:2:12: tcp_connect.filters[0]: network_mask is missing"
                            % self.http.url("/bad.yml"))
        self.http.set("/local.yml", "!include /etc/passwd\n")
        self.assert_refused(self.load(self.http.url("/local.yml")),
                            "a remote file may include only URLs")
        self.assert_refused(self.load("ftp://127.0.0.1/x.yml"),
                            "only http:// and https:// includes")


class TestPrintProgram(unittest.TestCase):
    def program(self, *args):
        rc, out, err = run(["-p"] + list(args))
        self.assertEqual(rc, 0, "pidtree-bcc -p %s failed: %s" % (args, err))
        self.assertEqual(err, "", "-p wrote to stderr")
        return out.decode()

    def assert_only_numbers_differ(self, base_lines, text, needles):
        """`text` holds none of `needles`, and differs from the program of
        `base_lines` only in numeric #defines."""
        for needle in needles:
            self.assertNotIn(needle, text)
        lines = text.splitlines()
        self.assertEqual(len(lines), len(base_lines))
        for a, b in zip(base_lines, lines):
            if a != b:
                self.assertRegex(b, r"^#define PIDTREE_[A-Z0-9_]+ \d+$",
                                 "a line other than a numeric define "
                                 "changed: %r -> %r" % (a, b))

    def test_default_program_matches_the_kernel(self):
        text = self.program()
        if harness.kprobes_available():
            self.assertIn("pidtree_v4_entry", text)
            self.assertIn("kprobe backend", text)
        else:
            self.assertIn("TRACEPOINT_PROBE", text)
            self.assertIn("tracepoint backend", text)
            self.assertNotIn("pidtree_v4_entry", text)

    def test_backends(self):
        kp = self.program("--backend", "kprobe")  # works without kprobes
        self.assertIn("pidtree_v4_entry", kp)
        self.assertIn("pidtree_v6_entry", kp)
        self.assertNotIn("TRACEPOINT_PROBE(sock, inet_sock_set_state)", kp)
        # Both backends carry the process-table probes.
        for text in (kp, self.program("--backend", "tracepoint")):
            self.assertIn("TRACEPOINT_PROBE(task, task_newtask)", text)
        self.assertNotIn("task_newtask",
                         self.program("--ancestry", "proc"))
        tp = self.program("--backend", "tracepoint")
        self.assertIn("TRACEPOINT_PROBE(sock, inet_sock_set_state)", tp)
        self.assertNotIn("pidtree_v4_entry", tp)
        # With the kernel's BTF readable, the tracepoint backend's program
        # is a raw tracepoint reading the socket at BTF offsets; the kprobe
        # backend never is.
        btf = os.access("/sys/kernel/btf/vmlinux", os.R_OK)
        self.assertIn("#define PIDTREE_SOCK_FROM_BTF %d\n" % btf, tp)
        self.assertIn("RAW_TRACEPOINT_PROBE(inet_sock_set_state)", tp)
        self.assertIn("#define PIDTREE_SOCK_FROM_BTF 0\n", kp)

    def test_filters_are_data_not_program_text(self):
        base = self.program("--backend", "tracepoint").splitlines()
        text = self.program("--backend", "tracepoint", "--filter",
                            "1.2.3.0/24", "--filter", "2001:db8:77::/48",
                            "--include-ports", "4321")
        self.assert_only_numbers_differ(base, text,
                                        ("1.2.3", "2001:db8:77", "4321"))

    def test_every_probes_configuration_is_data_not_program_text(self):
        """Each probe's section, every key set to something distinctive,
        hostile strings in plugin arguments and container labels: the
        program differs from the one of empty sections only in numeric
        defines, and none of the file's text is in it."""
        d = harness.tmpdir()
        empty = os.path.join(d, "empty.yml")
        full = os.path.join(d, "full.yml")
        with open(empty, "w") as f:
            f.write("tcp_connect: {}\nnet_listen: {}\nudp_session: {}\n")
        hostile = '$(touch /tmp/pwn)\\n#include "x"\\n*/ }'
        with open(full, "w") as f:
            f.write("""
tcp_connect:
  filters:
    - {subnet_name: a, network: 10.77.0.0, network_mask: 255.255.0.0, except_ports: [4321]}
  includeports: [4322, "4323-4329"]
  container_labels: ['app=%(h)s*,t=%(h)s', 'x=y']
  plugins:
    sourceipmap: {hostfiles: [/etc/hosts], attribute_key: '%(h)s'}
    loginuidmap: {top_level: true}
net_listen:
  protocols: [tcp, udp]
  filters:
    - {subnet_name: b, network: "2001:db8:77::", network_mask: "ffff:ffff:ffff::"}
  excludeports: [4331]
  snapshot_periodicity: 4333
  same_namespace_only: true
  exclude_random_bind: true
  container_labels: ['k=%(h)s']
udp_session:
  filters:
    - {subnet_name: c, network: 10.88.0.0, network_mask: 255.255.0.0}
  includeports: [4341]
  session_max_duration: 4343
  container_labels: ['k=%(h)s']
""" % {"h": hostile})
        base = self.program("--backend", "tracepoint", "-c", empty)
        text = self.program("--backend", "tracepoint", "-c", full)
        self.assert_only_numbers_differ(
            base.splitlines(), text,
            ("10.77", "2001:db8:77", "10.88", "4321", "4322", "4331",
             "4333", "4341", "4343", "pwn", "app=", "/etc/hosts",
             '#include "x"'))

    def test_print_needs_no_root(self):
        if os.geteuid() != 0:
            self.program()  # we are not root already
            return
        # Copy the binary where user nobody can reach it.
        copy = os.path.join(harness.tmpdir(), "pidtree-bcc-cli")
        shutil.copy(BINARY, copy)
        os.chmod(copy, 0o755)
        p = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
             copy, "-p"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(b"tcp_connect_on_sock_state", p.stdout)


class TestBadInput(unittest.TestCase):
    def check_bad(self, args, expected):
        for extra in ([], ["-p"]):
            argv = list(args) + extra
            with self.subTest(argv=argv):
                rc, out, err = run(argv)
                self.assertEqual(rc, 2, "%r: exit %d, stderr %r"
                                 % (argv, rc, err))
                self.assertEqual(out, b"", "%r printed on stdout" % (argv,))
                lines = err.split("\n")
                self.assertEqual(len(lines), 2,
                                 "%r: want one stderr line, got %r"
                                 % (argv, err))
                self.assertEqual(lines[1], "")
                self.assertTrue(lines[0].startswith(ERROR_PREFIX),
                                "%r: %r" % (argv, lines[0]))
                self.assertIn(expected, lines[0],
                              "%r: the error does not name %r: %r"
                              % (argv, expected, lines[0]))
                self.assertNotRegex(lines[0], r"[\x00-\x08\x0b-\x1f\x7f]",
                                    "raw control bytes in the error line")

    def test_bad_inputs(self):
        for args, expected in BAD_INPUTS:
            self.check_bad(args, expected)

    def test_missing_value(self):
        rc, out, err = run(["--filter"])
        self.assertEqual(rc, 2)
        self.assertEqual(out, b"")
        self.assertTrue(err.startswith(ERROR_PREFIX) and
                        err.count("\n") == 1 and "--filter" in err, err)


if __name__ == "__main__":
    harness.main(globals(), needs_root=False)
