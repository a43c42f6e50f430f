//! Loading the Python object stored in a 0-d object `.npy`.

use super::npy_writer::PyValue;
use crate::formats::npy::read_header;
use crate::report::Finding;
use crate::rules::format as format_rules;

/// The object inside an object `.npy`, plus findings that do not stop
/// reading (unsafe globals are reported and left uncalled).
pub fn load(bytes: &[u8], label: &str) -> Result<(Option<PyValue>, Vec<Finding>), Box<Finding>> {
    let header = read_header(bytes, label)?;
    if header.descr != "|O" || !header.shape.is_empty() {
        return Err(Box::new(crate::formats::at_offset(
            &format_rules::UNSUPPORTED_DTYPE,
            label,
            0,
            format!(
                "{label}: .npy holds a {:?} array of shape {:?}, not the 0-d object array of a pose file",
                header.descr, header.shape
            ),
        )));
    }
    Err(Box::new(crate::formats::at_offset(
        &format_rules::MALFORMED_PICKLE,
        label,
        header.data_offset,
        format!("{label}: pickled pose files cannot be read in this build"),
    )))
}
