//! What every command needs: the configuration and a directory handle.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use atoll_config::Config;
use atoll_directory::{Directory, Settings};

pub struct Context {
    pub config: Config,
    /// Where the configuration came from, for messages.
    pub config_source: String,
    pub json: bool,
}

impl Context {
    pub fn new(config: Option<&Path>, data_dir: Option<&Path>, json: bool) -> anyhow::Result<Context> {
        let (mut cfg, source) = match config {
            Some(path) => (atoll_config::load(path)?, path.display().to_string()),
            None => {
                let default = PathBuf::from("atoll.toml");
                if default.exists() {
                    (atoll_config::load(&default)?, "atoll.toml".to_string())
                } else {
                    (Config::default(), "built-in defaults".to_string())
                }
            }
        };
        if let Some(dir) = data_dir {
            cfg.node.data_dir = dir.to_path_buf();
        }
        Ok(Context { config: cfg, config_source: source, json })
    }

    pub fn settings(&self) -> Settings {
        let c = &self.config;
        Settings {
            max_connections: c.directory.max_connections,
            cache_ttl: c.directory.cache_ttl,
            cache_capacity: c.directory.cache_capacity,
            subaddress_separators: c.addressing.subaddress_separators.clone(),
            max_alias_depth: c.addressing.max_alias_depth,
            allow_plain_passwords: c.passwords.allow_plain,
            rehash_on_login: c.passwords.rehash_on_login,
        }
    }

    /// Opens the directory (migrating it) and makes sure the islands this
    /// node is configured for exist, so the embedded default needs no set-up.
    pub async fn directory(&self) -> anyhow::Result<Directory> {
        let url = self.config.directory_url();
        let dir = Directory::open(&url, self.settings())
            .await
            .with_context(|| format!("cannot open the directory at {}", atoll_directory::redact(&url)))?;
        for island in &self.config.node.islands {
            let store = self.config.node.data_dir.join("islands").join(island);
            dir.ensure_island(island, &store.display().to_string()).await?;
        }
        Ok(dir.as_actor(&actor()))
    }
}

/// Who runs the command, for the audit log.
fn actor() -> String {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .or_else(|_| std::env::var("LOGNAME"))
        .ok()
        .or_else(user_from_uid)
        .unwrap_or_else(|| "unknown".into());
    format!("cli:{user}")
}

/// The login name of this process's user, from /etc/passwd, for when the
/// environment does not say (cron, systemd units, containers).
fn user_from_uid() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let id: u32 = f.nth(1)?.parse().ok()?;
        (id == uid).then(|| name.to_string())
    })
}
