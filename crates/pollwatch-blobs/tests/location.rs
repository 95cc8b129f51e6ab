//! `--blobs s3://BUCKET[/PREFIX]`: what is taken, what is refused and why.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use pollwatch_blobs::S3Location;
use pollwatch_domain::evidence::BlobHash;
use proptest::prelude::*;

fn check(input: &str, expected: Result<(&str, &str), &str>) {
    match (S3Location::parse(input), expected) {
        (Ok(l), Ok((bucket, prefix))) => {
            assert_eq!((l.bucket(), l.prefix()), (bucket, prefix), "{input}");
        }
        (Err(e), Err(needle)) => {
            let msg = e.to_string();
            assert!(msg.contains(needle), "{input}: {msg:?} lacks {needle:?}");
            assert!(
                msg.contains(input),
                "{input}: {msg:?} does not quote the input"
            );
        }
        (got, want) => panic!("{input}: got {got:?}, want {want:?}"),
    }
}

#[test]
fn addresses() {
    check("s3://evidence", Ok(("evidence", "")));
    check("s3://evidence/", Ok(("evidence", "")));
    check("s3://evidence/almaty/2026", Ok(("evidence", "almaty/2026")));
    check("s3://evidence/almaty/", Ok(("evidence", "almaty")));
    check("s3://my.bucket-1/x", Ok(("my.bucket-1", "x")));
    check("evidence", Err("only s3://"));
    check("file:///var/lib/pollwatch", Err("only s3://"));
    check("s3://", Err("bucket name"));
    check("s3://ab", Err("bucket name"));
    check("s3://Evidence", Err("bucket name"));
    check("s3://-evidence", Err("bucket name"));
    check("s3://evidence_1", Err("bucket name"));
    check("s3://evidence//x", Err("empty"));
    check("s3://evidence/a/../b", Err("'..'"));
    check("s3://evidence/./b", Err("'.'"));
}

#[test]
fn keys_follow_the_folder_layout() {
    let hash = BlobHash::of(b"x");
    let h = hash.as_str();
    let root = S3Location::parse("s3://evidence").unwrap();
    assert_eq!(root.key(&hash), format!("{}/{h}", &h[..2]));
    let sub = S3Location::parse("s3://evidence/city").unwrap();
    assert_eq!(sub.key(&hash), format!("city/{}/{h}", &h[..2]));
    assert_eq!(sub.to_string(), "s3://evidence/city");
    assert_eq!(
        sub.child("t1").unwrap().to_string(),
        "s3://evidence/city/t1"
    );
}

proptest! {
    /// What parses prints back as itself (less a trailing slash), and
    /// nothing panics.
    #[test]
    fn parse_display_round_trip(s in "s3://[a-z0-9.-]{0,66}(/[a-zA-Z0-9._ -]{0,8}){0,3}/?") {
        if let Ok(l) = S3Location::parse(&s) {
            prop_assert_eq!(l.to_string(), s.trim_end_matches('/'));
            prop_assert_eq!(S3Location::parse(&l.to_string()).unwrap(), l);
        }
    }

    #[test]
    fn anything_is_parsed_or_refused(s in ".{0,80}") {
        let _ = S3Location::parse(&s);
    }
}
