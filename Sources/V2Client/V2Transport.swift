import Foundation
import HTTP
import Logging
import V2Model

/// A credential for v2: the user's bearer token or an application access key.
public enum V2Credential: Sendable, Hashable, CustomStringConvertible {
    case bearer(V2Secret)
    case accessKey(V2Secret)

    var header: (name: String, value: String) {
        switch self {
        case .bearer(let token): return ("Authorization", "Bearer \(token.value)")
        case .accessKey(let key): return ("Authorization", "Key \(key.value)")
        }
    }

    public var description: String {
        switch self {
        case .bearer: return "bearer token"
        case .accessKey: return "access key"
        }
    }
}

/// Spaces requests so that each key makes at most `perSecond` requests per second (v2 handler limits:
/// 5 per second per client and per application, `reference/v2-and-peers.md` §B).
actor RequestPacer {
    private let interval: Duration
    private var next: [String: ContinuousClock.Instant] = [:]

    init(perSecond: Double) {
        interval = .nanoseconds(Int64(1_000_000_000 / max(perSecond, 0.001)))
    }

    /// Reserves the next slot for every key and waits until the latest of them.
    func waitTurn(keys: [String]) async throws {
        let now = ContinuousClock.now
        var slot = now
        for key in keys { slot = max(slot, next[key] ?? now) }
        for key in keys { next[key] = slot + interval }
        if slot > now { try await Task.sleep(until: slot, clock: .continuous) }
    }
}

/// What a v2 read sent: requests (retries included), each one's round trip, and the paced requests per
/// rate-limit subject (the handler's 5 per second per token subject: `reference/v2-and-peers.md` §B), for
/// `snapshot`'s figures.
public final class V2RequestStatistics: @unchecked Sendable {
    private let lock = NSLock()
    private var roundTrips: [Double] = []
    private var paced: [String: Int] = [:]

    public init() {}

    func record(_ seconds: Double, subject: String?) {
        lock.lock()
        defer { lock.unlock() }
        roundTrips.append(seconds)
        if let subject { paced[subject, default: 0] += 1 }
    }

    /// Paced (handler) requests per rate-limit subject: `bearer` for the user's token, `key:<app>` for an
    /// application's access key.
    public var pacedRequests: [String: Int] {
        lock.lock()
        defer { lock.unlock() }
        return paced
    }

    /// Requests sent so far.
    public var requests: Int {
        lock.lock()
        defer { lock.unlock() }
        return roundTrips.count
    }

    /// The median round trip in seconds; nil before any request.
    public var medianRoundTrip: Double? {
        lock.lock()
        defer { lock.unlock() }
        guard !roundTrips.isEmpty else { return nil }
        return roundTrips.sorted()[roundTrips.count / 2]
    }
}

/// Talks to v2 with retries on 429, 5xx and dropped connections (v2 reads and SetDevice are idempotent).
struct V2Transport: Sendable {
    let http: HTTPClient
    let retry: RetryPolicy
    let logger: Logger
    var statistics = V2RequestStatistics()

    /// Fetches and decodes `T`, mapping v2 error bodies `{"code","error"}` to `V2ClientError`.
    func get<T: Decodable>(
        _ type: T.Type, url: String, credential: V2Credential, entity: String, pacer: RequestPacer? = nil,
        paceKeys: [String] = []
    ) async throws -> (T, HTTPHeaders) {
        let response = try await getResponse(url: url, credential: credential, entity: entity, pacer: pacer, paceKeys: paceKeys)
        do {
            return (try JSONDecoder().decode(T.self, from: response.body), response.headers)
        } catch {
            throw V2ClientError.malformedResponse(entity: entity, url: HTTPClient.displayURL(url), reason: UnreadableBody.reason(
                body: response.body, contentType: response.headers["content-type"], shape: SnapshotFile.describe(error)))
        }
    }

    func getResponse(
        url: String, credential: V2Credential, entity: String, pacer: RequestPacer?, paceKeys: [String]
    ) async throws -> HTTPResponse {
        try await send(HTTPRequest(method: "GET", url: url, headers: [credential.header]), entity: entity, pacer: pacer, paceKeys: paceKeys)
    }

    /// Sends a request that is safe to repeat (a GET, or SetDevice's full replace), retrying 429, 5xx
    /// and dropped connections; other error statuses become `V2ClientError`.
    func send(_ request: HTTPRequest, entity: String, pacer: RequestPacer?, paceKeys: [String]) async throws -> HTTPResponse {
        let url = request.url
        let subject = pacer == nil ? nil : paceKeys.first { $0.hasPrefix("client:") }.map { String($0.dropFirst("client:".count)) }
        var attempt = 0
        while true {
            attempt += 1
            if let pacer { try await pacer.waitTurn(keys: paceKeys) }
            let response: HTTPResponse
            let sent = ContinuousClock.now
            do {
                response = try await http.send(request)
                statistics.record(Self.seconds(ContinuousClock.now - sent), subject: subject)
            } catch let error as HTTPError {
                statistics.record(Self.seconds(ContinuousClock.now - sent), subject: subject)
                guard error.isTransient, attempt < retry.maxAttempts else {
                    throw V2ClientError.transport(entity: entity, error: error, attempts: attempt)
                }
                logger.info("retrying \(entity) after: \(error)")
                try await Task.sleep(for: retry.delay(beforeRetry: attempt))
                continue
            }
            if (200..<300).contains(response.status) { return response }
            if RetryPolicy.isRetryable(status: response.status), attempt < retry.maxAttempts {
                logger.info("retrying \(entity) after HTTP \(response.status)")
                try await Task.sleep(for: retry.delay(beforeRetry: attempt))
                continue
            }
            throw Self.error(for: response, entity: entity, url: url)
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    static func error(for response: HTTPResponse, entity: String, url: String) -> V2ClientError {
        struct Body: Decodable {
            var code: Int?
            var error: String?
            var description: String?
        }
        let decoded = try? JSONDecoder().decode(Body.self, from: response.body)
        let message = decoded?.error ?? decoded?.description ?? response.bodyExcerpt(limit: 200)
        let shown = HTTPClient.displayURL(url)
        switch response.status {
        case 401: return .unauthorized(entity: entity, url: shown, message: message)
        case 403: return .forbidden(entity: entity, url: shown, message: message)
        case 404: return .notFound(entity: entity, url: shown)
        default: return .server(entity: entity, url: shown, status: response.status, message: message)
        }
    }
}
