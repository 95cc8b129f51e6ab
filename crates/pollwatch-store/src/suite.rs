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
    BlobInfo, NewBlob, NewObserver, NewPlan, NewSmsIn, NewUser, Principal, Session, SessionLookup,
    SessionOwner, SessionUse, StationImport, StationQuery, Store, StoreError,
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
            assignment_changes_commit_with_their_log_events,
            a_failed_reassignment_changes_nothing,
            observers_are_paged_and_found_where_they_are,
            many_appends_all_durable_in_order,
            each_group_numbers_its_own_log,
            a_batch_may_correct_its_own_reports,
            one_refused_report_does_not_sink_its_batch,
            only_the_author_corrects_a_report,
            a_failed_import_stores_nothing,
            sessions_are_listed_revoked_and_purged,
            the_write_probe_leaves_nothing,
            official_results_round_trip_once,
            forensics_are_kept_once_per_version,
            evidence_blobs_are_recorded_once_per_group,
            stations_are_paged_filtered_and_found_by_word,
            the_evidence_tree_grows_by_compare_and_set,
            keys_checkpoints_and_cosignatures_are_kept,
            a_witness_pins_keys_and_advances_once,
            coverage_manifests_pin_keys_and_keep_the_newest,
            homes_and_plans_stay_with_their_group,
            sms_is_kept_once_and_stays_with_its_group
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

    // A roster is enlisted whole or not at all: one taken code name
    // refuses it, and nothing of it (observers, assignments) stays.
    let newcomer = |name: &str| NewObserver {
        group_id: f.group_a,
        code_name: CodeName::parse(name).unwrap(),
        language: Language::Ru,
        contact: None,
    };
    let station = f.stations[0].id;
    let before = store.observers(f.group_a).await.unwrap().len();
    let err = store
        .enlist_observers(
            f.group_a,
            vec![
                (newcomer("Sova-1"), vec![station]),
                (newcomer("Бүркіт-1"), vec![station]),
            ],
            T0,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::AlreadyExists(_)), "{err}");
    assert_eq!(store.observers(f.group_a).await.unwrap().len(), before);
    let made = store
        .enlist_observers(
            f.group_a,
            vec![
                (newcomer("Sova-1"), vec![station]),
                (newcomer("Sova-2"), vec![]),
            ],
            T0,
        )
        .await
        .unwrap();
    assert_eq!(made.len(), 2);
    assert!(made[0].id < made[1].id, "row ids in roster order");
    assert!(
        store
            .is_assigned(f.group_a, made[0].id, station)
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_assigned(f.group_a, made[1].id, station)
            .await
            .unwrap()
    );
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

fn session(id: &str, principal: Principal, expires_at: i64) -> Session {
    Session {
        id: id.into(),
        token_hash: format!("tok-{id}"),
        principal,
        csrf_token: "csrf".into(),
        expires_at: Timestamp(expires_at),
        device: String::new(),
        created_at: T0,
        last_seen_at: T0,
    }
}

pub async fn sessions_expire_and_end(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let s = session(
        "a",
        Principal::Observer {
            observer_id: f.observer_a,
            group_id: f.group_a,
        },
        T0.0 + 1000,
    );
    store.create_session(&s, T0).await.unwrap();
    assert_eq!(
        store.session("tok-a", T0).await.unwrap(),
        SessionLookup::Live(s)
    );
    assert_eq!(
        store
            .session("tok-a", Timestamp(T0.0 + 1000))
            .await
            .unwrap(),
        SessionLookup::Expired
    );
    store.delete_session("tok-a").await.unwrap();
    assert_eq!(
        store.session("tok-a", T0).await.unwrap(),
        SessionLookup::Missing
    );
}

pub async fn sessions_are_listed_revoked_and_purged(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let phone = |id: &str, observer_id, group_id| {
        session(
            id,
            Principal::Observer {
                observer_id,
                group_id,
            },
            T0.0 + 10_000,
        )
    };
    let owner_a = SessionOwner::Observer {
        group_id: f.group_a,
        observer_id: f.observer_a,
    };
    for s in [
        phone("p1", f.observer_a, f.group_a),
        phone("p2", f.observer_a, f.group_a),
        phone("p3", f.observer_a, f.group_a),
        phone("q1", f.observer_b, f.group_b),
    ] {
        store.create_session(&s, T0).await.unwrap();
    }
    let listed = store.sessions_of(owner_a, T0).await.unwrap();
    assert_eq!(listed.len(), 3);
    // Another group's coordinator naming our observer reaches nothing.
    let wrong_group = SessionOwner::Observer {
        group_id: f.group_b,
        observer_id: f.observer_a,
    };
    assert!(store.sessions_of(wrong_group, T0).await.unwrap().is_empty());
    assert_eq!(
        store
            .revoke_sessions(wrong_group, None, None, T0)
            .await
            .unwrap(),
        0
    );

    // The last use is recorded, and the device label kept from the first.
    let seen = |hash: &str, at: i64, device: &str| SessionUse {
        token_hash: hash.to_owned(),
        at: Timestamp(T0.0 + at),
        device: device.to_owned(),
    };
    store
        .touch_sessions(&[seen("tok-p1", 500, "Chrome on Android")])
        .await
        .unwrap();
    // A batch: a later use moves last-seen on, an earlier one (a batch
    // that arrives late) does not move it back, and the first device
    // label stays; an unknown token is ignored, not an error.
    store
        .touch_sessions(&[
            seen("tok-p1", 600, "Firefox on Linux"),
            seen("tok-p1", 550, "Firefox on Linux"),
            seen("no-such-token", 600, "Firefox on Linux"),
        ])
        .await
        .unwrap();
    store.touch_sessions(&[]).await.unwrap();
    let SessionLookup::Live(p1) = store.session("tok-p1", T0).await.unwrap() else {
        panic!("p1 is live")
    };
    assert_eq!(p1.device, "Chrome on Android");
    assert_eq!(p1.last_seen_at, Timestamp(T0.0 + 600));

    // One device, then all but one, then all.
    assert_eq!(
        store
            .revoke_sessions(owner_a, Some("p2"), None, T0)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.session("tok-p2", T0).await.unwrap(),
        SessionLookup::Revoked
    );
    assert_eq!(
        store
            .revoke_sessions(owner_a, None, Some("p1"), T0)
            .await
            .unwrap(),
        1,
        "p3 revoked, p1 spared, p2 already revoked"
    );
    assert!(matches!(
        store.session("tok-p1", T0).await.unwrap(),
        SessionLookup::Live(_)
    ));
    assert_eq!(store.sessions_of(owner_a, T0).await.unwrap().len(), 1);
    assert!(
        !store.revoke_staff_session("p1", T0).await.unwrap(),
        "an observer's phone is not a staff session"
    );
    assert_eq!(
        store
            .revoke_sessions(owner_a, Some("p1"), None, T0)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.session("tok-p1", T0).await.unwrap(),
        SessionLookup::Revoked
    );
    // Group b's phone is untouched by all of it.
    assert!(matches!(
        store.session("tok-q1", T0).await.unwrap(),
        SessionLookup::Live(_)
    ));

    // Expired sessions, revoked or not, are deleted.
    let purged = store.purge_expired(Timestamp(T0.0 + 10_000)).await.unwrap();
    assert!(purged >= 4, "{purged}");
    assert_eq!(
        store.session("tok-q1", T0).await.unwrap(),
        SessionLookup::Missing
    );
    assert_eq!(
        store.session("tok-p2", T0).await.unwrap(),
        SessionLookup::Missing
    );
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
        .events_for_station(f.group_a, f.stations[0].id, None, 0, 100)
        .await
        .unwrap();
    assert_eq!(at_first, vec![a.event.clone(), b.event.clone()]);
    let after_a = store
        .events_for_station(f.group_a, f.stations[0].id, None, a.event.seq, 1)
        .await
        .unwrap();
    assert_eq!(after_a, vec![b.event.clone()], "paged by log position");
    let others = store
        .events_for_station(
            f.group_a,
            f.stations[0].id,
            Some(f.observer_a + 1000),
            0,
            100,
        )
        .await
        .unwrap();
    assert!(others.is_empty(), "only the named observer's");
    let newest = store
        .station_events_before(f.group_a, f.stations[0].id, i64::MAX, 1)
        .await
        .unwrap();
    assert_eq!(newest, vec![b.event.clone()]);
    let older = store
        .station_events_before(f.group_a, f.stations[0].id, b.event.seq, 10)
        .await
        .unwrap();
    assert_eq!(older, vec![a.event.clone()]);
    assert!(
        store
            .station_events_before(f.group_b, f.stations[0].id, i64::MAX, 10)
            .await
            .unwrap()
            .is_empty(),
        "another group's events are not this group's"
    );
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
    let seen_by_b = store
        .events_for_station(f.group_b, station, None, 0, 100)
        .await
        .unwrap();
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
    // Read by id, another group's observer stays out of the answer.
    let by_id: Vec<_> = store
        .observers_by_id(f.group_b, &[f.observer_a, f.observer_b, 999_999])
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.code_name.to_string())
        .collect();
    assert_eq!(by_id, ["Sokol-1"]);
    assert!(
        store
            .observers_by_id(f.group_b, &vec![f.observer_b; crate::MAX_IDS_PER_READ + 1])
            .await
            .is_err(),
        "a read is bounded"
    );
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

pub async fn each_group_numbers_its_own_log(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    for i in 0..3 {
        store.append(headcount(&f, client_id(i), 1)).await.unwrap();
    }
    let mut theirs = headcount(&f, client_id(50), 1);
    theirs.group_id = f.group_b;
    theirs.observer_id = Some(f.observer_b);
    let stored = store.append(theirs).await.unwrap();
    assert_eq!(
        stored.event.seq, 1,
        "group b's log starts at 1, whatever a has"
    );
    let ours: Vec<i64> = store
        .events(f.group_a, 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(ours, [1, 2, 3]);
    // A retry keeps its number and takes none.
    let again = store.append(headcount(&f, client_id(1), 1)).await.unwrap();
    assert_eq!((again.created, again.event.seq), (false, 2));
    let next = store.append(headcount(&f, client_id(9), 1)).await.unwrap();
    assert_eq!(next.event.seq, 4);
    assert_eq!(store.events(f.group_a, 2, 10).await.unwrap().len(), 2);
}

pub async fn a_batch_may_correct_its_own_reports(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let first = headcount(&f, client_id(1), 100);
    let mut fix = headcount(&f, client_id(2), 110);
    fix.supersedes = Some(client_id(1));
    let mut fix_of_fix = headcount(&f, client_id(3), 111);
    fix_of_fix.supersedes = Some(client_id(2));
    let out = store
        .append_many(vec![first, fix, fix_of_fix])
        .await
        .unwrap();
    let seqs: Vec<i64> = out.iter().map(|r| r.as_ref().unwrap().event.seq).collect();
    assert_eq!(seqs, [1, 2, 3]);
    // Correcting something neither stored nor earlier in the batch fails.
    let mut dangling = headcount(&f, client_id(5), 1);
    dangling.supersedes = Some(client_id(4));
    let later = headcount(&f, client_id(4), 1);
    let out = store.append_many(vec![dangling, later]).await.unwrap();
    assert!(
        matches!(out[0], Err(StoreError::NotFound(_))),
        "a correction must come after what it corrects: {:?}",
        out[0]
    );
    assert!(out[1].as_ref().unwrap().created);
}

pub async fn one_refused_report_does_not_sink_its_batch(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    store
        .append(headcount(&f, client_id(1), 100))
        .await
        .unwrap();
    let mut conflicting = headcount(&f, client_id(1), 999);
    conflicting.payload = serde_json::json!({ "counted": 999 });
    let mut dangling = headcount(&f, client_id(3), 1);
    dangling.supersedes = Some(client_id(77));
    let mut not_yours = headcount(&f, client_id(4), 1);
    not_yours.observer_id = Some(f.observer_a + 1000);
    not_yours.supersedes = Some(client_id(1));
    let out = store
        .append_many(vec![
            headcount(&f, client_id(2), 200),
            conflicting,
            dangling,
            not_yours,
            headcount(&f, client_id(5), 500),
            headcount(&f, client_id(5), 500),
        ])
        .await
        .unwrap();
    assert!(out[0].as_ref().unwrap().created);
    assert!(matches!(out[1], Err(StoreError::ConflictingRetry(_))));
    assert!(matches!(out[2], Err(StoreError::NotFound(_))));
    assert!(matches!(out[3], Err(StoreError::Forbidden(_))));
    assert!(out[4].as_ref().unwrap().created);
    let dup = out[5].as_ref().unwrap();
    assert!(!dup.created, "a second copy in one batch is a retry");
    assert_eq!(dup.event.seq, out[4].as_ref().unwrap().event.seq);
    let stored: Vec<u64> = store
        .events(f.group_a, 0, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.event.payload["counted"].as_u64().unwrap())
        .collect();
    assert_eq!(
        stored,
        [100, 200, 500],
        "gap-free: refused reports take no number"
    );
}

pub async fn only_the_author_corrects_a_report(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let other = store
        .create_observer(
            NewObserver {
                group_id: f.group_a,
                code_name: CodeName::parse("Sokol-7").unwrap(),
                language: Language::Ru,
                contact: None,
            },
            T0,
        )
        .await
        .unwrap();
    store
        .append(headcount(&f, client_id(1), 100))
        .await
        .unwrap();
    let mut hijack = headcount(&f, client_id(2), 1);
    hijack.observer_id = Some(other.id);
    hijack.supersedes = Some(client_id(1));
    let err = store.append(hijack).await.unwrap_err();
    assert!(matches!(err, StoreError::Forbidden(_)), "{err}");
    // Staff (no observer) cannot quietly overwrite an observer's report either.
    let mut staff = headcount(&f, client_id(3), 1);
    staff.observer_id = None;
    staff.supersedes = Some(client_id(1));
    assert!(matches!(
        store.append(staff).await.unwrap_err(),
        StoreError::Forbidden(_)
    ));
    let mut own = headcount(&f, client_id(4), 101);
    own.supersedes = Some(client_id(1));
    assert!(store.append(own).await.unwrap().created);
    assert_eq!(store.event_count(f.group_a).await.unwrap(), 2);
}

pub async fn a_failed_import_stores_nothing(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let election = store
        .election(&Slug::parse("test-2026").unwrap())
        .await
        .unwrap()
        .unwrap();
    let before = store.stations(election.id).await.unwrap();
    // A new district and a new station are written first; the duplicate
    // number then fails inside the same transaction.
    let mut records: Vec<StationRecord> = f.stations.iter().map(|s| s.record.clone()).collect();
    records[0].name = "Changed".into();
    records.push(record("40", "Новый район", 10));
    records.push(record("41", "Новый район", 10));
    records.push(record("41", "Новый район", 11));
    let err = store
        .import_stations(StationImport {
            election_id: election.id,
            source: "broken".into(),
            sha256: "ff".into(),
            records,
            dry_run: false,
            at: T0,
        })
        .await;
    assert!(
        err.is_err(),
        "a duplicate station number must fail the import"
    );
    assert_eq!(store.stations(election.id).await.unwrap(), before);
    assert_eq!(store.districts(election.id).await.unwrap().len(), 2);
    // And the store still writes afterwards (the connection was not left
    // inside a dead transaction).
    assert!(
        store
            .append(headcount(&f, client_id(1), 1))
            .await
            .unwrap()
            .created
    );
    assert_eq!(store.events(f.group_a, 0, 10).await.unwrap().len(), 1);
}

pub async fn the_write_probe_leaves_nothing(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    for _ in 0..3 {
        store.probe_write().await.unwrap();
    }
    assert_eq!(store.event_count(f.group_a).await.unwrap(), 0);
}

/// Everything acknowledged is there for another connection after the store
/// that wrote it is gone. `reopen` opens the same database afresh.
pub async fn acknowledged_reports_survive_reopening(
    store: Arc<dyn Store>,
    reopen: impl std::future::Future<Output = Arc<dyn Store>>,
) {
    let f = fixture(&*store).await;
    let n = 500u32;
    let appends = (0..n).map(|i| {
        let mut bytes = [0u8; 16];
        bytes[..4].copy_from_slice(&i.to_be_bytes());
        store.append(headcount(&f, ClientId::from_bytes(bytes), i))
    });
    let acked = join_all(appends)
        .await
        .into_iter()
        .filter(|r| r.is_ok())
        .count();
    assert_eq!(acked, n as usize);
    drop(store);
    let again = reopen.await;
    let stored = again.events(f.group_a, 0, 10_000).await.unwrap();
    assert_eq!(
        stored.len(),
        acked,
        "every acknowledged report is in the file"
    );
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

pub async fn forensics_are_kept_once_per_version(store: Arc<dyn Store>) {
    use pollwatch_domain::results::{ResultSet, StationResult};
    let set = ResultSet {
        candidates: vec!["Alpha".into()],
        leader: 0,
        stations: vec![StationResult {
            station: "1".into(),
            line: 2,
            registered: 1000,
            ballots_issued: 600,
            valid: 590,
            invalid: 10,
            votes: vec![590],
        }],
        skipped_incomplete: 0,
    };
    let (info, _) = store
        .import_results(crate::ResultImport {
            name: "Test".into(),
            source: "test".into(),
            file_name: "r.csv".into(),
            sha256: "cd".into(),
            mapping: "name = 'Test'".into(),
            set: &set,
            observed: &[],
            at: T0,
        })
        .await
        .unwrap();
    assert_eq!(
        store.result_import(info.id).await.unwrap(),
        Some(info.clone())
    );
    assert_eq!(store.result_import(info.id + 100).await.unwrap(), None);

    assert_eq!(store.forensics(info.id, 1).await.unwrap(), None);
    store
        .store_forensics(info.id, 1, r#"{"stations":1}"#, T0)
        .await
        .unwrap();
    // A second server that computed it meanwhile: the first report stays.
    store
        .store_forensics(info.id, 1, r#"{"stations":2}"#, T0)
        .await
        .unwrap();
    assert_eq!(
        store.forensics(info.id, 1).await.unwrap().as_deref(),
        Some(r#"{"stations":1}"#)
    );
    // Another version of the analysis has its own report, or none yet.
    assert_eq!(store.forensics(info.id, 2).await.unwrap(), None);
    store
        .store_forensics(info.id, 2, r#"{"stations":3}"#, T0)
        .await
        .unwrap();
    assert_eq!(
        store.forensics(info.id, 2).await.unwrap().as_deref(),
        Some(r#"{"stations":3}"#)
    );
    assert_eq!(
        store.forensics(info.id, 1).await.unwrap().as_deref(),
        Some(r#"{"stations":1}"#)
    );
    // Only a stored result has a report.
    assert!(
        store
            .store_forensics(info.id + 100, 1, "{}", T0)
            .await
            .is_err()
    );
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

/// A coordinator's assignment change as the server writes it.
fn assignment(group_id: RowId, observer: RowId, station: RowId, change: &str, n: u8) -> NewEvent {
    NewEvent {
        client_id: client_id(n),
        group_id,
        observer_id: None,
        station_id: Some(station),
        kind: EventKind::Assignment,
        payload: serde_json::json!({
            "observer": observer, "station": station, "change": change, "by": "coord"
        }),
        observed_at: T0,
        supersedes: None,
    }
}

pub async fn assignment_changes_commit_with_their_log_events(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let (a, b) = (f.stations[0].id, f.stations[1].id);
    let g = f.group_a;
    let o = f.observer_a;
    let done = store
        .change_assignments(g, vec![assignment(g, o, a, "assign", 1)])
        .await
        .unwrap();
    let first = done[0].clone().expect("a change is logged");
    assert_eq!(first.seq, 1);
    assert_eq!(first.event.kind, EventKind::Assignment);
    assert_eq!(first.event.payload["by"], "coord");
    assert!(store.is_assigned(g, o, a).await.unwrap());
    // Already so: nothing written, in the table or the log.
    let again = store
        .change_assignments(g, vec![assignment(g, o, a, "assign", 2)])
        .await
        .unwrap();
    assert_eq!(again, vec![None]);
    // A retry of the same event after a lost answer changes nothing twice.
    let retry = store
        .change_assignments(g, vec![assignment(g, o, a, "assign", 1)])
        .await
        .unwrap();
    assert_eq!(retry, vec![None]);
    assert_eq!(store.event_count(g).await.unwrap(), 1);
    // A move: off A, onto B, both logged in order in one call.
    let moved = store
        .change_assignments(
            g,
            vec![
                assignment(g, o, a, "unassign", 3),
                assignment(g, o, b, "assign", 4),
            ],
        )
        .await
        .unwrap();
    assert_eq!(
        moved
            .iter()
            .map(|e| e.as_ref().map(|e| e.seq))
            .collect::<Vec<_>>(),
        vec![Some(2), Some(3)]
    );
    assert!(!store.is_assigned(g, o, a).await.unwrap());
    assert!(store.is_assigned(g, o, b).await.unwrap());
    let off_again = store
        .change_assignments(g, vec![assignment(g, o, a, "unassign", 5)])
        .await
        .unwrap();
    assert_eq!(off_again, vec![None]);
    let log = store.events(g, 0, 10).await.unwrap();
    let changes: Vec<_> = log
        .iter()
        .map(|e| (e.event.payload["change"].clone(), e.event.station_id))
        .collect();
    assert_eq!(
        changes,
        vec![
            (serde_json::json!("assign"), Some(a)),
            (serde_json::json!("unassign"), Some(a)),
            (serde_json::json!("assign"), Some(b)),
        ]
    );
    // Another group's observer is not to be had, and nothing is written.
    let err = store
        .change_assignments(f.group_b, vec![assignment(f.group_b, o, a, "assign", 6)])
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    assert!(store.assignments(f.group_b).await.unwrap().is_empty());
    assert_eq!(store.event_count(f.group_b).await.unwrap(), 0);
    // An event that is not an assignment of this group is refused whole.
    let mut wrong = assignment(g, o, a, "assign", 7);
    wrong.group_id = f.group_b;
    assert!(store.change_assignments(g, vec![wrong]).await.is_err());
    assert!(!store.is_assigned(g, o, a).await.unwrap());
}

pub async fn a_failed_reassignment_changes_nothing(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let (a, b) = (f.stations[0].id, f.stations[1].id);
    let g = f.group_a;
    let o = f.observer_a;
    store
        .change_assignments(g, vec![assignment(g, o, a, "assign", 1)])
        .await
        .unwrap();
    // The move's second half names a station that does not exist: the
    // first half (off A) must not stand alone, in the table or the log.
    let err = store
        .change_assignments(
            g,
            vec![
                assignment(g, o, a, "unassign", 2),
                assignment(g, o, 999_999, "assign", 3),
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound(_)), "{err}");
    assert!(store.is_assigned(g, o, a).await.unwrap());
    assert_eq!(store.event_count(g).await.unwrap(), 1);
    // An event id already used with other content (a report's) sinks the
    // whole change too.
    store.append(headcount(&f, client_id(9), 10)).await.unwrap();
    let err = store
        .change_assignments(
            g,
            vec![
                assignment(g, o, a, "unassign", 4),
                assignment(g, o, b, "assign", 9),
            ],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::ConflictingRetry(_)), "{err}");
    assert!(store.is_assigned(g, o, a).await.unwrap());
    assert!(!store.is_assigned(g, o, b).await.unwrap());
    assert_eq!(store.event_count(g).await.unwrap(), 2);
    // The log's numbering has no gap left by the failures.
    let done = store
        .change_assignments(g, vec![assignment(g, o, b, "assign", 5)])
        .await
        .unwrap();
    assert_eq!(done[0].as_ref().map(|e| e.seq), Some(3));
}

pub async fn observers_are_paged_and_found_where_they_are(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let g = f.group_a;
    let mut ids = vec![f.observer_a];
    for name in ["Obs-1", "Obs-2", "obs-3", "Owl", "Сокол"] {
        let o = store
            .create_observer(
                NewObserver {
                    group_id: g,
                    code_name: CodeName::parse(name).unwrap(),
                    language: Language::Kk,
                    contact: None,
                },
                T0,
            )
            .await
            .unwrap();
        ids.push(o.id);
    }
    let names = |list: Vec<pollwatch_domain::Observer>| {
        list.into_iter()
            .map(|o| o.code_name.to_string())
            .collect::<Vec<_>>()
    };
    // Pages follow one order, and together hold each observer once.
    let mut seen = Vec::new();
    let mut after: Option<CodeName> = None;
    loop {
        let page = store
            .observers_page(g, after.as_ref(), "", 2)
            .await
            .unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(last.code_name.clone());
        seen.extend(names(page));
    }
    let mut all = names(store.observers(g).await.unwrap());
    assert_eq!(seen, all);
    all.sort();
    seen.sort();
    assert_eq!(seen, all);
    assert_eq!(seen.len(), 6);
    // A prefix, Latin letters in either case.
    let mut found = names(store.observers_page(g, None, "OBS", 100).await.unwrap());
    found.sort();
    assert_eq!(found, vec!["Obs-1", "Obs-2", "obs-3"]);
    assert_eq!(
        names(store.observers_page(g, None, "Сок", 100).await.unwrap()),
        vec!["Сокол"]
    );
    assert!(
        store
            .observers_page(g, None, "zz", 100)
            .await
            .unwrap()
            .is_empty()
    );
    // Only the group's own.
    assert!(
        store
            .observers_page(f.group_b, None, "Obs", 100)
            .await
            .unwrap()
            .is_empty()
    );

    // Who is where.
    let (s1, s2) = (f.stations[0].id, f.stations[1].id);
    store
        .change_assignments(
            g,
            vec![
                assignment(g, ids[1], s2, "assign", 1),
                assignment(g, ids[1], s1, "assign", 2),
                assignment(g, ids[2], s1, "assign", 3),
            ],
        )
        .await
        .unwrap();
    let of = store.assignments_of(g, &ids).await.unwrap();
    let pairs: Vec<_> = of
        .iter()
        .map(|a| (a.observer_id, a.number.to_string()))
        .collect();
    assert_eq!(
        pairs,
        vec![
            (ids[1], "1".to_owned()),
            (ids[1], "2".to_owned()),
            (ids[2], "1".to_owned())
        ]
    );
    assert!(
        store
            .assignments_of(f.group_b, &ids)
            .await
            .unwrap()
            .is_empty()
    );
    let mut at_one = names(store.observers_at(g, s1).await.unwrap());
    at_one.sort();
    assert_eq!(at_one, vec!["Obs-1", "Obs-2"]);
    assert!(store.observers_at(f.group_b, s1).await.unwrap().is_empty());

    // Live devices, counted per observer.
    let phone = |id: &str, observer_id, expires| {
        session(
            id,
            Principal::Observer {
                observer_id,
                group_id: g,
            },
            expires,
        )
    };
    for s in [
        phone("p1", ids[1], T0.0 + 1000),
        phone("p2", ids[1], T0.0 + 1000),
        phone("p3", ids[2], T0.0 + 1000),
        phone("old", ids[2], T0.0 + 10),
    ] {
        store.create_session(&s, T0).await.unwrap();
    }
    store
        .revoke_sessions(
            SessionOwner::Observer {
                group_id: g,
                observer_id: ids[2],
            },
            Some("p3"),
            None,
            T0,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .live_devices(g, &ids, Timestamp(T0.0 + 100))
            .await
            .unwrap(),
        vec![(ids[1], 2)]
    );
    assert!(
        store
            .live_devices(f.group_b, &ids, T0)
            .await
            .unwrap()
            .is_empty()
    );

    // A staff account by id, for naming an action's author.
    let u = store
        .create_user(
            NewUser {
                group_id: Some(g),
                username: "coord".into(),
                role: Role::Coordinator,
                password_hash: "x".into(),
            },
            T0,
        )
        .await
        .unwrap();
    assert_eq!(store.user(u.id).await.unwrap(), Some(u.clone()));
    assert_eq!(store.user(u.id + 1000).await.unwrap(), None);
}

/// Two stores over one database, as two servers: what one appends, the
/// other hears of by [`Store::subscribe`], one notice per batch, and after
/// `cut_listener` (which must kill the listening connection) it hears
/// "may have missed" and then new appends again. For backends where other
/// servers can write.
pub async fn other_servers_appends_are_heard<F, Fut>(
    a: Arc<dyn Store>,
    b: Arc<dyn Store>,
    cut_listener: F,
) where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    use crate::LogNotice;
    use std::time::Duration;
    let f = fixture(&*a).await;
    let mut rx = b
        .subscribe()
        .await
        .unwrap()
        .expect("this backend can hear other servers");
    async fn next(rx: &mut tokio::sync::mpsc::Receiver<LogNotice>, secs: u64) -> LogNotice {
        tokio::time::timeout(Duration::from_secs(secs), rx.recv())
            .await
            .expect("a notice in time")
            .expect("the listener is alive")
    }
    // Listening starts with "catch up everything".
    assert_eq!(next(&mut rx, 10).await, LogNotice::MayHaveMissed);

    let sent = std::time::Instant::now();
    a.append(headcount(&f, client_id(1), 1)).await.unwrap();
    assert_eq!(next(&mut rx, 5).await, LogNotice::Grew(f.group_a));
    let ms = sent.elapsed().as_millis();
    assert!(ms < 2000, "heard after {ms} ms");

    // A batch of fifty, one transaction: one notice.
    let batch = (0..50u8)
        .map(|i| headcount(&f, client_id(10 + i), u32::from(i)))
        .collect();
    a.append_many(batch).await.unwrap();
    assert_eq!(next(&mut rx, 5).await, LogNotice::Grew(f.group_a));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(rx.try_recv().is_err(), "more than one notice for one batch");

    // Another group's report names that group.
    let mut other = headcount(&f, client_id(90), 5);
    other.group_id = f.group_b;
    other.observer_id = Some(f.observer_b);
    a.append(other).await.unwrap();
    assert_eq!(next(&mut rx, 5).await, LogNotice::Grew(f.group_b));

    // The listening connection dies: once listening again, "may have
    // missed", so what was committed meanwhile is caught up by position.
    cut_listener().await;
    a.append(headcount(&f, client_id(91), 7)).await.unwrap();
    let mut heard = Vec::new();
    while !heard.contains(&LogNotice::MayHaveMissed) {
        heard.push(next(&mut rx, 30).await);
    }
    a.append(headcount(&f, client_id(92), 8)).await.unwrap();
    loop {
        if next(&mut rx, 5).await == LogNotice::Grew(f.group_a) {
            break;
        }
    }
}

pub async fn stations_are_paged_filtered_and_found_by_word(store: Arc<dyn Store>) {
    let election = store
        .ensure_election(&Slug::parse("paged").unwrap(), "Paged", "2026-03-15")
        .await
        .unwrap();
    let mut records: Vec<StationRecord> = (1..=45)
        .map(|n| {
            let district = if n % 3 == 0 {
                "Әуезов"
            } else {
                "Медеуский"
            };
            record(&n.to_string(), district, 100 * n)
        })
        .collect();
    records.push(record("12/3", "Әуезов", 50));
    records.push(record("01-010", "Медеуский", 60));
    records[6].name = "Гимназия имени Абая".into();
    records[6].address = "пр. Гагарина, 7".into();
    store
        .import_stations(StationImport {
            election_id: election.id,
            source: "paged".into(),
            sha256: "02".into(),
            records: records.clone(),
            dry_run: false,
            at: T0,
        })
        .await
        .unwrap();
    let page = |q: StationQuery| {
        let store = store.clone();
        async move {
            store
                .stations_page(election.id, &q)
                .await
                .unwrap()
                .into_iter()
                .map(|s| s.record.number.to_string())
                .collect::<Vec<_>>()
        }
    };

    // Page by page with the cursor, the whole registry in the natural order,
    // each station once.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let got = page(StationQuery {
            after: after.clone(),
            limit: 10,
            ..Default::default()
        })
        .await;
        if got.is_empty() {
            break;
        }
        after = Some(StationNumber::parse(got.last().unwrap()).unwrap());
        seen.extend(got);
    }
    let mut expected: Vec<StationNumber> = records.iter().map(|r| r.number.clone()).collect();
    expected.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    let expected: Vec<String> = expected.iter().map(|n| n.to_string()).collect();
    assert_eq!(seen, expected);
    assert_eq!(&seen[..3], ["1", "2", "3"], "2 before 10");

    // A district, in the database, with the same cursor.
    let districts = store.districts(election.id).await.unwrap();
    let auezov = districts.iter().find(|d| d.name == "Әуезов").unwrap();
    assert_eq!(auezov.stations, 16, "15 multiples of 3 and 12/3");
    assert_eq!(
        auezov.voters,
        (1..=15).map(|k| 300 * k).sum::<i64>() + 50,
        "kept by the import"
    );
    let first = page(StationQuery {
        district_id: Some(auezov.id),
        limit: 4,
        ..Default::default()
    })
    .await;
    assert_eq!(first, ["3", "6", "9", "12"]);
    let next = page(StationQuery {
        district_id: Some(auezov.id),
        after: Some(StationNumber::parse("12").unwrap()),
        limit: 2,
        ..Default::default()
    })
    .await;
    assert_eq!(next, ["15", "18"]);

    // Words: any prefix of a word of the name or address, or the number.
    let find = |q: &str, district_id: Option<RowId>| {
        page(StationQuery {
            district_id,
            terms: crate::domain::search::query_terms(q),
            limit: 50,
            ..Default::default()
        })
    };
    assert_eq!(find("гимн", None).await, ["7"]);
    assert_eq!(find("ГАГАРИНА абая", None).await, ["7"]);
    assert_eq!(find("гагарина лицей", None).await, Vec::<String>::new());
    assert_eq!(find("12/3", None).await, ["12/3"]);
    assert_eq!(
        find("школа № 4", None).await,
        ["4", "40", "41", "42", "43", "44", "45"]
    );
    assert_eq!(find("школа 4", Some(auezov.id)).await, ["42", "45"]);

    // A renamed station is found by its new name only.
    records[6].name = "Лицей".into();
    store
        .import_stations(StationImport {
            election_id: election.id,
            source: "renamed".into(),
            sha256: "03".into(),
            records,
            dry_run: false,
            at: T0,
        })
        .await
        .unwrap();
    assert_eq!(find("гимн", None).await, Vec::<String>::new());
    assert_eq!(find("лицей", None).await, ["7"]);
}

fn h(b: u8) -> crate::TreeHash {
    [b; 32]
}

pub async fn the_evidence_tree_grows_by_compare_and_set(store: Arc<dyn Store>) {
    use crate::{LedgerFile, LedgerHead, LedgerNode};
    let f = fixture(&*store).await;
    assert_eq!(
        store.ledger_head(f.group_a).await.unwrap(),
        LedgerHead::default()
    );
    let head = LedgerHead {
        size: 2,
        last_seq: 1,
        frontier: vec![h(3)],
    };
    let nodes = [
        LedgerNode {
            level: 0,
            index: 0,
            hash: h(1),
        },
        LedgerNode {
            level: 0,
            index: 1,
            hash: h(2),
        },
        LedgerNode {
            level: 1,
            index: 0,
            hash: h(3),
        },
    ];
    let files = [LedgerFile {
        index: 0,
        sha256: "ab".repeat(32),
        data: "{}".into(),
    }];
    assert!(
        store
            .ledger_append(f.group_a, 0, &head, &nodes, &files)
            .await
            .unwrap()
    );
    // A second server that read the same head loses, and writes nothing.
    let other = LedgerHead {
        size: 1,
        last_seq: 1,
        frontier: vec![h(9)],
    };
    assert!(
        !store
            .ledger_append(
                f.group_a,
                0,
                &other,
                &[LedgerNode {
                    level: 0,
                    index: 0,
                    hash: h(9)
                }],
                &[]
            )
            .await
            .unwrap()
    );
    assert_eq!(store.ledger_head(f.group_a).await.unwrap(), head);
    let next = LedgerHead {
        size: 3,
        last_seq: 2,
        frontier: vec![h(3), h(4)],
    };
    assert!(
        store
            .ledger_append(
                f.group_a,
                2,
                &next,
                &[LedgerNode {
                    level: 0,
                    index: 2,
                    hash: h(4)
                }],
                &[]
            )
            .await
            .unwrap()
    );
    assert!(
        !store
            .ledger_append(f.group_a, 2, &next, &[], &[])
            .await
            .unwrap()
    );
    assert_eq!(store.ledger_head(f.group_a).await.unwrap(), next);

    assert_eq!(
        store.ledger_leaves(f.group_a, 1, 10).await.unwrap(),
        vec![h(2), h(4)]
    );
    let got = store
        .ledger_nodes(f.group_a, &[(1, 0), (0, 2), (5, 0)])
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    assert!(got.contains(&LedgerNode {
        level: 1,
        index: 0,
        hash: h(3)
    }));
    assert_eq!(
        store.ledger_files(f.group_a, None, 10).await.unwrap(),
        files.to_vec()
    );
    assert!(
        store
            .ledger_files(f.group_a, Some(0), 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .ledger_files_known(f.group_a, &["ab".repeat(32), "cd".repeat(32)])
            .await
            .unwrap(),
        vec!["ab".repeat(32)]
    );
    // Each group has its own tree.
    assert_eq!(
        store.ledger_head(f.group_b).await.unwrap(),
        LedgerHead::default()
    );
    assert!(
        store
            .ledger_leaves(f.group_b, 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .ledger_files_known(f.group_b, &["ab".repeat(32)])
            .await
            .unwrap()
            .is_empty()
    );
}

pub async fn keys_checkpoints_and_cosignatures_are_kept(store: Arc<dyn Store>) {
    use crate::StoredCheckpoint;
    let f = fixture(&*store).await;
    store
        .add_ledger_key(f.group_a, "log", "key-1", T0)
        .await
        .unwrap();
    store
        .add_ledger_key(f.group_a, "witness", "wkey-1", T0)
        .await
        .unwrap();
    store
        .add_ledger_key(f.group_a, "log", "key-2", Timestamp(T0.0 + 1))
        .await
        .unwrap();
    let keys = store.ledger_keys(f.group_a).await.unwrap();
    let current: Vec<_> = keys
        .iter()
        .filter(|k| k.retired_at.is_none())
        .map(|k| k.verifier.as_str())
        .collect();
    // A rotation retires the key of its own kind only.
    assert_eq!(current, vec!["wkey-1", "key-2"]);
    assert!(store.ledger_keys(f.group_b).await.unwrap().is_empty());

    let cp = |size, b| StoredCheckpoint {
        size,
        root: h(b),
        note: format!("note {size}\n"),
        made_at: T0,
    };
    assert!(store.store_checkpoint(f.group_a, &cp(5, 1)).await.unwrap());
    assert!(
        !store.store_checkpoint(f.group_a, &cp(5, 2)).await.unwrap(),
        "one checkpoint per size"
    );
    assert!(store.store_checkpoint(f.group_a, &cp(9, 3)).await.unwrap());
    assert_eq!(
        store.checkpoints(f.group_a, 0, 10).await.unwrap(),
        vec![cp(5, 1), cp(9, 3)]
    );
    assert_eq!(
        store.checkpoints(f.group_a, 5, 10).await.unwrap(),
        vec![cp(9, 3)]
    );
    assert!(
        store
            .add_cosignature(f.group_a, 5, "w", "— w AAAA\n", T0)
            .await
            .unwrap()
    );
    assert!(
        !store
            .add_cosignature(f.group_a, 5, "w", "— w BBBB\n", T0)
            .await
            .unwrap()
    );
    assert_eq!(store.cosigned_size(f.group_a, "w").await.unwrap(), 5);
    assert_eq!(store.cosigned_size(f.group_a, "other").await.unwrap(), 0);
    assert_eq!(
        store.checkpoint_at(f.group_a, 5).await.unwrap(),
        Some((cp(5, 1), vec!["— w AAAA\n".to_string()]))
    );
    assert_eq!(
        store.latest_checkpoint(f.group_a).await.unwrap(),
        Some((cp(9, 3), vec![]))
    );
    assert_eq!(store.latest_checkpoint(f.group_b).await.unwrap(), None);
    store.add_ledger_witness(f.group_a, "wk", T0).await.unwrap();
    store.add_ledger_witness(f.group_a, "wk", T0).await.unwrap();
    assert_eq!(
        store.ledger_witnesses(f.group_a).await.unwrap(),
        vec!["wk".to_string()]
    );
}

pub async fn a_witness_pins_keys_and_advances_once(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    store
        .watch_log(f.group_b, "a.example/log", "key-a", T0)
        .await
        .unwrap();
    store
        .watch_log(f.group_b, "a.example/log", "key-a", T0)
        .await
        .unwrap();
    // Another key for a pinned log is refused until repinned on purpose.
    assert!(matches!(
        store
            .watch_log(f.group_b, "a.example/log", "key-x", T0)
            .await,
        Err(StoreError::Forbidden(_))
    ));
    let logs = store.witnessed_logs(f.group_b).await.unwrap();
    assert_eq!((logs.len(), logs[0].size, logs[0].root), (1, 0, None));
    assert!(
        store
            .advance_witnessed_log(f.group_b, "a.example/log", 0, 7, &h(7), "cp7", T0)
            .await
            .unwrap()
    );
    // Two cosigners racing from the same size: one wins.
    assert!(
        !store
            .advance_witnessed_log(f.group_b, "a.example/log", 0, 8, &h(8), "cp8", T0)
            .await
            .unwrap()
    );
    let logs = store.witnessed_logs(f.group_b).await.unwrap();
    assert_eq!(
        (logs[0].size, logs[0].root, logs[0].checkpoint.as_deref()),
        (7, Some(h(7)), Some("cp7"))
    );
    assert!(
        store
            .repin_witnessed_log(f.group_b, "a.example/log", "key-x", T0)
            .await
            .unwrap()
    );
    assert_eq!(
        store.witnessed_logs(f.group_b).await.unwrap()[0].verifier,
        "key-x"
    );
    assert!(
        !store
            .repin_witnessed_log(f.group_b, "b.example/log", "key-x", T0)
            .await
            .unwrap()
    );
    assert!(store.witnessed_logs(f.group_a).await.unwrap().is_empty());
    let fork = crate::LedgerFork {
        origin: "a.example/log".into(),
        cosigned: "cp7".into(),
        offered: "cp7'".into(),
        reason: "fork".into(),
        found_at: T0,
    };
    store.record_fork(f.group_b, &fork).await.unwrap();
    assert_eq!(store.ledger_forks(f.group_b, 10).await.unwrap(), vec![fork]);
    assert!(store.ledger_forks(f.group_a, 10).await.unwrap().is_empty());
}

pub async fn coverage_manifests_pin_keys_and_keep_the_newest(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let b = f.group_b;
    assert_eq!(store.coverage_key(b, "Ашық дауыс").await.unwrap(), None);
    // The first manifest pins its key.
    assert!(
        store
            .import_manifest(b, "Ашық дауыс", "key-1", false, 100, "note 100", T0)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .coverage_key(b, "Ашық дауыс")
            .await
            .unwrap()
            .as_deref(),
        Some("key-1")
    );
    // An older or as old one changes nothing; a newer one replaces it.
    for (issued, note) in [(99, "note 99"), (100, "note 100 again")] {
        assert!(
            !store
                .import_manifest(b, "Ашық дауыс", "key-1", false, issued, note, T0)
                .await
                .unwrap()
        );
    }
    assert_eq!(store.manifests(b).await.unwrap()[0].note, "note 100");
    assert!(
        store
            .import_manifest(b, "Ашық дауыс", "key-1", false, 101, "note 101", T0)
            .await
            .unwrap()
    );
    // Another key is refused, and stores nothing, unless accepted.
    assert!(matches!(
        store
            .import_manifest(b, "Ашық дауыс", "key-2", false, 200, "forged", T0)
            .await,
        Err(StoreError::Forbidden(_))
    ));
    let kept = store.manifests(b).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(
        (kept[0].issued_at, kept[0].note.as_str()),
        (101, "note 101")
    );
    assert!(
        store
            .import_manifest(b, "Ашық дауыс", "key-2", true, 200, "note 200", T0)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .coverage_key(b, "Ашық дауыс")
            .await
            .unwrap()
            .as_deref(),
        Some("key-2")
    );
    // Each group its own: the other group pinned and imported nothing.
    assert_eq!(
        store.coverage_key(f.group_a, "Ашық дауыс").await.unwrap(),
        None
    );
    assert!(store.manifests(f.group_a).await.unwrap().is_empty());

    // Shared within the instance: the latest of each group, never one's own.
    store.share_manifest(f.group_a, 1, "a1", T0).await.unwrap();
    store.share_manifest(f.group_a, 2, "a2", T0).await.unwrap();
    assert_eq!(
        store.shared_manifests(b).await.unwrap(),
        vec![(f.group_a, "a2".to_owned())]
    );
    assert!(store.shared_manifests(f.group_a).await.unwrap().is_empty());
}

pub async fn homes_and_plans_stay_with_their_group(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let (a, b) = (f.group_a, f.group_b);
    let st = |i: usize| f.stations[i].id;
    // A home is set, replaced and cleared; another group cannot touch it.
    store
        .set_home(a, f.observer_a, Some(st(0)), true, T0)
        .await
        .unwrap();
    store
        .set_home(a, f.observer_a, Some(st(2)), false, Timestamp(T0.0 + 1))
        .await
        .unwrap();
    let h = store.home(a, f.observer_a).await.unwrap().unwrap();
    assert_eq!((h.station_id, h.set_by_observer), (st(2), false));
    assert!(matches!(
        store
            .set_home(b, f.observer_a, Some(st(1)), false, T0)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.home(b, f.observer_a).await.unwrap(), None);
    assert!(store.homes(b, 0, 10).await.unwrap().is_empty());
    assert_eq!(store.homes(a, 0, 10).await.unwrap().len(), 1);
    assert!(store.homes(a, f.observer_a, 10).await.unwrap().is_empty());
    store
        .set_home(a, f.observer_a, None, true, T0)
        .await
        .unwrap();
    assert_eq!(store.home(a, f.observer_a).await.unwrap(), None);

    // A plan's changes are numbered one after another; a change made on a
    // stale view is refused and stores nothing.
    let election = f.stations[0].election_id;
    let plan = NewPlan {
        election_id: election,
        name: "nearest".into(),
        body: "{\"x\":1}".into(),
        created_by: "coord".into(),
        created_at: T0,
    };
    let p = store.create_plan(a, &plan).await.unwrap();
    let p2 = store.create_plan(a, &plan).await.unwrap();
    assert_eq!(
        store
            .add_plan_change(a, p, 0, "c1", "coord", T0)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .add_plan_change(a, p, 1, "c2", "coord", T0)
            .await
            .unwrap(),
        2
    );
    assert!(matches!(
        store.add_plan_change(a, p, 1, "late", "other", T0).await,
        Err(StoreError::Stale(_))
    ));
    assert!(matches!(
        store.add_plan_change(b, p, 2, "theirs", "b", T0).await,
        Err(StoreError::NotFound(_))
    ));
    let changes = store.plan_changes(a, p, 0).await.unwrap();
    let texts: Vec<&str> = changes.iter().map(|c| c.change.as_str()).collect();
    assert_eq!(texts, ["c1", "c2"]);
    assert_eq!(store.plan_changes(a, p, 1).await.unwrap().len(), 1);
    assert!(store.plan_changes(b, p, 0).await.unwrap().is_empty());
    let (head, body) = store.plan(a, p).await.unwrap().unwrap();
    assert_eq!((head.changes, body.as_str()), (2, "{\"x\":1}"));
    assert_eq!(head.applied_at, None);
    assert!(store.plan(b, p).await.unwrap().is_none());
    let heads = store.plans(a, 10).await.unwrap();
    assert_eq!(heads.iter().map(|h| h.id).collect::<Vec<_>>(), [p2, p]);
    assert!(store.plans(b, 10).await.unwrap().is_empty());
    store
        .mark_plan_applied(a, p, "coord", Timestamp(T0.0 + 5))
        .await
        .unwrap();
    assert!(store.mark_plan_applied(b, p, "b", T0).await.is_err());
    let (head, _) = store.plan(a, p).await.unwrap().unwrap();
    assert_eq!(head.applied_at, Some(Timestamp(T0.0 + 5)));
    assert_eq!(head.applied_by.as_deref(), Some("coord"));
}

pub async fn sms_is_kept_once_and_stays_with_its_group(store: Arc<dyn Store>) {
    let f = fixture(&*store).await;
    let (a, b) = (f.group_a, f.group_b);
    // A gateway is found by its token's hash until revoked.
    store.create_sms_gateway(a, "tok-a", T0).await.unwrap();
    assert_eq!(store.sms_gateway("tok-a").await.unwrap(), Some(a));
    assert_eq!(store.sms_gateway("tok-x").await.unwrap(), None);
    // A number links to an observer, and moves when linked again.
    store
        .link_sms_number(a, "h1", f.observer_a, T0)
        .await
        .unwrap();
    assert_eq!(
        store.sms_observer(a, "h1").await.unwrap(),
        Some(f.observer_a)
    );
    assert_eq!(store.sms_observer(b, "h1").await.unwrap(), None);
    assert_eq!(
        store.sms_numbers_of(a, &[f.observer_a]).await.unwrap(),
        [(f.observer_a, "h1".to_owned())]
    );
    assert!(
        store
            .sms_numbers_of(b, &[f.observer_a])
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(store.sms_numbers_page(a, "", 10).await.unwrap().len(), 1);
    assert!(
        store
            .sms_numbers_page(a, "h1", 10)
            .await
            .unwrap()
            .is_empty()
    );
    // An SMS sent again by the gateway is kept once, and answered as before.
    let sms = NewSmsIn {
        observer_id: f.observer_a,
        number_hash: "h1".into(),
        dedup: "d1".into(),
        text: "A D".into(),
        outcome: "{}".into(),
        event_client_id: Some("c1".into()),
        reply: "OK".into(),
        at: T0,
    };
    let (new, first) = store.record_sms_in(a, &sms).await.unwrap();
    assert!(new);
    let again = NewSmsIn {
        reply: "other".into(),
        at: Timestamp(T0.0 + 5),
        ..sms.clone()
    };
    let (new, kept) = store.record_sms_in(a, &again).await.unwrap();
    assert!(!new);
    assert_eq!(kept, first);
    assert_eq!(kept.reply.as_deref(), Some("OK"));
    // Out: queued, handed to the gateway once.
    store
        .queue_sms_out(a, f.observer_a, "h1", "u1", "Stay", "{}", true, T0)
        .await
        .unwrap();
    store
        .queue_sms_out(a, f.observer_a, "h1", "u1", "Stay", "{}", true, T0)
        .await
        .unwrap();
    store
        .queue_sms_out(a, f.observer_a, "h1", "u2", "Later", "{}", false, T0)
        .await
        .unwrap();
    let out = store.sms_outbox(a, 10).await.unwrap();
    assert_eq!(out.len(), 1, "only those for the gateway");
    assert_eq!(store.sms_waiting_for(a, "h1", 10).await.unwrap().len(), 2);
    assert!(store.sms_waiting_for(b, "h1", 10).await.unwrap().is_empty());
    store.hold_sms(a, &["u1".into()]).await.unwrap();
    assert!(
        store.sms_outbox(a, 10).await.unwrap().is_empty(),
        "held for a reply"
    );
    assert_eq!(store.sms_waiting_for(a, "h1", 10).await.unwrap().len(), 2);
    assert!(store.sms_outbox(b, 10).await.unwrap().is_empty());
    assert!(
        store
            .mark_sms_sent(b, &["u1".into()], T0)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .mark_sms_sent(a, &["u1".into(), "nope".into()], T0)
            .await
            .unwrap(),
        ["u1"]
    );
    assert_eq!(store.sms_waiting_for(a, "h1", 10).await.unwrap().len(), 1);
    // The observer's log: newest first, in pages.
    let log = store.sms_log(a, f.observer_a, i64::MAX, 10).await.unwrap();
    assert_eq!(
        log.iter().map(|e| e.direction.as_str()).collect::<Vec<_>>(),
        ["out", "out", "in"]
    );
    let older = store.sms_log(a, f.observer_a, log[0].id, 10).await.unwrap();
    assert_eq!(older.len(), 2);
    assert!(
        store
            .sms_log(b, f.observer_a, i64::MAX, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // The number observers text: the group's own, set on its gateways.
    assert_eq!(store.sms_gateway_phone(a).await.unwrap(), None);
    assert_eq!(
        store
            .set_sms_gateway_phone(a, Some("+77010000000"))
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store.sms_gateway_phone(a).await.unwrap().as_deref(),
        Some("+77010000000")
    );
    assert_eq!(store.sms_gateway_phone(b).await.unwrap(), None);
    assert_eq!(store.set_sms_gateway_phone(b, Some("+1")).await.unwrap(), 0);
    assert_eq!(store.set_sms_gateway_phone(a, None).await.unwrap(), 1);
    assert_eq!(store.sms_gateway_phone(a).await.unwrap(), None);
    store
        .set_sms_gateway_phone(a, Some("+77010000000"))
        .await
        .unwrap();
    // Revoking: the number is unlinked, the gateway stops.
    assert_eq!(store.unlink_sms_numbers(a, f.observer_a).await.unwrap(), 1);
    assert_eq!(store.sms_observer(a, "h1").await.unwrap(), None);
    assert_eq!(store.revoke_sms_gateways(a, T0).await.unwrap(), 1);
    assert_eq!(store.sms_gateway("tok-a").await.unwrap(), None);
    assert_eq!(
        store.sms_gateway_phone(a).await.unwrap(),
        None,
        "a revoked gateway's number is not offered"
    );
}
