//! What a recognised quantization scheme is: the logical tensor it stands for,
//! the stored pieces it is made of, and how its values are laid out. A
//! recogniser (by names and dtypes for safetensors, by type ids for GGUF,
//! by rebuild calls for pickles) produces `QuantTensor`s; the dequantizer and
//! the validation rules only look at these.

use serde::Serialize;

use crate::formats::gguf::BlockKind;
use crate::numerics::DType;

/// What a stored tensor is within its scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The logical weight, reported with the statistics of its dequantized values.
    Weight,
    /// Stored (possibly packed) codes.
    Codes,
    Scale,
    ZeroPoint,
    /// A per-input-column group index (GPTQ `g_idx`).
    GroupIndex,
    /// A stored code book (bitsandbytes `quant_map`).
    CodeBook,
    /// Layout metadata stored as a tensor (`weight_shape`, `quant_state`, `weight_format`).
    Metadata,
    /// Activation scales used at inference (`input_scale`).
    ActivationScale,
}

/// The report's `quant` object on a tensor record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuantInfo {
    /// `gguf`, `bitsandbytes`, `compressed-tensors`, `quanto`, `gptq`, `awq`, `fp8`.
    pub scheme: &'static str,
    /// The stored code format: `Q4_K`, `int8`, `nf4`, `fp4`, `e4m3`, `int4`, `nvfp4`.
    pub format: String,
    pub role: Role,
    /// For pieces: the logical tensor they belong to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub of: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bits: Option<u32>,
    /// `tensor`, `channel`, `group`, `block`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granularity: Option<&'static str>,
    /// Elements sharing one scale along a row (or a flattened tensor).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_size: Option<u64>,
    /// Rows × columns sharing one scale, for 2-D blocks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub block_size: Option<[u64; 2]>,
    /// The dimension per-channel scales run along (torch quantized tensors).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub axis: Option<u64>,
}

impl QuantInfo {
    pub fn piece(&self, role: Role, of: &str) -> QuantInfo {
        QuantInfo {
            role,
            of: Some(of.to_string()),
            bits: None,
            granularity: None,
            group_size: None,
            block_size: None,
            axis: None,
            ..self.clone()
        }
    }
}

/// How codes are read from the codes entry, for `Grid` layouts.
#[derive(Debug, Clone, PartialEq)]
pub enum Codes {
    /// One signed byte per element.
    I8,
    /// One unsigned byte per element.
    U8,
    /// One signed little-endian 32-bit integer per element (torch `qint32`).
    I32,
    /// One FP8 byte per element.
    Float8(DType),
    /// Dense `bits`-wide codes in little-endian 32-bit words, each row padded
    /// to `words_per_row`; `offset` is subtracted (2^(bits-1) for signed).
    Stream { bits: u32, words_per_row: u64, offset: i32 },
    /// Two 4-bit codes per byte over the flattened tensor, looked up in `table`
    /// (raw code value when `None`).
    Nibbles { high_first: bool, table: Option<[f32; 16]> },
    /// quanto's planar 4-bit packing: rows `[0, half)` in low nibbles, rows
    /// `[half, 2·half)` in the high nibbles of the same bytes.
    Planar { half_rows: u64 },
}

/// How a zero point enters the formula.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZeroMode {
    /// `(q − z)·s`
    Subtract,
    /// `q·s − z` (quanto float shift)
    FloatShift,
}

/// A matrix `rows × cols` of codes with one scale (and optional zero point)
/// per `block_rows × block_cols` tile: covers per-tensor, per-channel, group
/// and 2-D block schemes.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    pub codes: Codes,
    pub codes_dtype: DType,
    pub rows: u64,
    pub cols: u64,
    pub block_rows: u64,
    pub block_cols: u64,
    /// Scales in tile order (`ceil(rows/block_rows) × ceil(cols/block_cols)`).
    pub scales: Vec<f32>,
    pub zeros: Option<Vec<f32>>,
    pub zero_mode: ZeroMode,
    /// Whether the scheme only ever writes non-negative scales.
    pub positive_scales: bool,
    /// Smallest normal of the stored scale dtype (subnormal scales).
    pub scale_min_normal: f64,
    /// The code range for zero points, when they are meaningful.
    pub code_range: Option<(f64, f64)>,
}

impl Grid {
    pub fn tile_cols(&self) -> u64 {
        self.cols.div_ceil(self.block_cols.max(1))
    }

    pub fn tile_rows(&self) -> u64 {
        self.rows.div_ceil(self.block_rows.max(1))
    }

    pub fn tiles(&self) -> u64 {
        self.tile_rows() * self.tile_cols()
    }
}

/// GPTQ (v1/v2) and AWQ GEMM packed linear weights. Logical layout `[out, in]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Packed {
    pub awq: bool,
    pub bits: u32,
    pub in_features: u64,
    pub out_features: u64,
    pub group_size: u64,
    /// `scales` as `[groups, out]`.
    pub scales: Vec<f32>,
    pub groups: u64,
    /// Added to stored zeros: 1 for GPTQ v1, 0 for GPTQ v2 and AWQ.
    pub zero_offset: u32,
    pub qzeros: Option<usize>,
    /// Words per row of `qzeros`.
    pub zero_words: u64,
    pub g_idx: Option<Vec<i64>>,
}

/// How a logical tensor's values are computed from its pieces.
#[derive(Debug, Clone, PartialEq)]
pub enum Layout {
    Ggml(BlockKind),
    Grid(Grid),
    Packed(Packed),
}

/// A recognised quantized tensor: logical name and shape, the entry holding
/// its codes, every piece it uses, and its layout.
#[derive(Debug, Clone, PartialEq)]
pub struct QuantTensor {
    pub name: String,
    pub shape: Vec<u64>,
    pub info: QuantInfo,
    /// Index of the entry holding the codes.
    pub codes: usize,
    /// Every entry the scheme uses besides the codes, with its role.
    pub pieces: Vec<(usize, Role)>,
    pub layout: Layout,
}

impl QuantTensor {
    /// Elements of the logical shape; `None` when the product overflows.
    pub fn numel(&self) -> Option<u64> {
        self.shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))
    }
}
