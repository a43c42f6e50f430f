//! The timestamp at the start of a log line, when it has one: ISO-like
//! `2025-03-01 12:00:03,412` / `2025-03-01T12:00:03.412Z`, or a bare
//! `12:00:03` clock, within the first 64 bytes (after a `[` or a level).

/// The timestamp text found in `head`, as written.
pub(crate) fn find(head: &[u8]) -> Option<String> {
    let head = &head[..head.len().min(64)];
    (0..head.len())
        .find_map(|at| date_time(&head[at..]).or_else(|| clock(&head[at..])))
        .map(|bytes| String::from_utf8_lossy(bytes).into_owned())
}

/// `line` without the timestamp it starts with (after an optional `[`),
/// or all of it when it starts with none.
pub(crate) fn strip(line: &str) -> &str {
    let bytes = line.as_bytes();
    let open = usize::from(bytes.first() == Some(&b'['));
    let stamp = date_time(&bytes[open..]).or_else(|| clock(&bytes[open..]));
    // A timestamp is ASCII, so its end is a character boundary.
    stamp.map_or(line, |s| &line[open + s.len()..])
}

/// `YYYY-MM-DD[ T]HH:MM:SS` with an optional fraction and zone.
fn date_time(s: &[u8]) -> Option<&[u8]> {
    let shape = b"dddd-dd-dd";
    if s.len() < 19 || !matches_shape(&s[..10], shape) || !matches!(s[10], b' ' | b'T') {
        return None;
    }
    let time = clock(&s[11..])?;
    let mut end = 11 + time.len();
    if s.get(end) == Some(&b'Z') {
        end += 1;
    }
    Some(&s[..end])
}

/// `HH:MM:SS` with an optional `.fff`/`,fff` fraction.
fn clock(s: &[u8]) -> Option<&[u8]> {
    if s.len() < 8 || !matches_shape(&s[..8], b"dd:dd:dd") {
        return None;
    }
    let mut end = 8;
    if matches!(s.get(8), Some(b'.') | Some(b',')) && s.get(9).is_some_and(u8::is_ascii_digit) {
        end = 9;
        while s.get(end).is_some_and(u8::is_ascii_digit) {
            end += 1;
        }
    }
    Some(&s[..end])
}

fn matches_shape(s: &[u8], shape: &[u8]) -> bool {
    s.len() == shape.len() && s.iter().zip(shape).all(|(&c, &k)| if k == b'd' { c.is_ascii_digit() } else { c == k })
}

#[cfg(test)]
mod tests {
    use super::find;

    #[test]
    fn finds_common_forms() {
        assert_eq!(find(b"2025-03-01 12:00:03,412 - WARNING - x").as_deref(), Some("2025-03-01 12:00:03,412"));
        assert_eq!(find(b"[2025-03-01T12:00:03.5Z] x").as_deref(), Some("2025-03-01T12:00:03.5Z"));
        assert_eq!(find(b"INFO 12:00:03 x").as_deref(), Some("12:00:03"));
        assert_eq!(find(b"no time here 1:2:3"), None);
    }
}
