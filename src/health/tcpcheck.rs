//! A check in progress and its `tcp-check` steps: send what the steps say,
//! read until the expected bytes appear.

use std::io::{self, Read, Write};
use std::time::Instant;

use crate::proxy::stream::Stream;

use crate::backend::PortLease;
use crate::config::CheckStep;

/// An expect that has not matched within this much data has failed.
pub(super) const MAX_EXPECT_BUFFER: usize = 16 * 1024;

/// A check in progress: connecting, then walking the `tcp-check` steps.
pub(super) struct Pending {
    pub(super) stream: Stream,
    pub(super) started: Instant,
    pub(super) connected: bool,
    /// Index of the current step, and bytes of it sent so far.
    pub(super) step: usize,
    pub(super) sent: usize,
    /// What the server sent since the last matched expect.
    pub(super) received: Vec<u8>,
    /// A port of the server's source range, back when the check (its
    /// socket, dropped first) ends: HAProxy's checks take one too.
    pub(super) _port: Option<PortLease>,
}

/// Walks the `tcp-check` steps as far as the socket allows: Ok(true) when
/// all are done, Ok(false) when waiting for readiness, Err(reason) on failure.
pub(super) fn advance(p: &mut Pending, steps: &[CheckStep]) -> Result<bool, String> {
    while let Some(step) = steps.get(p.step) {
        match step {
            CheckStep::Send(bytes) => match p.stream.write(&bytes[p.sent..]) {
                Ok(n) => {
                    p.sent += n;
                    if p.sent == bytes.len() {
                        (p.step, p.sent) = (p.step + 1, 0);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(format!("send failed: {}", describe(&e))),
            },
            CheckStep::Expect(want) => {
                if contains(&p.received, want) {
                    p.received.clear();
                    p.step += 1;
                    continue;
                }
                let mut buf = [0u8; 4096];
                match p.stream.read(&mut buf) {
                    Ok(0) => {
                        return Err(format!(
                            "expect mismatch: closed before {:?}, got {:?}",
                            String::from_utf8_lossy(want),
                            String::from_utf8_lossy(&p.received)
                        ));
                    }
                    Ok(n) if p.received.len() + n > MAX_EXPECT_BUFFER => {
                        return Err(format!(
                            "expect mismatch: no {:?} in {MAX_EXPECT_BUFFER} bytes",
                            String::from_utf8_lossy(want)
                        ));
                    }
                    Ok(n) => p.received.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                    Err(e) => return Err(format!("read failed: {}", describe(&e))),
                }
            }
        }
    }
    Ok(true)
}

pub(super) fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

pub(super) fn describe(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::ConnectionRefused => "connection refused".into(),
        _ => e.to_string(),
    }
}
