import Foundation
import HTTP
import Simulator
import Testing

/// A throwaway server on 127.0.0.1 (the simulators' `SimServer`), port chosen by the OS, answering
/// every request with a closure.
final class TestServer: Sendable {
    let server: SimServer
    let port: Int

    init(answer: @escaping @Sendable (SimRequest) -> SimResponse) async throws {
        server = SimServer(api: ClosureSimulatedAPI(answer), options: SimServerOptions(controlEndpoints: false))
        port = try await server.start()
    }

    var base: String { "http://127.0.0.1:\(port)" }

    func stop() async {
        await server.stop()
    }
}

private func text(_ response: HTTP.HTTPResponse) -> String { String(decoding: response.body, as: UTF8.self) }

@Test func getReturnsStatusHeadersAndBody() async throws {
    let server = try await TestServer { request in
        let auth = request.headers["authorization"] ?? "none"
        let agent = request.headers["user-agent"] ?? "none"
        return SimResponse(
            status: 200, headers: ["X-Rate-Limit-Available": "7", "Content-Type": "application/json"],
            body: Data("{\"path\":\"\(request.path)\",\"auth\":\"\(auth)\",\"agent\":\"\(agent)\"}".utf8))
    }
    defer { Task { await server.stop() } }
    let client = HTTP.HTTPClient()
    let response = try await client.send(HTTP.HTTPRequest(url: server.base + "/a/b?x=1", headers: [("Authorization", "Bearer s3cret")]))
    #expect(response.status == 200)
    #expect(response.headers["x-rate-limit-available"] == "7")
    #expect(text(response) == #"{"path":"/a/b","auth":"Bearer s3cret","agent":"ttn-migrate/0.1.0"}"#)
}

@Test func bodyAndMethodAreSent() async throws {
    let server = try await TestServer { request in
        let type = request.headers["content-type"] ?? "none"
        return SimResponse(status: 201, body: Data("\(request.method) \(type) ".utf8) + request.body)
    }
    defer { Task { await server.stop() } }
    let client = HTTP.HTTPClient()
    let put = try await client.send(HTTP.HTTPRequest(method: "PUT", url: server.base + "/x", body: Data(#"{"a":1}"#.utf8)))
    #expect(put.status == 201)
    #expect(text(put) == #"PUT application/json {"a":1}"#)
    let delete = try await client.send(HTTP.HTTPRequest(method: "DELETE", url: server.base + "/x"))
    #expect(text(delete) == "DELETE none ")
}

@Test func sequentialRequestsReuseOneConnection() async throws {
    let server = try await TestServer { _ in SimResponse(status: 200, body: Data("ok".utf8)) }
    defer { Task { await server.stop() } }
    let client = HTTP.HTTPClient()
    for _ in 0..<5 {
        #expect(try await client.send(HTTP.HTTPRequest(url: server.base + "/")).status == 200)
    }
    #expect(server.server.statistics.requests == 5)
    #expect(server.server.statistics.connections == 1, "expected one kept-alive connection")
}

/// Rounds of requests in flight at once: each gets its own answer, over connections that leave and
/// rejoin the loop's poller between rounds, and submissions that share one wake-up.
@Test func concurrentRoundsEachGetTheirOwnAnswer() async throws {
    let server = try await TestServer { request in SimResponse(status: 200, body: Data(request.path.utf8)) }
    defer { Task { await server.stop() } }
    let client = HTTP.HTTPClient()
    for round in 0..<4 {
        let answers = try await withThrowingTaskGroup(of: (String, String).self) { group in
            for index in 0..<48 {
                let path = "/r\(round)/\(index)"
                group.addTask { (path, text(try await client.send(HTTP.HTTPRequest(url: server.base + path)))) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(answers.count == 48)
        #expect(answers.allSatisfy { $0.key == $0.value })
    }
    #expect(server.server.statistics.requests == 4 * 48)
    #expect(server.server.statistics.connections <= 48, "connections are kept and reused between rounds")
}

/// Connections closed under the poller: a server that goes away while its kept connections are idle,
/// and answers with `Connection: close`, so libcurl closes a connection after each request and the
/// descriptor numbers come back for new ones. Every request still gets its answer, none waits for its
/// timeout.
@Test func closedConnectionsAndReusedDescriptorsKeepWorking() async throws {
    let client = HTTP.HTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .seconds(5)))
    func round(_ server: TestServer, _ tag: String) async throws -> [String: String] {
        try await withThrowingTaskGroup(of: (String, String).self) { group in
            for index in 0..<24 {
                let path = "/\(tag)/\(index)"
                group.addTask { (path, text(try await client.send(HTTP.HTTPRequest(url: server.base + path)))) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
    }
    let first = try await TestServer { request in SimResponse(status: 200, body: Data(request.path.utf8)) }
    #expect(try await round(first, "a").allSatisfy { $0.key == $0.value })
    await first.stop()
    let closing = try await TestServer { request in
        SimResponse(status: 200, headers: ["Connection": "close"], body: Data(request.path.utf8))
    }
    defer { Task { await closing.stop() } }
    let started = ContinuousClock.now
    for tag in ["b", "c", "d"] {
        let answers = try await round(closing, tag)
        #expect(answers.count == 24)
        #expect(answers.allSatisfy { $0.key == $0.value })
    }
    #expect(closing.server.statistics.connections == 3 * 24, "each answer closed its connection")
    #expect(ContinuousClock.now - started < .seconds(5), "no request waited for its timeout")
}

@Test func sameOriginRedirectIsFollowedCrossOriginRefused() async throws {
    let other = try await TestServer { request in
        SimResponse(status: 200, body: Data((request.headers["authorization"] ?? "no auth").utf8))
    }
    defer { Task { await other.stop() } }
    let otherBase = other.base
    let server = try await TestServer { request in
        switch request.path {
        case "/old": return SimResponse(status: 307, headers: ["Location": "/new"])
        case "/new": return SimResponse(status: 200, body: Data("new \(request.method)".utf8))
        default: return SimResponse(status: 307, headers: ["Location": otherBase + "/steal"])
        }
    }
    defer { Task { await server.stop() } }
    let client = HTTP.HTTPClient()
    let followed = try await client.send(HTTP.HTTPRequest(method: "POST", url: server.base + "/old", headers: [("Authorization", "Bearer k")], body: Data("{}".utf8)))
    #expect(followed.status == 200)
    #expect(text(followed) == "new POST")
    await #expect(throws: HTTPError.redirectRefused(from: server.base + "/away", to: otherBase + "/steal")) {
        _ = try await client.send(HTTP.HTTPRequest(url: server.base + "/away", headers: [("Authorization", "Bearer k")]))
    }
}

@Test func timeoutAfterSendingIsReportedAsMaybeApplied() async throws {
    let server = try await TestServer { _ in SimResponse(status: 200, delay: .seconds(3)) }
    defer { Task { await server.stop() } }
    let client = HTTP.HTTPClient(configuration: HTTPClientConfiguration(requestTimeout: .milliseconds(300)))
    do {
        _ = try await client.send(HTTP.HTTPRequest(method: "POST", url: server.base + "/slow", body: Data("{}".utf8)))
        Issue.record("expected a timeout")
    } catch let error as HTTPError {
        #expect(error == .timedOut(url: server.base + "/slow", requestSent: true))
        #expect(error.mayHaveReachedServer)
        #expect(error.isTransient)
    }
}

@Test func refusedConnectionIsNotApplied() async throws {
    let refusing = try ReservedPort()
    defer { refusing.release() }
    let base = "http://127.0.0.1:\(refusing.port)"
    let client = HTTP.HTTPClient(configuration: HTTPClientConfiguration(connectTimeout: .seconds(2)))
    do {
        _ = try await client.send(HTTP.HTTPRequest(url: base + "/x"))
        Issue.record("expected a connection failure")
    } catch let error as HTTPError {
        guard case .connectFailed(let url, _) = error else {
            Issue.record("unexpected \(error)")
            return
        }
        #expect(url == base + "/x")
        #expect(!error.mayHaveReachedServer)
    }
}

@Test func invalidURLsAndTLSFailuresAreTyped() async throws {
    let client = HTTP.HTTPClient()
    await #expect(throws: HTTPError.invalidURL("not%20a%20url")) {
        _ = try await client.send(HTTP.HTTPRequest(url: "not a url"))
    }
    await #expect(throws: HTTPError.invalidURL("ftp://example.com/x")) {
        _ = try await client.send(HTTP.HTTPRequest(url: "ftp://example.com/x"))
    }
    for url in ["http:///x", "https://", "http:/x", "http://?x", "httpx://example.com/x", "http\u{1A}//example.com/", ""] {
        do {
            _ = try await client.send(HTTP.HTTPRequest(url: url))
            Issue.record("\(url) was sent")
        } catch let error as HTTPError {
            guard case .invalidURL = error else {
                Issue.record("\(url): expected .invalidURL, got \(error)")
                continue
            }
        }
    }
    // TLS is verified by default: speaking TLS to a plain-HTTP server fails the handshake.
    let server = try await TestServer { _ in SimResponse(status: 200) }
    defer { Task { await server.stop() } }
    // The scheme is case-insensitive (RFC 3986 §3.1).
    #expect(try await client.send(HTTP.HTTPRequest(url: "HTTP://127.0.0.1:\(server.port)/x")).status == 200)
    do {
        _ = try await client.send(HTTP.HTTPRequest(url: "https://127.0.0.1:\(server.port)/x"))
        Issue.record("expected a TLS failure")
    } catch let error as HTTPError {
        guard case .tls = error else {
            Issue.record("expected .tls, got \(error)")
            return
        }
        #expect(!error.mayHaveReachedServer)
    }
}

@Test func errorMessagesNeverCarryCredentialsOrQueries() {
    let error = HTTPError.connectFailed(url: HTTP.HTTPClient.displayURL("https://user:pw@example.com/api?token=abc"), detail: "x")
    #expect(error.description == "cannot connect to https://example.com/api (x): check the address and that the server is reachable")
}

@Test func retryPolicyBacksOffWithinBounds() {
    let policy = RetryPolicy(maxAttempts: 5, baseDelay: .milliseconds(100), maxDelay: .milliseconds(800))
    for retry in 1...6 {
        let nominal = [100, 200, 400, 800, 800, 800][retry - 1]
        let delay = policy.delay(beforeRetry: retry)
        #expect(delay >= .milliseconds(nominal / 2) && delay <= .milliseconds(nominal))
    }
    #expect(RetryPolicy.isRetryable(status: 429))
    #expect(RetryPolicy.isRetryable(status: 503))
    #expect(!RetryPolicy.isRetryable(status: 501))
    #expect(!RetryPolicy.isRetryable(status: 409))
    #expect(!RetryPolicy.isRetryable(status: 400))
}

@Test func headerLookupIgnoresTheCaseOfNamesAndTakesTheLastField() {
    let headers = HTTP.HTTPHeaders([
        (name: "X-Rate-Limit-Limit", value: "600"), (name: "content-type", value: "text/plain"),
        (name: "Content-Type", value: "application/json"), (name: "X-Request-ID", value: "r-1"),
    ])
    #expect(headers["x-rate-limit-limit"] == "600")
    #expect(headers["X-RATE-LIMIT-LIMIT"] == "600")
    #expect(headers["content-TYPE"] == "application/json")
    #expect(headers["x-request-id"] == "r-1")
    // Same length, one letter apart; a prefix; a longer name; only ASCII letters fold ('@' is not '`').
    #expect(headers["x-request-ie"] == nil)
    #expect(headers["x-request"] == nil)
    #expect(headers["x-request-id-2"] == nil)
    #expect(HTTP.HTTPHeaders([(name: "A@", value: "1")])["a`"] == nil)
}

@Test func headersAreEqualAndHashAlikeWhenOnlyTheCaseOfNamesDiffers() {
    let sent = HTTP.HTTPHeaders([(name: "Content-Type", value: "application/json"), (name: "X-Request-ID", value: "r-1")])
    let folded = HTTP.HTTPHeaders([(name: "content-type", value: "application/json"), (name: "x-REQUEST-id", value: "r-1")])
    #expect(sent == folded)
    #expect(Set([sent, folded]).count == 1)
    // Values keep their case; order and count matter; only ASCII letters fold ('@' is not '`').
    #expect(sent != HTTP.HTTPHeaders([(name: "Content-Type", value: "Application/JSON"), (name: "X-Request-ID", value: "r-1")]))
    #expect(sent != HTTP.HTTPHeaders([(name: "X-Request-ID", value: "r-1"), (name: "Content-Type", value: "application/json")]))
    #expect(sent != HTTP.HTTPHeaders([(name: "Content-Type", value: "application/json")]))
    #expect(HTTP.HTTPHeaders([(name: "A@", value: "1")]) != HTTP.HTTPHeaders([(name: "a`", value: "1")]))
}
