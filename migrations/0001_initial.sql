-- ttn-migrate journal, schema 1 (DESIGN.md §6): the target the journal is bound to, the runs that
-- used it, one row per plan step with its state, the v3 API keys it created (with their secrets)
-- and a log of every state change (for `status` timings).
--
-- Applied by Sources/Journal/Migrator.swift in one transaction that then sets
-- PRAGMA user_version = 1. Times are milliseconds since 1970-01-01 UTC.

-- "ttnm": marks the file as a ttn-migrate journal, so another program's SQLite file is refused.
PRAGMA application_id = 1953787501;

-- Exactly one row, written when the journal is created: the v3 target it belongs to and the tag
-- that goes into the names of the API keys this migration creates (resume recognises them by it).
CREATE TABLE journal_info (
    singleton      INTEGER PRIMARY KEY NOT NULL CHECK (singleton = 1),
    created_at_ms  INTEGER NOT NULL,
    is_url         TEXT NOT NULL CHECK (is_url <> ''),
    owner_kind     TEXT NOT NULL CHECK (owner_kind IN ('user', 'organization')),
    owner_id       TEXT NOT NULL CHECK (owner_id <> ''),
    migration_tag  TEXT NOT NULL CHECK (migration_tag <> '')
);

-- One row per `run` (or `rollback`) process that wrote to the journal.
CREATE TABLE runs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at_ms    INTEGER NOT NULL,
    finished_at_ms   INTEGER,
    outcome          TEXT CHECK (outcome IN ('completed', 'failed', 'interrupted', 'stopped')),
    tool_version     TEXT NOT NULL,
    command_line     TEXT NOT NULL,  -- JSON array of the arguments; secrets are never among them
    run_tag          TEXT NOT NULL,  -- the tag used in the names of API keys created by this run
    snapshot_path    TEXT,
    snapshot_sha256  TEXT
);

-- One row per plan step, keyed by its stable id (entity + action, e.g. application:my-app:create).
CREATE TABLE steps (
    id                         TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    kind                       TEXT NOT NULL CHECK (kind <> ''),
    entity_type                TEXT NOT NULL CHECK (entity_type <> ''),
    entity_key                 TEXT NOT NULL CHECK (entity_key <> ''),
    component                  TEXT NOT NULL CHECK (component IN ('is', 'js', 'ns', 'as')),
    state                      TEXT NOT NULL DEFAULT 'pending'
                               CHECK (state IN ('pending', 'in_flight', 'done', 'failed', 'skipped', 'rolled_back')),
    attempts                   INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error                 TEXT,
    last_error_correlation_id  TEXT,
    result_json                TEXT,   -- JSON object of strings: the v3 IDs and values the step created
    skip_reason                TEXT,
    plan_position              INTEGER NOT NULL,  -- index in the latest plan that listed the step
    created_at_ms              INTEGER NOT NULL,
    updated_at_ms              INTEGER NOT NULL,
    first_attempted_at_ms      INTEGER,
    last_attempted_at_ms       INTEGER,
    run_id                     INTEGER NOT NULL REFERENCES runs(id)  -- the run that last changed it
) WITHOUT ROWID;

CREATE INDEX steps_by_state ON steps(state);
CREATE INDEX steps_by_entity ON steps(entity_type, entity_key);

-- The v3 API keys this migration created. v3 shows a secret once, so it is written in the same
-- transaction that marks its step done.
CREATE TABLE api_keys (
    step_id               TEXT PRIMARY KEY NOT NULL REFERENCES steps(id),
    run_id                INTEGER NOT NULL REFERENCES runs(id),
    entity_type           TEXT NOT NULL CHECK (entity_type <> ''),
    entity_id             TEXT NOT NULL CHECK (entity_id <> ''),
    key_id                TEXT NOT NULL CHECK (key_id <> ''),
    key_name              TEXT NOT NULL,
    secret                TEXT NOT NULL CHECK (secret <> ''),
    rights_json           TEXT NOT NULL,  -- JSON array of v3 right names
    replaces_v2_key_name  TEXT NOT NULL,
    created_at_ms         INTEGER NOT NULL
);

-- Every state change of every step, in order.
CREATE TABLE step_events (
    id          INTEGER PRIMARY KEY,
    run_id      INTEGER NOT NULL REFERENCES runs(id),
    step_id     TEXT NOT NULL REFERENCES steps(id),
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    at_ms       INTEGER NOT NULL
);

CREATE INDEX step_events_by_run ON step_events(run_id);
