//! Streaming a log through one multi-pattern search.
//!
//! The log is read in 1 MiB blocks. Every needle of every signature and
//! parameter is searched at once over whole blocks (Aho-Corasick), so a line
//! that matches nothing costs no more than counting its newline; only the
//! lines that hold a needle are cut out and handed on. Memory stays bounded
//! whatever the file holds: a line longer than `MAX_LINE` is searched in
//! pieces (each piece keeping its line number), and a hit hands on at most
//! `MAX_EXCERPT` bytes around the needle.
//!
//! Blocks are read in order and searched several at a time (one per core,
//! up to `MAX_LANES`); their hits are handed on in file order.

use std::io::{self, Read};

use aho_corasick::{AhoCorasick, Input, MatchKind};
use rayon::prelude::*;

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
/// needle (once per line, or once per piece of an overlong line), in order.
/// An I/O error stops the scan and comes back with what was counted before it.
pub(crate) fn scan<R: Read>(
    reader: R,
    searcher: &AhoCorasick,
    on_hit: impl FnMut(&Hit<'_>),
) -> Result<ScanTally, (ScanTally, io::Error)> {
    scan_in_blocks(reader, searcher, BLOCK, on_hit)
}

/// The scan with its block size as a parameter, so that tests can cut small
/// inputs into many blocks.
///
/// Reading stays sequential; up to `lanes` blocks read one after the other
/// are searched at the same time, each collecting at most `MAX_PENDING` hits
/// as offsets into its own block. The hits are then handed on block by block
/// in file order, with line numbers made absolute by the newlines of the
/// blocks before; a block that found more than `MAX_PENDING` hits finishes
/// its search at that point, in order, so memory stays bounded by `lanes`
/// blocks whatever the log holds.
fn scan_in_blocks<R: Read>(
    mut reader: R,
    searcher: &AhoCorasick,
    block: usize,
    mut on_hit: impl FnMut(&Hit<'_>),
) -> Result<ScanTally, (ScanTally, io::Error)> {
    let lanes = rayon::current_num_threads().clamp(1, MAX_LANES);
    let mut tally = ScanTally::default();
    let mut cutter = Cutter { buf: Vec::new(), block, continued: false, eof: false, spare: Vec::new() };
    let mut line = 1u64;
    loop {
        let mut pieces = Vec::with_capacity(lanes);
        let mut error = None;
        while pieces.len() < lanes {
            match cutter.next(&mut reader, &mut tally) {
                Ok(Some(piece)) => pieces.push(piece),
                Ok(None) => break,
                Err(err) => {
                    error = Some(err);
                    break;
                }
            }
        }
        let searched: Vec<Searched> = pieces.par_iter().map(|piece| search_piece(piece, searcher)).collect();
        for (piece, searched) in pieces.into_iter().zip(searched) {
            line = hand_on(&piece, searched, line, searcher, &mut tally, &mut on_hit);
            cutter.recycle(piece.data);
        }
        if let Some(err) = error {
            return Err((tally, err));
        }
        if cutter.eof {
            return Ok(tally);
        }
    }
}

/// Blocks searched at the same time (each at most `BLOCK + MAX_LINE` bytes).
const MAX_LANES: usize = 8;

/// Hits one block collects before handing on; the rest of its search
/// happens in order.
const MAX_PENDING: usize = 1024;

/// Cuts the input into blocks of whole lines, or pieces of one overlong line.
struct Cutter {
    /// Bytes read and not yet handed out: the start of a line.
    buf: Vec<u8>,
    block: usize,
    /// Whether `buf` begins inside an overlong line already cut.
    continued: bool,
    eof: bool,
    /// Buffers of blocks already searched, reused.
    spare: Vec<Vec<u8>>,
}

enum PieceKind {
    /// Whole lines, the last one ending in a newline.
    Lines,
    /// A piece of a line longer than `MAX_LINE`, without its end; `first`
    /// when the line starts in it.
    Overlong { first: bool },
    /// The input's last line, without a newline.
    Last,
}

struct Piece {
    data: Vec<u8>,
    kind: PieceKind,
    /// Whether `data` begins inside a line an earlier piece began.
    continued: bool,
}

impl Cutter {
    fn next<R: Read>(&mut self, reader: &mut R, tally: &mut ScanTally) -> io::Result<Option<Piece>> {
        if self.eof {
            return Ok(None);
        }
        loop {
            let filled = self.buf.len();
            self.buf.resize(filled + self.block, 0);
            let read = match read_some(reader, &mut self.buf[filled..]) {
                Ok(n) => n,
                Err(err) => {
                    self.buf.truncate(filled);
                    return Err(err);
                }
            };
            self.buf.truncate(filled + read);
            tally.bytes += read as u64;
            if read == 0 {
                self.eof = true;
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let data = std::mem::take(&mut self.buf);
                return Ok(Some(Piece { data, kind: PieceKind::Last, continued: self.continued }));
            }
            if let Some(at) = memchr::memrchr(b'\n', &self.buf[filled..]) {
                let data = self.split_at(filled + at + 1);
                let piece = Piece { data, kind: PieceKind::Lines, continued: self.continued };
                self.continued = false;
                return Ok(Some(piece));
            }
            if self.buf.len() > MAX_LINE {
                // One line longer than the cap: hand out this piece, keep a
                // short tail so that a needle across the cut is found.
                let data = self.split_at(self.buf.len() - OVERLAP);
                let piece = Piece { data, kind: PieceKind::Overlong { first: !self.continued }, continued: true };
                self.continued = true;
                return Ok(Some(piece));
            }
        }
    }

    /// Takes `buf[..at]` out, leaving the rest (in a recycled buffer) in `buf`.
    fn split_at(&mut self, at: usize) -> Vec<u8> {
        let mut rest = self.spare.pop().unwrap_or_default();
        rest.clear();
        rest.extend_from_slice(&self.buf[at..]);
        let mut taken = std::mem::replace(&mut self.buf, rest);
        taken.truncate(at);
        taken
    }

    fn recycle(&mut self, buffer: Vec<u8>) {
        if self.spare.len() <= MAX_LANES {
            self.spare.push(buffer);
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

/// A hit as offsets into its block; `line` counts the newlines before it.
struct Span {
    line: u64,
    start: usize,
    head_end: usize,
    lo: usize,
    hi: usize,
}

/// Where a search of one block stands.
#[derive(Default)]
struct Cursor {
    /// Where the next search starts.
    at: usize,
    /// Newlines before `counted_to` have been counted into `line`.
    counted_to: usize,
    line: u64,
}

/// What searching one block found, before its hits are handed on.
struct Searched {
    hits: Vec<Span>,
    cursor: Cursor,
    /// Whether the search reached the block's end.
    complete: bool,
    binary: BinaryLines,
}

fn search_piece(piece: &Piece, searcher: &AhoCorasick) -> Searched {
    let binary = if memchr::memchr(0, &piece.data).is_some() {
        count_binary_lines(&piece.data, piece.continued)
    } else {
        BinaryLines::default()
    };
    let mut hits = Vec::new();
    let mut cursor = Cursor::default();
    let complete = search_lines(&piece.data, &mut cursor, searcher, |span| {
        hits.push(span);
        hits.len() < MAX_PENDING
    });
    Searched { hits, cursor, complete, binary }
}

/// Searches `block` from `cursor` on, handing each line that holds a needle
/// to `sink` once, until the block ends (true) or `sink` says stop (false).
fn search_lines(block: &[u8], cursor: &mut Cursor, searcher: &AhoCorasick, mut sink: impl FnMut(Span) -> bool) -> bool {
    while cursor.at < block.len() {
        let Some(found) = searcher.find(Input::new(block).span(cursor.at..block.len())) else { break };
        let start = memchr::memrchr(b'\n', &block[..found.start()]).map_or(0, |p| p + 1);
        let end = memchr::memchr(b'\n', &block[found.start()..]).map_or(block.len(), |p| found.start() + p);
        cursor.line += memchr::memchr_iter(b'\n', &block[cursor.counted_to..start]).count() as u64;
        cursor.counted_to = start;
        cursor.at = end + 1;
        let span = Span {
            line: cursor.line,
            start,
            head_end: (start + 64).min(end),
            lo: found.start().saturating_sub(MAX_EXCERPT).max(start),
            hi: found.end().saturating_add(MAX_EXCERPT).min(end),
        };
        if !sink(span) {
            return cursor.at >= block.len();
        }
    }
    cursor.at = block.len();
    true
}

/// Hands a searched piece's hits on in order, finishing its search when it
/// stopped early, and returns the line number the next piece starts at.
fn hand_on(
    piece: &Piece,
    searched: Searched,
    first: u64,
    searcher: &AhoCorasick,
    tally: &mut ScanTally,
    on_hit: &mut impl FnMut(&Hit<'_>),
) -> u64 {
    let data = &piece.data[..];
    let mut emit = |span: &Span| {
        on_hit(&Hit { line: first + span.line, head: &data[span.start..span.head_end], text: &data[span.lo..span.hi] })
    };
    searched.hits.iter().for_each(&mut emit);
    let mut cursor = searched.cursor;
    if !searched.complete {
        search_lines(data, &mut cursor, searcher, |span| {
            emit(&span);
            true
        });
    }
    let newlines = cursor.line + memchr::memchr_iter(b'\n', &data[cursor.counted_to..]).count() as u64;
    if searched.binary.count > 0 {
        tally.binary_lines += searched.binary.count;
        if let Some(at) = searched.binary.first {
            tally.first_binary_line.get_or_insert(first + at);
        }
    }
    match piece.kind {
        PieceKind::Lines => {
            tally.lines += newlines;
            first + newlines
        }
        PieceKind::Overlong { first: starts_line } => {
            if starts_line {
                tally.overlong_lines += 1;
                tally.first_overlong_line.get_or_insert(first);
            }
            first
        }
        PieceKind::Last => {
            tally.lines += 1;
            first
        }
    }
}

/// Lines holding a NUL byte in one block: how many, and the first as an
/// offset from the block's first line.
#[derive(Default)]
struct BinaryLines {
    count: u64,
    first: Option<u64>,
}

/// Counts the lines of `block` that hold a NUL byte; a `continued` block's
/// first line was counted with the piece it began in.
fn count_binary_lines(block: &[u8], continued: bool) -> BinaryLines {
    let mut lines = BinaryLines::default();
    for (line, piece) in (0u64..).zip(block.split(|&b| b == b'\n')) {
        if !(line == 0 && continued) && memchr::memchr(0, piece).is_some() {
            lines.count += 1;
            lines.first.get_or_insert(line);
        }
    }
    lines
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

    fn hits_in_blocks(input: &[u8], needles: &[&str], block: usize) -> (Vec<(u64, String)>, ScanTally) {
        let searcher = searcher(needles);
        let mut found = Vec::new();
        let tally = scan_in_blocks(input, &searcher, block, |hit| {
            found.push((hit.line, String::from_utf8_lossy(hit.text).into()))
        })
        .unwrap();
        (found, tally)
    }

    #[test]
    fn blocks_searched_together_hand_on_what_one_block_would() {
        let mut input = Vec::new();
        for i in 0..6000u32 {
            match i % 7 {
                0 => input.extend_from_slice(b"nan\n"),
                3 => input.extend_from_slice(format!("step {i} ok, contains NaN\0 x\n").as_bytes()),
                _ => input.extend_from_slice(format!("line {i}\n").as_bytes()),
            }
        }
        input.extend_from_slice(b"tail nan");
        let whole = hits_in_blocks(&input, &["nan"], input.len() + 1);
        assert_eq!(whole.1.lines, 6001);
        assert_eq!(whole.0.len(), 858 + 857 + 1);
        assert_eq!(whole.1.binary_lines, 857);
        // Small blocks (many searched at once), and one block holding more
        // hits than are collected before handing on.
        for block in [1, 5, 64, 4096, 1 << 20] {
            assert_eq!(hits_in_blocks(&input, &["nan"], block), whole, "block {block}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_cut_into_blocks_finds_the_same_lines(
            lines in proptest::collection::vec("[a-z \\x00]{0,12}(nan)?[a-z ]{0,5}", 0..60),
            block in 1usize..40,
        ) {
            let input = lines.join("\n");
            let whole = hits_in_blocks(input.as_bytes(), &["nan", "zz"], input.len() + 1);
            proptest::prop_assert_eq!(hits_in_blocks(input.as_bytes(), &["nan", "zz"], block), whole);
        }
    }

    #[test]
    fn nul_bytes_count_as_binary_lines() {
        let (_, tally) = hits(b"ok\n\0\0junk\nok\n\0", &["nan"]);
        assert_eq!((tally.binary_lines, tally.first_binary_line), (2, Some(2)));
    }
}
