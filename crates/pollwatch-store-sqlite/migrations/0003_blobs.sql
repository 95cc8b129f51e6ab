-- Evidence files (photos of protocols and incidents, scans), by the SHA-256
-- of their bytes. The bytes live on disk under the data directory
-- (blobs/<first two hex digits>/<sha256>), one file per content; each
-- group that uploads it has its own row here, and only that row lets the
-- group read it.

CREATE TABLE blobs (
    sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL CHECK (size > 0),
    uploaded_by_observer INTEGER REFERENCES observers(id),
    received_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, sha256)
);
