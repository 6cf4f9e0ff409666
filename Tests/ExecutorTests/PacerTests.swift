import Foundation
import HTTP
import Testing
import V3Client
@testable import Executor

private func limit(_ headers: [(String, String)]) -> V3RateLimit {
    V3RateLimit(headers: HTTPHeaders(headers))
}

/// How `ComponentPacer` learns from the server's answers (DESIGN.md §7, `reference/v3-api.md` §10, §15).
@Suite struct PacerTests {
    /// The Things Stack: headers on every answer (intervals 2 % wide, rounded up to the millisecond). Spaced while the allowance left is no more than the requests
    /// in flight, free again once it is more than twice that.
    @Test func theServersHeadersSetAndLiftTheSpacing() {
        let pacer = ComponentPacer(maxPerMinute: nil, concurrency: 4)
        pacer.observe(limit([("X-Rate-Limit-Limit", "600"), ("X-Rate-Limit-Available", "3")]), limited: false)
        #expect(pacer.serverSpacing == .milliseconds(103))
        // Answers without headers say nothing: a header-driven spacing stays.
        for _ in 0..<10 { pacer.observe(nil, limited: false) }
        #expect(pacer.serverSpacing == .milliseconds(103))
        pacer.observe(limit([("X-Rate-Limit-Limit", "600"), ("X-Rate-Limit-Available", "9")]), limited: false)
        #expect(pacer.serverSpacing == nil)
    }

    /// A 429 without a usable limit (a proxy's, or an injected fault) holds requests for its retry but sets no
    /// spacing: before, it spaced the rest of the run a second apart, and the reliability campaign's fault
    /// phase crawled at one request a second.
    @Test func aHeaderless429HoldsButDoesNotSpace() async throws {
        let pacer = ComponentPacer(maxPerMinute: nil, concurrency: 4)
        pacer.observe(limit([("X-Rate-Limit-Retry", "0")]), limited: true)
        #expect(pacer.serverSpacing == nil)
        pacer.observe(limit([("X-Rate-Limit-Limit", "0"), ("X-Rate-Limit-Available", "0")]), limited: true)
        #expect(pacer.serverSpacing == nil)
        // Held for a second (no retry given), then the requests go together again.
        let clock = ContinuousClock()
        let started = clock.now
        for _ in 0..<4 { try await pacer.waitTurn() }
        let held = clock.now - started
        #expect(held >= .milliseconds(900), "\(held)")
    }

    /// A 429 with a real limit spaces the requests until the server says more is available.
    @Test func a429WithALimitKeepsTheSpacing() {
        let pacer = ComponentPacer(maxPerMinute: nil, concurrency: 2)
        pacer.observe(limit([("X-Rate-Limit-Limit", "1200"), ("X-Rate-Limit-Available", "0"), ("X-Rate-Limit-Retry", "0")]), limited: true)
        #expect(pacer.serverSpacing == .milliseconds(52))
        for _ in 0..<10 { pacer.observe(nil, limited: false) }
        #expect(pacer.serverSpacing == .milliseconds(52))
        pacer.observe(limit([("X-Rate-Limit-Limit", "1200"), ("X-Rate-Limit-Available", "5")]), limited: false)
        #expect(pacer.serverSpacing == nil)
    }
}
