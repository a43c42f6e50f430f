//! Which weights are fake-quantized and which modules stay in fp32.

use std::collections::BTreeSet;

use crate::numerics::QuantScheme;
use crate::trace::glob_match;

use super::device::ComputeDType;

/// The precision plan of one replay.
#[derive(Debug, Clone, Default)]
pub struct Precision {
    pub dtype: ComputeDType,
    /// Fake quantization of Linear/Conv weights, if any.
    pub quantize: Option<QuantScheme>,
    /// Globs of module names to quantize (empty: every Linear/Conv).
    pub include: Vec<String>,
    /// Globs of module names never quantized.
    pub exclude: Vec<String>,
    /// Modules kept in fp32 and unquantized (a `--bisect` candidate set).
    pub keep: BTreeSet<String>,
}

impl Precision {
    /// Whether `module`'s weight is fake-quantized.
    pub fn quantizes(&self, module: &str) -> bool {
        self.quantize.is_some()
            && !self.keep.contains(module)
            && (self.include.is_empty() || self.include.iter().any(|g| glob_match(g, module)))
            && !self.exclude.iter().any(|g| glob_match(g, module))
    }

    /// Whether `module` computes in fp32 whatever the compute dtype.
    pub fn keeps_fp32(&self, module: &str) -> bool {
        self.keep.contains(module)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_and_keep_win_over_include() {
        let p = Precision {
            quantize: Some(QuantScheme::Int8),
            include: vec!["vae.decoder.*".into()],
            exclude: vec!["*.conv_out".into()],
            keep: ["vae.decoder.conv_in".to_string()].into(),
            ..Precision::default()
        };
        assert!(p.quantizes("vae.decoder.mid_block.resnets.0.conv1"));
        assert!(!p.quantizes("vae.decoder.conv_out"));
        assert!(!p.quantizes("vae.decoder.conv_in"));
        assert!(!p.quantizes("unet.conv_in"));
        assert!(!Precision::default().quantizes("unet.conv_in"));
    }
}
