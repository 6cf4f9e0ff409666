import ArgumentParser
import Executor
import Foundation
import HTTP
import Plan
import V3Client
import V2Model

extension TTNMigrate {
    /// The dry run: what the migration will do, with every rename and warning. Writes nothing.
    struct Plan: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the ordered steps, renames and warnings of the migration without writing anything.",
            discussion: "The same input gives the same bytes. The JSON form is documented in README.md (format ttn-migrate/plan, version 1).")

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case table, json
        }

        @OptionGroup var options: ConfigOptions
        @OptionGroup var input: SnapshotInputOptions

        @Option(name: .long, help: "table or json.")
        var format: Format = .table

        @Option(name: .long, help: "Write the plan to this file instead of stdout.")
        var out: String?

        @Flag(name: .customLong("check-target"), help: "Also read v3 (auth_info, accounts, IDs) and report what would collide or fail. Writes nothing.")
        var checkTarget = false

        func run() async throws {
            let configuration = try options.load()
            let mapping = try configuration.mappingOptions()
            // The v2 estate is not kept once mapped: its memory goes to the plan.
            let plan = try Planner.plan(snapshot: try await input.estate(configuration: configuration), options: mapping)
            if let out {
                try SecureFile.writeAtomically(to: out) { write in
                    switch format {
                    case .table: try PlanRenderer.writeTable(plan) { try write(Data($0.utf8)) }
                    case .json: try PlanRenderer.writeJSON(plan, to: write)
                    }
                }
                Console.current.err("wrote the plan to \(out): \(plan.summary.totalSteps) steps, \(plan.warnings.count) warnings")
            } else {
                // Every piece ends with a newline, which `out` adds back.
                let console = Console.current
                switch format {
                case .table: PlanRenderer.writeTable(plan) { console.out(String($0.dropLast())) }
                case .json: try PlanRenderer.writeJSON(plan) { console.out(String(decoding: $0.dropLast(), as: UTF8.self)) }
                }
            }
            if checkTarget {
                try await Self.check(plan, configuration: configuration)
            }
        }

        /// Reads v3 and reports blockers, steps `run` will skip and steps that would fail; exit 1 only when
        /// `run` would fail (a blocker, or a step waiting on a skipped one).
        static func check(_ plan: MigrationPlan, configuration: MigrationConfiguration) async throws {
            let apiKey = V3APIKeySecret(try configuration.target.apiKey.resolve(what: "the v3 API key"))
            let http = HTTPClient(configuration: HTTPClientConfiguration(caFile: configuration.target.caFile, insecure: configuration.target.insecure))
            let client = V3Client(http: http, endpoints: try configuration.endpoints(), apiKey: apiKey)
            let report = try await TargetCheck.run(plan: plan, client: client)
            Console.current.err("Target check (\(report.requests) reads, nothing written):")
            for line in report.lines { Console.current.err("  " + line) }
            if report.runWouldFail { throw ExitCode(1) }
        }
    }
}
