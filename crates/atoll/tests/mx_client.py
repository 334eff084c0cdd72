#!/usr/bin/env python3
"""Drives atoll's MX with Python's smtplib (a client atoll did not write),
for crates/atoll/tests/mx.rs.

    mx_client.py PORT send SPEC_JSON
        One session: EHLO, STARTTLS if "starttls" is true (the certificate
        is self-signed: not verified), EHLO again, then one transaction.
        SPEC_JSON: {"from": "...", "rcpts": ["..."], "message": "...",
                    "starttls": bool, "ssl": bool (implicit TLS),
                    "auth": [user, password, "PLAIN"|"LOGIN"],
                    "mail_options": [...],
                    "source": "client address to connect from (optional)"}
        Prints JSON: {"features": {...}, "tls": bool, "auth": [code, text],
                      "mail": [code, text], "rcpt": [[code, text], ...],
                      "data": [code, text]}

    mx_client.py PORT flood COUNT THREADS
        COUNT messages with Subject "flood-N" to ann@example.org over
        THREADS sessions at once. Prints "OK flood-N" the moment message N
        got its 250, and stops quietly when the server goes away: the lines
        printed are exactly the messages the server acknowledged.
"""

import json
import smtplib
import ssl
import sys
import threading


def text(b):
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)


def insecure_context():
    # The test servers' certificates are self-signed.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def send(port, spec):
    out = {}
    source = (spec["source"], 0) if spec.get("source") else None
    if spec.get("ssl"):
        s = smtplib.SMTP_SSL("127.0.0.1", port, timeout=30, context=insecure_context(), source_address=source)
    else:
        s = smtplib.SMTP("127.0.0.1", port, timeout=30, source_address=source)
    try:
        s.ehlo("client.example.net")
        out["tls"] = bool(spec.get("ssl"))
        if spec.get("starttls"):
            code, msg = s.starttls(context=insecure_context())
            out["starttls"] = [code, text(msg)]
            out["tls"] = True
            s.ehlo("client.example.net")
        out["features"] = dict(s.esmtp_features)
        if spec.get("auth"):
            user, password, mechanism = spec["auth"]
            s.user, s.password = user, password
            method = s.auth_plain if mechanism == "PLAIN" else s.auth_login
            try:
                code, msg = s.auth(mechanism, method, initial_response_ok=(mechanism == "PLAIN"))
            except smtplib.SMTPAuthenticationError as e:
                code, msg = e.smtp_code, e.smtp_error
            except smtplib.SMTPNotSupportedError:
                code, msg = 0, b"AUTH not offered"
            out["auth"] = [code, text(msg)]
            if code != 235:
                return out
        code, msg = s.mail(spec["from"], spec.get("mail_options", []))
        out["mail"] = [code, text(msg)]
        out["rcpt"] = []
        if code != 250:
            return out
        accepted = 0
        for r in spec["rcpts"]:
            code, msg = s.rcpt(r)
            out["rcpt"].append([code, text(msg)])
            accepted += code == 250
        if accepted:
            code, msg = s.data(spec["message"].encode("utf-8"))
            out["data"] = [code, text(msg)]
        s.quit()
    finally:
        s.close()
    return out


def flood(port, count, threads):
    lock = threading.Lock()
    next_n = [0]

    def take():
        with lock:
            n = next_n[0]
            next_n[0] += 1
            return n if n < count else None

    def worker():
        try:
            s = smtplib.SMTP("127.0.0.1", port, timeout=30)
            s.ehlo("flood.example.net")
            while True:
                n = take()
                if n is None:
                    break
                msg = (
                    "From: flood@example.net\r\nTo: ann@example.org\r\n"
                    f"Subject: flood-{n}\r\nMessage-ID: <flood-{n}@example.net>\r\n\r\n"
                    + "The quick brown fox jumps over the lazy dog.\r\n" * 20
                )
                s.sendmail("flood@example.net", ["ann@example.org"], msg.encode())
                with lock:
                    print(f"OK flood-{n}", flush=True)
            s.quit()
        except (OSError, smtplib.SMTPException):
            # The server was killed: what was acknowledged is printed.
            pass

    ts = [threading.Thread(target=worker) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def main():
    port = int(sys.argv[1])
    if sys.argv[2] == "send":
        print(json.dumps(send(port, json.loads(sys.argv[3]))))
    elif sys.argv[2] == "flood":
        flood(port, int(sys.argv[3]), int(sys.argv[4]))
    else:
        sys.exit(f"unknown mode {sys.argv[2]}")


if __name__ == "__main__":
    main()
