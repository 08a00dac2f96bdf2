#!/usr/bin/env python3
"""Traffic for the data-plane scenarios: one long-running server per real server, one client
process opening many connections (process start-up is slow under TCG: ~2 per second).

  traffic.py serve --name NAME --proto tcp|udp|sctp[,..] --port P[,..] [--addr A] [--family 4|6]
                   [--sctp-addr A] [--ready-file PATH (written once listening; a FIFO gets a line)]
  traffic.py client --proto tcp|udp|sctp|http[,..] --to VIP --port P[,..] --count N
                   [--payload-bytes B|B,PROTO=B..] [--family 4|6]
                   [--new-source-port | --same-source-port SPORT] [--bind ADDR[,ADDR..]]
                   [--timeout S] [--close fin|rst] [--check-seen]
                   [--hold-file PATH | --hold SECS] [--interval S] [--names]
                   [--until-file PATH] [--timestamps]

Wire protocol. For every connection (TCP, SCTP) or datagram (UDP) the server answers with one line
`NAME <peer-ip> <peer-port>\\n` — the real server's name and the client address it saw — followed
by an echo of every byte the client sent. On TCP/SCTP the header is sent on accept and the echo
streams; the server closes when the client has shut down its side (or reset). On UDP the answer
to a datagram is one datagram: the header line then the datagram's bytes, sent from the address
the request was sent to (IP_PKTINFO), so DR/TUN real servers answer from the VIP. SCTP has no
such choice: a wildcard-bound IPv4 SCTP server answers from its outgoing interface's address
(and the client ABORTs the association), so DR/TUN real servers bind SCTP to the VIP
(--sctp-addr VIP).

The client opens --count connections one after the other, each from a new source port (never one
already used in this run) unless --same-source-port; sends --payload-bytes random bytes; reads
the header and the echo; checks the echo is byte-identical; and prints per connection
`conn <i> server <NAME> seen <peer-ip> ok|FAIL [reason]` and then a `summary:` line. Exit status
is 1 if any connection failed or timed out. With --names it prints instead just the sequence of
server names on one line (`-` for a failed connection), and the per-connection lines on stderr.
Several protocols and/or ports make several runs of --count connections each, in the order
proto1/port1, proto1/port2, ..., each run with its own `run PROTO VIP PORT` line, its own
`summary PROTO/PORT:` line and (--names) its own line of names: one process for many services.
--payload-bytes 3000,udp=1000 sends 1000 bytes on UDP, 3000 on the others. --bind ADDR,ADDR..
makes connection i use source address i modulo their number (SCTP binds the one source address
anyway: a wildcard-bound SCTP socket would offer every local address to the peer).

Closing (TCP/SCTP): --close fin (default) shuts down the write side and waits for the server's
close, so when the next connection starts the director has seen both FINs (IPVS counts the
connection as inactive: what makes lc/wlc sequences deterministic); --close rst aborts with an
RST after the echo (no TIME_WAIT: IPVS's entry goes to CLOSE, 10 s) — the default with
--same-source-port on TCP, whose 4-tuple could not be reused otherwise. SCTP has no half-close
(a shutdown(SHUT_WR) never reads the peer's EOF back): with fin the client close()s once the
echo is complete (SHUTDOWN; the server reads EOF and closes), with rst it ABORTs.

--hold-file PATH / --hold SECS: after the header arrives, print `hold <i> server <NAME> seen ...`
and wait (until PATH exists, or SECS) before sending the payload: a long-lived established
connection (used to check that weight 0 keeps established connections alive).

--proto http talks to a web server instead (nginx serving a page whose first word names the real
server): `GET / HTTP/1.0`, and the connection is ok if the answer is `HTTP/1.x 200` with a body;
its first word is the server's name (no payload, no --check-seen: `seen` is `?`).
--until-file PATH: start no new connection once PATH exists (--count is then a maximum).
--timestamps: end each `conn` line with ` at=<wall-clock time the connection started>`, so a
scenario can tell which connections came before or after something it did.
"""
import os
import selectors
import socket
import stat
import struct
import sys
import threading
import time

IPPROTO_SCTP = getattr(socket, "IPPROTO_SCTP", 132)
IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)


def family_of(f):
    return socket.AF_INET6 if str(f) == "6" else socket.AF_INET


def ip_str(addr):
    return addr[0].split("%")[0]


def same_ip(a, b):
    for fam in (socket.AF_INET, socket.AF_INET6):
        try:
            return socket.inet_pton(fam, a) == socket.inet_pton(fam, b)
        except OSError:
            pass
    return False


def log(*a):
    print(*a, flush=True)


# ---------------------------------------------------------------- server

def serve_stream_conn(name, proto, conn, peer):
    try:
        conn.sendall(f"{name} {ip_str(peer)} {peer[1]}\n".encode())
        total = 0
        while True:
            d = conn.recv(65536)
            if not d:
                break
            total += len(d)
            conn.sendall(d)
        log(f"{proto} {ip_str(peer)} {peer[1]} echoed {total}")
    except OSError as e:
        log(f"{proto} {ip_str(peer)} {peer[1]} {e.__class__.__name__}: {e}")
    finally:
        conn.close()


def serve_stream(name, proto, sock):
    while True:
        try:
            conn, peer = sock.accept()
            if proto == "tcp":
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as e:
            log(f"{proto} accept: {e}")
            time.sleep(0.1)
            continue
        threading.Thread(target=serve_stream_conn, args=(name, proto, conn, peer),
                         daemon=True).start()


def serve_udp(name, sock, fam):
    while True:
        try:
            data, anc, _flags, peer = sock.recvmsg(65536, 256)
        except OSError as e:
            log(f"udp recvmsg: {e}")
            continue
        reply = f"{name} {ip_str(peer)} {peer[1]}\n".encode() + data
        cmsg = []
        for level, typ, val in anc:
            if fam == socket.AF_INET and level == socket.IPPROTO_IP and typ == IP_PKTINFO:
                # struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }
                dst = val[8:12]
                cmsg = [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("i4s4s", 0, dst, bytes(4)))]
            elif fam == socket.AF_INET6 and level == socket.IPPROTO_IPV6 and typ == IPV6_PKTINFO:
                # struct in6_pktinfo { in6_addr addr; int ifindex; }
                dst = val[0:16]
                cmsg = [(socket.IPPROTO_IPV6, IPV6_PKTINFO, struct.pack("16si", dst, 0))]
        try:
            sock.sendmsg([reply], cmsg, 0, peer)
            log(f"udp {ip_str(peer)} {peer[1]} echoed {len(data)}")
        except OSError as e:
            log(f"udp sendmsg to {ip_str(peer)} {peer[1]}: {e}")


def cmd_serve(a):
    fam = family_of(a.family)
    addr = a.addr or ("::" if fam == socket.AF_INET6 else "0.0.0.0")
    threads = []
    for proto, port in [(pr, int(po)) for pr in a.proto.split(",") for po in a.port.split(",")]:
        if proto == "udp":
            s = socket.socket(fam, socket.SOCK_DGRAM)
        elif proto == "tcp":
            s = socket.socket(fam, socket.SOCK_STREAM)
        elif proto == "sctp":
            s = socket.socket(fam, socket.SOCK_STREAM, IPPROTO_SCTP)
        else:
            sys.exit(f"serve: unknown protocol {proto}")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if fam == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if proto == "udp":
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
            else:
                s.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
        s.bind((a.sctp_addr if proto == "sctp" and a.sctp_addr else addr, port))
        if proto == "udp":
            t = threading.Thread(target=serve_udp, args=(a.name, s, fam), daemon=True)
        else:
            s.listen(128)
            t = threading.Thread(target=serve_stream, args=(a.name, proto, s), daemon=True)
        threads.append(t)
    for t in threads:
        t.start()
    log(f"READY {a.name} {a.proto} {addr} {a.port}")
    if a.ready_file:
        if stat.S_ISFIFO(os.stat(a.ready_file).st_mode if os.path.exists(a.ready_file) else 0):
            # A FIFO the caller waits on: one line per server.
            with open(a.ready_file, "w") as f:
                f.write(f"READY {a.name} {os.getpid()}\n")
        else:
            with open(a.ready_file + ".tmp", "w") as f:
                f.write(f"{os.getpid()}\n")
            os.rename(a.ready_file + ".tmp", a.ready_file)
    while True:
        time.sleep(3600)


# ---------------------------------------------------------------- client

class ConnFail(Exception):
    pass


def source_ip_for(fam, to, port):
    """The address the kernel would send from towards (to, port)."""
    s = socket.socket(fam, socket.SOCK_DGRAM)
    try:
        s.connect((to, port))
        return ip_str(s.getsockname())
    finally:
        s.close()


class Client:
    def __init__(self, a):
        self.a = a
        self.fam = family_of(a.family)
        self.wild = "::" if self.fam == socket.AF_INET6 else "0.0.0.0"
        self.binds = a.bind.split(",") if a.bind else []
        self.sctp_src = None
        self.used_ports = {}

    def new_socket(self, i, proto, port):
        a = self.a
        if proto == "udp":
            typ, ipproto = socket.SOCK_DGRAM, 0
        elif proto in ("tcp", "http"):
            typ, ipproto = socket.SOCK_STREAM, 0
        else:
            typ, ipproto = socket.SOCK_STREAM, IPPROTO_SCTP
        src = self.binds[i % len(self.binds)] if self.binds else None
        if proto == "sctp" and src is None:
            # A wildcard-bound SCTP socket lists every local address in its INIT (multi-homing);
            # bound to one address it offers only that one path.
            if self.sctp_src is None:
                self.sctp_src = source_ip_for(self.fam, a.to, port)
            src = self.sctp_src
        used = self.used_ports.setdefault(proto, set())
        for _attempt in range(50):
            s = socket.socket(self.fam, typ, ipproto)
            if a.same_source_port is not None:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((src or self.wild, a.same_source_port))
                return s
            s.bind((src or self.wild, 0))
            if s.getsockname()[1] not in used:
                return s
            s.close()
        raise ConnFail("no fresh source port")

    def hold(self, i, name, seen):
        a = self.a
        log(f"hold {i} server {name} seen {seen}")
        if a.hold_file:
            deadline = time.monotonic() + a.hold_max
            while not os.path.exists(a.hold_file):
                if time.monotonic() > deadline:
                    raise ConnFail(f"hold file {a.hold_file} never appeared")
                time.sleep(0.1)
        elif a.hold:
            time.sleep(a.hold)

    def one(self, i, proto, port, payload):
        """Returns (name, seen_ip, seen_port, local_ip, local_port, received_bytes)."""
        a = self.a
        s = self.new_socket(i, proto, port)
        try:
            s.settimeout(a.timeout)
            if proto in ("tcp", "http"):
                # No Nagle: the header and the echo are small writes, each would wait for
                # the peer's delayed ACK.
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.used_ports[proto].add(s.getsockname()[1])
            try:
                s.connect((a.to, port))
            except OSError as e:
                raise ConnFail(f"connect: {e}")
            local = s.getsockname()
            if proto == "udp":
                return self.one_udp(s, local, payload)
            if proto == "http":
                return self.one_http(s, local)
            close = a.close or ("rst" if a.same_source_port is not None and proto == "tcp"
                                else "fin")
            return self.one_stream(i, proto, close, s, local, payload)
        finally:
            s.close()

    def one_udp(self, s, local, payload):
        try:
            s.send(payload)
            reply = s.recv(65536)
        except socket.timeout:
            raise ConnFail("timeout")
        except OSError as e:
            raise ConnFail(f"{e}")
        name, seen_ip, seen_port, body = parse_reply(reply)
        if body != payload:
            raise ConnFail(f"echo differs ({len(body)} bytes back, {len(payload)} sent)",
                           name, seen_ip)
        return name, seen_ip, seen_port, ip_str(local), local[1], len(reply)

    def one_http(self, s, local):
        try:
            s.sendall(f"GET / HTTP/1.0\r\nHost: {self.a.to}\r\n\r\n".encode())
            reply = bytearray()
            while True:
                d = s.recv(65536)
                if not d:
                    break
                reply += d
        except socket.timeout:
            raise ConnFail(f"timeout ({len(reply)} bytes received)")
        except OSError as e:
            raise ConnFail(f"{e}")
        head, sep, body = bytes(reply).partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].decode(errors="replace")
        words = body.split()
        if not sep or not status.startswith("HTTP/1.") or status.split(" ")[1:2] != ["200"] \
                or not words:
            raise ConnFail(f"bad HTTP answer {status[:60]!r} ({len(reply)} bytes)")
        return words[0].decode(errors="replace"), "?", 0, ip_str(local), local[1], len(reply)

    def one_stream(self, i, proto, close, s, local, payload):
        a = self.a
        buf = bytearray()
        hdr = None  # (name, ip, port, header length)

        def take_header():
            nonlocal hdr
            nl = buf.find(b"\n")
            if hdr is None and nl >= 0:
                name, seen_ip, seen_port, _ = parse_reply(bytes(buf[:nl + 1]))
                hdr = (name, seen_ip, seen_port, nl + 1)

        def failure(what):
            return ConnFail(f"{what} ({len(buf)} bytes received, sent {sent})",
                            *(hdr[:2] if hdr else ()))

        sent = 0
        deadline = time.monotonic() + a.timeout
        if a.hold or a.hold_file:
            while hdr is None:
                try:
                    d = s.recv(65536)
                except socket.timeout:
                    raise failure("timeout waiting for the header")
                if not d:
                    raise failure("closed before the header")
                buf += d
                take_header()
            self.hold(i, hdr[0], hdr[1])
            deadline = time.monotonic() + a.timeout

        s.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        shut = False
        eof = False
        try:
            while True:
                want_write = sent < len(payload)
                complete = hdr is not None and len(buf) - hdr[3] >= len(payload)
                if not want_write and complete:
                    if close == "rst":
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        break
                    if proto == "sctp":
                        # SCTP has no half-close: close() sends SHUTDOWN, the server reads its
                        # EOF and closes too (a shutdown(SHUT_WR) here never reads EOF back).
                        break
                    if not shut:
                        s.shutdown(socket.SHUT_WR)
                        shut = True
                    if eof:
                        break
                elif eof:
                    raise failure("closed early")
                sel.modify(s, selectors.EVENT_READ | (selectors.EVENT_WRITE if want_write else 0))
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise failure("timeout")
                if want_write:
                    try:
                        sent += s.send(payload[sent:sent + 65536])
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        raise failure(f"send: {e}")
                try:
                    d = s.recv(65536)
                    if d:
                        buf += d
                        take_header()
                    else:
                        eof = True
                except BlockingIOError:
                    pass
                except OSError as e:
                    raise failure(f"recv: {e}")
        finally:
            sel.close()
        body = bytes(buf[hdr[3]:])
        if body != payload:
            raise ConnFail(f"echo differs ({len(body)} bytes back, {len(payload)} sent)",
                           hdr[0], hdr[1])
        return hdr[0], hdr[1], hdr[2], ip_str(local), local[1], len(buf)


def parse_reply(reply):
    nl = reply.find(b"\n")
    if nl < 0:
        raise ConnFail("no header line in the reply")
    try:
        name, seen_ip, seen_port = reply[:nl].decode().split(" ")
        seen_port = int(seen_port)
    except ValueError:
        raise ConnFail(f"bad header line {reply[:nl][:80]!r}")
    return name, seen_ip, seen_port, reply[nl + 1:]


def payload_size(spec, proto):
    size = 64
    for item in spec.split(","):
        if "=" in item:
            p, n = item.split("=", 1)
            if p == proto:
                return int(n)
        else:
            size = int(item)
    return size


def cmd_client(a):
    c = Client(a)
    out = sys.stderr if a.names else sys.stdout
    runs = [(pr, int(po)) for pr in a.proto.split(",") for po in a.port.split(",")]
    any_failed = False
    for proto, port in runs:
        tag = f" {proto}/{port}" if len(runs) > 1 else ""
        if len(runs) > 1:
            print(f"run {proto} {a.to} {port}", file=out, flush=True)
        names = []
        counts = {}
        failed = 0
        sent_total = 0
        recv_total = 0
        size = payload_size(a.payload_bytes, proto)
        for i in range(a.count):
            if a.until_file and os.path.exists(a.until_file):
                break
            started = time.time()
            payload = os.urandom(size)
            try:
                name, seen_ip, seen_port, lip, lport, got = c.one(i, proto, port, payload)
                why = ""
                if a.check_seen and proto != "http" and not (same_ip(seen_ip, lip) and seen_port == lport):
                    why = f" (server saw {seen_ip} {seen_port}, client is {lip} {lport})"
                status = "FAIL" if why else "ok"
                sent_total += len(payload) if proto != "http" else 0
                recv_total += got
            except ConnFail as e:
                name = e.args[1] if len(e.args) > 1 else "?"
                seen_ip = e.args[2] if len(e.args) > 2 else "?"
                why = f" ({e.args[0]})"
                status = "FAIL"
            if status == "FAIL":
                failed += 1
                names.append("-")
            else:
                names.append(name)
                counts[name] = counts.get(name, 0) + 1
            at = f" at={started:.6f}" if a.timestamps else ""
            print(f"conn {i} server {name} seen {seen_ip} {status}{why}{at}", file=out, flush=True)
            if a.interval:
                time.sleep(a.interval)
        servers = " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
        done = len(names)
        print(f"summary{tag}: {done} conns, {done - failed} ok, {failed} failed; "
              f"servers {servers}; bytes sent {sent_total} received {recv_total}",
              file=out, flush=True)
        if a.names:
            print(" ".join(names), flush=True)
        any_failed = any_failed or failed > 0
    return 1 if any_failed else 0


# A small option parser: argparse (with re, gettext, shutil) costs about a second of start-up
# under TCG, on top of the interpreter's own.
OPTIONS = {
    "serve": {
        "--name": None, "--proto": None, "--port": None, "--addr": "", "--family": "4",
        "--sctp-addr": "", "--ready-file": "",
    },
    "client": {
        "--proto": None, "--to": None, "--port": None, "--count": "1", "--payload-bytes": "64",
        "--family": "", "--new-source-port": False, "--same-source-port": "", "--bind": "",
        "--timeout": "5", "--close": "", "--check-seen": False, "--hold-file": "",
        "--hold": "", "--hold-max": "120", "--interval": "0", "--names": False,
        "--until-file": "", "--timestamps": False,
    },
}


class Args:
    pass


def usage(msg):
    sys.stderr.write(__doc__ + f"\ntraffic.py: {msg}\n")
    sys.exit(2)


def parse_args(argv):
    if not argv or argv[0] not in OPTIONS:
        usage("the first argument is serve or client")
    cmd, spec = argv[0], OPTIONS[argv[0]]
    vals = dict(spec)
    i = 1
    while i < len(argv):
        opt, eq, val = argv[i].partition("=")
        if opt not in spec:
            usage(f"{cmd}: unknown option {argv[i]}")
        if spec[opt] is False:
            vals[opt] = True
        elif eq:
            vals[opt] = val
        else:
            i += 1
            if i >= len(argv):
                usage(f"{cmd}: {opt} needs a value")
            vals[opt] = argv[i]
        i += 1
    a = Args()
    a.cmd = cmd
    for opt, val in vals.items():
        if val is None:
            usage(f"{cmd}: {opt} is required")
        setattr(a, opt[2:].replace("-", "_"), val)
    try:
        if cmd == "client":
            for p in a.proto.split(","):
                if p not in ("tcp", "udp", "sctp", "http"):
                    usage(f"client: unknown protocol {p}")
            a.count = int(a.count)
            a.timeout = float(a.timeout)
            a.hold = float(a.hold) if a.hold else 0.0
            a.hold_max = float(a.hold_max)
            a.interval = float(a.interval)
            a.same_source_port = int(a.same_source_port) if a.same_source_port else None
            if a.close not in ("", "fin", "rst"):
                usage("client: --close is fin or rst")
            if a.new_source_port and a.same_source_port is not None:
                usage("client: --new-source-port and --same-source-port exclude each other")
            if not a.family:
                a.family = "6" if ":" in a.to else "4"
            payload_size(a.payload_bytes, "tcp")
        if a.family not in ("4", "6"):
            usage("--family is 4 or 6")
    except ValueError as e:
        usage(f"bad value: {e}")
    return a


def main():
    a = parse_args(sys.argv[1:])
    if a.cmd == "serve":
        cmd_serve(a)
    else:
        sys.exit(cmd_client(a))


if __name__ == "__main__":
    main()
