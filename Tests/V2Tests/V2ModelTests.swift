import Foundation
import Testing
import V2Model

private func decode<T: Decodable>(_ type: T.Type, _ json: String) throws -> T {
    try JSONDecoder().decode(type, from: Data(json.utf8))
}

@Suite struct V2ModelTests {
    @Test func deviceHexValuesAreValidatedAndUpperCased() throws {
        let device = try decode(V2LoRaWANDevice.self, #"""
            {"app_eui":"70b3d57ed0001000","dev_eui":"0004A30B001C0001","dev_addr":"26011b01","nwk_s_key":"",
             "app_key":"000102030405060708090a0b0c0d0e0f","f_cnt_up":70000,"last_seen":"1600000000000000000"}
            """#)
        #expect(device.appEui?.hex == "70B3D57ED0001000")
        #expect(device.devAddr?.hex == "26011B01")
        #expect(device.nwkSKey == nil)  // v2 writes a zero key as ""
        #expect(device.appKey?.hex == "000102030405060708090A0B0C0D0E0F")
        #expect(device.fCntUp == 70000)
        #expect(device.lastSeen == 1_600_000_000_000_000_000)  // grpc-gateway writes int64 as a string
        #expect(device.isOTAA)
        #expect(!device.hasSession)
    }

    @Test func invalidHexNamesFieldAndLengthButNeverPrintsAKey() throws {
        do {
            _ = try decode(V2LoRaWANDevice.self, #"{"dev_eui":"0004A30B001C"}"#)
            Issue.record("accepted a short EUI")
        } catch {
            #expect(SnapshotFile.describe(error) == #"dev_eui: invalid EUI "0004A30B001C": 12 hex digits, expected 16"#)
        }
        do {
            _ = try decode(V2LoRaWANDevice.self, #"{"app_key":"SECRETSECRETSECRETSECRETSECRETXX"}"#)
            Issue.record("accepted a non-hex key")
        } catch {
            #expect(SnapshotFile.describe(error) == "app_key: invalid AES key: not hexadecimal")
            #expect(!SnapshotFile.describe(error).contains("SECRET"))
        }
    }

    @Test func applicationOptionalFieldsStayOptional() throws {
        let app = try decode(V2Application.self, #"{"id":"a1","name":"A","euis":["70B3D57ED0001000"],"rights":["settings"],"deleted":"2021-06-01"}"#)
        #expect(app.collaborators == nil)
        #expect(app.accessKeys == nil)
        #expect(app.isDeleted)
        let minimal = try decode(V2Application.self, #"{"id":"a2"}"#)
        #expect(minimal.euis.isEmpty && !minimal.isDeleted && minimal.name == nil)
    }

    @Test func gatewayRouterIsAnObjectAndAltitudeAnInteger() throws {
        let gateway = try decode(V2Gateway.self, #"""
            {"id":"eui-b827ebfffe000001","frequency_plan":"EU_863_870","antenna_location":{"latitude":52.1,"longitude":5.1,"altitude":12},
             "router":{"id":"ttn-router-eu","address":"router.eu:1901","mqtt_address":"mqtts://router.eu:8882"},"key":"ttn-account-v2.secret"}
            """#)
        #expect(gateway.router?.id == "ttn-router-eu" && gateway.router?.address == "router.eu:1901" && gateway.router?.mqttAddress == "mqtts://router.eu:8882")
        #expect(gateway.antennaLocation == V2Location(latitude: 52.1, longitude: 5.1, altitude: 12))
        // The gateway key is not kept: it never reaches a snapshot.
        let encoded = String(decoding: try JSONEncoder().encode(gateway), as: UTF8.self)
        #expect(!encoded.contains("ttn-account-v2"))
        #expect(throws: DecodingError.self) {
            _ = try decode(V2Gateway.self, #"{"id":"g","antenna_location":{"latitude":1,"longitude":2,"altitude":1.5}}"#)
        }
    }

    @Test func secretsPrintRedacted() throws {
        let key = V2AccessKey(name: "default key", key: V2Secret("ttn-account-v2.abc"), rights: ["devices"])
        #expect(!"\(key)".contains("ttn-account-v2.abc"))
        #expect(!String(reflecting: key).contains("ttn-account-v2.abc"))
        let aes = try V2AESKey(hex: "000102030405060708090A0B0C0D0E0F")
        #expect("\(aes)" == "<redacted key>")
    }

    @Test func snapshotWriteIsAtomicAndPrivate() throws {
        let directory = NSTemporaryDirectory() + "v2model-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/s.json"
        let snapshot = V2Snapshot(source: V2SnapshotSource(accountServer: "https://a/api/v2", handlers: []), profile: nil, applications: [], gateways: [])
        try SnapshotFile.write(snapshot, to: path)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        #expect(try SnapshotFile.read(path: path) == snapshot)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["s.json"])
        #expect(throws: SnapshotFileError.self) { try SnapshotFile.write(snapshot, to: directory + "/missing/s.json") }
    }

    @Test func aFileWrittenInPiecesAppearsWholeOrNotAtAll() throws {
        struct ProducerFailed: Error {}
        let directory = NSTemporaryDirectory() + "v2model-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/plan.json"
        try SecureFile.writeAtomically(to: path) { write in
            for piece in ["{\n", "  \"a\": 1\n", "}\n"] { try write(Data(piece.utf8)) }
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "{\n  \"a\": 1\n}\n")
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        // A producer that fails half-way leaves the old file as it was and no temporary file behind.
        #expect(throws: ProducerFailed.self) {
            try SecureFile.writeAtomically(to: path) { write in
                try write(Data("partial".utf8))
                throw ProducerFailed()
            }
        }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "{\n  \"a\": 1\n}\n")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["plan.json"])
    }
}
