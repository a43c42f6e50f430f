//! GGUF tensors with block-quantized ggml types: the reader made them `U8`
//! entries over their raw blocks; the type and logical shape come from the
//! header, read again here (it is small and already validated).

use std::collections::HashSet;

use super::recognize::Ctx;
use super::scheme::{Layout, QuantInfo, QuantTensor, Role};
use crate::formats::gguf::{ggml_type, read_header};
use crate::rules::format as format_rules;

pub fn recognise(ctx: &mut Ctx) {
    let Ok(header) = read_header(ctx.cp.bytes()) else { return };
    // The reader made an entry of the first record of each name only (a
    // repeated name is a finding); a later record's type and shape do not
    // describe that entry.
    let mut seen = HashSet::new();
    for info in &header.tensors {
        if !seen.insert(info.name.as_str()) {
            continue;
        }
        let Some(ty) = ggml_type(info.type_id) else { continue };
        if ty.plain_dtype().is_some() {
            continue;
        }
        let Some((index, _)) = ctx.get(&info.name) else { continue };
        if ctx.is_claimed(index) {
            continue;
        }
        let kind = ty.block_kind();
        let quant = QuantInfo {
            scheme: "gguf",
            format: ty.name.to_string(),
            role: Role::Weight,
            of: None,
            bits: kind.map(|k| k.bits()),
            granularity: Some("block"),
            group_size: Some(ty.block_elems),
            block_size: None,
            axis: None,
        };
        match kind {
            Some(kind) => ctx.push(QuantTensor {
                name: info.name.clone(),
                shape: info.shape(),
                info: quant,
                codes: index,
                pieces: vec![],
                layout: Layout::Ggml(kind),
            }),
            None => {
                let message = format!("{}: ggml type {} is recognised but not dequantized", info.name, ty.name);
                let finding = ctx.finding(&format_rules::UNSUPPORTED_DTYPE, &info.name, message);
                finding.severity = crate::report::Severity::Info;
                finding.evidence.insert("ggml_type".into(), ty.name.into());
                ctx.undecoded(index, quant, info.shape());
            }
        }
    }
}
