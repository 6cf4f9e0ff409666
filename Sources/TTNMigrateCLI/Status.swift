import ArgumentParser
import Foundation
import Journal

extension TTNMigrate {
    /// Shows what a migration's journal records: runs, step counts, devices, what is not done and why.
    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show a migration's progress from its journal: runs, steps, devices, failures and what to do next.",
            discussion: """
                Opens the journal read-only; it works while a run writes it. Lists every step that is not done with its state,
                attempts, last error, the server's correlation ID and the next step, and every half-registered device (some of
                its IS/JS/NS/AS steps done, others not) with the command that finishes or removes it.
                Exit codes: 0 every step done (or skipped with a reason), 1 steps failed or remain, 2 the journal cannot be read.
                The JSON form (format ttn-migrate/status, version 1) is documented in README.md.
                """)

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case table, json
        }

        @Option(name: .long, help: "The journal written by `ttn-migrate run`.")
        var journal: String

        @Option(name: .long, help: "table or json.")
        var format: Format = .table

        func run() async throws {
            let console = Console.current
            let store = try JournalStore.openForReading(at: journal)
            let report: StatusReport
            do {
                for warning in store.warnings { console.err("warning: \(warning)") }
                report = try await StatusReport.read(store)
            } catch {
                try? await store.close()
                throw error
            }
            try? await store.close()
            switch format {
            case .table: console.out(report.table())
            case .json: console.out(String(report.json().dropLast()))
            }
            if report.exitCode != 0 { throw ExitCode(report.exitCode) }
        }
    }
}
