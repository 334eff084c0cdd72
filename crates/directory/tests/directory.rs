//! The directory's behaviour, the same on SQLite, PostgreSQL and MariaDB.

mod common;

use std::sync::Arc;

use atoll_directory::{Destination, Error, NewAccount, PasswordInput, Resolution, Settings, state};
use common::{Engine, open, open_with};

atoll_testkit::engine_tests!(
    domains,
    accounts,
    account_placement,
    aliases_and_catch_all,
    alias_loops_are_refused,
    forwards,
    mailing_lists,
    list_moderators,
    resolution,
    sub_addressing_separators,
    cache_and_other_writers,
    passwords_and_rehash,
    islands_and_nodes,
    greylist_storage,
    preferences,
    import_is_all_or_nothing,
    audit_log_records_every_change,
    concurrent_alias_changes,
    migrations_are_idempotent,
    dkim_keys,
);

fn mailbox(r: &Resolution) -> Vec<String> {
    match r {
        Resolution::Deliver { destinations } => destinations
            .iter()
            .map(|d| match d {
                Destination::Mailbox { address, detail: Some(det), .. } => format!("{address}+{det}"),
                Destination::Mailbox { address, .. } => address.clone(),
                Destination::External { address } => format!("ext:{address}"),
                Destination::List { address, .. } => format!("list:{address}"),
            })
            .collect(),
        other => vec![format!("{other:?}")],
    }
}

async fn resolve(dir: &atoll_directory::Directory, a: &str) -> Vec<String> {
    mailbox(&dir.resolve_uncached(a).await.unwrap())
}

async fn dkim_keys(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = &t.dir;
    d.add_domain("example.org").await.unwrap();
    d.add_domain("example.net").await.unwrap();
    assert!(d.signing_key("example.org").await.unwrap().is_none());
    d.add_dkim_key("Example.ORG", "sel1", "rsa-sha256", "AAAA").await.unwrap();
    assert!(matches!(d.add_dkim_key("example.org", "SEL1", "rsa-sha256", "BBBB").await, Err(Error::Duplicate(_))));
    assert!(matches!(d.add_dkim_key("example.org", "bad sel", "rsa-sha256", "x").await, Err(Error::InvalidName(..))));
    assert!(matches!(d.add_dkim_key("example.org", "s", "dsa", "x").await, Err(Error::Invalid(_))));
    assert!(matches!(d.add_dkim_key("nowhere.test", "s", "rsa-sha256", "x").await, Err(Error::UnknownDomain(_))));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    d.add_dkim_key("example.org", "sel2", "ed25519-sha256", "CCCC").await.unwrap();
    d.add_dkim_key("example.net", "net", "rsa-sha256", "DDDD").await.unwrap();
    // The newest key signs.
    let k = d.signing_key("example.org").await.unwrap().unwrap();
    assert_eq!((k.selector.as_str(), k.algorithm.as_str(), k.private_key.as_str()), ("sel2", "ed25519-sha256", "CCCC"));
    assert!(!format!("{k:?}").contains("CCCC"), "the key never shows in Debug");
    let all: Vec<(String, String)> =
        d.dkim_keys(None).await.unwrap().into_iter().map(|k| (k.domain, k.selector)).collect();
    assert_eq!(all.len(), 3, "{all:?}");
    d.remove_dkim_key("example.org", "sel2").await.unwrap();
    assert_eq!(d.signing_key("example.org").await.unwrap().unwrap().selector, "sel1");
    assert!(matches!(d.remove_dkim_key("example.org", "sel2").await, Err(Error::Invalid(_))));
    // Keys go with their domain.
    d.remove_domain("example.net").await.unwrap();
    assert_eq!(d.dkim_keys(None).await.unwrap().len(), 1);
}

async fn domains(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = &t.dir;
    d.add_domain("Example.ORG").await.unwrap();
    assert!(matches!(d.add_domain("example.org").await, Err(Error::DomainExists(_))));
    assert!(matches!(d.add_domain("bad domain").await, Err(Error::InvalidName(..))));
    d.add_domain("example.net").await.unwrap();
    d.add_account(&NewAccount::new("bob@example.org")).await.unwrap();
    let list = d.list_domains().await.unwrap();
    assert_eq!(list.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(), ["example.net", "example.org"]);
    assert_eq!(list[1].accounts, 1);
    assert!(matches!(d.remove_domain("example.org").await, Err(Error::DomainNotEmpty { accounts: 1, .. })));
    d.remove_domain("example.net").await.unwrap();
    assert!(matches!(d.remove_domain("example.net").await, Err(Error::UnknownDomain(_))));
    assert_eq!(d.list_domains().await.unwrap().len(), 1);
}

async fn accounts(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = &t.dir;
    d.add_domain("example.org").await.unwrap();
    let mut new = NewAccount::new("Bob@Example.org");
    new.password = PasswordInput::Plain("s3cret".into());
    new.quota_bytes = 1 << 30;
    new.display_name = "Bob Smith".into();
    let a = d.add_account(&new).await.unwrap();
    assert_eq!(a.address, "bob@example.org");
    assert_eq!(a.state, state::ACTIVE);
    assert_eq!(a.island, "default");
    assert_eq!(a.quota_bytes, 1 << 30);
    assert_eq!(a.password_scheme, "argon2id");

    assert!(matches!(d.add_account(&NewAccount::new("bob@example.org")).await, Err(Error::AddressTaken(..))));
    assert!(matches!(d.add_account(&NewAccount::new("x@nowhere.test")).await, Err(Error::UnknownDomain(_))));
    assert!(matches!(d.add_account(&NewAccount::new("not an address")).await, Err(Error::InvalidAddress(..))));
    let mut elsewhere = NewAccount::new("carol@example.org");
    elsewhere.island = Some("atlantis".into());
    assert!(matches!(d.add_account(&elsewhere).await, Err(Error::UnknownIsland(_))));
    d.add_alias("sales@example.org", "bob@example.org").await.unwrap();
    assert!(matches!(
        d.add_account(&NewAccount::new("sales@example.org")).await,
        Err(Error::AddressTaken(_, "an alias"))
    ));

    d.set_quota("bob@example.org", 5 << 20).await.unwrap();
    d.set_state("bob@example.org", state::SUSPENDED).await.unwrap();
    let b = d.account("BOB@example.org").await.unwrap();
    assert_eq!((b.quota_bytes, b.state.as_str()), (5 << 20, "suspended"));
    d.set_state("bob@example.org", state::ACTIVE).await.unwrap();
    assert!(matches!(d.set_state("nobody@example.org", state::ACTIVE).await, Err(Error::UnknownAccount(_))));

    d.add_account(&NewAccount::new("alice@example.org")).await.unwrap();
    let all: Vec<String> = d.list_accounts(None).await.unwrap().into_iter().map(|a| a.address).collect();
    assert_eq!(all, ["alice@example.org", "bob@example.org"]);
    d.add_forward("bob@example.org", "bob@elsewhere.test", false).await.unwrap();
    d.set_preference("bob@example.org", "lang", "fr").await.unwrap();
    d.remove_account("bob@example.org").await.unwrap();
    assert!(matches!(d.account("bob@example.org").await, Err(Error::UnknownAccount(_))));
    assert!(d.list_forwards(None).await.unwrap().is_empty(), "forwards go with the account");
    assert_eq!(d.list_accounts(Some("example.org")).await.unwrap().len(), 1);
}

async fn account_placement(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = &t.dir;
    d.add_domain("example.org").await.unwrap();
    d.add_island("north", "/srv/north").await.unwrap();
    assert!(matches!(d.add_island("north", "").await, Err(Error::IslandExists(_))));
    // Least-filled open island first: default, north, default, north…
    let mut seen = Vec::new();
    for i in 0..4 {
        seen.push(d.add_account(&NewAccount::new(&format!("u{i}@example.org"))).await.unwrap().island);
    }
    assert_eq!(seen.iter().filter(|s| *s == "north").count(), 2, "{seen:?}");
    // A closed island takes no new accounts, asked for or not.
    d.set_island_state("north", "closed").await.unwrap();
    let mut n = NewAccount::new("v@example.org");
    n.island = Some("north".into());
    assert!(matches!(d.add_account(&n).await, Err(Error::IslandNotOpen(..))));
    assert_eq!(d.add_account(&NewAccount::new("w@example.org")).await.unwrap().island, "default");
    d.set_island_state("north", "open").await.unwrap();
    // Accounts of a group stay on the group's island.
    let mut g1 = NewAccount::new("g1@example.org");
    g1.group = Some("acme".into());
    g1.island = Some("north".into());
    d.add_account(&g1).await.unwrap();
    for i in 2..5 {
        let mut g = NewAccount::new(&format!("g{i}@example.org"));
        g.group = Some("acme".into());
        let a = d.add_account(&g).await.unwrap();
        assert_eq!((a.island.as_str(), a.group.as_deref()), ("north", Some("acme")));
    }
    d.set_island_state("north", "closed").await.unwrap();
    d.set_island_state("default", "closed").await.unwrap();
    assert!(matches!(d.add_account(&NewAccount::new("z@example.org")).await, Err(Error::NoOpenIsland)));
    assert!(d.set_island_state("north", "sunk").await.is_err());
}

async fn aliases_and_catch_all(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = &t.dir;
    d.add_domain("example.org").await.unwrap();
    d.add_account(&NewAccount::new("bob@example.org")).await.unwrap();
    d.add_account(&NewAccount::new("alice@example.org")).await.unwrap();
    d.add_alias("team@example.org", "bob@example.org").await.unwrap();
    d.add_alias("team@example.org", "alice@example.org").await.unwrap();
    d.add_alias("team@example.org", "partner@other.test").await.unwrap();
    assert!(matches!(d.add_alias("team@example.org", "bob@example.org").await, Err(Error::Duplicate(_))));
    assert!(matches!(
        d.add_alias("bob@example.org", "alice@example.org").await,
        Err(Error::AddressTaken(_, "an account"))
    ));
    assert!(matches!(d.add_alias("x@unknown.test", "bob@example.org").await, Err(Error::UnknownDomain(_))));
    assert!(matches!(d.add_alias("x@example.org", "not-an-address").await, Err(Error::InvalidAddress(..))));
    assert_eq!(
        resolve(d, "team@example.org").await,
        ["alice@example.org", "bob@example.org", "ext:partner@other.test"]
    );
    assert_eq!(resolve(d, "nobody@example.org").await, ["Unknown"]);

    d.add_alias("@example.org", "alice@example.org").await.unwrap();
    assert_eq!(resolve(d, "nobody@example.org").await, ["alice@example.org"]);
    assert_eq!(resolve(d, "bob@example.org").await, ["bob@example.org"], "an account wins over the catch-all");
    let list = d.list_aliases(Some("example.org")).await.unwrap();
    assert_eq!(list.len(), 4);
    assert_eq!(list[0].address, "@example.org");

    d.remove_alias("team@example.org", Some("partner@other.test")).await.unwrap();
    assert_eq!(resolve(d, "team@example.org").await, ["alice@example.org", "bob@example.org"]);
    assert!(matches!(
        d.remove_alias("team@example.org", Some("partner@other.test")).await,
        Err(Error::UnknownAlias(_))
    ));
    d.remove_alias("team@example.org", None).await.unwrap();
    d.remove_alias("@example.org", None).await.unwrap();
    assert_eq!(resolve(d, "team@example.org").await, ["Unknown"]);
}

async fn alias_loops_are_refused(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = &t.dir;
    d.add_domain("example.org").await.unwrap();
    d.add_alias("a@example.org", "b@example.org").await.unwrap();
    d.add_alias("b@example.org", "c@example.org").await.unwrap();
    let before = d.list_aliases(None).await.unwrap();
    let err = d.add_alias("c@example.org", "a@example.org").await.unwrap_err();
    assert!(matches!(&err, Error::AliasLoop(chain) if chain.contains("a@example.org")), "{err}");
    assert_eq!(d.list_aliases(None).await.unwrap(), before, "a refused alias changes nothing");
    assert!(matches!(d.add_alias("a@example.org", "a@example.org").await, Err(Error::AliasLoop(_))));

    // Depth: a chain longer than the limit resolves as a loop, and the alias
    // that would exceed it is refused.
    let Some(t2) = open_with(engine, Settings { max_alias_depth: 3, ..common::settings() }).await else { return };
    let d2 = &t2.dir;
    d2.add_domain("example.org").await.unwrap();
    d2.add_account(&NewAccount::new("end@example.org")).await.unwrap();
    d2.add_alias("l3@example.org", "end@example.org").await.unwrap();
    d2.add_alias("l2@example.org", "l3@example.org").await.unwrap();
    d2.add_alias("l1@example.org", "l2@example.org").await.unwrap();
    assert_eq!(resolve(d2, "l1@example.org").await, ["end@example.org"]);
    assert!(matches!(d2.add_alias("l0@example.org", "l1@example.org").await, Err(Error::AliasLoop(_))));
}

async fn forwards(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = &t.dir;
    d.add_domain("example.org").await.unwrap();
    d.add_account(&NewAccount::new("bob@example.org")).await.unwrap();
    d.add_account(&NewAccount::new("alice@example.org")).await.unwrap();
    d.add_forward("bob@example.org", "bob@home.test", false).await.unwrap();
    assert_eq!(resolve(d, "bob@example.org").await, ["ext:bob@home.test"], "without keep-copy nothing stays");
    d.add_forward("bob@example.org", "alice@example.org", true).await.unwrap();
    assert_eq!(resolve(d, "bob@example.org").await, ["bob@example.org", "alice@example.org", "ext:bob@home.test"]);
    assert!(matches!(d.add_forward("bob@example.org", "bob@home.test", true).await, Err(Error::Duplicate(_))));
    assert!(matches!(d.add_forward("alice@example.org", "bob@example.org", false).await, Err(Error::AliasLoop(_))));
    assert!(matches!(d.add_forward("nobody@example.org", "x@y.test", false).await, Err(Error::UnknownAccount(_))));
    let fw = d.list_forwards(Some("bob@example.org")).await.unwrap();
    assert_eq!(fw.len(), 2);
    assert!(fw.iter().any(|f| f.target == "alice@example.org" && f.keep_copy));
    d.remove_forward("bob@example.org", None).await.unwrap();
    assert_eq!(resolve(d, "bob@example.org").await, ["bob@example.org"]);
    assert!(matches!(d.remove_forward("bob@example.org", None).await, Err(Error::UnknownForward(_))));
}

async fn mailing_lists(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = &t.dir;
    d.add_domain("example.org").await.unwrap();
    d.create_list("rust@example.org", "members", "Rust users").await.unwrap();
    assert!(matches!(d.create_list("rust@example.org", "anyone", "").await, Err(Error::AddressTaken(..))));
    assert!(matches!(d.create_list("x@example.org", "whoever", "").await, Err(Error::Invalid(_))));
    d.subscribe("rust@example.org", "Ann@Elsewhere.test", false).await.unwrap();
    d.subscribe("rust@example.org", "ben@example.org", true).await.unwrap();
    assert!(matches!(
        d.subscribe("rust@example.org", "ann@elsewhere.test", false).await,
        Err(Error::AlreadyMember(..))
    ));
    assert!(matches!(d.subscribe("nolist@example.org", "ann@elsewhere.test", false).await, Err(Error::UnknownList(_))));
    let m = d.list_members("rust@example.org").await.unwrap();
    assert_eq!(
        m.iter().map(|m| (m.address.as_str(), m.digest)).collect::<Vec<_>>(),
        [("ann@elsewhere.test", false), ("ben@example.org", true)]
    );
    assert_eq!(resolve(d, "rust@example.org").await, ["list:rust@example.org"]);
    d.unsubscribe("rust@example.org", "ann@elsewhere.test").await.unwrap();
    assert!(matches!(d.unsubscribe("rust@example.org", "ann@elsewhere.test").await, Err(Error::NotAMember(..))));
    assert_eq!(d.list_lists(None).await.unwrap()[0].members, 1);
    d.remove_list("rust@example.org").await.unwrap();
    assert_eq!(resolve(d, "rust@example.org").await, ["Unknown"]);
}

async fn list_moderators(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = t.dir.as_actor("cli:alice");
    d.add_domain("example.org").await.unwrap();
    d.create_list("rust@example.org", "moderated", "").await.unwrap();
    d.subscribe("rust@example.org", "ann@example.org", false).await.unwrap();
    // A moderator need not be a member; addresses are folded to lower case.
    d.add_moderator("rust@example.org", "Mod@Elsewhere.test").await.unwrap();
    d.add_moderator("rust@example.org", "ann@example.org").await.unwrap();
    assert!(matches!(
        d.add_moderator("rust@example.org", "mod@elsewhere.test").await,
        Err(Error::AlreadyModerator(..))
    ));
    assert!(matches!(d.add_moderator("nolist@example.org", "x@example.org").await, Err(Error::UnknownList(_))));
    assert!(matches!(d.add_moderator("rust@example.org", "not an address").await, Err(Error::InvalidAddress(..))));
    assert_eq!(d.list_moderators("rust@example.org").await.unwrap(), ["ann@example.org", "mod@elsewhere.test"]);
    let id = d.list_lists(None).await.unwrap()[0].id;
    assert!(d.is_list_moderator(id, "MOD@elsewhere.test").await.unwrap());
    assert!(!d.is_list_moderator(id, "ben@example.org").await.unwrap());
    assert!(!d.is_list_moderator(id, "").await.unwrap(), "the null sender moderates nothing");
    assert!(!d.is_list_moderator(id + 1, "ann@example.org").await.unwrap());

    d.remove_moderator("rust@example.org", "ann@example.org").await.unwrap();
    assert!(matches!(d.remove_moderator("rust@example.org", "ann@example.org").await, Err(Error::NotAModerator(..))));
    assert_eq!(d.list_moderators("rust@example.org").await.unwrap(), ["mod@elsewhere.test"]);
    assert_eq!(d.list_members("rust@example.org").await.unwrap().len(), 1, "membership is separate");

    let log = d.audit_log(Some("rust@example.org"), 10).await.unwrap();
    let actions: Vec<(&str, &str)> = log.iter().map(|e| (e.action.as_str(), e.detail.as_str())).collect();
    assert_eq!(
        actions[..3],
        [
            ("list.moderator.remove", "ann@example.org"),
            ("list.moderator.add", "ann@example.org"),
            ("list.moderator.add", "mod@elsewhere.test")
        ]
    );

    // Removing the list removes its moderators; a new list of that name
    // starts without any.
    d.remove_list("rust@example.org").await.unwrap();
    d.create_list("rust@example.org", "moderated", "").await.unwrap();
    assert!(d.list_moderators("rust@example.org").await.unwrap().is_empty());
}

async fn resolution(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = &t.dir;
    d.add_domain("example.org").await.unwrap();
    d.add_domain("example.net").await.unwrap();
    for a in ["bob@example.org", "alice@example.org", "carol@example.net", "bob+vip@example.org"] {
        d.add_account(&NewAccount::new(a)).await.unwrap();
    }
    assert_eq!(resolve(d, "BOB@EXAMPLE.ORG").await, ["bob@example.org"]);
    assert_eq!(resolve(d, "<bob@example.org.>").await, ["bob@example.org"]);
    assert_eq!(resolve(d, "bob+news@example.org").await, ["bob@example.org+news"]);
    assert_eq!(resolve(d, "bob+vip@example.org").await, ["bob+vip@example.org"], "an exact account wins over the base");
    assert_eq!(resolve(d, "x@example.com").await, ["NotLocal"]);
    assert!(matches!(d.resolve_uncached("not an address").await, Err(Error::InvalidAddress(..))));

    // Aliases of aliases, across domains, with a shared target (diamond).
    d.add_alias("staff@example.org", "devs@example.org").await.unwrap();
    d.add_alias("staff@example.org", "ops@example.net").await.unwrap();
    d.add_alias("devs@example.org", "bob@example.org").await.unwrap();
    d.add_alias("devs@example.org", "carol@example.net").await.unwrap();
    d.add_alias("ops@example.net", "carol@example.net").await.unwrap();
    assert_eq!(resolve(d, "staff@example.org").await, ["bob@example.org", "carol@example.net"]);
    // Sub-address on an alias reaches the alias.
    assert_eq!(resolve(d, "staff+x@example.org").await, ["bob@example.org", "carol@example.net"]);

    // Suspended: refused when addressed, skipped behind an alias.
    d.set_state("carol@example.net", state::SUSPENDED).await.unwrap();
    assert!(matches!(d.resolve_uncached("carol@example.net").await.unwrap(), Resolution::Suspended { .. }));
    assert_eq!(resolve(d, "staff@example.org").await, ["bob@example.org"]);
    d.add_alias("only-carol@example.net", "carol@example.net").await.unwrap();
    assert!(matches!(d.resolve_uncached("only-carol@example.net").await.unwrap(), Resolution::Undeliverable { .. }));

    // A dangling target is skipped; the rest is delivered.
    d.add_alias("mixed@example.org", "gone@example.org").await.unwrap();
    d.add_alias("mixed@example.org", "alice@example.org").await.unwrap();
    assert_eq!(resolve(d, "mixed@example.org").await, ["alice@example.org"]);

    let Resolution::Deliver { destinations } = d.resolve_uncached("alice@example.org").await.unwrap() else { panic!() };
    let Destination::Mailbox { island, account_id, .. } = &destinations[0] else { panic!() };
    assert_eq!(island, "default");
    assert_eq!(*account_id, d.account("alice@example.org").await.unwrap().id);
}

async fn sub_addressing_separators(engine: Engine) {
    let s = Settings { subaddress_separators: "+-".into(), ..common::settings() };
    let Some(t) = open_with(engine, s).await else { return };
    let d = &t.dir;
    d.add_domain("example.org").await.unwrap();
    d.add_account(&NewAccount::new("bob@example.org")).await.unwrap();
    assert_eq!(resolve(d, "bob-lists@example.org").await, ["bob@example.org+lists"]);
    assert_eq!(resolve(d, "bob+x-y@example.org").await, ["bob@example.org+x-y"]);
    let Some(t2) = open_with(engine, Settings { subaddress_separators: String::new(), ..common::settings() }).await
    else {
        return;
    };
    t2.dir.add_domain("example.org").await.unwrap();
    t2.dir.add_account(&NewAccount::new("bob@example.org")).await.unwrap();
    assert_eq!(resolve(&t2.dir, "bob+x@example.org").await, ["Unknown"]);
}

async fn cache_and_other_writers(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = &t.dir;
    d.add_domain("example.org").await.unwrap();
    d.add_account(&NewAccount::new("bob@example.org")).await.unwrap();
    assert_eq!(mailbox(&d.resolve("x@example.org").await.unwrap()), ["Unknown"]);
    // A change made through this handle is seen at once.
    d.add_alias("x@example.org", "bob@example.org").await.unwrap();
    assert_eq!(mailbox(&d.resolve("x@example.org").await.unwrap()), ["bob@example.org"]);
    // Another process (another pool) changes the directory: this handle
    // answers from its cache until the TTL runs out.
    let short = Settings { cache_ttl: std::time::Duration::from_millis(300), ..common::settings() };
    let mine = atoll_directory::Directory::connect(&t.url, short).await.unwrap();
    let other = atoll_directory::Directory::connect(&t.url, common::settings()).await.unwrap();
    assert_eq!(mailbox(&mine.resolve("x@example.org").await.unwrap()), ["bob@example.org"]);
    other.remove_alias("x@example.org", None).await.unwrap();
    assert_eq!(mailbox(&mine.resolve("x@example.org").await.unwrap()), ["bob@example.org"], "cached");
    assert_eq!(
        mailbox(&mine.resolve_uncached("x@example.org").await.unwrap()),
        ["Unknown"],
        "the directory is the truth"
    );
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert_eq!(mailbox(&mine.resolve("x@example.org").await.unwrap()), ["Unknown"], "expired");
    let first = mine.resolve("bob@example.org").await.unwrap();
    let second = mine.resolve("bob@example.org").await.unwrap();
    assert!(Arc::ptr_eq(&first, &second), "second answer comes from the cache");
}

async fn passwords_and_rehash(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = &t.dir;
    d.add_domain("example.org").await.unwrap();
    let mut n = NewAccount::new("bob@example.org");
    n.password = PasswordInput::Plain("correct horse".into());
    d.add_account(&n).await.unwrap();
    let ok = d.authenticate("Bob@example.org", "correct horse").await.unwrap().unwrap();
    assert!(!ok.rehashed);
    assert!(d.authenticate("bob@example.org", "wrong").await.unwrap().is_none());
    assert!(d.authenticate("nobody@example.org", "x").await.unwrap().is_none());
    assert!(d.authenticate("garbage", "x").await.unwrap().is_none());

    // An imported SHA512-CRYPT hash (openssl passwd -6 -salt saltsalt secret)
    // logs in and is replaced by argon2id.
    let mut imp = NewAccount::new("old@example.org");
    imp.password = PasswordInput::Hash("{SHA512-CRYPT}$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1".into());
    d.add_account(&imp).await.unwrap();
    assert_eq!(d.account("old@example.org").await.unwrap().password_scheme, "sha512-crypt");
    assert!(d.authenticate("old@example.org", "wrong").await.unwrap().is_none());
    let ok = d.authenticate("old@example.org", "secret").await.unwrap().unwrap();
    assert!(ok.rehashed);
    assert_eq!(d.account("old@example.org").await.unwrap().password_scheme, "argon2id");
    assert!(!d.authenticate("old@example.org", "secret").await.unwrap().unwrap().rehashed);
    assert_eq!(d.audit_count("account.rehash").await.unwrap(), 1);

    // Suspended accounts cannot log in.
    d.set_state("bob@example.org", state::SUSPENDED).await.unwrap();
    assert!(d.authenticate("bob@example.org", "correct horse").await.unwrap().is_none());

    // {PLAIN} is refused unless the configuration allows it.
    let mut p = NewAccount::new("plain@example.org");
    p.password = PasswordInput::Hash("{PLAIN}hunter2".into());
    assert!(matches!(d.add_account(&p).await, Err(Error::Password(_))));
    let mut junk = NewAccount::new("junk@example.org");
    junk.password = PasswordInput::Hash("{NTLM}abcdef".into());
    assert!(matches!(d.add_account(&junk).await, Err(Error::Password(_))));
    let Some(t2) = open_with(engine, Settings { allow_plain_passwords: true, ..common::settings() }).await else {
        return;
    };
    t2.dir.add_domain("example.org").await.unwrap();
    t2.dir.add_account(&p).await.unwrap();
    assert!(t2.dir.authenticate("plain@example.org", "hunter2").await.unwrap().unwrap().rehashed);
}

async fn islands_and_nodes(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = &t.dir;
    d.add_island("south", "/srv/south").await.unwrap();
    assert!(matches!(d.add_island("bad name", "").await, Err(Error::InvalidName(..))));
    assert!(!d.ensure_island("south", "").await.unwrap());
    d.set_island_state("south", "draining").await.unwrap();
    let islands = d.list_islands().await.unwrap();
    assert_eq!(
        islands.iter().map(|i| (i.name.as_str(), i.state.as_str())).collect::<Vec<_>>(),
        [("default", "open"), ("south", "draining")]
    );
    assert!(matches!(d.set_island_state("atlantis", "open").await, Err(Error::UnknownIsland(_))));

    d.register_node("mx1", &["mx", "proxy"], &[], &["smtp=0.0.0.0:25".into()], "0.1.0").await.unwrap();
    d.register_node("store1", &["store"], &["default", "south"], &[], "0.1.0").await.unwrap();
    d.register_node("store1", &["store"], &["south"], &[], "0.1.1").await.unwrap();
    assert!(matches!(
        d.register_node("store2", &["store"], &["atlantis"], &[], "0.1.0").await,
        Err(Error::UnknownIsland(_))
    ));
    d.heartbeat("mx1").await.unwrap();
    let nodes = d.list_nodes().await.unwrap();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0].roles, ["mx", "proxy"]);
    assert_eq!(nodes[0].addresses, ["smtp=0.0.0.0:25"]);
    assert_eq!((nodes[1].islands.clone(), nodes[1].version.as_str()), (vec!["south".to_string()], "0.1.1"));
}

async fn greylist_storage(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = &t.dir;
    let v4 = atoll_directory::ip_to_bytes("192.0.2.0".parse().unwrap());
    let v6 = atoll_directory::ip_to_bytes("2001:db8::".parse().unwrap())[..8].to_vec();
    assert_eq!((v4.len(), v6.len()), (4, 8));
    assert_eq!(d.greylist_get(&v4, "sender@a.test", "bob@example.org").await.unwrap(), None);
    d.greylist_record(&v4, "sender@a.test", "bob@example.org", 1000, false).await.unwrap();
    d.greylist_record(&v4, "sender@a.test", "bob@example.org", 1400, true).await.unwrap();
    d.greylist_record(&v6, "sender@a.test", "bob@example.org", 1500, false).await.unwrap();
    let tr = d.greylist_get(&v4, "sender@a.test", "bob@example.org").await.unwrap().unwrap();
    assert_eq!((tr.first_seen, tr.last_seen, tr.passed), (1000, 1400, 1));
    assert_eq!(d.greylist_get(&v6, "sender@a.test", "bob@example.org").await.unwrap().unwrap().passed, 0);
    assert_eq!(d.greylist_client_passed(&v4, 1400).await.unwrap(), 1);
    assert_eq!(d.greylist_client_passed(&v4, 1401).await.unwrap(), 2);
    assert_eq!(d.greylist_expire(1450).await.unwrap(), 2, "the v4 triplet and the v4 client");
    assert_eq!(d.greylist_get(&v4, "sender@a.test", "bob@example.org").await.unwrap(), None);
    assert!(d.greylist_get(&v6, "sender@a.test", "bob@example.org").await.unwrap().is_some());
}

async fn preferences(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = &t.dir;
    d.add_domain("example.org").await.unwrap();
    d.add_account(&NewAccount::new("bob@example.org")).await.unwrap();
    d.set_preference("bob@example.org", "lang", "en").await.unwrap();
    d.set_preference("bob@example.org", "lang", "fr").await.unwrap();
    d.set_preference("bob@example.org", "spam.threshold", "5.0").await.unwrap();
    assert_eq!(
        d.preferences("bob@example.org").await.unwrap(),
        [("lang".into(), "fr".into()), ("spam.threshold".into(), "5.0".into())]
    );
    assert!(matches!(d.set_preference("nobody@example.org", "a", "b").await, Err(Error::UnknownAccount(_))));
}

async fn import_is_all_or_nothing(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = &t.dir;
    d.add_domain("example.org").await.unwrap();
    d.add_account(&NewAccount::new("taken@example.org")).await.unwrap();
    let row = |line: usize, a: &str| (line, NewAccount::new(a));
    let bad =
        vec![row(2, "a@example.org"), row(3, "taken@example.org"), row(4, "b@unknown.test"), row(5, "c@example.org")];
    let report = d.import_accounts(&bad).await.unwrap();
    assert_eq!(report.imported, 0);
    assert_eq!(report.bad_lines.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [3, 4]);
    assert!(matches!(d.account("a@example.org").await, Err(Error::UnknownAccount(_))), "the batch was rolled back");
    let mut hashed = NewAccount::new("h@example.org");
    hashed.password = PasswordInput::Hash("$2b$05$abcdefghijklmnopqrstuu".into());
    let report = d.import_accounts(&[row(2, "a@example.org"), (3, hashed)]).await.unwrap();
    assert_eq!(report.bad_lines.len(), 1, "a malformed hash is refused before the transaction");
    let good = vec![row(2, "a@example.org"), row(3, "b@example.org"), row(4, "A2@example.org")];
    let report = d.import_accounts(&good).await.unwrap();
    assert_eq!((report.imported, report.bad_lines.len()), (3, 0));
    assert_eq!(d.list_accounts(None).await.unwrap().len(), 4);
    // Duplicates inside one batch are caught too.
    let report = d.import_accounts(&[row(2, "d@example.org"), row(3, "D@example.org")]).await.unwrap();
    assert_eq!(report.bad_lines.iter().map(|(l, _)| *l).collect::<Vec<_>>(), [3]);
}

async fn audit_log_records_every_change(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = t.dir.as_actor("cli:alice");
    d.add_domain("example.org").await.unwrap();
    d.add_account(&NewAccount::new("bob@example.org")).await.unwrap();
    d.add_alias("x@example.org", "bob@example.org").await.unwrap();
    let _ = d.add_alias("x@example.org", "bob@example.org").await; // refused: no audit row
    d.set_quota("bob@example.org", 100).await.unwrap();
    d.remove_alias("x@example.org", None).await.unwrap();
    let log = d.audit_log(None, 100).await.unwrap();
    let actions: Vec<&str> = log.iter().filter(|e| e.actor == "cli:alice").map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["alias.remove", "account.quota", "alias.add", "account.add", "domain.add"]);
    let bob = d.audit_log(Some("bob@example.org"), 10).await.unwrap();
    assert_eq!(bob.len(), 2);
    assert!(log.iter().all(|e| e.at > 1_700_000_000));
}

/// 8 tasks add and remove aliases at once; the directory and its audit log
/// must agree afterwards, whatever the interleaving.
async fn concurrent_alias_changes(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    let d = t.dir.clone();
    d.add_domain("example.org").await.unwrap();
    d.add_account(&NewAccount::new("bob@example.org")).await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..8 {
        let d = d.clone();
        tasks.push(tokio::spawn(async move {
            let (mut added, mut removed) = (0i64, 0i64);
            for i in 0..25 {
                // Half the aliases are shared between tasks, so they collide.
                let name = if i % 2 == 0 {
                    format!("shared{}@example.org", i % 6)
                } else {
                    format!("t{task}-{i}@example.org")
                };
                match d.add_alias(&name, "bob@example.org").await {
                    Ok(()) => added += 1,
                    Err(Error::Duplicate(_)) => {}
                    Err(e) => panic!("add {name}: {e}"),
                }
                if i % 3 == 0 {
                    match d.remove_alias(&name, None).await {
                        Ok(()) => removed += 1,
                        Err(Error::UnknownAlias(_)) => {}
                        Err(e) => panic!("remove {name}: {e}"),
                    }
                }
            }
            (added, removed)
        }));
    }
    let (mut added, mut removed) = (0, 0);
    for t in tasks {
        let (a, r) = t.await.unwrap();
        added += a;
        removed += r;
    }
    let rows = d.list_aliases(None).await.unwrap().len() as i64;
    assert_eq!(rows, added - removed, "aliases in the directory = adds - removes");
    assert_eq!(d.audit_count("alias.add").await.unwrap(), added);
    assert_eq!(d.audit_count("alias.remove").await.unwrap(), removed);
    assert!(added >= 8 * 12, "every task's own aliases went in: {added}");
    for a in d.list_aliases(None).await.unwrap() {
        assert_eq!(mailbox(&d.resolve_uncached(&a.address).await.unwrap()), ["bob@example.org"]);
    }
}

async fn migrations_are_idempotent(engine: Engine) {
    let Some(t) = open(engine).await else { return };
    t.dir.add_domain("example.org").await.unwrap();
    let again = atoll_directory::Directory::open(&t.url, common::settings()).await.unwrap();
    again.migrate().await.unwrap();
    assert_eq!(again.list_domains().await.unwrap().len(), 1);
}
