//! A Jupyter notebook read as the log of its run. A notebook saved after its
//! cells ran keeps what each printed (`stream` outputs), the traceback of an
//! exception that stopped one (`error` outputs, in terminal colours) and the
//! text of the values it showed, cell by cell. Joined in the order the cells
//! ran (their execution counts), that is the console the run would have
//! written to a log, and the log check reads it as such; each line keeps the
//! line of the notebook file it came from and the cell (`In [9]`).
//!
//! The code cells' string assignments (`pose_path = './assets/…'`) are kept
//! too: what a notebook reads is often set that way, not printed. And the
//! shell commands a cell ran (`!python infer.py --config …`, `%run`, a
//! `%%bash` cell) go into the console before the cell's outputs, as a
//! terminal shows them (`$ python infer.py …`): a notebook that runs an
//! entry point that way is that entry point's log.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use crate::formats::lenient_json::{self, Json};

/// Notebooks larger than this are not read (outputs can embed images and
/// videos; their text is a small part of the file).
pub const MAX_BYTES: u64 = 256 << 20;

/// Whether a file's first bytes open a Jupyter notebook: a JSON object whose
/// keys include `cells` with a `cell_type`, or `nbformat` (Jupyter writes the
/// cells first, Colab the format first).
pub fn looks_like(head: &[u8]) -> bool {
    let text = head.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(head);
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    if start.is_none_or(|i| text[i] != b'{') {
        return false;
    }
    let has = |needle: &[u8]| text.windows(needle.len()).any(|w| w == needle);
    (has(b"\"cells\"") && has(b"\"cell_type\"")) || has(b"\"nbformat\"")
}

/// Where a line of the console came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Place {
    /// 1-based line of the notebook file.
    pub line: u64,
    /// The execution count of its cell (`In [9]`), when it has one.
    pub cell: Option<u64>,
}

/// `name = 'value'` in a code cell that ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub name: String,
    pub value: String,
    pub place: Place,
}

/// How much of a notebook ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub nbformat: u64,
    pub code_cells: usize,
    /// Code cells with an execution count or outputs.
    pub cells_run: usize,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Jupyter notebook (nbformat {}), {} of {} code cells ran", self.nbformat, self.cells_run, self.code_cells)
    }
}

/// What a notebook's run printed, and how much of it ran.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Console {
    /// The outputs' text, a newline after each line.
    pub text: String,
    /// One per line of `text`.
    pub places: Vec<Place>,
    pub summary: Summary,
    pub assignments: Vec<Assignment>,
    /// The shell commands the cells that ran ran, in order.
    pub commands: Vec<String>,
}

impl Console {
    /// The first Python script a cell ran from the shell, with its
    /// arguments: `infer.py --config ./configs/prompts/infer.yaml` for
    /// `!cd /content/echomimic_v2 && python infer.py --config …`.
    pub fn script(&self) -> Option<String> {
        self.commands.iter().flat_map(|c| c.split(['&', ';', '|'])).find_map(|part| {
            let words: Vec<&str> = part.split_whitespace().collect();
            let python = words.iter().position(|w| {
                let name = w.rsplit('/').next().unwrap_or(w);
                name == "python" || name.strip_prefix("python3").is_some_and(|v| v.chars().all(|c| c.is_ascii_digit() || c == '.'))
            })?;
            let rest = &words[python + 1..];
            rest.first().is_some_and(|w| w.ends_with(".py")).then(|| rest.join(" "))
        })
    }

    fn push(&mut self, text: &str, place: Place) {
        let text = strip_ansi(text);
        for line in text.lines() {
            let line = python_header(line).unwrap_or(line);
            self.text.push_str(line);
            self.text.push('\n');
            self.places.push(place);
        }
    }
}

/// Why a file's notebook console was not read.
#[derive(Debug, Clone, PartialEq)]
pub enum Unread {
    /// It cannot be read, or its first bytes open no notebook.
    NotANotebook,
    /// It is larger than [`MAX_BYTES`].
    TooLarge,
    /// It opens as a notebook, then does not parse as one (cut off while saved).
    Malformed(String),
}

/// The console of the notebook at `path`.
pub fn read(path: &Path) -> Result<Console, Unread> {
    let mut file = std::fs::File::open(path).map_err(|_| Unread::NotANotebook)?;
    let mut head = [0u8; 4096];
    let n = file.read(&mut head).map_err(|_| Unread::NotANotebook)?;
    if !looks_like(&head[..n]) {
        return Err(Unread::NotANotebook);
    }
    read_from(std::io::Cursor::new(&head[..n]).chain(file)).map(|(console, _)| console).map_err(|(why, _)| why)
}

/// The console of the notebook `reader` holds, read whole, and its size in
/// bytes; when it cannot be read whole, is larger than [`MAX_BYTES`] or is
/// not a notebook, why, and the bytes read.
pub fn read_from<R: Read>(reader: R) -> Result<(Console, u64), (Unread, Vec<u8>)> {
    let mut bytes = Vec::new();
    if reader.take(MAX_BYTES + 1).read_to_end(&mut bytes).is_err() {
        return Err((Unread::NotANotebook, bytes));
    }
    if bytes.len() as u64 > MAX_BYTES {
        return Err((Unread::TooLarge, bytes));
    }
    match console(&bytes) {
        Ok(console) => Ok((console, bytes.len() as u64)),
        Err(why) => Err((Unread::Malformed(why), bytes)),
    }
}

/// Reads a notebook's console from its whole content.
pub fn console(bytes: &[u8]) -> Result<Console, String> {
    let json = lenient_json::parse(bytes).map_err(|e| format!("not a notebook: {e}"))?;
    let nbformat = json.get("nbformat").and_then(Json::as_f64).filter(|v| v.is_finite() && *v >= 0.0);
    let cells = match (json.get("cells"), json.get("worksheets")) {
        (Some(Json::Array(cells)), _) => cells.iter().collect::<Vec<_>>(),
        // nbformat 3 keeps its cells in worksheets.
        (None, Some(Json::Array(sheets))) => sheets
            .iter()
            .filter_map(|s| match s.get("cells") {
                Some(Json::Array(cells)) => Some(cells.iter()),
                _ => None,
            })
            .flatten()
            .collect(),
        _ => return Err("not a notebook: no list of cells".into()),
    };
    let lines = string_lines(bytes, &json);
    let line_of = |s: &str| lines.get(&s.as_ptr()).copied();
    let mut console = Console::default();
    console.summary.nbformat = nbformat.map_or(0, |v| v as u64);
    // Cells in the order they ran; a cell without a count stays after the one before it.
    let mut order: Vec<(u64, usize, Option<u64>, &Json)> = Vec::new();
    let mut last = 0;
    for (i, cell) in cells.iter().enumerate() {
        if text_of(cell.get("cell_type")).is_some_and(|t| t != "code") {
            continue;
        }
        console.summary.code_cells += 1;
        let count = cell.get("execution_count").or_else(|| cell.get("prompt_number")).and_then(count_of);
        let outputs = match cell.get("outputs") {
            Some(Json::Array(outputs)) => outputs.len(),
            _ => 0,
        };
        if count.is_some() || outputs > 0 {
            console.summary.cells_run += 1;
        }
        last = count.unwrap_or(last);
        order.push((last, i, count, cell));
    }
    order.sort_by_key(|&(last, i, _, _)| (last, i));
    // Where a string's line is unknown, the last known one stands for it.
    let mut at = 1;
    for (_, _, count, cell) in order {
        if count.is_some() {
            read_source(cell, count, &line_of, &mut console);
        }
        let Some(Json::Array(outputs)) = cell.get("outputs") else { continue };
        for output in outputs {
            let mut add = |s: &str| {
                at = line_of(s).unwrap_or(at);
                console.push(s, Place { line: at, cell: count });
            };
            match text_of(output.get("output_type")).unwrap_or("") {
                "stream" => each_string(output.get("text"), &mut add),
                "error" | "pyerr" => {
                    let mut shown = false;
                    let name = text_of(output.get("ename")).unwrap_or("");
                    each_string(output.get("traceback"), &mut |s: &str| {
                        shown |= strip_ansi(s).lines().any(|l| !name.is_empty() && l.starts_with(&format!("{name}:")));
                        add(s);
                    });
                    // A front end may save the exception without its traceback.
                    if !shown && !name.is_empty() {
                        let value = text_of(output.get("evalue")).unwrap_or("");
                        at = line_of(name).unwrap_or(at);
                        console.push(&format!("{name}: {value}"), Place { line: at, cell: count });
                    }
                }
                "execute_result" | "display_data" | "pyout" => {
                    let text = output.get("data").and_then(|d| d.get("text/plain")).or_else(|| output.get("text"));
                    each_string(text, &mut add);
                }
                _ => {}
            }
        }
    }
    Ok(console)
}

/// IPython's traceback header (`OutOfMemoryError      Traceback (most
/// recent call last)`) as Python writes it: the exception is named once, on
/// the line that ends the traceback.
fn python_header(line: &str) -> Option<&'static str> {
    let name = line.trim_end().strip_suffix("Traceback (most recent call last)")?.trim();
    let dotted = !name.is_empty() && name.split('.').all(|part| {
        part.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
            && part.chars().all(|c| c.is_alphanumeric() || c == '_')
    });
    dotted.then_some("Traceback (most recent call last):")
}

fn text_of(json: Option<&Json>) -> Option<&str> {
    match json {
        Some(Json::String(s)) => Some(s),
        _ => None,
    }
}

fn count_of(json: &Json) -> Option<u64> {
    match json {
        Json::Integer(n) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// A multiline string field: a string, or a list of strings (nbformat
/// saves text split into lines, a traceback as one string a line).
fn each_string(json: Option<&Json>, f: &mut dyn FnMut(&str)) {
    match json {
        Some(Json::String(s)) => f(s),
        Some(Json::Array(items)) => items.iter().for_each(|item| {
            if let Json::String(s) = item {
                f(s);
            }
        }),
        _ => {}
    }
}

/// What a code cell's source says: its string assignments (`name =
/// 'value'` or `"value"`, alone on a line, indented under an `if` too) and
/// its shell commands, which go into the console as a terminal shows them.
fn read_source(cell: &Json, count: Option<u64>, line_of: &dyn Fn(&str) -> Option<u64>, console: &mut Console) {
    let mut lines: Vec<(&str, u64)> = Vec::new();
    match cell.get("source").or_else(|| cell.get("input")) {
        Some(Json::String(s)) => lines.extend(s.lines().map(|l| (l, line_of(s).unwrap_or(1)))),
        Some(Json::Array(items)) => {
            for item in items {
                if let Json::String(s) = item {
                    lines.extend(s.lines().map(|l| (l, line_of(s).unwrap_or(1))));
                }
            }
        }
        _ => {}
    }
    let shell_cell = lines.first().is_some_and(|(l, _)| matches!(l.trim(), "%%bash" | "%%sh" | "%%shell"));
    for (i, &(text, line)) in lines.iter().enumerate() {
        let place = Place { line, cell: count };
        if let Some((name, value)) = assignment(text) {
            console.assignments.push(Assignment { name: name.into(), value: value.into(), place });
        }
        let command = match text.trim() {
            _ if shell_cell => (i > 0).then(|| text.trim().to_string()),
            t => t.strip_prefix('!').map(|c| c.trim().to_string()).or_else(|| t.strip_prefix("%run ").map(|c| format!("python {}", c.trim()))),
        };
        if let Some(command) = command.filter(|c| !c.is_empty()) {
            console.push(&format!("$ {command}"), place);
            console.commands.push(command);
        }
    }
}

/// `name = 'value'` or `name = "value"` (a comment after it allowed).
fn assignment(text: &str) -> Option<(&str, &str)> {
    let (name, value) = text.trim().split_once('=')?;
    let name = name.trim();
    let identifier = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !identifier || value.starts_with('=') {
        return None;
    }
    let value = value.trim();
    let value = value.split_once(" #").map_or(value, |(v, _)| v).trim_end();
    let quoted = ['\'', '"'].iter().find_map(|&q| value.strip_prefix(q)?.strip_suffix(q));
    quoted.filter(|v| !v.contains(['\'', '"']))
        .map(|v| (name, v))
}

/// The file line of each non-empty string of `json`, keyed by the address
/// of its text: the strings in file order (keys included) are the string
/// tokens of the file in order, and a JSON string holds no raw newline.
fn string_lines(bytes: &[u8], json: &Json) -> HashMap<*const u8, u64> {
    let mut tokens = Vec::new();
    let (mut line, mut i) = (1u64, 0usize);
    while i < bytes.len() {
        match bytes[i] {
            b'\n' => line += 1,
            b'"' => {
                tokens.push(line);
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            _ => {}
        }
        i += 1;
    }
    let mut strings: Vec<&str> = Vec::new();
    in_order(json, &mut strings);
    if strings.len() != tokens.len() {
        return HashMap::new();
    }
    strings.into_iter().zip(tokens).filter(|(s, _)| !s.is_empty()).map(|(s, line)| (s.as_ptr(), line)).collect()
}

fn in_order<'a>(json: &'a Json, out: &mut Vec<&'a str>) {
    match json {
        Json::String(s) => out.push(s),
        Json::Array(items) => items.iter().for_each(|item| in_order(item, out)),
        Json::Object(members) => {
            for (key, value) in members {
                out.push(key);
                in_order(value, out);
            }
        }
        _ => {}
    }
}

/// `text` without terminal colour and cursor sequences (`ESC [ … letter`),
/// which IPython's tracebacks are full of.
pub fn strip_ansi(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.contains('\u{1b}') {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'[') {
            chars.next();
            // Parameters and intermediates, then one final byte.
            for c in chars.by_ref() {
                if ('\u{40}'..='\u{7e}').contains(&c) {
                    break;
                }
            }
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A notebook as Jupyter saves one (one-space indent, text split into lines).
    fn saved(cells: serde_json::Value) -> Vec<u8> {
        let nb = serde_json::json!({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5});
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, serde_json::ser::PrettyFormatter::with_indent(b" "));
        serde::Serialize::serialize(&nb, &mut ser).unwrap();
        out
    }

    fn file_line(bytes: &[u8], needle: &str) -> u64 {
        let text = String::from_utf8_lossy(bytes);
        text.lines().position(|l| l.contains(needle)).unwrap() as u64 + 1
    }

    #[test]
    fn outputs_are_read_in_the_order_the_cells_ran_with_their_lines() {
        let nb = saved(serde_json::json!([
            {"cell_type": "markdown", "metadata": {}, "source": ["# Demo"]},
            {"cell_type": "code", "execution_count": 3, "metadata": {}, "outputs": [
                {"name": "stdout", "output_type": "stream", "text": ["Pose: ./pose/good\n", "Audio: a.wav\n"]}
            ], "source": ["print('Pose:', pose_path)"]},
            {"cell_type": "code", "execution_count": 2, "metadata": {}, "outputs": [
                {"name": "stdout", "output_type": "stream", "text": ["using motion module\n"]}
            ], "source": ["pose_path = './pose/good'  # the poses\n", "if x:\n", "  audio_path = \"a.wav\"\n", "y == 'no'"]},
            {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": ["ref = 'never.png'"]}
        ]));
        let console = console(&nb).unwrap();
        assert_eq!(console.text, "using motion module\nPose: ./pose/good\nAudio: a.wav\n");
        assert_eq!(console.places.first().copied(), Some(Place { line: file_line(&nb, "using motion"), cell: Some(2) }));
        assert_eq!(console.places.get(2).copied(), Some(Place { line: file_line(&nb, "Audio: a.wav"), cell: Some(3) }));
        assert_eq!(console.places.get(3).copied(), None);
        assert_eq!(console.summary, Summary { nbformat: 4, code_cells: 3, cells_run: 2 });
        let set: Vec<(&str, &str)> = console.assignments.iter().map(|a| (a.name.as_str(), a.value.as_str())).collect();
        assert_eq!(set, [("pose_path", "./pose/good"), ("audio_path", "a.wav")]);
        assert_eq!(console.assignments[0].place.line, file_line(&nb, "pose_path = "));
    }

    #[test]
    fn a_traceback_is_read_without_its_colours_and_keeps_its_exception_line() {
        let nb = saved(serde_json::json!([
            {"cell_type": "code", "execution_count": 9, "metadata": {}, "source": [], "outputs": [
                {"ename": "OutOfMemoryError", "evalue": "CUDA out of memory.", "output_type": "error", "traceback": [
                    "\u{1b}[0;31m---------------------------------------------------------------------------\u{1b}[0m",
                    "\u{1b}[0;31mOutOfMemoryError\u{1b}[0m                          Traceback (most recent call last)",
                    "Cell \u{1b}[0;32mIn[9], line 41\u{1b}[0m\n\u{1b}[0;32m---> 41\u{1b}[0m video \u{1b}[38;5;241m=\u{1b}[39m pipe(\n",
                    "\u{1b}[0;31mOutOfMemoryError\u{1b}[0m: CUDA out of memory."
                ]},
                {"ename": "SystemExit", "evalue": "motion module not found", "output_type": "error", "traceback": []}
            ]}
        ]));
        let console = console(&nb).unwrap();
        let lines: Vec<&str> = console.text.lines().collect();
        assert_eq!(lines[1], "Traceback (most recent call last):");
        assert_eq!(lines[3], "---> 41 video = pipe(");
        assert_eq!(lines[4], "OutOfMemoryError: CUDA out of memory.");
        assert_eq!(lines[5], "SystemExit: motion module not found");
        assert!(console.places.iter().all(|p| p.cell == Some(9)));
        assert_eq!(console.places.get(2).copied().unwrap().line, console.places.get(3).copied().unwrap().line);
    }

    #[test]
    fn a_minified_colab_notebook_and_nbformat_3_are_read() {
        let colab = br#"{"nbformat":4,"nbformat_minor":0,"metadata":{},"cells":[{"cell_type":"code","execution_count":1,"source":"print(1)","outputs":[{"output_type":"stream","name":"stdout","text":"1\nusing motion module\n"},{"output_type":"execute_result","execution_count":1,"data":{"text/plain":["tensor([nan, nan])"]},"metadata":{}}]}]}"#;
        assert!(looks_like(colab));
        let console = console(colab).unwrap();
        assert_eq!(console.text, "1\nusing motion module\ntensor([nan, nan])\n");
        assert!(console.places.iter().all(|p| p.line == 1));
        let v3 = br#"{"metadata":{},"nbformat":3,"worksheets":[{"cells":[{"cell_type":"code","prompt_number":4,"input":"x = 'a.png'","outputs":[{"output_type":"pyerr","ename":"ValueError","evalue":"bad","traceback":[]}]}]}]}"#;
        let console = super::console(v3).unwrap();
        assert_eq!(console.text, "ValueError: bad\n");
        assert_eq!(console.assignments[0].value, "a.png");
    }

    #[test]
    fn shell_commands_are_in_the_console_and_name_the_script_they_ran() {
        let nb = saved(serde_json::json!([
            {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [], "source": [
                "!git clone https://github.com/antgroup/echomimic_v2\n", "%cd echomimic_v2\n", "!pip install -r requirements.txt"
            ]},
            {"cell_type": "code", "execution_count": 2, "metadata": {}, "source": [
                "!cd /content/echomimic_v2 && /usr/bin/python3.10 infer_acc.py --config ./configs/prompts/infer_acc.yaml"
            ], "outputs": [{"name": "stdout", "output_type": "stream", "text": ["Pose: ./pose/01\n"]}]},
            {"cell_type": "code", "execution_count": 3, "metadata": {}, "outputs": [], "source": ["%%bash\n", "nvidia-smi\n"]},
            {"cell_type": "code", "execution_count": 4, "metadata": {}, "outputs": [], "source": ["%run app.py"]}
        ]));
        let console = console(&nb).unwrap();
        let lines: Vec<&str> = console.text.lines().collect();
        assert_eq!(lines, [
            "$ git clone https://github.com/antgroup/echomimic_v2",
            "$ pip install -r requirements.txt",
            "$ cd /content/echomimic_v2 && /usr/bin/python3.10 infer_acc.py --config ./configs/prompts/infer_acc.yaml",
            "Pose: ./pose/01",
            "$ nvidia-smi",
            "$ python app.py",
        ]);
        assert_eq!(console.places[2].line, file_line(&nb, "/usr/bin/python3.10 infer_acc.py"));
        assert_eq!(console.script().as_deref(), Some("infer_acc.py --config ./configs/prompts/infer_acc.yaml"));
        let cells_only = Console { commands: vec!["pip install x".into(), "python -m pip list".into()], ..Console::default() };
        assert_eq!(cells_only.script(), None);
    }

    #[test]
    fn other_json_is_no_notebook() {
        assert!(!looks_like(b"{\"_class_name\": \"UNet2DConditionModel\"}"));
        assert!(!looks_like(b"cells nbformat"));
        assert!(looks_like(b"\xEF\xBB\xBF\n{\n \"cells\": [\n  {\n   \"cell_type\": \"code\""));
        assert!(console(b"{\"nbformat\": 4}").is_err());
        assert!(console(b"{\"cells\": [").is_err());
        assert_eq!(strip_ansi("\u{1b}[38;5;241m=\u{1b}[39m x\u{1b}"), "= x");
    }
}
