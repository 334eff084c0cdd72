//! `atoll serve`: run this node. It migrates the directory, makes sure the
//! islands it serves exist, registers itself, heartbeats, and serves the
//! health and metrics endpoints on the HTTP listeners. With the `store`
//! role it opens its islands and delivers into them over LMTP; with the
//! `mx` role it takes mail over SMTP into its queue, which delivers into
//! the islands. The other protocol roles (submission, proxy) attach here
//! as they are built.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use atoll_config::{Config, Role};
use atoll_directory::Directory;
use atoll_imap::{Imap, ImapConfig};
use atoll_net::TlsAcceptor;
use atoll_pop3::{Pop3, Pop3Config};
use atoll_smtp::{Lmtp, LmtpConfig, Mx, MxConfig, Queue, QueueConfig, Shutdown, Submission, SubmissionConfig};
use atoll_store::Island;
use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::context::Context;
use crate::islands::open_island;

/// How long open sessions may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

#[derive(clap::Args)]
pub struct Args {}

struct Shared {
    node: String,
    roles: Vec<String>,
    islands: Vec<String>,
    directory: &'static str,
    started: i64,
    heartbeats: AtomicU64,
    heartbeat_failures: AtomicU64,
}

pub async fn run(ctx: &Context, _args: Args) -> anyhow::Result<()> {
    init_logging(ctx)?;
    let cfg = &ctx.config;
    let dir = ctx.directory().await?.as_actor(&format!("node:{}", cfg.node.name));
    let roles: Vec<&str> = cfg.node.roles.iter().map(|r| r.as_str()).collect();
    let islands: Vec<&str> = cfg.node.islands.iter().map(String::as_str).collect();
    let addresses: Vec<String> = cfg
        .listen
        .services()
        .iter()
        .flat_map(|(svc, addrs)| addrs.iter().map(move |a| format!("{svc}={}", advertised(a, &cfg.node.advertise))))
        .collect();
    dir.register_node(&cfg.node.name, &roles, &islands, &addresses, env!("CARGO_PKG_VERSION"))
        .await
        .context("cannot register this node in the directory")?;
    tracing::info!(
        node = %cfg.node.name,
        roles = %roles.join(","),
        islands = %islands.join(","),
        directory = dir.dialect().name(),
        config = %ctx.config_source,
        "node registered"
    );

    let shared = Arc::new(Shared {
        node: cfg.node.name.clone(),
        roles: roles.iter().map(|s| s.to_string()).collect(),
        islands: islands.iter().map(|s| s.to_string()).collect(),
        directory: dir.dialect().name(),
        started: dir.now(),
        heartbeats: AtomicU64::new(0),
        heartbeat_failures: AtomicU64::new(0),
    });

    let app = Router::new().route("/health", get(health)).route("/metrics", get(metrics)).with_state(shared.clone());
    let mut bound = 0;
    for addr in &cfg.listen.http {
        match TcpListener::bind(addr).await {
            Ok(listener) => {
                tracing::info!(%addr, "http listening (/health, /metrics)");
                bound += 1;
                let app = app.clone();
                tokio::spawn(async move {
                    if let Err(e) = axum::serve(listener, app).await {
                        tracing::error!(error = %e, "http listener stopped");
                    }
                });
            }
            // IPv6 may be off on a host; one working address is enough.
            Err(e) => tracing::warn!(%addr, error = %e, "cannot listen"),
        }
    }
    if bound == 0 && !cfg.listen.http.is_empty() {
        anyhow::bail!("could not listen on any http address ({})", cfg.listen.http.join(", "));
    }

    let (stop, stopping) = atoll_smtp::shutdown_channel();
    let mut servers = Vec::new();
    let mut islands = Vec::new();
    if cfg.has_role(Role::Store) {
        islands = open_islands(cfg, &dir).await?;
        servers.extend(start_lmtp(cfg, &dir, &islands, stopping.clone()).await?);
        let tls = tls_acceptor(cfg)?;
        servers.extend(start_imap(cfg, &dir, &islands, tls.clone(), stopping.clone()).await?);
        servers.extend(start_pop3(cfg, &dir, &islands, tls, stopping.clone()).await?);
        for island in &islands {
            tokio::spawn(housekeeping(island.clone(), cfg.store.clone()));
        }
    }
    let mut queue = None;
    // One resolver for the node: the MX's checks and the outbound path's
    // MX lookups share its cache.
    let mut dns = None;
    if cfg.has_role(Role::Mx) || cfg.has_role(Role::Submission) {
        let resolver = resolver(cfg)?;
        queue = Some(start_queue(cfg, &dir, &islands, resolver.clone())?);
        dns = Some(resolver);
    }
    if let (true, Some(q), Some(resolver)) = (cfg.has_role(Role::Mx), &queue, &dns) {
        let tls = tls_acceptor(cfg)?;
        servers.extend(start_mx(cfg, &dir, &islands, q.clone(), tls, resolver, stopping.clone()).await?);
    }
    if let (true, Some(q)) = (cfg.has_role(Role::Submission), &queue) {
        let tls = tls_acceptor(cfg)?;
        servers.extend(start_submission(cfg, &dir, &islands, q.clone(), tls, stopping.clone()).await?);
    }

    tokio::spawn(heartbeat(dir.clone(), cfg.node.name.clone(), cfg.node.heartbeat, shared.clone()));
    shutdown_signal().await;
    tracing::info!("shutting down");
    // Listeners stop accepting; sessions finish what they are storing.
    stop.fire();
    for server in servers {
        let _ = server.await;
    }
    // Deliveries under way finish; the rest waits in the spool.
    if let Some(q) = queue {
        q.stop().await;
    }
    for island in &islands {
        island.close().await;
    }
    dir.close().await;
    Ok(())
}

/// Opens every island this node serves (store role).
async fn open_islands(cfg: &Config, dir: &Directory) -> anyhow::Result<Vec<Island>> {
    let mut islands = Vec::new();
    for name in &cfg.node.islands {
        let island = open_island(dir, name, cfg.directory.max_connections).await?;
        tracing::info!(island = %name, "island opened");
        islands.push(island);
    }
    Ok(islands)
}

/// Starts the LMTP listeners; returns their tasks, which end after the
/// shutdown once their sessions are done.
async fn start_lmtp(
    cfg: &Config,
    dir: &Directory,
    islands: &[Island],
    stopping: Shutdown,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    if islands.is_empty() {
        tracing::warn!("store role without islands (node.islands is empty): LMTP is not started");
        return Ok(Vec::new());
    }
    let config = LmtpConfig {
        hostname: cfg.node.name.clone(),
        max_message_size: usize::try_from(cfg.lmtp.max_message_size).unwrap_or(usize::MAX),
        max_recipients: cfg.lmtp.max_recipients as usize,
        timeout: cfg.lmtp.timeout,
    };
    let lmtp = Lmtp::new(config, dir.clone(), islands.iter().cloned());
    tracing::info!(islands = %lmtp.islands().join(","), "lmtp serves");
    // LMTP has no TLS and no authentication: the addresses are loopback by
    // default and must be internal in a cluster.
    listen_all("lmtp", &cfg.listen.lmtp, |listener| {
        let (lmtp, stopping) = (lmtp.clone(), stopping.clone());
        async move { lmtp.serve(listener, stopping, SHUTDOWN_GRACE).await }
    })
    .await
}

/// Starts the node's queue: it delivers in-process into the islands this
/// node serves, over LMTP into the others, and over SMTP to other domains.
fn start_queue(
    cfg: &Config,
    dir: &Directory,
    islands: &[Island],
    resolver: atoll_dns::Resolver,
) -> anyhow::Result<Queue> {
    let spool = cfg.node.data_dir.join("spool");
    let queue_config = QueueConfig {
        node: cfg.node.name.clone(),
        hostname: cfg.node.name.clone(),
        workers: cfg.queue.workers as usize,
        retry_initial: cfg.queue.retry_initial,
        retry_max: cfg.queue.retry_max,
        give_up_after: cfg.queue.give_up_after,
        delay_warning: (!cfg.queue.delay_warning.is_zero()).then_some(cfg.queue.delay_warning),
        ..QueueConfig::default()
    };
    // Mail for islands served elsewhere goes to their store nodes; a node
    // that missed three heartbeats is taken as down.
    let handover = atoll_smtp::queue::Handover::new(
        dir.clone(),
        atoll_smtp::client::ClientConfig::new(cfg.node.name.clone()),
        cfg.node.heartbeat.saturating_mul(3).max(Duration::from_secs(10)),
    );
    let router = atoll_smtp::Router::new(dir.clone(), islands.iter().cloned()).with_handover(handover);
    Queue::start(&spool, queue_config, router, Some(outbound(cfg, resolver)))
        .with_context(|| format!("cannot open the queue in {}", spool.display()))
}

/// Starts the MX listeners (`listen.smtp`) in front of the queue.
async fn start_mx(
    cfg: &Config,
    dir: &Directory,
    islands: &[Island],
    queue: Queue,
    tls: TlsAcceptor,
    resolver: &atoll_dns::Resolver,
    stopping: Shutdown,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let config = MxConfig {
        hostname: cfg.node.name.clone(),
        max_message_size: usize::try_from(cfg.mx.max_message_size).unwrap_or(usize::MAX),
        max_recipients: cfg.mx.max_recipients as usize,
        timeout: cfg.mx.timeout,
        max_connections_per_ip: cfg.mx.max_connections_per_ip as usize,
    };
    let greylist = greylist(cfg, dir)?;
    if let Some(g) = &greylist {
        tokio::spawn(greylist_cleanup(g.clone()));
    }
    let mut mx =
        Mx::new(config, dir.clone(), islands.iter().cloned(), queue.clone(), Some(tls), filters(cfg)?, greylist);
    if let Some(auth) = authentication(cfg, resolver) {
        mx = mx.with_authentication(auth);
    }
    listen_all("smtp", &cfg.listen.smtp, |listener| {
        let (mx, stopping) = (mx.clone(), stopping.clone());
        async move { mx.serve(listener, stopping, SHUTDOWN_GRACE).await }
    })
    .await
}

/// Starts submission (`listen.submission` with STARTTLS,
/// `listen.submissions` with implicit TLS) in front of the queue.
async fn start_submission(
    cfg: &Config,
    dir: &Directory,
    islands: &[Island],
    queue: Queue,
    tls: TlsAcceptor,
    stopping: Shutdown,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let s = &cfg.submission;
    let config = SubmissionConfig {
        hostname: cfg.node.name.clone(),
        max_message_size: usize::try_from(s.max_message_size).unwrap_or(usize::MAX),
        max_recipients: s.max_recipients as usize,
        timeout: s.timeout,
        rate_limit: s.rate_limit,
        allow_plaintext_auth: s.allow_plaintext_auth,
        auth_failure_delay: s.auth_failure_delay,
        save_sent: s.save_sent,
        ..SubmissionConfig::default()
    };
    // DKIM with the directory's keys (`atoll domain dkim generate`).
    let signer: std::sync::Arc<dyn atoll_smtp::submission::Signer> =
        std::sync::Arc::new(atoll_smtp::dkim::DirectorySigner::new(dir.clone()));
    let submission = Submission::new(config, dir.clone(), islands.iter().cloned(), queue, Some(tls), Some(signer));
    listen_plain_and_tls(
        ("submission", &cfg.listen.submission),
        ("submissions", &cfg.listen.submissions),
        |listener, implicit| {
            let (submission, stopping) = (submission.clone(), stopping.clone());
            async move { submission.serve(listener, stopping, SHUTDOWN_GRACE, implicit).await }
        },
    )
    .await
}

/// Binds every address of `service` and runs `serve` on each listener in
/// its own task. An address that cannot be bound is logged and skipped
/// (IPv6 may be off on a host; one working address is enough); none at all
/// out of a non-empty list is an error.
async fn listen_all<F, Fut>(
    service: &str,
    addrs: &[String],
    serve: F,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>>
where
    F: Fn(TcpListener) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut tasks = Vec::new();
    for addr in addrs {
        match TcpListener::bind(addr).await {
            Ok(listener) => {
                tracing::info!(%addr, "{service} listening");
                tasks.push(tokio::spawn(serve(listener)));
            }
            Err(e) => tracing::warn!(%addr, service, error = %e, "cannot listen"),
        }
    }
    if tasks.is_empty() && !addrs.is_empty() {
        anyhow::bail!("could not listen on any {service} address ({})", addrs.join(", "));
    }
    Ok(tasks)
}

/// [`listen_all`] for a service with a cleartext port (STARTTLS) and an
/// implicit-TLS port (RFC 8314); `serve` is told which one a listener is.
async fn listen_plain_and_tls<F, Fut>(
    plain: (&str, &[String]),
    tls: (&str, &[String]),
    serve: F,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>>
where
    F: Fn(TcpListener, bool) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let mut tasks = listen_all(plain.0, plain.1, |l| serve(l, false)).await?;
    tasks.extend(listen_all(tls.0, tls.1, |l| serve(l, true)).await?);
    Ok(tasks)
}

/// A listening address as other nodes can reach it: a wildcard IP is
/// replaced by `[node] advertise` when set.
fn advertised(listen: &str, advertise: &str) -> String {
    match listen.parse::<std::net::SocketAddr>() {
        Ok(a) if a.ip().is_unspecified() && !advertise.is_empty() => match advertise.parse::<std::net::IpAddr>() {
            Ok(ip) => std::net::SocketAddr::new(ip, a.port()).to_string(),
            Err(_) => listen.to_string(),
        },
        _ => listen.to_string(),
    }
}

/// The outbound path from `[outbound]`.
fn outbound(cfg: &Config, resolver: atoll_dns::Resolver) -> atoll_smtp::queue::Outbound {
    let o = &cfg.outbound;
    let mut config = atoll_smtp::queue::OutboundConfig::new(cfg.node.name.clone());
    config.relay = (!o.relay.is_empty()).then(|| o.relay.clone());
    config.port = o.port;
    config.per_destination = o.per_destination as usize;
    config.max_connections = o.max_connections as usize;
    config.client.connect_timeout = o.connect_timeout;
    config.client.command_timeout = o.command_timeout;
    config.client.data_timeout = o.command_timeout.saturating_mul(2);
    config.resolver = Some(resolver);
    atoll_smtp::queue::Outbound::new(config)
}

/// The node's DNS resolver from `[dns]`: every DNS user of the node
/// shares this one (servers, options, cache).
fn resolver(cfg: &Config) -> anyhow::Result<atoll_dns::Resolver> {
    let nameservers = cfg.dns.nameserver_addrs().map_err(|e| anyhow::anyhow!("dns.nameservers: {e}"))?;
    let config = atoll_dns::DnsConfig { nameservers, timeout: cfg.dns.timeout };
    atoll_dns::Resolver::new(&config).context("dns")
}

/// The MX's reverse DNS, SPF, DKIM and DMARC from `[mx.authentication]`;
/// None when every check is off.
fn authentication(cfg: &Config, resolver: &atoll_dns::Resolver) -> Option<atoll_smtp::mx::Authentication> {
    use atoll_smtp::mx::{Authentication, AuthenticationConfig, DmarcAction};
    let a = &cfg.mx.authentication;
    if !(a.iprev || a.spf || a.dkim || a.dmarc) {
        return None;
    }
    let action = |s: &str| match s {
        "reject" => DmarcAction::Reject,
        "junk" => DmarcAction::Junk,
        _ => DmarcAction::Record,
    };
    let config = AuthenticationConfig {
        iprev: a.iprev,
        spf: a.spf,
        dkim: a.dkim,
        dmarc: a.dmarc,
        dmarc_reject: action(&a.dmarc_reject),
        dmarc_quarantine: action(&a.dmarc_quarantine),
    };
    tracing::info!(iprev = a.iprev, spf = a.spf, dkim = a.dkim, dmarc = a.dmarc, "mail authentication on");
    Some(Authentication::new(config, resolver.clone()))
}

/// Greylisting from `[greylist]`, when enabled.
fn greylist(cfg: &Config, dir: &Directory) -> anyhow::Result<Option<atoll_smtp::greylist::Greylist>> {
    use atoll_smtp::greylist::{Greylist, GreylistConfig};
    let g = &cfg.greylist;
    if !g.enabled {
        return Ok(None);
    }
    let config = GreylistConfig {
        enabled: true,
        delay: g.delay,
        max_age: g.max_age,
        retry_window: g.retry_window,
        auto_whitelist_clients: g.auto_whitelist_clients,
        ipv4_prefix: g.ipv4_prefix,
        ipv6_prefix: g.ipv6_prefix,
        message: g.message.clone(),
        whitelist_clients: g.whitelist_clients.clone(),
        whitelist_recipients: g.whitelist_recipients.clone(),
    };
    let greylist = Greylist::new(config, dir.clone()).context("greylist")?;
    tracing::info!(delay = ?g.delay, "greylisting on");
    Ok(Some(greylist))
}

/// Forgets old greylisting state every few hours (any MX node may do it;
/// the deletes are idempotent).
async fn greylist_cleanup(greylist: atoll_smtp::greylist::Greylist) {
    let mut tick = tokio::time::interval(Duration::from_secs(4 * 3600));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match greylist.cleanup(atoll_smtp::trace::now_epoch()).await {
            Ok(r) => tracing::info!(triplets = r.triplets, clients = r.clients, "greylisting state cleaned up"),
            Err(e) => tracing::warn!(error = %e, "greylisting cleanup failed"),
        }
    }
}

/// The MX's content filters from `[filters]` (validated at load: only the
/// endpoint's syntax can still be wrong here).
fn filters(cfg: &Config) -> anyhow::Result<atoll_smtp::filter::Filters> {
    use atoll_smtp::filter::{Endpoint, Filters, OnFailure, Policy, Scanner, SpamAction, VirusAction};
    let mut scanners = Vec::new();
    for (i, s) in cfg.filters.scanner.iter().enumerate() {
        let endpoint: Endpoint = s.address.parse().map_err(|e| anyhow::anyhow!("filters.scanner[{i}].address: {e}"))?;
        let mut scanner = match s.kind.as_str() {
            "spamd" => Scanner::spamd(endpoint),
            "clamd" => Scanner::clamd(endpoint),
            _ => Scanner::rspamd(endpoint),
        };
        let c = scanner.config_mut();
        c.timeout = s.timeout;
        if s.max_size > 0 {
            c.max_size = usize::try_from(s.max_size).unwrap_or(usize::MAX);
        }
        c.on_failure = if s.on_failure == "accept" { OnFailure::Accept } else { OnFailure::Tempfail };
        tracing::info!(scanner = scanner.name(), address = %s.address, "content filter");
        scanners.push(scanner);
    }
    let spam = match cfg.filters.spam.as_str() {
        "reject" => SpamAction::Reject,
        "junk" => SpamAction::Junk,
        _ => SpamAction::Tag,
    };
    let virus = if cfg.filters.virus == "reject-550" { VirusAction::Reject550 } else { VirusAction::Reject554 };
    Ok(Filters { scanners, policy: Policy { spam, virus } })
}

/// The certificate every TLS listener presents: the configured one, or a
/// self-signed one kept under `<data_dir>/tls`.
fn tls_acceptor(cfg: &Config) -> anyhow::Result<TlsAcceptor> {
    let dir = cfg.node.data_dir.join("tls");
    atoll_net::tls::load_or_generate(cfg.tls.certificate.as_deref(), cfg.tls.key.as_deref(), &dir, &cfg.node.name)
        .context("tls")
}

/// Starts the IMAP listeners: STARTTLS on `listen.imap`, implicit TLS on
/// `listen.imaps`.
async fn start_imap(
    cfg: &Config,
    dir: &Directory,
    islands: &[Island],
    tls: TlsAcceptor,
    stopping: Shutdown,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    if islands.is_empty() {
        tracing::warn!("store role without islands (node.islands is empty): IMAP is not started");
        return Ok(Vec::new());
    }
    let config = ImapConfig {
        hostname: cfg.node.name.clone(),
        max_line_length: usize::try_from(cfg.imap.max_line_length).unwrap_or(usize::MAX),
        max_message_size: usize::try_from(cfg.imap.max_message_size).unwrap_or(usize::MAX),
        idle_timeout: cfg.imap.idle_timeout,
        allow_plaintext_auth: cfg.imap.allow_plaintext_auth,
        auth_failure_delay: cfg.imap.auth_failure_delay,
        ..ImapConfig::default()
    };
    let imap = Imap::new(config, dir.clone(), islands.iter().cloned(), Some(tls));
    listen_plain_and_tls(("imap", &cfg.listen.imap), ("imaps", &cfg.listen.imaps), |listener, implicit_tls| {
        let (imap, stopping) = (imap.clone(), stopping.clone());
        async move { imap.serve(listener, implicit_tls, stopping, SHUTDOWN_GRACE).await }
    })
    .await
}

/// Starts the POP3 listeners: STLS on `listen.pop3`, implicit TLS on
/// `listen.pop3s`.
async fn start_pop3(
    cfg: &Config,
    dir: &Directory,
    islands: &[Island],
    tls: TlsAcceptor,
    stopping: Shutdown,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    if islands.is_empty() {
        return Ok(Vec::new());
    }
    let config = Pop3Config {
        hostname: cfg.node.name.clone(),
        max_line_length: usize::try_from(cfg.pop3.max_line_length).unwrap_or(usize::MAX),
        idle_timeout: cfg.pop3.idle_timeout,
        allow_plaintext_auth: cfg.pop3.allow_plaintext_auth,
        auth_failure_delay: cfg.pop3.auth_failure_delay,
        mark_seen: cfg.pop3.mark_seen,
        ..Pop3Config::default()
    };
    let pop3 = Pop3::new(config, dir.clone(), islands.iter().cloned(), Some(tls));
    listen_plain_and_tls(("pop3", &cfg.listen.pop3), ("pop3s", &cfg.listen.pop3s), |listener, implicit_tls| {
        let (pop3, stopping) = (pop3.clone(), stopping.clone());
        async move { pop3.serve(listener, implicit_tls, stopping, SHUTDOWN_GRACE).await }
    })
    .await
}

/// An island's periodic cleaning: bodies no message uses any more, and
/// temporary files a crash left behind.
async fn housekeeping(island: Island, cfg: atoll_config::Store) {
    let mut tick = tokio::time::interval(cfg.gc_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Err(e) = island.collect_garbage(cfg.gc_grace).await {
            tracing::warn!(island = %island.name(), error = %e, "garbage collection failed");
        }
        // A write is renamed into place within milliseconds; a day-old
        // temporary file is a crash's leftover.
        if let Err(e) = island.blobs().clean_tmp(Duration::from_secs(86_400)).await {
            tracing::warn!(island = %island.name(), error = %e, "cleaning temporary blobs failed");
        }
    }
}

async fn heartbeat(dir: Directory, node: String, every: Duration, shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match dir.heartbeat(&node).await {
            Ok(()) => {
                shared.heartbeats.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                shared.heartbeat_failures.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %e, "heartbeat failed");
            }
        }
    }
}

async fn health(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    axum::Json(serde_json::json!({
        "status": "ok",
        "node": s.node,
        "roles": s.roles,
        "islands": s.islands,
        "directory": s.directory,
        "version": env!("CARGO_PKG_VERSION"),
    }))
}

/// Prometheus text exposition format.
async fn metrics(State(s): State<Arc<Shared>>) -> impl IntoResponse {
    let body = format!(
        "# HELP atoll_start_time_seconds When this node started (Unix time).\n\
         # TYPE atoll_start_time_seconds gauge\n\
         atoll_start_time_seconds{{node=\"{n}\"}} {}\n\
         # HELP atoll_heartbeats_total Heartbeats written to the directory.\n\
         # TYPE atoll_heartbeats_total counter\n\
         atoll_heartbeats_total{{node=\"{n}\"}} {}\n\
         # HELP atoll_heartbeat_failures_total Heartbeats the directory did not take.\n\
         # TYPE atoll_heartbeat_failures_total counter\n\
         atoll_heartbeat_failures_total{{node=\"{n}\"}} {}\n",
        s.started,
        s.heartbeats.load(Ordering::Relaxed),
        s.heartbeat_failures.load(Ordering::Relaxed),
        n = s.node,
    );
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

fn init_logging(ctx: &Context) -> anyhow::Result<()> {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_env("ATOLL_LOG")
        .or_else(|_| EnvFilter::try_new(&ctx.config.log.level))
        .context("log.level")?;
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let result = match ctx.config.log.format {
        atoll_config::LogFormat::Json => builder.json().try_init(),
        atoll_config::LogFormat::Text => builder.try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}
