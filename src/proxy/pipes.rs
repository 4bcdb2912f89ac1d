//! A worker's pool of splice pipes, capped by `maxpipes`.
//!
//! A pipe is taken only while bytes are in flight in one direction and given
//! back as soon as it is empty, so an idle connection holds no pipe (its two
//! sockets are its only fds). A pipe returned with bytes still inside (an
//! aborted session) is closed rather than reused.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use crate::sys;

/// One kernel pipe and how many bytes it currently holds.
#[derive(Debug)]
pub(crate) struct Pipe {
    rd: OwnedFd,
    wr: OwnedFd,
    /// Bytes spliced in and not yet spliced out.
    pub len: usize,
}

impl Pipe {
    pub(crate) fn read_end(&self) -> BorrowedFd<'_> {
        self.rd.as_fd()
    }
    pub(crate) fn write_end(&self) -> BorrowedFd<'_> {
        self.wr.as_fd()
    }
}

/// Free pipes of one worker plus the count of pipes it has open.
#[derive(Debug)]
pub(crate) struct PipePool {
    free: Vec<Pipe>,
    /// Pipes open (free or lent), never above `cap`.
    open: usize,
    cap: usize,
    size: Option<usize>,
    /// Capacity of the pipes as the kernel reports it.
    capacity: usize,
    warned: bool,
    lent: u64,
}

impl PipePool {
    /// `cap` pipes at most; `size` is passed to F_SETPIPE_SZ when set.
    pub(crate) fn new(cap: usize, size: Option<usize>) -> PipePool {
        PipePool {
            free: Vec::new(),
            open: 0,
            cap,
            size,
            capacity: size.unwrap_or(64 * 1024),
            warned: false,
            lent: 0,
        }
    }

    /// How many bytes one pipe holds at most.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// Pipes lent out right now.
    pub(crate) fn in_use(&self) -> usize {
        self.open - self.free.len()
    }

    /// Pipes ever lent (the stats show it: splice at work).
    pub(crate) fn lent(&self) -> u64 {
        self.lent
    }

    /// A free pipe, or a new one while under the cap; None means "copy instead".
    pub(crate) fn get(&mut self) -> Option<Pipe> {
        let pipe = self.get_or_make();
        self.lent += u64::from(pipe.is_some());
        pipe
    }

    fn get_or_make(&mut self) -> Option<Pipe> {
        if let Some(p) = self.free.pop() {
            return Some(p);
        }
        if self.open >= self.cap {
            return None;
        }
        match self.create() {
            Ok(p) => {
                self.open += 1;
                Some(p)
            }
            Err(e) => {
                if !self.warned {
                    log::warn!("cannot create a splice pipe ({e}); copying through user space");
                    self.warned = true;
                }
                None
            }
        }
    }

    /// Takes a pipe back: kept for reuse when empty, closed otherwise.
    pub(crate) fn put(&mut self, pipe: Pipe) {
        if pipe.len == 0 {
            self.free.push(pipe);
        } else {
            self.open -= 1;
        }
    }

    fn create(&mut self) -> io::Result<Pipe> {
        let (rd, wr) = sys::pipe()?;
        if let Some(size) = self.size {
            self.capacity = sys::set_pipe_size(wr.as_fd(), size)?;
        } else if self.open == 0 {
            self.capacity = sys::pipe_size(wr.as_fd())?;
        }
        Ok(Pipe { rd, wr, len: 0 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_reuses_empty_pipes_and_respects_cap() {
        let mut pool = PipePool::new(2, None);
        let a = pool.get().unwrap();
        let b = pool.get().unwrap();
        assert!(pool.get().is_none(), "cap of 2 pipes");
        assert_eq!(pool.in_use(), 2);
        pool.put(a);
        assert_eq!(pool.in_use(), 1);
        let c = pool.get().expect("reused");
        pool.put(b);
        pool.put(c);
        assert_eq!(pool.in_use(), 0);
        assert!(pool.capacity() >= 4096);
    }

    #[test]
    fn pipe_with_bytes_inside_is_not_reused() {
        let mut pool = PipePool::new(1, Some(128 * 1024));
        let mut p = pool.get().unwrap();
        assert!(pool.capacity() >= 128 * 1024);
        p.len = 10;
        pool.put(p);
        assert_eq!(pool.in_use(), 0);
        assert!(pool.get().is_some(), "a new pipe replaces the closed one");
    }
}
