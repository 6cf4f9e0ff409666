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

    /// With `--rate-limit`: how the run kept to it.
    var rateLimit: RateLimitFigures? = nil

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
            "rate_limit": rateLimit?.jsonObject ?? NSNull(),
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
        var lines = [
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
        if let rateLimit { lines += rateLimit.lines }
        return lines
    }
}

/// How a run kept to the server's rate limit (`--rate-limit`), from the simulator's request log.
///
/// The simulator limits like The Things Stack, GCRA with a burst as large as the per-minute limit
/// (`reference/v3-api.md` §10): a run may first spend that burst at full speed, so the pace is measured
/// from the first request after which the server's allowance (burst + regained − used) fell below the
/// requests in flight, which is when a client must start keeping to the limit.
struct RateLimitFigures: Equatable {
    /// One request of the log: when it arrived, when it was answered, whether it was refused.
    struct Request: Equatable {
        var received: Date
        var finished: Date
        var refused: Bool
    }

    var limitPerMinute: Int
    var accepted: Int
    var refused: Int
    /// Accepted requests per minute after the burst was spent; nil when the run never spent it.
    var pacedPerMinute: Double?
    /// The most requests that arrived within one second after a 429 was answered (0 without a 429).
    var mostInSecondAfterRefusal: Int

    init(limitPerMinute: Int, concurrency: Int, requests: [Request]) {
        let sorted = requests.sorted { $0.received < $1.received }
        let accepted = sorted.filter { !$0.refused }
        self.limitPerMinute = limitPerMinute
        self.accepted = accepted.count
        refused = sorted.count - accepted.count
        pacedPerMinute = nil
        if let first = accepted.first, let last = accepted.last {
            let perSecond = Double(limitPerMinute) / 60
            let spent = accepted.indices.first { index in
                let allowance = Double(limitPerMinute) + perSecond * accepted[index].received.timeIntervalSince(first.received) - Double(index + 1)
                return allowance < Double(concurrency)
            }
            if let spent, accepted.count - spent > 1 {
                let seconds = last.received.timeIntervalSince(accepted[spent].received)
                pacedPerMinute = seconds > 0 ? Double(accepted.count - spent - 1) / seconds * 60 : nil
            }
        }
        mostInSecondAfterRefusal = sorted.filter(\.refused).map { refusal in
            sorted.filter { $0.received > refusal.finished && $0.received <= refusal.finished.addingTimeInterval(1) }.count
        }.max() ?? 0
    }

    var refusedShare: Double { accepted + refused > 0 ? Double(refused) / Double(accepted + refused) : 0 }
    var pacedRatio: Double? { pacedPerMinute.map { $0 / Double(limitPerMinute) } }

    var jsonObject: [String: Any] {
        [
            "limit_per_minute": limitPerMinute, "accepted": accepted, "refused": refused,
            "refused_share": significant(refusedShare, 3),
            "paced_per_minute": pacedPerMinute.map { rounded($0, 1) } ?? NSNull(),
            "paced_ratio": pacedRatio.map { significant($0, 3) } ?? NSNull(),
            "most_in_second_after_refusal": mostInSecondAfterRefusal,
        ]
    }

    var lines: [String] {
        let paced = pacedPerMinute.map { rate in
            String(format: "%.0f/min once the burst of %d was spent (%.1f %% of the limit; goal 90–100 %%)", rate, limitPerMinute, rate / Double(limitPerMinute) * 100)
        } ?? "the run ended within the burst of \(limitPerMinute): no pace to measure (migrate more)"
        return [
            String(format: "  rate limit     %d/min: %d accepted, %d refused with 429 (%.2f %%; goal ≤ 2 %%)", limitPerMinute, accepted, refused, refusedShare * 100),
            "  pace           \(paced)",
            "  after a 429    at most \(mostInSecondAfterRefusal) requests arrived in the next second (the limit allows \(max(1, limitPerMinute / 60)))",
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
