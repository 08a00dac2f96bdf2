#!/usr/bin/env python3
"""Traffic for the data-plane scenarios: one long-running server per real server, one client
process opening many connections (process start-up is slow under TCG: ~2 per second).

  traffic.py serve --name NAME --proto tcp|udp|sctp[,..] --port P[,..] [--addr A] [--family 4|6]
                   [--ready-file PATH]
  traffic.py client --proto tcp|udp|sctp --to VIP --port P --count N [--payload-bytes B]
                   [--family 4|6] [--new-source-port | --same-source-port SPORT]
                   [--bind ADDR[,ADDR..]] [--timeout S] [--close fin|rst] [--check-seen]
                   [--hold-file PATH | --hold SECS] [--names]

Wire protocol. For every connection (TCP, SCTP) or datagram (UDP) the server answers with one line
`NAME <peer-ip> <peer-port>\\n` — the real server's name and the client address it saw — followed
by an echo of every byte the client sent. On TCP/SCTP the header is sent on accept and the echo
streams; the server closes when the client has shut down its side (or reset). On UDP the answer
to a datagram is one datagram: the header line then the datagram's bytes, sent from the address
the request was sent to (IP_PKTINFO), so DR/TUN real servers answer from the VIP.

The client opens --count connections one after the other, each from a new source port (never one
already used in this run) unless --same-source-port; sends --payload-bytes random bytes; reads
the header and the echo; checks the echo is byte-identical; and prints per connection
`conn <i> server <NAME> seen <peer-ip> ok|FAIL [reason]` and then a `summary:` line. Exit status
is 1 if any connection failed or timed out. With --names it prints instead just the sequence of
server names on one line (`-` for a failed connection), and the per-connection lines on stderr.

Closing (TCP/SCTP): --close fin (default) shuts down the write side and waits for the server's
close, so when the next connection starts the director has seen both FINs (IPVS counts the
connection as inactive: what makes lc/wlc sequences deterministic); --close rst aborts with an
RST after the echo (no TIME_WAIT: IPVS's entry goes to CLOSE, 10 s) — the default with
--same-source-port on TCP, whose 4-tuple could not be reused otherwise.

--hold-file PATH / --hold SECS: after the header arrives, print `hold <i> server <NAME> seen ...`
and wait (until PATH exists, or SECS) before sending the payload: a long-lived established
connection (used to check that weight 0 keeps established connections alive).
"""
import argparse
import ipaddress
import os
import selectors
import socket
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
    try:
        return ipaddress.ip_address(a) == ipaddress.ip_address(b)
    except ValueError:
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
        s.bind((addr, port))
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
        self.binds = a.bind.split(",") if a.bind else []
        if a.proto == "sctp" and not self.binds:
            # A wildcard-bound SCTP socket lists every local address in its INIT (multi-homing);
            # bound to one address it offers only that one path.
            self.binds = [source_ip_for(self.fam, a.to, a.port)]
        self.used_ports = set()
        self.close = a.close or ("rst" if a.same_source_port and a.proto == "tcp" else "fin")

    def new_socket(self, i):
        a = self.a
        if a.proto == "udp":
            typ, proto = socket.SOCK_DGRAM, 0
        elif a.proto == "tcp":
            typ, proto = socket.SOCK_STREAM, 0
        else:
            typ, proto = socket.SOCK_STREAM, IPPROTO_SCTP
        src = self.binds[i % len(self.binds)] if self.binds else None
        for _attempt in range(50):
            s = socket.socket(self.fam, typ, proto)
            if a.same_source_port is not None:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind((src or ("::" if self.fam == socket.AF_INET6 else "0.0.0.0"),
                        a.same_source_port))
                return s
            if src is None and a.proto == "tcp":
                return s  # connect() picks a port not in use, TIME_WAIT included
            s.bind((src or ("::" if self.fam == socket.AF_INET6 else "0.0.0.0"), 0))
            key = s.getsockname()[1]
            if key not in self.used_ports:
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

    def one(self, i, payload):
        """Returns (name, seen_ip, seen_port, local_ip, local_port, received_bytes)."""
        a = self.a
        s = self.new_socket(i)
        try:
            s.settimeout(a.timeout)
            try:
                s.connect((a.to, a.port))
            except OSError as e:
                raise ConnFail(f"connect: {e}")
            local = s.getsockname()
            self.used_ports.add(local[1])
            if a.proto == "udp":
                return self.one_udp(s, local, payload)
            return self.one_stream(i, s, local, payload)
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

    def one_stream(self, i, s, local, payload):
        a = self.a
        buf = bytearray()
        hdr = None  # (name, ip, port, header length)

        def take_header():
            nonlocal hdr
            nl = buf.find(b"\n")
            if hdr is None and nl >= 0:
                name, seen_ip, seen_port, _ = parse_reply(bytes(buf[:nl + 1]))
                hdr = (name, seen_ip, seen_port, nl + 1)

        deadline = time.monotonic() + a.timeout
        if a.hold or a.hold_file:
            while hdr is None:
                try:
                    d = s.recv(65536)
                except socket.timeout:
                    raise ConnFail("timeout waiting for the header")
                if not d:
                    raise ConnFail("closed before the header")
                buf += d
                take_header()
            self.hold(i, hdr[0], hdr[1])
            deadline = time.monotonic() + a.timeout

        s.setblocking(False)
        sel = selectors.DefaultSelector()
        sel.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
        sent = 0
        shut = False
        eof = False
        try:
            while True:
                want_write = sent < len(payload)
                complete = hdr is not None and len(buf) - hdr[3] >= len(payload)
                if not want_write and complete:
                    if self.close == "rst":
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                        break
                    if not shut:
                        s.shutdown(socket.SHUT_WR)
                        shut = True
                    if eof:
                        break
                elif eof:
                    raise ConnFail(f"closed early ({len(buf)} bytes received, sent {sent})",
                                   *(hdr[:2] if hdr else ()))
                sel.modify(s, selectors.EVENT_READ | (selectors.EVENT_WRITE if want_write else 0))
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    raise ConnFail(f"timeout ({len(buf)} bytes received, sent {sent})",
                                   *(hdr[:2] if hdr else ()))
                if want_write:
                    try:
                        sent += s.send(payload[sent:sent + 65536])
                    except BlockingIOError:
                        pass
                    except OSError as e:
                        raise ConnFail(f"send: {e}", *(hdr[:2] if hdr else ()))
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
                    raise ConnFail(f"recv: {e}", *(hdr[:2] if hdr else ()))
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


def cmd_client(a):
    c = Client(a)
    out = sys.stderr if a.names else sys.stdout
    names = []
    counts = {}
    failed = 0
    sent_total = 0
    recv_total = 0
    for i in range(a.count):
        payload = os.urandom(a.payload_bytes)
        try:
            name, seen_ip, seen_port, lip, lport, got = c.one(i, payload)
            why = ""
            if a.check_seen and not (same_ip(seen_ip, lip) and seen_port == lport):
                why = f" (server saw {seen_ip} {seen_port}, client is {lip} {lport})"
            status = "FAIL" if why else "ok"
            sent_total += len(payload)
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
        print(f"conn {i} server {name} seen {seen_ip} {status}{why}", file=out, flush=True)
        if a.interval:
            time.sleep(a.interval)
    servers = " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    print(f"summary: {a.count} conns, {a.count - failed} ok, {failed} failed; servers {servers}; "
          f"bytes sent {sent_total} received {recv_total}", file=out, flush=True)
    if a.names:
        print(" ".join(names), flush=True)
    return 1 if failed else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--name", required=True)
    s.add_argument("--proto", required=True, help="tcp, udp, sctp, or a comma list")
    s.add_argument("--port", required=True, help="a port, or a comma list")
    s.add_argument("--addr")
    s.add_argument("--family", default="4", choices=["4", "6"])
    s.add_argument("--ready-file")
    c = sub.add_parser("client")
    c.add_argument("--proto", required=True, choices=["tcp", "udp", "sctp"])
    c.add_argument("--to", required=True)
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--count", type=int, default=1)
    c.add_argument("--payload-bytes", type=int, default=64)
    c.add_argument("--family", default=None, choices=["4", "6"])
    g = c.add_mutually_exclusive_group()
    g.add_argument("--new-source-port", action="store_true", help="the default")
    g.add_argument("--same-source-port", type=int, metavar="SPORT")
    c.add_argument("--bind", help="source address(es), used in turn by the connections")
    c.add_argument("--timeout", type=float, default=5.0, help="per connection (default 5 s)")
    c.add_argument("--close", choices=["fin", "rst"])
    c.add_argument("--check-seen", action="store_true",
                   help="fail a connection whose server did not see the client's own address")
    h = c.add_mutually_exclusive_group()
    h.add_argument("--hold-file")
    h.add_argument("--hold", type=float)
    c.add_argument("--hold-max", type=float, default=120.0)
    c.add_argument("--interval", type=float, default=0.0, help="pause between connections")
    c.add_argument("--names", action="store_true")
    a = p.parse_args()
    if a.cmd == "serve":
        cmd_serve(a)
    else:
        if a.family is None:
            a.family = "6" if ":" in a.to else "4"
        sys.exit(cmd_client(a))


if __name__ == "__main__":
    main()
