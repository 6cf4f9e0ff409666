import Foundation

/// Options of the v2 simulator itself (the server's latency, limit and faults are `SimServerOptions`).
public struct V2SimulatorOptions: Sendable {
    /// How strictly the estate is checked on load.
    public var validation: V2EstateValidation
    /// Enforce the v2 handler's own rate limits: `handlerRequestsPerSecond` per client (token owner,
    /// or application for an access key) and per application, a request waiting up to
    /// `handlerMaxWait` for its slot, else 429 (`reference/v2-and-peers.md` §B).
    public var handlerRateLimit: Bool
    public var handlerRequestsPerSecond: Int
    public var handlerMaxWait: Duration

    public init(
        validation: V2EstateValidation = .strict, handlerRateLimit: Bool = false, handlerRequestsPerSecond: Int = 5,
        handlerMaxWait: Duration = .milliseconds(500)
    ) {
        self.validation = validation
        self.handlerRateLimit = handlerRateLimit
        self.handlerRequestsPerSecond = handlerRequestsPerSecond
        self.handlerMaxWait = handlerMaxWait
    }
}

/// Why a v2 simulator cannot be created.
public enum V2SimulatorError: Error, Hashable, CustomStringConvertible, LocalizedError {
    case emptyToken
    case invalidHandlerRate(Int)

    public var description: String {
        switch self {
        case .emptyToken:
            return "the v2 simulator needs a non-empty bearer token; set TTN_V2_TOKEN or let the simulator generate one"
        case .invalidHandlerRate(let rate):
            return "the v2 handler rate limit must be at least 1 request per second, not \(rate)"
        }
    }

    public var errorDescription: String? { description }
}

/// The TTN v2 account server and handlers, simulated from an estate file (`V2Estate`).
///
/// One server serves both: the account server under `/api/v2` and handler `<name>` under
/// `/handlers/<name>`, so with a server on port P the account server URL is
/// `http://127.0.0.1:P/api/v2` and a handler URL `http://127.0.0.1:P/handlers/eu`.
///
/// Account server (`reference/v2-and-peers.md` §A; every call needs `Authorization: Bearer <token>`):
/// `GET /users/me`, `GET /applications` (deleted ones only with `?deleted=1`),
/// `GET /applications/{id}` (deleted ones too), `…/{id}/euis`, `…/{id}/collaborators`,
/// `…/{id}/access-keys`, `…/{id}/rights`, `GET /gateways`, `GET /gateways/{id}`,
/// `GET /gateways/{id}/collaborators`. Errors: `{"code": <HTTP status>, "error": "<message>"}`.
///
/// Handler (`reference/v2-and-peers.md` §B, TTN `core/handler/manager_server.go`):
/// `GET /applications/{app}` (needs right `settings`), `GET /applications/{app}/devices?limit=&offset=`
/// (needs `devices`; without `f_cnt_up`, `f_cnt_down`, `last_seen`; headers `Grpc-Metadata-Total` and
/// `Grpc-Metadata-Selected`; an empty page is `{}` as grpc-gateway omits empty lists),
/// `GET /applications/{app}/devices/{dev}` (needs `devices`; with the counters). Credentials:
/// `Bearer <token>` (rights: the application's `rights` in the estate) or `Key <access key>` (scheme
/// case-insensitive; the key must be one of that application's keys; rights: the key's). Checked in
/// the handler's order: credential (401), rate limit (429), right (403), application on this handler
/// (404). `POST|PUT /applications/{app}/devices/{dev}` (SetDevice, needs `devices`) changes a device
/// under the read-only rules of v2 since 2021 (`V2HandlerDevices`): only keys, address and frame counters
/// may change, which is what the cut-over's key clearing needs. Errors are grpc-gateway's `{"code": <gRPC status code>, "error": "<message>"}`: 16
/// unauthenticated, 7 permission denied, 5 not found, 8 resource exhausted, 3 invalid argument,
/// 12 unimplemented, with the matching HTTP status.
///
/// Every other write is refused: 405 on the account server, gRPC 12 (unimplemented) on the handler.
public final class V2Simulator: SimulatedAPI, Sendable {
    public let estate: V2Estate
    public let options: V2SimulatorOptions
    private let token: String
    private let account: AccountBodies
    /// handler name → application ID → what that handler serves.
    private let handlers: [String: [String: HandlerApplication]]
    private let applications: [String: V2Estate.Application]
    private let limiters = SimLocked<[String: SimRateLimiter]>([:])
    private let devices: V2HandlerDevices

    private struct AccountBodies {
        var me: Data
        var applications: Data
        var applicationsWithDeleted: Data
        var application: [String: ApplicationBodies]
        var gateways: Data
        var gateway: [String: (gateway: Data, collaborators: Data)]
    }

    private struct ApplicationBodies {
        var application: Data
        var euis: Data
        var collaborators: Data
        var accessKeys: Data
        var rights: Data
    }

    private struct HandlerApplication {
        var application: Data
    }

    public init(estate: V2Estate, token: String, options: V2SimulatorOptions = V2SimulatorOptions()) throws(V2SimulatorError) {
        guard !token.isEmpty else { throw .emptyToken }
        guard options.handlerRequestsPerSecond >= 1 else { throw .invalidHandlerRate(options.handlerRequestsPerSecond) }
        self.estate = estate
        self.token = token
        self.options = options
        var applications: [String: V2Estate.Application] = [:]
        var applicationBodies: [String: ApplicationBodies] = [:]
        var handlers: [String: [String: HandlerApplication]] = [:]
        var handlerDevices: [String: [(id: String, full: V2JSON)]] = [:]
        for application in estate.applications {
            applications[application.id] = application
            let json = application.json
            applicationBodies[application.id] = ApplicationBodies(
                application: json.data, euis: (json["euis"] ?? .array([])).data,
                collaborators: (json["collaborators"] ?? .array([])).data,
                accessKeys: (json["access_keys"] ?? .array([])).data, rights: (json["rights"] ?? .array([])).data
            )
            if let handler = application.handler {
                handlers[handler.name, default: [:]][application.id] = HandlerApplication(application: handler.application.data)
                handlerDevices[application.id] = handler.devices.map { (id: $0.id, full: $0.full) }
            }
        }
        var gatewayBodies: [String: (gateway: Data, collaborators: Data)] = [:]
        for gateway in estate.gateways {
            gatewayBodies[gateway.id] = (gateway.json.data, (gateway.json["collaborators"] ?? .array([])).data)
        }
        account = AccountBodies(
            me: estate.users[0].data,
            applications: V2JSON.array(estate.applications.filter { !$0.isDeleted }.map(\.json)).data,
            applicationsWithDeleted: V2JSON.array(estate.applications.map(\.json)).data,
            application: applicationBodies,
            gateways: V2JSON.array(estate.gateways.map(\.json)).data,
            gateway: gatewayBodies
        )
        self.applications = applications
        self.handlers = handlers
        devices = V2HandlerDevices(applications: handlerDevices)
    }

    /// A device as the handler holds it now, as JSON (nil if unknown): what SetDevice left.
    public func storedDevice(application: String, device: String) -> Data? {
        devices.fullBody(application: application, device: device)
    }

    /// Loads the estate file and creates the simulator. Throws `V2EstateError` or `V2SimulatorError`.
    public convenience init(estateFile path: String, token: String, options: V2SimulatorOptions = V2SimulatorOptions()) throws {
        let estate = try V2Estate.load(file: path, validation: options.validation)
        try self.init(estate: estate, token: token, options: options)
    }

    // MARK: SimulatedAPI

    public func handle(_ request: SimRequest) -> SimResponse {
        let segments = request.path.split(separator: "/").map(String.init)
        if segments.count >= 2, segments[0] == "api", segments[1] == "v2" {
            return accountServer(request, route: Array(segments.dropFirst(2)))
        }
        if segments.first == "handlers" {
            return handler(request, route: Array(segments.dropFirst()))
        }
        return Self.accountError(404, "no v2 API at \(request.path): the account server is under /api/v2, the handlers under /handlers/<name>")
    }

    public func unavailableResponse() -> SimResponse {
        Self.accountError(503, "service unavailable, try again later")
    }

    public func rateLimitedResponse(limitPerMinute: Int, retryAfterSeconds: Int) -> SimResponse {
        Self.accountError(429, "rate limit of \(limitPerMinute) requests per minute reached, retry in \(retryAfterSeconds) s")
    }

    // MARK: account server

    private func accountServer(_ request: SimRequest, route: [String]) -> SimResponse {
        guard request.method == "GET" else {
            return Self.accountError(405, "the v2 simulator is read-only: \(request.method) \(request.path) is not served")
        }
        guard let credential = Self.credential(request) else {
            return Self.accountError(401, "missing credentials: send Authorization: Bearer <token>")
        }
        guard case .bearer(let presented) = credential, presented == token else {
            return Self.accountError(401, "the access token is not valid")
        }
        switch route.count {
        case 1 where route[0] == "applications":
            let withDeleted = ["1", "true"].contains(request.query["deleted"] ?? "")
            return Self.json(withDeleted ? account.applicationsWithDeleted : account.applications)
        case 1 where route[0] == "gateways":
            return Self.json(account.gateways)
        case 2 where route == ["users", "me"]:
            return Self.json(account.me)
        case 2 where route[0] == "applications":
            guard let bodies = account.application[route[1]] else { return Self.applicationNotFound(route[1]) }
            return Self.json(bodies.application)
        case 2 where route[0] == "gateways":
            guard let bodies = account.gateway[route[1]] else { return Self.gatewayNotFound(route[1]) }
            return Self.json(bodies.gateway)
        case 3 where route[0] == "applications":
            guard let bodies = account.application[route[1]] else { return Self.applicationNotFound(route[1]) }
            switch route[2] {
            case "euis": return Self.json(bodies.euis)
            case "collaborators": return Self.json(bodies.collaborators)
            case "access-keys": return Self.json(bodies.accessKeys)
            case "rights": return Self.json(bodies.rights)
            default: break
            }
        case 3 where route[0] == "gateways" && route[2] == "collaborators":
            guard let bodies = account.gateway[route[1]] else { return Self.gatewayNotFound(route[1]) }
            return Self.json(bodies.collaborators)
        default:
            break
        }
        return Self.accountError(404, "no account server endpoint GET \(request.path)")
    }

    private static func applicationNotFound(_ id: String) -> SimResponse {
        accountError(404, "application \"\(id)\" not found")
    }

    private static func gatewayNotFound(_ id: String) -> SimResponse {
        accountError(404, "gateway \"\(id)\" not found")
    }

    // MARK: handler

    /// gRPC status codes in grpc-gateway error bodies.
    private enum GRPCCode: Int {
        case invalidArgument = 3
        case notFound = 5
        case permissionDenied = 7
        case resourceExhausted = 8
        case unimplemented = 12
        case unauthenticated = 16

        var httpStatus: Int {
            switch self {
            case .invalidArgument: return 400
            case .notFound: return 404
            case .permissionDenied: return 403
            case .resourceExhausted: return 429
            case .unimplemented: return 405
            case .unauthenticated: return 401
            }
        }
    }

    private func handler(_ request: SimRequest, route: [String]) -> SimResponse {
        guard route.count >= 3, route[1] == "applications", route.count <= 5,
              route.count == 3 || route[3] == "devices" else {
            return Self.handlerError(.notFound, "no handler endpoint \(request.method) \(request.path)")
        }
        let handlerName = route[0]
        guard let served = handlers[handlerName] else {
            return Self.handlerError(.notFound, "no v2 handler \"\(handlerName)\" in this simulator; its handlers: \(estate.handlerNames.joined(separator: ", "))")
        }
        let isSetDevice = ["POST", "PUT"].contains(request.method) && route.count == 5
        guard request.method == "GET" || isSetDevice else {
            return Self.handlerError(.unimplemented, "the v2 simulator serves GET and SetDevice only: \(request.method) \(request.path) is not served")
        }
        let applicationID = route[2]
        // validateTTNAuthAppContext: a token, or a key exchanged for a token of that application.
        let rights: Set<String>
        let subject: String
        switch Self.credential(request) {
        case nil:
            return Self.handlerError(.unauthenticated, "neither token nor key present")
        case .bearer(let presented)?:
            guard presented == token else { return Self.handlerError(.unauthenticated, "the access token is not valid") }
            rights = applications[applicationID]?.callerRights ?? []
            subject = estate.ownerUsername
        case .key(let presented)?:
            guard let key = applications[applicationID]?.accessKeys.first(where: { $0.key == presented }) else {
                return Self.handlerError(.unauthenticated, "the access key is not valid for application \"\(applicationID)\"")
            }
            rights = key.rights
            subject = applicationID
        }
        var wait = Duration.zero
        if options.handlerRateLimit {
            switch throttle(subject: subject, applicationID: applicationID) {
            case .wait(let slot): wait = slot
            case .refused(let refusal): return refusal
            }
        }
        var response = answer(request, route: route, rights: rights, applicationID: applicationID, served: served)
        response.delay = wait
        return response
    }

    /// The handler's answer once the caller is authenticated and within its limits.
    private func answer(
        _ request: SimRequest, route: [String], rights: Set<String>, applicationID: String, served: [String: HandlerApplication]
    ) -> SimResponse {
        let needed = route.count == 3 ? "settings" : "devices"
        guard rights.contains(needed) else {
            return Self.handlerError(.permissionDenied, "No \"\(needed)\" rights to Application \"\(applicationID)\"")
        }
        guard let application = served[applicationID] else {
            return Self.handlerError(.notFound, "Application not registered to this Handler")
        }
        switch route.count {
        case 3:
            return Self.json(application.application)
        case 4:
            return deviceList(applicationID, query: request.query)
        case _ where request.method != "GET":
            do {
                try devices.set(application: applicationID, device: route[4], body: request.body)
                return Self.json(Data("{}".utf8))
            } catch {
                switch error {
                case .invalidArgument(let message): return Self.handlerError(.invalidArgument, message)
                case .permissionDenied(let message): return Self.handlerError(.permissionDenied, message)
                }
            }
        default:
            guard let body = devices.fullBody(application: applicationID, device: route[4]) else {
                return Self.handlerError(.notFound, "Device \"\(route[4])\" not found in application \"\(applicationID)\"")
            }
            return Self.json(body)
        }
    }

    private func deviceList(_ applicationID: String, query: [String: String]) -> SimResponse {
        var paging: [String: Int] = [:]
        for name in ["limit", "offset"] {
            let text = query[name] ?? ""
            if text.isEmpty {
                paging[name] = 0
                continue
            }
            guard let value = Int(text), value >= 0 else {
                return Self.handlerError(.invalidArgument, "\(name) must be a whole number of at least 0")
            }
            paging[name] = value
        }
        let (total, page) = devices.listedPage(application: applicationID, offset: paging["offset"] ?? 0, limit: paging["limit"] ?? 0)
        var body: Data
        if page.isEmpty {
            body = Data("{}".utf8)
        } else {
            body = Data(#"{"devices":["#.utf8)
            for (index, device) in page.enumerated() {
                if index > 0 { body.append(UInt8(ascii: ",")) }
                body.append(device)
            }
            body.append(contentsOf: Array("]}".utf8))
        }
        return SimResponse(status: 200, headers: [
            "Content-Type": "application/json", "Grpc-Metadata-Total": String(total), "Grpc-Metadata-Selected": String(page.count),
        ], body: body)
    }

    /// The handler's per-client and per-application limits: the wait for a slot in both, up to the
    /// allowance each, else the refusal (429 in the handler's shape).
    private func throttle(subject: String, applicationID: String) -> HandlerThrottle {
        var wait = Duration.zero
        for (key, message) in [
            ("client:\(subject)", "Rate limit for client \"\(subject)\" reached"),
            ("application:\(applicationID)", "Rate limit for application \"\(applicationID)\" reached"),
        ] {
            let slotStart = ContinuousClock.now + wait
            let decision = limiters.withLock { limiters -> SimRateLimiter.Decision in
                var limiter = limiters[key] ?? SimRateLimiter(limit: options.handlerRequestsPerSecond, period: .seconds(1))
                let decision = limiter.admit(at: slotStart, maxWait: options.handlerMaxWait)
                limiters[key] = limiter
                return decision
            }
            switch decision {
            case .allowed(let slotWait, _):
                wait += slotWait
            case .limited:
                return .refused(Self.handlerError(.resourceExhausted, message))
            }
        }
        return .wait(wait)
    }

    /// What the handler's rate limit makes of a request.
    private enum HandlerThrottle {
        /// Admitted once this wait is over.
        case wait(Duration)
        /// Refused with this answer.
        case refused(SimResponse)
    }

    // MARK: helpers

    private enum Credential {
        case bearer(String)
        case key(String)
    }

    /// `Authorization: Bearer <token>` or `Key <access key>`, scheme matched case-insensitively
    /// (TTN `core/proxy/proxy.go`).
    private static func credential(_ request: SimRequest) -> Credential? {
        guard let header = request.headers["authorization"] else { return nil }
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard let space = trimmed.firstIndex(of: " ") else { return nil }
        let scheme = trimmed[..<space].lowercased()
        let value = trimmed[space...].trimmingCharacters(in: .whitespaces)
        guard !value.isEmpty else { return nil }
        switch scheme {
        case "bearer": return .bearer(value)
        case "key": return .key(value)
        default: return nil
        }
    }

    private static func json(_ body: Data) -> SimResponse {
        SimResponse(status: 200, headers: ["Content-Type": "application/json"], body: body)
    }

    /// The account server's error body: `{"code": <HTTP status>, "error": "<message>"}` (§A.1).
    static func accountError(_ status: Int, _ message: String) -> SimResponse {
        .json(status, ["code": status, "error": message])
    }

    /// grpc-gateway's error body: `{"code": <gRPC code>, "error": "<message>"}`.
    private static func handlerError(_ code: GRPCCode, _ message: String) -> SimResponse {
        .json(code.httpStatus, ["code": code.rawValue, "error": message])
    }
}
