//! Quantized checkpoints: recognising schemes from tensor entries,
//! dequantizing them into statistics, and the `Q` validation rules.

mod bnb;
mod compressed;
mod config;
mod damage;
mod dequant;
mod gguf;
mod grid;
mod linear;
mod pieces;
mod quanto;
mod recognize;
mod scan;
mod scheme;
mod torch;
mod validate;

pub use config::QuantConfig;
pub use damage::damage;
pub use dequant::{Filler, dequantized_stats, filler};
pub use recognize::{Recognised, recognise};
pub(crate) use scan::packed_size_mismatch;
pub use scan::{QuantScan, scan_quantized};
pub use scheme::{Codes, Grid, Layout, Packed, QuantInfo, QuantTensor, Role, ZeroMode};
pub use validate::{QuantOptions, validate};
