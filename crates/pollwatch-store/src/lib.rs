//! The store: pollwatch's one interface to persistence.
//!
//! It owns the [`Store`] trait (the append-only observation log plus the
//! reference tables), its error type, the group-commit writer that turns
//! many concurrent appends into one transaction each, and — behind the
//! `suite` feature — the test suite that every backend runs in its own
//! tests, so every query is exercised on SQLite and on PostgreSQL.
//!
//! **Architecture invariant:** this crate knows no SQL dialect and no
//! driver. The SQL lives once, in [`sql_store!`], expanded by each backend
//! crate for its own driver.

mod group_commit;
mod sql;
#[cfg(feature = "suite")]
pub mod suite;

use async_trait::async_trait;
use pollwatch_domain::evidence::{BlobHash, MediaType};
use pollwatch_domain::registry::FieldChange;
use pollwatch_domain::results::{ObservedFigures, ResultSet};
use pollwatch_domain::{
    Assignment, ClientId, CodeName, District, Election, Event, Group, Language, NewEvent, Observer,
    Role, RowId, Slug, Station, StationNumber, StationRecord, Timestamp, User,
};

pub use async_trait::async_trait as store_async_trait;
pub use group_commit::{EventLog, GroupCommit, Prepared};

/// How long a caller waits for the database before hearing that it is
/// unavailable: a phone must learn quickly that it should keep the report
/// and retry, not hang.
pub const DATABASE_WAIT: std::time::Duration = std::time::Duration::from_millis(1500);
pub use pollwatch_domain as domain;

/// Everything that can go wrong in the store, as the caller must tell it apart.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A unique name is taken (group slug, username, code name).
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// The same client id was sent before with other content: a retry must
    /// be byte-for-byte the same report, a correction needs a new id.
    #[error("event {0} was already stored with different content")]
    ConflictingRetry(ClientId),
    /// A reference to something that does not exist (or belongs to another group).
    #[error("{0} not found")]
    NotFound(String),
    /// The caller may not do this to this record (e.g. correct another
    /// observer's report).
    #[error("{0}")]
    Forbidden(String),
    /// The disk (or the database's quota) is full: nothing of this write
    /// was stored. Writes succeed again as soon as space is freed.
    #[error("the server's storage is full: {0}")]
    StorageFull(String),
    /// The database cannot be reached, or the connection broke before the
    /// outcome of a write was known. Nothing is answered as stored; the
    /// caller retries with the same client id, which settles it.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Any other database failure.
    #[error("database error: {0}")]
    Database(String),
    /// What the caller saw has changed since (another coordinator's
    /// change came first): reload and try again.
    #[error("{0}")]
    Stale(String),
    /// The writer task has stopped (the server is shutting down).
    #[error("the event writer has stopped")]
    WriterGone,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The result of appending one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Appended {
    pub event: Event,
    /// False when this was a retry of an event already stored: nothing new
    /// was written and `event` is the stored one.
    pub created: bool,
}

/// Who a session belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    Staff {
        user_id: RowId,
        group_id: Option<RowId>,
        role: Role,
    },
    Observer {
        observer_id: RowId,
        group_id: RowId,
    },
}

impl Principal {
    pub fn role(&self) -> Role {
        match self {
            Principal::Staff { role, .. } => *role,
            Principal::Observer { .. } => Role::Observer,
        }
    }

    pub fn group_id(&self) -> Option<RowId> {
        match self {
            Principal::Staff { group_id, .. } => *group_id,
            Principal::Observer { group_id, .. } => Some(*group_id),
        }
    }
}

/// A logged-in browser or an enrolled phone. The token itself is never
/// stored, only its SHA-256, so a copy of the database opens no sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// A public handle for the session (listing and revoking devices); it
    /// opens nothing, unlike the token.
    pub id: String,
    pub token_hash: String,
    pub principal: Principal,
    /// The per-session secret that forms echo back (CSRF protection).
    pub csrf_token: String,
    pub expires_at: Timestamp,
    /// A coarse description of the device ("Android phone", "Firefox on
    /// Windows"), never the full user agent: enough to tell one's devices
    /// apart, too little to fingerprint anyone.
    pub device: String,
    pub created_at: Timestamp,
    /// Last request, to within [`SESSION_TOUCH_MS`].
    pub last_seen_at: Timestamp,
}

/// How often a session's `last_seen_at` is written: at most once per this
/// interval, so reading a page is not a database write.
pub const SESSION_TOUCH_MS: i64 = 60 * 1000;

/// One use of a session, for [`Store::touch_sessions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionUse {
    pub token_hash: String,
    pub at: Timestamp,
    pub device: String,
}

/// What a token turned out to be. Revoked and expired sessions are told
/// apart from unknown tokens so a phone can learn that it was revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionLookup {
    Live(Session),
    /// A coordinator or the owner ended it.
    Revoked,
    Expired,
    /// No such session (never existed, logged out, or purged).
    Missing,
}

/// Whose sessions a listing or a revocation is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionOwner {
    Observer { group_id: RowId, observer_id: RowId },
    User { user_id: RowId },
}

/// A new staff account.
#[derive(Debug, Clone)]
pub struct NewUser {
    pub group_id: Option<RowId>,
    pub username: String,
    pub role: Role,
    /// An argon2 PHC string; the store never sees a password.
    pub password_hash: String,
}

/// A new observer.
#[derive(Debug, Clone)]
pub struct NewObserver {
    pub group_id: RowId,
    pub code_name: CodeName,
    pub language: Language,
    pub contact: Option<String>,
}

/// A station an observer covers, with its number (for listing who is where
/// without a read per station).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignedStation {
    pub observer_id: RowId,
    pub station_id: RowId,
    pub number: StationNumber,
}

/// Most observers or stations one read of [`Store::assignments_of`] or
/// [`Store::live_devices`] may name: a page's worth, well under both
/// databases' limits on bound parameters.
pub const MAX_IDS_PER_READ: usize = 500;

/// Which page of stations: after a cursor (the last number of the page
/// before), in one district, matching every search term as a word prefix
/// (`pollwatch_domain::search::query_terms`).
#[derive(Debug, Clone, Default)]
pub struct StationQuery {
    pub district_id: Option<RowId>,
    pub terms: Vec<String>,
    pub after: Option<StationNumber>,
    pub limit: i64,
}

/// A station registry file to apply.
#[derive(Debug, Clone)]
pub struct StationImport {
    pub election_id: RowId,
    /// What the user named (a file name), for the record.
    pub source: String,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    pub records: Vec<StationRecord>,
    /// Validate and report what would change, but write nothing.
    pub dry_run: bool,
    pub at: Timestamp,
}

/// What an import did (or would do, in a dry run).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub missing_from_file: usize,
    /// (station number, change) for every changed field.
    pub changes: Vec<(StationNumber, FieldChange)>,
    /// The import's row, absent for dry runs and no-ops.
    pub import_id: Option<RowId>,
}

/// An official result to store.
#[derive(Debug, Clone)]
pub struct ResultImport<'a> {
    pub name: String,
    pub source: String,
    pub file_name: String,
    /// SHA-256 of the file as read (compressed or not), hex.
    pub sha256: String,
    /// The mapping's text, kept so the import can be re-read the same way.
    pub mapping: String,
    pub set: &'a ResultSet,
    pub observed: &'a [ObservedFigures],
    pub at: Timestamp,
}

/// A stored official result, without its rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultImportInfo {
    pub id: RowId,
    pub name: String,
    pub source: String,
    pub file_name: String,
    pub sha256: String,
    pub mapping: String,
    pub imported_at: Timestamp,
    pub candidates: Vec<String>,
    pub leader: usize,
    pub stations: i64,
    pub skipped_incomplete: i64,
}

/// An evidence file a group now holds. The bytes are already on disk
/// (written and synced by the server) before this is recorded.
#[derive(Debug, Clone)]
pub struct NewBlob {
    pub group_id: RowId,
    pub sha256: BlobHash,
    pub media_type: MediaType,
    pub size: u64,
    /// The observer whose phone sent it; `None` when staff uploaded it.
    pub uploaded_by_observer: Option<RowId>,
    pub received_at: Timestamp,
}

/// A group's record of an evidence file. Each group that uploads the same
/// bytes has its own record (tenancy), all naming the same content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobInfo {
    pub group_id: RowId,
    pub sha256: BlobHash,
    pub media_type: MediaType,
    pub size: u64,
    pub uploaded_by_observer: Option<RowId>,
    /// When the group first received it.
    pub received_at: Timestamp,
}

/// What [`Store::subscribe`] tells of the logs. A notice carries no
/// events: the listener reads them by log position, so a lost notice
/// delays an update but loses nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogNotice {
    /// This group's log grew.
    Grew(RowId),
    /// Notices may have been lost (the listening connection was down, or
    /// has only just started listening): any group's log may have grown.
    /// Sent once listening again, so a catch-up started on it sees
    /// everything not notified after it.
    MayHaveMissed,
}

/// A 32-byte hash of the evidence log (a leaf or a subtree root).
pub type TreeHash = [u8; 32];

/// How far a group's evidence tree has taken its log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerHead {
    /// Leaves in the tree (events and files).
    pub size: u64,
    /// The last event (`seq`) in it; 0 when none.
    pub last_seq: i64,
    /// The roots of its largest complete subtrees, largest first: all the
    /// next append needs.
    pub frontier: Vec<TreeHash>,
}

/// One complete subtree's root: level 0 is a leaf; level `l`, index `i`
/// covers leaves `i << l .. (i + 1) << l`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LedgerNode {
    pub level: u8,
    pub index: u64,
    pub hash: TreeHash,
}

/// A leaf that is an evidence file, with its leaf data (the hashed line).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerFile {
    pub index: u64,
    pub sha256: String,
    pub data: String,
}

/// A key of a group: its C2SP verifier key string, and what it signs
/// (`log`: the group's checkpoints; `witness`: cosignatures of others').
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerKey {
    pub kind: String,
    pub verifier: String,
    pub created_at: Timestamp,
    pub retired_at: Option<Timestamp>,
}

/// One SMS in or out of a linked number, as the observer's SMS log shows
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsEntry {
    pub id: RowId,
    pub observer_id: RowId,
    /// `in` or `out`.
    pub direction: String,
    pub text: String,
    /// What it became (JSON the server writes and reads).
    pub outcome: String,
    /// The report it became, if any.
    pub event_client_id: Option<String>,
    /// In: the answer sent back.
    pub reply: Option<String>,
    pub at: Timestamp,
    /// Out: when the gateway took it.
    pub sent_at: Option<Timestamp>,
    /// Out: its name to the gateway.
    pub uuid: Option<String>,
    pub number_hash: String,
}

/// An incoming SMS of a linked number, to keep once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSmsIn {
    pub observer_id: RowId,
    pub number_hash: String,
    /// A hash of the gateway's message id, the number's hash and the text.
    pub dedup: String,
    pub text: String,
    pub outcome: String,
    pub event_client_id: Option<String>,
    pub reply: String,
    pub at: Timestamp,
}

/// A coded SMS message longest kept (longer ones are refused before).
pub const MAX_SMS_CHARS: usize = 1600;

/// A volunteer's home: the station nearest where they live or vote (never
/// an address), for planning only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    pub observer_id: RowId,
    pub station_id: RowId,
    /// Picked by the volunteer in the app, rather than entered by a
    /// coordinator.
    pub set_by_observer: bool,
    pub set_at: Timestamp,
}

/// A plan to store: a strategy's proposal as the planning crate writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPlan {
    pub election_id: RowId,
    pub name: String,
    /// JSON the planning side reads back; the store keeps it as it is.
    pub body: String,
    pub created_by: String,
    pub created_at: Timestamp,
}

/// A stored plan without its body, for lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanHead {
    pub id: RowId,
    pub election_id: RowId,
    pub name: String,
    pub created_by: String,
    pub created_at: Timestamp,
    /// How many changes by hand it has had (the last one's `seq`).
    pub changes: i64,
    pub applied_at: Option<Timestamp>,
    pub applied_by: Option<String>,
}

/// One change by hand to a plan, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanChangeEntry {
    /// 1 for the first change of the plan, then one more each.
    pub seq: i64,
    /// JSON of the change, as the planning crate wrote it.
    pub change: String,
    pub made_by: String,
    pub made_at: Timestamp,
}

/// The most changes by hand a plan takes: past that, make a new plan.
pub const MAX_PLAN_CHANGES: i64 = 10_000;

/// A coverage manifest another group sent, as imported: the signed note
/// as it came, so it can be shown and checked again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredManifest {
    /// The group name the manifest gives.
    pub origin: String,
    pub issued_at: u64,
    pub note: String,
    pub imported_at: Timestamp,
}

/// The most manifests a group keeps (one per other group).
pub const MAX_MANIFESTS: usize = 1000;

/// A signed checkpoint as stored: the log's own signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: TreeHash,
    pub note: String,
    pub made_at: Timestamp,
}

/// A log this group witnesses: its pinned key and the last checkpoint of
/// it this group cosigned (size 0, no root, before the first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WitnessedLog {
    pub origin: String,
    pub verifier: String,
    pub size: u64,
    pub root: Option<TreeHash>,
    pub checkpoint: Option<String>,
    pub updated_at: Timestamp,
}

/// Two checkpoints of a watched log that cannot both be true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerFork {
    pub origin: String,
    pub cosigned: String,
    pub offered: String,
    pub reason: String,
    pub found_at: Timestamp,
}

/// The persistence interface, one implementation per database. Chosen at
/// start from the database URL as an `Arc<dyn Store>`.
///
/// Every read of group data takes the group id, so one group's data can
/// only be read by asking for that group: tenancy is a parameter, not a
/// filter a handler may forget.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// "postgres" or "sqlite", for logs and `/readyz`.
    fn backend(&self) -> &'static str;
    /// A cheap round trip, for readiness.
    async fn ping(&self) -> Result<()>;
    /// A real durable write (allocating pages, then rolled out again), for
    /// readiness: a database that answers reads may still be unable to
    /// store a report (a full disk).
    async fn probe_write(&self) -> Result<()>;

    // --- elections and the station registry ---
    /// Get the election with this slug, creating it if absent.
    async fn ensure_election(&self, slug: &Slug, name: &str, polling_day: &str)
    -> Result<Election>;
    async fn election(&self, slug: &Slug) -> Result<Option<Election>>;
    async fn elections(&self) -> Result<Vec<Election>>;
    /// The IANA zone the election's local times are in (checked by the caller).
    async fn set_election_time_zone(&self, id: RowId, zone: &str) -> Result<()>;
    async fn districts(&self, election_id: RowId) -> Result<Vec<District>>;
    /// Apply a registry all-or-nothing in one transaction; recorded with its
    /// source and hash, and every changed field kept in the change log.
    async fn import_stations(&self, import: StationImport) -> Result<ImportReport>;
    /// Every station of an election: for the CLI, benchmarks and the
    /// server's start, never a request.
    async fn stations(&self, election_id: RowId) -> Result<Vec<Station>>;
    /// A page of an election's stations in [`StationNumber::sort_key`]
    /// order, read from indexes whatever the filters.
    async fn stations_page(&self, election_id: RowId, q: &StationQuery) -> Result<Vec<Station>>;
    /// Index the words of stations stored before words were kept (run on
    /// opening); answers how many stations it indexed.
    async fn index_station_words(&self) -> Result<u64>;
    async fn station(&self, election_id: RowId, number: &StationNumber) -> Result<Option<Station>>;
    async fn station_by_id(&self, id: RowId) -> Result<Option<Station>>;

    // --- groups, users, observers ---
    async fn create_group(&self, slug: &Slug, name: &str, at: Timestamp) -> Result<Group>;
    async fn group(&self, slug: &Slug) -> Result<Option<Group>>;
    async fn group_by_id(&self, id: RowId) -> Result<Option<Group>>;
    async fn groups(&self) -> Result<Vec<Group>>;
    async fn create_user(&self, user: NewUser, at: Timestamp) -> Result<User>;
    /// The user and their password hash.
    async fn user_for_login(&self, username: &str) -> Result<Option<(User, String)>>;
    /// A group's staff accounts (coordinators, analysts), by name; at most 1,000.
    async fn group_users(&self, group_id: RowId) -> Result<Vec<User>>;
    async fn create_observer(&self, observer: NewObserver, at: Timestamp) -> Result<Observer>;
    /// Many observers of the group with the stations each covers, in one
    /// transaction (a roster, the national scenario): all stored or none;
    /// a code name already used refuses the whole roster.
    async fn enlist_observers(
        &self,
        group_id: RowId,
        roster: Vec<(NewObserver, Vec<RowId>)>,
        at: Timestamp,
    ) -> Result<Vec<Observer>>;
    async fn observer(&self, group_id: RowId, id: RowId) -> Result<Option<Observer>>;
    async fn observer_by_code_name(
        &self,
        group_id: RowId,
        code_name: &CodeName,
    ) -> Result<Option<Observer>>;
    /// Every observer of the group: for the CLI, exports and the rooms'
    /// start, never a request's page.
    async fn observers(&self, group_id: RowId) -> Result<Vec<Observer>>;
    /// These observers of the group (others' ids are left out), by code
    /// name. At most [`MAX_IDS_PER_READ`] ids: a page names its own.
    async fn observers_by_id(&self, group_id: RowId, ids: &[RowId]) -> Result<Vec<Observer>>;
    /// Idempotent: assigning twice stores one assignment.
    async fn assign(&self, group_id: RowId, observer_id: RowId, station_id: RowId) -> Result<()>;
    async fn assignments(&self, group_id: RowId) -> Result<Vec<Assignment>>;
    /// Change who covers which station and record each change in the
    /// group's log, in one transaction: every event must be an
    /// [`EventKind::Assignment`](pollwatch_domain::EventKind) staff action
    /// of this group (station in `station_id`, no observer), and its
    /// payload says which change. A change that is already so (assigning
    /// twice, taking someone off a station they do not cover) writes
    /// nothing and answers `None`; the others answer the stored event. So
    /// the table and the log never disagree, and a retry after a lost
    /// answer changes nothing twice.
    async fn change_assignments(
        &self,
        group_id: RowId,
        changes: Vec<NewEvent>,
    ) -> Result<Vec<Option<Event>>>;
    /// The stations these observers of the group cover, by observer then
    /// station number. At most [`MAX_IDS_PER_READ`] observers.
    async fn assignments_of(
        &self,
        group_id: RowId,
        observer_ids: &[RowId],
    ) -> Result<Vec<AssignedStation>>;
    /// The group's observers assigned to a station, by code name.
    async fn observers_at(&self, group_id: RowId, station_id: RowId) -> Result<Vec<Observer>>;
    /// A page of the group's observers in code-name order: those after
    /// `after` whose code name starts with `prefix` (Latin letters in
    /// either case), at most `limit`.
    async fn observers_page(
        &self,
        group_id: RowId,
        after: Option<&CodeName>,
        prefix: &str,
        limit: i64,
    ) -> Result<Vec<Observer>>;
    /// How many live (neither revoked nor expired) devices each of these
    /// observers of the group has; observers with none are left out. At
    /// most [`MAX_IDS_PER_READ`] observers.
    async fn live_devices(
        &self,
        group_id: RowId,
        observer_ids: &[RowId],
        now: Timestamp,
    ) -> Result<Vec<(RowId, i64)>>;
    /// A staff account by id (for naming the author of a staff action).
    async fn user(&self, id: RowId) -> Result<Option<User>>;
    /// Whether this observer is assigned to this station (one indexed read).
    async fn is_assigned(
        &self,
        group_id: RowId,
        observer_id: RowId,
        station_id: RowId,
    ) -> Result<bool>;

    // --- enrolment and sessions ---
    async fn create_enrolment_code(
        &self,
        code_hash: &str,
        group_id: RowId,
        observer_id: RowId,
        expires_at: Timestamp,
        at: Timestamp,
    ) -> Result<()>;
    /// Use a one-time code: answers the observer it was made for, once;
    /// a used or expired code answers `None`.
    async fn redeem_enrolment_code(
        &self,
        code_hash: &str,
        now: Timestamp,
    ) -> Result<Option<(RowId, RowId)>>;
    async fn create_session(&self, session: &Session, at: Timestamp) -> Result<()>;
    /// What this token is at `now`: live, revoked, expired or unknown.
    async fn session(&self, token_hash: &str, now: Timestamp) -> Result<SessionLookup>;
    async fn delete_session(&self, token_hash: &str) -> Result<()>;
    /// Record that sessions were used (each at its `at`, from its
    /// `device`: a coarse label, kept from the first use), all in one
    /// transaction; callers throttle and batch these.
    async fn touch_sessions(&self, uses: &[SessionUse]) -> Result<()>;
    /// The owner's sessions that are neither revoked nor expired, newest first.
    async fn sessions_of(&self, owner: SessionOwner, now: Timestamp) -> Result<Vec<Session>>;
    /// Revoke the owner's sessions: one (by its public id) or all of them,
    /// sparing `except` (the caller's own, for "end my other sessions").
    /// Answers how many were revoked. A revoked token is refused at once.
    async fn revoke_sessions(
        &self,
        owner: SessionOwner,
        only: Option<&str>,
        except: Option<&str>,
        at: Timestamp,
    ) -> Result<u64>;
    /// Revoke one staff session by its public id (an admin ending it).
    /// Observers' phones are their coordinators' business, so they cannot
    /// be reached this way. Answers whether one was revoked.
    async fn revoke_staff_session(&self, id: &str, at: Timestamp) -> Result<bool>;
    /// Delete sessions that expired before `now` (revoked ones too, once
    /// expired) and spent or expired enrolment codes; answers how many rows.
    async fn purge_expired(&self, now: Timestamp) -> Result<u64>;
    /// Every live staff session (for admins), newest first, at most `limit`.
    async fn staff_sessions(&self, now: Timestamp, limit: i64) -> Result<Vec<Session>>;

    // --- the observation log ---
    /// Append one event; answers once it is durable. Idempotent by
    /// (group, client id).
    async fn append(&self, event: NewEvent) -> Result<Appended>;
    /// Append several events in one transaction, in order: each answered
    /// on its own (a refused one does not sink the rest), all durable
    /// together or not at all. A later event may correct an earlier one of
    /// the same call.
    async fn append_many(&self, events: Vec<NewEvent>) -> Result<Vec<Result<Appended>>>;
    /// A page of a station's events in log order after `after_seq`, only
    /// one observer's when `observer_id` is given.
    async fn events_for_station(
        &self,
        group_id: RowId,
        station_id: RowId,
        observer_id: Option<RowId>,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<Event>>;
    /// A station's events newest first, before log position `before_seq`
    /// (`i64::MAX` for the newest): a bounded page of a busy station.
    async fn station_events_before(
        &self,
        group_id: RowId,
        station_id: RowId,
        before_seq: i64,
        limit: i64,
    ) -> Result<Vec<Event>>;
    /// A page of the group's log in order, after `after_seq`.
    async fn events(&self, group_id: RowId, after_seq: i64, limit: i64) -> Result<Vec<Event>>;
    async fn event_by_client_id(
        &self,
        group_id: RowId,
        client_id: &ClientId,
    ) -> Result<Option<Event>>;
    async fn event_count(&self, group_id: RowId) -> Result<i64>;
    /// Learn of events other servers store: the id of each group whose log
    /// grew, soon after its commit (PostgreSQL's LISTEN/NOTIFY), and
    /// [`LogNotice::MayHaveMissed`] whenever notices may have been lost
    /// (on first listening, and after a lost connection came back). `None`
    /// where no other server can write (SQLite: one process owns the file).
    async fn subscribe(&self) -> Result<Option<tokio::sync::mpsc::Receiver<LogNotice>>>;

    // --- official results ---
    /// Store an official result in one transaction. The same file read
    /// with the same mapping again stores nothing and answers the first
    /// import (`false`).
    async fn import_results(&self, import: ResultImport<'_>) -> Result<(ResultImportInfo, bool)>;
    async fn result_imports(&self) -> Result<Vec<ResultImportInfo>>;
    async fn result_set(
        &self,
        id: RowId,
    ) -> Result<Option<(ResultImportInfo, ResultSet, Vec<ObservedFigures>)>>;
    /// One stored result's description, without its rows (a national
    /// result has 95,000): what a page needs once the figures it shows are
    /// computed and kept.
    async fn result_import(&self, id: RowId) -> Result<Option<ResultImportInfo>>;
    /// The forensics report of a result as computed by analysis `version`
    /// (JSON text), if it was stored. A result never changes once stored,
    /// so its report is computed once per version of the analysis.
    async fn forensics(&self, result_id: RowId, version: i64) -> Result<Option<String>>;
    /// Keep a result's forensics report. When one is already stored for
    /// this version (two servers computed it at once) the first stays:
    /// the analysis is deterministic, so both are the same.
    async fn store_forensics(
        &self,
        result_id: RowId,
        version: i64,
        report: &str,
        at: Timestamp,
    ) -> Result<()>;

    // --- evidence files ---
    /// Record that the group holds this file. Idempotent by (group, hash):
    /// recording it again stores nothing and answers the first record
    /// (`false`).
    async fn record_blob(&self, blob: NewBlob) -> Result<(BlobInfo, bool)>;
    /// The group's record of a file; `None` when this group never uploaded
    /// it, whichever other group did.
    async fn blob(&self, group_id: RowId, sha256: &BlobHash) -> Result<Option<BlobInfo>>;

    // --- the evidence log (issue 11) ---
    /// How far the group's evidence tree has got (empty before its first leaf).
    async fn ledger_head(&self, group_id: RowId) -> Result<LedgerHead>;
    /// Extend the group's tree in one transaction: its new subtree roots
    /// and file leaves, and the new head, only if the head is still of
    /// size `from_size`. `false` (nothing written) when another server
    /// extended it first: the caller reads the head again.
    async fn ledger_append(
        &self,
        group_id: RowId,
        from_size: u64,
        head: &LedgerHead,
        nodes: &[LedgerNode],
        files: &[LedgerFile],
    ) -> Result<bool>;
    /// These subtree roots of the group's tree (level, index); missing ones
    /// are left out. At most [`MAX_IDS_PER_READ`].
    async fn ledger_nodes(&self, group_id: RowId, wanted: &[(u8, u64)]) -> Result<Vec<LedgerNode>>;
    /// A page of the group's leaf hashes from leaf `from`, in order.
    async fn ledger_leaves(&self, group_id: RowId, from: u64, limit: i64) -> Result<Vec<TreeHash>>;
    /// A page of the group's file leaves after leaf `after` (`None`: from
    /// the first), in order.
    async fn ledger_files(
        &self,
        group_id: RowId,
        after: Option<u64>,
        limit: i64,
    ) -> Result<Vec<LedgerFile>>;
    /// Which of these files (SHA-256) already have a leaf in the group's tree.
    async fn ledger_files_known(&self, group_id: RowId, sha256: &[String]) -> Result<Vec<String>>;
    /// Make `verifier` the group's key of this kind (`log`, `witness`),
    /// retiring the one before (a rotation), in one transaction.
    async fn add_ledger_key(
        &self,
        group_id: RowId,
        kind: &str,
        verifier: &str,
        at: Timestamp,
    ) -> Result<()>;
    /// The group's keys, oldest first (of each kind, the one not retired signs).
    async fn ledger_keys(&self, group_id: RowId) -> Result<Vec<LedgerKey>>;

    // --- Reports by SMS ---

    /// Keep a gateway of the group by its token's hash.
    async fn create_sms_gateway(
        &self,
        group_id: RowId,
        token_hash: &str,
        at: Timestamp,
    ) -> Result<RowId>;
    /// The group of the gateway whose token has this hash, unless revoked.
    async fn sms_gateway(&self, token_hash: &str) -> Result<Option<RowId>>;
    /// Revoke every gateway of the group; answers how many.
    async fn revoke_sms_gateways(&self, group_id: RowId, at: Timestamp) -> Result<u64>;
    /// The number observers text (the gateway phone's SIM) of every
    /// gateway of the group not revoked; `None` forgets it. Answers how
    /// many gateways it was set on.
    async fn set_sms_gateway_phone(&self, group_id: RowId, phone: Option<&str>) -> Result<u64>;
    /// The number of the group's newest gateway not revoked that has one.
    async fn sms_gateway_phone(&self, group_id: RowId) -> Result<Option<String>>;
    /// Link a number (by its keyed hash) to an observer of the group; a
    /// number linked before moves to this observer.
    async fn link_sms_number(
        &self,
        group_id: RowId,
        number_hash: &str,
        observer_id: RowId,
        at: Timestamp,
    ) -> Result<()>;
    /// The observer a number belongs to.
    async fn sms_observer(&self, group_id: RowId, number_hash: &str) -> Result<Option<RowId>>;
    /// The numbers (hashes) of these observers of the group, by observer.
    /// At most [`MAX_IDS_PER_READ`] observers.
    async fn sms_numbers_of(
        &self,
        group_id: RowId,
        observer_ids: &[RowId],
    ) -> Result<Vec<(RowId, String)>>;
    /// A page of the group's linked numbers after `after` (hash order).
    async fn sms_numbers_page(
        &self,
        group_id: RowId,
        after: &str,
        limit: i64,
    ) -> Result<Vec<(RowId, String)>>;
    /// Unlink the observer's numbers (revoking their devices); answers how many.
    async fn unlink_sms_numbers(&self, group_id: RowId, observer_id: RowId) -> Result<u64>;
    /// Keep an incoming SMS once: `false` and the entry kept before when
    /// its dedup was seen already.
    async fn record_sms_in(&self, group_id: RowId, sms: &NewSmsIn) -> Result<(bool, SmsEntry)>;
    /// Queue an SMS to a linked number, waiting for the gateway's task
    /// check (`for_gateway`) or for the answer to the observer's next SMS.
    #[allow(clippy::too_many_arguments)]
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
    ) -> Result<()>;
    /// SMS waiting for the gateway's task check, oldest first, at most `limit`.
    async fn sms_outbox(&self, group_id: RowId, limit: i64) -> Result<Vec<SmsEntry>>;
    /// SMS to this number not sent yet, oldest first, at most `limit`.
    async fn sms_waiting_for(
        &self,
        group_id: RowId,
        number_hash: &str,
        limit: i64,
    ) -> Result<Vec<SmsEntry>>;
    /// These (by uuid) wait for the observer's next SMS instead.
    async fn hold_sms(&self, group_id: RowId, uuids: &[String]) -> Result<()>;
    /// Note that the gateway took these (by uuid); answers those it knew.
    async fn mark_sms_sent(
        &self,
        group_id: RowId,
        uuids: &[String],
        at: Timestamp,
    ) -> Result<Vec<String>>;
    /// A page of the observer's SMS, newest first, before `before` (an id).
    async fn sms_log(
        &self,
        group_id: RowId,
        observer_id: RowId,
        before: RowId,
        limit: i64,
    ) -> Result<Vec<SmsEntry>>;

    // --- Planning before the vote ---

    /// Set (or with `None` clear) the observer's home station. The
    /// observer must be of the group.
    async fn set_home(
        &self,
        group_id: RowId,
        observer_id: RowId,
        station_id: Option<RowId>,
        set_by_observer: bool,
        at: Timestamp,
    ) -> Result<()>;
    async fn home(&self, group_id: RowId, observer_id: RowId) -> Result<Option<Home>>;
    /// A page of the group's homes: those of observers after `after` (by
    /// id), at most `limit`.
    async fn homes(&self, group_id: RowId, after: RowId, limit: i64) -> Result<Vec<Home>>;
    async fn create_plan(&self, group_id: RowId, plan: &NewPlan) -> Result<RowId>;
    /// The group's plans, newest first, at most `limit`.
    async fn plans(&self, group_id: RowId, limit: i64) -> Result<Vec<PlanHead>>;
    /// A plan of the group and its body.
    async fn plan(&self, group_id: RowId, plan_id: RowId) -> Result<Option<(PlanHead, String)>>;
    /// Record a change by hand as the plan's next, `after` being the number
    /// of changes the caller saw: when another change came first, nothing
    /// is stored and the answer is [`StoreError::Stale`]. Answers its seq.
    async fn add_plan_change(
        &self,
        group_id: RowId,
        plan_id: RowId,
        after: i64,
        change: &str,
        made_by: &str,
        at: Timestamp,
    ) -> Result<i64>;
    /// The plan's changes by hand with seq above `after`, in order.
    async fn plan_changes(
        &self,
        group_id: RowId,
        plan_id: RowId,
        after: i64,
    ) -> Result<Vec<PlanChangeEntry>>;
    /// Note that the plan's assignments were made.
    async fn mark_plan_applied(
        &self,
        group_id: RowId,
        plan_id: RowId,
        by: &str,
        at: Timestamp,
    ) -> Result<()>;

    // --- Coverage shared between independent groups ---

    /// The verifier key pinned for `origin`'s coverage manifests.
    async fn coverage_key(&self, group_id: RowId, origin: &str) -> Result<Option<String>>;
    /// Keep a verified manifest of `origin` and its key, in one
    /// transaction: the key is pinned when none is, and replaces a pinned
    /// one only with `replace_key` (the caller checked the key against the
    /// pinned one); the manifest replaces the stored one only when issued
    /// later. `false`: one issued as late or later is already there, and
    /// nothing changed.
    #[allow(clippy::too_many_arguments)]
    async fn import_manifest(
        &self,
        group_id: RowId,
        origin: &str,
        verifier: &str,
        replace_key: bool,
        issued_at: u64,
        note: &str,
        at: Timestamp,
    ) -> Result<bool>;
    /// The manifests the group imported, by origin; at most [`MAX_MANIFESTS`].
    async fn manifests(&self, group_id: RowId) -> Result<Vec<StoredManifest>>;
    /// Share the group's own signed manifest with the other groups of this
    /// instance (replacing what it shared before).
    async fn share_manifest(
        &self,
        group_id: RowId,
        issued_at: u64,
        note: &str,
        at: Timestamp,
    ) -> Result<()>;
    /// What the other groups of this instance share: (group, signed
    /// note), at most [`MAX_MANIFESTS`].
    async fn shared_manifests(&self, except_group: RowId) -> Result<Vec<(RowId, String)>>;
    /// Keep a signed checkpoint; one per size (`false`: one was there).
    async fn store_checkpoint(
        &self,
        group_id: RowId,
        checkpoint: &StoredCheckpoint,
    ) -> Result<bool>;
    /// The group's checkpoints of size above `after_size`, smallest first.
    async fn checkpoints(
        &self,
        group_id: RowId,
        after_size: u64,
        limit: i64,
    ) -> Result<Vec<StoredCheckpoint>>;
    /// The group's largest checkpoint, with the cosignature lines on it.
    async fn latest_checkpoint(
        &self,
        group_id: RowId,
    ) -> Result<Option<(StoredCheckpoint, Vec<String>)>>;
    /// The checkpoint of this size, with its cosignature lines.
    async fn checkpoint_at(
        &self,
        group_id: RowId,
        size: u64,
    ) -> Result<Option<(StoredCheckpoint, Vec<String>)>>;
    /// Keep a witness's cosignature line on the group's checkpoint of
    /// this size (a witness's later line for the same size replaces
    /// nothing: the first stays).
    async fn add_cosignature(
        &self,
        group_id: RowId,
        size: u64,
        witness: &str,
        line: &str,
        at: Timestamp,
    ) -> Result<bool>;
    /// The largest size of the group's checkpoints that this witness (key
    /// name) cosigned; 0 when none.
    async fn cosigned_size(&self, group_id: RowId, witness: &str) -> Result<u64>;
    /// Pin a witness's key for the group (idempotent).
    async fn add_ledger_witness(
        &self,
        group_id: RowId,
        verifier: &str,
        at: Timestamp,
    ) -> Result<()>;
    /// The witness keys the group pinned.
    async fn ledger_witnesses(&self, group_id: RowId) -> Result<Vec<String>>;
    /// Start watching a log as this group's witness, pinning its key.
    /// Watching it already with the same key changes nothing; with another
    /// key it is refused (`Forbidden`): a changed key is accepted only by
    /// [`Store::repin_witnessed_log`].
    async fn watch_log(
        &self,
        witness_group_id: RowId,
        origin: &str,
        verifier: &str,
        at: Timestamp,
    ) -> Result<()>;
    /// Replace a watched log's pinned key on purpose (the log rotated its
    /// key and told the witness by another channel).
    async fn repin_witnessed_log(
        &self,
        witness_group_id: RowId,
        origin: &str,
        verifier: &str,
        at: Timestamp,
    ) -> Result<bool>;
    /// The logs this group watches.
    async fn witnessed_logs(&self, witness_group_id: RowId) -> Result<Vec<WitnessedLog>>;
    /// Record that the witness cosigned `checkpoint` of size `size`, only
    /// if its last cosigned size is still `from_size` (`false` otherwise).
    #[allow(clippy::too_many_arguments)]
    async fn advance_witnessed_log(
        &self,
        witness_group_id: RowId,
        origin: &str,
        from_size: u64,
        size: u64,
        root: &TreeHash,
        checkpoint: &str,
        at: Timestamp,
    ) -> Result<bool>;
    /// Keep the proof of a fork a witness found.
    async fn record_fork(&self, witness_group_id: RowId, fork: &LedgerFork) -> Result<()>;
    /// The forks this group found as a witness, newest first, at most `limit`.
    async fn ledger_forks(&self, witness_group_id: RowId, limit: i64) -> Result<Vec<LedgerFork>>;

    // --- audit trail of reference-data changes ---
    async fn audit(&self, actor: &str, action: &str, detail: &str, at: Timestamp) -> Result<()>;
}

/// The current time as a [`Timestamp`]. The store is the I/O layer, so it
/// may read the clock; the domain never does.
pub fn now() -> Timestamp {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    Timestamp(ms)
}
