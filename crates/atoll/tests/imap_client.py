#!/usr/bin/env python3
"""Drives atoll's IMAP server with Python's imaplib (a client atoll did not
write), for crates/atoll/tests/imap.rs. Every check raises on failure; the
script prints one line per passed check and exits 0 only if all passed.

    imap_client.py SCENARIO PORT TLS_PORT USER PASSWORD

SCENARIO is one of the functions below named scenario_*.
"""

import imaplib
import re
import socket
import ssl
import sys
import threading
import time

HOST = "127.0.0.1"


def ctx():
    c = ssl.create_default_context()
    c.check_hostname = False
    c.verify_mode = ssl.CERT_NONE
    return c


def check(cond, what, detail=""):
    if not cond:
        raise AssertionError(f"{what}: {detail}")
    print(f"ok: {what}")


def ok(resp, what):
    typ, data = resp
    check(typ == "OK", what, repr(data))
    return data


def starttls_login(port, user, password):
    m = imaplib.IMAP4(HOST, port)
    check("STARTTLS" in m.capabilities, "STARTTLS is offered before login", m.capabilities)
    check("LOGINDISABLED" in m.capabilities, "LOGIN is disabled before TLS", m.capabilities)
    ok(m.starttls(ssl_context=ctx()), "STARTTLS")
    check("STARTTLS" not in m.capabilities, "STARTTLS is not offered after TLS", m.capabilities)
    ok(m.login(user, password), "LOGIN after STARTTLS")
    return m


def message(subject, body="Hello.\r\n", extra=""):
    return (
        f"From: Ann Example <ann@example.org>\r\nTo: bob@example.org\r\nSubject: {subject}\r\n"
        f"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject.replace(' ', '.')}@example.org>\r\n"
        f"{extra}\r\n{body}"
    ).encode()


def scenario_basics(port, tls_port, user, password):
    # Cleartext: a password must not be accepted before TLS.
    m = imaplib.IMAP4(HOST, port)
    try:
        m.login(user, password)
        raise AssertionError("LOGIN succeeded on a cleartext connection")
    except imaplib.IMAP4.error as e:
        check("PRIVACYREQUIRED" in str(e) or "disabled" in str(e).lower(), "LOGIN refused before TLS", str(e))
    m.logout()

    # Wrong password: NO, and the session stays usable.
    m = imaplib.IMAP4_SSL(HOST, tls_port, ssl_context=ctx())
    try:
        m.login(user, password + "x")
        raise AssertionError("LOGIN with a wrong password succeeded")
    except imaplib.IMAP4.error as e:
        check("AUTHENTICATIONFAILED" in str(e), "wrong password is AUTHENTICATIONFAILED", str(e))
    ok(m.login(user, password), "LOGIN over implicit TLS after a failure")
    caps = m.capabilities
    for c in ["IMAP4rev1", "IMAP4rev2", "IDLE", "UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC", "ENABLE",
              "NAMESPACE", "SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS", "ESEARCH", "LITERAL+", "ID"]:
        typ, data = m.capability()
        check(c in data[0].decode().split(), f"capability {c} after login", data)
    m.logout()

    m = starttls_login(port, user, password)
    typ, data = m.list()
    names = [re.search(rb'"([^"]*)"$|(\S+)$', line).group(0).strip(b'"').decode() for line in data]
    for want in ["INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"]:
        check(want in names, f"default mailbox {want} exists", names)
    sent = [l for l in data if l.endswith(b"Sent") or l.endswith(b'"Sent"')]
    check(sent and b"\\Sent" in sent[0], "Sent has the \\Sent attribute", sent)

    typ, data = m.select("INBOX")
    check(typ == "OK", "SELECT INBOX", data)
    ok(m.append("INBOX", r"(\Seen $Work)", imaplib.Time2Internaldate(1800000000), message("first")), "APPEND")
    ok(m.append("INBOX", None, None, message("second", "Line one\r\nLine two\r\n")), "APPEND without flags")
    typ, data = m.noop()
    check(typ == "OK", "NOOP", data)
    # RFC 3501 §2.3.2, §7.3.2: new messages are \Recent in the session that
    # sees them first, and only there.
    typ, data = m.response("RECENT")
    check(data and data[-1] == b"2", "RECENT with the new messages", data)
    typ, data = m.search(None, "RECENT")
    check(data == [b"1 2"], "SEARCH RECENT", data)
    typ, data = m.select("INBOX")
    check(data == [b"2"], "SELECT reports 2 messages", data)
    typ, data = m.response("RECENT")
    check(data == [b"0"], "already claimed: RECENT 0 on the next SELECT", data)

    typ, data = m.fetch("1:*", "(UID FLAGS RFC822.SIZE INTERNALDATE)")
    check(typ == "OK" and len(data) == 2, "FETCH 1:* returns 2", data)
    check(b"\\Seen" in data[0] and b"$Work" in data[0], "flags were stored with APPEND", data[0])
    check(b"22-Nov-2026" in data[0] or b"15-Jan-2027" in data[0], "INTERNALDATE from APPEND", data[0])

    typ, data = m.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    check(b"Subject: second" in data[0][1], "BODY.PEEK[HEADER.FIELDS (SUBJECT)]", data)
    typ, data = m.fetch("2", "(FLAGS)")
    check(b"\\Seen" not in data[0], "PEEK does not set \\Seen", data)
    typ, data = m.fetch("2", "(BODY[TEXT])")
    check(data[0][1] == b"Line one\r\nLine two\r\n", "BODY[TEXT]", data)
    typ, data = m.fetch("2", "(FLAGS)")
    check(b"\\Seen" in data[0], "BODY[] sets \\Seen", data)
    typ, data = m.fetch("2", "(BODY[]<5.10>)")
    check(data[0][1] == message("second", "Line one\r\nLine two\r\n")[5:15], "partial BODY[]<5.10>", data)
    typ, data = m.fetch("1", "(ENVELOPE BODYSTRUCTURE)")
    check(b'"first"' in data[0] and b'"ann" "example.org"' in data[0], "ENVELOPE", data)
    check(b'"TEXT" "PLAIN"' in data[0].upper(), "BODYSTRUCTURE", data)

    typ, data = m.search(None, "SUBJECT", "second")
    check(data == [b"2"], "SEARCH SUBJECT", data)
    typ, data = m.search(None, "BODY", "two")
    check(data == [b"2"], "SEARCH BODY", data)
    typ, data = m.search(None, "KEYWORD", "$Work")
    check(data == [b"1"], "SEARCH KEYWORD", data)
    typ, data = m.search(None, "OR", "SUBJECT", "first", "SUBJECT", "second")
    check(data == [b"1 2"], "SEARCH OR", data)
    typ, data = m.search(None, "NOT", "SEEN")
    check(data == [b""], "SEARCH NOT SEEN (both seen now)", data)
    typ, data = m.uid("SEARCH", "ALL")
    uids = data[0].split()
    check(len(uids) == 2, "UID SEARCH ALL", data)

    ok(m.store("1", "+FLAGS", r"(\Flagged)"), "STORE +FLAGS")
    typ, data = m.fetch("1", "(FLAGS)")
    check(b"\\Flagged" in data[0], "flag stored", data)
    ok(m.store("1", "-FLAGS", r"(\Flagged)"), "STORE -FLAGS")

    ok(m.create("Work/Projects"), "CREATE with hierarchy")
    typ, data = m.list("", "Work/*")
    check(any(b"Work/Projects" in l for l in data), "LIST Work/*", data)
    typ, data = m.copy("1:2", "Work/Projects")
    check(typ == "OK" and b"COPYUID" in data[0], "COPY answers COPYUID (RFC 4315)", data)
    typ, data = m.status("Work/Projects", "(MESSAGES UIDNEXT UNSEEN RECENT)")
    check(b"MESSAGES 2" in data[0], "STATUS after COPY", data)
    check(b"RECENT 2" in data[0], "STATUS RECENT: copies are recent (RFC 3501 §6.3.10)", data)
    ok(m.rename("Work", "Play"), "RENAME with children")
    typ, data = m.list("", "Play/*")
    check(any(b"Play/Projects" in l for l in data), "children renamed", data)
    ok(m.subscribe("Play/Projects"), "SUBSCRIBE")
    typ, data = m.lsub("", "Play/*")
    check(any(b"Play/Projects" in l for l in data), "LSUB", data)
    ok(m.unsubscribe("Play/Projects"), "UNSUBSCRIBE")

    typ, data = m._simple_command("MOVE", "1", "Trash")
    check(typ == "OK", "MOVE", data)
    typ, data = m.select("INBOX")
    check(data == [b"1"], "one message left after MOVE", data)
    ok(m.store("1", "+FLAGS", r"(\Deleted)"), "STORE \\Deleted")
    typ, data = m.expunge()
    check(typ == "OK" and data == [b"1"], "EXPUNGE reports sequence 1", data)
    ok(m.delete("Play/Projects"), "DELETE")
    typ, data = m.namespace()
    check(typ == "OK" and b'(("" "/"))' in data[0], "NAMESPACE", data)

    # Bad input keeps the session.
    try:
        m.xatom("BLURDYBLOOP")
        raise AssertionError("an unknown command was accepted")
    except imaplib.IMAP4.error as e:
        check("BLURDYBLOOP" in str(e) and "BAD" in str(e), "unknown command is BAD", str(e))
    ok(m.noop(), "session survives a bad command")
    ok(m.close(), "CLOSE")
    m.logout()


def scenario_concurrency(port, tls_port, user, password):
    """Two sessions on one mailbox see each other's changes; IDLE wakes."""
    a = starttls_login(port, user, password)
    b = starttls_login(port, user, password)
    a.select("INBOX")
    typ, data = b.select("INBOX")
    start = int(data[0])
    ok(a.append("INBOX", None, None, message("from a")), "APPEND in session A")
    typ, data = b.noop()
    exists = [r for r in b.untagged_responses.get("EXISTS", [])]
    check(exists and int(exists[-1]) == start + 1, "session B sees EXISTS after NOOP", exists)
    # RFC 3501 §2.3.2: A's APPEND showed A the message first, so it is
    # \Recent in A's FETCH FLAGS and not in B's.
    typ, data = a.fetch(str(start + 1), "(FLAGS)")
    check(b"\\Recent" in data[0], "FETCH FLAGS shows \\Recent where the message was seen first", data)
    typ, data = b.fetch(str(start + 1), "(FLAGS)")
    check(b"\\Recent" not in data[0], "and not in the other session", data)
    ok(a.store(str(start + 1), "+FLAGS", r"(\Flagged)"), "STORE in session A")
    b.untagged_responses.clear()
    typ, data = b.noop()
    fetches = b.untagged_responses.get("FETCH", [])
    check(any(b"\\Flagged" in f for f in fetches), "session B sees FETCH FLAGS after NOOP", fetches)
    # RFC 9051 §7.3.5: a keyword new to the mailbox is announced in FLAGS
    # and PERMANENTFLAGS before a FETCH shows it.
    typ, data = a.store(str(start + 1), "+FLAGS", "($Urgent)")
    check(b"$Urgent" in data[0], "STORE of a new keyword", data)
    check(any(b"$Urgent" in f for f in a.untagged_responses.get("FLAGS", [])), "the storing session gets FLAGS with it",
          a.untagged_responses)
    b.untagged_responses.clear()
    b.noop()
    flags = b.untagged_responses.get("FLAGS", [])
    check(any(b"$Urgent" in f for f in flags), "the other session gets FLAGS with the new keyword", b.untagged_responses)
    perm = [r for r in b.untagged_responses.get("OK", []) if b"PERMANENTFLAGS" in r]
    check(any(b"$Urgent" in r and b"\\*" in r for r in perm), "and PERMANENTFLAGS with it", b.untagged_responses)

    # IDLE in B (raw, imaplib 3.11 has no idle()), then APPEND from A.
    tag = b._new_tag()
    b.send(tag + b" IDLE\r\n")
    line = b.readline()
    check(line.startswith(b"+"), "IDLE continuation", line)
    t0 = time.monotonic()
    ok(a.append("INBOX", None, None, message("during idle")), "APPEND while B idles")
    b.sock.settimeout(5)
    line = b.readline()
    waited = time.monotonic() - t0
    check(line.startswith(b"* ") and b"EXISTS" in line, "IDLE reports EXISTS", line)
    check(waited < 1.5, "IDLE woke within a second or so", waited)
    b.send(b"DONE\r\n")
    while True:
        line = b.readline()
        if line.startswith(tag):
            check(b"OK" in line, "IDLE ends with OK after DONE", line)
            break

    # Expunge in A while B is between commands: B hears it at the next NOOP.
    a.store("1:*", "+FLAGS", r"(\Deleted)")
    a.expunge()
    b.untagged_responses.clear()
    b.noop()
    check(len(b.untagged_responses.get("EXPUNGE", [])) >= 1, "session B sees EXPUNGE", b.untagged_responses)
    a.logout()
    b.logout()


def scenario_limits(port, tls_port, user, password):
    """Literal limits and malformed commands over a raw TLS socket."""
    raw = ssl.create_default_context()
    raw.check_hostname = False
    raw.verify_mode = ssl.CERT_NONE
    s = raw.wrap_socket(socket.create_connection((HOST, tls_port)), server_hostname="localhost")
    f = s.makefile("rb")
    greeting = f.readline()
    check(greeting.startswith(b"* OK"), "greeting", greeting)
    # A SASL response over the line limit (64 KiB) is refused whole: its
    # tail must not come back as a command.
    s.sendall(b"a0 AUTHENTICATE PLAIN\r\n")
    line = f.readline()
    check(line.startswith(b"+"), "AUTHENTICATE PLAIN asks for the response", line)
    s.sendall(b"A" * 100000 + b" NOOP\r\n")
    line = f.readline()
    check(line.startswith(b"a0 BAD"), "an overlong SASL response is refused", line)
    s.sendall(b"a0b NOOP\r\n")
    line = f.readline()
    check(line.startswith(b"a0b OK"), "the rest of the overlong response is not taken as a command", line)
    s.sendall(b"a1 LOGIN {%d}\r\n" % len(user))
    check(f.readline().startswith(b"+"), "continuation for a synchronising literal", "")
    s.sendall(user.encode() + b' "' + password.encode() + b'"\r\n')
    line = f.readline()
    while line.startswith(b"*"):
        line = f.readline()
    check(line.startswith(b"a1 OK"), "LOGIN with a literal", line)
    s.sendall(b"a2 APPEND INBOX {999999999999}\r\n")
    line = f.readline()
    check(line.startswith(b"a2 NO") or line.startswith(b"a2 BAD"), "huge literal refused before it is sent", line)
    check(b"TOOBIG" in line or b"too" in line.lower(), "the refusal says TOOBIG", line)
    for bad in [b"a3 FETCH", b"a4 SELECT", b'a5 LOGIN "unterminated', b"a6 UID FROB 1", b"a7 FETCH 1:* (FLAGS"]:
        s.sendall(bad + b"\r\n")
        line = f.readline()
        while line.startswith(b"*"):
            line = f.readline()
        check(line.startswith(bad.split()[0] + b" BAD") or line.startswith(b"* BAD"), f"BAD for {bad!r}", line)
    s.sendall(b"a8 NOOP\r\n")
    line = f.readline()
    check(line.startswith(b"a8 OK"), "the session survives malformed commands", line)
    # RFC 3516 §4.4: APPEND of a binary body in a literal8. atoll keeps it
    # as base64 so that BODY[] stays a valid literal (no NUL, RFC 9051
    # §4.3), and BINARY[1] returns the bytes sent.
    payload = b"\x00-\xe4\n\r\n\x00\xff"
    msg = (b"From: a@example.org\r\nMime-Version: 1.0\r\nContent-Type: application/octet-stream\r\n"
           b"Content-Transfer-Encoding: binary\r\n\r\n" + payload)
    s.sendall(b"b1 CREATE bin\r\nb2 APPEND bin ~{%d}\r\n" % len(msg))
    line = f.readline()
    check(line.startswith(b"b1 OK"), "CREATE bin", line)
    line = f.readline()
    check(line.startswith(b"+"), "continuation for literal8", line)
    s.sendall(msg + b"\r\nb3 EXAMINE bin\r\nb4 FETCH 1 (BINARY.SIZE[1] BINARY.PEEK[1])\r\n"
              b"b5 FETCH 1 (BODY.PEEK[1] BODYSTRUCTURE)\r\n")
    line = f.readline()
    check(line.startswith(b"b2 OK"), "APPEND with a literal8", line)
    line = f.readline()
    while not line.startswith(b"b3 "):
        line = f.readline()
    line = f.readline()
    check(line.startswith(b"* 1 FETCH (BINARY.SIZE[1] %d BINARY[1] ~{%d}" % (len(payload), len(payload))),
          "BINARY.SIZE and a literal8 for BINARY[1]", line)
    check(f.read(len(payload)) == payload, "BINARY[1] is the bytes appended", "")
    f.readline()
    check(f.readline().startswith(b"b4 OK"), "FETCH BINARY completed", "")
    line = f.readline()
    m = re.match(rb"\* 1 FETCH \(BODY\[1\] \{(\d+)\}", line)
    check(m is not None, "BODY[1] is a plain literal", line)
    body = f.read(int(m.group(1)))
    check(b"\x00" not in body and body.strip() == b"AC3kCg0KAP8=", "BODY[1] holds the base64 of the bytes", body)
    rest = f.readline()
    check(b'"BASE64"' in rest, "BODYSTRUCTURE says BASE64", rest)
    s.sendall(b"a9 LOGOUT\r\n")
    s.close()


MAILDIR_LETTERS = [("\\Draft", "D"), ("\\Flagged", "F"), ("\\Answered", "R"), ("\\Seen", "S"), ("\\Deleted", "T")]


def scenario_dump(port, tls_port, user, password):
    """Prints 'uid N LETTERS' for every message of INBOX (maildir letters)."""
    m = imaplib.IMAP4_SSL(HOST, tls_port, ssl_context=ctx())
    m.login(user, password)
    m.select("INBOX", readonly=True)
    typ, data = m.uid("FETCH", "1:*", "(FLAGS)")
    check(typ == "OK", "UID FETCH 1:* (FLAGS)", data)
    for item in data:
        if item is None:
            continue
        line = item.decode() if isinstance(item, bytes) else item[0].decode()
        uid = re.search(r"UID (\d+)", line).group(1)
        flags = re.search(r"FLAGS \(([^)]*)\)", line).group(1).split()
        letters = "".join(sorted(l for f, l in MAILDIR_LETTERS if f in flags))
        print(f"uid {uid} {letters}")
    m.logout()


def scenario_mutate(port, tls_port, user, password):
    """Server-side changes for the mbsync test: \\Answered on UIDs 201-210,
    UIDs 301-320 expunged."""
    m = imaplib.IMAP4_SSL(HOST, tls_port, ssl_context=ctx())
    m.login(user, password)
    m.select("INBOX")
    ok(m.uid("STORE", "201:210", "+FLAGS.SILENT", r"(\Answered)"), "UID STORE 201:210")
    ok(m.uid("STORE", "301:320", "+FLAGS.SILENT", r"(\Deleted)"), "UID STORE 301:320 \\Deleted")
    typ, data = m.uid("EXPUNGE", "301:320")
    check(typ == "OK", "UID EXPUNGE 301:320", data)
    m.logout()


def main():
    scenario, port, tls_port, user, password = sys.argv[1:6]
    globals()["scenario_" + scenario](int(port), int(tls_port), user, password)
    print("all passed")


if __name__ == "__main__":
    main()
