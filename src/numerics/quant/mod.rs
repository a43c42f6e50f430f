//! Dequantization kernels: ggml blocks (GGUF), 4-bit code books and bit
//! unpacking. Pure functions over byte slices; the scheme layer that decides
//! which kernel applies lives in `weights::quant`.

pub mod codebooks;
pub mod ggml;
pub mod unpack;

pub use ggml::{BlockKind, block_scales, dequantize};
