//! Operator profiles: the display name and avatar visitors see when an operator takes control.
//!
//! Pure: validating a name, vetting and re-encoding an avatar upload, and deciding how an
//! operator appears to visitors. The HTTP edge is in `crate::api`; profiles and avatar bytes live
//! in the [`crate::store::Store`], so every node serves them.

use std::io::Cursor;

use image::ImageFormat;
use protocol::limits::{
    AVATAR_SIDE, MAX_AVATAR_BYTES, MAX_AVATAR_SIDE, MAX_DISPLAY_NAME_GRAPHEMES, MIN_AVATAR_SIDE,
};
use protocol::profile::{Problem, ProblemCode};
use protocol::{Millis, OperatorRef};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use unicode_segmentation::UnicodeSegmentation;

use crate::images;

/// A saved profile, as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorProfile {
    /// `None`: the account name is used.
    pub display_name: Option<String>,
    /// A URL under `/avatars/`, or `None` for the placeholder.
    pub avatar_url: Option<String>,
    pub updated_at: Millis,
}

/// How an operator appears in a conversation: with a saved profile, its display name (or the
/// account name when it has none) and avatar; without one, only the account name, which
/// `OperatorRef::for_visitor` turns into "Human" for visitors.
pub fn operator_ref(
    id: &str,
    account_name: &str,
    profile: Option<&OperatorProfile>,
) -> OperatorRef {
    match profile {
        None => OperatorRef {
            id: id.to_owned(),
            name: account_name.to_owned(),
            display_name: None,
            avatar_url: None,
        },
        Some(p) => {
            let shown = p
                .display_name
                .clone()
                .unwrap_or_else(|| account_name.to_owned());
            OperatorRef {
                id: id.to_owned(),
                name: shown.clone(),
                display_name: Some(shown),
                avatar_url: p.avatar_url.clone(),
            }
        }
    }
}

/// Trim and check a display name; `Ok(None)` when it is empty (use the account name).
pub fn validate_display_name(raw: Option<&str>) -> Result<Option<String>, Problem> {
    let name = raw.unwrap_or("").trim();
    // The protocol's name rule: no control characters or line separators (a name is one line),
    // no bidirectional controls (one name must not read as another's), no stacks of combining
    // marks (they draw out of every box). Other format characters stay: emoji need the joiner.
    if let Some(fault) = protocol::visible::name_fault(name) {
        return Err(Problem::new(
            ProblemCode::InvalidDisplayName,
            fault.to_string(),
        ));
    }
    // What else shows nothing around it (zero-width spaces and the like), or a name of nothing
    // else, is trimmed like spaces: a blank name means the account name.
    let name = protocol::visible::trim_blank(name);
    if name.is_empty() {
        return Ok(None);
    }
    let count = name.graphemes(true).count();
    if count > MAX_DISPLAY_NAME_GRAPHEMES {
        return Err(Problem::new(
            ProblemCode::InvalidDisplayName,
            format!(
                "The display name is {count} characters long; keep it under {}.",
                MAX_DISPLAY_NAME_GRAPHEMES + 1
            ),
        ));
    }
    Ok(Some(name.to_owned()))
}

/// An accepted avatar: a PNG of [`AVATAR_SIDE`]² and its content hash (lowercase hex SHA-256).
#[derive(Debug, Clone)]
pub struct Avatar {
    pub png: Vec<u8>,
    pub hash: String,
}

/// The URL an avatar is served at.
pub fn avatar_url(workspace_id: &str, hash: &str) -> String {
    format!("/avatars/{workspace_id}/{hash}.png")
}

/// The hash in an avatar URL of `workspace_id`, if it is one.
pub fn avatar_hash<'a>(workspace_id: &str, url: &'a str) -> Option<&'a str> {
    let file = url
        .strip_prefix("/avatars/")?
        .strip_prefix(workspace_id)?
        .strip_prefix('/')?;
    avatar_file_hash(file)
}

/// The hash in an avatar's file name (`<sha256 hex>.png`), if it is one.
pub fn avatar_file_hash(file: &str) -> Option<&str> {
    let hash = file.strip_suffix(".png")?;
    (hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
        .then_some(hash)
}

/// Memory one avatar decode may use: the largest accepted image as 8-bit RGBA, plus the
/// decoder's own buffers (see `images::Rules::budget`).
pub const DECODE_BUDGET: u64 =
    (MAX_AVATAR_SIDE as u64) * (MAX_AVATAR_SIDE as u64) * 4 + images::MIB * 16;

/// What an avatar must be.
pub const AVATAR_RULES: images::Rules = images::Rules {
    min_side: MIN_AVATAR_SIDE,
    max_side: MAX_AVATAR_SIDE,
    max_pixels: (MAX_AVATAR_SIDE as u64) * (MAX_AVATAR_SIDE as u64),
    square: true,
    gif: false,
    budget: DECODE_BUDGET,
    formats: "PNG, JPEG or WebP",
};

/// Vet an upload and re-encode it: PNG, JPEG or WebP; square; at least [`MIN_AVATAR_SIDE`] and
/// at most [`MAX_AVATAR_SIDE`] px a side, read from the header before anything is inflated or
/// decoded; decoded within [`DECODE_BUDGET`] (see `images.rs` for the bombs this defuses). The
/// output is a fresh PNG: no metadata of the upload survives.
pub fn process_avatar(bytes: &[u8]) -> Result<Avatar, Problem> {
    if bytes.len() > MAX_AVATAR_BYTES {
        return Err(Problem::new(
            ProblemCode::PayloadTooLarge,
            format!(
                "The file is {} bytes; the limit is {} MiB.",
                bytes.len(),
                MAX_AVATAR_BYTES / (1024 * 1024)
            ),
        ));
    }
    let (decoded, _) = images::decode(bytes, &AVATAR_RULES)?;
    let resized = decoded
        .resize_exact(
            AVATAR_SIDE,
            AVATAR_SIDE,
            image::imageops::FilterType::Triangle,
        )
        .into_rgba8();
    let mut png = Vec::new();
    resized
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|_| images::corrupt())?;
    let hash = crate::util::hex(&Sha256::digest(&png));
    Ok(Avatar { png, hash })
}

/// Test images, built in memory (shared with the HTTP tests in `hub/tests/`).
#[doc(hidden)]
pub mod samples {
    use std::io::Cursor;

    use image::{ImageFormat, Rgba, RgbaImage};

    /// A `w`×`h` image with a gradient (so encoders cannot make it trivially small).
    pub fn image(w: u32, h: u32, format: ImageFormat) -> Vec<u8> {
        let img = RgbaImage::from_fn(w, h, |x, y| {
            Rgba([(x * 7) as u8, (y * 5) as u8, ((x ^ y) * 3) as u8, 255])
        });
        let mut out = Vec::new();
        let dynamic = image::DynamicImage::ImageRgba8(img);
        // JPEG has no alpha channel.
        let dynamic = if format == ImageFormat::Jpeg {
            image::DynamicImage::ImageRgb8(dynamic.into_rgb8())
        } else {
            dynamic
        };
        dynamic
            .write_to(&mut Cursor::new(&mut out), format)
            .expect("encode sample");
        out
    }

    pub fn png(w: u32, h: u32) -> Vec<u8> {
        image(w, h, ImageFormat::Png)
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// A PNG chunk with its length and CRC.
    pub fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
        out
    }

    /// A valid PNG signature and header claiming `w`×`h` RGBA, with a few bytes of data: what a
    /// decompression bomb looks like before it is decoded.
    pub fn png_header_only(w: u32, h: u32) -> Vec<u8> {
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&h.to_be_bytes());
        ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        out.extend(chunk(b"IHDR", &ihdr));
        out.extend(chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00]));
        out.extend(chunk(b"IEND", &[]));
        out
    }

    /// A zlib stream that inflates to `n` zero bytes: one literal, then back-references of 258
    /// bytes, 13 bits each in a fixed-Huffman block (about 160:1, what a bomb is made of).
    pub fn zlib_zeros(n: usize) -> Vec<u8> {
        struct Bits {
            out: Vec<u8>,
            acc: u64,
            len: u32,
        }
        impl Bits {
            /// Header fields and extra bits: least significant bit first.
            fn put(&mut self, value: u32, n: u32) {
                self.acc |= u64::from(value) << self.len;
                self.len += n;
                while self.len >= 8 {
                    self.out.push(self.acc as u8);
                    self.acc >>= 8;
                    self.len -= 8;
                }
            }
            /// Huffman codes: most significant bit first.
            fn code(&mut self, code: u32, n: u32) {
                self.put(code.reverse_bits() >> (32 - n), n);
            }
        }
        let mut b = Bits {
            out: vec![0x78, 0x01],
            acc: 0,
            len: 0,
        };
        b.put(1, 1); // the final block
        b.put(1, 2); // fixed Huffman codes
        let mut left = n;
        if left > 0 {
            b.code(0x30, 8); // literal 0
            left -= 1;
        }
        while left >= 258 {
            b.code(0xC5, 8); // length 258 (code 285)
            b.code(0, 5); // distance 1
            left -= 258;
        }
        for _ in 0..left {
            b.code(0x30, 8);
        }
        b.code(0, 7); // end of block
        b.put(0, 7); // to a byte boundary
        // Adler-32 of n zeros: a stays 1, b adds 1 per byte.
        let adler = (((n % 65521) as u32) << 16) | 1;
        b.out.extend_from_slice(&adler.to_be_bytes());
        b.out
    }

    /// A valid `w`×`w` PNG with `extra` chunks right after its header.
    pub fn png_with_chunks(w: u32, extra: &[Vec<u8>]) -> Vec<u8> {
        let png = png(w, w);
        // Signature (8) + IHDR chunk (4 + 4 + 13 + 4).
        let split = 8 + 25;
        let mut out = png[..split].to_vec();
        for c in extra {
            out.extend_from_slice(c);
        }
        out.extend_from_slice(&png[split..]);
        out
    }

    /// A 200×200 PNG with a colour profile (`iCCP`) inflating to `inflated` bytes.
    pub fn png_iccp_bomb(inflated: usize) -> Vec<u8> {
        let mut data = b"bomb\0\0".to_vec();
        data.extend(zlib_zeros(inflated));
        png_with_chunks(200, &[chunk(b"iCCP", &data)])
    }

    /// A 200×200 PNG with a compressed text chunk (`zTXt`) inflating to `inflated` bytes.
    pub fn png_ztxt_bomb(inflated: usize) -> Vec<u8> {
        let mut data = b"Comment\0\0".to_vec();
        data.extend(zlib_zeros(inflated));
        png_with_chunks(200, &[chunk(b"zTXt", &data)])
    }

    /// A 200×200 PNG with a compressed international text chunk (`iTXt`).
    pub fn png_itxt_bomb(inflated: usize) -> Vec<u8> {
        // Keyword, compressed, method 0, no language, no translated keyword.
        let mut data = b"Comment\0\x01\0\0\0".to_vec();
        data.extend(zlib_zeros(inflated));
        png_with_chunks(200, &[chunk(b"iTXt", &data)])
    }

    /// A black `w`×`w` greyscale PNG whose image data inflates to `inflated` bytes: the rows,
    /// then zeros past the end of the image.
    pub fn png_idat_bomb(w: u32, inflated: usize) -> Vec<u8> {
        png_black(w, 8, 0, inflated)
    }

    /// A black `w`×`w` PNG of 16 bits per channel, RGBA (a few hundred bytes per 4096 px).
    pub fn png16(w: u32) -> Vec<u8> {
        png_black(w, 16, 6, 0)
    }

    /// A `w`×`w` PNG of zeros, `depth` bits per channel of colour type `color`, whose image
    /// data inflates to at least the rows and at most `inflated` bytes.
    fn png_black(w: u32, depth: u8, color: u8, inflated: usize) -> Vec<u8> {
        let mut ihdr = w.to_be_bytes().to_vec();
        ihdr.extend_from_slice(&w.to_be_bytes());
        ihdr.extend_from_slice(&[depth, color, 0, 0, 0]);
        let channels = match color {
            0 => 1,
            2 => 3,
            4 => 2,
            _ => 4,
        };
        let row = 1 + w as usize * channels * usize::from(depth / 8);
        let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
        out.extend(chunk(b"IHDR", &ihdr));
        out.extend(chunk(b"IDAT", &zlib_zeros(inflated.max(row * w as usize))));
        out.extend(chunk(b"IEND", &[]));
        out
    }

    /// A valid 160×160 JPEG whose frame header claims `w`×`h`.
    pub fn jpeg_claiming(w: u16, h: u16) -> Vec<u8> {
        let mut jpeg = image(160, 160, ImageFormat::Jpeg);
        let sof = jpeg
            .windows(2)
            .position(|m| m[0] == 0xFF && matches!(m[1], 0xC0 | 0xC2))
            .expect("a frame header");
        // Marker (2), length (2), precision (1), then height and width.
        jpeg[sof + 5..sof + 7].copy_from_slice(&h.to_be_bytes());
        jpeg[sof + 7..sof + 9].copy_from_slice(&w.to_be_bytes());
        jpeg
    }

    /// A valid 160×160 lossless WebP whose header claims `w`×`h` (at most 16384 a side).
    pub fn webp_claiming(w: u32, h: u32) -> Vec<u8> {
        assert!((1..=16_384).contains(&w) && (1..=16_384).contains(&h));
        let mut webp = image(160, 160, ImageFormat::WebP);
        assert_eq!(&webp[12..16], b"VP8L", "the encoder writes lossless WebP");
        // After the signature byte: 14 bits of width - 1, 14 of height - 1, then 4 more.
        let at = 21;
        let old = u32::from_le_bytes(webp[at..at + 4].try_into().expect("4 bytes"));
        let new = (old & 0xF000_0000) | ((h - 1) << 14) | (w - 1);
        webp[at..at + 4].copy_from_slice(&new.to_le_bytes());
        webp
    }

    /// A PNG of `w`×`w` with a text chunk after its header.
    pub fn png_with_text(w: u32, text: &str) -> Vec<u8> {
        let png = png(w, w);
        // Signature (8) + IHDR chunk (4 + 4 + 13 + 4).
        let split = 8 + 25;
        let mut out = png[..split].to_vec();
        out.extend(chunk(b"tEXt", format!("Author\0{text}").as_bytes()));
        out.extend_from_slice(&png[split..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::samples::*;
    use super::*;

    fn code(bytes: &[u8]) -> Result<u32, ProblemCode> {
        process_avatar(bytes)
            .map(|a| {
                image::load_from_memory(&a.png)
                    .expect("output decodes")
                    .width()
            })
            .map_err(|p| p.code)
    }

    #[test]
    fn accepted_images_are_re_encoded_to_the_fixed_size() {
        assert_eq!(code(&png(200, 200)), Ok(AVATAR_SIDE));
        assert_eq!(code(&png(150, 150)), Ok(AVATAR_SIDE), "the minimum");
        assert_eq!(code(&image(151, 151, ImageFormat::Jpeg)), Ok(AVATAR_SIDE));
        assert_eq!(code(&image(160, 160, ImageFormat::WebP)), Ok(AVATAR_SIDE));
        assert_eq!(code(&png(1024, 1024)), Ok(AVATAR_SIDE), "scaled down");
    }

    #[test]
    fn the_same_image_has_the_same_hash() {
        let a = process_avatar(&png(180, 180)).expect("ok");
        let b = process_avatar(&png(180, 180)).expect("ok");
        let c = process_avatar(&png(181, 181)).expect("ok");
        assert_eq!(a.hash, b.hash);
        assert_ne!(a.hash, c.hash);
        assert_eq!(a.hash.len(), 64);
    }

    #[test]
    fn a_149_px_square_is_too_small() {
        assert_eq!(code(&png(149, 149)), Err(ProblemCode::ImageTooSmall));
    }

    #[test]
    fn a_150_by_151_image_is_not_square() {
        let p = process_avatar(&png(150, 151)).expect_err("refused");
        assert_eq!(p.code, ProblemCode::ImageNotSquare);
        assert!(p.detail.contains("150×151"), "{}", p.detail);
    }

    #[test]
    fn a_20000_px_png_header_is_refused_before_decoding() {
        let p = process_avatar(&png_header_only(20_000, 20_000)).expect_err("refused");
        assert_eq!(p.code, ProblemCode::ImageTooLarge);
        assert!(p.detail.contains("20000×20000"), "{}", p.detail);
        assert_eq!(
            code(&png_header_only(MAX_AVATAR_SIDE + 1, MAX_AVATAR_SIDE + 1)),
            Err(ProblemCode::ImageTooLarge)
        );
    }

    #[test]
    fn a_header_within_bounds_with_no_data_is_corrupt() {
        assert_eq!(
            code(&png_header_only(400, 400)),
            Err(ProblemCode::ImageCorrupt)
        );
    }

    #[test]
    fn a_truncated_png_is_corrupt() {
        let full = png(300, 300);
        assert_eq!(
            code(&full[..full.len() / 2]),
            Err(ProblemCode::ImageCorrupt)
        );
    }

    #[test]
    fn a_truncated_jpeg_is_corrupt() {
        let full = image(300, 300, ImageFormat::Jpeg);
        assert_eq!(code(&full[..40]), Err(ProblemCode::ImageCorrupt));
    }

    #[test]
    fn a_text_file_renamed_png_is_not_an_image() {
        assert_eq!(
            code(b"hello, this is not a picture\n"),
            Err(ProblemCode::NotAnImage)
        );
        assert_eq!(code(b""), Err(ProblemCode::NotAnImage));
        assert_eq!(
            code(b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
            Err(ProblemCode::NotAnImage)
        );
    }

    #[test]
    fn a_gif_is_an_unsupported_format() {
        let p = process_avatar(b"GIF89a\x10\x00\x10\x00\x00\x00\x00;").expect_err("refused");
        assert_eq!(p.code, ProblemCode::UnsupportedImageFormat);
        assert!(p.detail.contains("GIF"), "{}", p.detail);
    }

    #[test]
    fn an_oversized_upload_is_refused_by_its_size() {
        let mut big = png(200, 200);
        big.resize(MAX_AVATAR_BYTES + 1, 0);
        assert_eq!(code(&big), Err(ProblemCode::PayloadTooLarge));
    }

    #[test]
    fn metadata_does_not_survive_re_encoding() {
        let upload = png_with_text(200, "secret-gps-51.5N");
        assert!(
            upload.windows(6).any(|w| w == b"secret"),
            "the sample carries the text"
        );
        let avatar = process_avatar(&upload).expect("accepted");
        assert!(!avatar.png.windows(6).any(|w| w == b"secret"));
    }

    const MIB: usize = 1024 * 1024;

    #[test]
    fn zlib_zeros_inflate_to_what_they_claim() {
        let z = zlib_zeros(100_000);
        let png = png_idat_bomb(150, 0);
        assert!(z.len() < 1_000, "{} bytes", z.len());
        assert_eq!(code(&png), Ok(AVATAR_SIDE), "a valid black image");
    }

    #[test]
    fn compressed_ancillary_chunks_are_never_inflated() {
        for (kind, bomb) in [
            ("iCCP", png_iccp_bomb(512 * MIB)),
            ("zTXt", png_ztxt_bomb(512 * MIB)),
            ("iTXt", png_itxt_bomb(512 * MIB)),
        ] {
            let started = std::time::Instant::now();
            // The picture is valid: it is accepted, without the chunk.
            let avatar = process_avatar(&bomb).unwrap_or_else(|p| panic!("{kind}: {p:?}"));
            assert!(avatar.png.len() < 300_000, "{kind}");
            let took = started.elapsed();
            assert!(took.as_millis() < 2_000, "{kind}: {took:?}");
        }
    }

    #[test]
    fn a_bomb_behind_a_huge_header_is_refused_from_the_header() {
        let mut bomb = png_with_chunks(200, &[]);
        bomb[16..24].copy_from_slice(&[0, 0, 0x4E, 0x20, 0, 0, 0x4E, 0x20]);
        let p = process_avatar(&bomb).expect_err("refused");
        assert_eq!(p.code, ProblemCode::ImageTooLarge);
        assert!(p.detail.contains("20000×20000"), "{}", p.detail);
    }

    #[test]
    fn image_data_past_the_last_row_is_not_a_cost() {
        let started = std::time::Instant::now();
        let r = code(&png_idat_bomb(200, 512 * MIB));
        let took = started.elapsed();
        assert!(took.as_millis() < 2_000, "{r:?} after {took:?}");
    }

    #[test]
    fn huge_claimed_jpeg_and_webp_sizes_are_refused_from_the_header() {
        let p = process_avatar(&jpeg_claiming(65_000, 65_000)).expect_err("refused");
        assert_eq!(p.code, ProblemCode::ImageTooLarge, "{}", p.detail);
        assert!(p.detail.contains("65000×65000"), "{}", p.detail);
        let p = process_avatar(&webp_claiming(16_383, 16_383)).expect_err("refused");
        assert_eq!(p.code, ProblemCode::ImageTooLarge, "{}", p.detail);
        assert!(p.detail.contains("16383×16383"), "{}", p.detail);
        // image-webp reads a side of 16,384 as 0: an impossible header.
        assert_eq!(
            code(&webp_claiming(16_384, 16_384)),
            Err(ProblemCode::ImageCorrupt)
        );
        // Within the side limit but without the data: the decoder runs out of it.
        assert_eq!(
            code(&jpeg_claiming(4_000, 4_000)),
            Err(ProblemCode::ImageCorrupt)
        );
        assert_eq!(
            code(&webp_claiming(4_000, 4_000)),
            Err(ProblemCode::ImageCorrupt)
        );
    }

    #[test]
    fn truncated_images_are_corrupt_in_every_format() {
        for format in [ImageFormat::Png, ImageFormat::Jpeg, ImageFormat::WebP] {
            let full = image(300, 300, format);
            assert_eq!(code(&full), Ok(AVATAR_SIDE), "{format:?} whole");
            for percent in [25, 50, 90, 99] {
                let cut = &full[..full.len() * percent / 100];
                assert_eq!(
                    code(cut),
                    Err(ProblemCode::ImageCorrupt),
                    "{format:?} cut to {percent} %"
                );
            }
        }
    }

    #[test]
    fn a_16_bit_image_over_the_decode_budget_is_too_large_and_says_the_limit() {
        let p = process_avatar(&png16(MAX_AVATAR_SIDE)).expect_err("refused");
        assert_eq!(p.code, ProblemCode::ImageTooLarge, "{}", p.detail);
        assert!(p.detail.contains("16 bits"), "{}", p.detail);
        assert!(
            p.detail
                .contains(&format!("{} MiB", DECODE_BUDGET / MIB as u64)),
            "{}",
            p.detail
        );
        assert_eq!(code(&png16(300)), Ok(AVATAR_SIDE), "within the budget");
    }

    fn name(raw: &str) -> Result<Option<String>, ProblemCode> {
        validate_display_name(Some(raw)).map_err(|p| p.code)
    }

    #[test]
    fn display_names_are_trimmed_and_empty_means_the_account_name() {
        assert_eq!(
            name("  Martin from Support \t"),
            Ok(Some("Martin from Support".into()))
        );
        assert_eq!(name(""), Ok(None));
        assert_eq!(name("   "), Ok(None));
        // Nothing visible is as empty as nothing at all, and is trimmed like spaces.
        assert_eq!(name("\u{200b}\u{200b} \u{feff}"), Ok(None));
        assert_eq!(name("\u{200b}Martin\u{2060}"), Ok(Some("Martin".into())));
        assert_eq!(validate_display_name(None).map_err(|p| p.code), Ok(None));
    }

    #[test]
    fn display_names_are_counted_in_graphemes() {
        let ok = "a".repeat(49);
        assert_eq!(name(&ok), Ok(Some(ok.clone())));
        assert_eq!(
            name(&"a".repeat(50)),
            Err(ProblemCode::InvalidDisplayName),
            "under 50"
        );
        // A woman technologist is three code points and one character to a person.
        let emoji = "\u{1F469}\u{200D}\u{1F4BB}";
        assert_eq!(emoji.chars().count(), 3);
        let p = validate_display_name(Some(&emoji.repeat(60))).expect_err("60 emoji");
        assert_eq!(p.code, ProblemCode::InvalidDisplayName);
        assert!(p.detail.contains("60 characters"), "{}", p.detail);
        assert!(
            name(&emoji.repeat(49)).is_ok(),
            "147 code points, 49 characters"
        );
        assert!(name("Zoë Ångström-Łukasz").is_ok());
    }

    #[test]
    fn control_characters_are_refused() {
        assert_eq!(name("Martin\u{7}"), Err(ProblemCode::InvalidDisplayName));
        assert_eq!(name("Mar\ntin"), Err(ProblemCode::InvalidDisplayName));
        // A right-to-left override would show "nitraM" as "Martin" next to a real Martin.
        assert_eq!(name("\u{202E}nitraM"), Err(ProblemCode::InvalidDisplayName));
        assert_eq!(name("a\u{2066}b"), Err(ProblemCode::InvalidDisplayName));
    }

    #[test]
    fn separators_bidi_marks_and_stacked_marks_are_refused_with_a_reason() {
        let detail = |raw: &str| validate_display_name(Some(raw)).expect_err(raw).detail;
        assert!(detail("Mar\u{2028}tin").contains("line or paragraph separator (U+2028)"));
        assert!(detail("Mar\u{2029}tin").contains("U+2029"));
        assert!(detail("Martin\u{200F}").contains("bidirectional control character (U+200F)"));
        assert!(detail("\u{61C}Martin").contains("U+061C"));
        // Forty marks on every letter, trailing ones included (they are not trimmed away first).
        let zalgo: String = "Martin"
            .chars()
            .flat_map(|c| std::iter::once(c).chain(std::iter::repeat_n('\u{336}', 40)))
            .collect();
        assert_eq!(
            detail(&zalgo),
            "The display name stacks 40 accents or other combining marks on one character; \
             at most 4 are allowed."
        );
        assert_eq!(
            name("Nguye\u{302}\u{303}n"),
            Ok(Some("Nguye\u{302}\u{303}n".into())),
            "two marks on one letter are a name"
        );
        assert_eq!(
            name("Jose\u{301}"),
            Ok(Some("Jose\u{301}".into())),
            "the last letter keeps its accent"
        );
    }

    #[test]
    fn no_profile_means_human_for_visitors() {
        let r = operator_ref("martin", "Martin Keller", None);
        assert_eq!(r.name, "Martin Keller", "the team sees the account name");
        assert_eq!(r.for_visitor().name, "Human");
        assert_eq!(r.for_visitor().avatar_url, None);
    }

    #[test]
    fn a_saved_profile_without_a_name_falls_back_to_the_account_name() {
        let p = OperatorProfile {
            display_name: None,
            avatar_url: Some("/avatars/w/x.png".into()),
            updated_at: 1,
        };
        let r = operator_ref("martin", "Martin Keller", Some(&p)).for_visitor();
        assert_eq!(r.name, "Martin Keller");
        assert_eq!(r.avatar_url.as_deref(), Some("/avatars/w/x.png"));
    }

    #[test]
    fn avatar_urls_belong_to_one_workspace() {
        let hash = "a".repeat(64);
        let url = avatar_url("w1", &hash);
        assert_eq!(avatar_hash("w1", &url), Some(hash.as_str()));
        assert_eq!(avatar_hash("w2", &url), None);
        assert_eq!(
            avatar_hash("w", &url),
            None,
            "a prefix of the id is not the id"
        );
        assert_eq!(avatar_hash("w1", "/avatars/w1/../x.png"), None);
        assert_eq!(avatar_hash("w1", "https://evil.example/a.png"), None);
    }
}
