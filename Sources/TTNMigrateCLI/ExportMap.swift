import ArgumentParser
import Foundation
import Journal
import Report
import V2Model

extension TTNMigrate {
    /// Writes the old→new ID map of a migration for the operator's own systems.
    struct ExportMap: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-map",
            abstract: "Write the v2→v3 map of a migration: one row per entity with its v2 and v3 IDs, state and, when not migrated, why.",
            discussion: """
                Rows cover applications, collaborators, API keys (v2 key name and v3 key ID), payload formatter links, \
                gateways and devices (with their cut-over state), then the entities the plan left out, then per \
                application what ttn-migrate does not migrate (integrations, webhooks, MQTT access) and what to do. \
                The plan is rebuilt from the v2 estate frozen beside the journal and the configuration, as `run` builds \
                it. Nothing is sent anywhere; the file is replaced atomically (mode 0600). No secret is written.
                """)

        @OptionGroup var options: ConfigOptions

        @Option(name: .long, help: "The journal written by `ttn-migrate run`.")
        var journal: String

        @Option(name: .long, help: "The file to write.")
        var out: String

        @Option(name: .long, help: "csv (RFC 4180, a header line) or json.")
        var format: String = "csv"

        func validate() throws {
            guard ["csv", "json"].contains(format) else { throw ValidationError("--format must be csv or json") }
        }

        func run() async throws {
            let configuration = try options.load()
            let map = try await Self.build(configuration: configuration, journal: journal)
            let data = format == "csv" ? Data(map.csv().utf8) : try map.json()
            try SecureFile.writeAtomically(data, to: out)
            var counts: [String: Int] = [:]
            for row in map.rows { counts[row.state, default: 0] += 1 }
            let summary = counts.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            Console.current.err("wrote \(map.rows.count) rows to \(out): \(summary)")
        }

        /// The map of the journal's migration.
        static func build(configuration: MigrationConfiguration, journal: String) async throws -> IDMap {
            let context = JournalPlanContext(configuration: configuration, journalPath: journal, command: "export-map")
            return try await context.reading(options: JournalOptions()) { store in
                IDMap.build(
                    plan: try context.rebuildPlan(store).plan, steps: try await store.steps(), apiKeys: try await store.apiKeys(),
                    cutover: try await store.cutoverRecords())
            }
        }
    }
}
