use std::path::PathBuf;

use anyhow::bail;
use clap::Subcommand;

use super::password_input;
use crate::context::Context;
use crate::output::done;

#[derive(Subcommand)]
pub enum Cmd {
    /// Check an address and password as a login would (and upgrade an old hash)
    Test {
        address: String,
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
}

pub async fn run(ctx: &Context, cmd: Cmd) -> anyhow::Result<()> {
    let dir = ctx.directory().await?;
    match cmd {
        Cmd::Test { address, password_file } => {
            let pw = password_input::read(password_file.as_deref())?;
            match dir.authenticate(&address, &pw).await? {
                Some(ok) => {
                    let extra = if ok.rehashed { " (password hash upgraded to argon2id)" } else { "" };
                    done(ctx, &format!("login ok: {}{extra}", ok.account.address));
                }
                None => bail!("login failed for {address}"),
            }
        }
    }
    Ok(())
}
