//! Mailbox management: CREATE (with USE, RFC 6154 §3), DELETE, RENAME,
//! SUBSCRIBE/UNSUBSCRIBE, LIST with LIST-EXTENDED (RFC 5258),
//! LIST-STATUS (RFC 5819) and SPECIAL-USE (RFC 6154), LSUB, STATUS, and
//! GETQUOTAROOT/GETQUOTA (RFC 9208).

use tokio::io::{AsyncRead, AsyncWrite};

use super::pattern::{self, DELIMITER};
use crate::proto::{ListCommand, StatusItem, response};
use crate::session::{CmdResult, Next, Session};

fn trim_name(name: &str) -> &str {
    // RFC 9051 §6.3.4: a trailing delimiter says "will have children".
    name.strip_suffix(DELIMITER).unwrap_or(name)
}

pub(super) async fn create<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    name: &str,
    special_use: &[String],
) -> CmdResult {
    let Some(user) = &s.user else { return Ok(Next::Continue) };
    const USES: [&str; 7] = ["\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"];
    let mut special = None;
    for u in special_use {
        match USES.iter().find(|x| x.eq_ignore_ascii_case(u)) {
            Some(x) if special.is_none() => special = Some(*x),
            // RFC 6154 §3: one we cannot do is USEATTR.
            _ => {
                s.tagged(tag, "NO", "[USEATTR] unsupported special-use attribute");
                return Ok(Next::Continue);
            }
        }
    }
    let r = user.island.create_mailbox(user.account_id, trim_name(name), special).await;
    match r {
        Ok(_) => s.tagged(tag, "OK", "CREATE completed"),
        Err(e) => return super::no_store(s, tag, &e),
    }
    Ok(Next::Continue)
}

pub(super) async fn delete<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    name: &str,
) -> CmdResult {
    let Some(user) = &s.user else { return Ok(Next::Continue) };
    let r = user.island.delete_mailbox(user.account_id, trim_name(name)).await;
    match r {
        Ok(()) => s.tagged(tag, "OK", "DELETE completed"),
        Err(e) => return super::no_store(s, tag, &e),
    }
    Ok(Next::Continue)
}

pub(super) async fn rename<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    from: &str,
    to: &str,
) -> CmdResult {
    let Some(user) = &s.user else { return Ok(Next::Continue) };
    let r = user.island.rename_mailbox(user.account_id, trim_name(from), trim_name(to)).await;
    match r {
        Ok(()) => s.tagged(tag, "OK", "RENAME completed"),
        Err(e) => return super::no_store(s, tag, &e),
    }
    Ok(Next::Continue)
}

pub(super) async fn subscribe<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    name: &str,
    on: bool,
) -> CmdResult {
    let Some(user) = &s.user else { return Ok(Next::Continue) };
    let r = if on {
        user.island.subscribe(user.account_id, name).await
    } else {
        user.island.unsubscribe(user.account_id, name).await
    };
    match r {
        Ok(()) => s.tagged(tag, "OK", if on { "SUBSCRIBE completed" } else { "UNSUBSCRIBE completed" }),
        Err(e) => return super::no_store(s, tag, &e),
    }
    Ok(Next::Continue)
}

/// What LSUB answers for `pattern`: the subscribed names it matches, and
/// (RFC 3501 §6.3.9) an unsubscribed parent of a subscribed name the
/// pattern does not reach, when the parent matches (`%` stops at the
/// delimiter: with "foo/bar" subscribed and "foo" not, LSUB "" "%" returns
/// "foo" flagged \Noselect). The flag says \Noselect.
fn lsub_names(subs: &[String], pattern: &str) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = Vec::new();
    for sub in subs {
        if pattern::matches(pattern, sub) {
            if !out.iter().any(|(n, _)| n == sub) {
                out.push((sub.clone(), false));
            }
            continue;
        }
        for (i, _) in sub.match_indices(DELIMITER) {
            let parent = &sub[..i];
            if !parent.is_empty()
                && pattern::matches(pattern, parent)
                && !subs.iter().any(|x| x == parent)
                && !out.iter().any(|(n, _)| n == parent)
            {
                out.push((parent.to_string(), true));
            }
        }
    }
    out
}

/// RFC 5258 §3.5 RECURSIVEMATCH with SUBSCRIBED: an unsubscribed mailbox
/// the pattern matches is still returned, with `CHILDINFO ("SUBSCRIBED")`
/// (§4 examples), when a subscribed descendant is not itself returned
/// because the pattern does not match it (as Dovecot does).
fn subscribed_child_hidden(subs: &[String], name: &str, matches: impl Fn(&str) -> bool) -> bool {
    let prefix = format!("{name}{DELIMITER}");
    subs.iter().any(|x| x.starts_with(&prefix) && !matches(x))
}

fn has_children(names: &[&str], name: &str) -> bool {
    let prefix = format!("{name}{DELIMITER}");
    names.iter().any(|n| n.starts_with(&prefix))
}

pub(super) async fn list<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    l: ListCommand,
) -> CmdResult {
    let Some(user) = &s.user else { return Ok(Next::Continue) };
    let island = user.island.clone();
    let account = user.account_id;
    // RFC 9051 §6.3.9: LIST "" "" asks for the delimiter.
    if l.patterns.len() == 1 && l.patterns[0].is_empty() {
        s.untagged(b"LIST (\\Noselect) \"/\" \"\"");
        s.tagged(tag, "OK", "LIST completed");
        return Ok(Next::Continue);
    }
    let (boxes, subs) = match (island.mailboxes(account).await, island.subscriptions(account).await) {
        (Ok(b), Ok(s)) => (b, s),
        (Err(e), _) | (_, Err(e)) => return super::no_store(s, tag, &e),
    };
    let names: Vec<&str> = boxes.iter().map(|m| m.name.as_str()).collect();
    let subscribed_only = l.select.iter().any(|x| x == "SUBSCRIBED");
    let special_only = l.select.iter().any(|x| x == "SPECIAL-USE");
    let recursive = l.select.iter().any(|x| x == "RECURSIVEMATCH");
    let want_subscribed = subscribed_only || l.returns.iter().any(|x| x == "SUBSCRIBED");
    let want_special = true; // RFC 6154 §2: servers may always return them.
    let patterns: Vec<String> = l.patterns.iter().map(|p| pattern::join(&l.reference, p)).collect();
    let matches = |name: &str| patterns.iter().any(|p| pattern::matches(p, name));
    let mut lines: Vec<(String, Vec<u8>)> = Vec::new();
    for m in &boxes {
        if !matches(&m.name) {
            continue;
        }
        let is_sub = subs.iter().any(|x| x == &m.name);
        let mut childinfo = false;
        if subscribed_only && !is_sub {
            if recursive && subscribed_child_hidden(&subs, &m.name, matches) {
                childinfo = true;
            } else {
                continue;
            }
        }
        if special_only && m.special_use.is_none() {
            continue;
        }
        let mut attrs: Vec<&str> = Vec::new();
        if !m.selectable {
            attrs.push("\\Noselect");
        }
        attrs.push(if has_children(&names, &m.name) { "\\HasChildren" } else { "\\HasNoChildren" });
        if want_subscribed && is_sub {
            attrs.push("\\Subscribed");
        }
        if want_special && let Some(su) = &m.special_use {
            attrs.push(su);
        }
        let mut line = format!("LIST ({}) \"/\" ", attrs.join(" ")).into_bytes();
        response::mailbox(&mut line, &m.name, false);
        if childinfo {
            line.extend_from_slice(b" (\"CHILDINFO\" (\"SUBSCRIBED\"))");
        }
        lines.push((m.name.clone(), line));
    }
    // Subscribed names whose mailbox is gone (RFC 5258 §3.1: \NonExistent).
    if subscribed_only {
        for sub in &subs {
            if !names.contains(&sub.as_str()) && matches(sub) {
                let mut line = b"LIST (\\Subscribed \\NonExistent) \"/\" ".to_vec();
                response::mailbox(&mut line, sub, false);
                lines.push((sub.clone(), line));
            }
        }
    }
    for (name, line) in lines {
        s.untagged(&line);
        if let Some(items) = &l.return_status
            && let Some(m) = boxes.iter().find(|m| m.name == name && m.selectable)
        {
            let status = status_line(&island, m, items, s.inner.config.max_message_size).await;
            match status {
                Ok(st) => s.untagged(&st),
                Err(e) => return super::no_store(s, tag, &e),
            }
        }
    }
    s.tagged(tag, "OK", "LIST completed");
    Ok(Next::Continue)
}

pub(super) async fn lsub<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    reference: &str,
    pat: &str,
) -> CmdResult {
    let Some(user) = &s.user else { return Ok(Next::Continue) };
    let subs = match user.island.subscriptions(user.account_id).await {
        Ok(v) => v,
        Err(e) => return super::no_store(s, tag, &e),
    };
    let p = pattern::join(reference, pat);
    for (name, noselect) in lsub_names(&subs, &p) {
        let mut line = if noselect { b"LSUB (\\Noselect) \"/\" ".to_vec() } else { b"LSUB () \"/\" ".to_vec() };
        response::mailbox(&mut line, &name, false);
        s.untagged(&line);
    }
    s.tagged(tag, "OK", "LSUB completed");
    Ok(Next::Continue)
}

async fn status_line(
    island: &atoll_store::Island,
    m: &atoll_store::Mailbox,
    items: &[StatusItem],
    append_limit: usize,
) -> Result<Vec<u8>, atoll_store::Error> {
    let st = island.status(m).await?;
    let fresh = island.mailbox(m.account_id, &m.name).await?;
    let mut parts = Vec::new();
    for i in items {
        parts.push(match i {
            StatusItem::Messages => format!("MESSAGES {}", st.messages),
            StatusItem::UidNext => format!("UIDNEXT {}", fresh.uidnext),
            StatusItem::UidValidity => format!("UIDVALIDITY {}", fresh.uidvalidity),
            StatusItem::Unseen => format!("UNSEEN {}", st.unseen),
            StatusItem::Deleted => format!("DELETED {}", st.deleted),
            StatusItem::Size => format!("SIZE {}", st.size),
            // RFC 3501 §6.3.10: messages with \Recent, i.e. that no
            // session has claimed yet.
            StatusItem::Recent => format!("RECENT {}", island.unclaimed_recent(m).await?),
            StatusItem::HighestModSeq => format!("HIGHESTMODSEQ {}", fresh.highestmodseq),
            StatusItem::AppendLimit => format!("APPENDLIMIT {append_limit}"),
        });
    }
    let mut line = b"STATUS ".to_vec();
    response::mailbox(&mut line, &m.name, false);
    line.extend_from_slice(format!(" ({})", parts.join(" ")).as_bytes());
    Ok(line)
}

pub(super) async fn status<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    name: &str,
    items: &[StatusItem],
) -> CmdResult {
    let Some(user) = &s.user else { return Ok(Next::Continue) };
    let island = user.island.clone();
    let m = match island.mailbox(user.account_id, name).await {
        Ok(m) if m.selectable => m,
        Ok(_) => {
            s.tagged(tag, "NO", "[NONEXISTENT] mailbox cannot be selected");
            return Ok(Next::Continue);
        }
        Err(e) => return super::no_store(s, tag, &e),
    };
    match status_line(&island, &m, items, s.inner.config.max_message_size).await {
        Ok(line) => s.untagged(&line),
        Err(e) => return super::no_store(s, tag, &e),
    }
    s.tagged(tag, "OK", "STATUS completed");
    Ok(Next::Continue)
}

/// One quota root, "", for the whole account (RFC 9208 §4.3).
pub(super) async fn quota<S: AsyncRead + AsyncWrite + Unpin + Send>(
    s: &mut Session<S>,
    tag: &str,
    mailbox: Option<&str>,
) -> CmdResult {
    let Some(user) = &s.user else { return Ok(Next::Continue) };
    let (used, _) = match user.island.quota_usage(user.account_id).await {
        Ok(u) => u,
        Err(e) => return super::no_store(s, tag, &e),
    };
    let limit = user.quota_bytes;
    if let Some(m) = mailbox {
        let mut line = b"QUOTAROOT ".to_vec();
        response::mailbox(&mut line, m, false);
        line.extend_from_slice(b" \"\"");
        s.untagged(&line);
    }
    if limit > 0 {
        // RFC 9208 §5.1: STORAGE is in units of 1024 octets.
        s.untagged(format!("QUOTA \"\" (STORAGE {} {})", (used + 1023) / 1024, limit / 1024).as_bytes());
    } else {
        s.untagged(b"QUOTA \"\" ()");
    }
    s.tagged(tag, "OK", "GETQUOTA completed");
    Ok(Next::Continue)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subs(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn lsub_returns_unsubscribed_parents_as_noselect() {
        // RFC 3501 §6.3.9: "foo/bar" subscribed, "foo" not: LSUB "" "%"
        // returns "foo" with \Noselect, not "foo/bar".
        let s = subs(&["m/test", "m/test2/test", "m/test3/test3"]);
        assert_eq!(
            lsub_names(&s, "m/%"),
            [("m/test".to_string(), false), ("m/test2".to_string(), true), ("m/test3".to_string(), true)]
        );
        assert_eq!(lsub_names(&s, "m/*"), s.iter().map(|n| (n.clone(), false)).collect::<Vec<_>>());
        assert_eq!(lsub_names(&subs(&["foo/bar", "foo"]), "%"), [("foo".to_string(), false)]);
    }

    #[test]
    fn recursivematch_childinfo() {
        // RFC 5258 §3.5, §4: parents with subscribed children the pattern
        // does not return get CHILDINFO ("SUBSCRIBED").
        let s = subs(&["m/test2/test1", "m/test7/test7", "m/test8/test8", "m/test8/test9"]);
        let m = |p: &'static str| move |n: &str| pattern::matches(p, n);
        assert!(subscribed_child_hidden(&s, "m/test2", m("m/test2%")));
        assert!(!subscribed_child_hidden(&s, "m/test7", m("m*test7")));
        assert!(subscribed_child_hidden(&s, "m/test8", m("m*test8")));
        assert!(!subscribed_child_hidden(&s, "m/test1", m("m/*")));
    }
}
