import Foundation
import Testing
import V3Model

private func json<T: Encodable>(_ value: T, redacted: Bool = false) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    if redacted { encoder.userInfo[.redactSecrets] = true }
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

private let appKey = try! V3AESKey(hex: "0123456789abcdef0123456789abcdef")
private let nwkSKey = try! V3AESKey(hex: "11111111111111111111111111111111")
private let appSKey = try! V3AESKey(hex: "22222222222222222222222222222222")
private let devEUI = try! V3EUI(hex: "0004a30b001c0530")
private let joinEUI = try! V3EUI(hex: "70B3D57ED0000001")
private let devAddr = try! V3DevAddr(hex: "26011f2a")

/// An ABP device split like `seeds/000_…` ABP (plus the counters and settings DESIGN.md §4 carries).
private let abpIDs = V3EndDeviceIdentifiers(deviceID: "newdev1", applicationID: "app1", devEUI: devEUI)
private let abpNS = V3NSEndDevice(
    ids: abpIDs, frequencyPlanID: "EU_863_870_TTN", lorawanVersion: .v1_0_2, lorawanPHYVersion: .v1_0_2RevB,
    supportsJoin: false, macSettings: V3MACSettings(resetsFCnt: true, supports32BitFCnt: false, rx1Delay: 1),
    session: V3NSSession(devAddr: devAddr, keys: V3NSSessionKeys(fNwkSIntKey: V3KeyEnvelope(key: nwkSKey)), lastFCntUp: 42, lastNFCntDown: 0))
private let abpAS = V3ASEndDevice(
    ids: abpIDs, session: V3ASSession(devAddr: devAddr, keys: .init(appSKey: V3KeyEnvelope(key: appSKey)), lastAFCntDown: 0),
    skipPayloadCrypto: false)
private let otaaIDs = V3EndDeviceIdentifiers(deviceID: "newdev1", applicationID: "app1", devEUI: devEUI, joinEUI: joinEUI)

@Suite("v3 hex values")
struct HexValueTests {
    @Test func parsesAnyCaseAndKeepsUpperCase() throws {
        #expect(devEUI.hex == "0004A30B001C0530")
        #expect(devAddr.hex == "26011F2A")
        #expect(!devEUI.isZero)
        #expect(V3EUI.zero.isZero)
    }

    @Test func errorsNameTheProblemButNeverAKey() {
        #expect(throws: V3HexError.self) { try V3EUI(hex: "0004A30B") }
        do {
            _ = try V3EUI(hex: "0004A30B")
        } catch {
            #expect(error.description == #"invalid EUI "0004A30B": 8 hex digits, expected 16"#)
        }
        do {
            _ = try V3AESKey(hex: "secret-key-material-not-hex-0000")
        } catch {
            #expect(error.description == "invalid AES key: not hexadecimal")
        }
        #expect("\(appKey)" == "<redacted key>")
    }

    @Test func secretsAreHiddenOnlyWhenAsked() throws {
        let envelope = V3KeyEnvelope(key: appKey)
        #expect(try json(envelope) == #"{"key":"0123456789ABCDEF0123456789ABCDEF"}"#)
        #expect(try json(envelope, redacted: true) == #"{"key":"<hidden>"}"#)
        #expect(try json(devEUI, redacted: true) == #""0004A30B001C0530""#)
        let key = V3APIKey(id: "KEYID", key: V3Secret("NNSXS.KEYID.SECRET"), name: "v2: default key [run1]", rights: [.applicationInfo])
        #expect(try json(key, redacted: true) == #"{"id":"KEYID","key":"<hidden>","name":"v2: default key [run1]","rights":["RIGHT_APPLICATION_INFO"]}"#)
        #expect("\(key.key!)" == "<redacted>")
    }
}

@Suite("v3 end device parts per component (reference/v3-api.md §6, seeds/000_…)")
struct EndDeviceCodingTests {
    @Test func networkServerABPBodyAndMask() throws {
        #expect(try json(abpNS) == #"{"frequency_plan_id":"EU_863_870_TTN","ids":{"application_ids":{"application_id":"app1"},"dev_eui":"0004A30B001C0530","device_id":"newdev1"},"lorawan_phy_version":"PHY_V1_0_2_REV_B","lorawan_version":"MAC_V1_0_2","mac_settings":{"resets_f_cnt":true,"rx1_delay":1,"supports_32_bit_f_cnt":false},"session":{"dev_addr":"26011F2A","keys":{"f_nwk_s_int_key":{"key":"11111111111111111111111111111111"}},"last_f_cnt_up":42,"last_n_f_cnt_down":0},"supports_join":false}"#)
        #expect(abpNS.fieldMask == [
            "supports_join", "lorawan_version", "ids.device_id", "ids.dev_eui", "lorawan_phy_version", "frequency_plan_id",
            "mac_settings.resets_f_cnt", "mac_settings.supports_32_bit_f_cnt", "mac_settings.rx1_delay",
            "session.dev_addr", "session.keys.f_nwk_s_int_key.key", "session.last_f_cnt_up", "session.last_n_f_cnt_down",
        ])
    }

    @Test func sessionStartIsStampedBySender() throws {
        let date = Date(timeIntervalSince1970: 1_729_771_200)  // 2024-10-24T12:00:00Z
        let stamped = abpNS.stampingSessionStart(at: date)
        #expect(stamped.session?.startedAt == "2024-10-24T12:00:00Z")
        #expect(stamped.fieldMask.last == "session.started_at")
        let withoutSession = V3NSEndDevice(ids: otaaIDs, frequencyPlanID: "EU_863_870_TTN")
        #expect(withoutSession.stampingSessionStart(at: date) == withoutSession)
    }

    @Test func applicationServerABPBodyAndMask() throws {
        #expect(try json(abpAS) == #"{"ids":{"application_ids":{"application_id":"app1"},"dev_eui":"0004A30B001C0530","device_id":"newdev1"},"session":{"dev_addr":"26011F2A","keys":{"app_s_key":{"key":"22222222222222222222222222222222"}},"last_a_f_cnt_down":0},"skip_payload_crypto":false}"#)
        #expect(abpAS.fieldMask == [
            "ids.device_id", "ids.dev_eui", "session.dev_addr", "session.keys.app_s_key.key", "session.last_a_f_cnt_down",
            "skip_payload_crypto",
        ])
    }

    @Test func joinServerOTAABodyAndMask() throws {
        let js = V3JSEndDevice(
            ids: otaaIDs, networkServerAddress: "thethings.example.com", applicationServerAddress: "thethings.example.com",
            rootKeys: V3RootKeys(appKey: V3KeyEnvelope(key: appKey)))
        #expect(try json(js) == #"{"application_server_address":"thethings.example.com","ids":{"application_ids":{"application_id":"app1"},"dev_eui":"0004A30B001C0530","device_id":"newdev1","join_eui":"70B3D57ED0000001"},"network_server_address":"thethings.example.com","root_keys":{"app_key":{"key":"0123456789ABCDEF0123456789ABCDEF"}}}"#)
        // Exactly the seed's OTAA JS mask.
        #expect(js.fieldMask == [
            "network_server_address", "application_server_address", "ids.device_id", "ids.dev_eui", "ids.join_eui",
            "root_keys.app_key.key",
        ])
    }

    @Test func identityServerBodyAndMask() throws {
        let device = V3ISEndDevice(
            ids: otaaIDs, name: "newdev1", attributes: ["v2-id": "newdev_1"],
            locations: ["user": V3Location(latitude: 52.375, longitude: 4.887, altitude: 3, source: .registry)],
            joinServerAddress: "thethings.example.com", networkServerAddress: "thethings.example.com",
            applicationServerAddress: "thethings.example.com")
        #expect(try json(device) == #"{"application_server_address":"thethings.example.com","attributes":{"v2-id":"newdev_1"},"ids":{"application_ids":{"application_id":"app1"},"dev_eui":"0004A30B001C0530","device_id":"newdev1","join_eui":"70B3D57ED0000001"},"join_server_address":"thethings.example.com","locations":{"user":{"altitude":3,"latitude":52.375,"longitude":4.887,"source":"SOURCE_REGISTRY"}},"name":"newdev1","network_server_address":"thethings.example.com"}"#)
        #expect(device.fieldMask == [
            "name", "attributes", "locations", "join_server_address", "network_server_address", "application_server_address",
        ])
    }

    /// Every mask path a full part produces is allowed for its RPC and written by its component.
    @Test func everyPartOnlyTouchesWhatItsComponentOwns() throws {
        let fullNS = abpNS.stampingSessionStart(at: Date(timeIntervalSince1970: 0))
        var otaaNS = fullNS
        otaaNS.ids = otaaIDs
        otaaNS.supportsJoin = true
        let js = V3JSEndDevice(ids: otaaIDs, networkServerAddress: "a.example", applicationServerAddress: "a.example", rootKeys: V3RootKeys(appKey: V3KeyEnvelope(key: appKey)))
        var otaaAS = abpAS
        otaaAS.ids = otaaIDs
        let isDevice = V3ISEndDevice(
            ids: otaaIDs, name: "n", description: "d", attributes: ["k-k-k": "v"],
            locations: ["user": V3Location(latitude: 1, longitude: 1)], joinServerAddress: "a.example",
            networkServerAddress: "a.example", applicationServerAddress: "a.example")
        let parts: [([String], V3RPC, V3Component)] = [
            (otaaNS.fieldMask, .networkServerSet, .networkServer),
            (js.fieldMask, .joinServerSet, .joinServer),
            (otaaAS.fieldMask, .applicationServerSet, .applicationServer),
            (isDevice.fieldMask, .endDeviceUpdate, .identityServer),
        ]
        for (mask, rpc, component) in parts {
            #expect(V3FieldMasks.forbiddenPaths(mask, for: rpc) == [], "\(rpc)")
            for path in mask {
                let ownership = try #require(V3DeviceEntityMap.ownership(of: path), "\(path)")
                #expect(ownership.writers.contains(component), "\(path) is not written by \(component)")
            }
        }
    }

    @Test func readsV3ResponsesWithOmittedZerosAndAliases() throws {
        let body = #"{"ids":{"device_id":"d1","application_ids":{"application_id":"a1"},"dev_eui":"0004a30b001c0530"},"lorawan_version":"1.0.2","lorawan_phy_version":"1.0.2-b","mac_settings":{"rx1_delay":"RX_DELAY_1"},"frequency_plan_id":"EU_863_870_TTN"}"#
        let device = try JSONDecoder().decode(V3NSEndDevice.self, from: Data(body.utf8))
        #expect(device.lorawanVersion == .v1_0_2)
        #expect(device.lorawanPHYVersion == .v1_0_2RevB)
        #expect(device.macSettings?.rx1Delay == 1)
        #expect(device.supportsJoin == nil)
        #expect(device.ids.devEUI == devEUI)
        let location = try JSONDecoder().decode(V3Location.self, from: Data(#"{"longitude":4.5}"#.utf8))
        #expect(location == V3Location(latitude: 0, longitude: 4.5))
        let collaborator = try JSONDecoder().decode(V3Collaborator.self, from: Data(#"{"ids":{"organization_ids":{"organization_id":"acme"}}}"#.utf8))
        #expect(collaborator == V3Collaborator(ids: .organization("acme"), rights: []))
    }
}

@Suite("v3 applications, gateways, links")
struct EntityShapeTests {
    @Test func accountIdentifiers() throws {
        #expect(try json(V3AccountIdentifiers.user("alice")) == #"{"user_ids":{"user_id":"alice"}}"#)
        #expect(try json(V3AccountIdentifiers.organization("acme")) == #"{"organization_ids":{"organization_id":"acme"}}"#)
        #expect(try JSONDecoder().decode(V3AccountIdentifiers.self, from: Data(#"{"user_ids":{"user_id":"bob"}}"#.utf8)) == .user("bob"))
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(V3AccountIdentifiers.self, from: Data("{}".utf8)) }
        #expect("\(V3AccountIdentifiers.organization("acme"))" == "organization acme")
    }

    @Test func applicationAndCollaborator() throws {
        let application = V3Application(applicationID: "my-app", name: "My app", attributes: ["v2-id": "my_app"])
        #expect(try json(application) == #"{"attributes":{"v2-id":"my_app"},"ids":{"application_id":"my-app"},"name":"My app"}"#)
        #expect(application.fieldMask == ["name", "attributes"])
        let collaborator = V3Collaborator(ids: .user("bob"), rights: [.applicationInfo, .applicationTrafficRead])
        #expect(try json(collaborator) == #"{"ids":{"user_ids":{"user_id":"bob"}},"rights":["RIGHT_APPLICATION_INFO","RIGHT_APPLICATION_TRAFFIC_READ"]}"#)
    }

    @Test func gatewayBodyAndMask() throws {
        let gateway = V3Gateway(
            gatewayID: "eui-b827ebfffe123456", eui: try V3EUI(hex: "B827EBFFFE123456"), name: "Rooftop",
            attributes: ["brand": "RAK"], frequencyPlanIDs: ["EU_863_870"], gatewayServerAddress: "eu1.cloud.thethings.network",
            antennas: [V3GatewayAntenna(location: V3Location(latitude: 52.37, longitude: 4.89, altitude: 12, source: .registry), placement: .outdoor)],
            locationPublic: true, statusPublic: false, autoUpdate: true, enforceDutyCycle: true)
        #expect(try json(gateway) == #"{"antennas":[{"location":{"altitude":12,"latitude":52.37,"longitude":4.89,"source":"SOURCE_REGISTRY"},"placement":"OUTDOOR"}],"attributes":{"brand":"RAK"},"auto_update":true,"enforce_duty_cycle":true,"frequency_plan_ids":["EU_863_870"],"gateway_server_address":"eu1.cloud.thethings.network","ids":{"eui":"B827EBFFFE123456","gateway_id":"eui-b827ebfffe123456"},"location_public":true,"name":"Rooftop","status_public":false}"#)
        #expect(gateway.fieldMask == [
            "ids.eui", "name", "attributes", "frequency_plan_ids", "gateway_server_address", "antennas", "location_public",
            "status_public", "auto_update", "enforce_duty_cycle",
        ])
        #expect(V3FieldMasks.forbiddenPaths(gateway.fieldMask, for: .gatewayUpdate) == [])
    }

    @Test func linkBodyAndMask() throws {
        let link = V3ApplicationLink(defaultFormatters: V3MessagePayloadFormatters(
            upFormatter: .javascript, upFormatterParameter: "function Decoder(b){return {}}", downFormatter: .cayenneLPP))
        #expect(try json(link) == #"{"default_formatters":{"down_formatter":"FORMATTER_CAYENNELPP","up_formatter":"FORMATTER_JAVASCRIPT","up_formatter_parameter":"function Decoder(b){return {}}"}}"#)
        #expect(link.fieldMask == ["default_formatters.up_formatter", "default_formatters.up_formatter_parameter", "default_formatters.down_formatter"])
        #expect(V3FieldMasks.forbiddenPaths(link.fieldMask, for: .applicationServerSetLink) == [])
        #expect(V3ApplicationLink().fieldMask == [])
    }
}
