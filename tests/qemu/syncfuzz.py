#!/usr/bin/env python3
"""A forging sender of IPVS sync messages, aimed at a backup director (the sync-daemon scenario).

  syncfuzz.py --stats FILE --netns NAME --ifaddr A [--group G] [--port P] [--syncid N]
              [--count N] [--pool N] [--seed S]

Started inside the backup's network namespace, it opens the backup's counters (FILE,
/proc/net/rvs_sync_stats), then moves into namespace NAME (setns) and multicasts COUNT datagrams
from address A to G:P (224.0.0.81:8848), each built to have one known outcome at a backup with
sync id N (default 1), whatever else it contains:

  malformed     the datagram is dropped whole or from its first entry on: shorter than a header,
                a size field that is not the datagram's, oversized (cut at the backup's buffer),
                no room for the announced entries, an entry whose size runs past the end, an
                entry version other than 0, an unknown entry type, an IPv6 entry shorter than its
                addresses, a zero or overlong option length, sequence data of the wrong length or
                twice, an engine name over 16 bytes, engine data twice, version-0 entries cut short
  skipped       one well-formed entry the backup must refuse alone: ONE_PACKET, NO_CPORT with
                TEMPLATE, a protocol it does not handle, a state out of range, an unknown
                mandatory option, engine data without a known engine
  other_syncid  a valid message for another sync id (it must not create anything)

Python is slow under TCG: it builds a pool of --pool distinct datagrams (default 20,000) and
sends COUNT draws from it. Datagrams go out in bursts, each burst waiting until the backup's
rx_msgs shows it received, so none is lost to a full socket buffer. Prints the counts of each
kind and the total: `sent N malformed M skipped S other_syncid O`.
"""
import ctypes
import os
import random
import socket
import struct
import sys
import time

CLONE_NEWNET = 0x40000000
TCP, UDP = 6, 17
F_DR, F_ONE_PACKET, F_NO_CPORT, F_TEMPLATE = 0x3, 0x2000, 0x0800, 0x1000


def stats(f):
    f.seek(0)
    return {k: int(v) for k, v in (line.split() for line in f.read().splitlines())}


def v1(syncid, entries, nr=None, size=None):
    body = b""
    for i, e in enumerate(entries):
        if i:
            body += b"\0" * (-len(body) % 4)
        body += e
    n = len(entries) if nr is None else nr
    total = 8 + len(body)
    return struct.pack(">BBHBBH", 0, syncid, total if size is None else size, n, 1, 0) + body


def entry_v4(rng, opts=b"", flags=F_DR, state=1, proto=TCP, typ=0, size=None, ver=0):
    fixed = struct.pack(">BBHIHHHHII", typ, proto, 0, flags, state, rng.randrange(1024, 65536),
                        80, 80, 0, 300)
    fixed += bytes([10, 9, 50, rng.randrange(1, 255), 10, 9, 1, 1, 10, 9, 0, 100])
    e = fixed + opts
    ver_size = (ver << 12) | ((len(e) if size is None else size) & 0xfff)
    return e[:2] + struct.pack(">H", ver_size) + e[4:]


def malformed(rng, syncid):
    k = rng.randrange(16)
    if k == 0:
        return rng.randbytes(rng.randrange(1, 4))
    if k == 1:
        n = rng.randrange(4, 1400)
        b = bytearray(rng.randbytes(n))
        b[2:4] = struct.pack(">H", (n + rng.randrange(1, 65535)) & 0xffff)
        return bytes(b)
    if k == 2:
        # Oversized: correct size field, but longer than the backup's buffer (1472 bytes).
        n = rng.randrange(1473, 4000)
        b = bytearray(v1(syncid, [entry_v4(rng)]) + rng.randbytes(n - 44))
        b[2:4] = struct.pack(">H", n)
        return bytes(b)
    if k == 3:
        return v1(syncid, [], nr=rng.randrange(1, 256))
    if k == 4:
        return v1(syncid, [entry_v4(rng, ver=rng.randrange(1, 16))])
    if k == 5:
        e = entry_v4(rng)
        return v1(syncid, [e[:2] + struct.pack(">H", len(e) + rng.randrange(1, 200)) + e[4:]])
    if k == 6:
        return v1(syncid, [entry_v4(rng, size=rng.randrange(0, 36))])
    if k == 7:
        return v1(syncid, [entry_v4(rng, typ=rng.randrange(1, 128) * 2)])
    if k == 8:
        return v1(syncid, [entry_v4(rng, typ=1 | rng.randrange(0, 128) * 2)])
    if k == 9:
        return v1(syncid, [entry_v4(rng, opts=bytes([rng.randrange(256), 0]))])
    if k == 10:
        return v1(syncid, [entry_v4(rng, opts=bytes([1, 30]) + b"\0" * rng.randrange(0, 29))])
    if k == 11:
        n = rng.choice([1, 12, 23, 25, 100])
        return v1(syncid, [entry_v4(rng, opts=bytes([1, n]) + b"\0" * n)])
    if k == 12:
        seq = bytes([1, 24]) + b"\0" * 24
        return v1(syncid, [entry_v4(rng, opts=seq + seq)])
    if k == 13:
        n = rng.randrange(17, 256)
        return v1(syncid, [entry_v4(rng, opts=bytes([3, n]) + b"s" * n)])
    if k == 14:
        return v1(syncid, [entry_v4(rng, opts=bytes([2, 1, 7, 2, 1, 7]))])
    # Version 0: nr_conns first, entries cut short.
    n = rng.randrange(1, 20)
    ln = rng.randrange(4, 4 + 24 * n)
    b = bytearray(rng.randbytes(ln))
    b[0], b[1] = n, syncid
    b[2:4] = struct.pack(">H", ln)
    # An entry announcing sequence data makes it 48 bytes: keep the first one cut short.
    if ln >= 28:
        b[24:26] = struct.pack(">H", 0x0600)
        if ln >= 52:
            b = b[:51]
            b[2:4] = struct.pack(">H", 51)
    return bytes(b)


def skipped(rng, syncid):
    k = rng.randrange(8)
    if k == 0:
        e = entry_v4(rng, proto=UDP, flags=F_DR | F_ONE_PACKET, state=0)
    elif k == 1:
        e = entry_v4(rng, flags=F_TEMPLATE | F_NO_CPORT, state=0)
    elif k == 2:
        e = entry_v4(rng, proto=rng.choice([1, 47, 50, 51, 58, 255]))
    elif k == 3:
        e = entry_v4(rng, state=rng.randrange(11, 65536))
    elif k == 4:
        e = entry_v4(rng, flags=F_TEMPLATE, state=rng.randrange(2, 65536))
    elif k == 5:
        t = rng.choice([4, 5, 9, 63])
        e = entry_v4(rng, opts=bytes([t, 2, 0, 0]))
    elif k == 6:
        e = entry_v4(rng, proto=UDP, flags=F_TEMPLATE, state=0, opts=bytes([2, 3]) + b"cid")
    else:
        e = entry_v4(rng, proto=UDP, flags=F_TEMPLATE, state=0,
                     opts=bytes([2, 3]) + b"cid" + bytes([3, 3]) + b"ftp")
    return v1(syncid, [e])


def main():
    o = {"--stats": None, "--netns": None, "--ifaddr": None, "--group": "224.0.0.81",
         "--port": "8848", "--syncid": "1", "--count": "100000", "--pool": "20000", "--seed": "1"}
    argv = sys.argv[1:]
    for i in range(0, len(argv), 2):
        if argv[i] not in o:
            sys.exit(f"syncfuzz.py: unknown option {argv[i]}")
        o[argv[i]] = argv[i + 1]
    rng = random.Random(int(o["--seed"]))
    syncid, count = int(o["--syncid"]), int(o["--count"])
    f = open(o["--stats"])
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/run/netns/{o['--netns']}", os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        sys.exit(f"setns: {os.strerror(ctypes.get_errno())}")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(o["--ifaddr"]))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
    dst = (o["--group"], int(o["--port"]))
    pool = []
    for _ in range(int(o["--pool"])):
        r = rng.random()
        if r < 0.75:
            pool.append(("malformed", malformed(rng, syncid)))
        elif r < 0.92:
            pool.append(("skipped", skipped(rng, syncid)))
        else:
            other = rng.choice([0] + [i for i in range(2, 256)])
            pool.append(("other_syncid", v1(other, [entry_v4(rng)])))
    kinds = {"malformed": 0, "skipped": 0, "other_syncid": 0}
    base = stats(f)["rx_msgs"]
    sent = 0
    t0 = time.monotonic()
    burst = 256
    sendto = s.sendto
    while sent < count:
        n = min(burst, count - sent)
        for kind, pkt in rng.choices(pool, k=n):
            kinds[kind] += 1
            sendto(pkt, dst)
        sent += n
        deadline = time.monotonic() + 10
        while stats(f)["rx_msgs"] - base < sent:
            if time.monotonic() > deadline:
                got = stats(f)["rx_msgs"] - base
                sys.exit(f"syncfuzz.py: the backup received {got} of {sent} datagrams")
            time.sleep(0.001)
    print(f"sent {sent} malformed {kinds['malformed']} skipped {kinds['skipped']} "
          f"other_syncid {kinds['other_syncid']} in {time.monotonic() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
