import ArgumentParser
import Foundation
import HTTP
import Journal
import Mapping
import Plan
import Report
import V2Model
import V3Client

extension TTNMigrate {
    /// Compares what v3 holds with what the migration intends, entity by entity and field by field.
    struct Diff: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare what v3 holds now with what the migration intends, entity by entity and field by field.",
            discussion: """
                The intended state is the mapped v2 estate minus what the plan skipped (listed apart with the reason). \
                Each entity is equal, differs (the fields, with both values), missing in v3, or only in v3 (held under the \
                owner but unknown to the plan). Device keys are compared and never printed; API keys are compared by name \
                and rights. With a journal (--journal, or `journal:` of the configuration) the run's tag and the v2 estate \
                frozen beside the journal make the intended state exactly what `run` targeted. Only reads v3.

                Exit codes: 0 nothing differs, 1 something differs, 2 error. The JSON form is documented in README.md \
                (format ttn-migrate/diff, version 1).
                """)

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case table, md, json, csv, html

            var rendererFormat: DiffRenderer.Format {
                switch self {
                case .table: return .table
                case .md: return .md
                case .json: return .json
                case .csv: return .csv
                case .html: return .html
                }
            }
        }

        @OptionGroup var options: ConfigOptions
        @OptionGroup var input: SnapshotInputOptions

        @Option(name: .long, help: "The journal of the run to compare with (default: `journal:` of the configuration; none: API keys of any run match).")
        var journal: String?

        @Option(name: .long, help: "table, md, json, csv or html.")
        var format: Format = .table

        @Option(name: .long, help: "Write the report to this file (replaced atomically, mode 0600) instead of stdout.")
        var out: String?

        /// Reads in flight at most: the configuration's `concurrency:` (default 16, as `run`), capped: a diff only reads.
        static let maxConcurrency = 16

        func run() async throws {
            let console = Console.current
            let configuration = try options.load()
            let endpoints = try configuration.endpoints()
            guard let owner = configuration.target.owner else {
                throw ConfigurationError.missing(key: "target.owner", hint: "`{ user: ID }` or `{ organization: ID }`")
            }
            _ = try configuration.mappingOptions().validate()

            var runTag: String?
            var skippedSteps: [String: String] = [:]
            var journalRecords: (states: [String: StepState], cutover: [String: CutoverRecord])?
            let plan: MigrationPlan
            if let journalPath = journal ?? configuration.journal {
                let store = try JournalStore.openForReading(at: journalPath)
                let expected = JournalTarget(
                    identityServerURL: endpoints.identityServer, ownerKind: owner.kind == "user" ? .user : .organization, ownerID: owner.id)
                guard store.target == expected else {
                    try? await store.close()
                    throw DiffCommandError.journalOfAnotherTarget(journal: journalPath, journalTarget: store.target, configured: expected)
                }
                runTag = store.migrationTag
                let frozen = MigrationRunner.frozenSnapshotPath(journal: journalPath)
                let mapping: MappingOptions
                let frozenPlan: Task<MigrationPlan, any Error>?
                do {
                    mapping = try configuration.mappingOptions(runTag: store.migrationTag)
                    // The estate `run` froze beside the journal (MigrationRunner.frozenSnapshotPath), decoded and
                    // planned while the journal is read: each takes seconds on a large estate.
                    if FileManager.default.fileExists(atPath: frozen) {
                        if input.snapshot != nil {
                            console.err("note: comparing with the v2 estate frozen beside the journal (\(frozen)); --snapshot is not used")
                        }
                        frozenPlan = Task.detached { try Planner.plan(snapshot: SnapshotFile.read(path: frozen), options: mapping) }
                    } else {
                        frozenPlan = nil
                    }
                    // Each step's state, and the reasons of the skipped ones: not every step's whole record.
                    let states = try await store.stepProgress().mapValues(\.state)
                    for step in try await store.steps(in: [.skipped]) {
                        skippedSteps[step.id] = step.skipReason ?? "skipped by the run"
                    }
                    journalRecords = (states, try await store.cutoverRecords())
                    try await store.close()
                } catch {
                    try? await store.close()
                    throw error
                }
                if let frozenPlan {
                    plan = try await frozenPlan.value
                } else {
                    console.err("note: no v2 estate is frozen beside the journal (\(frozen)); comparing with \(input.snapshot ?? "the live v2 estate")")
                    plan = try Planner.plan(snapshot: try await input.estate(configuration: configuration), options: mapping)
                }
            } else {
                let mapping = try configuration.mappingOptions(runTag: MappingOptions.defaultRunTag)
                plan = try Planner.plan(snapshot: try await input.estate(configuration: configuration), options: mapping)
            }

            let intended = try IntendedState(plan: plan, runTag: runTag, skippedSteps: skippedSteps)

            let apiKey = V3APIKeySecret(try configuration.target.apiKey.resolve(what: "the v3 API key"))
            var http = HTTPClientConfiguration()
            http.caFile = configuration.target.caFile
            http.insecure = configuration.target.insecure
            let client = V3Client(http: HTTPClient(configuration: http), endpoints: endpoints, apiKey: apiKey)
            let concurrency = min(configuration.concurrency ?? Self.maxConcurrency, Self.maxConcurrency)
            let started = ContinuousClock.now
            let (observed, requests) = try await V3StateReader(client: client, concurrency: concurrency).read(intended)
            let elapsed = ContinuousClock.now - started

            var diff = DiffComparison.compare(intended: intended, observed: observed)
            if let journalRecords {
                diff.switchOver = try SwitchOverStatus(
                    plan: plan, states: journalRecords.states, cutover: journalRecords.cutover,
                    gatewayServerAddress: configuration.gatewayServerAddressForInstructions())
            }
            let rendered = DiffRenderer.render(diff, format: format.rendererFormat)
            let elapsedSeconds = seconds(elapsed)
            if let out {
                try SecureFile.writeAtomically(Data(rendered.utf8), to: out)
                console.err("wrote the diff to \(out): \(diff.summary.line)")
            } else {
                var text = rendered
                if text.unicodeScalars.last == "\n" { text.unicodeScalars.removeLast() }
                console.out(text)
            }
            console.err("read v3 with \(requests) requests in \(String(format: "%.1f", elapsedSeconds)) s")
            if diff.hasDifferences { throw ExitCode(1) }
        }
    }
}

/// Why `diff` cannot compare. Exit code 2.
enum DiffCommandError: Error, CustomStringConvertible {
    case journalOfAnotherTarget(journal: String, journalTarget: JournalTarget, configured: JournalTarget)

    var description: String {
        switch self {
        case .journalOfAnotherTarget(let journal, let journalTarget, let configured):
            return "the journal \(journal) belongs to \(journalTarget), but the configuration targets \(configured); "
                + "use the configuration the journal was made with, or leave out --journal (and `journal:`) to compare without it"
        }
    }
}
