//! The directory on a 3-node MariaDB Galera cluster (synchronous
//! multi-master): writes through one node are read at once through another,
//! and writers on different nodes that collide (certification failures,
//! error 1213 at COMMIT) are retried so the directory and its audit log stay
//! consistent. `scripts/db env` starts the cluster and names its nodes in
//! ATOLL_TEST_GALERA_URLS; in CI a missing cluster fails the test.

use atoll_directory::{Directory, Error, NewAccount, Settings};

/// A fresh database on the cluster and one directory handle per node.
async fn cluster() -> Option<Vec<Directory>> {
    let urls = atoll_testkit::galera_database().await?;
    let settings = Settings { cache_capacity: 0, ..Settings::default() };
    let mut dirs = Vec::new();
    for (i, url) in urls.iter().enumerate() {
        let dir = if i == 0 {
            Directory::open(url, settings.clone()).await
        } else {
            Directory::connect(url, settings.clone()).await
        };
        dirs.push(dir.unwrap_or_else(|e| panic!("node {}: {e}", i + 1)).as_actor(&format!("node{}", i + 1)));
    }
    dirs[0].ensure_island("default", "").await.unwrap();
    Some(dirs)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_through_one_node_is_read_through_another() {
    let Some(nodes) = cluster().await else { return };
    let last = nodes.len() - 1;
    nodes[0].add_domain("example.org").await.unwrap();
    nodes[0].add_account(&NewAccount::new("bob@example.org")).await.unwrap();
    // Causal reads: no sleep, the other node must already answer with it.
    assert_eq!(nodes[last].list_domains().await.unwrap()[0].accounts, 1);
    nodes[last].add_alias("team@example.org", "bob@example.org").await.unwrap();
    let r = nodes[0].resolve_uncached("team@example.org").await.unwrap();
    assert!(matches!(r, atoll_directory::Resolution::Deliver { .. }), "{r:?}");
    // Uniqueness holds across nodes.
    assert!(matches!(nodes[1].add_domain("example.org").await, Err(Error::DomainExists(_))));
}

/// Writers on every node add and remove the same aliases at once: every
/// change a writer was told committed is in the table and the audit log
/// on every node, and nothing else is. Galera aborts colliding
/// transactions, sometimes without telling the client (see
/// `atoll_sql::Tx`); each such transaction must run again rather than
/// half-commit or be reported committed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn colliding_writers_on_different_nodes_stay_consistent() {
    let Some(nodes) = cluster().await else { return };
    nodes[0].add_domain("example.org").await.unwrap();
    nodes[0].add_account(&NewAccount::new("bob@example.org")).await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..9 {
        let d = nodes[task % nodes.len()].clone();
        tasks.push(tokio::spawn(async move {
            let (mut added, mut removed) = (0i64, 0i64);
            for i in 0..20 {
                let name = format!("shared{}@example.org", i % 4);
                match d.add_alias(&name, "bob@example.org").await {
                    Ok(()) => added += 1,
                    Err(Error::Duplicate(_)) => {}
                    Err(e) => panic!("task {task} add {name}: {e}"),
                }
                match d.remove_alias(&name, None).await {
                    Ok(()) => removed += 1,
                    Err(Error::UnknownAlias(_)) => {}
                    Err(e) => panic!("task {task} remove {name}: {e}"),
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
    let retries: u64 = nodes.iter().map(|n| n.conflict_retries()).sum();
    eprintln!("added {added}, removed {removed}, conflict retries {retries}");
    assert!(added > 0);
    for (i, n) in nodes.iter().enumerate() {
        eprintln!(
            "node {}: rows {} audit add {} remove {}",
            i + 1,
            n.list_aliases(None).await.unwrap().len(),
            n.audit_count("alias.add").await.unwrap(),
            n.audit_count("alias.remove").await.unwrap()
        );
    }
    for (i, n) in nodes.iter().enumerate() {
        let rows = n.list_aliases(None).await.unwrap().len() as i64;
        assert_eq!(rows, added - removed, "node {} sees adds - removes", i + 1);
        assert_eq!(n.audit_count("alias.add").await.unwrap(), added, "node {}", i + 1);
        assert_eq!(n.audit_count("alias.remove").await.unwrap(), removed, "node {}", i + 1);
    }
}
