-- Chores a store does once in its life, done when their name is here: the
-- backfill of station words looked for unindexed stations on every open,
-- a walk of the whole registry (95,000 stations) before the first request.
CREATE TABLE store_chores (
    name TEXT PRIMARY KEY,
    done_at INTEGER NOT NULL
);
