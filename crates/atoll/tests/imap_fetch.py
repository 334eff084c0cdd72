#!/usr/bin/env python3
"""Prints the header section of every message in a mailbox, read over
IMAPS with Python's imaplib (a client atoll did not write), for
crates/atoll/tests/authentication.rs.

    imap_fetch.py TLS_PORT USER PASSWORD MAILBOX

Output: JSON, a list of header sections (strings), in UID order.
"""

import imaplib
import json
import ssl
import sys


def main():
    port, user, password, mailbox = sys.argv[1:5]
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    m = imaplib.IMAP4_SSL("127.0.0.1", int(port), ssl_context=ctx)
    m.login(user, password)
    typ, data = m.select(mailbox, readonly=True)
    if typ != "OK":
        sys.exit(f"SELECT {mailbox}: {data}")
    headers = []
    typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[HEADER])")
    if typ != "OK":
        sys.exit(f"FETCH: {data}")
    for item in data:
        if isinstance(item, tuple):
            headers.append(item[1].decode("utf-8", "replace"))
    m.logout()
    print(json.dumps(headers))


if __name__ == "__main__":
    main()
