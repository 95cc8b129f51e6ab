-- Reports by SMS through a group's own gateway phone (an app speaking
-- SMSSync's protocol).
--
-- A phone number is never stored: a number is known by its keyed hash
-- (HMAC-SHA256 with a key kept in a file outside the database), and an SMS
-- from a number nobody linked is answered and kept nowhere.

-- A gateway: the token in its sync URL is its secret; only the token's
-- SHA-256 is kept.
CREATE TABLE sms_gateways (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    token_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

-- Which observer a number (by its keyed hash) belongs to.
CREATE TABLE sms_numbers (
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    number_hash TEXT NOT NULL,
    observer_id INTEGER NOT NULL REFERENCES observers(id),
    linked_at INTEGER NOT NULL,
    PRIMARY KEY (group_id, number_hash)
);
CREATE INDEX sms_numbers_observer ON sms_numbers (group_id, observer_id);

-- Every SMS in and out of a linked number, parsed or not, with what it
-- became. In: `dedup` is a hash of the gateway's message id, the number's
-- hash and the text, so a message the gateway sends again is kept once and
-- answered as before. Out: `uuid` names it to the gateway; `sent_at` is
-- when the gateway took it; until then `waiting` says for what: `gateway`
-- (its number is known to the server: the next task check takes it) or
-- `reply` (it goes with the answer to the observer's next SMS).
CREATE TABLE sms_log (
    id INTEGER PRIMARY KEY,
    group_id INTEGER NOT NULL REFERENCES observer_groups(id),
    observer_id INTEGER NOT NULL REFERENCES observers(id),
    direction TEXT NOT NULL,
    dedup TEXT,
    uuid TEXT,
    number_hash TEXT NOT NULL,
    text TEXT NOT NULL,
    outcome TEXT NOT NULL,
    event_client_id TEXT,
    reply TEXT,
    at INTEGER NOT NULL,
    sent_at INTEGER,
    waiting TEXT,
    UNIQUE (group_id, dedup),
    UNIQUE (group_id, uuid)
);
CREATE INDEX sms_log_observer ON sms_log (group_id, observer_id, id);
CREATE INDEX sms_log_outbox ON sms_log (group_id, waiting, id);
CREATE INDEX sms_log_waiting ON sms_log (group_id, number_hash, waiting);
