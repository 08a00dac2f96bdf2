#!/usr/bin/env python3
"""Connections for the sync-daemon scenario, from one process (process start-up is slow under
TCG): entries a master director syncs, held open while the backups are compared.

  syncload.py --to VIP --port P [--tcp N] [--udp U] [--hold-file PATH] [--ready-file PATH]

Opens N TCP connections to VIP:P and sends two short writes on each (the client's third and
fifth packets: ip_vs syncs an established connection on its 3rd inbound packet with the
default sync_threshold 3 50), and U UDP flows of three datagrams each (answers are not awaited:
a DR real server answers UDP from its own address). Prints `ready: tcp N ok F failed; udp U`
(and writes it to --ready-file), then holds everything open until --hold-file exists.
"""
import os
import socket
import sys
import time


def main():
    o = {"--to": None, "--port": None, "--tcp": "0", "--udp": "0", "--hold-file": "",
         "--ready-file": ""}
    argv = sys.argv[1:]
    i = 0
    while i < len(argv):
        k, eq, v = argv[i].partition("=")
        if k not in o:
            sys.exit(f"syncload.py: unknown option {k}")
        if not eq:
            i += 1
            v = argv[i]
        o[k] = v
        i += 1
    to, port = o["--to"], int(o["--port"])
    held, failed = [], 0
    for _ in range(int(o["--tcp"])):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(10)
        try:
            s.connect((to, port))
            s.sendall(b"sync me\n")
            time.sleep(0.01)
            s.sendall(b"and again\n")
            held.append(s)
        except OSError:
            failed += 1
            s.close()
    udps = []
    for _ in range(int(o["--udp"])):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.connect((to, port))
        for _ in range(3):
            s.send(b"u" * 16)
        udps.append(s)
    line = f"ready: tcp {len(held)} ok {failed} failed; udp {len(udps)}"
    print(line, flush=True)
    if o["--ready-file"]:
        with open(o["--ready-file"] + ".tmp", "w") as f:
            f.write(line + "\n")
        os.rename(o["--ready-file"] + ".tmp", o["--ready-file"])
    while o["--hold-file"] and not os.path.exists(o["--hold-file"]):
        time.sleep(0.2)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
