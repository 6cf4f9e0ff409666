import Foundation
import HTTP
import Logging
import V3Client

/// How undo steps run.
public struct UndoOptions: Sendable {
    /// Requests in flight at most.
    public var concurrency: Int
    /// Requests per minute per component at most; nil: only the server's limits.
    public var maxRatePerMinute: Int?
    public var retry: RetryPolicy
    /// Per-request timeout.
    public var requestTimeout: Duration

    public init(concurrency: Int = 16, maxRatePerMinute: Int? = nil, retry: RetryPolicy = RetryPolicy(), requestTimeout: Duration = .seconds(30)) {
        self.concurrency = max(1, concurrency)
        self.maxRatePerMinute = maxRatePerMinute
        self.retry = retry
        self.requestTimeout = requestTimeout
    }
}

/// Something that happened to one undo step.
public struct UndoEvent: Sendable {
    public enum Kind: String, Sendable {
        /// Deleted now.
        case deleted
        /// v3 no longer holds it (404, or 403 `no_*_rights`): recorded as rolled back all the same.
        case alreadyGone = "already_gone"
        /// Could not be deleted; the step stays done in the journal.
        case failed
        /// A transient error (429, 5xx, connection); trying again.
        case retrying
    }

    public var kind: Kind
    public var step: UndoStep
    /// The summary for `deleted` and `already_gone`; the error for `failed` and `retrying`.
    public var message: String
    public var correlationID: String?
    /// Undo steps finished (deleted, already gone or failed) so far, and in all.
    public var finished: Int
    public var total: Int
}

/// How an undo ended.
public struct UndoSummary: Sendable {
    /// Deleted now, in undo order.
    public var deleted: [String]
    /// Found gone and recorded as rolled back, in undo order.
    public var alreadyGone: [String]
    /// Could not be deleted (they stay done), in undo order.
    public var failed: [StepFailure]
    /// Not tried because an undo they wait for failed (or Ctrl-C stopped the undo first), in undo order.
    public var blocked: [String]
    /// Stopped by `StopSignal` with steps left.
    public var interrupted: Bool
    public var requests: Int
    public var elapsed: Duration

    /// Every step now recorded as rolled back.
    public var rolledBack: [String] { deleted + alreadyGone }

    /// The summary of an undo with no step: nothing sent.
    public static let nothing = UndoSummary(
        deleted: [], alreadyGone: [], failed: [], blocked: [], interrupted: false, requests: 0, elapsed: .zero)
}

/// Deletes what done steps created, in the order `UndoOrder.arrange` gives, with bounded concurrency,
/// pacing and retries, and records each one as rolled back in the ledger (DESIGN.md §1 `rollback`, §7).
///
/// A step is sent once every undo it waits for has finished; if one of those failed, it is not sent
/// (`blocked`), so nothing is deleted out of order (an application is never asked to go while one of its
/// devices remains). 404 with The Things Stack's error details, or 403 `no_*_rights`, means the entity
/// is already gone (`reference/v3-api.md` §15): the step is recorded as rolled back. A bare 404 without
/// error details (an unknown path, another server at the URL) is a failure, never "gone". DELETE is
/// idempotent, so a transient failure (429, 5xx, dropped connection, timeout) is retried as it is, and a
/// killed undo that runs again finds what it already deleted gone.
public struct Undoer: Sendable {
    let client: V3Client
    let ledger: any StepLedger
    let options: UndoOptions
    let logger: Logger

    public init(client: V3Client, ledger: any StepLedger, options: UndoOptions, logger: Logger = Logger(label: "ttn-migrate.rollback")) {
        self.client = client
        self.ledger = ledger
        self.options = options
        self.logger = logger
    }

    /// Undoes `steps` (in `UndoOrder.arrange` order) and flushes the ledger. `stop` ends scheduling
    /// early: steps in flight finish and are recorded.
    public func run(
        _ steps: [UndoStep], stop: StopSignal = StopSignal(), events: @escaping @Sendable (UndoEvent) -> Void = { _ in }
    ) async throws -> UndoSummary {
        let started = ContinuousClock.now
        let state = UndoState(steps: steps)
        let pacers = ComponentPacer.pacers(for: client, maxPerMinute: options.maxRatePerMinute, concurrency: options.concurrency)
        try await runBounded(concurrency: options.concurrency, stop: stop, next: { await state.nextReady() }) { step in
            try await self.undo(step, state: state, pacer: pacers[step.server]!, events: events)
        }
        try await ledger.flush()
        return await state.summary(interrupted: stop.isStopped, elapsed: ContinuousClock.now - started)
    }

    private enum Outcome { case deleted, alreadyGone }

    /// One step: delete, retry transient failures, record the outcome.
    private func undo(_ step: UndoStep, state: UndoState, pacer: ComponentPacer, events: @escaping @Sendable (UndoEvent) -> Void) async throws {
        let component = client.client(for: step.server)
        var attempt = 0
        while true {
            attempt += 1
            do {
                let outcome = try await delete(step, component: component, pacer: pacer, state: state)
                try await ledger.markRolledBack(step.stepID)
                events(await state.finish(step, kind: outcome == .deleted ? .deleted : .alreadyGone))
                return
            } catch let error as V3APIError {
                pacer.observe(error.rateLimit, limited: error.status == 429)
                if error.isTransient, attempt < options.retry.maxAttempts {
                    events(await state.retrying(step, "\(step.action.summary): \(error.server) answered \(error.status), retrying"))
                    let delay = options.retry.delay(beforeRetry: attempt)
                    try await Task.sleep(for: error.status == 429 ? max(delay, .seconds(max(error.rateLimit.retry ?? 0, 0))) : delay)
                    continue
                }
                events(await state.fail(step, message: Self.describe(error, summary: step.action.summary), correlationID: error.correlationID))
                return
            } catch let error as HTTPError {
                if error.isTransient, attempt < options.retry.maxAttempts {
                    events(await state.retrying(step, "\(step.action.summary): \(error), retrying"))
                    try await Task.sleep(for: options.retry.delay(beforeRetry: attempt))
                    continue
                }
                events(await state.fail(
                    step, message: "\(step.action.summary): \(error); check that \(component.name) at \(component.baseURL) is reachable, then run the same command again",
                    correlationID: nil))
                return
            } catch let error as V3ClientError {
                events(await state.fail(step, message: error.description, correlationID: nil))
                return
            }
        }
    }

    /// Sends the deletion; returns whether something was deleted or v3 no longer held it.
    private func delete(_ step: UndoStep, component: V3ComponentClient, pacer: ComponentPacer, state: UndoState) async throws -> Outcome {
        let summary = step.action.summary
        switch step.action.deletion {
        case .path(let path):
            try await pacer.waitTurn()
            await state.countRequest()
            do {
                _ = try await component.send("DELETE", path, operation: summary, timeout: options.requestTimeout)
                return .deleted
            } catch let error as V3APIError where Self.isGone(error) {
                return .alreadyGone
            }
        case .apiKeyNamed(let listPath, let name):
            try await pacer.waitTurn()
            await state.countRequest()
            let keys: [ListedAPIKey]
            do {
                let response = try await component.send("GET", listPath, operation: "list API keys to \(summary)", timeout: options.requestTimeout)
                keys = try response.decode(ListedAPIKeys.self, operation: "list API keys to \(summary)", server: component.name).apiKeys
            } catch let error as V3APIError where Self.isGone(error) {
                return .alreadyGone
            }
            let matching = keys.filter { $0.name == name }.compactMap(\.id)
            if matching.isEmpty { return .alreadyGone }
            for id in matching {
                try await pacer.waitTurn()
                await state.countRequest()
                do {
                    _ = try await component.send("DELETE", listPath + "/" + PlanExecution.escape(id), operation: summary, timeout: options.requestTimeout)
                } catch let error as V3APIError where Self.isGone(error) {
                    continue
                }
            }
            return .deleted
        }
    }

    /// 404 carrying The Things Stack's error details, or 403 `no_*_rights`: the entity is gone, or was
    /// never visible to this key (`reference/v3-api.md` §9, §15). A 404 without details is an unknown
    /// path, not a deleted entity.
    static func isGone(_ error: V3APIError) -> Bool {
        error.isAbsentOrNotOurs && error.details?.name != nil
    }

    /// The error, with what to do next in a rollback's terms.
    static func describe(_ error: V3APIError, summary: String) -> String {
        var text = "\(summary): \(error.server) answered \(error.status)"
        if let name = error.errorName { text += " \(name)" }
        text += " (\(error.details?.formattedMessage ?? error.message))"
        if let correlationID = error.correlationID { text += " [correlation ID \(correlationID)]" }
        let next: String
        if error.details?.name == "application_has_devices" {
            next = "the application still holds devices this journal did not create, or whose deletion failed: delete them in v3 (or keep the application), then run the same command again"
        } else if error.status == 404 {
            next = "the answer is not The Things Stack's: check the configured URL of the \(error.server), then run the same command again"
        } else if error.isTransient {
            next = "v3 is unavailable or limiting requests: run the same command again later (it continues where it stopped)"
        } else if error.status == 401 || error.status == 403 {
            next = error.nextStep + ", then run the same command again"
        } else {
            next = "fix the cause, then run the same command again (it continues where it stopped)"
        }
        return text + "; " + next
    }
}

private struct ListedAPIKeys: Decodable {
    var apiKeys: [ListedAPIKey]
    enum CodingKeys: String, CodingKey { case apiKeys = "api_keys" }
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        apiKeys = try container.decodeIfPresent([ListedAPIKey].self, forKey: .apiKeys) ?? []
    }
}

private struct ListedAPIKey: Decodable {
    var id: String?
    var name: String?
}

/// Scheduling state shared by the running undo steps.
actor UndoState {
    private let steps: [UndoStep]
    private var position: [String: Int] = [:]
    private var waiting: [Int: Int] = [:]
    private var unlocks: [Int: [Int]] = [:]
    private var ready = MinHeap()
    private var outcomes: [Int: UndoEvent.Kind] = [:]
    private var failures: [Int: StepFailure] = [:]
    private var requests = 0
    private var finishedCount = 0

    init(steps: [UndoStep]) {
        self.steps = steps
        var position: [String: Int] = [:]
        for (index, step) in steps.enumerated() where position[step.stepID] == nil { position[step.stepID] = index }
        var waiting: [Int: Int] = [:]
        var unlocks: [Int: [Int]] = [:]
        var ready = MinHeap()
        for (index, step) in steps.enumerated() {
            // An undo waited for that is not in the list has nothing to do: no wait.
            let prerequisites = Set(step.after.compactMap { position[$0] }).subtracting([index])
            waiting[index] = prerequisites.count
            for prerequisite in prerequisites { unlocks[prerequisite, default: []].append(index) }
            if prerequisites.isEmpty { ready.insert(index) }
        }
        self.position = position
        self.waiting = waiting
        self.unlocks = unlocks
        self.ready = ready
    }

    func nextReady() -> UndoStep? {
        guard let index = ready.popMin() else { return nil }
        return steps[index]
    }

    func countRequest() { requests += 1 }

    func retrying(_ step: UndoStep, _ message: String) -> UndoEvent {
        UndoEvent(kind: .retrying, step: step, message: message, correlationID: nil, finished: finishedCount, total: steps.count)
    }

    func finish(_ step: UndoStep, kind: UndoEvent.Kind) -> UndoEvent {
        let index = position[step.stepID]!
        outcomes[index] = kind
        finishedCount += 1
        for next in unlocks[index] ?? [] {
            waiting[next, default: 1] -= 1
            if waiting[next] == 0 { ready.insert(next) }
        }
        return UndoEvent(kind: kind, step: step, message: step.action.summary, correlationID: nil, finished: finishedCount, total: steps.count)
    }

    func fail(_ step: UndoStep, message: String, correlationID: String?) -> UndoEvent {
        let index = position[step.stepID]!
        outcomes[index] = .failed
        finishedCount += 1
        failures[index] = StepFailure(stepID: step.stepID, message: message, correlationID: correlationID)
        return UndoEvent(kind: .failed, step: step, message: message, correlationID: correlationID, finished: finishedCount, total: steps.count)
    }

    func summary(interrupted: Bool, elapsed: Duration) -> UndoSummary {
        var deleted: [String] = []
        var gone: [String] = []
        var failed: [StepFailure] = []
        var blocked: [String] = []
        for (index, step) in steps.enumerated() {
            switch outcomes[index] {
            case .deleted: deleted.append(step.stepID)
            case .alreadyGone: gone.append(step.stepID)
            case .failed: failed.append(failures[index]!)
            case .retrying, nil: blocked.append(step.stepID)
            }
        }
        return UndoSummary(
            deleted: deleted, alreadyGone: gone, failed: failed, blocked: blocked, interrupted: interrupted && !blocked.isEmpty,
            requests: requests, elapsed: elapsed)
    }
}
