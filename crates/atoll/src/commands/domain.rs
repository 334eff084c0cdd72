use atoll_smtp::dkim;
use clap::Subcommand;
use serde::Serialize;

use crate::context::Context;
use crate::output::{done, print, print_one, time};

#[derive(Subcommand)]
pub enum Cmd {
    /// Add a domain to receive mail for
    Add { domain: String },
    /// List domains with their numbers of accounts, aliases and lists
    List,
    /// Remove a domain that has no accounts, aliases or lists left
    Remove { domain: String },
    /// DKIM signing keys of a domain: make one, list them, remove one
    #[command(subcommand)]
    Dkim(DkimCmd),
}

#[derive(Subcommand)]
pub enum DkimCmd {
    /// Make a signing key for DOMAIN and print the DNS record to publish;
    /// mail submitted from DOMAIN is signed with it from then on
    Generate {
        domain: String,
        /// The selector: the record goes at <selector>._domainkey.<domain>
        #[arg(long, default_value = "atoll")]
        selector: String,
        /// rsa (2048 bits, what every verifier knows) or ed25519 (RFC 8463)
        #[arg(long, default_value = "rsa")]
        algorithm: String,
    },
    /// List the keys with the records to publish
    List { domain: Option<String> },
    /// Remove a key; the domain's next newest key signs, if any
    Remove { domain: String, selector: String },
}

pub async fn run(ctx: &Context, cmd: Cmd) -> anyhow::Result<()> {
    let dir = ctx.directory().await?;
    match cmd {
        Cmd::Add { domain } => {
            dir.add_domain(&domain).await?;
            done(ctx, &format!("domain {} added", domain.to_lowercase()));
        }
        Cmd::List => {
            let rows = dir.list_domains().await?;
            print(ctx, &rows, &["domain", "accounts", "aliases", "lists", "created"], |d| {
                vec![
                    d.name.clone(),
                    d.accounts.to_string(),
                    d.aliases.to_string(),
                    d.lists.to_string(),
                    time(d.created_at),
                ]
            })?;
        }
        Cmd::Remove { domain } => {
            dir.remove_domain(&domain).await?;
            done(ctx, &format!("domain {} removed", domain.to_lowercase()));
        }
        Cmd::Dkim(cmd) => dkim(ctx, &dir, cmd).await?,
    }
    Ok(())
}

/// A key's DNS record, as a zone file line with the value cut into
/// strings of at most 255 octets (RFC 1035 §3.3.14).
#[derive(Serialize)]
struct Record {
    domain: String,
    selector: String,
    algorithm: String,
    name: String,
    value: String,
    zone_line: String,
}

fn record(domain: &str, selector: &str, algorithm: &str, value: String) -> Record {
    let name = format!("{selector}._domainkey.{domain}");
    let strings: Vec<String> = dkim::txt_strings(&value).into_iter().map(|s| format!("\"{s}\"")).collect();
    let zone_line = format!("{name}. IN TXT ( {} )", strings.join(" "));
    Record {
        domain: domain.to_string(),
        selector: selector.to_string(),
        algorithm: algorithm.to_string(),
        name,
        value,
        zone_line,
    }
}

async fn dkim(ctx: &Context, dir: &atoll_directory::Directory, cmd: DkimCmd) -> anyhow::Result<()> {
    match cmd {
        DkimCmd::Generate { domain, selector, algorithm } => {
            let algorithm = match algorithm.to_ascii_lowercase().as_str() {
                "rsa" | "rsa-sha256" => dkim::Algorithm::Rsa2048,
                "ed25519" | "ed25519-sha256" => dkim::Algorithm::Ed25519,
                other => anyhow::bail!("unknown DKIM algorithm {other:?}: expected rsa or ed25519"),
            };
            let key = dkim::generate(algorithm)?;
            dir.add_dkim_key(&domain, &selector, algorithm.name(), &key.private_key).await?;
            let domain = domain.to_lowercase();
            let r = record(&domain, &selector.to_lowercase(), algorithm.name(), key.record);
            print_one(
                ctx,
                &r,
                &[
                    ("publish", r.zone_line.clone()),
                    ("then", format!("mail from {domain} is signed with selector {}", r.selector)),
                ],
            )?;
        }
        DkimCmd::List { domain } => {
            let keys = dir.dkim_keys(domain.as_deref()).await?;
            let rows: Vec<(Record, i64)> = keys
                .iter()
                .map(|k| {
                    let public =
                        dkim::public_record(&k.algorithm, &k.private_key).unwrap_or_else(|e| format!("unusable: {e}"));
                    (record(&k.domain, &k.selector, &k.algorithm, public), k.created_at)
                })
                .collect();
            let records: Vec<&Record> = rows.iter().map(|(r, _)| r).collect();
            if ctx.json {
                println!("{}", serde_json::to_string_pretty(&records)?);
            } else {
                print(ctx, &rows, &["domain", "selector", "algorithm", "created", "record"], |(r, at)| {
                    vec![r.domain.clone(), r.selector.clone(), r.algorithm.clone(), time(*at), r.zone_line.clone()]
                })?;
            }
        }
        DkimCmd::Remove { domain, selector } => {
            dir.remove_dkim_key(&domain, &selector).await?;
            done(ctx, &format!("DKIM selector {selector} of {} removed", domain.to_lowercase()));
        }
    }
    Ok(())
}
