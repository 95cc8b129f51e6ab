-- The evidence log: each group's Merkle tree (RFC 9162) over its events
-- and evidence files, its signed checkpoints and its witnesses.

-- Every complete subtree's hash: level 0 are the leaves, level l holds
-- the root of leaves index << l .. (index + 1) << l. A proof reads the
-- O(log n) nodes it needs instead of every leaf.
CREATE TABLE ledger_nodes (
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    level INTEGER NOT NULL,
    idx INTEGER NOT NULL,
    hash BLOB NOT NULL,
    PRIMARY KEY (group_id, level, idx)
);

-- The leaves that are evidence files, with their leaf data (the line that
-- was hashed): an event's leaf data is made again from the event itself,
-- files carry facts (the public copy's hash) that no event row holds.
CREATE TABLE ledger_files (
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    idx INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (group_id, idx),
    UNIQUE (group_id, sha256)
);

-- How far the tree has taken the group's log: its size, the last event
-- in it, and the frontier (the roots of its largest complete subtrees,
-- 32 bytes each, largest first) from which the next leaf is appended.
CREATE TABLE ledger_heads (
    group_id INTEGER PRIMARY KEY REFERENCES observer_groups(id),
    size INTEGER NOT NULL,
    last_seq INTEGER NOT NULL,
    frontier BLOB NOT NULL
);

-- The group's keys (C2SP verifier key strings): `log` signs its
-- checkpoints, `witness` cosigns other groups'. The private keys are
-- files outside the database; the key of each kind not retired signs.
CREATE TABLE ledger_keys (
    kind TEXT NOT NULL,
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    verifier TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    retired_at INTEGER,
    PRIMARY KEY (group_id, verifier)
);

-- Signed checkpoints (C2SP tlog-checkpoint notes, the log's own
-- signature only; cosignatures are kept apart and added when shown).
CREATE TABLE checkpoints (
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    size INTEGER NOT NULL,
    root BLOB NOT NULL,
    note TEXT NOT NULL,
    made_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, size)
);

-- Witnesses' cosignature lines on a checkpoint, by witness key name.
CREATE TABLE cosignatures (
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    size INTEGER NOT NULL,
    witness TEXT NOT NULL,
    line TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, size, witness)
);

-- Who may cosign this group's checkpoints: witness keys the group pinned.
CREATE TABLE ledger_witnesses (
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    verifier TEXT NOT NULL,
    added_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, verifier)
);

-- This group as a witness: the logs it watches (their key pinned on
-- first use) and the last checkpoint of each it cosigned. A checkpoint
-- is cosigned only if it extends this one.
CREATE TABLE witnessed_logs (
    witness_group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    origin TEXT NOT NULL,
    verifier TEXT NOT NULL,
    size INTEGER NOT NULL,
    root BLOB,
    checkpoint TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (witness_group_id, origin)
);

-- Two checkpoints a watched log signed that cannot both be true (same
-- size, different roots; or a larger one that does not extend the
-- cosigned one): kept as the proof that the log forked.
CREATE TABLE ledger_forks (
    witness_group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    origin TEXT NOT NULL,
    cosigned TEXT NOT NULL,
    offered TEXT NOT NULL,
    reason TEXT NOT NULL,
    found_at INTEGER NOT NULL
);
