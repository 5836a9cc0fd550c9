#!/usr/bin/env python3
"""UDP sends for the udp_session tests, run in the test's own network
namespace (its addresses answer there; nothing leaves it).

usage: udp_helper.py [--receive ADDR,PORT]... [--hold | --exit-open]
                     SOCKET...

Receivers (--receive) are bound first, so that connected sockets get no
"port unreachable" back (which would fail their next send). Then each
SOCKET, in order, on a fresh socket of the family of its first address:
  to:ADDR,PORT,N[/ADDR,PORT,N...]  N sendto()s to each destination in turn
  conn:ADDR,PORT,N                 connect(), then N send()s
  mmsg:ADDR,PORT,N                 one sendmmsg() of N messages to ADDR
  every:ADDR,PORT,MS,N             N sendto()s, one every MS milliseconds
  v6to:ADDR,PORT,N                 like to:, on an IPv6 socket (for IPv4-
                                   mapped destinations)

Prints one JSON line:
  {"pid", "ppid", "t_before_ns", "t_after_ns",
   "sockets": [{"spec", "sport", "sent" (messages the kernel took),
                "error" ("" or the errno name)}]}
then closes its sockets and exits; with --hold keeps them open until stdin
reaches EOF; with --exit-open exits at once without closing them (the
kernel releases them as the process goes).
"""
import ctypes
import errno
import json
import os
import socket
import sys
import time


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def target(text):
    addr, port = text.split(",")[:2]
    return addr, int(port)


class IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class MsgHdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(IoVec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p),
                ("controllen", ctypes.c_size_t), ("flags", ctypes.c_int)]


class MMsgHdr(ctypes.Structure):
    _fields_ = [("hdr", MsgHdr), ("len", ctypes.c_uint)]


def sendmmsg(sock, addr, port, n):
    """One sendmmsg() of n one-byte messages to addr:port; how many went."""
    libc = ctypes.CDLL(None, use_errno=True)
    if family_of(addr) == socket.AF_INET:
        name = (ctypes.c_uint8 * 16)()
        ctypes.memmove(name, socket.AF_INET.to_bytes(2, "little") +
                       port.to_bytes(2, "big") +
                       socket.inet_pton(socket.AF_INET, addr), 8)
        namelen = 16
    else:
        name = (ctypes.c_uint8 * 28)()
        ctypes.memmove(name, socket.AF_INET6.to_bytes(2, "little") +
                       port.to_bytes(2, "big") + b"\0" * 4 +
                       socket.inet_pton(socket.AF_INET6, addr), 24)
        namelen = 28
    payload = ctypes.create_string_buffer(b"m")
    iov = IoVec(ctypes.cast(payload, ctypes.c_void_p), 1)
    msgs = (MMsgHdr * n)()
    for m in msgs:
        m.hdr.name = ctypes.cast(name, ctypes.c_void_p)
        m.hdr.namelen = namelen
        m.hdr.iov = ctypes.pointer(iov)
        m.hdr.iovlen = 1
    sent = libc.sendmmsg(sock.fileno(), msgs, n, 0)
    if sent < 0:
        raise OSError(ctypes.get_errno(), "sendmmsg")
    return sent


def run_one(spec, keep):
    kind, _, rest = spec.partition(":")
    parts = rest.split("/")
    first = parts[0].split(",")
    fam = socket.AF_INET6 if kind == "v6to" else family_of(first[0])
    s = socket.socket(fam, socket.SOCK_DGRAM)
    keep.append(s)
    entry = {"spec": spec, "sport": 0, "sent": 0, "error": ""}
    try:
        if kind in ("to", "v6to"):
            for part in parts:
                addr, port = target(part)
                for _ in range(int(part.split(",")[2])):
                    s.sendto(b"t", (addr, port))
                    entry["sent"] += 1
        elif kind == "conn":
            addr, port = target(parts[0])
            s.connect((addr, port))
            for _ in range(int(first[2])):
                s.send(b"c")
                entry["sent"] += 1
        elif kind == "mmsg":
            addr, port = target(parts[0])
            entry["sent"] = sendmmsg(s, addr, port, int(first[2]))
        elif kind == "every":
            addr, port = target(parts[0])
            interval = int(first[2]) / 1000.0
            for i in range(int(first[3])):
                if i:
                    time.sleep(interval)
                s.sendto(b"e", (addr, port))
                entry["sent"] += 1
        else:
            raise ValueError("unknown socket spec %r" % spec)
        entry["sport"] = s.getsockname()[1]
    except OSError as e:
        entry["error"] = errno.errorcode.get(e.errno, str(e.errno))
    return entry


def main():
    args = sys.argv[1:]
    hold = exit_open = False
    receive, specs = [], []
    i = 0
    while i < len(args):
        if args[i] == "--receive":
            i += 1
            receive.append(target(args[i]))
        elif args[i] == "--hold":
            hold = True
        elif args[i] == "--exit-open":
            exit_open = True
        else:
            specs.append(args[i])
        i += 1
    receivers = []
    for addr, port in receive:
        r = socket.socket(family_of(addr), socket.SOCK_DGRAM)
        r.bind((addr, port))
        receivers.append(r)
    keep = []
    out = {"pid": os.getpid(), "ppid": os.getppid(),
           "t_before_ns": time.time_ns()}
    out["sockets"] = [run_one(spec, keep) for spec in specs]
    out["t_after_ns"] = time.time_ns()
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()
    if exit_open:
        os._exit(0)
    if hold:
        while sys.stdin.buffer.read(65536):
            pass
    for s in keep + receivers:
        s.close()


if __name__ == "__main__":
    main()
