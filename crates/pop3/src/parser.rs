//! POP3 command lines (RFC 1939 §3): a case-insensitive keyword, then
//! arguments separated by single spaces. Numbers are message numbers or
//! line counts; anything that does not fit is a [`ParseError`], answered
//! with `-ERR` while the session goes on.

/// One command, its arguments checked for syntax (not for state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// RFC 2449 §5.
    Capa,
    /// RFC 2595 §4.
    Stls,
    /// RFC 1939 §7.
    User(String),
    /// The rest of the line: RFC 1939 §7 lets a password contain spaces.
    Pass(String),
    /// RFC 5034 §4: `AUTH mechanism [initial-response]`; a bare `AUTH`
    /// asks for the mechanisms (as Outlook does).
    Auth {
        mechanism: Option<String>,
        initial: Option<String>,
    },
    /// RFC 1939 §5.
    Stat,
    List(Option<u32>),
    Uidl(Option<u32>),
    Retr(u32),
    /// RFC 1939 §7: message and number of body lines.
    Top(u32, u64),
    Dele(u32),
    Rset,
    Noop,
    Quit,
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Capa => "CAPA",
            Command::Stls => "STLS",
            Command::User(_) => "USER",
            Command::Pass(_) => "PASS",
            Command::Auth { .. } => "AUTH",
            Command::Stat => "STAT",
            Command::List(_) => "LIST",
            Command::Uidl(_) => "UIDL",
            Command::Retr(_) => "RETR",
            Command::Top(..) => "TOP",
            Command::Dele(_) => "DELE",
            Command::Rset => "RSET",
            Command::Noop => "NOOP",
            Command::Quit => "QUIT",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty command")]
    Empty,
    #[error("unknown command")]
    Unknown,
    #[error("{0}: wrong number of arguments")]
    Arguments(&'static str),
    #[error("{0}: invalid number")]
    Number(&'static str),
    #[error("command line is not UTF-8")]
    NotUtf8,
}

/// Parses one line, its CRLF (or bare LF) already removed or not.
pub fn parse(line: &[u8]) -> Result<Command, ParseError> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let line = std::str::from_utf8(line).map_err(|_| ParseError::NotUtf8)?;
    if line.trim().is_empty() {
        return Err(ParseError::Empty);
    }
    let (keyword, rest) = match line.split_once(' ') {
        Some((k, r)) => (k, Some(r)),
        None => (line, None),
    };
    // RFC 1939 §3: keywords are up to four characters, case-insensitive.
    let keyword = keyword.to_ascii_uppercase();
    let args: Vec<&str> = rest.map(|r| r.split(' ').filter(|a| !a.is_empty()).collect()).unwrap_or_default();
    let none = |c: Command, name: &'static str| if args.is_empty() { Ok(c) } else { Err(ParseError::Arguments(name)) };
    match keyword.as_str() {
        "CAPA" => none(Command::Capa, "CAPA"),
        "STLS" => none(Command::Stls, "STLS"),
        "STAT" => none(Command::Stat, "STAT"),
        "RSET" => none(Command::Rset, "RSET"),
        "NOOP" => none(Command::Noop, "NOOP"),
        "QUIT" => none(Command::Quit, "QUIT"),
        "USER" => match args.as_slice() {
            [name] => Ok(Command::User((*name).to_string())),
            _ => Err(ParseError::Arguments("USER")),
        },
        "PASS" => match rest {
            Some(p) if !p.is_empty() => Ok(Command::Pass(p.to_string())),
            _ => Err(ParseError::Arguments("PASS")),
        },
        "AUTH" => match args.as_slice() {
            [] => Ok(Command::Auth { mechanism: None, initial: None }),
            [m] => Ok(Command::Auth { mechanism: Some((*m).to_string()), initial: None }),
            [m, ir] => Ok(Command::Auth { mechanism: Some((*m).to_string()), initial: Some((*ir).to_string()) }),
            _ => Err(ParseError::Arguments("AUTH")),
        },
        "LIST" => optional_number(&args, "LIST").map(Command::List),
        "UIDL" => optional_number(&args, "UIDL").map(Command::Uidl),
        "RETR" => one_number(&args, "RETR").map(Command::Retr),
        "DELE" => one_number(&args, "DELE").map(Command::Dele),
        "TOP" => match args.as_slice() {
            [msg, lines] => Ok(Command::Top(message_number(msg, "TOP")?, number(lines, "TOP")?)),
            _ => Err(ParseError::Arguments("TOP")),
        },
        _ => Err(ParseError::Unknown),
    }
}

/// A decimal number without sign (RFC 1939 §3: "a number").
fn number(s: &str, cmd: &'static str) -> Result<u64, ParseError> {
    if s.is_empty() || s.len() > 19 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ParseError::Number(cmd));
    }
    s.parse().map_err(|_| ParseError::Number(cmd))
}

/// A message number: 1 or more (RFC 1939 §5), at most what fits a u32.
fn message_number(s: &str, cmd: &'static str) -> Result<u32, ParseError> {
    match number(s, cmd)? {
        0 => Err(ParseError::Number(cmd)),
        n => u32::try_from(n).map_err(|_| ParseError::Number(cmd)),
    }
}

fn one_number(args: &[&str], cmd: &'static str) -> Result<u32, ParseError> {
    match args {
        [n] => message_number(n, cmd),
        _ => Err(ParseError::Arguments(cmd)),
    }
}

fn optional_number(args: &[&str], cmd: &'static str) -> Result<Option<u32>, ParseError> {
    match args {
        [] => Ok(None),
        [n] => message_number(n, cmd).map(Some),
        _ => Err(ParseError::Arguments(cmd)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1939_examples() {
        assert_eq!(parse(b"STAT\r\n"), Ok(Command::Stat));
        assert_eq!(parse(b"LIST\r\n"), Ok(Command::List(None)));
        assert_eq!(parse(b"LIST 2\r\n"), Ok(Command::List(Some(2))));
        assert_eq!(parse(b"RETR 1\r\n"), Ok(Command::Retr(1)));
        assert_eq!(parse(b"DELE 1\r\n"), Ok(Command::Dele(1)));
        assert_eq!(parse(b"NOOP\r\n"), Ok(Command::Noop));
        assert_eq!(parse(b"RSET\r\n"), Ok(Command::Rset));
        assert_eq!(parse(b"QUIT\r\n"), Ok(Command::Quit));
        assert_eq!(parse(b"TOP 1 10\r\n"), Ok(Command::Top(1, 10)));
        assert_eq!(parse(b"UIDL\r\n"), Ok(Command::Uidl(None)));
        assert_eq!(parse(b"UIDL 2\r\n"), Ok(Command::Uidl(Some(2))));
        assert_eq!(parse(b"USER mrose\r\n"), Ok(Command::User("mrose".into())));
        assert_eq!(parse(b"PASS secret\r\n"), Ok(Command::Pass("secret".into())));
    }

    #[test]
    fn keywords_are_case_insensitive_and_line_ends_optional() {
        assert_eq!(parse(b"stat"), Ok(Command::Stat));
        assert_eq!(parse(b"Retr 7\n"), Ok(Command::Retr(7)));
        assert_eq!(parse(b"capa\r\n"), Ok(Command::Capa));
        assert_eq!(parse(b"stls\r\n"), Ok(Command::Stls));
    }

    #[test]
    fn password_keeps_its_spaces() {
        assert_eq!(parse(b"PASS correct horse  battery\r\n"), Ok(Command::Pass("correct horse  battery".into())));
        assert_eq!(parse(b"PASS\r\n"), Err(ParseError::Arguments("PASS")));
        assert_eq!(parse(b"PASS \r\n"), Err(ParseError::Arguments("PASS")));
    }

    #[test]
    fn auth_forms() {
        assert_eq!(parse(b"AUTH\r\n"), Ok(Command::Auth { mechanism: None, initial: None }));
        assert_eq!(parse(b"AUTH PLAIN\r\n"), Ok(Command::Auth { mechanism: Some("PLAIN".into()), initial: None }));
        assert_eq!(
            parse(b"AUTH PLAIN AGFubgBzZWNyZXQ=\r\n"),
            Ok(Command::Auth { mechanism: Some("PLAIN".into()), initial: Some("AGFubgBzZWNyZXQ=".into()) })
        );
        assert_eq!(parse(b"AUTH PLAIN a b\r\n"), Err(ParseError::Arguments("AUTH")));
    }

    #[test]
    fn bad_arguments() {
        assert_eq!(parse(b"\r\n"), Err(ParseError::Empty));
        assert_eq!(parse(b"   \r\n"), Err(ParseError::Empty));
        assert_eq!(parse(b"FOO\r\n"), Err(ParseError::Unknown));
        assert_eq!(parse(b"APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n"), Err(ParseError::Unknown));
        assert_eq!(parse(b"RETR\r\n"), Err(ParseError::Arguments("RETR")));
        assert_eq!(parse(b"RETR 0\r\n"), Err(ParseError::Number("RETR")));
        assert_eq!(parse(b"RETR -1\r\n"), Err(ParseError::Number("RETR")));
        assert_eq!(parse(b"RETR +1\r\n"), Err(ParseError::Number("RETR")));
        assert_eq!(parse(b"RETR 1x\r\n"), Err(ParseError::Number("RETR")));
        assert_eq!(parse(b"RETR 4294967296\r\n"), Err(ParseError::Number("RETR")));
        assert_eq!(parse(b"RETR 99999999999999999999999\r\n"), Err(ParseError::Number("RETR")));
        assert_eq!(parse(b"DELE 1 2\r\n"), Err(ParseError::Arguments("DELE")));
        assert_eq!(parse(b"TOP 1\r\n"), Err(ParseError::Arguments("TOP")));
        assert_eq!(parse(b"TOP 1 x\r\n"), Err(ParseError::Number("TOP")));
        assert_eq!(parse(b"STAT 1\r\n"), Err(ParseError::Arguments("STAT")));
        assert_eq!(parse(b"USER\r\n"), Err(ParseError::Arguments("USER")));
        assert_eq!(parse(b"USER a b\r\n"), Err(ParseError::Arguments("USER")));
        assert_eq!(parse(b"RETR \xff\r\n"), Err(ParseError::NotUtf8));
    }

    /// Whatever arrives, the parser answers and does not panic.
    #[test]
    fn never_panics_on_arbitrary_bytes() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let alphabet = b"RETRTOPLISTUIDLUSERPASSAUTHDELE 0123456789\r\n\x00\xff.-+";
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 24) as usize;
            let line: Vec<u8> =
                (0..len).map(|i| alphabet[((seed >> (i % 8)) as usize + i * 7) % alphabet.len()]).collect();
            let _ = parse(&line);
        }
    }
}
