import Foundation

/// A request as a simulated API sees it, independent of the HTTP server underneath.
public struct SimRequest: Sendable {
    public var method: String
    /// Path without the query string, percent-decoded.
    public var path: String
    public var query: [String: String]
    /// Header names lower-cased.
    public var headers: [String: String]
    public var body: Data
    /// The server-wide rate limiter's state after admitting this request, when
    /// `SimServerOptions.rateLimitPerMinute` is set; an API that reports limits (v3) turns it into
    /// `X-Rate-Limit-*` headers with `SimRateLimitState.headers`.
    public var rateLimit: SimRateLimitState?

    public init(
        method: String, path: String, query: [String: String] = [:], headers: [String: String] = [:],
        body: Data = Data(), rateLimit: SimRateLimitState? = nil
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = Dictionary(headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { $1 })
        self.body = body
        self.rateLimit = rateLimit
    }
}

/// A response of a simulated API.
public struct SimResponse: Sendable {
    public var status: Int
    public var headers: [String: String]
    public var body: Data
    /// How long the server holds the response back before sending it (an API that makes a caller wait
    /// for its turn, like the v2 handler's rate limit), on top of the server's latency.
    public var delay: Duration

    public init(status: Int, headers: [String: String] = [:], body: Data = Data(), delay: Duration = .zero) {
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
    }

    /// A JSON response from a JSON-serialisable value (dictionaries, arrays, strings, numbers, bools).
    public static func json(_ status: Int, _ object: Any, headers: [String: String] = [:]) -> SimResponse {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed])) ?? Data()
        var all = headers
        all["Content-Type"] = "application/json"
        return SimResponse(status: status, headers: all, body: data)
    }
}

/// One simulated API (v2 account server + handler, or the v3 components) behind a `SimServer`.
///
/// The server adds latency, rate limiting and injected faults around `handle`; the API supplies the
/// error bodies in its own shape for the faults the server injects.
public protocol SimulatedAPI: Sendable {
    /// Answers one request, applying it to the simulated state.
    ///
    /// Called on the server's event-loop thread, so it must not wait: state behind a lock is fine, a
    /// sleep is not (set `SimResponse.delay` instead).
    func handle(_ request: SimRequest) -> SimResponse
    /// The API's answer for an injected "service unavailable" fault (HTTP 503).
    func unavailableResponse() -> SimResponse
    /// The API's answer when the configured rate limit is exceeded (HTTP 429).
    func rateLimitedResponse(limitPerMinute: Int, retryAfterSeconds: Int) -> SimResponse
}

/// An API that answers every request with a closure (503 and 429 bare), for servers a test scripts itself.
public struct ClosureSimulatedAPI: SimulatedAPI {
    private let answer: @Sendable (SimRequest) -> SimResponse

    public init(_ answer: @escaping @Sendable (SimRequest) -> SimResponse) { self.answer = answer }

    public func handle(_ request: SimRequest) -> SimResponse { answer(request) }
    public func unavailableResponse() -> SimResponse { SimResponse(status: 503) }
    public func rateLimitedResponse(limitPerMinute: Int, retryAfterSeconds: Int) -> SimResponse { SimResponse(status: 429) }
}
