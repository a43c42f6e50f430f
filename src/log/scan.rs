//! Streaming a log through one multi-pattern search.
//!
//! The log is read in 1 MiB blocks. Every needle of every signature and
//! parameter is searched at once over whole blocks (Aho-Corasick), so a line
//! that matches nothing costs no more than counting its newline; only the
//! lines that hold a needle are cut out and handed on. Memory stays bounded
//! whatever the file holds: a line longer than `MAX_LINE` is searched in
//! pieces (each piece keeping its line number), and a hit hands on at most
//! `MAX_EXCERPT` bytes around the needle.

use std::io::{self, Read};

use aho_corasick::{AhoCorasick, Input, MatchKind};

/// Bytes of one line kept before it is searched in pieces.
pub(crate) const MAX_LINE: usize = 1 << 20;

/// Bytes read at a time.
const BLOCK: usize = 1 << 20;

/// Bytes of a matched line handed on, on each side of the needle.
pub(crate) const MAX_EXCERPT: usize = 2048;

/// Bytes kept from a piece of an overlong line so that a needle split
/// between two pieces is still found.
const OVERLAP: usize = 256;

/// What the scan counted over the whole input.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct ScanTally {
    pub bytes: u64,
    pub lines: u64,
    pub binary_lines: u64,
    pub first_binary_line: Option<u64>,
    pub overlong_lines: u64,
    pub first_overlong_line: Option<u64>,
}

/// A line (or a window of it) that holds at least one needle.
pub(crate) struct Hit<'a> {
    /// 1-based line number.
    pub line: u64,
    /// The start of the line (up to 64 bytes), where timestamps sit.
    pub head: &'a [u8],
    /// The line around the needle, at most `2 × MAX_EXCERPT` bytes.
    pub text: &'a [u8],
}

/// The searcher for `needles`, matched without regard to ASCII case.
pub(crate) fn searcher(needles: &[&str]) -> AhoCorasick {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(MatchKind::LeftmostFirst)
        .build(needles)
        .unwrap_or_else(|_| unreachable_searcher())
}

/// The needles are fixed strings compiled into the binary; building their
/// automaton cannot fail, but the library never panics, so a searcher that
/// matches nothing stands in.
fn unreachable_searcher() -> AhoCorasick {
    AhoCorasick::new(Vec::<&str>::new()).unwrap_or_else(|_| unreachable_searcher())
}

/// Reads `reader` to its end, calling `on_hit` for every line that holds a
/// needle (once per line, or once per piece of an overlong line). An I/O
/// error stops the scan and comes back with what was counted before it.
pub(crate) fn scan<R: Read>(
    mut reader: R,
    searcher: &AhoCorasick,
    mut on_hit: impl FnMut(&Hit<'_>),
) -> Result<ScanTally, (ScanTally, io::Error)> {
    let mut tally = ScanTally::default();
    let mut buf: Vec<u8> = Vec::with_capacity(BLOCK + MAX_LINE);
    // The line number of the first line in `buf`, and whether that line
    // began in an earlier piece (an overlong line being searched in pieces).
    let mut line = 1u64;
    let mut continued = false;
    loop {
        let filled = buf.len();
        buf.resize(filled + BLOCK, 0);
        let read = match read_some(&mut reader, &mut buf[filled..]) {
            Ok(n) => n,
            Err(err) => {
                buf.truncate(filled);
                return Err((tally, err));
            }
        };
        buf.truncate(filled + read);
        tally.bytes += read as u64;
        if read == 0 {
            if !buf.is_empty() {
                search_block(&buf, line, searcher, &mut tally, &mut on_hit, continued);
                tally.lines += 1;
            }
            return Ok(tally);
        }
        match memchr::memrchr(b'\n', &buf[filled..]) {
            Some(at) => {
                let end = filled + at + 1;
                let newlines = search_block(&buf[..end], line, searcher, &mut tally, &mut on_hit, continued);
                tally.lines += newlines;
                line += newlines;
                continued = false;
                buf.drain(..end);
            }
            None if buf.len() > MAX_LINE => {
                // One line longer than the cap: search this piece, keep a
                // short tail so that a needle across the cut is found.
                if !continued {
                    tally.overlong_lines += 1;
                    tally.first_overlong_line.get_or_insert(line);
                }
                let keep = buf.len() - OVERLAP;
                search_block(&buf[..keep], line, searcher, &mut tally, &mut on_hit, true);
                buf.drain(..keep);
                continued = true;
            }
            None => {}
        }
    }
}

/// Reads once, retrying on interruption.
fn read_some<R: Read>(reader: &mut R, out: &mut [u8]) -> io::Result<usize> {
    loop {
        match reader.read(out) {
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Searches a block of whole lines (the last one may be unterminated)
/// starting at line `first`, and returns how many newlines it holds.
fn search_block(
    block: &[u8],
    first: u64,
    searcher: &AhoCorasick,
    tally: &mut ScanTally,
    on_hit: &mut impl FnMut(&Hit<'_>),
    continued: bool,
) -> u64 {
    if memchr::memchr(0, block).is_some() {
        count_binary_lines(block, first, tally, continued);
    }
    let mut counted_to = 0usize;
    let mut line = first;
    let mut at = 0usize;
    while at < block.len() {
        let Some(found) = searcher.find(Input::new(block).span(at..block.len())) else { break };
        let start = memchr::memrchr(b'\n', &block[..found.start()]).map_or(0, |p| p + 1);
        let end = memchr::memchr(b'\n', &block[found.start()..]).map_or(block.len(), |p| found.start() + p);
        line += memchr::memchr_iter(b'\n', &block[counted_to..start]).count() as u64;
        counted_to = start;
        let lo = found.start().saturating_sub(MAX_EXCERPT).max(start);
        let hi = found.end().saturating_add(MAX_EXCERPT).min(end);
        let head_end = (start + 64).min(end);
        on_hit(&Hit { line, head: &block[start..head_end], text: &block[lo..hi] });
        at = end + 1;
    }
    line += memchr::memchr_iter(b'\n', &block[counted_to..]).count() as u64;
    line - first
}

/// Counts the lines of `block` that hold a NUL byte.
fn count_binary_lines(block: &[u8], first: u64, tally: &mut ScanTally, continued: bool) {
    for (line, piece) in (first..).zip(block.split(|&b| b == b'\n')) {
        // A continued overlong line was counted with its first piece.
        if !(line == first && continued) && memchr::memchr(0, piece).is_some() {
            tally.binary_lines += 1;
            tally.first_binary_line.get_or_insert(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hits(input: &[u8], needles: &[&str]) -> (Vec<(u64, String)>, ScanTally) {
        let searcher = searcher(needles);
        let mut found = Vec::new();
        let tally =
            scan(input, &searcher, |hit| found.push((hit.line, String::from_utf8_lossy(hit.text).into()))).unwrap();
        (found, tally)
    }

    #[test]
    fn lines_are_numbered_from_one_and_matched_once() {
        let (found, tally) = hits(b"a\nNaN here nan\nb\nc nan", &["nan"]);
        assert_eq!(found, vec![(2, "NaN here nan".to_string()), (4, "c nan".to_string())]);
        assert_eq!((tally.lines, tally.bytes), (4, 22));
    }

    #[test]
    fn an_overlong_line_is_searched_in_pieces_with_bounded_memory() {
        let mut input = vec![b'x'; 3 * MAX_LINE];
        input[MAX_LINE - 2..MAX_LINE + 1].copy_from_slice(b"nan");
        input.extend_from_slice(b"\nnan\n");
        let (found, tally) = hits(&input, &["nan"]);
        assert_eq!(found.iter().map(|h| h.0).collect::<Vec<_>>(), vec![1, 2]);
        assert!(found.iter().all(|h| h.1.len() <= 2 * MAX_EXCERPT + 3));
        assert_eq!((tally.overlong_lines, tally.first_overlong_line, tally.lines), (1, Some(1), 2));
    }

    #[test]
    fn nul_bytes_count_as_binary_lines() {
        let (_, tally) = hits(b"ok\n\0\0junk\nok\n\0", &["nan"]);
        assert_eq!((tally.binary_lines, tally.first_binary_line), (2, Some(2)));
    }
}
