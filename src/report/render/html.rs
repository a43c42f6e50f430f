//! `--format html`: one self-contained page. Styles are inline, pictures are
//! PNG data URLs, the raw JSON report is a data URL to download, and a
//! Content-Security-Policy forbids every network request. No script runs.

use std::io::{self, Write};

use serde_json::Value;

use super::{RenderOptions, summary_line, where_label};
use crate::report::{Finding, Report, SectionTable};

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:1rem 1.5rem;color:#1d1d1f}\
h1{font-size:1.5rem;margin:.2rem 0}h2{font-size:1.2rem;border-bottom:1px solid #ddd;padding-bottom:.2rem;margin-top:2rem}\
code,pre{font:13px/1.4 ui-monospace,monospace}pre{background:#f5f5f7;padding:.6rem;overflow-x:auto;border-radius:4px}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #ddd;padding:.25rem .4rem;text-align:left;vertical-align:top;font-size:13px}\
th{background:#f5f5f7}.error{color:#b00020;font-weight:600}.warning{color:#a15c00;font-weight:600}.info{color:#2f5f8a}\
.verdict{border:2px solid #b00020;border-radius:6px;padding:.6rem 1rem;background:#fff6f6}.verdict.ok{border-color:#2e7d32;background:#f3fbf3}\
.basis{font-size:12px;padding:0 .35rem;border-radius:3px;margin-left:.3rem}.observed{background:#dff0d8}.predicted{background:#fcf3cf}\
details{margin:.25rem 0}summary{cursor:pointer}figure{display:inline-block;margin:.5rem}img{max-width:100%;border:1px solid #ddd}\
.muted{color:#666}ol.chain li{margin:.3rem 0}";

pub fn render(report: &Report, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let mut page = String::new();
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n");
    page.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n",
    );
    page.push_str(&format!("<title>nanscope {}</title>\n<style>{STYLE}</style></head><body>\n", esc(&report.command)));
    page.push_str(&format!("<h1>nanscope {}</h1>\n", esc(&report.command)));
    page.push_str(&format!(
        "<p class=\"muted\">{} · version {}</p>\n<p><b>{}</b></p>\n",
        esc(&report.inputs.join(", ")),
        esc(&options.version),
        esc(&summary_line(report))
    ));
    if let Some(verdict) = report.sections.iter().find(|s| s.key == "verdict") {
        verdict_html(&verdict.value, &mut page);
    }
    findings_html(report, &mut page);
    if !options.quiet {
        for section in report.sections.iter().filter(|s| s.key != "verdict") {
            if let Some(table) = &section.table {
                table_html(&section.key, table, &mut page);
            }
        }
        plots_html(report, &mut page);
    }
    let json = {
        let mut buf = Vec::new();
        super::json::render(report, options, &mut buf)?;
        buf
    };
    page.push_str(&format!(
        "<h2 id=\"raw\">Raw report</h2>\n<p><a id=\"download-json\" download=\"nanscope-{}.json\" \
         href=\"data:application/json;base64,{}\">Download the JSON report</a> ({} bytes, the same as <code>--format json</code>).</p>\n",
        esc(&report.command.replace(' ', "-")),
        base64(&json),
        json.len()
    ));
    page.push_str("</body></html>\n");
    out.write_all(page.as_bytes())
}

fn verdict_html(v: &Value, page: &mut String) {
    let code = v["root_cause"]["code"].as_str().unwrap_or("");
    let slug = v["root_cause"]["slug"].as_str().unwrap_or("");
    let healthy = slug == "healthy-run";
    page.push_str(&format!(
        "<section class=\"verdict{}\" id=\"verdict\"><h2 style=\"margin-top:.3rem\">Verdict: <code>{}</code> {}</h2>\n\
         <p><b>{}</b></p><p>Confidence: <b>{}</b></p>\n",
        if healthy { " ok" } else { "" },
        esc(code),
        esc(slug),
        esc(v["headline"].as_str().unwrap_or("")),
        esc(v["confidence"].as_str().unwrap_or(""))
    ));
    if let Some(rule) = crate::rules::by_code(code) {
        page.push_str(&format!("<details><summary>What {} means</summary>{}</details>\n", esc(code), rule_html(rule)));
    }
    let chain = v["chain"].as_array().cloned().unwrap_or_default();
    if !chain.is_empty() {
        page.push_str("<h3>Chain of evidence, from cause to symptom</h3><ol class=\"chain\">\n");
        for link in &chain {
            let basis = link["basis"].as_str().unwrap_or("");
            let mut cited: Vec<String> = link["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|id| format!("<a href=\"#{0}\">{0}</a>", esc(id)))
                .collect();
            cited.extend(
                link["evidence"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|e| format!("<code>{}</code>", esc(e))),
            );
            page.push_str(&format!(
                "<li><b>{}</b>: {}<span class=\"basis {}\">{}</span>{}</li>\n",
                esc(link["stage"].as_str().unwrap_or("")),
                esc(link["says"].as_str().unwrap_or("")),
                esc(basis),
                esc(basis),
                if cited.is_empty() {
                    String::new()
                } else {
                    format!("<br><span class=\"muted\">evidence: {}</span>", cited.join(", "))
                }
            ));
        }
        page.push_str("</ol>\n");
    }
    for (key, title) in [("fix", "Fix"), ("next", "Next: confirm what is predicted")] {
        let actions = v[key].as_array().cloned().unwrap_or_default();
        if actions.is_empty() {
            continue;
        }
        page.push_str(&format!("<h3>{title}</h3><ul>\n"));
        for a in actions {
            page.push_str(&format!("<li>{}", esc(a["what"].as_str().unwrap_or(""))));
            if let Some(paste) = a["paste"].as_str() {
                page.push_str(&format!("<pre>{}</pre>", esc(paste)));
            }
            page.push_str("</li>\n");
        }
        page.push_str("</ul>\n");
    }
    let competing = v["competing"].as_array().cloned().unwrap_or_default();
    if !competing.is_empty() {
        page.push_str("<h3>Competing explanations (ranked lower)</h3><ul>\n");
        for c in competing {
            page.push_str(&format!(
                "<li><code>{}</code> {}: {}</li>\n",
                esc(c["cause"]["code"].as_str().unwrap_or("")),
                esc(c["cause"]["slug"].as_str().unwrap_or("")),
                esc(c["why_lower"].as_str().unwrap_or(""))
            ));
        }
        page.push_str("</ul>\n");
    }
    page.push_str("</section>\n");
}

fn rule_html(rule: &crate::rules::Rule) -> String {
    let mut html = format!("<p><b>{}</b> {}</p>", esc(rule.slug), esc(rule.summary));
    for (label, text) in
        [("Detects", rule.detects), ("Why it matters", rule.why), ("Usual cause", rule.cause), ("Fix", rule.fix)]
    {
        if !text.is_empty() && text != "-" {
            html.push_str(&format!("<p><b>{label}.</b> {}</p>", esc(text)));
        }
    }
    html
}

fn findings_html(report: &Report, page: &mut String) {
    page.push_str(&format!("<h2 id=\"findings\">Findings ({})</h2>\n", report.findings.len()));
    if report.findings.is_empty() {
        page.push_str("<p>None.</p>\n");
        return;
    }
    for f in &report.findings {
        finding_html(f, &report.inputs, page);
    }
}

fn finding_html(f: &Finding, inputs: &[String], page: &mut String) {
    let id = f.id.as_deref().map(|id| format!(" id=\"{}\"", esc(id))).unwrap_or_default();
    let label = f.id.as_deref().map(|id| format!("{} ", esc(id))).unwrap_or_default();
    page.push_str(&format!(
        "<details{id}><summary>{label}<span class=\"{0}\">{0}</span> <code>{1}</code> {2} <span class=\"muted\">— {3}</span></summary>\n",
        f.severity.as_str(),
        esc(f.code()),
        esc(&f.message),
        esc(&where_label(f, inputs))
    ));
    page.push_str(&rule_html(f.rule));
    if !f.evidence.is_empty() {
        let evidence = serde_json::to_string_pretty(&f.evidence).unwrap_or_default();
        page.push_str(&format!("<pre>{}</pre>", esc(&evidence)));
    }
    page.push_str("</details>\n");
}

fn table_html(key: &str, table: &SectionTable, page: &mut String) {
    page.push_str(&format!("<h2 id=\"section-{}\">{}</h2>\n<table><tr>", esc(key), esc(&table.title)));
    for h in &table.header {
        page.push_str(&format!("<th>{}</th>", esc(h)));
    }
    page.push_str("</tr>\n");
    for row in &table.rows {
        page.push_str("<tr>");
        for cell in row {
            page.push_str(&format!("<td>{}</td>", esc(cell)));
        }
        page.push_str("</tr>\n");
    }
    page.push_str("</table>\n");
    if let Some(note) = &table.note {
        page.push_str(&format!("<pre>{}</pre>\n", esc(note)));
    }
}

fn plots_html(report: &Report, page: &mut String) {
    if report.attachments.is_empty() {
        return;
    }
    page.push_str("<h2 id=\"plots\">Plots</h2>\n");
    let mut last_about: Option<&str> = None;
    for a in &report.attachments {
        if last_about != Some(a.about.as_str()) && !a.about.is_empty() {
            page.push_str(&format!("<h3>{}</h3>\n", esc(&super::relative_path(&a.about, &report.inputs))));
        }
        last_about = Some(a.about.as_str());
        page.push_str(&format!(
            "<figure><img alt=\"{0}\" src=\"data:{1};base64,{2}\"><figcaption>{0}</figcaption></figure>\n",
            esc(&a.title),
            esc(a.media_type),
            base64(&a.bytes)
        ));
    }
}

fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648).
fn base64(bytes: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(TABLE[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }

    #[test]
    fn the_page_is_self_contained_and_escaped() {
        let mut report = super::super::tests::sample();
        report.findings[0].message = "<script>alert(1)</script>".into();
        report.attachments.push(crate::report::Attachment::png("chart", vec![1, 2, 3]));
        let mut buf = Vec::new();
        render(&report, &RenderOptions { version: "0.1.0".into(), ..RenderOptions::default() }, &mut buf).unwrap();
        let page = String::from_utf8(buf).unwrap();
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!page.contains("<script"));
        assert!(page.contains("default-src 'none'"));
        assert!(page.contains("src=\"data:image/png;base64,AQID\""));
        assert!(page.contains("href=\"data:application/json;base64,"));
        for external in ["http://", "https://", "src=\"//", "@import", "url("] {
            assert!(!page.contains(external), "{external}");
        }
    }
}
