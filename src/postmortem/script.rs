//! The entry point a run's logs show running, when it is a script of the
//! folder other than EchoMimicV2's own (`infer.py`, `infer_acc.py`,
//! `app.py`, `app_acc.py`): a wrapper such as a FastAPI server (`api.py`)
//! that builds the pipeline once and generates on each request. Its log
//! names it by the logger Python's `logging` writes under (`INFO:api:…`,
//! the module's `__name__`) or by a traceback frame in it. Its source says
//! which prompt config it loads, which of that config's keys it reads (a
//! wrapper takes its size, steps and inputs from the request, not from
//! `width`, `steps` or `test_cases`) and which pipeline it builds.

use std::io::Read;
use std::path::Path;

use super::discover::{Artifact, ArtifactKind};
use super::prompts::{LogText, components, file_name, shared_tail};

/// The most of a script's source read.
const SOURCE_HEAD: u64 = 1 << 20;

/// EchoMimicV2's own entry points, which the logs they print name otherwise.
const OWN: [&str; 4] = ["infer.py", "infer_acc.py", "app.py", "app_acc.py"];

/// The most scripts a run's logs are read for.
const MOST_NAMED: usize = 8;

/// The levels Python's `logging` names a record by.
const LEVELS: [&str; 5] = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];

/// A script of the folder that ran the generation, and what its source says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Script {
    pub artifact: usize,
    /// Its file name: `api.py`.
    pub name: String,
    /// What shows it ran: "nohup.out:3 logs as `api`".
    pub shown: String,
    /// The YAML files its source names, as written (`./configs/prompts/infer_acc.yaml`).
    pub configs: Vec<String>,
    /// The keys it reads from the configs it loads (`config.denoising_unet_path`);
    /// empty when its source binds no loaded config to a name.
    keys: Vec<String>,
    /// It builds the accelerated pipeline (`pipeline_echomimicv2_acc`), the
    /// normal one, or neither says.
    pub acc: Option<bool>,
    /// It starts when run as `python SCRIPT` (`if __name__ == "__main__":`).
    pub main_guard: bool,
    /// The name of the ASGI app it makes (`app = FastAPI(…)`), which a
    /// server such as uvicorn imports it for.
    pub asgi_app: Option<String>,
}

impl Script {
    /// The script the logs show running, when one log line names one script
    /// of the folder (the first log that names any decides).
    pub(crate) fn of_logs(artifacts: &[Artifact], logs: &[LogText]) -> Option<Script> {
        let scripts: Vec<(usize, &Artifact)> = artifacts
            .iter()
            .enumerate()
            .filter(|(_, a)| a.kind == ArtifactKind::Unknown && a.path.ends_with(".py"))
            .filter(|(_, a)| !OWN.contains(&file_name(&a.path).as_str()))
            .filter(|(_, a)| !components(&a.path).iter().any(|c| *c == "src" || c.ends_with("-packages")))
            .collect();
        if scripts.is_empty() {
            return None;
        }
        // Each script the logs name, first where first named.
        let mut named: Vec<(usize, String)> = Vec::new();
        'logs: for log in logs {
            for (number, line) in log.text.lines().enumerate() {
                let found = match logger(line) {
                    Some(module) => module_file(&scripts, module).map(|i| (i, format!("logs as `{module}`"))),
                    None => frame_file(line).and_then(|file| {
                        let i = framed_file(&scripts, file)?;
                        Some((i, format!("has a traceback through {}", file_name(file))))
                    }),
                };
                if let Some((i, how)) = found.filter(|(i, _)| !named.iter().any(|(n, _)| n == i)) {
                    named.push((i, format!("{}:{} {how}", log.name, number + 1)));
                    if named.len() == MOST_NAMED {
                        break 'logs;
                    }
                }
            }
        }
        // A helper module logs too: the entry point is the one that starts
        // (a main guard) or builds the pipeline from a config.
        let read: Vec<Script> = named
            .into_iter()
            .map(|(i, shown)| {
                let path = &artifacts[i].path;
                Script::read(i, path, shown, &read_source(Path::new(path)).unwrap_or_default())
            })
            .collect();
        let entry = read.iter().position(|s| s.main_guard || !s.configs.is_empty() || s.acc.is_some());
        read.into_iter().nth(entry.unwrap_or(0))
    }

    /// What `source`, the script at `path`, says; `shown` says what shows it ran.
    pub(crate) fn read(artifact: usize, path: &str, shown: String, source: &str) -> Script {
        let code: Vec<&str> = source.lines().map(without_comment).filter(|l| !l.trim().is_empty()).collect();
        let configs = code.iter().flat_map(|l| literals(l)).filter(|s| s.ends_with(".yaml") || s.ends_with(".yml"));
        let mut configs: Vec<String> = configs.map(str::to_string).collect();
        configs.dedup();
        let loaded: Vec<&str> = code.iter().filter_map(|l| loaded_name(l)).collect();
        let mut keys: Vec<String> = Vec::new();
        for line in &code {
            for name in &loaded {
                for key in keys_read(line, name) {
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
            }
        }
        let imports = |module: &str| code.iter().any(|l| l.contains(module) && l.contains("import"));
        let acc = if imports("pipeline_echomimicv2_acc") {
            Some(true)
        } else if imports("pipeline_echomimicv2") {
            Some(false)
        } else {
            None
        };
        let main_guard = code.iter().any(|l| {
            let l = l.trim().replace('\'', "\"");
            l.starts_with("if __name__") && l.contains("\"__main__\"")
        });
        let asgi_app = code.iter().find_map(|l| {
            let (name, value) = l.split_once('=')?;
            let name = name.trim();
            let makes = ["FastAPI(", "Starlette("].iter().any(|m| value.trim_start().starts_with(m));
            (makes && module_name(name) && !name.contains('.')).then(|| name.to_string())
        });
        Script { artifact, name: file_name(path), shown, configs, keys, acc, main_guard, asgi_app }
    }

    /// What the artifacts table says of it: "the run's entry point
    /// (nohup.out:3 logs as `api`): loads ./configs/prompts/infer_acc.yaml,
    /// builds the accelerated pipeline".
    pub(crate) fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.configs.is_empty() {
            parts.push(format!("names {}", self.configs.join(", ")));
        }
        match self.acc {
            Some(true) => parts.push("builds the accelerated pipeline".to_string()),
            Some(false) => parts.push("builds the normal pipeline".to_string()),
            None => {}
        }
        let said = if parts.is_empty() { String::new() } else { format!(": {}", parts.join(", ")) };
        format!("the run's entry point ({}){said}; not judged", self.shown)
    }

    /// Whether the script reads `key` of its config; true when its source
    /// does not say which keys it reads.
    pub(crate) fn reads(&self, key: &str) -> bool {
        self.keys.is_empty() || self.keys.iter().any(|k| k == key)
    }

    /// Whether a value the source names is `path` (a config's artifact
    /// path): the same file name, and as many of the folders before it as
    /// the value writes.
    pub(crate) fn names_config(&self, path: &str) -> bool {
        self.configs.iter().any(|c| shared_tail(c, path) == components(c).len())
    }
}

/// The logger of a record in the format `logging.basicConfig` gives
/// (`INFO:api:message`), or in the common `… - api - INFO - message`.
fn logger(line: &str) -> Option<&str> {
    let plain = LEVELS.iter().find_map(|level| {
        let rest = line.strip_prefix(level)?.strip_prefix(':')?;
        let (name, _) = rest.split_once(':')?;
        Some(name)
    });
    let dashed = || {
        let mut parts = line.split(" - ");
        parts.next()?;
        let name = parts.next()?;
        LEVELS.contains(&parts.next()?).then_some(name)
    };
    plain.or_else(dashed).filter(|name| module_name(name) && !matches!(*name, "root" | "__main__"))
}

/// A dotted Python module name.
fn module_name(name: &str) -> bool {
    !name.is_empty()
        && name.split('.').all(|part| {
            part.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
                && part.chars().all(|c| c.is_alphanumeric() || c == '_')
        })
}

/// The script of `module` among the folder's (`api` → `…/api.py`,
/// `server.app` → `…/server/app.py`): the one nearest the top, when one is.
fn module_file(scripts: &[(usize, &Artifact)], module: &str) -> Option<usize> {
    let parts: Vec<&str> = module.split('.').collect();
    let (last, folders) = parts.split_last()?;
    let file = format!("{last}.py");
    let matching = scripts.iter().filter(|(_, a)| {
        let at = components(&a.path);
        at.last() == Some(&file.as_str())
            && at.len() > folders.len()
            && at[at.len() - 1 - folders.len()..at.len() - 1] == folders[..]
    });
    nearest_top(matching.copied())
}

/// The file of a traceback frame: `  File "/home/u/echomimic_v2/api.py", line 233, in load_models`.
fn frame_file(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix("File \"")?;
    let (file, after) = rest.split_once('"')?;
    (after.starts_with(", line ") && file.ends_with(".py")).then_some(file)
}

/// The script a frame's file is: of those of its name, the one that shares
/// the most folders with it, then the one nearest the top.
fn framed_file(scripts: &[(usize, &Artifact)], file: &str) -> Option<usize> {
    let named: Vec<(usize, &Artifact)> =
        scripts.iter().copied().filter(|(_, a)| file_name(&a.path) == file_name(file)).collect();
    let most = named.iter().map(|(_, a)| shared_tail(&a.path, file)).max()?;
    nearest_top(named.into_iter().filter(|(_, a)| shared_tail(&a.path, file) == most))
}

/// The one of fewest folders, when no other has as few.
fn nearest_top<'a>(scripts: impl Iterator<Item = (usize, &'a Artifact)>) -> Option<usize> {
    let mut best: Option<(usize, usize)> = None;
    let mut tied = false;
    for (i, a) in scripts {
        let depth = components(&a.path).len();
        match best {
            Some((_, d)) if d < depth => {}
            Some((_, d)) if d == depth => tied = true,
            _ => {
                best = Some((depth, i));
                tied = false;
            }
        }
    }
    best.filter(|_| !tied).map(|(_, i)| i)
}

fn read_source(path: &Path) -> Option<String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path).ok()?.take(SOURCE_HEAD).read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

/// A line of source without its comment (a `#` outside a string).
fn without_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (at, c) in line.char_indices() {
        match quote {
            Some(_) if escaped => escaped = false,
            Some(_) if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '#' => return &line[..at],
            None if c == '"' || c == '\'' => quote = Some(c),
            None => {}
        }
    }
    line
}

/// The string literals of a line of source, without their quotes.
fn literals(line: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut start: Option<(usize, char)> = None;
    for (at, c) in line.char_indices() {
        match start {
            Some((from, q)) if c == q && !line[..at].ends_with('\\') => {
                found.push(&line[from..at]);
                start = None;
            }
            Some(_) => {}
            None if c == '"' || c == '\'' => start = Some((at + 1, c)),
            None => {}
        }
    }
    found
}

/// The name a config is loaded into: `config = OmegaConf.load(…)`,
/// `cfg = yaml.safe_load(…)`.
fn loaded_name(line: &str) -> Option<&str> {
    let (name, value) = line.split_once('=')?;
    let name = name.trim();
    let value = value.trim_start();
    let loads = ["OmegaConf.load(", "yaml.safe_load(", "yaml.load(", "yaml.full_load("];
    (module_name(name) && !name.contains('.') && loads.iter().any(|l| value.starts_with(l))).then_some(name)
}

/// The keys a line reads from the config named `name`: `name.KEY`,
/// `name["KEY"]`, `name.get("KEY"`.
fn keys_read(line: &str, name: &str) -> Vec<String> {
    let mut keys = Vec::new();
    for (at, _) in line.match_indices(name) {
        let before = line[..at].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let rest = &line[at + name.len()..];
        let key = if let Some(rest) = rest.strip_prefix(".get(").or_else(|| rest.strip_prefix('[')) {
            literals(rest).first().map(|k| k.to_string()).filter(|_| rest.starts_with(['"', '\'']))
        } else if let Some(rest) = rest.strip_prefix('.') {
            let key: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            (!key.is_empty() && key != "get").then_some(key)
        } else {
            None
        };
        keys.extend(key);
    }
    keys
}

#[cfg(test)]
mod tests {
    use super::*;

    const API: &str = "import logging\n\
        from omegaconf import OmegaConf\n\
        from src.pipelines.pipeline_echomimicv2_acc import EchoMimicV2Pipeline\n\
        logger = logging.getLogger(__name__)\n\
        CONFIG_PATH = \"./configs/prompts/infer_acc.yaml\"  # the accelerated pipeline's\n\
        # OLD = \"./configs/prompts/infer.yaml\"\n\
        def load_models():\n    \
            global config\n    \
            config = OmegaConf.load(CONFIG_PATH)\n    \
            infer_config = OmegaConf.load(config.inference_config)\n    \
            vae = AutoencoderKL.from_pretrained(config.pretrained_vae_path)\n    \
            unet = torch.load(config['denoising_unet_path'])\n    \
            fps = config.get(\"fps\", 24)\n    \
            kwargs = infer_config.unet_additional_kwargs\n    \
            # quantize_(denoising_unet, int8_weight_only())\n\
        if __name__ == '__main__':\n    \
            uvicorn.run(app)\n";

    fn artifact(path: &str, kind: ArtifactKind) -> Artifact {
        Artifact::new(Path::new(path), kind, "content: Python source")
    }

    #[test]
    fn a_wrapper_s_source_says_its_config_keys_and_pipeline() {
        let script = Script::read(0, "run/api.py", "x".into(), API);
        assert_eq!(script.name, "api.py");
        assert_eq!(script.configs, ["./configs/prompts/infer_acc.yaml"]);
        for key in ["inference_config", "pretrained_vae_path", "denoising_unet_path", "fps", "unet_additional_kwargs"] {
            assert!(script.reads(key), "{key}");
        }
        for key in ["width", "test_cases", "steps"] {
            assert!(!script.reads(key), "{key}");
        }
        assert_eq!(script.acc, Some(true));
        assert!(script.main_guard);
        assert_eq!(script.asgi_app, None);
        let served = Script::read(0, "api.py", "x".into(), "from fastapi import FastAPI\napi_app = FastAPI(title=\"x\")\n");
        assert_eq!(served.asgi_app.as_deref(), Some("api_app"));
        assert!(script.names_config("run/configs/prompts/infer_acc.yaml"));
        assert!(!script.names_config("run/configs/prompts/infer.yaml"));
        assert!(!script.names_config("run/other/prompts/infer_acc.yaml"));
    }

    #[test]
    fn a_source_that_binds_no_config_reads_every_key() {
        let script = Script::read(0, "serve.py", "x".into(), "import torch\nrun(\"a.yaml\")\n");
        assert!(script.reads("width"));
        assert_eq!(script.acc, None);
        assert!(!script.main_guard);
    }

    #[test]
    fn the_log_names_the_script_by_its_logger_or_a_traceback_frame() {
        assert_eq!(logger("INFO:api:Applied INT8 quantization to denoising_unet"), Some("api"));
        assert_eq!(logger("2025-11-03 12:00:01,204 - server.app - ERROR - boom"), Some("server.app"));
        assert_eq!(logger("INFO:     Uvicorn running on http://0.0.0.0:8000"), None);
        assert_eq!(logger("INFO:root:hello"), None);
        assert_eq!(logger("WARNING:py.warnings:x"), Some("py.warnings"));
        assert_eq!(
            frame_file("  File \"/home/u/echomimic_v2/api.py\", line 233, in load_models"),
            Some("/home/u/echomimic_v2/api.py")
        );
        assert_eq!(frame_file("  File \"<stdin>\", line 1, in <module>"), None);

        let artifacts = vec![
            artifact("run/infer.py", ArtifactKind::Unknown),
            artifact("run/src/utils/util.py", ArtifactKind::Unknown),
            artifact("run/api.py", ArtifactKind::Unknown),
            artifact("run/tools/api.py", ArtifactKind::Unknown),
            artifact("run/nohup.out", ArtifactKind::Log),
        ];
        let log = |text: &str| LogText::of_text(4, "nohup.out", text);
        let named = |text: &str| Script::of_logs(&artifacts, &[log(text)]).map(|s| (s.artifact, s.shown));
        assert_eq!(named("INFO:     Started\nINFO:api:Loading models\n"), Some((2, "nohup.out:2 logs as `api`".into())));
        assert_eq!(
            named("Traceback (most recent call last):\n  File \"/srv/echomimic_v2/api.py\", line 9, in <module>\n"),
            Some((2, "nohup.out:2 has a traceback through api.py".into()))
        );
        // EchoMimicV2's own scripts and its library are named otherwise.
        assert_eq!(named("  File \"/srv/echomimic_v2/infer.py\", line 9, in <module>\nINFO:util:x\n"), None);
        assert_eq!(named("INFO:tools.api:x\n").map(|(i, _)| i), Some(3));
        assert_eq!(named("INFO:uvicorn.error:Started\n"), None);
    }

    #[test]
    fn of_the_scripts_the_log_names_the_entry_point_is_the_one_that_starts() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            artifact(&path.display().to_string(), ArtifactKind::Unknown)
        };
        let artifacts = vec![
            write("helpers.py", "import logging\nlogger = logging.getLogger(__name__)\n"),
            write("serve.py", "import uvicorn\nif __name__ == \"__main__\":\n    uvicorn.run(app)\n"),
        ];
        let log = LogText::of_text(9, "server.log", "INFO:helpers:warming up\nINFO:serve:ready\n");
        let script = Script::of_logs(&artifacts, &[log]).unwrap();
        assert_eq!((script.name.as_str(), script.shown.as_str()), ("serve.py", "server.log:2 logs as `serve`"));
        let log = LogText::of_text(9, "server.log", "INFO:helpers:warming up\n");
        assert_eq!(Script::of_logs(&artifacts, &[log]).unwrap().name, "helpers.py");
    }

    #[test]
    fn comments_and_strings_are_told_apart() {
        assert_eq!(without_comment("x = 'a#b'  # note"), "x = 'a#b'  ");
        assert_eq!(literals("f(\"a.yaml\", 'b')"), ["a.yaml", "b"]);
        assert_eq!(loaded_name("    config = OmegaConf.load(CONFIG_PATH)"), Some("config"));
        assert_eq!(loaded_name("x.y = OmegaConf.load(p)"), None);
        assert_eq!(keys_read("a = myconfig.width + config.height", "config"), ["height"]);
    }

    proptest::proptest! {
        #[test]
        fn any_source_and_log_are_read_without_a_panic(source in "\\PC{0,300}", log in "\\PC{0,300}") {
            let _ = Script::read(0, "api.py", String::new(), &source);
            let artifacts = vec![artifact("api.py", ArtifactKind::Unknown)];
            let _ = Script::of_logs(&artifacts, &[LogText::of_text(0, "x.log", &log)]);
        }
    }
}
