#!/usr/bin/env python3
"""Connects that succeed or fail before any packet leaves (run inside the
test's own network namespace, like tests/runtime/connect_helper.py).

usage: keep_helper.py [--listen ADDR,PORT]... [--hold] ADDR,PORT...

Listens on each --listen address first (addresses of the test's namespace),
then connects once to each target in order, each on a fresh blocking socket.
A socket whose connect succeeded stays open until this process exits, so its
source port stays taken (with a one-port ephemeral range, the next connect
to the same destination then fails with EADDRNOTAVAIL). Prints one JSON line:

  {"pid", "ppid", "t_before_ns", "t_after_ns",
   "results": [{"addr", "port", "error" ("ok" or the errno name),
                "sport" (the source port of a connected socket, else 0)}]}

and, with --hold, stays alive until stdin reaches EOF.
"""
import errno
import json
import os
import socket
import sys
import time


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def parse_target(text):
    addr, port = text.rsplit(",", 1)
    return addr, int(port)


def main():
    listen, targets, hold = [], [], False
    args = sys.argv[1:]
    i = 0
    while i < len(args):
        if args[i] == "--listen":
            i += 1
            listen.append(parse_target(args[i]))
        elif args[i] == "--hold":
            hold = True
        else:
            targets.append(parse_target(args[i]))
        i += 1
    if not targets:
        sys.exit("keep_helper: no targets")

    kept = []
    for addr, port in listen:
        s = socket.socket(family_of(addr), socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((addr, port))
        s.listen(64)
        kept.append(s)

    results = []
    t_before = time.time_ns()
    for addr, port in targets:
        s = socket.socket(family_of(addr), socket.SOCK_STREAM)
        try:
            s.connect((addr, port))
            results.append({"addr": addr, "port": port, "error": "ok",
                            "sport": s.getsockname()[1]})
            kept.append(s)
        except OSError as e:
            results.append({"addr": addr, "port": port, "sport": 0,
                            "error": errno.errorcode.get(e.errno,
                                                         str(e.errno))})
            s.close()
    t_after = time.time_ns()
    sys.stdout.write(json.dumps({
        "pid": os.getpid(), "ppid": os.getppid(), "t_before_ns": t_before,
        "t_after_ns": t_after, "results": results}) + "\n")
    sys.stdout.flush()
    if hold:
        while sys.stdin.buffer.read(65536):
            pass
    for s in kept:
        s.close()


if __name__ == "__main__":
    main()
