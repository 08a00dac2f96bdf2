#!/usr/bin/env python3
"""Long-lived flows through a VIP that keep bytes moving both ways and measure every silence: what
a user of a director pair sees during a failover (and what a health-check scenario sees when a
real server dies under an established connection).

  flows.py --to VIP --port P [--tcp N] [--udp-port P] [--bind ADDR] [--family 4|6]
           [--interval S] [--chunk B] [--timeout S] --ready-file PATH --stop-file PATH
           [--mark-file PATH]

The servers are traffic.py's (or connload.py's): on TCP a header line `NAME <peer-ip> <peer-port>`
on accept, then an echo of every byte; on UDP one answer per datagram, the header line then the
datagram. flows.py opens --tcp N connections to VIP:P and one UDP "flow" (a connected socket, one
source port) to VIP:--udp-port, all in one thread. Every --interval (default 0.05 s) it sends a
--chunk (default 64) byte piece on each TCP connection (unless 64 KiB are still unechoed) and
one datagram carrying a sequence number on the UDP flow, and checks each echo byte for byte.

Once every flow has had an answer it prints `ready: ...` and writes that line to --ready-file.
When --mark-file appears (the scenario creates it when it breaks something, or once a backup
director has taken over) it notes the time, so that the report can say what was echoed after it,
and once every flow has been answered after the mark it writes MARK-FILE.resumed. When
--stop-file appears it finishes: each TCP connection waits (up to --timeout, default 20 s) for its
last bytes to come back, shuts its side down, and must read the server's close after the complete
echo; then it prints one line per flow and exits:

  flow tcp<i> server <NAME> port <local port> sent <B> echoed <B> after-mark <B> gap <S> at <T> ok|FAIL <why>
  flow udp server <NAME>[,<NAME>..] port <local port> sent <N> answered <N> after-mark <N> gap <S> at <T> ok|FAIL <why>

`gap` is the longest time the flow went without an answer (from its first answer to its last, or
to the end if the answers stopped), `at` the wall-clock time that silence began. A TCP flow fails
on a reset, an early close, an echo that differs, or bytes still missing at the end; a UDP flow
fails when answers come from more than one real server or when none came after the mark. The
exit status is 1 if any flow failed, 2 if the flows could not be set up.
"""
import os
import selectors
import socket
import sys
import time


class Tcp:
    def __init__(self, i, sock):
        self.i = i
        self.sock = sock
        self.port = sock.getsockname()[1]
        self.name = "?"
        self.header = bytearray()
        self.unechoed = bytearray()
        self.sent = 0
        self.echoed = 0
        self.after_mark = 0
        self.first = None
        self.last = None
        self.gap = 0.0
        self.gap_at = 0.0
        self.error = ""
        self.eof = False
        self.shut = False

    def answered(self, now, n, marked):
        if self.last is not None and now - self.last > self.gap:
            self.gap, self.gap_at = now - self.last, self.last
        if self.first is None:
            self.first = now
        self.last = now
        if marked:
            self.after_mark += n

    def received(self, d, now, marked):
        if self.name == "?":
            self.header += d
            nl = self.header.find(b"\n")
            if nl < 0:
                return
            self.name = self.header[:nl].decode(errors="replace").split(" ")[0]
            d = bytes(self.header[nl + 1:])
            self.answered(now, 0, False)
            if not d:
                return
        if d != self.unechoed[:len(d)]:
            self.error = f"echo differs after {self.echoed} bytes"
            return
        del self.unechoed[:len(d)]
        self.echoed += len(d)
        self.answered(now, len(d), marked)


class Udp:
    def __init__(self, sock):
        self.sock = sock
        self.port = sock.getsockname()[1]
        self.names = []
        self.sent = 0
        self.answers = 0
        self.after_mark = 0
        self.first = None
        self.last = None
        self.gap = 0.0
        self.gap_at = 0.0
        self.error = ""

    def received(self, d, now, marked):
        nl = d.find(b"\n")
        if nl < 0 or not d[nl + 1:].startswith(b"seq "):
            self.error = f"bad answer {d[:40]!r}"
            return
        name = d[:nl].decode(errors="replace").split(" ")[0]
        if name not in self.names:
            self.names.append(name)
        self.answers += 1
        if self.last is not None and now - self.last > self.gap:
            self.gap, self.gap_at = now - self.last, self.last
        if self.first is None:
            self.first = now
        self.last = now
        if marked:
            self.after_mark += 1


def opts(argv):
    spec = {"--to": None, "--port": None, "--tcp": "0", "--udp-port": "", "--bind": "",
            "--family": "", "--interval": "0.05", "--chunk": "64", "--timeout": "20",
            "--ready-file": None, "--stop-file": None, "--mark-file": ""}
    vals = dict(spec)
    i = 0
    while i < len(argv):
        if argv[i] not in spec or i + 1 >= len(argv):
            sys.stderr.write(__doc__ + f"\nflows.py: bad argument {argv[i]}\n")
            sys.exit(2)
        vals[argv[i]] = argv[i + 1]
        i += 2
    for k, v in vals.items():
        if v is None:
            sys.stderr.write(__doc__ + f"\nflows.py: {k} is required\n")
            sys.exit(2)
    return {k[2:].replace("-", "_"): v for k, v in vals.items()}


def main():
    a = opts(sys.argv[1:])
    fam = socket.AF_INET6 if a["family"] == "6" or ":" in a["to"] else socket.AF_INET
    interval, chunk, timeout = float(a["interval"]), int(a["chunk"]), float(a["timeout"])
    src = (a["bind"], 0) if a["bind"] else None
    sel = selectors.DefaultSelector()
    tcps = []
    udp = None
    try:
        for i in range(int(a["tcp"])):
            s = socket.socket(fam, socket.SOCK_STREAM)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if src:
                s.bind(src)
            s.settimeout(5)
            s.connect((a["to"], int(a["port"])))
            s.setblocking(False)
            t = Tcp(i, s)
            tcps.append(t)
            sel.register(s, selectors.EVENT_READ, t)
        if a["udp_port"]:
            s = socket.socket(fam, socket.SOCK_DGRAM)
            if src:
                s.bind(src)
            s.connect((a["to"], int(a["udp_port"])))
            s.setblocking(False)
            udp = Udp(s)
            sel.register(s, selectors.EVENT_READ, udp)
    except OSError as e:
        print(f"flows: setting up the flows failed: {e}", flush=True)
        return 2

    flows = tcps + ([udp] if udp else [])
    ready = False
    resumed = False
    mark = None
    stopping = None
    seq = 0
    next_send = time.monotonic()
    t0 = time.monotonic()
    # Wall-clock times come from the monotonic clock plus one offset, so gaps are exact.
    offset = time.time() - t0
    while True:
        now = time.monotonic()
        if mark is None and a["mark_file"] and os.path.exists(a["mark_file"]):
            mark = now
        if mark is not None and not resumed and all(f.after_mark for f in flows):
            resumed = True
            with open(a["mark_file"] + ".resumed", "w") as f:
                f.write(f"{now - mark:.3f}\n")
        if stopping is None and os.path.exists(a["stop_file"]):
            stopping = now
        if not ready and all(f.first is not None for f in flows):
            ready = True
            line = (f"ready: {len(tcps)} tcp to " + " ".join(t.name for t in tcps)
                    + (f", udp to {udp.names[0]}" if udp else "")
                    + " (local ports " + " ".join(str(f.port) for f in flows) + ")")
            print(line, flush=True)
            with open(a["ready_file"] + ".tmp", "w") as f:
                f.write(line + "\n")
            os.rename(a["ready_file"] + ".tmp", a["ready_file"])
        if not ready and now - t0 > timeout:
            print("flows: not every flow was answered within --timeout", flush=True)
            stopping = stopping or now
        if now >= next_send:
            next_send = now + interval
            for t in tcps:
                if stopping is not None or t.error or t.eof or t.name == "?":
                    continue
                if len(t.unechoed) < 65536:
                    piece = os.urandom(chunk)
                    try:
                        n = t.sock.send(piece)
                    except BlockingIOError:
                        n = 0
                    except ConnectionResetError:
                        t.error = "reset"
                        continue
                    except OSError as e:
                        t.error = f"send: {e.strerror or e}"
                        continue
                    t.unechoed += piece[:n]
                    t.sent += n
            if udp and stopping is None:
                seq += 1
                try:
                    udp.sock.send(f"seq {seq} ".encode().ljust(chunk, b"."))
                    udp.sent += 1
                except OSError:
                    # ICMP errors on a connected socket (no route, unreachable) while the VIP
                    # moves: counted as unanswered datagrams.
                    udp.sent += 1
        if stopping is not None:
            for t in tcps:
                if t.error or t.eof or t.shut or t.unechoed:
                    continue
                try:
                    t.sock.shutdown(socket.SHUT_WR)
                    t.shut = True
                except OSError as e:
                    t.error = f"shutdown: {e.strerror or e}"
            done = all(t.error or t.eof for t in tcps)
            if done or now - stopping > timeout:
                break
        for key, _ in sel.select(max(0.0, min(next_send - time.monotonic(), 0.05))):
            f = key.data
            rnow = time.monotonic()
            marked = mark is not None
            try:
                if f is udp:
                    while True:
                        try:
                            d = f.sock.recv(65536)
                        except BlockingIOError:
                            break
                        f.received(d, rnow, marked)
                else:
                    d = f.sock.recv(65536)
                    if not d:
                        f.eof = True
                        sel.unregister(f.sock)
                        # (After a reset that send() reported first, recv() reads an end of file.)
                        if not f.shut and not f.error:
                            f.error = "closed by the server"
                    else:
                        f.received(d, rnow, marked)
            except BlockingIOError:
                pass
            except ConnectionResetError:
                f.error = f.error or "reset"
                sel.unregister(f.sock)
            except OSError as e:
                if f is udp:
                    # ECONNREFUSED and friends from ICMP: not an answer, the flow goes on.
                    continue
                f.error = f"recv: {e.strerror or e}"
                sel.unregister(f.sock)

    end = time.monotonic()
    failed = 0

    def silence(f):
        # The longest silence, counting one that lasted until the end.
        gap, at = f.gap, f.gap_at
        if f.last is not None and end - f.last > gap and (stopping is None or f.last < stopping):
            gap, at = end - f.last, f.last
        return gap, at + offset

    for t in tcps:
        why = t.error
        if not why and t.unechoed:
            why = f"{len(t.unechoed)} bytes never echoed"
        if not why and not t.eof:
            why = "no close from the server"
        if not why and mark is not None and t.after_mark == 0:
            why = "nothing echoed after the mark"
        gap, at = silence(t)
        failed += bool(why)
        print(f"flow tcp{t.i} server {t.name} port {t.port} sent {t.sent} echoed {t.echoed} "
              f"after-mark {t.after_mark} gap {gap:.2f} at {at:.6f} "
              + (f"FAIL {why}" if why else "ok"), flush=True)
    if udp:
        why = udp.error
        if not why and len(udp.names) > 1:
            why = "answered by " + " then ".join(udp.names)
        if not why and mark is not None and udp.after_mark == 0:
            why = "no answer after the mark"
        if not why and not udp.names:
            why = "never answered"
        gap, at = silence(udp)
        failed += bool(why)
        print(f"flow udp server {','.join(udp.names) or '?'} port {udp.port} sent {udp.sent} "
              f"answered {udp.answers} after-mark {udp.after_mark} gap {gap:.2f} at {at:.6f} "
              + (f"FAIL {why}" if why else "ok"), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
