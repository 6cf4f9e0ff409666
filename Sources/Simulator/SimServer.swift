import FlyingFox
import FlyingSocks
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How a `SimServer` treats the requests around its API: port, latency, rate limit, faults.
public struct SimServerOptions: Sendable {
    /// TCP port on 127.0.0.1; 0 lets the OS choose (read it from `SimServer.start()`).
    public var port: UInt16
    /// Added to every request before it is answered (the server sleeps; no CPU is spent).
    public var latency: Duration
    /// Server-wide limit of requests per minute (GCRA, burst = `rateLimitBurst` or the limit itself);
    /// nil: no limit. A request over the limit gets `SimulatedAPI.rateLimitedResponse` and is not applied.
    public var rateLimitPerMinute: Int?
    /// Burst of the rate limit; nil: equal to `rateLimitPerMinute` (The Things Stack's default,
    /// `reference/v3-api.md` §10).
    public var rateLimitBurst: Int?
    /// Faults to inject; can be replaced while running with `SimServer.setFaults(_:)`.
    public var faults: FaultSpec
    /// Keep a `SimRequestRecord` per request (`SimServer.requestLog`).
    public var recordsRequests: Bool
    /// Serve the control endpoints under `/_sim/` (statistics, request log, faults at run time), so a
    /// simulator in another process can be watched and steered.
    public var controlEndpoints: Bool
    /// Set TCP_NODELAY on the listening socket (see `SimServerSocket`). Only a test that shows the
    /// ~44 ms keep-alive stall it removes turns it off.
    public var tcpNoDelay: Bool

    public init(
        port: UInt16 = 0, latency: Duration = .zero, rateLimitPerMinute: Int? = nil, rateLimitBurst: Int? = nil,
        faults: FaultSpec = .none, recordsRequests: Bool = true, controlEndpoints: Bool = true, tcpNoDelay: Bool = true
    ) {
        self.port = port
        self.latency = latency
        self.rateLimitPerMinute = rateLimitPerMinute
        self.rateLimitBurst = rateLimitBurst
        self.faults = faults
        self.recordsRequests = recordsRequests
        self.controlEndpoints = controlEndpoints
        self.tcpNoDelay = tcpNoDelay
    }
}

/// One request as the server handled it: what came in, what was done to it, what went out.
///
/// No header and no body is kept, so no credential ever reaches the log.
public struct SimRequestRecord: Sendable, Hashable {
    /// 1 for the first request the server received, counting API requests only (not `/_sim/`).
    public var sequence: Int
    public var method: String
    /// Percent-decoded path without the query.
    public var path: String
    public var query: [String: String]
    /// The injected fault, or nil.
    public var fault: SimFault?
    /// Refused by the server-wide rate limit (`SimServerOptions.rateLimitPerMinute`).
    public var rateLimited: Bool
    /// Whether the API's `handle` ran, i.e. whether the request may have changed the API's state.
    public var applied: Bool
    /// Status of the response the server produced (by the API, or for a 503/429 fault or the rate
    /// limit); nil when the connection was dropped before any response existed.
    public var status: Int?
    /// Whether a complete response was handed to the connection (false for `drop-before` and
    /// `drop-after`, or when the server stopped during the latency or a stall).
    public var delivered: Bool
    /// Wall-clock time the request was received.
    public var received: Date
    /// Wall-clock time the response was ready (or the drop decided).
    public var finished: Date
    /// Time spent inside the API's `handle` (zero when it did not run).
    public var handling: Duration
    /// Time from receipt to response ready, latency and stall included.
    public var total: Duration
    /// The request is still being handled (sleeping its latency or stall, or inside the API);
    /// `applied` is already true once the API has handled it.
    public var inProgress: Bool
}

/// Counters of a running server, for benchmarks.
public struct SimServerStatistics: Sendable, Hashable {
    /// API requests received (control endpoints not counted).
    public var requests: Int
    /// Requests the API applied.
    public var applied: Int
    /// Requests refused by the server-wide rate limit.
    public var rateLimited: Int
    /// Injected faults by kind.
    public var faults: [SimFault: Int]
    /// Responses produced, by status.
    public var statuses: [Int: Int]
    /// Sum of the time spent inside the API's `handle`.
    public var handling: Duration
    /// User + system CPU time of the whole process when the statistics were read. A simulator in its
    /// own process (`ttn-migrate simulate`) gives its own CPU this way; compare two readings.
    public var processCPU: Duration
}

/// Why a `SimServer` could not start or serve.
public enum SimServerError: Error, Hashable, CustomStringConvertible, LocalizedError {
    case alreadyStarted
    /// The address could not be bound (e.g. the port is taken).
    case cannotListen(port: UInt16, detail: String)
    case socketOption(detail: String)
    /// Used internally to cut a response short (`drop-after`, `drop-before`).
    case connectionDropped

    public var description: String {
        switch self {
        case .alreadyStarted:
            return "the simulator server is already running; stop it before starting it again"
        case .cannotListen(let port, let detail):
            let which = port == 0 ? "a free port" : "port \(port)"
            return "cannot listen on 127.0.0.1 at \(which): \(detail); choose another port or 0 for any free port"
        case .socketOption(let detail):
            return "cannot set TCP_NODELAY on the simulator's listening socket: \(detail)"
        case .connectionDropped:
            return "connection dropped by an injected fault"
        }
    }

    public var errorDescription: String? { description }
}

/// Serves one `SimulatedAPI` on 127.0.0.1 over HTTP/1.1 (FlyingFox), adding latency, a rate limit and
/// injected faults around it, and recording every request.
///
/// Per request, in order: the configured latency (sleep); the server-wide rate limit (over it: the
/// API's 429 response, not applied); the fault draw (`FaultSpec`); then the API's `handle`. Paths
/// under `/_sim/` are the server's own control endpoints (when enabled) and never reach the API:
/// `GET /_sim/stats`, `GET /_sim/requests`, `DELETE /_sim/requests`, `GET /_sim/faults`,
/// `PUT /_sim/faults` (body: a fault spec in text form).
///
/// Start with `start()` (returns the port), stop with `stop()`; a server must be stopped before the
/// process or test ends.
public final class SimServer: Sendable {
    private let core: SimServerCore
    private let lifecycle = SimLocked(Lifecycle())

    private struct Lifecycle {
        /// A `start()` is under way or done (cleared by `stop()` or a failed start).
        var claimed = false
        var http: HTTPServer?
        var runTask: Task<Void, Never>?
        var port: Int?
        var listenerDescriptor: Int32?
    }

    /// The handler timeout FlyingFox enforces: longer than any latency plus stall a spec allows.
    static let handlerTimeout: TimeInterval = 2 * 3600

    public init(api: any SimulatedAPI, options: SimServerOptions = SimServerOptions()) {
        core = SimServerCore(api: api, options: options)
    }

    /// The options the server was created with (faults: the ones given then; see `faults`).
    public var options: SimServerOptions { core.options }

    /// Starts listening on 127.0.0.1 and returns the port (the OS's choice when the options say 0).
    public func start() async throws -> Int {
        let claimed = lifecycle.withLock { state -> Bool in
            if state.claimed { return false }
            state.claimed = true
            return true
        }
        guard claimed else { throw SimServerError.alreadyStarted }
        do {
            let port = try await listen()
            return port
        } catch {
            lifecycle.withLock { $0 = Lifecycle() }
            throw error
        }
    }

    private func listen() async throws -> Int {
        let requestedPort = core.options.port
        let address: sockaddr_in
        do {
            address = try .inet(ip4: "127.0.0.1", port: requestedPort)
        } catch {
            throw SimServerError.cannotListen(port: requestedPort, detail: "\(error)")
        }
        let http = HTTPServer(
            address: address, timeout: Self.handlerTimeout, pool: HTTPServer.defaultPool(), logger: .disabled,
            handler: SimHTTPHandler(core: core)
        )
        let failure = SimLocked<String?>(nil)
        let runTask = Task {
            do {
                try await http.run()
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
        }
        var port: UInt16?
        let deadline = ContinuousClock.now + .seconds(10)
        while port == nil {
            if case .ip4(_, let bound)? = await http.listeningAddress {
                port = bound
                break
            }
            if let detail = failure.withLock({ $0 }) {
                throw SimServerError.cannotListen(port: requestedPort, detail: detail)
            }
            if ContinuousClock.now > deadline {
                await http.stop()
                runTask.cancel()
                throw SimServerError.cannotListen(port: requestedPort, detail: "the server did not start listening within 10 s")
            }
            try? await Task.sleep(for: .milliseconds(2))
        }
        guard let port else { throw SimServerError.cannotListen(port: requestedPort, detail: "no address") }
        var descriptor: Int32?
        if core.options.tcpNoDelay {
            do {
                descriptor = try SimServerSocket.setNoDelayOnListener(port: port)
            } catch {
                await http.stop()
                await runTask.value
                throw error
            }
        }
        lifecycle.withLock {
            $0 = Lifecycle(claimed: true, http: http, runTask: runTask, port: Int(port), listenerDescriptor: descriptor)
        }
        return Int(port)
    }

    /// Stops listening, closes every connection (a stalled or sleeping request is dropped) and waits
    /// for the server to finish. Does nothing when not running (or while `start()` is still under way).
    public func stop() async {
        let (http, runTask) = lifecycle.withLock { state -> (HTTPServer?, Task<Void, Never>?) in
            guard state.http != nil else { return (nil, nil) }
            defer { state = Lifecycle() }
            return (state.http, state.runTask)
        }
        guard let http else { return }
        await http.stop(timeout: 0)
        await runTask?.value
    }

    /// The port while running.
    public var port: Int? { lifecycle.withLock { $0.port } }

    /// `http://127.0.0.1:<port>` while running.
    public var baseURL: String? { port.map { "http://127.0.0.1:\($0)" } }

    /// Whether TCP_NODELAY is set on the listening socket right now (false when not running or
    /// turned off by the options).
    public var listenerHasNoDelay: Bool {
        guard let descriptor = lifecycle.withLock({ $0.listenerDescriptor }) else { return false }
        return SimServerSocket.noDelay(on: descriptor)
    }

    /// Every request received so far, oldest first, those still in progress included (empty when
    /// `recordsRequests` is off).
    public var requestLog: [SimRequestRecord] { core.state.withLock { $0.log } }

    /// Forgets the request log (the counters of `statistics` keep counting).
    public func clearRequestLog() { core.state.withLock { $0.clearLog() } }

    /// Counters since the server was created.
    public var statistics: SimServerStatistics { core.statistics() }

    /// The faults being injected now.
    public var faults: FaultSpec { core.state.withLock { $0.injector.spec } }

    /// Replaces the faults from the next request on; the draw restarts from the new spec's seed.
    public func setFaults(_ spec: FaultSpec) {
        core.state.withLock { $0.injector = FaultInjector(spec: spec) }
    }
}

/// The part of a server the request handler needs (no reference back to `SimServer`, so no cycle).
final class SimServerCore: Sendable {
    let api: any SimulatedAPI
    let options: SimServerOptions
    let state: SimLocked<State>

    struct State {
        var injector: FaultInjector
        var limiter: SimRateLimiter?
        var sequence = 0
        var log: [SimRequestRecord] = []
        /// Position in `log` of each request sequence number still there.
        var logPositions: [Int: Int] = [:]
        var applied = 0
        var rateLimited = 0
        var faults: [SimFault: Int] = [:]
        var statuses: [Int: Int] = [:]
        var handling: Duration = .zero

        mutating func clearLog() {
            log.removeAll()
            logPositions.removeAll()
        }

        /// Adds the record, or replaces the one with its sequence number; a record whose entry was
        /// cleared meanwhile is not added back.
        mutating func record(_ record: SimRequestRecord, adding: Bool) {
            if let position = logPositions[record.sequence] {
                log[position] = record
            } else if adding {
                logPositions[record.sequence] = log.count
                log.append(record)
            }
        }
    }

    init(api: any SimulatedAPI, options: SimServerOptions) {
        self.api = api
        self.options = options
        let limiter = options.rateLimitPerMinute.flatMap { limit in
            limit > 0 ? SimRateLimiter(limit: limit, period: .seconds(60), burst: options.rateLimitBurst) : nil
        }
        state = SimLocked(State(injector: FaultInjector(spec: options.faults), limiter: limiter))
    }

    func statistics() -> SimServerStatistics {
        state.withLock {
            SimServerStatistics(
                requests: $0.sequence, applied: $0.applied, rateLimited: $0.rateLimited, faults: $0.faults,
                statuses: $0.statuses, handling: $0.handling, processCPU: Self.processCPUTime()
            )
        }
    }

    static func processCPUTime() -> Duration {
        var usage = rusage()
        #if canImport(Glibc)
        let who = __rusage_who_t(RUSAGE_SELF.rawValue)
        #else
        let who = RUSAGE_SELF
        #endif
        guard getrusage(who, &usage) == 0 else { return .zero }
        func duration(_ time: timeval) -> Duration {
            .seconds(Int64(time.tv_sec)) + .microseconds(Int64(time.tv_usec))
        }
        return duration(usage.ru_utime) + duration(usage.ru_stime)
    }

    /// What one API request becomes after latency, rate limit and fault.
    private enum Disposition {
        /// Send the response.
        case respond(SimResponse)
        /// Close the connection without a byte; `status` is the response that existed, if any.
        case close(status: Int?)
        /// Send the head and half the body of the response, then close.
        case cut(SimResponse)
    }

    func serve(_ request: HTTPRequest) async -> HTTPResponse {
        let path = request.path.removingPercentEncoding ?? request.path
        if options.controlEndpoints, path.hasPrefix("/_sim/") {
            return Self.httpResponse(await control(request, path: path))
        }
        let received = Date()
        let start = ContinuousClock.now
        let sequence = state.withLock { state -> Int in
            state.sequence += 1
            return state.sequence
        }
        let query = Dictionary(request.query.map { ($0.name, $0.value) }, uniquingKeysWith: { $1 })
        var record = SimRequestRecord(
            sequence: sequence, method: request.method.rawValue, path: path, query: query, fault: nil,
            rateLimited: false, applied: false, status: nil, delivered: false, received: received,
            finished: received, handling: .zero, total: .zero, inProgress: true
        )
        if options.recordsRequests {
            let initial = record
            state.withLock { $0.record(initial, adding: true) }
        }
        let disposition = await dispose(request, path: path, query: query, record: &record)
        let response: HTTPResponse
        switch disposition {
        case .respond(let simResponse):
            record.status = simResponse.status
            record.delivered = true
            response = Self.httpResponse(simResponse)
        case .close(let status):
            record.status = status
            response = HTTPResponse(webSocket: SimDroppedConnection())
        case .cut(let simResponse):
            record.status = simResponse.status
            response = Self.truncatedResponse(simResponse)
        }
        record.finished = Date()
        record.total = ContinuousClock.now - start
        record.inProgress = false
        let finished = record
        state.withLock { state in
            if let status = finished.status { state.statuses[status, default: 0] += 1 }
            if let fault = finished.fault { state.faults[fault, default: 0] += 1 }
            if finished.applied { state.applied += 1 }
            if finished.rateLimited { state.rateLimited += 1 }
            state.handling += finished.handling
            if options.recordsRequests { state.record(finished, adding: false) }
        }
        return response
    }

    private func dispose(
        _ request: HTTPRequest, path: String, query: [String: String], record: inout SimRequestRecord
    ) async -> Disposition {
        let body: Data
        do {
            body = try await request.bodyData
        } catch {
            return .close(status: nil)
        }
        if options.latency > .zero {
            do { try await Task.sleep(for: options.latency) } catch { return .close(status: nil) }
        }
        let method = request.method.rawValue
        let (decision, fault) = state.withLock { state -> (SimRateLimiter.Decision?, SimFault?) in
            let decision = state.limiter?.admit(at: .now)
            if case .limited? = decision { return (decision, nil) }
            return (decision, state.injector.draw(method: method, path: path))
        }
        var rateLimit: SimRateLimitState?
        switch decision {
        case .limited(let limitState)?:
            record.rateLimited = true
            return .respond(api.rateLimitedResponse(
                limitPerMinute: limitState.limit, retryAfterSeconds: max(1, limitState.retrySeconds)
            ))
        case .allowed(_, let limitState)?:
            rateLimit = limitState
        case nil:
            break
        }
        record.fault = fault
        switch fault {
        case .dropBefore?:
            return .close(status: nil)
        case .unavailable?:
            return .respond(api.unavailableResponse())
        case .tooManyRequests?:
            return .respond(api.rateLimitedResponse(limitPerMinute: options.rateLimitPerMinute ?? 0, retryAfterSeconds: 1))
        case .dropAfter?, .stall?, nil:
            break
        }
        var headers: [String: String] = [:]
        for (name, value) in request.headers { headers[name.rawValue] = value }
        let simRequest = SimRequest(method: method, path: path, query: query, headers: headers, body: body, rateLimit: rateLimit)
        let handleStart = ContinuousClock.now
        let response = await api.handle(simRequest)
        record.handling = ContinuousClock.now - handleStart
        record.applied = true
        if options.recordsRequests {
            let applied = record
            state.withLock { $0.record(applied, adding: false) }
        }
        switch fault {
        case .dropAfter?:
            return .cut(response)
        case .stall?:
            // A server stopping during the stall cancels the sleep: the connection closes unanswered.
            let stall = state.withLock { $0.injector.spec.stall }
            do { try await Task.sleep(for: stall) } catch { return .close(status: response.status) }
            return .respond(response)
        default:
            return .respond(response)
        }
    }

    // MARK: control endpoints

    private func control(_ request: HTTPRequest, path: String) async -> SimResponse {
        let method = request.method.rawValue
        switch (method, path) {
        case ("GET", "/_sim/stats"):
            let stats = statistics()
            return .json(200, [
                "requests": stats.requests,
                "applied": stats.applied,
                "rate_limited": stats.rateLimited,
                "faults": Dictionary(uniqueKeysWithValues: stats.faults.map { ($0.key.rawValue, $0.value) }),
                "statuses": Dictionary(uniqueKeysWithValues: stats.statuses.map { (String($0.key), $0.value) }),
                "handling_seconds": Self.seconds(stats.handling),
                "process_cpu_seconds": Self.seconds(stats.processCPU),
            ])
        case ("GET", "/_sim/requests"):
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            let records = state.withLock { $0.log }
            return .json(200, records.map { record -> [String: Any] in
                var object: [String: Any] = [
                    "sequence": record.sequence, "method": record.method, "path": record.path, "query": record.query,
                    "rate_limited": record.rateLimited, "applied": record.applied, "delivered": record.delivered,
                    "in_progress": record.inProgress,
                    "received": formatter.string(from: record.received), "finished": formatter.string(from: record.finished),
                    "handling_seconds": Self.seconds(record.handling), "total_seconds": Self.seconds(record.total),
                ]
                if let status = record.status { object["status"] = status }
                if let fault = record.fault { object["fault"] = fault.rawValue }
                return object
            })
        case ("DELETE", "/_sim/requests"):
            state.withLock { $0.clearLog() }
            return SimResponse(status: 204)
        case ("GET", "/_sim/faults"):
            return .json(200, ["faults": state.withLock { $0.injector.spec.description }])
        case ("PUT", "/_sim/faults"), ("POST", "/_sim/faults"):
            let text = String(decoding: (try? await request.bodyData) ?? Data(), as: UTF8.self)
            do {
                let spec = try FaultSpec(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines))
                state.withLock { $0.injector = FaultInjector(spec: spec) }
                return .json(200, ["faults": spec.description])
            } catch {
                return .json(400, ["error": error.description])
            }
        default:
            return .json(404, [
                "error": "no simulator control endpoint \(method) \(path); use GET /_sim/stats, GET or DELETE /_sim/requests, GET or PUT /_sim/faults",
            ])
        }
    }

    private static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    // MARK: responses

    static func httpResponse(_ response: SimResponse) -> HTTPResponse {
        HTTPResponse(statusCode: statusCode(response.status), headers: headers(response.headers), body: response.body)
    }

    /// The response's status line and headers, then half its body, then the connection closes
    /// (FlyingFox closes a connection whose response body throws). An empty or one-byte body cannot
    /// be cut, so nothing is sent.
    static func truncatedResponse(_ response: SimResponse) -> HTTPResponse {
        guard response.body.count >= 2 else { return HTTPResponse(webSocket: SimDroppedConnection()) }
        let prefix = Array(response.body.prefix(response.body.count / 2))
        return HTTPResponse(
            statusCode: statusCode(response.status), headers: headers(response.headers),
            body: HTTPBodySequence(from: SimTruncatedBody(prefix: prefix), count: response.body.count)
        )
    }

    private static func headers(_ values: [String: String]) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for (name, value) in values.sorted(by: { $0.key < $1.key }) { headers[HTTPHeader(name)] = value }
        return headers
    }

    static func statusCode(_ status: Int) -> HTTPStatusCode {
        let phrases: [Int: String] = [
            200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
            403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 410: "Gone",
            412: "Precondition Failed", 429: "Too Many Requests", 500: "Internal Server Error",
            501: "Not Implemented", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout",
        ]
        return HTTPStatusCode(status, phrase: phrases[status] ?? "Status \(status)")
    }
}

/// Routes every request to the server core.
struct SimHTTPHandler: HTTPHandler {
    let core: SimServerCore

    func handleRequest(_ request: HTTPRequest) async throws -> HTTPResponse {
        await core.serve(request)
    }
}

/// A response that makes FlyingFox close the connection before writing a single byte: its payload
/// is a WebSocket handler whose setup throws, and FlyingFox sets up the handler before it writes
/// the response head.
struct SimDroppedConnection: WSHandler {
    func makeFrames(for client: AsyncThrowingStream<WSFrame, any Error>) async throws -> AsyncStream<WSFrame> {
        throw SimServerError.connectionDropped
    }
}

/// A body that yields its prefix and then fails, so the response is cut short.
struct SimTruncatedBody: AsyncBufferedSequence {
    typealias Element = UInt8
    let prefix: [UInt8]

    func makeAsyncIterator() -> Iterator { Iterator(pending: prefix) }

    struct Iterator: AsyncBufferedIteratorProtocol {
        var pending: [UInt8]?

        mutating func next() async throws -> UInt8? {
            guard var bytes = pending, !bytes.isEmpty else { throw SimServerError.connectionDropped }
            let first = bytes.removeFirst()
            pending = bytes
            return first
        }

        mutating func nextBuffer(suggested count: Int) async throws -> [UInt8]? {
            guard let bytes = pending, !bytes.isEmpty else { throw SimServerError.connectionDropped }
            pending = nil
            return bytes
        }
    }
}

/// A value behind a lock, shared across threads (the request path avoids actor hops).
final class SimLocked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
