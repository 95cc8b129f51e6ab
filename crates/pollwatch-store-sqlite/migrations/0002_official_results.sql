-- Official per-station results as imported, with where they came from.
-- Official figures are public: they belong to the instance, not a group.

CREATE TABLE result_imports (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    file_name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    mapping TEXT NOT NULL,
    imported_at INTEGER NOT NULL,
    candidates TEXT NOT NULL,
    leader INTEGER NOT NULL,
    stations INTEGER NOT NULL,
    skipped_incomplete INTEGER NOT NULL,
    UNIQUE (sha256, mapping)
);

CREATE TABLE official_results (
    import_id INTEGER NOT NULL REFERENCES result_imports(id),
    station TEXT NOT NULL,
    line INTEGER NOT NULL,
    registered INTEGER NOT NULL,
    ballots_issued INTEGER NOT NULL,
    valid INTEGER NOT NULL,
    invalid INTEGER NOT NULL,
    votes TEXT NOT NULL,
    PRIMARY KEY (import_id, station)
);

-- Figures observers (or citizens' platforms) recorded for some stations,
-- imported from the same or another file.
CREATE TABLE observed_figures (
    import_id INTEGER NOT NULL REFERENCES result_imports(id),
    station TEXT NOT NULL,
    line INTEGER NOT NULL,
    figures TEXT NOT NULL
);
CREATE INDEX observed_figures_import ON observed_figures (import_id);
