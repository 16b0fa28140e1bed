//! Untrusted images, decoded within bounds (pure): avatars (`profile.rs`) and attachments
//! (`files.rs`) both come through here, each with its own [`Rules`].
//!
//! Every size is read from the file's header before anything is inflated or decoded, and what
//! decoding would need is checked against the rules' memory budget first. A small file claiming
//! a huge image, or carrying a compressed chunk that inflates to gigabytes (a decompression
//! bomb), costs neither memory nor time: PNG's ancillary chunks (colour profiles, compressed
//! text, EXIF) are dropped unread before the decoder sees the file. Whatever the caller
//! re-encodes from the decoded pixels carries no metadata of the upload.

use std::io::Cursor;

use image::codecs::gif::GifDecoder;
use image::codecs::png::PngDecoder;
use image::codecs::webp::WebPDecoder;
use image::{AnimationDecoder, DynamicImage, ImageDecoder, ImageFormat, Limits};
use protocol::profile::{Problem, ProblemCode};

pub(crate) const MIB: u64 = 1024 * 1024;

/// What an upload must be.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub min_side: u32,
    pub max_side: u32,
    /// Most pixels (width × height): a photo's sides may be long, its area still bounded.
    pub max_pixels: u64,
    pub square: bool,
    /// GIF accepted (its first frame).
    pub gif: bool,
    /// Memory one decode may use: the largest accepted image as 8-bit RGBA, plus the decoder's
    /// own buffers. An image that needs more (16 bits per channel, a large progressive JPEG's
    /// coefficients) is refused as too large, naming both figures.
    pub budget: u64,
    /// The accepted formats, as the refusals name them.
    pub formats: &'static str,
}

/// Decode an upload under `rules`: PNG, JPEG, WebP (and GIF's first frame when allowed).
/// Refused when the format is another, the header's size breaks the rules, decoding would
/// exceed the budget, or the decoder reports missing or damaged data.
pub fn decode(bytes: &[u8], rules: &Rules) -> Result<(DynamicImage, ImageFormat), Problem> {
    let format = image::guess_format(bytes).map_err(|_| {
        Problem::new(
            ProblemCode::NotAnImage,
            format!("The file is not an image. Upload a {} file.", rules.formats),
        )
    })?;
    let decoded = match format {
        ImageFormat::Png => decode_png(bytes, rules)?,
        ImageFormat::Jpeg => decode_jpeg(bytes, rules)?,
        ImageFormat::WebP => decode_webp(bytes, rules)?,
        ImageFormat::Gif if rules.gif => decode_gif(bytes, rules)?,
        other => {
            return Err(Problem::new(
                ProblemCode::UnsupportedImageFormat,
                format!(
                    "{} images are not accepted. Upload a {} file.",
                    format_name(other),
                    rules.formats
                ),
            ));
        }
    };
    Ok((decoded, format))
}

/// The header's dimensions, checked in the documented order: too large, not square, too small.
fn check_dimensions(w: u32, h: u32, r: &Rules) -> Result<(), Problem> {
    if w == 0 || h == 0 {
        return Err(corrupt());
    }
    if w > r.max_side || h > r.max_side {
        let m = r.max_side;
        return Err(Problem::new(
            ProblemCode::ImageTooLarge,
            format!("The image is {w}×{h} px; the largest accepted is {m}×{m} px."),
        ));
    }
    if u64::from(w) * u64::from(h) > r.max_pixels {
        return Err(Problem::new(
            ProblemCode::ImageTooLarge,
            format!(
                "The image is {w}×{h} px; the largest accepted has {} megapixels.",
                r.max_pixels / 1_000_000
            ),
        ));
    }
    if r.square && w != h {
        return Err(Problem::new(
            ProblemCode::ImageNotSquare,
            format!("The image is {w}×{h} px; it must be square."),
        ));
    }
    if w < r.min_side || h < r.min_side {
        let m = r.min_side;
        return Err(Problem::new(
            ProblemCode::ImageTooSmall,
            format!("The image is {w}×{h} px; it must be at least {m}×{m} px."),
        ));
    }
    Ok(())
}

/// What decoding needs, checked against the budget before anything is allocated.
fn check_budget(w: u32, h: u32, needed: u64, hint: &str, r: &Rules) -> Result<(), Problem> {
    if needed <= r.budget {
        return Ok(());
    }
    Err(Problem::new(
        ProblemCode::ImageTooLarge,
        format!(
            "The image is {w}×{h} px{hint}: decoding it needs {} MiB, over the limit of {} MiB. \
             Save it with 8 bits per channel, or smaller.",
            needed.div_ceil(MIB),
            r.budget / MIB
        ),
    ))
}

fn limits(r: &Rules) -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(r.max_side);
    limits.max_image_height = Some(r.max_side);
    limits.max_alloc = Some(r.budget);
    limits
}

/// The decoded image must be the size its header claimed; anything else is damaged.
fn same_size(img: DynamicImage, w: u32, h: u32) -> Result<DynamicImage, Problem> {
    if img.width() != w || img.height() != h {
        return Err(corrupt());
    }
    Ok(img)
}

fn decode_png(bytes: &[u8], r: &Rules) -> Result<DynamicImage, Problem> {
    let (w, h) = png_ihdr_size(bytes).ok_or_else(corrupt)?;
    check_dimensions(w, h, r)?;
    // Only the chunks that make the picture reach the decoder: a colour profile or a
    // compressed text chunk is a zlib stream the decoder would inflate before the first row.
    let critical = png_picture_chunks(bytes);
    let decoder = PngDecoder::with_limits(Cursor::new(&critical[..]), limits(r)).map_err(|e| {
        if matches!(e, image::ImageError::Limits(_)) {
            too_large_to_decode(w, h, r)
        } else {
            corrupt()
        }
    })?;
    let bits = if decoder.color_type().bits_per_pixel()
        / u16::from(decoder.color_type().channel_count())
        > 8
    {
        " at 16 bits per channel"
    } else {
        ""
    };
    check_budget(w, h, decoder.total_bytes(), bits, r)?;
    let img = DynamicImage::from_decoder(decoder).map_err(|_| corrupt())?;
    same_size(img, w, h)
}

fn too_large_to_decode(w: u32, h: u32, r: &Rules) -> Problem {
    Problem::new(
        ProblemCode::ImageTooLarge,
        format!(
            "The image is {w}×{h} px: decoding it needs more than the limit of {} MiB.",
            r.budget / MIB
        ),
    )
}

/// Width and height from a PNG's first chunk, which must be its header.
fn png_ihdr_size(bytes: &[u8]) -> Option<(u32, u32)> {
    let ihdr = bytes.get(8..24)?;
    if ihdr[..8] != [0, 0, 0, 13, b'I', b'H', b'D', b'R'] {
        return None;
    }
    let w = u32::from_be_bytes(ihdr[8..12].try_into().ok()?);
    let h = u32::from_be_bytes(ihdr[12..16].try_into().ok()?);
    Some((w, h))
}

/// The PNG with only its critical chunks (`IHDR`, `PLTE`, `IDAT`, `IEND`, and any other whose
/// name says it is critical) and `tRNS` (transparency is part of the picture). Everything else
/// (`iCCP`, `zTXt`, `iTXt`, `tEXt`, `eXIf`, animation frames, …) is dropped without being read.
/// A chunk cut short is kept as it is, so the decoder reports the missing data.
fn png_picture_chunks(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&bytes[..bytes.len().min(8)]);
    let mut at = 8;
    while at < bytes.len() {
        let Some(head) = bytes.get(at..at + 8) else {
            out.extend_from_slice(&bytes[at..]);
            break;
        };
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = &head[4..8];
        let end = at.saturating_add(12).saturating_add(len).min(bytes.len());
        if kind[0].is_ascii_uppercase() || kind == b"tRNS" {
            out.extend_from_slice(&bytes[at..end]);
        }
        if kind == b"IEND" {
            break;
        }
        at = end;
    }
    out
}

fn decode_jpeg(bytes: &[u8], r: &Rules) -> Result<DynamicImage, Problem> {
    use zune_jpeg::zune_core::bytestream::ZCursor;
    use zune_jpeg::zune_core::colorspace::ColorSpace;
    use zune_jpeg::zune_core::options::DecoderOptions;

    // Strict: a stream that ends early or is damaged is an error, not rows of grey (the
    // lenient default, which browsers share, would store a mostly grey picture).
    let options = DecoderOptions::default()
        .set_strict_mode(true)
        .set_max_width(usize::from(u16::MAX))
        .set_max_height(usize::from(u16::MAX))
        .jpeg_set_out_colorspace(ColorSpace::RGB);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    decoder.decode_headers().map_err(|_| corrupt())?;
    let info = decoder.info().ok_or_else(corrupt)?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    check_dimensions(w, h, r)?;
    // Every 8×8 block of the image costs its scan at least one bit (a Huffman code), so a file
    // with fewer bits than blocks cannot hold the picture its header claims; zune-jpeg would
    // predict the missing rows from nothing when an end marker comes early, even when strict.
    let blocks = u64::from(w.div_ceil(8)) * u64::from(h.div_ceil(8));
    if (bytes.len() as u64) * 8 < blocks {
        return Err(corrupt());
    }
    let pixels = u64::from(w) * u64::from(h);
    // A progressive JPEG keeps every coefficient of the image until its last scan.
    let progressive = info.sof.is_progressive();
    let coefficients = if progressive {
        pixels * u64::from(info.components) * 2
    } else {
        0
    };
    let hint = if progressive { " (progressive)" } else { "" };
    check_budget(w, h, pixels * 3 + coefficients, hint, r)?;
    decoder.set_options(
        options
            .set_max_width(r.max_side as usize)
            .set_max_height(r.max_side as usize),
    );
    let rgb = decoder.decode().map_err(|_| corrupt())?;
    let img = image::RgbImage::from_raw(w, h, rgb).ok_or_else(corrupt)?;
    Ok(DynamicImage::ImageRgb8(img))
}

fn decode_webp(bytes: &[u8], r: &Rules) -> Result<DynamicImage, Problem> {
    let mut decoder = WebPDecoder::new(Cursor::new(bytes)).map_err(|_| corrupt())?;
    let (w, h) = decoder.dimensions();
    check_dimensions(w, h, r)?;
    check_budget(w, h, decoder.total_bytes(), "", r)?;
    decoder
        .set_limits(limits(r))
        .map_err(|_| too_large_to_decode(w, h, r))?;
    let img = DynamicImage::from_decoder(decoder).map_err(|_| corrupt())?;
    same_size(img, w, h)
}

/// A GIF's first frame, composed on its logical screen (whose size the header gives).
fn decode_gif(bytes: &[u8], r: &Rules) -> Result<DynamicImage, Problem> {
    // The logical screen's size: bytes 6..10 of the header, little-endian.
    let (w, h) = match bytes.get(6..10) {
        Some(s) => (
            u32::from(u16::from_le_bytes([s[0], s[1]])),
            u32::from(u16::from_le_bytes([s[2], s[3]])),
        ),
        None => return Err(corrupt()),
    };
    check_dimensions(w, h, r)?;
    // Each frame is composed as RGBA on the whole screen.
    check_budget(w, h, u64::from(w) * u64::from(h) * 4 * 2, "", r)?;
    let mut decoder = GifDecoder::new(Cursor::new(bytes)).map_err(|_| corrupt())?;
    decoder
        .set_limits(limits(r))
        .map_err(|_| too_large_to_decode(w, h, r))?;
    let frame = decoder
        .into_frames()
        .next()
        .ok_or_else(corrupt)?
        .map_err(|_| corrupt())?;
    let img = DynamicImage::ImageRgba8(frame.into_buffer());
    same_size(img, w, h)
}

pub(crate) fn corrupt() -> Problem {
    Problem::new(
        ProblemCode::ImageCorrupt,
        "The image could not be read: the file is truncated or damaged.",
    )
}

fn format_name(f: ImageFormat) -> &'static str {
    match f {
        ImageFormat::Gif => "GIF",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Ico => "ICO",
        ImageFormat::Tiff => "TIFF",
        ImageFormat::Avif => "AVIF",
        ImageFormat::Qoi => "QOI",
        ImageFormat::Png => "PNG",
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::WebP => "WebP",
        _ => "These",
    }
}
