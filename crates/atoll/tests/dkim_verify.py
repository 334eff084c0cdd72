#!/usr/bin/python3
"""Verifies the DKIM signatures of a message with dkimpy (Debian's
python3-dkim), a verifier atoll did not write.

    dkim_verify.py MESSAGE_FILE NAME TXT

The signature's key record is looked up as NAME and answered with TXT
(what `atoll domain dkim generate` told the operator to publish), so no
DNS is needed. Prints JSON: {"verified": bool, "signatures": n, "why": "..."}.
"""

import json
import sys

import dkim

path, name, txt = sys.argv[1], sys.argv[2], sys.argv[3]
with open(path, "rb") as f:
    message = f.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def dnsfunc(qname, timeout=5):
    want = name.rstrip(".").lower()
    asked = (qname.decode() if isinstance(qname, bytes) else qname).rstrip(".").lower()
    return txt.encode() if asked == want else None


d = dkim.DKIM(message)
signatures = message.count(b"\r\nDKIM-Signature:") + message.startswith(b"DKIM-Signature:")
try:
    ok = d.verify(dnsfunc=dnsfunc)
    why = ""
except dkim.ValidationError as e:
    # A signature that does not match is a result, not an error.
    ok, why = False, str(e)
print(json.dumps({"verified": bool(ok), "signatures": signatures, "why": why}))
