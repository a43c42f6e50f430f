//! `nanscope config check`: EchoMimicV2 run configurations (prompt and
//! inference YAML) and diffusers `model_index.json` / scheduler configs.
//!
//! The check returns typed results; `report` turns them into a `Report`.
//! YAML is read with hard limits on size, nesting and alias expansion.
//! Nothing here prints or decides exit codes.

mod check;
mod comfyui;
mod diffusers;
mod echomimic;
mod findings;
mod report;
pub(crate) mod yaml;

pub use check::{ConfigCheck, ConfigFile, ConfigKind, ConfigOptions, Setting, Variant, check, check_embedded, check_file};
pub use comfyui::names_echomimic_node;
pub(crate) use comfyui::{ECHOMIMIC_V3, POSE_FOLDER, POSES_REPEAT};
pub(crate) use check::embedded_workflow;
pub use report::report;
