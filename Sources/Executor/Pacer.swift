import Foundation
import V3Client

/// Paces requests to one v3 component: `--max-rate` per minute, and the server's own
/// `X-Rate-Limit-*` answers (DESIGN.md §7; `reference/v3-api.md` §10, §15).
///
/// The Things Stack limits with GCRA and a burst as large as the per-minute limit (§10). While the
/// server says more is available than can be in flight, requests go at once; when it says less,
/// they are spaced at the server's rate (with a small margin), so the allowance is never spent twice
/// and a 429 is rare. After a 429 everyone waits `X-Rate-Limit-Retry`, then requests resume one
/// interval apart: never a burst into a server that has just refused.
///
/// A lock, not an actor: it is asked twice per request and holds it for a few comparisons, so a
/// hop to an actor's executor would cost more than the work (one of the C = 64 profile's costs).
final class ComponentPacer: @unchecked Sendable {
    private let clientInterval: Duration?
    /// Requests that may be in flight at once: the allowance below which spacing starts.
    private let inFlight: Int
    private let lock = NSLock()
    // Guarded by `lock`.
    /// The spacing the server's answers asked for; nil while the server has allowance to spare.
    private var serverInterval: Duration?
    private var nextSlot: ContinuousClock.Instant = .now
    private var blockedUntil: ContinuousClock.Instant = .now

    /// Spacing is this much wider than the server's interval, so that latency jitter never makes two
    /// requests arrive closer than the server allows (throughput stays within 2 % of the limit).
    static let margin = 1.02

    /// `maxPerMinute` nil: no client-side cap. `concurrency`: requests in flight at most.
    init(maxPerMinute: Int?, concurrency: Int = 1) {
        clientInterval = maxPerMinute.map { .nanoseconds(Int64(60_000_000_000 / max($0, 1))) }
        inFlight = max(1, concurrency)
    }

    /// The wider of two spacings, either of which may be absent (no array built under the lock).
    private static func wider(_ first: Duration?, _ second: Duration?) -> Duration? {
        guard let first, let second else { return first ?? second }
        return max(first, second)
    }

    /// Waits for this request's turn.
    func waitTurn() async throws {
        let now = ContinuousClock.now
        let slot: ContinuousClock.Instant = lock.withLock {
            var slot = max(now, blockedUntil)
            if let interval = Self.wider(clientInterval, serverInterval) {
                slot = max(slot, nextSlot)
                nextSlot = slot + interval
            }
            return slot
        }
        if slot > now { try await Task.sleep(until: slot, clock: .continuous) }
    }

    /// Learns from an answer's rate-limit headers (`limited`: it was a 429; nil: none were sent).
    func observe(_ limit: V3RateLimit?, limited: Bool) {
        guard let limit, limit.isPresent || limited else { return }
        lock.withLock { learn(limit, limited: limited) }
    }

    /// The spacing the server's answers currently ask for (nil: none), for tests.
    var serverSpacing: Duration? { lock.withLock { serverInterval } }

    /// Spacing needs the server's rate: only an `X-Rate-Limit-Limit` above 0 sets it. A 429 without one (a
    /// proxy's, or an injected fault) holds every request for its `X-Rate-Limit-Retry` (one second when it
    /// gives none) and sets no spacing: a spacing of a guessed second would have no answer to lift it and
    /// keep the rest of the run at one request a second.
    private func learn(_ limit: V3RateLimit, limited: Bool) {
        let perMinute = limit.limit.flatMap { $0 > 0 ? $0 : nil }
        let seconds = perMinute.map { 60 / Double($0) }
        if let seconds {
            let interval = Duration.milliseconds(Int64((seconds * Self.margin * 1000).rounded(.up)))
            let available = limit.available ?? (limited ? 0 : Int.max)
            if limited || available <= inFlight {
                serverInterval = interval
            } else if available > 2 * inFlight {
                serverInterval = nil
            }
        }
        guard limited else { return }
        // `X-Rate-Limit-Retry` is whole seconds and often 0 while still limited (§15): at least one interval,
        // and one second when the server gave no retry at all. Requests after it are spaced by the interval.
        let wait = min(max(limit.retry.map(Double.init) ?? 1, seconds ?? 1), 60)
        blockedUntil = max(blockedUntil, .now + .milliseconds(Int64(wait * 1000)))
        nextSlot = max(nextSlot, blockedUntil)
    }
}

extension ComponentPacer {
    /// One pacer per server address: components served at one URL are one process with one rate
    /// limiter (The Things Stack's limits are per process, `reference/v3-api.md` §10), so they share it.
    static func pacers(for client: V3Client, maxPerMinute: Int?, concurrency: Int) -> [V3Server: ComponentPacer] {
        var byAddress: [String: ComponentPacer] = [:]
        var pacers: [V3Server: ComponentPacer] = [:]
        for server in V3Server.allCases {
            let address = client.client(for: server).baseURL
            let pacer = byAddress[address] ?? ComponentPacer(maxPerMinute: maxPerMinute, concurrency: concurrency)
            byAddress[address] = pacer
            pacers[server] = pacer
        }
        return pacers
    }
}
