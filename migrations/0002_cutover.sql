-- ttn-migrate journal, schema 2: the cut-over of migrated devices from v2 to v3 (`ttn-migrate cutover`).
--
-- One row per device the cut-over touched, keyed by its v3 path (application-id/device-id). The states
-- follow the order of the work, which never clears a device in v2 before v3 holds its counters:
--   counters_raised  the v3 session counters are at least the v2 ones (plus the margin), or v3 holds
--                    no session (the device joins again on v3); v2 is unchanged
--   v2_cleared       SetDevice cleared the AppKey and session in v2
--   done             a fresh read of v2 shows the keys gone
--   failed           the last attempt stopped with last_error; v2 keeps its keys unless an earlier
--                    attempt got to v2_cleared (the next attempt reads v2 again and continues)
-- Counters are the values read (v2) and written (v3) by the latest attempt; NULL where not known.

CREATE TABLE cutover (
    entity_key         TEXT PRIMARY KEY NOT NULL CHECK (entity_key <> ''),
    v2_application_id  TEXT NOT NULL CHECK (v2_application_id <> ''),
    v2_device_id       TEXT NOT NULL CHECK (v2_device_id <> ''),
    state              TEXT NOT NULL CHECK (state IN ('counters_raised', 'v2_cleared', 'done', 'failed')),
    v2_f_cnt_up        INTEGER CHECK (v2_f_cnt_up BETWEEN 0 AND 4294967295),
    v2_f_cnt_down      INTEGER CHECK (v2_f_cnt_down BETWEEN 0 AND 4294967295),
    v3_f_cnt_up        INTEGER CHECK (v3_f_cnt_up BETWEEN 0 AND 4294967295),
    v3_f_cnt_down      INTEGER CHECK (v3_f_cnt_down BETWEEN 0 AND 4294967295),
    failures           INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),  -- attempts that ended in failed
    last_error         TEXT,
    updated_at_ms      INTEGER NOT NULL,
    run_id             INTEGER NOT NULL REFERENCES runs(id)
) WITHOUT ROWID;
