//! The one JSON reader for files Python writes: pose files, scheduler and
//! model configurations, dump manifests and records. Besides standard JSON
//! it accepts the bare `NaN`, `Infinity` and `-Infinity` tokens that
//! Python's `json.dump` writes (diffusers saves `"lambda_min_clipped":
//! -Infinity`), so such a file is read, and a non-finite value in it is
//! judged by the checks instead of the file being called unreadable. The
//! tokens are recognised only where a value starts: inside strings they are
//! text. Numbers follow Python's grammar (no leading zeros, no `+`), integers
//! keep their exact value. Errors carry the byte offset; nesting is bounded.
//! [`super::lenient_serde`] deserializes typed values from the tree.

use std::fmt;

/// Containers nested deeper than this are refused (real pose files nest 3 deep).
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    /// An integer literal that fits `i128` (Python keeps any integer exact).
    Integer(i128),
    /// A literal with a fraction or exponent, a longer integer, or a Python token.
    Number(f64),
    String(String),
    Array(Vec<Json>),
    /// Members in file order.
    Object(Vec<(String, Json)>),
}

impl Json {
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Json::Integer(i) => Some(*i as f64),
            Json::Number(x) => Some(*x),
            _ => None,
        }
    }
}

/// Where and why reading stopped.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonError {
    pub offset: u64,
    /// 1-based line and column (in bytes) of `offset`.
    pub line: u64,
    pub column: u64,
    pub message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at line {} column {} (byte {})", self.message, self.line, self.column, self.offset)
    }
}

pub fn parse(bytes: &[u8]) -> Result<Json, JsonError> {
    let mut reader = Reader { s: bytes, i: 0 };
    // A UTF-8 byte order mark is tolerated, as Python's reader does with utf-8-sig.
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        reader.i = 3;
    }
    let value = reader.value(0)?;
    reader.ws();
    if reader.i < bytes.len() {
        return Err(reader.error("unexpected data after the JSON value"));
    }
    Ok(value)
}

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl Reader<'_> {
    fn error(&self, message: &str) -> JsonError {
        self.error_at(self.i, message)
    }

    fn error_at(&self, at: usize, message: &str) -> JsonError {
        let before = &self.s[..at.min(self.s.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        JsonError { offset: at as u64, line, column: (at - line_start) as u64 + 1, message: message.to_string() }
    }

    fn ws(&mut self) {
        while matches!(self.s.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.ws();
        let Some(&b) = self.s.get(self.i) else { return Err(self.error("unexpected end of file")) };
        match b {
            b'{' | b'[' if depth >= MAX_DEPTH => Err(self.error("nesting deeper than 64 levels")),
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'"' => self.string().map(Json::String),
            b't' if self.literal(b"true") => Ok(Json::Bool(true)),
            b'f' if self.literal(b"false") => Ok(Json::Bool(false)),
            b'n' if self.literal(b"null") => Ok(Json::Null),
            b'N' if self.literal(b"NaN") => Ok(Json::Number(f64::NAN)),
            b'I' if self.literal(b"Infinity") => Ok(Json::Number(f64::INFINITY)),
            b'-' if self.literal(b"-Infinity") => Ok(Json::Number(f64::NEG_INFINITY)),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(self.error("expected a JSON value")),
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.i += 1;
        let mut members = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b'}') {
            self.i += 1;
            return Ok(Json::Object(members));
        }
        loop {
            self.ws();
            if self.s.get(self.i) != Some(&b'"') {
                return Err(self.error("expected a string key"));
            }
            let key = self.string()?;
            self.ws();
            if self.s.get(self.i) != Some(&b':') {
                return Err(self.error("expected ':'"));
            }
            self.i += 1;
            let value = self.value(depth + 1)?;
            members.push((key, value));
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b'}') => {
                    self.i += 1;
                    return Ok(Json::Object(members));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.i += 1;
        let mut items = Vec::new();
        self.ws();
        if self.s.get(self.i) == Some(&b']') {
            self.i += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.ws();
            match self.s.get(self.i) {
                Some(b',') => self.i += 1,
                Some(b']') => {
                    self.i += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn number(&mut self) -> Result<Json, JsonError> {
        let start = self.i;
        self.i += usize::from(self.s[self.i] == b'-');
        let digits = |r: &mut Self| {
            let from = r.i;
            while r.s.get(r.i).is_some_and(u8::is_ascii_digit) {
                r.i += 1;
            }
            r.i - from
        };
        // Python's grammar: `0` or a digit string not starting with 0.
        let int_start = self.i;
        let int_digits = digits(self);
        if int_digits == 0 || (int_digits > 1 && self.s[int_start] == b'0') {
            return Err(self.error_at(int_start, "malformed number"));
        }
        let mut integer = true;
        if self.s.get(self.i) == Some(&b'.') {
            self.i += 1;
            integer = false;
            if digits(self) == 0 {
                return Err(self.error("malformed number"));
            }
        }
        if matches!(self.s.get(self.i), Some(b'e' | b'E')) {
            self.i += 1;
            integer = false;
            if matches!(self.s.get(self.i), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if digits(self) == 0 {
                return Err(self.error("malformed number"));
            }
        }
        // The slice is ASCII digits, signs, '.' and 'e' only.
        let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
        if integer && let Ok(value) = text.parse::<i128>() {
            return Ok(Json::Integer(value));
        }
        text.parse::<f64>().map(Json::Number).map_err(|_| self.error_at(start, "malformed number"))
    }

    fn string(&mut self) -> Result<String, JsonError> {
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(&b) = self.s.get(self.i) else { return Err(self.error("unterminated string")) };
            self.i += 1;
            match b {
                b'"' => break,
                b'\\' => {
                    let Some(&esc) = self.s.get(self.i) else { return Err(self.error("unterminated string")) };
                    self.i += 1;
                    let simple = match esc {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b'f' => 12,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            let c = self.unicode_escape()?;
                            out.extend(c.encode_utf8(&mut [0; 4]).as_bytes());
                            continue;
                        }
                        _ => return Err(self.error("invalid escape")),
                    };
                    out.push(simple);
                }
                0..=0x1F => return Err(self.error("control character in string")),
                _ => out.push(b),
            }
        }
        String::from_utf8(out).map_err(|_| self.error("string is not UTF-8"))
    }

    fn hex4(&mut self) -> Result<u32, JsonError> {
        let digits = self.s.get(self.i..self.i + 4).ok_or_else(|| self.error("short \\u escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.error("invalid \\u escape"))?;
        let value = u32::from_str_radix(text, 16).map_err(|_| self.error("invalid \\u escape"))?;
        self.i += 4;
        Ok(value)
    }

    fn unicode_escape(&mut self) -> Result<char, JsonError> {
        let high = self.hex4()?;
        if (0xD800..0xDC00).contains(&high) && self.literal(b"\\u") {
            let low = self.hex4()?;
            if (0xDC00..0xE000).contains(&low) {
                let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
                return Ok(char::from_u32(code).unwrap_or('\u{FFFD}'));
            }
        }
        Ok(char::from_u32(high).unwrap_or('\u{FFFD}'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_python_nan_tokens() {
        let v = parse(br#"{"a": [1, NaN, Infinity, -Infinity, -2.5e1], "s": "x\u00e9\n"}"#).unwrap();
        let Json::Array(items) = v.get("a").unwrap() else { panic!() };
        assert!(items[1].as_f64().unwrap().is_nan());
        assert_eq!(items[2].as_f64(), Some(f64::INFINITY));
        assert_eq!(items[3].as_f64(), Some(f64::NEG_INFINITY));
        assert_eq!(items[4].as_f64(), Some(-25.0));
        assert_eq!(items[0], Json::Integer(1));
        assert_eq!(v.get("s"), Some(&Json::String("xé\n".into())));
    }

    #[test]
    fn tokens_inside_strings_stay_text() {
        let v = parse(br#"{"NaN": "Infinity", "k": "-Infinity, NaN", "n": -Infinity}"#).unwrap();
        assert_eq!(v.get("NaN"), Some(&Json::String("Infinity".into())));
        assert_eq!(v.get("k"), Some(&Json::String("-Infinity, NaN".into())));
        assert_eq!(v.get("n").and_then(Json::as_f64), Some(f64::NEG_INFINITY));
    }

    #[test]
    fn numbers_follow_python_grammar() {
        assert_eq!(parse(b"18446744073709551617").unwrap(), Json::Integer(18_446_744_073_709_551_617));
        assert_eq!(parse(b"-0").unwrap(), Json::Integer(0));
        assert_eq!(parse(b"1e400").unwrap(), Json::Number(f64::INFINITY));
        for bad in ["01", "+1", "1.", ".5", "-", "nan", "inf", "-NaN", "Infinityx", "1e"] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_carry_offsets() {
        assert_eq!(parse(b"{\"a\": [1, 2,]}").unwrap_err().offset, 12);
        assert_eq!(parse(b"{\"a\": 1").unwrap_err().offset, 7);
        let err = parse(b"{\n  \"a\": [1,\n   x]}").unwrap_err();
        assert_eq!((err.line, err.column, err.offset), (3, 4, 16));
        assert_eq!(err.to_string(), "expected a JSON value at line 3 column 4 (byte 16)");
        assert!(parse(b"[1] x").is_err());
        let deep = "[".repeat(100_000);
        assert!(parse(deep.as_bytes()).unwrap_err().message.contains("nesting"));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn agrees_with_serde_on_finite_json(x in -1e6f64..1e6, y in proptest::collection::vec(0u32..1000, 0..10)) {
            let text = serde_json::json!({"x": x, "y": y}).to_string();
            let ours = parse(text.as_bytes()).unwrap();
            proptest::prop_assert_eq!(ours.get("x").and_then(Json::as_f64), Some(x));
        }
    }
}
