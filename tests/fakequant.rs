//! The fake-quantization kernels against values NumPy and PyTorch computed
//! with the documented formulas (fixtures/simulate/make_fixtures.py).

use nanscope::formats::{Storage, safetensors};
use nanscope::numerics::fakequant::{E4M3_NAN_FROM, QuantScheme, fake_quantize, round_e4m3, round_e4m3_saturating};

const REFERENCE: &[u8] = include_bytes!("../fixtures/simulate/fakequant_reference.safetensors");

fn tensor(name: &str) -> (Vec<f32>, Vec<u64>) {
    let parsed = safetensors::parse(REFERENCE, "reference");
    assert!(parsed.findings.is_empty(), "{:?}", parsed.findings);
    let entry = parsed.tensors.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no {name}"));
    let Storage::Mapped { start, len } = entry.storage else { panic!("unexpected storage") };
    let values = REFERENCE[start..start + len].chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    (values.collect(), entry.shape.clone())
}

fn assert_bitwise(scheme: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len());
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let same = g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()) || (*g == 0.0 && *w == 0.0);
        assert!(same, "{scheme}: element {i}: got {g:e}, reference {w:e}");
    }
}

#[test]
fn every_scheme_matches_the_reference_bit_for_bit() {
    for scheme in QuantScheme::ALL {
        let source = if matches!(scheme, QuantScheme::Int8 | QuantScheme::Fp8E4M3) { "moderate" } else { "input" };
        let (values, shape) = tensor(source);
        let (got, _) = fake_quantize(scheme, &values, shape[1] as usize);
        let (want, _) = tensor(scheme.name());
        assert_bitwise(scheme.name(), &got, &want);
    }
}

/// The generator's PyTorch saturates the e4m3fn cast; the unsaturated cast
/// agrees with it up to 464 and stores NaN beyond.
#[test]
fn e4m3_casts_match_torch() {
    let (input, _) = tensor("e4m3_cast_input");
    let (want, _) = tensor("e4m3_cast_expected");
    let saturating: Vec<f32> = input.iter().map(|&x| round_e4m3_saturating(x)).collect();
    assert_bitwise("saturating e4m3 cast", &saturating, &want);
    for (&x, &w) in input.iter().zip(&want) {
        let got = round_e4m3(x);
        if x.abs() > E4M3_NAN_FROM {
            assert!(got.is_nan(), "{x} should become NaN, got {got}");
        } else {
            assert_bitwise("e4m3 cast", &[got], &[w]);
        }
    }
}
