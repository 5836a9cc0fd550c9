#!/usr/bin/env python3
"""Connect generator for the runtime tests (run inside the test's netns).

usage: connect_helper.py [--hold] [--thread] [--count N] [--bind-port P]
                         [--bind-addr A] [--cpu N] ADDR,PORT... [-- IGNORED...]

Connects once to each target in order (or --count times in all, cycling
through the targets), each on a fresh socket. The targets are closed ports on
addresses of the test's own network namespace, so every connect is refused at
once. --cpu pins the process to one CPU first (perf buffers are per CPU).
Then prints one JSON line on stdout:

  {"pid", "ppid", "tid" (the thread that connected), "t_before_ns",
   "t_after_ns" (CLOCK_REALTIME around the connects), "errors" (errno name
   -> count; "ok" for a connect that succeeded)}

and, with --hold, stays alive until stdin reaches EOF, so that the tracer can
read this process's /proc entries. Arguments after "--" are ignored: they
only give the process a command line of the test's choosing.
"""
import errno
import json
import os
import socket
import sys
import threading
import time


def parse(argv):
    opts = {"hold": False, "thread": False, "count": None, "bind_port": None,
            "bind_addr": None, "cpu": None}
    targets = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            break
        if a == "--hold":
            opts["hold"] = True
        elif a == "--thread":
            opts["thread"] = True
        elif a == "--count":
            i += 1
            opts["count"] = int(argv[i])
        elif a == "--cpu":
            i += 1
            opts["cpu"] = int(argv[i])
        elif a == "--bind-port":
            i += 1
            opts["bind_port"] = int(argv[i])
        elif a == "--bind-addr":
            i += 1
            opts["bind_addr"] = argv[i]
        else:
            addr, port = a.rsplit(",", 1)
            targets.append((addr, int(port)))
        i += 1
    if not targets:
        sys.exit("connect_helper: no targets")
    return opts, targets


def run_connects(opts, targets, result):
    result["tid"] = threading.get_native_id()
    errors = {}
    total = opts["count"] if opts["count"] is not None else len(targets)
    result["t_before_ns"] = time.time_ns()
    for i in range(total):
        addr, port = targets[i % len(targets)]
        family = socket.AF_INET6 if ":" in addr else socket.AF_INET
        s = socket.socket(family, socket.SOCK_STREAM)
        try:
            if opts["bind_port"] is not None or opts["bind_addr"]:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                anywhere = "::" if family == socket.AF_INET6 else "0.0.0.0"
                s.bind((opts["bind_addr"] or anywhere,
                        opts["bind_port"] or 0))
            s.connect((addr, port))
            key = "ok"
        except OSError as e:
            key = errno.errorcode.get(e.errno, str(e.errno))
        finally:
            s.close()
        errors[key] = errors.get(key, 0) + 1
    result["t_after_ns"] = time.time_ns()
    result["errors"] = errors


def main():
    opts, targets = parse(sys.argv[1:])
    result = {"pid": os.getpid(), "ppid": os.getppid()}
    if opts["cpu"] is not None:
        os.sched_setaffinity(0, {opts["cpu"]})
    if opts["thread"]:
        t = threading.Thread(target=run_connects, args=(opts, targets, result))
        t.start()
        t.join()
    else:
        run_connects(opts, targets, result)
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    if opts["hold"]:
        while sys.stdin.buffer.read(65536):
            pass


if __name__ == "__main__":
    main()
