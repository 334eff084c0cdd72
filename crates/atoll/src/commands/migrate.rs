use crate::context::Context;
use crate::output::done;

pub async fn run(ctx: &Context) -> anyhow::Result<()> {
    let dir = ctx.directory().await?;
    done(ctx, &format!("directory schema is up to date ({})", dir.dialect().name()));
    Ok(())
}
