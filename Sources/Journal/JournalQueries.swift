import Foundation
import GRDB

/// Read-only views for `status`, `keys` and the executor. On a store that writes, waiting changes are
/// committed first, so a query sees everything recorded before it.
extension JournalStore {
    /// How many steps are in each state; every state is present (0 when none).
    public func stateCounts() throws -> [StepState: Int] {
        try read { db in
            var counts = Dictionary(uniqueKeysWithValues: StepState.allCases.map { ($0, 0) })
            for row in try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM steps GROUP BY state") {
                let text: String = row["state"]
                guard let state = StepState(rawValue: text) else {
                    throw JournalError.corrupt(path: path, reason: "a step has unknown state \"\(text)\"")
                }
                counts[state] = row["n"]
            }
            return counts
        }
    }

    /// One step, or nil if the journal does not hold it.
    public func step(_ id: String) throws -> StepRecord? {
        try read { db in
            try Row.fetchOne(db, sql: "SELECT \(StoreSupport.stepColumns) FROM steps WHERE id = ?", arguments: [id])
                .map { try StoreSupport.step($0, path: path) }
        }
    }

    /// The steps in the given states (all steps if nil), in plan order.
    public func steps(in states: Set<StepState>? = nil) throws -> [StepRecord] {
        try read { db in
            // A cursor reads each row in place (no copy of every row first).
            let rows: RowCursor
            if let states {
                let wanted = StepState.allCases.filter { states.contains($0) }.map(\.rawValue)
                guard !wanted.isEmpty else { return [] }
                let marks = Array(repeating: "?", count: wanted.count).joined(separator: ", ")
                rows = try Row.fetchCursor(
                    db, sql: "SELECT \(StoreSupport.stepColumns) FROM steps WHERE state IN (\(marks)) ORDER BY plan_position, id",
                    arguments: StatementArguments(wanted))
            } else {
                rows = try Row.fetchCursor(db, sql: "SELECT \(StoreSupport.stepColumns) FROM steps ORDER BY plan_position, id")
            }
            var steps: [StepRecord] = []
            while let row = try rows.next() { steps.append(try StoreSupport.step(row, path: path)) }
            return steps
        }
    }

    /// Steps that recorded an error (failed now, or recovered later: see `state`), in plan order.
    public func stepsWithErrors() throws -> [StepRecord] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(StoreSupport.stepColumns) FROM steps WHERE last_error IS NOT NULL ORDER BY plan_position, id
                """).map { try StoreSupport.step($0, path: path) }
        }
    }

    /// Every run, oldest first, with what it did and its first and last state change.
    public func runs() throws -> [RunSummary] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT r.*,
                    (SELECT count(*) FROM step_events e WHERE e.run_id = r.id AND e.to_state = 'done') AS done_count,
                    (SELECT count(*) FROM step_events e WHERE e.run_id = r.id AND e.to_state = 'failed') AS failed_count,
                    (SELECT count(*) FROM step_events e WHERE e.run_id = r.id AND e.to_state = 'skipped') AS skipped_count,
                    (SELECT min(at_ms) FROM step_events e WHERE e.run_id = r.id) AS first_ms,
                    (SELECT max(at_ms) FROM step_events e WHERE e.run_id = r.id) AS last_ms
                FROM runs r ORDER BY r.id
                """)
            return try rows.map { row in
                let id: Int64 = row["id"]
                let outcomeText: String? = row["outcome"]
                let outcome = try outcomeText.map { text -> RunOutcome in
                    guard let outcome = RunOutcome(rawValue: text) else {
                        throw JournalError.corrupt(path: path, reason: "run \(id) has unknown outcome \"\(text)\"")
                    }
                    return outcome
                }
                let first: Int64? = row["first_ms"]
                let last: Int64? = row["last_ms"]
                let commandLine: String = row["command_line"]
                return RunSummary(
                    id: id,
                    startedAt: StoreSupport.date(row["started_at_ms"] as Int64),
                    finishedAt: StoreSupport.date(row["finished_at_ms"] as Int64?),
                    outcome: outcome,
                    toolVersion: row["tool_version"],
                    commandLine: try StoreSupport.decodeJSON([String].self, commandLine, path: path, what: "the command line of run \(id)"),
                    runTag: row["run_tag"],
                    snapshotPath: row["snapshot_path"],
                    snapshotSHA256: row["snapshot_sha256"],
                    planFingerprint: row["plan_fingerprint"],
                    stepsDone: row["done_count"],
                    stepsFailed: row["failed_count"],
                    stepsSkipped: row["skipped_count"],
                    activity: first.flatMap { first in last.map { ActivitySpan(first: StoreSupport.date(first), last: StoreSupport.date($0)) } })
            }
        }
    }

    /// The first and last state change of any run; nil if none was recorded.
    public func activity() throws -> ActivitySpan? {
        try read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT min(at_ms) AS first, max(at_ms) AS last FROM step_events"),
                  let first = row["first"] as Int64?, let last = row["last"] as Int64? else { return nil }
            return ActivitySpan(first: StoreSupport.date(first), last: StoreSupport.date(last))
        }
    }

    /// Per entity of `entityType` (e.g. `device`), the combined state of its steps on each component,
    /// sorted by entity key: which of IS, JS, NS and AS are done.
    public func entityProgress(entityType: String) throws -> [EntityProgress] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT entity_key, component, state FROM steps WHERE entity_type = ? ORDER BY entity_key
                """, arguments: [entityType])
            var result: [EntityProgress] = []
            for row in rows {
                let key: String = row["entity_key"]
                let componentText: String = row["component"]
                let stateText: String = row["state"]
                guard let component = StepComponent(rawValue: componentText), let state = StepState(rawValue: stateText) else {
                    throw JournalError.corrupt(path: path, reason: "a step of \(entityType) \(key) has unknown component or state")
                }
                if result.last?.entityKey != key { result.append(EntityProgress(entityKey: key, states: [:])) }
                let combined = result[result.count - 1].states[component].map { Self.combine($0, state) } ?? state
                result[result.count - 1].states[component] = combined
            }
            return result
        }
    }

    /// The state shown for several steps on one component: the first of failed, in_flight, pending,
    /// skipped, rolled_back that either has, else done.
    static func combine(_ lhs: StepState, _ rhs: StepState) -> StepState {
        let precedence: [StepState] = [.failed, .inFlight, .pending, .skipped, .rolledBack, .done]
        return precedence.first { $0 == lhs || $0 == rhs } ?? .done
    }

    /// Every API key this migration created and did not roll back, with its secret, oldest first.
    public func apiKeys() throws -> [APIKeyRecord] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM api_keys ORDER BY created_at_ms, step_id")
            return try rows.map { row in
                let stepID: String = row["step_id"]
                let rights: String = row["rights_json"]
                let key = CreatedAPIKey(
                    entityType: row["entity_type"], entityID: row["entity_id"], keyID: row["key_id"], keyName: row["key_name"],
                    secret: row["secret"],
                    rights: try StoreSupport.decodeJSON([String].self, rights, path: path, what: "the rights of the key of step \(stepID)"),
                    replacesV2KeyName: row["replaces_v2_key_name"])
                return APIKeyRecord(stepID: stepID, runID: row["run_id"], key: key, createdAt: StoreSupport.date(row["created_at_ms"] as Int64))
            }
        }
    }

    /// Every step's state, attempts and whether its API key secret is stored: what the executor reads
    /// when a run starts.
    public func stepProgress() throws -> [String: StepProgress] {
        try read { db in
            var result: [String: StepProgress] = [:]
            let rows = try Row.fetchCursor(db, sql: """
                SELECT s.id, s.state, s.attempts, k.step_id IS NOT NULL AS has_key
                FROM steps s LEFT JOIN api_keys k ON k.step_id = s.id
                """)
            // Columns by index: this reads every step of the journal.
            while let row = try rows.next() {
                let id: String = row[0]
                let text: String = row[1]
                guard let state = StepState(rawValue: text) else {
                    throw JournalError.corrupt(path: path, reason: "step \(id) has unknown state \"\(text)\"")
                }
                result[id] = StepProgress(state: state, attempts: row[2], hasAPIKeySecret: row[3])
            }
            return result
        }
    }

    /// Runs a read after committing waiting changes; maps database errors to journal errors.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try flushBeforeRead()
        guard let pool = currentPool() else { throw JournalError.closed(path: path) }
        do {
            return try pool.read(body)
        } catch let error as JournalError {
            throw error
        } catch let error as DatabaseError {
            if error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB {
                throw JournalError.corrupt(path: path, reason: StoreSupport.describe(error))
            }
            throw JournalError.readFailed(path: path, reason: StoreSupport.describe(error))
        }
    }
}
