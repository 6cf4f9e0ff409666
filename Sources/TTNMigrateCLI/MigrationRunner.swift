import Executor
import Foundation
import HTTP
import Journal
import Mapping
import Plan
import V2Model
import V3Client

/// Everything `run` does, as a library call so tests can drive it (and crash it) without a process.
///
/// Order (DESIGN.md §1, §6): open the journal (bound to its target), freeze the v2 estate beside it on
/// first start, plan with the journal's run tag, check the target (writing nothing), record the plan's
/// steps, execute with reconciliation on resume, record the outcome.
struct MigrationRunner {
    struct Settings {
        var journalPath: String
        var snapshotPath: String?
        var refresh = false
        var concurrency = 16
        var maxRatePerMinute: Int?
        var onDeviceFailure: DeviceFailurePolicy = .resume
        /// `--devices`: only these devices (and their applications); nil: the whole plan.
        var devices: [String]?
        var requestTimeout: Duration = .seconds(30)
        var retry = RetryPolicy()
        var commandLine: [String] = []
        /// Journal settings (tests inject write failures here).
        var journalOptions = JournalOptions()
    }

    /// How a run ended.
    struct Outcome {
        var summary: ExecutionSummary
        var skipped: [TargetCheckReport.Skip]
        var resumed: Bool
        var interrupted: Bool
        var crashed: Bool
    }

    let configuration: MigrationConfiguration
    let settings: Settings
    let environment: [String: String]

    init(configuration: MigrationConfiguration, settings: Settings, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.configuration = configuration
        self.settings = settings
        self.environment = environment
    }

    /// The frozen v2 estate kept beside the journal (0600).
    var frozenSnapshotPath: String { Self.frozenSnapshotPath(journal: settings.journalPath) }

    /// Where `run` freezes the v2 estate for a journal: `<journal>.v2-snapshot.json` (DESIGN.md §1).
    static func frozenSnapshotPath(journal: String) -> String { journal + ".v2-snapshot.json" }

    /// Runs (or resumes) the migration. `crashAfterSteps` (tests) stops after that many finished steps
    /// and drops every journal change not yet committed, as a killed process would.
    func run(
        stop: StopSignal, events: @escaping @Sendable (ExecutionEvent) -> Void, notes: @escaping @Sendable (String) -> Void,
        crashAfterSteps: Int? = nil
    ) async throws -> Outcome {
        let endpoints = try configuration.endpoints()
        guard let owner = configuration.target.owner else {
            throw ConfigurationError.missing(key: "target.owner", hint: "`{ user: ID }` or `{ organization: ID }`")
        }
        _ = try configuration.mappingOptions().validate()
        let apiKey = V3APIKeySecret(try configuration.target.apiKey.resolve(what: "the v3 API key", environment: environment))
        let target = JournalTarget(
            identityServerURL: endpoints.identityServer, ownerKind: owner.kind == "user" ? .user : .organization, ownerID: owner.id)
        let store = try JournalStore.open(at: settings.journalPath, target: target, options: settings.journalOptions)
        do {
            return try await run(store: store, endpoints: endpoints, apiKey: apiKey, stop: stop, events: events, notes: notes, crashAfterSteps: crashAfterSteps)
        } catch {
            try? await store.close()
            throw error
        }
    }

    private func run(
        store: JournalStore, endpoints: V3Endpoints, apiKey: V3APIKeySecret, stop: StopSignal,
        events: @escaping @Sendable (ExecutionEvent) -> Void, notes: @escaping @Sendable (String) -> Void, crashAfterSteps: Int?
    ) async throws -> Outcome {
        let resumed = !store.created
        let started = ContinuousClock.now

        let frozen = try await frozenEstate(notes: notes)
        let options = try configuration.mappingOptions(runTag: store.migrationTag)
        let fingerprint = try PlanFingerprint(snapshot: frozen.bytes, options: options, devices: settings.devices, toolVersion: ToolInfo.version)
        if resumed, try await store.hasCarriedOut(planFingerprint: fingerprint.text) {
            // Nothing to do: neither decode nor plan nor ask v3 (migrations/0003_plan_fingerprint.sql).
            let steps = await store.stepIDs(in: [.done]).count
            notes("every one of the \(steps) steps of this plan is done, and the v2 estate and the configuration are unchanged since: nothing to do")
            try await store.startRun(RunInfo(
                toolVersion: ToolInfo.version, commandLine: settings.commandLine, snapshotPath: frozenSnapshotPath, planFingerprint: fingerprint.text))
            try await store.finishRun(outcome: .completed)
            try await store.close()
            return Outcome(summary: .nothingToDo(elapsed: ContinuousClock.now - started), skipped: [], resumed: true, interrupted: false, crashed: false)
        }
        let estate = try frozen.snapshot(path: frozenSnapshotPath)
        let fullPlan = try Planner.plan(snapshot: estate, options: options)
        let plan = try settings.devices.map { try fullPlan.restricted(toDevices: $0) } ?? fullPlan
        let http = HTTPClient(configuration: HTTPClientConfiguration(
            requestTimeout: settings.requestTimeout, caFile: configuration.target.caFile, insecure: configuration.target.insecure))
        let client = V3Client(http: http, endpoints: endpoints, apiKey: apiKey)

        notes("checking the v3 target: the API key's rights, the accounts, which IDs are taken (\(plan.steps.count) steps planned)")
        let journaledDone = resumed ? await store.stepIDs(in: [.done]) : []
        let check = try await TargetCheck.run(
            plan: plan, client: client, concurrency: settings.concurrency, retry: settings.retry, journaledDone: journaledDone)
        if !check.blockers.isEmpty {
            throw RunError.targetNotReady(check.blockers)
        }

        let steps = try PlanExecution.steps(for: plan)
        let planned = plan.steps.map {
            PlannedStep(id: $0.id, kind: $0.kind.rawValue, entityType: $0.entity.kind.rawValue, entityKey: $0.entity.v3ID ?? $0.entity.v2ID,
                        component: StepComponent(rawValue: $0.component.rawValue)!)
        }
        try await store.startRun(RunInfo(
            toolVersion: ToolInfo.version, commandLine: settings.commandLine, snapshotPath: frozenSnapshotPath, planFingerprint: fingerprint.text))
        let report = try await store.upsertPlannedSteps(planned)
        if !report.notInPlan.isEmpty && settings.devices != nil {
            notes("\(report.notInPlan.count) steps of this journal are not for the selected devices; they are left as they are")
        } else if !report.notInPlan.isEmpty {
            notes("\(report.notInPlan.count) steps of this journal are no longer in the plan (the v2 estate or the configuration changed); they are left as they are")
        }
        _ = try await store.resetInterrupted()

        // Known-impossible steps are skipped with their reason; earlier skips that now look possible are retried.
        let skipIDs = Set(check.skips.map(\.stepID))
        // Rolled-back devices are migrated again (the user chose rollback last time; this run completes them).
        let resettable = await store.stepIDs(in: [.skipped, .rolledBack])
        for step in plan.steps where resettable.contains(step.id) {
            let state = await store.state(of: step.id)
            if state == .skipped && !skipIDs.contains(step.id) || state == .rolledBack { try await store.resetToPending(step: step.id) }
        }
        for skip in check.skips {
            let state = await store.state(of: skip.stepID)
            if state == .pending || state == .failed { try await store.markSkipped(step: skip.stepID, reason: skip.reason) }
        }
        try await store.flush()

        let runnable = steps.filter { !skipIDs.contains($0.id) }
        let ledger = CrashableLedger(base: JournalLedger(store: store, steps: runnable))
        let executor = MigrationExecutor(
            client: client, ledger: ledger,
            options: ExecutorOptions(
                concurrency: settings.concurrency, maxRatePerMinute: settings.maxRatePerMinute, retry: settings.retry,
                requestTimeout: settings.requestTimeout, reconcileBeforeSending: resumed, onDeviceFailure: settings.onDeviceFailure))
        let finishedSteps = Counter()
        let summary = try await executor.run(runnable, stop: stop) { event in
            events(event)
            if let crashAfterSteps, [.done, .alreadyDone, .failed].contains(event.kind), finishedSteps.increment() >= crashAfterSteps {
                ledger.crash()
                stop.stop()
            }
        }
        if ledger.crashed {
            await store.discardUnflushedAndClose()
            return Outcome(summary: summary, skipped: check.skips, resumed: resumed, interrupted: true, crashed: true)
        }
        let outcome: RunOutcome = summary.interrupted ? .interrupted : (summary.failed.isEmpty && summary.blocked.isEmpty ? .completed : .failed)
        try await store.finishRun(outcome: outcome)
        try await store.close()
        return Outcome(summary: summary, skipped: check.skips, resumed: resumed, interrupted: summary.interrupted, crashed: false)
    }

    /// The estate this journal migrates: frozen on first start, re-read only with `--refresh`.
    func frozenEstate(notes: @escaping @Sendable (String) -> Void) async throws -> FrozenEstate {
        let frozenExists = FileManager.default.fileExists(atPath: frozenSnapshotPath)
        if frozenExists, !settings.refresh {
            if settings.snapshotPath != nil {
                notes("using the v2 estate frozen beside the journal (\(frozenSnapshotPath)); --snapshot is read only on a journal's first run or with --refresh")
            }
            return FrozenEstate(bytes: try SnapshotFile.readBytes(path: frozenSnapshotPath), decoded: nil)
        }
        let bytes: Data
        let fresh: V2Snapshot
        if let path = settings.snapshotPath {
            // A snapshot file is frozen byte for byte once it has decoded, so this run and every resume
            // decode the same bytes (and it is decoded once, not re-encoded and decoded again).
            bytes = try SnapshotFile.readBytes(path: path)
            fresh = try SnapshotFile.decode(bytes, path: path)
        } else {
            notes("reading the v2 estate from \(HTTPClient.displayURL(configuration.source.accountServer)) and its handlers (paced to the handlers' 5 requests/s per application)")
            bytes = try SnapshotFile.encode(try await V2Source(configuration: configuration).read())
            fresh = try SnapshotFile.decode(bytes, path: frozenSnapshotPath)
        }
        if frozenExists {
            let old = try SnapshotFile.read(path: frozenSnapshotPath)
            for line in EstateChanges.describe(from: old, to: fresh) { notes("refresh: \(line)") }
        }
        try SecureFile.writeAtomically(bytes, to: frozenSnapshotPath)
        return FrozenEstate(bytes: bytes, decoded: fresh)
    }
}

/// The v2 estate a journal migrates: the bytes of the file frozen beside it, and their decoded value
/// when it was decoded on the way.
struct FrozenEstate {
    /// The frozen file's bytes (the plan fingerprint's input).
    let bytes: Data
    /// `bytes` decoded; nil when they were only read (a resume may finish without decoding them).
    let decoded: V2Snapshot?

    /// The estate, decoded from `bytes` unless it was already.
    func snapshot(path: String) throws -> V2Snapshot {
        try decoded ?? SnapshotFile.decode(bytes, path: path)
    }
}

/// Why `run` did not start. Exit code 2; nothing was written.
enum RunError: Error, CustomStringConvertible {
    case targetNotReady([String])

    var description: String {
        switch self {
        case .targetNotReady(let blockers):
            return "the v3 target is not ready; nothing was written:\n  " + blockers.joined(separator: "\n  ")
        }
    }
}

/// What changed between two v2 estates (for `--refresh`).
enum EstateChanges {
    static func describe(from old: V2Snapshot, to new: V2Snapshot) -> [String] {
        let oldApplications = Dictionary(old.applications.map { ($0.application.id, $0) }, uniquingKeysWith: { first, _ in first })
        let newApplications = Dictionary(new.applications.map { ($0.application.id, $0) }, uniquingKeysWith: { first, _ in first })
        let oldGateways = Dictionary(old.gateways.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let newGateways = Dictionary(new.gateways.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        func devices(_ applications: [String: V2ApplicationRecord]) -> [String: V2Device] {
            var result: [String: V2Device] = [:]
            for (id, record) in applications { for device in record.handler.devices { result["\(id)/\(device.devId)"] = device } }
            return result
        }
        var lines: [String] = []
        func compare<T: Equatable>(_ name: String, _ before: [String: T], _ after: [String: T]) {
            for id in Set(after.keys).subtracting(before.keys).sorted() { lines.append("new \(name) \(id)") }
            for id in Set(before.keys).subtracting(after.keys).sorted() { lines.append("\(name) \(id) is gone from v2 (what was migrated stays in v3)") }
            for id in Set(before.keys).intersection(after.keys).sorted() where before[id] != after[id] { lines.append("\(name) \(id) changed in v2") }
        }
        compare("application", oldApplications.mapValues(\.application), newApplications.mapValues(\.application))
        compare("gateway", oldGateways, newGateways)
        compare("device", devices(oldApplications), devices(newApplications))
        if lines.isEmpty { lines.append("the v2 estate is unchanged") }
        return lines
    }
}

/// A ledger that, once crashed, drops every change, as a killed process loses what it had not committed.
final class CrashableLedger: StepLedger, @unchecked Sendable {
    private let base: JournalLedger
    private let lock = NSLock()
    private var isCrashed = false

    init(base: JournalLedger) { self.base = base }

    var crashed: Bool { lock.withLock { isCrashed } }
    func crash() { lock.withLock { isCrashed = true } }

    func entries() async throws -> [String: LedgerEntry] { try await base.entries() }
    func markInFlight(_ stepID: String) async throws { if !crashed { try await base.markInFlight(stepID) } }
    func markDone(_ stepID: String, result: OperationResult) async throws { if !crashed { try await base.markDone(stepID, result: result) } }
    func markFailed(_ stepID: String, error: String, correlationID: String?) async throws {
        if !crashed { try await base.markFailed(stepID, error: error, correlationID: correlationID) }
    }
    func markRolledBack(_ stepID: String) async throws { if !crashed { try await base.markRolledBack(stepID) } }
    func flush() async throws { if !crashed { try await base.flush() } }
}

/// A thread-safe counter.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var value = 0
    func increment() -> Int { lock.withLock { value += 1; return value } }
}
