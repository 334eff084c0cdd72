//! An island's store, the same on SQLite, PostgreSQL and MariaDB.

use atoll_store::{Error, Flags, GcReport, Island, NewMessage, StoreOp, system};
use atoll_testkit::{Engine, TestDatabase};

atoll_testkit::engine_tests!(
    header_columns_follow_the_mailbox,
    default_mailboxes,
    hierarchy_create_delete_rename,
    rename_inbox_moves_its_messages,
    subscriptions,
    append_stores_body_once,
    deliver_to_several_accounts,
    keyed_delivery_is_stored_once,
    batch_delivery,
    flags_and_condstore,
    expunge_and_changes_since,
    copy_and_move,
    concurrent_appends_get_distinct_uids,
    analysis_is_stored_with_the_body,
    changes_wake_watchers_of_the_account,
    unused_bodies_are_collected,
    collection_races_with_deliveries_of_the_same_body,
    delete_mailbox_and_interrupted_collection,
    message_lists_follow_changes_made_elsewhere,
    recent_is_claimed_once,
    crlf_sizes_are_kept_with_the_body,
);

struct T {
    island: Island,
    _db: TestDatabase,
    _blobs: tempfile::TempDir,
}

async fn open(engine: Engine) -> Option<T> {
    let db = atoll_testkit::database(engine).await?;
    let blobs = tempfile::tempdir().unwrap();
    let island =
        Island::open("test", &db.url, blobs.path(), 8).await.unwrap_or_else(|e| panic!("open {}: {e}", db.url));
    Some(T { island, _db: db, _blobs: blobs })
}

fn msg(subject: &str) -> NewMessage {
    let raw = format!(
        "From: Ann <ann@example.org>\r\nTo: bob@example.org\r\nSubject: {subject}\r\nDate: Sun, 22 Nov 2026 10:00:00 +0000\r\n\r\nHello {subject}\r\n"
    );
    NewMessage { raw: raw.into_bytes(), flags: Flags::default(), internal_date: Some(1_800_000_000) }
}

fn names(v: &[atoll_store::Mailbox]) -> Vec<&str> {
    v.iter().map(|m| m.name.as_str()).collect()
}

async fn default_mailboxes(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    let boxes = i.ensure_defaults(7).await.unwrap();
    assert_eq!(names(&boxes), ["Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"]);
    let sent = boxes.iter().find(|m| m.name == "Sent").unwrap();
    assert_eq!(sent.special_use.as_deref(), Some("\\Sent"));
    assert!(boxes.iter().all(|m| m.selectable && m.uidnext == 1 && m.uidvalidity > 1_700_000_000));
    let guids: std::collections::HashSet<_> = boxes.iter().map(|m| m.guid.clone()).collect();
    assert_eq!(guids.len(), 6);
    // Idempotent, and per account.
    assert_eq!(i.ensure_defaults(7).await.unwrap().len(), 6);
    assert!(i.mailboxes(8).await.unwrap().is_empty());
    assert_eq!(i.mailbox(7, "inbox").await.unwrap().name, "INBOX");
}

async fn hierarchy_create_delete_rename(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    let m = i.create_mailbox(1, "Lists/Rust/Users", None).await.unwrap();
    assert_eq!(m.name, "Lists/Rust/Users");
    assert_eq!(names(&i.mailboxes(1).await.unwrap()), ["Lists", "Lists/Rust", "Lists/Rust/Users"]);
    assert!(matches!(i.create_mailbox(1, "Lists/Rust", None).await, Err(Error::MailboxExists(_))));
    assert!(matches!(i.create_mailbox(1, "a//b", None).await, Err(Error::InvalidName(..))));

    // Deleting a mailbox with children keeps it as \Noselect.
    i.append(1, "Lists", msg("x")).await.unwrap();
    i.delete_mailbox(1, "Lists").await.unwrap();
    let lists = i.mailbox(1, "Lists").await.unwrap();
    assert!(!lists.selectable);
    assert!(matches!(i.append(1, "Lists", msg("y")).await, Err(Error::NotSelectable(_))));
    assert!(matches!(i.delete_mailbox(1, "Lists").await, Err(Error::HasChildren(_))));
    assert_eq!(i.quota_usage(1).await.unwrap(), (0, 0), "its messages are gone");
    // CREATE makes it a mailbox again, with a new UIDVALIDITY.
    let again = i.create_mailbox(1, "Lists", None).await.unwrap();
    assert!(again.selectable);
    assert!(again.uidvalidity > lists.uidvalidity);

    // Rename moves the children along; the GUID stays.
    let guid = i.mailbox(1, "Lists/Rust").await.unwrap().guid;
    i.rename_mailbox(1, "Lists/Rust", "Archive/2026/Rust").await.unwrap();
    assert_eq!(
        names(&i.mailboxes(1).await.unwrap()),
        ["Archive", "Archive/2026", "Archive/2026/Rust", "Archive/2026/Rust/Users", "Lists"]
    );
    assert_eq!(i.mailbox(1, "Archive/2026/Rust").await.unwrap().guid, guid);
    assert!(matches!(i.rename_mailbox(1, "Nope", "X").await, Err(Error::NoSuchMailbox(_))));
    assert!(matches!(i.rename_mailbox(1, "Lists", "Archive").await, Err(Error::MailboxExists(_))));
    assert!(matches!(i.rename_mailbox(1, "Archive", "Archive/Sub").await, Err(Error::InvalidName(..))));
    // Names with LIKE wildcards are matched exactly.
    i.create_mailbox(1, "a_b", None).await.unwrap();
    i.create_mailbox(1, "axb/child", None).await.unwrap();
    i.rename_mailbox(1, "a_b", "c_d").await.unwrap();
    assert!(i.mailbox(1, "axb/child").await.is_ok());

    i.delete_mailbox(1, "Archive/2026/Rust/Users").await.unwrap();
    assert!(matches!(i.mailbox(1, "Archive/2026/Rust/Users").await, Err(Error::NoSuchMailbox(_))));
    assert!(matches!(i.delete_mailbox(1, "INBOX").await, Err(Error::InboxDelete)));
}

async fn rename_inbox_moves_its_messages(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    i.ensure_defaults(1).await.unwrap();
    let a = i.append(1, "INBOX", msg("one")).await.unwrap();
    let b = i.append(1, "INBOX", msg("two")).await.unwrap();
    let before = i.mailbox(1, "INBOX").await.unwrap();
    i.rename_mailbox(1, "INBOX", "Old").await.unwrap();
    let inbox = i.mailbox(1, "INBOX").await.unwrap();
    let old = i.mailbox(1, "Old").await.unwrap();
    assert!(i.messages(&inbox).await.unwrap().is_empty());
    assert_eq!(i.messages(&old).await.unwrap().iter().map(|m| m.uid).collect::<Vec<_>>(), [a.uid, b.uid]);
    assert_eq!((inbox.uidvalidity, inbox.uidnext), (before.uidvalidity, before.uidnext), "no UID is reused");
    let next = i.append(1, "INBOX", msg("three")).await.unwrap();
    assert!(next.uid > b.uid);
    let ch = i.changes_since(&inbox, before.highestmodseq).await.unwrap();
    assert_eq!(ch.vanished, [a.uid, b.uid]);
}

async fn subscriptions(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    i.ensure_defaults(1).await.unwrap();
    assert_eq!(i.subscriptions(1).await.unwrap().len(), 6);
    i.subscribe(1, "Not/Yet/There").await.unwrap();
    i.subscribe(1, "Not/Yet/There").await.unwrap();
    i.unsubscribe(1, "Junk").await.unwrap();
    let s = i.subscriptions(1).await.unwrap();
    assert!(s.contains(&"Not/Yet/There".to_string()));
    assert!(!s.contains(&"Junk".to_string()));
    assert_eq!(s.len(), 6);
}

async fn append_stores_body_once(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    i.ensure_defaults(1).await.unwrap();
    i.ensure_defaults(2).await.unwrap();
    let mut m = msg("same");
    m.flags = Flags::parse(["\\Seen", "$Work"]).unwrap();
    let a = i.append(1, "INBOX", m.clone()).await.unwrap();
    let b = i.append(2, "Archive", m.clone()).await.unwrap();
    assert_eq!((a.uid, b.uid), (1, 1));
    let inbox = i.mailbox(1, "INBOX").await.unwrap();
    assert_eq!((inbox.uidnext, inbox.highestmodseq), (2, a.modseq));
    let stored = &i.messages(&inbox).await.unwrap()[0];
    assert_eq!(stored.flags.names(), ["\\Seen", "$Work"]);
    assert_eq!(stored.internal_date, 1_800_000_000);
    assert_eq!(stored.size, m.raw.len() as i64);
    assert_eq!(i.read(stored.blob).await.unwrap(), m.raw);
    let archived = &i.messages(&i.mailbox(2, "Archive").await.unwrap()).await.unwrap()[0];
    assert_eq!(archived.blob, stored.blob, "one body for both");
    let files = walk(i.blobs().root());
    assert_eq!(files, 1, "one blob file on disk");
    assert_eq!(i.quota_usage(1).await.unwrap(), (m.raw.len() as i64, 1));
    let st = i.status(&inbox).await.unwrap();
    assert_eq!((st.messages, st.unseen, st.size), (1, 0, m.raw.len() as i64));
    assert!(matches!(i.append(1, "Nope", msg("x")).await, Err(Error::NoSuchMailbox(_))));
}

fn walk(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            if p.file_name().is_some_and(|f| f != "tmp") {
                n += walk(&p);
            }
        } else {
            n += 1;
        }
    }
    n
}

/// SEARCH's header columns: one field's texts of a whole mailbox, made
/// again from the old column when mail comes and goes.
async fn header_columns_follow_the_mailbox(engine: Engine) {
    use atoll_message::{FieldName, Needle};
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    i.ensure_defaults(30).await.unwrap();
    for s in ["Spam and eggs", "=?utf-8?q?Caf=C3=A9?= menu", "eggs again"] {
        i.append(30, "INBOX", msg(s)).await.unwrap();
    }
    let inbox = i.mailbox(30, "INBOX").await.unwrap();
    let key = (inbox.id, inbox.uidvalidity);
    let subject = FieldName::new("Subject");
    let blobs = |m: &[atoll_store::Message]| m.iter().map(|m| m.blob).collect::<Vec<_>>();
    let msgs = i.messages(&inbox).await.unwrap();
    let col = i.header_column(key, &subject, &blobs(&msgs)).await.unwrap();
    assert_eq!(col.hits(&Needle::new("EGGS")).unwrap(), [true, false, true], "case-insensitive");
    assert_eq!(col.hits(&Needle::new("café")).unwrap(), [false, true, false], "decoded");
    assert_eq!(col.hits(&Needle::new("")).unwrap(), [true, true, true], "an empty needle: the field is there");
    assert_eq!(col.hits(&Needle::new("eggs\0")), None, "NUL cannot be looked for");
    // A field no message has.
    let none = i.header_column(key, &FieldName::new("X-Nothing"), &blobs(&msgs)).await.unwrap();
    assert_eq!(none.hits(&Needle::new("")).unwrap(), [false, false, false]);
    // Mail comes and goes: the next column matches the new list.
    i.append(30, "INBOX", msg("more eggs")).await.unwrap();
    i.expunge(&inbox, &[msgs[0].uid]).await.unwrap();
    let msgs = i.messages(&inbox).await.unwrap();
    assert_eq!(msgs.len(), 3);
    let col = i.header_column(key, &subject, &blobs(&msgs)).await.unwrap();
    assert_eq!(col.hits(&Needle::new("eggs")).unwrap(), [false, true, true]);
}

async fn deliver_to_several_accounts(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    let raw = msg("list post").raw;
    let stored = i.deliver(raw.clone(), &[10, 11, 12]).await.unwrap();
    assert_eq!(stored.len(), 3);
    for (n, acc) in [10, 11, 12].into_iter().enumerate() {
        let inbox = i.mailbox(acc, "INBOX").await.unwrap();
        assert_eq!(stored[n].mailbox_id, inbox.id);
        let msgs = i.messages(&inbox).await.unwrap();
        assert_eq!(msgs.len(), 1);
        assert_eq!(i.read(msgs[0].blob).await.unwrap(), raw);
    }
    assert_eq!(walk(i.blobs().root()), 1);
}

/// A queue that delivers the same message again (after a crash between the
/// island's commit and its own note) gets no second copy; a new account
/// added to the retry does get one.
async fn keyed_delivery_is_stored_once(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    let raw = msg("queued").raw;
    let first = i.deliver_keyed(raw.clone(), &[20, 21], Some("mx1:00AB")).await.unwrap();
    assert_eq!(first.len(), 2);
    let again = i.deliver_keyed(raw.clone(), &[20, 21, 22], Some("mx1:00AB")).await.unwrap();
    assert_eq!(again.len(), 1, "only the account that had not taken it");
    // Another key is another delivery.
    assert_eq!(i.deliver_keyed(raw.clone(), &[20], Some("mx2:00AB")).await.unwrap().len(), 1);
    let count = |acc| async move {
        let inbox = i.mailbox(acc, "INBOX").await.unwrap();
        i.messages(&inbox).await.unwrap().len()
    };
    assert_eq!(count(20).await, 2);
    assert_eq!(count(21).await, 1);
    assert_eq!(count(22).await, 1);
    assert_eq!(i.quota_usage(21).await.unwrap().1, 1, "usage counted once");
}

/// Several messages in one batch: each lands where it should, in order,
/// and a key seen before (in an earlier batch) stores nothing again.
async fn batch_delivery(engine: Engine) {
    use atoll_store::Delivery;
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    let d = |n: usize, accounts: Vec<i64>| Delivery {
        raw: msg(&format!("batch {n}")).raw,
        accounts,
        key: Some(format!("mx1:{n}")),
        mailbox: (n == 4).then(|| "Junk".to_string()),
    };
    let first = i.deliver_batch(vec![d(1, vec![30]), d(2, vec![30, 31]), d(3, vec![31])]).await;
    let counts: Vec<usize> = first.iter().map(|r| r.as_ref().map(Vec::len).unwrap_or(99)).collect();
    assert_eq!(counts, [1, 2, 1]);
    let again = i.deliver_batch(vec![d(2, vec![30, 31]), d(4, vec![30])]).await;
    let counts: Vec<usize> = again.iter().map(|r| r.as_ref().map(Vec::len).unwrap_or(99)).collect();
    assert_eq!(counts, [0, 1], "message 2 was delivered before");
    let inbox = i.mailbox(30, "INBOX").await.unwrap();
    let msgs = i.messages(&inbox).await.unwrap();
    assert_eq!(msgs.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 2]);
    assert_eq!(i.read(msgs[0].blob).await.unwrap(), msg("batch 1").raw);
    // Message 4 was filed into Junk.
    let junk = i.mailbox(30, "Junk").await.unwrap();
    let msgs = i.messages(&junk).await.unwrap();
    assert_eq!(msgs.len(), 1);
    assert_eq!(i.read(msgs[0].blob).await.unwrap(), msg("batch 4").raw);
    let inbox = i.mailbox(31, "INBOX").await.unwrap();
    assert_eq!(i.messages(&inbox).await.unwrap().len(), 2);
}

async fn flags_and_condstore(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    i.ensure_defaults(1).await.unwrap();
    for n in 0..3 {
        i.append(1, "INBOX", msg(&format!("m{n}"))).await.unwrap();
    }
    let inbox = i.mailbox(1, "INBOX").await.unwrap();
    let seen = Flags::parse(["\\Seen"]).unwrap();
    let (changed, failed) = i.store_flags(&inbox, &[1, 2], StoreOp::Add, &seen, None).await.unwrap();
    assert_eq!(changed.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 2]);
    assert!(failed.is_empty());
    let m1 = changed[0].modseq;
    assert!(m1 > inbox.highestmodseq);
    // Nothing changes: no new mod-sequence.
    let (changed, _) = i.store_flags(&inbox, &[1], StoreOp::Add, &seen, None).await.unwrap();
    assert!(changed.is_empty());
    // UNCHANGEDSINCE: message 1 changed after `inbox.highestmodseq`, message 3 did not.
    let flagged = Flags::parse(["\\Flagged", "$Label1"]).unwrap();
    let (changed, failed) =
        i.store_flags(&inbox, &[1, 3], StoreOp::Add, &flagged, Some(inbox.highestmodseq)).await.unwrap();
    assert_eq!(changed.iter().map(|m| m.uid).collect::<Vec<_>>(), [3]);
    assert_eq!(failed, [1]);
    let (changed, _) =
        i.store_flags(&inbox, &[3], StoreOp::Remove, &Flags::parse(["$label1"]).unwrap(), None).await.unwrap();
    assert_eq!(changed[0].flags.names(), ["\\Flagged"]);
    let (changed, _) =
        i.store_flags(&inbox, &[2], StoreOp::Replace, &Flags::parse(["\\Deleted"]).unwrap(), None).await.unwrap();
    assert_eq!(changed[0].flags.system, system::DELETED);
    let st = i.status(&i.mailbox(1, "INBOX").await.unwrap()).await.unwrap();
    assert_eq!((st.messages, st.unseen, st.deleted), (3, 2, 1));
    let ch = i.changes_since(&inbox, m1).await.unwrap();
    assert_eq!(ch.changed.iter().map(|m| m.uid).collect::<Vec<_>>(), [2, 3]);
    assert_eq!(ch.highestmodseq, i.mailbox(1, "INBOX").await.unwrap().highestmodseq);
}

async fn expunge_and_changes_since(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    i.ensure_defaults(1).await.unwrap();
    for n in 0..4 {
        i.append(1, "INBOX", msg(&format!("m{n}"))).await.unwrap();
    }
    let inbox = i.mailbox(1, "INBOX").await.unwrap();
    let gone = i.expunge(&inbox, &[2, 4, 99]).await.unwrap();
    assert_eq!(gone, [2, 4]);
    assert_eq!(i.messages(&inbox).await.unwrap().iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 3]);
    let ch = i.changes_since(&inbox, inbox.highestmodseq).await.unwrap();
    assert_eq!(ch.vanished, [2, 4]);
    assert!(ch.changed.is_empty());
    assert!(ch.highestmodseq > inbox.highestmodseq);
    assert_eq!(i.quota_usage(1).await.unwrap().1, 2);
    // UIDs are never reused.
    assert_eq!(i.append(1, "INBOX", msg("new")).await.unwrap().uid, 5);
}

async fn copy_and_move(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    i.ensure_defaults(1).await.unwrap();
    for n in 0..3 {
        let mut m = msg(&format!("m{n}"));
        m.flags = Flags::parse(["\\Answered"]).unwrap();
        i.append(1, "INBOX", m).await.unwrap();
    }
    let inbox = i.mailbox(1, "INBOX").await.unwrap();
    let archive = i.mailbox(1, "Archive").await.unwrap();
    let (validity, pairs) = i.copy(&inbox, &[1, 3], &archive).await.unwrap();
    assert_eq!(validity, archive.uidvalidity);
    assert_eq!(pairs, [(1, 1), (3, 2)]);
    let copied = i.messages(&archive).await.unwrap();
    assert!(copied.iter().all(|m| m.flags.has(system::ANSWERED)));
    assert_eq!(i.quota_usage(1).await.unwrap().1, 5, "a copy counts against the quota");
    let trash = i.mailbox(1, "Trash").await.unwrap();
    let (_, moved) = i.move_messages(&inbox, &[2, 3], &trash).await.unwrap();
    assert_eq!(moved, [(2, 1), (3, 2)]);
    assert_eq!(i.messages(&inbox).await.unwrap().len(), 1);
    assert_eq!(i.changes_since(&inbox, inbox.highestmodseq).await.unwrap().vanished, [2, 3]);
    assert_eq!(i.quota_usage(1).await.unwrap().1, 5, "a move does not");
    let (_, none) = i.copy(&inbox, &[42], &trash).await.unwrap();
    assert!(none.is_empty());
}

/// Two handles (as two store nodes would be) append to one mailbox at once:
/// every UID is handed out once, in order, and UIDNEXT follows.
async fn concurrent_appends_get_distinct_uids(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let other = Island::open("test", &t._db.url, t.island.blobs().root(), 8).await.unwrap();
    t.island.ensure_defaults(1).await.unwrap();
    let mut tasks = Vec::new();
    for n in 0..8 {
        let i = if n % 2 == 0 { t.island.clone() } else { other.clone() };
        tasks.push(tokio::spawn(async move {
            let mut uids = Vec::new();
            for k in 0..10 {
                uids.push(i.append(1, "INBOX", msg(&format!("t{n}-{k}"))).await.unwrap().uid);
            }
            uids
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        all.extend(task.await.unwrap());
    }
    all.sort();
    assert_eq!(all, (1..=80).collect::<Vec<i64>>());
    let inbox = t.island.mailbox(1, "INBOX").await.unwrap();
    assert_eq!(inbox.uidnext, 81);
    assert_eq!(t.island.messages(&inbox).await.unwrap().len(), 80);
    assert_eq!(t.island.quota_usage(1).await.unwrap().1, 80);
}

/// 2,403 real messages go into one mailbox and come back byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_corpus_round_trip() {
    let Some(files) = atoll_testkit::corpus() else { return };
    let Some(t) = open(Engine::Sqlite).await else { return };
    let i = &t.island;
    i.ensure_defaults(1).await.unwrap();
    let mut total = 0i64;
    let mut raws = Vec::new();
    for f in &files {
        let raw = std::fs::read(f).unwrap();
        total += raw.len() as i64;
        i.append(1, "INBOX", NewMessage { raw: raw.clone(), flags: Flags::default(), internal_date: None })
            .await
            .unwrap();
        raws.push(raw);
    }
    assert!(files.len() >= 2400, "{} messages", files.len());
    let inbox = i.mailbox(1, "INBOX").await.unwrap();
    let msgs = i.messages(&inbox).await.unwrap();
    assert_eq!(msgs.len(), files.len());
    assert_eq!(i.quota_usage(1).await.unwrap(), (total, files.len() as i64));
    for (m, raw) in msgs.iter().zip(&raws) {
        assert_eq!(m.size, raw.len() as i64);
        assert_eq!(&i.read(m.blob).await.unwrap(), raw, "uid {}", m.uid);
    }
}

async fn analysis_is_stored_with_the_body(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    i.ensure_defaults(1).await.unwrap();
    i.append(1, "INBOX", msg("analysed")).await.unwrap();
    let m = i.messages(&i.mailbox(1, "INBOX").await.unwrap()).await.unwrap().remove(0);
    let a = i.analysis(m.blob).await.unwrap();
    assert_eq!(a.size, m.size as u64);
    let envelope = String::from_utf8_lossy(&a.envelope);
    assert!(envelope.contains("\"analysed\""), "{envelope}");
    let structure = String::from_utf8_lossy(&a.bodystructure).to_ascii_lowercase();
    assert!(structure.contains("\"text\" \"plain\""), "{structure}");
    // Batched, and the same body delivered twice has one row.
    let stored = i.deliver(msg("analysed").raw, &[1, 2]).await.unwrap();
    assert_eq!(stored.len(), 2);
    let all = i.analyses(&[m.blob, m.blob]).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(*all[&m.blob], *a);
}

async fn changes_wake_watchers_of_the_account(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    i.ensure_defaults(1).await.unwrap();
    i.ensure_defaults(2).await.unwrap();
    let mut one = i.watch(1);
    let two = i.watch(2);
    i.deliver(msg("wake").raw, &[1]).await.unwrap();
    assert!(one.has_changed().unwrap(), "a delivery to account 1 must wake its watchers");
    assert!(!two.has_changed().unwrap(), "account 2 got nothing");
    one.borrow_and_update();
    let inbox = i.mailbox(1, "INBOX").await.unwrap();
    i.store_flags(&inbox, &[1], StoreOp::Add, &Flags::parse(["\\Seen"]).unwrap(), None).await.unwrap();
    assert!(one.has_changed().unwrap(), "a flag change wakes too");
    one.borrow_and_update();
    i.expunge(&inbox, &[1]).await.unwrap();
    assert!(one.has_changed().unwrap(), "an expunge wakes too");
}

fn hour() -> std::time::Duration {
    std::time::Duration::from_secs(3600)
}

/// A body goes only when no message uses it and the grace period is over;
/// a body shared with another account or another mailbox stays.
async fn unused_bodies_are_collected(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    i.ensure_defaults(1).await.unwrap();
    i.ensure_defaults(2).await.unwrap();
    i.append(1, "INBOX", msg("alone")).await.unwrap();
    i.deliver(msg("shared").raw, &[1, 2]).await.unwrap();
    let inbox = i.mailbox(1, "INBOX").await.unwrap();
    let archive = i.mailbox(1, "Archive").await.unwrap();
    let all = i.messages(&inbox).await.unwrap();
    let (alone, shared) = (all[0].blob, all[1].blob);
    i.copy(&inbox, &[1], &archive).await.unwrap();

    // Nothing is unused yet.
    assert_eq!(i.collect_garbage(std::time::Duration::ZERO).await.unwrap(), GcReport::default());
    i.expunge(&inbox, &[1, 2]).await.unwrap();
    // "alone" lives on in Archive, "shared" in account 2's INBOX.
    assert_eq!(i.collect_garbage(std::time::Duration::ZERO).await.unwrap().removed, 0);
    assert!(i.blobs().exists(alone).await.unwrap() && i.blobs().exists(shared).await.unwrap());

    i.expunge(&archive, &[1]).await.unwrap();
    assert_eq!(i.collect_garbage(hour()).await.unwrap().removed, 0, "within the grace period");
    assert!(i.blobs().exists(alone).await.unwrap());
    let r = i.collect_garbage(std::time::Duration::ZERO).await.unwrap();
    assert_eq!((r.removed, r.bytes), (1, msg("alone").raw.len() as u64));
    assert!(!i.blobs().exists(alone).await.unwrap());
    assert!(i.read(shared).await.is_ok());

    // Stored again after it went: a new file, readable.
    i.append(1, "INBOX", msg("alone")).await.unwrap();
    let again = i.messages(&inbox).await.unwrap().pop().unwrap();
    assert_eq!(i.read(again.blob).await.unwrap(), msg("alone").raw);
    // Marked, then delivered again before the collector ran: kept.
    i.expunge(&inbox, &[again.uid]).await.unwrap();
    i.deliver(msg("alone").raw, &[1]).await.unwrap();
    assert_eq!(i.collect_garbage(std::time::Duration::ZERO).await.unwrap().removed, 0);
    assert!(i.blobs().exists(alone).await.unwrap());
}

/// Collections and deliveries of the body being collected, at once, from
/// two handles (two store nodes): every message that was stored can be
/// read, whatever the interleaving.
async fn collection_races_with_deliveries_of_the_same_body(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = t.island.clone();
    i.ensure_defaults(1).await.unwrap();
    let inbox = i.mailbox(1, "INBOX").await.unwrap();
    for round in 0..40 {
        i.append(1, "INBOX", msg("contested")).await.unwrap();
        let uids: Vec<i64> = i.messages(&inbox).await.unwrap().iter().map(|m| m.uid).collect();
        i.expunge(&inbox, &uids).await.unwrap();
        let (gc, deliver) = {
            let (a, b) = (i.clone(), i.clone());
            let gc = tokio::spawn(async move { a.collect_garbage(std::time::Duration::ZERO).await });
            let deliver = tokio::spawn(async move { b.deliver(msg("contested").raw, &[1]).await });
            (gc, deliver)
        };
        gc.await.unwrap().unwrap_or_else(|e| panic!("round {round}: collect: {e}"));
        deliver.await.unwrap().unwrap_or_else(|e| panic!("round {round}: deliver: {e}"));
        for m in i.messages(&inbox).await.unwrap() {
            let body = i.read(m.blob).await.unwrap_or_else(|e| panic!("round {round}: uid {}: {e}", m.uid));
            assert_eq!(body, msg("contested").raw);
        }
    }
}

/// DELETE of a mailbox frees its bodies; a file parked by a collection
/// that was cut off goes back when its row survived.
async fn delete_mailbox_and_interrupted_collection(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    i.ensure_defaults(1).await.unwrap();
    i.create_mailbox(1, "Old", None).await.unwrap();
    for n in 0..3 {
        i.append(1, "Old", msg(&format!("old {n}"))).await.unwrap();
    }
    i.append(1, "INBOX", msg("kept")).await.unwrap();
    let kept = i.messages(&i.mailbox(1, "INBOX").await.unwrap()).await.unwrap()[0].blob;
    // A crash after the park, before the commit: the row is still there.
    i.blobs().park(kept).await.unwrap();
    assert!(!i.blobs().exists(kept).await.unwrap());
    i.delete_mailbox(1, "Old").await.unwrap();
    assert_eq!(i.collect_garbage(std::time::Duration::ZERO).await.unwrap().removed, 3);
    assert!(i.blobs().exists(kept).await.unwrap(), "the parked body of a live message came back");
    assert_eq!(i.read(kept).await.unwrap(), msg("kept").raw);
}

/// The message list a handle keeps in memory follows what another handle
/// (another store node) changes: new messages, flags, expunges, and a
/// mailbox deleted and created again under the same name.
async fn message_lists_follow_changes_made_elsewhere(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let a = &t.island;
    let b = Island::open("test", &t._db.url, a.blobs().root(), 8).await.unwrap();
    a.ensure_defaults(1).await.unwrap();
    a.create_mailbox(1, "Box", None).await.unwrap();
    for n in 0..5 {
        a.append(1, "Box", msg(&format!("m{n}"))).await.unwrap();
    }
    let mbox = a.mailbox(1, "Box").await.unwrap();
    let uids = |l: &[atoll_store::Message]| l.iter().map(|m| m.uid).collect::<Vec<_>>();
    assert_eq!(uids(&a.messages(&mbox).await.unwrap()), [1, 2, 3, 4, 5]);

    b.append(1, "Box", msg("from b")).await.unwrap();
    b.store_flags(&mbox, &[2], StoreOp::Add, &Flags::parse(["\\Deleted"]).unwrap(), None).await.unwrap();
    b.expunge(&mbox, &[2, 4]).await.unwrap();
    let seen = a.messages(&mbox).await.unwrap();
    assert_eq!(uids(&seen), [1, 3, 5, 6]);
    assert_eq!(seen, b.messages(&mbox).await.unwrap());
    b.store_flags(&mbox, &[3], StoreOp::Add, &Flags::parse(["\\Flagged"]).unwrap(), None).await.unwrap();
    assert!(a.messages(&mbox).await.unwrap()[1].flags.has(system::FLAGGED));

    // Gone and back: a new mailbox (new UIDVALIDITY), even if it gets the
    // old one's id.
    b.delete_mailbox(1, "Box").await.unwrap();
    b.create_mailbox(1, "Box", None).await.unwrap();
    b.append(1, "Box", msg("fresh")).await.unwrap();
    let again = a.mailbox(1, "Box").await.unwrap();
    assert_ne!(again.uidvalidity, mbox.uidvalidity);
    assert_eq!(uids(&a.messages(&again).await.unwrap()), [1]);
}

/// RFC 3501 §2.3.2: \Recent belongs to the first session that notices a
/// message; claims move first_recent_uid up atomically.
async fn recent_is_claimed_once(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    i.ensure_defaults(1).await.unwrap();
    let inbox = i.mailbox(1, "INBOX").await.unwrap();
    assert_eq!(i.first_recent_uid(&inbox).await.unwrap(), 1);
    i.append(1, "INBOX", msg("a")).await.unwrap();
    i.append(1, "INBOX", msg("b")).await.unwrap();
    assert_eq!(i.unclaimed_recent(&inbox).await.unwrap(), 2);
    // The first claim gets uids 1..3, a second one nothing.
    assert_eq!(i.claim_recent(&inbox, 3).await.unwrap(), 1);
    assert_eq!(i.claim_recent(&inbox, 3).await.unwrap(), 3);
    assert_eq!(i.unclaimed_recent(&inbox).await.unwrap(), 0);
    i.append(1, "INBOX", msg("c")).await.unwrap();
    assert_eq!(i.unclaimed_recent(&inbox).await.unwrap(), 1);
    assert_eq!(i.claim_recent(&inbox, 4).await.unwrap(), 3);
    assert_eq!(i.first_recent_uid(&inbox).await.unwrap(), 4);
}

/// POP3's sizes (RFC 1939 §5): stored with the body, and measured and
/// saved for a body stored without one.
async fn crlf_sizes_are_kept_with_the_body(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let i = &t.island;
    i.ensure_defaults(1).await.unwrap();
    let crlf = msg("crlf");
    let bare = NewMessage { raw: b"Subject: bare\n\nline one\nline two".to_vec(), ..msg("bare") };
    i.append(1, "INBOX", crlf.clone()).await.unwrap();
    i.append(1, "INBOX", bare.clone()).await.unwrap();
    let list = i.messages(&i.mailbox(1, "INBOX").await.unwrap()).await.unwrap();
    let blobs: Vec<_> = list.iter().map(|m| m.blob).collect();
    let sizes = i.crlf_sizes(&blobs).await.unwrap();
    assert_eq!(sizes[&blobs[0]], crlf.raw.len() as u64, "a CRLF body is its own size");
    let expected = b"Subject: bare\r\n\r\nline one\r\nline two\r\n".len() as u64;
    assert_eq!(sizes[&blobs[1]], expected, "bare LFs count as CRLF, and a last CRLF is added");

    // A body stored before the column existed has NULL: measured on use.
    let db = atoll_sql::Db::connect(&t._db.url, 1).await.unwrap();
    sqlx::query(db.sql("UPDATE blobs SET crlf_size = NULL")).execute(&db.pool).await.unwrap();
    let again = i.crlf_sizes(&blobs).await.unwrap();
    assert_eq!(again, sizes);
    let stored: Option<i64> = sqlx::query_scalar(db.sql("SELECT crlf_size FROM blobs WHERE crlf_size <> size"))
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(stored, Some(expected as i64), "the measured size is saved");

    // The body streams from its file as stored.
    use tokio::io::AsyncReadExt;
    let mut body = Vec::new();
    i.blobs().reader(blobs[1]).await.unwrap().read_to_end(&mut body).await.unwrap();
    assert_eq!(body, bare.raw);
}
