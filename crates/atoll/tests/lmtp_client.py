#!/usr/bin/env python3
"""Runs one LMTP transaction with Python's smtplib.LMTP (a client atoll did
not write) and prints every reply as JSON, for crates/atoll/tests/lmtp.rs.

    lmtp_client.py PORT SPEC_JSON

SPEC_JSON: {"from": "...", "mail_options": ["SIZE=…"], "rcpts": ["…"],
            "message": "…"}

Output: {"lhlo": [code, text], "features": {...}, "mail": [code, text],
         "rcpt": [[code, text], …], "data": [[code, text], …]}
"data" holds one reply per accepted recipient (RFC 2033 §4.2): smtplib's
LMTP.data() returns only the first, the others are read with getreply().
"""

import json
import smtplib
import sys


def text(b):
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)


def main():
    port = int(sys.argv[1])
    spec = json.loads(sys.argv[2])
    out = {}
    lmtp = smtplib.LMTP("127.0.0.1", port, timeout=30)
    try:
        code, msg = lmtp.ehlo("client.test")  # LMTP sends LHLO
        out["lhlo"] = [code, text(msg)]
        out["features"] = {k: v for k, v in lmtp.esmtp_features.items()}
        code, msg = lmtp.mail(spec["from"], spec.get("mail_options", []))
        out["mail"] = [code, text(msg)]
        out["rcpt"] = []
        out["data"] = []
        if code != 250:
            return out
        accepted = 0
        for r in spec["rcpts"]:
            code, msg = lmtp.rcpt(r)
            out["rcpt"].append([code, text(msg)])
            if code == 250:
                accepted += 1
        if accepted and "message" in spec:
            code, msg = lmtp.data(spec["message"].encode("utf-8"))
            out["data"].append([code, text(msg)])
            for _ in range(accepted - 1):
                code, msg = lmtp.getreply()
                out["data"].append([code, text(msg)])
        lmtp.quit()
    finally:
        lmtp.close()
    return out


if __name__ == "__main__":
    print(json.dumps(main()))
