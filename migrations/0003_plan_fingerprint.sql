-- ttn-migrate journal, schema 3: the plan each run carried out, as a fingerprint.
--
-- plan_fingerprint is a digest of everything the plan is made from: the frozen v2 snapshot's bytes,
-- the mapping options of the configuration (with the run tag), the `--devices` selection and the
-- tool version (Sources/Plan/PlanFingerprint.swift). A `run` whose fingerprint equals that of a run
-- that completed, on a journal where every step is done, has nothing to do and ends at once without
-- decoding or planning (issue 12: a finished journal of 100,000 devices resumes within seconds).
-- NULL for runs of earlier builds and for commands that carry out no plan.

ALTER TABLE runs ADD COLUMN plan_fingerprint TEXT CHECK (plan_fingerprint IS NULL OR plan_fingerprint <> '');
