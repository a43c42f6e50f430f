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

/// `line` without the write stamps glued inside it. ComfyUI stamps every
/// write to its console and log (`2024-12-16T18:55:49.195834 - `), and
/// `print` writes the text and its newline apart, so a printed line reads
/// `2024-… - latents shape:…, video_length:3362024-… - `: a stamp after the
/// first that runs into the text. Only stamps of that form (`T` between date
/// and time, then ` - `) are taken out; the one the line starts with stays.
/// `None` when the line holds none.
pub(crate) fn unglue(line: &str) -> Option<String> {
    let bytes = line.as_bytes();
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    for (dash, _) in line.match_indices(" - ") {
        // A stamp is 19 bytes, plus a fraction of up to 9 digits.
        let glued = (19..=29).filter_map(|len| dash.checked_sub(len)).find(|&start| {
            start > 0
                && bytes[start + 10] == b'T'
                && date_time(&bytes[start..]).is_some_and(|stamp| start + stamp.len() == dash)
        });
        if let Some(start) = glued.filter(|&start| cuts.last().is_none_or(|&(_, end)| start >= end)) {
            cuts.push((start, dash + 3));
        }
    }
    if cuts.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(line.len());
    let mut from = 0;
    for (start, end) in cuts {
        // Stamps are ASCII, so both ends are character boundaries.
        out.push_str(&line[from..start]);
        from = end;
    }
    out.push_str(&line[from..]);
    out.truncate(out.trim_end().len());
    Some(out)
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
    use super::{find, unglue};

    #[test]
    fn takes_out_the_stamps_comfyui_glues_into_a_line() {
        let printed = "2024-12-16T18:55:08.196120 - latents shape:torch.Size([1, 4, 336, 64, 64]), \
                       video_length:3362024-12-16T18:55:09.195834 - ";
        assert_eq!(
            unglue(printed).as_deref(),
            Some("2024-12-16T18:55:08.196120 - latents shape:torch.Size([1, 4, 336, 64, 64]), video_length:336")
        );
        // print("a", "b"): four writes, four stamps.
        let args = "2024-12-16T18:55:08.1 - a2024-12-16T18:55:08.2 -  2024-12-16T18:55:08.3 - b2024-12-16T18:55:08.4 - ";
        assert_eq!(unglue(args).as_deref(), Some("2024-12-16T18:55:08.1 - a b"));
        for kept in [
            "2024-12-16T18:55:08.196120 - got prompt",
            "2025-03-01 12:00:03,412 - WARNING - x",
            "seen at 2025-03-01 12:00:03 - x",
            "2024-12-16T18:55:0 - short",
            "ééé2024-12-16T18:55:08 -",
        ] {
            assert_eq!(unglue(kept), None, "{kept}");
        }
        assert_eq!(unglue("ééé2024-12-16T18:55:08 - x").as_deref(), Some("éééx"));
    }

    #[test]
    fn finds_common_forms() {
        assert_eq!(find(b"2025-03-01 12:00:03,412 - WARNING - x").as_deref(), Some("2025-03-01 12:00:03,412"));
        assert_eq!(find(b"[2025-03-01T12:00:03.5Z] x").as_deref(), Some("2025-03-01T12:00:03.5Z"));
        assert_eq!(find(b"INFO 12:00:03 x").as_deref(), Some("12:00:03"));
        assert_eq!(find(b"no time here 1:2:3"), None);
    }
}
