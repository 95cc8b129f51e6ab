-- A result's forensics report, computed once (seconds on a national file)
-- and kept: a stored result never changes, so pages read this instead of
-- the result's rows. Keyed by the analysis version, so a new version of
-- the methods computes (and keeps) its own report.
CREATE TABLE result_forensics (
    import_id BIGINT NOT NULL REFERENCES result_imports(id),
    version BIGINT NOT NULL,
    report TEXT NOT NULL,
    computed_at BIGINT NOT NULL,
    PRIMARY KEY (import_id, version)
);
