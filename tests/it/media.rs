//! Photos of reports (`POST /reports/media`, `GET /reports/media/{id}`): on both runtimes
//! ([`CHECKS`]: the local Spin host stores them in the reports database, workerd in its local
//! R2), and the S3 store on a Spin host of its own backed by a real S3-compatible server,
//! s3s-fs, on 127.0.0.1 ([`s3_store_on_s3s_fs`]).
//!
//! The fixtures (`tests/data/photo-gps.{jpg,png,webp}`, 48x32, made with Pillow) carry EXIF
//! with a GPS IFD (16°03'N 108°12'E), the camera's make and model, an orientation of 6, XMP
//! with the position again, and a comment. The stored photos are read back and decoded with
//! `jpeg-decoder`, `png` and `image-webp`, decoders the project did not write.

use std::io::Read as _;
use std::net::TcpStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::harness::{self, Check, Resp, Server, bearer_with, is_problem, request};

pub const JPEG: &[u8] = include_bytes!("../data/photo-gps.jpg");
pub const PNG: &[u8] = include_bytes!("../data/photo-gps.png");
pub const WEBP: &[u8] = include_bytes!("../data/photo-gps.webp");

/// Uploads one caller may make in an hour (`rate_limit_media_upload`'s default, `60/1h`, in
/// spin.toml and wrangler.toml).
const PER_HOUR: usize = 60;

/// The 8 MiB cap on an image.
const MAX_PHOTO: usize = 8 * 1024 * 1024;

pub const CHECKS: &[(&str, Check)] = &[
    ("gps_is_gone_and_the_jpeg_still_decodes", jpeg_comes_back_without_gps),
    ("png_and_webp_pass", png_and_webp_pass),
    ("a_text_file_named_jpg_is_refused", text_named_jpg_is_refused),
    ("over_8_mib_is_413", over_8_mib_is_413),
    ("multipart_with_one_file_works", multipart_works),
    ("the_per_caller_limit_answers_429", per_caller_limit),
    ("an_unknown_id_is_a_404_problem", unknown_id_is_404),
];

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// What would tell where and with what the photo was taken, as the fixtures hold it.
const TELLTALES: [&[u8]; 5] = [b"CivicPhone", b"Model X", b"home of the reporter", b"GPSLatitude", b"xmpmeta"];

/// The EXIF of an image, found the way readers find it: JPEG APP1 `Exif\0\0`, PNG `eXIf`,
/// WebP `EXIF` chunk; `None` when there is none.
fn exif_of(bytes: &[u8]) -> Option<Vec<u8>> {
    let at = |needle: &[u8]| bytes.windows(needle.len()).position(|w| w == needle);
    let start = at(b"Exif\0\0").map(|i| i + 6).or_else(|| at(b"eXIf").map(|i| i + 4))?;
    Some(bytes[start..].iter().take(64).copied().collect())
}

/// The GPS IFD pointer (tag 0x8825) in either byte order.
fn has_gps_pointer(exif: &[u8]) -> bool {
    contains(exif, &[0x88, 0x25]) || contains(exif, &[0x25, 0x88])
}

/// Decodes the image with the format's own decoder; its pixels.
fn decode(content_type: &str, bytes: &[u8]) -> Result<Vec<u8>, String> {
    match content_type {
        "image/jpeg" => jpeg_decoder::Decoder::new(bytes).decode().map_err(|e| format!("JPEG: {e}")),
        "image/png" => {
            let mut reader =
                png::Decoder::new(std::io::Cursor::new(bytes)).read_info().map_err(|e| format!("PNG: {e}"))?;
            let mut buf = vec![0; reader.output_buffer_size()];
            let info = reader.next_frame(&mut buf).map_err(|e| format!("PNG: {e}"))?;
            buf.truncate(info.buffer_size());
            Ok(buf)
        }
        "image/webp" => {
            let mut d = image_webp::WebPDecoder::new(std::io::Cursor::new(bytes)).map_err(|e| format!("WebP: {e}"))?;
            let mut buf = vec![0; d.output_buffer_size().ok_or("WebP: no size")?];
            d.read_image(&mut buf).map_err(|e| format!("WebP: {e}"))?;
            Ok(buf)
        }
        other => Err(format!("unexpected content type {other}")),
    }
}

/// A caller of its own for one check (the limit counts per JWT subject).
fn caller(check: &str) -> String {
    bearer_with(&serde_json::json!({"sub": format!("e2e-media-{check}-{}", harness::unix_now())}))
}

fn upload(s: &Server, who: &str, content_type: &str, body: &[u8]) -> Result<Resp, String> {
    request(&s.addr, "POST", "/reports/media", &[("authorization", who), ("content-type", content_type)], body)
}

/// Uploads `body` (201 expected), fetches it back and checks what every photo must be: the
/// answer's shape, the stored type, the headers, no metadata, the same pixels. Its id and bytes.
fn round_trip(s: &Server, who: &str, sent_as: &str, body: &[u8], kind: &str) -> Result<(String, Vec<u8>), String> {
    round_trip_of(s, who, sent_as, body, body, kind)
}

/// [`round_trip`] of `image` sent as `body` (a multipart body holding it).
fn round_trip_of(
    s: &Server,
    who: &str,
    sent_as: &str,
    body: &[u8],
    image: &[u8],
    kind: &str,
) -> Result<(String, Vec<u8>), String> {
    let r = upload(s, who, sent_as, body)?;
    ensure!(r.status == 201, "upload {kind}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    let v = r.json()?;
    let id = v["id"].as_str().ok_or(format!("no id: {v}"))?.to_owned();
    let url = v["url"].as_str().ok_or(format!("no url: {v}"))?;
    ensure!(id.len() == 22 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "id {id}");
    ensure!(url.ends_with(&format!("/reports/media/{id}")) && url.starts_with("http"), "url {url}");
    ensure!(r.header("location") == Some(url), "Location {:?}", r.header("location"));
    let got = harness::get(&s.addr, &format!("/reports/media/{id}"))?;
    ensure!(got.status == 200, "GET {id}: {}", got.status);
    ensure!(got.header("content-type") == Some(kind), "content-type {:?}, want {kind}", got.header("content-type"));
    ensure!(
        got.header("cache-control") == Some("public, max-age=31536000, immutable"),
        "cache-control {:?}",
        got.header("cache-control")
    );
    ensure!(got.header("x-content-type-options") == Some("nosniff"), "nosniff");
    for t in TELLTALES {
        ensure!(!contains(&got.body, t), "{kind} still holds {:?}", String::from_utf8_lossy(t));
    }
    if let Some(exif) = exif_of(&got.body) {
        ensure!(!has_gps_pointer(&exif), "{kind}: the EXIF left has a GPS IFD");
    }
    let (before, after) = (decode(kind, image)?, decode(kind, &got.body)?);
    ensure!(before == after, "{kind}: the pixels changed ({} / {} bytes)", before.len(), after.len());
    Ok((id, got.body))
}

/// A stored photo as served (`kind` its content type): none of the fixture's telltales, no
/// GPS IFD left in its EXIF, and it decodes. For photos that reach the store another way
/// (the chat bot's).
pub fn is_clean(kind: &str, bytes: &[u8]) -> Result<(), String> {
    for t in TELLTALES {
        ensure!(!contains(bytes, t), "{kind} still holds {:?}", String::from_utf8_lossy(t));
    }
    if let Some(exif) = exif_of(bytes) {
        ensure!(!has_gps_pointer(&exif), "{kind}: the EXIF left has a GPS IFD");
    }
    decode(kind, bytes).map(|_| ())
}

fn jpeg_comes_back_without_gps(s: &Server) -> Result<(), String> {
    ensure!(exif_of(JPEG).is_some_and(|e| has_gps_pointer(&e)), "the fixture has EXIF with a GPS IFD");
    let (_, stored) = round_trip(s, &caller("jpeg"), "image/jpeg", JPEG, "image/jpeg")?;
    ensure!(stored.len() < JPEG.len(), "smaller without its metadata: {} / {}", stored.len(), JPEG.len());
    // anonymous (counted by the client address) works the same way
    let r = request(&s.addr, "POST", "/reports/media", &[("content-type", "image/jpeg")], JPEG)?;
    ensure!(r.status == 201, "anonymous upload: {} {}", r.status, String::from_utf8_lossy(&r.body));
    Ok(())
}

fn png_and_webp_pass(s: &Server) -> Result<(), String> {
    let who = caller("png-webp");
    round_trip(s, &who, "image/png", PNG, "image/png")?;
    round_trip(s, &who, "image/webp", WEBP, "image/webp")?;
    // the bytes decide: a PNG sent as image/jpeg is stored and served as a PNG
    round_trip(s, &who, "image/jpeg", PNG, "image/png")?;
    Ok(())
}

fn text_named_jpg_is_refused(s: &Server) -> Result<(), String> {
    let who = caller("text");
    let text = b"Xin chao, this is plain text saved as photo.jpg\n";
    is_problem(&upload(s, &who, "image/jpeg", text)?, 415)?;
    let body = multipart(&[("photo", Some("photo.jpg"), "image/jpeg", text)]);
    is_problem(&upload(s, &who, MULTIPART, &body)?, 415)?;
    is_problem(&upload(s, &who, "application/json", PNG)?, 415)?;
    is_problem(&upload(s, &who, "image/jpeg", b"\xFF\xD8\xFF\xE0 a damaged JPEG")?, 422)?;
    is_problem(&upload(s, &who, "image/jpeg", b"")?, 400)?;
    Ok(())
}

fn over_8_mib_is_413(s: &Server) -> Result<(), String> {
    let who = caller("large");
    let mut big = JPEG.to_vec();
    big.resize(MAX_PHOTO + 1, 0);
    is_problem(&upload(s, &who, "image/jpeg", &big)?, 413)?;
    let body = multipart(&[("photo", Some("big.jpg"), "image/jpeg", &big)]);
    is_problem(&upload(s, &who, MULTIPART, &body)?, 413)?;
    // a photo of just under 8 MiB passes (JPEG ignores what follows its end marker, which goes)
    let mut fits = JPEG.to_vec();
    fits.resize(MAX_PHOTO - 1024, 0x55);
    let r = upload(s, &who, "image/jpeg", &fits)?;
    ensure!(r.status == 201, "an image of just under 8 MiB: {} {}", r.status, String::from_utf8_lossy(&r.body));
    // another route keeps its small cap, refused from the declared length before the body is read
    let r =
        harness::request_declaring(&s.addr, "POST", "/reports", 1024 * 1024, &[("content-type", "application/json")])?;
    is_problem(&r, 413)?;
    // and this route past its own cap (8 MiB and the multipart framing)
    let r = harness::request_declaring(&s.addr, "POST", "/reports/media", MAX_PHOTO + 1024 * 1024, &[])?;
    is_problem(&r, 413)?;
    Ok(())
}

const MULTIPART: &str = "multipart/form-data; boundary=----civicE2Eboundary";

fn multipart(parts: &[(&str, Option<&str>, &str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, content_type, data) in parts {
        body.extend_from_slice(b"------civicE2Eboundary\r\n");
        let file = file.map(|f| format!("; filename=\"{f}\"")).unwrap_or_default();
        body.extend_from_slice(format!("Content-Disposition: form-data; name=\"{name}\"{file}\r\n").as_bytes());
        body.extend_from_slice(format!("Content-Type: {content_type}\r\n\r\n").as_bytes());
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"------civicE2Eboundary--\r\n");
    body
}

fn multipart_works(s: &Server) -> Result<(), String> {
    let who = caller("multipart");
    let body =
        multipart(&[("description", None, "text/plain", b"o ga"), ("file", Some("IMG_0001.JPG"), "image/jpeg", JPEG)]);
    round_trip_of(s, &who, MULTIPART, &body, JPEG, "image/jpeg")?;
    let two = multipart(&[("a", Some("a.png"), "image/png", PNG), ("b", Some("b.webp"), "image/webp", WEBP)]);
    is_problem(&upload(s, &who, MULTIPART, &two)?, 400)?;
    let none = multipart(&[("description", None, "text/plain", b"no photo")]);
    is_problem(&upload(s, &who, MULTIPART, &none)?, 400)?;
    Ok(())
}

fn per_caller_limit(s: &Server) -> Result<(), String> {
    let who = caller("limit");
    for n in 0..PER_HOUR {
        let r = upload(s, &who, "image/png", PNG)?;
        ensure!(r.status == 201, "upload {n}: {} {}", r.status, String::from_utf8_lossy(&r.body));
    }
    let r = upload(s, &who, "image/png", PNG)?;
    let v = is_problem(&r, 429)?;
    let retry: u64 = r.header("retry-after").and_then(|v| v.parse().ok()).ok_or(format!("Retry-After: {r:?}"))?;
    ensure!((3500..=3600).contains(&retry), "Retry-After {retry} (the first upload was moments ago)");
    ensure!(v["type"] == "/problems/too-many-requests", "{v}");
    // another caller is not held back
    ensure!(upload(s, &caller("limit-other"), "image/png", PNG)?.status == 201, "another caller");
    Ok(())
}

fn unknown_id_is_404(s: &Server) -> Result<(), String> {
    for id in ["AAAAAAAAAAAAAAAAAAAAAA", "not-an-id", "..%2F..%2Freports.db"] {
        is_problem(&harness::get(&s.addr, &format!("/reports/media/{id}"))?, 404)?;
    }
    let r = request(&s.addr, "DELETE", "/reports/media/AAAAAAAAAAAAAAAAAAAAAA", &[], b"")?;
    is_problem(&r, 405)?;
    ensure!(r.header("allow") == Some("GET"), "Allow {:?}", r.header("allow"));
    Ok(())
}

/// s3s-fs (installed by `cargo xtask test` into ~/.cargo/bin, `$CIVIC_S3S_FS`) serving a
/// temporary folder on a free port of 127.0.0.1 with signature checks on; killed on drop.
struct S3sFs {
    child: Child,
    addr: String,
    root: tempfile::TempDir,
}

impl Drop for S3sFs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const S3_KEY: &str = "e2e-access-key";
const S3_SECRET: &str = "e2e-secret-key-0123456789";
const S3_BUCKET: &str = "civic-photos";

fn start_s3s_fs() -> Result<S3sFs, String> {
    let bin = std::env::var_os("CIVIC_S3S_FS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo/bin/s3s-fs"));
    if !bin.exists() {
        return Err(format!("{} is missing: run `cargo xtask test` (it installs s3s-fs)", bin.display()));
    }
    let root = tempfile::tempdir().map_err(|e| e.to_string())?;
    std::fs::create_dir(root.path().join(S3_BUCKET)).map_err(|e| e.to_string())?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())?;
    let child = Command::new(&bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string(), "--access-key", S3_KEY, "--secret-key", S3_SECRET])
        .arg(root.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let server = S3sFs { child, addr: format!("127.0.0.1:{port}"), root };
    for _ in 0..100 {
        if TcpStream::connect(&server.addr).is_ok() {
            return Ok(server);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Err("s3s-fs did not listen within 10 s".into())
}

/// A Spin host whose report-submission stores photos in s3s-fs: the photo lands as a file in
/// s3s-fs's folder, without its metadata, is served back through S3, and s3s-fs refuses the
/// same object to an unsigned request (so the signatures are really checked).
pub fn s3_store_on_s3s_fs() -> Result<(), String> {
    let s3 = start_s3s_fs()?;
    let endpoint = format!("http://{}", s3.addr);
    let settings = [
        ("s3_endpoint", endpoint.as_str()),
        ("s3_bucket", S3_BUCKET),
        ("s3_region", "ap-southeast-1"),
        ("s3_access_key", S3_KEY),
        ("s3_secret_key", S3_SECRET),
    ];
    let spin = harness::start_spin_with(&settings)?;
    let who = caller("s3");
    let (id, stored) = round_trip(&spin, &who, "image/jpeg", JPEG, "image/jpeg")?;
    let file = s3.root.path().join(S3_BUCKET).join("media").join(&id);
    let mut on_disk = Vec::new();
    std::fs::File::open(&file)
        .and_then(|mut f| f.read_to_end(&mut on_disk))
        .map_err(|e| format!("the object is not in s3s-fs's folder ({}): {e}", file.display()))?;
    ensure!(on_disk == stored, "s3s-fs holds {} bytes, the route served {}", on_disk.len(), stored.len());
    ensure!(!contains(&on_disk, b"GPSLatitude") && !contains(&on_disk, b"CivicPhone"), "metadata in the stored object");
    // not in the database store
    let db = civic::platform::native::NativePlatform::open_dir(
        spin.data_dir(),
        &["reports"],
        &harness::root().join("migrations"),
    )
    .map_err(|e| e.to_string())?;
    let parts = civic::platform::native::block_on(civic::Platform::query(
        &db,
        "reports",
        "SELECT count(*) AS n FROM objects",
        &[],
    ))
    .map_err(|e| e.to_string())?;
    ensure!(parts.first().and_then(|r| r.i64("n").ok()) == Some(0), "the S3 host wrote objects to its database");
    let unsigned = request(&s3.addr, "GET", &format!("/{S3_BUCKET}/media/{id}"), &[], b"")?;
    ensure!(unsigned.status == 403, "s3s-fs answered an unsigned GET with {}", unsigned.status);
    // the store failing is a 503 to retry, never a 500 or a half-stored photo
    drop(s3);
    let r = upload(&spin, &who, "image/png", PNG)?;
    is_problem(&r, 503)?;
    ensure!(r.header("retry-after").is_some(), "Retry-After on 503");
    Ok(())
}
