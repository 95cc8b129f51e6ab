-- The foundation schema. Times are milliseconds since the Unix epoch (UTC);
-- JSON payloads are text, kept exactly as received.

CREATE TABLE elections (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    polling_day TEXT NOT NULL
);

CREATE TABLE districts (
    id INTEGER PRIMARY KEY,
    election_id INTEGER NOT NULL REFERENCES elections(id),
    name TEXT NOT NULL,
    UNIQUE (election_id, name)
);

CREATE TABLE stations (
    id INTEGER PRIMARY KEY,
    election_id INTEGER NOT NULL REFERENCES elections(id),
    number TEXT NOT NULL,
    name TEXT NOT NULL,
    address TEXT NOT NULL,
    district_id INTEGER NOT NULL REFERENCES districts(id),
    registered_voters INTEGER NOT NULL CHECK (registered_voters >= 0),
    latitude REAL,
    longitude REAL,
    kind TEXT NOT NULL CHECK (kind IN ('regular', 'open')),
    accessibility TEXT NOT NULL,
    UNIQUE (election_id, number)
);

CREATE TABLE station_imports (
    id INTEGER PRIMARY KEY,
    election_id INTEGER NOT NULL REFERENCES elections(id),
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    imported_at INTEGER NOT NULL,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    unchanged INTEGER NOT NULL
);

CREATE TABLE station_changes (
    id INTEGER PRIMARY KEY,
    import_id INTEGER NOT NULL REFERENCES station_imports(id),
    station_id INTEGER NOT NULL REFERENCES stations(id),
    field TEXT NOT NULL,
    old_value TEXT NOT NULL,
    new_value TEXT NOT NULL
);

CREATE TABLE observer_groups (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    group_id INTEGER REFERENCES observer_groups(id),
    username TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'coordinator', 'analyst')),
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE observers (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    code_name TEXT NOT NULL,
    language TEXT NOT NULL,
    contact TEXT,
    created_at INTEGER NOT NULL,
    UNIQUE (group_id, code_name)
);

CREATE TABLE assignments (
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    observer_id INTEGER NOT NULL REFERENCES observers(id),
    station_id INTEGER NOT NULL REFERENCES stations(id),
    PRIMARY KEY (observer_id, station_id)
);
CREATE INDEX assignments_group ON assignments (group_id);

CREATE TABLE enrolment_codes (
    code_hash TEXT PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    observer_id INTEGER NOT NULL REFERENCES observers(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id INTEGER REFERENCES users(id),
    observer_id INTEGER REFERENCES observers(id),
    group_id INTEGER REFERENCES observer_groups(id),
    role TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

-- The observation log. Append-only: the triggers below refuse any change,
-- so even a bug cannot rewrite evidence.
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    client_id TEXT NOT NULL,
    observer_id INTEGER REFERENCES observers(id),
    station_id INTEGER REFERENCES stations(id),
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    observed_at INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    supersedes TEXT,
    content_hash TEXT NOT NULL,
    UNIQUE (group_id, client_id)
);
CREATE INDEX events_station ON events (group_id, station_id, seq);

CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
