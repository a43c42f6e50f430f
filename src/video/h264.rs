//! Just enough of H.264's syntax (ITU-T H.264, 7.3) to tell a slice from
//! other bytes that happen to look like one: the sequence and picture
//! parameter sets of a reference file, and the slice header they govern.
//!
//! A moov-less file's media data interleaves the video's units with other
//! tracks' samples. Between them, a few bytes of AAC can read as a length
//! field and a slice's first three fields; decoded as a frame, they break
//! the frames around them. A real slice header runs its whole length inside
//! the unit with every field in its range (frame numbers, reference list
//! commands, QP, deblocking offsets) and, with CABAC, ends in alignment bits
//! that are all ones. Other data fails one of these almost always.

/// A bit reader over an RBSP (emulation prevention bytes already removed).
pub(crate) struct Bits<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Bits<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Bits<'a> {
        Bits { bytes, at: 0 }
    }

    pub(crate) fn bit(&mut self) -> Option<u32> {
        let byte = self.bytes.get(self.at / 8)?;
        let bit = (byte >> (7 - self.at % 8)) & 1;
        self.at += 1;
        Some(bit as u32)
    }

    pub(crate) fn flag(&mut self) -> Option<bool> {
        self.bit().map(|b| b == 1)
    }

    /// `u(n)`, n ≤ 32.
    pub(crate) fn bits(&mut self, n: u32) -> Option<u32> {
        let mut value = 0u32;
        for _ in 0..n {
            value = (value << 1) | self.bit()?;
        }
        Some(value)
    }

    /// An unsigned Exp-Golomb value, `ue(v)` (at most 32 bits of value).
    pub(crate) fn ue(&mut self) -> Option<u64> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return None;
            }
        }
        let value = self.bits(zeros)? as u64;
        Some((1u64 << zeros) - 1 + value)
    }

    /// `ue(v)` that must not exceed `max`.
    fn ue_max(&mut self, max: u64) -> Option<u64> {
        self.ue().filter(|&v| v <= max)
    }

    /// A signed Exp-Golomb value, `se(v)`.
    pub(crate) fn se(&mut self) -> Option<i64> {
        let k = self.ue()? as i64;
        Some(if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) })
    }

    /// `se(v)` inside `range`.
    fn se_in(&mut self, range: std::ops::RangeInclusive<i64>) -> Option<i64> {
        self.se().filter(|v| range.contains(v))
    }

    fn byte_aligned(&self) -> bool {
        self.at.is_multiple_of(8)
    }

    fn bits_left(&self) -> usize {
        (self.bytes.len() * 8).saturating_sub(self.at)
    }
}

/// The payload of a unit (after its header byte) with emulation prevention
/// bytes (`00 00 03`) removed, up to `limit` bytes: headers are short.
pub(crate) fn rbsp(payload: &[u8], limit: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len().min(limit));
    let mut zeros = 0u8;
    for &b in payload.iter().take(limit) {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        out.push(b);
        zeros = if b == 0 { zeros.saturating_add(1) } else { 0 };
    }
    out
}

/// What a slice header's layout depends on, from a sequence parameter set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sps {
    pub id: u64,
    separate_colour_plane: bool,
    chroma_array_type: u64,
    bit_depth_luma_minus8: u64,
    log2_max_frame_num: u32,
    poc_type: u64,
    log2_max_poc_lsb: u32,
    delta_pic_order_always_zero: bool,
    frame_mbs_only: bool,
    /// Macroblocks in a frame: no slice starts beyond it.
    pic_size_in_mbs: u64,
}

/// What a slice header's layout depends on, from a picture parameter set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pps {
    pub id: u64,
    sps_id: u64,
    cabac: bool,
    bottom_field_pic_order_in_frame_present: bool,
    num_ref_idx_l0_default_minus1: u64,
    num_ref_idx_l1_default_minus1: u64,
    weighted_pred: bool,
    weighted_bipred_idc: u32,
    pic_init_qp_minus26: i64,
    deblocking_filter_control_present: bool,
    redundant_pic_cnt_present: bool,
}

/// Profiles whose SPS carries the chroma format, bit depths and scaling lists.
const HIGH_PROFILES: [u32; 13] = [100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135];

fn skip_scaling_list(bits: &mut Bits, size: usize) -> Option<()> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            let delta = bits.se_in(-128..=127)?;
            next = (last + delta + 256) % 256;
        }
        last = if next == 0 { last } else { next };
    }
    Some(())
}

/// Reads a list of commands (`ue(v)` each) that a terminating command
/// ends; `step` reads a command's arguments and says whether it ended the
/// list. More than `max` commands is no list an encoder writes.
fn commands(b: &mut Bits, max: usize, mut step: impl FnMut(&mut Bits, u64) -> Option<bool>) -> Option<()> {
    for _ in 0..=max {
        let command = b.ue()?;
        if step(b, command)? {
            return Some(());
        }
    }
    None
}

/// Parses a sequence parameter set unit (header byte included).
pub fn parse_sps(unit: &[u8]) -> Option<Sps> {
    if unit.first()? & 0x1f != 7 {
        return None;
    }
    let body = rbsp(&unit[1..], 1024);
    let mut b = Bits::new(&body);
    let profile = b.bits(8)?;
    b.bits(16)?; // constraint flags, level
    let id = b.ue_max(31)?;
    let (mut chroma_format, mut separate_colour_plane, mut bit_depth_luma_minus8) = (1, false, 0);
    if HIGH_PROFILES.contains(&profile) {
        chroma_format = b.ue_max(3)?;
        if chroma_format == 3 {
            separate_colour_plane = b.flag()?;
        }
        bit_depth_luma_minus8 = b.ue_max(6)?;
        b.ue_max(6)?; // chroma bit depth
        b.flag()?; // transform bypass
        if b.flag()? {
            let lists = if chroma_format == 3 { 12 } else { 8 };
            for i in 0..lists {
                if b.flag()? {
                    skip_scaling_list(&mut b, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    let log2_max_frame_num = b.ue_max(12)? as u32 + 4;
    let poc_type = b.ue_max(2)?;
    let (mut log2_max_poc_lsb, mut delta_pic_order_always_zero) = (0, false);
    match poc_type {
        0 => log2_max_poc_lsb = b.ue_max(12)? as u32 + 4,
        1 => {
            delta_pic_order_always_zero = b.flag()?;
            b.se()?;
            b.se()?;
            for _ in 0..b.ue_max(255)? {
                b.se()?;
            }
        }
        _ => {}
    }
    b.ue()?; // max_num_ref_frames
    b.flag()?; // gaps_in_frame_num_value_allowed
    let width_mbs = b.ue_max(1 << 16)? + 1;
    let height_map_units = b.ue_max(1 << 16)? + 1;
    let frame_mbs_only = b.flag()?;
    let pic_size_in_mbs = width_mbs * height_map_units * if frame_mbs_only { 1 } else { 2 };
    let chroma_array_type = if separate_colour_plane { 0 } else { chroma_format };
    Some(Sps {
        id,
        separate_colour_plane,
        chroma_array_type,
        bit_depth_luma_minus8,
        log2_max_frame_num,
        poc_type,
        log2_max_poc_lsb,
        delta_pic_order_always_zero,
        frame_mbs_only,
        pic_size_in_mbs,
    })
}

/// Parses a picture parameter set unit (header byte included). Slice
/// groups (FMO, baseline's rarely used option) are not followed: `None`.
pub fn parse_pps(unit: &[u8]) -> Option<Pps> {
    if unit.first()? & 0x1f != 8 {
        return None;
    }
    let body = rbsp(&unit[1..], 256);
    let mut b = Bits::new(&body);
    let id = b.ue_max(255)?;
    let sps_id = b.ue_max(31)?;
    let cabac = b.flag()?;
    let bottom_field_pic_order_in_frame_present = b.flag()?;
    if b.ue()? != 0 {
        return None;
    }
    let num_ref_idx_l0_default_minus1 = b.ue_max(31)?;
    let num_ref_idx_l1_default_minus1 = b.ue_max(31)?;
    let weighted_pred = b.flag()?;
    let weighted_bipred_idc = b.bits(2)?;
    let pic_init_qp_minus26 = b.se_in(-(26 + 36)..=25)?;
    b.se()?; // pic_init_qs_minus26
    b.se()?; // chroma_qp_index_offset
    let deblocking_filter_control_present = b.flag()?;
    b.flag()?; // constrained_intra_pred
    let redundant_pic_cnt_present = b.flag()?;
    Some(Pps {
        id,
        sps_id,
        cabac,
        bottom_field_pic_order_in_frame_present,
        num_ref_idx_l0_default_minus1,
        num_ref_idx_l1_default_minus1,
        weighted_pred,
        weighted_bipred_idc,
        pic_init_qp_minus26,
        deblocking_filter_control_present,
        redundant_pic_cnt_present,
    })
}

/// The parameter sets of a reference, by id: what a slice header of the
/// same encoder must agree with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SliceSyntax {
    pub sps: Vec<Sps>,
    pub pps: Vec<Pps>,
}

impl SliceSyntax {
    /// Every parameter set parsed, or `None` when one cannot be (then only
    /// the first fields of a slice header can be checked).
    pub fn from_parameter_sets(sets: &[Vec<u8>]) -> Option<SliceSyntax> {
        let mut syntax = SliceSyntax::default();
        for set in sets {
            match set.first().map(|h| h & 0x1f) {
                Some(7) => syntax.sps.push(parse_sps(set)?),
                Some(8) => syntax.pps.push(parse_pps(set)?),
                _ => {}
            }
        }
        let usable = !syntax.pps.is_empty() && syntax.pps.iter().all(|p| syntax.sps.iter().any(|s| s.id == p.sps_id));
        usable.then_some(syntax)
    }

    /// Whether a slice unit (type 1 or 5, header byte included, possibly cut
    /// short by the end of the data) opens with a header these parameter sets
    /// allow, read to its end.
    pub fn header_fits(&self, unit: &[u8]) -> bool {
        self.read_header(unit).is_some()
    }

    fn read_header(&self, unit: &[u8]) -> Option<()> {
        let header = *unit.first()?;
        let (nal_ref_idc, idr) = (header >> 5 & 3, header & 0x1f == 5);
        if idr && nal_ref_idc == 0 {
            return None;
        }
        let body = rbsp(unit.get(1..)?, 512);
        let mut b = Bits::new(&body);
        let first_mb = b.ue()?;
        let slice_type = b.ue_max(9)? % 5;
        let (p, bi, i, sp, si) = (slice_type == 0, slice_type == 1, slice_type == 2, slice_type == 3, slice_type == 4);
        // An IDR picture holds intra slices only.
        if idr && !(i || si) {
            return None;
        }
        let pps_id = b.ue_max(255)?;
        let pps = self.pps.iter().find(|x| x.id == pps_id)?;
        let sps = self.sps.iter().find(|x| x.id == pps.sps_id)?;
        if first_mb >= sps.pic_size_in_mbs {
            return None;
        }
        if sps.separate_colour_plane {
            b.bits(2).filter(|&c| c <= 2)?;
        }
        let frame_num = b.bits(sps.log2_max_frame_num)?;
        if idr && frame_num != 0 {
            return None;
        }
        let mut field_pic = false;
        if !sps.frame_mbs_only {
            field_pic = b.flag()?;
            if field_pic {
                b.flag()?;
            }
        }
        if idr {
            b.ue_max(65535)?;
        }
        if sps.poc_type == 0 {
            b.bits(sps.log2_max_poc_lsb)?;
            if pps.bottom_field_pic_order_in_frame_present && !field_pic {
                b.se()?;
            }
        }
        if sps.poc_type == 1 && !sps.delta_pic_order_always_zero {
            b.se()?;
            if pps.bottom_field_pic_order_in_frame_present && !field_pic {
                b.se()?;
            }
        }
        if pps.redundant_pic_cnt_present {
            b.ue_max(127)?;
        }
        if bi {
            b.flag()?; // direct_spatial_mv_pred
        }
        let (mut l0, mut l1) = (pps.num_ref_idx_l0_default_minus1, pps.num_ref_idx_l1_default_minus1);
        if (p || sp || bi) && b.flag()? {
            l0 = b.ue_max(31)?;
            if bi {
                l1 = b.ue_max(31)?;
            }
        }
        // ref_pic_list_modification(): commands 0–3, 3 ends the list.
        let lists = if bi { 2 } else if i || si { 0 } else { 1 };
        for _ in 0..lists {
            if b.flag()? {
                commands(&mut b, 33, |b, command| match command {
                    3 => Some(true),
                    0..=2 => b.ue().map(|_| false),
                    _ => None,
                })?;
            }
        }
        if (pps.weighted_pred && (p || sp)) || (pps.weighted_bipred_idc == 1 && bi) {
            b.ue_max(7)?; // luma_log2_weight_denom
            if sps.chroma_array_type != 0 {
                b.ue_max(7)?;
            }
            let refs = [l0, l1];
            for &count in &refs[..if bi { 2 } else { 1 }] {
                for _ in 0..=count {
                    if b.flag()? {
                        b.se_in(-128..=127)?;
                        b.se_in(-128..=127)?;
                    }
                    if sps.chroma_array_type != 0 && b.flag()? {
                        for _ in 0..4 {
                            b.se_in(-128..=127)?;
                        }
                    }
                }
            }
        }
        if nal_ref_idc != 0 {
            // dec_ref_pic_marking(): memory management commands 0–6, 0 ends.
            if idr {
                b.bits(2)?;
            } else if b.flag()? {
                commands(&mut b, 66, |b, command| match command {
                    0 => Some(true),
                    1 | 2 | 4 | 6 => b.ue().map(|_| false),
                    3 => b.ue().and_then(|_| b.ue()).map(|_| false),
                    5 => Some(false),
                    _ => None,
                })?;
            }
        }
        if pps.cabac && !(i || si) {
            b.ue_max(2)?; // cabac_init_idc
        }
        let qp = 26 + pps.pic_init_qp_minus26 + b.se()?;
        if !(-6 * sps.bit_depth_luma_minus8 as i64..=51).contains(&qp) {
            return None;
        }
        if sp || si {
            if sp {
                b.flag()?;
            }
            b.se_in(-51..=51)?;
        }
        if pps.deblocking_filter_control_present && b.ue_max(2)? != 1 {
            b.se_in(-6..=6)?;
            b.se_in(-6..=6)?;
        }
        // The slice data follows; with CABAC it starts byte-aligned, after
        // alignment bits that are all ones.
        if pps.cabac {
            while !b.byte_aligned() {
                if b.bit()? != 1 {
                    return None;
                }
            }
        }
        // A slice codes at least one macroblock.
        (b.bits_left() > 0).then_some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// The parameter sets of an x264 encode (High profile, CABAC, 160x120,
    /// four slices per frame), as its avcC holds them.
    fn x264() -> SliceSyntax {
        let sps = hex("6764000bacd942847e5c0440000003004000000c03c50a6580");
        let pps = hex("68ef8fcbfdf8f800");
        SliceSyntax::from_parameter_sets(&[sps, pps]).unwrap()
    }

    #[test]
    fn parameter_sets_of_an_x264_encode_parse() {
        let syntax = x264();
        let sps = &syntax.sps[0];
        assert_eq!((sps.id, sps.chroma_array_type, sps.poc_type, sps.frame_mbs_only), (0, 1, 0, true));
        assert_eq!(sps.pic_size_in_mbs, 10 * 8);
        let pps = &syntax.pps[0];
        assert!(pps.cabac && pps.weighted_pred && pps.deblocking_filter_control_present);
        assert_eq!(pps.weighted_bipred_idc, 2);
    }

    /// Every slice of an IDR and of a later frame (first and continuation
    /// slices, P and B) fits; its first bytes are enough.
    #[test]
    fn real_slices_fit() {
        let syntax = x264();
        for slice in [
            "6588840047dae3985bd757da423e83899688c51b11acd773",
            "650a8884009ff24c375093fecec711d56adad09e5797047e",
            "65052221000dffd6781effbde8328e39eea98f7dc72715b6",
            "6507a221000effd9fc0f81e3775b6b03f98e766442851bb2",
            "419e424212fffeead88936c1e45e0c2cfcd2c2fb811d57b6",
            "410a9e42423bffde6a4fcce1cec1d13987fca88fb31f26c2",
            "410527909085ff2bfb949fefd4003f8f1f8d90608ba72f8f",
            "4107a7909085ffb84901d8f5b57701182007011820070000",
        ] {
            assert!(syntax.header_fits(&hex(slice)), "{slice}");
        }
    }

    /// Bytes of AAC audio that read as a 4-byte slice at macroblock 0 (found
    /// between the frames of a real moov-less file): the header runs past
    /// the unit, and its reference list commands are out of range.
    #[test]
    fn audio_bytes_that_start_like_a_slice_do_not_fit() {
        let syntax = x264();
        assert!(!syntax.header_fits(&hex("01eeecfb")));
        assert!(!syntax.header_fits(&hex("01eeecfb1122334455667788")));
    }

    #[test]
    fn fields_out_of_range_do_not_fit() {
        let syntax = x264();
        let idr = hex("6588840047dae3985bd757da423e83899688c51b11acd773");
        // An IDR slice must be intra, carry frame number 0 and be a reference.
        let mut as_non_reference = idr.clone();
        as_non_reference[0] &= 0x1f;
        assert!(!syntax.header_fits(&as_non_reference));
        // A slice starting beyond the picture's 80 macroblocks (seven zeros,
        // a one and seven ones: ue 254), then the rest of the first slice.
        let mut beyond = vec![0x65, 0x01, 0xfe];
        beyond.extend(&idr[1..]);
        assert!(!syntax.header_fits(&beyond));
        // A slice naming a picture parameter set the reference does not have.
        let mut other = x264();
        other.pps[0].id = 1;
        assert!(!other.header_fits(&idr));
        assert!(!syntax.header_fits(&[]) && !syntax.header_fits(&[0x65]));
    }

    #[test]
    fn emulation_prevention_bytes_are_removed() {
        assert_eq!(rbsp(&[1, 0, 0, 3, 1, 0, 0, 3, 0, 7], 64), vec![1, 0, 0, 1, 0, 0, 0, 7]);
        assert_eq!(rbsp(&[0, 0, 3, 3], 64), vec![0, 0, 3]);
        assert_eq!(rbsp(&[9; 10], 4).len(), 4);
    }

    #[test]
    fn exp_golomb_values_read() {
        // 1 | 010 | 011 | 00100 | 00101: ue 0, 1, 2, 3; se of ue 4 is -2.
        let bytes = [0b1010_0110, 0b0100_0010, 0b1000_0000];
        let mut b = Bits::new(&bytes);
        assert_eq!((b.ue(), b.ue(), b.ue(), b.ue(), b.se()), (Some(0), Some(1), Some(2), Some(3), Some(-2)));
        assert_eq!(Bits::new(&[0, 0, 0, 0, 0]).ue(), None);
    }

    #[test]
    fn sets_that_cannot_be_parsed_leave_no_syntax() {
        // A truncated SPS, and a PPS whose SPS is absent.
        assert_eq!(SliceSyntax::from_parameter_sets(&[vec![0x67, 0x64, 0x00, 0x0b], hex("68ef8fcbfdf8f800")]), None);
        assert_eq!(SliceSyntax::from_parameter_sets(&[hex("68ef8fcbfdf8f800")]), None);
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_are_judged_without_panicking(unit in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let _ = x264().header_fits(&unit);
            let _ = parse_sps(&unit);
            let _ = parse_pps(&unit);
        }
    }
}
