import ArgumentParser
import Executor
import Foundation
import HTTP
import Journal
import Plan
import V2Model
import V3Client

extension TTNMigrate {
    /// Deletes in v3 what one journal's migration created; a dry run unless `--force`.
    struct Rollback: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete in v3 what this journal created. Without --force: a dry run that lists the deletions and their consequences.",
            discussion: """
                Only steps the journal records as done are undone, in reverse dependency order: a device's Application, \
                Network, Join and Identity Server entries in that order; an application after its devices, API keys, \
                collaborators and payload formatter link; a gateway after its collaborators. The dry run sends nothing to \
                v3 and writes nothing. v3 deletes applications and gateways softly: their IDs stay taken until an admin \
                purges them, so a later `run` with this journal fails on them unless they are purged or renamed (`rename:`). \
                Each deletion is recorded in the journal (state rolled_back; an API key's secret is removed with it), so a \
                stopped rollback continues where it stopped when run again. Nothing in v2 is changed.
                Exit codes: 0 everything undone (or nothing to undo), 1 some deletions failed, 2 usage or input error, \
                130 interrupted.
                """)

        @OptionGroup var options: ConfigOptions

        @Option(name: .long, help: "The journal written by `ttn-migrate run` (it must belong to the configured target).")
        var journal: String

        @Flag(name: .long, help: "Delete. Without it nothing is deleted and nothing is written: the deletions are only listed.")
        var force = false

        func run() async throws {
            let configuration = try options.load()
            var settings = RollbackRunner.Settings(journalPath: journal)
            settings.concurrency = configuration.concurrency ?? 16
            settings.commandLine = ["ttn-migrate", "rollback", "--config", options.config, "--journal", journal, "--force"]
            let runner = RollbackRunner(configuration: configuration, settings: settings)
            let console = Console.current
            let command = settings.commandLine.map(ShellQuoting.quote).joined(separator: " ")
            guard force else {
                let preview = try await runner.preview()
                for warning in preview.warnings { console.err("warning: \(warning)") }
                console.out(RollbackText.dryRun(preview, journal: journal, forceCommand: command))
                return
            }
            let stop = StopSignal()
            let trap = SignalTrap { _ in
                stop.stop()
                console.err("\nstopping: letting deletions in flight finish (Ctrl-C again does not speed this up)")
            }
            defer { trap.cancel() }
            let outcome = try await runner.execute(stop: stop, events: RollbackText.printEvent)
            try RollbackText.report(outcome, journal: journal, command: command)
        }
    }
}

/// Everything `rollback` does, as library calls so tests can drive it with their own retry policy.
///
/// The journal is opened read-only first (a missing or never-bound journal is refused, and one of another
/// target: DESIGN.md §6); the plan the journal's runs executed is rebuilt from the v2 estate frozen beside
/// it and the journal's run tag, as `run` rebuilds it (`MigrationRunner`). `--force` then opens the journal
/// for writing (one writer at a time), checks that the API key belongs to the journal's owner, records a
/// run, deletes and marks each undone step `rolled_back`.
struct RollbackRunner {
    struct Settings {
        var journalPath: String
        var concurrency = 16
        var retry = RetryPolicy()
        var requestTimeout: Duration = .seconds(30)
        var commandLine: [String] = []
        var journalOptions = JournalOptions()
    }

    /// What a rollback would do, read from the journal and the rebuilt plan.
    struct Preview {
        var rollback: RollbackPlan
        var target: JournalTarget
        var migrationTag: String
        var warnings: [String]
    }

    /// How a `--force` rollback ended.
    struct Outcome {
        var rollback: RollbackPlan
        var summary: UndoSummary
    }

    let configuration: MigrationConfiguration
    let settings: Settings
    let environment: [String: String]

    init(configuration: MigrationConfiguration, settings: Settings, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.configuration = configuration
        self.settings = settings
        self.environment = environment
    }

    var context: JournalPlanContext {
        JournalPlanContext(configuration: configuration, journalPath: settings.journalPath, command: "rollback")
    }

    /// The dry run: reads the journal without changing it and lists what `--force` would delete.
    func preview() async throws -> Preview {
        try await context.reading(options: settings.journalOptions) { store in
            Preview(
                rollback: try await rollbackPlan(store), target: store.target, migrationTag: store.migrationTag,
                warnings: store.warnings.map(\.message))
        }
    }

    /// Deletes what the journal created and records it. Nothing to undo: no request is sent and the
    /// journal is not written.
    func execute(stop: StopSignal, events: @escaping @Sendable (UndoEvent) -> Void) async throws -> Outcome {
        let target = try context.target()
        // Refuses a missing, never-bound or foreign journal before opening for writing could bind it.
        return try await context.writing(options: settings.journalOptions) { store in
            try await execute(store: store, target: target, stop: stop, events: events)
        }
    }

    private func execute(
        store: JournalStore, target: JournalTarget, stop: StopSignal, events: @escaping @Sendable (UndoEvent) -> Void
    ) async throws -> Outcome {
        let rollback = try await rollbackPlan(store)
        guard !rollback.steps.isEmpty else {
            return Outcome(rollback: rollback, summary: .nothing)
        }
        let endpoints = try configuration.endpoints()
        let apiKey = V3APIKeySecret(try configuration.target.apiKey.resolve(what: "the v3 API key", environment: environment))
        let http = HTTPClient(configuration: HTTPClientConfiguration(
            requestTimeout: settings.requestTimeout, caFile: configuration.target.caFile, insecure: configuration.target.insecure))
        let client = V3Client(http: http, endpoints: endpoints, apiKey: apiKey)
        try await checkKeyOwner(client: client, target: target)

        try await store.startRun(RunInfo(toolVersion: ToolInfo.version, commandLine: settings.commandLine, snapshotPath: context.frozenSnapshotPath))
        let undoer = Undoer(
            client: client, ledger: JournalLedger(store: store, steps: []),
            options: UndoOptions(concurrency: settings.concurrency, retry: settings.retry, requestTimeout: settings.requestTimeout))
        let summary = try await undoer.run(rollback.steps, stop: stop, events: events)
        let outcome: RunOutcome
        if summary.interrupted {
            outcome = .interrupted
        } else if summary.failed.isEmpty && summary.blocked.isEmpty && rollback.unresolved.isEmpty {
            outcome = .completed
        } else {
            outcome = .failed
        }
        try await store.finishRun(outcome: outcome)
        return Outcome(rollback: rollback, summary: summary)
    }

    /// The undo of every done step of the journal, against the plan rebuilt as `run` builds it.
    private func rollbackPlan(_ store: JournalStore) async throws -> RollbackPlan {
        let (_, plan) = try context.rebuildPlan(store)
        return try RollbackPlan.build(plan: plan, journalSteps: try await store.steps(), apiKeys: try await store.apiKeys())
    }

    /// Refuses an API key of another account than the journal's owner: to such a key v3 answers
    /// "no rights" for every entity, which looks the same as "already deleted" (`reference/v3-api.md` §15),
    /// so every step would be recorded as rolled back while nothing was deleted. An admin key, and a
    /// user's key for an organization owner (members act through the organization), are accepted.
    private func checkKeyOwner(client: V3Client, target: JournalTarget) async throws {
        let info = try await retryingRead(policy: settings.retry) { try await client.authInfo() }
        if info.isAdmin == true { return }
        let user = info.apiKey?.entityIDs?.userIDs?.userID
        let organization = info.apiKey?.entityIDs?.organizationIDs?.organizationID
        switch target.ownerKind {
        case .user:
            if let user, user != target.ownerID { throw RollbackError.keyOfAnotherAccount(keyOwner: "user \(user)", target: target) }
            if let organization { throw RollbackError.keyOfAnotherAccount(keyOwner: "organization \(organization)", target: target) }
        case .organization:
            if let organization, organization != target.ownerID {
                throw RollbackError.keyOfAnotherAccount(keyOwner: "organization \(organization)", target: target)
            }
        }
    }
}

/// Why `rollback` did not start. Exit code 2; nothing was deleted.
enum RollbackError: Error, CustomStringConvertible {
    case keyOfAnotherAccount(keyOwner: String, target: JournalTarget)

    var description: String {
        switch self {
        case .keyOfAnotherAccount(let keyOwner, let target):
            return "the v3 API key belongs to \(keyOwner), but this journal's entities are owned by \(target.ownerKind.rawValue) \(target.ownerID): "
                + "to another account's key v3 answers \"no rights\", which looks the same as \"already deleted\"; "
                + "use an API key of \(target.ownerKind.rawValue) \(target.ownerID) (`target.api_key_env` or `target.api_key_file`); nothing was deleted"
        }
    }
}

/// The texts `rollback` prints.
enum RollbackText {
    /// The dry run: every deletion in order with its request, what is left alone, and the consequences.
    static func dryRun(_ preview: RollbackRunner.Preview, journal: String, forceCommand: String) -> String {
        let rollback = preview.rollback
        var lines = [
            "Rollback of journal \(journal): dry run, nothing is deleted and nothing is written.",
            "Target: \(preview.target); migration tag \(preview.migrationTag).",
        ]
        if rollback.steps.isEmpty {
            var line = "Nothing to roll back: no step of this journal is done"
            if !rollback.alreadyRolledBack.isEmpty { line += " (\(plural(rollback.alreadyRolledBack.count, "step")) already rolled back)" }
            lines.append(line + ".")
        } else {
            lines.append("\(plural(rollback.steps.count, "deletion")), in this order:")
            let width = String(rollback.steps.count).count
            for (index, step) in rollback.steps.enumerated() {
                let number = String(index + 1)
                lines.append("  " + String(repeating: " ", count: width - number.count) + number + ". " + step.action.summary)
                lines.append("  " + String(repeating: " ", count: width + 2) + step.request + " (" + serverName(step.server) + ", step " + step.stepID + ")")
            }
            if !rollback.alreadyRolledBack.isEmpty {
                lines.append("\(plural(rollback.alreadyRolledBack.count, "step")) already rolled back by an earlier rollback: left alone.")
            }
        }
        lines += notUndone(rollback, journal: journal)
        if !rollback.steps.isEmpty {
            lines.append("Consequences:")
            for entity in rollback.softDeletes {
                var line = "  - \(entity.kind) \(entity.id): v3 deletes \(entity.kind)s softly; the ID \(entity.id) stays taken until an admin purges it"
                line += " (DELETE /api/v3/\(entity.kind)s/\(entity.id)/purge, admin only)"
                if let eui = entity.eui { line += "; its EUI \(eui) is released and can be registered again" }
                lines.append(line + ".")
            }
            if !rollback.softDeletes.isEmpty {
                lines.append("  - Running `ttn-migrate run` with this journal afterwards fails on these IDs (409 id_taken) unless an admin purges them "
                    + "or you give them new IDs with `rename:` in the configuration.")
            }
            if rollback.devices > 0 {
                lines.append("  - \(plural(rollback.devices, "device")) \(rollback.devices == 1 ? "is" : "are") deleted from the registries this journal wrote, "
                    + "with \(rollback.devices == 1 ? "its" : "their") keys, session and frame counters in v3.")
            }
            if rollback.apiKeys > 0 {
                lines.append("  - \(plural(rollback.apiKeys, "API key")) created by this migration \(rollback.apiKeys == 1 ? "stops" : "stop") working; "
                    + "the journal forgets \(rollback.apiKeys == 1 ? "its secret" : "their secrets").")
            }
            lines.append("  - Nothing in v2 is changed.")
            lines.append("To delete: \(forceCommand)")
        }
        return lines.joined(separator: "\n")
    }

    /// Steps the rollback leaves as they are and why; empty when there are none.
    static func notUndone(_ rollback: RollbackPlan, journal: String) -> [String] {
        var lines: [String] = []
        if !rollback.unfinished.isEmpty {
            lines.append("Not undone: \(plural(rollback.unfinished.count, "step")) did not finish; what \(rollback.unfinished.count == 1 ? "it" : "they") may have created in v3 is left as it is:")
            for step in rollback.unfinished { lines.append("  - \(step.stepID) (\(step.state.rawValue))") }
            lines.append("  To include them, resume the run first (it checks them against v3), then roll back: see `ttn-migrate status --journal \(ShellQuoting.quote(journal))`.")
        }
        if !rollback.unresolved.isEmpty {
            lines.append("Not undone: \(plural(rollback.unresolved.count, "done step")) \(rollback.unresolved.count == 1 ? "is" : "are") not in the plan rebuilt from the frozen v2 estate and the configuration:")
            for step in rollback.unresolved { lines.append("  - \(step.stepID) (\(step.entity))") }
            lines.append("  The configuration (`rename:`, `users:`, `include:`) or the frozen estate (`run --refresh`) changed since the run: "
                + "restore the configuration the run used and roll back again, or delete these entities in v3 yourself.")
        }
        return lines
    }

    /// One line per finished deletion on stdout; retries on stderr.
    @Sendable static func printEvent(_ event: UndoEvent) {
        let console = Console.current
        let counter = "[\(event.finished)/\(event.total)]"
        switch event.kind {
        case .deleted: console.out("\(counter) done          \(event.step.action.summary)")
        case .alreadyGone: console.out("\(counter) already gone  \(event.step.action.summary) (recorded as rolled back)")
        case .failed: console.out("\(counter) FAILED        \(event.step.action.summary)")
        case .retrying: console.err("retry: \(event.message)")
        }
    }

    /// Prints the summary and throws the exit code: 130 interrupted, 1 deletions failed or left, 0 done.
    static func report(_ outcome: RollbackRunner.Outcome, journal: String, command: String) throws {
        let console = Console.current
        let summary = outcome.summary
        let rollback = outcome.rollback
        for failure in summary.failed { console.err("failed: \(failure.stepID): \(failure.message)") }
        let failedIDs = Set(summary.failed.map(\.stepID))
        let blockedIDs = Set(summary.blocked)
        let steps = Dictionary(rollback.steps.map { ($0.stepID, $0) }, uniquingKeysWith: { first, _ in first })
        for id in summary.blocked {
            let waits = (steps[id]?.after ?? []).filter { failedIDs.contains($0) || blockedIDs.contains($0) }
            let reason = summary.interrupted ? "stopped before it was sent" : "waits for \(waits.joined(separator: ", "))"
            console.err("not attempted: \(id): \(reason)")
        }
        for line in notUndone(rollback, journal: journal) { console.err(line) }
        let elapsed = seconds(summary.elapsed)
        if rollback.steps.isEmpty {
            var line = "rollback: nothing to roll back"
            if !rollback.alreadyRolledBack.isEmpty { line += " (\(plural(rollback.alreadyRolledBack.count, "step")) already rolled back)" }
            console.err(line + ". Journal: \(journal)")
        } else {
            console.err(
                "rollback: \(summary.deleted.count) deleted, \(summary.alreadyGone.count) already gone, \(summary.failed.count) failed, "
                    + "\(summary.blocked.count) not attempted; \(summary.requests) requests in \(String(format: "%.1f", elapsed)) s. Journal: \(journal)")
        }
        if summary.interrupted {
            console.err("interrupted; continue with: \(command)")
            throw ExitCode(130)
        }
        if !summary.failed.isEmpty || !summary.blocked.isEmpty || !rollback.unresolved.isEmpty {
            console.err("fix the causes above, then run the same command again (it continues where it stopped): \(command)")
            throw ExitCode(1)
        }
        let rolledBack = Set(summary.rolledBack)
        let soft = rollback.softDeletes.filter { rolledBack.contains($0.stepID) }
        if !soft.isEmpty {
            let shown = soft.prefix(10).map { "\($0.kind) \($0.id)" }.joined(separator: ", ")
            console.err("note: v3 keeps the IDs of deleted applications and gateways taken until an admin purges them: "
                + shown + (soft.count > 10 ? " and \(soft.count - 10) more" : ""))
        }
    }

    static func serverName(_ server: V3Server) -> String {
        switch server {
        case .identityServer: return "Identity Server"
        case .joinServer: return "Join Server"
        case .networkServer: return "Network Server"
        case .applicationServer: return "Application Server"
        }
    }

    static func plural(_ count: Int, _ noun: String) -> String {
        "\(count) \(noun)\(count == 1 ? "" : "s")"
    }
}
