-- Coverage between independent groups: the manifests a group imported
-- (the newest per other group), the key pinned for each on first use, and
-- the manifest a group shares with the other groups of this instance.
-- Manifests name stations and times, never an observer.
CREATE TABLE coverage_keys (
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    origin TEXT NOT NULL,
    verifier TEXT NOT NULL,
    pinned_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, origin)
);

CREATE TABLE coverage_manifests (
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    origin TEXT NOT NULL,
    issued_at INTEGER NOT NULL,
    note TEXT NOT NULL,
    imported_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, origin)
);

CREATE TABLE coverage_shared (
    group_id INTEGER PRIMARY KEY REFERENCES observer_groups(id),
    issued_at INTEGER NOT NULL,
    note TEXT NOT NULL,
    shared_at INTEGER NOT NULL
);
