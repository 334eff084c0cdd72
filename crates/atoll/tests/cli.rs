//! End-to-end tests of the `atoll` binary: every test starts the real built
//! executable against its own SQLite directory in a temporary directory.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Atoll, SHA512_SECRET, Server, TEST_USER, http_get, lines_about};
use serde_json::Value;

/// example.org with the account bob@example.org (password "secret").
fn with_bob() -> Atoll {
    let a = Atoll::new();
    a.ok(&["domain", "add", "example.org"]);
    a.ok_with_stdin(&["user", "add", "bob@example.org"], "secret\n");
    a
}

fn strs(v: &Value) -> Vec<&str> {
    v.as_array().expect("array").iter().map(|x| x.as_str().expect("string")).collect()
}

// ---------------------------------------------------------------------------
// 1. The happy path of administration.

#[test]
fn domain_and_account_lifecycle() {
    let a = Atoll::new();
    let out = a.ok(&["domain", "add", "Example.ORG"]);
    assert!(out.contains("domain example.org added"), "{out}");

    let out = a.ok_with_stdin(&["user", "add", "Bob@Example.org", "--name", "Bob B"], "secret\n");
    assert!(out.contains("account bob@example.org added on island default"), "{out}");

    // Table output.
    let table = a.ok(&["user", "list"]);
    let row = table.lines().find(|l| l.contains("bob@example.org")).unwrap_or_else(|| panic!("no row:\n{table}"));
    assert!(row.contains("active") && row.contains("default") && row.contains("unlimited"), "{row}");
    assert!(table.lines().next().is_some_and(|h| h.contains("ADDRESS")), "{table}");

    // JSON output.
    let list = a.json(&["user", "list"]);
    let accounts = list.as_array().expect("user list --json is an array");
    assert_eq!(accounts.len(), 1, "{list}");
    assert_eq!(accounts[0]["address"], "bob@example.org");
    assert_eq!(accounts[0]["password_scheme"], "argon2id");
    assert_eq!(accounts[0]["display_name"], "Bob B");
    assert_eq!(a.json(&["domain", "list"])[0]["accounts"], 1);

    // user show, as text.
    let show = a.ok(&["user", "show", "bob@example.org"]);
    for (key, value) in
        [("address", "bob@example.org"), ("state", "active"), ("island", "default"), ("password", "argon2id")]
    {
        assert!(
            show.lines().any(|l| l.starts_with(key) && l.trim_end().ends_with(value)),
            "user show lacks {key} {value}:\n{show}"
        );
    }

    // Suspend and resume.
    a.ok(&["user", "suspend", "bob@example.org"]);
    assert_eq!(a.account("bob@example.org")["state"], "suspended");
    let r = a.fail(&["resolve", "bob@example.org"]);
    assert!(r.stdout.starts_with("suspended: bob@example.org"), "{r}");
    let login = a.run_with_stdin(&["auth", "test", "bob@example.org"], Some("secret\n"));
    assert!(!login.status.success(), "a suspended account must not log in:\n{login}");
    a.ok(&["user", "resume", "bob@example.org"]);
    assert_eq!(a.account("bob@example.org")["state"], "active");
    a.ok_with_stdin(&["auth", "test", "bob@example.org"], "secret\n");

    // Quota.
    let out = a.ok(&["user", "quota", "bob@example.org", "2G"]);
    assert!(out.contains("quota of bob@example.org set to 2G"), "{out}");
    assert_eq!(a.account("bob@example.org")["quota_bytes"], 2_147_483_648i64);
    assert!(a.ok(&["user", "list"]).contains("2G"));

    // Password change from a file (first line, without its newline).
    let pw = a.write("new-password", "n3w-Secret\nignored second line\n");
    a.ok(&["user", "passwd", "bob@example.org", "--password-file", pw.to_str().unwrap()]);
    a.ok_with_stdin(&["auth", "test", "bob@example.org"], "n3w-Secret\n");
    let old = a.run_with_stdin(&["auth", "test", "bob@example.org"], Some("secret\n"));
    assert!(!old.status.success(), "the old password must stop working:\n{old}");

    // Remove the account, then the now empty domain.
    a.ok(&["user", "remove", "bob@example.org"]);
    assert!(a.addresses().is_empty());
    let r = a.fail(&["user", "show", "bob@example.org"]);
    assert!(r.one_error_line().contains("no account bob@example.org"), "{r}");
    let out = a.ok(&["domain", "remove", "example.org"]);
    assert!(out.contains("domain example.org removed"), "{out}");
    assert_eq!(a.json(&["domain", "list"]), serde_json::json!([]));
}

#[test]
fn aliases_forwards_and_mailing_lists() {
    let a = with_bob();

    // Alias.
    let out = a.ok(&["alias", "add", "postmaster@example.org", "bob@example.org"]);
    assert!(out.contains("alias postmaster@example.org -> bob@example.org added"), "{out}");
    let aliases = a.json(&["alias", "list"]);
    assert_eq!(aliases, serde_json::json!([{ "address": "postmaster@example.org", "target": "bob@example.org" }]));
    let r = a.ok(&["resolve", "postmaster@example.org"]);
    assert!(r.contains("deliver  bob@example.org on island default"), "{r}");

    // Forward keeping a copy.
    a.ok(&["forward", "add", "bob@example.org", "bob@elsewhere.net", "--keep-copy"]);
    let fw = a.json(&["forward", "list", "bob@example.org"]);
    assert_eq!(
        fw,
        serde_json::json!([{ "account": "bob@example.org", "target": "bob@elsewhere.net", "keep_copy": true }])
    );
    let show = a.ok(&["user", "show", "bob@example.org"]);
    assert!(show.contains("bob@elsewhere.net (keep copy)"), "{show}");
    let r = a.ok(&["resolve", "bob@example.org"]);
    assert!(r.contains("deliver  bob@example.org"), "a kept copy stays in the mailbox:\n{r}");
    assert!(r.contains("forward  bob@elsewhere.net"), "{r}");

    // Mailing list.
    let out = a.ok(&["list", "create", "team@example.org", "--description", "The team"]);
    assert!(out.contains("list team@example.org created"), "{out}");
    a.ok(&["list", "subscribe", "team@example.org", "bob@example.org"]);
    a.ok(&["list", "subscribe", "team@example.org", "Carol@Elsewhere.net", "--digest"]);
    let members = a.ok(&["list", "members", "team@example.org"]);
    assert!(members.lines().any(|l| l.contains("bob@example.org") && l.contains("no")), "{members}");
    assert!(members.lines().any(|l| l.contains("carol@elsewhere.net") && l.contains("yes")), "{members}");
    let members = a.json(&["list", "members", "team@example.org"]);
    assert_eq!(
        members,
        serde_json::json!([
            { "address": "bob@example.org", "digest": false },
            { "address": "carol@elsewhere.net", "digest": true },
        ])
    );
    let lists = a.json(&["list", "show"]);
    assert_eq!(lists[0]["address"], "team@example.org");
    assert_eq!(lists[0]["members"], 2);
    assert_eq!(lists[0]["policy"], "members");
    let r = a.ok(&["resolve", "team@example.org"]);
    assert!(r.contains("list     team@example.org (posting: members)"), "{r}");

    let domain = &a.json(&["domain", "list"])[0];
    assert_eq!([&domain["accounts"], &domain["aliases"], &domain["lists"]], [1, 1, 1], "{domain}");
}

#[test]
fn islands_add_list_close_open() {
    let a = Atoll::new();
    a.ok(&["domain", "add", "example.org"]);
    let out = a.ok(&["island", "add", "north"]);
    assert!(out.contains("island north added"), "{out}");
    a.ok(&["island", "add", "south", "--store", "/srv/south"]);

    let table = a.ok(&["island", "list"]);
    for name in ["default", "north", "south"] {
        assert!(table.lines().any(|l| l.trim_start().starts_with(name) && l.contains("open")), "{name}:\n{table}");
    }
    let islands = a.json(&["island", "list"]);
    let north = islands.as_array().unwrap().iter().find(|i| i["name"] == "north").expect("north listed");
    let expected_store = a.data_dir().join("islands").join("north");
    assert_eq!(north["store"], expected_store.display().to_string());
    let south = islands.as_array().unwrap().iter().find(|i| i["name"] == "south").expect("south listed");
    assert_eq!(south["store"], "/srv/south");

    a.ok(&["user", "add", "n1@example.org", "--island", "north", "--no-password"]);
    assert_eq!(a.account("n1@example.org")["island"], "north");

    let out = a.ok(&["island", "close", "north"]);
    assert!(out.contains("island north closed"), "{out}");
    let state = |name: &str| {
        let islands = a.json(&["island", "list"]);
        islands.as_array().unwrap().iter().find(|i| i["name"] == name).expect("listed")["state"].clone()
    };
    assert_eq!(state("north"), "closed");
    // A closed island takes no new accounts, and refusing changes nothing.
    let before = a.snapshot();
    let r = a.fail(&["user", "add", "n2@example.org", "--island", "north", "--no-password"]);
    assert!(r.one_error_line().contains("island north is closed"), "{r}");
    assert_eq!(a.snapshot(), before);
    // Its accounts are still served.
    assert!(a.ok(&["resolve", "n1@example.org"]).contains("on island north"));

    a.ok(&["island", "open", "north"]);
    assert_eq!(state("north"), "open");
    a.ok(&["user", "add", "n2@example.org", "--island", "north", "--no-password"]);
    assert_eq!(a.account("n2@example.org")["island"], "north");
}

// ---------------------------------------------------------------------------
// 2. resolve

#[test]
fn resolve_delivers_accounts_and_subaddresses() {
    let a = with_bob();
    let out = a.run(&["resolve", "bob@example.org"]);
    assert!(out.status.success(), "{out}");
    assert_eq!(out.stdout.trim_end(), "deliver  bob@example.org on island default", "{out}");

    let out = a.run(&["resolve", "Bob+Tag@Example.org"]);
    assert!(out.status.success(), "{out}");
    assert_eq!(out.stdout.trim_end(), "deliver  bob@example.org (detail \"tag\") on island default", "{out}");
}

#[test]
fn resolve_refuses_unknown_and_foreign_addresses() {
    let a = with_bob();
    let out = a.run(&["resolve", "nobody@example.org"]);
    assert!(!out.status.success(), "{out}");
    assert!(out.stdout.starts_with("unknown"), "{out}");
    assert!(out.one_error_line().contains("nobody@example.org is not deliverable"), "{out}");

    let out = a.run(&["resolve", "bob@elsewhere.net"]);
    assert!(!out.status.success(), "{out}");
    assert!(out.stdout.starts_with("not local"), "{out}");
    out.one_error_line();
}

#[test]
fn resolve_json() {
    let a = with_bob();
    let r = a.json(&["resolve", "bob+x@example.org"]);
    assert_eq!(r["result"], "deliver", "{r}");
    let d = &r["destinations"][0];
    assert_eq!([&d["kind"], &d["address"], &d["detail"]], ["mailbox", "bob@example.org", "x"], "{r}");

    let out = a.run(&["--json", "resolve", "nobody@example.org"]);
    assert!(!out.status.success(), "{out}");
    let r: Value = serde_json::from_str(&out.stdout).expect("JSON even when refused");
    assert_eq!(r["result"], "unknown");
}

// ---------------------------------------------------------------------------
// 3. Bad input: one line on stderr, non-zero exit, nothing changed.

/// Runs `args` on `a`, expecting a refusal whose one stderr line contains
/// `expected`, and that nothing an operator can list changed.
fn refused(a: &Atoll, args: &[&str], expected: &str) {
    let before = a.snapshot();
    let out = a.run(args);
    let line = out.one_error_line();
    assert!(line.contains(expected), "expected {expected:?} in the error:\n{out}");
    assert!(out.stdout.is_empty(), "a refused change prints nothing on stdout:\n{out}");
    assert_eq!(a.snapshot(), before, "{args:?} changed something");
}

#[test]
fn refuses_malformed_address() {
    let a = with_bob();
    refused(&a, &["user", "add", "not an address", "--no-password"], "invalid address \"not an address\"");
    refused(&a, &["user", "add", "bob@exa mple.org", "--no-password"], "invalid address");
}

#[test]
fn refuses_unknown_domain() {
    let a = with_bob();
    refused(&a, &["user", "add", "x@nowhere.org", "--no-password"], "unknown domain nowhere.org");
}

#[test]
fn refuses_duplicate_account() {
    let a = with_bob();
    refused(&a, &["user", "add", "BOB@example.org", "--no-password"], "bob@example.org is already used by an account");
    // The address space is shared with aliases and lists.
    a.ok(&["alias", "add", "info@example.org", "bob@example.org"]);
    refused(&a, &["user", "add", "info@example.org", "--no-password"], "already used by an alias");
    refused(&a, &["list", "create", "bob@example.org"], "already used by an account");
}

#[test]
fn refuses_duplicate_domain() {
    let a = with_bob();
    refused(&a, &["domain", "add", "example.org"], "domain example.org already exists");
    refused(&a, &["domain", "add", "EXAMPLE.org."], "domain example.org already exists");
}

#[test]
fn refuses_alias_loop() {
    let a = with_bob();
    a.ok(&["alias", "add", "a@example.org", "b@example.org"]);
    refused(&a, &["alias", "add", "b@example.org", "a@example.org"], "alias loop");
    // Nor through a forward.
    a.ok(&["alias", "add", "c@example.org", "bob@example.org"]);
    refused(&a, &["forward", "add", "bob@example.org", "c@example.org"], "alias loop");
}

#[test]
fn refuses_unknown_island() {
    let a = with_bob();
    refused(&a, &["user", "add", "x@example.org", "--island", "nowhere", "--no-password"], "unknown island nowhere");
    refused(&a, &["island", "close", "nowhere"], "unknown island nowhere");
}

#[test]
fn refuses_removing_a_domain_in_use() {
    let a = with_bob();
    refused(&a, &["domain", "remove", "example.org"], "domain example.org is not empty (1 accounts");
    a.ok(&["user", "remove", "bob@example.org"]);
    a.ok(&["list", "create", "team@example.org"]);
    refused(&a, &["domain", "remove", "example.org"], "0 accounts, 0 aliases, 1 lists");
}

#[test]
fn refuses_invalid_quota() {
    let a = with_bob();
    refused(&a, &["user", "quota", "bob@example.org", "lots"], "invalid size \"lots\"");
    refused(&a, &["user", "add", "x@example.org", "--quota", "lots", "--no-password"], "invalid size \"lots\"");
    assert_eq!(a.account("bob@example.org")["quota_bytes"], 0);
}

#[test]
fn refuses_empty_password() {
    let a = with_bob();
    // Standard input is not a terminal, so the password is read from it.
    refused(&a, &["user", "add", "x@example.org"], "empty password");
    let empty = a.write("empty", "\n");
    refused(&a, &["user", "passwd", "bob@example.org", "--password-file", empty.to_str().unwrap()], "empty password");
}

// ---------------------------------------------------------------------------
// 4. auth test

#[test]
fn auth_test_checks_the_password() {
    let a = with_bob();
    let out = a.ok_with_stdin(&["auth", "test", "bob@example.org"], "secret\n");
    assert!(out.contains("login ok: bob@example.org"), "{out}");
    assert!(!out.contains("upgraded"), "an argon2id hash needs no upgrade: {out}");

    let pw = a.write("pw", "secret");
    let out = a.ok(&["auth", "test", "Bob@Example.org", "--password-file", pw.to_str().unwrap()]);
    assert!(out.contains("login ok"), "{out}");

    let out = a.run_with_stdin(&["auth", "test", "bob@example.org"], Some("wrong\n"));
    assert!(out.one_error_line().contains("login failed for bob@example.org"), "{out}");
    assert!(!out.stdout.contains("login ok"), "{out}");

    // An unknown address fails the same way, without saying more.
    let out = a.run_with_stdin(&["auth", "test", "nobody@example.org"], Some("secret\n"));
    assert!(out.one_error_line().contains("login failed for nobody@example.org"), "{out}");
}

// ---------------------------------------------------------------------------
// 5. user import

const IMPORT_HEADER: &str = "address,password_hash,name,quota";

/// The numbers N of the `FILE: line N: …` lines on stderr.
fn bad_line_numbers(stderr: &str, file: &std::path::Path) -> Vec<usize> {
    lines_about(stderr, file)
        .iter()
        .map(|l| {
            let rest = &l[file.display().to_string().len() + 2..];
            let n = rest.strip_prefix("line ").and_then(|r| r.split(':').next()).unwrap_or_else(|| panic!("{l}"));
            n.parse().unwrap_or_else(|_| panic!("no line number in {l:?}"))
        })
        .collect()
}

#[test]
fn import_is_all_or_nothing_per_batch() {
    let a = Atoll::new();
    a.ok(&["domain", "add", "example.org"]);
    let good = format!("{{SHA512-CRYPT}}{SHA512_SECRET}");
    let truncated = format!("{{SHA512-CRYPT}}{}", &SHA512_SECRET[..60]);
    // With --batch 2 the batches are lines 2-3, 4-5, 6-7 and 8-9.
    let csv = [
        IMPORT_HEADER.to_string(),
        format!("a@example.org,{good},Anne,1G"),   // 2
        "b@example.org,,Ben,".to_string(),         // 3
        "c@example.org,,Cleo,".to_string(),        // 4: good, but batched with 5
        "d@nowhere.org,,Dan,".to_string(),         // 5: unknown domain
        "e@example.org,,Eve,".to_string(),         // 6: good, but batched with 7
        format!("f@example.org,{truncated},Fay,"), // 7: malformed hash
        "g@example.org,,Gus,500M".to_string(),     // 8
        format!("h@example.org,{good},Hal,"),      // 9
    ]
    .join("\n")
        + "\n";
    let file = a.write("users.csv", &csv);
    let audit_before = a.audit().len();

    let out = a.run(&["user", "import", "--batch", "2", file.to_str().unwrap()]);
    assert!(!out.status.success(), "{out}");
    assert!(out.stdout.contains("imported 4 accounts"), "{out}");
    assert_eq!(bad_line_numbers(&out.stderr, &file), vec![5, 7], "{out}");
    let about = lines_about(&out.stderr, &file);
    assert!(about[0].contains("d@nowhere.org") && about[0].contains("unknown domain nowhere.org"), "{out}");
    assert!(about[1].contains("f@example.org") && about[1].contains("malformed"), "{out}");
    let summary: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("atoll: ")).collect();
    assert_eq!(summary.len(), 1, "{out}");
    assert!(summary[0].contains("4-5") && summary[0].contains("6-7"), "{out}");

    assert_eq!(a.addresses(), ["a@example.org", "b@example.org", "g@example.org", "h@example.org"]);
    let anne = a.account("a@example.org");
    assert_eq!(anne["display_name"], "Anne");
    assert_eq!(anne["quota_bytes"], 1_073_741_824i64);
    assert_eq!(anne["password_scheme"], "sha512-crypt");
    assert_eq!(a.account("b@example.org")["password_scheme"], "none");
    assert_eq!(a.account("g@example.org")["quota_bytes"], 500 << 20);

    // One audit row per imported account, none for the rolled-back ones.
    let audit = a.audit();
    let imported: Vec<&str> = audit[..audit.len() - audit_before]
        .iter()
        .filter(|e| e["action"] == "account.add" && e["detail"] == "import")
        .map(|e| e["object"].as_str().unwrap())
        .collect();
    assert_eq!(audit.len() - audit_before, 4, "{audit:#?}");
    assert_eq!(imported.len(), 4, "{audit:#?}");
}

#[test]
fn import_of_a_good_file_imports_every_row() {
    let a = Atoll::new();
    a.ok(&["domain", "add", "example.org"]);
    a.ok(&["domain", "add", "example.net"]);
    let good = format!("{{SHA512-CRYPT}}{SHA512_SECRET}");
    let rows: Vec<String> = (1..=5).map(|i| format!("user{i}@example.org,{good},User {i},{i}G")).collect();
    let csv = format!("{IMPORT_HEADER}\n{}\nsomeone@example.net,,,\n", rows.join("\n"));
    let file = a.write("good.csv", &csv);

    let out = a.run(&["user", "import", "--batch", "2", file.to_str().unwrap()]);
    assert!(out.status.success(), "{out}");
    assert!(out.stdout.contains("imported 6 accounts"), "{out}");
    assert!(out.stderr.is_empty(), "{out}");
    let mut expected: Vec<String> = (1..=5).map(|i| format!("user{i}@example.org")).collect();
    expected.insert(0, "someone@example.net".into());
    assert_eq!(a.addresses(), expected);
    assert_eq!(a.account("user3@example.org")["quota_bytes"], 3i64 << 30);
    assert_eq!(a.account("user3@example.org")["display_name"], "User 3");

    // --json reports the same, as JSON.
    let csv = format!("{IMPORT_HEADER}\nlate@example.org,,Late,\n");
    let file = a.write("late.csv", &csv);
    let r = a.json(&["user", "import", file.to_str().unwrap()]);
    assert_eq!(r["imported"], 1, "{r}");
    assert_eq!(r["bad_lines"], serde_json::json!([]), "{r}");
}

#[test]
fn imported_sha512_crypt_hash_logs_in_and_is_upgraded() {
    let a = Atoll::new();
    a.ok(&["domain", "add", "example.org"]);
    let csv = format!("{IMPORT_HEADER}\nold@example.org,{{SHA512-CRYPT}}{SHA512_SECRET},Old,\n");
    let file = a.write("old.csv", &csv);
    a.ok(&["user", "import", file.to_str().unwrap()]);
    assert_eq!(a.account("old@example.org")["password_scheme"], "sha512-crypt");

    // A wrong password neither logs in nor touches the hash.
    let out = a.run_with_stdin(&["auth", "test", "old@example.org"], Some("not-secret\n"));
    assert!(!out.status.success(), "{out}");
    assert_eq!(a.account("old@example.org")["password_scheme"], "sha512-crypt");

    let out = a.ok_with_stdin(&["auth", "test", "old@example.org"], "secret\n");
    assert!(out.contains("login ok: old@example.org"), "{out}");
    assert!(out.contains("upgraded to argon2id"), "{out}");
    assert_eq!(a.account("old@example.org")["password_scheme"], "argon2id");
    assert!(a.audit().iter().any(|e| e["action"] == "account.rehash" && e["object"] == "old@example.org"));

    // The upgraded hash takes the same password, and needs no more upgrading.
    let out = a.ok_with_stdin(&["auth", "test", "old@example.org"], "secret\n");
    assert!(out.contains("login ok") && !out.contains("upgraded"), "{out}");
}

#[test]
fn import_with_an_unknown_column_imports_nothing() {
    let a = Atoll::new();
    a.ok(&["domain", "add", "example.org"]);
    let file = a.write("colour.csv", "address,password_hash,colour\nx@example.org,,blue\n");
    let before = a.snapshot();
    let out = a.run(&["user", "import", file.to_str().unwrap()]);
    let line = out.one_error_line();
    assert!(line.contains("unknown column \"colour\""), "{out}");
    assert!(line.contains("line 1"), "{out}");
    assert_eq!(a.snapshot(), before);
    assert!(a.addresses().is_empty());
}

// ---------------------------------------------------------------------------
// 6. config check

fn examples() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn config_check_accepts_the_examples() {
    let a = Atoll::new();
    let files = examples();
    assert!(!files.is_empty(), "no examples/*.toml found");
    for file in files {
        let out = a.run(&["config", "check", file.to_str().unwrap()]);
        assert!(out.status.success(), "{out}");
        assert_eq!(out.stdout.trim_end(), format!("{}: ok", file.display()), "{out}");
        assert!(out.stderr.is_empty(), "{out}");
    }
}

const BAD_CONFIG: &str = r#"
[directroy]
url = "sqlite://elsewhere.db"

[node]
name = "n1"
colour = "blue"

[listen]
http = ["localhost:80"]
"#;

/// Keys the problems in BAD_CONFIG are reported under.
const BAD_KEYS: [&str; 3] = ["directroy", "node.colour", "listen.http[0]"];

/// Every stderr line is `FILE: KEY: reason`, and each bad key has one.
fn assert_config_problems(out: &common::Output, file: &std::path::Path) {
    assert!(!out.status.success(), "{out}");
    let lines = out.stderr_lines();
    assert_eq!(lines_about(&out.stderr, file).len(), lines.len(), "every line must be FILE: KEY: reason:\n{out}");
    for key in BAD_KEYS {
        let prefix = format!("{}: {key}: ", file.display());
        let found: Vec<&&str> = lines.iter().filter(|l| l.starts_with(&prefix)).collect();
        assert_eq!(found.len(), 1, "expected one line starting with {prefix:?}:\n{out}");
        assert!(found[0].len() > prefix.len(), "no reason given: {:?}", found[0]);
    }
    assert_eq!(lines.len(), BAD_KEYS.len(), "{out}");
}

#[test]
fn config_check_reports_every_problem() {
    let a = Atoll::new();
    let file = a.write("bad.toml", BAD_CONFIG);
    let out = a.run(&["config", "check", file.to_str().unwrap()]);
    assert_config_problems(&out, &file);
    assert!(out.stdout.is_empty(), "{out}");
    let stderr = &out.stderr;
    assert!(stderr.contains("unknown section"), "{stderr}");
    assert!(stderr.contains("unknown key"), "{stderr}");
    assert!(stderr.contains("\"localhost:80\" is not an address:port"), "{stderr}");
}

#[test]
fn a_bad_config_file_stops_every_command() {
    let a = Atoll::new();
    let file = a.write("bad.toml", BAD_CONFIG);
    let out = a.run(&["--config", file.to_str().unwrap(), "domain", "list"]);
    assert_config_problems(&out, &file);
    assert!(out.stdout.is_empty(), "{out}");
    assert!(!a.data_dir().exists(), "nothing may be created with a bad configuration");

    // The same through ATOLL_CONFIG.
    let out = a.command(&["domain", "add", "example.org"]).env("ATOLL_CONFIG", &file).output().expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("node.colour: unknown key"));
    assert!(!a.data_dir().exists());
}

// ---------------------------------------------------------------------------
// 7. audit

#[test]
fn audit_lists_changes_with_the_cli_actor() {
    let a = with_bob();
    a.ok(&["alias", "add", "info@example.org", "bob@example.org"]);
    a.ok(&["user", "quota", "bob@example.org", "1G"]);
    a.ok(&["island", "add", "north"]);
    // Refused changes are not logged.
    a.fail(&["domain", "add", "example.org"]);

    let log = a.audit();
    let entries: Vec<(&str, &str)> =
        log.iter().map(|e| (e["action"].as_str().unwrap(), e["object"].as_str().unwrap())).collect();
    // Newest first; the default island was created by the first command.
    assert_eq!(
        entries,
        [
            ("island.add", "north"),
            ("account.quota", "bob@example.org"),
            ("alias.add", "info@example.org"),
            ("account.add", "bob@example.org"),
            ("domain.add", "example.org"),
            ("island.add", "default"),
        ],
        "{log:#?}"
    );
    // Every change made by a command is the operator's; the default island,
    // which the first command provisions on its own, is the system's.
    let (implicit, made) = log.split_last().expect("entries");
    assert_eq!(implicit["actor"], "system", "{implicit}");
    for e in made {
        let actor = e["actor"].as_str().expect("actor");
        assert!(actor.starts_with("cli:"), "{e}");
        assert_eq!(actor, format!("cli:{TEST_USER}"), "{e}");
    }
    assert_eq!(log[1]["detail"], (1i64 << 30).to_string());

    let only_bob = a.json(&["audit", "--object", "bob@example.org"]);
    let actions: Vec<&str> = only_bob.as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["account.quota", "account.add"]);

    let table = a.ok(&["audit", "--limit", "1"]);
    assert_eq!(table.lines().count(), 2, "header and one entry:\n{table}");
    assert!(table.contains("island.add") && table.contains(&format!("cli:{TEST_USER}")), "{table}");
}

// ---------------------------------------------------------------------------
// 8. serve

/// Starts `atoll serve` on free ports (HTTP and LMTP).
fn start_server(a: &Atoll) -> (Server, SocketAddr, PathBuf) {
    let started = common::start_server(a, "");
    (started.server, started.http, started.config)
}

#[test]
fn serve_answers_health_and_metrics_and_registers_the_node() {
    let a = Atoll::new();
    let (mut server, addr, config) = start_server(&a);

    let (status, body) = http_get(addr, "/health").expect("GET /health");
    assert_eq!(status, 200);
    let health: Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("/health is not JSON ({e}): {body}"));
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["node"], "test-node", "{health}");
    assert_eq!(health["directory"], "sqlite", "{health}");
    assert_eq!(strs(&health["roles"]), ["mx", "submission", "store", "proxy", "web"], "{health}");
    assert_eq!(strs(&health["islands"]), ["default"], "{health}");

    // The first heartbeat is written at start-up; wait until it is counted.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, body) = http_get(addr, "/metrics").expect("GET /metrics");
        assert_eq!(status, 200, "{body}");
        let line = body
            .lines()
            .find(|l| l.starts_with("atoll_heartbeats_total{node=\"test-node\"} "))
            .unwrap_or_else(|| panic!("no atoll_heartbeats_total in /metrics:\n{body}"));
        let beats: u64 = line.rsplit(' ').next().unwrap().parse().expect("a count");
        if beats >= 1 {
            assert!(body.contains("atoll_heartbeat_failures_total{node=\"test-node\"} 0"), "{body}");
            break;
        }
        assert!(Instant::now() < deadline, "no heartbeat within 20 s:\n{body}");
        std::thread::sleep(Duration::from_millis(50));
    }

    let cfg = config.to_str().unwrap();
    let nodes = a.json(&["--config", cfg, "cluster", "status"]);
    let nodes = nodes.as_array().expect("cluster status --json is an array");
    assert_eq!(nodes.len(), 1, "{nodes:#?}");
    assert_eq!(nodes[0]["name"], "test-node");
    assert_eq!(strs(&nodes[0]["roles"]), ["mx", "submission", "store", "proxy", "web"]);
    assert_eq!(strs(&nodes[0]["islands"]), ["default"]);
    assert!(strs(&nodes[0]["addresses"]).contains(&format!("http={addr}").as_str()), "{nodes:#?}");
    let table = a.ok(&["--config", cfg, "cluster", "status"]);
    let row = table.lines().find(|l| l.contains("test-node")).unwrap_or_else(|| panic!("{table}"));
    assert!(row.split_whitespace().nth(1) == Some("up"), "the node should be up:\n{table}");

    let status = server.terminate(Duration::from_secs(15)).unwrap_or_else(|| {
        panic!("atoll serve did not stop within 15 s of SIGTERM:\n{}", server.log());
    });
    assert!(status.success(), "atoll serve exited with {status} on SIGTERM:\n{}", server.log());
    assert!(server.log().contains("shutting down"), "{}", server.log());
    assert!(http_get(addr, "/health").is_err(), "still answering after it exited");
}

// ---------------------------------------------------------------------------
// 9. migrate

#[test]
fn migrate_reports_an_up_to_date_schema_twice() {
    let a = Atoll::new();
    for _ in 0..2 {
        let out = a.run(&["migrate"]);
        assert!(out.status.success(), "{out}");
        assert_eq!(out.stdout.trim_end(), "directory schema is up to date (sqlite)", "{out}");
        assert!(out.stderr.is_empty(), "{out}");
    }
    assert!(a.data_dir().join("directory.db").is_file(), "the embedded default lives under --data-dir");
    assert!(!a.cwd().join("atoll-data").exists(), "nothing may land in the working directory");
    let r = a.json(&["migrate"]);
    assert_eq!(r["ok"], true, "{r}");
}
