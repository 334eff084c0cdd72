use crate::context::Context;
use crate::output::{print, time};

#[derive(clap::Args)]
pub struct Args {
    /// Only changes of this object (an address, domain, island…)
    #[arg(long)]
    object: Option<String>,
    /// How many entries, newest first
    #[arg(long, default_value_t = 50)]
    limit: i64,
}

pub async fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let dir = ctx.directory().await?;
    let rows = dir.audit_log(args.object.as_deref(), args.limit).await?;
    print(ctx, &rows, &["time", "actor", "action", "object", "detail"], |e| {
        vec![time(e.at), e.actor.clone(), e.action.clone(), e.object.clone(), e.detail.clone()]
    })
}
