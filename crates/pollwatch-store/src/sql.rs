//! The SQL of the store, written once for both databases.
//!
//! SQLite and PostgreSQL accept the same statements here: `$n` parameters
//! (sqlx binds them by number on SQLite too), `ON CONFLICT … DO NOTHING`,
//! `RETURNING`, integers as 64-bit (`BIGINT` on PostgreSQL), times as
//! milliseconds, JSON payloads as text (compact, keys sorted: the same on
//! both databases).
//! Each backend crate expands [`sql_store!`] with its own driver type, so the
//! compiler checks every query path for both drivers, and the shared suite
//! runs them on both servers. The only per-backend code is opening the pool
//! and the migrations.

/// Implement [`crate::Store`] for `$store` (a struct with fields
/// `pool: sqlx::Pool<$db>` and `writer: GroupCommit`) and [`crate::EventLog`]
/// for `$log` (a struct with field `pool: sqlx::Pool<$db>`).
#[macro_export]
macro_rules! sql_store {
    ($store:ident, $log:ident, $db:ty, $backend:literal) => {
        mod sql_store_impl {
            use super::{$log, $store};
            use ::sqlx::Row as _;
            use $crate::domain::actions::{self, Action, AssignmentChange};
            use $crate::domain::evidence::{BlobHash, MediaType};
            use $crate::domain::registry::{self, FieldChange};
            use $crate::domain::results::{ObservedFigures, ResultSet, StationResult};
            use $crate::domain::{
                AccessibilityFeature, Assignment, ClientId, CodeName, Coordinates, District,
                Election, Event, EventKind, Group, Language, NewEvent, Observer, Role, RowId,
                Slug, Station, StationKind, StationNumber, StationRecord, Timestamp, User,
            };
            use $crate::{
                AssignedStation, Appended, BlobInfo, ImportReport, MAX_IDS_PER_READ, NewBlob, NewObserver, NewUser, Prepared,
                Principal, Result, ResultImport, ResultImportInfo, Session, SessionLookup, SessionUse,
                SessionOwner, StationImport, StationQuery, StoreError,
                LedgerFile, LedgerFork, LedgerHead, LedgerKey, LedgerNode, StoredCheckpoint, StoredManifest, TreeHash,
                Home, NewPlan, PlanHead, PlanChangeEntry, MAX_PLAN_CHANGES, NewSmsIn, SmsEntry,
                WitnessedLog,
            };

            type Db = $db;
            type DbRow = <Db as ::sqlx::Database>::Row;

            /// Map a driver error to what the caller must tell apart: a full
            /// disk (507 upstream), an unreachable or broken database (503,
            /// retry), or anything else.
            fn db(e: ::sqlx::Error) -> StoreError {
                match e {
                    ::sqlx::Error::RowNotFound => StoreError::NotFound("row".into()),
                    ::sqlx::Error::Database(d) => {
                        let code = d.code().map(|c| c.into_owned()).unwrap_or_default();
                        let message = d.message().to_owned();
                        match classify(&code) {
                            Fault::Full => StoreError::StorageFull(message),
                            Fault::Unavailable => StoreError::Unavailable(message),
                            Fault::Other => StoreError::Database(message),
                        }
                    }
                    e @ (::sqlx::Error::Io(_)
                    | ::sqlx::Error::Tls(_)
                    | ::sqlx::Error::Protocol(_)
                    | ::sqlx::Error::PoolTimedOut
                    | ::sqlx::Error::PoolClosed
                    | ::sqlx::Error::WorkerCrashed) => StoreError::Unavailable(e.to_string()),
                    other => StoreError::Database(other.to_string()),
                }
            }

            enum Fault {
                Full,
                Unavailable,
                Other,
            }

            /// SQLite reports extended result codes as decimal numbers,
            /// PostgreSQL SQLSTATEs as five characters.
            fn classify(code: &str) -> Fault {
                if $backend == "sqlite" {
                    // Primary code in the low byte: FULL 13; BUSY 5, LOCKED 6,
                    // NOMEM 7, READONLY 8, IOERR 10, CANTOPEN 14, PROTOCOL 15.
                    match code.parse::<i64>().map(|c| c & 0xff) {
                        Ok(13) => Fault::Full,
                        Ok(5 | 6 | 7 | 8 | 10 | 14 | 15) => Fault::Unavailable,
                        _ => Fault::Other,
                    }
                } else if code == "53100" {
                    Fault::Full
                } else if code.starts_with("53")
                    || code.starts_with("08")
                    || code.starts_with("57P")
                    || code == "40001"
                    || code == "40P01"
                {
                    // Insufficient resources, connection failures, the
                    // server shutting down, serialisation and deadlock:
                    // all worth a retry.
                    Fault::Unavailable
                } else {
                    Fault::Other
                }
            }

            /// `BEGIN IMMEDIATE` on SQLite takes the write lock at once, so a
            /// transaction never fails half-way on upgrading a read lock.
            const BEGIN: &str = match $backend.as_bytes() {
                b"sqlite" => "BEGIN IMMEDIATE",
                _ => "BEGIN",
            };

            /// A write transaction on a pooled connection of its own.
            ///
            /// Not sqlx's `Transaction`: when COMMIT fails (SQLITE_FULL),
            /// SQLite has already rolled back, sqlx's own rollback then
            /// fails and its depth counter stays at 1, so every later
            /// "transaction" on that pooled connection is a savepoint in a
            /// transaction that never commits — reports answered 201 and
            /// lost (compare sqlx issue 3742). Here BEGIN and COMMIT are
            /// plain statements, and a connection whose transaction did not
            /// commit — failed, timed out, dropped half-way — is closed,
            /// never returned to the pool; the pool opens a fresh one.
            struct Tx {
                conn: ::sqlx::pool::PoolConnection<Db>,
                settled: bool,
            }

            impl Tx {
                async fn begin(pool: &::sqlx::Pool<Db>) -> Result<Self> {
                    let conn = pool.acquire().await.map_err(db)?;
                    let mut tx = Tx {
                        conn,
                        settled: false,
                    };
                    ::sqlx::query(BEGIN).execute(&mut *tx.conn).await.map_err(db)?;
                    Ok(tx)
                }

                async fn commit(mut self) -> Result<()> {
                    ::sqlx::query("COMMIT")
                        .execute(&mut *self.conn)
                        .await
                        .map_err(db)?;
                    self.settled = true;
                    Ok(())
                }

                /// Undo on purpose (a dry run); a connection that cannot
                /// roll back is closed like any other failure.
                async fn rollback(mut self) -> Result<()> {
                    ::sqlx::query("ROLLBACK")
                        .execute(&mut *self.conn)
                        .await
                        .map_err(db)?;
                    self.settled = true;
                    Ok(())
                }
            }

            impl Drop for Tx {
                fn drop(&mut self) {
                    if !self.settled {
                        self.conn.close_on_drop();
                    }
                }
            }

            impl std::ops::Deref for Tx {
                type Target = <Db as ::sqlx::Database>::Connection;
                fn deref(&self) -> &Self::Target {
                    &self.conn
                }
            }

            impl std::ops::DerefMut for Tx {
                fn deref_mut(&mut self) -> &mut Self::Target {
                    &mut self.conn
                }
            }

            /// Unique violations become `AlreadyExists(what)`, the rest `db`.
            fn unique(what: String) -> impl FnOnce(::sqlx::Error) -> StoreError {
                move |e| match &e {
                    ::sqlx::Error::Database(d) if d.is_unique_violation() => {
                        StoreError::AlreadyExists(what)
                    }
                    _ => db(e),
                }
            }

            /// A stored value that no longer parses means the database was
            /// edited by hand or is from another version: say so, do not panic.
            fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
                StoreError::Database(format!("stored {what} is invalid: {e}"))
            }

            fn get<'r, T>(row: &'r DbRow, col: &str) -> Result<T>
            where
                T: ::sqlx::Decode<'r, Db> + ::sqlx::Type<Db>,
            {
                row.try_get::<T, _>(col).map_err(db)
            }

            const STATION_COLUMNS: &str = "s.id, s.election_id, s.number, s.name, s.address, \
                d.name AS district, s.registered_voters, s.latitude, s.longitude, s.kind, \
                s.accessibility";

            fn station(row: &DbRow) -> Result<Station> {
                let number: String = get(row, "number")?;
                let lat: Option<f64> = get(row, "latitude")?;
                let lon: Option<f64> = get(row, "longitude")?;
                let coordinates = match (lat, lon) {
                    (Some(a), Some(o)) => {
                        Some(Coordinates::new(a, o).map_err(|(_, e)| corrupt("coordinates", e))?)
                    }
                    _ => None,
                };
                let access: String = get(row, "accessibility")?;
                let accessibility = access
                    .split(';')
                    .filter(|s| !s.is_empty())
                    .map(AccessibilityFeature::parse)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| corrupt("accessibility", e))?;
                let voters: i64 = get(row, "registered_voters")?;
                Ok(Station {
                    id: get(row, "id")?,
                    election_id: get(row, "election_id")?,
                    record: StationRecord {
                        number: StationNumber::parse(&number)
                            .map_err(|e| corrupt("station number", e))?,
                        name: get(row, "name")?,
                        address: get(row, "address")?,
                        district: get(row, "district")?,
                        registered_voters: u32::try_from(voters)
                            .map_err(|e| corrupt("registered voters", e))?,
                        coordinates,
                        kind: StationKind::parse(&get::<String>(row, "kind")?)
                            .map_err(|e| corrupt("station kind", e))?,
                        accessibility,
                    },
                })
            }

            fn accessibility_text(r: &StationRecord) -> String {
                r.accessibility
                    .iter()
                    .map(|a| a.as_str())
                    .collect::<Vec<_>>()
                    .join(";")
            }

            fn election(row: &DbRow) -> Result<Election> {
                Ok(Election {
                    id: get(row, "id")?,
                    slug: Slug::parse(&get::<String>(row, "slug")?)
                        .map_err(|e| corrupt("election slug", e))?,
                    name: get(row, "name")?,
                    polling_day: get(row, "polling_day")?,
                    time_zone: get(row, "time_zone")?,
                })
            }

            fn group(row: &DbRow) -> Result<Group> {
                Ok(Group {
                    id: get(row, "id")?,
                    slug: Slug::parse(&get::<String>(row, "slug")?)
                        .map_err(|e| corrupt("group slug", e))?,
                    name: get(row, "name")?,
                })
            }

            fn user(row: &DbRow) -> Result<User> {
                Ok(User {
                    id: get(row, "id")?,
                    group_id: get(row, "group_id")?,
                    username: get(row, "username")?,
                    role: Role::parse(&get::<String>(row, "role")?)
                        .map_err(|e| corrupt("role", e))?,
                })
            }

            const SMS_COLUMNS: &str = "id, observer_id, direction, text, outcome, event_client_id, reply, at, sent_at, uuid, number_hash";

            fn sms_entry(r: &DbRow) -> Result<SmsEntry> {
                Ok(SmsEntry {
                    id: get(r, "id")?,
                    observer_id: get(r, "observer_id")?,
                    direction: get(r, "direction")?,
                    text: get(r, "text")?,
                    outcome: get(r, "outcome")?,
                    event_client_id: get(r, "event_client_id")?,
                    reply: get(r, "reply")?,
                    at: Timestamp(get(r, "at")?),
                    sent_at: get::<Option<i64>>(r, "sent_at")?.map(Timestamp),
                    uuid: get(r, "uuid")?,
                    number_hash: get(r, "number_hash")?,
                })
            }

            fn home_row(r: &DbRow) -> Result<Home> {
                Ok(Home {
                    observer_id: get(r, "observer_id")?,
                    station_id: get(r, "station_id")?,
                    set_by_observer: get::<String>(r, "set_by")? == "observer",
                    set_at: Timestamp(get(r, "set_at")?),
                })
            }

            fn plan_head(r: &DbRow) -> Result<PlanHead> {
                Ok(PlanHead {
                    id: get(r, "id")?,
                    election_id: get(r, "election_id")?,
                    name: get(r, "name")?,
                    created_by: get(r, "created_by")?,
                    created_at: Timestamp(get(r, "created_at")?),
                    changes: get(r, "changes")?,
                    applied_at: get::<Option<i64>>(r, "applied_at")?.map(Timestamp),
                    applied_by: get(r, "applied_by")?,
                })
            }

            fn observer(row: &DbRow) -> Result<Observer> {
                Ok(Observer {
                    id: get(row, "id")?,
                    group_id: get(row, "group_id")?,
                    code_name: CodeName::parse(&get::<String>(row, "code_name")?)
                        .map_err(|e| corrupt("code name", e))?,
                    language: Language::parse(&get::<String>(row, "language")?)
                        .map_err(|e| corrupt("language", e))?,
                    contact: get(row, "contact")?,
                })
            }

            const EVENT_COLUMNS: &str = "group_seq AS seq, group_id, client_id, observer_id, station_id, \
                kind, payload, observed_at, received_at, supersedes, content_hash";

            fn event(row: &DbRow) -> Result<Event> {
                let payload: String = get(row, "payload")?;
                let supersedes: Option<String> = get(row, "supersedes")?;
                Ok(Event {
                    seq: get(row, "seq")?,
                    event: NewEvent {
                        client_id: ClientId::parse(&get::<String>(row, "client_id")?)
                            .map_err(|e| corrupt("client id", e))?,
                        group_id: get(row, "group_id")?,
                        observer_id: get(row, "observer_id")?,
                        station_id: get(row, "station_id")?,
                        kind: EventKind::parse(&get::<String>(row, "kind")?)
                            .map_err(|e| corrupt("event kind", e))?,
                        payload: ::serde_json::from_str(&payload)
                            .map_err(|e| corrupt("payload", e))?,
                        observed_at: Timestamp(get(row, "observed_at")?),
                        supersedes: supersedes
                            .map(|s| ClientId::parse(&s))
                            .transpose()
                            .map_err(|e| corrupt("supersedes", e))?,
                    },
                    received_at: Timestamp(get(row, "received_at")?),
                    content_hash: get(row, "content_hash")?,
                })
            }

            const IMPORT_COLUMNS: &str = "id, name, source, file_name, sha256, mapping, \
                imported_at, candidates, leader, stations, skipped_incomplete";

            fn import_info(row: &DbRow) -> Result<ResultImportInfo> {
                let candidates: String = get(row, "candidates")?;
                let leader: i64 = get(row, "leader")?;
                Ok(ResultImportInfo {
                    id: get(row, "id")?,
                    name: get(row, "name")?,
                    source: get(row, "source")?,
                    file_name: get(row, "file_name")?,
                    sha256: get(row, "sha256")?,
                    mapping: get(row, "mapping")?,
                    imported_at: Timestamp(get(row, "imported_at")?),
                    candidates: ::serde_json::from_str(&candidates)
                        .map_err(|e| corrupt("candidates", e))?,
                    leader: usize::try_from(leader).map_err(|e| corrupt("leader", e))?,
                    stations: get(row, "stations")?,
                    skipped_incomplete: get(row, "skipped_incomplete")?,
                })
            }

            fn count(v: u64) -> Result<i64> {
                i64::try_from(v).map_err(|e| StoreError::Database(format!("figure too large: {e}")))
            }

            fn figure(row: &DbRow, col: &str) -> Result<u64> {
                let v: i64 = get(row, col)?;
                u64::try_from(v).map_err(|e| corrupt(col, e))
            }

            fn tree_hash(bytes: &[u8]) -> Result<TreeHash> {
                TreeHash::try_from(bytes).map_err(|_| corrupt("tree hash", "not 32 bytes"))
            }

            fn ledger_node(row: &DbRow) -> Result<LedgerNode> {
                let level: i64 = get(row, "level")?;
                Ok(LedgerNode {
                    level: u8::try_from(level).map_err(|e| corrupt("tree level", e))?,
                    index: figure(row, "idx")?,
                    hash: tree_hash(&get::<Vec<u8>>(row, "hash")?)?,
                })
            }

            fn stored_checkpoint(row: &DbRow) -> Result<StoredCheckpoint> {
                Ok(StoredCheckpoint {
                    size: figure(row, "size")?,
                    root: tree_hash(&get::<Vec<u8>>(row, "root")?)?,
                    note: get(row, "note")?,
                    made_at: Timestamp(get(row, "made_at")?),
                })
            }

            const BLOB_COLUMNS: &str =
                "group_id, sha256, media_type, size, uploaded_by_observer, received_at";

            fn blob(row: &DbRow) -> Result<BlobInfo> {
                Ok(BlobInfo {
                    group_id: get(row, "group_id")?,
                    sha256: BlobHash::parse(&get::<String>(row, "sha256")?)
                        .map_err(|e| corrupt("blob hash", e))?,
                    media_type: MediaType::parse(&get::<String>(row, "media_type")?)
                        .map_err(|e| corrupt("media type", e))?,
                    size: figure(row, "size")?,
                    uploaded_by_observer: get(row, "uploaded_by_observer")?,
                    received_at: Timestamp(get(row, "received_at")?),
                })
            }

            fn session(row: &DbRow) -> Result<Session> {
                let role = Role::parse(&get::<String>(row, "role")?)
                    .map_err(|e| corrupt("role", e))?;
                let user_id: Option<RowId> = get(row, "user_id")?;
                let observer_id: Option<RowId> = get(row, "observer_id")?;
                let group_id: Option<RowId> = get(row, "group_id")?;
                let principal = match (role, user_id, observer_id, group_id) {
                    (Role::Observer, None, Some(observer_id), Some(group_id)) => {
                        Principal::Observer {
                            observer_id,
                            group_id,
                        }
                    }
                    (role, Some(user_id), None, group_id) if role.is_staff() => {
                        Principal::Staff {
                            user_id,
                            group_id,
                            role,
                        }
                    }
                    _ => return Err(corrupt("session", "inconsistent principal")),
                };
                Ok(Session {
                    id: get(row, "id")?,
                    token_hash: get(row, "token_hash")?,
                    principal,
                    csrf_token: get(row, "csrf_token")?,
                    expires_at: Timestamp(get(row, "expires_at")?),
                    device: get(row, "device")?,
                    created_at: Timestamp(get(row, "created_at")?),
                    last_seen_at: Timestamp(get(row, "last_seen_at")?),
                })
            }

            const SESSION_COLUMNS: &str = "id, token_hash, user_id, observer_id, group_id, role, \
                csrf_token, expires_at, device, created_at, last_seen_at";

            /// The WHERE clause naming an owner's sessions, with its two
            /// parameters ($1, $2; the second is unused for staff but bound
            /// so every statement has the same numbering).
            fn owner_clause(owner: SessionOwner) -> (&'static str, RowId, RowId) {
                match owner {
                    SessionOwner::Observer { group_id, observer_id } => {
                        ("observer_id = $1 AND group_id = $2", observer_id, group_id)
                    }
                    SessionOwner::User { user_id } => ("user_id = $1 AND $2 = $2", user_id, 0),
                }
            }

            async fn district_id(
                tx: &mut Tx,
                election_id: RowId,
                name: &str,
            ) -> Result<RowId> {
                ::sqlx::query(
                    "INSERT INTO districts (election_id, name) VALUES ($1, $2) \
                     ON CONFLICT (election_id, name) DO NOTHING",
                )
                .bind(election_id)
                .bind(name)
                .execute(&mut **tx)
                .await
                .map_err(db)?;
                let row = ::sqlx::query("SELECT id FROM districts WHERE election_id = $1 AND name = $2")
                    .bind(election_id)
                    .bind(name)
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(db)?;
                get(&row, "id")
            }

            /// Station words, several hundred rows a statement: an import
            /// of 95,000 stations writes about a million of them.
            async fn insert_words(
                tx: &mut Tx,
                election_id: RowId,
                words: &[(RowId, String)],
            ) -> Result<()> {
                for chunk in words.chunks(300) {
                    let values: Vec<String> = (0..chunk.len())
                        .map(|i| format!("($1, ${}, ${})", 2 * i + 2, 2 * i + 3))
                        .collect();
                    let sql = format!(
                        "INSERT INTO station_words (election_id, station_id, word) VALUES {} \
                         ON CONFLICT DO NOTHING",
                        values.join(", ")
                    );
                    let mut q = ::sqlx::query(&sql).bind(election_id);
                    for (id, word) in chunk {
                        q = q.bind(*id).bind(word.clone());
                    }
                    q.execute(&mut **tx).await.map_err(db)?;
                }
                Ok(())
            }

            fn coordinates_parts(r: &StationRecord) -> (Option<f64>, Option<f64>) {
                match r.coordinates {
                    Some(c) => (Some(c.latitude), Some(c.longitude)),
                    None => (None, None),
                }
            }

            /// Append a batch inside the caller's transaction: the writer's
            /// batches, and the staff actions whose table change must commit
            /// with their event (an assignment and its record in the log).
            async fn append_in(
                tx: &mut Tx,
                prepared: &[Prepared],
                received_at: Timestamp,
            ) -> Result<Vec<Result<Appended>>> {
                use std::collections::HashMap;

                // Each group's log is numbered 1, 2, 3… of its own, so no
                // group can count another's reports. Taking the counter
                // row's lock first (in id order: two servers never
                // deadlock) serialises writers of one group across
                // servers, so the numbers are gap-free and the "already
                // stored?" read below cannot race another server.
                let mut groups: Vec<RowId> = prepared.iter().map(|p| p.event.group_id).collect();
                groups.sort_unstable();
                groups.dedup();
                // Each group's counter as locked; only the ones that moved
                // are written back (a batch of retries writes nothing).
                let mut locked: HashMap<RowId, i64> = HashMap::new();
                let mut last_seq: HashMap<RowId, i64> = HashMap::new();
                for g in &groups {
                    let row = ::sqlx::query(
                        "UPDATE observer_groups SET last_seq = last_seq WHERE id = $1 RETURNING last_seq",
                    )
                    .bind(*g)
                    .fetch_optional(&mut **tx)
                    .await
                    .map_err(db)?;
                    if let Some(row) = row {
                        let seq: i64 = get(&row, "last_seq")?;
                        locked.insert(*g, seq);
                        last_seq.insert(*g, seq);
                    }
                }

                // Everything this batch names that is stored already: its
                // own ids (retries) and the reports it corrects.
                let mut stored: HashMap<(RowId, String), Event> = HashMap::new();
                for g in &groups {
                    let mut ids: Vec<&str> = Vec::new();
                    for p in prepared.iter().filter(|p| p.event.group_id == *g) {
                        ids.push(p.event.client_id.as_str());
                        if let Some(t) = &p.event.supersedes {
                            ids.push(t.as_str());
                        }
                    }
                    ids.sort_unstable();
                    ids.dedup();
                    for chunk in ids.chunks(500) {
                        let mut q = ::sqlx::QueryBuilder::<Db>::new(format!(
                            "SELECT {EVENT_COLUMNS} FROM events WHERE group_id = "
                        ));
                        q.push_bind(*g).push(" AND client_id IN (");
                        let mut list = q.separated(", ");
                        for id in chunk {
                            list.push_bind(id.to_string());
                        }
                        q.push(")");
                        for row in q.build().fetch_all(&mut **tx).await.map_err(db)? {
                            let e = event(&row)?;
                            stored.insert((e.event.group_id, e.event.client_id.as_str().to_owned()), e);
                        }
                    }
                }

                let mut out: Vec<Result<Appended>> = Vec::with_capacity(prepared.len());
                // New in this batch: key -> (index in batch, its number).
                let mut fresh: HashMap<(RowId, String), (usize, i64)> = HashMap::new();
                let mut to_insert: Vec<(usize, i64)> = Vec::new();
                for (i, p) in prepared.iter().enumerate() {
                    let e = &p.event;
                    let key = (e.group_id, e.client_id.as_str().to_owned());
                    if let Some(st) = stored.get(&key) {
                        out.push(if st.content_hash == p.content_hash {
                            Ok(Appended { event: st.clone(), created: false })
                        } else {
                            Err(StoreError::ConflictingRetry(e.client_id.clone()))
                        });
                        continue;
                    }
                    if let Some(&(j, seq)) = fresh.get(&key) {
                        // A second copy of one id in the batch is a retry.
                        out.push(if prepared[j].content_hash == p.content_hash {
                            Ok(Appended {
                                event: Event {
                                    seq,
                                    event: prepared[j].event.clone(),
                                    received_at,
                                    content_hash: prepared[j].content_hash.clone(),
                                },
                                created: false,
                            })
                        } else {
                            Err(StoreError::ConflictingRetry(e.client_id.clone()))
                        });
                        continue;
                    }
                    let Some(last) = last_seq.get_mut(&e.group_id) else {
                        out.push(Err(StoreError::NotFound(format!("group {}", e.group_id))));
                        continue;
                    };
                    // An event may only correct its own author's event of
                    // its own group: stored, or earlier in this very batch.
                    if let Some(target) = &e.supersedes {
                        let tkey = (e.group_id, target.as_str().to_owned());
                        let author = match stored.get(&tkey) {
                            Some(t) => Some(t.event.observer_id),
                            None => fresh.get(&tkey).map(|&(j, _)| prepared[j].event.observer_id),
                        };
                        match author {
                            None => {
                                out.push(Err(StoreError::NotFound(format!(
                                    "superseded event {target}"
                                ))));
                                continue;
                            }
                            Some(author) if author != e.observer_id => {
                                out.push(Err(StoreError::Forbidden(format!(
                                    "report {target} was sent by someone else: only its author can correct it"
                                ))));
                                continue;
                            }
                            Some(_) => {}
                        }
                    }
                    *last += 1;
                    fresh.insert(key, (i, *last));
                    to_insert.push((i, *last));
                    out.push(Ok(Appended {
                        event: Event {
                            seq: *last,
                            event: e.clone(),
                            received_at,
                            content_hash: p.content_hash.clone(),
                        },
                        created: true,
                    }));
                }

                // Well under both databases' limits on bound parameters.
                for chunk in to_insert.chunks(500) {
                    let mut q = ::sqlx::QueryBuilder::<Db>::new(
                        "INSERT INTO events (group_id, group_seq, client_id, observer_id, station_id, \
                         kind, payload, observed_at, received_at, supersedes, content_hash) ",
                    );
                    q.push_values(chunk, |mut b, &(i, seq)| {
                        let p = &prepared[i];
                        let e = &p.event;
                        b.push_bind(e.group_id)
                            .push_bind(seq)
                            .push_bind(e.client_id.as_str().to_owned())
                            .push_bind(e.observer_id)
                            .push_bind(e.station_id)
                            .push_bind(e.kind.as_str())
                            .push_bind(p.payload_text.clone())
                            .push_bind(e.observed_at.0)
                            .push_bind(received_at.0)
                            .push_bind(e.supersedes.as_ref().map(|s| s.as_str().to_owned()))
                            .push_bind(p.content_hash.clone());
                    });
                    q.build().execute(&mut **tx).await.map_err(db)?;
                }
                for (g, last) in last_seq.iter().filter(|(g, last)| locked.get(g) != Some(last)) {
                    ::sqlx::query("UPDATE observer_groups SET last_seq = $1 WHERE id = $2")
                        .bind(*last)
                        .bind(*g)
                        .execute(&mut **tx)
                        .await
                        .map_err(db)?;
                }
                Ok(out)
            }

            #[$crate::store_async_trait]
            impl $crate::EventLog for $log {
                async fn append_batch(
                    &self,
                    prepared: &[Prepared],
                    received_at: Timestamp,
                ) -> Result<Vec<Result<Appended>>> {
                    let mut tx = Tx::begin(&self.pool).await?;
                    let out = append_in(&mut tx, prepared, received_at).await?;
                    tx.commit().await?;
                    Ok(out)
                }
            }

            impl $store {
                /// The cosignature lines on a checkpoint, by witness name.
                async fn cosignature_lines(&self, group_id: RowId, size: u64) -> Result<Vec<String>> {
                    ::sqlx::query(
                        "SELECT line FROM cosignatures WHERE group_id = $1 AND size = $2 ORDER BY witness",
                    )
                    .bind(group_id)
                    .bind(count(size)?)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(|r| get(r, "line"))
                    .collect()
                }
            }

            #[$crate::store_async_trait]
            impl $crate::Store for $store {
                fn backend(&self) -> &'static str {
                    $backend
                }

                async fn ping(&self) -> Result<()> {
                    ::sqlx::query("SELECT 1").execute(&self.pool).await.map_err(db)?;
                    Ok(())
                }

                async fn probe_write(&self) -> Result<()> {
                    // 64 KiB needs fresh pages (and WAL space) on any page
                    // size, so a full disk or quota shows here as it would
                    // for a report; removed before the commit, so the table
                    // stays empty.
                    let mut tx = Tx::begin(&self.pool).await?;
                    ::sqlx::query("INSERT INTO write_probe (id, filler) VALUES (1, $1)")
                        .bind(vec![0x5au8; 64 * 1024])
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    ::sqlx::query("DELETE FROM write_probe")
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    tx.commit().await
                }

                async fn ensure_election(
                    &self,
                    slug: &Slug,
                    name: &str,
                    polling_day: &str,
                ) -> Result<Election> {
                    ::sqlx::query(
                        "INSERT INTO elections (slug, name, polling_day) VALUES ($1, $2, $3) \
                         ON CONFLICT (slug) DO NOTHING",
                    )
                    .bind(slug.as_str())
                    .bind(name)
                    .bind(polling_day)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    self.election(slug)
                        .await?
                        .ok_or_else(|| StoreError::NotFound(format!("election {slug}")))
                }

                async fn election(&self, slug: &Slug) -> Result<Option<Election>> {
                    ::sqlx::query("SELECT id, slug, name, polling_day, time_zone FROM elections WHERE slug = $1")
                        .bind(slug.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?
                        .as_ref()
                        .map(election)
                        .transpose()
                }

                async fn set_election_time_zone(&self, id: RowId, zone: &str) -> Result<()> {
                    ::sqlx::query("UPDATE elections SET time_zone = $1 WHERE id = $2")
                        .bind(zone)
                        .bind(id)
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    Ok(())
                }

                async fn elections(&self) -> Result<Vec<Election>> {
                    ::sqlx::query("SELECT id, slug, name, polling_day, time_zone FROM elections ORDER BY id")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(election)
                        .collect()
                }

                async fn districts(&self, election_id: RowId) -> Result<Vec<District>> {
                    let rows = ::sqlx::query(
                        "SELECT id, election_id, name, stations, voters FROM districts \
                         WHERE election_id = $1 ORDER BY name",
                    )
                    .bind(election_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                    rows.iter()
                        .map(|r| {
                            Ok(District {
                                id: get(r, "id")?,
                                election_id: get(r, "election_id")?,
                                name: get(r, "name")?,
                                stations: get(r, "stations")?,
                                voters: get(r, "voters")?,
                            })
                        })
                        .collect()
                }

                async fn import_stations(&self, import: StationImport) -> Result<ImportReport> {
                    let mut tx = Tx::begin(&self.pool).await?;
                    let rows = ::sqlx::query(&format!(
                        "SELECT {STATION_COLUMNS} FROM stations s JOIN districts d ON d.id = s.district_id \
                         WHERE s.election_id = $1"
                    ))
                    .bind(import.election_id)
                    .fetch_all(&mut *tx)
                    .await
                    .map_err(db)?;
                    let existing: Vec<Station> = rows.iter().map(station).collect::<Result<_>>()?;
                    let ids: std::collections::HashMap<StationNumber, RowId> = existing
                        .iter()
                        .map(|s| (s.record.number.clone(), s.id))
                        .collect();
                    let existing: Vec<StationRecord> =
                        existing.into_iter().map(|s| s.record).collect();
                    let diff = registry::diff(&existing, &import.records);
                    let mut report = ImportReport {
                        created: diff.created.len(),
                        updated: diff.updated.len(),
                        unchanged: diff.unchanged,
                        missing_from_file: diff.missing_from_file,
                        changes: diff
                            .updated
                            .iter()
                            .flat_map(|(r, cs)| cs.iter().map(|c| (r.number.clone(), c.clone())))
                            .collect(),
                        import_id: None,
                    };
                    if import.dry_run || (report.created == 0 && report.updated == 0) {
                        tx.rollback().await?;
                        return Ok(report);
                    }
                    let import_row = ::sqlx::query(
                        "INSERT INTO station_imports (election_id, source, sha256, imported_at, \
                         created, updated, unchanged) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
                    )
                    .bind(import.election_id)
                    .bind(&import.source)
                    .bind(&import.sha256)
                    .bind(import.at.0)
                    .bind(report.created as i64)
                    .bind(report.updated as i64)
                    .bind(report.unchanged as i64)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
                    let import_id: RowId = get(&import_row, "id")?;

                    let mut districts = std::collections::HashMap::new();
                    for r in diff.created.iter().chain(diff.updated.iter().map(|(r, _)| r)) {
                        if !districts.contains_key(&r.district) {
                            let id = district_id(&mut tx, import.election_id, &r.district).await?;
                            districts.insert(r.district.clone(), id);
                        }
                    }
                    // Stations whose words are (re)written below.
                    let mut worded: Vec<(RowId, &StationRecord)> = Vec::new();
                    for r in &diff.created {
                        let (lat, lon) = coordinates_parts(r);
                        let row = ::sqlx::query(
                            "INSERT INTO stations (election_id, number, name, address, district_id, \
                             registered_voters, latitude, longitude, kind, accessibility, num_key) \
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id",
                        )
                        .bind(import.election_id)
                        .bind(r.number.as_str())
                        .bind(&r.name)
                        .bind(&r.address)
                        .bind(districts[&r.district])
                        .bind(i64::from(r.registered_voters))
                        .bind(lat)
                        .bind(lon)
                        .bind(r.kind.as_str())
                        .bind(accessibility_text(r))
                        .bind(r.number.ordinal())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db)?;
                        let station_id: RowId = get(&row, "id")?;
                        worded.push((station_id, r));
                        ::sqlx::query(
                            "INSERT INTO station_changes (import_id, station_id, field, old_value, new_value) \
                             VALUES ($1, $2, 'station', '', 'created')",
                        )
                        .bind(import_id)
                        .bind(station_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    }
                    for (r, changes) in &diff.updated {
                        let station_id = *ids.get(&r.number).ok_or_else(|| {
                            StoreError::NotFound(format!("station {}", r.number))
                        })?;
                        let (lat, lon) = coordinates_parts(r);
                        ::sqlx::query(
                            "UPDATE stations SET name = $1, address = $2, district_id = $3, \
                             registered_voters = $4, latitude = $5, longitude = $6, kind = $7, \
                             accessibility = $8 WHERE id = $9",
                        )
                        .bind(&r.name)
                        .bind(&r.address)
                        .bind(districts[&r.district])
                        .bind(i64::from(r.registered_voters))
                        .bind(lat)
                        .bind(lon)
                        .bind(r.kind.as_str())
                        .bind(accessibility_text(r))
                        .bind(station_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        ::sqlx::query("DELETE FROM station_words WHERE station_id = $1")
                            .bind(station_id)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        worded.push((station_id, r));
                        for FieldChange { field, old, new } in changes {
                            ::sqlx::query(
                                "INSERT INTO station_changes (import_id, station_id, field, old_value, new_value) \
                                 VALUES ($1, $2, $3, $4, $5)",
                            )
                            .bind(import_id)
                            .bind(station_id)
                            .bind(*field)
                            .bind(old)
                            .bind(new)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        }
                    }
                    let words: Vec<(RowId, String)> = worded
                        .iter()
                        .flat_map(|(id, r)| {
                            $crate::domain::search::station_words(r)
                                .into_iter()
                                .map(move |w| (*id, w))
                        })
                        .collect();
                    insert_words(&mut tx, import.election_id, &words).await?;
                    // The districts' totals, for the ones this import touched
                    // (a station may have moved out of one into another).
                    // The election in the subqueries lets them use
                    // `stations_district_order`: without it each district
                    // walked the whole registry (175 s for 2,411 districts
                    // of 95,000 stations).
                    ::sqlx::query(
                        "UPDATE districts SET \
                         stations = (SELECT COUNT(*) FROM stations s \
                                     WHERE s.election_id = districts.election_id \
                                     AND s.district_id = districts.id), \
                         voters = (SELECT COALESCE(SUM(s.registered_voters), 0) FROM stations s \
                                   WHERE s.election_id = districts.election_id \
                                   AND s.district_id = districts.id) \
                         WHERE election_id = $1",
                    )
                    .bind(import.election_id)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    tx.commit().await?;
                    report.import_id = Some(import_id);
                    Ok(report)
                }

                async fn index_station_words(&self) -> Result<u64> {
                    const CHORE: &str = "station_words";
                    let finished = ::sqlx::query("SELECT 1 FROM store_chores WHERE name = $1")
                        .bind(CHORE)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?;
                    if finished.is_some() {
                        return Ok(0);
                    }
                    let mut done = 0u64;
                    loop {
                        // Stations stored before words were kept: each has
                        // at least its number as a word once indexed.
                        let rows = ::sqlx::query(&format!(
                            "SELECT {STATION_COLUMNS} FROM stations s JOIN districts d ON d.id = s.district_id \
                             WHERE NOT EXISTS (SELECT 1 FROM station_words w WHERE w.station_id = s.id) \
                             LIMIT 2000"
                        ))
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?;
                        if rows.is_empty() {
                            // Every import indexes its stations' words from
                            // now on: the walk is never needed again.
                            ::sqlx::query(
                                "INSERT INTO store_chores (name, done_at) VALUES ($1, $2) \
                                 ON CONFLICT (name) DO NOTHING",
                            )
                            .bind(CHORE)
                            .bind($crate::now().0)
                            .execute(&self.pool)
                            .await
                            .map_err(db)?;
                            return Ok(done);
                        }
                        let stations: Vec<Station> = rows.iter().map(station).collect::<Result<_>>()?;
                        let mut tx = Tx::begin(&self.pool).await?;
                        for s in &stations {
                            let words: Vec<(RowId, String)> =
                                $crate::domain::search::station_words(&s.record)
                                    .into_iter()
                                    .map(|w| (s.id, w))
                                    .collect();
                            insert_words(&mut tx, s.election_id, &words).await?;
                        }
                        tx.commit().await?;
                        done += stations.len() as u64;
                    }
                }

                async fn stations_page(
                    &self,
                    election_id: RowId,
                    q: &StationQuery,
                ) -> Result<Vec<Station>> {
                    // One statement per shape of query (district or not,
                    // cursor or not, how many words), each answered from an
                    // index: the first word's range of `station_words`, the
                    // others by the station's own words, and the order and
                    // cursor by `stations_order` / `stations_district_order`.
                    let mut sql = format!(
                        "SELECT {STATION_COLUMNS} FROM stations s JOIN districts d ON d.id = s.district_id \
                         WHERE s.election_id = $1"
                    );
                    let mut n = 1;
                    if q.district_id.is_some() {
                        n += 1;
                        sql.push_str(&format!(" AND s.district_id = ${n}"));
                    }
                    if q.after.is_some() {
                        sql.push_str(&format!(
                            " AND (s.num_key > ${} OR (s.num_key = ${} AND s.number > ${}))",
                            n + 1,
                            n + 1,
                            n + 2
                        ));
                        n += 2;
                    }
                    let terms = &q.terms[..q.terms.len().min($crate::domain::search::MAX_TERMS)];
                    for (i, _) in terms.iter().enumerate() {
                        if i == 0 {
                            sql.push_str(&format!(
                                " AND s.id IN (SELECT w.station_id FROM station_words w \
                                 WHERE w.election_id = $1 AND w.word >= ${} AND w.word < ${})",
                                n + 1,
                                n + 2
                            ));
                        } else {
                            sql.push_str(&format!(
                                " AND EXISTS (SELECT 1 FROM station_words w{i} WHERE w{i}.station_id = s.id \
                                 AND w{i}.word >= ${} AND w{i}.word < ${})",
                                n + 1,
                                n + 2
                            ));
                        }
                        n += 2;
                    }
                    sql.push_str(&format!(" ORDER BY s.num_key, s.number LIMIT ${}", n + 1));
                    let mut query = ::sqlx::query(&sql).bind(election_id);
                    if let Some(d) = q.district_id {
                        query = query.bind(d);
                    }
                    if let Some(after) = &q.after {
                        query = query.bind(after.ordinal()).bind(after.as_str().to_owned());
                    }
                    for t in terms {
                        query = query
                            .bind(t.clone())
                            .bind($crate::domain::search::prefix_end(t));
                    }
                    query
                        .bind(q.limit)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(station)
                        .collect()
                }

                async fn stations(&self, election_id: RowId) -> Result<Vec<Station>> {
                    let rows = ::sqlx::query(&format!(
                        "SELECT {STATION_COLUMNS} FROM stations s JOIN districts d ON d.id = s.district_id \
                         WHERE s.election_id = $1"
                    ))
                    .bind(election_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                    let mut out: Vec<Station> = rows.iter().map(station).collect::<Result<_>>()?;
                    out.sort_by(|a, b| a.record.number.sort_key().cmp(&b.record.number.sort_key()));
                    Ok(out)
                }

                async fn station(
                    &self,
                    election_id: RowId,
                    number: &StationNumber,
                ) -> Result<Option<Station>> {
                    ::sqlx::query(&format!(
                        "SELECT {STATION_COLUMNS} FROM stations s JOIN districts d ON d.id = s.district_id \
                         WHERE s.election_id = $1 AND s.number = $2"
                    ))
                    .bind(election_id)
                    .bind(number.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .as_ref()
                    .map(station)
                    .transpose()
                }

                async fn station_by_id(&self, id: RowId) -> Result<Option<Station>> {
                    ::sqlx::query(&format!(
                        "SELECT {STATION_COLUMNS} FROM stations s JOIN districts d ON d.id = s.district_id \
                         WHERE s.id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .as_ref()
                    .map(station)
                    .transpose()
                }

                async fn create_group(&self, slug: &Slug, name: &str, at: Timestamp) -> Result<Group> {
                    let row = ::sqlx::query(
                        "INSERT INTO observer_groups (slug, name, created_at) VALUES ($1, $2, $3) \
                         RETURNING id, slug, name",
                    )
                    .bind(slug.as_str())
                    .bind(name)
                    .bind(at.0)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(unique(format!("group {slug}")))?;
                    group(&row)
                }

                async fn group(&self, slug: &Slug) -> Result<Option<Group>> {
                    ::sqlx::query("SELECT id, slug, name FROM observer_groups WHERE slug = $1")
                        .bind(slug.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?
                        .as_ref()
                        .map(group)
                        .transpose()
                }

                async fn group_by_id(&self, id: RowId) -> Result<Option<Group>> {
                    ::sqlx::query("SELECT id, slug, name FROM observer_groups WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?
                        .as_ref()
                        .map(group)
                        .transpose()
                }

                async fn groups(&self) -> Result<Vec<Group>> {
                    ::sqlx::query("SELECT id, slug, name FROM observer_groups ORDER BY slug")
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(group)
                        .collect()
                }

                async fn create_user(&self, u: NewUser, at: Timestamp) -> Result<User> {
                    let row = ::sqlx::query(
                        "INSERT INTO users (group_id, username, role, password_hash, created_at) \
                         VALUES ($1, $2, $3, $4, $5) RETURNING id, group_id, username, role",
                    )
                    .bind(u.group_id)
                    .bind(&u.username)
                    .bind(u.role.as_str())
                    .bind(&u.password_hash)
                    .bind(at.0)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(unique(format!("user {}", u.username)))?;
                    user(&row)
                }

                async fn user_for_login(&self, username: &str) -> Result<Option<(User, String)>> {
                    let row = ::sqlx::query(
                        "SELECT id, group_id, username, role, password_hash FROM users WHERE username = $1",
                    )
                    .bind(username)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                    match row {
                        Some(r) => Ok(Some((user(&r)?, get(&r, "password_hash")?))),
                        None => Ok(None),
                    }
                }

                async fn group_users(&self, group_id: RowId) -> Result<Vec<User>> {
                    ::sqlx::query(
                        "SELECT id, group_id, username, role FROM users WHERE group_id = $1 \
                         ORDER BY username LIMIT 1000",
                    )
                    .bind(group_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(user)
                    .collect()
                }

                async fn create_observer(&self, o: NewObserver, at: Timestamp) -> Result<Observer> {
                    let row = ::sqlx::query(
                        "INSERT INTO observers (group_id, code_name, language, contact, created_at) \
                         VALUES ($1, $2, $3, $4, $5) \
                         RETURNING id, group_id, code_name, language, contact",
                    )
                    .bind(o.group_id)
                    .bind(o.code_name.as_str())
                    .bind(o.language.as_str())
                    .bind(&o.contact)
                    .bind(at.0)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(unique(format!("observer {}", o.code_name)))?;
                    observer(&row)
                }

                async fn enlist_observers(
                    &self,
                    group_id: RowId,
                    roster: Vec<(NewObserver, Vec<RowId>)>,
                    at: Timestamp,
                ) -> Result<Vec<Observer>> {
                    let mut tx = Tx::begin(&self.pool).await?;
                    let mut made = Vec::with_capacity(roster.len());
                    for (o, stations) in roster {
                        if o.group_id != group_id {
                            return Err(StoreError::Database(format!(
                                "observer {} is for another group",
                                o.code_name
                            )));
                        }
                        let row = ::sqlx::query(
                            "INSERT INTO observers (group_id, code_name, language, contact, created_at) \
                             VALUES ($1, $2, $3, $4, $5) \
                             RETURNING id, group_id, code_name, language, contact",
                        )
                        .bind(group_id)
                        .bind(o.code_name.as_str())
                        .bind(o.language.as_str())
                        .bind(&o.contact)
                        .bind(at.0)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(unique(format!("observer {}", o.code_name)))?;
                        let observer = observer(&row)?;
                        for station in stations {
                            ::sqlx::query(
                                "INSERT INTO assignments (group_id, observer_id, station_id) VALUES ($1, $2, $3) \
                                 ON CONFLICT (observer_id, station_id) DO NOTHING",
                            )
                            .bind(group_id)
                            .bind(observer.id)
                            .bind(station)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        }
                        made.push(observer);
                    }
                    tx.commit().await?;
                    Ok(made)
                }

                async fn observer(&self, group_id: RowId, id: RowId) -> Result<Option<Observer>> {
                    ::sqlx::query(
                        "SELECT id, group_id, code_name, language, contact FROM observers \
                         WHERE group_id = $1 AND id = $2",
                    )
                    .bind(group_id)
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .as_ref()
                    .map(observer)
                    .transpose()
                }

                async fn observers_by_id(
                    &self,
                    group_id: RowId,
                    ids: &[RowId],
                ) -> Result<Vec<Observer>> {
                    if ids.is_empty() {
                        return Ok(vec![]);
                    }
                    if ids.len() > MAX_IDS_PER_READ {
                        return Err(StoreError::Database(format!(
                            "{} observers in one read: at most {MAX_IDS_PER_READ}",
                            ids.len()
                        )));
                    }
                    let mut q = ::sqlx::QueryBuilder::<Db>::new(
                        "SELECT id, group_id, code_name, language, contact FROM observers WHERE id IN (",
                    );
                    let mut list = q.separated(", ");
                    for id in ids {
                        list.push_bind(*id);
                    }
                    q.push(") AND group_id = ").push_bind(group_id).push(" ORDER BY code_name");
                    q.build()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(observer)
                        .collect()
                }

                async fn observer_by_code_name(
                    &self,
                    group_id: RowId,
                    code_name: &CodeName,
                ) -> Result<Option<Observer>> {
                    ::sqlx::query(
                        "SELECT id, group_id, code_name, language, contact FROM observers \
                         WHERE group_id = $1 AND code_name = $2",
                    )
                    .bind(group_id)
                    .bind(code_name.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .as_ref()
                    .map(observer)
                    .transpose()
                }

                async fn observers(&self, group_id: RowId) -> Result<Vec<Observer>> {
                    ::sqlx::query(
                        "SELECT id, group_id, code_name, language, contact FROM observers \
                         WHERE group_id = $1 ORDER BY code_name",
                    )
                    .bind(group_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(observer)
                    .collect()
                }

                async fn assign(
                    &self,
                    group_id: RowId,
                    observer_id: RowId,
                    station_id: RowId,
                ) -> Result<()> {
                    // The observer must be the group's own: a group cannot
                    // plant assignments on another group's volunteers.
                    if self.observer(group_id, observer_id).await?.is_none() {
                        return Err(StoreError::NotFound(format!("observer {observer_id}")));
                    }
                    ::sqlx::query(
                        "INSERT INTO assignments (group_id, observer_id, station_id) VALUES ($1, $2, $3) \
                         ON CONFLICT (observer_id, station_id) DO NOTHING",
                    )
                    .bind(group_id)
                    .bind(observer_id)
                    .bind(station_id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn is_assigned(
                    &self,
                    group_id: RowId,
                    observer_id: RowId,
                    station_id: RowId,
                ) -> Result<bool> {
                    let row = ::sqlx::query(
                        "SELECT 1 AS one FROM assignments \
                         WHERE observer_id = $1 AND station_id = $2 AND group_id = $3",
                    )
                    .bind(observer_id)
                    .bind(station_id)
                    .bind(group_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(row.is_some())
                }

                async fn assignments(&self, group_id: RowId) -> Result<Vec<Assignment>> {
                    let rows = ::sqlx::query(
                        "SELECT observer_id, station_id FROM assignments WHERE group_id = $1 \
                         ORDER BY observer_id, station_id",
                    )
                    .bind(group_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                    rows.iter()
                        .map(|r| {
                            Ok(Assignment {
                                observer_id: get(r, "observer_id")?,
                                station_id: get(r, "station_id")?,
                            })
                        })
                        .collect()
                }

                async fn change_assignments(
                    &self,
                    group_id: RowId,
                    changes: Vec<NewEvent>,
                ) -> Result<Vec<Option<Event>>> {
                    // Checked before the transaction: these are the server's
                    // own events, so a wrong one is a bug, said plainly.
                    let mut parsed = Vec::with_capacity(changes.len());
                    for e in &changes {
                        let action = e
                            .payload
                            .as_object()
                            .and_then(|p| actions::parse(e.kind, p))
                            .and_then(|r| r.ok());
                        match action {
                            Some(Action::Assignment { observer, station, change })
                                if e.group_id == group_id
                                    && e.observer_id.is_none()
                                    && e.station_id == Some(station) =>
                            {
                                parsed.push((observer, station, change));
                            }
                            _ => {
                                return Err(StoreError::Database(format!(
                                    "event {} is not an assignment of group {group_id}",
                                    e.client_id
                                )));
                            }
                        }
                    }
                    let mut tx = Tx::begin(&self.pool).await?;
                    // The group's counter first, as every append takes it
                    // first: one lock order, so no deadlock with the writer.
                    let counter = ::sqlx::query(
                        "UPDATE observer_groups SET last_seq = last_seq WHERE id = $1 RETURNING id",
                    )
                    .bind(group_id)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
                    if counter.is_none() {
                        return Err(StoreError::NotFound(format!("group {group_id}")));
                    }
                    let mut logged = Vec::new();
                    let mut changed = Vec::with_capacity(changes.len());
                    for (e, (observer, station, change)) in changes.into_iter().zip(parsed) {
                        // The group's own observer and a real station: a group
                        // cannot plant assignments on another's volunteers.
                        let known = ::sqlx::query(
                            "SELECT (SELECT COUNT(*) FROM observers WHERE id = $1 AND group_id = $2) AS o, \
                             (SELECT COUNT(*) FROM stations WHERE id = $3) AS s",
                        )
                        .bind(observer)
                        .bind(group_id)
                        .bind(station)
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db)?;
                        if get::<i64>(&known, "o")? == 0 {
                            return Err(StoreError::NotFound(format!("observer {observer}")));
                        }
                        if get::<i64>(&known, "s")? == 0 {
                            return Err(StoreError::NotFound(format!("station {station}")));
                        }
                        let done = match change {
                            AssignmentChange::Assign => ::sqlx::query(
                                "INSERT INTO assignments (group_id, observer_id, station_id) \
                                 VALUES ($1, $2, $3) ON CONFLICT (observer_id, station_id) DO NOTHING",
                            ),
                            AssignmentChange::Unassign => ::sqlx::query(
                                "DELETE FROM assignments \
                                 WHERE group_id = $1 AND observer_id = $2 AND station_id = $3",
                            ),
                        }
                        .bind(group_id)
                        .bind(observer)
                        .bind(station)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                        let moved = done.rows_affected() > 0;
                        if moved {
                            logged.push(Prepared::new(e));
                        }
                        changed.push(moved);
                    }
                    let mut appended = append_in(&mut tx, &logged, $crate::now()).await?.into_iter();
                    let mut out = Vec::with_capacity(changed.len());
                    for moved in changed {
                        if !moved {
                            out.push(None);
                            continue;
                        }
                        // A refused event (a client id reused with other
                        // content) undoes its table change with the rest:
                        // the transaction is dropped uncommitted.
                        match appended.next() {
                            Some(Ok(a)) => out.push(Some(a.event)),
                            Some(Err(e)) => return Err(e),
                            None => {
                                return Err(StoreError::Database(
                                    "an assignment's event went unanswered".into(),
                                ));
                            }
                        }
                    }
                    tx.commit().await?;
                    Ok(out)
                }

                async fn assignments_of(
                    &self,
                    group_id: RowId,
                    observer_ids: &[RowId],
                ) -> Result<Vec<AssignedStation>> {
                    if observer_ids.is_empty() {
                        return Ok(vec![]);
                    }
                    if observer_ids.len() > MAX_IDS_PER_READ {
                        return Err(StoreError::Database(format!(
                            "{} observers in one read: at most {MAX_IDS_PER_READ}",
                            observer_ids.len()
                        )));
                    }
                    let mut q = ::sqlx::QueryBuilder::<Db>::new(
                        "SELECT a.observer_id, a.station_id, s.number FROM assignments a \
                         JOIN stations s ON s.id = a.station_id WHERE a.group_id = ",
                    );
                    q.push_bind(group_id).push(" AND a.observer_id IN (");
                    let mut list = q.separated(", ");
                    for id in observer_ids {
                        list.push_bind(*id);
                    }
                    q.push(")");
                    let mut out = q
                        .build()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(|r| {
                            Ok(AssignedStation {
                                observer_id: get(r, "observer_id")?,
                                station_id: get(r, "station_id")?,
                                number: StationNumber::parse(&get::<String>(r, "number")?)
                                    .map_err(|e| corrupt("station number", e))?,
                            })
                        })
                        .collect::<Result<Vec<_>>>()?;
                    out.sort_by(|a, b| {
                        (a.observer_id, a.number.sort_key()).cmp(&(b.observer_id, b.number.sort_key()))
                    });
                    Ok(out)
                }

                async fn observers_at(&self, group_id: RowId, station_id: RowId) -> Result<Vec<Observer>> {
                    ::sqlx::query(
                        "SELECT o.id, o.group_id, o.code_name, o.language, o.contact FROM observers o \
                         JOIN assignments a ON a.observer_id = o.id \
                         WHERE a.group_id = $1 AND a.station_id = $2 AND o.group_id = $1 \
                         ORDER BY o.code_name LIMIT 1000",
                    )
                    .bind(group_id)
                    .bind(station_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(observer)
                    .collect()
                }

                async fn observers_page(
                    &self,
                    group_id: RowId,
                    after: Option<&CodeName>,
                    prefix: &str,
                    limit: i64,
                ) -> Result<Vec<Observer>> {
                    // lower() folds Latin letters on both databases (SQLite's
                    // folds no others), so "obs" finds "Obs-7" on either.
                    ::sqlx::query(
                        "SELECT id, group_id, code_name, language, contact FROM observers \
                         WHERE group_id = $1 AND ($2 IS NULL OR code_name > $2) \
                         AND lower(substr(code_name, 1, CAST($3 AS INTEGER))) = lower($4) \
                         ORDER BY code_name LIMIT $5",
                    )
                    .bind(group_id)
                    .bind(after.map(|c| c.as_str()))
                    .bind(prefix.chars().count() as i64)
                    .bind(prefix)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(observer)
                    .collect()
                }

                async fn live_devices(
                    &self,
                    group_id: RowId,
                    observer_ids: &[RowId],
                    now: Timestamp,
                ) -> Result<Vec<(RowId, i64)>> {
                    if observer_ids.is_empty() {
                        return Ok(vec![]);
                    }
                    if observer_ids.len() > MAX_IDS_PER_READ {
                        return Err(StoreError::Database(format!(
                            "{} observers in one read: at most {MAX_IDS_PER_READ}",
                            observer_ids.len()
                        )));
                    }
                    let mut q = ::sqlx::QueryBuilder::<Db>::new(
                        "SELECT observer_id, COUNT(*) AS n FROM sessions WHERE revoked_at IS NULL \
                         AND expires_at > ",
                    );
                    q.push_bind(now.0)
                        .push(" AND group_id = ")
                        .push_bind(group_id)
                        .push(" AND observer_id IN (");
                    let mut list = q.separated(", ");
                    for id in observer_ids {
                        list.push_bind(*id);
                    }
                    q.push(") GROUP BY observer_id ORDER BY observer_id");
                    q.build()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(|r| Ok((get(r, "observer_id")?, get(r, "n")?)))
                        .collect()
                }

                async fn user(&self, id: RowId) -> Result<Option<User>> {
                    ::sqlx::query("SELECT id, group_id, username, role FROM users WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await
                        .map_err(db)?
                        .as_ref()
                        .map(user)
                        .transpose()
                }

                async fn create_enrolment_code(
                    &self,
                    code_hash: &str,
                    group_id: RowId,
                    observer_id: RowId,
                    expires_at: Timestamp,
                    at: Timestamp,
                ) -> Result<()> {
                    ::sqlx::query(
                        "INSERT INTO enrolment_codes (code_hash, group_id, observer_id, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(code_hash)
                    .bind(group_id)
                    .bind(observer_id)
                    .bind(at.0)
                    .bind(expires_at.0)
                    .execute(&self.pool)
                    .await
                    .map_err(unique("enrolment code".into()))?;
                    Ok(())
                }

                async fn redeem_enrolment_code(
                    &self,
                    code_hash: &str,
                    now: Timestamp,
                ) -> Result<Option<(RowId, RowId)>> {
                    // One statement, so two phones racing with one code
                    // cannot both win.
                    let row = ::sqlx::query(
                        "UPDATE enrolment_codes SET used_at = $1 \
                         WHERE code_hash = $2 AND used_at IS NULL AND expires_at > $1 \
                         RETURNING group_id, observer_id",
                    )
                    .bind(now.0)
                    .bind(code_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                    match row {
                        Some(r) => Ok(Some((get(&r, "group_id")?, get(&r, "observer_id")?))),
                        None => Ok(None),
                    }
                }

                async fn create_session(&self, s: &Session, at: Timestamp) -> Result<()> {
                    let (user_id, observer_id) = match &s.principal {
                        Principal::Staff { user_id, .. } => (Some(*user_id), None),
                        Principal::Observer { observer_id, .. } => (None, Some(*observer_id)),
                    };
                    ::sqlx::query(
                        "INSERT INTO sessions (id, token_hash, user_id, observer_id, group_id, role, \
                         csrf_token, created_at, expires_at, device, last_seen_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $8)",
                    )
                    .bind(&s.id)
                    .bind(&s.token_hash)
                    .bind(user_id)
                    .bind(observer_id)
                    .bind(s.principal.group_id())
                    .bind(s.principal.role().as_str())
                    .bind(&s.csrf_token)
                    .bind(at.0)
                    .bind(s.expires_at.0)
                    .bind(&s.device)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn session(&self, token_hash: &str, now: Timestamp) -> Result<SessionLookup> {
                    let row = ::sqlx::query(&format!(
                        "SELECT {SESSION_COLUMNS}, revoked_at FROM sessions WHERE token_hash = $1"
                    ))
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                    let Some(row) = row else {
                        return Ok(SessionLookup::Missing);
                    };
                    let revoked: Option<i64> = get(&row, "revoked_at")?;
                    let s = session(&row)?;
                    Ok(if revoked.is_some() {
                        SessionLookup::Revoked
                    } else if s.expires_at <= now {
                        SessionLookup::Expired
                    } else {
                        SessionLookup::Live(s)
                    })
                }

                async fn delete_session(&self, token_hash: &str) -> Result<()> {
                    ::sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
                        .bind(token_hash)
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    Ok(())
                }

                async fn touch_sessions(&self, uses: &[SessionUse]) -> Result<()> {
                    if uses.is_empty() {
                        return Ok(());
                    }
                    // One transaction for the batch: at 07:00 thousands of
                    // phones open at once, and one commit each would queue
                    // on SQLite's single writer ahead of their reports.
                    let mut tx = Tx::begin(&self.pool).await?;
                    for u in uses {
                        ::sqlx::query(
                            "UPDATE sessions SET last_seen_at = $1, \
                             device = CASE WHEN device = '' THEN $3 ELSE device END \
                             WHERE token_hash = $2 AND (last_seen_at < $1 OR device = '')",
                        )
                        .bind(u.at.0)
                        .bind(&u.token_hash)
                        .bind(&u.device)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    }
                    tx.commit().await
                }

                async fn sessions_of(&self, owner: SessionOwner, now: Timestamp) -> Result<Vec<Session>> {
                    let (clause, id, group) = owner_clause(owner);
                    ::sqlx::query(&format!(
                        "SELECT {SESSION_COLUMNS} FROM sessions WHERE {clause} \
                         AND revoked_at IS NULL AND expires_at > $3 ORDER BY created_at DESC, id LIMIT 1000"
                    ))
                    .bind(id)
                    .bind(group)
                    .bind(now.0)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(session)
                    .collect()
                }

                async fn revoke_sessions(
                    &self,
                    owner: SessionOwner,
                    only: Option<&str>,
                    except: Option<&str>,
                    at: Timestamp,
                ) -> Result<u64> {
                    let (clause, id, group) = owner_clause(owner);
                    let done = ::sqlx::query(&format!(
                        "UPDATE sessions SET revoked_at = $3 WHERE {clause} AND revoked_at IS NULL \
                         AND ($4 IS NULL OR id = $4) AND ($5 IS NULL OR id <> $5)"
                    ))
                    .bind(id)
                    .bind(group)
                    .bind(at.0)
                    .bind(only)
                    .bind(except)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected())
                }

                async fn revoke_staff_session(&self, id: &str, at: Timestamp) -> Result<bool> {
                    let done = ::sqlx::query(
                        "UPDATE sessions SET revoked_at = $1 \
                         WHERE id = $2 AND revoked_at IS NULL AND user_id IS NOT NULL",
                    )
                    .bind(at.0)
                    .bind(id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected() > 0)
                }

                async fn purge_expired(&self, now: Timestamp) -> Result<u64> {
                    let sessions = ::sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
                        .bind(now.0)
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    let codes = ::sqlx::query(
                        "DELETE FROM enrolment_codes WHERE expires_at <= $1 \
                         OR (used_at IS NOT NULL AND used_at <= $2)",
                    )
                    .bind(now.0)
                    // A used code is kept a day, so "this code was used" can
                    // still be told apart from a mistyped one meanwhile.
                    .bind(now.0 - 24 * 3600 * 1000)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(sessions.rows_affected() + codes.rows_affected())
                }

                async fn staff_sessions(&self, now: Timestamp, limit: i64) -> Result<Vec<Session>> {
                    ::sqlx::query(&format!(
                        "SELECT {SESSION_COLUMNS} FROM sessions WHERE user_id IS NOT NULL \
                         AND revoked_at IS NULL AND expires_at > $1 ORDER BY created_at DESC, id LIMIT $2"
                    ))
                    .bind(now.0)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(session)
                    .collect()
                }

                async fn append(&self, e: NewEvent) -> Result<Appended> {
                    self.writer.append(e).await
                }

                async fn append_many(&self, events: Vec<NewEvent>) -> Result<Vec<Result<Appended>>> {
                    use $crate::EventLog as _;
                    let prepared: Vec<Prepared> = events.into_iter().map(Prepared::new).collect();
                    // Beside the writer, not through it: the counter-row lock
                    // in `append_batch` orders the two.
                    $log { pool: self.pool.clone() }
                        .append_batch(&prepared, $crate::now())
                        .await
                }

                async fn events_for_station(
                    &self,
                    group_id: RowId,
                    station_id: RowId,
                    observer_id: Option<RowId>,
                    after_seq: i64,
                    limit: i64,
                ) -> Result<Vec<Event>> {
                    ::sqlx::query(&format!(
                        "SELECT {EVENT_COLUMNS} FROM events WHERE group_id = $1 AND station_id = $2 \
                         AND group_seq > $3 AND ($4 IS NULL OR observer_id = $4) \
                         ORDER BY group_seq LIMIT $5"
                    ))
                    .bind(group_id)
                    .bind(station_id)
                    .bind(after_seq)
                    .bind(observer_id)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(event)
                    .collect()
                }

                async fn station_events_before(
                    &self,
                    group_id: RowId,
                    station_id: RowId,
                    before_seq: i64,
                    limit: i64,
                ) -> Result<Vec<Event>> {
                    ::sqlx::query(&format!(
                        "SELECT {EVENT_COLUMNS} FROM events WHERE group_id = $1 AND station_id = $2 \
                         AND group_seq < $3 ORDER BY group_seq DESC LIMIT $4"
                    ))
                    .bind(group_id)
                    .bind(station_id)
                    .bind(before_seq)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(event)
                    .collect()
                }

                async fn events(&self, group_id: RowId, after_seq: i64, limit: i64) -> Result<Vec<Event>> {
                    ::sqlx::query(&format!(
                        "SELECT {EVENT_COLUMNS} FROM events WHERE group_id = $1 AND group_seq > $2 \
                         ORDER BY group_seq LIMIT $3"
                    ))
                    .bind(group_id)
                    .bind(after_seq)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(event)
                    .collect()
                }

                async fn event_by_client_id(
                    &self,
                    group_id: RowId,
                    client_id: &ClientId,
                ) -> Result<Option<Event>> {
                    ::sqlx::query(&format!(
                        "SELECT {EVENT_COLUMNS} FROM events WHERE group_id = $1 AND client_id = $2"
                    ))
                    .bind(group_id)
                    .bind(client_id.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .as_ref()
                    .map(event)
                    .transpose()
                }

                async fn subscribe(
                    &self,
                ) -> Result<Option<::tokio::sync::mpsc::Receiver<$crate::LogNotice>>> {
                    // Each backend says how (or whether) it hears of other
                    // servers' appends.
                    self.listen().await
                }

                async fn event_count(&self, group_id: RowId) -> Result<i64> {
                    let row = ::sqlx::query("SELECT COUNT(*) AS n FROM events WHERE group_id = $1")
                        .bind(group_id)
                        .fetch_one(&self.pool)
                        .await
                        .map_err(db)?;
                    get(&row, "n")
                }

                async fn import_results(
                    &self,
                    import: ResultImport<'_>,
                ) -> Result<(ResultImportInfo, bool)> {
                    let mut tx = Tx::begin(&self.pool).await?;
                    let existing = ::sqlx::query(&format!(
                        "SELECT {IMPORT_COLUMNS} FROM result_imports WHERE sha256 = $1 AND mapping = $2"
                    ))
                    .bind(&import.sha256)
                    .bind(&import.mapping)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?;
                    if let Some(row) = existing {
                        tx.rollback().await?;
                        return Ok((import_info(&row)?, false));
                    }
                    let candidates = ::serde_json::to_string(&import.set.candidates)
                        .map_err(|e| StoreError::Database(e.to_string()))?;
                    let row = ::sqlx::query(&format!(
                        "INSERT INTO result_imports (name, source, file_name, sha256, mapping, \
                         imported_at, candidates, leader, stations, skipped_incomplete) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {IMPORT_COLUMNS}"
                    ))
                    .bind(&import.name)
                    .bind(&import.source)
                    .bind(&import.file_name)
                    .bind(&import.sha256)
                    .bind(&import.mapping)
                    .bind(import.at.0)
                    .bind(&candidates)
                    .bind(count(import.set.leader as u64)?)
                    .bind(count(import.set.stations.len() as u64)?)
                    .bind(count(import.set.skipped_incomplete as u64)?)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db)?;
                    let info = import_info(&row)?;
                    for chunk in import.set.stations.chunks(1000) {
                        let rows: Vec<_> = chunk
                            .iter()
                            .map(|s| {
                                Ok((
                                    s,
                                    count(s.line as u64)?,
                                    count(s.registered)?,
                                    count(s.ballots_issued)?,
                                    count(s.valid)?,
                                    count(s.invalid)?,
                                    ::serde_json::to_string(&s.votes)
                                        .map_err(|e| StoreError::Database(e.to_string()))?,
                                ))
                            })
                            .collect::<Result<_>>()?;
                        let mut q = ::sqlx::QueryBuilder::<Db>::new(
                            "INSERT INTO official_results (import_id, station, line, registered, \
                             ballots_issued, valid, invalid, votes) ",
                        );
                        q.push_values(rows, |mut b, (s, line, reg, iss, val, inv, votes)| {
                            b.push_bind(info.id)
                                .push_bind(s.station.clone())
                                .push_bind(line)
                                .push_bind(reg)
                                .push_bind(iss)
                                .push_bind(val)
                                .push_bind(inv)
                                .push_bind(votes);
                        });
                        q.build().execute(&mut *tx).await.map_err(db)?;
                    }
                    for chunk in import.observed.chunks(1000) {
                        let rows: Vec<_> = chunk
                            .iter()
                            .map(|o| {
                                Ok((
                                    o,
                                    count(o.line as u64)?,
                                    ::serde_json::to_string(o)
                                        .map_err(|e| StoreError::Database(e.to_string()))?,
                                ))
                            })
                            .collect::<Result<_>>()?;
                        let mut q = ::sqlx::QueryBuilder::<Db>::new(
                            "INSERT INTO observed_figures (import_id, station, line, figures) ",
                        );
                        q.push_values(rows, |mut b, (o, line, figures)| {
                            b.push_bind(info.id)
                                .push_bind(o.station.clone())
                                .push_bind(line)
                                .push_bind(figures);
                        });
                        q.build().execute(&mut *tx).await.map_err(db)?;
                    }
                    tx.commit().await?;
                    Ok((info, true))
                }

                async fn result_imports(&self) -> Result<Vec<ResultImportInfo>> {
                    ::sqlx::query(&format!(
                        "SELECT {IMPORT_COLUMNS} FROM result_imports ORDER BY id"
                    ))
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(import_info)
                    .collect()
                }

                async fn result_set(
                    &self,
                    id: RowId,
                ) -> Result<Option<(ResultImportInfo, ResultSet, Vec<ObservedFigures>)>> {
                    let Some(row) = ::sqlx::query(&format!(
                        "SELECT {IMPORT_COLUMNS} FROM result_imports WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    else {
                        return Ok(None);
                    };
                    let info = import_info(&row)?;
                    let rows = ::sqlx::query(
                        "SELECT station, line, registered, ballots_issued, valid, invalid, votes \
                         FROM official_results WHERE import_id = $1 ORDER BY line",
                    )
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                    let mut stations = Vec::with_capacity(rows.len());
                    for r in &rows {
                        let votes: String = get(r, "votes")?;
                        stations.push(StationResult {
                            station: get(r, "station")?,
                            line: figure(r, "line")? as usize,
                            registered: figure(r, "registered")?,
                            ballots_issued: figure(r, "ballots_issued")?,
                            valid: figure(r, "valid")?,
                            invalid: figure(r, "invalid")?,
                            votes: ::serde_json::from_str(&votes).map_err(|e| corrupt("votes", e))?,
                        });
                    }
                    let observed_rows = ::sqlx::query(
                        "SELECT figures FROM observed_figures WHERE import_id = $1 ORDER BY line",
                    )
                    .bind(id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?;
                    let observed = observed_rows
                        .iter()
                        .map(|r| {
                            let text: String = get(r, "figures")?;
                            ::serde_json::from_str(&text).map_err(|e| corrupt("observed figures", e))
                        })
                        .collect::<Result<Vec<ObservedFigures>>>()?;
                    let set = ResultSet {
                        candidates: info.candidates.clone(),
                        leader: info.leader,
                        stations,
                        skipped_incomplete: usize::try_from(info.skipped_incomplete)
                            .map_err(|e| corrupt("skipped", e))?,
                    };
                    Ok(Some((info, set, observed)))
                }

                async fn result_import(&self, id: RowId) -> Result<Option<ResultImportInfo>> {
                    ::sqlx::query(&format!(
                        "SELECT {IMPORT_COLUMNS} FROM result_imports WHERE id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .as_ref()
                    .map(import_info)
                    .transpose()
                }

                async fn forensics(&self, result_id: RowId, version: i64) -> Result<Option<String>> {
                    let row = ::sqlx::query(
                        "SELECT report FROM result_forensics WHERE import_id = $1 AND version = $2",
                    )
                    .bind(result_id)
                    .bind(version)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                    row.as_ref().map(|r| get(r, "report")).transpose()
                }

                async fn store_forensics(
                    &self,
                    result_id: RowId,
                    version: i64,
                    report: &str,
                    at: Timestamp,
                ) -> Result<()> {
                    ::sqlx::query(
                        "INSERT INTO result_forensics (import_id, version, report, computed_at) \
                         VALUES ($1, $2, $3, $4) ON CONFLICT (import_id, version) DO NOTHING",
                    )
                    .bind(result_id)
                    .bind(version)
                    .bind(report)
                    .bind(at.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn record_blob(&self, b: NewBlob) -> Result<(BlobInfo, bool)> {
                    // Insert-or-nothing, then read whichever row is there: a
                    // race of two uploads of one photo stores one row.
                    let inserted = ::sqlx::query(&format!(
                        "INSERT INTO blobs ({BLOB_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6) \
                         ON CONFLICT (group_id, sha256) DO NOTHING RETURNING {BLOB_COLUMNS}"
                    ))
                    .bind(b.group_id)
                    .bind(b.sha256.as_str())
                    .bind(b.media_type.mime())
                    .bind(count(b.size)?)
                    .bind(b.uploaded_by_observer)
                    .bind(b.received_at.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                    if let Some(row) = inserted {
                        return Ok((blob(&row)?, true));
                    }
                    let stored = self
                        .blob(b.group_id, &b.sha256)
                        .await?
                        .ok_or_else(|| StoreError::NotFound(format!("blob {}", b.sha256)))?;
                    Ok((stored, false))
                }

                async fn blob(&self, group_id: RowId, sha256: &BlobHash) -> Result<Option<BlobInfo>> {
                    ::sqlx::query(&format!(
                        "SELECT {BLOB_COLUMNS} FROM blobs WHERE group_id = $1 AND sha256 = $2"
                    ))
                    .bind(group_id)
                    .bind(sha256.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .as_ref()
                    .map(blob)
                    .transpose()
                }

                // --- the evidence log ---

                async fn ledger_head(&self, group_id: RowId) -> Result<LedgerHead> {
                    let row = ::sqlx::query(
                        "SELECT size, last_seq, frontier FROM ledger_heads WHERE group_id = $1",
                    )
                    .bind(group_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                    let Some(row) = row else {
                        return Ok(LedgerHead::default());
                    };
                    let bytes: Vec<u8> = get(&row, "frontier")?;
                    if bytes.len() % 32 != 0 {
                        return Err(corrupt("ledger frontier", "not a whole number of hashes"));
                    }
                    Ok(LedgerHead {
                        size: figure(&row, "size")?,
                        last_seq: get(&row, "last_seq")?,
                        frontier: bytes.chunks(32).map(tree_hash).collect::<Result<_>>()?,
                    })
                }

                async fn ledger_append(
                    &self,
                    group_id: RowId,
                    from_size: u64,
                    head: &LedgerHead,
                    nodes: &[LedgerNode],
                    files: &[LedgerFile],
                ) -> Result<bool> {
                    let mut tx = Tx::begin(&self.pool).await?;
                    let frontier: Vec<u8> = head.frontier.iter().flatten().copied().collect();
                    // Compare-and-set on the head: two servers over one
                    // PostgreSQL may sequence the same group; one wins.
                    let moved = if from_size == 0 {
                        ::sqlx::query(
                            "INSERT INTO ledger_heads (group_id, size, last_seq, frontier) \
                             VALUES ($1, $2, $3, $4) ON CONFLICT (group_id) DO NOTHING",
                        )
                        .bind(group_id)
                        .bind(count(head.size)?)
                        .bind(head.last_seq)
                        .bind(&frontier)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?
                        .rows_affected()
                    } else {
                        ::sqlx::query(
                            "UPDATE ledger_heads SET size = $2, last_seq = $3, frontier = $4 \
                             WHERE group_id = $1 AND size = $5",
                        )
                        .bind(group_id)
                        .bind(count(head.size)?)
                        .bind(head.last_seq)
                        .bind(&frontier)
                        .bind(count(from_size)?)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?
                        .rows_affected()
                    };
                    if moved != 1 {
                        tx.rollback().await?;
                        return Ok(false);
                    }
                    for chunk in nodes.chunks(300) {
                        let mut q = ::sqlx::QueryBuilder::<Db>::new(
                            "INSERT INTO ledger_nodes (group_id, level, idx, hash) ",
                        );
                        let mut bad = None;
                        q.push_values(chunk, |mut b, n| {
                            let idx = i64::try_from(n.index).unwrap_or_else(|_| {
                                bad = Some(n.index);
                                -1
                            });
                            b.push_bind(group_id)
                                .push_bind(i64::from(n.level))
                                .push_bind(idx)
                                .push_bind(n.hash.to_vec());
                        });
                        if let Some(i) = bad {
                            return Err(StoreError::Database(format!("leaf index {i} too large")));
                        }
                        q.build().execute(&mut *tx).await.map_err(db)?;
                    }
                    for f in files {
                        ::sqlx::query(
                            "INSERT INTO ledger_files (group_id, idx, sha256, data) VALUES ($1, $2, $3, $4)",
                        )
                        .bind(group_id)
                        .bind(count(f.index)?)
                        .bind(&f.sha256)
                        .bind(&f.data)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    }
                    tx.commit().await?;
                    Ok(true)
                }

                async fn ledger_nodes(&self, group_id: RowId, wanted: &[(u8, u64)]) -> Result<Vec<LedgerNode>> {
                    if wanted.is_empty() {
                        return Ok(Vec::new());
                    }
                    if wanted.len() > MAX_IDS_PER_READ {
                        return Err(StoreError::Database(format!(
                            "{} tree nodes in one read: at most {MAX_IDS_PER_READ}",
                            wanted.len()
                        )));
                    }
                    let mut q = ::sqlx::QueryBuilder::<Db>::new(
                        "SELECT level, idx, hash FROM ledger_nodes WHERE group_id = ",
                    );
                    q.push_bind(group_id).push(" AND (");
                    for (i, (level, index)) in wanted.iter().enumerate() {
                        if i > 0 {
                            q.push(" OR ");
                        }
                        q.push("(level = ")
                            .push_bind(i64::from(*level))
                            .push(" AND idx = ")
                            .push_bind(count(*index)?)
                            .push(")");
                    }
                    q.push(")");
                    q.build()
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?
                        .iter()
                        .map(ledger_node)
                        .collect()
                }

                async fn ledger_leaves(&self, group_id: RowId, from: u64, limit: i64) -> Result<Vec<TreeHash>> {
                    ::sqlx::query(
                        "SELECT hash FROM ledger_nodes WHERE group_id = $1 AND level = 0 AND idx >= $2 \
                         ORDER BY idx LIMIT $3",
                    )
                    .bind(group_id)
                    .bind(count(from)?)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(|r| tree_hash(&get::<Vec<u8>>(r, "hash")?))
                    .collect()
                }

                async fn ledger_files(
                    &self,
                    group_id: RowId,
                    after: Option<u64>,
                    limit: i64,
                ) -> Result<Vec<LedgerFile>> {
                    let after = match after {
                        Some(a) => count(a)?,
                        None => -1,
                    };
                    ::sqlx::query(
                        "SELECT idx, sha256, data FROM ledger_files WHERE group_id = $1 AND idx > $2 \
                         ORDER BY idx LIMIT $3",
                    )
                    .bind(group_id)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(|r| {
                        Ok(LedgerFile {
                            index: figure(r, "idx")?,
                            sha256: get(r, "sha256")?,
                            data: get(r, "data")?,
                        })
                    })
                    .collect()
                }

                async fn ledger_files_known(&self, group_id: RowId, sha256: &[String]) -> Result<Vec<String>> {
                    if sha256.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut known = Vec::new();
                    for chunk in sha256.chunks(MAX_IDS_PER_READ) {
                        let mut q = ::sqlx::QueryBuilder::<Db>::new(
                            "SELECT sha256 FROM ledger_files WHERE group_id = ",
                        );
                        q.push_bind(group_id).push(" AND sha256 IN (");
                        let mut list = q.separated(", ");
                        for h in chunk {
                            list.push_bind(h.clone());
                        }
                        q.push(")");
                        for r in q.build().fetch_all(&self.pool).await.map_err(db)? {
                            known.push(get(&r, "sha256")?);
                        }
                    }
                    Ok(known)
                }

                async fn add_ledger_key(
                    &self,
                    group_id: RowId,
                    kind: &str,
                    verifier: &str,
                    at: Timestamp,
                ) -> Result<()> {
                    let mut tx = Tx::begin(&self.pool).await?;
                    ::sqlx::query(
                        "UPDATE ledger_keys SET retired_at = $2 \
                         WHERE group_id = $1 AND kind = $3 AND retired_at IS NULL",
                    )
                    .bind(group_id)
                    .bind(at.0)
                    .bind(kind)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    ::sqlx::query(
                        "INSERT INTO ledger_keys (kind, group_id, verifier, created_at) VALUES ($4, $1, $2, $3)",
                    )
                    .bind(group_id)
                    .bind(verifier)
                    .bind(at.0)
                    .bind(kind)
                    .execute(&mut *tx)
                    .await
                    .map_err(unique("this key".into()))?;
                    tx.commit().await
                }

                async fn ledger_keys(&self, group_id: RowId) -> Result<Vec<LedgerKey>> {
                    ::sqlx::query(
                        "SELECT kind, verifier, created_at, retired_at FROM ledger_keys WHERE group_id = $1 \
                         ORDER BY created_at, verifier",
                    )
                    .bind(group_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(|r| {
                        Ok(LedgerKey {
                            kind: get(r, "kind")?,
                            verifier: get(r, "verifier")?,
                            created_at: Timestamp(get(r, "created_at")?),
                            retired_at: get::<Option<i64>>(r, "retired_at")?.map(Timestamp),
                        })
                    })
                    .collect()
                }

                async fn create_sms_gateway(&self, group_id: RowId, token_hash: &str, at: Timestamp) -> Result<RowId> {
                    let row = ::sqlx::query(
                        "INSERT INTO sms_gateways (group_id, token_hash, created_at) VALUES ($1, $2, $3) RETURNING id",
                    )
                    .bind(group_id)
                    .bind(token_hash)
                    .bind(at.0)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?;
                    get(&row, "id")
                }

                async fn sms_gateway(&self, token_hash: &str) -> Result<Option<RowId>> {
                    ::sqlx::query(
                        "SELECT group_id FROM sms_gateways WHERE token_hash = $1 AND revoked_at IS NULL",
                    )
                    .bind(token_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .map(|r| get(&r, "group_id"))
                    .transpose()
                }

                async fn set_sms_gateway_phone(&self, group_id: RowId, phone: Option<&str>) -> Result<u64> {
                    let done = ::sqlx::query(
                        "UPDATE sms_gateways SET phone = $1 WHERE group_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(phone)
                    .bind(group_id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected())
                }

                async fn sms_gateway_phone(&self, group_id: RowId) -> Result<Option<String>> {
                    ::sqlx::query(
                        "SELECT phone FROM sms_gateways WHERE group_id = $1 AND revoked_at IS NULL \
                         AND phone IS NOT NULL ORDER BY id DESC LIMIT 1",
                    )
                    .bind(group_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .map(|r| get(&r, "phone"))
                    .transpose()
                }

                async fn revoke_sms_gateways(&self, group_id: RowId, at: Timestamp) -> Result<u64> {
                    let done = ::sqlx::query(
                        "UPDATE sms_gateways SET revoked_at = $1 WHERE group_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(at.0)
                    .bind(group_id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected())
                }

                async fn link_sms_number(
                    &self,
                    group_id: RowId,
                    number_hash: &str,
                    observer_id: RowId,
                    at: Timestamp,
                ) -> Result<()> {
                    ::sqlx::query(
                        "INSERT INTO sms_numbers (group_id, number_hash, observer_id, linked_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (group_id, number_hash) DO UPDATE SET observer_id = excluded.observer_id, linked_at = excluded.linked_at",
                    )
                    .bind(group_id)
                    .bind(number_hash)
                    .bind(observer_id)
                    .bind(at.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn sms_observer(&self, group_id: RowId, number_hash: &str) -> Result<Option<RowId>> {
                    ::sqlx::query(
                        "SELECT observer_id FROM sms_numbers WHERE group_id = $1 AND number_hash = $2",
                    )
                    .bind(group_id)
                    .bind(number_hash)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .map(|r| get(&r, "observer_id"))
                    .transpose()
                }

                async fn sms_numbers_of(
                    &self,
                    group_id: RowId,
                    observer_ids: &[RowId],
                ) -> Result<Vec<(RowId, String)>> {
                    let mut out = Vec::new();
                    // One indexed read per observer: a message goes to a page of them.
                    for id in observer_ids.iter().take(MAX_IDS_PER_READ) {
                        let rows = ::sqlx::query(
                            "SELECT observer_id, number_hash FROM sms_numbers WHERE group_id = $1 AND observer_id = $2",
                        )
                        .bind(group_id)
                        .bind(*id)
                        .fetch_all(&self.pool)
                        .await
                        .map_err(db)?;
                        for r in &rows {
                            out.push((get(r, "observer_id")?, get(r, "number_hash")?));
                        }
                    }
                    Ok(out)
                }

                async fn sms_numbers_page(
                    &self,
                    group_id: RowId,
                    after: &str,
                    limit: i64,
                ) -> Result<Vec<(RowId, String)>> {
                    ::sqlx::query(
                        "SELECT observer_id, number_hash FROM sms_numbers WHERE group_id = $1 AND number_hash > $2 \
                         ORDER BY number_hash LIMIT $3",
                    )
                    .bind(group_id)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(|r| Ok((get(r, "observer_id")?, get(r, "number_hash")?)))
                    .collect()
                }

                async fn unlink_sms_numbers(&self, group_id: RowId, observer_id: RowId) -> Result<u64> {
                    let done = ::sqlx::query("DELETE FROM sms_numbers WHERE group_id = $1 AND observer_id = $2")
                        .bind(group_id)
                        .bind(observer_id)
                        .execute(&self.pool)
                        .await
                        .map_err(db)?;
                    Ok(done.rows_affected())
                }

                async fn record_sms_in(&self, group_id: RowId, sms: &NewSmsIn) -> Result<(bool, SmsEntry)> {
                    let inserted = ::sqlx::query(&format!(
                        "INSERT INTO sms_log (group_id, observer_id, direction, dedup, number_hash, text, outcome, event_client_id, reply, at) \
                         VALUES ($1, $2, 'in', $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (group_id, dedup) DO NOTHING RETURNING {SMS_COLUMNS}"
                    ))
                    .bind(group_id)
                    .bind(sms.observer_id)
                    .bind(&sms.dedup)
                    .bind(&sms.number_hash)
                    .bind(&sms.text)
                    .bind(&sms.outcome)
                    .bind(&sms.event_client_id)
                    .bind(&sms.reply)
                    .bind(sms.at.0)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                    if let Some(r) = inserted {
                        return Ok((true, sms_entry(&r)?));
                    }
                    let r = ::sqlx::query(&format!(
                        "SELECT {SMS_COLUMNS} FROM sms_log WHERE group_id = $1 AND dedup = $2"
                    ))
                    .bind(group_id)
                    .bind(&sms.dedup)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok((false, sms_entry(&r)?))
                }

                async fn queue_sms_out(
                    &self,
                    group_id: RowId,
                    observer_id: RowId,
                    number_hash: &str,
                    uuid: &str,
                    text: &str,
                    outcome: &str,
                    for_gateway: bool,
                    at: Timestamp,
                ) -> Result<()> {
                    ::sqlx::query(
                        "INSERT INTO sms_log (group_id, observer_id, direction, uuid, number_hash, text, outcome, waiting, at) \
                         VALUES ($1, $2, 'out', $3, $4, $5, $6, $7, $8) ON CONFLICT (group_id, uuid) DO NOTHING",
                    )
                    .bind(group_id)
                    .bind(observer_id)
                    .bind(uuid)
                    .bind(number_hash)
                    .bind(text)
                    .bind(outcome)
                    .bind(if for_gateway { "gateway" } else { "reply" })
                    .bind(at.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn sms_outbox(&self, group_id: RowId, limit: i64) -> Result<Vec<SmsEntry>> {
                    ::sqlx::query(&format!(
                        "SELECT {SMS_COLUMNS} FROM sms_log WHERE group_id = $1 AND waiting = 'gateway' \
                         ORDER BY id LIMIT $2"
                    ))
                    .bind(group_id)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(sms_entry)
                    .collect()
                }

                async fn sms_waiting_for(
                    &self,
                    group_id: RowId,
                    number_hash: &str,
                    limit: i64,
                ) -> Result<Vec<SmsEntry>> {
                    ::sqlx::query(&format!(
                        "SELECT {SMS_COLUMNS} FROM sms_log WHERE group_id = $1 AND number_hash = $2 \
                         AND waiting IN ('gateway', 'reply') ORDER BY id LIMIT $3"
                    ))
                    .bind(group_id)
                    .bind(number_hash)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(sms_entry)
                    .collect()
                }

                async fn hold_sms(&self, group_id: RowId, uuids: &[String]) -> Result<()> {
                    let mut tx = Tx::begin(&self.pool).await?;
                    for u in uuids.iter().take(MAX_IDS_PER_READ) {
                        ::sqlx::query(
                            "UPDATE sms_log SET waiting = 'reply' WHERE group_id = $1 AND uuid = $2 AND waiting = 'gateway'",
                        )
                        .bind(group_id)
                        .bind(u)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    }
                    tx.commit().await
                }

                async fn mark_sms_sent(&self, group_id: RowId, uuids: &[String], at: Timestamp) -> Result<Vec<String>> {
                    let mut known = Vec::new();
                    let mut tx = Tx::begin(&self.pool).await?;
                    for u in uuids.iter().take(MAX_IDS_PER_READ) {
                        let row = ::sqlx::query(
                            "UPDATE sms_log SET sent_at = COALESCE(sent_at, $1), waiting = NULL WHERE group_id = $2 AND uuid = $3 RETURNING uuid",
                        )
                        .bind(at.0)
                        .bind(group_id)
                        .bind(u)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?;
                        if row.is_some() {
                            known.push(u.clone());
                        }
                    }
                    tx.commit().await?;
                    Ok(known)
                }

                async fn sms_log(
                    &self,
                    group_id: RowId,
                    observer_id: RowId,
                    before: RowId,
                    limit: i64,
                ) -> Result<Vec<SmsEntry>> {
                    ::sqlx::query(&format!(
                        "SELECT {SMS_COLUMNS} FROM sms_log WHERE group_id = $1 AND observer_id = $2 AND id < $3 \
                         ORDER BY id DESC LIMIT $4"
                    ))
                    .bind(group_id)
                    .bind(observer_id)
                    .bind(before)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(sms_entry)
                    .collect()
                }

                async fn set_home(
                    &self,
                    group_id: RowId,
                    observer_id: RowId,
                    station_id: Option<RowId>,
                    set_by_observer: bool,
                    at: Timestamp,
                ) -> Result<()> {
                    let mut tx = Tx::begin(&self.pool).await?;
                    let known = ::sqlx::query("SELECT 1 AS one FROM observers WHERE id = $1 AND group_id = $2")
                        .bind(observer_id)
                        .bind(group_id)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db)?;
                    if known.is_none() {
                        return Err(StoreError::NotFound("the observer".into()));
                    }
                    match station_id {
                        None => {
                            ::sqlx::query("DELETE FROM observer_homes WHERE observer_id = $1 AND group_id = $2")
                                .bind(observer_id)
                                .bind(group_id)
                                .execute(&mut *tx)
                                .await
                                .map_err(db)?;
                        }
                        Some(station) => {
                            ::sqlx::query(
                                "INSERT INTO observer_homes (observer_id, group_id, station_id, set_by, set_at) \
                                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (observer_id) DO UPDATE SET \
                                 station_id = excluded.station_id, set_by = excluded.set_by, set_at = excluded.set_at",
                            )
                            .bind(observer_id)
                            .bind(group_id)
                            .bind(station)
                            .bind(if set_by_observer { "observer" } else { "coordinator" })
                            .bind(at.0)
                            .execute(&mut *tx)
                            .await
                            .map_err(db)?;
                        }
                    }
                    tx.commit().await
                }

                async fn home(&self, group_id: RowId, observer_id: RowId) -> Result<Option<Home>> {
                    ::sqlx::query(
                        "SELECT observer_id, station_id, set_by, set_at FROM observer_homes \
                         WHERE group_id = $1 AND observer_id = $2",
                    )
                    .bind(group_id)
                    .bind(observer_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .map(|r| home_row(&r))
                    .transpose()
                }

                async fn homes(&self, group_id: RowId, after: RowId, limit: i64) -> Result<Vec<Home>> {
                    ::sqlx::query(
                        "SELECT observer_id, station_id, set_by, set_at FROM observer_homes \
                         WHERE group_id = $1 AND observer_id > $2 ORDER BY observer_id LIMIT $3",
                    )
                    .bind(group_id)
                    .bind(after)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(home_row)
                    .collect()
                }

                async fn create_plan(&self, group_id: RowId, plan: &NewPlan) -> Result<RowId> {
                    let row = ::sqlx::query(
                        "INSERT INTO plans (group_id, election_id, name, body, created_by, created_at) \
                         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                    )
                    .bind(group_id)
                    .bind(plan.election_id)
                    .bind(&plan.name)
                    .bind(&plan.body)
                    .bind(&plan.created_by)
                    .bind(plan.created_at.0)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?;
                    get(&row, "id")
                }

                async fn plans(&self, group_id: RowId, limit: i64) -> Result<Vec<PlanHead>> {
                    ::sqlx::query(
                        "SELECT id, election_id, name, created_by, created_at, changes, applied_at, applied_by \
                         FROM plans WHERE group_id = $1 ORDER BY id DESC LIMIT $2",
                    )
                    .bind(group_id)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(plan_head)
                    .collect()
                }

                async fn plan(&self, group_id: RowId, plan_id: RowId) -> Result<Option<(PlanHead, String)>> {
                    ::sqlx::query(
                        "SELECT id, election_id, name, created_by, created_at, changes, applied_at, applied_by, body \
                         FROM plans WHERE group_id = $1 AND id = $2",
                    )
                    .bind(group_id)
                    .bind(plan_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .map(|r| Ok((plan_head(&r)?, get(&r, "body")?)))
                    .transpose()
                }

                async fn add_plan_change(
                    &self,
                    group_id: RowId,
                    plan_id: RowId,
                    after: i64,
                    change: &str,
                    made_by: &str,
                    at: Timestamp,
                ) -> Result<i64> {
                    if after >= MAX_PLAN_CHANGES {
                        return Err(StoreError::Forbidden(format!(
                            "a plan takes at most {MAX_PLAN_CHANGES} changes by hand: make a new plan"
                        )));
                    }
                    let mut tx = Tx::begin(&self.pool).await?;
                    // The compare-and-set on the count orders concurrent
                    // coordinators: the second one is told to reload.
                    let moved = ::sqlx::query(
                        "UPDATE plans SET changes = changes + 1 WHERE group_id = $1 AND id = $2 AND changes = $3",
                    )
                    .bind(group_id)
                    .bind(plan_id)
                    .bind(after)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    if moved.rows_affected() != 1 {
                        let exists = ::sqlx::query("SELECT changes FROM plans WHERE group_id = $1 AND id = $2")
                            .bind(group_id)
                            .bind(plan_id)
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(db)?;
                        return Err(match exists {
                            None => StoreError::NotFound("the plan".into()),
                            Some(_) => StoreError::Stale(
                                "the plan was changed meanwhile: reload it and make the change again".into(),
                            ),
                        });
                    }
                    let seq = after + 1;
                    ::sqlx::query(
                        "INSERT INTO plan_changes (plan_id, seq, change, made_by, made_at) VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(plan_id)
                    .bind(seq)
                    .bind(change)
                    .bind(made_by)
                    .bind(at.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    tx.commit().await?;
                    Ok(seq)
                }

                async fn plan_changes(
                    &self,
                    group_id: RowId,
                    plan_id: RowId,
                    after: i64,
                ) -> Result<Vec<PlanChangeEntry>> {
                    ::sqlx::query(
                        "SELECT c.seq, c.change, c.made_by, c.made_at FROM plan_changes c \
                         JOIN plans p ON p.id = c.plan_id \
                         WHERE p.group_id = $1 AND c.plan_id = $2 AND c.seq > $3 ORDER BY c.seq",
                    )
                    .bind(group_id)
                    .bind(plan_id)
                    .bind(after)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(|r| {
                        Ok(PlanChangeEntry {
                            seq: get(r, "seq")?,
                            change: get(r, "change")?,
                            made_by: get(r, "made_by")?,
                            made_at: Timestamp(get(r, "made_at")?),
                        })
                    })
                    .collect()
                }

                async fn mark_plan_applied(
                    &self,
                    group_id: RowId,
                    plan_id: RowId,
                    by: &str,
                    at: Timestamp,
                ) -> Result<()> {
                    let done = ::sqlx::query(
                        "UPDATE plans SET applied_at = $1, applied_by = $2 WHERE group_id = $3 AND id = $4",
                    )
                    .bind(at.0)
                    .bind(by)
                    .bind(group_id)
                    .bind(plan_id)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    if done.rows_affected() == 0 {
                        return Err(StoreError::NotFound("the plan".into()));
                    }
                    Ok(())
                }

                async fn coverage_key(&self, group_id: RowId, origin: &str) -> Result<Option<String>> {
                    ::sqlx::query(
                        "SELECT verifier FROM coverage_keys WHERE group_id = $1 AND origin = $2",
                    )
                    .bind(group_id)
                    .bind(origin)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?
                    .map(|r| get(&r, "verifier"))
                    .transpose()
                }

                async fn import_manifest(
                    &self,
                    group_id: RowId,
                    origin: &str,
                    verifier: &str,
                    replace_key: bool,
                    issued_at: u64,
                    note: &str,
                    at: Timestamp,
                ) -> Result<bool> {
                    let issued = i64::try_from(issued_at).map_err(|_| {
                        StoreError::Forbidden(format!("issued-at {issued_at} is too large"))
                    })?;
                    let mut tx = Tx::begin(&self.pool).await?;
                    let pinned: Option<String> = ::sqlx::query(
                        "SELECT verifier FROM coverage_keys WHERE group_id = $1 AND origin = $2",
                    )
                    .bind(group_id)
                    .bind(origin)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db)?
                    .map(|r| get(&r, "verifier"))
                    .transpose()?;
                    if pinned.as_deref().is_some_and(|p| p != verifier) && !replace_key {
                        return Err(StoreError::Forbidden(format!(
                            "another key is pinned for {origin:?}'s manifests"
                        )));
                    }
                    if pinned.as_deref() != Some(verifier) {
                        ::sqlx::query(
                            "INSERT INTO coverage_keys (group_id, origin, verifier, pinned_at) VALUES ($1, $2, $3, $4) \
                             ON CONFLICT (group_id, origin) DO UPDATE SET verifier = excluded.verifier, pinned_at = excluded.pinned_at",
                        )
                        .bind(group_id)
                        .bind(origin)
                        .bind(verifier)
                        .bind(at.0)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    }
                    // Only a manifest issued later replaces the one kept.
                    let newer = ::sqlx::query(
                        "INSERT INTO coverage_manifests (group_id, origin, issued_at, note, imported_at) \
                         VALUES ($1, $2, $3, $4, $5) \
                         ON CONFLICT (group_id, origin) DO UPDATE SET issued_at = excluded.issued_at, \
                         note = excluded.note, imported_at = excluded.imported_at \
                         WHERE coverage_manifests.issued_at < excluded.issued_at",
                    )
                    .bind(group_id)
                    .bind(origin)
                    .bind(issued)
                    .bind(note)
                    .bind(at.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?
                    .rows_affected()
                        == 1;
                    tx.commit().await?;
                    Ok(newer)
                }

                async fn manifests(&self, group_id: RowId) -> Result<Vec<StoredManifest>> {
                    ::sqlx::query(
                        "SELECT origin, issued_at, note, imported_at FROM coverage_manifests \
                         WHERE group_id = $1 ORDER BY origin LIMIT $2",
                    )
                    .bind(group_id)
                    .bind($crate::MAX_MANIFESTS as i64)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(|r| {
                        Ok(StoredManifest {
                            origin: get(r, "origin")?,
                            issued_at: u64::try_from(get::<i64>(r, "issued_at")?).unwrap_or(0),
                            note: get(r, "note")?,
                            imported_at: Timestamp(get(r, "imported_at")?),
                        })
                    })
                    .collect()
                }

                async fn share_manifest(
                    &self,
                    group_id: RowId,
                    issued_at: u64,
                    note: &str,
                    at: Timestamp,
                ) -> Result<()> {
                    let issued = i64::try_from(issued_at).map_err(|_| {
                        StoreError::Forbidden(format!("issued-at {issued_at} is too large"))
                    })?;
                    let mut tx = Tx::begin(&self.pool).await?;
                    ::sqlx::query("DELETE FROM coverage_shared WHERE group_id = $1")
                        .bind(group_id)
                        .execute(&mut *tx)
                        .await
                        .map_err(db)?;
                    ::sqlx::query(
                        "INSERT INTO coverage_shared (group_id, issued_at, note, shared_at) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(group_id)
                    .bind(issued)
                    .bind(note)
                    .bind(at.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(db)?;
                    tx.commit().await
                }

                async fn shared_manifests(&self, except_group: RowId) -> Result<Vec<(RowId, String)>> {
                    ::sqlx::query(
                        "SELECT group_id, note FROM coverage_shared WHERE group_id <> $1 \
                         ORDER BY group_id LIMIT $2",
                    )
                    .bind(except_group)
                    .bind($crate::MAX_MANIFESTS as i64)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(|r| Ok((get(r, "group_id")?, get(r, "note")?)))
                    .collect()
                }

                async fn store_checkpoint(&self, group_id: RowId, c: &StoredCheckpoint) -> Result<bool> {
                    let done = ::sqlx::query(
                        "INSERT INTO checkpoints (group_id, size, root, note, made_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (group_id, size) DO NOTHING",
                    )
                    .bind(group_id)
                    .bind(count(c.size)?)
                    .bind(c.root.to_vec())
                    .bind(&c.note)
                    .bind(c.made_at.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn checkpoints(
                    &self,
                    group_id: RowId,
                    after_size: u64,
                    limit: i64,
                ) -> Result<Vec<StoredCheckpoint>> {
                    ::sqlx::query(
                        "SELECT size, root, note, made_at FROM checkpoints WHERE group_id = $1 AND size > $2 \
                         ORDER BY size LIMIT $3",
                    )
                    .bind(group_id)
                    .bind(count(after_size)?)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(stored_checkpoint)
                    .collect()
                }

                async fn latest_checkpoint(&self, group_id: RowId) -> Result<Option<(StoredCheckpoint, Vec<String>)>> {
                    let row = ::sqlx::query(
                        "SELECT size, root, note, made_at FROM checkpoints WHERE group_id = $1 \
                         ORDER BY size DESC LIMIT 1",
                    )
                    .bind(group_id)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                    let Some(row) = row else { return Ok(None) };
                    let c = stored_checkpoint(&row)?;
                    let lines = self.cosignature_lines(group_id, c.size).await?;
                    Ok(Some((c, lines)))
                }

                async fn checkpoint_at(
                    &self,
                    group_id: RowId,
                    size: u64,
                ) -> Result<Option<(StoredCheckpoint, Vec<String>)>> {
                    let row = ::sqlx::query(
                        "SELECT size, root, note, made_at FROM checkpoints WHERE group_id = $1 AND size = $2",
                    )
                    .bind(group_id)
                    .bind(count(size)?)
                    .fetch_optional(&self.pool)
                    .await
                    .map_err(db)?;
                    let Some(row) = row else { return Ok(None) };
                    let c = stored_checkpoint(&row)?;
                    let lines = self.cosignature_lines(group_id, c.size).await?;
                    Ok(Some((c, lines)))
                }

                async fn add_cosignature(
                    &self,
                    group_id: RowId,
                    size: u64,
                    witness: &str,
                    line: &str,
                    at: Timestamp,
                ) -> Result<bool> {
                    let done = ::sqlx::query(
                        "INSERT INTO cosignatures (group_id, size, witness, line, received_at) \
                         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (group_id, size, witness) DO NOTHING",
                    )
                    .bind(group_id)
                    .bind(count(size)?)
                    .bind(witness)
                    .bind(line)
                    .bind(at.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn cosigned_size(&self, group_id: RowId, witness: &str) -> Result<u64> {
                    let row = ::sqlx::query(
                        "SELECT MAX(size) AS size FROM cosignatures WHERE group_id = $1 AND witness = $2",
                    )
                    .bind(group_id)
                    .bind(witness)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)?;
                    let size: Option<i64> = get(&row, "size")?;
                    u64::try_from(size.unwrap_or(0)).map_err(|e| corrupt("cosigned size", e))
                }

                async fn add_ledger_witness(&self, group_id: RowId, verifier: &str, at: Timestamp) -> Result<()> {
                    ::sqlx::query(
                        "INSERT INTO ledger_witnesses (group_id, verifier, added_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (group_id, verifier) DO NOTHING",
                    )
                    .bind(group_id)
                    .bind(verifier)
                    .bind(at.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn ledger_witnesses(&self, group_id: RowId) -> Result<Vec<String>> {
                    ::sqlx::query(
                        "SELECT verifier FROM ledger_witnesses WHERE group_id = $1 ORDER BY added_at, verifier",
                    )
                    .bind(group_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(|r| get(r, "verifier"))
                    .collect()
                }

                async fn watch_log(
                    &self,
                    witness_group_id: RowId,
                    origin: &str,
                    verifier: &str,
                    at: Timestamp,
                ) -> Result<()> {
                    ::sqlx::query(
                        "INSERT INTO witnessed_logs (witness_group_id, origin, verifier, size, updated_at) \
                         VALUES ($1, $2, $3, 0, $4) ON CONFLICT (witness_group_id, origin) DO NOTHING",
                    )
                    .bind(witness_group_id)
                    .bind(origin)
                    .bind(verifier)
                    .bind(at.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    let pinned: String = ::sqlx::query(
                        "SELECT verifier FROM witnessed_logs WHERE witness_group_id = $1 AND origin = $2",
                    )
                    .bind(witness_group_id)
                    .bind(origin)
                    .fetch_one(&self.pool)
                    .await
                    .map_err(db)
                    .and_then(|r| get(&r, "verifier"))?;
                    if pinned != verifier {
                        return Err(StoreError::Forbidden(format!(
                            "the log {origin} is pinned to another key ({pinned}); if the log \
                             really changed its key, accept the new one on purpose with `witness repin`"
                        )));
                    }
                    Ok(())
                }

                async fn repin_witnessed_log(
                    &self,
                    witness_group_id: RowId,
                    origin: &str,
                    verifier: &str,
                    at: Timestamp,
                ) -> Result<bool> {
                    let done = ::sqlx::query(
                        "UPDATE witnessed_logs SET verifier = $3, updated_at = $4 \
                         WHERE witness_group_id = $1 AND origin = $2",
                    )
                    .bind(witness_group_id)
                    .bind(origin)
                    .bind(verifier)
                    .bind(at.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn witnessed_logs(&self, witness_group_id: RowId) -> Result<Vec<WitnessedLog>> {
                    ::sqlx::query(
                        "SELECT origin, verifier, size, root, checkpoint, updated_at FROM witnessed_logs \
                         WHERE witness_group_id = $1 ORDER BY origin",
                    )
                    .bind(witness_group_id)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(|r| {
                        Ok(WitnessedLog {
                            origin: get(r, "origin")?,
                            verifier: get(r, "verifier")?,
                            size: figure(r, "size")?,
                            root: get::<Option<Vec<u8>>>(r, "root")?
                                .map(|b| tree_hash(&b))
                                .transpose()?,
                            checkpoint: get(r, "checkpoint")?,
                            updated_at: Timestamp(get(r, "updated_at")?),
                        })
                    })
                    .collect()
                }

                async fn advance_witnessed_log(
                    &self,
                    witness_group_id: RowId,
                    origin: &str,
                    from_size: u64,
                    size: u64,
                    root: &TreeHash,
                    checkpoint: &str,
                    at: Timestamp,
                ) -> Result<bool> {
                    let done = ::sqlx::query(
                        "UPDATE witnessed_logs SET size = $3, root = $4, checkpoint = $5, updated_at = $6 \
                         WHERE witness_group_id = $1 AND origin = $2 AND size = $7",
                    )
                    .bind(witness_group_id)
                    .bind(origin)
                    .bind(count(size)?)
                    .bind(root.to_vec())
                    .bind(checkpoint)
                    .bind(at.0)
                    .bind(count(from_size)?)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(done.rows_affected() == 1)
                }

                async fn record_fork(&self, witness_group_id: RowId, f: &LedgerFork) -> Result<()> {
                    ::sqlx::query(
                        "INSERT INTO ledger_forks (witness_group_id, origin, cosigned, offered, reason, found_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(witness_group_id)
                    .bind(&f.origin)
                    .bind(&f.cosigned)
                    .bind(&f.offered)
                    .bind(&f.reason)
                    .bind(f.found_at.0)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }

                async fn ledger_forks(&self, witness_group_id: RowId, limit: i64) -> Result<Vec<LedgerFork>> {
                    ::sqlx::query(
                        "SELECT origin, cosigned, offered, reason, found_at FROM ledger_forks \
                         WHERE witness_group_id = $1 ORDER BY found_at DESC LIMIT $2",
                    )
                    .bind(witness_group_id)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await
                    .map_err(db)?
                    .iter()
                    .map(|r| {
                        Ok(LedgerFork {
                            origin: get(r, "origin")?,
                            cosigned: get(r, "cosigned")?,
                            offered: get(r, "offered")?,
                            reason: get(r, "reason")?,
                            found_at: Timestamp(get(r, "found_at")?),
                        })
                    })
                    .collect()
                }

                async fn audit(&self, actor: &str, action: &str, detail: &str, at: Timestamp) -> Result<()> {
                    ::sqlx::query(
                        "INSERT INTO audit_log (at, actor, action, detail) VALUES ($1, $2, $3, $4)",
                    )
                    .bind(at.0)
                    .bind(actor)
                    .bind(action)
                    .bind(detail)
                    .execute(&self.pool)
                    .await
                    .map_err(db)?;
                    Ok(())
                }
            }
        }
    };
}
