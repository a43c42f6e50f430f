//! The run parameters a log states: size, steps, guidance, seed, fps and
//! frames, from `key=value`, `key: value`, `--key value` and `-W 768` forms,
//! `768x768`-style sizes after a size keyword, and EchoMimicV2's
//! `latents shape:torch.Size([1, 4, L, H/8, W/8]), video_length:L` line.

use serde::Serialize;

/// Parameter keywords for the block search.
pub(crate) const NEEDLES: &[&str] = &[
    "steps",
    "cfg",
    "guidance",
    "seed",
    "fps",
    "width",
    "height",
    "frames",
    "length",
    "latents shape",
    "-w ",
    "-h ",
    "-l ",
    "size",
];

/// A value and the 1-based line that first stated it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stated<T> {
    pub value: T,
    pub line: u64,
}

/// The parameters a log states; each keeps the first value seen.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[non_exhaustive]
pub struct RunParameters {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<Stated<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<Stated<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub steps: Option<Stated<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cfg: Option<Stated<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<Stated<u64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fps: Option<Stated<f64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frames: Option<Stated<u64>>,
}

impl RunParameters {
    /// Whether the log stated none of them.
    pub fn is_empty(&self) -> bool {
        *self == RunParameters::default()
    }

    /// Name and value of each stated parameter, in a fixed order.
    pub fn rows(&self) -> Vec<(&'static str, String, u64)> {
        let mut rows = Vec::new();
        let mut int = |name, p: Option<Stated<u64>>| {
            if let Some(p) = p {
                rows.push((name, p.value.to_string(), p.line));
            }
        };
        int("width", self.width);
        int("height", self.height);
        int("steps", self.steps);
        int("seed", self.seed);
        int("frames", self.frames);
        for (name, p) in [("cfg", self.cfg), ("fps", self.fps)] {
            if let Some(p) = p {
                rows.push((name, crate::report::fmt_num(p.value), p.line));
            }
        }
        rows
    }

    /// Reads what `line` (lower-cased) states.
    pub(crate) fn read_line(&mut self, line: &str, number: u64) {
        if let Some(shape) = latents_shape(line) {
            set(&mut self.frames, shape.0, number);
            set(&mut self.height, shape.1, number);
            set(&mut self.width, shape.2, number);
        }
        for (key, value) in pairs(line) {
            match key {
                "w" | "width" => set_int(&mut self.width, value, number),
                "h" | "height" => set_int(&mut self.height, value, number),
                "steps" | "num_inference_steps" | "inference_steps" | "sampling_steps" => {
                    set_int(&mut self.steps, value, number)
                }
                "cfg" | "guidance_scale" | "cfg_scale" | "guidance" => set_float(&mut self.cfg, value, number),
                "seed" => set_int(&mut self.seed, value, number),
                "fps" => set_float(&mut self.fps, value, number),
                "l" | "length" | "video_length" | "num_frames" | "frames" => set_int(&mut self.frames, value, number),
                "size" | "resolution" => {
                    if let Some((w, h)) =
                        value.split_once('x').and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
                    {
                        set(&mut self.width, w, number);
                        set(&mut self.height, h, number);
                    }
                }
                _ => {}
            }
        }
    }
}

fn set<T>(slot: &mut Option<Stated<T>>, value: T, line: u64) {
    if slot.is_none() {
        *slot = Some(Stated { value, line });
    }
}

fn set_int(slot: &mut Option<Stated<u64>>, value: &str, line: u64) {
    if let Ok(v) = value.parse::<u64>() {
        set(slot, v, line);
    }
}

fn set_float(slot: &mut Option<Stated<f64>>, value: &str, line: u64) {
    if let Ok(v) = value.parse::<f64>()
        && v.is_finite()
    {
        set(slot, v, line);
    }
}

/// `(frames, height, width)` from `latents shape:torch.size([1, 4, l, h/8, w/8])`.
fn latents_shape(line: &str) -> Option<(u64, u64, u64)> {
    let at = line.find("latents shape")?;
    let rest = &line[at..];
    let open = rest.find('[')?;
    let close = rest[open..].find(']')? + open;
    let dims: Vec<u64> = rest[open + 1..close].split(',').filter_map(|d| d.trim().parse().ok()).collect();
    match dims[..] {
        [_, _, frames, h, w] => Some((frames, h.checked_mul(8)?, w.checked_mul(8)?)),
        _ => None,
    }
}

/// `key value` pairs: `key=value`, `key: value`, `"key": value`, `--key value`, `-k value`.
fn pairs(line: &str) -> Vec<(&str, &str)> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if !(bytes[i].is_ascii_alphabetic() || bytes[i] == b'_') || (i > 0 && is_word(bytes[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && is_word(bytes[i]) {
            i += 1;
        }
        let key = &line[start..i];
        let dashed = start > 0 && bytes[start - 1] == b'-';
        let mut j = i;
        if j < bytes.len() && bytes[j] == b'"' {
            j += 1;
        }
        let separated = match bytes.get(j) {
            Some(b'=') | Some(b':') => {
                j += 1;
                true
            }
            Some(b' ') => dashed,
            _ => false,
        };
        if !separated {
            continue;
        }
        while j < bytes.len() && (bytes[j] == b' ' || bytes[j] == b'"' || bytes[j] == b'\'') {
            j += 1;
        }
        let vstart = j;
        while j < bytes.len() && (bytes[j].is_ascii_digit() || matches!(bytes[j], b'.' | b'x')) {
            j += 1;
        }
        if j > vstart {
            out.push((key, line[vstart..j].trim_end_matches('.')));
        }
        i = j.max(i);
    }
    out
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_form() {
        let mut p = RunParameters::default();
        p.read_line("namespace(config='x', w=768, h=768, l=240, seed=3407, cfg=2.5, steps=30, fps=24)", 3);
        p.read_line("latents shape:torch.size([1, 4, 120, 96, 96]), video_length:120", 9);
        assert_eq!(p.width, Some(Stated { value: 768, line: 3 }));
        assert_eq!(p.frames.map(|s| s.value), Some(240));
        assert_eq!(p.cfg.map(|s| s.value), Some(2.5));
        assert_eq!(p.fps.map(|s| s.value), Some(24.0));
        let mut q = RunParameters::default();
        q.read_line("python infer_acc.py -w 512 -h 512 --steps 6 --cfg 1.0", 1);
        q.read_line("{\"size\": \"512x512\", \"num_inference_steps\": 6}", 2);
        assert_eq!(
            (q.width.map(|s| s.value), q.steps.map(|s| s.value), q.cfg.map(|s| s.value)),
            (Some(512), Some(6), Some(1.0))
        );
        let mut r = RunParameters::default();
        r.read_line("latents shape:torch.size([1, 4, 120, 64, 96]), video_length:120", 5);
        assert_eq!((r.width.map(|s| s.value), r.height.map(|s| s.value)), (Some(768), Some(512)));
    }
}
