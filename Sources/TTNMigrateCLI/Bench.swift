import ArgumentParser
import Executor
import Foundation
import Plan
import V2Model
import V3Model

extension TTNMigrate {
    /// The benchmark: a generated estate migrated into the v3 simulator with a set latency (DESIGN.md §8).
    struct Bench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure a migration of a generated estate into the v3 simulator with a set latency per request.",
            discussion: """
                Generates an estate (the same for the same numbers), writes it as a v2 snapshot and runs the real \
                migration (`run --snapshot`: v2 is not read, so its pacing does not count) against the v3 simulator, \
                which runs as `ttn-migrate simulate` in a child process with --latency-ms added to every request.

                Prints wall time, requests and requests/s beside the ideal (concurrency ÷ latency), client CPU per request \
                (this process), simulator CPU per request (the child, from its /_sim/stats), peak memory of both, and the \
                latency each request really had in the simulator (its request log), checked against --latency-ms.

                --simulator-only measures the v3 simulator alone, in this process: --concurrency connections each register \
                their share of --devices (IS create, JS/NS/AS set, IS get), then the same load against the bare HTTP server; \
                it prints requests/s beside the ideal, the latency the clients saw, and the simulator's CPU per request.

                --rate-limit R gives the simulator The Things Stack's limit of R requests per minute (GCRA, burst R) and \
                prints how many requests were answered 429, the pace after the burst beside R, and how many requests \
                came in the second after a 429.

                --scale runs `plan`, a first `run`, `run` again on the finished journal (a resume with nothing to do) and \
                `diff` on the generated estate, each as its own ttn-migrate process, and prints each one's wall time, peak \
                memory (from wait4) and requests beside its goal; e.g. --scale --apps 2000 --gateways 10000 --devices 100000 \
                --latency-ms 0 --concurrency 64.

                --write-snapshot FILE only writes the generated estate (e.g. to time `plan --snapshot FILE`).
                Exit codes: 0 done, 1 some steps failed, 2 setup error, 130 interrupted.
                """)

        @Option(name: .long, help: "Applications to generate.")
        var apps: Int = 50

        @Option(name: .long, help: "Gateways to generate.")
        var gateways: Int = 20

        @Option(name: .long, help: "Devices to generate (spread over the applications).")
        var devices: Int = 1000

        @Option(name: .customLong("latency-ms"), help: "Latency the simulator adds to every request, in milliseconds.")
        var latencyMilliseconds: Int = 20

        @Option(name: .long, help: "Requests in flight at most.")
        var concurrency: Int = 16

        @Flag(name: .long, help: "Print one JSON object instead of text.")
        var json = false

        @Option(name: .customLong("write-snapshot"), help: "Only write the generated estate to this v2 snapshot file (0600) and stop.")
        var writeSnapshot: String?

        @Flag(name: .customLong("simulator-only"), help: "Measure the v3 simulator alone under a device-registration load (no migration).")
        var simulatorOnly = false

        @Flag(name: .long, help: "Also migrate the same estate one request at a time into a new simulator, and print both and their ratio.")
        var sequential = false

        @Flag(name: .long, help: "Time plan, a first run, a resume of the finished journal and diff, each as its own process (use with --latency-ms 0 and a large estate).")
        var scale = false

        @Option(name: .customLong("rate-limit"), help: "Requests per minute the simulator accepts before answering 429 (GCRA, burst as large as the limit); prints the run's pace and 429s beside it.")
        var rateLimit: Int?

        @Option(name: .customLong("simulator-executable"), help: "The ttn-migrate binary that runs the simulator (default: this program).")
        var simulatorExecutable: String?

        func validate() throws {
            for (name, value) in [("--apps", apps), ("--gateways", gateways), ("--devices", devices)] where !(0...1_000_000).contains(value) {
                throw ValidationError("\(name) must be between 0 and 1000000")
            }
            if apps + gateways + devices == 0 { throw ValidationError("nothing to migrate: give --apps, --gateways or --devices above 0") }
            if !(0...60_000).contains(latencyMilliseconds) { throw ValidationError("--latency-ms must be between 0 and 60000") }
            if !(1...256).contains(concurrency) { throw ValidationError("--concurrency must be between 1 and 256") }
            if let rateLimit, !(1...1_000_000).contains(rateLimit) { throw ValidationError("--rate-limit must be between 1 and 1000000 requests per minute") }
            if scale, simulatorOnly || sequential || writeSnapshot != nil || rateLimit != nil {
                throw ValidationError("--scale times the commands on their own: drop --simulator-only, --sequential, --write-snapshot and --rate-limit")
            }
            if rateLimit != nil, simulatorOnly { throw ValidationError("--rate-limit measures a migration's pace: drop --simulator-only") }
            if simulatorOnly {
                if writeSnapshot != nil { throw ValidationError("--simulator-only generates no estate: drop --write-snapshot") }
                if sequential { throw ValidationError("--sequential compares migrations: drop --simulator-only") }
                if devices < concurrency {
                    throw ValidationError("--simulator-only needs at least one device per connection: --devices \(devices) is below --concurrency \(concurrency)")
                }
            }
        }

        func run() async throws {
            if simulatorOnly { return try await measureSimulatorAlone() }
            if scale { return try await measureScale() }
            let console = Console.current
            let snapshot = SyntheticEstate.snapshot(applications: apps, gateways: gateways, devices: devices)
            let counts = (
                applications: snapshot.applications.count, gateways: snapshot.gateways.count,
                devices: snapshot.applications.reduce(0) { $0 + $1.handler.devices.count })
            if let writeSnapshot {
                try SnapshotFile.write(snapshot, to: writeSnapshot)
                console.out("wrote \(writeSnapshot): \(counts.applications) applications, \(counts.gateways) gateways, \(counts.devices) devices")
                return
            }
            let executable = try Self.simulatorExecutable(explicit: simulatorExecutable)
            let directory = try Self.makePrivateDirectory()
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let snapshotFile = directory + "/v2-snapshot.json"
            try SnapshotFile.write(snapshot, to: snapshotFile)

            // The v3 accounts: the owner, then every collaborator the plan sets (so no step is skipped).
            let configuration = Self.configuration(v3URL: "http://127.0.0.1:9", apiKeyFile: directory + "/v3-api-key")
            let plan = try Planner.plan(snapshot: snapshot, options: try configuration.mappingOptions())
            let users = [Self.owner] + Self.collaboratorUsers(plan).filter { $0 != Self.owner }
            if !json {
                console.err("bench: \(counts.applications) applications, \(counts.gateways) gateways, \(counts.devices) devices "
                    + "(\(plan.steps.count) steps); starting the v3 simulator with \(latencyMilliseconds) ms latency")
            }

            let result = try await measureOnce(
                concurrency: concurrency, executable: executable, directory: directory, users: users, snapshotFile: snapshotFile, counts: counts)
            var baseline: BenchResult?
            if sequential {
                console.err("bench: the same estate one request at a time (--sequential), into a new simulator")
                baseline = try await measureOnce(
                    concurrency: 1, executable: executable, directory: directory, users: users, snapshotFile: snapshotFile, counts: counts)
            }
            let speedup = baseline.map { $0.wallSeconds / result.wallSeconds }
            if json {
                guard let baseline, let speedup else { return console.out(try result.json()) }
                let object: [String: Any] = [
                    "concurrent": result.jsonObject, "sequential": baseline.jsonObject,
                    "speedup": significant(speedup, 3), "speedup_bound": concurrency,
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                console.out(String(decoding: data, as: UTF8.self))
            } else {
                for line in result.lines { console.out(line) }
                if let baseline, let speedup {
                    console.out("sequential (one request at a time, in the executor's order):")
                    for line in baseline.lines { console.out(line) }
                    console.out(String(format: "  speedup        %.1f× (wall %.2f s one at a time ÷ %.2f s with %d in flight; the bound is %d×)",
                                       speedup, baseline.wallSeconds, result.wallSeconds, concurrency, concurrency))
                }
            }
            let failed = result.failedSteps + (baseline?.failedSteps ?? 0)
            if failed > 0 {
                console.err("bench: \(failed) steps failed; the figures include them")
                throw ExitCode(1)
            }
        }

        /// One measured migration into a new simulator with a new journal; exit 130 when interrupted.
        private func measureOnce(
            concurrency: Int, executable: String, directory: String, users: [String], snapshotFile: String,
            counts: (applications: Int, gateways: Int, devices: Int)
        ) async throws -> BenchResult {
            let simulatorDirectory = directory + "/simulator-c\(concurrency)"
            try FileManager.default.createDirectory(atPath: simulatorDirectory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
            let simulator = try await BenchSimulatorProcess.start(
                executable: executable, directory: simulatorDirectory, users: users, latencyMilliseconds: latencyMilliseconds,
                rateLimitPerMinute: rateLimit)
            let measured: BenchResult?
            do {
                let configuration = Self.configuration(v3URL: simulator.v3URL, apiKeyFile: simulator.apiKeyFile)
                measured = try await measure(
                    configuration: configuration, snapshotFile: snapshotFile, journal: directory + "/journal-c\(concurrency).sqlite",
                    simulator: simulator, counts: counts, concurrency: concurrency)
            } catch {
                await simulator.stop()
                throw error
            }
            await simulator.stop()
            guard let measured else {
                Console.current.err("bench: interrupted; no figures")
                throw ExitCode(130)
            }
            return measured
        }

        /// Runs the migration between two readings of both processes' counters; nil when interrupted (Ctrl-C
        /// reaches the simulator too, so it cannot be read any more).
        private func measure(
            configuration: MigrationConfiguration, snapshotFile: String, journal: String, simulator: BenchSimulatorProcess,
            counts: (applications: Int, gateways: Int, devices: Int), concurrency: Int
        ) async throws -> BenchResult? {
            let console = Console.current
            var settings = MigrationRunner.Settings(journalPath: journal, snapshotPath: snapshotFile)
            settings.concurrency = concurrency
            settings.commandLine = ["ttn-migrate"] + CommandLine.arguments.dropFirst()
            let runner = MigrationRunner(configuration: configuration, settings: settings, environment: [:])
            let stop = StopSignal()
            let trap = SignalTrap { _ in stop.stop() }
            defer { trap.cancel() }

            let simulatorBefore = try await simulator.statistics()
            let clientBefore = ProcessUsage.current()
            let started = ContinuousClock.now
            let outcome = try await runner.run(stop: stop, events: { _ in }, notes: { console.err("note: \($0)") })
            let wall = ContinuousClock.now - started
            let clientAfter = ProcessUsage.current()
            if outcome.interrupted || stop.isStopped { return nil }
            let simulatorAfter = try await simulator.statistics()
            let records = try await simulator.requestRecords()
            let summary = outcome.summary
            let result = BenchResult(
                applications: counts.applications, gateways: counts.gateways, devices: counts.devices,
                latencyMilliseconds: latencyMilliseconds, concurrency: concurrency,
                steps: summary.done + summary.alreadyDone + summary.failed.count, failedSteps: summary.failed.count,
                skippedSteps: outcome.skipped.count, requests: summary.requests,
                checkRequests: simulatorAfter.requests - simulatorBefore.requests - summary.requests,
                wallSeconds: seconds(wall), executionSeconds: seconds(summary.elapsed),
                clientCPUSeconds: clientAfter.cpuSeconds - clientBefore.cpuSeconds,
                simulatorCPUSeconds: simulatorAfter.processCPUSeconds - simulatorBefore.processCPUSeconds,
                clientPeakResidentBytes: clientAfter.peakResidentBytes, simulatorPeakResidentBytes: simulator.peakResidentBytes(),
                latencies: records.map(\.totalSeconds).sorted(),
                rateLimit: rateLimit.map { limit in
                    RateLimitFigures(
                        limitPerMinute: limit, concurrency: concurrency, requests: records.map { .init(received: $0.received, finished: $0.finished, refused: $0.rateLimited) })
                })
            return result
        }

        /// The owner of everything the generated estate creates (`SyntheticEstate`'s v2 owner).
        static let owner = "bench-owner"

        /// The configuration the benchmark migrates with: everything on `v3URL`, the key from a file.
        static func configuration(v3URL: String, apiKeyFile: String) -> MigrationConfiguration {
            var configuration = MigrationConfiguration()
            configuration.source.accountServer = "http://127.0.0.1:9/api/v2"  // never read: the snapshot is the input
            configuration.target.url = v3URL
            configuration.target.apiKey = .file(apiKeyFile)
            configuration.target.owner = .user(owner)
            configuration.target.gatewayServerAddress = "127.0.0.1:1700"
            configuration.devices.frequencyPlan = "EU_863_870_TTN"
            configuration.devices.withSession = true
            return configuration
        }

        /// The v3 user IDs the plan makes collaborators, sorted.
        static func collaboratorUsers(_ plan: MigrationPlan) -> [String] {
            var users = Set<String>()
            for step in plan.steps {
                switch step.payload {
                case .applicationCollaborator(_, let collaborator), .gatewayCollaborator(_, let collaborator):
                    if collaborator.ids.kindName == "user" { users.insert(collaborator.ids.id) }
                default: break
                }
            }
            return users.sorted()
        }

        /// `explicit`, or this program when it is ttn-migrate (a test runner is not: it must name the binary).
        static func simulatorExecutable(explicit: String?) throws -> String {
            if let explicit {
                guard FileManager.default.isExecutableFile(atPath: explicit) else {
                    throw BenchError.setup("--simulator-executable \(explicit) is not an executable file")
                }
                return explicit
            }
            let own = Bundle.main.executablePath ?? CommandLine.arguments[0]
            guard URL(fileURLWithPath: own).lastPathComponent == "ttn-migrate" else {
                throw BenchError.noSimulatorExecutable(running: own)
            }
            return own
        }

        /// A new directory only the current user can enter (0700), for the snapshot, journal and the child's secrets.
        static func makePrivateDirectory() throws -> String {
            let path = NSTemporaryDirectory() + "ttn-migrate-bench-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw BenchError.setup("cannot create a temporary directory \(path): \(error.localizedDescription)")
            }
            return path
        }
    }
}
