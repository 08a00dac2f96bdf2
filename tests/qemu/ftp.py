"""FTP server and client for the FTP helper scenario (tests/qemu/scenarios/dp/ftp.sh).

  ftp.py serve --addr RIP --root DIR [--ready-file F]    (Debian's python3-pyftpdlib: /usr/bin/python3)
  ftp.py client --host VIP --file NAME MODE...            (the standard library's ftplib)

The server is pyftpdlib, anonymous and read-only, with passive ports 50000-50009; its active data
connections leave from port 20, as vsftpd's connect_from_port_20 and RFC 959's "L-1" have them
(pyftpdlib's own leave from any port, which no FTP helper follows).

The client logs in once and fetches NAME once per MODE over the same control connection:
  pasv  PASV (IPv4; EPSV on IPv6, as ftplib does), connecting where the reply says
  epsv  EPSV, connecting to the control connection's peer with the reply's port
  port  PORT (IPv4; EPRT on IPv6, as ftplib does)
  eprt  EPRT
  nohelper  only sends PASV/EPSV and reports the reply (no transfer)
For each it prints "MODE SHA256 PEERHOST PEERPORT REPLY" (REPLY: the server's reply to the
passive command or "-"), then "quit REPLY".
"""

import argparse
import ftplib
import hashlib
import socket
import sys


def serve(args):
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import ActiveDTP, FTPHandler
    from pyftpdlib.servers import FTPServer

    class Port20DTP(ActiveDTP):
        def bind(self, addr):
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            super().bind((addr[0], 20) + tuple(addr[2:]))

    auth = DummyAuthorizer()
    auth.add_anonymous(args.root)
    handler = FTPHandler
    handler.authorizer = auth
    handler.active_dtp = Port20DTP
    handler.passive_ports = range(50000, 50010)
    handler.banner = "rvs test ftp"
    server = FTPServer((args.addr, 21), handler)
    if args.ready_file:
        with open(args.ready_file, "w") as f:
            f.write("READY\n")
    server.serve_forever(timeout=1, blocking=True, handle_exit=True)


class Client(ftplib.FTP):
    trust_server_pasv_ipv4_address = True
    mode = "pasv"
    last_reply = "-"

    def makepasv(self):
        if self.mode == "epsv":
            resp = self.sendcmd("EPSV")
            self.last_reply = resp
            return ftplib.parse229(resp, self.sock.getpeername())
        if self.af == socket.AF_INET:
            resp = self.sendcmd("PASV")
            self.last_reply = resp
            return ftplib.parse227(resp)
        resp = self.sendcmd("EPSV")
        self.last_reply = resp
        return ftplib.parse229(resp, self.sock.getpeername())

    def makeport(self):
        if self.mode != "eprt":
            return super().makeport()
        host = self.sock.getsockname()[0]
        sock = socket.create_server((host, 0), family=self.af, backlog=1)
        port = sock.getsockname()[1]
        af = 1 if self.af == socket.AF_INET else 2
        self.voidcmd("EPRT |%d|%s|%d|" % (af, host, port))
        if self.timeout is not ftplib._GLOBAL_DEFAULT_TIMEOUT:
            sock.settimeout(self.timeout)
        return sock


def client(args):
    ftp = Client()
    ftp.connect(args.host, 21, timeout=20)
    ftp.login()
    ftp.voidcmd("TYPE I")
    for mode in args.modes:
        ftp.mode = mode
        ftp.last_reply = "-"
        if mode == "nohelper":
            cmd = "PASV" if ftp.af == socket.AF_INET else "EPSV"
            print(mode, "-", "-", "-", ftp.sendcmd(cmd), flush=True)
            continue
        ftp.set_pasv(mode in ("pasv", "epsv"))
        conn, _ = ftp.ntransfercmd("RETR " + args.file)
        peer = conn.getpeername()
        h = hashlib.sha256()
        while True:
            b = conn.recv(65536)
            if not b:
                break
            h.update(b)
        conn.close()
        ftp.voidresp()
        print(mode, h.hexdigest(), peer[0], peer[1], ftp.last_reply, flush=True)
    print("quit", ftp.quit(), flush=True)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve")
    s.add_argument("--addr", required=True)
    s.add_argument("--root", required=True)
    s.add_argument("--ready-file")
    c = sub.add_parser("client")
    c.add_argument("--host", required=True)
    c.add_argument("--file", required=True)
    c.add_argument("modes", nargs="+")
    args = p.parse_args()
    if args.cmd == "serve":
        serve(args)
    else:
        client(args)


if __name__ == "__main__":
    try:
        main()
    except ftplib.all_errors as e:
        print("error", type(e).__name__, e, flush=True)
        sys.exit(1)
