import ArgumentParser
import Executor
import Foundation

extension TTNMigrate {
    /// Executes the plan with a resumable journal.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Migrate: execute the plan against v3, recording every step in a resumable journal.",
            discussion: """
                The same command with the same journal resumes: steps not done are checked against v3 before anything is
                sent, so a run killed at any moment continues with no duplicate and nothing lost. Ctrl-C stops scheduling,
                lets requests in flight finish, records them and exits 130.
                """)

        @OptionGroup var options: ConfigOptions
        @OptionGroup var input: SnapshotInputOptions

        @Option(name: .long, help: "The journal (SQLite). Default: `journal:` of the configuration, else migration.sqlite.")
        var journal: String?

        @Option(name: .long, help: "Requests in flight at most (default: `concurrency:` of the configuration, else 16).")
        var concurrency: Int?

        @Option(name: .customLong("max-rate"), help: "Requests per minute at most to each v3 server address (components at one URL share it).")
        var maxRate: Int?

        @Option(name: .customLong("on-device-failure"), help: "resume (leave done steps; the next run completes the device) or rollback (delete what was created).")
        var onDeviceFailure: String = DeviceFailurePolicy.resume.rawValue

        @Option(name: .long, help: ArgumentHelp(
            "Only these devices (v2 or v3 IDs application/device, comma-separated or @FILE) and the applications they belong to.", valueName: "list"))
        var devices: String?

        @Flag(name: .long, help: "Re-read v2 (or --snapshot) instead of the estate frozen beside the journal, and show what changed.")
        var refresh = false

        @Flag(name: .long, help: "One JSON event per line on stdout.")
        var json = false

        @Option(name: .customLong("request-timeout"), help: "Seconds one v3 request may take before it is retried (default 30).")
        var requestTimeout: Int?

        func validate() throws {
            _ = try IDList.parse(devices, option: "--devices")
            if let concurrency, !(1...256).contains(concurrency) { throw ValidationError("--concurrency must be between 1 and 256") }
            if let requestTimeout, !(1...600).contains(requestTimeout) { throw ValidationError("--request-timeout must be between 1 and 600 seconds") }
            if let maxRate, maxRate < 1 { throw ValidationError("--max-rate must be at least 1 request per minute") }
            guard DeviceFailurePolicy(rawValue: onDeviceFailure) != nil else {
                throw ValidationError("--on-device-failure must be resume or rollback")
            }
        }

        func run() async throws {
            let configuration = try options.load()
            let journalPath = journal ?? configuration.journal ?? "migration.sqlite"
            var settings = MigrationRunner.Settings(journalPath: journalPath, snapshotPath: input.snapshot)
            settings.refresh = refresh
            settings.concurrency = concurrency ?? configuration.concurrency ?? 16
            settings.maxRatePerMinute = maxRate
            if let requestTimeout { settings.requestTimeout = .seconds(requestTimeout) }
            settings.onDeviceFailure = DeviceFailurePolicy(rawValue: onDeviceFailure)!
            settings.devices = try IDList.parse(devices, option: "--devices")
            settings.commandLine = resumeCommand(journalPath).split(separator: " ").map(String.init)
            let runner = MigrationRunner(configuration: configuration, settings: settings)

            let console = Console.current
            let progress = RunProgress(json: json)
            let stop = StopSignal()
            let trap = SignalTrap { _ in
                stop.stop()
                console.err("\nstopping: letting requests in flight finish (Ctrl-C again does not speed this up)")
            }
            defer { trap.cancel() }
            let outcome = try await runner.run(stop: stop, events: progress.handle, notes: { console.err("note: \($0)") })
            progress.finish()
            try Self.report(outcome, journal: journalPath, resume: resumeCommand(journalPath))
        }

        /// The command that resumes this run.
        func resumeCommand(_ journalPath: String) -> String {
            var parts = ["ttn-migrate", "run", "--config", options.config, "--journal", journalPath]
            for override in options.overrides { parts += ["--set", override.contains(" ") ? "'\(override)'" : override] }
            if let concurrency { parts += ["--concurrency", String(concurrency)] }
            if let maxRate { parts += ["--max-rate", String(maxRate)] }
            if let devices { parts += ["--devices", ShellQuoting.quote(devices)] }
            return parts.joined(separator: " ")
        }

        /// Prints the summary and throws the exit code: 130 interrupted, 1 failures, 0 done.
        static func report(_ outcome: MigrationRunner.Outcome, journal: String, resume: String) throws {
            let console = Console.current
            let summary = outcome.summary
            for failure in summary.failed {
                console.err("failed: \(failure.stepID): \(failure.message)")
            }
            for skip in outcome.skipped {
                console.err("skipped: \(skip.stepID): \(skip.reason)")
            }
            let elapsed = seconds(summary.elapsed)
            console.err(
                "\(outcome.resumed ? "resumed" : "run"): \(summary.done) done, \(summary.alreadyDone) already in v3, \(summary.failed.count) failed, "
                    + "\(summary.blocked.count) waiting on a failed or skipped step, \(outcome.skipped.count) skipped; "
                    + "\(summary.requests) requests in \(String(format: "%.1f", elapsed)) s. Journal: \(journal)")
            if outcome.interrupted {
                console.err("interrupted; resume with: \(resume)")
                throw ExitCode(130)
            }
            if !summary.failed.isEmpty || !summary.blocked.isEmpty {
                console.err("see `ttn-migrate status --journal \(journal)`; fix the causes above, then resume with: \(resume)")
                throw ExitCode(1)
            }
        }
    }
}
