import Foundation
import NIOCore
import NIOHTTP1
import Testing
@testable import Simulator

/// A minimal API for the server tests: counts the requests it applied and echoes what it saw.
final class CountingAPI: SimulatedAPI, @unchecked Sendable {
    private let lock = NSLock()
    private var appliedCount = 0

    var applied: Int { lock.withLock { appliedCount } }

    func handle(_ request: SimRequest) -> SimResponse {
        let count = lock.withLock { () -> Int in
            appliedCount += 1
            return appliedCount
        }
        var headers: [String: String] = [:]
        if let limit = request.rateLimit { headers = limit.headers }
        return .json(200, [
            "count": count, "method": request.method, "path": request.path, "query": request.query,
            "authorization": request.headers["authorization"] ?? "", "body": String(decoding: request.body, as: UTF8.self),
        ], headers: headers)
    }

    func unavailableResponse() -> SimResponse {
        .json(503, ["error": "test api unavailable"])
    }

    func rateLimitedResponse(limitPerMinute: Int, retryAfterSeconds: Int) -> SimResponse {
        .json(429, ["error": "test api rate limited", "limit": limitPerMinute, "retry": retryAfterSeconds])
    }
}

/// Starts a server, runs the body, always stops the server.
@discardableResult
func withServer<T>(
    api: any SimulatedAPI, options: SimServerOptions = SimServerOptions(),
    _ body: (SimServer, Int) async throws -> T
) async throws -> T {
    let server = SimServer(api: api, options: options)
    let port = try await server.start()
    do {
        let result = try await body(server, port)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

func faults(_ text: String) throws -> FaultSpec { try FaultSpec(parsing: text) }

@Suite("SimServer")
struct SimServerTests {
    @Test("serves the API on 127.0.0.1 and records the request without headers or body")
    func servesAndRecords() async throws {
        let api = CountingAPI()
        try await withServer(api: api) { server, port in
            #expect(port > 0)
            #expect(server.baseURL == "http://127.0.0.1:\(port)")
            let result = try await rawRequest(
                port: port, "POST", "/api/v2/app%20one/devices?limit=5&offset=10",
                headers: ["Authorization": "Bearer secret-token"], body: Data("hello".utf8)
            )
            #expect(result.status == 200)
            let json = try #require(result.json as? [String: Any])
            #expect(json["path"] as? String == "/api/v2/app one/devices")
            #expect(json["query"] as? [String: String] == ["limit": "5", "offset": "10"])
            #expect(json["authorization"] as? String == "Bearer secret-token")
            #expect(json["body"] as? String == "hello")
            #expect(json["method"] as? String == "POST")
            let log = server.requestLog
            #expect(log.count == 1)
            let record = try #require(log.first)
            #expect(record.sequence == 1)
            #expect(record.method == "POST")
            #expect(record.path == "/api/v2/app one/devices")
            #expect(record.query == ["limit": "5", "offset": "10"])
            #expect(record.status == 200)
            #expect(record.applied)
            #expect(record.delivered)
            #expect(record.fault == nil)
            #expect(!record.rateLimited)
            #expect(record.finished >= record.received)
            #expect(!record.inProgress)
            #expect(!String(describing: record).contains("secret-token"))
            let stats = server.statistics
            #expect(stats.requests == 1)
            #expect(stats.applied == 1)
            #expect(stats.statuses == [200: 1])
        }
    }

    @Test("drop-before closes the connection without a byte and without calling the API")
    func dropBefore() async throws {
        let api = CountingAPI()
        try await withServer(api: api, options: SimServerOptions(faults: try faults("drop-before=1"))) { server, port in
            let result = try await rawRequest(port: port, "GET", "/x")
            #expect(result == .closedWithoutResponse)
            #expect(api.applied == 0)
            let record = try #require(server.requestLog.first)
            #expect(record.fault == .dropBefore)
            #expect(!record.applied)
            #expect(!record.delivered)
            #expect(record.status == nil)
            #expect(server.statistics.faults == [.dropBefore: 1])
        }
    }

    @Test("drop-after applies the request, then cuts the response short")
    func dropAfter() async throws {
        let api = CountingAPI()
        try await withServer(api: api, options: SimServerOptions(faults: try faults("drop-after=1"))) { server, port in
            let result = try await rawRequest(port: port, "POST", "/create")
            guard case .incomplete(let status, let received, let expected) = result else {
                Issue.record("expected an incomplete response, got \(result)")
                return
            }
            #expect(status == 200)
            #expect(received < expected)
            #expect(api.applied == 1)
            let record = try #require(server.requestLog.first)
            #expect(record.fault == .dropAfter)
            #expect(record.applied)
            #expect(!record.delivered)
        }
    }

    @Test("503 and 429 faults answer with the API's bodies and do not apply")
    func statusFaults() async throws {
        let api = CountingAPI()
        try await withServer(api: api, options: SimServerOptions(faults: try faults("503=1"))) { server, port in
            let unavailable = try await rawRequest(port: port, "GET", "/a")
            #expect(unavailable.status == 503)
            #expect((unavailable.json as? [String: Any])?["error"] as? String == "test api unavailable")
            server.setFaults(try faults("429=1"))
            let limited = try await rawRequest(port: port, "GET", "/a")
            #expect(limited.status == 429)
            #expect((limited.json as? [String: Any])?["error"] as? String == "test api rate limited")
            server.setFaults(.none)
            let fine = try await rawRequest(port: port, "GET", "/a")
            #expect(fine.status == 200)
            #expect(api.applied == 1)
            #expect(server.requestLog.map(\.fault) == [.unavailable, .tooManyRequests, nil])
            #expect(server.requestLog.map(\.applied) == [false, false, true])
        }
    }

    @Test("faults scoped to a path prefix and method hit only those requests")
    func scopedFaults() async throws {
        let api = CountingAPI()
        let spec = try faults("503=1@POST:/api/v3/ns/")
        try await withServer(api: api, options: SimServerOptions(faults: spec)) { _, port in
            let scoped = try await rawRequest(port: port, "POST", "/api/v3/ns/devices")
            let otherMethod = try await rawRequest(port: port, "GET", "/api/v3/ns/devices")
            let otherPath = try await rawRequest(port: port, "POST", "/api/v3/as/devices")
            #expect(scoped.status == 503)
            #expect(otherMethod.status == 200)
            #expect(otherPath.status == 200)
        }
    }

    @Test("a stall applies the request and holds the response past a client's timeout")
    func stall() async throws {
        let api = CountingAPI()
        try await withServer(api: api, options: SimServerOptions(faults: try faults("stall=1,stall-ms=400"))) { server, port in
            let clock = ContinuousClock()
            let start = clock.now
            let patient = try await rawRequest(port: port, "GET", "/slow")
            let elapsed = clock.now - start
            #expect(patient.status == 200)
            #expect(elapsed >= .milliseconds(400))
            let impatient = try await rawRequest(port: port, "GET", "/slow", readTimeout: .milliseconds(100))
            #expect(impatient == .timedOut)
            #expect(api.applied == 2)
            #expect(server.requestLog.first?.fault == .stall)
            #expect((server.requestLog.first?.total ?? .zero) >= .milliseconds(400))
        }
    }

    @Test("stop returns promptly while a request is stalled")
    func stopDuringStall() async throws {
        let api = CountingAPI()
        let server = SimServer(api: api, options: SimServerOptions(faults: try faults("stall=1,stall-ms=60000")))
        let port = try await server.start()
        let request = Task { try await rawRequest(port: port, "GET", "/slow", readTimeout: .seconds(30)) }
        while server.requestLog.first?.applied != true { try await Task.sleep(for: .milliseconds(5)) }
        #expect(server.requestLog.first?.inProgress == true)
        #expect(server.requestLog.first?.fault == .stall)
        let clock = ContinuousClock()
        let start = clock.now
        await server.stop()
        #expect(clock.now - start < .seconds(5))
        let result = try await request.value
        #expect(result == .closedWithoutResponse)
        let record = try #require(server.requestLog.first)
        #expect(record.applied)
        #expect(!record.delivered)
        #expect(record.status == 200)
        #expect(!record.inProgress)
        #expect(server.port == nil)
    }

    @Test("the target is split and percent-decoded on its bytes as Foundation decodes it")
    func targetDecoding() {
        for text in ["plain", "a%20b", "%E2%82%AC", "%e2%82%ac", "100%", "%zz", "%C3", "a%2", "x%2Cy", "", "%25"] {
            #expect(SimHTTPHandler.percentDecoded(Substring(text)) == (text.removingPercentEncoding ?? text), "\(text)")
        }
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/api/v3/a%20b?field_mask=ids,%20name&x&=v&y=1=2")
        let request = SimHTTPHandler.request(head, body: ByteBuffer())
        #expect(request.path == "/api/v3/a b")
        #expect(request.query == ["field_mask": "ids, name", "x": "", "": "v", "y": "1=2"])
        #expect(V3Engine.splitPaths(request.query["field_mask"]!) == ["ids", "name"])
        #expect(V3Engine.splitPaths(" ids ,,\tname\t, ") == ["ids", "name"])
        #expect(V3Engine.splitPaths("ids,\u{00A0}name") == ["ids", "name"], "non-ASCII whitespace is trimmed as Foundation trims it")
        #expect(V3Engine.splitPaths("") == [])
    }

    @Test("latency is added to every request")
    func latency() async throws {
        let api = CountingAPI()
        try await withServer(api: api, options: SimServerOptions(latency: .milliseconds(60))) { server, port in
            let clock = ContinuousClock()
            let start = clock.now
            _ = try await rawRequest(port: port, "GET", "/a")
            _ = try await rawRequest(port: port, "GET", "/b")
            #expect(clock.now - start >= .milliseconds(120))
            #expect(server.requestLog.allSatisfy { $0.total >= .milliseconds(60) })
            #expect(server.requestLog.allSatisfy { $0.handling < .milliseconds(60) })
        }
    }

    @Test("the server-wide rate limit refuses the request over it and gives the API its state")
    func rateLimit() async throws {
        let api = CountingAPI()
        try await withServer(api: api, options: SimServerOptions(rateLimitPerMinute: 3)) { server, port in
            var results: [RawHTTPResult] = []
            let clock = ContinuousClock()
            let start = clock.now
            for _ in 0..<4 { results.append(try await rawRequest(port: port, "GET", "/a")) }
            // Whole seconds the four requests took, rounded up: a loaded CI machine can take several.
            let elapsed = Int((clock.now - start).components.seconds) + 1
            #expect(results.map(\.status) == [200, 200, 200, 429])
            #expect(results[0].headers["X-Rate-Limit-Limit"] == "3")
            #expect(results.prefix(3).map { $0.headers["X-Rate-Limit-Available"] } == ["2", "1", "0"])
            #expect(results[0].headers["X-Rate-Limit-Retry"] == "0")
            // 3 per minute: one slot every 20 s, so the first reset is 20 s and the third 60 s, less the
            // seconds that passed between the requests, which this test measured.
            #expect(results[0].headers["X-Rate-Limit-Reset"] == "20")
            #expect((60 - elapsed...60).contains(Int(results[2].headers["X-Rate-Limit-Reset"] ?? "") ?? 0))
            let refused = try #require(results[3].json as? [String: Any])
            #expect(refused["limit"] as? Int == 3)
            #expect((20 - elapsed...20).contains(refused["retry"] as? Int ?? 0))
            #expect(api.applied == 3)
            #expect(server.requestLog.last?.rateLimited == true)
            #expect(server.requestLog.last?.applied == false)
            #expect(server.statistics.rateLimited == 1)
        }
    }

    @Test("no keep-alive stall: 50 sequential requests on one connection are fast")
    func noDelayKeepAlive() async throws {
        let api = CountingAPI()
        try await withServer(api: api) { server, port in
            let elapsed = try await onThread { () -> Duration in
                let connection = try RawHTTPConnection(port: port)
                _ = try connection.exchange("GET", "/warm-up")
                let clock = ContinuousClock()
                let start = clock.now
                for index in 0..<50 {
                    let result = try connection.exchange("GET", "/keep-alive/\(index)")
                    guard result.status == 200 else { throw RawHTTPError(description: "request \(index): \(result)") }
                }
                return clock.now - start
            }
            // With the stall each request waits ~44 ms for the delayed ACK: 50 of them > 2.2 s. Without it they
            // take ~30 ms on an idle machine; the bound leaves room for a loaded one.
            #expect(elapsed < .milliseconds(1500), "50 kept-alive requests took \(elapsed)")
            #expect(api.applied == 51)
        }
    }

    @Test("the request log keeps the newest records up to its limit; the counters keep counting")
    func requestLogLimit() async throws {
        let api = CountingAPI()
        try await withServer(api: api, options: SimServerOptions(requestLogLimit: 8)) { server, port in
            for index in 1...20 {
                let result = try await rawRequest(port: port, "GET", "/r/\(index)")
                #expect(result.status == 200)
            }
            let log = server.requestLog
            #expect(log.count <= 8)
            #expect(log.count >= 6)
            #expect(log.map(\.sequence) == Array((21 - log.count)...20))
            #expect(log.map(\.path) == log.map { "/r/\($0.sequence)" })
            #expect(log.allSatisfy { !$0.inProgress && $0.delivered && $0.status == 200 })
            #expect(server.statistics.requests == 20)
            #expect(server.statistics.applied == 20)
        }
    }

    @Test("a client sending Expect: 100-continue is told to go on, then answered")
    func expectContinue() async throws {
        let api = CountingAPI()
        try await withServer(api: api) { _, port in
            let (interim, final) = try await onThread { () -> (RawHTTPResult, RawHTTPResult) in
                let connection = try RawHTTPConnection(port: port)
                try connection.send(Data("PUT /slow-client HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n".utf8))
                let interim = try connection.readResponse()
                try connection.send(Data("hello".utf8))
                return (interim, try connection.readResponse())
            }
            #expect(interim.status == 100)
            #expect(final.status == 200)
            #expect((final.json as? [String: Any])?["body"] as? String == "hello")
            #expect(api.applied == 1)
        }
    }

    @Test("a malformed request is answered 400 and the connection closed; nothing reaches the API")
    func malformedRequest() async throws {
        let api = CountingAPI()
        try await withServer(api: api) { server, port in
            let (first, second) = try await onThread { () -> (RawHTTPResult, RawHTTPResult) in
                let connection = try RawHTTPConnection(port: port)
                try connection.send(Data("GARBAGE\r\nnot http at all\r\n\r\n".utf8))
                return (try connection.readResponse(), try connection.readResponse())
            }
            #expect(first.status == 400)
            #expect(second == .closedWithoutResponse)
            #expect(api.applied == 0)
            #expect(server.requestLog.isEmpty)
        }
    }

    @Test("a body over the limit is answered 413 and the connection closed; nothing reaches the API")
    func oversizedBody() async throws {
        let api = CountingAPI()
        try await withServer(api: api) { server, port in
            let result = try await rawRequest(port: port, "POST", "/big", body: Data(count: SimServer.maxBodyBytes + 1))
            #expect(result.status == 413)
            #expect(result.headers["Connection"] == "close")
            #expect(api.applied == 0)
            #expect(server.requestLog.isEmpty)
        }
    }

    @Test("pipelined requests are answered in order, each after the latency")
    func pipelining() async throws {
        let api = CountingAPI()
        try await withServer(api: api, options: SimServerOptions(latency: .milliseconds(50))) { server, port in
            let results = try await onThread { () -> [RawHTTPResult] in
                let connection = try RawHTTPConnection(port: port)
                let requests = ["/first", "/second", "/third"].map { "GET \($0) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" }
                try connection.send(Data(requests.joined().utf8))
                return try (0..<3).map { _ in try connection.readResponse() }
            }
            let paths = results.map { ($0.json as? [String: Any])?["path"] as? String }
            #expect(paths == ["/first", "/second", "/third"])
            #expect(server.requestLog.map(\.path) == ["/first", "/second", "/third"])
            #expect(server.requestLog.allSatisfy { $0.total >= .milliseconds(50) && $0.delivered })
        }
    }

    @Test("a client that half-closes after its request still gets the response")
    func halfClose() async throws {
        let api = CountingAPI()
        try await withServer(api: api, options: SimServerOptions(latency: .milliseconds(20))) { _, port in
            let (result, after) = try await onThread { () -> (RawHTTPResult, RawHTTPResult) in
                let connection = try RawHTTPConnection(port: port)
                try connection.send(Data("GET /half HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8))
                connection.shutdownWrite()
                return (try connection.readResponse(), try connection.readResponse())
            }
            #expect(result.status == 200)
            #expect((result.json as? [String: Any])?["path"] as? String == "/half")
            #expect(after == .closedWithoutResponse)
            #expect(api.applied == 1)
        }
    }

    @Test("a taken port is a typed error naming the port")
    func portTaken() async throws {
        try await withServer(api: CountingAPI()) { _, port in
            let second = SimServer(api: CountingAPI(), options: SimServerOptions(port: UInt16(port)))
            do {
                _ = try await second.start()
                await second.stop()
                Issue.record("a second server started on a taken port")
            } catch let error as SimServerError {
                guard case .cannotListen(let reported, _) = error else {
                    Issue.record("unexpected error \(error)")
                    return
                }
                #expect(Int(reported) == port)
                #expect(error.description.contains("port \(port)"))
            }
        }
    }

    @Test("starting twice is refused")
    func startTwice() async throws {
        try await withServer(api: CountingAPI()) { server, _ in
            await #expect(throws: SimServerError.alreadyStarted) { _ = try await server.start() }
        }
    }

    @Test("control endpoints report statistics and the log, and change faults at run time")
    func controlEndpoints() async throws {
        let api = CountingAPI()
        try await withServer(api: api) { server, port in
            _ = try await rawRequest(port: port, "GET", "/api/thing")
            let stats = try #require(try await rawRequest(port: port, "GET", "/_sim/stats").json as? [String: Any])
            #expect(stats["requests"] as? Int == 1)
            #expect(stats["applied"] as? Int == 1)
            #expect(stats["statuses"] as? [String: Int] == ["200": 1])
            let log = try #require(try await rawRequest(port: port, "GET", "/_sim/requests").json as? [[String: Any]])
            #expect(log.count == 1)
            #expect(log.first?["path"] as? String == "/api/thing")
            #expect(log.first?["status"] as? Int == 200)

            let bad = try await rawRequest(port: port, "PUT", "/_sim/faults", body: Data("503=2".utf8))
            #expect(bad.status == 400)
            #expect(((bad.json as? [String: Any])?["error"] as? String)?.contains("\"503=2\"") == true)
            let good = try await rawRequest(port: port, "PUT", "/_sim/faults", body: Data("503=1,seed=7".utf8))
            #expect(good.status == 200)
            #expect((good.json as? [String: Any])?["faults"] as? String == "503=1,seed=7")
            #expect(server.faults == FaultSpec(rules: [FaultRule(fault: .unavailable, probability: 1)], seed: 7))
            #expect(try await rawRequest(port: port, "GET", "/api/thing").status == 503)

            #expect(try await rawRequest(port: port, "DELETE", "/_sim/requests").status == 204)
            #expect(server.requestLog.isEmpty)
            #expect(server.statistics.requests == 2)
            #expect(try await rawRequest(port: port, "GET", "/_sim/nothing").status == 404)
        }
    }

    @Test("control endpoints can be turned off, then /_sim/ paths reach the API")
    func controlEndpointsOff() async throws {
        let api = CountingAPI()
        try await withServer(api: api, options: SimServerOptions(controlEndpoints: false)) { _, port in
            let result = try await rawRequest(port: port, "GET", "/_sim/stats")
            #expect((result.json as? [String: Any])?["path"] as? String == "/_sim/stats")
            #expect(api.applied == 1)
        }
    }
}

@Suite("SimServer lifecycle")
struct SimServerLifecycleTests {
    @Test("a stopped server can start again; a failed start leaves it startable")
    func restart() async throws {
        let api = CountingAPI()
        let server = SimServer(api: api)
        let first = try await server.start()
        #expect(try await rawRequest(port: first, "GET", "/a").status == 200)
        await server.stop()
        #expect(server.port == nil)
        let second = try await server.start()
        #expect(try await rawRequest(port: second, "GET", "/b").status == 200)
        #expect(server.requestLog.map(\.path) == ["/a", "/b"])
        let blocked = SimServer(api: api, options: SimServerOptions(port: UInt16(second)))
        await #expect(throws: SimServerError.self) { _ = try await blocked.start() }
        await server.stop()
        // The port is free once the first server has stopped; under a parallel test run the kernel may take a
        // moment to release it, so a refused bind is tried again for up to 2 s.
        var retried: Int?
        for attempt in 1...40 {
            do {
                retried = try await blocked.start()
                break
            } catch is SimServerError where attempt < 40 {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        #expect(retried == second)
        await blocked.stop()
    }

    @Test("concurrent starts: exactly one wins")
    func concurrentStarts() async throws {
        let server = SimServer(api: CountingAPI())
        async let a: Int? = try? await server.start()
        async let b: Int? = try? await server.start()
        let results = await [a, b]
        #expect(results.compactMap { $0 }.count == 1)
        await server.stop()
    }
}
