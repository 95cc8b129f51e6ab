//! The store test suite: every backend runs all of it, on a fresh database
//! per test, through [`store_suite!`](crate::store_suite). A behaviour of the
//! store is specified here once, so SQLite and PostgreSQL cannot drift.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use futures::future::join_all;
use pollwatch_domain::{
    ClientId, CodeName, EventKind, Language, NewEvent, Role, RowId, Slug, Station, StationKind,
    StationNumber, StationRecord, Timestamp,
};

use crate::{
    BlobInfo, NewBlob, NewObserver, NewUser, Principal, Session, StationImport, Store, StoreError,
};

/// Expand to one `#[tokio::test]` per suite function. `$make` is an async fn
/// returning `Option<(Arc<dyn Store>, Guard)>`: `None` skips (it must print
/// why), and the guard drops the test database when the test ends.
#[macro_export]
macro_rules! store_suite {
    ($make:path) => {
        $crate::store_suite!(@each $make;
            registry_import_is_all_or_nothing_and_idempotent,
            registry_update_records_changes,
            names_are_unique,
            enrolment_codes_work_once,
            sessions_expire_and_end,
            events_append_and_read_back,
            retry_with_same_content_stores_nothing_new,
            concurrent_retries_store_one_event,
            retry_with_other_content_is_a_conflict,
            groups_cannot_read_each_other,
            supersedes_must_name_own_group_event,
            assignments_are_idempotent_and_group_bound,
            many_appends_all_durable_in_order,
            official_results_round_trip_once,
            evidence_blobs_are_recorded_once_per_group
        );
    };
    (@each $make:path; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some((store, _guard)) = $make().await else { return };
                $crate::suite::$name(store).await;
            }
        )*
    };
}

const T0: Timestamp = Timestamp(1_773_514_800_000); // 2026-03-15 00:00 +05:00

pub fn record(number: &str, district: &str, voters: u32) -> StationRecord {
    StationRecord {
        number: StationNumber::parse(number).unwrap(),
        name: format!("Школа № {number}"),
        address: format!("ул. Абая, {number}"),
        district: district.into(),
        registered_voters: voters,
        coordinates: None,
        kind: StationKind::Regular,
        accessibility: vec![],
    }
}

struct Fixture {
    stations: Vec<Station>,
    group_a: RowId,
    group_b: RowId,
    observer_a: RowId,
    observer_b: RowId,
}

async fn fixture(store: &dyn Store) -> Fixture {
    let election = store
        .ensure_election(&Slug::parse("test-2026").unwrap(), "Test", "2026-03-15")
        .await
        .unwrap();
    store
        .import_stations(StationImport {
            election_id: election.id,
            source: "test".into(),
            sha256: "00".into(),
            records: vec![
                record("1", "Медеуский", 1200),
                record("2", "Медеуский", 900),
                record("3", "Әуезов", 1500),
            ],
            dry_run: false,
            at: T0,
        })
        .await
        .unwrap();
    let stations = store.stations(election.id).await.unwrap();
    let group_a = store
        .create_group(&Slug::parse("group-a").unwrap(), "A", T0)
        .await
        .unwrap()
        .id;
    let group_b = store
        .create_group(&Slug::parse("group-b").unwrap(), "B", T0)
        .await
        .unwrap()
        .id;
    let observer = |g, name: &str| NewObserver {
        group_id: g,
        code_name: CodeName::parse(name).unwrap(),
        language: Language::Ru,
        contact: None,
    };
    let observer_a = store
        .create_observer(observer(group_a, "Бүркіт-1"), T0)
        .await
        .unwrap()
        .id;
    let observer_b = store
        .create_observer(observer(group_b, "Sokol-1"), T0)
        .await
        .unwrap()
        .id;
    Fixture {
        stations,
        group_a,
        group_b,
        observer_a,
        observer_b,
    }
}

fn client_id(n: u8) -> ClientId {
    ClientId::from_bytes([n; 16])
}

fn headcount(f: &Fixture, id: ClientId, counted: u32) -> NewEvent {
    NewEvent {
        client_id: id,
        group_id: f.group_a,
        observer_id: Some(f.observer_a),
        station_id: Some(f.stations[0].id),
        kind: EventKind::Headcount,
        payload: serde_json::json!({ "counted": counted }),
        observed_at: Timestamp(T0.0 + 9 * 3600 * 1000),
        supersedes: None,
    }
}

pub async fn registry_import_is_all_or_nothing_and_idempotent(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    assert_eq!(f.stations.len(), 3);
    assert_eq!(f.stations[0].record.number.as_str(), "1");
    assert_eq!(f.stations[2].record.district, "Әуезов");
    let election = store
        .election(&Slug::parse("test-2026").unwrap())
        .await
        .unwrap()
        .unwrap();
    let same = StationImport {
        election_id: election.id,
        source: "again".into(),
        sha256: "00".into(),
        records: f.stations.iter().map(|s| s.record.clone()).collect(),
        dry_run: false,
        at: T0,
    };
    let report = store.import_stations(same.clone()).await.unwrap();
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (0, 0, 3)
    );
    assert_eq!(report.import_id, None, "a no-op import records nothing");

    // A dry run reports but writes nothing.
    let mut dry = same.clone();
    dry.records.push(record("4", "Алмалинский", 10));
    dry.dry_run = true;
    let report = store.import_stations(dry).await.unwrap();
    assert_eq!(report.created, 1);
    assert_eq!(store.stations(election.id).await.unwrap().len(), 3);
    assert_eq!(store.districts(election.id).await.unwrap().len(), 2);
}

pub async fn registry_update_records_changes(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let election_id = f.stations[0].election_id;
    let mut records: Vec<_> = f.stations.iter().map(|s| s.record.clone()).collect();
    records[1].registered_voters = 950;
    records[1].kind = StationKind::Open;
    records.push(record("10", "Алмалинский", 700));
    let report = store
        .import_stations(StationImport {
            election_id,
            source: "update".into(),
            sha256: "01".into(),
            records,
            dry_run: false,
            at: T0,
        })
        .await
        .unwrap();
    assert_eq!(
        (report.created, report.updated, report.unchanged),
        (1, 1, 2)
    );
    assert!(report.import_id.is_some());
    let fields: Vec<_> = report.changes.iter().map(|(_, c)| c.field).collect();
    assert!(fields.contains(&"registered_voters") && fields.contains(&"kind"));
    let two = store
        .station(election_id, &StationNumber::parse("2").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(two.record.registered_voters, 950);
    assert_eq!(two.record.kind, StationKind::Open);
    let all = store.stations(election_id).await.unwrap();
    let numbers: Vec<_> = all.iter().map(|s| s.record.number.as_str()).collect();
    assert_eq!(numbers, ["1", "2", "3", "10"], "natural order");
    assert_eq!(
        store.station_by_id(two.id).await.unwrap().unwrap().record,
        two.record
    );
}

pub async fn names_are_unique(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let err = store
        .create_group(&Slug::parse("group-a").unwrap(), "again", T0)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err}");
    let user = NewUser {
        group_id: Some(f.group_a),
        username: "coord-a".into(),
        role: Role::Coordinator,
        password_hash: "$argon2id$fake".into(),
    };
    let created = store.create_user(user.clone(), T0).await.unwrap();
    assert_eq!(created.role, Role::Coordinator);
    let err = store.create_user(user, T0).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err}");
    let (found, hash) = store.user_for_login("coord-a").await.unwrap().unwrap();
    assert_eq!((found.id, hash.as_str()), (created.id, "$argon2id$fake"));
    assert!(store.user_for_login("nobody").await.unwrap().is_none());

    // Code names are unique within a group; another group may reuse one.
    let again = NewObserver {
        group_id: f.group_a,
        code_name: CodeName::parse("Бүркіт-1").unwrap(),
        language: Language::Kk,
        contact: None,
    };
    let err = store.create_observer(again.clone(), T0).await.unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err}");
    let in_b = NewObserver {
        group_id: f.group_b,
        ..again
    };
    store.create_observer(in_b, T0).await.unwrap();
    assert_eq!(store.groups().await.unwrap().len(), 2);
}

pub async fn enrolment_codes_work_once(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let later = Timestamp(T0.0 + 3600 * 1000);
    store
        .create_enrolment_code("hash-1", f.group_a, f.observer_a, later, T0)
        .await
        .unwrap();
    // Many phones try one code at once: exactly one wins.
    let tries = (0..8).map(|_| store.redeem_enrolment_code("hash-1", T0));
    let wins: Vec<_> = join_all(tries)
        .await
        .into_iter()
        .map(|r| r.unwrap())
        .filter(Option::is_some)
        .collect();
    assert_eq!(wins, vec![Some((f.group_a, f.observer_a))]);
    store
        .create_enrolment_code("hash-2", f.group_a, f.observer_a, later, T0)
        .await
        .unwrap();
    assert_eq!(
        store.redeem_enrolment_code("hash-2", later).await.unwrap(),
        None,
        "expired"
    );
    assert_eq!(store.redeem_enrolment_code("nope", T0).await.unwrap(), None);
}

pub async fn sessions_expire_and_end(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let session = Session {
        token_hash: "tok".into(),
        principal: Principal::Observer {
            observer_id: f.observer_a,
            group_id: f.group_a,
        },
        csrf_token: "csrf".into(),
        expires_at: Timestamp(T0.0 + 1000),
    };
    store.create_session(&session, T0).await.unwrap();
    assert_eq!(store.session("tok", T0).await.unwrap(), Some(session));
    assert_eq!(
        store.session("tok", Timestamp(T0.0 + 1000)).await.unwrap(),
        None
    );
    store.delete_session("tok").await.unwrap();
    assert_eq!(store.session("tok", T0).await.unwrap(), None);
}

pub async fn events_append_and_read_back(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let a = store
        .append(headcount(&f, client_id(1), 100))
        .await
        .unwrap();
    assert!(a.created);
    let mut other_station = headcount(&f, client_id(2), 5);
    other_station.station_id = Some(f.stations[1].id);
    store.append(other_station).await.unwrap();
    let b = store
        .append(headcount(&f, client_id(3), 200))
        .await
        .unwrap();
    assert!(b.event.seq > a.event.seq);
    let at_first = store
        .events_for_station(f.group_a, f.stations[0].id)
        .await
        .unwrap();
    assert_eq!(at_first, vec![a.event.clone(), b.event.clone()]);
    let page = store.events(f.group_a, a.event.seq, 1).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].event.client_id, client_id(2));
    assert_eq!(store.event_count(f.group_a).await.unwrap(), 3);
    assert_eq!(
        store
            .event_by_client_id(f.group_a, &client_id(3))
            .await
            .unwrap(),
        Some(b.event)
    );
}

pub async fn retry_with_same_content_stores_nothing_new(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let first = store
        .append(headcount(&f, client_id(1), 100))
        .await
        .unwrap();
    // The same report, its JSON keys in another order, as a phone might resend it.
    let mut again = headcount(&f, client_id(1), 100);
    again.payload = serde_json::from_str(r#"{"counted":100}"#).unwrap();
    let second = store.append(again).await.unwrap();
    assert!(first.created && !second.created);
    assert_eq!(first.event, second.event);
    assert_eq!(store.event_count(f.group_a).await.unwrap(), 1);
}

pub async fn concurrent_retries_store_one_event(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    // 64 retries of one report race with 64 distinct reports.
    let retries = (0..64).map(|_| store.append(headcount(&f, client_id(7), 42)));
    let others = (0..64u8).map(|i| store.append(headcount(&f, client_id(100 + i), u32::from(i))));
    let (retried, other) = tokio::join!(join_all(retries), join_all(others));
    let retried: Vec<_> = retried.into_iter().map(|r| r.unwrap()).collect();
    assert_eq!(retried.iter().filter(|a| a.created).count(), 1);
    let seq = retried[0].event.seq;
    assert!(retried.iter().all(|a| a.event.seq == seq));
    assert!(other.into_iter().all(|r| r.unwrap().created));
    assert_eq!(store.event_count(f.group_a).await.unwrap(), 65);
}

pub async fn retry_with_other_content_is_a_conflict(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let first = store
        .append(headcount(&f, client_id(1), 100))
        .await
        .unwrap();
    let err = store
        .append(headcount(&f, client_id(1), 999))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConflictingRetry(_)), "{err}");
    let stored = store
        .event_by_client_id(f.group_a, &client_id(1))
        .await
        .unwrap();
    assert_eq!(stored, Some(first.event), "the original stands");
}

pub async fn groups_cannot_read_each_other(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    store
        .append(headcount(&f, client_id(1), 100))
        .await
        .unwrap();
    // Group B reuses the same client id: a separate event, not a conflict.
    let mut b = headcount(&f, client_id(1), 3);
    b.group_id = f.group_b;
    b.observer_id = Some(f.observer_b);
    assert!(store.append(b).await.unwrap().created);
    let station = f.stations[0].id;
    let seen_by_b = store.events_for_station(f.group_b, station).await.unwrap();
    assert_eq!(seen_by_b.len(), 1);
    assert_eq!(seen_by_b[0].event.payload["counted"], 3);
    assert_eq!(store.events(f.group_b, 0, 100).await.unwrap().len(), 1);
    assert!(
        store
            .observer(f.group_b, f.observer_a)
            .await
            .unwrap()
            .is_none()
    );
    let names: Vec<_> = store
        .observers(f.group_b)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.code_name.to_string())
        .collect();
    assert_eq!(names, ["Sokol-1"]);
}

pub async fn supersedes_must_name_own_group_event(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    store
        .append(headcount(&f, client_id(1), 100))
        .await
        .unwrap();
    let mut fix = headcount(&f, client_id(2), 110);
    fix.supersedes = Some(client_id(1));
    assert!(store.append(fix).await.unwrap().created);

    let mut foreign = headcount(&f, client_id(3), 1);
    foreign.group_id = f.group_b;
    foreign.observer_id = Some(f.observer_b);
    foreign.supersedes = Some(client_id(1));
    let err = store.append(foreign).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    assert_eq!(store.event_count(f.group_b).await.unwrap(), 0);
}

pub async fn assignments_are_idempotent_and_group_bound(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let s = f.stations[0].id;
    store.assign(f.group_a, f.observer_a, s).await.unwrap();
    store.assign(f.group_a, f.observer_a, s).await.unwrap();
    assert_eq!(store.assignments(f.group_a).await.unwrap().len(), 1);
    let err = store.assign(f.group_b, f.observer_a, s).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    assert!(store.assignments(f.group_b).await.unwrap().is_empty());
}

pub async fn many_appends_all_durable_in_order(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let n = 2000u32;
    let appends = (0..n).map(|i| {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&i.to_be_bytes());
        store.append(headcount(&f, ClientId::from_bytes(bytes), i))
    });
    let results: Vec<_> = join_all(appends).await;
    assert!(results.iter().all(|r| matches!(r, Ok(a) if a.created)));
    let stored = store.events(f.group_a, 0, i64::from(n) + 10).await.unwrap();
    assert_eq!(stored.len(), n as usize);
    assert!(stored.windows(2).all(|w| w[0].seq < w[1].seq));
}

pub async fn official_results_round_trip_once(store: Arc<dyn Store>) {
    use pollwatch_domain::results::{ObservedFigures, ResultSet, StationResult};
    let set = ResultSet {
        candidates: vec!["Alpha".into(), "Бета".into()],
        leader: 1,
        stations: (0..2500u64)
            .map(|i| StationResult {
                station: format!("Регион / {i}"),
                line: i as usize + 2,
                registered: 1000 + i,
                ballots_issued: 600,
                valid: 590,
                invalid: 10,
                votes: vec![200, 390],
            })
            .collect(),
        skipped_incomplete: 3,
    };
    let mut observed = ObservedFigures {
        station: "Регион / 7".into(),
        line: 9,
        headcount: Some(550),
        ..ObservedFigures::default()
    };
    observed.votes.insert("Бета".into(), 400);
    let import = crate::ResultImport {
        name: "Test".into(),
        source: "test".into(),
        file_name: "r.csv.gz".into(),
        sha256: "ab".into(),
        mapping: "name = 'Test'".into(),
        set: &set,
        observed: std::slice::from_ref(&observed),
        at: T0,
    };
    let (info, created) = store.import_results(import.clone()).await.unwrap();
    assert!(created);
    assert_eq!(info.stations, 2500);
    let (again, created) = store.import_results(import).await.unwrap();
    assert!(!created, "the same file and mapping store nothing new");
    assert_eq!(again.id, info.id);
    assert_eq!(store.result_imports().await.unwrap().len(), 1);
    let (back_info, back, back_observed) = store.result_set(info.id).await.unwrap().unwrap();
    assert_eq!(back_info, info);
    assert_eq!(back, set);
    assert_eq!(back_observed, vec![observed]);
    assert!(store.result_set(info.id + 100).await.unwrap().is_none());
}

pub async fn evidence_blobs_are_recorded_once_per_group(store: Arc<dyn Store>) {
    use pollwatch_domain::evidence::{BlobHash, MediaType};

    let f = fixture(&*store).await;
    let photo = BlobHash::of(b"a photo of the protocol");
    let new = |group_id, observer, at| NewBlob {
        group_id,
        sha256: photo.clone(),
        media_type: MediaType::Jpeg,
        size: 3_145_728,
        uploaded_by_observer: observer,
        received_at: Timestamp(T0.0 + at),
    };
    let (first, created) = store
        .record_blob(new(f.group_a, Some(f.observer_a), 1))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(
        first,
        BlobInfo {
            group_id: f.group_a,
            sha256: photo.clone(),
            media_type: MediaType::Jpeg,
            size: 3_145_728,
            uploaded_by_observer: Some(f.observer_a),
            received_at: Timestamp(T0.0 + 1),
        }
    );
    // A retry (even by staff, later) stores nothing and answers the first.
    let (again, created) = store.record_blob(new(f.group_a, None, 2)).await.unwrap();
    assert!(!created);
    assert_eq!(again, first);
    // Concurrent uploads of one photo: one row, one creator.
    let racing = join_all((0..8).map(|i| store.record_blob(new(f.group_a, None, 10 + i)))).await;
    assert!(
        racing
            .iter()
            .all(|r| r.as_ref().unwrap() == &(first.clone(), false))
    );
    assert_eq!(
        store.blob(f.group_a, &photo).await.unwrap().as_ref(),
        Some(&first)
    );

    // Another group does not see it...
    assert_eq!(store.blob(f.group_b, &photo).await.unwrap(), None);
    // ...and its own upload of the same bytes is its own record.
    let (theirs, created) = store
        .record_blob(new(f.group_b, Some(f.observer_b), 5))
        .await
        .unwrap();
    assert!(created);
    assert_eq!(theirs.group_id, f.group_b);
    assert_eq!(theirs.uploaded_by_observer, Some(f.observer_b));
    assert_eq!(store.blob(f.group_a, &photo).await.unwrap(), Some(first));
    assert_eq!(
        store
            .blob(f.group_a, &BlobHash::of(b"never uploaded"))
            .await
            .unwrap(),
        None
    );
}
