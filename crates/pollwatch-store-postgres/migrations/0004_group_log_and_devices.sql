-- Each group's log numbered from 1 of its own (no group can count
-- another's reports by the gaps), sessions that can be listed and revoked
-- (a seized phone must stop working at once), and TRUNCATE refused like
-- UPDATE and DELETE.

ALTER TABLE observer_groups ADD COLUMN last_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE events ADD COLUMN group_seq BIGINT NOT NULL DEFAULT 0;

-- The numbering is written once, here, for events stored before it
-- existed; the append-only trigger steps aside for that one statement.
ALTER TABLE events DISABLE TRIGGER events_no_change;
UPDATE events SET group_seq = r.n
FROM (SELECT seq AS s, ROW_NUMBER() OVER (PARTITION BY group_id ORDER BY seq) AS n FROM events) r
WHERE r.s = events.seq;
ALTER TABLE events ENABLE TRIGGER events_no_change;

-- The row triggers do not fire on TRUNCATE: without this, one statement
-- empties the log.
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();

UPDATE observer_groups SET last_seq = (
    SELECT COALESCE(MAX(group_seq), 0) FROM events WHERE events.group_id = observer_groups.id
);
CREATE UNIQUE INDEX events_group_seq ON events (group_id, group_seq);
DROP INDEX IF EXISTS events_station;
CREATE INDEX events_station ON events (group_id, station_id, group_seq);

-- A public handle per session (it opens nothing); existing sessions take
-- one from their token's hash, which cannot be turned back into the token.
ALTER TABLE sessions ADD COLUMN id TEXT;
UPDATE sessions SET id = substr(token_hash, 1, 32);
ALTER TABLE sessions ALTER COLUMN id SET NOT NULL;
ALTER TABLE sessions ADD COLUMN device TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN last_seen_at BIGINT NOT NULL DEFAULT 0;
UPDATE sessions SET last_seen_at = created_at;
ALTER TABLE sessions ADD COLUMN revoked_at BIGINT;
CREATE UNIQUE INDEX sessions_id ON sessions (id);
CREATE INDEX sessions_observer ON sessions (observer_id);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX enrolment_codes_expiry ON enrolment_codes (expires_at);

-- A write probe for readiness: a row is written and removed in one
-- transaction, so the table stays empty.
CREATE TABLE write_probe (id BIGINT PRIMARY KEY, filler BYTEA NOT NULL);
