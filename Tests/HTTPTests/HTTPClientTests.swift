import FlyingFox
import Foundation
import HTTP
import Testing

/// A throwaway FlyingFox server on 127.0.0.1, port chosen by the OS.
final class TestServer: Sendable {
    let server: HTTPServer
    let task: Task<Void, any Error>
    let port: Int

    init(handler: @escaping @Sendable (FlyingFox.HTTPRequest) async throws -> FlyingFox.HTTPResponse) async throws {
        server = HTTPServer(address: try .inet(ip4: "127.0.0.1", port: 0), timeout: 30, logger: .disabled)
        await server.appendRoute("*", handler: handler)
        let server = self.server
        task = Task { try await server.run() }
        try await server.waitUntilListening(timeout: 5)
        guard case .ip4(_, let port) = await server.listeningAddress else { throw CancellationError() }
        self.port = Int(port)
    }

    var base: String { "http://127.0.0.1:\(port)" }

    func stop() async {
        await server.stop(timeout: 1)
        task.cancel()
    }
}

private func text(_ response: HTTP.HTTPResponse) -> String { String(decoding: response.body, as: UTF8.self) }

@Test func getReturnsStatusHeadersAndBody() async throws {
    let server = try await TestServer { request in
        let auth = request.headers[HTTPHeader("Authorization")] ?? "none"
        let agent = request.headers[HTTPHeader("User-Agent")] ?? "none"
        return FlyingFox.HTTPResponse(
            statusCode: .ok, headers: [HTTPHeader("X-Rate-Limit-Available"): "7", HTTPHeader("Content-Type"): "application/json"],
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
        let body = try await request.bodyData
        let type = request.headers[HTTPHeader("Content-Type")] ?? "none"
        return FlyingFox.HTTPResponse(statusCode: .created, body: Data("\(request.method.rawValue) \(type) ".utf8) + body)
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
    let server = try await TestServer { request in
        FlyingFox.HTTPResponse(statusCode: .ok, body: Data("\(request.remoteAddress.map { "\($0)" } ?? "?")".utf8))
    }
    defer { Task { await server.stop() } }
    let client = HTTP.HTTPClient()
    var peers = Set<String>()
    for _ in 0..<5 {
        peers.insert(text(try await client.send(HTTP.HTTPRequest(url: server.base + "/"))))
    }
    #expect(peers.count == 1, "expected one kept-alive connection, saw \(peers)")
}

@Test func sameOriginRedirectIsFollowedCrossOriginRefused() async throws {
    let other = try await TestServer { request in
        FlyingFox.HTTPResponse(statusCode: .ok, body: Data((request.headers[HTTPHeader("Authorization")] ?? "no auth").utf8))
    }
    defer { Task { await other.stop() } }
    let otherBase = other.base
    let server = try await TestServer { request in
        switch request.path {
        case "/old": return FlyingFox.HTTPResponse(statusCode: .temporaryRedirect, headers: [.location: "/new"])
        case "/new": return FlyingFox.HTTPResponse(statusCode: .ok, body: Data("new \(request.method.rawValue)".utf8))
        default: return FlyingFox.HTTPResponse(statusCode: .temporaryRedirect, headers: [.location: otherBase + "/steal"])
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
    let server = try await TestServer { _ in
        try await Task.sleep(for: .seconds(3))
        return FlyingFox.HTTPResponse(statusCode: .ok)
    }
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
    let server = try await TestServer { _ in FlyingFox.HTTPResponse(statusCode: .ok) }
    let base = server.base
    await server.stop()
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
    // TLS is verified by default: speaking TLS to a plain-HTTP server fails the handshake.
    let server = try await TestServer { _ in FlyingFox.HTTPResponse(statusCode: .ok) }
    defer { Task { await server.stop() } }
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
