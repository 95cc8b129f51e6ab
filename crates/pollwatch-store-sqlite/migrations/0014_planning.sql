-- Planning before the vote.
--
-- A volunteer's home is a station (the one nearest where they live or
-- vote), never an address or coordinates: observers get harassed at home.
-- It is kept here only, for planning; no export and no event carries it.
CREATE TABLE observer_homes (
    observer_id INTEGER PRIMARY KEY REFERENCES observers(id),
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    station_id INTEGER NOT NULL REFERENCES stations(id),
    -- "observer" (picked in the app) or "coordinator".
    set_by TEXT NOT NULL,
    set_at INTEGER NOT NULL
);
CREATE INDEX observer_homes_group ON observer_homes (group_id, observer_id);

-- A plan: a strategy's proposal (the body, JSON the planning crate
-- reads), then the coordinators' changes by hand, each an entry of its own
-- journal. Drafts stay out of the group's log, which the public evidence
-- bundle carries; applying a plan writes assignment events there.
CREATE TABLE plans (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    election_id INTEGER NOT NULL REFERENCES elections(id),
    name TEXT NOT NULL,
    body TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    changes INTEGER NOT NULL DEFAULT 0,
    applied_at INTEGER,
    applied_by TEXT
);
CREATE INDEX plans_group ON plans (group_id, id);

CREATE TABLE plan_changes (
    plan_id INTEGER NOT NULL REFERENCES plans(id),
    seq INTEGER NOT NULL,
    change TEXT NOT NULL,
    made_by TEXT NOT NULL,
    made_at INTEGER NOT NULL,
    PRIMARY KEY (plan_id, seq)
);
