//! The tensors an EchoMimicV2 generation starts from: seeded noise, the
//! reference image, rendered poses and audio features, each read from the
//! file the spec names or drawn from the seed as a stand-in.

use std::path::Path;

use candle_core::{DType, Device, Tensor};

use crate::pose::render::{RenderOptions, render_frame};
use crate::replay::engine::EngineError;
use crate::replay::noise::normal;

type Result<T> = std::result::Result<T, EngineError>;

/// Largest reference image side decoded.
const MAX_IMAGE_SIDE: u32 = 16384;

/// Seeded standard normal noise `(1, channels, frames, h, w)`.
pub(crate) fn noise(seed: u64, shape: [usize; 4], device: &Device) -> Result<Tensor> {
    let [c, f, h, w] = shape;
    let n = element_count(&[c, f, h, w])?;
    Ok(Tensor::from_vec(normal(seed, n), (1, c, f, h, w), device)?)
}

fn element_count(dims: &[usize]) -> Result<usize> {
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| EngineError::Input(format!("a tensor of shape {dims:?} does not fit in memory")))
}

/// Audio features `(1, frames, tokens, dim)`: the first `frames` rows of
/// the file (a safetensors tensor `audio_features`, its only tensor, or an
/// .npy array of shape (≥ frames, tokens, dim)), or seeded stand-ins.
pub(crate) fn audio_features(
    path: Option<&Path>,
    seed: u64,
    frames: usize,
    tokens: usize,
    dim: usize,
    device: &Device,
) -> Result<Tensor> {
    let Some(path) = path else {
        let n = element_count(&[frames, tokens, dim])?;
        return Ok(Tensor::from_vec(normal(seed.wrapping_add(2), n), (1, frames, tokens, dim), device)?);
    };
    let label = path.display().to_string();
    let read = |why: String| EngineError::Read { path: label.clone(), why };
    let tensor = if path.extension().is_some_and(|e| e == "npy") {
        Tensor::read_npy(path).map_err(|e| read(e.to_string()))?
    } else {
        let mut tensors = candle_core::safetensors::load(path, &Device::Cpu).map_err(|e| read(e.to_string()))?;
        match tensors.remove("audio_features") {
            Some(t) => t,
            None if tensors.len() == 1 => tensors.into_values().next().ok_or_else(|| read("no tensor".into()))?,
            None => return Err(read("no tensor named audio_features (and more than one tensor)".into())),
        }
    };
    match tensor.dims() {
        &[rows, t, d] if t == tokens && d == dim => {
            if rows < frames {
                return Err(EngineError::Input(format!(
                    "{label}: audio features cover {rows} frames, the spec asks for frames = {frames}"
                )));
            }
            Ok(tensor.narrow(0, 0, frames)?.to_dtype(DType::F32)?.unsqueeze(0)?.to_device(device)?)
        }
        other => Err(read(format!("shape {other:?}, expected (frames, {tokens}, {dim})"))),
    }
}

/// Rendered poses `(1, 3, frames, height, width)` in [0, 1]: frames
/// `0.npy … frames-1.npy` of the folder drawn by nanscope's pose renderer
/// as EchoMimicV2 draws them (hands only), or a seeded stand-in with about
/// 1% of its pixels lit, like a rendered pose.
pub(crate) fn poses(
    dir: Option<&Path>,
    seed: u64,
    frames: usize,
    height: usize,
    width: usize,
    device: &Device,
) -> Result<Tensor> {
    let plane = element_count(&[height, width])?;
    let Some(dir) = dir else {
        let n = element_count(&[3, frames, plane])?;
        let lit: Vec<f32> =
            normal(seed.wrapping_add(3), n).into_iter().map(|x| if x > 2.33 { 1.0 } else { 0.0 }).collect();
        return Ok(Tensor::from_vec(lit, (1, 3, frames, height, width), device)?);
    };
    let label = dir.display().to_string();
    let sequence = crate::pose::load(&[dir.to_path_buf()], None);
    let (w, h) = (
        u32::try_from(width).map_err(|_| EngineError::Input(format!("width = {width} is too large")))?,
        u32::try_from(height).map_err(|_| EngineError::Input(format!("height = {height} is too large")))?,
    );
    let mut values = vec![0f32; element_count(&[3, frames, plane])?];
    for index in 0..frames {
        let file = sequence.frames.iter().find(|f| f.index == index as u64).ok_or_else(|| EngineError::Read {
            path: label.clone(),
            why: format!("no pose for frame {index} ({index}.npy): the pipeline opens 0 … frames-1"),
        })?;
        let pose = file.reading.pose.as_ref().ok_or_else(|| EngineError::Read {
            path: file.path.display().to_string(),
            why: file.reading.findings.first().map_or("unreadable pose".into(), |f| f.message.clone()),
        })?;
        let rgb = render_frame(pose, w, h, RenderOptions { body: false, face: false })
            .map_err(|e| EngineError::Input(format!("pose frame {index}: {e}")))?;
        for (p, px) in rgb.pixels.chunks_exact(3).enumerate().take(plane) {
            for (c, &v) in px.iter().enumerate() {
                values[(c * frames + index) * plane + p] = f32::from(v) / 255.0;
            }
        }
    }
    Ok(Tensor::from_vec(values, (1, 3, frames, height, width), device)?)
}

/// The reference image `(1, 3, height, width)` in [-1, 1], resized as the
/// pipeline's image processor does (Lanczos), or a seeded stand-in.
pub(crate) fn reference_image(
    path: Option<&Path>,
    seed: u64,
    height: usize,
    width: usize,
    device: &Device,
) -> Result<Tensor> {
    let plane = element_count(&[height, width])?;
    let Some(path) = path else {
        let n = element_count(&[3, plane])?;
        let values: Vec<f32> =
            normal(seed.wrapping_add(4), n).into_iter().map(|x| (x * 0.5).clamp(-1.0, 1.0)).collect();
        return Ok(Tensor::from_vec(values, (1, 3, height, width), device)?);
    };
    let label = path.display().to_string();
    let read = |why: String| EngineError::Read { path: label.clone(), why };
    let reader =
        image::ImageReader::open(path).and_then(|r| r.with_guessed_format()).map_err(|e| read(e.to_string()))?;
    let (iw, ih) = reader.into_dimensions().map_err(|e| read(e.to_string()))?;
    if iw == 0 || ih == 0 || iw > MAX_IMAGE_SIDE || ih > MAX_IMAGE_SIDE {
        return Err(read(format!("{iw}×{ih} pixels is outside 1..={MAX_IMAGE_SIDE} per side")));
    }
    let reader =
        image::ImageReader::open(path).and_then(|r| r.with_guessed_format()).map_err(|e| read(e.to_string()))?;
    let decoded = reader.decode().map_err(|e| read(e.to_string()))?.to_rgb8();
    let (w, h) = (
        u32::try_from(width).map_err(|_| EngineError::Input(format!("width = {width} is too large")))?,
        u32::try_from(height).map_err(|_| EngineError::Input(format!("height = {height} is too large")))?,
    );
    let resized = image::imageops::resize(&decoded, w, h, image::imageops::FilterType::Lanczos3);
    let mut values = vec![0f32; element_count(&[3, plane])?];
    for (p, px) in resized.pixels().enumerate().take(plane) {
        for c in 0..3 {
            values[c * plane + p] = f32::from(px.0[c]) / 127.5 - 1.0;
        }
    }
    Ok(Tensor::from_vec(values, (1, 3, height, width), device)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/replay/echomimic/demo");

    #[test]
    fn audio_features_come_from_the_file_or_the_seed() {
        let file = Path::new(DEMO).join("audio_features.safetensors");
        let audio = audio_features(Some(&file), 0, 6, 3, 16, &Device::Cpu).unwrap();
        assert_eq!(audio.dims(), &[1, 6, 3, 16]);
        let err = audio_features(Some(&file), 0, 9, 3, 16, &Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("cover 8 frames") && err.contains("frames = 9"), "{err}");
        let err = audio_features(Some(&file), 0, 4, 50, 384, &Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("expected (frames, 50, 384)"), "{err}");
        let seeded = audio_features(None, 7, 4, 3, 16, &Device::Cpu).unwrap();
        assert_eq!(seeded.dims(), &[1, 4, 3, 16]);
    }

    /// EchoMimicV2 pose files (drawn for 768×768) render hands only, ~99% black.
    #[test]
    fn poses_render_from_a_folder_as_the_pipeline_draws_them() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/pose/echomimic_clean");
        let poses = poses(Some(&dir), 0, 2, 768, 768, &Device::Cpu).unwrap();
        assert_eq!(poses.dims(), &[1, 3, 2, 768, 768]);
        let mean = poses.mean_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(mean > 0.0 && mean < 0.1, "{mean}");
        let err = super::poses(Some(&dir), 0, 100, 64, 64, &Device::Cpu).unwrap_err().to_string();
        assert!(err.contains("no pose for frame 24"), "{err}");
        let seeded = super::poses(None, 1, 2, 16, 16, &Device::Cpu).unwrap();
        let lit = seeded.mean_all().unwrap().to_scalar::<f32>().unwrap();
        assert!(lit < 0.05, "{lit}");
    }

    #[test]
    fn the_reference_image_is_resized_to_minus_one_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ref.png");
        image::RgbImage::from_pixel(8, 4, image::Rgb([255, 0, 128])).save(&path).unwrap();
        let image = reference_image(Some(&path), 0, 16, 16, &Device::Cpu).unwrap();
        assert_eq!(image.dims(), &[1, 3, 16, 16]);
        let red = image.narrow(1, 0, 1).unwrap().mean_all().unwrap().to_scalar::<f32>().unwrap();
        assert!((red - 1.0).abs() < 1e-3, "{red}");
        assert!(reference_image(Some(&dir.path().join("none.png")), 0, 16, 16, &Device::Cpu).is_err());
        assert_eq!(noise(3, [4, 2, 2, 2], &Device::Cpu).unwrap().dims(), &[1, 4, 2, 2, 2]);
    }
}
