//! Reading a configuration file and collecting every problem in it, so an
//! operator fixes them all in one pass instead of one per restart.

use std::fmt;
use std::path::Path;

use serde::de::DeserializeOwned;

use crate::model::Config;
use crate::validate::validate;

/// One thing wrong with a configuration: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, e.g. `listen.imap[1]`; empty for the file as a whole.
    pub key: String,
    pub reason: String,
}

/// Every problem found in one file.
#[derive(Debug, thiserror::Error)]
pub struct ConfigError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if p.key.is_empty() {
                write!(f, "{}: {}", self.file, p.reason)?;
            } else {
                write!(f, "{}: {}: {}", self.file, p.key, p.reason)?;
            }
        }
        Ok(())
    }
}

/// Reads and validates `path`.
pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let label = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: label.clone(),
        problems: vec![Problem { key: String::new(), reason: format!("cannot read: {e}") }],
    })?;
    from_str(&text, &label)
}

/// Parses and validates configuration text; `file` names it in messages.
pub fn from_str(text: &str, file: &str) -> Result<Config, ConfigError> {
    let fail = |problems| ConfigError { file: file.to_string(), problems };
    let table: toml::Table = toml::from_str(text)
        .map_err(|e| fail(vec![Problem { key: String::new(), reason: syntax_reason(&e, text) }]))?;

    let mut problems = Vec::new();
    let mut config = Config::default();
    for (section, value) in table {
        // Each section is read on its own so that a mistake in one does not
        // hide the mistakes in the others.
        match section.as_str() {
            "node" => read(&section, value, &mut config.node, &mut problems),
            "directory" => read(&section, value, &mut config.directory, &mut problems),
            "addressing" => read(&section, value, &mut config.addressing, &mut problems),
            "passwords" => read(&section, value, &mut config.passwords, &mut problems),
            "listen" => read(&section, value, &mut config.listen, &mut problems),
            "lmtp" => read(&section, value, &mut config.lmtp, &mut problems),
            "mx" => read(&section, value, &mut config.mx, &mut problems),
            "submission" => read(&section, value, &mut config.submission, &mut problems),
            "dns" => read(&section, value, &mut config.dns, &mut problems),
            "queue" => read(&section, value, &mut config.queue, &mut problems),
            "outbound" => read(&section, value, &mut config.outbound, &mut problems),
            "filters" => read(&section, value, &mut config.filters, &mut problems),
            "greylist" => read(&section, value, &mut config.greylist, &mut problems),
            "imap" => read(&section, value, &mut config.imap, &mut problems),
            "pop3" => read(&section, value, &mut config.pop3, &mut problems),
            "store" => read(&section, value, &mut config.store, &mut problems),
            "tls" => read(&section, value, &mut config.tls, &mut problems),
            "log" => read(&section, value, &mut config.log, &mut problems),
            _ => problems.push(Problem {
                key: section,
                reason: "unknown section (expected one of node, directory, addressing, \
                         passwords, listen, lmtp, mx, submission, dns, queue, outbound, filters, greylist, imap, pop3, \
                         store, tls, log)"
                    .to_string(),
            }),
        }
    }
    problems.extend(validate(&config));
    if problems.is_empty() { Ok(config) } else { Err(fail(problems)) }
}

fn read<T: DeserializeOwned>(section: &str, value: toml::Value, into: &mut T, problems: &mut Vec<Problem>) {
    let mut unknown = Vec::new();
    let result: Result<T, _> = serde_ignored::deserialize(value, |path| unknown.push(path.to_string()));
    for path in unknown {
        problems.push(Problem { key: format!("{section}.{path}"), reason: "unknown key".into() });
    }
    match result {
        Ok(v) => *into = v,
        Err(e) => problems.push(Problem { key: section.to_string(), reason: value_reason(&e) }),
    }
}

/// toml's own messages carry a multi-line excerpt; keep the first line and add
/// the line number, which is what a reader needs to find it.
fn syntax_reason(e: &toml::de::Error, text: &str) -> String {
    let msg = e.message().lines().next().unwrap_or("invalid TOML").to_string();
    match e.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {msg}")
        }
        None => msg,
    }
}

fn value_reason(e: &toml::de::Error) -> String {
    e.message().lines().next().unwrap_or("invalid value").to_string()
}
