//! The evidence log from the store to a bundle and back, on SQLite and on
//! PostgreSQL: a photo uploaded by an observer and named by an incident
//! enters the group's tree before the incident; the full bundle carries
//! it, the public one its copy without location data; both verify
//! offline, `tar` and `sha256sum` check the photo against the event that
//! names it, and the group's own tree is checked against its log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Backend, TestApp, jpeg_with_gps, sha256_hex, uuid};
use pollwatch_evidence::{Options, verify};
use pollwatch_server::ledger;
use serde_json::json;

both_backends!(a_photo_and_its_report_go_into_both_bundles);

async fn a_photo_and_its_report_go_into_both_bundles(backend: Backend) {
    let Some(app) = TestApp::spawn(backend).await else {
        return;
    };
    let token = app.observer_token("alpha").await;
    let photo = jpeg_with_gps();
    let sha = sha256_hex(&photo);
    let res = app
        .http
        .post(app.url("/api/v1/blobs"))
        .bearer_auth(&token)
        .header("content-type", "image/jpeg")
        .body(photo.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    for (n, kind, payload) in [
        (1, "headcount", json!({"counted": 40, "announced": null})),
        (
            2,
            "incident",
            json!({"category": "OBS-REMOVED", "description": "Asked to leave by the chair", "photos": [sha]}),
        ),
        (3, "note", json!({"text": "Tea break"})),
    ] {
        let res = app
            .post_event(
                &token,
                &json!({
                    "client_id": uuid(n),
                    "station": "101",
                    "kind": kind,
                    "payload": payload,
                    "observed_at": "2026-03-15T07:10:00+05:00",
                }),
            )
            .await;
        assert!(
            res.status().is_success(),
            "{kind}: {}",
            res.text().await.unwrap()
        );
    }

    let (group, _) = app.group_observer("alpha").await;
    let blobs = pollwatch_blobs::Blobs::local(app.data_dir.path().join("blobs"));
    let keys = ledger::Keys::new(app.data_dir.path().join("keys"));
    let (log_key, _) = ledger::create_keys(&*app.store, &keys, &group, "alpha.example/2026")
        .await
        .unwrap();

    // The tree: the file's leaf comes right before the incident naming it.
    let head = ledger::extend(&*app.store, &blobs, group.id).await.unwrap();
    assert_eq!((head.size, head.last_seq), (4, 3), "3 events and 1 file");
    let files = app.store.ledger_files(group.id, None, 10).await.unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(
        (files[0].index, files[0].sha256.as_str()),
        (1, sha.as_str())
    );
    // Extending again takes in nothing; the other group's tree is its own.
    assert_eq!(
        ledger::extend(&*app.store, &blobs, group.id).await.unwrap(),
        head
    );
    let (beta, _) = app.group_observer("beta").await;
    assert_eq!(
        ledger::extend(&*app.store, &blobs, beta.id)
            .await
            .unwrap()
            .size,
        0
    );

    let dir = tempfile::tempdir().unwrap();
    for public in [false, true] {
        let path = dir
            .path()
            .join(if public { "public.tar" } else { "full.tar" });
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(true)
            .read(true)
            .write(true)
            .open(&path)
            .unwrap();
        let (_, done) = ledger::export_bundle(&*app.store, &blobs, &group, &log_key, public, file)
            .await
            .unwrap();
        assert_eq!(done.size, 4);
        assert_eq!(
            done.entries,
            if public { 3 } else { 4 },
            "the note is withheld in public"
        );
        assert_eq!(done.files, 1);
        let report = verify(
            std::fs::File::open(&path).unwrap(),
            Options {
                checkpoint: Some(&done.short),
            },
        )
        .unwrap();
        assert!(report.ok(), "{public}: {:?}", report.failures);

        // As anyone would check it: unpack, sha256sum, read the event.
        let out = dir.path().join(if public { "pub" } else { "full" });
        std::fs::create_dir_all(&out).unwrap();
        let status = std::process::Command::new("tar")
            .arg("xf")
            .arg(&path)
            .arg("-C")
            .arg(&out)
            .status()
            .unwrap();
        assert!(status.success());
        let names: Vec<String> = std::fs::read_dir(out.join("files"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 1);
        let bytes = std::fs::read(out.join("files").join(&names[0])).unwrap();
        assert_eq!(sha256_hex(&bytes), names[0], "sha256sum matches the name");
        let entries = std::fs::read_to_string(out.join("entries.jsonl")).unwrap();
        let file_line = entries
            .lines()
            .find(|l| l.contains("\"type\":\"file\""))
            .unwrap();
        let incident = entries
            .lines()
            .find(|l| l.contains("\"kind\":\"incident\""))
            .unwrap();
        assert!(
            incident.contains(&sha),
            "the incident names the original photo"
        );
        if public {
            assert_ne!(names[0], sha, "the public bundle carries the copy");
            assert!(file_line.contains(&format!("\"public_sha256\":\"{}\"", names[0])));
            assert!(
                !bytes.windows(4).any(|w| w == b"Exif"),
                "no location data in public"
            );
            assert!(!out.join("private.jsonl").exists());
            assert!(!entries.contains("Tea break"));
        } else {
            assert_eq!(bytes, photo);
            let private = std::fs::read_to_string(out.join("private.jsonl")).unwrap();
            assert_eq!(private.lines().count(), 3);
            assert!(private.contains(&uuid(2)));
        }
        // The client ids, which would tie reports to one phone, are only
        // in the private lines.
        assert!(!entries.contains(&uuid(2)));
    }
}
