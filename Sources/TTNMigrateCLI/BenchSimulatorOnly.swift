import ArgumentParser
import Foundation
import Simulator

extension TTNMigrate.Bench {
    /// `bench --simulator-only`: the v3 simulator alone under a device-registration load, in this process.
    ///
    /// `--concurrency` threads each register devices on one kept-alive connection (IS create, JS, NS and AS set,
    /// IS get: five requests a device), `--devices` in all. Then the same load against the same HTTP server
    /// answering `{}` at once, to show what the server costs without the v3 rules.
    func measureSimulatorAlone() async throws {
        let console = Console.current
        let options = V3SimulatorBenchmark.Options(
            latency: .milliseconds(latencyMilliseconds), inFlight: concurrency, devicesPerConnection: devices / concurrency)
        if !json {
            console.err("bench: the v3 simulator alone: \(concurrency) connections registering \(options.devicesPerConnection) devices "
                + "each (5 requests per device), \(latencyMilliseconds) ms latency")
        }
        let measured = try await V3SimulatorBenchmark.run(options)
        let serverAlone = try await V3SimulatorBenchmark.serverBaseline(options)
        let report = SimulatorBenchReport(
            latencyMilliseconds: latencyMilliseconds, concurrency: concurrency, measured: measured, serverAlone: serverAlone,
            peakResidentBytes: ProcessUsage.current().peakResidentBytes)
        if json {
            console.out(try report.json())
        } else {
            for line in report.lines { console.out(line) }
        }
        if measured.failures > 0 || serverAlone.failures > 0 {
            console.err("bench: \(measured.failures + serverAlone.failures) requests failed; the figures include them")
            throw ExitCode(1)
        }
    }
}

/// What `bench --simulator-only` measured, with its text and JSON renderings.
struct SimulatorBenchReport {
    var latencyMilliseconds: Int
    var concurrency: Int
    var measured: V3SimulatorBenchmark.Result
    var serverAlone: V3SimulatorBenchmark.Result
    /// This process: the simulator and the load generator together.
    var peakResidentBytes: Int

    private static func milliseconds(_ duration: Duration) -> Double { seconds(duration) * 1e3 }

    private static func microseconds(_ duration: Duration) -> Double { milliseconds(duration) * 1e3 }

    private var ratioToIdeal: Double {
        measured.idealRequestsPerSecond > 0 ? measured.requestsPerSecond / measured.idealRequestsPerSecond : 0
    }

    /// The human form.
    var lines: [String] {
        func number(_ value: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }
        func ms(_ duration: Duration) -> String { number(Self.milliseconds(duration), 1) + " ms" }
        func us(_ duration: Duration) -> String { number(Self.microseconds(duration)) + " µs" }
        return [
            "bench: the v3 simulator alone; \(latencyMilliseconds) ms latency; \(concurrency) requests in flight",
            "  requests       \(measured.requests) (\(measured.failures) failed) in \(number(Self.milliseconds(measured.wallTime) / 1000, 2)) s",
            "  throughput     \(number(measured.requestsPerSecond)) requests/s; ideal \(number(measured.idealRequestsPerSecond)) "
                + "(\(concurrency) in flight ÷ \(latencyMilliseconds) ms): \(number(ratioToIdeal * 100, 1)) % of it",
            "  latency        median \(ms(measured.latencyMedian)), p90 \(ms(measured.latencyP90)), p99 \(ms(measured.latencyP99)), "
                + "max \(ms(measured.latencyMax)) as the clients saw it",
            "  simulator CPU  \(us(measured.simulatorCPUPerRequest)) per request, of which \(us(measured.rulesCPUPerRequest)) in the v3 rules",
            "  server alone   \(us(serverAlone.simulatorCPUPerRequest)) per request (the same load, answered `{}` at once)",
            "  load generator \(us(measured.clientCPUPerRequest)) per request (subtracted from the simulator's figure)",
            "  peak memory    \(number(Double(peakResidentBytes) / 1_048_576, 1)) MB (this process: simulator and load generator)",
        ]
    }

    /// One JSON object (`--json`), keys sorted.
    func json() throws -> String {
        let object: [String: Any] = [
            "latency_ms": latencyMilliseconds, "concurrency": concurrency,
            "requests": measured.requests, "failed_requests": measured.failures,
            "wall_seconds": rounded(Self.milliseconds(measured.wallTime) / 1000, 3),
            "requests_per_second": rounded(measured.requestsPerSecond, 1),
            "ideal_requests_per_second": rounded(measured.idealRequestsPerSecond, 1),
            "ratio_to_ideal": rounded(ratioToIdeal, 3),
            "latency_median_ms": rounded(Self.milliseconds(measured.latencyMedian), 3),
            "latency_p90_ms": rounded(Self.milliseconds(measured.latencyP90), 3),
            "latency_p99_ms": rounded(Self.milliseconds(measured.latencyP99), 3),
            "latency_max_ms": rounded(Self.milliseconds(measured.latencyMax), 3),
            "simulator_cpu_us_per_request": rounded(Self.microseconds(measured.simulatorCPUPerRequest), 1),
            "rules_cpu_us_per_request": rounded(Self.microseconds(measured.rulesCPUPerRequest), 1),
            "server_alone_cpu_us_per_request": rounded(Self.microseconds(serverAlone.simulatorCPUPerRequest), 1),
            "load_generator_cpu_us_per_request": rounded(Self.microseconds(measured.clientCPUPerRequest), 1),
            "peak_rss_mb": rounded(Double(peakResidentBytes) / 1_048_576, 1),
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
