use std::path::PathBuf;

use atoll_directory::{Account, NewAccount, PasswordInput, state};
use clap::Subcommand;

use super::password_input;
use crate::context::Context;
use crate::output::{done, print, print_one, time};
use crate::units::{parse_size, show_size};

#[derive(Subcommand)]
pub enum Cmd {
    /// Add an account; the password comes from --password-file, standard input or a prompt
    Add {
        address: String,
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
        /// Create the account without a password (it cannot log in until one is set)
        #[arg(long, conflicts_with = "password_file")]
        no_password: bool,
        /// Island to place it on [default: the open island with the fewest accounts]
        #[arg(long)]
        island: Option<String>,
        /// Group of accounts that share folders (kept on one island)
        #[arg(long)]
        group: Option<String>,
        /// Quota such as 2G or 500M [default: unlimited]
        #[arg(long, default_value = "unlimited")]
        quota: String,
        #[arg(long, default_value = "")]
        name: String,
    },
    /// List accounts, of one domain or all
    List { domain: Option<String> },
    /// Show one account with its forwards
    Show { address: String },
    /// Set an account's password
    Passwd {
        address: String,
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
    /// Refuse mail and logins for an account, keeping its data
    Suspend { address: String },
    /// Undo suspend
    Resume { address: String },
    /// Remove an account with its forwards and preferences
    Remove { address: String },
    /// Set an account's quota (e.g. 2G, 500M, unlimited)
    Quota { address: String, size: String },
    /// Import accounts from a CSV file with a header row
    Import(super::user_import::Args),
    /// An account's preferences (such as send_as, the addresses it may
    /// submit mail as besides its own)
    #[command(subcommand)]
    Pref(PrefCmd),
}

#[derive(Subcommand)]
pub enum PrefCmd {
    /// Set a preference
    Set { address: String, name: String, value: String },
    /// Show an account's preferences
    Show { address: String },
}

fn row(a: &Account) -> Vec<String> {
    vec![a.address.clone(), a.state.clone(), a.island.clone(), show_size(a.quota_bytes), a.display_name.clone()]
}

pub async fn run(ctx: &Context, cmd: Cmd) -> anyhow::Result<()> {
    let dir = ctx.directory().await?;
    match cmd {
        Cmd::Add { address, password_file, no_password, island, group, quota, name } => {
            let quota_bytes = parse_size(&quota)?;
            let password = if no_password {
                PasswordInput::None
            } else {
                PasswordInput::Plain(password_input::read(password_file.as_deref())?)
            };
            let new = NewAccount { address, password, island, group, quota_bytes, display_name: name };
            let a = dir.add_account(&new).await?;
            done(ctx, &format!("account {} added on island {}", a.address, a.island));
        }
        Cmd::List { domain } => {
            let rows = dir.list_accounts(domain.as_deref()).await?;
            print(ctx, &rows, &["address", "state", "island", "quota", "name"], row)?;
        }
        Cmd::Show { address } => {
            let a = dir.account(&address).await?;
            let forwards = dir.list_forwards(Some(&a.address)).await?;
            let fw: Vec<String> = forwards
                .iter()
                .map(|f| format!("{}{}", f.target, if f.keep_copy { " (keep copy)" } else { "" }))
                .collect();
            let value = serde_json::json!({ "account": a, "forwards": forwards });
            print_one(
                ctx,
                &value,
                &[
                    ("address", a.address.clone()),
                    ("state", a.state.clone()),
                    ("island", a.island.clone()),
                    ("group", a.group.clone().unwrap_or_else(|| "-".into())),
                    ("quota", show_size(a.quota_bytes)),
                    ("name", a.display_name.clone()),
                    ("password", a.password_scheme.clone()),
                    ("forwards", if fw.is_empty() { "-".into() } else { fw.join(", ") }),
                    ("created", time(a.created_at)),
                    ("updated", time(a.updated_at)),
                ],
            )?;
        }
        Cmd::Passwd { address, password_file } => {
            let pw = password_input::read(password_file.as_deref())?;
            dir.set_password(&address, &PasswordInput::Plain(pw)).await?;
            done(ctx, &format!("password of {} changed", address.to_lowercase()));
        }
        Cmd::Suspend { address } => {
            dir.set_state(&address, state::SUSPENDED).await?;
            done(ctx, &format!("account {} suspended", address.to_lowercase()));
        }
        Cmd::Resume { address } => {
            dir.set_state(&address, state::ACTIVE).await?;
            done(ctx, &format!("account {} resumed", address.to_lowercase()));
        }
        Cmd::Remove { address } => {
            dir.remove_account(&address).await?;
            done(ctx, &format!("account {} removed", address.to_lowercase()));
        }
        Cmd::Quota { address, size } => {
            let bytes = parse_size(&size)?;
            dir.set_quota(&address, bytes).await?;
            done(ctx, &format!("quota of {} set to {}", address.to_lowercase(), show_size(bytes)));
        }
        Cmd::Import(args) => super::user_import::run(ctx, &dir, args).await?,
        Cmd::Pref(PrefCmd::Set { address, name, value }) => {
            dir.set_preference(&address, &name, &value).await?;
            done(ctx, &format!("preference {name} of {} set", address.to_lowercase()));
        }
        Cmd::Pref(PrefCmd::Show { address }) => {
            let prefs = dir.preferences(&address).await?;
            #[derive(serde::Serialize)]
            struct Pref {
                name: String,
                value: String,
            }
            let rows: Vec<Pref> = prefs.into_iter().map(|(name, value)| Pref { name, value }).collect();
            print(ctx, &rows, &["name", "value"], |p| vec![p.name.clone(), p.value.clone()])?;
        }
    }
    Ok(())
}
