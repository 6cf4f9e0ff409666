import ArgumentParser
import Foundation
import Plan
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

        func run() async throws {
            let configuration = try options.load()
            let mapping = try configuration.mappingOptions()
            let estate = try await input.estate(configuration: configuration)
            let plan = try Planner.plan(snapshot: estate, options: mapping)
            let rendered: Data
            switch format {
            case .table: rendered = Data(PlanRenderer.table(plan).utf8)
            case .json: rendered = try PlanRenderer.json(plan)
            }
            if let out {
                try SecureFile.writeAtomically(rendered, to: out)
                Console.current.err("wrote the plan to \(out): \(plan.summary.totalSteps) steps, \(plan.warnings.count) warnings")
            } else {
                Console.current.out(String(decoding: rendered, as: UTF8.self).trimmingCharacters(in: .newlines))
            }
        }
    }
}
