//! `nanscope rules [CODE]`: the catalogue, or one rule's full explanation.

use crate::commands::rules::{RulesOptions, explain, markdown, rules, select};
use crate::rules::Rule;
use clap::Args;
use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{ContentArrangement, Table};

use super::output::write_out;
use super::{FormatArg, GlobalArgs, Outcome};

#[derive(Debug, Args)]
pub struct RulesArgs {
    /// A rule code (`W101`) or slug (`nonfinite-values`) to explain.
    pub code: Option<String>,
}

pub fn run(args: RulesArgs, global: &GlobalArgs) -> anyhow::Result<Outcome> {
    let options = RulesOptions::new(args.code);
    let selected = select(&options)?;
    let text = match (global.format, options.code.is_some()) {
        (FormatArg::Json, _) => {
            let doc = rules(&options)?.to_json(crate::VERSION);
            serde_json::to_string_pretty(&doc)? + "\n"
        }
        (FormatArg::Markdown, _) => markdown(&selected),
        (FormatArg::Html, _) => {
            let mut buf = Vec::new();
            let render = crate::report::RenderOptions { version: crate::VERSION.into(), ..Default::default() };
            crate::report::render(&rules(&options)?, crate::report::Format::Html, &render, &mut buf)?;
            String::from_utf8_lossy(&buf).into_owned()
        }
        (FormatArg::Table, true) => explain(selected[0]),
        (FormatArg::Table, false) => catalogue_table(&selected, super::output::table_width(global)),
    };
    write_out(text.as_bytes(), global)?;
    Ok(Outcome::Clean)
}

fn catalogue_table(all: &[&Rule], width: Option<u16>) -> String {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Dynamic);
    if let Some(width) = width {
        table.set_width(width);
    }
    table.set_header(["code", "rule", "severity", "summary"]);
    for rule in all {
        table.add_row([rule.code, rule.slug, rule.severity.as_str(), rule.summary]);
    }
    format!("{table}\n`nanscope rules CODE` explains one rule.\n")
}
