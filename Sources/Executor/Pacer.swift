import Foundation
import V3Client

/// Paces requests to one v3 component: `--max-rate` per minute, and the server's own
/// `X-Rate-Limit-*` answers (DESIGN.md §7; `reference/v3-api.md` §10, §15).
actor ComponentPacer {
    private let interval: Duration?
    private var nextSlot: ContinuousClock.Instant = .now
    private var blockedUntil: ContinuousClock.Instant = .now

    /// `maxPerMinute` nil: no client-side cap.
    init(maxPerMinute: Int?) {
        interval = maxPerMinute.map { .nanoseconds(Int64(60_000_000_000 / max($0, 1))) }
    }

    /// Waits for this request's turn.
    func waitTurn() async throws {
        let now = ContinuousClock.now
        var slot = max(now, blockedUntil)
        if let interval {
            slot = max(slot, nextSlot)
            nextSlot = slot + interval
        }
        if slot > now { try await Task.sleep(until: slot, clock: .continuous) }
    }

    /// Learns from a response's rate-limit headers. With nothing available, everyone waits: after a
    /// 429 at least one second or `X-Rate-Limit-Retry` (whole seconds, often 0 while still limited:
    /// §15, so never a tight loop on 0); otherwise one request interval (60 s ÷ `X-Rate-Limit-Limit`).
    func observe(_ limit: V3RateLimit, limited: Bool) {
        guard limit.isPresent || limited else { return }
        let available = limit.available ?? (limited ? 0 : 1)
        guard available <= 0 || limited else { return }
        // A missing or nonsensical limit (0) says nothing about the interval; one second then.
        let interval = limit.limit.map { $0 > 0 ? Double(60) / Double($0) : 1 } ?? 1
        let seconds = min(limited ? max(Double(limit.retry ?? 0), 1, interval) : interval, 60)
        let until = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        blockedUntil = max(blockedUntil, until)
    }
}
