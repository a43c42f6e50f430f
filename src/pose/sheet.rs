//! A contact sheet: every frame's drawing as a thumbnail in a grid, with
//! the frame number, a red frame around flagged frames and a crossed tile
//! for missing or unreadable ones.

use super::render::Rgb;

/// One cell of the sheet.
#[derive(Debug, Clone)]
pub struct SheetTile {
    pub frame: u64,
    /// `None` for a frame that is missing or could not be read.
    pub thumb: Option<Rgb>,
    pub flagged: bool,
}

const GAP: u32 = 4;
const BACKGROUND: [u8; 3] = [40, 40, 40];
const FLAG: [u8; 3] = [230, 30, 30];
const LABEL: [u8; 3] = [200, 200, 200];

/// Downscales by taking each block's brightest pixel, so 2-pixel lines stay
/// visible in a small thumbnail (averaging would fade them to black).
pub fn thumbnail(image: &Rgb, width: u32) -> Rgb {
    let width = width.clamp(1, image.width.max(1));
    let height = ((image.height as u64 * width as u64) / image.width.max(1) as u64).max(1) as u32;
    let mut out = Rgb::black(width, height);
    for ty in 0..height {
        let (y0, y1) =
            (ty * image.height / height, ((ty + 1) * image.height / height).max(ty * image.height / height + 1));
        for tx in 0..width {
            let (x0, x1) =
                (tx * image.width / width, ((tx + 1) * image.width / width).max(tx * image.width / width + 1));
            let mut best = [0u8; 3];
            let mut best_sum = 0u32;
            for y in y0..y1.min(image.height) {
                for x in x0..x1.min(image.width) {
                    let p = image.get(x, y);
                    let sum = p.iter().map(|&c| c as u32).sum();
                    if sum > best_sum {
                        best_sum = sum;
                        best = p;
                    }
                }
            }
            let at = (ty as usize * width as usize + tx as usize) * 3;
            out.pixels[at..at + 3].copy_from_slice(&best);
        }
    }
    out
}

/// Lays the tiles out `columns` wide. All thumbnails share `thumb_w × thumb_h`.
pub fn sheet(tiles: &[SheetTile], columns: u32, thumb_w: u32, thumb_h: u32) -> Rgb {
    let columns = columns.max(1).min(tiles.len().max(1) as u32);
    let rows = (tiles.len() as u32).div_ceil(columns).max(1);
    let width = columns * (thumb_w + GAP) + GAP;
    let height = rows * (thumb_h + GAP) + GAP;
    let mut out = Rgb { width, height, pixels: BACKGROUND.repeat(width as usize * height as usize) };
    for (i, tile) in tiles.iter().enumerate() {
        let (col, row) = (i as u32 % columns, i as u32 / columns);
        let (x0, y0) = (GAP + col * (thumb_w + GAP), GAP + row * (thumb_h + GAP));
        match &tile.thumb {
            Some(thumb) => {
                for y in 0..thumb.height.min(thumb_h) {
                    for x in 0..thumb.width.min(thumb_w) {
                        set(&mut out, x0 + x, y0 + y, thumb.get(x, y));
                    }
                }
            }
            None => {
                for t in 0..thumb_w.min(thumb_h) {
                    let (x, y) = (t * thumb_w / thumb_h.max(1), t);
                    for d in 0..2 {
                        set(&mut out, x0 + (x + d).min(thumb_w - 1), y0 + y, FLAG);
                        set(&mut out, x0 + (thumb_w - 1).saturating_sub(x + d), y0 + y, FLAG);
                    }
                }
            }
        }
        if tile.flagged || tile.thumb.is_none() {
            for t in 0..3 {
                for x in 0..thumb_w {
                    set(&mut out, x0 + x, y0 + t, FLAG);
                    set(&mut out, x0 + x, y0 + thumb_h - 1 - t, FLAG);
                }
                for y in 0..thumb_h {
                    set(&mut out, x0 + t, y0 + y, FLAG);
                    set(&mut out, x0 + thumb_w - 1 - t, y0 + y, FLAG);
                }
            }
        }
        label(&mut out, x0 + 5, y0 + 5, tile.frame);
    }
    out
}

fn set(image: &mut Rgb, x: u32, y: u32, colour: [u8; 3]) {
    if x < image.width && y < image.height {
        let at = (y as usize * image.width as usize + x as usize) * 3;
        image.pixels[at..at + 3].copy_from_slice(&colour);
    }
}

/// 3×5 pixel digits, one row per u8 (three low bits, left to right).
const DIGITS: [[u8; 5]; 10] = [
    [7, 5, 5, 5, 7],
    [2, 6, 2, 2, 7],
    [7, 1, 7, 4, 7],
    [7, 1, 7, 1, 7],
    [5, 5, 7, 1, 1],
    [7, 4, 7, 1, 7],
    [7, 4, 7, 5, 7],
    [7, 1, 1, 1, 1],
    [7, 5, 7, 5, 7],
    [7, 5, 7, 1, 7],
];

/// The frame number in 2×-scaled pixel digits.
fn label(image: &mut Rgb, x0: u32, y0: u32, number: u64) {
    for (i, digit) in number.to_string().bytes().enumerate() {
        let glyph = DIGITS[(digit - b'0') as usize];
        for (row, bits) in glyph.iter().enumerate() {
            for col in 0..3 {
                if bits & (4 >> col) != 0 {
                    for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                        set(image, x0 + i as u32 * 8 + col * 2 + dx, y0 + row as u32 * 2 + dy, LABEL);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_keep_thin_lines_and_sheets_mark_flags() {
        let mut image = Rgb::black(100, 50);
        for x in 0..100 {
            let at = (25 * 100 + x) * 3;
            image.pixels[at] = 255;
        }
        let thumb = thumbnail(&image, 10);
        assert_eq!((thumb.width, thumb.height), (10, 5));
        assert!((0..10).all(|x| thumb.get(x, 2)[0] == 255));
        let tiles = vec![
            SheetTile { frame: 0, thumb: Some(thumb.clone()), flagged: false },
            SheetTile { frame: 12, thumb: None, flagged: true },
        ];
        let sheet = sheet(&tiles, 8, 10, 5);
        assert_eq!((sheet.width, sheet.height), (2 * 14 + 4, 5 + 8));
        assert_eq!(sheet.get(4 + 14, 4), FLAG);
        assert_eq!(sheet.get(4 + 3, 4 + 2), [255, 0, 0]);
    }
}
