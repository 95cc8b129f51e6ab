//! Signed checkpoints and witnessing as groups do it: keys made by the
//! admin (private halves in files, never in the database), checkpoints
//! signed on demand and by the running server, cosigned by another group
//! of the same instance and by a group of another instance through files,
//! and a fork (two trees of one size signed by one log) caught and kept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::{pollwatch, run, spawn_server_with};
use pollwatch_ledger::witness::AddCheckpoint;
use pollwatch_ledger::{Checkpoint, Note, SignerKey, VerifierKey, verify_checkpoint};

fn ok(db: &Path, args: &[&str]) -> String {
    let (code, out, err) = run(pollwatch(db).args(args));
    assert_eq!(code, 0, "pollwatch {args:?} failed: {err}\n{out}");
    out
}

fn key_line<'a>(out: &'a str, label: &str) -> &'a str {
    out.lines()
        .find_map(|l| l.strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label} in {out}"))
}

/// The checkpoint note `pollwatch checkpoint` prints, and its short string.
fn checkpoint(db: &Path, group: &str) -> (String, String) {
    let out = ok(db, &["checkpoint", "--group", group]);
    let (note, short) = out
        .rsplit_once("\n\n")
        .expect("note, blank line, short string");
    (format!("{note}\n"), short.trim().to_owned())
}

#[test]
fn groups_witness_each_other_here_and_by_files_and_a_fork_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let here = dir.path().join("here.db");
    ok(
        &here,
        &[
            "demo",
            "--no-serve",
            "--files",
            &dir.path().join("demo").display().to_string(),
        ],
    );

    // Keys: the private halves are files, the database holds public keys only.
    let a = ok(
        &here,
        &[
            "key",
            "create",
            "--group",
            "ashyq-dauys",
            "--origin",
            "ashyq.example/2026",
        ],
    );
    let a_log = key_line(&a, "log key:").to_owned();
    let b = ok(&here, &["key", "create", "--group", "birge"]);
    let b_witness = key_line(&b, "witness key:").to_owned();
    let keys = dir.path().join("pollwatch-data/keys");
    let private = std::fs::read_to_string(keys.join("ashyq-dauys.log.key")).unwrap();
    assert!(private.starts_with("PRIVATE+KEY+ashyq.example/2026+"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(keys.join("ashyq-dauys.log.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "a private key file is readable by others");
    }
    let db_bytes = std::fs::read(&here).unwrap();
    // PRIVATE+KEY+<name>+<hash>+<key>: the key's base64 may hold '+' too.
    let secret = private.trim().splitn(5, '+').nth(4).unwrap();
    assert!(secret.len() > 40, "{private}");
    assert!(
        !db_bytes
            .windows(secret.len())
            .any(|w| w == secret.as_bytes()),
        "the private key is in the database"
    );

    // A checkpoint, verified with the printed key; its short string pins it.
    let (note, short) = checkpoint(&here, "ashyq-dauys");
    let log_key = VerifierKey::parse(&a_log).unwrap();
    let cp = verify_checkpoint(note.as_bytes(), &log_key, &[])
        .unwrap()
        .checkpoint;
    assert!(
        cp.size > 100,
        "the demo group's log is in the tree: {}",
        cp.size
    );
    assert_eq!(short, pollwatch_evidence::bundle::short_string(&cp));

    // Same instance: birge cosigns ashyq-dauys's checkpoint.
    ok(
        &here,
        &[
            "witness",
            "pair",
            "--group",
            "ashyq-dauys",
            "--with",
            "birge",
        ],
    );
    let req = dir.path().join("req.txt");
    let cos = dir.path().join("cos.txt");
    let witness_name = VerifierKey::parse(&b_witness).unwrap().name().to_owned();
    ok(
        &here,
        &[
            "witness",
            "request",
            "--group",
            "ashyq-dauys",
            "--witness",
            &witness_name,
            "--out",
            &req.display().to_string(),
        ],
    );
    ok(
        &here,
        &[
            "witness",
            "cosign",
            "--group",
            "birge",
            "--request",
            &req.display().to_string(),
            "--out",
            &cos.display().to_string(),
        ],
    );
    let imported = ok(
        &here,
        &[
            "witness",
            "import",
            "--group",
            "ashyq-dauys",
            "--cosigned",
            &cos.display().to_string(),
        ],
    );
    assert!(imported.contains(&witness_name), "{imported}");
    let (note, _) = checkpoint(&here, "ashyq-dauys");
    let witness_key = VerifierKey::parse(&b_witness).unwrap();
    let v = verify_checkpoint(
        note.as_bytes(),
        &log_key,
        std::slice::from_ref(&witness_key),
    )
    .unwrap();
    assert_eq!(
        v.signatures.verified.len(),
        2,
        "the log's signature and the witness's"
    );

    // Another instance, which never talks to this one: files only.
    let there = dir.path().join("there.db");
    ok(
        &there,
        &["admin", "create-group", "tazalyq", "--name", "Tazalyq"],
    );
    let keys_there = dir.path().join("keys-there");
    let keys_there = keys_there.display().to_string();
    let t = ok(
        &there,
        &[
            "key",
            "create",
            "--group",
            "tazalyq",
            "--origin",
            "tazalyq.example",
            "--keys",
            &keys_there,
        ],
    );
    let t_witness = key_line(&t, "witness key:").to_owned();
    let t_name = VerifierKey::parse(&t_witness).unwrap().name().to_owned();
    ok(
        &there,
        &[
            "witness",
            "watch",
            "--group",
            "tazalyq",
            "--log-key",
            &a_log,
        ],
    );
    ok(
        &here,
        &[
            "witness",
            "trust",
            "--group",
            "ashyq-dauys",
            "--witness-key",
            &t_witness,
        ],
    );
    ok(
        &here,
        &[
            "witness",
            "request",
            "--group",
            "ashyq-dauys",
            "--witness",
            &t_name,
            "--out",
            &req.display().to_string(),
        ],
    );
    ok(
        &there,
        &[
            "witness",
            "cosign",
            "--group",
            "tazalyq",
            "--request",
            &req.display().to_string(),
            "--out",
            &cos.display().to_string(),
            "--keys",
            &keys_there,
        ],
    );
    ok(
        &here,
        &[
            "witness",
            "import",
            "--group",
            "ashyq-dauys",
            "--cosigned",
            &cos.display().to_string(),
        ],
    );
    let (note, _) = checkpoint(&here, "ashyq-dauys");
    let both = [witness_key, VerifierKey::parse(&t_witness).unwrap()];
    let v = verify_checkpoint(note.as_bytes(), &log_key, &both).unwrap();
    assert_eq!(v.signatures.verified.len(), 3, "{note}");
    let cosigned = Checkpoint::parse(&Note::parse(note.as_bytes()).unwrap().text).unwrap();

    // A cosignature by a witness the group did not pin is refused.
    let stranger = SignerKey::from_seed(
        "stranger/witness",
        pollwatch_ledger::KeyKind::Cosignature,
        [3; 32],
    )
    .unwrap();
    let forged = format!(
        "{note}{}",
        stranger
            .cosignature_line(&cosigned.body(), 1_780_000_000)
            .unwrap()
    );
    std::fs::write(&cos, &forged).unwrap();
    let (code, _, err) = run(pollwatch(&here).args([
        "witness",
        "import",
        "--group",
        "ashyq-dauys",
        "--cosigned",
        &cos.display().to_string(),
    ]));
    assert_ne!(code, 0, "a stranger's cosignature was taken");
    assert!(
        err.contains("no cosignature by a witness this group pinned"),
        "{err}"
    );

    // A fork: the log's key signs another tree of the same size (a group
    // quietly rewriting its history). The witness refuses it, says so, and
    // keeps both notes.
    let log_signer = SignerKey::parse(private.trim()).unwrap();
    let other = Checkpoint::new(&cosigned.origin, cosigned.size, [0x5a; 32]);
    let fork = AddCheckpoint {
        old_size: cosigned.size,
        proof: vec![],
        checkpoint: other.sign(&log_signer).unwrap(),
    };
    std::fs::write(&req, fork.to_text()).unwrap();
    let (code, _, err) = run(pollwatch(&there).args([
        "witness",
        "cosign",
        "--group",
        "tazalyq",
        "--request",
        &req.display().to_string(),
        "--out",
        &cos.display().to_string(),
        "--keys",
        &keys_there,
    ]));
    assert_ne!(code, 0, "a fork was cosigned");
    assert!(err.contains("fork"), "{err}");
    let (code, forks, _) = run(pollwatch(&there).args(["witness", "forks", "--group", "tazalyq"]));
    assert_eq!(code, 1, "forks found exit 1");
    assert!(forks.contains("FORK of ashyq.example/2026"), "{forks}");
    assert!(
        forks.contains(&other.body()),
        "the offered checkpoint is kept: {forks}"
    );

    // A checkpoint signed by another key (the log's key changed, or someone
    // else's) is refused loudly, until repinned on purpose.
    let impostor = SignerKey::from_seed(
        &cosigned.origin,
        pollwatch_ledger::KeyKind::Ed25519,
        [4; 32],
    )
    .unwrap();
    let bigger = AddCheckpoint {
        old_size: cosigned.size,
        proof: vec![],
        checkpoint: Checkpoint::new(&cosigned.origin, cosigned.size + 1, [1; 32])
            .sign(&impostor)
            .unwrap(),
    };
    std::fs::write(&req, bigger.to_text()).unwrap();
    let (code, _, err) = run(pollwatch(&there).args([
        "witness",
        "cosign",
        "--group",
        "tazalyq",
        "--request",
        &req.display().to_string(),
        "--out",
        &cos.display().to_string(),
        "--keys",
        &keys_there,
    ]));
    assert_ne!(code, 0);
    assert!(err.contains("pinned key"), "{err}");
}

#[tokio::test]
async fn the_server_signs_checkpoints_and_neighbours_cosign_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pollwatch.db");
    ok(
        &db,
        &[
            "demo",
            "--no-serve",
            "--files",
            &dir.path().join("demo").display().to_string(),
        ],
    );
    ok(&db, &["key", "create", "--group", "ashyq-dauys"]);
    ok(&db, &["key", "create", "--group", "adal-sanaq"]);
    ok(
        &db,
        &[
            "witness",
            "pair",
            "--group",
            "ashyq-dauys",
            "--with",
            "adal-sanaq",
        ],
    );
    let (_server, addr) = spawn_server_with(&db, "serve", &[]);
    let client = common::http_client();
    // The public checkpoint of a group: signed by the log and cosigned by
    // its neighbour, within the server's first rounds.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let note = loop {
        let res = client
            .get(format!("{addr}/groups/ashyq-dauys/checkpoint"))
            .send()
            .await
            .unwrap();
        if res.status() == 200 {
            let text = res.text().await.unwrap();
            if text.matches("\n\u{2014} ").count() >= 2 {
                break text;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no cosigned checkpoint from the server"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let shown = ok(&db, &["key", "show", "--group", "ashyq-dauys"]);
    let log_key = shown
        .lines()
        .find(|l| l.starts_with("log"))
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap();
    let witness = ok(&db, &["key", "show", "--group", "adal-sanaq"]);
    let witness_key = witness
        .lines()
        .find(|l| l.starts_with("witness"))
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap();
    let v = verify_checkpoint(
        note.as_bytes(),
        &VerifierKey::parse(log_key).unwrap(),
        &[VerifierKey::parse(witness_key).unwrap()],
    )
    .unwrap();
    assert_eq!(v.signatures.verified.len(), 2, "{note}");
    // A group without keys has no checkpoint, and says so.
    let res = client
        .get(format!("{addr}/groups/birge/checkpoint"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

/// The station numbers a manifest file announces.
fn announced(path: &Path) -> std::collections::BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("station "))
        .map(|l| l.split(' ').next().unwrap().to_owned())
        .collect()
}

/// Two groups that never coordinate exchange coverage manifests by file:
/// the combined coverage is the union of their stations, a changed byte
/// or a changed key is refused (the key only on purpose), a newer
/// manifest replaces the older, and a third group takes in what the
/// others share on the instance.
#[test]
fn coverage_manifests_combine_and_refuse_tampering_and_new_keys() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("pollwatch.db");
    ok(&db, &["demo", "--no-serve"]);
    for g in ["ashyq-dauys", "adal-sanaq"] {
        ok(&db, &["key", "create", "--group", g]);
    }
    let a = dir.path().join("ashyq.manifest");
    let b = dir.path().join("adal.manifest");
    let export = |group: &str, out: &Path, extra: &[&str]| {
        let mut args = vec!["coverage", "export", "--group", group, "--out"];
        let out = out.display().to_string();
        args.push(&out);
        args.extend_from_slice(extra);
        ok(&db, &args)
    };
    export(
        "ashyq-dauys",
        &a,
        &["--window", "07:00-13:00", "--window", "14:00-20:00"],
    );
    export("adal-sanaq", &b, &[]);
    let text = std::fs::read_to_string(&a).unwrap();
    assert!(
        text.starts_with("pollwatch coverage manifest v1\n"),
        "{text}"
    );
    assert!(!text.contains("Барыс"), "no observer's code name: {text}");
    let (ours, theirs) = (announced(&b), announced(&a));
    assert!(!ours.is_empty() && !theirs.is_empty());

    let import = |file: &Path, extra: &[&str]| {
        let f = file.display().to_string();
        let mut args = vec!["coverage", "import", "--group", "adal-sanaq", f.as_str()];
        args.extend_from_slice(extra);
        run(pollwatch(&db).args(&args))
    };
    let (code, _, err) = import(&a, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("pinned on first use"), "{err}");

    // The combined coverage, against the union computed here.
    let csv_out = dir.path().join("combined.csv");
    let shown = ok(
        &db,
        &[
            "coverage",
            "show",
            "--group",
            "adal-sanaq",
            "--out",
            &csv_out.display().to_string(),
        ],
    );
    let mut r = csv::Reader::from_path(&csv_out).unwrap();
    let rows: Vec<(String, String)> = r
        .records()
        .map(|r| {
            let r = r.unwrap();
            (r[0].to_owned(), r[2].to_owned())
        })
        .collect();
    let covered: std::collections::BTreeSet<String> = rows
        .iter()
        .filter(|(_, c)| c != "gap")
        .map(|(s, _)| s.clone())
        .collect();
    let union: std::collections::BTreeSet<String> = ours.union(&theirs).cloned().collect();
    assert_eq!(covered, union, "combined coverage is the union");
    let both: Vec<&String> = rows
        .iter()
        .filter(|(_, c)| c == "both")
        .map(|(s, _)| s)
        .collect();
    assert_eq!(both.len(), ours.intersection(&theirs).count());
    let gaps = rows.iter().filter(|(_, c)| c == "gap").count();
    assert_eq!(gaps, 616 - union.len(), "the gaps nobody covers");
    assert!(
        shown.contains(&format!("616 stations: {} covered", union.len())),
        "{shown}"
    );

    // Re-planned around them: nobody goes where the other group is.
    let homes = dir.path().join("homes.csv");
    let near: Vec<&String> = theirs.iter().take(3).collect();
    std::fs::write(
        &homes,
        format!(
            "code_name,home_station\nА-1,{}\nА-2,{}\nА-3,{}\n",
            near[0], near[1], near[2]
        ),
    )
    .unwrap();
    let plan = dir.path().join("plan.csv");
    let (code, _, err) = run(pollwatch(&db).args([
        "plan",
        "nearest",
        "--group",
        "adal-sanaq",
        "--homes",
        &homes.display().to_string(),
        "--out",
        &plan.display().to_string(),
        "--around-others",
    ]));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(&format!("{} stations they cover left out", theirs.len())),
        "{err}"
    );
    let mut r = csv::Reader::from_path(&plan).unwrap();
    let placed: Vec<String> = r.records().map(|r| r.unwrap()[1].to_owned()).collect();
    assert_eq!(
        placed.len(),
        3,
        "each placed, though living by their stations"
    );
    assert!(placed.iter().all(|s| !theirs.contains(s)), "{placed:?}");

    // The published report counts it too, naming the group, not observers.
    let site = dir.path().join("site");
    ok(
        &db,
        &[
            "report",
            "--group",
            "adal-sanaq",
            "--out",
            &site.display().to_string(),
        ],
    );
    let page = std::fs::read_to_string(site.join("ru/coverage.html")).unwrap();
    assert!(page.contains("Вместе с другими группами"), "{page}");
    assert!(page.contains("Ашық дауыс (Open Voice)"), "names the group");
    assert!(
        page.contains(&format!("<dd>{} / 616</dd>", union.len())),
        "covered by anyone"
    );

    // Any changed byte of the manifest is refused, and changes nothing.
    let tampered = dir.path().join("tampered.manifest");
    let first_station = theirs.iter().next().unwrap();
    std::fs::write(
        &tampered,
        text.replacen(
            &format!("station {first_station} "),
            &format!("station {first_station}0 "),
            1,
        ),
    )
    .unwrap();
    let (code, _, err) = import(&tampered, &[]);
    assert_ne!(code, 0);
    assert!(err.contains("REFUSED"), "{err}");
    let mut flipped = text.clone().into_bytes();
    let at = text.find("issued-at ").unwrap() + "issued-at ".len();
    flipped[at] = if flipped[at] == b'9' { b'8' } else { b'9' };
    std::fs::write(&tampered, &flipped).unwrap();
    let (code, _, err) = import(&tampered, &[]);
    assert_ne!(code, 0, "{err}");

    // A manifest signed by a changed key is refused loudly, then accepted
    // on purpose, and being newer it replaces the old one.
    ok(&db, &["key", "rotate", "--group", "ashyq-dauys"]);
    std::thread::sleep(Duration::from_millis(1100));
    export("ashyq-dauys", &a, &[]);
    let (code, _, err) = import(&a, &[]);
    assert_ne!(code, 0);
    assert!(err.contains("is pinned for that group: refused"), "{err}");
    assert!(err.contains("--accept-new-key"), "says how: {err}");
    let (code, _, err) = import(&a, &["--accept-new-key"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("NEW key accepted"), "{err}");
    // The old manifest, older, changes nothing now.
    std::fs::write(&tampered, &text).unwrap();
    let (code, _, err) = import(&tampered, &["--accept-new-key"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("not newer"), "{err}");

    // Within the instance: shared by one group, taken in by another.
    export("adal-sanaq", &b, &["--share"]);
    let (code, _, err) =
        run(pollwatch(&db).args(["coverage", "import", "--group", "birge", "--shared"]));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Адал санақ"), "{err}");
    let shown = ok(&db, &["coverage", "show", "--group", "birge"]);
    assert!(
        shown.contains(r#"manifest of "Адал санақ (Honest Count)""#),
        "{shown}"
    );
}
