import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
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
    /// Every response leaves this long after its request arrived, at the earliest: the round trip of a
    /// network and a busy server. The request is handled meanwhile (no thread waits; no CPU is spent).
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
    /// The most records the log keeps: past it the oldest quarter is forgotten (the counters of
    /// `SimServer.statistics` keep counting), so a long-running simulator does not grow without bound.
    public var requestLogLimit: Int
    /// Serve the control endpoints under `/_sim/` (statistics, request log, faults at run time), so a
    /// simulator in another process can be watched and steered.
    public var controlEndpoints: Bool

    public init(
        port: UInt16 = 0, latency: Duration = .zero, rateLimitPerMinute: Int? = nil, rateLimitBurst: Int? = nil,
        faults: FaultSpec = .none, recordsRequests: Bool = true, requestLogLimit: Int = 1_000_000,
        controlEndpoints: Bool = true
    ) {
        self.port = port
        self.latency = latency
        self.rateLimitPerMinute = rateLimitPerMinute
        self.rateLimitBurst = rateLimitBurst
        self.faults = faults
        self.recordsRequests = recordsRequests
        self.requestLogLimit = max(1, requestLogLimit)
        self.controlEndpoints = controlEndpoints
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
    /// The request is still being handled (inside the API, or waiting out its latency or stall);
    /// `applied` is already true once the API has handled it.
    public var inProgress: Bool
}

/// Counters of a running server, for benchmarks.
public struct SimServerStatistics: Sendable, Hashable {
    /// API requests received (control endpoints not counted).
    public var requests: Int
    /// TCP connections accepted.
    public var connections: Int
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

/// Why a `SimServer` could not start.
public enum SimServerError: Error, Hashable, CustomStringConvertible, LocalizedError {
    case alreadyStarted
    /// The address could not be bound (e.g. the port is taken).
    case cannotListen(port: UInt16, detail: String)

    public var description: String {
        switch self {
        case .alreadyStarted:
            return "the simulator server is already running; stop it before starting it again"
        case .cannotListen(let port, let detail):
            let which = port == 0 ? "a free port" : "port \(port)"
            return "cannot listen on 127.0.0.1 at \(which): \(detail); choose another port or 0 for any free port"
        }
    }

    public var errorDescription: String? { description }
}

/// Serves one `SimulatedAPI` on 127.0.0.1 over HTTP/1.1 (SwiftNIO), adding latency, a rate limit and
/// injected faults around it, and recording every request.
///
/// Per request, in order: the server-wide rate limit (over it: the API's 429 response, not applied);
/// the fault draw (`FaultSpec`); then the API's `handle`. The outcome (a response, or a dropped or cut
/// connection) takes effect once the configured latency has passed since the request arrived, plus a
/// `stall` fault's hold and the API's own `SimResponse.delay`. Paths under `/_sim/` are
/// the server's own control endpoints (when enabled) and never reach the API: `GET /_sim/stats`,
/// `GET /_sim/requests`, `DELETE /_sim/requests`, `GET /_sim/faults`, `PUT /_sim/faults` (body: a
/// fault spec in text form).
///
/// Two event-loop threads serve the connections; waits are timers on the loops, so a request
/// that waits costs no thread and no task. Accepted sockets get TCP_NODELAY, as a production server sets it.
/// Start with `start()` (returns the port), stop with `stop()`; a server must be stopped before the
/// process or test ends.
public final class SimServer: Sendable {
    private let core: SimServerCore
    private let lifecycle = SimLocked(Lifecycle())

    private struct Lifecycle {
        /// A `start()` is under way or done (cleared by `stop()` or a failed start).
        var claimed = false
        var running: Running?
    }

    private struct Running {
        let group: MultiThreadedEventLoopGroup
        let listener: any Channel
        let connections: SimConnections
        let port: Int
    }

    /// Event-loop threads per server. Two keep the median latency at 64 requests in flight within 1 % of
    /// the configured 20 ms (one lets a burst of responses due together queue up: +4–8 %); the API's rules
    /// run one request at a time anyway (`ttn-migrate bench --simulator-only`).
    static let eventLoops = 2

    /// Requests with a larger body are answered 413 and the connection closed.
    static let maxBodyBytes = 16 << 20

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
            let running = try await listen()
            lifecycle.withLock { $0.running = running }
            return running.port
        } catch {
            lifecycle.withLock { $0 = Lifecycle() }
            throw error
        }
    }

    private func listen() async throws -> Running {
        let requestedPort = core.options.port
        let group = MultiThreadedEventLoopGroup(numberOfThreads: Self.eventLoops)
        let connections = SimConnections()
        let core = self.core
        do {
            let listener = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 256)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.allowRemoteHalfClosure, value: true)
                .childChannelInitializer { channel in
                    connections.add(channel)
                    core.state.withLock { $0.connections += 1 }
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                        try channel.pipeline.syncOperations.addHandler(SimHTTPHandler(core: core))
                    }
                }
                .bind(host: "127.0.0.1", port: Int(requestedPort))
                .get()
            guard let port = listener.localAddress?.port else {
                try? await listener.close()
                throw SimServerError.cannotListen(port: requestedPort, detail: "the socket has no local port")
            }
            return Running(group: group, listener: listener, connections: connections, port: port)
        } catch {
            try? await group.shutdownGracefully()
            if let error = error as? SimServerError { throw error }
            throw SimServerError.cannotListen(port: requestedPort, detail: "\(error)")
        }
    }

    /// Stops listening, closes every connection (a request waiting its latency or a stall is dropped
    /// unanswered) and waits for the event loop to finish. Does nothing when not running (or while
    /// `start()` is still under way).
    public func stop() async {
        let running = lifecycle.withLock { state -> Running? in
            guard let running = state.running else { return nil }
            state = Lifecycle()
            return running
        }
        guard let running else { return }
        try? await running.listener.close()
        for channel in running.connections.open { channel.close(promise: nil) }
        try? await running.group.shutdownGracefully()
    }

    /// The port while running.
    public var port: Int? { lifecycle.withLock { $0.running?.port } }

    /// `http://127.0.0.1:<port>` while running.
    public var baseURL: String? { port.map { "http://127.0.0.1:\($0)" } }

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

/// The connections a running server has open, so `stop()` can close them.
final class SimConnections: Sendable {
    private let channels = SimLocked<[ObjectIdentifier: any Channel]>([:])

    func add(_ channel: any Channel) {
        let key = ObjectIdentifier(channel)
        channels.withLock { $0[key] = channel }
        channel.closeFuture.whenComplete { [channels] _ in
            channels.withLock { $0[key] = nil }
        }
    }

    var open: [any Channel] { channels.withLock { Array($0.values) } }
}

/// One API request on its way through the server: the request as the API will see it and its record.
struct SimExchange {
    var request: SimRequest
    var record: SimRequestRecord
    let start: ContinuousClock.Instant
}

/// What the server does with a request, once its latency has passed.
struct SimDisposition {
    enum Outcome {
        /// Send the response.
        case respond(SimResponse)
        /// Close the connection without a byte; `status` is the response that existed, if any.
        case close(status: Int?)
        /// Send the head and half the body of the response, then close.
        case cut(SimResponse)

        /// The status of the response the server produced, if it produced one.
        var status: Int? {
            switch self {
            case .respond(let response), .cut(let response): return response.status
            case .close(let status): return status
            }
        }
    }

    var outcome: Outcome
    /// How long the outcome is held back first (a `stall` fault, the API's `SimResponse.delay`).
    var hold: Duration = .zero
}

/// The part of a server the connection handlers share (no reference back to `SimServer`, so no cycle).
final class SimServerCore: Sendable {
    let api: any SimulatedAPI
    let options: SimServerOptions
    let state: SimLocked<State>

    struct State {
        var injector: FaultInjector
        var limiter: SimRateLimiter?
        var sequence = 0
        var connections = 0
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
        /// cleared or forgotten meanwhile is not added back. A log at `limit` forgets its oldest quarter first.
        mutating func record(_ record: SimRequestRecord, adding: Bool, limit: Int) {
            if let position = logPositions[record.sequence] {
                log[position] = record
            } else if adding {
                if log.count >= limit {
                    log.removeFirst(max(1, limit / 4))
                    logPositions = Dictionary(uniqueKeysWithValues: log.enumerated().map { ($0.element.sequence, $0.offset) })
                }
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
                requests: $0.sequence, connections: $0.connections, applied: $0.applied, rateLimited: $0.rateLimited,
                faults: $0.faults, statuses: $0.statuses, handling: $0.handling, processCPU: Self.processCPUTime()
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

    /// Whether a request is for the server's own endpoints rather than the API.
    func isControl(_ request: SimRequest) -> Bool {
        options.controlEndpoints && request.path.hasPrefix("/_sim/")
    }

    /// Numbers an API request and logs it as in progress.
    func receive(_ request: SimRequest) -> SimExchange {
        let received = Date()
        let start = ContinuousClock.now
        let recordsRequests = options.recordsRequests
        return state.withLock { state in
            state.sequence += 1
            let record = SimRequestRecord(
                sequence: state.sequence, method: request.method, path: request.path, query: request.query, fault: nil,
                rateLimited: false, applied: false, status: nil, delivered: false, received: received,
                finished: received, handling: .zero, total: .zero, inProgress: true
            )
            if recordsRequests { state.record(record, adding: true, limit: options.requestLogLimit) }
            return SimExchange(request: request, record: record, start: start)
        }
    }

    /// The rate limit, the fault draw, then the API.
    func dispose(_ exchange: inout SimExchange) -> SimDisposition {
        let method = exchange.request.method
        let path = exchange.request.path
        let (decision, fault, stall) = state.withLock { state -> (SimRateLimiter.Decision?, SimFault?, Duration) in
            let decision = state.limiter?.admit(at: .now)
            if case .limited? = decision { return (decision, nil, .zero) }
            return (decision, state.injector.draw(method: method, path: path), state.injector.spec.stall)
        }
        switch decision {
        case .limited(let limitState)?:
            exchange.record.rateLimited = true
            return SimDisposition(outcome: .respond(api.rateLimitedResponse(
                limitPerMinute: limitState.limit, retryAfterSeconds: max(1, limitState.retrySeconds)
            )))
        case .allowed(_, let limitState)?:
            exchange.request.rateLimit = limitState
        case nil:
            break
        }
        exchange.record.fault = fault
        switch fault {
        case .dropBefore?:
            return SimDisposition(outcome: .close(status: nil))
        case .unavailable?:
            return SimDisposition(outcome: .respond(api.unavailableResponse()))
        case .tooManyRequests?:
            return SimDisposition(outcome: .respond(
                api.rateLimitedResponse(limitPerMinute: options.rateLimitPerMinute ?? 0, retryAfterSeconds: 1)
            ))
        case .dropAfter?, .stall?, nil:
            break
        }
        let handleStart = ContinuousClock.now
        let response = api.handle(exchange.request)
        exchange.record.handling = ContinuousClock.now - handleStart
        exchange.record.applied = true
        if options.recordsRequests {
            let applied = exchange.record
            state.withLock { $0.record(applied, adding: false, limit: options.requestLogLimit) }
        }
        switch fault {
        case .dropAfter?:
            return SimDisposition(outcome: .cut(response), hold: response.delay)
        case .stall?:
            return SimDisposition(outcome: .respond(response), hold: response.delay + stall)
        default:
            return SimDisposition(outcome: .respond(response), hold: response.delay)
        }
    }

    /// Closes the record: the response's status (nil when none existed) and whether all of it was sent.
    func finish(_ exchange: SimExchange, status: Int?, delivered: Bool) {
        var record = exchange.record
        record.status = status
        record.delivered = delivered
        record.finished = Date()
        record.total = ContinuousClock.now - exchange.start
        record.inProgress = false
        let finished = record
        let recordsRequests = options.recordsRequests
        state.withLock { state in
            if let status = finished.status { state.statuses[status, default: 0] += 1 }
            if let fault = finished.fault { state.faults[fault, default: 0] += 1 }
            if finished.applied { state.applied += 1 }
            if finished.rateLimited { state.rateLimited += 1 }
            state.handling += finished.handling
            if recordsRequests { state.record(finished, adding: false, limit: options.requestLogLimit) }
        }
    }

    // MARK: control endpoints

    /// Answers a request for one of the server's own endpoints under `/_sim/`.
    func control(_ request: SimRequest) -> SimResponse {
        let method = request.method
        let path = request.path
        switch (method, path) {
        case ("GET", "/_sim/stats"):
            let stats = statistics()
            return .json(200, [
                "requests": stats.requests,
                "connections": stats.connections,
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
            let text = String(decoding: request.body, as: UTF8.self)
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

    /// Seconds of a duration, as the control endpoints and the benchmark report them.
    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

}

/// One connection's HTTP/1.1 exchanges, on its event loop: builds each request, has the server core
/// dispose of it, waits out the latency and holds as a timer on the loop, and writes, cuts or drops the
/// response.
///
/// NIO's pipelining helper hands the next request over only once a response has ended, so at most one
/// exchange is pending per connection.
final class SimHTTPHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let core: SimServerCore
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var bodyTooLarge = false
    private var pending: Pending?
    /// The client closed its sending side: the connection closes once the pending response is out.
    private var inputClosed = false

    private struct Pending {
        var exchange: SimExchange
        var keepAlive: Bool
        var version: HTTPVersion
        /// Decided once the batch of reads the request arrived in is done.
        var disposition: SimDisposition?
        /// When the response may go at the earliest: arrival plus the latency.
        var due: NIODeadline
        var timer: Scheduled<Void>?
    }

    init(core: SimServerCore) {
        self.core = core
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let requestHead):
            head = requestHead
            body.clear()
            bodyTooLarge = false
            // A client that asks before sending its body is told to go on, as Go's net/http (The Things Stack) does.
            if requestHead.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" }) {
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: requestHead.version, status: .continue))), promise: nil)
            }
        case .body(var part):
            if body.readableBytes + part.readableBytes > SimServer.maxBodyBytes {
                bodyTooLarge = true
                body.clear()
            } else if !bodyTooLarge {
                body.writeBuffer(&part)
            }
        case .end:
            guard let requestHead = head else { return }
            head = nil
            if bodyTooLarge {
                let response = SimResponse.json(413, ["error": "the request body is larger than \(SimServer.maxBodyBytes) bytes"])
                write(response, version: requestHead.version, keepAlive: false, context: context)
                return
            }
            begin(Self.request(requestHead, body: body), head: requestHead, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let interrupted = pending {
            pending = nil
            interrupted.timer?.cancel()
            core.finish(interrupted.exchange, status: interrupted.disposition?.outcome.status, delivered: false)
        }
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case ChannelEvent.inputClosed? = event as? ChannelEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        inputClosed = true
        if pending == nil { context.close(promise: nil) }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    private func begin(_ request: SimRequest, head: HTTPRequestHead, context: ChannelHandlerContext) {
        if core.isControl(request) {
            write(core.control(request), version: head.version, keepAlive: head.isKeepAlive && !inputClosed, context: context)
            return
        }
        pending = Pending(
            exchange: core.receive(request), keepAlive: head.isKeepAlive, version: head.version,
            due: .now() + Self.timeAmount(core.options.latency)
        )
        // Handled once this batch of reads is done, so requests that arrive together are all timed from
        // their arrival, not from the end of the handling of those before them.
        context.eventLoop.assumeIsolated().execute { [self] in dispose(context: context) }
    }

    private func dispose(context: ChannelHandlerContext) {
        guard var current = pending, current.disposition == nil else { return }
        let disposition = core.dispose(&current.exchange)
        current.disposition = disposition
        let due = current.due + Self.timeAmount(disposition.hold)
        pending = current
        if due <= .now() {
            complete(context: context)
        } else {
            pending?.timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: due) { [self] in complete(context: context) }
        }
    }

    private func complete(context: ChannelHandlerContext) {
        guard let current = pending, let disposition = current.disposition else { return }
        pending = nil
        switch disposition.outcome {
        case .respond(let response):
            core.finish(current.exchange, status: response.status, delivered: true)
            write(response, version: current.version, keepAlive: current.keepAlive && !inputClosed, context: context)
        case .close(let status):
            core.finish(current.exchange, status: status, delivered: false)
            context.close(promise: nil)
        case .cut(let response):
            core.finish(current.exchange, status: response.status, delivered: false)
            cut(response, version: current.version, context: context)
        }
    }

    private static func timeAmount(_ duration: Duration) -> TimeAmount {
        let (seconds, attoseconds) = duration.components
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }

    private func write(_ response: SimResponse, version: HTTPVersion, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = Self.headers(response, length: response.body.count)
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(
            version: version, status: HTTPResponseStatus(statusCode: response.status), headers: headers
        ))), promise: nil)
        if !response.body.isEmpty {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: response.body)))), promise: nil)
        }
        let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            written.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    /// The status line and headers (announcing the whole body), half the body, then the connection closes:
    /// the client sees the response cut short. A body of fewer than two bytes cannot be cut: nothing is sent.
    private func cut(_ response: SimResponse, version: HTTPVersion, context: ChannelHandlerContext) {
        guard response.body.count >= 2 else {
            context.close(promise: nil)
            return
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(
            version: version, status: HTTPResponseStatus(statusCode: response.status),
            headers: Self.headers(response, length: response.body.count)
        ))), promise: nil)
        let half = context.channel.allocator.buffer(bytes: response.body.prefix(response.body.count / 2))
        context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(half)))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private static func headers(_ response: SimResponse, length: Int) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for (name, value) in response.headers.sorted(by: { $0.key < $1.key })
        // The byte count rules out almost every name before the (Foundation-free) case-folded comparison.
        where !(name.utf8.count == 14 && name.lowercased() == "content-length") {
            headers.add(name: name, value: value)
        }
        headers.add(name: "Content-Length", value: String(length))
        return headers
    }

    /// The request as the API sees it: percent-decoded path and query, lower-cased header names.
    static func request(_ head: HTTPRequestHead, body: ByteBuffer) -> SimRequest {
        // `?`, `&` and `=` are ASCII: the target is split on its bytes.
        let uri = Substring(head.uri)
        let mark = uri.utf8.firstIndex(of: UInt8(ascii: "?"))
        let rawPath = mark.map { uri[..<$0] } ?? uri
        var query: [String: String] = [:]
        if let mark {
            for item in uri[uri.utf8.index(after: mark)...].utf8.split(separator: UInt8(ascii: "&")) {
                let pair = Substring(item)
                let equals = pair.utf8.firstIndex(of: UInt8(ascii: "="))
                let name = equals.map { pair[..<$0] } ?? pair
                let value = equals.map { pair[pair.utf8.index(after: $0)...] } ?? ""
                query[percentDecoded(name)] = percentDecoded(value)
            }
        }
        var headers: [String: String] = [:]
        for (name, value) in head.headers { headers[name] = value }
        return SimRequest(
            method: head.method.rawValue, path: percentDecoded(rawPath), query: query,
            headers: headers, body: Data(body.readableBytesView)
        )
    }

    /// `%XX` escapes decoded; the text as it is when an escape is malformed or the result is not UTF-8 (as
    /// `removingPercentEncoding` returning nil was treated).
    static func percentDecoded(_ text: Substring) -> String {
        guard text.utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        func hex(_ byte: UInt8?) -> UInt8? {
            switch byte {
            case (UInt8(ascii: "0")...UInt8(ascii: "9"))?: return byte! - UInt8(ascii: "0")
            case (UInt8(ascii: "a")...UInt8(ascii: "f"))?: return byte! - UInt8(ascii: "a") + 10
            case (UInt8(ascii: "A")...UInt8(ascii: "F"))?: return byte! - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else {
                bytes.append(byte)
                continue
            }
            guard let high = hex(iterator.next()), let low = hex(iterator.next()) else { return String(text) }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self) ?? String(text)
    }
}

/// A value behind a lock, shared across threads.
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
