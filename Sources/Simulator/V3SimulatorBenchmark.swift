import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Measures the v3 simulator behind a `SimServer` on 127.0.0.1: the latency clients see and the simulator's CPU
/// per request, for the `bench` command and the issue's figures.
///
/// The load comes from `inFlight` plain threads, each with one kept-alive HTTP/1.1 connection, registering end
/// devices the way the migrator does (IS create, JS set, NS set, AS set, IS get: five requests per device).
/// Simulator CPU per request = the process's CPU (getrusage) over the burst minus the client threads' own CPU
/// (each thread's CPU clock), divided by the requests; the part spent inside the v3 rules (`V3Simulator.respond`)
/// is measured separately with the handling threads' CPU clocks.
public enum V3SimulatorBenchmark {
    /// The load.
    public struct Options: Sendable {
        /// Server latency per request (`--latency-ms`).
        public var latency: Duration
        /// Requests in flight (one connection and one thread each).
        public var inFlight: Int
        /// Devices each connection registers (five requests each).
        public var devicesPerConnection: Int
        /// Keep the server's request log (as `simulate` does); off shows the log's share of the CPU.
        public var recordsRequests: Bool

        public init(latency: Duration = .milliseconds(20), inFlight: Int = 64, devicesPerConnection: Int = 10, recordsRequests: Bool = true) {
            self.latency = latency
            self.inFlight = inFlight
            self.devicesPerConnection = devicesPerConnection
            self.recordsRequests = recordsRequests
        }
    }

    /// What one run measured.
    public struct Result: Sendable, CustomStringConvertible {
        public var requests: Int
        /// Requests answered with another status than 200, or not answered.
        public var failures: Int
        public var wallTime: Duration
        public var latencyMedian: Duration
        public var latencyP90: Duration
        public var latencyP99: Duration
        public var latencyMax: Duration
        public var requestsPerSecond: Double
        /// `inFlight ÷ latency`: what a server adding only its latency would reach.
        public var idealRequestsPerSecond: Double
        /// Process CPU minus the client threads' CPU, per request (HTTP server and simulator together).
        public var simulatorCPUPerRequest: Duration
        /// CPU inside the v3 rules (`V3Simulator.respond`) per request.
        public var rulesCPUPerRequest: Duration
        /// The load generator's own CPU per request (subtracted above).
        public var clientCPUPerRequest: Duration

        public var description: String {
            func ms(_ duration: Duration) -> String { String(format: "%.2f ms", SimServerCore.seconds(duration) * 1e3) }
            func us(_ duration: Duration) -> String { String(format: "%.0f µs", SimServerCore.seconds(duration) * 1e6) }
            return "\(requests) requests (\(failures) failed) in \(ms(wallTime)): \(String(format: "%.0f", requestsPerSecond)) req/s "
                + "(ideal \(String(format: "%.0f", idealRequestsPerSecond))); latency median \(ms(latencyMedian)), p90 \(ms(latencyP90)), "
                + "p99 \(ms(latencyP99)), max \(ms(latencyMax)); simulator CPU \(us(simulatorCPUPerRequest))/request "
                + "(v3 rules \(us(rulesCPUPerRequest))), load generator \(us(clientCPUPerRequest))/request"
        }
    }

    /// Runs one burst against a fresh simulator and server; both are stopped before it returns.
    public static func run(_ options: Options = Options()) async throws -> Result {
        try await run(options, constantAnswer: false)
    }

    /// The same burst against a server whose API answers every request with a constant `{}` at once: what the
    /// HTTP server layer (`SimServer` on SwiftNIO) costs without any v3 rules, for comparison.
    public static func serverBaseline(_ options: Options = Options()) async throws -> Result {
        try await run(options, constantAnswer: true)
    }

    private static func run(_ options: Options, constantAnswer: Bool) async throws -> Result {
        let simulator = try V3Simulator(config: V3SimulatorConfig(users: ["bench"]), tables: nil, measuringRulesCPU: true)
        let created = simulator.handle(SimRequest(method: "POST", path: "/api/v3/users/bench/applications",
                                                       headers: ["Authorization": "Bearer \(simulator.apiKey)"],
                                                       body: Data(#"{"application":{"ids":{"application_id":"bench-app"}}}"#.utf8)))
        guard created.status == 200 else {
            throw V3SimulatorConfigError(description: "v3 benchmark: the simulator refused the benchmark application (HTTP \(created.status))")
        }
        let server = SimServer(api: V3BenchmarkAPI(simulator: simulator, constantAnswer: constantAnswer),
                               options: SimServerOptions(latency: options.latency, recordsRequests: options.recordsRequests))
        let rulesBefore = simulator.rulesCPUMeter?.total ?? .zero
        let port = try await server.start()
        let plans = (0..<options.inFlight).map { connection in
            V3BenchLoad.calls(connection: connection, devices: options.devicesPerConnection).map { $0.bytes(key: simulator.apiKey) }
        }

        let cpuBefore = V3CPU.process()
        let start = ContinuousClock.now
        let outcomes = await withCheckedContinuation { (continuation: CheckedContinuation<[V3BenchLoad.Outcome], Never>) in
            let collector = V3BenchCollector(expected: plans.count, continuation: continuation)
            for plan in plans {
                let thread = Thread { collector.add(V3BenchLoad.run(plan, port: port)) }
                thread.stackSize = 1 << 20
                thread.start()
            }
        }
        let wall = ContinuousClock.now - start
        let cpuAfter = V3CPU.process()
        await server.stop()

        let latencies = outcomes.flatMap(\.latencies).sorted()
        let requests = plans.reduce(0) { $0 + $1.count }
        let failures = outcomes.reduce(0) { $0 + $1.failures }
        let clientCPU = outcomes.reduce(Duration.zero) { $0 + $1.cpu }
        func percentile(_ fraction: Double) -> Duration {
            latencies.isEmpty ? .zero : latencies[min(latencies.count - 1, Int(Double(latencies.count) * fraction))]
        }
        let seconds = SimServerCore.seconds(wall)
        let latencySeconds = SimServerCore.seconds(options.latency)
        let count = max(requests, 1)
        return Result(
            requests: requests, failures: failures, wallTime: wall,
            latencyMedian: percentile(0.5), latencyP90: percentile(0.9), latencyP99: percentile(0.99), latencyMax: latencies.last ?? .zero,
            requestsPerSecond: seconds > 0 ? Double(requests) / seconds : 0,
            idealRequestsPerSecond: latencySeconds > 0 ? Double(options.inFlight) / latencySeconds : 0,
            simulatorCPUPerRequest: max(.zero, cpuAfter - cpuBefore - clientCPU) / count,
            rulesCPUPerRequest: ((simulator.rulesCPUMeter?.total ?? .zero) - rulesBefore) / count,
            clientCPUPerRequest: clientCPU / count
        )
    }
}

extension V3SimulatorBenchmark {
    /// CPU per request of the v3 rules alone (`V3Simulator.respond` called directly, no HTTP), over the same
    /// device registrations as `run`.
    public static func rulesCPUPerRequest(devices: Int = 1000) throws -> Duration {
        let simulator = try V3Simulator(config: V3SimulatorConfig(users: ["bench"]))
        _ = simulator.handle(SimRequest(method: "POST", path: "/api/v3/users/bench/applications",
                                             headers: ["Authorization": "Bearer \(simulator.apiKey)"],
                                             body: Data(#"{"application":{"ids":{"application_id":"bench-app"}}}"#.utf8)))
        let requests = V3BenchLoad.calls(connection: 0, devices: devices).map { $0.simRequest(key: simulator.apiKey) }
        let start = V3CPU.thread()
        var failures = 0
        for request in requests where simulator.handle(request).status != 200 { failures += 1 }
        let spent = V3CPU.thread() - start
        guard failures == 0 else {
            throw V3SimulatorConfigError(description: "v3 benchmark: \(failures) of \(requests.count) requests were refused")
        }
        return spent / max(requests.count, 1)
    }
}

/// The simulator as the server sees it, or (baseline) an API answering `{}` at once.
private struct V3BenchmarkAPI: SimulatedAPI {
    let simulator: V3Simulator
    let constantAnswer: Bool

    func handle(_ request: SimRequest) -> SimResponse {
        if constantAnswer {
            return SimResponse(status: 200, headers: ["Content-Type": "application/json"], body: Data("{}".utf8))
        }
        return simulator.handle(request)
    }

    func unavailableResponse() -> SimResponse { simulator.unavailableResponse() }

    func rateLimitedResponse(limitPerMinute: Int, retryAfterSeconds: Int) -> SimResponse {
        simulator.rateLimitedResponse(limitPerMinute: limitPerMinute, retryAfterSeconds: retryAfterSeconds)
    }
}

enum V3CPU {
    static func thread() -> Duration {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return .seconds(Int64(time.tv_sec)) + .nanoseconds(Int64(time.tv_nsec))
    }

    static func process() -> Duration { SimServerCore.processCPUTime() }
}

/// Gathers the threads' outcomes and resumes the waiting task once all are in.
private final class V3BenchCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var outcomes: [V3BenchLoad.Outcome] = []
    private let expected: Int
    private let continuation: CheckedContinuation<[V3BenchLoad.Outcome], Never>

    init(expected: Int, continuation: CheckedContinuation<[V3BenchLoad.Outcome], Never>) {
        self.expected = expected
        self.continuation = continuation
    }

    func add(_ outcome: V3BenchLoad.Outcome) {
        lock.lock()
        outcomes.append(outcome)
        let done = outcomes.count == expected ? outcomes : nil
        lock.unlock()
        if let done { continuation.resume(returning: done) }
    }
}

/// The benchmark's requests and a minimal blocking HTTP/1.1 client (one kept-alive connection per thread).
enum V3BenchLoad {
    struct Outcome: Sendable {
        var latencies: [Duration]
        var failures: Int
        var cpu: Duration
    }

    /// One request of the load.
    struct Call: Sendable {
        var method: String
        var path: String
        var query: [String: String]
        var body: String?

        func simRequest(key: String) -> SimRequest {
            SimRequest(method: method, path: path, query: query,
                       headers: ["Authorization": "Bearer \(key)", "Accept": "application/json"], body: Data((body ?? "").utf8))
        }

        func bytes(key: String) -> [UInt8] {
            let target = query.isEmpty ? path : path + "?" + query.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "&")
            var head = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(key)\r\nAccept: application/json\r\n"
            if let body {
                head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
            } else {
                head += "Content-Length: 0\r\n\r\n"
            }
            return Array(head.utf8)
        }
    }

    /// The requests of one connection: per device IS create, JS set, NS set, AS set, IS get.
    static func calls(connection: Int, devices: Int) -> [Call] {
        var result: [Call] = []
        for device in 0..<devices {
            let id = "dev-\(connection)-\(device)"
            let devEUI = "70B3D57E" + String(format: "%04X%04X", connection, device)
            let ids = #""ids":{"device_id":"\#(id)","dev_eui":"\#(devEUI)","join_eui":"70B3D57ED0000000"}"#
            result.append(Call(method: "POST", path: "/api/v3/applications/bench-app/devices", query: [:],
                               body: #"{"end_device":{\#(ids),"name":"Device \#(device)","join_server_address":"localhost","network_server_address":"localhost","application_server_address":"localhost","attributes":{"v2-id":"\#(id)"}}}"#))
            result.append(Call(method: "PUT", path: "/api/v3/js/applications/bench-app/devices/\(id)", query: [:],
                               body: #"{"end_device":{\#(ids),"network_server_address":"localhost","application_server_address":"localhost","root_keys":{"app_key":{"key":"8E1F4A3B5C6D7E8F9A0B1C2D3E4F5A6B"}}},"field_mask":{"paths":["network_server_address","application_server_address","root_keys.app_key.key"]}}"#))
            result.append(Call(method: "PUT", path: "/api/v3/ns/applications/bench-app/devices/\(id)", query: [:],
                               body: #"{"end_device":{\#(ids),"supports_join":true,"frequency_plan_id":"EU_863_870_TTN","lorawan_version":"MAC_V1_0_2","lorawan_phy_version":"PHY_V1_0_2_REV_B","mac_settings":{"supports_32_bit_f_cnt":true}},"field_mask":{"paths":["supports_join","frequency_plan_id","lorawan_version","lorawan_phy_version","mac_settings.supports_32_bit_f_cnt"]}}"#))
            result.append(Call(method: "PUT", path: "/api/v3/as/applications/bench-app/devices/\(id)", query: [:],
                               body: #"{"end_device":{\#(ids),"formatters":{"up_formatter":"FORMATTER_CAYENNELPP"}},"field_mask":{"paths":["formatters.up_formatter"]}}"#))
            result.append(Call(method: "GET", path: "/api/v3/applications/bench-app/devices/\(id)", query: ["field_mask": "name,attributes"], body: nil))
        }
        return result
    }

    /// Sends the requests one after the other on one connection (blocking; runs on its own thread).
    static func run(_ requests: [[UInt8]], port: Int) -> Outcome {
        let cpuStart = V3CPU.thread()
        var latencies: [Duration] = []
        latencies.reserveCapacity(requests.count)
        var failures = 0
        guard let connection = V3BenchConnection(port: port) else {
            return Outcome(latencies: [], failures: requests.count, cpu: V3CPU.thread() - cpuStart)
        }
        for request in requests {
            let start = ContinuousClock.now
            let status = connection.exchange(request)
            latencies.append(ContinuousClock.now - start)
            if status != 200 { failures += 1 }
        }
        connection.close()
        return Outcome(latencies: latencies, failures: failures, cpu: V3CPU.thread() - cpuStart)
    }
}

/// One blocking, kept-alive HTTP/1.1 connection to 127.0.0.1 (TCP_NODELAY, as a real client sets it).
private final class V3BenchConnection {
    private let descriptor: Int32
    private var buffer: [UInt8] = []

    init?(port: Int) {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return nil }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            closeSocket(descriptor)
            return nil
        }
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func close() {
        closeSocket(descriptor)
    }

    /// Writes a request and reads its response; the status, or nil when the exchange failed.
    func exchange(_ request: [UInt8]) -> Int? {
        var sent = 0
        while sent < request.count {
            let result = request.withUnsafeBytes { send(descriptor, $0.baseAddress! + sent, request.count - sent, Int32(MSG_NOSIGNAL)) }
            if result <= 0 { return nil }
            sent += result
        }
        var headerEnd: Int?
        while headerEnd == nil {
            headerEnd = Self.find([13, 10, 13, 10], in: buffer)
            if headerEnd == nil, !fill() { return nil }
        }
        guard let end = headerEnd else { return nil }
        let head = String(decoding: buffer[..<end], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, statusLine.split(separator: " ").count >= 2,
              let status = Int(statusLine.split(separator: " ")[1]) else { return nil }
        var length = 0
        for line in lines.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length" {
                length = Int(parts[1].trimmingCharacters(in: .whitespaces)) ?? 0
            }
        }
        let total = end + 4 + length
        while buffer.count < total {
            if !fill() { return nil }
        }
        buffer.removeFirst(total)
        return status
    }

    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 16384)
        let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress!, $0.count, 0) }
        if count <= 0 { return false }
        buffer.append(contentsOf: chunk[0..<count])
        return true
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where haystack[index] == needle[0] {
            if Array(haystack[index..<(index + needle.count)]) == needle { return index }
        }
        return nil
    }
}

/// `close(2)` outside the connection class, whose `close()` would shadow it.
private func closeSocket(_ descriptor: Int32) {
    _ = close(descriptor)
}
