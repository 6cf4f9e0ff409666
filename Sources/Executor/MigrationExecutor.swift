import Foundation
import HTTP
import Logging
import Synchronization
import V3Client

/// One step ready to execute: a v3 operation and the steps it waits for.
public struct ExecutionStep: Sendable {
    public var id: String
    public var dependsOn: [String]
    public var operation: V3Operation
    /// Steps of one device share a group (rollback and status work per device).
    public var group: String?
    /// For API key steps: what the journal stores beside the secret.
    public var apiKey: APIKeyInfo?

    public init(id: String, dependsOn: [String], operation: V3Operation, group: String? = nil, apiKey: APIKeyInfo? = nil) {
        self.id = id
        self.dependsOn = dependsOn
        self.operation = operation
        self.group = group
        self.apiKey = apiKey
    }
}

/// What an API key step creates, stored with its secret so `keys` can say what each key replaces.
public struct APIKeyInfo: Sendable, Hashable {
    public var entityType: String
    public var entityID: String
    public var name: String
    public var rights: [String]
    public var replacesV2KeyName: String

    public init(entityType: String, entityID: String, name: String, rights: [String], replacesV2KeyName: String) {
        self.entityType = entityType
        self.entityID = entityID
        self.name = name
        self.rights = rights
        self.replacesV2KeyName = replacesV2KeyName
    }
}

/// What the journal knows of a step when a run starts.
public struct LedgerEntry: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case pending, inFlight, done, failed, skipped, rolledBack
    }
    public var state: State
    public var attempts: Int
    /// For API key steps: whether the secret is stored.
    public var hasSecret: Bool

    public init(state: State, attempts: Int = 0, hasSecret: Bool = false) {
        self.state = state
        self.attempts = attempts
        self.hasSecret = hasSecret
    }
}

/// The executor's view of the journal (DESIGN.md §6). State changes may be group-committed; a done
/// mark carrying an API key secret must be durable before the call returns.
public protocol StepLedger: Sendable {
    func entries() async throws -> [String: LedgerEntry]
    func markInFlight(_ stepID: String) async throws
    func markDone(_ stepID: String, result: OperationResult) async throws
    func markFailed(_ stepID: String, error: String, correlationID: String?) async throws
    func markRolledBack(_ stepID: String) async throws
    /// Makes every recorded change durable.
    func flush() async throws
}

/// What to do with a device some of whose steps failed (issue: devices, `--on-device-failure`).
public enum DeviceFailurePolicy: String, Sendable, CaseIterable {
    /// Leave the done steps; the next run completes the device.
    case resume
    /// Delete what was created, in reverse order (AS, NS, JS, IS).
    case rollback
}

/// How the executor runs.
public struct ExecutorOptions: Sendable {
    /// Requests in flight at most.
    public var concurrency: Int
    /// Requests per minute per component at most (`--max-rate`); nil: only the server's limits.
    public var maxRatePerMinute: Int?
    public var retry: RetryPolicy
    /// Per-request timeout.
    public var requestTimeout: Duration
    /// Read v3 before sending any step that is not done (a resumed run: DESIGN.md §6).
    public var reconcileBeforeSending: Bool
    public var onDeviceFailure: DeviceFailurePolicy

    public init(
        concurrency: Int = 16, maxRatePerMinute: Int? = nil, retry: RetryPolicy = RetryPolicy(), requestTimeout: Duration = .seconds(30),
        reconcileBeforeSending: Bool = false, onDeviceFailure: DeviceFailurePolicy = .resume
    ) {
        self.concurrency = max(1, concurrency)
        self.maxRatePerMinute = maxRatePerMinute
        self.retry = retry
        self.requestTimeout = requestTimeout
        self.reconcileBeforeSending = reconcileBeforeSending
        self.onDeviceFailure = onDeviceFailure
    }
}

/// Something that happened during a run, for progress displays.
public struct ExecutionEvent: Sendable {
    public enum Kind: String, Sendable {
        case done, alreadyDone = "already_done", failed, retrying, rolledBack = "rolled_back"
    }
    public var kind: Kind
    public var stepID: String
    public var message: String
    public var progress: ExecutionProgress
}

/// Counts while running.
public struct ExecutionProgress: Sendable, Equatable {
    public var total = 0
    public var done = 0
    public var failed = 0
    public var requests = 0
}

/// A step that did not finish.
public struct StepFailure: Sendable, Equatable {
    public var stepID: String
    public var message: String
    public var correlationID: String?
}

/// How a run ended.
public struct ExecutionSummary: Sendable {
    public var done: Int
    public var alreadyDone: Int
    public var failed: [StepFailure]
    /// Steps not run because a step they need failed or was skipped.
    public var blocked: [String]
    public var rolledBack: [String]
    public var interrupted: Bool
    public var requests: Int
    public var elapsed: Duration

    /// A run that had nothing to do.
    public static func nothingToDo(elapsed: Duration) -> ExecutionSummary {
        ExecutionSummary(done: 0, alreadyDone: 0, failed: [], blocked: [], rolledBack: [], interrupted: false, requests: 0, elapsed: elapsed)
    }
}

/// Set by Ctrl-C (or a test): stop scheduling, let in-flight steps finish.
public final class StopSignal: @unchecked Sendable {
    private let lock = NSLock()
    private var stopped = false
    public init() {}
    public func stop() {
        lock.lock()
        stopped = true
        lock.unlock()
    }
    public var isStopped: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopped
    }
}

/// Runs steps as a DAG with bounded concurrency, pacing, retries and reconciliation (DESIGN.md §6–§7).
public struct MigrationExecutor: Sendable {
    let client: V3Client
    let ledger: any StepLedger
    let options: ExecutorOptions
    let logger: Logger

    public init(client: V3Client, ledger: any StepLedger, options: ExecutorOptions, logger: Logger = Logger(label: "ttn-migrate.executor")) {
        self.client = client
        self.ledger = ledger
        self.options = options
        self.logger = logger
    }

    /// Runs every step not yet done. `stop` ends scheduling early (in-flight steps finish and are recorded).
    public func run(
        _ steps: [ExecutionStep], stop: StopSignal = StopSignal(), events: @escaping @Sendable (ExecutionEvent) -> Void = { _ in }
    ) async throws -> ExecutionSummary {
        let started = ContinuousClock.now
        let known = try await ledger.entries()
        let state = RunState(steps: steps, known: known)
        let pacers = ComponentPacer.pacers(for: client, maxPerMinute: options.maxRatePerMinute, concurrency: options.concurrency)

        // The steps run on the HTTP thread: an answer resumes its step there, and the next request is handed
        // to libcurl without a hop to another thread (`HTTPClient.taskExecutor`).
        let runSteps = {
            try await runBounded(concurrency: options.concurrency, stop: stop, next: { state.nextReady() }) { step in
                try await self.execute(step, entry: known[step.id], state: state, pacer: pacers[step.operation.server]!, events: events)
            }
        }
        if #available(macOS 15.0, *) {
            try await withTaskExecutorPreference(client.taskExecutor) { try await runSteps() }
        } else {
            try await runSteps()
        }
        try await ledger.flush()

        var rolledBack: [String] = []
        if options.onDeviceFailure == .rollback, !stop.isStopped {
            rolledBack = try await rollBackFailedGroups(steps: steps, state: state, events: events)
            try await ledger.flush()
        }
        let snapshot = state.summary()
        return ExecutionSummary(
            done: snapshot.done, alreadyDone: snapshot.alreadyDone, failed: snapshot.failures, blocked: snapshot.blocked,
            rolledBack: rolledBack, interrupted: stop.isStopped && snapshot.unfinished > 0, requests: snapshot.requests,
            elapsed: ContinuousClock.now - started)
    }

    /// One step: reconcile if needed, send, retry transient failures, record the outcome.
    private func execute(
        _ step: ExecutionStep, entry: LedgerEntry?, state: RunState, pacer: ComponentPacer,
        events: @escaping @Sendable (ExecutionEvent) -> Void
    ) async throws {
        let operation = step.operation
        let mayRepeat = operation.kind != .upsert
        var mustReconcile = options.reconcileBeforeSending || (entry.map { $0.state != .pending || $0.attempts > 0 } ?? false)
        var attempt = 0
        while true {
            attempt += 1
            do {
                if mustReconcile || !mayRepeat && attempt > 1 {
                    try await pacer.waitTurn()
                    state.countRequest()
                    switch try await operation.reconcile(with: client, hasStoredSecret: entry?.hasSecret ?? false) {
                    case .done:
                        try await ledger.markDone(step.id, result: OperationResult())
                        events(state.finish(step.id, outcome: .alreadyDone))
                        return
                    case .conflict(let reason):
                        throw ConflictError(summary: operation.summary, reason: reason)
                    case .absent:
                        break
                    }
                }
                try await pacer.waitTurn()
                try await ledger.markInFlight(step.id)
                state.countRequest()
                let result = try await operation.apply(with: client, timeout: options.requestTimeout)
                pacer.observe(result.rateLimit, limited: false)
                try await ledger.markDone(step.id, result: result)
                events(state.finish(step.id, outcome: result.wasAlreadyInV3 ? .alreadyDone : .done))
                return
            } catch let error as V3APIError {
                pacer.observe(error.rateLimit, limited: error.status == 429)
                if error.isTransient, attempt < options.retry.maxAttempts {
                    // A 5xx may come after the server applied a create: read before sending again.
                    mustReconcile = mustReconcile || (mayRepeat && error.status != 429)
                    events(state.event(.retrying, step.id, "\(operation.summary): \(error.status), retrying"))
                    try await Task.sleep(for: options.retry.delay(beforeRetry: attempt))
                    continue
                }
                try await fail(step, message: error.description, correlationID: error.correlationID, state: state, events: events)
                return
            } catch let error as HTTPError {
                if error.isTransient, attempt < options.retry.maxAttempts {
                    mustReconcile = mustReconcile || error.mayHaveReachedServer
                    events(state.event(.retrying, step.id, "\(operation.summary): \(error), retrying"))
                    try await Task.sleep(for: options.retry.delay(beforeRetry: attempt))
                    continue
                }
                try await fail(step, message: "\(operation.summary): \(error)", correlationID: nil, state: state, events: events)
                return
            } catch let error as ConflictError {
                try await fail(step, message: error.description, correlationID: error.correlationID, state: state, events: events)
                return
            } catch let error as V3ClientError {
                try await fail(step, message: error.description, correlationID: nil, state: state, events: events)
                return
            }
        }
    }

    private func fail(
        _ step: ExecutionStep, message: String, correlationID: String?, state: RunState, events: @escaping @Sendable (ExecutionEvent) -> Void
    ) async throws {
        try await ledger.markFailed(step.id, error: message, correlationID: correlationID)
        events(state.finish(step.id, outcome: .failed(StepFailure(stepID: step.id, message: message, correlationID: correlationID))))
    }

    /// Deletes the done steps of every group with a failed step, in reverse order AS, NS, JS, IS
    /// (`UndoOrder`, shared with `rollback`). A deletion that fails leaves its step done and is reported
    /// as a failed event; the next run completes the device.
    private func rollBackFailedGroups(
        steps: [ExecutionStep], state: RunState, events: @escaping @Sendable (ExecutionEvent) -> Void
    ) async throws -> [String] {
        let failedGroups = Set(state.failedStepIDs().compactMap { id in steps.first { $0.id == id }?.group })
        let members = steps.filter { $0.group.map(failedGroups.contains) ?? false }
        let done = state.doneStepIDs(Set(members.map(\.id)))
        var undo: [String: UndoAction] = [:]
        for step in members where done.contains(step.id) {
            guard let deletePath = step.operation.deletePath else { continue }
            undo[step.id] = UndoAction(deletion: .path(deletePath), summary: step.operation.summary)
        }
        guard !undo.isEmpty else { return [] }
        let progress = state.progress
        let undoer = Undoer(
            client: client, ledger: ledger,
            options: UndoOptions(
                concurrency: options.concurrency, maxRatePerMinute: options.maxRatePerMinute, retry: options.retry,
                requestTimeout: options.requestTimeout),
            logger: logger)
        let summary = try await undoer.run(UndoOrder.arrange(undo, in: steps)) { event in
            switch event.kind {
            case .deleted, .alreadyGone:
                events(ExecutionEvent(kind: .rolledBack, stepID: event.step.stepID, message: "rolled back \(event.message)", progress: progress))
            case .failed:
                events(ExecutionEvent(kind: .failed, stepID: event.step.stepID, message: "could not roll back: \(event.message)", progress: progress))
            case .retrying:
                events(ExecutionEvent(kind: .retrying, stepID: event.step.stepID, message: event.message, progress: progress))
            }
        }
        return summary.rolledBack
    }
}

/// Scheduling state shared by the running steps.
///
/// A lock, not an actor, as `ComponentPacer`: every step asks it twice (its next step, its finish) and
/// holds it for a few dictionary updates, less than the hop onto an actor's executor cost at 64 in
/// flight (issue 12's profile).
final class RunState: @unchecked Sendable {
    enum Outcome {
        case done, alreadyDone
        case failed(StepFailure)
    }

    private let lock = NSLock()
    private let steps: [String: ExecutionStep]
    private let order: [String]
    // Guarded by `lock`.
    private var dependents: [String: [String]] = [:]
    private var waitingOn: [String: Int] = [:]
    private var ready: [String] = []
    private var finished: [String: Bool] = [:]  // id → succeeded
    private var failures: [StepFailure] = []
    private var doneCount = 0
    private var alreadyDoneCount = 0
    private var counts = ExecutionProgress()
    /// Requests sent, counted without the lock (one per request).
    private let requests = Atomic<Int>(0)

    /// The counts, with the requests sent so far.
    var progress: ExecutionProgress { lock.withLock { currentProgress } }

    /// `progress` with the lock held.
    private var currentProgress: ExecutionProgress {
        var current = counts
        current.requests = requests.load(ordering: .relaxed)
        return current
    }

    init(steps: [ExecutionStep], known: [String: LedgerEntry]) {
        order = steps.map(\.id)
        // Every step ends up in `finished`: sized once, not grown while steps finish.
        var finished: [String: Bool] = Dictionary(minimumCapacity: steps.count)
        var waitingOn: [String: Int] = [:]
        var dependents: [String: [String]] = [:]
        var progress = ExecutionProgress()
        progress.total = steps.count
        for step in steps where known[step.id]?.state == .done {
            finished[step.id] = true
            progress.done += 1
        }
        // Only the steps still to run are kept (a resume of 400,000 done steps holds none).
        let open = steps.filter { finished[$0.id] == nil }
        self.steps = Dictionary(open.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        for step in open {
            let open = step.dependsOn.filter { finished[$0] != true }
            waitingOn[step.id] = open.count
            for dependency in open { dependents[dependency, default: []].append(step.id) }
        }
        self.finished = finished
        self.waitingOn = waitingOn
        self.dependents = dependents
        self.counts = progress
        // Plan order among ready steps: stable and predictable (popLast takes the first).
        ready = steps.map(\.id).filter { waitingOn[$0] == 0 }.reversed()
    }

    func nextReady() -> ExecutionStep? {
        guard let id = lock.withLock({ ready.popLast() }) else { return nil }
        return steps[id]
    }

    func countRequest() { requests.add(1, ordering: .relaxed) }

    func event(_ kind: ExecutionEvent.Kind, _ stepID: String, _ message: String) -> ExecutionEvent {
        ExecutionEvent(kind: kind, stepID: stepID, message: message, progress: progress)
    }

    func finish(_ id: String, outcome: Outcome) -> ExecutionEvent {
        let (kind, progress): (ExecutionEvent.Kind, ExecutionProgress) = lock.withLock {
            let kind: ExecutionEvent.Kind
            switch outcome {
            case .done, .alreadyDone:
                finished[id] = true
                counts.done += 1
                if case .done = outcome { doneCount += 1; kind = .done } else { alreadyDoneCount += 1; kind = .alreadyDone }
                var unlocked: [String] = []
                for dependent in dependents[id] ?? [] {
                    waitingOn[dependent, default: 1] -= 1
                    if waitingOn[dependent] == 0 { unlocked.append(dependent) }
                }
                // Depth first: what a finished step unlocks runs next, so devices complete rather than pile up half-done.
                ready.append(contentsOf: unlocked.reversed())
            case .failed(let failure):
                finished[id] = false
                counts.failed += 1
                failures.append(failure)
                kind = .failed
            }
            return (kind, currentProgress)
        }
        let message: String
        if case .failed(let failure) = outcome { message = failure.message } else { message = steps[id]?.operation.summary ?? id }
        return ExecutionEvent(kind: kind, stepID: id, message: message, progress: progress)
    }

    func failedStepIDs() -> [String] { lock.withLock { failures.map(\.stepID) } }

    func doneStepIDs(_ ids: Set<String>) -> Set<String> { lock.withLock { Set(ids.filter { finished[$0] == true }) } }

    func summary() -> (done: Int, alreadyDone: Int, failures: [StepFailure], blocked: [String], unfinished: Int, requests: Int) {
        lock.withLock {
            let unfinished = order.filter { finished[$0] == nil }
            let blocked = unfinished.filter { id in (waitingOn[id] ?? 0) > 0 }
            return (doneCount, alreadyDoneCount, failures.sorted { $0.stepID < $1.stepID }, blocked, unfinished.count, requests.load(ordering: .relaxed))
        }
    }
}
