//! Quantization settings found beside a checkpoint: `config.json`'s
//! `quantization_config`, `quantize_config.json` / `quant_config.json`
//! (GPTQ, AWQ) and `quanto_qmap.json`. Only read as JSON data.

use std::path::Path;

use serde_json::Value;

/// Config files larger than this are not read (real ones are a few KiB).
const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// The quantization settings that apply to one checkpoint file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QuantConfig {
    /// The quantization config object (may be empty).
    pub settings: Value,
    /// Which file it came from, for messages.
    pub source: Option<String>,
}

impl QuantConfig {
    /// Loads the settings beside `checkpoint`, first match wins.
    pub fn beside(checkpoint: &Path) -> QuantConfig {
        let Some(dir) = checkpoint.parent() else { return QuantConfig::default() };
        for (file, key) in [
            ("config.json", Some("quantization_config")),
            ("quantize_config.json", None),
            ("quant_config.json", None),
            ("quantization_config.json", None),
        ] {
            let path = dir.join(file);
            let Some(json) = read_json(&path) else { continue };
            let settings = match key {
                Some(key) => match json.get(key) {
                    Some(v) => v.clone(),
                    None => continue,
                },
                None => json,
            };
            return QuantConfig { settings, source: Some(path.display().to_string()) };
        }
        QuantConfig::default()
    }

    #[cfg(test)]
    pub fn from_value(settings: Value) -> QuantConfig {
        QuantConfig { settings, source: None }
    }

    /// `quant_method`, lower-cased.
    pub fn method(&self) -> Option<String> {
        self.find("quant_method").and_then(Value::as_str).map(str::to_ascii_lowercase)
    }

    /// The first value of `key` anywhere in the settings (depth-first), so
    /// nested `config_groups.*.weights.num_bits` are found too.
    pub fn find(&self, key: &str) -> Option<&Value> {
        find(&self.settings, key, 0)
    }

    pub fn find_u64(&self, keys: &[&str]) -> Option<u64> {
        keys.iter().find_map(|k| self.find(k).and_then(Value::as_u64))
    }

    pub fn find_i64(&self, keys: &[&str]) -> Option<i64> {
        keys.iter().find_map(|k| self.find(k).and_then(Value::as_i64))
    }

    pub fn find_str(&self, keys: &[&str]) -> Option<String> {
        keys.iter().find_map(|k| self.find(k).and_then(Value::as_str).map(str::to_ascii_lowercase))
    }

    /// `weight_block_size` (`[128, 128]` for block FP8).
    pub fn block_size(&self) -> Option<[u64; 2]> {
        let list = self.find("weight_block_size")?.as_array()?;
        match list.as_slice() {
            [r, c] => Some([r.as_u64()?, c.as_u64()?]),
            _ => None,
        }
    }
}

fn find<'a>(value: &'a Value, key: &str, depth: usize) -> Option<&'a Value> {
    if depth > 16 {
        return None;
    }
    match value {
        Value::Object(map) => map.get(key).or_else(|| map.values().find_map(|v| find(v, key, depth + 1))),
        Value::Array(items) => items.iter().find_map(|v| find(v, key, depth + 1)),
        _ => None,
    }
}

fn read_json(path: &Path) -> Option<Value> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() || meta.len() > MAX_CONFIG_BYTES {
        return None;
    }
    // Read as Python's json.load reads it (bare NaN and Infinity included).
    let json = crate::formats::lenient_json::parse(&std::fs::read(path).ok()?).ok()?;
    Some(crate::formats::lenient_serde::to_value(json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_nested_keys() {
        let c = QuantConfig::from_value(json!({
            "quant_method": "compressed-tensors",
            "config_groups": {"group_0": {"weights": {"num_bits": 4, "group_size": 128}}},
        }));
        assert_eq!(c.method().as_deref(), Some("compressed-tensors"));
        assert_eq!(c.find_u64(&["bits", "num_bits"]), Some(4));
        assert_eq!(c.find_i64(&["group_size"]), Some(128));
    }

    #[test]
    fn reads_config_json_beside_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            r#"{"quantization_config": {"quant_method": "fp8", "weight_block_size": [128, 128]}}"#,
        )
        .unwrap();
        let c = QuantConfig::beside(&dir.path().join("model.safetensors"));
        assert_eq!(c.block_size(), Some([128, 128]));
        assert_eq!(QuantConfig::beside(Path::new("/nonexistent/m.safetensors")), QuantConfig::default());
    }
}
