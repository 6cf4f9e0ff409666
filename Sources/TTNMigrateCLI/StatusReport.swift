import Foundation
import Journal
import Report

/// The state of a migration as its journal records it: what `ttn-migrate status` prints.
///
/// Built from one read of the journal's runs, steps and activity; every count and list derives from
/// the same list of steps, so they agree with each other even while a run writes the journal.
///
/// JSON document `ttn-migrate/status` version 1 (UTF-8, one object, keys in this order; times are
/// ISO 8601 UTC with milliseconds, `null` when unknown):
///
/// ```
/// {
///   "format": "ttn-migrate/status", "version": 1,
///   "journal": {"path", "schema_version", "migration_tag",
///               "target": {"identity_server", "owner_kind": "user|organization", "owner_id"}, "run_in_progress": bool},
///   "result": "complete" | "complete_with_skips" | "unfinished" | "empty",
///   "exit_code": 0 | 1,
///   "runs": [{"id", "started_at", "finished_at", "outcome": "completed|failed|interrupted|stopped|running|no_end_recorded",
///             "tool_version", "command_line": [arg], "steps_done", "steps_failed", "steps_skipped",
///             "first_activity", "last_activity"}],
///   "steps": {"total", "done", "failed", "skipped", "pending", "in_flight", "rolled_back",
///             "by_entity_type": [{"entity_type", "total", "done", "failed", "skipped", "pending", "in_flight", "rolled_back"}]},
///   "devices": {"total", "migrated", "half_registered", "not_migrated"},
///   "timing": {"first_activity", "last_activity", "duration_seconds"},
///   "commands": {"resume", "resume_recorded": bool, "rollback_failed_devices"},
///   "steps_not_done": [{"id", "kind", "entity_type", "entity_key", "component": "is|js|ns|as", "state", "attempts",
///                       "last_error", "correlation_id", "skip_reason", "waits_for": {"id", "state"} | null,
///                       "last_attempt_at", "next_step"}],
///   "half_registered_devices": [{"device", "done": [component], "missing": [{"component", "state"}],
///                                "finish_command", "remove_command"}]
/// }
/// ```
/// A reader checks `format` and refuses a `version` newer than it knows; later versions of version 1's
/// shape only add keys. No secret is ever in it (the journal's errors hold none; API key secrets are
/// only exported by `ttn-migrate keys`).
struct StatusReport {
    /// The document's format name.
    static let formatName = "ttn-migrate/status"
    /// The document's format version.
    static let formatVersion = 1

    /// What the journal says about the migration as a whole.
    enum Result: String {
        /// Every step is done.
        case complete
        /// Every step is done or skipped (a skipped step is known impossible and carries its reason).
        case completeWithSkips = "complete_with_skips"
        /// Some step is failed, pending, in flight or rolled back.
        case unfinished
        /// No step recorded and no run completed: no run got past its checks yet.
        case empty
    }

    /// A run with how it ended.
    struct Run {
        var summary: RunSummary
        /// `completed`, `failed`, `interrupted`, `stopped`, `running` (the run holding the journal now) or
        /// `no_end_recorded` (killed, or the machine stopped).
        var outcome: String
    }

    /// A step that is not done, with what to do about it.
    struct OpenStep {
        var step: StepRecord
        /// The step it waits for, when that one is not done (pending steps only).
        var waitsFor: (id: String, state: StepState)?
        var next: String
    }

    /// A device with some of its IS/JS/NS/AS steps done and others not.
    struct HalfRegisteredDevice {
        var key: String
        var done: [StepComponent]
        var missing: [(component: StepComponent, state: StepState)]
    }

    /// How many devices are in each condition.
    struct DeviceCounts {
        var total = 0
        /// Every step of the device is done.
        var migrated = 0
        var halfRegistered = 0
        /// None of the device's steps is done.
        var notMigrated = 0
    }

    /// The commands that finish the migration, or remove devices that fail again.
    struct Commands {
        /// Resumes: the latest recorded `run` command line (without `--refresh`).
        var resume: String
        /// True if `resume` comes from the journal; false if no run recorded a usable command line.
        var recorded: Bool
        /// `resume` with `--on-device-failure rollback`.
        var rollback: String
    }

    let journalPath: String
    let target: JournalTarget
    let migrationTag: String
    let schemaVersion: Int
    let runInProgress: Bool
    let runs: [Run]
    let totalSteps: Int
    let stateCounts: [StepState: Int]
    let entityTypes: [(type: String, counts: [StepState: Int])]
    let devices: DeviceCounts
    let halfRegistered: [HalfRegisteredDevice]
    let activity: ActivitySpan?
    let openSteps: [OpenStep]
    let commands: Commands
    let result: Result

    /// 0 when nothing is left to do (complete, possibly with skipped steps), 1 otherwise.
    var exitCode: Int32 { result == .complete || result == .completeWithSkips ? 0 : 1 }

    /// The states in the order they are shown.
    static let stateOrder: [StepState] = [.done, .failed, .skipped, .pending, .inFlight, .rolledBack]

    /// The entity type of device steps (`device:<app>/<dev>:is|js|ns|as`).
    static let deviceEntityType = "device"

    /// Reads everything the report needs from `store`.
    static func read(_ store: JournalStore) async throws -> StatusReport {
        let inProgress = try store.isHeldByWriter()
        let runs = try await store.runs()
        let steps = try await store.steps()
        let activity = try await store.activity()
        return StatusReport(
            journalPath: store.path, target: store.target, migrationTag: store.migrationTag, schemaVersion: store.schemaVersion,
            runInProgress: inProgress, runs: runs, steps: steps, activity: activity)
    }

    /// Derives the report from the journal's records (`steps` in plan order).
    init(
        journalPath: String, target: JournalTarget, migrationTag: String, schemaVersion: Int, runInProgress: Bool,
        runs: [RunSummary], steps: [StepRecord], activity: ActivitySpan?
    ) {
        self.journalPath = journalPath
        self.target = target
        self.migrationTag = migrationTag
        self.schemaVersion = schemaVersion
        self.runInProgress = runInProgress
        self.activity = activity
        self.runs = runs.enumerated().map { index, run in
            let outcome: String
            if let recorded = run.outcome {
                outcome = recorded.rawValue
            } else if runInProgress && index == runs.count - 1 {
                outcome = "running"
            } else {
                outcome = "no_end_recorded"
            }
            return Run(summary: run, outcome: outcome)
        }

        var counts = Dictionary(uniqueKeysWithValues: StepState.allCases.map { ($0, 0) })
        var typeOrder: [String] = []
        var typeCounts: [String: [StepState: Int]] = [:]
        var byID: [String: StepState] = [:]
        for step in steps {
            counts[step.state, default: 0] += 1
            if typeCounts[step.entityType] == nil {
                typeOrder.append(step.entityType)
                typeCounts[step.entityType] = Dictionary(uniqueKeysWithValues: StepState.allCases.map { ($0, 0) })
            }
            typeCounts[step.entityType]![step.state, default: 0] += 1
            byID[step.id] = step.state
        }
        totalSteps = steps.count
        stateCounts = counts
        entityTypes = typeOrder.map { ($0, typeCounts[$0]!) }

        let commands = Self.commands(runs: runs, journalPath: journalPath)
        self.commands = commands

        // Devices: every step of a device on every component it has steps on.
        var deviceOrder: [String] = []
        var deviceSteps: [String: [StepRecord]] = [:]
        for step in steps where step.entityType == Self.deviceEntityType {
            if deviceSteps[step.entityKey] == nil { deviceOrder.append(step.entityKey) }
            deviceSteps[step.entityKey, default: []].append(step)
        }
        var deviceCounts = DeviceCounts()
        var half: [HalfRegisteredDevice] = []
        for key in deviceOrder.sorted() {
            let members = deviceSteps[key]!.sorted { ($0.component, $0.id) < ($1.component, $1.id) }
            deviceCounts.total += 1
            let done = members.filter { $0.state == .done }
            if done.count == members.count {
                deviceCounts.migrated += 1
            } else if done.isEmpty {
                deviceCounts.notMigrated += 1
            } else {
                deviceCounts.halfRegistered += 1
                half.append(HalfRegisteredDevice(
                    key: key, done: done.map(\.component),
                    missing: members.filter { $0.state != .done }.map { ($0.component, $0.state) }))
            }
        }
        devices = deviceCounts
        halfRegistered = half

        openSteps = steps.filter { $0.state != .done }.map { step in
            var waitsFor: (id: String, state: StepState)?
            if step.state == .pending, let dependency = Self.dependency(of: step.id), let state = byID[dependency], state != .done {
                waitsFor = (dependency, state)
            }
            return OpenStep(step: step, waitsFor: waitsFor, next: Self.nextStep(step, waitsFor: waitsFor, runInProgress: runInProgress))
        }

        let notDone = steps.count - counts[.done]! - counts[.skipped]!
        if steps.isEmpty {
            result = runs.contains { $0.outcome == .completed } ? .complete : .empty
        } else if notDone > 0 {
            result = .unfinished
        } else {
            result = counts[.skipped]! > 0 ? .completeWithSkips : .complete
        }
    }

    // MARK: Derivations

    /// The step a step waits for, from the step ID scheme of the planner (Plan/Planner.swift):
    /// a device's JS, NS and AS steps wait for its IS step; a device's IS step and an application's
    /// collaborators, API keys and link wait for `application:<app>:create`; a gateway's collaborators
    /// wait for `gateway:<gateway>:create`. IDs cannot hold `:` or `/` (v3 ID rule), so splitting is safe.
    static func dependency(of stepID: String) -> String? {
        let parts = stepID.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 3 else { return nil }
        switch parts[0] {
        case "device":
            guard parts.count == 3 else { return nil }
            if parts[2] == "is" {
                guard let slash = parts[1].firstIndex(of: "/") else { return nil }
                return "application:\(parts[1][..<slash]):create"
            }
            return ["js", "ns", "as"].contains(parts[2]) ? "device:\(parts[1]):is" : nil
        case "application", "gateway":
            return parts[2] == "create" ? nil : "\(parts[0]):\(parts[1]):create"
        default:
            return nil
        }
    }

    /// What the user does next about one step that is not done.
    static func nextStep(_ step: StepRecord, waitsFor: (id: String, state: StepState)?, runInProgress: Bool) -> String {
        switch step.state {
        case .failed:
            return runInProgress
                ? "fix the cause named in the error; the run in progress does not retry it, so resume once it ends"
                : "fix the cause named in the error, then resume (it reads v3 before sending again)"
        case .pending:
            if let waitsFor {
                return "waits for \(waitsFor.id) (\(waitsFor.state)); it runs once that step is done"
            }
            return runInProgress ? "queued in the run in progress" : "resume"
        case .inFlight:
            return runInProgress
                ? "being sent by the run in progress"
                : "its run stopped mid-request; resume: it reads v3 before sending again, so nothing is duplicated"
        case .skipped:
            return "do what the skip reason says, then resume: the step is tried again once v3 no longer makes it impossible"
        case .rolledBack:
            return "deleted from v3 by a rollback; resume to migrate it again (a rolled-back application or gateway ID stays taken in v3 until an admin purges it, or give it a new ID with `rename:`)"
        case .done:
            return "nothing"
        }
    }

    /// The resume command from the latest run that recorded a `ttn-migrate run` command line, without
    /// `--refresh` (a resume uses the frozen estate); without one, a template with the journal's path.
    static func commands(runs: [RunSummary], journalPath: String) -> Commands {
        let placeholder = "<configuration file>"
        let recorded = runs.last { $0.commandLine.count >= 2 && $0.commandLine[1] == "run" }?.commandLine
        let base: [String]
        if let recorded {
            base = ["ttn-migrate"] + removing(flag: "--refresh", from: Array(recorded.dropFirst()))
        } else {
            base = ["ttn-migrate", "run", "--config", placeholder, "--journal", journalPath]
        }
        let rollback = removing(option: "--on-device-failure", from: base) + ["--on-device-failure", "rollback"]
        func render(_ arguments: [String]) -> String {
            arguments.map { $0 == placeholder && recorded == nil ? $0 : ShellQuoting.quote($0) }.joined(separator: " ")
        }
        return Commands(resume: render(base), recorded: recorded != nil, rollback: render(rollback))
    }

    private static func removing(flag: String, from arguments: [String]) -> [String] {
        arguments.filter { $0 != flag }
    }

    /// Drops `option VALUE` and `option=VALUE`.
    private static func removing(option: String, from arguments: [String]) -> [String] {
        var result: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == option {
                index += 2
                continue
            }
            if !argument.hasPrefix(option + "=") { result.append(argument) }
            index += 1
        }
        return result
    }

    // MARK: Table

    /// The human rendering.
    func table() -> String {
        var lines: [String] = []
        lines.append("Journal  \(journalPath) (schema \(schemaVersion))")
        lines.append("Target   \(target); API key name tag [\(migrationTag)]")
        lines.append("Result   \(resultLine())")
        if runInProgress {
            lines.append("         a run holds the journal now: this is a snapshot of its progress")
        }

        lines.append("")
        lines.append("Runs (\(runs.count))")
        if runs.isEmpty {
            lines.append("  none recorded")
        } else {
            var rows = [["RUN", "STARTED", "ENDED", "OUTCOME", "VERSION", "DONE", "FAILED", "SKIPPED", "COMMAND"]]
            for run in runs {
                let summary = run.summary
                rows.append([
                    String(summary.id), StatusTime.text(summary.startedAt), summary.finishedAt.map(StatusTime.text) ?? "-",
                    run.outcome.replacingOccurrences(of: "_", with: " "), summary.toolVersion, String(summary.stepsDone),
                    String(summary.stepsFailed), String(summary.stepsSkipped),
                    summary.commandLine.map(ShellQuoting.quote).joined(separator: " "),
                ])
            }
            lines += TextTable.render(rows, rightAligned: [0, 5, 6, 7])
        }

        lines.append("")
        lines.append("Steps (\(totalSteps))")
        if totalSteps == 0 {
            lines.append("  none recorded")
        } else {
            var rows = [["ENTITY", "TOTAL"] + Self.stateOrder.map { $0.rawValue.uppercased() }]
            for (type, counts) in entityTypes {
                rows.append([type, String(counts.values.reduce(0, +))] + Self.stateOrder.map { String(counts[$0] ?? 0) })
            }
            rows.append(["all", String(totalSteps)] + Self.stateOrder.map { String(stateCounts[$0] ?? 0) })
            lines += TextTable.render(rows, rightAligned: Set(1...Self.stateOrder.count + 1))
        }

        lines.append("")
        lines.append("Devices (\(devices.total))")
        lines += TextTable.render([
            ["migrated (every step done)", String(devices.migrated)],
            ["half-registered", String(devices.halfRegistered)],
            ["not migrated (no step done)", String(devices.notMigrated)],
        ], rightAligned: [1])

        lines.append("")
        lines.append("Timing")
        if let activity {
            lines += TextTable.render([
                ["first activity", StatusTime.text(activity.first)],
                ["last activity", StatusTime.text(activity.last)],
                ["duration", StatusTime.duration(activity.duration)],
            ], rightAligned: [])
        } else {
            lines.append("  no step changed state yet")
        }

        if !openSteps.isEmpty {
            lines.append("")
            lines.append("Steps not done (\(openSteps.count))")
            for open in openSteps {
                let step = open.step
                let attempts = step.attempts == 1 ? "1 attempt" : "\(step.attempts) attempts"
                lines.append("  \(step.id)  [\(step.state.rawValue.replacingOccurrences(of: "_", with: " ")), \(attempts)]")
                lines.append("    entity: \(step.entityType) \(step.entityKey) on \(step.component.rawValue.uppercased())")
                if let error = step.lastError {
                    lines.append("    \(step.state == .failed ? "error" : "last error"): \(error)")
                }
                if let correlationID = step.lastErrorCorrelationID {
                    lines.append("    correlation ID: \(correlationID)")
                }
                if step.state == .skipped, let reason = step.skipReason {
                    lines.append("    skipped: \(reason)")
                }
                if let at = step.lastAttemptedAt {
                    lines.append("    last attempt: \(StatusTime.text(at))")
                }
                lines.append("    next: \(open.next)")
            }
        }

        if !halfRegistered.isEmpty {
            lines.append("")
            lines.append("Half-registered devices (\(halfRegistered.count)): in v3 on some servers only; not migrated until every step is done")
            var rows = [["DEVICE", "DONE", "MISSING"]]
            for device in halfRegistered {
                rows.append([
                    device.key, device.done.map(\.rawValue).joined(separator: ", "),
                    device.missing.map { "\($0.component.rawValue) (\($0.state.rawValue))" }.joined(separator: ", "),
                ])
            }
            lines += TextTable.render(rows, rightAligned: [])
            lines.append("  finish them: \(commands.resume)")
            lines.append("  or remove them: \(commands.rollback)")
            lines.append("    (a device whose remaining steps fail again is then deleted from v3, AS, NS, JS, IS)")
        }

        if result != .complete {
            lines.append("")
            lines.append("Next")
            switch result {
            case .unfinished, .empty:
                lines.append("  resume: \(commands.resume)")
            case .completeWithSkips:
                lines.append("  skipped steps: do what their reasons say, then resume: \(commands.resume)")
            case .complete:
                break
            }
            if !commands.recorded {
                lines.append("  (no run recorded its command line: put your configuration file in place of <configuration file>)")
            }
        }
        return lines.joined(separator: "\n")
    }

    private func resultLine() -> String {
        let done = stateCounts[.done] ?? 0
        switch result {
        case .complete:
            return totalSteps == 0 ? "complete: the plan had no steps" : "complete: all \(totalSteps) steps done"
        case .completeWithSkips:
            return "complete with skips: \(done) of \(totalSteps) steps done, \(stateCounts[.skipped] ?? 0) skipped (see below)"
        case .empty:
            return "nothing recorded yet: no run got past its checks"
        case .unfinished:
            let parts = Self.stateOrder.filter { $0 != .done }.compactMap { state -> String? in
                let count = stateCounts[state] ?? 0
                return count == 0 ? nil : "\(count) \(state.rawValue.replacingOccurrences(of: "_", with: " "))"
            }
            return "unfinished: \(totalSteps - done) of \(totalSteps) steps not done (\(parts.joined(separator: ", ")))"
        }
    }

    // MARK: JSON

    /// The JSON document described in the type's summary, ending with a newline.
    func json() -> String {
        func time(_ date: Date?) -> OrderedJSON { date.map { .string(StatusTime.precise($0)) } ?? .null }
        func optional(_ text: String?) -> OrderedJSON { text.map(OrderedJSON.string) ?? .null }
        func stateCountMembers(_ counts: [StepState: Int]) -> [(String, OrderedJSON)] {
            Self.stateOrder.map { ($0.rawValue, .integer(counts[$0] ?? 0)) }
        }

        let runs: [OrderedJSON] = self.runs.map { run in
            let summary = run.summary
            return .object([
                ("id", .integer(Int(summary.id))),
                ("started_at", time(summary.startedAt)),
                ("finished_at", time(summary.finishedAt)),
                ("outcome", .string(run.outcome)),
                ("tool_version", .string(summary.toolVersion)),
                ("command_line", .array(summary.commandLine.map(OrderedJSON.string))),
                ("steps_done", .integer(summary.stepsDone)),
                ("steps_failed", .integer(summary.stepsFailed)),
                ("steps_skipped", .integer(summary.stepsSkipped)),
                ("first_activity", time(summary.activity?.first)),
                ("last_activity", time(summary.activity?.last)),
            ])
        }
        let byType: [OrderedJSON] = entityTypes.map { type, counts in
            .object([("entity_type", .string(type)), ("total", .integer(counts.values.reduce(0, +)))] + stateCountMembers(counts))
        }
        let open: [OrderedJSON] = openSteps.map { open in
            let step = open.step
            return .object([
                ("id", .string(step.id)),
                ("kind", .string(step.kind)),
                ("entity_type", .string(step.entityType)),
                ("entity_key", .string(step.entityKey)),
                ("component", .string(step.component.rawValue)),
                ("state", .string(step.state.rawValue)),
                ("attempts", .integer(step.attempts)),
                ("last_error", optional(step.lastError)),
                ("correlation_id", optional(step.lastErrorCorrelationID)),
                ("skip_reason", optional(step.state == .skipped ? step.skipReason : nil)),
                ("waits_for", open.waitsFor.map { .object([("id", .string($0.id)), ("state", .string($0.state.rawValue))]) } ?? .null),
                ("last_attempt_at", time(step.lastAttemptedAt)),
                ("next_step", .string(open.next)),
            ])
        }
        let half: [OrderedJSON] = halfRegistered.map { device in
            .object([
                ("device", .string(device.key)),
                ("done", .array(device.done.map { .string($0.rawValue) })),
                ("missing", .array(device.missing.map {
                    .object([("component", .string($0.component.rawValue)), ("state", .string($0.state.rawValue))])
                })),
                ("finish_command", .string(commands.resume)),
                ("remove_command", .string(commands.rollback)),
            ])
        }
        let document: OrderedJSON = .object([
            ("format", .string(Self.formatName)),
            ("version", .integer(Self.formatVersion)),
            ("journal", .object([
                ("path", .string(journalPath)),
                ("schema_version", .integer(schemaVersion)),
                ("migration_tag", .string(migrationTag)),
                ("target", .object([
                    ("identity_server", .string(target.identityServerURL)),
                    ("owner_kind", .string(target.ownerKind.rawValue)),
                    ("owner_id", .string(target.ownerID)),
                ])),
                ("run_in_progress", .bool(runInProgress)),
            ])),
            ("result", .string(result.rawValue)),
            ("exit_code", .integer(Int(exitCode))),
            ("runs", .array(runs)),
            ("steps", .object([("total", .integer(totalSteps))] + stateCountMembers(stateCounts) + [("by_entity_type", .array(byType))])),
            ("devices", .object([
                ("total", .integer(devices.total)),
                ("migrated", .integer(devices.migrated)),
                ("half_registered", .integer(devices.halfRegistered)),
                ("not_migrated", .integer(devices.notMigrated)),
            ])),
            ("timing", .object([
                ("first_activity", time(activity?.first)),
                ("last_activity", time(activity?.last)),
                ("duration_seconds", activity.map { .decimal($0.duration, places: 3) } ?? .null),
            ])),
            ("commands", .object([
                ("resume", .string(commands.resume)),
                ("resume_recorded", .bool(commands.recorded)),
                ("rollback_failed_devices", .string(commands.rollback)),
            ])),
            ("steps_not_done", .array(open)),
            ("half_registered_devices", .array(half)),
        ])
        return document.rendered() + "\n"
    }
}

/// A JSON value whose objects keep the order their members are given in, so a document has the
/// documented, stable key order (`ttn-migrate status` and `ttn-migrate keys`).
indirect enum OrderedJSON: Sendable {
    case string(String)
    case integer(Int)
    /// A number written with a fixed number of decimals.
    case decimal(Double, places: Int)
    case bool(Bool)
    case null
    case array([OrderedJSON])
    case object([(String, OrderedJSON)])

    /// Two-space indented text; arrays of scalars stay on one line. No trailing newline.
    func rendered() -> String {
        var output = ""
        write(into: &output, indent: 0)
        return output
    }

    private var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    private func write(into output: inout String, indent: Int) {
        let pad = String(repeating: "  ", count: indent + 1)
        switch self {
        case .string(let text): output += DiffJSONText.quoted(text)
        case .integer(let value): output += String(value)
        case .decimal(let value, let places): output += String(format: "%.\(places)f", value)
        case .bool(let value): output += value ? "true" : "false"
        case .null: output += "null"
        case .array(let elements):
            if elements.isEmpty {
                output += "[]"
            } else if elements.allSatisfy(\.isScalar) {
                output += "["
                for (index, element) in elements.enumerated() {
                    if index > 0 { output += ", " }
                    element.write(into: &output, indent: indent)
                }
                output += "]"
            } else {
                output += "[\n"
                for (index, element) in elements.enumerated() {
                    output += pad
                    element.write(into: &output, indent: indent + 1)
                    output += index == elements.count - 1 ? "\n" : ",\n"
                }
                output += String(repeating: "  ", count: indent) + "]"
            }
        case .object(let members):
            if members.isEmpty {
                output += "{}"
                return
            }
            output += "{\n"
            for (index, (key, value)) in members.enumerated() {
                output += pad + DiffJSONText.quoted(key) + ": "
                value.write(into: &output, indent: indent + 1)
                output += index == members.count - 1 ? "\n" : ",\n"
            }
            output += String(repeating: "  ", count: indent) + "}"
        }
    }
}

/// Times as `status` and `keys` print them: ISO 8601 in UTC.
enum StatusTime {
    /// `2024-05-01T12:00:00Z`: for tables.
    static func text(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }

    /// `2024-05-01T12:00:00.123Z`: for JSON and CSV.
    static func precise(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// `0.7 s`, `12 min 05 s`, `2 h 03 min`.
    static func duration(_ seconds: TimeInterval) -> String {
        let seconds = max(0, seconds)
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let whole = Int(seconds.rounded())
        if whole < 3600 { return String(format: "%d min %02d s", whole / 60, whole % 60) }
        return String(format: "%d h %02d min", whole / 3600, (whole % 3600) / 60)
    }
}

/// Arguments written so a POSIX shell reads them back unchanged.
enum ShellQuoting {
    private static let safe = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_@%+=:,./-")

    /// The argument as is when it holds only safe characters, else in single quotes.
    static func quote(_ argument: String) -> String {
        if !argument.isEmpty && argument.allSatisfy({ safe.contains($0) }) { return argument }
        return "'" + argument.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

/// Aligned columns, two spaces apart, each row indented by two spaces; no trailing spaces.
enum TextTable {
    static func render(_ rows: [[String]], rightAligned: Set<Int>) -> [String] {
        let columns = rows.map(\.count).max() ?? 0
        var widths = Array(repeating: 0, count: columns)
        for row in rows {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return rows.map { row in
            var line = ""
            for (index, cell) in row.enumerated() {
                let padding = String(repeating: " ", count: widths[index] - cell.count)
                line += "  " + (rightAligned.contains(index) ? padding + cell : cell + padding)
            }
            while line.hasSuffix(" ") { line.removeLast() }
            return line
        }
    }
}
