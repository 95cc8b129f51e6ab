//! The situation rooms: one [`Situation`] per group, in memory, built from
//! the group's log on first use (and for every group at start), kept in step
//! with the log by catching up from the last folded position — after this
//! server stores an event, when another server says it stored one
//! (`Store::subscribe`, PostgreSQL's LISTEN/NOTIFY), and every few seconds
//! in case a notification was lost. The fold itself is
//! `pollwatch-situation`; this module only feeds it and publishes.
//!
//! Publishing is coalesced: a burst of reports gives one update a few
//! hundred milliseconds later, with the tallies computed once for every
//! coordinator watching, not once per report or per viewer.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use pollwatch_domain::forms::FormSet;
use pollwatch_domain::{RowId, Timestamp};
use pollwatch_situation::{Changes, ElectionClock, Reference, Situation, StationRef, Tallies};
use pollwatch_store::{LogNotice, Store, StoreError, now};
use tokio::sync::{Mutex, Notify, OnceCell, RwLock, broadcast};

/// Events read per catch-up query.
const PAGE: i64 = 2000;
/// How long a burst is gathered before it is published.
const COALESCE: Duration = Duration::from_millis(150);
/// Catch up with the log this often even without a notification.
const POLL: Duration = Duration::from_secs(5);
/// Silences are checked this often.
const TICK: Duration = Duration::from_secs(15);

/// One published change: what changed since the previous update, and the
/// tallies after it.
#[derive(Debug)]
pub struct Update {
    pub seq: i64,
    pub changes: Changes,
    pub tallies: Arc<Tallies>,
    /// The districts whose tally this update changed: a live message
    /// carries only theirs (a national room has thousands).
    pub districts_changed: Vec<String>,
    /// When the newest event of the update was received, for the feed's
    /// append-to-delivery latency.
    pub newest_received: Option<Timestamp>,
}

/// One group's room.
pub struct Room {
    pub group: RowId,
    situation: RwLock<Situation>,
    /// One catch-up at a time, so events fold in log order.
    folding: Mutex<()>,
    pending: std::sync::Mutex<(Changes, Option<Timestamp>)>,
    /// A catch-up was asked for while one ran: run once more after it.
    again: std::sync::atomic::AtomicBool,
    wake: Notify,
    tallies: std::sync::RwLock<Arc<Tallies>>,
    updates: broadcast::Sender<Arc<Update>>,
}

impl Room {
    /// Read the projections (briefly: a catch-up waits for readers).
    pub async fn read(&self) -> tokio::sync::RwLockReadGuard<'_, Situation> {
        self.situation.read().await
    }

    /// `f` on the projections, on a blocking thread: for work on every
    /// station of a national room (a second or more), which on the
    /// request's own thread would hold up every request sharing it.
    pub async fn read_blocking<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Situation) -> T + Send + 'static,
    ) -> Result<T, tokio::task::JoinError> {
        let room = Arc::clone(self);
        tokio::task::spawn_blocking(move || f(&room.situation.blocking_read())).await
    }

    /// Tell the room of an observer created since it was built.
    pub async fn observer_joined(&self, observer: RowId) {
        self.situation.write().await.observer_joined(observer);
    }

    /// The tallies as last published.
    pub fn tallies(&self) -> Arc<Tallies> {
        match self.tallies.read() {
            Ok(t) => Arc::clone(&t),
            Err(p) => Arc::clone(&p.into_inner()),
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Update>> {
        self.updates.subscribe()
    }

    fn queue(&self, changes: Changes, newest: Option<Timestamp>) {
        if changes.is_empty() {
            return;
        }
        if let Ok(mut p) = self.pending.lock() {
            p.0.merge(changes);
            p.1 = p.1.max(newest);
        }
        self.wake.notify_one();
    }

    /// Publish what gathered; runs for the room's life.
    async fn publish(self: Arc<Self>) {
        loop {
            self.wake.notified().await;
            tokio::time::sleep(COALESCE).await;
            let (changes, newest) = match self.pending.lock() {
                Ok(mut p) => std::mem::take(&mut *p),
                Err(_) => continue,
            };
            if changes.is_empty() {
                continue;
            }
            let (seq, tallies) = {
                let s = self.situation.read().await;
                (s.last_seq(), Arc::new(s.tallies()))
            };
            let before = self.tallies();
            let districts_changed = tallies
                .districts
                .iter()
                .filter(|(d, t)| before.districts.get(*d) != Some(*t))
                .map(|(d, _)| d.clone())
                .collect();
            if let Ok(mut t) = self.tallies.write() {
                *t = Arc::clone(&tallies);
            }
            // No receiver is not an error: nobody is watching.
            let _ = self.updates.send(Arc::new(Update {
                seq,
                changes,
                tallies,
                districts_changed,
                newest_received: newest,
            }));
        }
    }
}

/// The election the rooms show, loaded once.
pub struct Election {
    pub clock: ElectionClock,
    pub stations: Vec<StationRef>,
    /// Station id -> position in `stations`.
    by_id: HashMap<RowId, usize>,
}

impl Election {
    pub fn station(&self, id: RowId) -> Option<&StationRef> {
        self.stations.get(*self.by_id.get(&id)?)
    }
}

/// Every group's room.
pub struct Rooms {
    store: Arc<dyn Store>,
    forms: Arc<FormSet>,
    election_id: Option<RowId>,
    election: OnceCell<Arc<Election>>,
    rooms: std::sync::Mutex<HashMap<RowId, Arc<OnceCell<Arc<Room>>>>>,
    /// Observers' code names by (group, observer): feeds name observers on
    /// every update, and a name never changes.
    names: std::sync::RwLock<HashMap<(RowId, RowId), String>>,
}

impl Rooms {
    pub fn new(store: Arc<dyn Store>, forms: Arc<FormSet>, election_id: Option<RowId>) -> Self {
        Self {
            store,
            forms,
            election_id,
            election: OnceCell::new(),
            rooms: Default::default(),
            names: Default::default(),
        }
    }

    /// The election whose stations the rooms follow.
    pub fn election_id(&self) -> Option<RowId> {
        self.election_id
    }

    /// An observer's code name, for staff screens; `None` if the observer is
    /// not of this group.
    pub async fn code_name(
        &self,
        group: RowId,
        observer: RowId,
    ) -> Result<Option<String>, StoreError> {
        if let Ok(names) = self.names.read()
            && let Some(n) = names.get(&(group, observer))
        {
            return Ok(Some(n.clone()));
        }
        let found = self.store.observer(group, observer).await?;
        if let (Some(o), Ok(mut names)) = (&found, self.names.write()) {
            names.insert((group, observer), o.code_name.to_string());
        }
        Ok(found.map(|o| o.code_name.to_string()))
    }

    /// The election's clock and stations, loaded once for all rooms (and
    /// for the exports, which name each report's station).
    pub async fn election(&self) -> Result<Arc<Election>, StoreError> {
        self.election
            .get_or_try_init(|| async {
                let (clock, stations) =
                    election_reference(&*self.store, &self.forms, self.election_id).await?;
                let by_id = stations
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (s.id, i))
                    .collect();
                Ok(Arc::new(Election {
                    clock,
                    stations,
                    by_id,
                }))
            })
            .await
            .cloned()
    }

    /// The election's clock (for local times on pages).
    pub async fn clock(&self) -> Result<ElectionClock, StoreError> {
        Ok(self.election().await?.clock.clone())
    }

    /// A group's room, built from its log on first use.
    pub async fn room(&self, group: RowId) -> Result<Arc<Room>, StoreError> {
        let cell = match self.rooms.lock() {
            Ok(mut m) => Arc::clone(m.entry(group).or_default()),
            Err(_) => return Err(StoreError::Database("rooms lock poisoned".into())),
        };
        cell.get_or_try_init(|| self.build(group)).await.cloned()
    }

    async fn build(&self, group: RowId) -> Result<Arc<Room>, StoreError> {
        let started = std::time::Instant::now();
        let election = self.election().await?;
        let (mut situation, events) = situation_from_log(
            &self.store,
            &self.forms,
            election.clock.clone(),
            election.stations.clone(),
            group,
        )
        .await?;
        situation.tick(now());
        let tallies = Arc::new(situation.tallies());
        tracing::info!(
            group,
            events,
            ms = started.elapsed().as_millis() as u64,
            "situation room built from the log"
        );
        let (updates, _) = broadcast::channel(256);
        let room = Arc::new(Room {
            group,
            situation: RwLock::new(situation),
            folding: Mutex::new(()),
            pending: Default::default(),
            again: Default::default(),
            wake: Notify::new(),
            tallies: std::sync::RwLock::new(tallies),
            updates,
        });
        tokio::spawn(Arc::clone(&room).publish());
        Ok(room)
    }

    /// Fold whatever the log holds beyond the room's position. A failure
    /// leaves the room where it was; the next catch-up resumes there.
    pub async fn catch_up(&self, group: RowId) -> Result<(), StoreError> {
        let room = self.room(group).await?;
        let _one = room.folding.lock().await;
        self.fold_new(&room).await
    }

    async fn fold_new(&self, room: &Room) -> Result<(), StoreError> {
        let group = room.group;
        loop {
            let after = room.situation.read().await.last_seq();
            let page = self.store.events(group, after, PAGE).await?;
            if page.is_empty() {
                return Ok(());
            }
            let newest = page.iter().map(|e| e.received_at).max();
            let mut changes = Changes::default();
            {
                let mut s = room.situation.write().await;
                for e in &page {
                    changes.merge(s.apply(e));
                }
            }
            room.queue(changes, newest);
            if (page.len() as i64) < PAGE {
                return Ok(());
            }
        }
    }

    /// Ask for a catch-up without waiting for it: a report's answer does not
    /// wait for the room. Requests during a running catch-up fold into one
    /// more pass, so a burst of reports costs a few queries, not one each.
    pub fn request_catch_up(self: &Arc<Self>, group: RowId) {
        let rooms = Arc::clone(self);
        tokio::spawn(async move {
            let Ok(room) = rooms.room(group).await else {
                return;
            };
            use std::sync::atomic::Ordering;
            room.again.store(true, Ordering::SeqCst);
            loop {
                let Ok(_guard) = room.folding.try_lock() else {
                    // The running pass will see `again` and go once more.
                    return;
                };
                if !room.again.swap(false, Ordering::SeqCst) {
                    return;
                }
                if let Err(e) = rooms.fold_new(&room).await {
                    tracing::warn!(group, error = %e, "situation room could not catch up; will retry");
                    return;
                }
            }
        });
    }

    /// Catch up and log a failure instead of returning it: for callers
    /// whose own work (storing a report) already succeeded.
    pub async fn catch_up_quietly(&self, group: RowId) {
        if let Err(e) = self.catch_up(group).await {
            tracing::warn!(group, error = %e, "situation room could not catch up; will retry");
        }
    }

    fn built(&self) -> Vec<Arc<Room>> {
        match self.rooms.lock() {
            Ok(m) => m.values().filter_map(|c| c.get().cloned()).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Build every group's room, then keep them in step: notifications from
    /// other servers, a poll, and the silence clock. Runs for the server's
    /// life.
    pub fn spawn(self: &Arc<Self>) {
        let rooms = Arc::clone(self);
        tokio::spawn(async move {
            match rooms.store.groups().await {
                Ok(groups) => {
                    for g in groups {
                        if let Err(e) = rooms.room(g.id).await {
                            tracing::warn!(group = g.id, error = %e, "building a situation room");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "listing groups for the situation rooms"),
            }
        });
        let rooms = Arc::clone(self);
        tokio::spawn(async move {
            let mut rx = match rooms.store.subscribe().await {
                Ok(Some(rx)) => rx,
                Ok(None) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot hear of other servers' events; the poll alone keeps the rooms in step");
                    return;
                }
            };
            while let Some(first) = rx.recv().await {
                // Whatever queued meanwhile, at most one catch-up per
                // group: a burst of other servers' batches costs one
                // query per group, not one per batch.
                let mut groups = std::collections::BTreeSet::new();
                let mut all = false;
                let mut notice = Some(first);
                while let Some(n) = notice {
                    match n {
                        LogNotice::Grew(group) => {
                            groups.insert(group);
                        }
                        LogNotice::MayHaveMissed => all = true,
                    }
                    notice = rx.try_recv().ok();
                }
                if all {
                    groups.extend(rooms.built().iter().map(|r| r.group));
                }
                for group in groups {
                    rooms.catch_up_quietly(group).await;
                }
            }
        });
        let rooms = Arc::clone(self);
        tokio::spawn(async move {
            let mut poll = tokio::time::interval(POLL);
            let mut tick = tokio::time::interval(TICK);
            loop {
                tokio::select! {
                    _ = poll.tick() => {
                        for room in rooms.built() {
                            rooms.catch_up_quietly(room.group).await;
                        }
                    }
                    _ = tick.tick() => {
                        for room in rooms.built() {
                            let changes = room.situation.write().await.tick(now());
                            room.queue(changes, None);
                        }
                    }
                }
            }
        });
    }
}

/// The election's clock and stations, as the rooms show them.
pub async fn election_reference(
    store: &dyn Store,
    forms: &FormSet,
    election_id: Option<RowId>,
) -> Result<(ElectionClock, Vec<StationRef>), StoreError> {
    let found = match election_id {
        Some(id) => store.elections().await?.into_iter().find(|e| e.id == id),
        None => None,
    };
    let zone = found
        .as_ref()
        .map(|e| e.time_zone.clone())
        .unwrap_or_else(|| "UTC".into());
    let clock = ElectionClock::new(&zone, forms.alerts.hours)
        .or_else(|e| {
            tracing::warn!(error = %e, "the election's time zone is unknown: using UTC");
            ElectionClock::new("UTC", forms.alerts.hours)
        })
        .map_err(|e| StoreError::Database(e.to_string()))?;
    let stations = match election_id {
        Some(id) => store.stations(id).await?,
        None => Vec::new(),
    };
    let stations = stations
        .into_iter()
        .map(|s| StationRef {
            id: s.id,
            number: s.record.number.to_string(),
            name: s.record.name,
            district: s.record.district,
            registered_voters: s.record.registered_voters,
            coordinates: s.record.coordinates.map(|c| (c.latitude, c.longitude)),
        })
        .collect();
    Ok((clock, stations))
}

/// A group's projections folded from its whole log, page by page, over
/// the assignments and observers stored now: what a room is built from
/// (and what `pollwatch bench situation` times). The next page is read
/// (and its payloads parsed) on another task while this one folds, so a
/// national log costs about the longer of the two, not their sum.
/// Answers the events read.
pub async fn situation_from_log(
    store: &Arc<dyn Store>,
    forms: &Arc<FormSet>,
    clock: ElectionClock,
    stations: Vec<StationRef>,
    group: RowId,
) -> Result<(Situation, usize), StoreError> {
    let assignments = store
        .assignments(group)
        .await?
        .into_iter()
        .map(|a| (a.observer_id, a.station_id))
        .collect();
    let observers = store
        .observers(group)
        .await?
        .into_iter()
        .map(|o| o.id)
        .collect();
    let mut situation = Situation::new(Reference {
        stations,
        assignments,
        observers,
        forms: Arc::clone(forms),
        clock,
    });
    let read = |after: i64| {
        let store = Arc::clone(store);
        tokio::spawn(async move { store.events(group, after, PAGE).await })
    };
    let joined = |r: Result<Result<Vec<_>, StoreError>, tokio::task::JoinError>| {
        r.map_err(|e| StoreError::Database(format!("reading the log: {e}")))?
    };
    let mut events = 0usize;
    let mut page = joined(read(situation.last_seq()).await)?;
    while let Some(last) = page.last() {
        let next = read(last.seq);
        for e in &page {
            situation.apply(e);
        }
        events += page.len();
        page = joined(next.await)?;
    }
    Ok((situation, events))
}
