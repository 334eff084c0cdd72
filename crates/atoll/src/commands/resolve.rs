use atoll_directory::{Destination, Resolution};

use crate::context::Context;

#[derive(clap::Args)]
pub struct Args {
    address: String,
}

/// Prints what the MX would do with mail for the address. Exits non-zero
/// when the mail would be refused, so scripts can test addresses.
pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let dir = ctx.directory().await?;
    let r = dir.resolve_uncached(&args.address).await?;
    if ctx.json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        match &r {
            Resolution::Deliver { destinations } => {
                for d in destinations {
                    match d {
                        Destination::Mailbox { address, island, detail, .. } => match detail {
                            Some(det) => println!("deliver  {address} (detail {det:?}) on island {island}"),
                            None => println!("deliver  {address} on island {island}"),
                        },
                        Destination::External { address } => println!("forward  {address}"),
                        Destination::List { address, policy, .. } => println!("list     {address} (posting: {policy})"),
                    }
                }
            }
            Resolution::Unknown => println!("unknown: no such recipient (550 5.1.1)"),
            Resolution::NotLocal => println!("not local: not one of our domains"),
            Resolution::Suspended { address } => println!("suspended: {address} (550 5.2.1)"),
            Resolution::Loop { chain } => println!("loop: {chain} (554 5.4.6)"),
            Resolution::Undeliverable { reason } => println!("undeliverable: {reason}"),
        }
    }
    match r {
        Resolution::Deliver { .. } => Ok(()),
        _ => Err(anyhow::anyhow!("{} is not deliverable", args.address)),
    }
}
