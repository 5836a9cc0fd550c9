#!/usr/bin/env python3
"""The benchmark's own tools, without root: bench/sink's counts (what the
storms' "written" figures rest on) and bench/run.py's report of rounds.

usage: test_bench_tools.py SINK"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import run  # noqa: E402

SINK = None  # set from argv

PATTERN = '"daddr":"198.51.100.7","port":5791,'


def event(i, pattern=PATTERN, tree=200):
    return ('{"timestamp":"t","probe":"tcp_connect","pid":%d,%s"proctree":'
            '[%s]}' % (i, pattern, ",".join(['{"pid":1}'] * tree)))


def lost(count, total):
    return ('{"type":"lost_events","timestamp":"t","count":%d,"total":%d}'
            % (count, total))


class TestSink(unittest.TestCase):
    def sink(self, data, sample_n=3, chunks=None):
        """Runs sink on `data` (written in `chunks` if given); returns its
        figures and the sample file's lines."""
        with tempfile.TemporaryDirectory() as d:
            sample = os.path.join(d, "sample")
            p = subprocess.Popen([SINK, PATTERN, sample, str(sample_n)],
                                 stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE)
            for piece in (chunks or [data]):
                p.stdin.write(piece)
                p.stdin.flush()
            out, err = p.communicate(timeout=60)
            self.assertEqual(p.returncode, 0, err)
            with open(sample, "rb") as f:
                return json.loads(out), f.read().splitlines()

    def test_counts_and_sample(self):
        lines = [event(1), event(2, pattern='"daddr":"10.0.0.1","port":1,'),
                 lost(5, 5), event(3), event(4), lost(2, 7), event(5)]
        data = ("\n".join(lines) + "\n").encode()
        figures, sample = self.sink(data, sample_n=3)
        self.assertEqual(figures, {"bytes": len(data), "lines": 7,
                                   "matches": 4, "lost_lines": 2,
                                   "last_lost_total": 7})
        self.assertEqual(sample, [l.encode() for l in
                                  (event(1), event(3), event(4))])

    def test_lines_split_across_reads(self):
        data = "".join(event(i) + "\n" for i in range(50)).encode()
        # Cut in odd places, one byte at a time at first.
        chunks = [data[:1], data[1:2], data[2:777], data[777:5000],
                  data[5000:]]
        figures, _ = self.sink(data, chunks=chunks)
        self.assertEqual(figures["lines"], 50)
        self.assertEqual(figures["matches"], 50)
        self.assertEqual(figures["bytes"], len(data))

    def test_line_longer_than_the_buffer(self):
        # 3 MiB on one line: the buffer (1 MiB) grows; still one match.
        long_line = event(1, tree=400000)
        self.assertGreater(len(long_line), 3 << 20)
        data = (long_line + "\n" + event(2) + "\n").encode()
        figures, sample = self.sink(data)
        self.assertEqual((figures["lines"], figures["matches"]), (2, 2))
        self.assertEqual(sample[0], long_line.encode())

    def test_final_line_without_newline(self):
        data = (event(1) + "\n" + event(2)).encode()
        figures, _ = self.sink(data)
        # Counted as a match, not as a complete line.
        self.assertEqual((figures["lines"], figures["matches"]), (1, 2))

    def test_marker_past_the_head_is_not_counted(self):
        # Only a line's first 512 bytes are searched: a late marker can
        # only make events look unwritten, never written.
        late = '{"proctree":[%s],%s"x":1}' % ("1," * 400 + "1", PATTERN)
        figures, _ = self.sink((late + "\n").encode())
        self.assertEqual((figures["lines"], figures["matches"]), (1, 0))

    def test_usage(self):
        p = subprocess.run([SINK], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        self.assertEqual(p.returncode, 2)
        self.assertIn(b"usage: sink", p.stderr)


def phase(rate, **kw):
    r = {"rate": rate, "foreign_pct": 0.0, "quiet": True,
         "load_cpu_us": 1e6 / rate}
    r.update(kw)
    return r


def reported_on(rate):
    return phase(rate, made=100, delivered=100, lost=0, cpu_us_per_event=1.5,
                 cpu_us_per_event_minus_idle=1.4, tree_depth=10,
                 line_bytes=2300, tracer_cpu_pct_in_storm=15.0,
                 idle_cpu_pct=0.5, rss_after_kb=20480, hwm_kb=102400,
                 rss_after_anon_kb=12288, rss_after_file_kb=8192)


class TestReport(unittest.TestCase):
    def test_filtered_only_rounds_count_for_the_filtered_target(self):
        """Two full rounds and three filtered-only ones: the filtered ratio
        is the median of all five, the reported one of the first two."""
        filtered = [0.90, 0.96, 0.98, 0.99, 1.00]  # median 0.98
        rounds = []
        for i, f in enumerate(filtered):
            row = {"filtered_off": phase(100000.0),
                   "filtered_on": phase(100000.0 * f, delivered=0,
                                        tracer_cpu_pct_in_storm=0.1)}
            if i < 2:
                row["reported_off"] = phase(100000.0)
                row["reported_on"] = reported_on(100000.0 * (0.70 + 0.2 * i))
            rounds.append(row)
        args = argparse.Namespace(
            duration=10.0, filtered_duration=3.0, workers=2, tracer_args="",
            tracer_output="pipe", workdir_base="/dev/shm", max_busy=25,
            trailing=4, quiet_wait=120, profile_duration=5.0)
        results = {"command": "bench/run.py", "date": "2026-11-29",
                   "version": "test", "stale_sources": [],
                   "throughput": rounds}
        text = run.report(args, results)
        self.assertIn("2 rounds of 10 s reported storms, 5 of 3 s filtered",
                      text)
        rows = {l.split("|")[1].strip(): l for l in text.splitlines()
                if l.startswith("| ")}
        filt = rows["filtered destinations: connects/s (5 rounds)"]
        self.assertIn("98.0% on/off (rounds 90.0%–100.0%)", filt)
        self.assertIn("**pass**", filt)
        rep = rows["reported destinations: connects/s (2 rounds)"]
        self.assertIn("80.0% on/off (rounds 70.0%–90.0%)", rep)
        self.assertIn("Filtered-only rounds 3–5", text)
        # The per-round table lists the two full rounds.
        self.assertIn("| 2 | 100,000 → 96,000 |", text)
        self.assertNotIn("| 3 | 100,000 →", text)


class TestFilteredOnlyReport(unittest.TestCase):
    def test_no_reported_rounds(self):
        """--rounds 0: the filtered rows, and nothing about reported
        storms."""
        rounds = [{"filtered_off": phase(100000.0),
                   "filtered_on": phase(100000.0 * f, delivered=0,
                                        tracer_cpu_pct_in_storm=0.1)}
                  for f in (0.95, 0.96, 0.99)]
        args = argparse.Namespace(
            duration=10.0, filtered_duration=3.0, workers=2, tracer_args="",
            tracer_output="pipe", workdir_base="/dev/shm", max_busy=25,
            trailing=4, quiet_wait=120, profile_duration=5.0)
        text = run.report(args, {"command": "bench/run.py", "date": "d",
                                 "version": "v", "stale_sources": [],
                                 "throughput": rounds})
        self.assertIn("| filtered destinations: connects/s (3 rounds) | "
                      "100,000 | 96,000 | 96.0% on/off", text)
        self.assertIn("**FAIL**", text)
        self.assertFalse([l for l in text.splitlines()
                          if l.startswith("| reported")])
        self.assertIn("Filtered-only rounds 1–3", text)


class TestListenReport(unittest.TestCase):
    def test_bind_storms_and_listen_startup(self):
        """The listen phase's rows: each kind's median ratio against 95%,
        written/lost of the reported binds, the filtered binds written,
        and start-up and RSS with both probes."""
        rounds = []
        for rep, filt, conn in ((0.60, 0.97, 0.95), (0.62, 0.99, 0.97),
                                (0.64, 0.96, 0.99)):
            rounds.append({
                "reported_off": phase(200000.0),
                "reported_on": reported_on(200000.0 * rep),
                "filtered_off": phase(200000.0),
                "filtered_on": phase(200000.0 * filt, delivered=0),
                "connects_off": phase(100000.0),
                "connects_on": phase(100000.0 * conn, delivered=0)})
        starts = [{"ready_s": r, "rss_kb": 25 * 1024, "rss_anon_kb": 16 * 1024,
                   "rss_file_kb": 9 * 1024, "hwm_kb": 100 * 1024,
                   "first_event_s": 0.5} for r in (0.4, 0.5, 0.45)]
        args = argparse.Namespace(
            duration=10.0, filtered_duration=3.0, workers=2, tracer_args="",
            tracer_output="pipe", workdir_base="/dev/shm", max_busy=25,
            trailing=4, quiet_wait=120, profile_duration=5.0,
            bind_duration=5.0)
        text = run.report(args, {"command": "bench/run.py", "date": "d",
                                 "version": "v", "stale_sources": [],
                                 "listen": rounds,
                                 "listen_startup": starts})
        rows = {l.split("|")[1].strip(): l for l in text.splitlines()
                if l.startswith("| ")}
        reported = rows["net_listen: UDP binds/s, reported (every bind a "
                        "line), not filtered in the kernel (3 rounds of 5 s)"]
        self.assertIn("62.0% on/off (rounds 60.0%–64.0%)", reported)
        self.assertIn("**FAIL**", reported)
        filtered = rows["net_listen: UDP binds/s, filtered in the kernel (3 "
                        "rounds of 5 s)"]
        self.assertIn("97.0% on/off", filtered)
        self.assertIn("**pass**", filtered)
        self.assertIn("97.0% on/off (rounds 95.0%–99.0%)", [
            l for k, l in rows.items() if k.startswith("filtered TCP")][0])
        self.assertIn("100 / 100, lost 0 (max 0)",
                      rows["net_listen: binds made / written, lost (kernel "
                           "count)"])
        self.assertIn("0.45 s (0.40–0.50)", [
            l for k, l in rows.items() if k.startswith("start-up with")][0])
        rss = [l for k, l in rows.items() if k.startswith("RSS once running "
                                                          "with")][0]
        self.assertIn("25.0 MB", rss)
        self.assertIn("**pass**", rss)


class TestUdpReport(unittest.TestCase):
    def test_udp_rounds_floor_and_all_probes_startup(self):
        """The udp phase's rows: each load's median ratio against its
        target, the floor of the hooks and what udp_session adds on top,
        exact counts of the one-socket load, the storm's lost sessions and
        CPU per session, and start-up with all three probes."""
        rounds = []
        for i, (filt, floor, storm) in enumerate(
                ((0.88, 0.90, 0.62), (0.90, 0.92, 0.66), (0.86, 0.88, 0.64))):
            row = {}
            for kind, on in (("filtered", filt), ("one_socket", 0.96),
                             ("storm", storm), ("tcp_stream", 0.97),
                             ("tcp_accept", 0.99)):
                row[kind + "_off"] = phase(100000.0)
                row[kind + "_on"] = reported_on(100000.0 * on)
                if kind in ("filtered", "tcp_stream", "tcp_accept"):
                    row[kind + "_floor"] = phase(100000.0 * floor)
            row["one_socket_on"].update(udp_msgs=100 if i else 99,
                                        udp_untracked=0)
            row["storm_on"]["cpu_us_per_event"] = 2.5
            rounds.append(row)
        starts = [{"ready_s": r, "rss_kb": 27 * 1024, "rss_anon_kb": 18 * 1024,
                   "rss_file_kb": 9 * 1024, "hwm_kb": 100 * 1024,
                   "first_event_s": 0.5} for r in (0.6, 0.7, 0.65)]
        args = argparse.Namespace(
            duration=10.0, filtered_duration=3.0, workers=2, tracer_args="",
            tracer_output="pipe", workdir_base="/dev/shm", max_busy=25,
            trailing=4, quiet_wait=120, profile_duration=5.0,
            udp_duration=5.0)
        text = run.report(args, {"command": "bench/run.py", "date": "d",
                                 "version": "v", "stale_sources": [],
                                 "udp": rounds, "all_startup": starts})
        rows = [l for l in text.splitlines() if l.startswith("| ")]

        def row(prefix, n=0):
            return [l for l in rows if l.split("|")[1].strip().startswith(
                prefix)][n]
        filtered = row("udp_session: UDP sends/s to a destination filtered")
        self.assertIn("88.0% on/off (rounds 86.0%–90.0%)", filtered)
        self.assertIn("**FAIL**", filtered)
        floor = row("… the same hooks")
        self.assertIn("90.0% floor/off (rounds 88.0%–92.0%)", floor)
        self.assertIn("97.8% on/floor", floor)
        one = row("udp_session: one socket, many sends")
        self.assertIn("exact in 2 of 3 rounds", one)
        self.assertIn("**FAIL**", one)
        self.assertIn("64.0% on/off", row("udp_session: sessions/s"))
        self.assertIn("lost 0 (max 0)", row("udp_session: sessions made"))
        cpu = row("udp_session: tracer CPU")
        self.assertIn("2.50 µs", cpu)
        self.assertIn("**pass**", cpu)
        self.assertIn("97.0% on/off", row("udp_session: TCP writes/s"))
        self.assertIn("99.0% on/off", row("udp_session: TCP connect"))
        start = row("start-up with all three probes")
        self.assertIn("0.65 s (0.60–0.70)", start)
        self.assertIn("**pass**", start)
        self.assertIn("27.0 MB", row("RSS once running with all three"))


class TestUdpSums(unittest.TestCase):
    def test_counts_messages_to_the_port_and_typed_lines(self):
        lines = [
            {"probe": "udp_session", "interim": True, "destinations": [
                {"daddr": "a", "port": 53, "duration": 1, "msg_count": 5},
                {"daddr": "a", "port": 54, "duration": 1, "msg_count": 7}]},
            {"probe": "udp_session", "interim": False, "destinations": [
                {"daddr": "a", "port": 53, "duration": 1, "msg_count": 2}]},
            {"probe": "udp_session", "interim": False, "destinations": [
                {"daddr": "a", "port": 54, "duration": 1, "msg_count": 1}]},
            {"type": "udp_sessions_untracked", "count": 3, "total": 3},
            {"probe": "tcp_connect", "port": 53}]
        with tempfile.NamedTemporaryFile("w", suffix=".jsonl",
                                         delete=False) as f:
            for l in lines:
                f.write(json.dumps(l) + "\n")
            f.write("not json\n")
        self.addCleanup(os.unlink, f.name)
        self.assertEqual(run.udp_sums(53)(f.name), {
            "udp_msgs": 7, "udp_lines": 2, "udp_interim": 1,
            "udp_untracked": 3, "bad_lines": 1})


class TestProbeShare(unittest.TestCase):
    def test_only_the_probes_symbols_count(self):
        text = "\n".join([
            "# Samples: 39K of event 'cpu-clock:ppp'",
            "    16.35%  [k] pvm_irq_enable",
            "     1.09%  [k] __bpf_prog_enter_recur",  # someone else's
            "     0.79%  [k] bpf_trace_run3",
            "     0.66%  [k] bpf_prog_42ed3aa21536f217_raw_tracepoint__inet"
            "_sock_set_state",
            "     0.50%  [k] bpf_prog_0123456789abcdef_some_other_prog",
            "     0.40%  [k] perf_trace_buf_alloc",
            "     0.20%  [k] bpf_prog_9dfb3de7f21c6081_pidtree_v4_entry",
            "     0.07%  [k] trie_lookup_elem",
            "     3.75%  [.] __libc_connect",
            "     0.05%  [.] trace_call_bpf",  # user space: not the kernel's
        ])
        total, rows = run.probe_share(text)
        self.assertAlmostEqual(total, 0.79 + 0.66 + 0.40 + 0.20 + 0.07)
        self.assertEqual([sym for _, sym in rows][:2], [
            "bpf_trace_run3",
            "bpf_prog_42ed3aa21536f217_raw_tracepoint__inet_sock_set_state"])
        self.assertEqual(len(rows), 5)

    def test_nothing_matches(self):
        self.assertEqual(run.probe_share("no perf output\n"), (0, []))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    SINK = sys.argv.pop(1)
    unittest.main(verbosity=2)
