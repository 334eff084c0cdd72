#!/usr/bin/env python3
"""Drives atoll's POP3 server with Python's poplib (a client atoll did not
write), and imaplib to watch the same mailbox, for
crates/atoll/tests/pop3.rs. Every check raises on failure; the script
prints one line per passed check and exits 0 only if all passed.

    pop3_client.py SCENARIO POP3_PORT POP3S_PORT IMAPS_PORT USER PASSWORD

SCENARIO is one of the functions below named scenario_*. The mailbox holds
the messages pop3.rs delivered: "message 0" .. "message N-1", each with a
line that starts with a dot.
"""

import base64
import imaplib
import poplib
import ssl
import sys
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


def refused(f, what, code=None):
    """f() must fail with -ERR (and the response code, if given)."""
    try:
        r = f()
    except poplib.error_proto as e:
        text = str(e)
        check(code is None or f"[{code}]" in text, what, text)
        return text
    raise AssertionError(f"{what}: succeeded with {r!r}")


def subject(lines):
    for line in lines:
        if line.lower().startswith(b"subject: "):
            return line[9:].decode()
    return None


def uidl_map(p):
    resp, lines, _ = p.uidl()
    return dict(line.decode().split(" ", 1) for line in lines)


def scenario_cleartext(port, tls_port, imaps_port, user, password):
    """Every command over a cleartext connection (allow_plaintext_auth)."""
    p = poplib.POP3(HOST, port, timeout=30)
    check(p.getwelcome().startswith(b"+OK"), "greeting", p.getwelcome())
    caps = p.capa()
    for c in ["TOP", "UIDL", "USER", "SASL", "RESP-CODES", "PIPELINING"]:
        check(c in caps, f"CAPA lists {c}", caps)
    check(caps["SASL"] == ["PLAIN", "LOGIN"], "SASL PLAIN LOGIN", caps)
    refused(lambda: p.pass_(password), "PASS before USER")
    refused(lambda: p.stat(), "STAT before login")
    p.user(user)
    refused(lambda: p.pass_(password + "x"), "wrong password", "AUTH")
    p.user(user)
    check(p.pass_(password).startswith(b"+OK"), "USER/PASS")
    caps = p.capa()
    check("USER" not in caps and "SASL" not in caps, "no login capabilities after login", caps)

    count, size = p.stat()
    check(count == 3, "STAT counts the messages", (count, size))
    resp, listing, _ = p.list()
    sizes = {int(n): int(s) for n, s in (l.split() for l in listing)}
    check(sorted(sizes) == [1, 2, 3] and sum(sizes.values()) == size, "LIST agrees with STAT", (listing, size))
    check(p.list(2).split()[2] == str(sizes[2]).encode(), "LIST 2", p.list(2))
    refused(lambda: p.list(4), "LIST of a message that does not exist")

    for n in (1, 2, 3):
        resp, lines, octets = p.retr(n)
        # poplib removed the dot-stuffing and the CRLFs: what is left plus
        # a CRLF per line is the size LIST gave (RFC 1939 §5).
        check(sum(len(l) + 2 for l in lines) == sizes[n], f"RETR {n} sends the size LIST gave", (resp, sizes[n]))
        check(resp.startswith(b"+OK %d octets" % sizes[n]), f"RETR {n} announces its size", resp)
        check(subject(lines) == f"message {n - 1}", f"RETR {n} is message {n - 1}", lines[:6])
        check(f".leading dot {n - 1}".encode() in lines, f"RETR {n}: a line starting with a dot", lines)
    resp, lines, _ = p.top(1, 0)
    check(subject(lines) == "message 0" and lines[-1] == b"", "TOP 1 0: the header and the blank line", lines)
    resp, lines, _ = p.top(1, 1)
    check(lines[-1] == b"Body of message 0.", "TOP 1 1: one body line", lines)
    check(p.noop().startswith(b"+OK"), "NOOP")
    uid = uidl_map(p)
    check(len(uid) == 3 and len(set(uid.values())) == 3, "UIDL: three distinct ids", uid)
    check(p.uidl(1).split()[2].decode() == uid["1"], "UIDL 1", p.uidl(1))
    refused(lambda: p._shortcmd("BOGUS"), "an unknown command")
    refused(lambda: p._shortcmd("RETR x"), "a malformed argument")
    refused(lambda: p._shortcmd("X" * 5000), "an overlong line")
    check(p.noop().startswith(b"+OK"), "the session goes on after errors")
    check(p.quit().startswith(b"+OK"), "QUIT")


def scenario_starttls(port, tls_port, imaps_port, user, password):
    """Passwords only after STLS (the default)."""
    p = poplib.POP3(HOST, port, timeout=30)
    caps = p.capa()
    check("STLS" in caps, "STLS is offered", caps)
    check("USER" not in caps and "SASL" not in caps, "no password login before TLS", caps)
    refused(lambda: p.user(user), "USER before TLS", "AUTH")
    p.stls(context=ctx())
    caps = p.capa()
    check("STLS" not in caps and "USER" in caps, "after STLS: USER, no STLS", caps)
    p.user(user)
    p.pass_(password)
    count, _ = p.stat()
    check(count == 3, "STAT after STLS", count)
    p.quit()


def scenario_ssl(port, tls_port, imaps_port, user, password):
    """POP3S, AUTH PLAIN with an initial response and AUTH LOGIN."""
    p = poplib.POP3_SSL(HOST, tls_port, timeout=30, context=ctx())
    plain = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    check(p._shortcmd("AUTH PLAIN " + plain).startswith(b"+OK"), "AUTH PLAIN with an initial response")
    count, _ = p.stat()
    check(count == 3, "STAT over POP3S", count)
    resp, lines, _ = p.retr(3)
    check(subject(lines) == "message 2", "RETR over POP3S", lines[:5])
    p.quit()

    p = poplib.POP3_SSL(HOST, tls_port, timeout=30, context=ctx())
    p._putcmd("AUTH LOGIN")
    check(p._getline()[0] == b"+ " + base64.b64encode(b"Username:"), "LOGIN asks for the user name")
    p._putcmd(base64.b64encode(user.encode()).decode())
    check(p._getline()[0] == b"+ " + base64.b64encode(b"Password:"), "LOGIN asks for the password")
    p._putcmd(base64.b64encode(password.encode()).decode())
    check(p._getresp().startswith(b"+OK"), "AUTH LOGIN")
    p.quit()


def scenario_uidl_stable(port, tls_port, imaps_port, user, password):
    """The same ids in two sessions, and after one message is gone."""
    p = poplib.POP3_SSL(HOST, tls_port, timeout=30, context=ctx())
    p.user(user)
    p.pass_(password)
    first = uidl_map(p)
    subjects = {first[str(n)]: subject(p.top(n, 0)[1]) for n in (1, 2, 3)}
    p.quit()
    p = poplib.POP3_SSL(HOST, tls_port, timeout=30, context=ctx())
    p.user(user)
    p.pass_(password)
    check(uidl_map(p) == first, "UIDL is the same in the next session", first)
    p.dele(1)
    p.quit()
    p = poplib.POP3_SSL(HOST, tls_port, timeout=30, context=ctx())
    p.user(user)
    p.pass_(password)
    after = uidl_map(p)
    check(sorted(after.values()) == sorted(v for k, v in first.items() if k != "1"), "ids survive a deletion", after)
    for n, uid in after.items():
        check(subject(p.top(int(n), 0)[1]) == subjects[uid], f"id {uid} still names {subjects[uid]}")
    p.quit()


def imap_inbox(imaps_port, user, password):
    m = imaplib.IMAP4_SSL(HOST, imaps_port, ssl_context=ctx())
    m.login(user, password)
    typ, data = m.select("INBOX")
    check(typ == "OK", "IMAP SELECT INBOX", data)
    return m, int(data[0])


def scenario_dele_rset(port, tls_port, imaps_port, user, password):
    p = poplib.POP3_SSL(HOST, tls_port, timeout=30, context=ctx())
    p.user(user)
    p.pass_(password)
    p.dele(1)
    p.dele(2)
    refused(lambda: p.retr(1), "RETR of a deleted message")
    check(p.stat()[0] == 1, "STAT leaves out deleted messages", p.stat())
    p.rset()
    check(p.stat()[0] == 3, "RSET undeletes", p.stat())
    p.quit()
    m, n = imap_inbox(imaps_port, user, password)
    check(n == 3, "nothing removed after DELE + RSET + QUIT", n)
    m.logout()


def scenario_dele_quit(port, tls_port, imaps_port, user, password):
    """DELE + QUIT removes the messages; an IMAP session sees EXPUNGE."""
    m, n = imap_inbox(imaps_port, user, password)
    check(n == 3, "IMAP sees 3 messages first", n)
    p = poplib.POP3_SSL(HOST, tls_port, timeout=30, context=ctx())
    p.user(user)
    p.pass_(password)
    p.dele(1)
    p.dele(3)
    typ, data = m.noop()
    check(m.response("EXPUNGE") == ("EXPUNGE", [None]), "no EXPUNGE before QUIT", m.untagged_responses)
    check(p.quit().startswith(b"+OK"), "QUIT")
    typ, data = m.noop()
    typ, expunged = m.response("EXPUNGE")
    check(len(expunged) == 2, "IMAP gets two EXPUNGE responses", expunged)
    typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    left = [part[1] for part in data if isinstance(part, tuple)]
    check(len(left) == 1 and b"message 1" in left[0], "message 1 is the one left", left)
    m.logout()
    p = poplib.POP3_SSL(HOST, tls_port, timeout=30, context=ctx())
    p.user(user)
    p.pass_(password)
    check(p.stat()[0] == 1, "the next POP3 session sees 1 message", p.stat())
    p.quit()


def scenario_dropped(port, tls_port, imaps_port, user, password):
    """A connection that drops without QUIT deletes nothing."""
    p = poplib.POP3_SSL(HOST, tls_port, timeout=30, context=ctx())
    p.user(user)
    p.pass_(password)
    for n in (1, 2, 3):
        p.dele(n)
    p.sock.close()
    p = None
    # The session is gone once the lock is free: retry briefly.
    q = poplib.POP3_SSL(HOST, tls_port, timeout=30, context=ctx())
    for _ in range(100):
        q.user(user)
        try:
            q.pass_(password)
            break
        except poplib.error_proto as e:
            check("[IN-USE]" in str(e), "only IN-USE while the dropped session ends", str(e))
            time.sleep(0.1)
    check(q.stat()[0] == 3, "all messages still there", q.stat())
    q.quit()


def scenario_in_use(port, tls_port, imaps_port, user, password):
    """One POP3 session per maildrop; IMAP is not locked out."""
    a = poplib.POP3_SSL(HOST, tls_port, timeout=30, context=ctx())
    a.user(user)
    a.pass_(password)
    b = poplib.POP3_SSL(HOST, tls_port, timeout=30, context=ctx())
    b.user(user)
    refused(lambda: b.pass_(password), "a second POP3 session", "IN-USE")
    m, n = imap_inbox(imaps_port, user, password)
    check(n == 3, "IMAP works while POP3 holds the maildrop", n)
    m.logout()
    a.quit()
    b.user(user)
    check(b.pass_(password).startswith(b"+OK"), "the second session logs in after the first QUIT")
    b.quit()


def main():
    scenario, port, tls_port, imaps_port, user, password = sys.argv[1:7]
    globals()["scenario_" + scenario](int(port), int(tls_port), int(imaps_port), user, password)
    print("all passed")


if __name__ == "__main__":
    main()
