import Foundation

/// What a rate limiter says about one request: the numbers behind the `X-Rate-Limit-*` headers.
///
/// `reference/v3-api.md` §10: `X-Rate-Limit-Limit` (max per minute), `X-Rate-Limit-Available`
/// (remaining), `X-Rate-Limit-Reset` (whole seconds until the limiter is full again),
/// `X-Rate-Limit-Retry` (whole seconds until a request is allowed; 0 when allowed).
public struct SimRateLimitState: Sendable, Hashable {
    /// Requests allowed per period (per minute for the server-wide limit).
    public var limit: Int
    /// Requests that could still be made right now.
    public var available: Int
    /// Time until the limiter has its whole burst available again.
    public var reset: Duration
    /// Time until the next request would be allowed; zero when this one was allowed.
    public var retry: Duration

    public init(limit: Int, available: Int, reset: Duration, retry: Duration) {
        self.limit = limit
        self.available = available
        self.reset = reset
        self.retry = retry
    }

    /// `reset` rounded up to whole seconds, as the header carries it.
    public var resetSeconds: Int { Self.wholeSecondsRoundedUp(reset) }
    /// `retry` rounded up to whole seconds, as the header carries it (lorawan-stack #4270: round up).
    public var retrySeconds: Int { Self.wholeSecondsRoundedUp(retry) }

    /// The four `X-Rate-Limit-*` headers of The Things Stack (`reference/v3-api.md` §10).
    public var headers: [String: String] {
        [
            "X-Rate-Limit-Limit": String(limit),
            "X-Rate-Limit-Available": String(available),
            "X-Rate-Limit-Reset": String(resetSeconds),
            "X-Rate-Limit-Retry": String(retrySeconds),
        ]
    }

    static func wholeSecondsRoundedUp(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        if seconds < 0 || (seconds == 0 && attoseconds <= 0) { return 0 }
        return Int(seconds) + (attoseconds > 0 ? 1 : 0)
    }
}

/// A generic cell rate algorithm (GCRA) limiter: `limit` requests per `period`, bursts up to `burst`.
///
/// The Things Stack limits with GCRA (`reference/v3-api.md` §10, burst defaults to the per-minute
/// limit); the v2 handler with a 5-per-second bucket that waits up to 500 ms
/// (`reference/v2-and-peers.md` §B), which `admit(at:maxWait:)` models by reserving a slot that is
/// at most `maxWait` away.
public struct SimRateLimiter: Sendable {
    /// The outcome for one request.
    public enum Decision: Sendable, Hashable {
        /// Allowed after waiting `wait` (zero: at once); the slot is reserved.
        case allowed(wait: Duration, state: SimRateLimitState)
        /// Refused; nothing reserved. `state.retry` says when a request would be allowed.
        case limited(state: SimRateLimitState)
    }

    public let limit: Int
    public let period: Duration
    public let burst: Int
    private let interval: Duration
    private var theoreticalArrival: ContinuousClock.Instant?

    /// A limiter of `limit` requests per `period` (both must be positive), bursts of `burst`
    /// (default: `limit`).
    public init(limit: Int, period: Duration, burst: Int? = nil) {
        precondition(limit > 0 && period > .zero, "a rate limit needs a positive limit and period")
        self.limit = limit
        self.period = period
        self.burst = max(1, burst ?? limit)
        self.interval = period / limit
    }

    /// Decides about a request arriving at `now`, allowing it if its slot is at most `maxWait` away.
    public mutating func admit(at now: ContinuousClock.Instant, maxWait: Duration = .zero) -> Decision {
        let arrival = max(theoreticalArrival ?? now, now)
        let next = arrival + interval
        let allowedAt = next - interval * burst
        let wait = allowedAt - now
        if wait <= maxWait {
            theoreticalArrival = next
            let waitDone = max(wait, .zero)
            return .allowed(wait: waitDone, state: state(tat: next, now: now, retry: .zero))
        }
        let stored = theoreticalArrival ?? now
        return .limited(state: state(tat: stored, now: now, retry: wait))
    }

    private func state(tat: ContinuousClock.Instant, now: ContinuousClock.Instant, retry: Duration) -> SimRateLimitState {
        // Slots free now: how far the burst window reaches beyond the theoretical arrival time.
        let headroom = (now - (tat - interval * burst)) / interval
        let available = max(0, min(burst, Int(headroom.rounded(.down))))
        return SimRateLimitState(limit: limit, available: available, reset: max(tat - now, .zero), retry: retry)
    }
}
