//! Feeds arbitrary bytes to the IMAP framing and command parser: neither
//! may panic, whatever arrives from the network.
#![no_main]

use atoll_imap::proto::framing::{Limits, read_command};
use atoll_imap::proto::parse_command;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = parse_command(data);
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    rt.block_on(async {
        let mut io = tokio::io::BufReader::new(tokio::io::join(data, Vec::new()));
        let limits = Limits::new(1024, 4096);
        while let Ok(Some(frame)) = read_command(&mut io, limits).await {
            if let atoll_imap::proto::framing::Frame::Command(bytes) = frame {
                let _ = parse_command(&bytes);
            }
        }
    });
});
