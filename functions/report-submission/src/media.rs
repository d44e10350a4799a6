//! `POST /reports/media`: a citizen uploads one photo for a report;
//! `GET /reports/media/{id}`: anyone fetches it.
//!
//! **Upload.** The body is the image itself with its `Content-Type` (`image/jpeg`,
//! `image/png`, `image/webp`, any other `image/*`, `application/octet-stream`, or none), or a
//! `multipart/form-data` body with exactly one file part (a part with a `filename`, or of an
//! `image/*` or `application/octet-stream` type; other fields are ignored), as mobile SDKs
//! send it. At most [`MAX_PHOTO`] bytes of image (the whole request at most [`MAX_REQUEST`]).
//! The type is told by the bytes ([`Kind::sniff`]), never by the file name or a header.
//!
//! Answers:
//!
//! | status | when |
//! |---|---|
//! | 201 | `{"id", "url"}`, `Location: url`; `url` is `{public_base_url}/reports/media/{id}` |
//! | 400 | an empty body; a multipart body without a boundary, malformed, or with no file or two |
//! | 400 | also: an `X-Channel-User` that is not `<channel>:<user id>` (see **Caller**) |
//! | 401 | an `Authorization` header that is not a valid bearer token; an `X-Channel-User` without a valid `X-Signature` |
//! | 413 | an image over [`MAX_PHOTO`] bytes (a request over [`MAX_REQUEST`] is refused before it is read) |
//! | 415 | a `Content-Type` other than the above, or bytes that are not JPEG, PNG or WebP (a text file named `.jpg`) |
//! | 422 | JPEG, PNG or WebP by its signature but damaged past reading (`errors[0].field` = `file`) |
//! | 429 | the caller is over [`UPLOADS`] (60 photos an hour unless `rate_limit_media_upload` says otherwise, [`civic::limit`]); `Retry-After` in seconds |
//! | 500 | an `X-Channel-User` while the setting `internal_secret` is unset |
//! | 503 | the store failed, with `Retry-After` |
//!
//! **Metadata removed** ([`strip`]) before anything is stored: EXIF (with its GPS position,
//! which would tell where a citizen lives when the report is about somewhere else), XMP,
//! IPTC and Photoshop blocks, comments, PNG text chunks and times, unknown chunks, and
//! whatever follows the image (the other images of a multi-picture JPEG, with their own EXIF).
//! What draws the image stays: pixels, tables, ICC colour profile, transparency, animation.
//! Only the EXIF orientation survives, as a new EXIF block of that one tag, so that a photo
//! taken upright still shows upright.
//!
//! **Caller** for the limit: the JWT subject when a bearer token comes, else the client's
//! address as the runtime gives it ([`Platform::client_addr`]: Spin's `spin-client-addr`,
//! Cloudflare's `CF-Connecting-IP`; an IPv6 address counts by its /64), kept only as a keyed
//! hash in `rate_limits` ([`civic::limit`]). A photo that could not be stored does not count.
//!
//! **Internal callers.** The chat bot downloads a citizen's photo from Zalo or Telegram and
//! stores it here, for every citizen from its one address. It sends
//! `X-Channel-User: <channel>:<user id>` ([`CHANNEL_USER`]: `zalo:2468458835296117922`;
//! channel `sms`, `zalo` or `telegram`, the id 1 to [`civic::command::MAX_ID`] visible ASCII
//! characters) and `X-Signature: <hex HMAC-SHA256(internal_secret, raw body)>`
//! ([`civic::command::SIGNATURE`], compared in constant time by [`civic::auth`]). With both
//! right, the limit counts per that channel user (the same keyed hash, of
//! `chat:<channel>:<user id>`) instead of per client address or token. `X-Channel-User`
//! with a missing or wrong signature is a 401, with a malformed value a 400, and while
//! `internal_secret` is unset a 500; without `X-Channel-User` the route is as above (an
//! `X-Signature` alone is ignored).
//!
//! **Storage**: [`civic::objects`] under the key `media/{id}` (R2 binding [`BUCKET`] on
//! Workers; an S3-compatible bucket when `s3_bucket` is set; else the `reports` database),
//! and a row in `media` (`migrations/reports/0003_media.sql`).
//!
//! **Fetch**: the stored bytes with their type, `Cache-Control: public, max-age=31536000,
//! immutable` (a photo never changes under its id), `X-Content-Type-Options: nosniff`; an
//! unknown or malformed id is a 404 problem.
//!
//! For reports: [`url_of`] gives the URL of an uploaded photo by its id, and [`id_in`] the id
//! of a URL that is one of ours.

use base64::Engine as _;
use bytes::Bytes;
use civic::limit::{Caller, Rule};
use civic::objects;
use civic::platform::Object;
use civic::{Error, FieldError, Msg, Platform};
use http::{HeaderValue, Request, Response, StatusCode, header};
use img_parts::jpeg::{Jpeg, JpegSegment, markers};
use img_parts::png::{Png, PngChunk};
use img_parts::riff::{RiffChunk, RiffContent};
use img_parts::webp::WebP;
use img_parts::{ImageEXIF, ImageICC as _};

use crate::store::{DB, stamp};

/// The largest image, in bytes (8 MiB).
pub const MAX_PHOTO: usize = 8 * 1024 * 1024;

/// The largest upload request, in bytes: [`MAX_PHOTO`] and 64 KiB of multipart framing.
pub const MAX_REQUEST: usize = MAX_PHOTO + 64 * 1024;

/// Photo uploads per caller: setting `rate_limit_media_upload`. A report takes at most
/// [`crate::report::MAX_MEDIA`] photos; sixty an hour leaves room for retakes and a dozen
/// reports, and stops a script filling the store.
pub const UPLOADS: Rule = Rule { name: "media_upload", default: "60/1h" };

/// The Workers R2 binding that holds the photos (`[[env.report-submission.r2_buckets]]`).
pub const BUCKET: &str = "media";

/// The route of a photo under `public_base_url`.
pub const PATH: &str = "/reports/media/";

/// The answer's `Cache-Control`: a year, never revalidated (the bytes of an id never change).
pub const CACHE_CONTROL: &str = "public, max-age=31536000, immutable";

/// The length of an id: 16 random bytes in URL-safe base64 without padding.
pub const ID_LEN: usize = 22;

/// An image format the route takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Jpeg,
    Png,
    Webp,
}

impl Kind {
    /// The format by its signature: JPEG `FF D8 FF`, PNG's 8-byte signature, or `RIFF....WEBP`.
    pub fn sniff(bytes: &[u8]) -> Option<Kind> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(Kind::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(Kind::Png)
        } else if bytes.len() >= 12 && bytes.starts_with(b"RIFF") && &bytes[8..12] == b"WEBP" {
            Some(Kind::Webp)
        } else {
            None
        }
    }

    /// Its media type, as served.
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Jpeg => "image/jpeg",
            Kind::Png => "image/png",
            Kind::Webp => "image/webp",
        }
    }
}

/// The image cannot be read though its signature says what it is.
fn damaged() -> Error {
    Error::Validation(vec![FieldError::new(
        "file",
        Msg::new("Ảnh bị hỏng, không đọc được", "the image is damaged and cannot be read"),
    )])
}

/// The image without its metadata (see the module documentation for what goes and what
/// stays); [`Error::Validation`] on `file` when it cannot be parsed.
pub fn strip(kind: Kind, bytes: Bytes) -> Result<Bytes, Error> {
    match kind {
        Kind::Jpeg => strip_jpeg(bytes),
        Kind::Png => strip_png(bytes),
        Kind::Webp => strip_webp(bytes),
    }
    .ok_or_else(damaged)
}

/// JPEG: keeps the coding segments, JFIF (APP0), the ICC profile (APP2 `ICC_PROFILE`) and
/// Adobe's colour transform (APP14); drops every other APPn (EXIF and XMP in APP1, MPF,
/// APP13 IPTC/Photoshop, ...) and comments, and cuts the file after its end-of-image marker.
fn strip_jpeg(bytes: Bytes) -> Option<Bytes> {
    let mut jpeg = Jpeg::from_bytes(bytes).ok()?;
    let orientation = jpeg.exif().and_then(|e| orientation(&e));
    let mut kept = Vec::with_capacity(jpeg.segments().len());
    for segment in jpeg.segments().iter() {
        let marker = segment.marker();
        let keep = match marker {
            markers::APP0 | markers::APP14 => true,
            markers::APP2 => segment.contents().starts_with(b"ICC_PROFILE\0"),
            markers::APP1..=markers::APP15 | markers::COM => false,
            _ => true,
        };
        if !keep {
            continue;
        }
        if segment.has_entropy() {
            // The first scan holds the rest of the file: later scans, EOI, anything after.
            let encoded = segment.clone().encoder().bytes();
            let tail = clean_tail(encoded.get(segment.len()..)?);
            kept.push(JpegSegment::new_with_entropy(marker, segment.contents().clone(), Bytes::from(tail)));
        } else {
            kept.push(segment.clone());
        }
    }
    if !kept.iter().any(JpegSegment::has_entropy) {
        return None; // no image data
    }
    *jpeg.segments_mut() = kept;
    if let Some(o) = orientation {
        jpeg.set_exif(Some(orientation_exif(o)));
    }
    Some(jpeg.encoder().bytes())
}

/// The rest of a JPEG after its first scan header: entropy-coded data and the segments
/// between scans, through the end-of-image marker. Segments that may carry metadata between
/// scans (APPn, COM) are dropped, and whatever follows EOI is cut; a file without EOI gets one.
fn clean_tail(tail: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tail.len());
    let mut i = 0;
    while i < tail.len() {
        if tail[i] != 0xFF {
            out.push(tail[i]);
            i += 1;
            continue;
        }
        let Some(&marker) = tail.get(i + 1) else {
            break;
        };
        match marker {
            // stuffed 0xFF, restart markers, TEM: no length
            0x00 | 0x01 | 0xD0..=0xD7 => {
                out.extend_from_slice(&tail[i..i + 2]);
                i += 2;
            }
            0xFF => i += 1, // a fill byte
            markers::EOI => {
                out.extend_from_slice(&[0xFF, markers::EOI]);
                return out;
            }
            _ => {
                let Some(len) = tail.get(i + 2..i + 4).map(|l| usize::from(u16::from_be_bytes([l[0], l[1]]))) else {
                    break;
                };
                let end = i + 2 + len;
                if len < 2 || end > tail.len() {
                    break;
                }
                let metadata = (markers::APP0..=markers::APP15).contains(&marker) || marker == markers::COM;
                if !metadata {
                    out.extend_from_slice(&tail[i..end]);
                }
                i = end;
            }
        }
    }
    out.extend_from_slice(&[0xFF, markers::EOI]);
    out
}

/// PNG chunks kept besides the critical ones (an upper-case first letter): those that change
/// how the image is drawn. Text (`tEXt`, `zTXt`, `iTXt`, where XMP and IPTC live), `eXIf`,
/// `tIME` and private chunks go.
const PNG_KEPT: [&[u8; 4]; 16] = [
    b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"bKGD", b"hIST", b"pHYs", b"sPLT", b"acTL", b"fcTL",
    b"fdAT", b"cICP", b"mDCV", b"cLLI",
];

fn strip_png(bytes: Bytes) -> Option<Bytes> {
    let mut png = Png::from_bytes(bytes).ok()?;
    let orientation = png.exif().and_then(|e| orientation(&e));
    let kept: Vec<PngChunk> = png
        .chunks()
        .iter()
        .filter(|c| c.kind()[0].is_ascii_uppercase() || PNG_KEPT.contains(&&c.kind()))
        .cloned()
        .collect();
    if kept.first().map(PngChunk::kind) != Some(*b"IHDR") || !kept.iter().any(|c| &c.kind() == b"IDAT") {
        return None;
    }
    *png.chunks_mut() = kept;
    if let Some(o) = orientation {
        png.set_exif(Some(orientation_exif(o)));
    }
    Some(png.encoder().bytes())
}

/// WebP chunks kept: the image (`VP8 `, `VP8L`, `ALPH`), its extended header (`VP8X`, with
/// the EXIF and XMP flags cleared), animation (`ANIM`, `ANMF`) and the ICC profile (`ICCP`).
const WEBP_KEPT: [&[u8; 4]; 7] = [b"VP8X", b"VP8 ", b"VP8L", b"ALPH", b"ANIM", b"ANMF", b"ICCP"];

/// VP8X flag bits (first byte): EXIF and XMP present.
const VP8X_EXIF: u8 = 0x08;
const VP8X_XMP: u8 = 0x04;

fn strip_webp(bytes: Bytes) -> Option<Bytes> {
    let webp = WebP::from_bytes(bytes).ok()?;
    let orientation = webp.exif().and_then(|e| orientation(&e));
    let has_icc = webp.icc_profile().is_some();
    let mut chunks: Vec<RiffChunk> = Vec::new();
    let mut extended = false;
    for chunk in webp.chunks() {
        let id = chunk.id();
        if !WEBP_KEPT.contains(&&id) {
            continue;
        }
        if &id == b"VP8X" {
            let RiffContent::Data(data) = chunk.content() else { return None };
            let mut header = data.to_vec();
            let flags = header.first_mut()?;
            *flags &= !(VP8X_EXIF | VP8X_XMP);
            if orientation.is_some() {
                *flags |= VP8X_EXIF;
            }
            if !has_icc {
                *flags &= !0x20;
            }
            extended = true;
            chunks.push(RiffChunk::new(id, RiffContent::Data(Bytes::from(header))));
        } else {
            chunks.push(chunk.clone());
        }
    }
    if !chunks.iter().any(|c| matches!(&c.id(), b"VP8 " | b"VP8L" | b"ANMF")) {
        return None;
    }
    if let (Some(o), true) = (orientation, extended) {
        // EXIF comes after the image data (WebP container specification).
        let mut exif = b"Exif\0\0".to_vec();
        exif.extend_from_slice(&orientation_exif(o));
        chunks.push(RiffChunk::new(*b"EXIF", RiffContent::Data(Bytes::from(exif))));
    }
    let riff = RiffChunk::new(*b"RIFF", RiffContent::List { kind: Some(*b"WEBP"), subchunks: chunks });
    Some(riff.encoder().bytes())
}

/// The EXIF orientation (tag 0x0112 of IFD0, 1-8) of a TIFF-structured EXIF block, with or
/// without its `Exif\0\0` prefix; `None` when absent, 1 (already upright) or unreadable.
pub fn orientation(exif: &[u8]) -> Option<u16> {
    let tiff = exif.strip_prefix(b"Exif\0\0").unwrap_or(exif);
    let little = match tiff.get(..2)? {
        b"II" => true,
        b"MM" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b = tiff.get(at..at.checked_add(2)?)?;
        Some(if little { u16::from_le_bytes([b[0], b[1]]) } else { u16::from_be_bytes([b[0], b[1]]) })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b = tiff.get(at..at.checked_add(4)?)?;
        let b = [b[0], b[1], b[2], b[3]];
        Some(if little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    };
    if u16_at(2)? != 42 {
        return None;
    }
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let count = usize::from(u16_at(ifd)?);
    (0..count).find_map(|n| {
        let entry = ifd.checked_add(2)?.checked_add(n.checked_mul(12)?)?;
        // tag 0x0112, type SHORT (3), one value, held in the entry itself
        (u16_at(entry)? == 0x0112 && u16_at(entry + 2)? == 3)
            .then(|| u16_at(entry + 8))
            .flatten()
            .filter(|o| (2..=8).contains(o))
    })
}

/// A TIFF-structured EXIF block (big-endian, without the `Exif\0\0` prefix) holding nothing
/// but the orientation `o`.
fn orientation_exif(o: u16) -> Bytes {
    let mut t = Vec::with_capacity(26);
    t.extend_from_slice(b"MM\0\x2a\0\0\0\x08"); // header, IFD0 at offset 8
    t.extend_from_slice(&1u16.to_be_bytes()); // one entry
    t.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]); // Orientation, SHORT, count 1
    t.extend_from_slice(&o.to_be_bytes());
    t.extend_from_slice(&[0, 0]);
    t.extend_from_slice(&[0, 0, 0, 0]); // no next IFD
    Bytes::from(t)
}

fn bad(vi: &'static str, en: &'static str) -> Error {
    Error::BadRequest(Msg::new(vi, en))
}

/// The image bytes of an upload, raw or from its one multipart file part, within the caps.
async fn upload(req: &Request<Bytes>) -> Result<Bytes, Error> {
    civic::web::check_size(req, MAX_REQUEST)?;
    let content_type = req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let image = match essence.as_str() {
        "multipart/form-data" => multipart_file(req.body().clone(), content_type).await?,
        "" | "application/octet-stream" => req.body().clone(),
        t if t.starts_with("image/") => req.body().clone(),
        _ => return Err(Error::UnsupportedMediaType),
    };
    if image.len() > MAX_PHOTO {
        return Err(Error::PayloadTooLarge(MAX_PHOTO));
    }
    if image.is_empty() {
        return Err(bad("Không có ảnh trong yêu cầu", "the request holds no image"));
    }
    Ok(image)
}

/// The one file part of a `multipart/form-data` body (multer).
async fn multipart_file(body: Bytes, content_type: &str) -> Result<Bytes, Error> {
    let boundary = multer::parse_boundary(content_type)
        .map_err(|_| bad("multipart/form-data thiếu boundary", "multipart/form-data without a boundary"))?;
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::convert::Infallible>(body) });
    let limit = u64::try_from(MAX_PHOTO).unwrap_or(u64::MAX);
    let constraints = multer::Constraints::new().size_limit(multer::SizeLimit::new().per_field(limit));
    let mut parts = multer::Multipart::with_constraints(stream, boundary, constraints);
    let malformed = |e: multer::Error| match e {
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
            Error::PayloadTooLarge(MAX_PHOTO)
        }
        _ => bad("Nội dung multipart/form-data không hợp lệ", "the multipart/form-data body is malformed"),
    };
    let mut file = None;
    while let Some(field) = parts.next_field().await.map_err(malformed)? {
        let typed = field
            .content_type()
            .is_some_and(|m| m.type_().as_str() == "image" || m.essence_str() == "application/octet-stream");
        if field.file_name().is_none() && !typed {
            continue; // a plain form field
        }
        if file.is_some() {
            return Err(bad("Mỗi lần chỉ gửi một ảnh", "one file per upload"));
        }
        file = Some(field.bytes().await.map_err(malformed)?);
    }
    file.ok_or_else(|| bad("Không có tệp ảnh trong nội dung multipart", "the multipart body holds no file"))
}

/// The header an internal caller (the chat bot) names the citizen with: `<channel>:<user id>`.
pub const CHANNEL_USER: &str = "x-channel-user";

/// The channel user of an internal upload (`zalo:2468458835296117922`), or `None` without
/// [`CHANNEL_USER`]. With it, the body's `X-Signature` must be its HMAC-SHA256 with
/// `internal_secret` (401 otherwise, 500 when unset), and the value `<channel>:<user id>`
/// (400 otherwise).
pub fn channel_user(req: &Request<Bytes>, env: &impl Platform) -> Result<Option<String>, Error> {
    let Some(value) = req.headers().get(CHANNEL_USER) else {
        return Ok(None);
    };
    let secret = env.config("internal_secret").ok_or(Error::Config("internal_secret"))?;
    let signature = req.headers().get(civic::command::SIGNATURE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !civic::auth::verify_hmac_sha256_hex(secret.as_bytes(), req.body(), signature) {
        return Err(Error::BadSignature);
    }
    let parsed = value.to_str().ok().and_then(|v| v.split_once(':')).filter(|(channel, user)| {
        matches!(*channel, "sms" | "zalo" | "telegram")
            && !user.is_empty()
            && user.len() <= civic::command::MAX_ID
            && user.bytes().all(|b| b.is_ascii_graphic())
    });
    match parsed {
        Some((channel, user)) => Ok(Some(format!("{channel}:{user}"))),
        None => Err(Error::BadRequest(Msg::new(
            format!(
                "X-Channel-User phải có dạng <kênh>:<mã người dùng> (sms, zalo hoặc telegram; mã tối đa {} ký tự)",
                civic::command::MAX_ID
            ),
            format!(
                "X-Channel-User must be <channel>:<user id> (sms, zalo or telegram; an id of 1 to {} visible characters)",
                civic::command::MAX_ID
            ),
        ))),
    }
}

/// Who the upload counts against: the channel user of an internal caller
/// ([`channel_user`]), else the JWT subject, else the client's address. A bad token or
/// signature is a 401.
fn caller(req: &Request<Bytes>, env: &impl Platform) -> Result<Caller, Error> {
    Ok(match channel_user(req, env)? {
        Some(user) => {
            let (channel, user) = user.split_once(':').unwrap_or(("", &user));
            Caller::Chat { channel: channel.to_owned(), user: user.to_owned() }
        }
        None => Caller::of_request(env, req)?,
    })
}

fn key_of(id: &str) -> String {
    format!("media/{id}")
}

/// An id as [`post`] makes them: [`ID_LEN`] characters of `A-Z a-z 0-9 - _`.
pub fn valid_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `POST /reports/media`
pub async fn post(req: &Request<Bytes>, env: &impl Platform) -> Result<Response<Bytes>, Error> {
    let counted = UPLOADS.count(env, &caller(req, env)?)?;
    let image = upload(req).await?;
    let kind = Kind::sniff(&image).ok_or(Error::UnsupportedMediaType)?;
    let clean = strip(kind, image)?;
    let base = civic::web::public_base_url(env)?;
    let store = objects::store(env, BUCKET, DB)?;
    civic::limit::check(env, DB, &counted, vec![]).await?;

    let mut raw = [0u8; 16];
    env.random_bytes(&mut raw);
    let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    let at = stamp(env.now());
    let size = i64::try_from(clean.len()).unwrap_or(i64::MAX);
    let object = Object { content_type: kind.content_type().to_owned(), bytes: clean };
    let stored = async {
        objects::put(env, &store, &key_of(&id), object).await?;
        env.execute(
            DB,
            "INSERT INTO media (id, content_type, size, created_at) VALUES (?1, ?2, ?3, ?4)",
            &[id.as_str().into(), kind.content_type().into(), size.into(), at.as_str().into()],
        )
        .await?;
        Ok::<(), Error>(())
    }
    .await;
    if let Err(e) = stored {
        // A photo that was not stored does not count against its caller.
        counted.refund(env, DB).await;
        let _ = objects::forget(env, &store, &key_of(&id)).await;
        return Err(e);
    }
    let url = format!("{base}{PATH}{id}");
    let mut resp = civic::web::json(StatusCode::CREATED, &serde_json::json!({"id": id, "url": url}))?;
    if let Ok(location) = HeaderValue::from_str(&url) {
        resp.headers_mut().insert(header::LOCATION, location);
    }
    Ok(resp)
}

/// `GET /reports/media/{id}`
pub async fn get(env: &impl Platform, id: &str) -> Result<Response<Bytes>, Error> {
    if !valid_id(id) {
        return Err(Error::NotFound);
    }
    let rows = env.query(DB, "SELECT content_type FROM media WHERE id = ?1", &[id.into()]).await?;
    let Some(content_type) = rows.first().map(|r| r.str("content_type").map(str::to_owned)).transpose()? else {
        return Err(Error::NotFound);
    };
    let store = objects::store(env, BUCKET, DB)?;
    let Some(object) = objects::get(env, &store, &key_of(id)).await? else {
        civic::log::error(&format!("media {id} is recorded but its object is missing from the {} store", store.kind()));
        return Err(Error::NotFound);
    };
    let mut resp = Response::new(object.bytes);
    let headers = resp.headers_mut();
    let content_type =
        HeaderValue::from_str(&content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(CACHE_CONTROL));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(resp)
}

/// The URL of the uploaded photo `id` (`{public_base_url}/reports/media/{id}`), `Ok(None)`
/// when no photo has that id; for reports that name their photos by id.
pub async fn url_of(env: &impl Platform, id: &str) -> Result<Option<String>, Error> {
    if !valid_id(id) {
        return Ok(None);
    }
    let rows = env.query(DB, "SELECT 1 AS found FROM media WHERE id = ?1", &[id.into()]).await?;
    if rows.is_empty() {
        return Ok(None);
    }
    Ok(Some(format!("{}{PATH}{id}", civic::web::public_base_url(env)?)))
}

/// The id of `url` when it is one of ours: `{public_base_url}/reports/media/{id}` with a
/// [valid](valid_id) id (whether it was uploaded is [`url_of`]'s question). `None` for any
/// other URL, or when `public_base_url` is unset.
pub fn id_in<'u>(env: &impl Platform, url: &'u str) -> Option<&'u str> {
    let base = civic::web::public_base_url(env).ok()?;
    let id = url.strip_prefix(base.as_str())?.strip_prefix(PATH)?;
    valid_id(id).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    const JPEG: &[u8] = include_bytes!("../../../tests/data/photo-gps.jpg");
    const PNG: &[u8] = include_bytes!("../../../tests/data/photo-gps.png");
    const WEBP: &[u8] = include_bytes!("../../../tests/data/photo-gps.webp");

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    /// Anything that would tell where the photo was taken or by whom, in any of the fixtures.
    const TELLTALES: [&[u8]; 6] =
        [b"CivicPhone", b"Model X", b"2026:11:05", b"home of the reporter", b"GPSLatitude", b"xmpmeta"];

    #[test]
    fn sniff_table() {
        let cases: [(&[u8], Option<Kind>); 9] = [
            (JPEG, Some(Kind::Jpeg)),
            (PNG, Some(Kind::Png)),
            (WEBP, Some(Kind::Webp)),
            (b"\xFF\xD8\xFF", Some(Kind::Jpeg)),
            (b"\xFF\xD8", None),
            (b"RIFF\0\0\0\0WAVEfmt ", None),
            (b"GIF89a....", None),
            (b"hello, this is text named photo.jpg", None),
            (b"", None),
        ];
        for (bytes, want) in cases {
            assert_eq!(Kind::sniff(bytes), want, "{:?}", &bytes[..bytes.len().min(12)]);
        }
    }

    #[test]
    fn fixtures_carry_gps_before_and_nothing_after() {
        for (kind, bytes) in [(Kind::Jpeg, JPEG), (Kind::Png, PNG), (Kind::Webp, WEBP)] {
            assert!(TELLTALES.iter().filter(|t| contains(bytes, t)).count() >= 3, "{kind:?} fixture has metadata");
            let clean = strip(kind, Bytes::from_static(bytes)).unwrap();
            for t in TELLTALES {
                assert!(!contains(&clean, t), "{kind:?} still holds {:?}", String::from_utf8_lossy(t));
            }
            assert_eq!(Kind::sniff(&clean), Some(kind));
            // only the orientation survives
            let exif = match kind {
                Kind::Jpeg => Jpeg::from_bytes(clean.clone()).unwrap().exif(),
                Kind::Png => Png::from_bytes(clean.clone()).unwrap().exif(),
                Kind::Webp => WebP::from_bytes(clean.clone()).unwrap().exif(),
            };
            let exif = exif.unwrap_or_else(|| panic!("{kind:?}: orientation kept"));
            assert_eq!(exif, orientation_exif(6), "{kind:?}");
            assert!(!contains(&exif, &[0x88, 0x25]) && !contains(&exif, &[0x25, 0x88]), "no GPS IFD pointer");
            // stripping twice changes nothing more
            assert_eq!(strip(kind, clean.clone()).unwrap(), clean, "{kind:?}");
        }
    }

    /// The pixels of an image, by the format's own decoder crate.
    fn pixels(kind: Kind, bytes: &[u8]) -> Vec<u8> {
        match kind {
            Kind::Jpeg => jpeg_decoder::Decoder::new(bytes).decode().unwrap(),
            Kind::Png => {
                let mut reader = png::Decoder::new(std::io::Cursor::new(bytes)).read_info().unwrap();
                let mut buf = vec![0; reader.output_buffer_size()];
                let info = reader.next_frame(&mut buf).unwrap();
                buf.truncate(info.buffer_size());
                buf
            }
            Kind::Webp => {
                let mut decoder = image_webp::WebPDecoder::new(std::io::Cursor::new(bytes)).unwrap();
                let mut buf = vec![0; decoder.output_buffer_size().unwrap()];
                decoder.read_image(&mut buf).unwrap();
                buf
            }
        }
    }

    #[test]
    fn stripped_images_decode_to_the_same_pixels() {
        for (kind, bytes) in [(Kind::Jpeg, JPEG), (Kind::Png, PNG), (Kind::Webp, WEBP)] {
            let clean = strip(kind, Bytes::from_static(bytes)).unwrap();
            let before = pixels(kind, bytes);
            assert_eq!(before.len(), 48 * 32 * 3, "{kind:?}");
            assert_eq!(pixels(kind, &clean), before, "{kind:?}");
        }
    }

    #[test]
    fn webp_flags_follow_the_chunks() {
        let clean = strip(Kind::Webp, Bytes::from_static(WEBP)).unwrap();
        let webp = WebP::from_bytes(clean).unwrap();
        let ids: Vec<[u8; 4]> = webp.chunks().iter().map(RiffChunk::id).collect();
        assert!(!ids.contains(b"XMP "), "{ids:?}");
        let RiffContent::Data(vp8x) = webp.chunk_by_id(*b"VP8X").unwrap().content() else { panic!("VP8X") };
        assert_eq!(vp8x[0] & VP8X_XMP, 0, "XMP flag cleared");
        assert_eq!(vp8x[0] & VP8X_EXIF, VP8X_EXIF, "EXIF flag set for the orientation chunk");
    }

    #[test]
    fn a_multi_picture_jpeg_loses_the_pictures_after_the_first() {
        let mut two = JPEG.to_vec();
        two.extend_from_slice(JPEG);
        let clean = strip(Kind::Jpeg, Bytes::from(two)).unwrap();
        assert_eq!(clean, strip(Kind::Jpeg, Bytes::from_static(JPEG)).unwrap());
        assert!(clean.ends_with(&[0xFF, 0xD9]));
    }

    #[test]
    fn segments_between_scans_are_cleaned() {
        // entropy, a COM segment, a DHT segment, entropy with a stuffed byte and a restart
        // marker, EOI, then trailing bytes
        let tail = b"\x12\x34\xFF\xFE\x00\x05abc\xFF\xC4\x00\x03\x07\x56\xFF\x00\x78\xFF\xD0\x9A\xFF\xD9trailing";
        assert_eq!(clean_tail(tail), b"\x12\x34\xFF\xC4\x00\x03\x07\x56\xFF\x00\x78\xFF\xD0\x9A\xFF\xD9");
        assert_eq!(clean_tail(b"\x12\xFF"), b"\x12\xFF\xD9", "no EOI: one added");
        assert_eq!(clean_tail(b"\xFF\xE1\xFF\xFF"), b"\xFF\xD9", "a segment longer than the file");
    }

    #[test]
    fn damaged_or_truncated_images_are_refused_without_panicking() {
        for (kind, bytes) in [(Kind::Jpeg, JPEG), (Kind::Png, PNG), (Kind::Webp, WEBP)] {
            for cut in [3, 12, 40, bytes.len() / 2, bytes.len() - 1] {
                let _ = strip(kind, Bytes::copy_from_slice(&bytes[..cut]));
            }
        }
        assert!(matches!(strip(Kind::Jpeg, Bytes::from_static(b"\xFF\xD8\xFF")), Err(Error::Validation(_))));
        assert!(matches!(strip(Kind::Png, Bytes::from_static(b"\x89PNG\r\n\x1a\n")), Err(Error::Validation(_))));
        assert!(matches!(strip(Kind::Webp, Bytes::from_static(b"RIFF\x04\0\0\0WEBP")), Err(Error::Validation(_))));
    }

    #[test]
    fn mutated_images_never_panic() {
        // a small LCG flips bytes of the fixtures: every outcome is an image or a 422
        let mut seed: u64 = 0x5eed;
        let mut next = move || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(seed >> 33).unwrap_or(0)
        };
        for (kind, bytes) in [(Kind::Jpeg, JPEG), (Kind::Png, PNG), (Kind::Webp, WEBP)] {
            for _ in 0..700 {
                let mut m = bytes.to_vec();
                for _ in 0..1 + next() % 4 {
                    let at = next() % m.len();
                    m[at] = u8::try_from(next() % 256).unwrap_or(0);
                }
                match strip(kind, Bytes::from(m)) {
                    Ok(_) | Err(Error::Validation(_)) => {}
                    Err(e) => panic!("{kind:?}: {e}"),
                }
            }
        }
    }

    #[test]
    fn orientation_table() {
        let le = b"II\x2a\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x06\0\0\0\0\0\0\0";
        let cases: [(&[u8], Option<u16>); 6] = [
            (&orientation_exif(6), Some(6)),
            (&orientation_exif(1), None),
            (le, Some(6)),
            (b"Exif\0\0II\x2a\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0\x08\0\0\0\0\0\0\0", Some(8)),
            (b"II\x2a\0\xFF\xFF\xFF\xFF", None),
            (b"XX", None),
        ];
        for (exif, want) in cases {
            assert_eq!(orientation(exif), want, "{exif:?}");
        }
    }

    fn env() -> civic::platform::native::NativePlatform {
        civic::testing::route_env(&[DB]).with_config("public_base_url", "https://api.example.vn")
    }

    fn send(env: &impl Platform, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Response<Bytes> {
        let mut req = Request::builder().method(method).uri(path);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        civic::platform::native::block_on(crate::handle(req.body(Bytes::copy_from_slice(body)).unwrap(), env))
    }

    fn multipart(parts: &[(&str, Option<&str>, &str, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (name, file, ct, data) in parts {
            body.extend_from_slice(b"--XyZ\r\n");
            let file = file.map(|f| format!("; filename=\"{f}\"")).unwrap_or_default();
            body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"{file}\r\n").as_bytes());
            body.extend_from_slice(format!("Content-Type: {ct}\r\n\r\n").as_bytes());
            body.extend_from_slice(data);
            body.extend_from_slice(b"\r\n");
        }
        body.extend_from_slice(b"--XyZ--\r\n");
        body
    }

    #[test]
    fn upload_then_fetch_without_metadata() {
        let env = env();
        let resp = send(&env, "POST", "/reports/media", &[("content-type", "image/png")], JPEG);
        assert_eq!(resp.status(), 201, "{:?}", resp.body());
        let v: serde_json::Value = serde_json::from_slice(resp.body()).unwrap();
        let id = v["id"].as_str().unwrap();
        assert!(valid_id(id));
        assert_eq!(v["url"], format!("https://api.example.vn/reports/media/{id}"));
        assert_eq!(resp.headers()[header::LOCATION], v["url"].as_str().unwrap());
        let got = send(&env, "GET", &format!("/reports/media/{id}"), &[], b"");
        assert_eq!(got.status(), 200);
        assert_eq!(got.headers()[header::CONTENT_TYPE], "image/jpeg", "the bytes decide, not the header");
        assert_eq!(got.headers()[header::CACHE_CONTROL], CACHE_CONTROL);
        assert_eq!(got.headers()[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(got.body(), &strip(Kind::Jpeg, Bytes::from_static(JPEG)).unwrap());
        let block_on = civic::platform::native::block_on;
        assert_eq!(block_on(url_of(&env, id)).unwrap(), v["url"].as_str().map(str::to_owned));
        assert_eq!(block_on(url_of(&env, "AAAAAAAAAAAAAAAAAAAAAA")).unwrap(), None);
        assert_eq!(id_in(&env, v["url"].as_str().unwrap()), Some(id));
        for missing in ["AAAAAAAAAAAAAAAAAAAAAA", "nope", "..%2F..%2Fetc"] {
            assert_eq!(send(&env, "GET", &format!("/reports/media/{missing}"), &[], b"").status(), 404, "{missing}");
        }
    }

    #[test]
    fn multipart_takes_its_one_file() {
        let env = env();
        let ct = [("content-type", "multipart/form-data; boundary=XyZ")];
        let body = multipart(&[("note", None, "text/plain", b"hi"), ("photo", Some("IMG_1.webp"), "image/webp", WEBP)]);
        let resp = send(&env, "POST", "/reports/media", &ct, &body);
        assert_eq!(resp.status(), 201, "{:?}", resp.body());
        let two = multipart(&[("a", Some("a.png"), "image/png", PNG), ("b", Some("b.png"), "image/png", PNG)]);
        assert_eq!(send(&env, "POST", "/reports/media", &ct, &two).status(), 400);
        let none = multipart(&[("note", None, "text/plain", b"hi")]);
        assert_eq!(send(&env, "POST", "/reports/media", &ct, &none).status(), 400);
        let text = multipart(&[("photo", Some("photo.jpg"), "image/jpeg", b"just text, named .jpg")]);
        assert_eq!(send(&env, "POST", "/reports/media", &ct, &text).status(), 415);
        let unbounded = [("content-type", "multipart/form-data")];
        assert_eq!(send(&env, "POST", "/reports/media", &unbounded, &body).status(), 400);
        assert_eq!(send(&env, "POST", "/reports/media", &ct, b"garbage").status(), 400);
    }

    #[test]
    fn refusals() {
        let env = env();
        let post = |headers: &[(&str, &str)], body: &[u8]| send(&env, "POST", "/reports/media", headers, body).status();
        assert_eq!(post(&[("content-type", "image/jpeg")], b"hello"), 415);
        assert_eq!(post(&[("content-type", "application/json")], PNG), 415);
        assert_eq!(post(&[("content-type", "image/jpeg")], b""), 400);
        assert_eq!(post(&[("content-type", "image/jpeg")], b"\xFF\xD8\xFF\xE0garbage"), 422);
        let mut big = JPEG.to_vec();
        big.resize(MAX_PHOTO + 1, 0);
        assert_eq!(post(&[("content-type", "image/jpeg")], &big), 413);
        let ct = [("content-type", "multipart/form-data; boundary=XyZ")];
        assert_eq!(post(&ct, &multipart(&[("p", Some("p.jpg"), "image/jpeg", &big)])), 413);
        assert_eq!(post(&[("authorization", "Bearer not-a-token")], PNG), 401);
    }

    use chrono::Duration;

    #[test]
    fn each_caller_has_its_hourly_share() {
        let env = env().with_config("rate_limit_media_upload", "2/1h");
        env.set_now(civic::testing::t("2026-11-05T09:00:00+07:00"));
        let post = |sub: &str| {
            let who = civic::testing::token(&env, &serde_json::json!({"sub": sub}));
            send(&env, "POST", "/reports/media", &[("authorization", &who)], PNG)
        };
        assert_eq!(post("alice").status(), 201);
        env.set_now(env.now() + Duration::minutes(20));
        assert_eq!(post("alice").status(), 201);
        let refused = post("alice");
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.headers()[header::RETRY_AFTER], "2400", "the first upload leaves the window in 40 min");
        assert_eq!(post("bob").status(), 201, "another caller has a share of its own");
        env.set_now(env.now() + Duration::minutes(40));
        assert_eq!(post("alice").status(), 201, "an hour after the first, a new window");
        let rows = civic::platform::native::block_on(env.query(DB, "SELECT caller FROM rate_limits", &[])).unwrap();
        assert!(rows.iter().all(|r| r.str("caller").unwrap().len() == 64), "only keyed hashes are kept");
    }

    #[test]
    fn the_chat_bot_uploads_for_each_channel_user() {
        let env = env().with_config("rate_limit_media_upload", "1/1h").with_config("internal_secret", "in-s3cret");
        let signed = civic::command::sign("in-s3cret", PNG);
        let upload = |env: &civic::platform::native::NativePlatform, user: &str, signature: &str| {
            let headers = [("x-channel-user", user), ("x-signature", signature), ("content-type", "image/png")];
            send(env, "POST", "/reports/media", &headers, PNG).status()
        };
        assert_eq!(upload(&env, "zalo:2468458835296117922", &signed), 201);
        assert_eq!(upload(&env, "zalo:2468458835296117922", &signed), 429, "that citizen's share is used");
        assert_eq!(upload(&env, "zalo:1", &signed), 201, "another citizen, from the bot's same address");
        assert_eq!(upload(&env, "telegram:2468458835296117922", &signed), 201, "the same id on another channel");
        assert_eq!(send(&env, "POST", "/reports/media", &[], PNG).status(), 201, "the address keeps its own share");
        // status by header: a bad or missing signature, a malformed value, an unset secret
        let cases = [
            ("zalo:3", civic::command::sign("not-the-secret", PNG), 401),
            ("zalo:3", civic::command::sign("in-s3cret", b"another body"), 401),
            ("zalo:3", String::new(), 401),
            ("zalo", signed.clone(), 400),
            ("fax:3", signed.clone(), 400),
            ("zalo:", signed.clone(), 400),
            ("zalo:a b", signed.clone(), 400),
        ];
        for (user, signature, want) in cases {
            assert_eq!(upload(&env, user, &signature), want, "{user} {signature:?}");
        }
        assert_eq!(upload(&super::tests::env(), "zalo:3", &signed), 500, "internal_secret unset");
        let rows = civic::platform::native::block_on(env.query(DB, "SELECT caller FROM rate_limits", &[])).unwrap();
        assert!(rows.iter().all(|r| !r.str("caller").unwrap().contains("zalo")), "only keyed hashes are kept");
    }

    #[test]
    fn the_body_cap_is_large_for_uploads_only() {
        assert_eq!(crate::max_body(&http::Method::POST, "/reports/media"), MAX_REQUEST);
        assert_eq!(crate::max_body(&http::Method::POST, "/reports/media/"), MAX_REQUEST);
        assert_eq!(crate::max_body(&http::Method::POST, "/reports"), crate::MAX_BODY);
        assert_eq!(crate::max_body(&http::Method::PUT, "/reports/media"), crate::MAX_BODY);
        assert_eq!(crate::max_body(&http::Method::POST, "/reports/mediax"), crate::MAX_BODY);
    }

    #[test]
    fn ids_and_urls() {
        let env = civic::platform::native::NativePlatform::in_memory(&[DB])
            .with_config("public_base_url", "https://api.example.vn/");
        let id = "AbCdEfGhIjKlMnOpQrSt_-";
        assert!(valid_id(id));
        assert!(!valid_id("short") && !valid_id("AbCdEfGhIjKlMnOpQrSt.-"));
        assert_eq!(id_in(&env, &format!("https://api.example.vn/reports/media/{id}")), Some(id));
        assert_eq!(id_in(&env, &format!("https://evil.example/reports/media/{id}")), None);
        assert_eq!(id_in(&env, &format!("https://api.example.vn/reports/media/{id}/x")), None);
        assert_eq!(id_in(&env, "https://api.example.vn/reports/media/"), None);
    }
}
