//! The worker's buffers for the rule stages (`session::inspect`): the
//! client bytes peeked for the content rules and the converters' scratch,
//! allocated once per worker and reused by every session.

use crate::rules::Scratch;

#[derive(Debug)]
pub(crate) struct Inspector {
    pub(crate) buf: Vec<u8>,
    pub(crate) scratch: Scratch,
}

impl Inspector {
    pub(crate) fn new(bufsize: usize) -> Inspector {
        Inspector {
            buf: vec![0; bufsize],
            scratch: Scratch::new(bufsize),
        }
    }
}

impl std::fmt::Debug for Scratch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scratch")
    }
}
