#!/usr/bin/env python3
"""A generic-netlink fuzzer for IPVS's control ABI, written from the uapi headers alone.

    nlfuzz.py [--family IPVS] [--seed 1] [--count 100000] [--hist-out FILE]
    nlfuzz.py --compare REFERENCE.hist TARGET.hist

Builds a corpus of well-formed requests for every IPVS command (TCP/UDP/SCTP/fwmark services over
IPv4 and IPv6, destinations with every attribute, config, daemons, zero, flush, dumps), then sends
COUNT messages drawn from it, most of them mutated: wrong attribute types and lengths, truncated
and oversized attributes, nest flags on scalars, scalars where nests belong, nests of nests,
missing attributes, random commands, bad nlmsg lengths and flags, random bytes, huge and
unterminated strings, out-of-range values. The same seed sends the same messages.

Messages go out in bursts (several per send(), which the kernel processes one after the other),
each burst closed by an NLMSG_NOOP with NLM_F_ACK whose ack says every earlier message of the
burst has been processed; a dump request ends its burst and is read to its NLMSG_DONE (a socket
runs one dump at a time). Every answer is read with timeouts, and the outcome of each message
(its errno, ACK, DONE, REPLY, SILENT when nothing was due, LOST when an answer never came) is
counted in a histogram. A well-formed FLUSH every --flush-every messages keeps the tables small.

Afterwards the module must still work: FLUSH, add two known services and destinations with
well-formed messages, read them back with GET_SERVICE and GET_DEST dumps and check every value.
Exits 1 if that check fails. Prints the histogram; --hist-out writes it, overall and per command,
for --compare, which prints the outcomes seen from the target but never from the reference.
--prefix N --prefix-hist-out FILE also writes the histogram of the first N messages alone: what a
reference run with --count N and the same seed answered, compared message for message.
"""

import argparse
import errno
import os
import random
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import genl_info as g  # noqa: E402  (the controller lookup and attribute helpers)

SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE = 1, 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK, NLM_F_ECHO = 1, 2, 4, 8
NLM_F_ROOT, NLM_F_MATCH = 0x100, 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
NLA_F_NESTED, NLA_F_NET_BYTEORDER = 0x8000, 0x4000

CMD_NAMES = [
    "UNSPEC", "NEW_SERVICE", "SET_SERVICE", "DEL_SERVICE", "GET_SERVICE", "NEW_DEST", "SET_DEST",
    "DEL_DEST", "GET_DEST", "NEW_DAEMON", "DEL_DAEMON", "GET_DAEMON", "SET_CONFIG", "GET_CONFIG",
    "SET_INFO", "GET_INFO", "ZERO", "FLUSH",
]
CMD = {name: i for i, name in enumerate(CMD_NAMES)}

# IPVS_CMD_ATTR_*
A_SERVICE, A_DEST, A_DAEMON, A_TIMEOUT_TCP, A_TIMEOUT_TCP_FIN, A_TIMEOUT_UDP = 1, 2, 3, 4, 5, 6
# IPVS_SVC_ATTR_*
SVC_AF, SVC_PROTOCOL, SVC_ADDR, SVC_PORT, SVC_FWMARK, SVC_SCHED_NAME = 1, 2, 3, 4, 5, 6
SVC_FLAGS, SVC_TIMEOUT, SVC_NETMASK, SVC_STATS, SVC_PE_NAME, SVC_STATS64 = 7, 8, 9, 10, 11, 12
# IPVS_DEST_ATTR_*
D_ADDR, D_PORT, D_FWD_METHOD, D_WEIGHT, D_U_THRESH, D_L_THRESH = 1, 2, 3, 4, 5, 6
D_ACTIVE_CONNS, D_INACT_CONNS, D_PERSIST_CONNS, D_STATS, D_ADDR_FAMILY = 7, 8, 9, 10, 11
D_STATS64, D_TUN_TYPE, D_TUN_PORT, D_TUN_FLAGS = 12, 13, 14, 15
# IPVS_DAEMON_ATTR_*
DM_STATE, DM_MCAST_IFN, DM_SYNC_ID, DM_SYNC_MAXLEN = 1, 2, 3, 4
DM_MCAST_GROUP, DM_MCAST_GROUP6, DM_MCAST_PORT, DM_MCAST_TTL = 5, 6, 7, 8

AF_INET, AF_INET6 = socket.AF_INET, socket.AF_INET6
TCP, UDP, SCTP = 6, 17, 132
SCHEDULERS = ["rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
              "twos", "none"]


def errname(code):
    """errno's name; 95 has two in Python's table (ENOTSUP, EOPNOTSUPP): IPVS's is EOPNOTSUPP."""
    if code == errno.EOPNOTSUPP:
        return "EOPNOTSUPP"
    return errno.errorcode.get(code, f"E{code}")


# ---- messages ---------------------------------------------------------------------------------
# An attribute is a list [type, value, declared_len]: value is bytes (a scalar) or a list of
# attributes (a nest, emitted without NLA_F_NESTED like ip_vs does); declared_len overrides nla_len.

def a(kind, value):
    return [kind, value, None]


def u8(kind, v):
    return a(kind, struct.pack("=B", v))


def u16(kind, v):
    return a(kind, struct.pack("=H", v))


def be16(kind, v):
    return a(kind, struct.pack("!H", v))


def u32(kind, v):
    return a(kind, struct.pack("=I", v & 0xFFFFFFFF))


def string(kind, s):
    return a(kind, s.encode() + b"\0")


def addr(kind, af, text):
    raw = socket.inet_pton(af, text)
    return a(kind, raw + b"\0" * (16 - len(raw)))


def encode(attrs):
    out = []
    for kind, value, declared in attrs:
        payload = encode(value) if isinstance(value, list) else value
        length = 4 + len(payload) if declared is None else declared
        out.append(struct.pack("=HH", length & 0xFFFF, kind & 0xFFFF))
        out.append(payload)
        out.append(b"\0" * (-len(payload) % 4))
    return b"".join(out)


def copy_attrs(attrs):
    return [[k, copy_attrs(v) if isinstance(v, list) else v, d] for k, v, d in attrs]


class Msg:
    """One request: nlmsghdr fields, genlmsghdr fields and attributes, or raw bytes."""

    __slots__ = ("cmd", "flags", "version", "reserved", "attrs", "raw", "framing", "ntype")

    def __init__(self, cmd, attrs=(), flags=NLM_F_REQUEST | NLM_F_ACK):
        self.cmd, self.flags, self.version, self.reserved = cmd, flags, 1, 0
        self.attrs = list(attrs)
        self.raw = None  # bytes after nlmsghdr, when a mutation works on bytes
        self.framing = None  # nlmsg_len override: the message then goes out alone
        self.ntype = None  # nlmsg_type override (a control message type)

    def copy(self):
        m = Msg(self.cmd, copy_attrs(self.attrs), self.flags)
        m.version, m.reserved, m.raw, m.framing, m.ntype = self.version, self.reserved, self.raw, self.framing, self.ntype
        return m

    def body(self):
        if self.raw is not None:
            return self.raw
        return struct.pack("=BBH", self.cmd & 0xFF, self.version & 0xFF, self.reserved & 0xFFFF) + encode(self.attrs)

    def encode(self, family, seq):
        body = self.body()
        length = 16 + len(body) if self.framing is None else self.framing
        ntype = family if self.ntype is None else self.ntype
        data = struct.pack("=IHHII", length & 0xFFFFFFFF, ntype, self.flags & 0xFFFF, seq, 0) + body
        return data + b"\0" * (-len(data) % 4)

    def is_dump(self):
        return self.ntype is None and self.flags & NLM_F_DUMP == NLM_F_DUMP and self.flags & NLM_F_REQUEST


# ---- the corpus -------------------------------------------------------------------------------

V4_VIPS = ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
V6_VIPS = ["2001:db8::1", "2001:db8::2"]
V4_RS = ["192.168.1.1", "192.168.1.2", "192.168.1.3"]
V6_RS = ["2001:db8:1::1", "2001:db8:1::2"]


def service_ids():
    """Service identities: (AF, [attrs identifying it])."""
    ids = []
    for proto in (TCP, UDP, SCTP):
        for vip in V4_VIPS:
            for port in (80, 443):
                ids.append((AF_INET, [u16(SVC_AF, AF_INET), u16(SVC_PROTOCOL, proto), addr(SVC_ADDR, AF_INET, vip), be16(SVC_PORT, port)]))
        for vip in V6_VIPS:
            ids.append((AF_INET6, [u16(SVC_AF, AF_INET6), u16(SVC_PROTOCOL, proto), addr(SVC_ADDR, AF_INET6, vip), be16(SVC_PORT, 80)]))
    for mark in (1, 2, 3):
        ids.append((AF_INET, [u16(SVC_AF, AF_INET), u32(SVC_FWMARK, mark)]))
        ids.append((AF_INET6, [u16(SVC_AF, AF_INET6), u32(SVC_FWMARK, mark)]))
    return ids


def full_service(rng, af, ident):
    flags = rng.choice([0, 1, 4, 8, 0x10, 0x20, 0x38, 1 | 8])
    netmask = 0xFFFFFFFF if af == AF_INET else 128
    if flags & 1:
        netmask = struct.unpack("=I", socket.inet_aton("255.255.255.0"))[0] if af == AF_INET else 64
    attrs = copy_attrs(ident) + [
        string(SVC_SCHED_NAME, rng.choice(SCHEDULERS)),
        a(SVC_FLAGS, struct.pack("=II", flags, 0xFFFFFFFF)),
        u32(SVC_TIMEOUT, 300 if flags & 1 else 0),
        u32(SVC_NETMASK, netmask),
    ]
    if rng.random() < 0.1:
        attrs.append(string(SVC_PE_NAME, "sip"))
    return attrs


def full_dest(rng, af):
    mixed = rng.random() < 0.15
    daf = (AF_INET6 if af == AF_INET else AF_INET) if mixed else af
    rs = rng.choice(V4_RS if daf == AF_INET else V6_RS)
    fwd = 2 if mixed else rng.choice([0, 1, 2, 3])
    tun = rng.choice([0, 1, 2]) if fwd == 2 else 0
    u = rng.choice([0, 0, 100, 1000])
    return [
        u16(D_ADDR_FAMILY, daf), addr(D_ADDR, daf, rs), be16(D_PORT, rng.choice([80, 8080])),
        u32(D_FWD_METHOD, fwd), u32(D_WEIGHT, rng.choice([0, 1, 5, 100])),
        u8(D_TUN_TYPE, tun), be16(D_TUN_PORT, 6080 if tun == 1 else 0), u16(D_TUN_FLAGS, rng.choice([0, 1, 2])),
        u32(D_U_THRESH, u), u32(D_L_THRESH, u // 10),
    ]


def daemon(rng, state):
    attrs = [u32(DM_STATE, state), string(DM_MCAST_IFN, rng.choice(["lo", "lo", "nosuchdev0"])),
             u32(DM_SYNC_ID, rng.choice([0, 1, 255]))]
    if rng.random() < 0.5:
        attrs += [u16(DM_SYNC_MAXLEN, rng.choice([0, 1472, 9000])), u16(DM_MCAST_PORT, 8848), u8(DM_MCAST_TTL, 1)]
        if rng.random() < 0.5:
            attrs.append(a(DM_MCAST_GROUP, socket.inet_aton("224.0.0.81")))
        else:
            attrs.append(a(DM_MCAST_GROUP6, socket.inet_pton(AF_INET6, "ff02::81")))
    return attrs


def corpus(rng):
    """Well-formed requests for every command, several variants each."""
    out = []
    ids = service_ids()
    for af, ident in ids:
        nest = lambda attrs: a(A_SERVICE, attrs)  # noqa: E731
        out.append(Msg(CMD["NEW_SERVICE"], [nest(full_service(rng, af, ident))]))
        out.append(Msg(CMD["NEW_SERVICE"], [nest(full_service(rng, af, ident))]))
        out.append(Msg(CMD["SET_SERVICE"], [nest(full_service(rng, af, ident))]))
        out.append(Msg(CMD["DEL_SERVICE"], [nest(copy_attrs(ident))]))
        out.append(Msg(CMD["GET_SERVICE"], [nest(copy_attrs(ident))]))
        out.append(Msg(CMD["ZERO"], [nest(copy_attrs(ident))]))
        for _ in range(3):
            out.append(Msg(CMD["NEW_DEST"], [nest(copy_attrs(ident)), a(A_DEST, full_dest(rng, af))]))
        out.append(Msg(CMD["SET_DEST"], [nest(copy_attrs(ident)), a(A_DEST, full_dest(rng, af))]))
        d = full_dest(rng, af)
        out.append(Msg(CMD["DEL_DEST"], [nest(copy_attrs(ident)), a(A_DEST, [x for x in d if x[0] in (D_ADDR, D_PORT, D_ADDR_FAMILY)])]))
        out.append(Msg(CMD["GET_DEST"], [nest(copy_attrs(ident))], NLM_F_REQUEST | NLM_F_DUMP))
    for state in (1, 2):
        out.append(Msg(CMD["NEW_DAEMON"], [a(A_DAEMON, daemon(rng, state))]))
        out.append(Msg(CMD["DEL_DAEMON"], [a(A_DAEMON, [u32(DM_STATE, state)])]))
    out.append(Msg(CMD["GET_DAEMON"], [], NLM_F_REQUEST | NLM_F_DUMP))
    out.append(Msg(CMD["SET_CONFIG"], [u32(A_TIMEOUT_TCP, 900), u32(A_TIMEOUT_TCP_FIN, 120), u32(A_TIMEOUT_UDP, 300)]))
    out.append(Msg(CMD["SET_CONFIG"], [u32(A_TIMEOUT_UDP, 60)]))
    out.append(Msg(CMD["GET_CONFIG"]))
    out.append(Msg(CMD["GET_INFO"]))
    out.append(Msg(CMD["ZERO"]))
    out.append(Msg(CMD["FLUSH"]))
    for _ in range(3):
        out.append(Msg(CMD["GET_SERVICE"], [], NLM_F_REQUEST | NLM_F_DUMP))
    return out


# ---- mutations --------------------------------------------------------------------------------

INTERESTING = {
    1: [0, 1, 2, 3, 0x7F, 0x80, 0xFF],
    2: [0, 1, 2, 6, 10, 17, 132, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF],
    4: [0, 1, 2, 3, 4, 7, 128, 129, 2147483, 2147484, 8589934, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE, 0xFFFFFFFF],
}
STRINGS = [b"", b"\0", b"rr", b"rr\0", b"none\0", b"sip\0", b"lo\0", b"x" * 15 + b"\0", b"x" * 16 + b"\0",
           b"x" * 17 + b"\0", b"wlc\0junk", b"\xff\xfe\0", b"../../x\0", b"%s%n\0", b"y" * 15, b"y" * 16]


def nodes(attrs, out, depth=0):
    """Every (list, index, depth) holding an attribute, nests included."""
    for i, node in enumerate(attrs):
        out.append((attrs, i, depth))
        if isinstance(node[1], list) and depth < 8:
            nodes(node[1], out, depth + 1)
    return out


def rand_bytes(rng, n):
    return rng.getrandbits(8 * n).to_bytes(n, "little") if n else b""


def rand_attrs(rng, depth=0):
    out = []
    for _ in range(rng.randint(1, 3)):
        if depth < 3 and rng.random() < 0.3:
            out.append(a(rng.randrange(17), rand_attrs(rng, depth + 1)))
        else:
            out.append(a(rng.randrange(17), rand_bytes(rng, rng.choice([0, 1, 2, 4, 8, 16]))))
    return out


def m_value(rng, node):
    v = node[1]
    if isinstance(v, list):
        return
    n = len(v)
    if n in INTERESTING:
        pick = rng.choice(INTERESTING[n]) if rng.random() < 0.8 else rng.getrandbits(8 * n)
        node[1] = pick.to_bytes(n, "little" if rng.random() < 0.8 else "big")
    elif n == 16:
        node[1] = rng.choice([b"\0" * 16, b"\xff" * 16, socket.inet_pton(AF_INET6, "ff02::1"),
                              socket.inet_aton("224.0.0.1") + b"\0" * 12, socket.inet_aton("127.0.0.1") + b"\0" * 12,
                              socket.inet_aton("0.0.0.0") + b"\1" * 12, rand_bytes(rng, 16)])
    elif n == 8:
        node[1] = struct.pack("=II", rng.choice(INTERESTING[4]), rng.choice(INTERESTING[4]))
    else:
        node[1] = rng.choice(STRINGS)


def m_string(rng, node):
    node[1] = rng.choice([
        lambda: rng.choice(STRINGS),
        lambda: b"A" * rng.randint(16, 4000),  # huge, not NUL-terminated
        lambda: b"B" * rng.randint(16, 300) + b"\0",  # huge, terminated
        lambda: bytes(rng.randrange(32, 127) for _ in range(rng.randint(1, 20))),  # unterminated
        lambda: rng.choice(SCHEDULERS).encode() + b"\0",
        lambda: rand_bytes(rng, rng.randint(1, 20)),
    ])()


def m_length(rng, node):
    v = node[1]
    if isinstance(v, list):
        node[1] = rand_bytes(rng, rng.choice([0, 1, 2, 3, 4, 8]))  # a scalar where a nest belongs
        return
    choice = rng.randrange(5)
    if choice == 0 and v:
        node[1] = v[: rng.randrange(len(v))]  # truncated
    elif choice == 1:
        node[1] = v + rand_bytes(rng, rng.randint(1, 12))  # oversized
    elif choice == 2:
        node[1] = rand_bytes(rng, rng.randint(100, 3000))  # huge
    else:
        node[1] = rand_bytes(rng, rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 12, 16, 17, 20]))  # wrong type


def m_declared(rng, node):
    size = 4 + len(encode(node[1]) if isinstance(node[1], list) else node[1])
    node[2] = rng.choice([0, 1, 2, 3, 4, 5, size - 1, size + 1, size + 4, size + 100, 0xFFFF])


def m_flags(rng, node):
    node[0] |= rng.choice([NLA_F_NESTED, NLA_F_NET_BYTEORDER, NLA_F_NESTED | NLA_F_NET_BYTEORDER])


def m_nest(rng, node):
    v = node[1]
    choice = rng.randrange(3)
    if choice == 0:
        node[1] = rand_attrs(rng)  # a nest where a scalar belongs
    elif choice == 1:
        node[1] = [[node[0], v if not isinstance(v, list) else copy_attrs(v), None]]  # a nest of a nest
    else:
        node[1] = []  # empty


def m_type(rng, node):
    node[0] = rng.choice([0, rng.randrange(17), rng.randrange(17), rng.randrange(0x4000), 0x3FFF])


def mutate_tree(rng, m):
    found = nodes(m.attrs, [])
    kind = rng.randrange(10)
    if not found or kind == 0:
        where = m.attrs
        if found and rng.random() < 0.5:
            nest = [n for n in found if isinstance(n[0][n[1]][1], list)]
            if nest:
                lst, i, _ = rng.choice(nest)
                where = lst[i][1]
        where.insert(rng.randint(0, len(where)), a(rng.randrange(0x4000) if rng.random() < 0.3 else rng.randrange(20),
                                                   rand_bytes(rng, rng.choice([0, 1, 2, 4, 8, 16]))))
        return
    lst, i, _ = rng.choice(found)
    node = lst[i]
    if kind == 1:
        del lst[i]  # a missing attribute
    elif kind == 2:
        lst.insert(i, [node[0], copy_attrs(node[1]) if isinstance(node[1], list) else node[1], None])
    elif kind == 3:
        m_value(rng, node)
    elif kind == 4:
        m_string(rng, node)
    elif kind == 5:
        m_length(rng, node)
    elif kind == 6:
        m_declared(rng, node)
    elif kind == 7:
        m_flags(rng, node)
    elif kind == 8:
        m_nest(rng, node)
    else:
        m_type(rng, node)


def mutate_header(rng, m, family):
    kind = rng.randrange(9)
    if kind == 0:
        m.cmd = rng.randrange(256)
    elif kind == 1:
        m.cmd = rng.choice(range(len(CMD_NAMES) + 2))
    elif kind == 2:
        if rng.random() < 0.5:
            m.version = rng.randrange(256)
        else:
            m.reserved = rng.randrange(65536)
    elif kind == 3:
        m.flags = rng.choice([
            m.flags & ~NLM_F_ACK, m.flags | NLM_F_DUMP, m.flags & ~NLM_F_REQUEST, m.flags | NLM_F_ECHO,
            m.flags ^ NLM_F_ROOT, m.flags ^ NLM_F_MATCH, rng.randrange(65536), NLM_F_ACK | NLM_F_DUMP,
        ])
    elif kind == 4:
        body = m.body()
        size = 16 + len(body)
        m.raw, m.framing = body, rng.choice([0, 1, 15, 16, 17, 19, 20, size - 1, size - 4, size + 1, size + 4, size + 1000, 0xFFFFFFFF])
    elif kind == 5:
        body = m.body()
        m.raw = body[: rng.randint(0, len(body))]  # truncated, inside a consistent nlmsg_len
    elif kind == 6:
        m.raw = m.body() + rand_bytes(rng, rng.randint(1, 32))  # trailing bytes
    elif kind == 7:
        m.raw = m.body()[:4] + rand_bytes(rng, rng.randint(0, 200))  # random attributes
    else:
        m.raw = rand_bytes(rng, rng.randint(0, 120))  # random bytes
        if rng.random() < 0.3:
            m.framing = rng.getrandbits(32) if rng.random() < 0.5 else 16 + rng.randint(0, 140)
        if rng.random() < 0.1:
            m.ntype = rng.randrange(16)  # a control message type


def mutate(rng, m, family):
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3, 4])):
        if m.raw is not None:
            break
        if rng.random() < 0.75:
            mutate_tree(rng, m)
        else:
            mutate_header(rng, m, family)


# ---- the socket -------------------------------------------------------------------------------

class Conn:
    """A generic-netlink socket that sends bursts and reads every answer, with timeouts."""

    def __init__(self, family_name):
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, g.NETLINK_GENERIC)
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE: root only
        except OSError:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.sock.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)  # errors without the request echoed
        self.sock.bind((0, 0))
        _, ctrl = g.request(self.sock, g.GENL_ID_CTRL, g.CTRL_CMD_GETFAMILY,
                            g.attr(g.CTRL_ATTR_FAMILY_NAME, family_name.encode() + b"\0"))
        (self.family,) = struct.unpack("=H", ctrl[g.CTRL_ATTR_FAMILY_ID][:2])
        self.sock.setblocking(False)
        self.poll = select.poll()
        self.poll.register(self.sock, select.POLLIN)
        self.buf = bytearray(1 << 20)
        self.seq = 1000
        self.enobufs = 0
        self.stray = 0

    def next_seq(self):
        self.seq = (self.seq + 1) & 0xFFFFFFFF or 1
        return self.seq

    def messages(self, timeout):
        """Reads what is queued (waiting up to timeout s for the first byte): yields (type, flags, seq, payload)."""
        if not self.poll.poll(int(timeout * 1000)):
            return
        while True:
            try:
                n = self.sock.recv_into(self.buf)
            except BlockingIOError:
                return
            except OSError as e:
                if e.errno == errno.ENOBUFS:  # the receive queue overflowed: answers were dropped
                    self.enobufs += 1
                    continue
                raise
            data = memoryview(self.buf)[:n]
            off = 0
            while off + 16 <= n:
                length, kind, flags, seq, _pid = struct.unpack_from("=IHHII", data, off)
                if length < 16:
                    break
                yield kind, flags, seq, bytes(data[off + 16: off + length])
                off += (length + 3) & ~3

    def exchange(self, msgs, timeout=2.0):
        """Sends msgs (one burst) and returns one outcome per message, in order."""
        seqs = [self.next_seq() for _ in msgs]
        outcome = {s: None for s in seqs}
        replied = set()
        dumps = {s for s, m in zip(seqs, msgs) if m.is_dump() and m.framing is None}
        sentinel = self.next_seq()
        noop = struct.pack("=IHHII", 16, NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, sentinel, 0)
        if any(m.framing is not None for m in msgs):
            for m, s in zip(msgs, seqs):
                self._send(m.encode(self.family, s))
            self._send(noop)
        else:
            self._send(b"".join(m.encode(self.family, s) for m, s in zip(msgs, seqs)) + noop)
        done_sentinel = False
        deadline = time.monotonic() + timeout
        while not (done_sentinel and not dumps):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            got = False
            for kind, _flags, seq, payload in self.messages(left):
                got = True
                if seq == sentinel:
                    done_sentinel = True
                    continue
                if seq not in outcome:
                    self.stray += 1
                    continue
                if kind == NLMSG_ERROR:
                    (code,) = struct.unpack_from("=i", payload)
                    outcome[seq] = "ACK" if code == 0 else errname(-code)
                    dumps.discard(seq)
                elif kind == NLMSG_DONE:
                    if outcome[seq] is None:
                        outcome[seq] = "DONE"
                    dumps.discard(seq)
                else:
                    replied.add(seq)
            if got:
                deadline = time.monotonic() + timeout
        result = []
        for s, m in zip(seqs, msgs):
            o = outcome[s]
            if o is None:
                if s in replied:
                    o = "REPLY"
                elif done_sentinel and s not in dumps:
                    o = "SILENT"  # no ack asked for, a message the kernel skips, or a bad frame
                else:
                    o = "LOST"
            result.append(o)
        return result

    def _send(self, data):
        while True:
            try:
                self.sock.send(data)
                return
            except BlockingIOError:
                self.poll.poll(100)
            except OSError as e:
                # A frame the kernel cannot take at all (e.g. too big) is its own outcome.
                if e.errno in (errno.EMSGSIZE, errno.EINVAL, errno.ENOBUFS):
                    return
                raise

    def request(self, msg, timeout=5.0):
        """Sends one well-formed request; returns (errno or 0, [(cmd, attrs) of replies])."""
        seq = self.next_seq()
        self._send(msg.encode(self.family, seq))
        replies, code = [], None
        deadline = time.monotonic() + timeout
        while code is None and time.monotonic() < deadline:
            for kind, _flags, s, payload in self.messages(deadline - time.monotonic()):
                if s != seq:
                    continue
                if kind == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", payload)[0]
                elif kind == NLMSG_DONE:
                    code = 0
                else:
                    replies.append((payload[0], g.attrs(payload[4:])))
        if code is None:
            raise TimeoutError(f"no answer to {CMD_NAMES[msg.cmd]}")
        return code, replies


# ---- the run ----------------------------------------------------------------------------------

def control(conn, name, attrs=(), flags=NLM_F_REQUEST | NLM_F_ACK):
    return conn.request(Msg(CMD[name], attrs, flags))


def cleanup(conn):
    """Flushes services and stops any sync daemon a mutated message started."""
    code, _ = control(conn, "FLUSH")
    for state in (1, 2):
        control(conn, "DEL_DAEMON", [a(A_DAEMON, [u32(DM_STATE, state)])])
    return code


def tally(hist, per_cmd, key, outcome):
    """Counts one message's outcome, overall and for its command."""
    hist[outcome] = hist.get(outcome, 0) + 1
    per_cmd[(key, outcome)] = per_cmd.get((key, outcome), 0) + 1


def fuzz(conn, args):
    rng = random.Random(args.seed)
    base = corpus(rng)
    hist, per_cmd = {}, {}
    # The outcomes of the first --prefix messages alone: a shorter run with the same seed sends
    # exactly those, so its histogram compares with this one.
    pre_hist, pre_cmd = {}, {}
    sent = sends = 0
    flush_errors = []
    start = time.monotonic()
    next_flush = args.flush_every
    while sent < args.count:
        burst = []
        while len(burst) < args.burst and sent + len(burst) < args.count:
            m = rng.choice(base).copy()
            if rng.random() >= args.valid:
                mutate(rng, m, conn.family)
            burst.append(m)
            if m.is_dump() or m.framing is not None:
                break  # a dump, or a frame that may eat what follows, ends its burst
        for i, (m, o) in enumerate(zip(burst, conn.exchange(burst))):
            key = CMD_NAMES[m.cmd] if m.raw is None and m.cmd < len(CMD_NAMES) else "other"
            tally(hist, per_cmd, key, o)
            if sent + i < args.prefix:
                tally(pre_hist, pre_cmd, key, o)
        sent += len(burst)
        sends += 1
        if sent >= next_flush:
            next_flush += args.flush_every
            code = cleanup(conn)
            if code:
                flush_errors.append(errname(code))
        if args.progress and sends % 500 == 0:
            print(f"  {sent} messages, {time.monotonic() - start:.0f} s", flush=True)
    if args.prefix_hist_out:
        write_hist(args.prefix_hist_out, pre_hist, pre_cmd)
    return hist, per_cmd, sent, sends, time.monotonic() - start, flush_errors


def check(conn):
    """A FLUSH, then known services and destinations read back value by value."""
    problems = []

    def expect(what, got, want):
        if got != want:
            problems.append(f"{what}: got {got!r}, want {want!r}")

    code = cleanup(conn)
    expect("FLUSH", errname(code) if code else 0, 0)
    code, services = control(conn, "GET_SERVICE", flags=NLM_F_REQUEST | NLM_F_DUMP)
    expect("services after FLUSH", (code, len(services)), (0, 0))

    persistent_mask = struct.unpack("=I", socket.inet_aton("255.255.255.0"))[0]
    tcp = [u16(SVC_AF, AF_INET), u16(SVC_PROTOCOL, TCP), addr(SVC_ADDR, AF_INET, "10.9.9.9"), be16(SVC_PORT, 8080)]
    mark = [u16(SVC_AF, AF_INET6), u32(SVC_FWMARK, 77)]
    wanted = [
        (tcp, "wlc", 1, 300, persistent_mask,
         [u16(D_ADDR_FAMILY, AF_INET), addr(D_ADDR, AF_INET, "192.168.9.9"), be16(D_PORT, 80), u32(D_FWD_METHOD, 3),
          u32(D_WEIGHT, 7), u8(D_TUN_TYPE, 0), be16(D_TUN_PORT, 0), u16(D_TUN_FLAGS, 0), u32(D_U_THRESH, 100), u32(D_L_THRESH, 10)]),
        (mark, "sh", 0x10, 0, 128,
         [u16(D_ADDR_FAMILY, AF_INET6), addr(D_ADDR, AF_INET6, "2001:db8:9::9"), be16(D_PORT, 0), u32(D_FWD_METHOD, 2),
          u32(D_WEIGHT, 3), u8(D_TUN_TYPE, 1), be16(D_TUN_PORT, 6080), u16(D_TUN_FLAGS, 1), u32(D_U_THRESH, 0), u32(D_L_THRESH, 0)]),
    ]
    for ident, sched, flags, timeout, netmask, dest in wanted:
        full = copy_attrs(ident) + [string(SVC_SCHED_NAME, sched), a(SVC_FLAGS, struct.pack("=II", flags, 0xFFFFFFFF)),
                                    u32(SVC_TIMEOUT, timeout), u32(SVC_NETMASK, netmask)]
        code, _ = control(conn, "NEW_SERVICE", [a(A_SERVICE, full)])
        expect(f"NEW_SERVICE {sched}", errname(code) if code else 0, 0)
        code, _ = control(conn, "NEW_DEST", [a(A_SERVICE, copy_attrs(ident)), a(A_DEST, dest)])
        expect(f"NEW_DEST for {sched}", errname(code) if code else 0, 0)

    code, services = control(conn, "GET_SERVICE", flags=NLM_F_REQUEST | NLM_F_DUMP)
    expect("GET_SERVICE dump", (code, len(services)), (0, 2))
    found = {}
    for cmd, top in services:
        expect("dump message command", cmd, CMD["NEW_SERVICE"])
        svc = g.attrs(top.get(A_SERVICE, b""))
        found[svc.get(SVC_SCHED_NAME, b"").rstrip(b"\0").decode(errors="replace")] = svc
    for ident, sched, flags, timeout, netmask, dest in wanted:
        svc = found.get(sched)
        if svc is None:
            problems.append(f"service with scheduler {sched} missing from the dump")
            continue
        for kind, value, _ in ident:
            expect(f"{sched} service attribute {kind}", svc.get(kind), value)
        expect(f"{sched} flags", svc.get(SVC_FLAGS), struct.pack("=II", flags | 2, 0xFFFFFFFF))
        expect(f"{sched} timeout", svc.get(SVC_TIMEOUT), struct.pack("=I", timeout))
        expect(f"{sched} netmask", svc.get(SVC_NETMASK), struct.pack("=I", netmask))
        code, dests = control(conn, "GET_DEST", [a(A_SERVICE, copy_attrs(ident))], NLM_F_REQUEST | NLM_F_DUMP)
        expect(f"{sched} GET_DEST dump", (code, len(dests)), (0, 1))
        if dests:
            cmd, top = dests[0]
            expect("dest message command", cmd, CMD["NEW_DEST"])
            got = g.attrs(top.get(A_DEST, b""))
            for kind, value, _ in dest:
                expect(f"{sched} dest attribute {kind}", got.get(kind), value)
        code, one = control(conn, "GET_SERVICE", [a(A_SERVICE, copy_attrs(ident))])
        expect(f"{sched} GET_SERVICE", (code, len(one)), (0, 1))
    code, _ = control(conn, "FLUSH")
    expect("final FLUSH", errname(code) if code else 0, 0)
    code, services = control(conn, "GET_SERVICE", flags=NLM_F_REQUEST | NLM_F_DUMP)
    expect("services after the final FLUSH", (code, len(services)), (0, 0))
    return problems


def get_config(conn):
    code, replies = control(conn, "GET_CONFIG")
    if code or not replies:
        return None
    return {k: v for k, v in replies[0][1].items() if k in (A_TIMEOUT_TCP, A_TIMEOUT_TCP_FIN, A_TIMEOUT_UDP)}


def write_hist(path, hist, per_cmd):
    with open(path, "w") as f:
        for o, n in sorted(hist.items()):
            f.write(f"all {o} {n}\n")
        for (c, o), n in sorted(per_cmd.items()):
            f.write(f"{c} {o} {n}\n")


def read_hist(path):
    out = {}
    with open(path) as f:
        for line in f:
            c, o, n = line.split()
            out[(c, o)] = int(n)
    return out


def compare(ref_path, new_path):
    ref, new = read_hist(ref_path), read_hist(new_path)
    outcomes = sorted({o for c, o in ref if c == "all"} | {o for c, o in new if c == "all"})
    print(f"{'outcome':<14}{'reference':>12}{'target':>12}")
    for o in outcomes:
        print(f"{o:<14}{ref.get(('all', o), 0):>12}{new.get(('all', o), 0):>12}")
    only = [o for o in outcomes if ("all", o) in new and ("all", o) not in ref]
    pairs = sorted(k for k in new if k[0] != "all" and k not in ref)
    if only:
        print("WARNING: outcomes seen from the target but never from the reference: " + " ".join(only))
    else:
        print("every outcome seen from the target was also seen from the reference")
    for c, o in pairs:
        print(f"note: {c} answered {o} {new[(c, o)]}x by the target, never by the reference")
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--family", default="IPVS")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--count", type=int, default=100000)
    p.add_argument("--burst", type=int, default=64, help="messages per send()")
    p.add_argument("--valid", type=float, default=0.15, help="share of corpus messages sent unmutated")
    p.add_argument("--flush-every", type=int, default=2000)
    p.add_argument("--hist-out")
    p.add_argument("--prefix", type=int, default=0, help="also count the first N messages apart")
    p.add_argument("--prefix-hist-out", help="where the histogram of the first --prefix messages goes")
    p.add_argument("--progress", action="store_true")
    p.add_argument("--compare", nargs=2, metavar=("REFERENCE", "TARGET"))
    args = p.parse_args()
    if args.compare:
        return compare(*args.compare)

    conn = Conn(args.family)
    config = get_config(conn)
    hist, per_cmd, sent, sends, secs, flush_errors = fuzz(conn, args)
    print(f"nlfuzz: family {args.family} (id {conn.family}), seed {args.seed}: {sent} messages in {sends} sends, "
          f"{secs:.1f} s ({sent / secs:.0f} messages/s); ENOBUFS {conn.enobufs}, stray answers {conn.stray}")
    width = max(len(o) for o in hist)
    for o, n in sorted(hist.items(), key=lambda kv: -kv[1]):
        print(f"  {o:<{width}} {n:>7}")
    if args.hist_out:
        write_hist(args.hist_out, hist, per_cmd)

    problems = [f"periodic FLUSH failed: {e}" for e in flush_errors]
    problems += check(conn)
    if config:
        code, _ = control(conn, "SET_CONFIG", [a(k, v) for k, v in sorted(config.items())])
        if code:
            problems.append(f"restoring the timeouts: {errname(code)}")
    code, _ = control(conn, "GET_INFO")
    if code:
        problems.append(f"GET_INFO after the run: {errname(code)}")
    for line in problems:
        print(f"final check: {line}")
    print("final check: " + ("FAILED" if problems else "ok (FLUSH; 2 services + 2 destinations added and read back)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
