//! Evidence files ("blobs"): photos of protocols and incidents, scans.
//!
//! A blob is addressed by the SHA-256 of its bytes ([`BlobHash`]), the same
//! hash the phone computes and cites in its reports, so anyone can check a
//! photo with `sha256sum`. What a file *is* comes from its content
//! ([`sniff`]), never from the name or the `Content-Type` a client claims.
//!
//! Photos carry where they were taken: phones write GPS coordinates into
//! Exif and XMP. Inside the observer group that is evidence (this photo was
//! taken at station 101); outside it, it can put a volunteer's home on a
//! map. [`strip_location`] makes the copy that may leave the group. It
//! keeps only the segments and chunks a decoder needs to draw the picture
//! (a whitelist: metadata containers nobody has heard of yet go too), and
//! copies the image data in them byte for byte: it never decodes or
//! re-encodes the image, so the picture shown is the picture taken.
//!
//! Pure: bytes in, bytes out; no I/O.

use std::fmt;

use sha2::{Digest, Sha256};

use crate::model::InvalidValue;

/// The largest evidence file accepted, in bytes.
///
/// A phone photo of a protocol is 2–6 MB (12 MP JPEG or HEIC); a 48 MP
/// photo at high quality or a several-page PDF scan can reach 10–12 MB.
/// 15 MB takes all of those, while bounding what one upload costs: the
/// server holds a body in memory before writing it, and a volunteer on a
/// throttled mobile network should not spend many minutes on one file that
/// a bigger limit would let a misconfigured camera (RAW, video) produce.
pub const MAX_BLOB_BYTES: usize = 15 * 1024 * 1024;

/// The kinds of evidence file we take, known by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaType {
    Jpeg,
    Png,
    Webp,
    /// HEIF with HEVC images: what iPhones shoot by default.
    Heic,
    Pdf,
}

impl MediaType {
    pub const ALL: [MediaType; 5] = [
        MediaType::Jpeg,
        MediaType::Png,
        MediaType::Webp,
        MediaType::Heic,
        MediaType::Pdf,
    ];

    /// The canonical MIME type: what the server sends as `Content-Type` and
    /// what the store keeps.
    pub fn mime(self) -> &'static str {
        match self {
            Self::Jpeg => "image/jpeg",
            Self::Png => "image/png",
            Self::Webp => "image/webp",
            Self::Heic => "image/heic",
            Self::Pdf => "application/pdf",
        }
    }

    /// Parse a canonical MIME type (as [`MediaType::mime`] writes it).
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|m| m.mime() == s)
            .ok_or_else(|| InvalidValue(format!("unknown media type {s:?}")))
    }

    /// What a client's `Content-Type` claims, if it names one of our kinds:
    /// case and parameters ignored, common aliases (`image/jpg`,
    /// `image/heif`) accepted. `None` for anything else, including
    /// `application/octet-stream`, which claims nothing.
    pub fn from_content_type(s: &str) -> Option<Self> {
        let essence = s
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "image/jpeg" | "image/jpg" | "image/pjpeg" => Some(Self::Jpeg),
            "image/png" => Some(Self::Png),
            "image/webp" => Some(Self::Webp),
            "image/heic" | "image/heif" | "image/heic-sequence" | "image/heif-sequence" => {
                Some(Self::Heic)
            }
            "application/pdf" => Some(Self::Pdf),
            _ => None,
        }
    }

    /// A short human name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Self::Jpeg => "JPEG",
            Self::Png => "PNG",
            Self::Webp => "WebP",
            Self::Heic => "HEIC",
            Self::Pdf => "PDF",
        }
    }

    /// Whether [`strip_location`] can make a copy of this kind that is safe
    /// to show outside the group.
    pub fn can_strip_location(self) -> bool {
        matches!(self, Self::Jpeg | Self::Png | Self::Webp)
    }
}

impl fmt::Display for MediaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.mime())
    }
}

/// The SHA-256 of a blob's bytes, as 64 lower-case hex digits: its name
/// everywhere (store, disk, reports that cite it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobHash(String);

impl BlobHash {
    /// The hash of these bytes.
    pub fn of(bytes: &[u8]) -> Self {
        Self(hex::encode(Sha256::digest(bytes)))
    }

    /// A hash as a client or a URL writes it; either case is accepted.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        let s = s.trim();
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(InvalidValue(format!(
                "{s:?} is not a SHA-256 in hex (64 characters 0-9, a-f)"
            )));
        }
        Ok(Self(s.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BlobHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What kind of file these bytes are, from their content alone; `None` when
/// they are none of the kinds we take.
///
/// More than the magic number is checked where it is cheap: a JPEG must
/// parse as a sequence of segments through its first scan header, a PNG
/// must open with a well-formed `IHDR` (CRC included), a WebP with one of
/// its image chunks, a HEIC with an `ftyp` box naming a HEVC brand. A file
/// that merely starts with the right bytes is refused.
pub fn sniff(bytes: &[u8]) -> Option<MediaType> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return jpeg_is_plausible(bytes).then_some(MediaType::Jpeg);
    }
    if bytes.starts_with(PNG_SIGNATURE) {
        return png_is_plausible(bytes).then_some(MediaType::Png);
    }
    if bytes.starts_with(b"RIFF") && bytes.get(8..12) == Some(b"WEBP") {
        return webp_is_plausible(bytes).then_some(MediaType::Webp);
    }
    if bytes.get(4..8) == Some(b"ftyp") {
        return heic_is_plausible(bytes).then_some(MediaType::Heic);
    }
    if bytes.starts_with(b"%PDF-") && bytes.get(5).is_some_and(u8::is_ascii_digit) {
        return Some(MediaType::Pdf);
    }
    None
}

/// A copy of the file with only what is needed to draw it, for showing
/// outside the group; `None` when that cannot be done safely, and then the
/// file must not leave the group at all.
///
/// A whitelist, not a blacklist: phones, editors and provenance tools keep
/// adding containers that can hold a place (C2PA/JUMBF manifests in APP11,
/// comments, vendor APPn blocks, text chunks), and a list of what to remove
/// is always one container short. So the copy keeps what a decoder reads to
/// draw the picture, and drops everything else, known or not.
///
/// - JPEG keeps the start and end markers, the quantisation, Huffman and
///   arithmetic-coding tables (DQT, DHT, DAC), the frame header (SOFn), the
///   restart interval (DRI), and each scan header with its entropy-coded
///   data and restart markers. Each kept header is cut to the length its own
///   fields give, so nothing rides behind a table. Three small segments are
///   written afresh, never copied: the JFIF header (version, pixel density;
///   no thumbnail), the Adobe APP14 with only its colour-transform byte
///   (without it CMYK and YCCK images decode in wrong colours), and, if the
///   Exif said to turn the image (orientation 2–8), an Exif block with that
///   one tag, so a portrait photo is not published on its side. Dropped:
///   Exif and XMP (APP1), ICC profiles and MPF (APP2), C2PA/JUMBF (APP11),
///   IPTC (APP13), comments (COM), every other APPn, hierarchical-mode
///   markers, and anything after the end-of-image marker (phones append
///   preview and depth images there, each with its own Exif).
/// - PNG keeps `IHDR`, `PLTE`, `IDAT`, `IEND`, `tRNS` (transparency), the
///   fixed-size colour chunks `gAMA`, `cHRM`, `sRGB`, `cICP`, `sBIT`, and
///   APNG's `acTL`, `fcTL`, `fdAT`, copied whole so their CRCs stay valid;
///   a fixed-size chunk of the wrong size is dropped. Dropped: text
///   (`tEXt`, `zTXt`, `iTXt`, where XMP travels), `eXIf`, `tIME`, `iCCP`,
///   `pHYs`, `bKGD`, every unknown chunk, and anything after `IEND`.
/// - WebP keeps `VP8 `, `VP8L`, `ALPH`, `ANIM` and `ANMF` (an animation's
///   frames, each with only its image subchunks), and `VP8X` rewritten with
///   only its alpha and animation flags. Dropped: `EXIF`, `XMP `, `ICCP`,
///   every unknown chunk, and anything after the RIFF body; the RIFF size
///   is rewritten.
/// - HEIC and PDF: `None`. HEIC keeps Exif and XMP as items located by
///   byte offsets in `iloc`; removing them means rewriting those offsets
///   across the file, and a mistake leaves the coordinates in. A PDF can
///   hold location in its metadata, in embedded images, in incremental
///   updates and in compressed object streams. Neither is worth the risk:
///   the group shares such files as a screenshot or a JPEG export instead.
///
/// Colour profiles (JPEG APP2 `ICC_PROFILE`, PNG `iCCP`, WebP `ICCP`) are
/// dropped too. A profile is a container of its own, up to megabytes, with
/// free-text tags (description, copyright, device maker and model) and a
/// creation date; the picture draws without it (read as sRGB), and a
/// wide-gamut phone photo of a protocol only looks a little duller.
///
/// The image data itself is copied byte for byte, never decoded or
/// re-encoded, so the picture shown is the picture taken. A file whose
/// structure breaks off in the middle (a malformed or cut segment or
/// chunk, a table shorter than its own fields say) is `None`: what follows
/// the break cannot be inspected, so it cannot be called clean.
pub fn strip_location(media: MediaType, bytes: &[u8]) -> Option<Vec<u8>> {
    match media {
        MediaType::Jpeg => strip_jpeg(bytes),
        MediaType::Png => strip_png(bytes),
        MediaType::Webp => strip_webp(bytes),
        MediaType::Heic | MediaType::Pdf => None,
    }
}

// --- JPEG ---------------------------------------------------------------

const SOI: u8 = 0xD8;
const EOI: u8 = 0xD9;
const SOS: u8 = 0xDA;
const DHT: u8 = 0xC4;
const DAC: u8 = 0xCC;
const DQT: u8 = 0xDB;
const DRI: u8 = 0xDD;
const APP0: u8 = 0xE0;
const APP1: u8 = 0xE1;
const APP14: u8 = 0xEE;

/// One JPEG marker segment: `start..end` of the file, from its first `FF`
/// (fill bytes included) to the end of its payload; for a scan (SOS), to
/// the end of the entropy-coded data after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Segment {
    marker: u8,
    start: usize,
    end: usize,
    /// The payload after the two length bytes (empty for markers without one).
    payload_start: usize,
    payload_end: usize,
}

/// How a walk through a JPEG ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum JpegEnd {
    /// At the end-of-image marker, which ends at this offset.
    Eoi(usize),
    /// The bytes ran out at a segment boundary or inside scan data.
    RanOut,
    /// Something that is not a JPEG segment, or a segment longer than the
    /// bytes left.
    Malformed,
}

/// Walk a JPEG's segments from SOI. Never reads past `bytes` or panics.
fn jpeg_segments(bytes: &[u8]) -> (Vec<Segment>, JpegEnd) {
    let mut segments = Vec::new();
    if !bytes.starts_with(&[0xFF, SOI]) {
        return (segments, JpegEnd::Malformed);
    }
    segments.push(Segment {
        marker: SOI,
        start: 0,
        end: 2,
        payload_start: 2,
        payload_end: 2,
    });
    let mut pos = 2;
    loop {
        if pos >= bytes.len() {
            return (segments, JpegEnd::RanOut);
        }
        let start = pos;
        if bytes[pos] != 0xFF {
            return (segments, JpegEnd::Malformed);
        }
        // Any number of FF fill bytes may precede a marker.
        while pos < bytes.len() && bytes[pos] == 0xFF {
            pos += 1;
        }
        let Some(&marker) = bytes.get(pos) else {
            return (segments, JpegEnd::RanOut);
        };
        pos += 1;
        match marker {
            // A stuffed zero or a second SOI outside scan data.
            0x00 | SOI => return (segments, JpegEnd::Malformed),
            EOI => {
                segments.push(Segment {
                    marker,
                    start,
                    end: pos,
                    payload_start: pos,
                    payload_end: pos,
                });
                return (segments, JpegEnd::Eoi(pos));
            }
            // Markers without a length: TEM and restart markers.
            0x01 | 0xD0..=0xD7 => segments.push(Segment {
                marker,
                start,
                end: pos,
                payload_start: pos,
                payload_end: pos,
            }),
            _ => {
                let Some(len) = bytes.get(pos..pos + 2) else {
                    return (segments, JpegEnd::Malformed);
                };
                let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
                let payload_start = pos + 2;
                let end = pos + len;
                if len < 2 || end > bytes.len() {
                    return (segments, JpegEnd::Malformed);
                }
                pos = end;
                if marker == SOS {
                    pos = scan_end(bytes, pos);
                }
                segments.push(Segment {
                    marker,
                    start,
                    end: pos,
                    payload_start,
                    payload_end: end,
                });
            }
        }
    }
}

/// Where the entropy-coded data that starts at `pos` ends: at the first
/// marker that is not a stuffed zero (`FF 00`) or a restart marker, or at
/// the end of the bytes.
fn scan_end(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(offset) = bytes[pos..].iter().position(|b| *b == 0xFF) {
        let ff = pos + offset;
        let mut next = ff + 1;
        while next < bytes.len() && bytes[next] == 0xFF {
            next += 1;
        }
        match bytes.get(next) {
            None => return bytes.len(),
            Some(0x00 | 0xD0..=0xD7) => pos = next + 1,
            Some(_) => return ff,
        }
    }
    bytes.len()
}

fn is_sof(marker: u8) -> bool {
    matches!(marker, 0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF)
}

/// A frame header (SOF) and then a scan header (SOS), each of the length
/// its component count implies, reached through well-formed segments.
fn jpeg_is_plausible(bytes: &[u8]) -> bool {
    let (segments, _) = jpeg_segments(bytes);
    let mut seen_frame = false;
    for s in &segments {
        let payload = &bytes[s.payload_start..s.payload_end];
        if is_sof(s.marker) {
            // P, Y, X, Nf, then 3 bytes per component.
            let ok = payload.len() >= 6 && payload.len() == 6 + 3 * usize::from(payload[5]);
            if !ok || payload[5] == 0 {
                return false;
            }
            seen_frame = true;
        } else if s.marker == SOS {
            // Ns, 2 bytes per component, Ss, Se, Ah/Al.
            let ok = !payload.is_empty()
                && payload[0] != 0
                && payload.len() == 4 + 2 * usize::from(payload[0]);
            return seen_frame && ok;
        }
    }
    false
}

/// Of a drawing segment's payload, the part a decoder reads: as long as
/// the segment's own fields say (a frame or scan header by its component
/// count, tables one after another while a whole one fits). `None` when
/// not even one whole header or table is there.
fn jpeg_drawing_header(marker: u8, payload: &[u8]) -> Option<&[u8]> {
    let len = match marker {
        // P, Y, X, Nf, then 3 bytes per component.
        m if is_sof(m) => {
            let nf = usize::from(*payload.get(5)?);
            (nf > 0).then_some(6 + 3 * nf)?
        }
        // Ns (1–4), 2 bytes per component, Ss, Se, Ah/Al.
        SOS => {
            let ns = usize::from(*payload.first()?);
            (1..=4).contains(&ns).then_some(4 + 2 * ns)?
        }
        // Pq/Tq, then 64 entries of 1 byte (Pq = 0) or 2 bytes (Pq = 1).
        DQT => tables_len(payload, |t| match t.first()? >> 4 {
            0 => Some(65),
            1 => Some(129),
            _ => None,
        }),
        // Tc/Th, 16 code counts, then as many code values as they add up to.
        DHT => tables_len(payload, |t| {
            let counts = t.get(1..17)?;
            Some(17 + counts.iter().map(|&c| usize::from(c)).sum::<usize>())
        }),
        // Pairs of Tc/Tb and Cs.
        DAC => payload.len() / 2 * 2,
        // Ri.
        DRI => 2,
        _ => return None,
    };
    (len > 0).then(|| payload.get(..len)).flatten()
}

/// How many bytes of `payload` are whole tables, each as long as
/// `table_len` says from its first bytes.
fn tables_len(payload: &[u8], table_len: impl Fn(&[u8]) -> Option<usize>) -> usize {
    let mut pos = 0;
    while let Some(n) = payload.get(pos..).and_then(&table_len) {
        if pos + n > payload.len() {
            break;
        }
        pos += n;
    }
    pos
}

/// Whether a decoder needs segments with this marker to draw the image.
fn jpeg_draws(marker: u8) -> bool {
    is_sof(marker) || matches!(marker, SOS | DHT | DAC | DQT | DRI)
}

/// What a JFIF APP0 must say, written afresh: its version and pixel
/// density, and no thumbnail (a thumbnail is a second picture, and can show
/// what the photo was cropped from).
fn jfif_header(payload: &[u8]) -> Option<Vec<u8>> {
    let fields = payload.strip_prefix(b"JFIF\0")?.get(..7)?;
    Some([b"JFIF\0".as_slice(), fields, &[0, 0]].concat())
}

/// An Adobe APP14 written afresh with only its colour transform (0: none
/// or CMYK, 1: YCbCr, 2: YCCK), which decoders read to get the colours of
/// CMYK and YCCK images right; version 100 and no flags.
fn adobe_header(payload: &[u8]) -> Option<Vec<u8>> {
    let transform = *payload.strip_prefix(b"Adobe")?.get(6)?;
    Some([b"Adobe".as_slice(), &[0, 100, 0, 0, 0, 0, transform]].concat())
}

/// A marker segment with this payload. Callers pass payloads no longer
/// than the segment they came from, or a few bytes they build.
fn put_jpeg_segment(out: &mut Vec<u8>, marker: u8, payload: &[u8]) {
    out.extend_from_slice(&[0xFF, marker]);
    // At most 65,533 bytes, as in the segment it was cut from.
    out.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(payload);
}

fn strip_jpeg(bytes: &[u8]) -> Option<Vec<u8>> {
    let (segments, end) = jpeg_segments(bytes);
    if end == JpegEnd::Malformed {
        return None;
    }
    let payload = |s: &Segment| &bytes[s.payload_start..s.payload_end];
    let first = |marker: u8, read: fn(&[u8]) -> Option<Vec<u8>>| {
        segments
            .iter()
            .filter(|s| s.marker == marker)
            .find_map(|s| read(payload(s)))
    };
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(&[0xFF, SOI]);
    if let Some(jfif) = first(APP0, jfif_header) {
        put_jpeg_segment(&mut out, APP0, &jfif);
    }
    // A portrait photo is stored sideways with an Exif tag that says how to
    // turn it; without the tag a protocol would be published on its side.
    // So the orientation, and nothing else, survives in a fresh Exif.
    if let Some(o) = segments
        .iter()
        .filter(|s| s.marker == APP1)
        .find_map(|s| exif_orientation(payload(s)))
    {
        out.extend_from_slice(&orientation_only_exif(o));
    }
    if let Some(adobe) = first(APP14, adobe_header) {
        put_jpeg_segment(&mut out, APP14, &adobe);
    }
    for s in &segments {
        match s.marker {
            // Restart markers between segments carry nothing but themselves.
            EOI | 0xD0..=0xD7 => out.extend_from_slice(&[0xFF, s.marker]),
            m if jpeg_draws(m) => {
                put_jpeg_segment(&mut out, m, jpeg_drawing_header(m, payload(s))?);
                // A scan's entropy-coded data (empty for the other segments).
                out.extend_from_slice(&bytes[s.payload_end..s.end]);
            }
            _ => {}
        }
    }
    Some(out)
}

/// The Exif orientation tag (0x0112) of IFD0, when it says to turn or flip
/// the image (2..=8; 1 is "as stored").
fn exif_orientation(payload: &[u8]) -> Option<u16> {
    let tiff = payload.strip_prefix(b"Exif\0\0")?;
    let big = match tiff.get(0..2)? {
        b"MM" => true,
        b"II" => false,
        _ => return None,
    };
    let u16_at = |at: usize| -> Option<u16> {
        let b: [u8; 2] = tiff.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if big {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    };
    let u32_at = |at: usize| -> Option<u32> {
        let b: [u8; 4] = tiff.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if big {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    };
    if u16_at(2)? != 42 {
        return None;
    }
    let ifd = usize::try_from(u32_at(4)?).ok()?;
    let count = usize::from(u16_at(ifd)?);
    (0..count).find_map(|i| {
        let entry = ifd.checked_add(2)?.checked_add(i.checked_mul(12)?)?;
        let (tag, kind, n) = (u16_at(entry)?, u16_at(entry + 2)?, u32_at(entry + 4)?);
        let value = u16_at(entry + 8)?;
        (tag == 0x0112 && kind == 3 && n == 1 && (2..=8).contains(&value)).then_some(value)
    })
}

/// An APP1 segment holding an Exif block with one tag: the orientation.
fn orientation_only_exif(orientation: u16) -> Vec<u8> {
    let mut payload = Vec::with_capacity(32);
    payload.extend_from_slice(b"Exif\0\0");
    // Big-endian TIFF header, IFD0 at offset 8.
    payload.extend_from_slice(b"MM\0\x2a\0\0\0\x08");
    // One entry: tag 0x0112, type SHORT, count 1, the value left-justified.
    payload.extend_from_slice(&1u16.to_be_bytes());
    payload.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0, 0, 0, 1]);
    payload.extend_from_slice(&orientation.to_be_bytes());
    payload.extend_from_slice(&[0, 0]);
    // No next IFD.
    payload.extend_from_slice(&[0, 0, 0, 0]);
    let mut segment = Vec::with_capacity(36);
    put_jpeg_segment(&mut segment, APP1, &payload);
    segment
}

// --- PNG ----------------------------------------------------------------

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// One PNG chunk: `start..end` covers length, type, data and CRC.
struct Chunk {
    kind: [u8; 4],
    start: usize,
    end: usize,
}

/// The chunks after the signature up to and including `IEND`; `None` if a
/// chunk is malformed or cut off.
fn png_chunks(bytes: &[u8]) -> Option<Vec<Chunk>> {
    let mut pos = PNG_SIGNATURE.len();
    let mut chunks = Vec::new();
    while pos < bytes.len() {
        let head = bytes.get(pos..pos + 8)?;
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let kind = [head[4], head[5], head[6], head[7]];
        // The spec caps a chunk at 2^31 - 1 bytes; a type is four letters.
        if len > 0x7FFF_FFFF || !kind.iter().all(u8::is_ascii_alphabetic) {
            return None;
        }
        let end = pos
            .checked_add(12)?
            .checked_add(usize::try_from(len).ok()?)?;
        if end > bytes.len() {
            return None;
        }
        chunks.push(Chunk {
            kind,
            start: pos,
            end,
        });
        pos = end;
        if &kind == b"IEND" {
            break;
        }
    }
    Some(chunks)
}

fn png_is_plausible(bytes: &[u8]) -> bool {
    // Signature, then IHDR: length 13, the type, 13 bytes, a CRC over type
    // and data.
    let Some(ihdr) = bytes.get(8..8 + 25) else {
        return false;
    };
    ihdr[0..8] == *b"\0\0\0\x0dIHDR"
        && crc32(&ihdr[4..21]).to_be_bytes() == ihdr[21..25]
        && ihdr[8..12] != [0; 4]
        && ihdr[12..16] != [0; 4]
}

/// What the copy outside the group does with a PNG chunk.
enum PngChunkUse {
    Keep,
    Drop,
    /// A critical chunk of a size no decoder takes: the file is not what it
    /// seems.
    Refuse,
}

/// Whether a chunk of this type and data length is needed to draw the
/// image.
fn png_chunk_use(kind: &[u8; 4], len: usize) -> PngChunkUse {
    use PngChunkUse::{Drop, Keep, Refuse};
    let fixed = |size: usize| if len == size { Keep } else { Drop };
    match kind {
        b"IHDR" if len == 13 => Keep,
        b"PLTE" if len.is_multiple_of(3) && (3..=768).contains(&len) => Keep,
        b"IHDR" | b"PLTE" => Refuse,
        b"IDAT" | b"fdAT" => Keep,
        // One alpha per palette entry, or one grey or RGB sample.
        b"tRNS" if len <= 256 => Keep,
        b"gAMA" => fixed(4),
        b"cHRM" => fixed(32),
        b"sRGB" => fixed(1),
        b"cICP" => fixed(4),
        b"sBIT" if (1..=4).contains(&len) => Keep,
        b"acTL" => fixed(8),
        b"fcTL" => fixed(26),
        _ => Drop,
    }
}

/// The `IEND` chunk as every encoder writes it: no data, its CRC.
const PNG_IEND: [u8; 12] = *b"\0\0\0\0IEND\xAE\x42\x60\x82";

fn strip_png(bytes: &[u8]) -> Option<Vec<u8>> {
    if !bytes.starts_with(PNG_SIGNATURE) {
        return None;
    }
    let chunks = png_chunks(bytes)?;
    let mut out = Vec::with_capacity(bytes.len());
    out.extend_from_slice(PNG_SIGNATURE);
    for c in &chunks {
        if &c.kind == b"IEND" {
            // Written afresh: an IEND's data would be read by nobody.
            out.extend_from_slice(&PNG_IEND);
            continue;
        }
        match png_chunk_use(&c.kind, c.end - c.start - 12) {
            PngChunkUse::Keep => out.extend_from_slice(&bytes[c.start..c.end]),
            PngChunkUse::Drop => {}
            PngChunkUse::Refuse => return None,
        }
    }
    Some(out)
}

/// CRC-32 as PNG computes it (ISO 3309, reflected, polynomial 0xEDB88320),
/// for the one header chunk we check.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
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

// --- WebP ---------------------------------------------------------------

/// The VP8X flag bits the copy keeps: "has alpha" and "is animated". The
/// others say an ICC profile, Exif or XMP follows, and none does.
const VP8X_KEPT_FLAGS: u8 = 0x10 | 0x02;

fn le32(b: &[u8]) -> Option<usize> {
    let b: [u8; 4] = b.get(0..4)?.try_into().ok()?;
    usize::try_from(u32::from_le_bytes(b)).ok()
}

fn webp_is_plausible(bytes: &[u8]) -> bool {
    let (Some(riff_size), Some(kind), Some(first_size)) = (
        bytes.get(4..8).and_then(le32),
        bytes.get(12..16),
        bytes.get(16..20).and_then(le32),
    ) else {
        return false;
    };
    matches!(kind, b"VP8 " | b"VP8L" | b"VP8X")
        && riff_size >= 12
        && first_size.checked_add(12).is_some_and(|n| n <= riff_size)
}

/// One RIFF chunk: its FourCC, its data, and the whole chunk (header and
/// padding byte included).
struct RiffChunk {
    kind: [u8; 4],
    data: std::ops::Range<usize>,
    whole: std::ops::Range<usize>,
}

/// The chunks that fill `bytes[start..end]` exactly; `None` if one is cut
/// off or runs past `end`.
fn riff_chunks(bytes: &[u8], start: usize, end: usize) -> Option<Vec<RiffChunk>> {
    let mut chunks = Vec::new();
    let mut pos = start;
    while pos < end {
        let kind: [u8; 4] = bytes.get(pos..pos + 4)?.try_into().ok()?;
        let size = le32(bytes.get(pos + 4..pos + 8)?)?;
        let data_end = pos.checked_add(8)?.checked_add(size)?;
        let chunk_end = data_end.checked_add(size & 1)?;
        if chunk_end > end {
            return None;
        }
        chunks.push(RiffChunk {
            kind,
            data: pos + 8..data_end,
            whole: pos..chunk_end,
        });
        pos = chunk_end;
    }
    Some(chunks)
}

fn put_riff_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) -> Option<()> {
    out.extend_from_slice(kind);
    out.extend_from_slice(&u32::try_from(data.len()).ok()?.to_le_bytes());
    out.extend_from_slice(data);
    if data.len() % 2 == 1 {
        out.push(0);
    }
    Some(())
}

/// Whether a chunk holds image data: a frame's bitstream or its alpha.
fn webp_is_image(kind: &[u8; 4]) -> bool {
    matches!(kind, b"VP8 " | b"VP8L" | b"ALPH")
}

fn strip_webp(bytes: &[u8]) -> Option<Vec<u8>> {
    if !bytes.starts_with(b"RIFF") || bytes.get(8..12) != Some(b"WEBP") {
        return None;
    }
    let riff_end = le32(bytes.get(4..8)?)?.checked_add(8)?;
    if riff_end > bytes.len() {
        return None;
    }
    let mut body = Vec::with_capacity(riff_end);
    body.extend_from_slice(b"WEBP");
    for c in riff_chunks(bytes, 12, riff_end)? {
        let data = &bytes[c.data.clone()];
        match &c.kind {
            k if webp_is_image(k) => body.extend_from_slice(&bytes[c.whole]),
            // Flags, 3 reserved bytes, canvas width and height (3 each).
            b"VP8X" => {
                let mut header = data.get(..10)?.to_vec();
                header[0] &= VP8X_KEPT_FLAGS;
                header[1..4].fill(0);
                put_riff_chunk(&mut body, b"VP8X", &header)?;
            }
            // Background colour and loop count.
            b"ANIM" => put_riff_chunk(&mut body, b"ANIM", data.get(..6)?)?,
            // A frame: position, size, duration and flags, then its
            // subchunks, of which only the image ones are kept.
            b"ANMF" => {
                let mut frame = data.get(..16)?.to_vec();
                for sub in riff_chunks(bytes, c.data.start + 16, c.data.end)? {
                    if webp_is_image(&sub.kind) {
                        frame.extend_from_slice(&bytes[sub.whole]);
                    }
                }
                put_riff_chunk(&mut body, b"ANMF", &frame)?;
            }
            _ => {}
        }
    }
    let size = u32::try_from(body.len()).ok()?;
    let mut out = Vec::with_capacity(body.len() + 8);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&size.to_le_bytes());
    out.extend_from_slice(&body);
    Some(out)
}

// --- HEIC ---------------------------------------------------------------

/// Brands of HEIF files whose images are HEVC-coded.
const HEIC_BRANDS: [&[u8; 4]; 8] = [
    b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs",
];

/// An `ftyp` box that fits in the file and names a HEIC brand, as major
/// brand or among the compatible ones (some phones write `mif1` first).
fn heic_is_plausible(bytes: &[u8]) -> bool {
    let Some(size) = bytes.get(0..4) else {
        return false;
    };
    let size = u32::from_be_bytes([size[0], size[1], size[2], size[3]]) as usize;
    if !(16..=4096).contains(&size) || size > bytes.len() {
        return false;
    }
    let major = &bytes[8..12];
    let compatible = bytes[16..size].chunks_exact(4);
    if !compatible.remainder().is_empty() {
        return false;
    }
    std::iter::once(major)
        .chain(compatible)
        .any(|brand| HEIC_BRANDS.iter().any(|h| h.as_slice() == brand))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// A 1×1 grey baseline JPEG: SOI, APP0 (JFIF), DQT, SOF0, two DHT
    /// tables with one code each, SOS, one byte of scan data, EOI. Checked
    /// to decode (to one pixel of value 128) with zune-jpeg.
    const MIN_JPEG: [u8; 159] = [
        0xFF, 0xD8, // SOI
        0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00,
        0x01, 0x00, 0x00, // APP0 JFIF
        0xFF, 0xDB, 0x00, 0x43, 0x00, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, // DQT
        0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11,
        0x00, // SOF0 1×1
        0xFF, 0xC4, 0x00, 0x14, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0x00, // DHT DC
        0xFF, 0xC4, 0x00, 0x14, 0x10, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0x00, // DHT AC
        0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, // SOS
        0x3F, // scan data: DC 0, end of block
        0xFF, 0xD9, // EOI
    ];
    /// Where MIN_JPEG's APP0 ends and its tables begin.
    const AFTER_APP0: usize = 20;
    /// Where its scan header begins.
    const SOS_AT: usize = 146;

    /// A 1×1 grey PNG: signature, IHDR, IDAT, IEND (decodes with the png crate).
    const MIN_PNG: [u8; 67] = [
        0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, // signature
        0x00, 0x00, 0x00, 0x0D, b'I', b'H', b'D', b'R', 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x01, 0x08, 0x00, 0x00, 0x00, 0x00, 0x3A, 0x7E, 0x9B, 0x55, // IHDR
        0x00, 0x00, 0x00, 0x0A, b'I', b'D', b'A', b'T', 0x78, 0x9C, 0x63, 0x68, 0x00, 0x00, 0x00,
        0x82, 0x00, 0x81, 0x77, 0xCD, 0x72, 0xB6, // IDAT
        0x00, 0x00, 0x00, 0x00, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82, // IEND
    ];
    /// Where MIN_PNG's IHDR ends.
    const AFTER_IHDR: usize = 33;

    /// A 1×1 lossless WebP (simple format: one VP8L chunk).
    const MIN_WEBP: [u8; 34] = [
        b'R', b'I', b'F', b'F', 0x1A, 0x00, 0x00, 0x00, b'W', b'E', b'B', b'P', b'V', b'P', b'8',
        b'L', 0x0D, 0x00, 0x00, 0x00, 0x2F, 0x00, 0x00, 0x00, 0x10, 0x07, 0x10, 0x11, 0x11, 0x88,
        0x88, 0xFE, 0x07, 0x00,
    ];

    /// A big-endian TIFF block as Exif holds it: IFD0 with a pointer to a
    /// GPS IFD holding latitude 43°14'0" N.
    const GPS_TIFF: [u8; 80] = [
        0x4D, 0x4D, 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08, 0x00, 0x01, 0x88, 0x25, 0x00, 0x04, 0x00,
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x1A, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x01,
        0x00, 0x02, 0x00, 0x00, 0x00, 0x02, 0x4E, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x05, 0x00,
        0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x38, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x2B,
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x0E, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01,
    ];

    fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
        let mut s = vec![0xFF, marker];
        s.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
        s.extend_from_slice(payload);
        s
    }

    fn exif_app1() -> Vec<u8> {
        segment(APP1, &[b"Exif\0\0".as_slice(), &GPS_TIFF].concat())
    }

    fn xmp_app1() -> Vec<u8> {
        segment(
            APP1,
            b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><exif:GPSLatitude>43,14N</exif:GPSLatitude></x:xmpmeta>",
        )
    }

    /// An Exif block with IFD0 holding only an orientation tag, little-endian.
    fn orientation_app1(orientation: u16) -> Vec<u8> {
        let mut tiff = b"II\x2a\0\x08\0\0\0".to_vec();
        tiff.extend_from_slice(&1u16.to_le_bytes());
        tiff.extend_from_slice(&[0x12, 0x01, 0x03, 0x00, 1, 0, 0, 0]);
        tiff.extend_from_slice(&orientation.to_le_bytes());
        tiff.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
        segment(APP1, &[b"Exif\0\0".as_slice(), &tiff].concat())
    }

    /// MIN_JPEG with `extra` inserted after APP0.
    fn jpeg_with(extra: &[Vec<u8>]) -> Vec<u8> {
        [
            &MIN_JPEG[..AFTER_APP0],
            &extra.concat(),
            &MIN_JPEG[AFTER_APP0..],
        ]
        .concat()
    }

    fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        c.extend_from_slice(&crc32(&[kind.as_slice(), data].concat()).to_be_bytes());
        c
    }

    fn png_with(extra: &[Vec<u8>]) -> Vec<u8> {
        [
            &MIN_PNG[..AFTER_IHDR],
            &extra.concat(),
            &MIN_PNG[AFTER_IHDR..],
        ]
        .concat()
    }

    fn webp_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut c = kind.to_vec();
        c.extend_from_slice(&u32::try_from(data.len()).unwrap().to_le_bytes());
        c.extend_from_slice(data);
        if data.len() % 2 == 1 {
            c.push(0);
        }
        c
    }

    fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
        let body = [b"WEBP".as_slice(), &chunks.concat()].concat();
        let mut out = b"RIFF".to_vec();
        out.extend_from_slice(&u32::try_from(body.len()).unwrap().to_le_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// MIN_WEBP's VP8L chunk, padding included.
    fn vp8l() -> Vec<u8> {
        MIN_WEBP[12..].to_vec()
    }

    fn vp8x(flags: u8) -> Vec<u8> {
        webp_chunk(b"VP8X", &[flags, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    fn ftyp(major: &[u8; 4], compatible: &[&[u8; 4]]) -> Vec<u8> {
        let size = u32::try_from(16 + 4 * compatible.len()).unwrap();
        let mut b = size.to_be_bytes().to_vec();
        b.extend_from_slice(b"ftyp");
        b.extend_from_slice(major);
        b.extend_from_slice(&[0, 0, 0, 0]);
        for c in compatible {
            b.extend_from_slice(c.as_slice());
        }
        b.extend_from_slice(b"\0\0\0\x08mdat");
        b
    }

    fn check_sniff(bytes: &[u8], expected: Option<MediaType>) {
        assert_eq!(
            sniff(bytes),
            expected,
            "sniffing {:02X?}",
            &bytes[..bytes.len().min(24)]
        );
    }

    #[test]
    fn sniff_knows_our_kinds_by_content() {
        check_sniff(&MIN_JPEG, Some(MediaType::Jpeg));
        check_sniff(&jpeg_with(&[exif_app1()]), Some(MediaType::Jpeg));
        check_sniff(&MIN_PNG, Some(MediaType::Png));
        check_sniff(&MIN_WEBP, Some(MediaType::Webp));
        check_sniff(&riff(&[vp8x(0x0C), vp8l()]), Some(MediaType::Webp));
        check_sniff(&ftyp(b"heic", &[b"mif1", b"heic"]), Some(MediaType::Heic));
        check_sniff(&ftyp(b"mif1", &[b"mif1", b"heic"]), Some(MediaType::Heic));
        check_sniff(
            b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj",
            Some(MediaType::Pdf),
        );
    }

    #[test]
    fn sniff_refuses_lookalikes() {
        check_sniff(b"", None);
        check_sniff(b"hello, this is text\n", None);
        // Only the JPEG magic, then garbage.
        check_sniff(b"\xFF\xD8\xFF\xE0 this is not a JPEG at all", None);
        check_sniff(&[0xFF, 0xD8, 0xFF], None);
        // Segments without a frame header before the scan.
        let no_frame = [&MIN_JPEG[..AFTER_APP0], &MIN_JPEG[SOS_AT..]].concat();
        check_sniff(&no_frame, None);
        // A segment whose length runs past the end.
        check_sniff(&MIN_JPEG[..AFTER_APP0 + 10], None);
        // A PNG whose IHDR CRC is wrong.
        let mut bad_png = MIN_PNG;
        bad_png[30] ^= 1;
        check_sniff(&bad_png, None);
        check_sniff(&MIN_PNG[..20], None);
        check_sniff(b"RIFF\x04\0\0\0WEBP", None);
        check_sniff(b"RIFF\x1a\0\0\0WEBPJUNK\x0d\0\0\0", None);
        // AVIF is HEIF too, but not HEVC; we do not take it.
        check_sniff(&ftyp(b"avif", &[b"mif1", b"avif"]), None);
        check_sniff(b"\0\0\0\x18ftypheic", None);
        check_sniff(b"%PDF-x", None);
        check_sniff(b"GIF89a\x01\0\x01\0", None);
    }

    #[test]
    fn a_jpeg_cut_after_its_scan_header_is_still_a_jpeg() {
        // "Parses as segments up to the scan": phones that die mid-upload
        // are caught by the hash, not by the sniffer.
        check_sniff(&MIN_JPEG[..SOS_AT + 10], Some(MediaType::Jpeg));
        check_sniff(&MIN_JPEG[..MIN_JPEG.len() - 2], Some(MediaType::Jpeg));
    }

    #[test]
    fn media_types_round_trip_and_read_client_claims() {
        for m in MediaType::ALL {
            assert_eq!(MediaType::parse(m.mime()).unwrap(), m);
            assert_eq!(MediaType::from_content_type(m.mime()), Some(m));
        }
        assert!(MediaType::parse("image/gif").is_err());
        assert_eq!(
            MediaType::from_content_type("IMAGE/JPG; charset=binary"),
            Some(MediaType::Jpeg)
        );
        assert_eq!(
            MediaType::from_content_type("image/heif"),
            Some(MediaType::Heic)
        );
        assert_eq!(
            MediaType::from_content_type("application/octet-stream"),
            None
        );
        assert_eq!(MediaType::from_content_type(""), None);
    }

    #[test]
    fn blob_hashes_are_lower_case_sha256() {
        let h = BlobHash::of(b"abc");
        assert_eq!(
            h.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(BlobHash::parse(&h.as_str().to_uppercase()).unwrap(), h);
        assert!(BlobHash::parse("ba7816bf").is_err());
        assert!(BlobHash::parse(&"g".repeat(64)).is_err());
        assert!(BlobHash::parse("../../../../etc/passwd").is_err());
    }

    #[test]
    fn jpeg_loses_exif_and_xmp_and_keeps_the_rest() {
        let with = jpeg_with(&[exif_app1(), xmp_app1()]);
        assert_eq!(strip_location(MediaType::Jpeg, &with).unwrap(), MIN_JPEG);
        // Already clean: unchanged.
        assert_eq!(
            strip_location(MediaType::Jpeg, &MIN_JPEG).unwrap(),
            MIN_JPEG
        );
    }

    #[test]
    fn jpeg_loses_iptc_mpf_icc_comments_and_trailing_images() {
        let with = jpeg_with(&[
            segment(0xE2, b"ICC_PROFILE\0\x01\x01not really a profile"),
            segment(0xED, b"Photoshop 3.0\0 8BIM city=Almaty"),
            segment(0xE2, b"MPF\0MM\0*"),
            segment(0xFE, b"taken on a phone"),
        ]);
        let trailer = [MIN_JPEG.as_slice(), &exif_app1()].concat();
        let with = [with, trailer].concat();
        assert_eq!(strip_location(MediaType::Jpeg, &with).unwrap(), MIN_JPEG);
    }

    /// The three cases reported in issue 8: each came back byte-identical
    /// from the old list of segments to remove.
    #[test]
    fn jpeg_loses_c2pa_comments_and_app4_with_coordinates() {
        // A C2PA manifest: JUMBF boxes in APP11 ("JP", instance, sequence),
        // with an Exif assertion holding the position.
        let mut jumbf = b"JP\0\x01\0\0\0\x01".to_vec();
        jumbf.extend_from_slice(
            b"\0\0\0\x60jumb\0\0\0\x1ejumdc2pa\0\x11\0\x10\x00\xaa\x00\x38\x9b\x71\x03c2pa\0",
        );
        jumbf.extend_from_slice(b"{\"label\":\"stds.exif\",\"data\":{\"exif:GPSLatitude\":\"43,14.3N\",\"exif:GPSLongitude\":\"76,53.5E\"}}");
        let cases = [
            (
                "APP11 JUMBF",
                segment(0xEB, &jumbf),
                b"GPSLatitude".as_slice(),
            ),
            (
                "COM",
                segment(0xFE, b"43.2389 N, 76.8897 E"),
                b"76.8897".as_slice(),
            ),
            (
                "APP4",
                segment(0xE4, b"GEO\0lat=43.238949;lon=76.889709"),
                b"76.889709".as_slice(),
            ),
        ];
        for (name, seg, place) in &cases {
            let with = jpeg_with(std::slice::from_ref(seg));
            assert_eq!(sniff(&with), Some(MediaType::Jpeg), "{name}");
            let stripped = strip_location(MediaType::Jpeg, &with).unwrap();
            assert!(!contains(&stripped, place), "{name} kept the place");
            assert_eq!(stripped, MIN_JPEG, "{name}");
        }
        // All three together, with an orientation to keep.
        let all: Vec<Vec<u8>> = [orientation_app1(8)]
            .into_iter()
            .chain(cases.iter().map(|(_, s, _)| s.clone()))
            .collect();
        let stripped = strip_location(MediaType::Jpeg, &jpeg_with(&all)).unwrap();
        assert_eq!(stripped, jpeg_with(&[orientation_only_exif(8)]));
    }

    #[test]
    fn jpeg_jfif_loses_its_thumbnail_and_adobe_keeps_only_its_transform() {
        // A JFIF header with a 2×1 RGB thumbnail, then a second APP0 (JFXX,
        // another thumbnail).
        let jfif = segment(APP0, b"JFIF\0\x01\x02\x01\x00\x48\x00\x48\x02\x01THUMBS");
        let jfxx = segment(APP0, b"JFXX\0\x10\xFF\xD8\xFF\xD9");
        let adobe = segment(APP14, b"Adobe\0\x65\x80\0\0\0\x02 and a trailer");
        let image = [
            &MIN_JPEG[..2],
            &jfif,
            &jfxx,
            &adobe,
            &MIN_JPEG[AFTER_APP0..],
        ]
        .concat();
        let expected = [
            &MIN_JPEG[..2],
            &segment(APP0, b"JFIF\0\x01\x02\x01\x00\x48\x00\x48\0\0"),
            &segment(APP14, b"Adobe\0\x64\0\0\0\0\x02"),
            &MIN_JPEG[AFTER_APP0..],
        ]
        .concat();
        let stripped = strip_location(MediaType::Jpeg, &image).unwrap();
        assert_eq!(stripped, expected);
        assert_eq!(
            strip_location(MediaType::Jpeg, &stripped).unwrap(),
            stripped
        );
        // Without a JFIF header none is made up.
        let bare = [&MIN_JPEG[..2], &MIN_JPEG[AFTER_APP0..]].concat();
        assert_eq!(strip_location(MediaType::Jpeg, &bare).unwrap(), bare);
    }

    #[test]
    fn jpeg_tables_are_cut_to_what_their_fields_say() {
        let dqt_at = AFTER_APP0;
        let sof_at = dqt_at + 69;
        let dqt = &MIN_JPEG[dqt_at + 4..sof_at];
        let sof = &MIN_JPEG[sof_at + 4..sof_at + 4 + 9];
        let sos = &MIN_JPEG[SOS_AT + 4..SOS_AT + 10];
        let hidden = b"GPS 43.2389 76.8897";
        let padded = |p: &[u8]| [p, hidden.as_slice()].concat();
        let image = [
            &MIN_JPEG[..dqt_at],
            &segment(DQT, &padded(dqt)),
            &segment(0xC0, &padded(sof)),
            &MIN_JPEG[sof_at + 13..SOS_AT],
            &segment(SOS, &padded(sos)),
            &MIN_JPEG[SOS_AT + 10..],
        ]
        .concat();
        let stripped = strip_location(MediaType::Jpeg, &image).unwrap();
        assert_eq!(stripped, MIN_JPEG);
        // A table shorter than its own fields say: nothing to cut it to.
        let short = [
            &MIN_JPEG[..dqt_at],
            &segment(DQT, &dqt[..40]),
            &MIN_JPEG[sof_at..],
        ]
        .concat();
        assert_eq!(strip_location(MediaType::Jpeg, &short), None);
    }

    #[test]
    fn jpeg_keeps_its_orientation_and_nothing_else_of_exif() {
        let sideways = jpeg_with(&[orientation_app1(6), exif_app1()]);
        let stripped = strip_location(MediaType::Jpeg, &sideways).unwrap();
        let kept = orientation_only_exif(6);
        assert_eq!(stripped, jpeg_with(std::slice::from_ref(&kept)));
        assert_eq!(exif_orientation(&kept[4..]), Some(6));
        assert!(!stripped.windows(4).any(|w| w == [0x88, 0x25, 0x00, 0x04]));
        assert_eq!(
            strip_location(MediaType::Jpeg, &stripped).unwrap(),
            stripped
        );
        // "As stored" needs no tag.
        let upright = jpeg_with(&[orientation_app1(1), exif_app1()]);
        assert_eq!(strip_location(MediaType::Jpeg, &upright).unwrap(), MIN_JPEG);
    }

    #[test]
    fn jpeg_scan_data_with_stuffing_and_restarts_is_copied() {
        // Progressive-style: two scans, scan data with FF 00 and RST markers.
        let scan = [
            0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56, 0xFF, 0xFF, 0xD1, 0x78,
        ];
        let sos = &MIN_JPEG[SOS_AT..SOS_AT + 10];
        let image = [
            &MIN_JPEG[..AFTER_APP0],
            &exif_app1(),
            &MIN_JPEG[AFTER_APP0..SOS_AT],
            sos,
            &scan,
            &segment(0xC4, &MIN_JPEG[SOS_AT - 18..SOS_AT]),
            &xmp_app1(),
            sos,
            &scan,
            &[0xFF, 0xD9],
        ]
        .concat();
        let expected = [
            &MIN_JPEG[..SOS_AT],
            sos,
            &scan,
            &segment(0xC4, &MIN_JPEG[SOS_AT - 18..SOS_AT]),
            sos,
            &scan,
            &[0xFF, 0xD9],
        ]
        .concat();
        assert_eq!(sniff(&image), Some(MediaType::Jpeg));
        assert_eq!(strip_location(MediaType::Jpeg, &image).unwrap(), expected);
    }

    #[test]
    fn a_jpeg_that_breaks_off_is_not_called_clean() {
        // Malformed after the scan: what follows cannot be inspected.
        let broken = [&MIN_JPEG[..MIN_JPEG.len() - 2], b"\xFF\xE1\xFF\xFFExif"].concat();
        assert_eq!(strip_location(MediaType::Jpeg, &broken), None);
        // Cut inside the scan data: nothing is missing that could hide GPS.
        let cut = jpeg_with(&[exif_app1()]);
        let cut = &cut[..cut.len() - 2];
        assert_eq!(
            strip_location(MediaType::Jpeg, cut).unwrap(),
            &MIN_JPEG[..MIN_JPEG.len() - 2]
        );
        assert_eq!(strip_location(MediaType::Jpeg, b"not a jpeg"), None);
    }

    #[test]
    fn png_loses_exif_and_text_and_keeps_crcs() {
        let with = png_with(&[
            png_chunk(b"eXIf", &GPS_TIFF),
            png_chunk(b"tEXt", b"Location\x0043.23N 76.94E"),
            png_chunk(b"iTXt", b"XML:com.adobe.xmp\0\0\0\0\0<x:xmpmeta/>"),
            png_chunk(b"zTXt", b"Comment\0\0x"),
        ]);
        assert_eq!(sniff(&with), Some(MediaType::Png));
        assert_eq!(strip_location(MediaType::Png, &with).unwrap(), MIN_PNG);
        let gamma = png_chunk(b"gAMA", &45455u32.to_be_bytes());
        let with = [png_with(std::slice::from_ref(&gamma)), b"trailing".to_vec()].concat();
        assert_eq!(
            strip_location(MediaType::Png, &with).unwrap(),
            png_with(&[gamma])
        );
        assert_eq!(strip_location(MediaType::Png, &MIN_PNG[..40]), None);
    }

    #[test]
    fn png_keeps_only_drawing_chunks() {
        let gamma = png_chunk(b"gAMA", &45455u32.to_be_bytes());
        let srgb = png_chunk(b"sRGB", &[0]);
        let with = png_with(&[
            gamma.clone(),
            png_chunk(b"tIME", &[0x07, 0xEA, 12, 2, 9, 30, 0]),
            png_chunk(b"pHYs", &[0, 0, 0x0B, 0x13, 0, 0, 0x0B, 0x13, 1]),
            png_chunk(b"iCCP", b"Display P3 by a phone\0\0x"),
            png_chunk(b"caBX", b"jumbc2pa GPSLatitude 43,14N"),
            // A colour chunk of the wrong size: not what any encoder writes.
            png_chunk(b"cHRM", b"lat 43.2389 lon 76.8897"),
            srgb.clone(),
        ]);
        assert_eq!(sniff(&with), Some(MediaType::Png));
        let stripped = strip_location(MediaType::Png, &with).unwrap();
        assert_eq!(stripped, png_with(&[gamma, srgb]));
        // An IEND carrying data is written afresh.
        let fat_end = [&MIN_PNG[..MIN_PNG.len() - 12], &png_chunk(b"IEND", b"43N")].concat();
        assert_eq!(strip_location(MediaType::Png, &fat_end).unwrap(), MIN_PNG);
        // A header of the wrong size: not a PNG to vouch for.
        let bad_ihdr = [
            &MIN_PNG[..8],
            &png_chunk(b"IHDR", &[0; 14]),
            &MIN_PNG[AFTER_IHDR..],
        ]
        .concat();
        assert_eq!(strip_location(MediaType::Png, &bad_ihdr), None);
    }

    #[test]
    fn webp_loses_exif_and_xmp_chunks_and_their_flags() {
        let with = riff(&[
            vp8x(0x08 | 0x04 | 0x10),
            vp8l(),
            webp_chunk(b"EXIF", &GPS_TIFF),
            webp_chunk(b"XMP ", b"<x:xmpmeta/>"),
        ]);
        assert_eq!(sniff(&with), Some(MediaType::Webp));
        let stripped = strip_location(MediaType::Webp, &with).unwrap();
        assert_eq!(stripped, riff(&[vp8x(0x10), vp8l()]));
        assert_eq!(
            le32(&stripped[4..8]).unwrap() + 8,
            stripped.len(),
            "RIFF size"
        );
        assert_eq!(
            strip_location(MediaType::Webp, &MIN_WEBP).unwrap(),
            MIN_WEBP
        );
        let mut cut = with.clone();
        cut.truncate(with.len() - 3);
        assert_eq!(strip_location(MediaType::Webp, &cut), None);
    }

    #[test]
    fn webp_loses_icc_and_unknown_chunks_and_frame_extras() {
        let with = riff(&[
            vp8x(0x20 | 0x10 | 0x08),
            webp_chunk(b"ICCP", b"a profile by a phone"),
            vp8l(),
            webp_chunk(b"c2pa", b"GPSLatitude 43,14N"),
        ]);
        assert_eq!(
            strip_location(MediaType::Webp, &with).unwrap(),
            riff(&[vp8x(0x10), vp8l()])
        );
        // An animation: ANIM and the frames stay, with their images only.
        let frame_header = [0u8, 0, 0, 0, 0, 0, 0, 0, 0, 0x64, 0, 0, 0, 0, 0, 0];
        let frame = |extra: &[Vec<u8>]| {
            webp_chunk(
                b"ANMF",
                &[frame_header.as_slice(), &vp8l(), &extra.concat()].concat(),
            )
        };
        let anim = webp_chunk(b"ANIM", &[0, 0, 0, 0, 0, 0]);
        let with = riff(&[
            vp8x(0x02 | 0x08),
            anim.clone(),
            frame(&[webp_chunk(b"XYZW", b"lat=43.2389;lon=76.8897")]),
            frame(&[]),
            webp_chunk(b"EXIF", &GPS_TIFF),
        ]);
        let stripped = strip_location(MediaType::Webp, &with).unwrap();
        assert_eq!(stripped, riff(&[vp8x(0x02), anim, frame(&[]), frame(&[])]));
        assert!(!contains(&stripped, b"76.8897"));
    }

    #[test]
    fn heic_and_pdf_cannot_be_made_safe() {
        let heic = ftyp(b"heic", &[b"mif1", b"heic"]);
        assert_eq!(strip_location(MediaType::Heic, &heic), None);
        assert_eq!(strip_location(MediaType::Pdf, b"%PDF-1.7\n"), None);
        for m in MediaType::ALL {
            assert_eq!(
                m.can_strip_location(),
                !matches!(m, MediaType::Heic | MediaType::Pdf)
            );
        }
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    /// Metadata bytes (a whole segment or chunk, or a trailer) and the 16
    /// random bytes among them that must not survive.
    type Tagged = (Vec<u8>, [u8; 16]);

    /// What a metadata segment or chunk carries, with 16 random bytes in
    /// the middle: if any of it survived the strip, they would be there.
    fn tagged() -> impl Strategy<Value = Tagged> {
        (
            proptest::collection::vec(any::<u8>(), 0..48),
            any::<[u8; 16]>(),
            proptest::collection::vec(any::<u8>(), 0..48),
        )
            .prop_map(|(before, tag, after)| ([before.as_slice(), &tag, &after].concat(), tag))
    }

    /// A JPEG segment no decoder needs, and its tag: any APPn, a comment,
    /// the JPG, reserved, DNL and hierarchical-mode markers; or a JFIF
    /// header whose thumbnail holds the tag.
    fn jpeg_metadata() -> impl Strategy<Value = Tagged> {
        let marker = prop_oneof![
            0xE0u8..=0xEF,
            Just(0xFE),
            0xF0u8..=0xFD,
            Just(0xC8),
            Just(0xDC),
            Just(0xDE),
            Just(0xDF),
            0x02u8..=0xBF,
        ];
        prop_oneof![
            (marker, tagged()).prop_map(|(m, (payload, tag))| (segment(m, &payload), tag)),
            tagged().prop_map(|(mut thumbnail, tag)| {
                thumbnail.resize(thumbnail.len().div_ceil(3) * 3, 0);
                let width = u8::try_from(thumbnail.len() / 3).unwrap();
                let header = [b"JFIF\0\x01\x01\0\0\x01\0\x01".as_slice(), &[width, 1]].concat();
                (segment(APP0, &[header, thumbnail].concat()), tag)
            }),
        ]
    }

    /// Where each metadata piece goes: before the drawing piece at this
    /// index (never before the first one).
    fn placed<T: std::fmt::Debug>(
        what: impl Strategy<Value = T>,
    ) -> impl Strategy<Value = Vec<(prop::sample::Index, T)>> {
        proptest::collection::vec((any::<prop::sample::Index>(), what), 1..8)
    }

    /// The drawing pieces with the metadata placed between them.
    fn interleave(drawing: &[Vec<u8>], metadata: &[(prop::sample::Index, Tagged)]) -> Vec<Vec<u8>> {
        let mut pieces = vec![drawing[0].clone()];
        for (i, piece) in drawing.iter().enumerate().skip(1) {
            for (at, (meta, _)) in metadata {
                if at.index(drawing.len() - 1) + 1 == i {
                    pieces.push(meta.clone());
                }
            }
            pieces.push(piece.clone());
        }
        pieces
    }

    /// MIN_JPEG's segments, with this scan data.
    fn min_jpeg_drawing(scan: &[u8]) -> Vec<Vec<u8>> {
        let cuts = [0, 2, AFTER_APP0, 89, 102, 124, SOS_AT, SOS_AT + 10];
        let mut pieces: Vec<Vec<u8>> = cuts
            .windows(2)
            .map(|w| MIN_JPEG[w[0]..w[1]].to_vec())
            .collect();
        pieces.last_mut().unwrap().extend_from_slice(scan);
        pieces.push(vec![0xFF, EOI]);
        pieces
    }

    const PNG_KEPT: [&[u8; 4]; 13] = [
        b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"cICP", b"sBIT",
        b"acTL", b"fcTL", b"fdAT",
    ];

    /// A PNG chunk no decoder needs, and its tag: the known metadata
    /// chunks, or any other type.
    fn png_metadata() -> impl Strategy<Value = Tagged> {
        let known = prop::sample::select(vec![
            *b"tEXt", *b"zTXt", *b"iTXt", *b"eXIf", *b"tIME", *b"iCCP", *b"pHYs", *b"bKGD",
            *b"sPLT", *b"hIST", *b"caBX", *b"oFFs", *b"sCAL", *b"pCAL", *b"dSIG",
        ]);
        let letter =
            prop::sample::select(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".to_vec());
        let unknown = prop::array::uniform4(letter)
            .prop_filter("a chunk type the copy keeps", |k| !PNG_KEPT.contains(&k));
        (prop_oneof![known, unknown], tagged())
            .prop_map(|(kind, (data, tag))| (png_chunk(&kind, &data), tag))
    }

    const WEBP_KEPT: [&[u8; 4]; 6] = [b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF"];

    /// A WebP chunk no decoder needs, and its tag.
    fn webp_metadata() -> impl Strategy<Value = Tagged> {
        let known = prop::sample::select(vec![*b"EXIF", *b"XMP ", *b"ICCP", *b"c2pa"]);
        let unknown = any::<[u8; 4]>()
            .prop_filter("a chunk type the copy keeps", |k| !WEBP_KEPT.contains(&k));
        (prop_oneof![known, unknown], tagged())
            .prop_map(|(kind, (data, tag))| (webp_chunk(&kind, &data), tag))
    }

    /// Scan data as an encoder writes it: every FF followed by 00.
    fn scan_data() -> impl Strategy<Value = Vec<u8>> {
        proptest::collection::vec(any::<u8>(), 0..400).prop_map(|raw| {
            raw.into_iter()
                .flat_map(|b| if b == 0xFF { vec![0xFF, 0x00] } else { vec![b] })
                .collect()
        })
    }

    fn fixtures() -> Vec<Vec<u8>> {
        vec![
            MIN_JPEG.to_vec(),
            jpeg_with(&[exif_app1(), xmp_app1(), orientation_app1(3)]),
            MIN_PNG.to_vec(),
            png_with(&[png_chunk(b"eXIf", &GPS_TIFF)]),
            MIN_WEBP.to_vec(),
            riff(&[vp8x(0x0C), vp8l(), webp_chunk(b"EXIF", &GPS_TIFF)]),
            ftyp(b"heic", &[b"heic"]),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn sniff_and_strip_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let _ = sniff(&bytes);
            for m in MediaType::ALL {
                let _ = strip_location(m, &bytes);
            }
        }

        #[test]
        fn damaged_files_never_panic(
            which in 0usize..7,
            cut in any::<prop::sample::Index>(),
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..8),
            tail in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut bytes = fixtures()[which].clone();
            for (at, v) in flips {
                let i = at.index(bytes.len());
                bytes[i] = v;
            }
            bytes.truncate(cut.index(bytes.len() + 1));
            bytes.extend_from_slice(&tail);
            let media = sniff(&bytes);
            for m in MediaType::ALL {
                if let Some(once) = strip_location(m, &bytes) {
                    prop_assert_eq!(strip_location(m, &once), Some(once.clone()), "idempotent for {:?}", m);
                }
            }
            let _ = media;
        }

        /// The whitelist's promise: whatever metadata a file carries,
        /// wherever it sits, none of it is in the public copy, and the
        /// drawing segments are, unchanged and in order.
        #[test]
        fn no_byte_of_jpeg_metadata_survives(
            metadata in placed(jpeg_metadata()),
            trailer in tagged(),
            scan in scan_data(),
        ) {
            let drawing = min_jpeg_drawing(&scan);
            let clean = drawing.concat();
            let with = [interleave(&drawing, &metadata).concat(), trailer.0].concat();
            prop_assert_eq!(sniff(&with), Some(MediaType::Jpeg));
            let stripped = strip_location(MediaType::Jpeg, &with).unwrap();
            for tag in metadata.iter().map(|(_, (_, tag))| tag).chain([&trailer.1]) {
                prop_assert!(!contains(&stripped, tag), "tag {:02X?} survived", tag);
            }
            let listed = |bytes: &[u8]| -> (Vec<(u8, Vec<u8>)>, JpegEnd) {
                let (segments, end) = jpeg_segments(bytes);
                let segments = segments.iter().map(|s| (s.marker, bytes[s.start..s.end].to_vec())).collect();
                (segments, end)
            };
            prop_assert_eq!(sniff(&stripped), Some(MediaType::Jpeg));
            prop_assert_eq!(listed(&stripped), listed(&clean));
            prop_assert_eq!(strip_location(MediaType::Jpeg, &stripped).unwrap(), stripped);
        }

        #[test]
        fn no_byte_of_png_metadata_survives(
            metadata in placed(png_metadata()),
            trailer in tagged(),
        ) {
            let gamma = png_chunk(b"gAMA", &45455u32.to_be_bytes());
            let drawing = [
                MIN_PNG[..AFTER_IHDR].to_vec(),
                gamma,
                MIN_PNG[AFTER_IHDR..55].to_vec(),
                MIN_PNG[55..].to_vec(),
            ];
            let clean = drawing.concat();
            let with = [interleave(&drawing, &metadata).concat(), trailer.0].concat();
            prop_assert_eq!(sniff(&with), Some(MediaType::Png));
            let stripped = strip_location(MediaType::Png, &with).unwrap();
            for tag in metadata.iter().map(|(_, (_, tag))| tag).chain([&trailer.1]) {
                prop_assert!(!contains(&stripped, tag), "tag {:02X?} survived", tag);
            }
            let listed = |bytes: &[u8]| -> Option<Vec<Vec<u8>>> {
                Some(png_chunks(bytes)?.iter().map(|c| bytes[c.start..c.end].to_vec()).collect())
            };
            prop_assert_eq!(sniff(&stripped), Some(MediaType::Png));
            prop_assert_eq!(listed(&stripped).unwrap(), listed(&clean).unwrap());
            prop_assert_eq!(strip_location(MediaType::Png, &stripped).unwrap(), stripped);
        }

        #[test]
        fn no_byte_of_webp_metadata_survives(
            metadata in placed(webp_metadata()),
            trailer in tagged(),
            flags in any::<u8>(),
            reserved in any::<[u8; 3]>(),
        ) {
            let header = |flags: u8, reserved: [u8; 3]| {
                let mut data = vec![flags];
                data.extend_from_slice(&reserved);
                data.extend_from_slice(&[0; 6]);
                webp_chunk(b"VP8X", &data)
            };
            let drawing = [header(flags, reserved), vp8l()];
            let clean = riff(&[header(flags & 0x12, [0; 3]), vp8l()]);
            // The drawing pieces follow RIFF's header, so metadata may also
            // come last; riff() counts it in.
            let drawing_and_end = [drawing[0].clone(), drawing[1].clone(), Vec::new()];
            let with = [riff(&interleave(&drawing_and_end, &metadata)), trailer.0].concat();
            prop_assert_eq!(sniff(&with), Some(MediaType::Webp));
            let stripped = strip_location(MediaType::Webp, &with).unwrap();
            for tag in metadata.iter().map(|(_, (_, tag))| tag).chain([&trailer.1]) {
                prop_assert!(!contains(&stripped, tag), "tag {:02X?} survived", tag);
            }
            let listed = |bytes: &[u8]| -> Option<Vec<Vec<u8>>> {
                let end = le32(bytes.get(4..8)?)? + 8;
                Some(riff_chunks(bytes, 12, end)?.into_iter().map(|c| bytes[c.whole].to_vec()).collect())
            };
            prop_assert_eq!(sniff(&stripped), Some(MediaType::Webp));
            prop_assert_eq!(le32(&stripped[4..8]).unwrap() + 8, stripped.len(), "RIFF size");
            prop_assert_eq!(listed(&stripped).unwrap(), listed(&clean).unwrap());
            prop_assert_eq!(strip_location(MediaType::Webp, &stripped).unwrap(), stripped);
        }
    }
}
