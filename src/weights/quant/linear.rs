//! GPTQ (v1/v2) and AWQ GEMM packed linear layers: `qweight`, `qzeros`,
//! `scales` and (GPTQ) `g_idx`. Which of the two, and GPTQ's v1/v2 zero
//! convention, come from the config when there is one, else from shapes.

use super::grid::missing;
use super::pieces::{values_f32, values_i64};
use super::recognize::Ctx;
use super::scheme::{Layout, Packed, QuantInfo, QuantTensor, Role};
use crate::numerics::DType;
use crate::rules::quant as rules;

pub fn gptq_awq(ctx: &mut Ctx, base: &str, qweight: usize) {
    let name = format!("{base}.weight");
    let qw = &ctx.cp.tensors[qweight];
    let mut pieces = Vec::new();
    for (suffix, role) in [("qzeros", Role::ZeroPoint), ("scales", Role::Scale), ("g_idx", Role::GroupIndex)] {
        if let Some((i, _)) = ctx.get(&format!("{base}.{suffix}")) {
            pieces.push((i, role));
        }
    }
    let method = ctx.config.method();
    let scales_entry = ctx.get(&format!("{base}.scales"));
    let g_idx = ctx.get(&format!("{base}.g_idx"));
    // AWQ GEMM packs along `out`: qweight [in, out/8] against scales [groups, out].
    let awq = match method.as_deref() {
        Some("awq") => true,
        Some("gptq") => false,
        _ => g_idx.is_none() && scales_entry.is_some_and(|(_, s)| s.shape.get(1) != qw.shape.get(1)),
    };
    let mut info = QuantInfo {
        scheme: if awq { "awq" } else { "gptq" },
        format: String::new(),
        role: Role::Weight,
        of: None,
        bits: None,
        granularity: None,
        group_size: None,
        block_size: None,
        axis: None,
    };
    let mut all = pieces.clone();
    all.push((qweight, Role::Codes));
    let Some((_, scales_entry)) = scales_entry else {
        info.format = "int4".into();
        return missing(ctx, &info, &name, &all, "scales");
    };
    let bits = ctx.config.find_u64(&["bits", "w_bit"]).unwrap_or(4) as u32;
    info.bits = Some(bits);
    info.format = format!("int{bits}");
    // Marlin-repacked GPTQ and AWQ GEMV store codes in kernel-specific orders.
    let layout = ctx.config.find_str(&["checkpoint_format", "version"]);
    let kernel_layout = matches!(layout.as_deref(), Some("marlin" | "gemv" | "gemv_fast"));
    if !matches!(bits, 2 | 4 | 8) || (awq && bits != 4) || kernel_layout {
        let variant = layout.filter(|_| kernel_layout).map_or(format!("{bits}-bit"), |l| format!("{l}-layout"));
        let message = format!("{name}: {variant} {} packing is not decoded; listed without statistics", info.scheme);
        ctx.finding(&rules::UNDECODED_SCHEME, &name, message);
        return ctx.orphans(&info, &name, &all);
    }
    let per_word = (32 / bits) as u64;
    let (qrows, qcols) = (qw.shape.first().copied().unwrap_or(0), qw.shape.get(1).copied().unwrap_or(0));
    let (in_features, out_features) = if awq { (qrows, qcols * per_word) } else { (qrows * per_word, qcols) };
    let (groups, scale_out) =
        (scales_entry.shape.first().copied().unwrap_or(0), scales_entry.shape.get(1).copied().unwrap_or(0));
    let g_idx_values = g_idx.and_then(|(_, e)| values_i64(ctx.cp, e));
    let qzeros = ctx.get(&format!("{base}.qzeros"));
    let zero_words = out_features.div_ceil(per_word);
    let shape_ok = qw.dtype == DType::I32
        && qw.shape.len() == 2
        && scale_out == out_features
        && groups > 0
        && qzeros.is_none_or(|(_, z)| z.shape == [groups, zero_words])
        && g_idx_values.as_ref().is_none_or(|g| g.len() as u64 == in_features);
    if !shape_ok {
        let message = format!(
            "{name}: qweight {:?} {} at {bits} bits means [{out_features}, {in_features}], but scales are {:?}{}{}",
            qw.shape,
            qw.dtype,
            scales_entry.shape,
            qzeros
                .map_or(String::new(), |(_, z)| format!(", qzeros {:?} (expected [{groups}, {zero_words}])", z.shape)),
            g_idx_values.as_ref().map_or(String::new(), |g| format!(", g_idx has {}", g.len())),
        );
        ctx.finding(&rules::PACKED_SIZE_MISMATCH, &name, message);
        return ctx.orphans(&info, &name, &all);
    }
    let Some(scales) = values_f32(ctx.cp, scales_entry) else {
        return missing(ctx, &info, &name, &all, "readable scales");
    };
    let configured_group = ctx.config.find_i64(&["group_size", "q_group_size"]);
    let group_size = match configured_group {
        Some(g) if g > 0 => g as u64,
        Some(_) => in_features.max(1),
        None => in_features.div_ceil(groups).max(1),
    };
    let zero_offset = if awq {
        0
    } else {
        match ctx.config.find_str(&["checkpoint_format"]).as_deref() {
            Some("gptq_v2") => 0,
            Some(_) => 1,
            None if ctx.config.method().is_some() || ctx.config.find_u64(&["bits"]).is_some() => 1,
            None => {
                let message = format!(
                    "{name}: no config says whether this is GPTQ v1 (zeros stored minus one) or v2; read as v1"
                );
                ctx.finding(&rules::AMBIGUOUS_FORMAT, &name, message);
                1
            }
        }
    };
    info.granularity = Some(if groups == 1 { "channel" } else { "group" });
    info.group_size = (groups > 1).then_some(group_size);
    if !awq {
        info.format = format!("int{bits}-{}", if zero_offset == 1 { "v1" } else { "v2" });
    }
    let packed = Packed {
        awq,
        bits,
        in_features,
        out_features,
        group_size,
        scales,
        groups,
        zero_offset,
        qzeros: qzeros.map(|(i, _)| i),
        zero_words,
        g_idx: g_idx_values,
    };
    let shape = vec![out_features, in_features];
    ctx.push(QuantTensor { name, shape, info, codes: qweight, pieces, layout: Layout::Packed(packed) });
}
