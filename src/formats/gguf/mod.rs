//! GGUF (ggml's single-file format): header parsing, the ggml type table,
//! and the reader that turns tensor infos into entries.

pub mod header;
pub mod reader;
pub mod types;

pub use header::{Header, HeaderError, KvValue, TensorInfo, read_header};
pub use reader::parse;
pub use types::{BlockKind, GgmlType, ggml_type};
