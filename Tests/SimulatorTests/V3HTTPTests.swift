import Foundation
import HTTP
import Simulator
import Testing

/// The v3 simulator behind `SimServer` on 127.0.0.1 (port 0), reached through the product's libcurl client.
@Suite struct V3HTTPTests {
    private static func send(_ client: HTTPClient, _ method: String, _ url: String, key: String?, body: String? = nil) async throws -> (status: Int, headers: HTTPHeaders, json: [String: Any]) {
        var headers: [(name: String, value: String)] = [("Accept", "application/json")]
        if let key { headers.append(("Authorization", "Bearer \(key)")) }
        if body != nil { headers.append(("Content-Type", "application/json")) }
        let response = try await client.send(HTTPRequest(method: method, url: url, headers: headers, body: body.map { Data($0.utf8) },
                                                         timeout: .seconds(10)))
        let json = (try? JSONSerialization.jsonObject(with: response.body)) as? [String: Any] ?? [:]
        return (response.status, response.headers, json)
    }

    private static func errorName(_ json: [String: Any]) -> String? {
        ((json["details"] as? [[String: Any]])?.first).flatMap { detail in
            (detail["namespace"] as? String).flatMap { namespace in (detail["name"] as? String).map { "\(namespace):\($0)" } }
        }
    }

    @Test func splitServesTheISAndTheClusterOnTwoAddressesOverOneState() async throws {
        let running = try await V3Simulator.start(config: V3SimulatorConfig(users: ["user1"]), options: V3SimulatorLaunchOptions(split: true))
        let client = HTTPClient()
        let key = running.simulator.apiKey
        do {
            #expect(running.isSplit)
            let urls = try #require(try JSONSerialization.jsonObject(with: Data(running.urlsJSON.utf8)) as? [String: String])
            #expect(urls == ["v3_identity_server": running.identityServerURL, "v3_cluster": running.clusterURL])

            let created = try await Self.send(client, "POST", running.identityServerURL + "/api/v3/users/user1/applications", key: key,
                                              body: #"{"application":{"ids":{"application_id":"app1"}}}"#)
            #expect(created.status == 200)
            // Each address answers only its own components' paths.
            let wrongPlace = try await Self.send(client, "GET", running.clusterURL + "/api/v3/applications/app1", key: key)
            #expect(wrongPlace.status == 404)
            #expect(wrongPlace.json["message"] as? String == "Not Found")
            #expect(try await Self.send(client, "GET", running.identityServerURL + "/api/v3/ns/applications/app1/devices/d1", key: key).status == 404)

            let set = try await Self.send(client, "PUT", running.clusterURL + "/api/v3/as/applications/app1/devices/dev1", key: key,
                                          body: #"{"end_device":{"ids":{"device_id":"dev1"},"formatters":{"up_formatter":"FORMATTER_CAYENNELPP"}},"field_mask":{"paths":["formatters.up_formatter"]}}"#)
            #expect(set.status == 200)
            #expect(try await Self.send(client, "GET", running.identityServerURL + "/api/v3/auth_info", key: key).status == 200)
            #expect(running.identityServer.requestLog.map(\.path) == ["/api/v3/users/user1/applications", "/api/v3/ns/applications/app1/devices/d1", "/api/v3/auth_info"])
            #expect(running.cluster.requestLog.map(\.path) == ["/api/v3/applications/app1", "/api/v3/as/applications/app1/devices/dev1"])
        }
        await running.stop()
    }

    @Test func rateLimitHeadersAndThe429Body() async throws {
        var server = SimServerOptions()
        server.rateLimitPerMinute = 2
        let running = try await V3Simulator.start(config: V3SimulatorConfig(users: ["user1"]), options: V3SimulatorLaunchOptions(server: server))
        let client = HTTPClient()
        let url = running.identityServerURL + "/api/v3/auth_info"
        do {
            let first = try await Self.send(client, "GET", url, key: running.simulator.apiKey)
            #expect(first.status == 200)
            #expect(first.headers["X-Rate-Limit-Limit"] == "2")
            #expect(first.headers["X-Rate-Limit-Available"] == "1")
            #expect(first.headers["X-Rate-Limit-Retry"] == "0")
            // An error answer carries the headers too.
            let second = try await Self.send(client, "GET", url, key: nil)
            #expect(second.status == 401)
            #expect(second.headers["X-Rate-Limit-Available"] == "0")
            let third = try await Self.send(client, "GET", url, key: running.simulator.apiKey)
            #expect(third.status == 429)
            #expect(Self.errorName(third.json) == "pkg/ratelimit:rate_limit_exceeded")
            #expect(third.json["code"] as? Int == 8)
            #expect(third.headers["X-Rate-Limit-Limit"] == "2")
            #expect(Int(third.headers["X-Rate-Limit-Retry"] ?? "") ?? 0 >= 1)
            #expect(running.identityServer.requestLog.last?.applied == false)
        }
        await running.stop()
    }

    @Test func createDroppedAfterApplyingIsInTheStateAndTheLog() async throws {
        let running = try await V3Simulator.start(config: V3SimulatorConfig(users: ["user1"]))
        let client = HTTPClient()
        let key = running.simulator.apiKey
        do {
            running.identityServer.setFaults(try FaultSpec(parsing: "drop-after=1@POST:/api/v3/users/"))
            await #expect(throws: HTTPError.self) {
                _ = try await Self.send(client, "POST", running.identityServerURL + "/api/v3/users/user1/applications", key: key,
                                        body: #"{"application":{"ids":{"application_id":"app1"}}}"#)
            }
            running.identityServer.setFaults(.none)
            // The create happened: reading finds it, and a retried create is id_taken (what a client must reconcile).
            #expect(try await Self.send(client, "GET", running.identityServerURL + "/api/v3/applications/app1", key: key).status == 200)
            let retry = try await Self.send(client, "POST", running.identityServerURL + "/api/v3/users/user1/applications", key: key,
                                            body: #"{"application":{"ids":{"application_id":"app1"}}}"#)
            #expect(retry.status == 409)
            #expect(Self.errorName(retry.json) == "pkg/util/store:id_taken")
            let record = try #require(running.identityServer.requestLog.first)
            #expect(record.fault == .dropAfter)
            #expect(record.applied)
            #expect(!record.delivered)

            running.identityServer.setFaults(try FaultSpec(parsing: "503=1"))
            let unavailable = try await Self.send(client, "GET", running.identityServerURL + "/api/v3/auth_info", key: key)
            #expect(unavailable.status == 503)
            #expect(Self.errorName(unavailable.json) == "pkg/util/store:database_unavailable")
        }
        await running.stop()
    }

    @Test func apiKeyFromTheEnvironmentOrGeneratedIntoAPrivateFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("v3sim-key-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("v3-api-key").path

        let generated = try V3SimulatorAPIKey.resolve(environment: [:], keyFile: file)
        #expect(generated.origin == .generated(file: file))
        #expect(generated.key.hasPrefix("NNSXS.") && generated.key.count == 98)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == generated.key + "\n")
        let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        // The generated key is one the simulator accepts.
        let simulator = try V3Simulator(config: V3SimulatorConfig(users: ["user1"], apiKey: generated.key))
        #expect(simulator.apiKey == generated.key)

        let fromEnvironment = try V3SimulatorAPIKey.resolve(environment: ["TTN_V3_API_KEY": generated.key], keyFile: file + "-unused")
        #expect(fromEnvironment.origin == .environment)
        #expect(!FileManager.default.fileExists(atPath: file + "-unused"))

        #expect(throws: V3SimulatorAPIKeyError.self) {
            _ = try V3SimulatorAPIKey.resolve(environment: ["TTN_V3_API_KEY": "secret-but-not-a-key"], keyFile: file)
        }
        do {
            _ = try V3SimulatorAPIKey.resolve(environment: ["TTN_V3_API_KEY": "secret-but-not-a-key"], keyFile: file)
        } catch {
            #expect(!error.description.contains("secret-but-not-a-key"))
        }
    }
}
