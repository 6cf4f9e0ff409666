import Foundation
import GRDB

/// The journal of one migration: a SQLite file (WAL, `synchronous = FULL`, mode 0600) holding the
/// target it is bound to, its runs, the state of every plan step and the API keys it created
/// (DESIGN.md §6).
///
/// One process writes a journal at a time (`<journal>.lock`). State changes are checked against the
/// state machine (`StepState.allowedNext`) and committed in groups (`GroupCommitPolicy`); a done-mark
/// that carries an API key secret commits before its call returns. Once a write fails, the store
/// refuses every later call with the same `JournalError.writeFailed`, so the executor stops cleanly
/// and a new process resumes from what was committed.
///
/// Commits run on the actor and block it for the commit's fsync (about 0.2–2 ms, once per batch).
public actor JournalStore {
    /// The journal file.
    public nonisolated let path: String
    /// The target the journal is bound to.
    public nonisolated let target: JournalTarget
    /// The tag this migration puts into the names of the API keys it creates.
    public nonisolated let migrationTag: String
    /// The schema version of the journal (after any upgrade).
    public nonisolated let schemaVersion: Int
    /// The schema version found before opening upgraded it (0: created now); nil if none was needed.
    public nonisolated let upgradedFromVersion: Int?
    /// True if this open created the journal.
    public nonisolated let created: Bool
    /// What the open found worth telling (modes tightened to 0600, …).
    public nonisolated let warnings: [JournalWarning]
    /// True if opened with `openForReading`: every change is refused.
    public nonisolated let isReadOnly: Bool

    private var pool: DatabasePool?
    private var lock: JournalLock?
    let options: JournalOptions
    /// State and attempts of every step: the truth, since this process is the journal's only writer.
    private var steps: [String: CachedStep]
    private var pending: [StepChange] = []
    private var timer: Task<Void, Never>?
    private var writeNumber = 0
    private var failure: JournalError?
    private var currentRun: Int64?
    private var statistics = JournalCommitStatistics(commits: 0, changes: 0)
    private let background = BackgroundCommits()

    struct CachedStep: Sendable {
        var state: StepState
        var attempts: Int
    }

    private init(opened: Opened, options: JournalOptions) {
        path = opened.path
        target = opened.target
        migrationTag = opened.migrationTag
        schemaVersion = opened.schemaVersion
        upgradedFromVersion = opened.upgradedFromVersion
        created = opened.created
        warnings = opened.warnings
        isReadOnly = opened.readOnly
        pool = opened.pool
        lock = opened.lock
        steps = opened.steps
        self.options = options
    }

    // MARK: Opening

    /// Opens the journal at `path` for `run` or `rollback`, creating it (mode 0600) if it does not
    /// exist, upgrading an older schema, and binding a new journal to `target`.
    ///
    /// Throws `JournalError`: `inUse` (another process writes it), `notADatabase`, `foreignDatabase`,
    /// `corrupt`, `newerSchema`, `targetMismatch`, `openFailed`, `migrationFailed`.
    public static func open(at path: String, target: JournalTarget, options: JournalOptions = JournalOptions()) throws -> JournalStore {
        try Migrator.validate(options.migrations)
        let lock = try JournalLock.acquire(journalPath: path)
        let created = try JournalFiles.createPrivateFile(path)
        let opened = try Opener(path: path, options: options, created: created, lock: lock)
            .open(binding: target, loadSteps: true)
        return JournalStore(opened: opened, options: options)
    }

    /// Opens an existing journal for `status`, `keys` or `diff`: never creates one, works while a run
    /// writes it, upgrades an older schema only if no run holds it, and refuses every change.
    public static func openForReading(at path: String, options: JournalOptions = JournalOptions()) throws -> JournalStore {
        try Migrator.validate(options.migrations)
        guard JournalFiles.exists(path) else { throw JournalError.notFound(path: path) }
        // Refuse what is clearly not a journal before taking its lock, so no `<file>.lock` is left beside it.
        _ = try StoreSupport.inspectHeader(path: path)
        let lock: JournalLock?
        do {
            lock = try JournalLock.acquire(journalPath: path, patience: .zero)
        } catch JournalError.inUse {
            lock = nil
        }
        let opened = try Opener(path: path, options: options, created: false, lock: lock)
            .open(binding: nil, loadSteps: false)
        return JournalStore(opened: opened, options: options)
    }

    /// Everything `open` established, handed to the actor's initialiser.
    struct Opened: Sendable {
        var path: String
        var target: JournalTarget
        var migrationTag: String
        var schemaVersion: Int
        var upgradedFromVersion: Int?
        var created: Bool
        var warnings: [JournalWarning]
        var readOnly: Bool
        var pool: DatabasePool
        var lock: JournalLock?
        var steps: [String: CachedStep]
    }

    /// The steps of opening, in order; on any error the pool is closed and the lock released.
    struct Opener {
        let path: String
        let options: JournalOptions
        let created: Bool
        let lock: JournalLock?

        func open(binding requested: JournalTarget?, loadSteps: Bool) throws -> Opened {
            var warnings: [JournalWarning] = []
            if !created {
                let header = try StoreSupport.inspectHeader(path: path)
                if header == .unmarkedDatabase { try refuseForeignUnmarked() }
            }
            for file in [path] + JournalFiles.companions(of: path) {
                if let previous = try JournalFiles.restrictMode(of: file) {
                    warnings.append(JournalWarning(message:
                        "\(file) had mode \(JournalFiles.octal(previous)) although it holds API key secrets; set to 0600"))
                }
            }
            let pool: DatabasePool
            do {
                pool = try DatabasePool(path: path, configuration: configuration())
            } catch {
                throw StoreSupport.openError(error, path: path)
            }
            do {
                let opened = try finish(pool: pool, requested: requested, loadSteps: loadSteps, warnings: warnings)
                return opened
            } catch {
                try? pool.close()
                throw StoreSupport.openError(error, path: path)
            }
        }

        private func configuration() -> Configuration {
            var configuration = Configuration()
            configuration.label = "ttn-migrate journal"
            configuration.foreignKeysEnabled = true
            configuration.busyMode = .timeout(10)
            if let maxSize = options.faults.maxSizeBytes {
                configuration.prepareDatabase { db in
                    let pageSize = try Int.fetchOne(db, sql: "PRAGMA page_size") ?? 4096
                    try db.execute(sql: "PRAGMA max_page_count = \(max(1, maxSize / pageSize))")
                }
            }
            return configuration
        }

        /// An existing SQLite file without the journal's application ID is a journal only if its WAL
        /// holds the rest; an empty database is accepted; anything else is another program's.
        private func refuseForeignUnmarked() throws {
            let wal = path + "-wal"
            if let size = (try? FileManager.default.attributesOfItem(atPath: wal))?[.size] as? Int, size > 0 { return }
            var configuration = Configuration()
            configuration.readonly = true
            let objects: Int
            do {
                let queue = try DatabaseQueue(path: path, configuration: configuration)
                objects = try queue.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM sqlite_master") ?? 0 }
                try queue.close()
            } catch {
                throw StoreSupport.openError(error, path: path)
            }
            if objects > 0 { throw JournalError.foreignDatabase(path: path) }
        }

        private func finish(pool: DatabasePool, requested: JournalTarget?, loadSteps: Bool, warnings: [JournalWarning]) throws -> Opened {
            // GRDB sets synchronous=NORMAL when it enables WAL; a journal wants each commit durable
            // (swift-notes.md "SQLite").
            try pool.writeWithoutTransaction { try $0.execute(sql: "PRAGMA synchronous = FULL") }
            if !created && options.verifyIntegrityOnOpen {
                let problems = try pool.read { try String.fetchAll($0, sql: "PRAGMA quick_check(3)") }
                if problems != ["ok"] {
                    throw JournalError.corrupt(path: path, reason: problems.joined(separator: "; "))
                }
            }
            let known = options.migrations.count
            let found = try pool.read { try Migrator.inspect($0, path: path) }
            let foundVersion: Int
            switch found {
            case .empty: foundVersion = 0
            case .journal(let version): foundVersion = version
            }
            if foundVersion > known { throw JournalError.newerSchema(path: path, found: foundVersion, known: known) }
            // Reading never turns an empty file into a journal.
            if requested == nil && found == .empty { throw JournalError.unbound(path: path) }
            if foundVersion < known {
                // Without the lock another process writes the journal with its own (older) schema.
                guard lock != nil else { throw JournalError.inUse(path: path) }
                try Migrator.migrate(pool, path: path, migrations: options.migrations)
            }
            let (target, tag) = try bind(pool: pool, requested: requested)
            var warnings = warnings
            for file in JournalFiles.companions(of: path) {
                if let previous = try JournalFiles.restrictMode(of: file) {
                    warnings.append(JournalWarning(message: "\(file) was created with mode \(JournalFiles.octal(previous)); set to 0600"))
                }
            }
            let steps = loadSteps ? try loadCache(pool: pool) : [:]
            return Opened(
                path: path, target: target, migrationTag: tag, schemaVersion: known,
                upgradedFromVersion: foundVersion < known ? foundVersion : nil, created: created || foundVersion == 0,
                warnings: warnings, readOnly: requested == nil, pool: pool,
                lock: requested == nil ? nil : lock, steps: steps)
        }

        /// Reads the bound target; binds a new journal to `requested`; refuses another target.
        private func bind(pool: DatabasePool, requested: JournalTarget?) throws -> (JournalTarget, String) {
            let row = try pool.read { try Row.fetchOne($0, sql: "SELECT is_url, owner_kind, owner_id, migration_tag FROM journal_info") }
            if let row {
                let kindText: String = row["owner_kind"]
                guard let kind = JournalTarget.OwnerKind(rawValue: kindText) else {
                    throw JournalError.corrupt(path: path, reason: "unknown owner kind \"\(kindText)\"")
                }
                let stored = JournalTarget(identityServerURL: row["is_url"], ownerKind: kind, ownerID: row["owner_id"])
                if let requested, requested != stored {
                    throw JournalError.targetMismatch(path: path, journal: stored, requested: requested)
                }
                return (stored, row["migration_tag"])
            }
            guard let requested else { throw JournalError.unbound(path: path) }
            let tag = options.migrationTag.flatMap { $0.isEmpty ? nil : $0 } ?? Self.randomTag()
            let now = StoreSupport.milliseconds(options.clock())
            try pool.write { db in
                try db.execute(
                    sql: """
                        INSERT INTO journal_info (singleton, created_at_ms, is_url, owner_kind, owner_id, migration_tag)
                        VALUES (1, ?, ?, ?, ?, ?)
                        """,
                    arguments: [now, requested.identityServerURL, requested.ownerKind.rawValue, requested.ownerID, tag])
            }
            return (requested, tag)
        }

        private func loadCache(pool: DatabasePool) throws -> [String: CachedStep] {
            try pool.read { db in
                var steps: [String: CachedStep] = [:]
                let rows = try Row.fetchCursor(db, sql: "SELECT id, state, attempts FROM steps")
                while let row = try rows.next() {
                    let id: String = row[0]
                    let stateText: String = row[1]
                    guard let state = StepState(rawValue: stateText) else {
                        throw JournalError.corrupt(path: path, reason: "step \(id) has unknown state \"\(stateText)\"")
                    }
                    steps[id] = CachedStep(state: state, attempts: row[2])
                }
                return steps
            }
        }

        static func randomTag() -> String {
            let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
            var generator = SystemRandomNumberGenerator()
            return String((0..<8).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
        }
    }

    // MARK: Runs and plan

    /// Records the start of a run; every later change is attributed to it. Returns its ID.
    @discardableResult
    public func startRun(_ info: RunInfo) throws -> Int64 {
        try requireWritable()
        try commitPending()
        let now = StoreSupport.milliseconds(options.clock())
        let tag = migrationTag
        let id = try performWrite { db -> Int64 in
            try db.execute(
                sql: """
                    INSERT INTO runs (started_at_ms, tool_version, command_line, run_tag, snapshot_path, snapshot_sha256)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [now, info.toolVersion, StoreSupport.json(info.commandLine), tag, info.snapshotPath, info.snapshotSHA256])
            let id = db.lastInsertedRowID
            if let fingerprint = info.planFingerprint {
                try db.execute(sql: "UPDATE runs SET plan_fingerprint = ? WHERE id = ?", arguments: [fingerprint, id])
            }
            return id
        }
        currentRun = id
        return id
    }

    /// Records how the current run ended, after committing every waiting change.
    public func finishRun(outcome: RunOutcome) throws {
        try requireWritable()
        let run = try requireRun()
        try commitPending()
        let now = StoreSupport.milliseconds(options.clock())
        try performWrite { db in
            try db.execute(sql: "UPDATE runs SET finished_at_ms = ?, outcome = ? WHERE id = ?",
                           arguments: [now, outcome.rawValue, run])
        }
    }

    /// Stores the plan of a new run: new steps are inserted as pending, steps already in the journal
    /// keep their state (resume) and get the plan's description and position; the report lists the
    /// steps the journal holds that the plan no longer does (kept, ordered after the plan's). Commits
    /// at once.
    ///
    /// Throws `invalidPlan` for an empty field or a repeated step ID.
    @discardableResult
    public func upsertPlannedSteps(_ planned: [PlannedStep]) throws -> PlanUpsertReport {
        try requireWritable()
        let run = try requireRun()
        var seen = Set<String>()
        for step in planned {
            for (field, value) in [("id", step.id), ("kind", step.kind), ("entity type", step.entityType), ("entity key", step.entityKey)]
            where value.isEmpty {
                throw JournalError.invalidPlan(reason: "step \(step.id.isEmpty ? "#\(seen.count + 1)" : step.id) has an empty \(field)")
            }
            guard seen.insert(step.id).inserted else {
                throw JournalError.invalidPlan(reason: "step \(step.id) is listed twice")
            }
        }
        try commitPending()
        let now = StoreSupport.milliseconds(options.clock())
        let path = self.path
        let known = steps
        let (inserted, redescribed, notInPlan) = try performWrite { db -> ([String], [String], [StepRecord]) in
            var existing: [String: PlannedStep] = [:]
            var oldPositions: [String: Int] = [:]
            existing.reserveCapacity(known.count)
            oldPositions.reserveCapacity(known.count)
            // Columns by index: a resume reads every step, and a lookup by name costs more than the read.
            let rows = try Row.fetchCursor(db, sql: "SELECT id, kind, entity_type, entity_key, component, plan_position FROM steps")
            while let row = try rows.next() {
                let id: String = row[0]
                let componentText: String = row[4]
                guard let component = StepComponent(rawValue: componentText) else {
                    throw JournalError.corrupt(path: path, reason: "step \(id) has unknown component \"\(componentText)\"")
                }
                existing[id] = PlannedStep(id: id, kind: row[1], entityType: row[2], entityKey: row[3], component: component)
                oldPositions[id] = row[5]
            }
            let describe = try db.cachedStatement(sql: """
                UPDATE steps SET kind = ?, entity_type = ?, entity_key = ?, component = ?, plan_position = ? WHERE id = ?
                """)
            let position = try db.cachedStatement(sql: "UPDATE steps SET plan_position = ? WHERE id = ? AND plan_position <> ?")
            var inserted: [String] = []
            var newSteps: [(PlannedStep, Int)] = []
            var redescribed: [String] = []
            for (index, step) in planned.enumerated() {
                if let old = existing[step.id] {
                    if old != step {
                        try describe.execute(arguments: [step.kind, step.entityType, step.entityKey, step.component.rawValue, index, step.id])
                        redescribed.append(step.id)
                    } else if oldPositions[step.id] != index {
                        try position.execute(arguments: [index, step.id, index])
                    }
                } else {
                    guard known[step.id] == nil else {
                        throw JournalError.corrupt(path: path, reason: "step \(step.id) vanished from the file")
                    }
                    inserted.append(step.id)
                    newSteps.append((step, index))
                }
            }
            // In key order, so each row goes next to the one before it in the table's b-tree (the plan order scatters them).
            try Self.insertInChunks(
                newSteps.sorted(by: { $0.0.id < $1.0.id }),
                into: "steps (id, kind, entity_type, entity_key, component, state, attempts, plan_position, created_at_ms, updated_at_ms, run_id)",
                row: "(?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)", db
            ) { step, index in [step.id, step.kind, step.entityType, step.entityKey, step.component.rawValue, index, now, now, run] }
            // Steps the plan no longer lists go after it, in their old order.
            let missing = existing.keys.filter { !seen.contains($0) }
                .sorted { (oldPositions[$0] ?? 0, $0) < (oldPositions[$1] ?? 0, $1) }
            for (offset, id) in missing.enumerated() where oldPositions[id] != planned.count + offset {
                let index = planned.count + offset
                try position.execute(arguments: [index, id, index])
            }
            var notInPlan: [StepRecord] = []
            let select = try db.cachedStatement(sql: "SELECT \(StoreSupport.stepColumns) FROM steps WHERE id = ?")
            for id in missing {
                if let row = try Row.fetchOne(select, arguments: [id]) {
                    notInPlan.append(try StoreSupport.step(row, path: path))
                }
            }
            return (inserted, redescribed, notInPlan)
        }
        for id in inserted { steps[id] = CachedStep(state: .pending, attempts: 0) }
        return PlanUpsertReport(inserted: inserted, kept: planned.count - inserted.count, redescribed: redescribed, notInPlan: notInPlan)
    }

    // MARK: State changes

    /// Starts an attempt (`pending` or `failed` → `in_flight`, or `in_flight` again for a retry after a
    /// transient error); returns its number (1 for the first).
    @discardableResult
    public func markInFlight(step id: String) throws -> Int {
        let change = try prepare(id, to: .inFlight, payload: .none)
        try record(change)
        return change.attempts
    }

    /// Marks a step done with what it created (`in_flight` → `done`, or from `pending`/`failed` when
    /// reconciliation found it already applied). Committed with the next group.
    public func markDone(step id: String, result: [String: String] = [:]) throws {
        try record(prepare(id, to: .done, payload: .done(result: StoreSupport.json(result), apiKey: nil)))
    }

    /// Marks a step done and stores the API key it created, secret included, in the same transaction;
    /// the transaction (and every change waiting before it) is committed before this returns.
    ///
    /// The commit runs on the writer queue while this waits, so neither the actor nor a thread of the
    /// cooperative pool is held for its fsync.
    public func markDone(step id: String, result: [String: String] = [:], apiKey: CreatedAPIKey) async throws {
        try record(prepare(id, to: .done, payload: .done(result: StoreSupport.json(result), apiKey: apiKey)))
        if !pending.isEmpty || background.outstanding > 0 {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                commitInBackground(then: { done.resume() })
            }
        }
        try throwIfFailed()
    }

    /// Records a failure (`in_flight` → `failed`, or from `pending`/`failed` when reconciliation found the
    /// entity held by someone else) with the error and the server's correlation ID. `error` must hold
    /// no secret.
    public func markFailed(step id: String, error: String, correlationID: String? = nil) throws {
        try record(prepare(id, to: .failed, payload: .failed(error: error, correlationID: correlationID)))
    }

    /// Skips a step known to be impossible (`pending`, `in_flight` or `failed` → `skipped`), with why.
    public func markSkipped(step id: String, reason: String) throws {
        try record(prepare(id, to: .skipped, payload: .skipped(reason: reason)))
    }

    /// Puts a step back to `pending`: an interrupted attempt (`in_flight`), a skip whose reason no
    /// longer holds (`skipped`) or a rolled-back step to migrate again (`rolled_back`).
    public func resetToPending(step id: String) throws {
        try record(prepare(id, to: .pending, payload: .none))
    }

    /// Marks a done step undone by rollback (`done` → `rolled_back`); the secret of the API key it
    /// created, deleted in v3 by the rollback, is deleted from the journal in the same transaction.
    public func markRolledBack(step id: String) throws {
        try record(prepare(id, to: .rolledBack, payload: .none))
    }

    /// Puts every `in_flight` step back to `pending` (the start of a resume) and commits; returns their
    /// IDs, sorted. The executor then reconciles each with v3 before sending anything.
    @discardableResult
    public func resetInterrupted() throws -> [String] {
        try requireWritable()
        _ = try requireRun()
        let interrupted = steps.filter { $0.value.state == .inFlight }.keys.sorted()
        for id in interrupted {
            pending.append(try prepare(id, to: .pending, payload: .none))
        }
        try commitPending()
        return interrupted
    }

    /// Commits every waiting change; when it returns they are durable.
    public func flush() throws {
        try commitPending()
    }

    /// The number of commits and changes so far (for measuring group commit).
    public func commitStatistics() -> JournalCommitStatistics {
        let committed = background.committed
        return JournalCommitStatistics(commits: statistics.commits + committed.commits, changes: statistics.changes + committed.changes)
    }

    /// The current state of a step as this process knows it (including uncommitted changes), or nil.
    public func state(of id: String) -> StepState? { steps[id]?.state }

    /// Whether the plan with this fingerprint is carried out: a run of it completed and every step the
    /// journal holds is done (steps are never removed and leave done only by rollback, so that run's steps
    /// are all still done). A journal with a skipped, failed or rolled-back step answers false: its run
    /// has work to retry (`migrations/0003_plan_fingerprint.sql`).
    public func hasCarriedOut(planFingerprint: String) throws -> Bool {
        guard !steps.isEmpty, steps.values.allSatisfy({ $0.state == .done }) else { return false }
        return try read { db in
            try Bool.fetchOne(
                db, sql: "SELECT EXISTS (SELECT 1 FROM runs WHERE plan_fingerprint = ? AND outcome = 'completed')",
                arguments: [planFingerprint]) ?? false
        }
    }

    /// The IDs of the steps in one of `states`, from memory (one call instead of one per step).
    public func stepIDs(in states: Set<StepState>) -> Set<String> {
        Set(steps.lazy.filter { states.contains($0.value.state) }.map(\.key))
    }

    /// Commits waiting changes, copies the WAL into the journal file (so the file alone holds
    /// everything), then closes the journal and releases its lock. The store is unusable afterwards.
    /// If the commit fails the journal is still closed and the error thrown.
    public func close() throws {
        defer { shutDown() }
        guard failure == nil, let pool else { return }
        try commitPending()
        if !isReadOnly {
            // Best effort: a reader in another process may hold the WAL; the data is safe in it then.
            _ = try? pool.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        }
    }

    /// Closes the journal WITHOUT committing waiting changes or checkpointing, as a crash would; for
    /// tests of resume and of the executor's recovery.
    public func discardUnflushedAndClose() {
        pending.removeAll()
        shutDown()
    }

    private func shutDown() {
        timer?.cancel()
        timer = nil
        // Let the commits handed off end first: the next opener must find the file as it will stay.
        waitForHandedOffCommits()
        if let pool { try? pool.close() }
        pool = nil
        lock = nil
    }

    // MARK: Internals

    /// Commits waiting changes so a query sees them (a reading store has none).
    func flushBeforeRead() throws {
        try throwIfFailed()
        if !isReadOnly && pool != nil { try commitPending() }
    }

    func currentPool() -> DatabasePool? { pool }

    /// A pragma of the connection that writes (`synchronous`: 2 = FULL; `foreign_keys`: 1 = on), for the
    /// tests that check them.
    func writerPragma(_ name: String) throws -> Int {
        guard let pool else { throw JournalError.closed(path: path) }
        return try pool.writeWithoutTransaction { try Int.fetchOne($0, sql: "PRAGMA \(name)") ?? -1 }
    }

    /// One validated state change, waiting to be committed.
    struct StepChange: Sendable {
        var stepID: String
        var from: StepState
        var to: StepState
        var attempts: Int
        var run: Int64
        var at: Int64
        var payload: Payload
    }

    enum Payload: Sendable {
        case none
        case done(result: String, apiKey: CreatedAPIKey?)
        case failed(error: String, correlationID: String?)
        case skipped(reason: String)
    }

    func requireWritable() throws {
        if isReadOnly { throw JournalError.readOnly(path: path) }
        try throwIfFailed()
        if pool == nil { throw JournalError.closed(path: path) }
    }

    func requireRun() throws -> Int64 {
        guard let currentRun else { throw JournalError.noRunStarted(path: path) }
        return currentRun
    }

    /// Checks the change against the state machine and applies it to the in-memory states.
    private func prepare(_ id: String, to target: StepState, payload: Payload) throws -> StepChange {
        try requireWritable()
        let run = try requireRun()
        guard var step = steps[id] else { throw JournalError.unknownStep(step: id) }
        guard step.state.allows(target) else {
            throw JournalError.illegalTransition(step: id, from: step.state, to: target)
        }
        let from = step.state
        step.state = target
        if target == .inFlight { step.attempts += 1 }
        steps[id] = step
        return StepChange(stepID: id, from: from, to: target, attempts: step.attempts, run: run,
                          at: StoreSupport.milliseconds(options.clock()), payload: payload)
    }

    /// Queues a change and commits as the policy says.
    private func record(_ change: StepChange) throws {
        try throwIfFailed()
        pending.append(change)
        if options.groupCommit.commitsEachChange {
            try commitPending()
        } else if pending.count >= options.groupCommit.maxBatch {
            commitInBackground()
        } else if pending.count == 1 && timer == nil {
            let delay = options.groupCommit.maxDelay
            timer = Task { [weak self] in
                try? await Task.sleep(for: delay)
                guard !Task.isCancelled else { return }
                await self?.timerFired()
            }
        }
    }

    private func timerFired() {
        timer = nil
        // A failure is kept and thrown by the next call.
        commitInBackground()
    }

    /// Commits the waiting changes in one transaction, and waits for the commits handed off before
    /// it: when it returns, every change so far is durable.
    private func commitPending() throws {
        try throwIfFailed()
        if pending.isEmpty {
            waitForHandedOffCommits()
            try throwIfFailed()
            return
        }
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        try performWrite { db in try Self.apply(batch, db) }
        statistics.changes += batch.count
    }

    /// Hands the waiting changes to GRDB's writer queue and returns at once, so the commit's fsync
    /// blocks neither this actor nor a thread of Swift's cooperative pool (2 on this machine), which
    /// a C = 64 run needs for its requests (`reference/swift-notes.md`, SQLite commit rates). The
    /// queue is serial, so commits stay in order; the first that fails stops every later write.
    ///
    /// `then` runs once this commit (and so every one before it) has ended; with `then`, an empty batch
    /// is still queued, as a barrier behind the commits handed off before.
    private func commitInBackground(then: (@Sendable () -> Void)? = nil) {
        guard failure == nil, let pool else {
            then?()
            return
        }
        guard !pending.isEmpty else {
            // GRDB's writer is one serial queue: this runs after every commit queued before it.
            if let then { pool.asyncWriteWithoutTransaction { _ in then() } }
            return
        }
        let batch = pending
        pending.removeAll(keepingCapacity: true)
        writeNumber += 1
        let number = writeNumber
        let injected = options.faults.failingWriteNumber == number
        let background = self.background
        let path = self.path
        background.begin()
        pool.asyncWrite({ db in
            try background.throwIfFailed()
            try Self.apply(batch, db)
            if injected { throw InjectedWriteFault(number: number) }
        }, completion: { _, result in
            switch result {
            case .success: background.end(changes: batch.count, failure: nil)
            case .failure(let error): background.end(changes: 0, failure: Self.writeError(error, path: path))
            }
            then?()
        })
    }

    /// Blocks until every commit handed to the writer queue has ended (GRDB's writer is one serial queue:
    /// an empty write ends after every commit queued before it).
    private func waitForHandedOffCommits() {
        guard let pool, background.outstanding > 0 else { return }
        pool.writeWithoutTransaction { _ in }
    }

    /// Throws the failure of a write, this actor's own or one handed off; after one, nothing more is written.
    private func throwIfFailed() throws {
        if failure == nil, let handedOff = background.failure {
            failure = handedOff
            pending.removeAll()
        }
        if let failure { throw failure }
    }

    /// Runs one write transaction, counting it for fault injection; a failure poisons the store.
    @discardableResult
    func performWrite<T>(_ body: (Database) throws -> T) throws -> T {
        try throwIfFailed()
        guard let pool else { throw JournalError.closed(path: path) }
        writeNumber += 1
        let injected = options.faults.failingWriteNumber == writeNumber
        let number = writeNumber
        let background = self.background
        do {
            let value = try pool.write { db -> T in
                // Runs after every commit handed off before it; none may be skipped over.
                try background.throwIfFailed()
                let value = try body(db)
                if injected { throw InjectedWriteFault(number: number) }
                return value
            }
            statistics.commits += 1
            return value
        } catch {
            let mapped = writeError(error)
            failure = mapped
            pending.removeAll()
            throw mapped
        }
    }

    private struct InjectedWriteFault: Error {
        var number: Int
    }

    /// The file did not hold the state this process expected: someone else wrote the journal.
    private struct StateMismatch: Error {
        var stepID: String
        var expected: StepState
    }

    private func writeError(_ error: Error) -> JournalError { Self.writeError(error, path: path) }

    private static func writeError(_ error: Error, path: String) -> JournalError {
        switch error {
        case let error as JournalError:
            return error
        case let error as InjectedWriteFault:
            return .writeFailed(path: path, reason: "injected fault in write #\(error.number)")
        case let error as StateMismatch:
            return .writeFailed(path: path, reason: "step \(error.stepID) was not \(error.expected) in the file, so another program changed the journal")
        case let error as DatabaseError:
            if error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB {
                return .corrupt(path: path, reason: StoreSupport.describe(error))
            }
            if error.resultCode == .SQLITE_FULL {
                return .writeFailed(path: path, reason: "the disk or the journal's size limit is full (\(StoreSupport.describe(error)))")
            }
            return .writeFailed(path: path, reason: StoreSupport.describe(error))
        default:
            return .writeFailed(path: path, reason: String(describing: error))
        }
    }

    /// Writes a batch of changes; each UPDATE names the expected old state, so a journal changed
    /// behind this process's back is detected instead of overwritten.
    ///
    /// A step usually goes in flight and finishes within one batch. That pair is one UPDATE, to the
    /// values the two would leave, checked against the state before the first; its two events are
    /// written as they are. The batch commits as one transaction, so the file holds the same either way.
    private static func apply(_ batch: [StepChange], _ db: Database) throws {
        let finishOf = finishesInTheSameBatch(batch)
        let finishedWithTheirStart = Set(finishOf.values)
        for (index, change) in batch.enumerated() {
            if let finish = finishOf[index] {
                try updateInFlightAndFinish(change, batch[finish], db)
            } else if !finishedWithTheirStart.contains(index) {
                try update(change, db)
            }
            if change.to == .done, case .done(_, let apiKey?) = change.payload { try insertAPIKey(apiKey, of: change, db) }
        }
        try insertEvents(of: batch, db)
    }

    /// Rows one INSERT writes: a statement run per row was a fifth of a batch's time.
    private static let rowsPerInsert = 32

    /// Inserts `rows` into `table` (with its column list), `rowsPerInsert` at a time, each row's placeholders
    /// `row` filled with `values`, in the order given.
    private static func insertInChunks<Row>(
        _ rows: [Row], into table: String, row: String, _ db: Database, values: (Row) -> [(any DatabaseValueConvertible)?]
    ) throws {
        func sql(rows: Int) -> String { "INSERT INTO \(table) VALUES " + Array(repeating: row, count: rows).joined(separator: ", ") }
        let full = sql(rows: rowsPerInsert)
        var start = rows.startIndex
        while start < rows.endIndex {
            let count = min(rowsPerInsert, rows.endIndex - start)
            var arguments: [(any DatabaseValueConvertible)?] = []
            for element in rows[start..<(start + count)] { arguments += values(element) }
            try db.cachedStatement(sql: count == rowsPerInsert ? full : sql(rows: count)).execute(arguments: StatementArguments(arguments))
            start += count
        }
    }

    /// The event rows of a batch, in its order (their ids keep it).
    private static func insertEvents(of batch: [StepChange], _ db: Database) throws {
        try insertInChunks(batch, into: "step_events (run_id, step_id, from_state, to_state, at_ms)", row: "(?, ?, ?, ?, ?)", db) { change in
            [change.run, change.stepID, change.from.rawValue, change.to.rawValue, change.at]
        }
    }

    /// For each change that puts a step in flight, the position of the step's next change in the batch
    /// when that one finishes it (done or failed).
    private static func finishesInTheSameBatch(_ batch: [StepChange]) -> [Int: Int] {
        var lastChange: [String: Int] = [:]
        var finishOf: [Int: Int] = [:]
        lastChange.reserveCapacity(batch.count)
        for (index, change) in batch.enumerated() {
            if let previous = lastChange.updateValue(index, forKey: change.stepID), batch[previous].to == .inFlight,
               change.from == .inFlight, change.to == .done || change.to == .failed {
                finishOf[previous] = index
            }
        }
        return finishOf
    }

    /// The UPDATE of one change, from its expected old state.
    private static func update(_ change: StepChange, _ db: Database) throws {
        let statement: Statement
        let arguments: StatementArguments
        let common: StatementArguments = [change.to.rawValue, change.at, change.run]
        switch (change.to, change.payload) {
        case (.inFlight, _):
            statement = try db.cachedStatement(sql: """
                UPDATE steps SET state = ?, updated_at_ms = ?, run_id = ?, attempts = ?,
                    first_attempted_at_ms = COALESCE(first_attempted_at_ms, ?), last_attempted_at_ms = ?
                WHERE id = ? AND state = ?
                """)
            arguments = common + [change.attempts, change.at, change.at]
        case (.done, .done(let result, _)):
            statement = try db.cachedStatement(sql: """
                UPDATE steps SET state = ?, updated_at_ms = ?, run_id = ?, result_json = ? WHERE id = ? AND state = ?
                """)
            arguments = common + [result]
        case (.failed, .failed(let error, let correlationID)):
            statement = try db.cachedStatement(sql: """
                UPDATE steps SET state = ?, updated_at_ms = ?, run_id = ?, last_error = ?, last_error_correlation_id = ?
                WHERE id = ? AND state = ?
                """)
            arguments = common + [error, correlationID]
        case (.skipped, .skipped(let reason)):
            statement = try db.cachedStatement(sql: """
                UPDATE steps SET state = ?, updated_at_ms = ?, run_id = ?, skip_reason = ? WHERE id = ? AND state = ?
                """)
            arguments = common + [reason]
        case (.pending, _):
            statement = try db.cachedStatement(sql: """
                UPDATE steps SET state = ?, updated_at_ms = ?, run_id = ?, skip_reason = NULL WHERE id = ? AND state = ?
                """)
            arguments = common
        case (.rolledBack, _):
            try db.cachedStatement(sql: "DELETE FROM api_keys WHERE step_id = ?").execute(arguments: [change.stepID])
            statement = try db.cachedStatement(sql: """
                UPDATE steps SET state = ?, updated_at_ms = ?, run_id = ? WHERE id = ? AND state = ?
                """)
            arguments = common
        default:
            statement = try db.cachedStatement(sql: """
                UPDATE steps SET state = ?, updated_at_ms = ?, run_id = ? WHERE id = ? AND state = ?
                """)
            arguments = common
        }
        try statement.execute(arguments: arguments + [change.stepID, change.from.rawValue])
        guard db.changesCount == 1 else { throw StateMismatch(stepID: change.stepID, expected: change.from) }
    }

    /// One UPDATE for a step put in flight (`start`) and finished (`finish`, done or failed) in one batch.
    private static func updateInFlightAndFinish(_ start: StepChange, _ finish: StepChange, _ db: Database) throws {
        let attempt: StatementArguments = [finish.to.rawValue, finish.at, finish.run, start.attempts, start.at, start.at]
        let expected: StatementArguments = [start.stepID, start.from.rawValue]
        switch finish.payload {
        case .done(let result, _):
            try db.cachedStatement(sql: """
                UPDATE steps SET state = ?, updated_at_ms = ?, run_id = ?, attempts = ?,
                    first_attempted_at_ms = COALESCE(first_attempted_at_ms, ?), last_attempted_at_ms = ?, result_json = ?
                WHERE id = ? AND state = ?
                """).execute(arguments: attempt + [result] + expected)
        case .failed(let error, let correlationID):
            try db.cachedStatement(sql: """
                UPDATE steps SET state = ?, updated_at_ms = ?, run_id = ?, attempts = ?,
                    first_attempted_at_ms = COALESCE(first_attempted_at_ms, ?), last_attempted_at_ms = ?,
                    last_error = ?, last_error_correlation_id = ?
                WHERE id = ? AND state = ?
                """).execute(arguments: attempt + [error, correlationID] + expected)
        case .none, .skipped:
            try update(start, db)
            try update(finish, db)
            return
        }
        guard db.changesCount == 1 else { throw StateMismatch(stepID: start.stepID, expected: start.from) }
    }

    /// The secret of an API key, written with its step's completion (v3 shows it once).
    private static func insertAPIKey(_ apiKey: CreatedAPIKey, of change: StepChange, _ db: Database) throws {
        try db.cachedStatement(sql: """
            INSERT INTO api_keys (step_id, run_id, entity_type, entity_id, key_id, key_name, secret, rights_json,
                                  replaces_v2_key_name, created_at_ms)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (step_id) DO UPDATE SET run_id = excluded.run_id, entity_type = excluded.entity_type,
                entity_id = excluded.entity_id, key_id = excluded.key_id, key_name = excluded.key_name,
                secret = excluded.secret, rights_json = excluded.rights_json,
                replaces_v2_key_name = excluded.replaces_v2_key_name, created_at_ms = excluded.created_at_ms
            """).execute(arguments: [
                change.stepID, change.run, apiKey.entityType, apiKey.entityID, apiKey.keyID, apiKey.keyName,
                apiKey.secret, StoreSupport.json(apiKey.rights), apiKey.replacesV2KeyName, change.at,
            ])
    }
}

/// The commits `JournalStore` handed to GRDB's writer queue: how many are still running, what they
/// committed, and the first failure, read by the store and by every later write on the queue.
final class BackgroundCommits: @unchecked Sendable {
    private let lock = NSLock()
    private var running = 0
    private var commits = 0
    private var changes = 0
    private var firstFailure: JournalError?

    var outstanding: Int { lock.withLock { running } }
    var failure: JournalError? { lock.withLock { firstFailure } }
    var committed: (commits: Int, changes: Int) { lock.withLock { (commits, changes) } }

    func begin() { lock.withLock { running += 1 } }

    func end(changes count: Int, failure: JournalError?) {
        lock.withLock {
            running -= 1
            if let failure {
                if firstFailure == nil { firstFailure = failure }
            } else {
                commits += 1
                changes += count
            }
        }
    }

    func throwIfFailed() throws {
        if let failure { throw failure }
    }
}
