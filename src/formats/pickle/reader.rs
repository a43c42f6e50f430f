//! A cursor over pickle bytes that checks every operand length against the
//! bytes that remain before reading it.

use super::alerts::ErrorKind;

pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    pub pos: usize,
}

/// Protocol 0 text operands (lines) longer than this are refused; Python's
/// own int parsing stops at 4300 digits.
const MAX_LINE: usize = 1 << 16;

impl<'a> Reader<'a> {
    pub fn new(bytes: &'a [u8], pos: usize) -> Self {
        Reader { bytes, pos }
    }

    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// `n` bytes, or a truncation error naming the opcode.
    pub fn take(&mut self, n: u64, opcode: &'static str) -> Result<&'a [u8], ErrorKind> {
        let available = self.remaining() as u64;
        if n > available {
            return Err(ErrorKind::Truncated { opcode, needed: n, available });
        }
        let start = self.pos;
        self.pos += n as usize;
        Ok(&self.bytes[start..self.pos])
    }

    pub fn u8(&mut self, opcode: &'static str) -> Result<u8, ErrorKind> {
        Ok(self.take(1, opcode)?[0])
    }

    pub fn array<const N: usize>(&mut self, opcode: &'static str) -> Result<[u8; N], ErrorKind> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64, opcode)?);
        Ok(out)
    }

    pub fn u16(&mut self, opcode: &'static str) -> Result<u16, ErrorKind> {
        Ok(u16::from_le_bytes(self.array(opcode)?))
    }

    pub fn u32(&mut self, opcode: &'static str) -> Result<u32, ErrorKind> {
        Ok(u32::from_le_bytes(self.array(opcode)?))
    }

    pub fn i32(&mut self, opcode: &'static str) -> Result<i32, ErrorKind> {
        Ok(i32::from_le_bytes(self.array(opcode)?))
    }

    pub fn u64(&mut self, opcode: &'static str) -> Result<u64, ErrorKind> {
        Ok(u64::from_le_bytes(self.array(opcode)?))
    }

    /// `len` bytes at `start` of the input (already bounds-checked by `take`).
    pub fn slice(&self, start: usize, len: usize) -> &'a [u8] {
        self.bytes.get(start..start.saturating_add(len)).unwrap_or(&[])
    }

    /// A `\n`-terminated line without its terminator.
    pub fn line(&mut self, opcode: &'static str) -> Result<&'a [u8], ErrorKind> {
        let rest = &self.bytes[self.pos.min(self.bytes.len())..];
        let window = &rest[..rest.len().min(MAX_LINE)];
        match window.iter().position(|&b| b == b'\n') {
            Some(n) => {
                self.pos += n + 1;
                Ok(&rest[..n])
            }
            None if rest.len() > MAX_LINE => {
                Err(ErrorKind::BadOperand { opcode, why: format!("line longer than {MAX_LINE} bytes") })
            }
            None => Err(ErrorKind::Truncated { opcode, needed: rest.len() as u64 + 1, available: rest.len() as u64 }),
        }
    }

    /// A line as UTF-8 text.
    pub fn text_line(&mut self, opcode: &'static str) -> Result<&'a str, ErrorKind> {
        let line = self.line(opcode)?;
        std::str::from_utf8(line).map_err(|_| ErrorKind::BadOperand { opcode, why: "line is not UTF-8".into() })
    }
}

/// A Python integer literal from a protocol 0 line (`123`, `-4`, `5L`).
pub(crate) fn parse_int_line(line: &str, opcode: &'static str) -> Result<IntLiteral, ErrorKind> {
    let digits = line.trim().trim_end_matches('L');
    if let Ok(v) = digits.parse::<i64>() {
        return Ok(IntLiteral::Small(v));
    }
    let (negative, body) = match digits.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, digits.strip_prefix('+').unwrap_or(digits)),
    };
    if body.is_empty() || body.len() > 4300 || !body.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ErrorKind::BadOperand { opcode, why: format!("{line:?} is not an integer") });
    }
    // Decimal to little-endian magnitude bytes, then two's complement.
    let mut magnitude: Vec<u8> = vec![0];
    for digit in body.bytes() {
        let mut carry = (digit - b'0') as u32;
        for byte in magnitude.iter_mut() {
            let v = *byte as u32 * 10 + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
        while carry > 0 {
            magnitude.push(carry as u8);
            carry >>= 8;
        }
    }
    magnitude.push(0);
    if negative {
        let mut carry = 1u16;
        for byte in magnitude.iter_mut() {
            let v = (!*byte) as u16 + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
    }
    Ok(IntLiteral::Big(magnitude))
}

pub(crate) enum IntLiteral {
    Small(i64),
    Big(Vec<u8>),
}

/// A two's-complement little-endian integer (LONG1/LONG4), small or big.
pub(crate) fn long_from_bytes(bytes: &[u8]) -> IntLiteral {
    if bytes.is_empty() {
        return IntLiteral::Small(0);
    }
    if bytes.len() <= 8 {
        let fill = if bytes[bytes.len() - 1] & 0x80 != 0 { 0xFF } else { 0 };
        let mut buf = [fill; 8];
        buf[..bytes.len()].copy_from_slice(bytes);
        return IntLiteral::Small(i64::from_le_bytes(buf));
    }
    IntLiteral::Big(bytes.to_vec())
}

/// Decodes a protocol 0 `S` operand: a quoted Python 2 string literal.
pub(crate) fn parse_string_literal(line: &[u8], opcode: &'static str) -> Result<Vec<u8>, ErrorKind> {
    let bad = |why: &str| ErrorKind::BadOperand { opcode, why: why.to_string() };
    let quote = *line.first().ok_or_else(|| bad("empty string literal"))?;
    if line.len() < 2 || (quote != b'\'' && quote != b'"') || line[line.len() - 1] != quote {
        return Err(bad("string literal is not quoted"));
    }
    let body = &line[1..line.len() - 1];
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let b = body[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let e = *body.get(i).ok_or_else(|| bad("dangling escape"))?;
        i += 1;
        match e {
            b'n' => out.push(b'\n'),
            b't' => out.push(b'\t'),
            b'r' => out.push(b'\r'),
            b'0' => out.push(0),
            b'\\' | b'\'' | b'"' => out.push(e),
            b'x' => {
                let hex = body.get(i..i + 2).ok_or_else(|| bad("short \\x escape"))?;
                let text = std::str::from_utf8(hex).map_err(|_| bad("bad \\x escape"))?;
                out.push(u8::from_str_radix(text, 16).map_err(|_| bad("bad \\x escape"))?);
                i += 2;
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// Decodes a protocol 0 `V` operand (raw-unicode-escape: latin-1 bytes with
/// `\uXXXX` and `\UXXXXXXXX` escapes).
pub(crate) fn parse_raw_unicode(line: &[u8], opcode: &'static str) -> Result<String, ErrorKind> {
    let bad = || ErrorKind::BadOperand { opcode, why: "bad \\u escape".into() };
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        let width = match (b, line.get(i + 1)) {
            (b'\\', Some(b'u')) => 4,
            (b'\\', Some(b'U')) => 8,
            _ => 0,
        };
        if width == 0 {
            out.push(b as char);
            i += 1;
            continue;
        }
        let hex = line.get(i + 2..i + 2 + width).ok_or_else(bad)?;
        let text = std::str::from_utf8(hex).map_err(|_| bad())?;
        let code = u32::from_str_radix(text, 16).map_err(|_| bad())?;
        out.push(char::from_u32(code).ok_or_else(bad)?);
        i += 2 + width;
    }
    Ok(out)
}
