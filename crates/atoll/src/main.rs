//! `atoll`: the one binary. `atoll serve` runs the configured roles; every
//! other command administers the directory, with or without a server running.

mod commands;
mod context;
mod islands;
mod output;
mod units;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::commands::*;

#[derive(Parser)]
#[command(name = "atoll", version, about = "atoll mail platform", propagate_version = true)]
pub struct Cli {
    /// Configuration file [default: ./atoll.toml when it exists, else built-in defaults]
    #[arg(long, global = true, value_name = "FILE", env = "ATOLL_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory of the embedded default [default: ./atoll-data]
    #[arg(long, global = true, value_name = "DIR", env = "ATOLL_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Print machine-readable JSON instead of tables
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the node: all roles the configuration gives it
    Serve(serve::Args),
    /// Bring the directory's schema up to date
    Migrate,
    /// Check a configuration file
    #[command(subcommand)]
    Config(config::Cmd),
    /// Domains the platform receives mail for
    #[command(subcommand)]
    Domain(domain::Cmd),
    /// Accounts (mailbox owners)
    #[command(subcommand)]
    User(user::Cmd),
    /// Aliases, including catch-alls (@domain)
    #[command(subcommand)]
    Alias(alias::Cmd),
    /// Forwards of accounts' mail to other addresses
    #[command(subcommand)]
    Forward(forward::Cmd),
    /// Mailing lists: members, moderators and held posts
    #[command(subcommand)]
    List(list::Cmd),
    /// Islands: partitions of mail storage
    #[command(subcommand)]
    Island(island::Cmd),
    /// Nodes registered in the directory
    #[command(subcommand)]
    Cluster(cluster::Cmd),
    /// Look into an account's mailboxes on its island
    #[command(subcommand)]
    Mailbox(mailbox::Cmd),
    /// The MX's queue: messages accepted and not delivered yet
    #[command(subcommand)]
    Queue(queue::Cmd),
    /// Show what the platform does with mail for an address
    Resolve(resolve::Args),
    /// Test a login (like doveadm auth test)
    #[command(subcommand)]
    Auth(auth::Cmd),
    /// Show the audit log of directory changes
    Audit(audit::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Database answers arrive from the database driver's own threads,
        // so the tasks they wake wait in the runtime's global queue, which
        // a busy worker looks at only every `global_queue_interval` polls
        // (31 by default). A write transaction is several such round trips
        // while every other writer waits for it: look there more often.
        .global_queue_interval(4)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("atoll: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line per problem, on stderr; nothing was changed. A
            // configuration error is already one `file: key: reason` line per
            // problem: a prefix on the first line only would break that form.
            match e.downcast_ref::<atoll_config::ConfigError>() {
                Some(config) => eprintln!("{config}"),
                None => eprintln!("atoll: {e:#}"),
            }
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = context::Context::new(cli.config.as_deref(), cli.data_dir.as_deref(), cli.json)?;
    match cli.command {
        Command::Serve(args) => serve::run(&ctx, args).await,
        Command::Migrate => migrate::run(&ctx).await,
        Command::Config(cmd) => config::run(&ctx, cmd),
        Command::Domain(cmd) => domain::run(&ctx, cmd).await,
        Command::User(cmd) => user::run(&ctx, cmd).await,
        Command::Alias(cmd) => alias::run(&ctx, cmd).await,
        Command::Forward(cmd) => forward::run(&ctx, cmd).await,
        Command::List(cmd) => list::run(&ctx, cmd).await,
        Command::Island(cmd) => island::run(&ctx, cmd).await,
        Command::Cluster(cmd) => cluster::run(&ctx, cmd).await,
        Command::Mailbox(cmd) => mailbox::run(&ctx, cmd).await,
        Command::Queue(cmd) => queue::run(&ctx, cmd).await,
        Command::Resolve(args) => resolve::run(&ctx, args).await,
        Command::Auth(cmd) => auth::run(&ctx, cmd).await,
        Command::Audit(args) => audit::run(&ctx, args).await,
    }
}
