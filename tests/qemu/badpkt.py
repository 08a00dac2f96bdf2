#!/usr/bin/env python3
"""Malformed packets for the director, sent as whole Ethernet frames on AF_PACKET sockets (nothing
is fixed up by the sender's stack), and what the director did with each: the frames that reached
the real server and the frames that came back to the client. Python 3 stdlib only.

  badpkt.py run --out FILE [--run N] [--seed S] [--fuzz N] [--only fixed|fuzz] [--gap SECS]
                [--client-ns NS] [--client-if IF] [--rs-ns NS] [--rs-if IF]
                [--dir-mac MAC] [--dir-rs-mac MAC] [--vip4 A] [--vip6 A] [--rip4 A] [--rip6 A]
                [--vport P] [--rport P] [--conn4 ADDR:PORT] [--conn6 ADDR:PORT] [--conn-vport P]
                [--conn-rport P] [--serve 0|1] [--held 0|1] [--check 0|1]
  badpkt.py compare A B [--labels LA,LB] [--show N]
  badpkt.py list [--fuzz N] [--seed S]

`run` enters the namespaces itself (setns through ctypes): one AF_PACKET socket on the client's
interface (sends the frames to the director's front MAC, captures what the director sends back)
and one on the real server's (captures what the director forwards; sends the few frames that come
from the real server's side). One process does the whole run (process start-up is slow under
TCG): with --serve 1 it also runs TCP, UDP and SCTP echo servers (IPv4 and IPv6) on --conn-rport
in the real server's namespace, threads that answer like traffic.py's (a header line, then the
echo); with --held 1 it first opens one TCP connection per family from --conn4/--conn6 to the
VIP's --conn-vport (the connection the ICMP "conn" cases quote). It sends every case once, in
order, with --gap seconds between cases, then waits for the stragglers; then (--held) each held
connection must still echo and (--check 1) two new TCP, UDP and SCTP connections per family to
--conn-vport must work: a `check ok:` or `CHECK FAIL:` line each, and exit status 3 if any
failed. It writes one line per case:

  case <id> <name> rs=<what reached the real server> cl=<what came back to the client> dig=<..>

Attribution: every case uses its own client address (IPv4 10.<run>.<id/256>.<id%256>, IPv6
fd00:a<run>::<id>; NAT keeps the client address both ways), so a frame belongs to its case by its
source address at the real server and its destination address at the client, however late it
arrives. --run differs between the runs of one VM boot (ip_vs, then rvs), so a late reply from an
earlier run (a retransmission) can never be taken for one of this run. The director routes
10.<run>.0.0/16 and fd00:a<run>::/64 via the client's own address; the client does not own them,
does not forward, and drops what arrives for them (silently) after the capture has seen it.

A frame is summarised as L4/IPLEN:detail@where, e.g. `tcp/40:S>rip` (a SYN, 40 bytes of IP packet,
to the real server's address), `tcp/40:RA<vip` (an RST-ACK from the virtual address),
`icmp/56:3.4>rip`, `udp/36`, `sctp/48:INIT`, `frag/..` for non-first fragments; rs= and cl= are
the sorted sets of those (duplicates, e.g. retransmissions, count once), `-` for nothing. dig= is
a digest of every byte of each frame that reached the real server (the NAT rewrite itself); a
frame that arrives with its L4 checksum still to be completed (CHECKSUM_PARTIAL, which veth
passes on: ip_vs leaves the checksums it rewrites so) has it completed first, as the receiver
would trust it. `pkt <id> <digest> <hex>` lines follow with those frames' bytes.

The IP header of every frame is valid (version, IHL, total/payload length equal to what is sent,
IPv4 header checksum), since the IP stack drops bad IP headers before netfilter: the malformation
is above IP, or in IPv4 options / IPv6 extension headers. The fuzz cases (ids from 1001) are a
valid TCP SYN, UDP datagram or SCTP INIT (IPv4 and IPv6) mutated by byte flips, byte and word
sets, truncations and extensions above the IP header, with the L4 checksum re-fixed in half of
them, from a fixed seed; the IP lengths and checksum are always re-fixed.

`compare` prints one line per fixed case with both outcomes, the fuzz totals (frames that reached
the real server, frames back to the client) and the first --show differing fuzz cases; it exits 1
if any fixed case differs (reach the real server or not, what was forwarded, what came back, or
the forwarded bytes) or the fuzz forwarded totals differ.
"""
import ctypes
import hashlib
import os
import random
import select
import socket
import struct
import sys
import threading
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
ETH_P_IPV6 = 0x86DD
CLONE_NEWNET = 0x40000000
PACKET_OUTGOING = 4
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_CSUMNOTREADY = 1 << 3

P_ICMP, P_TCP, P_UDP, P_SCTP, P_ICMP6 = 1, 6, 17, 132, 58
NH_HBH, NH_RT, NH_FRAG, NH_DST, NH_NONE = 0, 43, 44, 60, 59

FUZZ_BASE = 1001


# ---------------------------------------------------------------- checksums

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def pseudo(fam, src, dst, proto, length):
    if fam == 4:
        return src + dst + struct.pack("!BBH", 0, proto, length)
    return src + dst + struct.pack("!IxxxB", length, proto)


_CRC32C = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC32C.append(_c)


def crc32c(data):
    c = 0xFFFFFFFF
    t = _CRC32C
    for x in data:
        c = t[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


# ---------------------------------------------------------------- headers

def a4(s):
    return socket.inet_pton(socket.AF_INET, s)


def a6(s):
    return socket.inet_pton(socket.AF_INET6, s)


def ip4(src, dst, proto, payload, ident=0, ttl=64, opts=b"", frag=0, tos=0, tot_len=None,
        first=None):
    """A valid IPv4 header (IHL from the options, total length, checksum) and the payload.
    first: overrides the version/IHL byte (for headers quoted inside ICMP errors)."""
    assert len(opts) % 4 == 0 and len(opts) <= 40
    ihl = 5 + len(opts) // 4
    tl = ihl * 4 + len(payload) if tot_len is None else tot_len
    h = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl if first is None else first, tos, tl, ident,
                    frag, ttl, proto, 0, src, dst) + opts
    h = h[:10] + struct.pack("!H", csum(h)) + h[12:]
    return h + payload


def ip6(src, dst, nh, payload, flow=0, hlim=64, plen=None, first=0x60):
    vtf = (first << 24) | (flow & 0xFFFFF)
    return struct.pack("!IHBB16s16s", vtf, len(payload) if plen is None else plen, nh, hlim,
                       src, dst) + payload


def tcp(sport, dport, seq=0, ack=0, flags=0x02, win=64240, opts=b"", data=b"", doff=None,
        fam=None, src=None, dst=None, check=None):
    """A TCP header. The checksum is right for (fam, src, dst) unless check is given."""
    hl = 20 + len(opts)
    d = hl // 4 if doff is None else doff
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, (d & 0xF) << 4, flags, win, 0, 0)
    seg = h + opts + data
    if check is None and fam is not None:
        check = csum(pseudo(fam, src, dst, P_TCP, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", check or 0) + seg[18:]


def udp(sport, dport, data=b"", length=None, fam=None, src=None, dst=None, check=None):
    ln = 8 + len(data) if length is None else length
    seg = struct.pack("!HHHH", sport, dport, ln & 0xFFFF, 0) + data
    if check is None and fam is not None:
        check = csum(pseudo(fam, src, dst, P_UDP, len(seg)) + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", check or 0) + seg[8:]


def sctp(sport, dport, vtag, chunks, bad_crc=False):
    pkt = struct.pack("!HHII", sport, dport, vtag, 0) + chunks
    c = crc32c(pkt)
    if bad_crc:
        c ^= 0x5A5A5A5A
    return pkt[:8] + struct.pack("<I", c) + pkt[12:]


def sctp_chunk(ctype, body=b"", flags=0, length=None):
    ln = 4 + len(body) if length is None else length
    ch = struct.pack("!BBH", ctype, flags, ln) + body
    return ch + b"\0" * (-len(ch) % 4)


def sctp_init(tag=0x11223344, tsn=0x01000000, params=b""):
    return sctp_chunk(1, struct.pack("!IIHHI", tag, 65535, 10, 10, tsn) + params)


def icmp4(typ, code, rest=b"\0\0\0\0", body=b"", check=None):
    m = struct.pack("!BBH", typ, code, 0) + rest + body
    c = csum(m) if check is None else check
    return m[:2] + struct.pack("!H", c) + m[4:]


def icmp6(src, dst, typ, code, rest=b"\0\0\0\0", body=b"", check=None):
    m = struct.pack("!BBH", typ, code, 0) + rest + body
    c = csum(pseudo(6, src, dst, P_ICMP6, len(m)) + m) if check is None else check
    return m[:2] + struct.pack("!H", c) + m[4:]


def ext(nh, body):
    """An IPv6 extension header (hop-by-hop, destination options, routing): body padded to a
    multiple of 8 bytes with the 2-byte header."""
    raw = bytes([nh, 0]) + body
    raw += b"\0" * (-len(raw) % 8)
    return bytes([nh, len(raw) // 8 - 1]) + raw[2:]


def padn(n):
    """Options area of n bytes of PadN (n >= 2)."""
    return bytes([1, n - 2]) + b"\0" * (n - 2)


def frag6(nh, offset, more, ident):
    return struct.pack("!BBHI", nh, 0, (offset << 3) | (1 if more else 0), ident)


SYN_OPTS = (b"\x02\x04\x05\xb4" b"\x04\x02" b"\x08\x0a\x00\x01\x02\x03\x00\x00\x00\x00"
            b"\x01\x03\x03\x07")


# ---------------------------------------------------------------- cases

class Ctx:
    """What a case needs: its id, addresses, the topology."""

    def __init__(self, a, cid, rng):
        self.a = a
        self.id = cid
        self.rng = rng
        r = a.run
        self.c4 = a4(f"10.{r}.{cid >> 8}.{cid & 0xFF}")
        self.c6 = a6(f"fd00:a{r}::{cid:x}")
        self.vip4, self.vip6 = a4(a.vip4), a6(a.vip6)
        self.r4, self.r6 = a4(a.rip4), a6(a.rip6)
        self.sport = 20000 + cid % 40000
        self.vport = a.vport

    # Frames: (side, ethertype, l3 bytes); side "c" = from the client, "r" = from the real server.
    def v4(self, proto, payload, **kw):
        kw.setdefault("ident", self.id & 0xFFFF)
        return ("c", ETH_P_IP, ip4(self.c4, self.vip4, proto, payload, **kw))

    def v6(self, nh, payload, **kw):
        kw.setdefault("flow", self.id & 0xFFFFF)
        return ("c", ETH_P_IPV6, ip6(self.c6, self.vip6, nh, payload, **kw))

    def syn(self, fam, **kw):
        src, dst = (self.c4, self.vip4) if fam == 4 else (self.c6, self.vip6)
        kw.setdefault("seq", 0x10000000 + self.id)
        return tcp(self.sport, self.vport, fam=fam, src=src, dst=dst, **kw)

    def udp(self, fam, data=b"hello, world....", **kw):
        src, dst = (self.c4, self.vip4) if fam == 4 else (self.c6, self.vip6)
        return udp(self.sport, self.vport, data, fam=fam, src=src, dst=dst, **kw)

    def init(self, **kw):
        return sctp(self.sport, self.vport, 0, sctp_init(), **kw)


def fixed_cases():
    """[(name, fn(ctx) -> [frame...])]: the hand-made cases, in order (ids from 1)."""
    C = []

    def case(name):
        def reg(fn):
            C.append((name, fn))
            return fn
        return reg

    def add(name, fn):
        C.append((name, fn))

    # ---- controls: valid packets, forwarded by both
    add("v4-tcp-syn-ok", lambda c: [c.v4(P_TCP, c.syn(4))])
    add("v4-tcp-syn-opts-ok", lambda c: [c.v4(P_TCP, c.syn(4, opts=SYN_OPTS))])
    add("v4-udp-ok", lambda c: [c.v4(P_UDP, c.udp(4))])
    add("v4-sctp-init-ok", lambda c: [c.v4(P_SCTP, c.init())])
    add("v4-icmp-echo", lambda c: [c.v4(P_ICMP, icmp4(8, 0, struct.pack("!HH", c.id, 1),
                                                      b"ping" * 4))])
    add("v6-tcp-syn-ok", lambda c: [c.v6(P_TCP, c.syn(6))])
    add("v6-udp-ok", lambda c: [c.v6(P_UDP, c.udp(6))])
    add("v6-sctp-init-ok", lambda c: [c.v6(P_SCTP, c.init())])
    add("v6-icmp-echo", lambda c: [c.v6(P_ICMP6, icmp6(c.c6, c.vip6, 128, 0,
                                                       struct.pack("!HH", c.id, 1), b"ping" * 4))])

    # ---- IPv4 TCP
    for n in (0, 1, 4, 10, 19):
        add(f"v4-tcp-trunc-{n}", lambda c, n=n: [c.v4(P_TCP, c.syn(4)[:n])])
    add("v4-tcp-doff-0", lambda c: [c.v4(P_TCP, c.syn(4, doff=0))])
    add("v4-tcp-doff-4", lambda c: [c.v4(P_TCP, c.syn(4, doff=4))])
    add("v4-tcp-doff-6-past-end", lambda c: [c.v4(P_TCP, c.syn(4, doff=6))])
    add("v4-tcp-doff-15-past-end", lambda c: [c.v4(P_TCP, c.syn(4, doff=15))])
    add("v4-tcp-doff-15-data-short", lambda c: [c.v4(P_TCP, c.syn(4, doff=15, data=b"x" * 20))])
    add("v4-tcp-syn-bad-csum", lambda c: [c.v4(P_TCP, c.syn(4, check=0xDEAD))])
    add("v4-tcp-syn-csum-0", lambda c: [c.v4(P_TCP, c.syn(4, check=0))])
    add("v4-tcp-syn-data", lambda c: [c.v4(P_TCP, c.syn(4, data=b"GET / HTTP/1.0\r\n\r\n"))])
    add("v4-tcp-opt-len0", lambda c: [c.v4(P_TCP, c.syn(4, opts=b"\x02\x00\x05\xb4"))])
    add("v4-tcp-opt-len-past-end", lambda c: [c.v4(P_TCP, c.syn(4, opts=b"\x01\x01\x08\x28"))])
    for fl, nm in ((0x03, "synfin"), (0x12, "synack"), (0x06, "synrst"), (0x00, "null"),
                   (0xFF, "xmas"), (0x10, "ack"), (0x04, "rst"), (0x11, "finack")):
        add(f"v4-tcp-flags-{nm}", lambda c, fl=fl: [c.v4(P_TCP, c.syn(4, flags=fl))])
    add("v4-tcp-syn-then-trunc-4", lambda c: [c.v4(P_TCP, c.syn(4)), c.v4(P_TCP, c.syn(4)[:4])])
    add("v4-tcp-syn-then-trunc-12", lambda c: [c.v4(P_TCP, c.syn(4)),
                                               c.v4(P_TCP, c.syn(4, flags=0x10)[:12])])
    add("v4-tcp-syn-then-ack-doff-15", lambda c: [c.v4(P_TCP, c.syn(4)),
                                                  c.v4(P_TCP, c.syn(4, flags=0x10, doff=15))])
    add("v4-tcp-syn-then-ack-doff-2", lambda c: [c.v4(P_TCP, c.syn(4)),
                                                 c.v4(P_TCP, c.syn(4, flags=0x10, doff=2))])
    add("v4-tcp-syn-ttl-1", lambda c: [c.v4(P_TCP, c.syn(4), ttl=1)])
    add("v4-tcp-syn-ttl-0", lambda c: [c.v4(P_TCP, c.syn(4), ttl=0)])

    # ---- IPv4 UDP
    add("v4-udp-len-larger", lambda c: [c.v4(P_UDP, c.udp(4, length=8 + 16 + 10))])
    add("v4-udp-len-smaller", lambda c: [c.v4(P_UDP, c.udp(4, length=8 + 16 - 6))])
    add("v4-udp-len-4", lambda c: [c.v4(P_UDP, c.udp(4, length=4))])
    add("v4-udp-len-0", lambda c: [c.v4(P_UDP, c.udp(4, length=0))])
    add("v4-udp-len-larger-csum-garbage",
        lambda c: [c.v4(P_UDP, c.udp(4, length=8 + 16 + 10, check=0xBEEF))])
    add("v4-udp-len-smaller-csum-garbage",
        lambda c: [c.v4(P_UDP, c.udp(4, length=8 + 16 - 6, check=0xBEEF))])
    add("v4-udp-csum-garbage", lambda c: [c.v4(P_UDP, c.udp(4, check=0xBEEF))])
    add("v4-udp-csum-0", lambda c: [c.v4(P_UDP, c.udp(4, check=0))])
    add("v4-udp-trunc-4", lambda c: [c.v4(P_UDP, c.udp(4)[:4])])
    add("v4-udp-trunc-7", lambda c: [c.v4(P_UDP, c.udp(4)[:7])])
    add("v4-udp-hdr-only", lambda c: [c.v4(P_UDP, c.udp(4, data=b""))])
    add("v4-udp-then-trunc-4", lambda c: [c.v4(P_UDP, c.udp(4)), c.v4(P_UDP, c.udp(4)[:4])])
    add("v4-udp-then-len-larger", lambda c: [c.v4(P_UDP, c.udp(4)),
                                             c.v4(P_UDP, c.udp(4, length=200))])

    # ---- IPv4 SCTP
    add("v4-sctp-no-chunk", lambda c: [c.v4(P_SCTP, sctp(c.sport, c.vport, 0, b""))])
    add("v4-sctp-trunc-chunk-hdr", lambda c: [c.v4(P_SCTP, sctp(c.sport, c.vport, 0, b"\x01\x00"))])
    add("v4-sctp-trunc-common-8", lambda c: [c.v4(P_SCTP, c.init()[:8])])
    add("v4-sctp-init-bad-crc", lambda c: [c.v4(P_SCTP, c.init(bad_crc=True))])
    add("v4-sctp-init-len-0", lambda c: [c.v4(P_SCTP, sctp(c.sport, c.vport, 0,
                                                           sctp_chunk(1, b"\0" * 16, length=0)))])
    add("v4-sctp-init-len-past-end",
        lambda c: [c.v4(P_SCTP, sctp(c.sport, c.vport, 0, sctp_chunk(1, b"\0" * 16, length=400)))])
    add("v4-sctp-init-trunc-body",
        lambda c: [c.v4(P_SCTP, sctp(c.sport, c.vport, 0, sctp_chunk(1, b"\0" * 4)))])
    add("v4-sctp-data-noconn", lambda c: [c.v4(P_SCTP, sctp(c.sport, c.vport, 1,
                                                            sctp_chunk(0, b"\0" * 12 + b"abcd")))])
    add("v4-sctp-abort-noconn", lambda c: [c.v4(P_SCTP, sctp(c.sport, c.vport, 1,
                                                             sctp_chunk(6)))])
    add("v4-sctp-init-then-cookie-len-0",
        lambda c: [c.v4(P_SCTP, c.init()),
                   c.v4(P_SCTP, sctp(c.sport, c.vport, 1, sctp_chunk(10, b"\0" * 8, length=0)))])
    add("v4-sctp-init-then-cookie-len-huge",
        lambda c: [c.v4(P_SCTP, c.init()),
                   c.v4(P_SCTP, sctp(c.sport, c.vport, 1,
                                     sctp_chunk(10, b"\0" * 8, length=0xFFFC)))])
    add("v4-sctp-init-then-cookie-then-trunc",
        lambda c: [c.v4(P_SCTP, c.init()),
                   c.v4(P_SCTP, sctp(c.sport, c.vport, 1, sctp_chunk(10, b"\0" * 8)
                                     + b"\x0b\x00"))])
    add("v4-sctp-init-then-no-chunk",
        lambda c: [c.v4(P_SCTP, c.init()), c.v4(P_SCTP, sctp(c.sport, c.vport, 1, b""))])

    # ---- IPv4 ICMP errors to the VIP
    def inner4(c, proto, l4, src=None, dst=None, tot=None, first=None):
        src = c.vip4 if src is None else src
        dst = c.c4 if dst is None else dst
        return ip4(src, dst, proto, l4, ident=0x4242, tot_len=tot or 20 + 20, first=first)

    def conn4_inner(c, n):
        host, port = c.a.conn4
        th = tcp(c.a.conn_vport, port, seq=0x5EED0000, ack=0x5EED0001, flags=0x18)
        return ip4(c.vip4, a4(host), P_TCP, th[:n], ident=0x4343, tot_len=40 + 100)

    for tname, typ, code, rest in (("unreach", 3, 3, b"\0\0\0\0"),
                                   ("fragneeded", 3, 4, b"\0\0\x03\xe8"),
                                   ("timeexceeded", 11, 0, b"\0\0\0\0")):
        def icmp_case(body_fn, check=None, typ=typ, code=code, rest=rest):
            return lambda c: [c.v4(P_ICMP, icmp4(typ, code, rest, body_fn(c), check=check))]
        add(f"v4-icmp-{tname}-empty", icmp_case(lambda c: b""))
        add(f"v4-icmp-{tname}-random", icmp_case(lambda c: bytes(c.rng.randrange(256)
                                                                 for _ in range(28))))
        add(f"v4-icmp-{tname}-inner-ihl15-20bytes",
            icmp_case(lambda c: inner4(c, P_TCP, b"", first=0x4F)))
        add(f"v4-icmp-{tname}-inner-ihl15-full",
            icmp_case(lambda c: inner4(c, P_TCP, bytes(40) + c.syn(4)[:8], first=0x4F)))
        add(f"v4-icmp-{tname}-inner-ihl4",
            icmp_case(lambda c: inner4(c, P_TCP, c.syn(4)[:8], first=0x44)))
        add(f"v4-icmp-{tname}-inner-version6",
            icmp_case(lambda c: inner4(c, P_TCP, tcp(c.vport, c.sport)[:8], first=0x65)))
        add(f"v4-icmp-{tname}-inner-trunc-12",
            icmp_case(lambda c: inner4(c, P_TCP, b"")[:12]))
        add(f"v4-icmp-{tname}-inner-tcp-2",
            icmp_case(lambda c: inner4(c, P_TCP, tcp(c.vport, c.sport)[:2])))
        add(f"v4-icmp-{tname}-inner-udp-2",
            icmp_case(lambda c: inner4(c, P_UDP, udp(c.vport, c.sport)[:2], tot=28)))
        add(f"v4-icmp-{tname}-inner-sctp-2",
            icmp_case(lambda c: inner4(c, P_SCTP, sctp(c.vport, c.sport, 0, b"")[:2], tot=32)))
        add(f"v4-icmp-{tname}-inner-tcp-8-noconn",
            icmp_case(lambda c: inner4(c, P_TCP, tcp(c.vport, c.sport)[:8])))
        add(f"v4-icmp-{tname}-inner-frag-nonfirst",
            icmp_case(lambda c: ip4(c.vip4, c.c4, P_TCP, tcp(c.vport, c.sport)[:8], ident=0x4242,
                                    tot_len=40, frag=100)))
        add(f"v4-icmp-{tname}-conn-8", icmp_case(lambda c: conn4_inner(c, 8)))
        add(f"v4-icmp-{tname}-conn-4", icmp_case(lambda c: conn4_inner(c, 4)))
        add(f"v4-icmp-{tname}-conn-2", icmp_case(lambda c: conn4_inner(c, 2)))
        add(f"v4-icmp-{tname}-conn-0", icmp_case(lambda c: conn4_inner(c, 0)))
        add(f"v4-icmp-{tname}-conn-8-bad-csum", icmp_case(lambda c: conn4_inner(c, 8),
                                                          check=0x1234))
    add("v4-icmp-trunc-3", lambda c: [c.v4(P_ICMP, icmp4(3, 3)[:3])])
    add("v4-icmp-srcquench-conn-8", lambda c: [c.v4(P_ICMP, icmp4(4, 0, b"\0" * 4,
                                                                  conn4_inner(c, 8)))])

    # ---- IPv4 options and fragments
    add("v4-opt-nop-syn", lambda c: [c.v4(P_TCP, c.syn(4), opts=b"\x01" * 40)])
    add("v4-opt-eol-syn", lambda c: [c.v4(P_TCP, c.syn(4), opts=b"\x00" * 40)])
    add("v4-opt-garbage-syn", lambda c: [c.v4(P_TCP, c.syn(4),
                                              opts=bytes(c.rng.randrange(256) for _ in range(40)))])
    add("v4-opt-rr-syn", lambda c: [c.v4(P_TCP, c.syn(4), opts=b"\x07\x27\x04" + b"\0" * 37)])
    # A full timestamp option (pointer past the end): the director bumps its overflow count
    # instead of writing its clock into it, so the forwarded bytes are the same every run.
    add("v4-opt-ts-full-syn", lambda c: [c.v4(P_TCP, c.syn(4),
                                              opts=b"\x44\x28\x29\x00" + b"\0" * 36)])
    add("v4-opt-ra-syn", lambda c: [c.v4(P_TCP, c.syn(4), opts=b"\x94\x04\x00\x00")])
    add("v4-opt-lsrr-syn", lambda c: [c.v4(P_TCP, c.syn(4),
                                           opts=b"\x83\x07\x04" + a4("172.16.0.11") + b"\x00")])
    add("v4-opt-bad-len-syn", lambda c: [c.v4(P_TCP, c.syn(4), opts=b"\x07\x30\x04\x00")])
    add("v4-opt-nop-udp", lambda c: [c.v4(P_UDP, c.udp(4), opts=b"\x01" * 40)])
    add("v4-opt-nop-sctp", lambda c: [c.v4(P_SCTP, c.init(), opts=b"\x01" * 40)])
    add("v4-frag-nonfirst", lambda c: [c.v4(P_TCP, b"\xaa" * 32, frag=100)])
    add("v4-frag-nonfirst-mf", lambda c: [c.v4(P_TCP, b"\xaa" * 32, frag=0x2000 | 100)])
    add("v4-frag-first-mf-syn", lambda c: [c.v4(P_TCP, c.syn(4, data=b"x" * 12), frag=0x2000)])
    add("v4-frag-first-mf-8", lambda c: [c.v4(P_TCP, c.syn(4)[:8], frag=0x2000)])
    add("v4-frag-first-mf-udp", lambda c: [c.v4(P_UDP, c.udp(4, data=b"y" * 40)[:24],
                                                frag=0x2000)])

    def frag_pair4(c, l4, proto):
        return [c.v4(proto, l4[:24], frag=0x2000), c.v4(proto, l4[24:], frag=3)]
    add("v4-frag-pair-syn", lambda c: frag_pair4(c, c.syn(4, data=b"z" * 40), P_TCP))
    add("v4-frag-pair-udp", lambda c: frag_pair4(c, c.udp(4, data=b"z" * 40), P_UDP))
    add("v4-df-syn", lambda c: [c.v4(P_TCP, c.syn(4), frag=0x4000)])
    add("v4-proto-253", lambda c: [c.v4(253, b"\x01" * 20)])
    add("v4-proto-0", lambda c: [c.v4(0, b"\x01" * 20)])
    add("v4-eth-trailer-syn", lambda c: [("c", ETH_P_IP, c.v4(P_TCP, c.syn(4))[2] + b"T" * 30)])

    # ---- IPv6 TCP / UDP / SCTP
    for n in (0, 4, 10, 19):
        add(f"v6-tcp-trunc-{n}", lambda c, n=n: [c.v6(P_TCP, c.syn(6)[:n])])
    add("v6-tcp-doff-4", lambda c: [c.v6(P_TCP, c.syn(6, doff=4))])
    add("v6-tcp-doff-15-past-end", lambda c: [c.v6(P_TCP, c.syn(6, doff=15))])
    add("v6-tcp-syn-bad-csum", lambda c: [c.v6(P_TCP, c.syn(6, check=0xDEAD))])
    add("v6-tcp-flags-synfin", lambda c: [c.v6(P_TCP, c.syn(6, flags=0x03))])
    add("v6-tcp-syn-then-trunc-4", lambda c: [c.v6(P_TCP, c.syn(6)), c.v6(P_TCP, c.syn(6)[:4])])
    add("v6-tcp-syn-hlim-1", lambda c: [c.v6(P_TCP, c.syn(6), hlim=1)])
    add("v6-tcp-syn-hlim-0", lambda c: [c.v6(P_TCP, c.syn(6), hlim=0)])
    add("v6-udp-len-larger", lambda c: [c.v6(P_UDP, c.udp(6, length=8 + 16 + 10))])
    add("v6-udp-len-smaller", lambda c: [c.v6(P_UDP, c.udp(6, length=8 + 16 - 6))])
    add("v6-udp-csum-garbage", lambda c: [c.v6(P_UDP, c.udp(6, check=0xBEEF))])
    add("v6-udp-csum-0", lambda c: [c.v6(P_UDP, c.udp(6, check=0))])
    add("v6-udp-trunc-4", lambda c: [c.v6(P_UDP, c.udp(6)[:4])])
    add("v6-sctp-no-chunk", lambda c: [c.v6(P_SCTP, sctp(c.sport, c.vport, 0, b""))])
    add("v6-sctp-trunc-chunk-hdr", lambda c: [c.v6(P_SCTP, sctp(c.sport, c.vport, 0, b"\x01\x00"))])
    add("v6-sctp-init-bad-crc", lambda c: [c.v6(P_SCTP, c.init(bad_crc=True))])
    add("v6-sctp-init-len-0", lambda c: [c.v6(P_SCTP, sctp(c.sport, c.vport, 0,
                                                           sctp_chunk(1, b"\0" * 16, length=0)))])

    # ---- IPv6 extension headers
    add("v6-hbh-len-past-end", lambda c: [c.v6(NH_HBH, bytes([P_TCP, 20]) + padn(6) + c.syn(6))])
    add("v6-hbh-padn-syn", lambda c: [c.v6(NH_HBH, ext(P_TCP, padn(6)) + c.syn(6))])
    add("v6-hbh-not-first", lambda c: [c.v6(NH_DST, ext(NH_HBH, padn(6)) + ext(P_TCP, padn(6))
                                            + c.syn(6))])

    def dst_chain(n, last):
        out = b""
        for i in range(n):
            out += ext(NH_DST if i < n - 1 else last, padn(6))
        return out
    add("v6-dst-chain-20-syn", lambda c: [c.v6(NH_DST, dst_chain(20, P_TCP) + c.syn(6))])
    add("v6-dst-chain-20-udp", lambda c: [c.v6(NH_DST, dst_chain(20, P_UDP) + c.udp(6))])
    add("v6-dst-len-past-end", lambda c: [c.v6(NH_DST, bytes([P_TCP, 30]) + padn(6) + c.syn(6))])
    add("v6-dst-unknown-opt-discard", lambda c: [c.v6(NH_DST, ext(P_TCP, b"\x80\x04abcd")
                                                      + c.syn(6))])
    add("v6-dst-trunc-1", lambda c: [c.v6(NH_DST, bytes([P_TCP]))])
    add("v6-rh0-segleft-0-syn",
        lambda c: [c.v6(NH_RT, ext(P_TCP, bytes([0, 0]) + b"\0" * 4 + a6("fd00:2::11"))
                        + c.syn(6))])
    add("v6-rh0-segleft-1-syn",
        lambda c: [c.v6(NH_RT, ext(P_TCP, bytes([0, 1]) + b"\0" * 4 + a6("fd00:2::11"))
                        + c.syn(6))])
    add("v6-rh2-segleft-1-syn",
        lambda c: [c.v6(NH_RT, ext(P_TCP, bytes([2, 1]) + b"\0" * 4 + a6("fd00:2::11"))
                        + c.syn(6))])
    add("v6-srh-segleft-0-syn",
        lambda c: [c.v6(NH_RT, ext(P_TCP, bytes([4, 0, 0, 0, 0, 0]) + c.vip6) + c.syn(6))])
    add("v6-rh-unknown-segleft-0-udp",
        lambda c: [c.v6(NH_RT, ext(P_UDP, bytes([200, 0]) + b"\0" * 4) + c.udp(6))])
    add("v6-frag-nonfirst", lambda c: [c.v6(NH_FRAG, frag6(P_TCP, 100, False, c.id) + b"\xaa" * 32)])
    add("v6-frag-nonfirst-mf", lambda c: [c.v6(NH_FRAG, frag6(P_TCP, 100, True, c.id)
                                               + b"\xaa" * 32)])
    add("v6-frag-first-mf-syn", lambda c: [c.v6(NH_FRAG, frag6(P_TCP, 0, True, c.id)
                                                + c.syn(6, data=b"x" * 12))])
    add("v6-frag-atomic-syn", lambda c: [c.v6(NH_FRAG, frag6(P_TCP, 0, False, c.id) + c.syn(6))])
    add("v6-frag-atomic-udp", lambda c: [c.v6(NH_FRAG, frag6(P_UDP, 0, False, c.id) + c.udp(6))])

    def frag_pair6(c, l4, nh):
        return [c.v6(NH_FRAG, frag6(nh, 0, True, c.id) + l4[:24]),
                c.v6(NH_FRAG, frag6(nh, 3, False, c.id) + l4[24:])]
    add("v6-frag-pair-syn", lambda c: frag_pair6(c, c.syn(6, data=b"z" * 40), P_TCP))
    add("v6-frag-pair-udp", lambda c: frag_pair6(c, c.udp(6, data=b"z" * 40), P_UDP))
    add("v6-nh-253", lambda c: [c.v6(253, b"\x01" * 20)])
    add("v6-nh-none-trailing", lambda c: [c.v6(NH_NONE, b"\x01" * 20)])
    add("v6-flow-dst-then-frag-syn",
        lambda c: [c.v6(NH_DST, ext(NH_FRAG, padn(6)) + frag6(P_TCP, 0, False, c.id) + c.syn(6))])

    # ---- ICMPv6 errors to the VIP
    def inner6(c, nh, l4, plen=None, src=None, dst=None, first=0x60):
        return ip6(c.vip6 if src is None else src, c.c6 if dst is None else dst, nh, l4,
                   plen=20 if plen is None else plen, first=first)

    def conn6_inner(c, n):
        host, port = c.a.conn6
        th = tcp(c.a.conn_vport, port, seq=0x5EED0000, ack=0x5EED0001, flags=0x18)
        return ip6(c.vip6, a6(host), P_TCP, th[:n], plen=120)

    for tname, typ, code, rest in (("unreach", 1, 4, b"\0\0\0\0"),
                                   ("ptb", 2, 0, struct.pack("!I", 1280)),
                                   ("timeexceeded", 3, 0, b"\0\0\0\0")):
        def icmp6_case(body_fn, check=None, typ=typ, code=code, rest=rest):
            return lambda c: [c.v6(P_ICMP6, icmp6(c.c6, c.vip6, typ, code, rest, body_fn(c),
                                                  check=check))]
        add(f"v6-icmp-{tname}-empty", icmp6_case(lambda c: b""))
        add(f"v6-icmp-{tname}-random", icmp6_case(lambda c: bytes(c.rng.randrange(256)
                                                                  for _ in range(48))))
        add(f"v6-icmp-{tname}-inner-trunc-20", icmp6_case(lambda c: inner6(c, P_TCP, b"")[:20]))
        add(f"v6-icmp-{tname}-inner-version4",
            icmp6_case(lambda c: inner6(c, P_TCP, tcp(c.vport, c.sport)[:8], first=0x40)))
        add(f"v6-icmp-{tname}-inner-tcp-2",
            icmp6_case(lambda c: inner6(c, P_TCP, tcp(c.vport, c.sport)[:2])))
        add(f"v6-icmp-{tname}-inner-udp-2",
            icmp6_case(lambda c: inner6(c, P_UDP, udp(c.vport, c.sport)[:2], plen=8)))
        add(f"v6-icmp-{tname}-inner-tcp-8-noconn",
            icmp6_case(lambda c: inner6(c, P_TCP, tcp(c.vport, c.sport)[:8])))
        add(f"v6-icmp-{tname}-inner-dst-past-end",
            icmp6_case(lambda c: inner6(c, NH_DST, bytes([P_TCP, 30]) + padn(6)
                                        + tcp(c.vport, c.sport)[:8], plen=40)))
        add(f"v6-icmp-{tname}-inner-frag-first",
            icmp6_case(lambda c: inner6(c, NH_FRAG, frag6(P_TCP, 0, True, 7)
                                        + tcp(c.vport, c.sport)[:8], plen=40)))
        add(f"v6-icmp-{tname}-inner-frag-nonfirst",
            icmp6_case(lambda c: inner6(c, NH_FRAG, frag6(P_TCP, 50, False, 7)
                                        + tcp(c.vport, c.sport)[:8], plen=40)))
        add(f"v6-icmp-{tname}-conn-8", icmp6_case(lambda c: conn6_inner(c, 8)))
        add(f"v6-icmp-{tname}-conn-4", icmp6_case(lambda c: conn6_inner(c, 4)))
        add(f"v6-icmp-{tname}-conn-2", icmp6_case(lambda c: conn6_inner(c, 2)))
        add(f"v6-icmp-{tname}-conn-8-bad-csum", icmp6_case(lambda c: conn6_inner(c, 8),
                                                           check=0x1234))
    add("v6-icmp-trunc-3", lambda c: [c.v6(P_ICMP6, icmp6(c.c6, c.vip6, 1, 4)[:3])])
    add("v6-icmp-unreach-after-frag-hdr",
        lambda c: [c.v6(NH_FRAG, frag6(P_ICMP6, 0, False, c.id)
                        + icmp6(c.c6, c.vip6, 1, 4, body=conn6_inner(c, 8)))])

    # ---- ICMP errors from the real server's side, about a connection just made (ip_vs's
    # out-ICMP path): the client's SYN first, then the real server's error about it.
    def rs_err4(c, n, typ=3, code=3, check=None):
        syn = c.syn(4)
        rport = c.a.rport
        quoted = ip4(c.c4, c.r4, P_TCP, tcp(c.sport, rport, seq=0x10000000 + c.id)[:n],
                     ident=0x4444, tot_len=40)
        err = ip4(c.r4, c.c4, P_ICMP, icmp4(typ, code, b"\0\0\0\0", quoted, check=check),
                  ident=c.id)
        return [c.v4(P_TCP, syn), ("r", ETH_P_IP, err)]

    def rs_err6(c, n, typ=1, code=4, check=None):
        syn = c.syn(6)
        rport = c.a.rport
        quoted = ip6(c.c6, c.r6, P_TCP, tcp(c.sport, rport, seq=0x10000000 + c.id)[:n], plen=20)
        err = ip6(c.r6, c.c6, P_ICMP6, icmp6(c.r6, c.c6, typ, code, b"\0\0\0\0", quoted,
                                             check=check), flow=c.id)
        return [c.v6(P_TCP, syn), ("r", ETH_P_IPV6, err)]
    add("v4-out-icmp-unreach-conn-8", lambda c: rs_err4(c, 8))
    add("v4-out-icmp-unreach-conn-2", lambda c: rs_err4(c, 2))
    add("v4-out-icmp-unreach-conn-8-bad-csum", lambda c: rs_err4(c, 8, check=0x1234))
    add("v4-out-icmp-fragneeded-conn-8", lambda c: rs_err4(c, 8, code=4))
    add("v6-out-icmp-unreach-conn-8", lambda c: rs_err6(c, 8))
    add("v6-out-icmp-unreach-conn-2", lambda c: rs_err6(c, 2))
    add("v6-out-icmp-ptb-conn-8", lambda c: rs_err6(c, 8, typ=2, code=0))
    return C


def fuzz_frame(c, k):
    """Fuzz case k: a valid SYN / datagram / INIT (IPv4 or IPv6) mutated above IP."""
    rng = c.rng
    kind = k % 6
    fam = 4 if kind < 3 else 6
    proto = (P_TCP, P_UDP, P_SCTP)[kind % 3]
    src, dst = (c.c4, c.vip4) if fam == 4 else (c.c6, c.vip6)
    sport = rng.randrange(1024, 65536)
    if proto == P_TCP:
        l4 = tcp(sport, c.vport, seq=rng.randrange(1 << 32), opts=SYN_OPTS, fam=fam, src=src,
                 dst=dst)
    elif proto == P_UDP:
        l4 = udp(sport, c.vport, bytes(rng.randrange(256) for _ in range(rng.randrange(0, 48))),
                 fam=fam, src=src, dst=dst)
    else:
        l4 = sctp(sport, c.vport, 0, sctp_init(tag=rng.randrange(1, 1 << 32),
                                               params=b"\x00\x0c\x00\x06\x00\x05\x00\x00"))
    b = bytearray(l4)
    ops = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        op = rng.choice(("flip", "flip", "byte", "word", "trunc", "extend"))
        hdr = 12 if proto == P_SCTP else (8 if proto == P_UDP else 20)
        if op in ("flip", "byte", "word", "trunc") and not b:
            op = "extend"

        def pos():
            if rng.random() < 0.7:
                return rng.randrange(min(len(b), hdr + 8))
            return rng.randrange(len(b))
        if op == "flip":
            p = pos()
            b[p] ^= 1 << rng.randrange(8)
        elif op == "byte":
            p = pos()
            b[p] = rng.choice((0, 0xFF, 0x80, 1, rng.randrange(256)))
        elif op == "word":
            p = pos() & ~1
            v = rng.choice((0, 0xFFFF, 0x8000, 1, 4, len(b), len(b) + 4, rng.randrange(65536)))
            b[p:p + 2] = struct.pack("!H", v)[:len(b) - p]
        elif op == "trunc":
            del b[rng.randrange(len(b)):]
        else:
            b += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 41)))
        ops.append(op)
    fix = rng.random() < 0.5
    if fix:
        if proto == P_TCP and len(b) >= 18:
            b[16:18] = b"\0\0"
            b[16:18] = struct.pack("!H", csum(pseudo(fam, src, dst, P_TCP, len(b)) + bytes(b)))
        elif proto == P_UDP and len(b) >= 8:
            b[6:8] = b"\0\0"
            b[6:8] = struct.pack("!H", csum(pseudo(fam, src, dst, P_UDP, len(b)) + bytes(b))
                                 or 0xFFFF)
        elif proto == P_SCTP and len(b) >= 12:
            b[8:12] = b"\0\0\0\0"
            b[8:12] = struct.pack("<I", crc32c(bytes(b)))
        ops.append("fixcsum")
    name = f"fuzz-v{fam}-{('tcp', 'udp', 'sctp')[kind % 3]}-{'+'.join(ops)}"
    frame = c.v4(proto, bytes(b)) if fam == 4 else c.v6(proto, bytes(b))
    return name, [frame]


def all_cases(a):
    """[(id, name, frames)] for a run; deterministic for a seed (the run number only changes
    the client addresses)."""
    out = []
    if a.only in ("", "fixed"):
        rng = random.Random(a.seed)
        for i, (name, fn) in enumerate(fixed_cases(), start=1):
            out.append((i, name, fn(Ctx(a, i, rng))))
    if a.only in ("", "fuzz"):
        rng = random.Random(a.seed * 7919 + 1)
        for k in range(a.fuzz):
            cid = FUZZ_BASE + k
            name, frames = fuzz_frame(Ctx(a, cid, rng), k)
            out.append((cid, name, frames))
    return out


# ---------------------------------------------------------------- capture and summaries

TCP_FLAGS = "FSRPAUEC"


def l4_detail(proto, l4):
    if proto == P_TCP:
        if len(l4) < 14:
            return "tcp", "short"
        return "tcp", "".join(f for i, f in enumerate(TCP_FLAGS) if l4[13] >> i & 1) or "none"
    if proto == P_UDP:
        return "udp", ""
    if proto == P_SCTP:
        if len(l4) < 16:
            return "sctp", "short"
        return "sctp", {1: "INIT", 2: "INITACK", 6: "ABORT", 0: "DATA", 10: "COOKIE"}.get(
            l4[12], f"c{l4[12]}")
    if proto in (P_ICMP, P_ICMP6):
        name = "icmp" if proto == P_ICMP else "icmp6"
        if len(l4) < 2:
            return name, "short"
        return name, f"{l4[0]}.{l4[1]}"
    return f"p{proto}", ""


def skip_ext6(nh, pkt, off):
    """Skips IPv6 extension headers: (next header, offset, fragment offset)."""
    fragoff = 0
    for _ in range(40):
        if nh in (NH_HBH, NH_RT, NH_DST) and off + 2 <= len(pkt):
            nh, off = pkt[off], off + (pkt[off + 1] + 1) * 8
        elif nh == NH_FRAG and off + 8 <= len(pkt):
            fragoff = struct.unpack("!H", pkt[off + 2:off + 4])[0] >> 3
            nh, off = pkt[off], off + 8
        else:
            break
    return nh, off, fragoff


class Topo:
    def __init__(self, a):
        r = a.run
        self.run = r
        self.tags = {}
        for nm, addr in (("vip", a.vip4), ("vip", a.vip6), ("rip", a.rip4), ("rip", a.rip6)):
            self.tags[a4(addr) if ":" not in addr else a6(addr)] = nm
        self.pfx6 = a6(f"fd00:a{r}::")[:8]

    def case_of(self, addr):
        if len(addr) == 4:
            return (addr[2] << 8 | addr[3]) if addr[0] == 10 and addr[1] == self.run else None
        if addr[:8] == self.pfx6:
            return struct.unpack("!Q", addr[8:])[0]
        return None

    def tag(self, addr):
        return self.tags.get(addr, "o")


def parse_frame(frame):
    """(src, dst, summary-body) of an IP frame, or None (ARP, ND, MLD, ...)."""
    if len(frame) < 14:
        return None
    et = struct.unpack("!H", frame[12:14])[0]
    pkt = frame[14:]
    if et == ETH_P_IP and len(pkt) >= 20:
        ihl = (pkt[0] & 0xF) * 4
        tl = struct.unpack("!H", pkt[2:4])[0]
        fo = struct.unpack("!H", pkt[6:8])[0]
        pkt = pkt[:tl]
        proto, src, dst = pkt[9], pkt[12:16], pkt[16:20]
        if fo & 0x1FFF:
            return src, dst, f"frag{proto}/{tl}", pkt
        name, det = l4_detail(proto, pkt[ihl:])
        mf = "+MF" if fo & 0x2000 else ""
        return src, dst, f"{name}/{tl}{':' + det if det else ''}{mf}", pkt
    if et == ETH_P_IPV6 and len(pkt) >= 40:
        plen = struct.unpack("!H", pkt[4:6])[0]
        pkt = pkt[:40 + plen]
        src, dst = pkt[8:24], pkt[24:40]
        nh, off, fragoff = skip_ext6(pkt[6], pkt, 40)
        if fragoff:
            return src, dst, f"frag{nh}/{40 + plen}", pkt
        if nh == P_ICMP6 and off < len(pkt) and pkt[off] in (133, 134, 135, 136, 137, 143, 130,
                                                             131, 132):
            return None
        name, det = l4_detail(nh, pkt[off:])
        ex = "+ext" if off != 40 else ""
        return src, dst, f"{name}/{40 + plen}{':' + det if det else ''}{ex}", pkt
    return None


class Capture:
    def __init__(self, topo):
        self.topo = topo
        self.rs = {}   # case id -> {summary}
        self.dig = {}  # case id -> {digest}
        self.pkts = {}  # case id -> {digest: packet}, what reached the real server
        self.cl = {}
        self.stray = {}  # side:summary -> count of IP frames not attributed to a case
        self.last = time.monotonic()
        self.partial = 0  # frames that came with their L4 checksum to be completed

    def take(self, side, frame):
        p = parse_frame(frame)
        if p is None:
            return
        src, dst, body, pkt = p
        t = self.topo
        if side == "rs":
            cid = t.case_of(src)
            where = ">" + t.tag(dst)
        else:
            cid = t.case_of(dst)
            where = "<" + t.tag(src)
        if cid is None:
            k = f"{side}:{body}{where}"
            self.stray[k] = self.stray.get(k, 0) + 1
            return
        self.last = time.monotonic()
        if side == "rs":
            self.rs.setdefault(cid, set()).add(body + where)
            # A datagram that gets refragmented on the way (IPv6 defragmentation, then
            # fragmentation again to the real server) carries an identification the sending
            # kernel picks at random: compare fragments without it.
            cmp = pkt
            if len(pkt) >= 48 and pkt[0] >> 4 == 6 and pkt[6] == 44:
                cmp = pkt[:44] + b"\0\0\0\0" + pkt[48:]
            d = hashlib.sha1(cmp).hexdigest()[:10]
            self.dig.setdefault(cid, set()).add(d)
            self.pkts.setdefault(cid, {})[d] = pkt
        else:
            self.cl.setdefault(cid, set()).add(body + where)


def setns(name):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{name}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"setns {name}: {os.strerror(e)}")
    finally:
        os.close(fd)


def packet_socket(ns, ifname):
    setns(ns)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    try:
        s.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((ifname, 0))
    s.setblocking(False)
    return s


def complete_csum(frame):
    """A frame whose L4 checksum the sender left to be completed (CHECKSUM_PARTIAL: veth passes
    it on unfinished, with the pseudo-header sum only, and the receiver trusts it), with that
    checksum filled in as the receiver would take it — so that an ip_vs packet (which sets
    CHECKSUM_PARTIAL on what it rewrites) and an rvs packet (which may sum in full) compare."""
    et = struct.unpack("!H", frame[12:14])[0]
    pkt = bytearray(frame[14:])
    if et == ETH_P_IP and len(pkt) >= 20:
        ihl = (pkt[0] & 0xF) * 4
        if struct.unpack("!H", pkt[6:8])[0] & 0x1FFF:
            return frame
        fam, proto, off, src, dst = 4, pkt[9], ihl, bytes(pkt[12:16]), bytes(pkt[16:20])
        end = struct.unpack("!H", pkt[2:4])[0]
    elif et == ETH_P_IPV6 and len(pkt) >= 40:
        proto, off, fragoff = skip_ext6(pkt[6], pkt, 40)
        if fragoff:
            return frame
        fam, src, dst = 6, bytes(pkt[8:24]), bytes(pkt[24:40])
        end = 40 + struct.unpack("!H", pkt[4:6])[0]
    else:
        return frame
    l4 = pkt[off:end]
    where = {P_TCP: 16, P_UDP: 6, P_ICMP: 2, P_ICMP6: 2}.get(proto)
    if proto == P_SCTP and len(l4) >= 12:
        l4[8:12] = b"\0\0\0\0"
        l4[8:12] = struct.pack("<I", crc32c(bytes(l4)))
    elif where is not None and len(l4) >= where + 2:
        l4[where:where + 2] = b"\0\0"
        ph = b"" if proto == P_ICMP else pseudo(fam, src, dst, proto, len(l4))
        c = csum(ph + bytes(l4))
        if proto == P_UDP and c == 0:
            c = 0xFFFF
        l4[where:where + 2] = struct.pack("!H", c)
    else:
        return frame
    pkt[off:end] = l4
    return frame[:14] + bytes(pkt)


def mac(s):
    return bytes(int(x, 16) for x in s.split(":"))


def drain(socks, cap, timeout=0.0):
    """Reads every frame waiting (waiting up to timeout for the first)."""
    got = 0
    r, _, _ = select.select(list(socks), [], [], timeout)
    for s in r:
        side = socks[s]
        while True:
            try:
                data, anc, _flags, addr = s.recvmsg(65536, 64)
            except BlockingIOError:
                break
            if addr[2] == PACKET_OUTGOING:
                continue
            for level, typ, val in anc:
                if level == SOL_PACKET and typ == PACKET_AUXDATA and len(val) >= 4:
                    if struct.unpack_from("I", val)[0] & TP_STATUS_CSUMNOTREADY:
                        data = complete_csum(data)
                        cap.partial += 1
            cap.take(side, data)
            got += 1
    return got


# ---------------------------------------------------------------- servers, held connections, checks

IPPROTO_SCTP = getattr(socket, "IPPROTO_SCTP", 132)


def serve_stream(ls):
    def conn_thread(c, peer):
        try:
            c.sendall(f"rs1 {peer[0]} {peer[1]}\n".encode())
            while True:
                d = c.recv(65536)
                if not d:
                    break
                c.sendall(d)
        except OSError:
            pass
        finally:
            c.close()
    while True:
        try:
            c, peer = ls.accept()
        except OSError:
            time.sleep(0.05)
            continue
        threading.Thread(target=conn_thread, args=(c, peer), daemon=True).start()


def serve_udp(s):
    while True:
        try:
            d, peer = s.recvfrom(65536)
            s.sendto(f"rs1 {peer[0]} {peer[1]}\n".encode() + d, peer)
        except OSError:
            time.sleep(0.05)


def start_servers(port):
    """TCP, UDP and SCTP echo servers on port, IPv4 and IPv6, in this thread's namespace."""
    for fam, any_ in ((socket.AF_INET, "0.0.0.0"), (socket.AF_INET6, "::")):
        for typ, proto in ((socket.SOCK_STREAM, 0), (socket.SOCK_DGRAM, 0),
                           (socket.SOCK_STREAM, IPPROTO_SCTP)):
            s = socket.socket(fam, typ, proto)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((any_, port))
            if typ == socket.SOCK_DGRAM:
                t = threading.Thread(target=serve_udp, args=(s,), daemon=True)
            else:
                s.listen(128)
                t = threading.Thread(target=serve_stream, args=(s,), daemon=True)
            t.start()


def read_header(s, buf=b""):
    while b"\n" not in buf:
        d = s.recv(65536)
        if not d:
            raise OSError("closed before the header")
        buf += d
    nl = buf.index(b"\n")
    return buf[:nl].decode(), buf[nl + 1:]


def open_held(a, fam, to):
    """A TCP connection from the fixed client port the ICMP cases quote, header read."""
    host, port = a.conn4 if fam == socket.AF_INET else a.conn6
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(20)
    s.bind((host, port))
    s.connect((to, a.conn_vport))
    hdr, rest = read_header(s)
    return s, hdr, rest


def echo_check(s, rest, payload, stream=True):
    """Sends payload and reads its echo back (after an already-read header)."""
    s.sendall(payload)
    got = rest
    while len(got) < len(payload):
        d = s.recv(65536)
        if not d:
            break
        got += d
    return got == payload


def one_check(fam, proto, to, port, size):
    if proto == "udp":
        s = socket.socket(fam, socket.SOCK_DGRAM)
    elif proto == "tcp":
        s = socket.socket(fam, socket.SOCK_STREAM)
    else:
        s = socket.socket(fam, socket.SOCK_STREAM, IPPROTO_SCTP)
    s.settimeout(10)
    payload = os.urandom(size)
    try:
        s.connect((to, port))
        if proto == "udp":
            s.send(payload)
            hdr, body = read_header(s, s.recv(65536))
            return body == payload, hdr
        hdr, rest = read_header(s)
        ok = echo_check(s, rest, payload)
        if proto == "tcp":
            s.shutdown(socket.SHUT_WR)
            ok = ok and s.recv(65536) == b""
        return ok, hdr
    except OSError as e:
        return False, f"{e.__class__.__name__}: {e}"
    finally:
        s.close()


def cmd_run(a):
    cases = all_cases(a)
    rs = packet_socket(a.rs_ns, a.rs_if)
    if a.serve:
        start_servers(a.conn_rport)
    cs = packet_socket(a.client_ns, a.client_if)
    # This thread stays in the client's namespace: the held connections and the checks are
    # the client's.
    checks_ok = True
    held = []
    if a.held:
        for fam, to in ((socket.AF_INET, a.vip4), (socket.AF_INET6, a.vip6)):
            try:
                s, hdr, rest = open_held(a, fam, to)
                held.append((s, rest, to))
                print(f"held connection to {to} port {a.conn_vport}: server says '{hdr}'",
                      flush=True)
            except OSError as e:
                print(f"CHECK FAIL: held connection to {to}: {e}", flush=True)
                checks_ok = False
    c_src = cs.getsockname()[4]
    r_src = rs.getsockname()[4]
    heads = {"c": mac(a.dir_mac) + c_src, "r": mac(a.dir_rs_mac) + r_src}
    out_sock = {"c": cs, "r": rs}
    socks = {cs: "cl", rs: "rs"}
    cap = Capture(Topo(a))
    drain(socks, cap)
    start = time.monotonic()
    nframes = 0
    for cid, name, frames in cases:
        for j, (side, et, l3) in enumerate(frames):
            if j:
                # The next frame of a case goes after the director has handled the first.
                t_end = time.monotonic() + a.step
                while time.monotonic() < t_end:
                    drain(socks, cap, max(0.0, t_end - time.monotonic()))
            frame = heads[side] + struct.pack("!H", et) + l3
            try:
                out_sock[side].send(frame)
            except OSError as e:
                print(f"send case {cid} {name}: {e}", file=sys.stderr)
            nframes += 1
        t_end = time.monotonic() + a.gap
        while True:
            drain(socks, cap, max(0.0, t_end - time.monotonic()))
            if time.monotonic() >= t_end:
                break
    sent = time.monotonic()
    # Stragglers: at least --settle seconds, and until nothing came for a second.
    while True:
        now = time.monotonic()
        if now - sent >= a.settle and now - cap.last >= 1.0:
            break
        if now - sent >= a.settle + 20:
            break
        drain(socks, cap, 0.2)
    dur = time.monotonic() - start
    with open(a.out + ".tmp", "w") as f:
        for cid, name, frames in cases:
            rsv = ";".join(sorted(cap.rs.get(cid, ()))) or "-"
            clv = ";".join(sorted(cap.cl.get(cid, ()))) or "-"
            dg = ";".join(sorted(cap.dig.get(cid, ()))) or "-"
            f.write(f"case {cid} {name} rs={rsv} cl={clv} dig={dg}\n")
            for d, pkt in sorted(cap.pkts.get(cid, {}).items())[:4]:
                f.write(f"pkt {cid} {d} {pkt.hex()}\n")
    os.rename(a.out + ".tmp", a.out)
    fwd = sum(1 for cid, _, _ in cases if cid in cap.rs)
    back = sum(1 for cid, _, _ in cases if cid in cap.cl)
    print(f"badpkt run {a.run}: {len(cases)} cases, {nframes} frames sent in {dur:.1f} s; "
          f"{fwd} cases reached the real server, {back} got frames back; {cap.partial} frames "
          "came with a checksum to complete (CHECKSUM_PARTIAL)", flush=True)
    if cap.stray:
        print("  frames not from/to a case address: "
              + ", ".join(f"{k} x{v}" for k, v in sorted(cap.stray.items())), flush=True)

    # The held connections still work, and new connections are balanced.
    for s, rest, to in held:
        try:
            ok = echo_check(s, rest, os.urandom(100))
        except OSError as e:
            ok = False
            print(f"  held connection to {to}: {e}")
        s.close()
        print(f"{'check ok' if ok else 'CHECK FAIL'}: held connection to {to} still echoes",
              flush=True)
        checks_ok = checks_ok and ok
    if a.check:
        for fam, to in ((socket.AF_INET, a.vip4), (socket.AF_INET6, a.vip6)):
            for proto in ("tcp", "udp", "sctp"):
                for _ in range(2):
                    ok, hdr = one_check(fam, proto, to, a.conn_vport,
                                        500 if proto == "udp" else 3000)
                    print(f"{'check ok' if ok else 'CHECK FAIL'}: new {proto} connection to "
                          f"{to} port {a.conn_vport}: {hdr}", flush=True)
                    checks_ok = checks_ok and ok
    return 0 if checks_ok else 3


def load(path, pkts=None):
    res = {}
    order = []
    with open(path) as f:
        for line in f:
            parts = line.split()
            if pkts is not None and len(parts) == 4 and parts[0] == "pkt":
                pkts.setdefault(int(parts[1]), []).append(bytes.fromhex(parts[3]))
                continue
            if len(parts) != 6 or parts[0] != "case":
                continue
            cid = int(parts[1])
            vals = dict(p.split("=", 1) for p in parts[3:])
            res[cid] = (parts[2], vals["rs"], vals["cl"], vals["dig"])
            order.append(cid)
    return res, order


def bytes_diff(x, y, la, lb):
    """Where two forwarded packets differ: offsets (from the IP header) and both values."""
    if x == y:
        return "same bytes"
    offs = [i for i in range(max(len(x), len(y))) if i >= len(x) or i >= len(y) or x[i] != y[i]]
    shown = ", ".join(f"@{i}: {x[i] if i < len(x) else '-':>3} vs {y[i] if i < len(y) else '-':>3}"
                      for i in offs[:12])
    return (f"bytes differ ({len(x)} vs {len(y)} bytes, {len(offs)} offsets; {la} vs {lb}): "
            f"{shown}{' ...' if len(offs) > 12 else ''}\n{'':19}{la}: {x.hex()}\n{'':19}{lb}: {y.hex()}")


def cmd_compare(a):
    pa, pb = {}, {}
    A, order = load(a.files[0], pa)
    B, _ = load(a.files[1], pb)
    la, lb = a.labels
    bad = 0
    fixed_diff = []
    fuzz_diff = []
    tot = {la: [0, 0], lb: [0, 0]}
    w = max((len(A[c][0]) for c in order if c < FUZZ_BASE), default=10)
    for cid in order:
        name, ars, acl, adg = A[cid]
        if cid not in B:
            print(f"case {cid} {name}: missing from {lb}")
            bad += 1
            continue
        _, brs, bcl, bdg = B[cid]
        what = []
        if ars != brs:
            what.append("forwarded" if (ars == "-") != (brs == "-") else "rs")
        if acl != bcl:
            what.append("cl")
        if not what and adg != bdg:
            what.append("bytes")
        if cid >= FUZZ_BASE:
            tot[la][0] += ars != "-"
            tot[lb][0] += brs != "-"
            tot[la][1] += acl != "-"
            tot[lb][1] += bcl != "-"
            if what:
                fuzz_diff.append((cid, name, what, A[cid], B[cid]))
            continue
        mark = "DIFF(" + ",".join(what) + ")" if what else "same"
        print(f"{mark:<18} {cid:>3} {name:<{w}}  {la}: rs={ars} cl={acl}  |  {lb}: rs={brs} "
              f"cl={bcl}")
        if "bytes" in what or ("rs" in what and len(pa.get(cid, ())) == len(pb.get(cid, ()))):
            for x, y in zip(pa.get(cid, ()), pb.get(cid, ())):
                print(f"{'':19}{bytes_diff(x, y, la, lb)}")
        if what:
            fixed_diff.append(name)
    nfixed = sum(1 for c in order if c < FUZZ_BASE)
    nfuzz = len(order) - nfixed
    print(f"fixed cases: {nfixed}, {len(fixed_diff)} differ"
          + (": " + " ".join(fixed_diff) if fixed_diff else ""))
    if nfuzz:
        print(f"fuzz: {nfuzz} frames; reached the real server: {la} {tot[la][0]}, "
              f"{lb} {tot[lb][0]}; got frames back: {la} {tot[la][1]}, {lb} {tot[lb][1]}; "
              f"{len(fuzz_diff)} cases differ")
        for cid, name, what, (_, ars, acl, adg), (_, brs, bcl, bdg) in fuzz_diff[:a.show]:
            print(f"  fuzz DIFF({','.join(what)}) {cid} {name}  {la}: rs={ars} cl={acl} dig={adg}"
                  f"  |  {lb}: rs={brs} cl={bcl} dig={bdg}")
    if fixed_diff:
        bad += 1
    if tot[la][0] != tot[lb][0]:
        print(f"fuzz: the forwarded totals differ ({la} {tot[la][0]}, {lb} {tot[lb][0]})")
        bad += 1
    return 1 if bad else 0


def cmd_list(a):
    for cid, name, frames in all_cases(a):
        print(cid, name, " ".join(f"{s}:{len(l3)}" for s, _, l3 in frames))
    return 0


OPTIONS = {
    "--out": "", "--run": "1", "--seed": "1", "--fuzz": "2000", "--only": "", "--gap": "0.004",
    "--step": "0.05", "--settle": "6", "--client-ns": "client", "--client-if": "c-dir",
    "--rs-ns": "rs1", "--rs-if": "rs1-d", "--dir-mac": "02:00:00:00:00:01",
    "--dir-rs-mac": "02:00:00:00:01:01", "--vip4": "192.0.2.1", "--vip6": "2001:db8:100::1",
    "--rip4": "172.16.0.11", "--rip6": "fd00:2::11", "--vport": "80", "--rport": "8080",
    "--conn4": "10.0.0.2:40000", "--conn6": "fd00:1::2:40000", "--conn-vport": "81",
    "--conn-rport": "8081", "--serve": "1", "--held": "1", "--check": "1", "--labels": "ip_vs,rvs", "--show": "20",
}


def hostport(s):
    h, _, p = s.rpartition(":")
    return h.strip("[]"), int(p)


def main():
    argv = sys.argv[1:]
    if not argv or argv[0] not in ("run", "compare", "list"):
        sys.stderr.write(__doc__)
        return 2
    a = type("Args", (), {})()
    a.cmd = argv[0]
    vals = dict(OPTIONS)
    files = []
    i = 1
    while i < len(argv):
        opt, eq, val = argv[i].partition("=")
        if opt in OPTIONS:
            if not eq:
                i += 1
                val = argv[i]
            vals[opt] = val
        elif opt.startswith("--"):
            sys.stderr.write(f"badpkt.py: unknown option {opt}\n")
            return 2
        else:
            files.append(argv[i])
        i += 1
    for k, v in vals.items():
        setattr(a, k[2:].replace("-", "_"), v)
    for k in ("run", "seed", "fuzz", "vport", "rport", "conn_vport", "conn_rport", "show", "serve",
              "held", "check"):
        setattr(a, k, int(getattr(a, k)))
    for k in ("gap", "step", "settle"):
        setattr(a, k, float(getattr(a, k)))
    a.conn4, a.conn6 = hostport(a.conn4), hostport(a.conn6)
    a.labels = a.labels.split(",")
    a.files = files
    if a.cmd == "run":
        if not a.out:
            sys.stderr.write("badpkt.py run: --out FILE is required\n")
            return 2
        return cmd_run(a)
    if a.cmd == "compare":
        if len(files) != 2:
            sys.stderr.write("badpkt.py compare A B\n")
            return 2
        return cmd_compare(a)
    return cmd_list(a)


if __name__ == "__main__":
    sys.exit(main())
