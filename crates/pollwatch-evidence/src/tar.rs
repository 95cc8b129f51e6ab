//! The one shape of POSIX ustar header a bundle uses, so the verifier can
//! regenerate each header and compare it byte for byte.

/// Tar's unit: headers, padding and the end are all whole blocks.
pub const BLOCK: usize = 512;

/// The largest member size an 11-digit octal size field holds.
pub const MAX_MEMBER: u64 = 0o777_7777_7777;

/// The longest member name (the `name` field; `prefix` stays empty).
pub const MAX_NAME: usize = 100;

fn octal(field: &mut [u8], value: u64) {
    // Zero-padded octal digits, then one NUL.
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(s.as_bytes());
    field[digits] = 0;
}

/// The canonical header of a regular-file member: ustar, mode 0644,
/// uid/gid 0, no user or group names, `mtime` in POSIX seconds. `None`
/// when the name or size cannot be written in it.
pub fn header(name: &str, size: u64, mtime: u64) -> Option<[u8; BLOCK]> {
    if name.is_empty() || name.len() > MAX_NAME || size > MAX_MEMBER || mtime > MAX_MEMBER {
        return None;
    }
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name.as_bytes());
    octal(&mut h[100..108], 0o644);
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    octal(&mut h[124..136], size);
    octal(&mut h[136..148], mtime);
    h[156] = b'0';
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], 0);
    octal(&mut h[337..345], 0);
    // The checksum is summed with its own field read as eight spaces.
    h[148..156].copy_from_slice(b"        ");
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    let s = format!("{sum:06o}");
    h[148..154].copy_from_slice(s.as_bytes());
    h[154] = 0;
    h[155] = b' ';
    Some(h)
}

/// Name, size and mtime as a header gives them, read loosely enough to
/// regenerate the canonical header and compare; `None` when the fields
/// are not even readable.
pub fn read_fields(h: &[u8; BLOCK]) -> Option<(String, u64, u64)> {
    let end = h[..MAX_NAME]
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(MAX_NAME);
    let name = std::str::from_utf8(&h[..end]).ok()?.to_owned();
    let num = |f: &[u8]| -> Option<u64> {
        let digits = f.split(|&b| b == 0).next()?;
        if digits.is_empty() || !digits.iter().all(|b| (b'0'..=b'7').contains(b)) {
            return None;
        }
        u64::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok()
    };
    Some((name, num(&h[124..136])?, num(&h[136..148])?))
}

/// How many zero bytes follow `size` bytes of data to end on a block.
pub fn padding(size: u64) -> usize {
    let rem = (size % BLOCK as u64) as usize;
    if rem == 0 { 0 } else { BLOCK - rem }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn header_fields_and_checksum() {
        let h = header("leaves", 96, 1_780_000_000).unwrap();
        assert_eq!(&h[..7], b"leaves\0");
        assert_eq!(&h[100..108], b"0000644\0");
        assert_eq!(&h[124..136], b"00000000140\0");
        assert_eq!(&h[257..265], b"ustar\x0000");
        let mut blank = h;
        blank[148..156].copy_from_slice(b"        ");
        let sum: u32 = blank.iter().map(|&b| u32::from(b)).sum();
        let field = std::str::from_utf8(&h[148..154]).unwrap();
        assert_eq!(u32::from_str_radix(field, 8).unwrap(), sum);
        assert_eq!(read_fields(&h), Some(("leaves".into(), 96, 1_780_000_000)));
        assert!(header(&"x".repeat(101), 0, 0).is_none());
        assert_eq!(padding(0), 0);
        assert_eq!(padding(1), 511);
        assert_eq!(padding(512), 0);
    }
}
