-- ttn-migrate journal, schema 4: `steps` rebuilt with the same columns, keys and rules, its `component`
-- and `state` checks written as comparisons instead of IN lists, and without its index by state.
--
-- Why: SQLite (3.40, Debian bookworm) evaluates `x IN (more than two constants)` through a temporary
-- b-tree that it builds anew for every row it checks. The state check runs on every state change and
-- both checks on every planned step, so the journal built two such b-trees per step and one per change
-- (issue 12: `perf record` of `bench --concurrency 64`, and `EXPLAIN` showing `OpenEphemeral`).
-- `x = 'a' OR x = 'b' OR …` is the same rule, compiled to plain comparisons.
--
-- The index steps_by_state is not made again: every state change moved the step's entry in it, which
-- more than doubled the pages a batch of state changes writes to the WAL (a batch of 64 changes in
-- WAL mode with synchronous FULL: about 40 µs per change with the index, 22 µs without). What reads
-- steps by state (the counts of `status`, the steps a run starts from) reads each step once anyway.
--
-- How: ALTER TABLE cannot change a check, so this follows SQLite's procedure for other schema changes
-- (https://www.sqlite.org/lang_altertable.html#otheralter): Migrator runs every migration with foreign
-- keys off and checks them (PRAGMA foreign_key_check) before it commits. Rows are copied unchanged.

CREATE TABLE steps_rebuilt (
    id                         TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
    kind                       TEXT NOT NULL CHECK (kind <> ''),
    entity_type                TEXT NOT NULL CHECK (entity_type <> ''),
    entity_key                 TEXT NOT NULL CHECK (entity_key <> ''),
    component                  TEXT NOT NULL
                               CHECK (component = 'is' OR component = 'js' OR component = 'ns' OR component = 'as'),
    state                      TEXT NOT NULL DEFAULT 'pending'
                               CHECK (state = 'pending' OR state = 'in_flight' OR state = 'done' OR state = 'failed'
                                      OR state = 'skipped' OR state = 'rolled_back'),
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

INSERT INTO steps_rebuilt (id, kind, entity_type, entity_key, component, state, attempts, last_error,
                           last_error_correlation_id, result_json, skip_reason, plan_position, created_at_ms,
                           updated_at_ms, first_attempted_at_ms, last_attempted_at_ms, run_id)
SELECT id, kind, entity_type, entity_key, component, state, attempts, last_error,
       last_error_correlation_id, result_json, skip_reason, plan_position, created_at_ms,
       updated_at_ms, first_attempted_at_ms, last_attempted_at_ms, run_id
FROM steps;

DROP TABLE steps;
ALTER TABLE steps_rebuilt RENAME TO steps;

CREATE INDEX steps_by_entity ON steps(entity_type, entity_key);
