import Foundation

/// What one `bench` run measured (DESIGN.md §8), with its text and JSON renderings.
struct BenchResult: Equatable {
    var applications: Int
    var gateways: Int
    var devices: Int
    var latencyMilliseconds: Int
    var concurrency: Int

    /// Steps the run executed (done, already present or failed); skipped steps are not executed.
    var steps: Int
    var failedSteps: Int
    var skippedSteps: Int
    /// Requests the steps sent (the executor's count).
    var requests: Int
    /// Reads of the target check before the steps (the simulator's count minus `requests`).
    var checkRequests: Int

    /// The whole run: planning, target check, steps, journal.
    var wallSeconds: Double
    /// The steps alone (the executor's elapsed time).
    var executionSeconds: Double

    /// This process's CPU (user + system) over the whole run.
    var clientCPUSeconds: Double
    /// The simulator process's CPU over the whole run.
    var simulatorCPUSeconds: Double
    var clientPeakResidentBytes: Int
    var simulatorPeakResidentBytes: Int?

    /// Each request's time inside the simulator, receipt to response, latency included; sorted.
    var latencies: [Double]

    /// `requests ÷ executionSeconds`: the steps' throughput.
    var requestsPerSecond: Double { executionSeconds > 0 ? Double(requests) / executionSeconds : 0 }
    /// `concurrency ÷ latency`: what a client keeping `concurrency` requests in flight reaches when each takes
    /// exactly the latency. Nil without latency.
    var idealRequestsPerSecond: Double? {
        latencyMilliseconds > 0 ? Double(concurrency) / (Double(latencyMilliseconds) / 1000) : nil
    }
    var ratioToIdeal: Double? { idealRequestsPerSecond.map { requestsPerSecond / $0 } }

    /// Every request the simulator received: the CPU figures are divided by this.
    var simulatorRequests: Int { requests + checkRequests }
    var clientCPUMicrosecondsPerRequest: Double { perRequest(clientCPUSeconds) }
    var simulatorCPUMicrosecondsPerRequest: Double { perRequest(simulatorCPUSeconds) }

    private func perRequest(_ cpuSeconds: Double) -> Double {
        simulatorRequests > 0 ? cpuSeconds * 1e6 / Double(simulatorRequests) : 0
    }

    func latencyPercentile(_ fraction: Double) -> Double? {
        guard !latencies.isEmpty else { return nil }
        return latencies[min(latencies.count - 1, Int(Double(latencies.count) * fraction))]
    }

    /// The simulator held every request at least the configured latency (the sleep it adds before answering).
    var latencyVerified: Bool {
        guard let minimum = latencies.first else { return false }
        return minimum >= Double(latencyMilliseconds) / 1000
    }

    /// One JSON object (`--json`), keys sorted.
    func json() throws -> String {
        let data = try JSONSerialization.data(withJSONObject: jsonObject, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    /// The figures as a JSON object (Foundation values).
    var jsonObject: [String: Any] {
        func milliseconds(_ value: Double?) -> Any { value.map { rounded($0 * 1000, 3) } ?? NSNull() }
        func megabytes(_ value: Int?) -> Any { value.map { rounded(Double($0) / 1_048_576, 1) } ?? NSNull() }
        let object: [String: Any] = [
            "applications": applications, "gateways": gateways, "devices": devices,
            "latency_ms": latencyMilliseconds, "concurrency": concurrency,
            "steps": steps, "failed_steps": failedSteps, "skipped_steps": skippedSteps,
            "requests": requests, "check_requests": checkRequests,
            "wall_seconds": rounded(wallSeconds, 3), "execution_seconds": rounded(executionSeconds, 3),
            "requests_per_second": rounded(requestsPerSecond, 1),
            "ideal_requests_per_second": idealRequestsPerSecond.map { rounded($0, 1) } ?? NSNull(),
            "ratio_to_ideal": ratioToIdeal.map { significant($0, 3) } ?? NSNull(),
            "client_cpu_us_per_request": rounded(clientCPUMicrosecondsPerRequest, 1),
            "simulator_cpu_us_per_request": rounded(simulatorCPUMicrosecondsPerRequest, 1),
            "client_peak_rss_mb": megabytes(clientPeakResidentBytes),
            "simulator_peak_rss_mb": megabytes(simulatorPeakResidentBytes),
            "latency_median_ms": milliseconds(latencyPercentile(0.5)),
            "latency_p90_ms": milliseconds(latencyPercentile(0.9)),
            "latency_min_ms": milliseconds(latencies.first),
            "latency_verified": latencyVerified,
        ]
        return object
    }

    /// The human form.
    var lines: [String] {
        func number(_ value: Double, _ digits: Int = 0) -> String { String(format: "%.\(digits)f", value) }
        func ms(_ value: Double?) -> String { value.map { number($0 * 1000, 1) + " ms" } ?? "-" }
        func mb(_ value: Int?) -> String { value.map { number(Double($0) / 1_048_576, 1) + " MB" } ?? "unknown" }
        var throughput = "\(number(requestsPerSecond)) requests/s"
        if let ideal = idealRequestsPerSecond, let ratio = ratioToIdeal {
            throughput += "; ideal \(number(ideal)) (\(concurrency) in flight ÷ \(latencyMilliseconds) ms): \(number(ratio * 100, 1)) % of it"
        }
        let latency = latencyVerified
            ? "verified: every request waited at least \(latencyMilliseconds) ms"
            : "NOT verified: some request was answered sooner than \(latencyMilliseconds) ms"
        return [
            "bench: \(applications) applications, \(gateways) gateways, \(devices) devices; \(latencyMilliseconds) ms latency; \(concurrency) requests in flight",
            "  wall time      \(number(wallSeconds, 2)) s (plan, target check, steps, journal)",
            "  steps          \(steps) in \(number(executionSeconds, 2)) s (\(failedSteps) failed, \(skippedSteps) skipped)",
            "  requests       \(requests) for the steps, \(checkRequests) to check the target first",
            "  throughput     \(throughput)",
            "  client CPU     \(number(clientCPUMicrosecondsPerRequest)) µs per request (this process: mapping, journal, HTTP)",
            "  simulator CPU  \(number(simulatorCPUMicrosecondsPerRequest)) µs per request (the `ttn-migrate simulate` process)",
            "  peak memory    client \(mb(clientPeakResidentBytes)), simulator \(mb(simulatorPeakResidentBytes))",
            "  latency        median \(ms(latencyPercentile(0.5))), p90 \(ms(latencyPercentile(0.9))), min \(ms(latencies.first)) per request in the simulator; \(latency)",
        ]
    }
}

/// `value` to `digits` significant digits, so a small ratio (a loaded machine's 0.000172) is not printed as 0.
func significant(_ value: Double, _ digits: Int) -> Double {
    guard value != 0, value.isFinite else { return value }
    return rounded(value, max(0, digits - 1 - Int(floor(log10(abs(value))))))
}

/// `value` rounded to `digits` decimal places, for the benchmarks' JSON.
func rounded(_ value: Double, _ digits: Int) -> Double {
    let scale = pow(10, Double(digits))
    return (value * scale).rounded() / scale
}

/// CPU time and peak memory of this process (`getrusage(RUSAGE_SELF)`).
enum ProcessUsage {
    static func current() -> (cpuSeconds: Double, peakResidentBytes: Int) {
        var usage = rusage()
        #if canImport(Glibc)
        let who = __rusage_who_t(RUSAGE_SELF.rawValue)
        #else
        let who = RUSAGE_SELF
        #endif
        guard getrusage(who, &usage) == 0 else { return (0, 0) }
        func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        #if os(Linux)
        let peak = usage.ru_maxrss * 1024  // kilobytes on Linux
        #else
        let peak = usage.ru_maxrss  // bytes on macOS
        #endif
        return (seconds(usage.ru_utime) + seconds(usage.ru_stime), peak)
    }
}
