//! PyTorch checkpoints: the zip format, the legacy stream of pickles, and bare
//! pickles of arrays. Pickles are read by the inert interpreter in
//! `formats::pickle`; tensors are named by their full dotted path in the
//! pickled container.

mod bare;
mod dtypes;
mod entries;
mod legacy;
pub mod rebuild;
pub mod walk;
mod zip;

pub use bare::{parse as parse_pickle, read_pickles};
pub use dtypes::{dtype_by_name, storage_class_dtype};
pub use legacy::parse as parse_legacy;
pub use walk::{ROOT_NAME, Walk, walk};
pub use zip::parse as parse_zip;

#[cfg(test)]
mod tests;
