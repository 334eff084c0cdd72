#!/usr/bin/env python3
"""A receiving SMTP server for tests of atoll's outbound path: it stands for
another domain's MX and records every message it acknowledges.

    smtp_sink.py PORT LOG [HANG_AT STATUS]

Each acknowledged message appends its Subject as one line to LOG, synced to
disk before the 250 goes out, so LOG is exactly what the sink took
responsibility for. With HANG_AT, the end of data of the HANG_AT-th
message (counting from 1) is never answered: "hanging" is written to
STATUS and the connection stays silent, as a server does while the sender
crashes.
"""

import os
import socketserver
import sys
import threading
import time

PORT, LOG = int(sys.argv[1]), sys.argv[2]
HANG_AT = int(sys.argv[3]) if len(sys.argv) > 3 else 0
STATUS = sys.argv[4] if len(sys.argv) > 4 else None
lock = threading.Lock()
seen = [0]


def record(subject):
    with open(LOG, "a") as f:
        f.write(subject + "\n")
        f.flush()
        os.fsync(f.fileno())


class Handler(socketserver.StreamRequestHandler):
    def send(self, line):
        self.wfile.write((line + "\r\n").encode())
        self.wfile.flush()

    def handle(self):
        self.send("220 sink.elsewhere.net ESMTP sink")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            cmd = line.decode("utf-8", "replace").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "LHLO"):
                self.send("250-sink.elsewhere.net")
                self.send("250 8BITMIME")
            elif verb == "HELO":
                self.send("250 sink.elsewhere.net")
            elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
                self.send("250 2.0.0 OK")
            elif verb == "DATA":
                self.send("354 go ahead")
                subject = ""
                while True:
                    data = self.rfile.readline()
                    if not data:
                        return
                    if data in (b".\r\n", b".\n"):
                        break
                    text = data.decode("utf-8", "replace")
                    if not subject and text.lower().startswith("subject:"):
                        subject = text.split(":", 1)[1].strip()
                with lock:
                    seen[0] += 1
                    n = seen[0]
                if HANG_AT and n == HANG_AT:
                    with open(STATUS, "w") as f:
                        f.write("hanging\n")
                    while True:
                        time.sleep(60)
                with lock:
                    record(subject)
                self.send("250 2.0.0 OK taken")
            elif verb == "QUIT":
                self.send("221 2.0.0 bye")
                return
            else:
                self.send("502 5.5.1 not here")


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    with Server(("127.0.0.1", PORT), Handler) as s:
        s.serve_forever()
