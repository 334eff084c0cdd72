//! Every message of the real-mail corpus (2,403 SpamAssassin ham messages):
//! analysed without panicking, every range in bounds, HEADER + TEXT equal to
//! the message, the stored JSON read back equal, and ENVELOPE / BODY /
//! BODYSTRUCTURE following RFC 9051's grammar (see `common::check`).

mod common;

#[test]
fn every_corpus_message() {
    let Some(files) = atoll_testkit::corpus() else { return };
    assert!(!files.is_empty());
    let mut multipart = 0;
    for path in &files {
        let raw = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let a = std::panic::catch_unwind(|| common::check(&raw)).unwrap_or_else(|_| panic!("{} fails", path.display()));
        if !a.root.parts.is_empty() {
            multipart += 1;
            // Each part of a multipart is followed by its boundary delimiter
            // ("--" at the start of a line); its body never runs into it.
            for p in &a.root.parts {
                let body = &raw[p.body.0 as usize..p.body.1 as usize];
                let after = &raw[p.body.1 as usize..];
                assert!(
                    after.starts_with(b"\r\n--") || after.starts_with(b"\n--") || after.is_empty(),
                    "{}: part {:?} is not followed by a delimiter",
                    path.display(),
                    p.body
                );
                assert!(!body.ends_with(b"\n--"), "{}", path.display());
            }
        }
        let _ = atoll_message::search_text(&raw);
        let _ = atoll_message::header_values(&raw, "subject");
    }
    // The corpus has multipart mail; make sure the structure was found.
    eprintln!("{} messages, {multipart} multipart", files.len());
    assert!(multipart > 50, "only {multipart} multipart messages found");
}
