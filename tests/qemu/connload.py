#!/usr/bin/env python3
"""Many connections from one process, for filling a balancer's connection table (process start-up
is slow under TCG), and a single-threaded server for them that holds thousands of connections.

  connload.py serve --port P [--addr A] [--name NAME] [--ready-file PATH]
  connload.py --to VIP --port P [--family 4|6] [--bind A[,A..]] [--tcp N] [--concurrency C]
              [--hold H] [--udp U] [--timeout S] [--ready-file PATH] [--stop-file PATH]

The server speaks traffic.py's protocol (so either server works): on TCP a header line
`NAME <peer-ip> <peer-port>` on accept, then an echo, and it closes once the client has shut its
side down; on UDP one answer per datagram, the header line then the datagram. It runs TCP and UDP
on --port, IPv4 (or IPv6 with an IPv6 --addr), in one thread (selectors), raising its descriptor
limit, so held connections cost no thread each.

The client, in this order (the entries that live longest first, the TIME_WAIT ones last so that
they are all still in the table when the caller counts):
1. --udp U UDP sockets, one datagram each and its answer (one UDP entry per source port).
2. --hold H TCP connections opened and kept open (ESTABLISHED entries), header read.
3. --tcp N complete TCP connections, C at a time: connect, send a few bytes, shut the write side
   down, read the header and the echo until the server's FIN, close. The client closes first, so
   the balancer's entry ends in TIME_WAIT (2 minutes in ip_vs) and lingers there.
Then it prints a `ready:` line (counts of what worked and failed), writes it to --ready-file, and,
with --stop-file, keeps traffic flowing until that file exists: new TCP connections (C at a time),
a datagram on every UDP socket and a few bytes on every held connection, over and over, counting
what worked and what failed (failures are expected once the balancer is gone) and printing a
`loop:` line every 5 s and at the end. Exit status: 1 if anything failed before `ready:`.
"""
import errno
import os
import selectors
import socket
import sys
import time


def fam_of(a):
    return socket.AF_INET6 if a.family == "6" else socket.AF_INET


class Tcp:
    """One complete exchange, driven by the selector."""

    def __init__(self, a, sel, src, stats):
        self.stats = stats
        self.sel = sel
        self.s = socket.socket(fam_of(a), socket.SOCK_STREAM)
        self.s.setblocking(False)
        if src:
            self.s.bind((src, 0))
        self.deadline = time.monotonic() + a.timeout
        self.buf = b""
        self.payload = b"x" * 32
        self.state = "connect"
        err = self.s.connect_ex((a.to, a.port))
        if err not in (0, errno.EINPROGRESS):
            self.done(False)
            return
        sel.register(self.s, selectors.EVENT_WRITE, self)

    def done(self, ok):
        self.stats["tcp_ok" if ok else "tcp_fail"] += 1
        try:
            self.sel.unregister(self.s)
        except (KeyError, ValueError):
            pass
        self.s.close()
        self.state = "done"

    def event(self, mask):
        try:
            if self.state == "connect":
                err = self.s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    return self.done(False)
                self.s.send(self.payload)
                self.s.shutdown(socket.SHUT_WR)
                self.state = "read"
                self.sel.modify(self.s, selectors.EVENT_READ, self)
            elif self.state == "read":
                d = self.s.recv(65536)
                if d:
                    self.buf += d
                    return
                nl = self.buf.find(b"\n")
                self.done(nl >= 0 and self.buf[nl + 1:] == self.payload)
        except OSError:
            self.done(False)


def run_tcp(a, sel, n, srcs, stats, conc):
    """n complete connections, conc at a time."""
    live = set()
    started = 0
    while started < n or live:
        while started < n and len(live) < conc:
            c = Tcp(a, sel, srcs[started % len(srcs)] if srcs else None, stats)
            started += 1
            if c.state != "done":
                live.add(c)
        for key, mask in sel.select(0.5):
            key.data.event(mask)
        now = time.monotonic()
        for c in list(live):
            if c.state == "done":
                live.discard(c)
            elif now > c.deadline:
                c.done(False)
                live.discard(c)


def raise_nofile(n=65536):
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < n:
            try:
                resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
                return
            except (ValueError, OSError):
                n = hard
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, hard))
    except (ImportError, ValueError, OSError):
        pass


def serve(argv):
    o = {"--port": None, "--addr": "0.0.0.0", "--name": "rs", "--ready-file": ""}
    i = 0
    while i < len(argv):
        k, eq, v = argv[i].partition("=")
        if k not in o:
            sys.exit(f"connload.py serve: unknown option {k}")
        if not eq:
            i += 1
            v = argv[i]
        o[k] = v
        i += 1
    raise_nofile()
    fam = socket.AF_INET6 if ":" in o["--addr"] else socket.AF_INET
    port = int(o["--port"])
    name = o["--name"].encode()
    sel = selectors.DefaultSelector()
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((o["--addr"], port))
    ls.listen(1024)
    ls.setblocking(False)
    us = socket.socket(fam, socket.SOCK_DGRAM)
    us.bind((o["--addr"], port))
    us.setblocking(False)
    sel.register(ls, selectors.EVENT_READ, "listen")
    sel.register(us, selectors.EVENT_READ, "udp")
    out = {}  # conn -> bytes still to send
    eof = set()

    def flush(c):
        try:
            n = c.send(out[c]) if out[c] else 0
            out[c] = out[c][n:]
        except BlockingIOError:
            pass
        except OSError:
            return close(c)
        if not out[c] and c in eof:
            return close(c)
        sel.modify(c, selectors.EVENT_READ | (selectors.EVENT_WRITE if out[c] else 0), "conn")

    def close(c):
        sel.unregister(c)
        out.pop(c, None)
        eof.discard(c)
        c.close()

    if o["--ready-file"]:
        with open(o["--ready-file"] + ".tmp", "w") as f:
            f.write(f"{os.getpid()}\n")
        os.rename(o["--ready-file"] + ".tmp", o["--ready-file"])
    while True:
        for key, mask in sel.select():
            s = key.fileobj
            if key.data == "listen":
                for _ in range(64):
                    try:
                        c, peer = ls.accept()
                    except (BlockingIOError, OSError):
                        break
                    c.setblocking(False)
                    out[c] = name + f" {peer[0]} {peer[1]}\n".encode()
                    sel.register(c, selectors.EVENT_READ, "conn")
                    flush(c)
            elif key.data == "udp":
                for _ in range(64):
                    try:
                        d, peer = us.recvfrom(65536)
                        us.sendto(name + f" {peer[0]} {peer[1]}\n".encode() + d, peer)
                    except (BlockingIOError, OSError):
                        break
            else:
                if mask & selectors.EVENT_READ and s not in eof:
                    try:
                        d = s.recv(65536)
                    except BlockingIOError:
                        d = None
                    except OSError:
                        close(s)
                        continue
                    if d == b"":
                        eof.add(s)
                    elif d:
                        out[s] += d
                if s in out:
                    flush(s)


def main():
    if sys.argv[1:2] == ["serve"]:
        return serve(sys.argv[2:])
    raise_nofile()
    opts = {"--to": None, "--port": None, "--family": "", "--bind": "", "--tcp": "0",
            "--concurrency": "32", "--hold": "0", "--udp": "0", "--timeout": "10",
            "--ready-file": "", "--stop-file": ""}
    argv = sys.argv[1:]
    i = 0
    while i < len(argv):
        k, eq, v = argv[i].partition("=")
        if k not in opts:
            sys.exit(f"connload.py: unknown option {k}\n{__doc__}")
        if not eq:
            i += 1
            v = argv[i]
        opts[k] = v
        i += 1
    a = type("A", (), {})()
    for k, v in opts.items():
        if v is None:
            sys.exit(f"connload.py: {k} is required")
        setattr(a, k[2:].replace("-", "_"), v)
    a.port = int(a.port)
    a.timeout = float(a.timeout)
    if not a.family:
        a.family = "6" if ":" in a.to else "4"
    srcs = [s for s in a.bind.split(",") if s]
    conc = int(a.concurrency)
    fam = fam_of(a)
    sel = selectors.DefaultSelector()
    stats = {"tcp_ok": 0, "tcp_fail": 0}

    t_start = time.monotonic()
    udps = []
    udp_fail = 0
    for i in range(int(a.udp)):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(a.timeout)
        try:
            if srcs:
                s.bind((srcs[i % len(srcs)], 0))
            s.connect((a.to, a.port))
            s.send(b"u" * 16)
            if not s.recv(65536).endswith(b"u" * 16):
                raise OSError("bad answer")
            udps.append(s)
        except OSError:
            udp_fail += 1
            s.close()

    held = []
    hold_fail = 0
    for i in range(int(a.hold)):
        s = socket.socket(fam, socket.SOCK_STREAM)
        s.settimeout(a.timeout)
        try:
            if srcs:
                s.bind((srcs[i % len(srcs)], 0))
            s.connect((a.to, a.port))
            buf = b""
            while b"\n" not in buf:
                d = s.recv(4096)
                if not d:
                    raise OSError("closed")
                buf += d
            held.append(s)
        except OSError:
            hold_fail += 1
            s.close()

    t0 = time.monotonic()
    run_tcp(a, sel, int(a.tcp), srcs, stats, conc)
    t_tcp = time.monotonic() - t0
    line = (f"ready: udp {len(udps)} ok {udp_fail} failed; held {len(held)} ok {hold_fail} "
            f"failed; tcp {stats['tcp_ok']} ok {stats['tcp_fail']} failed in {t_tcp:.1f} s; "
            f"{time.monotonic() - t_start:.1f} s in all")
    print(line, flush=True)
    if a.ready_file:
        with open(a.ready_file + ".tmp", "w") as f:
            f.write(line + "\n")
        os.rename(a.ready_file + ".tmp", a.ready_file)
    bad = stats["tcp_fail"] or hold_fail or udp_fail
    if not a.stop_file:
        return 1 if bad else 0

    ls = {"tcp_ok": 0, "tcp_fail": 0}
    udp_sent = udp_err = held_ok = held_err = rounds = 0
    last = time.monotonic()
    for s in held + udps:
        s.setblocking(False)

    def report(tag):
        print(f"{tag}: {rounds} rounds; new tcp {ls['tcp_ok']} ok {ls['tcp_fail']} failed; "
              f"udp sent {udp_sent} errors {udp_err}; held sends {held_ok} ok {held_err} failed",
              flush=True)

    k = 0
    while not os.path.exists(a.stop_file):
        rounds += 1
        run_tcp(a, sel, conc, srcs, ls, conc)
        # A slice of the UDP flows and held connections each round (all of them would make a
        # round take seconds under TCG).
        k += 1
        for s in udps[k * 50 % max(1, len(udps)):][:50]:
            try:
                s.send(b"u" * 16)
                udp_sent += 1
                while True:
                    s.recv(65536)
            except (BlockingIOError, socket.timeout):
                pass
            except OSError:
                udp_err += 1
        for s in held[k * 50 % max(1, len(held)):][:50]:
            try:
                s.send(b"h")
                held_ok += 1
                while s.recv(65536):
                    pass
            except (BlockingIOError, socket.timeout):
                pass
            except OSError:
                held_err += 1
        if time.monotonic() - last >= 5:
            report("loop")
            last = time.monotonic()
    report("loop end")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
