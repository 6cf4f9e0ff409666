import Foundation
import HTTP
import Testing
@testable import Simulator

/// Parses an estate from text, as a file named "e.json" would be.
func parseEstate(_ text: String, validation: V2EstateValidation = .strict) throws -> V2Estate {
    try V2Estate.parse(Data(text.utf8), source: "e.json", validation: validation)
}

/// The smallest valid estate with `applications` and `gateways` spliced in.
func estateText(applications: String = "", gateways: String = "") -> String {
    #"{"users": [{"username": "alice"}], "applications": [\#(applications)], "gateways": [\#(gateways)]}"#
}

@Suite("V2 estate file")
struct V2EstateTests {
    @Test("malformed JSON names the line and column")
    func malformedJSON() {
        // Line 3 is `  "applications": [,]`; the stray comma is its 20th character.
        let text = "{\n  \"users\": [{\"username\": \"alice\"}],\n  \"applications\": [,]\n}"
        #expect(throws: V2EstateError.malformedJSON(file: "e.json", detail: "Invalid value around character 57 (line 3, column 20)")) {
            try parseEstate(text)
        }
        #expect(throws: V2EstateError.malformedJSON(file: "e.json", detail: "the file is empty")) { try parseEstate("") }
        #expect(throws: V2EstateError.malformedJSON(file: "e.json", detail: "the top level is an array, not an object")) {
            try parseEstate("[]")
        }
    }

    @Test("structure errors name the entity and field", arguments: [
        (#"{"users": [{"username": "alice"}], "aplications": []}"#, V2EstateError.unknownKey(file: "e.json", key: "aplications")),
        (#"{"users": []}"#, .noUsers(file: "e.json")),
        (#"{"applications": []}"#, .noUsers(file: "e.json")),
        (#"{"users": [{"email": "x@example.com"}]}"#,
         .invalidField(file: "e.json", entity: "users[0]", field: "username", problem: "is missing")),
        (#"{"users": {"username": "alice"}}"#,
         .invalidField(file: "e.json", entity: "the estate", field: "users", problem: "must be an array, not an object")),
        (estateText(applications: #"{"name": "no id"}"#),
         .invalidField(file: "e.json", entity: "applications[0]", field: "id", problem: "is missing")),
        (estateText(applications: #"{"id": 7}"#),
         .invalidField(file: "e.json", entity: "applications[0]", field: "id", problem: "must be a string, not a number")),
        (estateText(applications: #"{"id": "a/b"}"#),
         .invalidField(file: "e.json", entity: "applications[0]", field: "id", problem: "must be a non-empty ID without spaces, / or ?")),
        (estateText(applications: #"{"id": "a"}, {"id": "a"}"#), .duplicateID(file: "e.json", kind: "application", id: "a")),
        (estateText(applications: #"{"id": "a", "rights": "settings"}"#),
         .invalidField(file: "e.json", entity: "application \"a\"", field: "rights", problem: "must be an array, not a string")),
        (estateText(applications: #"{"id": "a", "collaborators": [{"rights": []}]}"#),
         .invalidField(file: "e.json", entity: "application \"a\"", field: "collaborators[0].username", problem: "is missing")),
        (estateText(applications: #"{"id": "a", "access_keys": [{"name": "k", "rights": []}]}"#),
         .invalidField(file: "e.json", entity: "application \"a\"", field: "access_keys[0].key", problem: "is missing")),
        (estateText(applications: #"{"id": "a", "access_keys": [{"name": "k", "key": "x", "rights": []}, {"name": "k", "key": "y", "rights": []}]}"#),
         .invalidField(file: "e.json", entity: "application \"a\"", field: "access_keys[1].name", problem: "two access keys are named \"k\"; key names are unique per application")),
        (estateText(applications: #"{"id": "a", "access_keys": [{"name": "k", "key": "same", "rights": []}]}, {"id": "b", "access_keys": [{"name": "j", "key": "same", "rights": []}]}"#),
         .duplicateAccessKey(file: "e.json", application: "b", keyName: "j", otherApplication: "a")),
        (estateText(applications: #"{"id": "a", "handler": {"devices": []}}"#),
         .invalidField(file: "e.json", entity: "application \"a\"", field: "handler.name", problem: "is missing")),
        (estateText(applications: #"{"id": "a", "handler": {"name": "e u"}}"#),
         .invalidField(file: "e.json", entity: "application \"a\"", field: "handler.name", problem: "must be a non-empty ID without spaces, / or ?")),
        (estateText(applications: #"{"id": "a", "handler": {"name": "eu", "devices": [{"dev_id": "d"}, {"dev_id": "d"}]}}"#),
         .duplicateID(file: "e.json", kind: "device of application \"a\"", id: "d")),
        (estateText(applications: #"{"id": "a", "handler": {"name": "eu", "devices": [{"description": "x"}]}}"#),
         .invalidField(file: "e.json", entity: "application \"a\"", field: "handler.devices[0].dev_id", problem: "is missing")),
        (estateText(applications: #"{"id": "a", "handler": {"name": "eu", "devices": [{"dev_id": "d", "app_id": "b"}]}}"#),
         .invalidField(file: "e.json", entity: "device \"d\" of application \"a\"", field: "app_id", problem: "must be the application's ID \"a\" or absent")),
        (estateText(gateways: #"{"frequency_plan": "EU_863_870"}"#),
         .invalidField(file: "e.json", entity: "gateways[0]", field: "id", problem: "is missing")),
        (estateText(gateways: #"{"id": "g"}, {"id": "g"}"#), .duplicateID(file: "e.json", kind: "gateway", id: "g")),
    ])
    func structureErrors(text: String, expected: V2EstateError) {
        #expect(throws: expected) { try parseEstate(text, validation: .structureOnly) }
        #expect(throws: expected) { try parseEstate(text, validation: .strict) }
    }

    @Test("strict validation checks v2 value formats; structure-only serves them as they are", arguments: [
        (estateText(applications: #"{"id": "a", "euis": ["70B3D57ED000001"]}"#),
         V2EstateError.invalidField(file: "e.json", entity: "application \"a\"", field: "euis[0]", problem: "must be 16 hexadecimal digits, it has 15 characters")),
        (estateText(applications: #"{"id": "a", "euis": ["70B3D57ED000000G"]}"#),
         .invalidField(file: "e.json", entity: "application \"a\"", field: "euis[0]", problem: "must be 16 hexadecimal digits, it holds other characters")),
        (estateText(applications: #"{"id": "a", "handler": {"name": "eu", "devices": [{"dev_id": "d", "lorawan_device": {"app_key": "0123456789ABCDEF0123456789ABCDE"}}]}}"#),
         .invalidField(file: "e.json", entity: "device \"d\" of application \"a\"", field: "lorawan_device.app_key", problem: "must be 32 hexadecimal digits, it has 31 characters")),
        (estateText(applications: #"{"id": "a", "handler": {"name": "eu", "devices": [{"dev_id": "d", "lorawan_device": {"dev_addr": "2601"}}]}}"#),
         .invalidField(file: "e.json", entity: "device \"d\" of application \"a\"", field: "lorawan_device.dev_addr", problem: "must be 8 hexadecimal digits, it has 4 characters")),
        (estateText(applications: #"{"id": "a", "handler": {"name": "eu", "devices": [{"dev_id": "d", "lorawan_device": {"f_cnt_up": 4294967296}}]}}"#),
         .invalidField(file: "e.json", entity: "device \"d\" of application \"a\"", field: "lorawan_device.f_cnt_up", problem: "a frame counter must be a whole number from 0 to 4294967295")),
        (estateText(applications: #"{"id": "a", "handler": {"name": "eu", "devices": [{"dev_id": "d", "lorawan_device": {"f_cnt_down": -1}}]}}"#),
         .invalidField(file: "e.json", entity: "device \"d\" of application \"a\"", field: "lorawan_device.f_cnt_down", problem: "a frame counter must be a whole number from 0 to 4294967295")),
        (estateText(applications: #"{"id": "a", "handler": {"name": "eu", "devices": [{"dev_id": "d", "lorawan_device": {"last_seen": "yesterday"}}]}}"#),
         .invalidField(file: "e.json", entity: "device \"d\" of application \"a\"", field: "lorawan_device.last_seen", problem: "must be Unix nanoseconds, a whole number or a string of digits")),
        (estateText(applications: #"{"id": "a", "handler": {"name": "eu", "devices": [{"dev_id": "d", "latitude": 91}]}}"#),
         .invalidField(file: "e.json", entity: "device \"d\" of application \"a\"", field: "latitude", problem: "must be from -90 to 90")),
        (estateText(gateways: #"{"id": "g", "antenna_location": {"latitude": 52.1, "longitude": 4.2, "altitude": 3.5}}"#),
         .invalidField(file: "e.json", entity: "gateway \"g\"", field: "antenna_location.altitude", problem: "must be a whole number of metres (v2 altitudes are integers)")),
        (estateText(gateways: #"{"id": "g", "auto_update": "yes"}"#),
         .invalidField(file: "e.json", entity: "gateway \"g\"", field: "auto_update", problem: "must be true or false")),
    ])
    func strictValues(text: String, expected: V2EstateError) throws {
        #expect(throws: expected) { try parseEstate(text, validation: .strict) }
        _ = try parseEstate(text, validation: .structureOnly)
    }

    @Test("error messages never repeat a key and say what to do")
    func messages() {
        let key = "0123456789ABCDEF0123456789ABCDE"
        let text = estateText(applications: #"{"id": "a", "handler": {"name": "eu", "devices": [{"dev_id": "d", "lorawan_device": {"app_key": "\#(key)"}}]}}"#)
        do {
            _ = try parseEstate(text)
            Issue.record("a 31-digit AppKey passed strict validation")
        } catch {
            #expect(!"\(error)".contains(key))
            #expect("\(error)" == "estate file e.json: device \"d\" of application \"a\", field \"lorawan_device.app_key\": must be 32 hexadecimal digits, it has 31 characters; fix the value, or load the estate with structure-only validation to serve it as it is")
        }
        #expect(V2EstateError.unreadable(file: "/x/e.json", reason: "no such file").description
            == "estate file /x/e.json: cannot read it (no such file); check the path given to --v2-data")
    }

    @Test("an invalid value loaded with structure-only validation is served verbatim")
    func servesInvalidData() async throws {
        let text = estateText(applications: #"{"id": "a", "euis": ["NOT-AN-EUI"], "rights": ["devices"], "handler": {"name": "eu", "devices": [{"dev_id": "d", "lorawan_device": {"dev_eui": "12345", "f_cnt_up": -3}}]}}"#)
        let estate = try parseEstate(text, validation: .structureOnly)
        let running = try await V2Simulator.start(estate: estate, token: "t")
        defer { Task { await running.stop() } }
        let client = HTTPClient()
        let euis = try await client.send(HTTPRequest(url: running.accountServerURL + "/applications/a/euis", headers: [(name: "Authorization", value: "Bearer t")]))
        #expect(String(decoding: euis.body, as: UTF8.self) == #"["NOT-AN-EUI"]"#)
        let device = try await client.send(HTTPRequest(url: running.handlerURLs[0] + "/applications/a/devices/d", headers: [(name: "Authorization", value: "Bearer t")]))
        #expect(String(decoding: device.body, as: UTF8.self) == #"{"app_id":"a","dev_id":"d","lorawan_device":{"app_id":"a","dev_eui":"12345","dev_id":"d","f_cnt_up":-3}}"#)
        await running.stop()
    }

    @Test("notes (keys starting with _) are dropped everywhere but inside attributes")
    func notes() throws {
        let text = estateText(
            applications: #"{"id": "a", "_note": "x", "handler": {"name": "eu", "_note": "y", "devices": [{"dev_id": "d", "_note": "z", "attributes": {"_kept": "v"}}]}}"#
        )
        let estate = try parseEstate(text)
        let device = try #require(estate.applications.first?.handler?.devices.first)
        #expect(String(decoding: device.full.data, as: UTF8.self) == #"{"app_id":"a","attributes":{"_kept":"v"},"dev_id":"d"}"#)
        #expect(String(decoding: estate.applications[0].json.data, as: UTF8.self) == #"{"id":"a"}"#)
    }

    @Test("large integers stay exact")
    func exactIntegers() throws {
        let text = estateText(applications: #"{"id": "a", "handler": {"name": "eu", "devices": [{"dev_id": "d", "lorawan_device": {"last_seen": 1625140800123456789, "f_cnt_up": 4294967295}}]}}"#)
        let device = try #require(try parseEstate(text).applications.first?.handler?.devices.first)
        #expect(String(decoding: device.full.data, as: UTF8.self).contains(#""last_seen":1625140800123456789"#))
        #expect(String(decoding: device.full.data, as: UTF8.self).contains(#""f_cnt_up":4294967295"#))
    }

    @Test("the example estate loads strictly and has what the examples promise")
    func exampleEstate() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let estate = try V2Estate.load(file: root.appendingPathComponent("examples/v2-estate.json").path)
        #expect(estate.ownerUsername == "alice")
        #expect(estate.applicationIDs == [
            "weather_station", "weather-station", "parking_sensors", "ab", "demo", "old_app", "legacy-app", "old-tracker",
        ])
        #expect(estate.handlerNames == ["eu", "us-west"])
        #expect(estate.deviceCount == 18)
        #expect(estate.gatewayIDs.count == 15)
        let plans = Set(estate.gateways.compactMap { $0.json["frequency_plan"]?.stringValue })
        #expect(plans == [
            "EU_863_870", "US_902_928", "CN_779_787", "EU_433", "AU_915_928", "CN_470_510", "AS_923", "AS_920_923",
            "AS_923_925", "KR_920_923", "IN_865_867", "RU_864_870",
        ])
        #expect(estate.applications.filter(\.isDeleted).map(\.id) == ["old-tracker"])
        #expect(estate.applications.filter { $0.handler == nil }.map(\.id) == ["legacy-app", "old-tracker"])
        let counters = estate.applications.flatMap { $0.handler?.devices ?? [] }.compactMap { device -> Int64? in
            if case .integer(let count)? = device.full["lorawan_device"]?["f_cnt_up"] { return count }
            return nil
        }
        #expect(counters.contains { $0 > 65_535 })
    }

    @Test("token: from the environment, else generated into a 0600 file")
    func token() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("v2sim-token-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("v2-token").path

        let fromEnvironment = try V2SimulatorToken.resolve(environment: ["TTN_V2_TOKEN": "env-token"], tokenFile: file)
        #expect(fromEnvironment.token == "env-token")
        #expect(fromEnvironment.origin == .environment)
        #expect(!FileManager.default.fileExists(atPath: file))

        let generated = try V2SimulatorToken.resolve(environment: ["TTN_V2_TOKEN": ""], tokenFile: file)
        #expect(generated.origin == .generated(file: file))
        #expect(generated.token.hasPrefix("v2sim."))
        #expect(generated.token.count == 6 + 43)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == generated.token + "\n")
        let permissions = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
        #expect(permissions == 0o600)
        let again = try V2SimulatorToken.resolve(environment: [:], tokenFile: file)
        #expect(again.token != generated.token)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["v2-token"])

        let unwritable = directory.appendingPathComponent("no/such/dir/token").path
        do {
            _ = try V2SimulatorToken.resolve(environment: [:], tokenFile: unwritable)
            Issue.record("a token was written into a missing directory")
        } catch {
            #expect(error.path == unwritable)
            #expect(error.description.hasPrefix("cannot write the v2 simulator token to \(unwritable) ("))
        }
    }
}
