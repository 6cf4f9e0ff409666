import Foundation

/// What the simulated v3 stack knows at start: accounts and the API key it accepts.
public struct V3SimulatorConfig: Sendable {
    /// User accounts that exist (user ID rule: 2–36 characters). The first one owns `apiKey`.
    public var users: [String]
    /// Organization accounts that exist; the first user is a member of each with all rights.
    public var organizations: [String]
    /// The API key (`NNSXS.<39>.<52>`, reference/v3-api.md §11) the simulator accepts; nil: one is generated
    /// (read it back from `V3Simulator.apiKey`).
    public var apiKey: String?
    /// The rights of `apiKey`, as right names (implied rights are expanded, §12). Default: `RIGHT_ALL`.
    public var apiKeyRights: [String]
    /// The clock for `created_at`/`updated_at` and key expiry.
    public var now: @Sendable () -> Date

    public init(
        users: [String],
        organizations: [String] = [],
        apiKey: String? = nil,
        apiKeyRights: [String] = ["RIGHT_ALL"],
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.users = users
        self.organizations = organizations
        self.apiKey = apiKey
        self.apiKeyRights = apiKeyRights
        self.now = now
    }
}

/// A configuration the simulator cannot start with; says which value is wrong and how to fix it.
public struct V3SimulatorConfigError: Error, Sendable, CustomStringConvertible, LocalizedError {
    public let description: String
    public var errorDescription: String? { description }
}

/// The simulated The Things Stack v3 API (Identity, Join, Network and Application Servers) over in-memory state.
///
/// Answers `SimRequest`s like the real stack: routes and methods from the api-definition table, bearer API keys,
/// rights, ID rules and the blocklist, field masks from the field-mask tables, the per-server device registries,
/// and the real error bodies (reference/v3-api.md). Use it directly (`handle`) or behind a `SimServer`.
/// `serving(_:)` gives a view on the same state that routes only some components, for an IS address and a
/// cluster address (`--v3-split`).
///
/// Deliberately stricter than the real stack in one respect (documented in the README): a request whose body
/// carries a non-zero field that its field mask does not cover, or that the RPC does not own, is refused
/// (`field_mask_paths` for a field the RPC cannot set, `non_zero_path` for one outside the mask), where the real
/// stack would silently drop it. That is what catches a client sending AppSKey to the Network Server.
public final class V3Simulator: SimulatedAPI, @unchecked Sendable {
    private let box: V3StateBox
    /// Sums the thread CPU spent applying requests (the benchmark's "v3 rules" figure); nil: not measured.
    let rulesCPUMeter: V3CPUMeter?
    private let engine: V3Engine
    private let router: V3Router
    /// The components this view answers for.
    public let components: Set<V3Component>

    /// The API key the simulator accepts for the first configured user (secret: never log it).
    public let apiKey: String

    /// Starts an empty stack with the configured accounts and key; `tables` overrides the reference tables.
    public convenience init(config: V3SimulatorConfig, tables: V3Tables? = nil) throws {
        try self.init(config: config, tables: tables, measuringRulesCPU: false)
    }

    init(config: V3SimulatorConfig, tables: V3Tables?, measuringRulesCPU: Bool) throws {
        let tables = try tables ?? V3Tables.reference()
        let engine = try V3Engine(tables: tables, now: config.now)
        guard let owner = config.users.first else {
            throw V3SimulatorConfigError(description: "v3 simulator: no user configured; give at least one user ID (the API key's owner)")
        }
        for user in config.users where !V3Validate.isID(user, minimumLength: 2) {
            throw V3SimulatorConfigError(description: "v3 simulator: user ID `\(user)` breaks the v3 user ID rule (2–36 of a-z, 0-9, single inner dashes)")
        }
        for organization in config.organizations where !V3Validate.isID(organization, minimumLength: 3) {
            throw V3SimulatorConfigError(description: "v3 simulator: organization ID `\(organization)` breaks the v3 ID rule (3–36 of a-z, 0-9, single inner dashes)")
        }
        let accounts = config.users + config.organizations
        if let duplicate = Dictionary(grouping: accounts, by: { $0 }).first(where: { $0.value.count > 1 })?.key {
            throw V3SimulatorConfigError(description: "v3 simulator: account ID `\(duplicate)` is configured twice; users and organizations share one namespace")
        }
        var keyRights = V3Rights.none
        for name in config.apiKeyRights {
            guard let number = engine.rights.number(of: .string(name)) else {
                throw V3SimulatorConfigError(description: "v3 simulator: unknown right `\(name)` in the API key rights; use names like RIGHT_ALL or RIGHT_APPLICATION_INFO")
            }
            keyRights = keyRights.union(V3Rights(numbers: [number]))
        }
        let token: (id: String, secret: String)
        if let configured = config.apiKey {
            guard let parsed = V3Token.parseAPIKey(configured) else {
                throw V3SimulatorConfigError(description: "v3 simulator: the configured API key is not of the form NNSXS.<id>.<secret> (base32); create one in a v3 console or leave it unset to generate one")
            }
            token = parsed
        } else {
            token = V3Token.generate()
        }
        let now = config.now()
        var state = V3State(users: config.users, organizations: config.organizations, accountsCreatedAt: now)
        let key = V3APIKeyRecord(id: token.id, secret: token.secret, owner: V3KeyOwner(kind: .user, id: owner),
                                 name: "simulator key", rights: keyRights, createdAt: now, updatedAt: now,
                                 expiresAt: nil, sequence: state.nextSequence())
        state.putAPIKey(key)
        self.box = V3StateBox(state: state)
        self.rulesCPUMeter = measuringRulesCPU ? V3CPUMeter() : nil
        self.engine = engine
        self.components = V3Component.all
        self.router = V3Router(routes: tables.routes, serving: V3Component.all)
        self.apiKey = key.token
    }

    private init(sharing other: V3Simulator, components: Set<V3Component>) {
        box = other.box
        rulesCPUMeter = other.rulesCPUMeter
        engine = other.engine
        apiKey = other.apiKey
        self.components = components
        router = V3Router(routes: engine.tables.routes, serving: components)
    }

    /// A view on the same state that routes only `components` (the others' paths answer 404 Not Found).
    public func serving(_ components: Set<V3Component>) -> V3Simulator {
        V3Simulator(sharing: self, components: components)
    }

    /// Adds an API key for a configured user with the given rights (names) and returns its token: lets a test
    /// act as a caller that lacks rights. A Swift API for tests; there is no HTTP route for it.
    public func addUserAPIKey(user: String, rights: [String], name: String = "test key") throws -> String {
        var granted = V3Rights.none
        for right in rights {
            guard let number = engine.rights.number(of: .string(right)) else {
                throw V3SimulatorConfigError(description: "v3 simulator: unknown right `\(right)`")
            }
            granted = granted.union(V3Rights(numbers: [number]))
        }
        return try box.withState { state in
            guard state.users.contains(user) else {
                throw V3SimulatorConfigError(description: "v3 simulator: user `\(user)` is not configured")
            }
            let token = V3Token.generate()
            let now = engine.now()
            state.putAPIKey(V3APIKeyRecord(id: token.id, secret: token.secret, owner: V3KeyOwner(kind: .user, id: user),
                                           name: name, rights: granted, createdAt: now, updatedAt: now,
                                           expiresAt: nil, sequence: state.nextSequence()))
            return "NNSXS.\(token.id).\(token.secret)"
        }
    }

    /// The whole state as stable JSON for golden-file comparison (a Swift API for tests, not an HTTP route).
    ///
    /// Format (version `ttn-migrate v3 simulator state 1`), keys sorted, two-space indent, final newline:
    /// ```
    /// {"accounts": {"organizations": […], "users": […]},
    ///  "applications": {"<id>": {"fields": {<Application, zero values omitted>},
    ///                            "collaborators": {"user:<id>"|"organization:<id>": [<rights as granted>]},
    ///                            "api_keys": [{"name", "rights", "expires_at"?} sorted by name then rights],
    ///                            "deleted": true (only when soft-deleted), "link": {<ApplicationLink>},
    ///                            "devices": {"<device id>": {"is"|"js"|"ns"|"as": {<EndDevice in that registry>}}}}},
    ///  "format": "ttn-migrate v3 simulator state 1",
    ///  "gateways": {"<id>": {"fields", "collaborators", "api_keys", "deleted"}}}
    /// ```
    /// Left out because they differ between runs: `created_at`, `updated_at`, `deleted_at`, `session.started_at`
    /// and API key IDs and secrets. Device keys are included (tests compare them); rights are sorted by number.
    public func stateDump() -> Data {
        box.withState { state in state.dump(rights: engine.rights).prettySerialized() }
    }

    /// Answers one request (reference/v3-api.md §1, §9); the rules run one request at a time, behind the
    /// state's lock.
    public func handle(_ request: SimRequest) -> SimResponse {
        switch prepare(request) {
        case .answered(let response):
            return finish(response, request)
        case .call(let call):
            return finish(render(execute(call)), request)
        }
    }

    private enum Prepared {
        case answered(SimResponse)
        case call(V3Call)
    }

    /// Routes the request and parses its body; routing and decoding errors are answered here.
    private func prepare(_ request: SimRequest) -> Prepared {
        let prefix = "/api/v3"
        guard request.path == prefix || request.path.hasPrefix(prefix + "/") else {
            return .answered(V3Failure.notFound.response(correlationID: ""))
        }
        let path = request.path.dropFirst(prefix.count)
        switch router.match(method: request.method.uppercased(), path: path) {
        case .notFound:
            return .answered(V3Failure.notFound.response(correlationID: ""))
        case .methodNotAllowed:
            return .answered(V3Failure.methodNotAllowed.response(correlationID: ""))
        case .found(let route, let parameters):
            var body: [String: V3JSON] = [:]
            if route.hasBody, !request.body.isEmpty {
                let parsed: V3JSON
                do {
                    parsed = try V3JSON.parse(request.body)
                } catch {
                    return .answered(V3Failure.malformedBody(error.description).response(correlationID: ""))
                }
                guard case .object(let fields) = parsed else {
                    return .answered(V3Failure.malformedBody("the request body must be a JSON object").response(correlationID: ""))
                }
                body = fields
            }
            return .call(V3Call(route: route, parameters: parameters, query: request.query, headers: request.headers, body: body))
        }
    }

    /// Applies a routed request to the state under the state lock.
    private func execute(_ call: V3Call) -> Result<V3Reply, V3Failure> {
        guard let meter = rulesCPUMeter else { return executeUnmetered(call) }
        let start = V3CPU.thread()
        let result = executeUnmetered(call)
        meter.add(V3CPU.thread() - start)
        return result
    }

    private func executeUnmetered(_ call: V3Call) -> Result<V3Reply, V3Failure> {
        box.withState { (state: inout V3State) -> Result<V3Reply, V3Failure> in
            do throws(V3Failure) {
                return .success(try engine.dispatch(call, state: &state))
            } catch {
                return .failure(error)
            }
        }
    }

    private func render(_ result: Result<V3Reply, V3Failure>) -> SimResponse {
        switch result {
        case .success(let reply):
            var headers = reply.headers
            headers["Content-Type"] = "application/json"
            return SimResponse(status: 200, headers: headers, body: reply.body.serialized())
        case .failure(let failure):
            return failure.response(correlationID: V3Token.correlationID())
        }
    }

    /// The limiter's state rides on every answer of a limited server, errors included (§10).
    private func finish(_ response: SimResponse, _ request: SimRequest) -> SimResponse {
        guard let limit = request.rateLimit else { return response }
        var answer = response
        answer.headers.merge(limit.headers) { _, new in new }
        return answer
    }

    /// 503 with `pkg/util/store:database_unavailable`, for an injected unavailability fault.
    public func unavailableResponse() -> SimResponse {
        V3Failure.databaseUnavailable.response(correlationID: V3Token.correlationID())
    }

    /// 429 with `pkg/ratelimit:rate_limit_exceeded` (reference/v3-api.md §10); the server adds the headers.
    /// The `X-Rate-Limit-*` headers are set before the error is returned; `Reset` is given as the retry time
    /// (the server passes no more than that).
    public func rateLimitedResponse(limitPerMinute: Int, retryAfterSeconds: Int) -> SimResponse {
        var response = V3Failure.rateLimitExceeded(rate: limitPerMinute, key: "grpc:method").response(correlationID: V3Token.correlationID())
        response.headers["X-Rate-Limit-Limit"] = String(limitPerMinute)
        response.headers["X-Rate-Limit-Available"] = "0"
        response.headers["X-Rate-Limit-Reset"] = String(retryAfterSeconds)
        response.headers["X-Rate-Limit-Retry"] = String(retryAfterSeconds)
        return response
    }
}

/// The state behind a lock, shared by the views of one simulator.
final class V3StateBox: @unchecked Sendable {
    private let lock = NSLock()
    private var state: V3State

    init(state: V3State) {
        self.state = state
    }

    func withState<T, E: Error>(_ body: (inout V3State) throws(E) -> T) throws(E) -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&state)
    }
}

/// A sum of CPU time, added to from any thread.
final class V3CPUMeter: @unchecked Sendable {
    private let lock = NSLock()
    private var sum = Duration.zero

    var total: Duration {
        lock.lock()
        defer { lock.unlock() }
        return sum
    }

    func add(_ spent: Duration) {
        lock.lock()
        sum += spent
        lock.unlock()
    }
}

/// One routed request as the handlers see it.
struct V3Call: Sendable {
    let route: V3RouteDefinition
    let parameters: [String: String]
    let query: [String: String]
    let headers: [String: String]
    let body: [String: V3JSON]

    func parameter(_ name: String) -> String {
        parameters[name] ?? ""
    }
}

/// A successful answer (HTTP 200).
struct V3Reply: Sendable {
    var body: V3JSON
    var headers: [String: String] = [:]

    static let empty = V3Reply(body: .object([:]))
}

/// API key tokens: `NNSXS.<base32 of 24 random bytes>.<base32 of 32 random bytes>` (pkg/auth/auth.go, §11).
enum V3Token {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
    /// Token type prefixes: base32 of `key`, `acc` (access token), `ssn` (session).
    static let apiKeyType = "NNSXS"
    static let accessTokenType = "MFRWG"
    static let sessionType = "ONZW4"

    static func base32(_ bytes: [UInt8]) -> String {
        var output: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for byte in bytes {
            buffer = buffer << 8 | UInt32(byte)
            bits += 8
            while bits >= 5 {
                output.append(alphabet[Int((buffer >> UInt32(bits - 5)) & 31)])
                bits -= 5
            }
        }
        if bits > 0 { output.append(alphabet[Int((buffer << UInt32(5 - bits)) & 31)]) }
        return String(decoding: output, as: UTF8.self)
    }

    static func isBase32(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) || (UInt8(ascii: "2")...UInt8(ascii: "7")).contains($0) }
    }

    static func generate() -> (id: String, secret: String) {
        var generator = SystemRandomNumberGenerator()
        let id = (0..<24).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return (base32(id), base32(secret))
    }

    /// Splits an API key token into ID and secret; nil for anything else.
    static func parseAPIKey(_ token: String) -> (id: String, secret: String)? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == apiKeyType, isBase32(parts[1]), isBase32(parts[2]) else { return nil }
        return (String(parts[1]), String(parts[2]))
    }

    static func correlationID() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return V3Hex.encode(withUnsafeBytes(of: high.bigEndian, Array.init) + withUnsafeBytes(of: low.bigEndian, Array.init)).lowercased()
    }
}
