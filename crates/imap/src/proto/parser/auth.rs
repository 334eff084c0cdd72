//! LOGIN (RFC 9051 §6.2.3) and AUTHENTICATE (§6.2.2) with SASL-IR's
//! initial response (RFC 4959 §3).

use super::{Cursor, PResult};
use crate::proto::command::CommandKind;

/// `LOGIN SP userid SP password`, both astrings.
pub(super) fn login(c: &mut Cursor) -> PResult<CommandKind> {
    c.sp()?;
    let user = c.astring()?;
    c.sp()?;
    let password = c.astring()?;
    Ok(CommandKind::Login { user, password })
}

/// `AUTHENTICATE SP auth-type [SP (base64 / "=")]`.
pub(super) fn authenticate(c: &mut Cursor) -> PResult<CommandKind> {
    c.sp()?;
    let mechanism = c.atom_upper()?;
    let mut initial = None;
    if c.eat(b' ') {
        // RFC 4959 §3: "=" is an empty initial response, distinct from none.
        if c.eat(b'=') {
            initial = Some(String::new());
        } else {
            let b64 = c.base64()?;
            if b64.is_empty() {
                return Err(c.err("expected a base64 initial response"));
            }
            initial = Some(b64.to_string());
        }
    }
    Ok(CommandKind::Authenticate { mechanism, initial })
}
