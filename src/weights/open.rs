//! Opening every checkpoint under the paths a user gives, for the commands
//! that read tensors across files (`--simulate`, `diff`).

use std::path::PathBuf;

use super::inputs::{collect_inputs, is_stray};
use crate::formats::{Checkpoint, FileFormat};
use crate::report::Finding;

/// Opens files and directories (recursively). Files met while walking a
/// directory are kept unless `is_stray`; shard indexes are skipped (their
/// shards are read directly). Open problems stay on each checkpoint's
/// `findings`.
pub fn open_checkpoints(paths: &[PathBuf]) -> (Vec<Checkpoint>, Vec<Finding>) {
    let (inputs, findings) = collect_inputs(paths);
    let checkpoints = inputs
        .into_iter()
        .filter_map(|input| {
            let checkpoint = Checkpoint::open(&input.path);
            (!is_stray(&input, &checkpoint) && checkpoint.format != FileFormat::ShardIndex).then_some(checkpoint)
        })
        .collect();
    (checkpoints, findings)
}
