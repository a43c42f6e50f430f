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
    let options = options_for(&args.code);
    let selected = select(&options)?;
    let text = match (global.format, options.code.is_some()) {
        (FormatArg::Json, _) => {
            let doc = rules(&options)?.to_json(crate::VERSION);
            serde_json::to_string_pretty(&doc)? + "\n"
        }
        (FormatArg::Markdown, _) => markdown(&selected),
        (FormatArg::Junit | FormatArg::Sarif | FormatArg::Github | FormatArg::Html, _) => {
            let render = crate::report::RenderOptions { version: crate::VERSION.into(), ..Default::default() };
            let mut buffer = Vec::new();
            crate::report::render(&rules(&options)?, global.format.renderer(), &render, &mut buffer)?;
            String::from_utf8_lossy(&buffer).into_owned()
        }
        (FormatArg::Table, true) => explain(selected[0]),
        (FormatArg::Table, false) => catalogue_table(&selected, super::output::table_width(global)),
    };
    write_out(text.as_bytes(), global)?;
    Ok(Outcome::Clean)
}

fn options_for(code: &Option<String>) -> RulesOptions {
    RulesOptions::new(code.clone())
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
