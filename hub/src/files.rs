//! Files attached to messages: vetting an upload (pure), storing it through `object_store` (a
//! local directory on the embedded default, any S3-compatible bucket on a deployment), and the
//! signed links they are fetched by.
//!
//! An image is decoded within the bounds of `images.rs` and re-encoded from its pixels (no
//! metadata of the upload survives: no EXIF location), with a thumbnail; a PDF is accepted by
//! its signature and served only as a download. Everything is stored under
//! `{workspace}/{conversation}/{file id}/{file|thumb}`, so a conversation's files are one
//! prefix, deleted with it (`Hub::sweep_files`).

use std::io::Cursor;
use std::sync::Arc;

use bytes::Bytes;
use hmac::{Hmac, Mac};
use image::{DynamicImage, ImageFormat};
use object_store::ObjectStore;
use object_store::ObjectStoreExt;
use object_store::path::Path;
use protocol::files::{Attachment, AttachmentKind, safe_file_name};
use protocol::limits::{MAX_IMAGE_PIXELS, MAX_IMAGE_SIDE, THUMBNAIL_SIDE};
use protocol::profile::{Problem, ProblemCode};
use sha2::Sha256;

use crate::images::{self, MIB, Rules};

/// What an attached image may be.
pub const IMAGE_RULES: Rules = Rules {
    min_side: 1,
    max_side: MAX_IMAGE_SIDE,
    max_pixels: MAX_IMAGE_PIXELS,
    square: false,
    gif: true,
    budget: MAX_IMAGE_PIXELS * 4 + 16 * MIB,
    formats: "PNG, JPEG, WebP or GIF",
};

/// JPEG quality of re-encoded photos and thumbnails.
const JPEG_QUALITY: u8 = 85;

/// An accepted upload, ready to store: the attachment (its id not yet given) and its bytes.
#[derive(Debug)]
pub struct Vetted {
    pub name: String,
    pub kind: AttachmentKind,
    pub content_type: &'static str,
    pub file: Vec<u8>,
    pub thumbnail: Option<Vec<u8>>,
    pub width: Option<u32>,
    pub height: Option<u32>,
}

impl Vetted {
    pub fn attachment(&self, id: String) -> Attachment {
        Attachment {
            id,
            name: self.name.clone(),
            kind: self.kind,
            content_type: self.content_type.to_owned(),
            size: self.file.len() as u64,
            width: self.width,
            height: self.height,
        }
    }
}

fn unsupported() -> Problem {
    Problem::new(
        ProblemCode::UnsupportedFileType,
        "Attach an image (PNG, JPEG, WebP or GIF) or a PDF.",
    )
}

/// Vet an upload of at most `max_bytes`: a PDF by its signature (and its end marker: a
/// truncated upload is refused), anything else as an image under [`IMAGE_RULES`], re-encoded
/// (JPEG stays JPEG, the rest becomes PNG) with a thumbnail. SVG, HTML and every other kind
/// is refused.
pub fn vet(bytes: &[u8], raw_name: &str, max_bytes: usize) -> Result<Vetted, Problem> {
    if bytes.len() > max_bytes {
        return Err(Problem::new(
            ProblemCode::PayloadTooLarge,
            format!(
                "The file is {} bytes; the limit is {} MiB.",
                bytes.len(),
                max_bytes as u64 / MIB
            ),
        ));
    }
    if bytes.starts_with(b"%PDF-") {
        // A PDF ends with `%%EOF` (and perhaps a newline or a little trailing junk): one cut
        // short in transit has none.
        let tail = &bytes[bytes.len().saturating_sub(1024)..];
        if !tail.windows(5).any(|w| w == b"%%EOF") {
            return Err(Problem::new(
                ProblemCode::FileCorrupt,
                "The PDF is truncated: it has no end marker.",
            ));
        }
        return Ok(Vetted {
            name: with_extension(&safe_file_name(raw_name, "document.pdf"), "pdf"),
            kind: AttachmentKind::Pdf,
            content_type: "application/pdf",
            file: bytes.to_vec(),
            thumbnail: None,
            width: None,
            height: None,
        });
    }
    if image::guess_format(bytes).is_err() {
        return Err(unsupported());
    }
    let (img, format) = images::decode(bytes, &IMAGE_RULES).map_err(|p| {
        if p.code == ProblemCode::UnsupportedImageFormat || p.code == ProblemCode::NotAnImage {
            unsupported()
        } else {
            p
        }
    })?;
    let (w, h) = (img.width(), img.height());
    let photo = format == ImageFormat::Jpeg;
    let file = encode(&img, photo)?;
    let thumb = img.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE);
    let thumbnail = encode(&thumb, photo)?;
    let (ext, content_type) = if photo {
        ("jpg", "image/jpeg")
    } else {
        ("png", "image/png")
    };
    Ok(Vetted {
        name: with_extension(&safe_file_name(raw_name, &format!("image.{ext}")), ext),
        kind: AttachmentKind::Image,
        content_type,
        file,
        thumbnail: Some(thumbnail),
        width: Some(w),
        height: Some(h),
    })
}

/// The name with the extension of what is stored (a WebP is stored as PNG, so `a.webp` is
/// offered as `a.png`): a download opens in the program for what it is.
fn with_extension(name: &str, ext: &str) -> String {
    let stem = match name.rsplit_once('.') {
        Some((stem, _)) if !stem.is_empty() => stem,
        _ => name,
    };
    format!("{stem}.{ext}")
}

fn encode(img: &DynamicImage, photo: bool) -> Result<Vec<u8>, Problem> {
    let mut out = Vec::new();
    let result = if photo {
        let rgb = img.to_rgb8();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut Cursor::new(&mut out), JPEG_QUALITY)
            .encode_image(&rgb)
    } else {
        img.to_rgba8()
            .write_to(&mut Cursor::new(&mut out), ImageFormat::Png)
    };
    result.map_err(|_| images::corrupt())?;
    Ok(out)
}

/// Which stored object of an attachment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    File,
    Thumb,
}

impl Variant {
    pub fn as_str(self) -> &'static str {
        match self {
            Variant::File => "file",
            Variant::Thumb => "thumb",
        }
    }

    pub fn parse(s: &str) -> Option<Variant> {
        match s {
            "file" => Some(Variant::File),
            "thumb" => Some(Variant::Thumb),
            _ => None,
        }
    }
}

/// Ids the hub gives: `f_` and 20 lowercase letters and digits. Anything else in a path is
/// refused before the store is asked.
pub fn is_file_id(id: &str) -> bool {
    id.len() == 22
        && id.starts_with("f_")
        && id[2..]
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A workspace or conversation id usable as a path segment (the hub's own ids and the
/// directory's workspace ids are; a `/`, `..` or an empty segment is not).
fn is_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[derive(Debug, thiserror::Error)]
#[error("file store: {0}")]
pub struct FileStoreError(String);

/// The files of every conversation, in one object store.
#[derive(Debug, Clone)]
pub struct FileStore {
    store: Arc<dyn ObjectStore>,
    /// A local store's directory: a conversation's emptied directories go with its files (the
    /// object store deletes files, and a directory left would list as a conversation).
    local_root: Option<std::path::PathBuf>,
}

impl FileStore {
    /// `memory:` (tests), `s3://bucket[/prefix]` (credentials, region and endpoint from the
    /// `AWS_*` environment variables: docs/deployment.md), `file:///absolute/dir`, or a plain
    /// directory path (created if missing).
    pub fn open(url: &str) -> Result<FileStore, FileStoreError> {
        Self::open_with(url, &[])
    }

    /// [`FileStore::open`] with S3 settings given (`object_store`'s configuration keys, e.g.
    /// `aws_endpoint`) over the environment's: how tests reach their own S3 server.
    pub fn open_with(url: &str, s3: &[(&str, String)]) -> Result<FileStore, FileStoreError> {
        let err = |e: object_store::Error| FileStoreError(e.to_string());
        let mut local_root = None;
        let store: Arc<dyn ObjectStore> = if url == "memory:" || url.starts_with("memory:/") {
            Arc::new(object_store::memory::InMemory::new())
        } else if url.starts_with("s3://") {
            let mut builder = object_store::aws::AmazonS3Builder::from_env().with_url(url);
            for (key, value) in s3 {
                let key: object_store::aws::AmazonS3ConfigKey = key.parse().map_err(err)?;
                builder = builder.with_config(key, value);
            }
            let s3 = builder.build().map_err(err)?;
            let prefix = url
                .strip_prefix("s3://")
                .and_then(|rest| rest.split_once('/'))
                .map(|(_, p)| p.trim_matches('/'))
                .filter(|p| !p.is_empty());
            match prefix {
                Some(p) => Arc::new(object_store::prefix::PrefixStore::new(s3, p)),
                None => Arc::new(s3),
            }
        } else {
            let dir = url.strip_prefix("file://").unwrap_or(url);
            std::fs::create_dir_all(dir)
                .map_err(|e| FileStoreError(format!("cannot create {dir}: {e}")))?;
            local_root = Some(std::path::PathBuf::from(dir));
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(err)?)
        };
        Ok(FileStore { store, local_root })
    }

    fn path(ws: &str, cid: &str, id: &str, variant: Variant) -> Option<Path> {
        (is_segment(ws) && is_segment(cid) && is_file_id(id))
            .then(|| Path::from(format!("{ws}/{cid}/{id}/{}", variant.as_str())))
    }

    pub async fn put(
        &self,
        ws: &str,
        cid: &str,
        id: &str,
        variant: Variant,
        bytes: Vec<u8>,
    ) -> Result<(), FileStoreError> {
        let path = Self::path(ws, cid, id, variant)
            .ok_or_else(|| FileStoreError("not a file's path".into()))?;
        self.store
            .put(&path, Bytes::from(bytes).into())
            .await
            .map_err(|e| FileStoreError(e.to_string()))?;
        Ok(())
    }

    /// The stored bytes; `None` when there is no such file.
    pub async fn get(
        &self,
        ws: &str,
        cid: &str,
        id: &str,
        variant: Variant,
    ) -> Result<Option<Bytes>, FileStoreError> {
        let Some(path) = Self::path(ws, cid, id, variant) else {
            return Ok(None);
        };
        match self.store.get(&path).await {
            Ok(got) => got
                .bytes()
                .await
                .map(Some)
                .map_err(|e| FileStoreError(e.to_string())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(FileStoreError(e.to_string())),
        }
    }

    /// The conversations that have files, as (workspace, conversation).
    pub async fn conversations(&self) -> Result<Vec<(String, String)>, FileStoreError> {
        let err = |e: object_store::Error| FileStoreError(e.to_string());
        let mut out = Vec::new();
        let top = self.store.list_with_delimiter(None).await.map_err(err)?;
        for ws in top.common_prefixes {
            let Some(ws_name) = ws.parts().last().map(|p| p.as_ref().to_owned()) else {
                continue;
            };
            let convs = self
                .store
                .list_with_delimiter(Some(&ws))
                .await
                .map_err(err)?;
            for c in convs.common_prefixes {
                if let Some(cid) = c.parts().last() {
                    out.push((ws_name.clone(), cid.as_ref().to_owned()));
                }
            }
        }
        Ok(out)
    }

    /// Delete one attachment (its file and thumbnail).
    pub async fn delete_file(&self, ws: &str, cid: &str, id: &str) -> Result<(), FileStoreError> {
        for variant in [Variant::File, Variant::Thumb] {
            if let Some(path) = Self::path(ws, cid, id, variant) {
                match self.store.delete(&path).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                    Err(e) => return Err(FileStoreError(e.to_string())),
                }
            }
        }
        Ok(())
    }

    /// Delete every file of a conversation.
    pub async fn delete_conversation(&self, ws: &str, cid: &str) -> Result<usize, FileStoreError> {
        use futures_util::TryStreamExt;
        if !(is_segment(ws) && is_segment(cid)) {
            return Ok(0);
        }
        let prefix = Path::from(format!("{ws}/{cid}"));
        let objects: Vec<_> = self
            .store
            .list(Some(&prefix))
            .map_ok(|m| m.location)
            .try_collect()
            .await
            .map_err(|e| FileStoreError(e.to_string()))?;
        for path in &objects {
            match self.store.delete(path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(FileStoreError(e.to_string())),
            }
        }
        if let Some(root) = &self.local_root {
            let _ = tokio::fs::remove_dir_all(root.join(ws).join(cid)).await;
        }
        Ok(objects.len())
    }
}

/// Signs and checks the links files are fetched by: `/files/{ws}/{cid}/{id}/{variant}?exp=…&sig=…`,
/// an HMAC-SHA256 of the path and the expiry under the node's key (shared by every node, as
/// the visitor token secret is).
#[derive(Clone)]
pub struct LinkSigner {
    key: Vec<u8>,
}

impl std::fmt::Debug for LinkSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LinkSigner").finish_non_exhaustive()
    }
}

impl LinkSigner {
    /// A signer whose key is derived from `secret` for this use only (a file link is never a
    /// valid visitor token, nor the reverse).
    pub fn new(secret: &[u8]) -> LinkSigner {
        use sha2::Digest;
        let mut h = Sha256::new();
        h.update(b"take-control file links\0");
        h.update(secret);
        LinkSigner {
            key: h.finalize().to_vec(),
        }
    }

    fn mac(&self, path: &str, exp_secs: u64) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(path.as_bytes());
        mac.update(b"?exp=");
        mac.update(exp_secs.to_string().as_bytes());
        crate::util::hex(&mac.finalize().into_bytes())
    }

    /// The link to one stored object, valid until `exp_secs`.
    pub fn link(&self, ws: &str, cid: &str, id: &str, variant: Variant, exp_secs: u64) -> String {
        let path = format!("/files/{ws}/{cid}/{id}/{}", variant.as_str());
        let sig = self.mac(&path, exp_secs);
        format!("{path}?exp={exp_secs}&sig={sig}")
    }

    /// Whether `sig` signs `path` until `exp_secs`, and that is not past (`now_secs`).
    pub fn check(&self, path: &str, exp_secs: u64, sig: &str, now_secs: u64) -> bool {
        use subtle_eq::eq;
        exp_secs >= now_secs && eq(self.mac(path, exp_secs).as_bytes(), sig.as_bytes())
    }
}

/// Comparison in time independent of where two signatures differ.
mod subtle_eq {
    pub fn eq(a: &[u8], b: &[u8]) -> bool {
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::samples;

    #[test]
    fn images_are_re_encoded_without_metadata_with_a_thumbnail() {
        // A PNG carrying a text chunk (where a location could hide): gone after re-encoding.
        let png = samples::png_with_text(400, "GPS 48.8584 2.2945");
        let v = vet(&png, "shot.png", 10 * 1024 * 1024).expect("accepted");
        assert_eq!(
            (v.kind, v.content_type),
            (AttachmentKind::Image, "image/png")
        );
        assert_eq!((v.width, v.height), (Some(400), Some(400)));
        assert!(!v.file.windows(3).any(|w| w == b"GPS"));
        let thumb = image::load_from_memory(v.thumbnail.as_deref().expect("thumb")).expect("png");
        assert_eq!(
            (thumb.width(), thumb.height()),
            (THUMBNAIL_SIDE, THUMBNAIL_SIDE)
        );
        // A phone photo: a JPEG with an EXIF segment (APP1) holding a GPS position.
        let jpeg = samples::image(640, 480, ImageFormat::Jpeg);
        let mut exif = b"Exif\0\0MM\0*GPSLatitude 48.8584 GPSLongitude 2.2945".to_vec();
        exif.resize(64, 0);
        let mut photo = jpeg[..2].to_vec();
        photo.extend_from_slice(&[0xFF, 0xE1]);
        photo.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
        photo.extend_from_slice(&exif);
        photo.extend_from_slice(&jpeg[2..]);
        let v = vet(&photo, "photo.jpeg", 10 * 1024 * 1024).expect("accepted");
        assert_eq!(
            (v.content_type, v.name.as_str()),
            ("image/jpeg", "photo.jpg")
        );
        assert!(
            !v.file.windows(3).any(|w| w == b"GPS"),
            "the location survived"
        );
        assert!(
            !v.file.windows(4).any(|w| w == b"Exif"),
            "the EXIF segment survived"
        );
        let webp = samples::image(300, 200, ImageFormat::WebP);
        let v = vet(&webp, "a.webp", 10 * 1024 * 1024).expect("accepted");
        assert_eq!((v.content_type, v.name.as_str()), ("image/png", "a.png"));
        let gif = samples::image(64, 32, ImageFormat::Gif);
        let v = vet(&gif, "anim.gif", 10 * 1024 * 1024).expect("accepted");
        assert_eq!(
            (v.width, v.height, v.name.as_str()),
            (Some(64), Some(32), "anim.png")
        );
    }

    #[test]
    fn hostile_or_unknown_files_are_refused_with_clear_codes() {
        let code = |bytes: &[u8]| {
            vet(bytes, "x", 8 * 1024 * 1024)
                .map(|_| ())
                .unwrap_err()
                .code
        };
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>"#;
        assert_eq!(code(svg), ProblemCode::UnsupportedFileType);
        assert_eq!(
            code(b"<html><script>alert(1)</script></html>%PDF-1.7"),
            ProblemCode::UnsupportedFileType
        );
        assert_eq!(
            code(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n"),
            ProblemCode::FileCorrupt
        );
        assert_eq!(
            code(&vec![0u8; 9 * 1024 * 1024]),
            ProblemCode::PayloadTooLarge
        );
        // The image bombs of the avatar path: refused from the header, or within the budget.
        assert_eq!(
            code(&samples::png_header_only(100_000, 100_000)),
            ProblemCode::ImageTooLarge
        );
        assert_eq!(
            code(&samples::png_idat_bomb(6000, 0)),
            ProblemCode::ImageTooLarge
        );
        let png = samples::png(300, 300);
        assert_eq!(code(&png[..png.len() / 2]), ProblemCode::ImageCorrupt);
        // A polyglot that is a valid PDF is a PDF: served only as a download (api/files.rs).
        let polyglot = b"%PDF-1.4\n<html><script>alert(1)</script></html>\n%%EOF\n";
        let v = vet(polyglot, "invoice.html", 1024).expect("a PDF");
        assert_eq!(
            (v.kind, v.name.as_str()),
            (AttachmentKind::Pdf, "invoice.pdf")
        );
    }

    #[test]
    fn links_are_bound_to_their_path_and_expiry() {
        let s = LinkSigner::new(b"secret");
        let link = s.link("ws", "cv_1", "f_abcdefghij0123456789", Variant::File, 1_000);
        let (path, query) = link.split_once('?').expect("query");
        let sig = query.rsplit_once("sig=").expect("sig").1;
        assert!(s.check(path, 1_000, sig, 999));
        assert!(!s.check(path, 1_000, sig, 1_001), "expired");
        assert!(!s.check(path, 1_001, sig, 999), "another expiry");
        assert!(
            !s.check(&path.replace("cv_1", "cv_2"), 1_000, sig, 999),
            "another file"
        );
        assert!(
            !LinkSigner::new(b"other").check(path, 1_000, sig, 999),
            "another key"
        );
        assert!(is_file_id("f_abcdefghij0123456789"));
        for bad in ["f_../../etc/passwd__", "f_ABCDEFGHIJ0123456789", "", "x"] {
            assert!(!is_file_id(bad), "{bad}");
        }
        assert!(FileStore::path("ws", "..", "f_abcdefghij0123456789", Variant::File).is_none());
    }
}
