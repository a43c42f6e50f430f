//! Reading a file ahead of the search: a thread reads the next blocks while
//! the current one is searched, so that a log not in the page cache costs
//! the longer of the disk and the search, not their sum.

use std::io::{self, Read};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

/// Bytes the reading thread hands over at a time.
const CHUNK: usize = 1 << 20;

/// Chunks read ahead and not yet consumed (so at most `AHEAD + 1` MiB held).
const AHEAD: usize = 2;

/// A reader whose bytes come from a thread reading `inner` ahead.
pub(crate) struct Prefetch {
    chunks: Receiver<io::Result<Vec<u8>>>,
    current: Vec<u8>,
    at: usize,
    done: bool,
    thread: Option<JoinHandle<()>>,
}

impl Prefetch {
    /// Starts reading `inner`; when no thread can be started, the reads
    /// happen in the caller's thread instead.
    pub(crate) fn new<R: Read + Send + 'static>(inner: R) -> Result<Prefetch, R> {
        let (send, chunks) = sync_channel(AHEAD);
        // The reader moves into the thread only once it has started.
        let (handoff, taken) = sync_channel::<R>(1);
        let spawned = std::thread::Builder::new().name("log-read".into()).spawn(move || {
            if let Ok(inner) = taken.recv() {
                read_ahead(inner, &send);
            }
        });
        match spawned {
            Ok(thread) => {
                if let Err(failed) = handoff.send(inner) {
                    return Err(failed.0);
                }
                Ok(Prefetch { chunks, current: Vec::new(), at: 0, done: false, thread: Some(thread) })
            }
            Err(_) => Err(inner),
        }
    }
}

fn read_ahead<R: Read>(mut inner: R, send: &SyncSender<io::Result<Vec<u8>>>) {
    loop {
        let mut chunk = vec![0u8; CHUNK];
        let mut filled = 0;
        let result = loop {
            match inner.read(&mut chunk[filled..]) {
                Ok(0) => break Ok(()),
                Ok(n) => {
                    filled += n;
                    if filled == CHUNK {
                        break Ok(());
                    }
                }
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => break Err(err),
            }
        };
        chunk.truncate(filled);
        let end = filled == 0;
        if filled > 0 && send.send(Ok(chunk)).is_err() {
            return; // the search stopped reading
        }
        if let Err(err) = result {
            let _ = send.send(Err(err));
            return;
        }
        if end {
            return;
        }
    }
}

impl Read for Prefetch {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.at == self.current.len() {
            if self.done {
                return Ok(0);
            }
            match self.chunks.recv() {
                Ok(Ok(chunk)) => {
                    self.current = chunk;
                    self.at = 0;
                }
                Ok(Err(err)) => {
                    self.done = true;
                    return Err(err);
                }
                // The thread ended: the input is exhausted.
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.current.len() - self.at);
        out[..n].copy_from_slice(&self.current[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        // Dropping the receiver first makes a blocked send fail, so the
        // thread ends after at most one more read.
        let (_, empty) = sync_channel(0);
        drop(std::mem::replace(&mut self.chunks, empty));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hands_over_every_byte_in_order() {
        let input: Vec<u8> = (0..(3 * CHUNK + 12345)).map(|i| (i % 251) as u8).collect();
        let mut reader = Prefetch::new(io::Cursor::new(input.clone())).unwrap_or_else(|_| panic!("no thread"));
        let mut out = Vec::new();
        reader.read_to_end(&mut out).unwrap();
        assert_eq!(out, input);
    }

    #[test]
    fn an_error_arrives_after_the_bytes_before_it() {
        struct Failing(usize);
        impl Read for Failing {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                if self.0 == 0 {
                    return Err(io::Error::other("disk gone"));
                }
                let n = out.len().min(self.0);
                out[..n].fill(b'x');
                self.0 -= n;
                Ok(n)
            }
        }
        let mut reader = Prefetch::new(Failing(CHUNK + 10)).unwrap_or_else(|_| panic!("no thread"));
        let mut out = vec![0u8; 4 * CHUNK];
        let mut got = 0;
        let err = loop {
            match reader.read(&mut out[got..]) {
                Ok(0) => panic!("the error was lost"),
                Ok(n) => got += n,
                Err(err) => break err,
            }
        };
        assert_eq!((got, err.to_string()), (CHUNK + 10, "disk gone".to_string()));
    }

    #[test]
    fn dropping_it_early_ends_the_thread() {
        let mut reader = Prefetch::new(io::repeat(b'a')).unwrap_or_else(|_| panic!("no thread"));
        let mut first = [0u8; 10];
        reader.read_exact(&mut first).unwrap();
        drop(reader); // joins: a hang here would fail the test by timeout
    }
}
