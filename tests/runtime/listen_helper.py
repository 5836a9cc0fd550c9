#!/usr/bin/env python3
"""Listens and binds for the net_listen tests (run in the test's own network
namespace, or in the host's on loopback only). It sends nothing: a listen
or a bind makes no packet.

usage: listen_helper.py [--hold] SPEC...

SPEC (in order, each on a fresh socket):
  tcp,ADDR,PORT      bind ADDR:PORT (PORT 0: the kernel picks), then listen
  tcp4-unbound       listen on an IPv4 socket that was never bound
  tcp6-unbound       the same, IPv6
  udp,ADDR,PORT      bind a UDP socket to ADDR:PORT

Prints one JSON line:
  {"pid", "ppid", "t_before_ns", "t_after_ns",
   "sockets": [{"spec", "addr", "port" (from getsockname), "error"}]}
("error": "" or the errno name) and, with --hold, keeps every socket open
until stdin reaches EOF; without, exits at once.
"""
import errno
import json
import os
import socket
import sys
import time


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def open_one(spec):
    if spec in ("tcp4-unbound", "tcp6-unbound"):
        fam = socket.AF_INET if spec == "tcp4-unbound" else socket.AF_INET6
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.listen(8)
        return s
    proto, addr, port = spec.split(",")
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    s = socket.socket(family_of(addr), kind)
    s.bind((addr, int(port)))
    if proto == "tcp":
        s.listen(8)
    return s


def main():
    args = sys.argv[1:]
    hold = "--hold" in args
    specs = [a for a in args if a != "--hold"]
    out = {"pid": os.getpid(), "ppid": os.getppid(), "sockets": []}
    keep = []
    out["t_before_ns"] = time.time_ns()
    for spec in specs:
        entry = {"spec": spec, "addr": "", "port": 0, "error": ""}
        try:
            s = open_one(spec)
            keep.append(s)
            name = s.getsockname()
            entry["addr"], entry["port"] = name[0], name[1]
        except OSError as e:
            entry["error"] = errno.errorcode.get(e.errno, str(e.errno))
        out["sockets"].append(entry)
    out["t_after_ns"] = time.time_ns()
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    if hold:
        sys.stdin.read()


if __name__ == "__main__":
    main()
