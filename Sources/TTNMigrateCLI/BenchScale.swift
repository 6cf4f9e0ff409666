import Foundation
import Plan
import V2Model
#if canImport(Glibc)
import Glibc
#endif

extension TTNMigrate.Bench {
    /// `--scale`: the commands an operator runs on a large estate, each as its own `ttn-migrate` process
    /// measured from outside (wall time and peak memory from `wait4`): `plan`, a first `run`, `run` again
    /// on the finished journal (a resume with nothing left to do), and `diff`, against one simulator.
    func measureScale() async throws {
        let console = Console.current
        let executable = try Self.simulatorExecutable(explicit: simulatorExecutable)
        let directory = try Self.makePrivateDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let snapshotFile = directory + "/v2-snapshot.json"
        let snapshot = SyntheticEstate.snapshot(applications: apps, gateways: gateways, devices: devices)
        try SnapshotFile.write(snapshot, to: snapshotFile)
        let deviceCount = snapshot.applications.reduce(0) { $0 + $1.handler.devices.count }
        console.err("bench --scale: \(snapshot.applications.count) applications, \(snapshot.gateways.count) gateways, \(deviceCount) devices; "
            + "the v3 simulator at \(latencyMilliseconds) ms latency; \(concurrency) requests in flight")

        let simulatorDirectory = directory + "/simulator"
        try FileManager.default.createDirectory(atPath: simulatorDirectory, withIntermediateDirectories: false, attributes: [.posixPermissions: 0o700])
        let simulator = try await BenchSimulatorProcess.start(
            executable: executable, directory: simulatorDirectory, users: [Self.owner], latencyMilliseconds: latencyMilliseconds)
        var phases: [ScalePhase] = []
        do {
            let configFile = directory + "/bench.yml"
            let yaml = """
                source:
                  account_server: http://127.0.0.1:9/api/v2
                target:
                  url: \(simulator.v3URL)
                  gateway_server_address: 127.0.0.1:1700
                  api_key_file: \(simulator.apiKeyFile)
                  owner: { user: \(Self.owner) }
                devices:
                  frequency_plan: EU_863_870_TTN
                  with_session: true
                journal: \(directory)/journal.sqlite

                """
            try SecureFile.writeAtomically(Data(yaml.utf8), to: configFile)
            let common = ["--config", configFile, "--snapshot", snapshotFile]
            let runArguments = ["run"] + common + ["--concurrency", String(concurrency)]
            let commands: [(name: String, arguments: [String], goal: ScalePhase.Goal?)] = [
                ("plan", ["plan"] + common + ["--out", directory + "/plan.txt"], ScalePhase.Goal(seconds: 10, megabytes: 300)),
                ("first run", runArguments, nil),
                ("resume", runArguments, ScalePhase.Goal(seconds: 5, megabytes: nil)),
                ("diff", ["diff"] + common + ["--out", directory + "/diff.txt"], ScalePhase.Goal(seconds: 60, megabytes: nil)),
            ]
            for command in commands {
                console.err("bench --scale: \(command.name): ttn-migrate \(command.arguments.first!) …")
                let before = try await simulator.statistics().requests
                let measured = try MeasuredProcess.run(
                    executable: executable, arguments: command.arguments, output: directory + "/\(command.name.replacingOccurrences(of: " ", with: "-")).log")
                let requests = try await simulator.statistics().requests - before
                // `run` and `diff` exit 1 when some step failed or v3 differs; only a crash or a usage error stops the bench.
                guard measured.status == 0 || measured.status == 1 else {
                    let log = (try? String(contentsOfFile: measured.output, encoding: .utf8)) ?? ""
                    throw BenchError.setup("\(command.name) exited with \(measured.status): \(log.suffix(600))")
                }
                phases.append(ScalePhase(name: command.name, seconds: measured.seconds, peakBytes: measured.peakResidentBytes,
                                         requests: requests, status: measured.status, goal: command.goal))
            }
        } catch {
            await simulator.stop()
            throw error
        }
        await simulator.stop()
        if json {
            let object: [String: Any] = [
                "applications": snapshot.applications.count, "gateways": snapshot.gateways.count, "devices": deviceCount,
                "latency_ms": latencyMilliseconds, "concurrency": concurrency, "phases": phases.map(\.jsonObject),
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            console.out(String(decoding: data, as: UTF8.self))
        } else {
            console.out("bench --scale: \(snapshot.applications.count) applications, \(snapshot.gateways.count) gateways, \(deviceCount) devices; "
                + "\(latencyMilliseconds) ms latency; \(concurrency) requests in flight; each command its own process")
            for phase in phases { console.out(phase.line) }
        }
    }
}

/// One command of `bench --scale` as measured.
struct ScalePhase {
    /// What the issue asks of the command (issue 12).
    struct Goal {
        var seconds: Double
        var megabytes: Double?
    }

    var name: String
    var seconds: Double
    var peakBytes: Int
    /// Requests the simulator received during the command.
    var requests: Int
    var status: Int32
    var goal: Goal?

    var megabytes: Double { Double(peakBytes) / 1_048_576 }
    var met: Bool? {
        goal.map { seconds <= $0.seconds && ($0.megabytes.map { megabytes <= $0 } ?? true) }
    }

    var line: String {
        var text = "  " + name.padding(toLength: 12, withPad: " ", startingAt: 0)
            + String(format: " %8.2f s, peak %6.0f MB, %7d requests, exit %d", seconds, megabytes, requests, status)
        if let goal, let met {
            text += String(format: "  (goal ≤ %.0f s", goal.seconds) + (goal.megabytes.map { String(format: ", ≤ %.0f MB", $0) } ?? "")
                + (met ? ": met)" : ": MISSED)")
        }
        return text
    }

    var jsonObject: [String: Any] {
        [
            "name": name, "seconds": rounded(seconds, 3), "peak_rss_mb": rounded(megabytes, 1), "requests": requests,
            "exit_status": Int(status), "goal_seconds": goal.map { $0.seconds } ?? NSNull(),
            "goal_peak_rss_mb": goal?.megabytes ?? NSNull(), "met": met ?? NSNull(),
        ]
    }
}

/// A child process measured from outside: wall time, and peak memory from its own `wait4` rusage.
enum MeasuredProcess {
    struct Result {
        var status: Int32
        var seconds: Double
        var peakResidentBytes: Int
        /// The file holding its standard output and error.
        var output: String
    }

    /// Runs `executable arguments` with stdin from /dev/null and stdout and stderr to `output` (0600).
    static func run(executable: String, arguments: [String], output: String) throws -> Result {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        let started = ContinuousClock.now
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else {
            throw BenchError.setup("cannot start \(executable): \(String(cString: strerror(spawned)))")
        }
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else { throw BenchError.setup("waiting for \(executable): \(String(cString: strerror(errno)))") }
        }
        let elapsed = ContinuousClock.now - started
        // WIFEXITED / WEXITSTATUS, which Swift does not import as functions.
        let exited = status & 0x7f == 0
        return Result(
            status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f),
            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18,
            peakResidentBytes: usage.ru_maxrss * 1024, output: output)
    }
}
