//! Where a password comes from: a file, standard input when it is not a
//! terminal, or a prompt; never the command line, where `ps` shows it.

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::{Context as _, bail};

pub fn read(password_file: Option<&Path>) -> anyhow::Result<String> {
    let text = match password_file {
        Some(p) if p.as_os_str() == "-" => read_stdin()?,
        Some(p) => std::fs::read_to_string(p).with_context(|| format!("cannot read password file {}", p.display()))?,
        None if !std::io::stdin().is_terminal() => read_stdin()?,
        None => {
            let a = rpassword::prompt_password("New password: ")?;
            let b = rpassword::prompt_password("Again: ")?;
            if a != b {
                bail!("the passwords do not match");
            }
            a
        }
    };
    // The first line is the password; a trailing newline is not part of it.
    let pw = text.lines().next().unwrap_or("").to_string();
    if pw.is_empty() {
        bail!("empty password");
    }
    Ok(pw)
}

fn read_stdin() -> anyhow::Result<String> {
    let mut s = String::new();
    std::io::stdin().read_to_string(&mut s).context("cannot read the password from standard input")?;
    Ok(s)
}
