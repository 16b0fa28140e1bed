//! Operator profiles: the display name and avatar visitors see when an operator takes control.
//!
//! Pure: validating a name, vetting and re-encoding an avatar upload, and deciding how an
//! operator appears to visitors. The HTTP edge is in `crate::api`; profiles and avatar bytes live
//! in the [`crate::store::Store`], so every node serves them.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Limits};
use protocol::limits::{
    AVATAR_SIDE, MAX_AVATAR_BYTES, MAX_AVATAR_SIDE, MAX_DISPLAY_NAME_GRAPHEMES, MIN_AVATAR_SIDE,
};
use protocol::profile::{Problem, ProblemCode};
use protocol::{Millis, OperatorRef};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use unicode_segmentation::UnicodeSegmentation;

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
    // Control characters break the layout; bidirectional overrides can make one name read as
    // another's. (Other format characters stay: emoji need the zero-width joiner.)
    let bidi = |c: char| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    if let Some(c) = name.chars().find(|&c| c.is_control() || bidi(c)) {
        return Err(Problem::new(
            ProblemCode::InvalidDisplayName,
            format!(
                "The display name contains an invisible control character (U+{:04X}).",
                u32::from(c)
            ),
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

/// Vet an upload and re-encode it: PNG, JPEG or WebP; square; at least [`MIN_AVATAR_SIDE`] and
/// at most [`MAX_AVATAR_SIDE`] px a side, read from the header before anything is decoded, and
/// decoded under an allocation limit, so a small file claiming a huge image (a decompression
/// bomb) costs nothing. The output is a fresh PNG: no metadata of the upload survives.
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
    let format = image::guess_format(bytes).map_err(|_| {
        Problem::new(
            ProblemCode::NotAnImage,
            "The file is not an image. Upload a PNG, JPEG or WebP file.",
        )
    })?;
    if !matches!(
        format,
        ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP
    ) {
        return Err(Problem::new(
            ProblemCode::UnsupportedImageFormat,
            format!(
                "{} images are not accepted. Upload a PNG, JPEG or WebP file.",
                format_name(format)
            ),
        ));
    }
    let reader = || ImageReader::with_format(Cursor::new(bytes), format);
    let (w, h) = reader().into_dimensions().map_err(|_| corrupt())?;
    if w > MAX_AVATAR_SIDE || h > MAX_AVATAR_SIDE {
        return Err(Problem::new(
            ProblemCode::ImageTooLarge,
            format!(
                "The image is {w}×{h} px; the largest accepted is {MAX_AVATAR_SIDE}×{MAX_AVATAR_SIDE} px."
            ),
        ));
    }
    if w != h {
        return Err(Problem::new(
            ProblemCode::ImageNotSquare,
            format!("The image is {w}×{h} px; it must be square."),
        ));
    }
    if w < MIN_AVATAR_SIDE {
        return Err(Problem::new(
            ProblemCode::ImageTooSmall,
            format!(
                "The image is {w}×{h} px; it must be at least {MIN_AVATAR_SIDE}×{MIN_AVATAR_SIDE} px."
            ),
        ));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_AVATAR_SIDE);
    limits.max_image_height = Some(MAX_AVATAR_SIDE);
    // RGBA at the largest side, plus the decoder's own buffers.
    limits.max_alloc = Some(u64::from(MAX_AVATAR_SIDE).pow(2) * 4 + 16 * 1024 * 1024);
    let mut reader = reader();
    reader.limits(limits);
    let decoded = reader.decode().map_err(|_| corrupt())?;
    // The decoder trusts the header; a stream that decodes to other dimensions is damaged.
    if decoded.width() != w || decoded.height() != h {
        return Err(corrupt());
    }
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
        .map_err(|_| corrupt())?;
    let hash = crate::util::hex(&Sha256::digest(&png));
    Ok(Avatar { png, hash })
}

fn corrupt() -> Problem {
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
        _ => "These",
    }
}

/// Test images, built in memory (shared with the HTTP tests through `crate::testing`).
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
