-- The election's own time zone: staff pages show local times, and an
-- observer's silence counts only in the stations' opening hours there.
ALTER TABLE elections ADD COLUMN time_zone TEXT NOT NULL DEFAULT 'UTC';
