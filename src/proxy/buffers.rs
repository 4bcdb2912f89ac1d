//! A worker's pool of copy buffers (`tune.bufsize` each), for the directions
//! that copy through user space instead of splicing. Like pipes, a buffer is
//! held only while bytes are in flight, so idle connections hold none.

/// Free buffers kept for reuse beyond this are given back to the allocator,
/// so a burst does not pin its peak memory forever.
const MAX_FREE: usize = 1024;

#[derive(Debug)]
pub(crate) struct BufPool {
    free: Vec<Box<[u8]>>,
    size: usize,
}

impl BufPool {
    pub(crate) fn new(size: usize) -> BufPool {
        BufPool {
            free: Vec::new(),
            size,
        }
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn get(&mut self) -> Box<[u8]> {
        self.free
            .pop()
            .unwrap_or_else(|| vec![0; self.size].into_boxed_slice())
    }

    pub(crate) fn put(&mut self, buf: Box<[u8]>) {
        if self.free.len() < MAX_FREE {
            self.free.push(buf);
        }
    }
}
