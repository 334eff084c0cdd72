use std::path::PathBuf;

use clap::Subcommand;

use crate::context::Context;

#[derive(Subcommand)]
pub enum Cmd {
    /// Validate a configuration file; every problem is printed as file: key: reason
    Check { file: PathBuf },
    /// Print the configuration in effect, with every default filled in
    Show,
}

pub fn run(ctx: &Context, cmd: Cmd) -> anyhow::Result<()> {
    match cmd {
        Cmd::Check { file } => {
            atoll_config::load(&file)?;
            println!("{}: ok", file.display());
        }
        Cmd::Show => {
            println!("# from {}", ctx.config_source);
            print!("{}", toml::to_string(&ctx.config)?);
        }
    }
    Ok(())
}
