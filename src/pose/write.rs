//! Writing a pose sequence to a folder without ever touching the input:
//! files are staged in a temporary folder beside the output, read back and
//! verified, and only then renamed into place.

use std::path::{Path, PathBuf};

use super::model::{PoseFormat, PoseFrame};
use super::read::read_bytes;
use super::sequence::NamePattern;
use super::{echomimic, openpose};

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("{0} already exists and is not empty; pass --force to replace it")]
    Exists(PathBuf),
    #[error("{0} is an input or lies inside one; choose an output outside the input so it stays untouched")]
    IntoInput(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path} did not read back as a pose: {why}")]
    Verify { path: PathBuf, why: String },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> WriteError + '_ {
    move |source| WriteError::Io { path: path.to_path_buf(), source }
}

/// Files written to a temporary folder, waiting to be renamed into place.
#[derive(Debug)]
pub struct Staged {
    pub tmp: PathBuf,
    pub out: PathBuf,
}

/// The bytes of one frame in `format`. OpenPose JSON is written in pixels
/// of the frame's own canvas when it has one, else of `size`.
pub fn frame_bytes(frame: &PoseFrame, format: PoseFormat, size: [u32; 2]) -> Vec<u8> {
    match format {
        PoseFormat::EchoMimic => echomimic::write(frame),
        PoseFormat::OpenPose | PoseFormat::ControlNet => {
            let [w, h] = frame.canvas.unwrap_or(size);
            openpose::write(frame, w, h).into_bytes()
        }
    }
}

/// Refuses outputs that would modify an input, and existing non-empty
/// outputs unless `force`.
pub fn check_destination(out: &Path, inputs: &[PathBuf], force: bool) -> Result<(), WriteError> {
    let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let out_abs = absolute(out);
    for input in inputs {
        let input_abs = absolute(input);
        let canonical = |p: &Path| p.canonicalize().ok();
        let inside = out_abs.starts_with(&input_abs)
            || canonical(out).zip(canonical(input)).is_some_and(|(o, i)| o.starts_with(&i) || i == o);
        if inside && input.is_dir() || out_abs == input_abs {
            return Err(WriteError::IntoInput(out.to_path_buf()));
        }
    }
    let occupied = out.exists() && (!out.is_dir() || std::fs::read_dir(out).map_err(io(out))?.next().is_some());
    if occupied && !force {
        return Err(WriteError::Exists(out.to_path_buf()));
    }
    Ok(())
}

/// Writes every frame into a temporary folder beside `out` and reads each
/// one back.
pub fn stage(
    frames: &[(u64, PoseFrame)],
    format: PoseFormat,
    pattern: &NamePattern,
    size: [u32; 2],
    out: &Path,
) -> Result<Staged, WriteError> {
    let name = out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "poses".into());
    let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let tmp = parent.join(format!(".{name}.nanscope-tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(io(&tmp))?;
    }
    std::fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let result = (|| {
        for (index, frame) in frames {
            let path = tmp.join(pattern.name(*index));
            let bytes = frame_bytes(frame, format, size);
            std::fs::write(&path, &bytes).map_err(io(&path))?;
            let back = read_bytes(&bytes, &path.display().to_string(), None);
            if back.pose.is_none() || !back.findings.is_empty() {
                let why = back.findings.first().map_or("no pose".to_string(), |f| f.message.clone());
                return Err(WriteError::Verify { path, why });
            }
        }
        Ok(())
    })();
    if let Err(err) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(err);
    }
    Ok(Staged { tmp, out: out.to_path_buf() })
}

impl Staged {
    /// Renames the staged folder into place, replacing an existing output
    /// (only reached with `--force`, checked by `check_destination`).
    pub fn commit(self) -> Result<PathBuf, WriteError> {
        if self.out.is_dir() {
            std::fs::remove_dir_all(&self.out).map_err(io(&self.out))?;
        } else if self.out.exists() {
            std::fs::remove_file(&self.out).map_err(io(&self.out))?;
        }
        std::fs::rename(&self.tmp, &self.out).map_err(io(&self.out))?;
        Ok(self.out)
    }

}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_inside_the_input_or_occupied_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("in");
        std::fs::create_dir(&input).unwrap();
        std::fs::write(input.join("0.npy"), b"x").unwrap();
        let inputs = [input.clone()];
        assert!(matches!(check_destination(&input, &inputs, true), Err(WriteError::IntoInput(_))));
        assert!(matches!(check_destination(&input.join("out"), &inputs, true), Err(WriteError::IntoInput(_))));
        let out = dir.path().join("out");
        assert!(check_destination(&out, &inputs, false).is_ok());
        std::fs::create_dir(&out).unwrap();
        assert!(check_destination(&out, &inputs, false).is_ok());
        std::fs::write(out.join("x"), b"x").unwrap();
        assert!(matches!(check_destination(&out, &inputs, false), Err(WriteError::Exists(_))));
        assert!(check_destination(&out, &inputs, true).is_ok());
    }
}
