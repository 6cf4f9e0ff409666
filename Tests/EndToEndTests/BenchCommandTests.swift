import Foundation
import Testing
@testable import TTNMigrateCLI
import V2Model

/// `ttn-migrate bench` with tiny numbers: the simulator runs as `ttn-migrate simulate` in a child process, so the
/// test names the binary the build made next to the test runner. No assertion on timing.
@Suite struct BenchCommandTests {
    @Test func tinyBenchPrintsOneJSONObjectWithSaneFigures() async throws {
        let result = await runCLI([
            "bench", "--apps", "2", "--gateways", "2", "--devices", "10", "--latency-ms", "1", "--concurrency", "16", "--json",
            "--simulator-executable", try ttnMigrateExecutable(),
        ])
        #expect(result.code == 0, "\(result.err)")
        let object = try #require(try jsonObject(result.out) as? [String: Any])
        let expectedKeys: Set<String> = [
            "applications", "gateways", "devices", "latency_ms", "concurrency", "steps", "failed_steps", "skipped_steps",
            "requests", "check_requests", "wall_seconds", "execution_seconds", "requests_per_second",
            "ideal_requests_per_second", "ratio_to_ideal", "client_cpu_us_per_request", "simulator_cpu_us_per_request",
            "client_peak_rss_mb", "simulator_peak_rss_mb", "latency_median_ms", "latency_p90_ms", "latency_min_ms",
            "latency_verified", "rate_limit",
        ]
        #expect(Set(object.keys) == expectedKeys)
        // No --rate-limit: the figure is there, as null.
        #expect(object["rate_limit"] is NSNull)
        #expect(object["applications"] as? Int == 2)
        #expect(object["gateways"] as? Int == 2)
        #expect(object["devices"] as? Int == 10)
        // 51 steps, by SyntheticEstate's rules: 2 application creates; 2 collaborators (viewer_0, viewer_1; the
        // owner bench-owner is left out); 3 API keys (app 1: default key + integration, app 2: default key);
        // 2 links; 2 gateway creates (their only collaborator is the owner) with a link key each; devices 0 and 1
        // ABP (IS, NS, AS = 3 steps each), devices 2–9 OTAA (IS, JS, NS, AS = 4 each): 6 + 32.
        // 2 + 2 + 3 + 2 + 2 + 2 + 38 = 51.
        #expect(object["steps"] as? Int == 51)
        #expect(object["failed_steps"] as? Int == 0)
        #expect(object["skipped_steps"] as? Int == 0)
        // One request per step on a fresh run without faults.
        #expect(object["requests"] as? Int == 51)
        // auth_info, the owner, the 2 viewer accounts, one read per application and gateway to create (2 + 2).
        #expect(object["check_requests"] as? Int == 8)
        // 16 in flight ÷ 1 ms.
        #expect(object["ideal_requests_per_second"] as? Double == 16000)
        #expect(object["latency_ms"] as? Int == 1)
        #expect(object["concurrency"] as? Int == 16)
        #expect(object["latency_verified"] as? Bool == true)
        let median = try #require(object["latency_median_ms"] as? Double)
        let minimum = try #require(object["latency_min_ms"] as? Double)
        #expect(minimum >= 1 && median >= minimum)
        let rate = try #require(object["requests_per_second"] as? Double)
        let ratio = try #require(object["ratio_to_ideal"] as? Double)
        #expect(rate > 0 && ratio > 0 && ratio <= 1)
        #expect(try #require(object["wall_seconds"] as? Double) >= #require(object["execution_seconds"] as? Double))
        #expect(try #require(object["client_cpu_us_per_request"] as? Double) > 0)
        #expect(try #require(object["simulator_cpu_us_per_request"] as? Double) > 0)
        #expect(try #require(object["client_peak_rss_mb"] as? Double) > 0)
        #expect(try #require(object["simulator_peak_rss_mb"] as? Double) > 0)
        // Only the JSON object on stdout.
        #expect(result.out.split(separator: "\n").count == 1)
    }

    @Test func textFormNamesEachFigure() async throws {
        let result = await runCLI([
            "bench", "--apps", "1", "--gateways", "0", "--devices", "2", "--latency-ms", "2", "--concurrency", "4",
            "--simulator-executable", try ttnMigrateExecutable(),
        ])
        #expect(result.code == 0, "\(result.err)")
        let lines = result.out.split(separator: "\n").map(String.init)
        #expect(lines.first == "bench: 1 applications, 0 gateways, 2 devices; 2 ms latency; 4 requests in flight")
        for label in ["  wall time ", "  steps ", "  requests ", "  throughput ", "  client CPU ", "  simulator CPU ", "  peak memory ", "  latency "] {
            #expect(lines.contains { $0.hasPrefix(label) }, "no line starting with \(label)")
        }
        #expect(lines.contains { $0.hasPrefix("  throughput") && $0.contains("ideal 2000 (4 in flight ÷ 2 ms)") })
        #expect(lines.contains { $0.hasSuffix("verified: every request waited at least 2 ms") })
    }

    @Test func writeSnapshotOnlyWritesTheGeneratedEstate() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let file = directory.file("synthetic.json")
        let result = await runCLI(["bench", "--write-snapshot", file, "--apps", "3", "--gateways", "4", "--devices", "25"])
        #expect(result.code == 0, "\(result.err)")
        #expect(result.out == "wrote \(file): 3 applications, 4 gateways, 25 devices")
        let snapshot = try SnapshotFile.read(path: file)
        #expect(snapshot.applications.map(\.application.id) == ["app-0001", "app-0002", "app-0003"])
        #expect(snapshot.gateways.count == 4)
        #expect(snapshot.applications.map(\.handler.devices.count) == [9, 8, 8])
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(mode == 0o600)
    }

    @Test func aRunnerThatIsNotTTNMigrateMustNameTheSimulatorBinary() async throws {
        // Inside the test runner this program is not ttn-migrate: starting it as `simulate` would run the tests again.
        let result = await runCLI(["bench", "--apps", "1", "--devices", "1"])
        #expect(result.code == 2)
        #expect(result.err.contains("is not ttn-migrate; pass --simulator-executable PATH"))
    }

    @Test func simulatorOnlyMeasuresTheV3SimulatorInThisProcess() async throws {
        let result = await runCLI(["bench", "--simulator-only", "--concurrency", "4", "--devices", "9", "--latency-ms", "2", "--json"])
        #expect(result.code == 0, "\(result.err)")
        let object = try #require(try jsonObject(result.out) as? [String: Any])
        let expectedKeys: Set<String> = [
            "latency_ms", "concurrency", "requests", "failed_requests", "wall_seconds", "requests_per_second",
            "ideal_requests_per_second", "ratio_to_ideal", "latency_median_ms", "latency_p90_ms", "latency_p99_ms",
            "latency_max_ms", "simulator_cpu_us_per_request", "rules_cpu_us_per_request", "server_alone_cpu_us_per_request",
            "load_generator_cpu_us_per_request", "peak_rss_mb",
        ]
        #expect(Set(object.keys) == expectedKeys)
        // 4 connections × 2 devices each (9 ÷ 4, rounded down) × 5 requests, every one accepted by the v3 rules.
        #expect(object["requests"] as? Int == 40)
        #expect(object["failed_requests"] as? Int == 0)
        // 4 in flight ÷ 2 ms.
        #expect(object["ideal_requests_per_second"] as? Double == 2000)
        #expect((object["latency_median_ms"] as? Double ?? 0) >= 2)
        #expect((object["rules_cpu_us_per_request"] as? Double ?? 0) > 0)
        #expect((object["peak_rss_mb"] as? Double ?? 0) > 0)

        let text = await runCLI(["bench", "--simulator-only", "--concurrency", "2", "--devices", "2", "--latency-ms", "1"])
        #expect(text.code == 0, "\(text.err)")
        #expect(text.out.contains("requests       10 (0 failed)"))
        #expect(text.out.contains("ideal 2000 (2 in flight ÷ 1 ms)"))
    }

    @Test func badNumbersAreUsageErrors() async throws {
        let fewDevices = await runCLI(["bench", "--simulator-only", "--concurrency", "8", "--devices", "3"])
        #expect(fewDevices.code == 2)
        #expect(fewDevices.err.contains("--devices 3 is below --concurrency 8"))
        let snapshotToo = await runCLI(["bench", "--simulator-only", "--write-snapshot", "x.json"])
        #expect(snapshotToo.code == 2)
        #expect(snapshotToo.err.contains("drop --write-snapshot"))
        let zero = await runCLI(["bench", "--concurrency", "0"])
        #expect(zero.code == 2)
        #expect(zero.err.contains("--concurrency must be between 1 and 256"))
        let nothing = await runCLI(["bench", "--apps", "0", "--gateways", "0", "--devices", "0"])
        #expect(nothing.code == 2)
        #expect(nothing.err.contains("nothing to migrate"))
        let missing = await runCLI(["bench", "--simulator-executable", "/nonexistent/ttn-migrate", "--devices", "1"])
        #expect(missing.code == 2)
        #expect(missing.err == "error: bench: --simulator-executable /nonexistent/ttn-migrate is not an executable file")
    }
}

/// The ttn-migrate binary of this build: next to the test runner, else in the package's .build/debug.
func ttnMigrateExecutable() throws -> String {
    var candidates: [String] = []
    if let runner = Bundle.main.executablePath {
        candidates.append(URL(fileURLWithPath: runner).deletingLastPathComponent().appendingPathComponent("ttn-migrate").path)
    }
    let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    candidates.append(package.appendingPathComponent(".build/debug/ttn-migrate").path)
    guard let found = candidates.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else {
        Issue.record("no ttn-migrate binary in \(candidates.joined(separator: " or ")); run `swift build` first")
        throw CancellationError()
    }
    return found
}

/// `ttn-migrate bench ARGUMENTS --json` with this build's binary as the simulator: the object it printed, once it exited 0.
func benchJSON(_ arguments: [String]) async throws -> [String: Any] {
    let result = await runCLI(["bench"] + arguments + ["--json", "--simulator-executable", try ttnMigrateExecutable()])
    #expect(result.code == 0, "\(result.err)")
    return try #require(try JSONSerialization.jsonObject(with: Data(result.out.utf8)) as? [String: Any])
}

/// A loaded machine's ratio to the ideal (0.000172) printed as 0 once; it keeps 3 significant digits.
@Test func benchRatiosKeepThreeSignificantDigits() {
    #expect(significant(0.000172345, 3) == 0.000172)
    #expect(significant(0.97149, 3) == 0.971)
    #expect(significant(12.345, 3) == 12.3)
    #expect(significant(0, 3) == 0)
}

/// `bench --sequential` migrates the same estate a second time, one request at a time, into a new simulator, and
/// prints both results and their ratio. No assertion on timing beyond "the ratio is a positive number".
@Test func benchSequentialPrintsBothRunsAndTheirRatio() async throws {
    let object = try await benchJSON(["--apps", "1", "--gateways", "1", "--devices", "4", "--latency-ms", "1", "--concurrency", "8", "--sequential"])
    let concurrent = try #require(object["concurrent"] as? [String: Any])
    let sequential = try #require(object["sequential"] as? [String: Any])
    #expect(concurrent["concurrency"] as? Int == 8)
    #expect(sequential["concurrency"] as? Int == 1)
    #expect(sequential["steps"] as? Int == concurrent["steps"] as? Int)
    #expect(sequential["failed_steps"] as? Int == 0 && concurrent["failed_steps"] as? Int == 0)
    #expect(sequential["requests"] as? Int == concurrent["requests"] as? Int, "a fresh simulator each: the same requests")
    #expect(try #require(object["speedup"] as? Double) > 0)
    #expect(object["speedup_bound"] as? Int == 8)
}

/// `bench --scale` with tiny numbers: plan, a first run, a resume and diff each run as their own process; the first
/// run sends every request, the resume of the finished journal sends none, and every phase exits 0.
@Test func benchScaleRunsEachPhaseAsItsOwnProcess() async throws {
    let object = try await benchJSON(["--scale", "--apps", "2", "--gateways", "3", "--devices", "12", "--latency-ms", "0", "--concurrency", "8"])
    #expect(object["devices"] as? Int == 12)
    let phases = try #require(object["phases"] as? [[String: Any]])
    #expect(phases.map { $0["name"] as? String } == ["plan", "first run", "resume", "diff"])
    #expect(phases.allSatisfy { $0["exit_status"] as? Int == 0 })
    #expect(phases.allSatisfy { ($0["seconds"] as? Double ?? 0) > 0 && ($0["peak_rss_mb"] as? Double ?? 0) > 0 })
    let requests = phases.map { $0["requests"] as? Int ?? -1 }
    #expect(requests[0] == 0, "plan sends no v3 request")
    #expect(requests[1] > 12, "the first run writes every device")
    #expect(requests[2] < requests[1], "the resume of a finished journal writes nothing again")
    #expect(phases.allSatisfy { ($0["cpu_seconds"] as? Double ?? 0) > 0 }, "each command's own CPU time is read")
    #expect((phases[1]["simulator_cpu_seconds"] as? Double ?? 0) > 0, "the simulator worked for the first run")
    #expect(phases[0]["goal_seconds"] as? Double == 10)
    #expect(phases[2]["goal_seconds"] as? Double == 5)
}

@Test func benchScaleWithRateLimitIsAUsageError() async {
    let result = await runCLI(["bench", "--scale", "--rate-limit", "600"])
    #expect(result.code == 2)
    #expect(result.err.contains("--scale times the commands on their own: drop"))
}

@Test func benchSequentialWithSimulatorOnlyIsAUsageError() async {
    let result = await runCLI(["bench", "--simulator-only", "--sequential"])
    #expect(result.code == 2)
    #expect(result.err.contains("--sequential compares migrations: drop --simulator-only"))
}
