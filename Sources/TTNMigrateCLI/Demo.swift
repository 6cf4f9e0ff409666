import ArgumentParser
import Executor
import Foundation
import Journal
import Plan
import Simulator
import V2Model

extension TTNMigrate {
    /// The one-command main job: the example estate migrated between built-in simulators (DESIGN.md §1 `demo`).
    struct Demo: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Migrate the example estate between built-in v2 and v3 simulators: snapshot, plan, run, diff, then a summary.",
            discussion: """
                Starts a v2 simulator serving examples/v2-estate.json and a v3 simulator (users alice, bob-smith and carol, \
                organization acme) on 127.0.0.1 with ports chosen by the OS, writes examples/migrate.yml with their URLs to \
                --out, and runs the real commands against them. Nothing leaves this machine; the simulators stop when the \
                demo ends.

                examples/ is looked for in the current directory, then above the executable (the repository it was built \
                in); --examples overrides both. The v2 token and the v3 API key are generated into 0600 files in --out and \
                never printed.

                Exit codes: 0 the migration finished (the example estate has steps skipped on purpose, such as a \
                collaborator without a v3 account); 1 steps failed, or v3 differs from the plan; 2 setup or input error; \
                130 interrupted.
                """)

        @Option(name: .long, help: "Folder for the configuration, secrets, snapshot, plan, journal and reports (created 0700; an earlier demo's files there are replaced).")
        var out: String = "demo-out"

        @Option(name: .long, help: "Folder holding v2-estate.json and migrate.yml (default: ./examples, else examples/ of the repository above the executable).")
        var examples: String?

        func run() async throws {
            let started = ContinuousClock.now
            let console = Console.current
            let currentDirectory = FileManager.default.currentDirectoryPath
            let found = try DemoExamples.locate(
                explicit: examples, currentDirectory: currentDirectory, executablePath: Bundle.main.executablePath)
            let (directory, removed) = try DemoDirectory.prepare(out, currentDirectory: currentDirectory)

            console.out("ttn-migrate demo: the example v2 estate migrated to a simulated The Things Stack v3, all on 127.0.0.1")
            console.out("  examples: \(found.directory)")
            if !removed.isEmpty {
                console.out("  replaced the files of an earlier demo in \(directory.displayPath) (\(removed.count) files)")
            }
            // Generated, never from the environment: the demo must not pick up a real token or key.
            let token = try V2SimulatorToken.resolve(environment: [:], tokenFile: directory.absolute.v2Token).token
            let apiKey = try V3SimulatorAPIKey.resolve(environment: [:], keyFile: directory.absolute.v3APIKey).key
            let simulators = try await DemoSimulators.start(estateFile: found.estateFile, token: token, apiKey: apiKey)

            let stop = StopSignal()
            let trap = SignalTrap { _ in
                stop.stop()
                console.err("\nstopping: letting requests in flight finish, then stopping the simulators")
            }
            let code: Int32
            do {
                code = try await DemoStages(
                    examples: found, directory: directory, simulators: simulators, stop: stop, started: started
                ).run()
            } catch {
                trap.cancel()
                await simulators.stop()
                throw error
            }
            trap.cancel()
            await simulators.stop()
            if code != 0 { throw ExitCode(code) }
        }
    }

    /// Whether this build has the subcommand `name` (the demo runs `diff` and mentions `status` only when present).
    static func hasSubcommand(_ name: String) -> Bool {
        configuration.subcommands.contains { $0._commandName == name }
    }
}

/// The two simulators of the demo, on 127.0.0.1 with OS-chosen ports.
struct DemoSimulators {
    /// The v3 accounts `examples/migrate.yml` expects: the owner, the `users:` targets and carol (who keeps her v2
    /// name). dave has no account on purpose: his collaborator steps are skipped, showing how a missing account
    /// is handled.
    static let users = ["alice", "bob-smith", "carol"]
    static let organizations = ["acme"]

    let v2: RunningV2Simulator
    let v3: RunningV3Simulator

    static func start(estateFile: String, token: String, apiKey: String) async throws -> DemoSimulators {
        let v2 = try await V2Simulator.start(estateFile: estateFile, token: token)
        do {
            let v3 = try await V3Simulator.start(config: V3SimulatorConfig(users: users, organizations: organizations, apiKey: apiKey))
            return DemoSimulators(v2: v2, v3: v3)
        } catch {
            await v2.stop()
            throw DemoError.simulatorsFailed(reason: "\(error)")
        }
    }

    /// Requests the v2 simulator received so far.
    var v2Requests: Int { v2.server.statistics.requests }
    /// Requests the v3 simulator received so far (every component).
    var v3Requests: Int { v3.servers.reduce(0) { $0 + $1.statistics.requests } }

    func stop() async {
        await v2.stop()
        await v3.stop()
    }
}

/// The demo's steps after setup: configuration, snapshot, plan, run, diff, summary. Returns the exit code.
struct DemoStages {
    let examples: DemoExamples
    let directory: DemoDirectory
    let simulators: DemoSimulators
    let stop: StopSignal
    let started: ContinuousClock.Instant

    private var console: Console { Console.current }
    /// The files as the commands are given them: under --out as the user wrote it (relative to the current
    /// directory, like a command typed by hand), so their messages name the paths the user knows.
    private var paths: DemoDirectory.Paths { directory.paths }
    private var stageCount: Int { 5 }

    func run() async throws -> Int32 {
        let configurationText: String
        do {
            configurationText = try String(contentsOfFile: examples.configurationFile, encoding: .utf8)
        } catch {
            throw DemoError.exampleConfiguration(path: examples.configurationFile, reason: "unreadable: \(error.localizedDescription)")
        }
        let rewritten = try DemoConfiguration.rewrite(
            configurationText, path: examples.configurationFile, v2BaseURL: simulators.v2.baseURL,
            v3BaseURL: simulators.v3.identityServerURL, tokenFile: directory.absolute.v2Token, apiKeyFile: directory.absolute.v3APIKey,
            journal: directory.absolute.journal)
        try SecureFile.writeAtomically(Data(rewritten.utf8), to: directory.absolute.configuration)
        let configuration = try MigrationConfiguration.load(path: directory.absolute.configuration)

        let handlers = simulators.v2.simulator.estate.handlerNames.joined(separator: ", ")
        console.out("")
        console.out("Simulators (they stop when the demo ends)")
        console.out("  v2  \(simulators.v2.baseURL)  account server /api/v2, handlers \(handlers); serves \(DemoExamples.estateName)")
        console.out("  v3  \(simulators.v3.identityServerURL)  Identity, Join, Network and Application Server; "
            + "users \(DemoSimulators.users.joined(separator: ", ")), organization \(DemoSimulators.organizations.joined(separator: ", "))")
        console.out("  configuration: \(directory.display("migrate.yml")) (\(DemoExamples.configurationName) with these URLs)")
        console.out("  token and API key: \(directory.display("v2-token")), \(directory.display("v3-api-key")) (0600, never printed)")

        // 1. Snapshot.
        stage(1, "snapshot", "read the whole v2 estate into \(directory.display("v2-snapshot.json"))")
        let v2Before = simulators.v2Requests
        let snapshotCode = await command(["snapshot", "--config", paths.configuration, "--out", paths.snapshot])
        let v2Requests = simulators.v2Requests - v2Before
        if snapshotCode != 0 { return stopped(at: "snapshot", code: snapshotCode) }
        if stop.isStopped { return interrupted() }

        // 2. Plan.
        stage(2, "plan", "the dry run, written to \(directory.display("plan.txt")) and \(directory.display("plan.json"))")
        let planInput = ["--config", paths.configuration, "--snapshot", paths.snapshot]
        for (format, file) in [("table", paths.planText), ("json", paths.planJSON)] {
            let code = await command(["plan"] + planInput + ["--format", format, "--out", file])
            if code != 0 { return stopped(at: "plan", code: code) }
        }
        let estate = try SnapshotFile.read(path: directory.absolute.snapshot)
        let plan = try Planner.plan(snapshot: estate, options: try configuration.mappingOptions())
        console.out("  \(plan.steps.count) steps, \(plan.renames.count) IDs changed for v3, \(plan.warnings.count) warnings, "
            + "\(plan.skipped.count) entities not migrated (plan.txt says why)")
        if stop.isStopped { return interrupted() }

        // 3. Run.
        stage(3, "run", "execute the plan against v3, recording every step in \(directory.display("journal.sqlite"))")
        let v3BeforeRun = simulators.v3Requests
        var settings = MigrationRunner.Settings(journalPath: paths.journal, snapshotPath: paths.snapshot)
        settings.concurrency = configuration.concurrency ?? 16
        settings.commandLine = ["ttn-migrate", "run"] + planInput + ["--journal", paths.journal]
        let runner = MigrationRunner(configuration: configuration, settings: settings)
        let progress = DemoProgress(console: console)
        let outcome = try await runner.run(stop: stop, events: progress.handle, notes: { console.err("  note: \($0)") })
        progress.finish()
        let v3RunRequests = simulators.v3Requests - v3BeforeRun
        let summary = outcome.summary
        console.out("  \(summary.done + summary.alreadyDone) steps done, \(outcome.skipped.count) skipped, \(summary.failed.count) failed, "
            + "\(summary.blocked.count) not run; \(v3RunRequests) requests to v3 in \(String(format: "%.2f", seconds(summary.elapsed))) s")
        if outcome.interrupted { return interrupted() }

        // 4. Diff.
        let v3BeforeDiff = simulators.v3Requests
        let diffCode = await diffStage()
        let v3DiffRequests = simulators.v3Requests - v3BeforeDiff

        // 5. Cut-over: the devices switch to v3 only, gateways are told where to connect.
        let cutoverCode = await cutoverStage()

        let journal = try JournalStore.openForReading(at: directory.absolute.journal)
        let steps: [StepRecord]
        do {
            steps = try await journal.steps()
        } catch {
            try? await journal.close()
            throw error
        }
        try await journal.close()

        printSummary(
            plan: plan, outcome: outcome, counts: MigratedCounts(steps: steps), diffCode: diffCode,
            requests: (v2: v2Requests, run: v3RunRequests, diff: v3DiffRequests))
        let migrationFailed = !summary.failed.isEmpty || !summary.blocked.isEmpty
        if migrationFailed { return 1 }
        return max(diffCode ?? 0, cutoverCode)
    }

    /// Runs `ttn-migrate cutover --force` on the journal (v3 counters raised, v2 keys cleared in the v2
    /// simulator), then writes diff.html again so the report shows the cut-over and the gateways' settings.
    private func cutoverStage() async -> Int32 {
        stage(5, "cutover", "switch the migrated devices to v3 only and print how to reconnect the gateways; the report \(directory.display("diff.html")) shows both")
        let code = await command(["cutover", "--config", paths.configuration, "--journal", paths.journal, "--force"])
        _ = await command([
            "diff", "--config", paths.configuration, "--snapshot", paths.snapshot, "--journal", paths.journal, "--format", "html", "--out", paths.diffHTML,
        ])
        return code
    }

    // MARK: diff (extension point)

    /// Runs `ttn-migrate diff` into diff.md and diff.html when this build has the `diff` command and returns its exit
    /// code (0 equal, 1 differences, 2 error); nil when the build has no `diff` (the stage is then reported as
    /// not available). The command is found by name, so registering `Diff` in `TTNMigrate` enables this stage.
    private func diffStage() async -> Int32? {
        guard TTNMigrate.hasSubcommand("diff") else {
            stage(4, "diff", "not available: this build of ttn-migrate has no `diff` command")
            return nil
        }
        stage(4, "diff", "compare v3 with the plan, written to \(directory.display("diff.md")) and \(directory.display("diff.html"))")
        var worst: Int32 = 0
        for (format, file) in [("md", paths.diffMarkdown), ("html", paths.diffHTML)] {
            let code = await command([
                "diff", "--config", paths.configuration, "--snapshot", paths.snapshot, "--journal", paths.journal,
                "--format", format, "--out", file,
            ])
            worst = max(worst, code)
        }
        switch worst {
        case 0: console.out("  v3 holds what the plan intended")
        case 1: console.out("  v3 differs from the plan: see \(directory.display("diff.md"))")
        default: console.out("  the comparison failed (see the error above)")
        }
        return worst
    }

    // MARK: output

    private func stage(_ number: Int, _ name: String, _ what: String) {
        console.out("")
        console.out("[\(number)/\(stageCount)] \(name): \(what)")
    }

    /// Runs one ttn-migrate command in-process, its output indented under the stage.
    private func command(_ arguments: [String]) async -> Int32 {
        let outer = console
        let indented = Console(
            out: { outer.out(Self.indent($0)) }, err: { outer.err(Self.indent($0)) }, isTerminal: outer.isTerminal)
        return await Console.$current.withValue(indented) {
            await CommandLineRunner.run(arguments)
        }
    }

    private static func indent(_ text: String) -> String {
        text.split(separator: "\n", omittingEmptySubsequences: false).map { "  " + $0 }.joined(separator: "\n")
    }

    private func stopped(at stage: String, code: Int32) -> Int32 {
        console.err("the demo stopped at the \(stage) stage (see the error above); nothing was written to v3")
        return code
    }

    private func interrupted() -> Int32 {
        console.err("interrupted; the files written so far are in \(directory.displayPath)")
        return 130
    }

    private func printSummary(
        plan: MigrationPlan, outcome: MigrationRunner.Outcome, counts: MigratedCounts, diffCode: Int32?,
        requests: (v2: Int, run: Int, diff: Int)
    ) {
        let summary = outcome.summary
        console.out("")
        console.out("Summary")
        for line in counts.lines { console.out(line) }
        console.out("  warnings: \(plan.warnings.count) in the plan, each with what to do about it (\(directory.display("plan.txt")))")
        console.out("  not migrated, by the plan (\(plan.skipped.count)):")
        for line in PlanSkipSummary.lines(plan.skipped) { console.out("    \(line)") }
        console.out("  skipped when run (\(outcome.skipped.count)):")
        for skip in outcome.skipped { console.out("    \(skip.stepID): \(skip.reason)") }
        if !summary.failed.isEmpty {
            console.out("  failed (\(summary.failed.count)):")
            for failure in summary.failed { console.out("    \(failure.stepID): \(failure.message)") }
        }
        if !summary.blocked.isEmpty {
            console.out("  not run, waiting on a failed step (\(summary.blocked.count)): \(summary.blocked.joined(separator: ", "))")
        }
        var requestLine = "  requests: \(requests.v2) to v2 (snapshot), \(requests.run) to v3 (run: \(summary.requests) for the steps, "
            + "\(requests.run - summary.requests) to check the target first)"
        if diffCode != nil { requestLine += ", \(requests.diff) to v3 (diff)" }
        console.out(requestLine)
        console.out("  wall time: \(String(format: "%.1f", seconds(ContinuousClock.now - started))) s")

        console.out("")
        let steps = "\(summary.done + summary.alreadyDone) steps done, \(outcome.skipped.count) skipped, \(summary.failed.count) failed"
        if summary.failed.isEmpty && summary.blocked.isEmpty {
            console.out("Result: the migration finished: \(steps).")
        } else {
            console.out("Result: the migration did NOT finish: \(steps), \(summary.blocked.count) not run.")
        }
        switch diffCode {
        case nil: console.out("  (no comparison: this build has no `diff` command)")
        case 0?: console.out("  v3 matches the plan.")
        case 1?: console.out("  v3 differs from the plan: \(directory.display("diff.md")).")
        default: console.out("  the comparison of v3 with the plan failed.")
        }

        console.out("")
        console.out("Reports in \(directory.displayPath):")
        var reports: [(String, String)] = [
            ("plan.txt", "the plan: steps, ID changes, warnings, what is not migrated"),
            ("plan.json", "the same plan as JSON (format ttn-migrate/plan, version 1)"),
            ("journal.sqlite", "the run's journal (0600): every step, its state and the new API key secrets"),
            ("v2-snapshot.json", "the v2 estate as read (0600: it holds keys)"),
            ("migrate.yml", "the configuration the demo used"),
        ]
        if diffCode != nil {
            reports.insert(contentsOf: [("diff.md", "v3 compared with the plan, entity by entity"), ("diff.html", "the same comparison as a web page")], at: 2)
        }
        let width = reports.map(\.0.count).max() ?? 0
        for (name, what) in reports {
            console.out("  \(name)\(String(repeating: " ", count: width - name.count))  \(what)")
        }
        console.out("")
        console.out("Next: read \(directory.display("plan.txt")); plan again, offline, with")
        console.out("  ttn-migrate plan --config \(directory.display("migrate.yml")) --snapshot \(directory.display("v2-snapshot.json"))")
        if TTNMigrate.hasSubcommand("status") {
            console.out("  ttn-migrate status --journal \(directory.display("journal.sqlite"))   (what the run did, step by step)")
        }
    }
}

/// The run's progress inside the demo: a live bar on a terminal; elsewhere only failures and retries, so the
/// summary is not buried under a hundred step lines.
final class DemoProgress: @unchecked Sendable {
    private let console: Console
    private let bar: RunProgress?

    init(console: Console) {
        self.console = console
        bar = console.isTerminal ? RunProgress(json: false) : nil
    }

    func handle(_ event: ExecutionEvent) {
        if let bar {
            bar.handle(event)
            return
        }
        switch event.kind {
        case .failed: console.out("  FAILED \(event.stepID): \(event.message)")
        case .retrying: console.out("  retry \(event.stepID): \(event.message)")
        case .rolledBack: console.out("  rolled back \(event.stepID)")
        case .done, .alreadyDone: break
        }
    }

    func finish() { bar?.finish() }
}
