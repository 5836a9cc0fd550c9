#!/usr/bin/env python3
"""How long a restart on a configuration change leaves the host unwatched
(issue 16): with -w, a change the running programs cannot take in place
(here net_listen.snapshot_periodicity, flipped each round) makes the
supervisor start the tracer again. Meanwhile this script connects to a
closed port on 127.0.0.1 every INTERVAL ms (refused at once; loopback
only), and the tracer reports each connect (the file drops the default
filters and includes only that port).

Per round it prints the time from the file's rename to the new tracer's
"tracing" line, and the blind window: the longest stretch between two
reported connects around the restart, by the events' own timestamps (the
connects the tracer did not see fall in it). Run as root from the repository after building:

    sudo bench/restart_gap.py build/pidtree-bcc [--rounds 10] [--interval 5]
"""
import argparse
import datetime
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

READY = "; Ctrl-C to stop"


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("binary")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--interval", type=float, default=5.0,
                    help="ms between connects (default 5)")
    ap.add_argument("--settle", type=float, default=2.0,
                    help="s of steady reporting between rounds (default 2)")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (it loads BPF programs)")
    # The supervisor allows 5 restarts in 10 minutes; a run of more rounds
    # uses a fresh tracer every 5.
    port = closed_port()
    d = tempfile.mkdtemp(prefix="pidtree-restart-")
    cfg = os.path.join(d, "c.yml")

    def write(period):
        with open(cfg + ".tmp", "w") as f:
            f.write("tcp_connect:\n  filters: []\n  includeports: [%d]\n"
                    "net_listen:\n  snapshot_periodicity: %d\n"
                    % (port, period))
        os.rename(cfg + ".tmp", cfg)

    stop = threading.Event()

    def connector():
        while not stop.is_set():
            s = socket.socket()
            s.connect_ex(("127.0.0.1", port))
            s.close()
            time.sleep(args.interval / 1000)

    results = []
    done = 0
    while done < args.rounds:
        write(0)
        events, ready = [], []
        cond = threading.Condition()
        p = subprocess.Popen([args.binary, "-c", cfg, "-w"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)

        def read_out():
            for raw in p.stdout:
                rec = json.loads(raw)
                if rec.get("probe") == "tcp_connect" and rec["port"] == port:
                    ts = datetime.datetime.fromisoformat(
                        rec["timestamp"].replace("Z", "+00:00"))
                    with cond:
                        events.append(ts.timestamp())  # the kernel's stamp

        def read_err():
            for raw in p.stderr:
                if raw.decode(errors="replace").rstrip().endswith(READY):
                    with cond:
                        ready.append(time.time())
                        cond.notify_all()

        threads = [threading.Thread(target=f, daemon=True)
                   for f in (read_out, read_err)]
        for t in threads:
            t.start()
        with cond:
            cond.wait_for(lambda: ready, 60)
        stop.clear()
        conn = threading.Thread(target=connector, daemon=True)
        conn.start()
        time.sleep(args.settle)
        for n in range(1, min(5, args.rounds - done) + 1):
            changed = time.time()
            write(n)
            with cond:
                if not cond.wait_for(lambda: len(ready) > n, 60):
                    sys.exit("no restart after round %d" % (done + 1))
                up = ready[n]
            time.sleep(args.settle)
            with cond:
                seen = sorted(e for e in events
                              if changed - args.settle < e < up + args.settle)
            gaps = [b - a for a, b in zip(seen, seen[1:])]
            blind = max(gaps) if gaps else float("nan")
            results.append((up - changed, blind))
            done += 1
            print("round %d: change -> tracing %.3f s, blind window %.3f s"
                  % (done, up - changed, blind), file=sys.stderr)
        stop.set()
        conn.join()
        p.send_signal(2)
        p.wait(30)
    restart = [r[0] for r in results]
    blind = [r[1] for r in results]
    print("restart gap, %d rounds, connect every %.1f ms: change -> tracing "
          "median %.2f s (max %.2f); blind window median %.2f s (max %.2f)"
          % (len(results), args.interval, statistics.median(restart),
             max(restart), statistics.median(blind), max(blind)))


if __name__ == "__main__":
    main()
