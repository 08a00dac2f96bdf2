#!/usr/bin/env python3
"""A small generic-netlink client: IPVS_CMD_GET_INFO, written from the uapi headers alone.

    genl_info.py [FAMILY]      (default IPVS)

Resolves FAMILY with the generic-netlink controller, sends IPVS_CMD_GET_INFO and prints
"family=IPVS version=1.2.1 conn_tab_size=4096". Exits 0 on an answer, 2 if the family does not
exist, and 1 with "error: <errno name>" if the kernel answers with an error. Independent of rvs's
own codec on purpose: it checks rvs against the ABI, not against itself.
"""

import errno
import os
import socket
import struct
import sys

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST = 1
NLM_F_ACK = 4
NLMSG_ERROR = 2
IPVS_CMD_GET_INFO = 15
IPVS_CMD_SET_INFO = 14
IPVS_INFO_ATTR_VERSION = 1
IPVS_INFO_ATTR_CONN_TAB_SIZE = 2


def align4(n):
    return (n + 3) & ~3


def attr(kind, payload):
    head = struct.pack("=HH", 4 + len(payload), kind)
    return head + payload + b"\0" * (align4(len(payload)) - len(payload))


def attrs(buf):
    out = {}
    while len(buf) >= 4:
        length, kind = struct.unpack_from("=HH", buf)
        if length < 4:
            break
        out[kind & 0x3FFF] = buf[4:length]
        buf = buf[align4(length):]
    return out


def request(sock, family_id, cmd, payload=b"", seq=1):
    """Sends one request; returns (cmd, attrs) of the reply, or raises OSError for an error."""
    body = struct.pack("=BBH", cmd, 1, 0) + payload
    sock.send(struct.pack("=IHHII", 16 + len(body), family_id, NLM_F_REQUEST | NLM_F_ACK, seq, 0) + body)
    reply = None
    while True:
        data = sock.recv(65536)
        while len(data) >= 16:
            length, kind, _flags, _seq, _pid = struct.unpack_from("=IHHII", data)
            msg = data[16:length]
            data = data[align4(length):]
            if kind == NLMSG_ERROR:
                (code,) = struct.unpack_from("=i", msg)
                if code != 0:
                    raise OSError(-code, os.strerror(-code))
                return reply
            reply = (msg[0], attrs(msg[4:]))


def main():
    name = sys.argv[1] if len(sys.argv) > 1 else "IPVS"
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
    sock.bind((0, 0))
    try:
        _, ctrl = request(sock, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, attr(CTRL_ATTR_FAMILY_NAME, name.encode() + b"\0"))
    except OSError as e:
        if e.errno == errno.ENOENT:
            print(f"family {name} not found")
            return 2
        raise
    (family_id,) = struct.unpack("=H", ctrl[CTRL_ATTR_FAMILY_ID][:2])
    try:
        cmd, info = request(sock, family_id, IPVS_CMD_GET_INFO, seq=2)
    except OSError as e:
        print(f"error: {errno.errorcode.get(e.errno, e.errno)}")
        return 1
    if cmd != IPVS_CMD_SET_INFO:
        print(f"error: reply command {cmd}, expected {IPVS_CMD_SET_INFO}")
        return 1
    (version,) = struct.unpack("=I", info[IPVS_INFO_ATTR_VERSION])
    (size,) = struct.unpack("=I", info[IPVS_INFO_ATTR_CONN_TAB_SIZE])
    print(f"family={name} version={version >> 16}.{(version >> 8) & 0xff}.{version & 0xff} conn_tab_size={size}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
