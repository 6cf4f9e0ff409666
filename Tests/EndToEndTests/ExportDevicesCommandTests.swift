import Foundation
import HTTP
import Simulator
import Testing
import V3Model
@testable import TTNMigrateCLI

/// `export-devices` on the small estate: each line against hand-written values, then imported into a
/// fresh v3 simulator the way The Things Stack Console imports a device file (fields split by the
/// Console's own device entity map, server addresses filled in), which must accept every request.
@Suite(.serialized) struct ExportDevicesCommandTests {
    func export() async throws -> (v2: V2Fixture, lines: [[String: Any]], text: String, err: String) {
        let v2 = try await V2Fixture.start()
        let config = try v2.config(extra: "devices: { frequency_plan: EU_863_870_TTN, with_session: true }\nusers: { bob_smith: bob-smith }")
        let out = v2.directory.file("devices.jsonl")
        let result = await runCLI(["export-devices", "--config", config, "--out", out])
        #expect(result.code == 0, "\(result.err)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect((try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int) == 0o600)
        let lines = try text.split(separator: "\n").map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        return (v2, lines, text, result.err)
    }

    @Test func linesHoldTheWholeDeviceWithoutServerAddresses() async throws {
        let (v2, lines, text, err) = try await export()
        defer { Task { await v2.stop() } }
        #expect(err == "wrote 2 devices to \(v2.directory.file("devices.jsonl")); 0 left out (see `ttn-migrate plan`)")
        #expect(text.hasSuffix("}\n") && text.split(separator: "\n").count == 2)
        #expect(lines.count == 2)
        let otaa = lines[0]
        let ids = otaa["ids"] as? [String: Any]
        #expect(ids?["device_id"] as? String == "dev-1")
        #expect((ids?["application_ids"] as? [String: Any])?["application_id"] as? String == "sensors")
        #expect(ids?["dev_eui"] as? String == "0004A30B001C0001" && ids?["join_eui"] as? String == "70B3D57ED0001000")
        #expect(otaa["supports_join"] as? Bool == true)
        #expect(((otaa["root_keys"] as? [String: Any])?["app_key"] as? [String: Any])?["key"] as? String == "000102030405060708090A0B0C0D0E0F")
        #expect(otaa["session"] == nil, "dev-1 has no v2 session")
        #expect(otaa["frequency_plan_id"] as? String == "EU_863_870_TTN")
        #expect(otaa["lorawan_version"] as? String == "MAC_V1_0_2")
        #expect(otaa["description"] as? String == "Hall sensor")
        let location = (otaa["locations"] as? [String: Any])?["user"] as? [String: Any]
        #expect(location?["latitude"] as? Double == 52.375 && location?["altitude"] as? Int == 3)

        let abp = lines[1]
        #expect((abp["ids"] as? [String: Any])?["device_id"] as? String == "dev-2")
        #expect(abp["attributes"] as? [String: String] == ["v2-id": "dev_2"], "a changed ID keeps the v2 one as an attribute")
        let session = try #require(abp["session"] as? [String: Any])
        #expect(session["dev_addr"] as? String == "26011B01")
        let keys = session["keys"] as? [String: Any]
        #expect((keys?["f_nwk_s_int_key"] as? [String: Any])?["key"] as? String == "101112131415161718191A1B1C1D1E1F")
        #expect((keys?["app_s_key"] as? [String: Any])?["key"] as? String == "202122232425262728292A2B2C2D2E2F")
        #expect(session["last_f_cnt_up"] as? Int == 5 && session["last_n_f_cnt_down"] as? Int == 3 && session["last_a_f_cnt_down"] as? Int == 3)
        #expect(session["started_at"] is String)
        #expect(abp["supports_join"] == nil || abp["supports_join"] as? Bool == false)
        for line in lines {
            for field in ["network_server_address", "application_server_address", "join_server_address"] { #expect(line[field] == nil) }
        }
    }

    @Test func everyLineImportsIntoAV3SimulatorAsTheConsoleImportsIt() async throws {
        let (v2, lines, _, _) = try await export()
        defer { Task { await v2.stop() } }
        let v3 = try await V3Simulator.start(config: V3SimulatorConfig(users: ["alice"], apiKeyRights: ["RIGHT_ALL"]))
        defer { Task { await v3.stop() } }
        let http = HTTPClient()
        func send(_ method: String, _ path: String, _ body: Any? = nil) async throws -> HTTPResponse {
            try await http.send(HTTPRequest(
                method: method, url: v3.identityServerURL + "/api/v3" + path,
                headers: [("Authorization", "Bearer \(v3.simulator.apiKey)"), ("Content-Type", "application/json")],
                body: try body.map { try JSONSerialization.data(withJSONObject: $0) }))
        }
        let created = try await send("POST", "/users/alice/applications", ["application": ["ids": ["application_id": "sensors"]]])
        #expect(created.status == 200)
        let url = try #require(URLComponents(string: v3.identityServerURL))
        let host = "\(url.host ?? "127.0.0.1"):\(url.port ?? 80)"
        for line in lines {
            var device = line
            for field in ["network_server_address", "application_server_address", "join_server_address"] { device[field] = host }
            var parts: [V3Model.V3Component: [(path: String, value: Any)]] = [:]
            for (path, value) in Self.leaves(device, path: "") where !path.hasPrefix("ids") {
                let owners = try #require(V3DeviceEntityMap.ownership(of: path), "\(path) is not a v3 end-device field").writers
                #expect(!owners.isEmpty, "\(path) is read-only in v3")
                for owner in owners { parts[owner, default: []].append((path, value)) }
            }
            let ids = device["ids"] as Any
            let deviceID = ((device["ids"] as? [String: Any])?["device_id"] as? String) ?? ""
            var identity = Self.object(parts[V3Model.V3Component.identityServer] ?? [])
            identity["ids"] = ids
            let isCreate = try await send("POST", "/applications/sensors/devices", ["end_device": identity])
            #expect(isCreate.status == 200, "IS create \(deviceID): \(String(decoding: isCreate.body, as: UTF8.self))")
            for (component, prefix) in [(V3Model.V3Component.joinServer, "js"), (V3Model.V3Component.networkServer, "ns"), (V3Model.V3Component.applicationServer, "as")] {
                guard let fields = parts[component], !fields.isEmpty else { continue }
                var body = Self.object(fields)
                body["ids"] = ids
                let set = try await send("PUT", "/\(prefix)/applications/sensors/devices/\(deviceID)",
                                         ["end_device": body, "field_mask": ["paths": fields.map { $0.path }]])
                #expect(set.status == 200, "\(prefix) set \(deviceID): \(String(decoding: set.body, as: UTF8.self))")
            }
        }
        let read = try await send("GET", "/ns/applications/sensors/devices/dev-2?field_mask=session.last_f_cnt_up,session.dev_addr")
        let session = (try JSONSerialization.jsonObject(with: read.body) as? [String: Any])?["session"] as? [String: Any]
        #expect(session?["last_f_cnt_up"] as? Int == 5)
        let joined = try await send("GET", "/js/applications/sensors/devices/dev-1?field_mask=root_keys.app_key.key")
        #expect(joined.status == 200)
    }

    @Test func aBadSnapshotWritesNothing() async throws {
        let v2 = try await V2Fixture.start()
        defer { Task { await v2.stop() } }
        let config = try v2.config()
        let out = v2.directory.file("devices.jsonl")
        let broken = try v2.directory.write("broken.json", #"{"format": "ttn-migrate/v2-snapshot", "version": 1, "applications": ["#)
        for snapshot in [v2.directory.file("missing.json"), broken] {
            let result = await runCLI(["export-devices", "--config", config, "--snapshot", snapshot, "--out", out])
            #expect(result.code == 2)
            #expect(result.err.hasPrefix("error: "), "\(result.err)")
            #expect(!FileManager.default.fileExists(atPath: out))
        }
    }

    /// The device's field paths down to the depth the Console's map names (a map of user keys, such as
    /// `locations`, is one field).
    static func leaves(_ value: Any, path: String) -> [(String, Any)] {
        if let object = value as? [String: Any], !object.isEmpty,
           object.keys.contains(where: { V3DeviceEntityMap.ownership(of: path.isEmpty ? $0 : path + "." + $0) != nil }) {
            return object.sorted { $0.key < $1.key }.flatMap { leaves($0.value, path: path.isEmpty ? $0.key : path + "." + $0.key) }
        }
        return [(path, value)]
    }

    /// An object holding each value at its dotted path.
    static func object(_ fields: [(path: String, value: Any)]) -> [String: Any] {
        func insert(_ value: Any, at path: ArraySlice<Substring>, into object: inout [String: Any]) {
            guard let first = path.first else { return }
            let key = String(first)
            if path.count == 1 {
                object[key] = value
            } else {
                var child = object[key] as? [String: Any] ?? [:]
                insert(value, at: path.dropFirst(), into: &child)
                object[key] = child
            }
        }
        var result: [String: Any] = [:]
        for field in fields { insert(field.value, at: field.path.split(separator: ".")[...], into: &result) }
        return result
    }
}
