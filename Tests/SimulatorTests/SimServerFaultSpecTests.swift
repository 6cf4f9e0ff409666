import Foundation
import Testing
@testable import Simulator

@Suite("FaultSpec and rate limiter")
struct SimServerFaultSpecTests {
    @Test("parses the full example of the --faults option")
    func parsesExample() throws {
        let spec = try FaultSpec(parsing: "503=0.1,drop-before=0.025,drop-after=0.025,stall=0.01,429=0.05,stall-ms=3000,seed=42")
        #expect(spec.rules == [
            FaultRule(fault: .unavailable, probability: 0.1),
            FaultRule(fault: .dropBefore, probability: 0.025),
            FaultRule(fault: .dropAfter, probability: 0.025),
            FaultRule(fault: .stall, probability: 0.01),
            FaultRule(fault: .tooManyRequests, probability: 0.05),
        ])
        #expect(spec.stall == .milliseconds(3000))
        #expect(spec.seed == 42)
    }

    @Test("parses scopes with and without a method, and spaces around entries")
    func parsesScopes() throws {
        let spec = try FaultSpec(parsing: " 429=0.5@/api/v3/ns/ , drop-after=1@post:/api/v3/applications ")
        #expect(spec.rules == [
            FaultRule(fault: .tooManyRequests, probability: 0.5, pathPrefix: "/api/v3/ns/"),
            FaultRule(fault: .dropAfter, probability: 1, method: "POST", pathPrefix: "/api/v3/applications"),
        ])
        #expect(spec.stall == .seconds(3))
        #expect(spec.seed == 1)
        #expect(spec.rules[1].matches(method: "POST", path: "/api/v3/applications/x"))
        #expect(!spec.rules[1].matches(method: "GET", path: "/api/v3/applications/x"))
        #expect(!spec.rules[0].matches(method: "GET", path: "/api/v3/as/"))
    }

    @Test("an empty spec means no faults; the text form round-trips")
    func emptyAndRoundTrip() throws {
        #expect(try FaultSpec(parsing: "") == .none)
        #expect(try FaultSpec(parsing: "   ") == .none)
        #expect(FaultSpec.none.description == "")
        let text = "503=0.1,429=0.5@/api/v3/ns/,drop-after=0.4@POST:/api/v3/,stall-ms=250,seed=9"
        let spec = try FaultSpec(parsing: text)
        #expect(spec.description == text)
        #expect(try FaultSpec(parsing: spec.description) == spec)
    }

    @Test("each malformed entry is a typed error naming the entry", arguments: [
        ("503=0.1,,seed=1", FaultSpecError.emptyEntry(position: 2)),
        ("503", .missingValue(entry: "503")),
        ("503=", .missingValue(entry: "503=")),
        ("500=0.1", .unknownFault(entry: "500=0.1")),
        ("drop=0.1", .unknownFault(entry: "drop=0.1")),
        ("503=abc", .invalidProbability(entry: "503=abc")),
        ("503=1.5", .invalidProbability(entry: "503=1.5")),
        ("503=-0.1", .invalidProbability(entry: "503=-0.1")),
        ("503=nan", .invalidProbability(entry: "503=nan")),
        ("429=0.5@api/v3", .invalidScope(entry: "429=0.5@api/v3")),
        ("429=0.5@:/api", .invalidScope(entry: "429=0.5@:/api")),
        ("429=0.5@P0ST:/api", .invalidScope(entry: "429=0.5@P0ST:/api")),
        ("stall-ms=0", .invalidStall(entry: "stall-ms=0")),
        ("stall-ms=fast", .invalidStall(entry: "stall-ms=fast")),
        ("stall-ms=3600001", .invalidStall(entry: "stall-ms=3600001")),
        ("seed=-1", .invalidSeed(entry: "seed=-1")),
        ("seed=1,seed=2", .duplicateSetting(entry: "seed=2")),
        ("stall-ms=5,stall-ms=6", .duplicateSetting(entry: "stall-ms=6")),
    ])
    func parseErrors(text: String, expected: FaultSpecError) {
        #expect(throws: expected) { try FaultSpec(parsing: text) }
    }

    @Test("error messages name the bad entry and say what to write")
    func errorMessages() {
        #expect(FaultSpecError.invalidProbability(entry: "503=abc").description
            == "fault spec entry \"503=abc\": the probability must be a number from 0 to 1, e.g. 503=0.1")
        #expect(FaultSpecError.unknownFault(entry: "500=0.1").description
            == "fault spec entry \"500=0.1\": unknown name; use one of 503, 429, drop-before, drop-after, stall, stall-ms or seed")
        #expect(FaultSpecError.emptyEntry(position: 2).description
            == "fault spec: entry 2 is empty; separate entries with single commas, e.g. 503=0.1,seed=42")
    }

    @Test("probabilities that can hit one request must add up to at most 1")
    func probabilityTotals() throws {
        #expect(throws: FaultSpecError.probabilitiesExceedOne(scope: "every path", total: 1.2)) {
            try FaultSpec(parsing: "503=0.6,429=0.6")
        }
        #expect(throws: FaultSpecError.probabilitiesExceedOne(scope: "/api/v3/ns/", total: 1.5)) {
            try FaultSpec(parsing: "503=0.5,429=1@/api/v3/ns/")
        }
        // Disjoint scopes may each reach 1.
        _ = try FaultSpec(parsing: "503=1@/api/v3/ns/,429=1@/api/v3/as/")
        // Different methods on the same path never hit one request together.
        _ = try FaultSpec(parsing: "503=1@GET:/api/,429=1@POST:/api/")
        #expect(throws: FaultSpecError.probabilitiesExceedOne(scope: "GET /api/", total: 1.5)) {
            try FaultSpec(parsing: "503=1@GET:/api/,429=0.5@/")
        }
    }

    @Test("the draw is deterministic for a seed and follows the probabilities")
    func deterministicDraw() throws {
        let spec = try FaultSpec(parsing: "503=0.2,drop-before=0.1,seed=42")
        var first = FaultInjector(spec: spec)
        var second = FaultInjector(spec: spec)
        let drawsA = (0..<10_000).map { _ in first.draw(method: "GET", path: "/a") }
        let drawsB = (0..<10_000).map { _ in second.draw(method: "GET", path: "/a") }
        #expect(drawsA == drawsB)
        let unavailable = drawsA.filter { $0 == .unavailable }.count
        let dropped = drawsA.filter { $0 == .dropBefore }.count
        // 10,000 draws: 2,000 and 1,000 expected; ±250 is more than 5 standard deviations.
        #expect((1_750...2_250).contains(unavailable))
        #expect((750...1_250).contains(dropped))
        var other = FaultInjector(spec: try FaultSpec(parsing: "503=0.2,drop-before=0.1,seed=43"))
        let drawsC = (0..<10_000).map { _ in other.draw(method: "GET", path: "/a") }
        #expect(drawsC != drawsA)
        var always = FaultInjector(spec: try FaultSpec(parsing: "stall=1"))
        #expect((0..<100).allSatisfy { _ in always.draw(method: "GET", path: "/") == .stall })
        var never = FaultInjector(spec: try FaultSpec(parsing: "stall=0"))
        #expect((0..<100).allSatisfy { _ in never.draw(method: "GET", path: "/") == nil })
    }

    @Test("GCRA limiter: burst, refusal with retry time, refill, and bounded waiting")
    func limiter() {
        var limiter = SimRateLimiter(limit: 5, period: .seconds(1))
        let start = ContinuousClock.now
        for expected in [4, 3, 2, 1, 0] {
            guard case .allowed(let wait, let state) = limiter.admit(at: start) else {
                Issue.record("request within the burst was refused")
                return
            }
            #expect(wait == .zero)
            #expect(state.available == expected)
            #expect(state.retry == .zero)
        }
        guard case .limited(let refused) = limiter.admit(at: start) else {
            Issue.record("the sixth request at once was allowed")
            return
        }
        #expect(refused.retry == .milliseconds(200))
        #expect(refused.available == 0)
        #expect(refused.reset == .seconds(1))
        #expect(refused.retrySeconds == 1)
        // One interval later exactly one slot is free again.
        guard case .allowed(_, let later) = limiter.admit(at: start + .milliseconds(200)) else {
            Issue.record("a request one interval later was refused")
            return
        }
        #expect(later.available == 0)
        // The v2 handler waits up to 500 ms for a slot instead of refusing.
        guard case .allowed(let wait, _) = limiter.admit(at: start + .milliseconds(200), maxWait: .milliseconds(500)) else {
            Issue.record("a request whose slot is 200 ms away was refused despite a 500 ms allowance")
            return
        }
        #expect(wait == .milliseconds(200))
    }

    @Test("rate limit headers round up to whole seconds")
    func headers() {
        let state = SimRateLimitState(limit: 60, available: 3, reset: .milliseconds(1500), retry: .zero)
        #expect(state.headers == [
            "X-Rate-Limit-Limit": "60", "X-Rate-Limit-Available": "3", "X-Rate-Limit-Reset": "2", "X-Rate-Limit-Retry": "0",
        ])
    }
}
