import Mapping
import Testing
import V2Model
import V3Model

private func mapped(_ outcome: DeviceMappingOutcome) -> MappedDevice? {
    if case .mapped(let device) = outcome { return device }
    return nil
}

private func skipped(_ outcome: DeviceMappingOutcome) -> (String, WarningCode)? {
    if case .skipped(let reason, let code) = outcome { return (reason, code) }
    return nil
}

@Suite("devices per component (DESIGN.md §4, reference/v3-api.md §6, §15, §17)")
struct DeviceMappingTests {
    let otaaIDs = V3EndDeviceIdentifiers(deviceID: "dev-1", applicationID: "my-app", devEUI: v3EUI(devEUIHex), joinEUI: v3EUI(appEUIHex))

    @Test func otaaWithoutCarriedSession() throws {
        var warnings: [MappingWarning] = []
        let device = try #require(mapped(DeviceMapping.map(otaaDevice(), context: deviceContext(), warnings: &warnings)))
        #expect(device.activation == .otaa)
        #expect(device.identityServer == V3ISEndDevice(
            ids: otaaIDs, name: "dev-1", description: "Kitchen", attributes: ["room": "kitchen"],
            locations: ["user": V3Location(latitude: 52.375, longitude: 4.887, altitude: 3, source: .registry)],
            joinServerAddress: "js.example.com", networkServerAddress: "ns.example.com", applicationServerAddress: "as.example.com"))
        #expect(device.joinServer == V3JSEndDevice(
            ids: otaaIDs, networkServerAddress: "ns.example.com", applicationServerAddress: "as.example.com",
            rootKeys: V3RootKeys(appKey: V3KeyEnvelope(key: v3Key(appKeyHex)))))
        #expect(device.networkServer == V3NSEndDevice(
            ids: otaaIDs, frequencyPlanID: "EU_863_870_TTN", lorawanVersion: V3MACVersion(rawValue: "MAC_V1_0_2"),
            lorawanPHYVersion: V3PHYVersion(rawValue: "PHY_V1_0_2_REV_B"), supportsJoin: true,
            macSettings: V3MACSettings(
                resetsFCnt: false, supports32BitFCnt: true, rx1Delay: nil, statusTimePeriodicity: "0s", statusCountPeriodicity: 0),
            session: nil, macState: nil))
        #expect(device.applicationServer == V3ASEndDevice(ids: otaaIDs, session: nil, skipPayloadCrypto: nil))
        #expect(warnings.isEmpty)
    }

    @Test func otaaWithCarriedSession() throws {
        var warnings: [MappingWarning] = []
        let device = try #require(mapped(DeviceMapping.map(otaaDevice(), context: deviceContext(withSession: true), warnings: &warnings)))
        #expect(device.activation == .otaaWithSession)
        #expect(device.networkServer.supportsJoin == true)
        // The 1 s RX1 delay lives in the session's MAC state, not in mac_settings (a later join uses v3's default).
        #expect(device.networkServer.macSettings == V3MACSettings(
            resetsFCnt: false, supports32BitFCnt: true, rx1Delay: nil, statusTimePeriodicity: "0s", statusCountPeriodicity: 0))
        #expect(device.networkServer.macState?.currentParameters.rx1Delay == 1)
        #expect(device.networkServer.macState?.currentParameters == device.networkServer.macState?.desiredParameters)
        #expect(device.networkServer.macState?.deviceClass == "CLASS_A")
        // The OTAA session's key ID, the same on NS and AS: FNV-1a of
        // "ttn-migrate/session/0004A30B001C0530/26011F2A/dev-1" with two seeds, computed with an independent
        // Python implementation (not this code).
        let sessionKeyID = "icFzFlEydi0B0YfJURj1xg=="
        #expect(device.networkServer.session == V3NSSession(
            devAddr: v3DevAddr(devAddrHex), keys: V3NSSessionKeys(fNwkSIntKey: V3KeyEnvelope(key: v3Key(nwkSKeyHex)), sessionKeyID: sessionKeyID),
            lastFCntUp: 10, lastNFCntDown: 3, startedAt: nil))
        #expect(device.applicationServer == V3ASEndDevice(
            ids: otaaIDs,
            session: V3ASSession(
                devAddr: v3DevAddr(devAddrHex), keys: .init(appSKey: V3KeyEnvelope(key: v3Key(appSKeyHex)), sessionKeyID: sessionKeyID),
                lastAFCntDown: 3),
            skipPayloadCrypto: false))
        #expect(device.networkServer.fieldMask.contains("session.keys.session_key_id"))
        #expect(device.joinServer?.rootKeys?.appKey?.key == v3Key(appKeyHex))
        #expect(device.identityServer.joinServerAddress == "js.example.com")
        #expect(warnings.isEmpty)
    }

    @Test func abpAlwaysCarriesItsSessionAndNeverGoesToTheJoinServer() throws {
        var warnings: [MappingWarning] = []
        let context = deviceContext(deviceID: AssignedID(id: "dev-2", reasons: []), withSession: false)
        let device = try #require(mapped(DeviceMapping.map(abpDevice(), context: context, warnings: &warnings)))
        let ids = V3EndDeviceIdentifiers(deviceID: "dev-2", applicationID: "my-app", devEUI: v3EUI("0004A30B001C0531"), joinEUI: v3EUI(appEUIHex))
        #expect(device.activation == .abp)
        #expect(device.joinServer == nil)
        #expect(device.identityServer == V3ISEndDevice(
            ids: ids, name: "dev-2", joinServerAddress: nil, networkServerAddress: "ns.example.com", applicationServerAddress: "as.example.com"))
        // 16-bit counters: supports_32_bit_f_cnt explicitly false; absent counters are zero.
        #expect(device.networkServer == V3NSEndDevice(
            ids: ids, frequencyPlanID: "EU_863_870_TTN", lorawanVersion: .v1_0_2, lorawanPHYVersion: .v1_0_2RevB, supportsJoin: false,
            macSettings: V3MACSettings(
                resetsFCnt: true, supports32BitFCnt: false, rx1Delay: 1, rx2DataRateIndex: 3, rx2Frequency: 869_525_000,
                factoryPresetFrequencies: [868_100_000, 868_300_000, 868_500_000, 867_100_000, 867_300_000, 867_500_000, 867_700_000, 867_900_000],
                statusTimePeriodicity: "0s", statusCountPeriodicity: 0),
            session: V3NSSession(
                devAddr: v3DevAddr("26011F2B"), keys: V3NSSessionKeys(fNwkSIntKey: V3KeyEnvelope(key: v3Key(nwkSKeyHex))),
                lastFCntUp: 0, lastNFCntDown: 0)))
        #expect(device.applicationServer == V3ASEndDevice(
            ids: ids,
            session: V3ASSession(devAddr: v3DevAddr("26011F2B"), keys: .init(appSKey: V3KeyEnvelope(key: v3Key(appSKeyHex))), lastAFCntDown: 0),
            skipPayloadCrypto: false))
        #expect(warnings.isEmpty)
    }

    @Test func rx1DelayOnlyInTheCarriedSessionForOTAA() throws {
        var warnings: [MappingWarning] = []
        let fresh = try #require(mapped(DeviceMapping.map(otaaDevice(withSessionParts: false), context: deviceContext(withSession: true), warnings: &warnings)))
        #expect(fresh.networkServer.macSettings?.rx1Delay == nil)
        #expect(fresh.networkServer.fieldMask.contains("mac_settings.rx1_delay") == false)
        #expect(fresh.networkServer.macState == nil)
        let carried = try #require(mapped(DeviceMapping.map(otaaDevice(), context: deviceContext(withSession: true), warnings: &warnings)))
        #expect(carried.networkServer.fieldMask.contains("mac_settings.rx1_delay") == false)
        #expect(carried.networkServer.fieldMask.suffix(4) == [
            "mac_state.current_parameters", "mac_state.desired_parameters", "mac_state.device_class", "mac_state.lorawan_version",
        ])
        let abp = try #require(mapped(DeviceMapping.map(
            abpDevice(), context: deviceContext(deviceID: AssignedID(id: "dev-2", reasons: []), withSession: false), warnings: &warnings)))
        #expect(abp.networkServer.fieldMask.contains("mac_settings.rx1_delay"))
        #expect(abp.networkServer.macState == nil)
    }

    @Test func partialOTAASessionIsNotCarried() throws {
        var warnings: [MappingWarning] = []
        var v2 = otaaDevice()
        v2.lorawanDevice?.appSKey = nil
        let device = try #require(mapped(DeviceMapping.map(v2, context: deviceContext(withSession: true), warnings: &warnings)))
        #expect(device.activation == .otaa)
        #expect(device.networkServer.session == nil)
        #expect(warnings.map(\.code) == [.deviceSessionIncomplete])
        #expect(warnings.first?.message.contains("missing AppSKey") == true)
    }

    @Test func renamedDeviceKeepsItsV2IDAndNoLocationAtZero() throws {
        var warnings: [MappingWarning] = []
        var v2 = otaaDevice(id: "Dev_1")
        v2.latitude = 0
        v2.longitude = 0
        let context = deviceContext(deviceID: AssignedID(id: "dev-1", reasons: [.invalidCharacters]))
        let device = try #require(mapped(DeviceMapping.map(v2, context: context, warnings: &warnings)))
        #expect(device.identityServer.name == "Dev_1")
        #expect(device.identityServer.attributes == ["v2-id": "Dev_1", "room": "kitchen"])
        #expect(device.identityServer.locations == nil)
    }

    @Test func devicesThatCannotMoveAreSkippedWithTheirReason() throws {
        var warnings: [MappingWarning] = []
        var noDevEUI = otaaDevice()
        noDevEUI.lorawanDevice?.devEui = nil
        #expect(skipped(DeviceMapping.map(noDevEUI, context: deviceContext(), warnings: &warnings))?.1 == .deviceInvalidDevEUI)

        var zeroDevEUI = otaaDevice()
        zeroDevEUI.lorawanDevice?.devEui = v2EUI("0000000000000000")
        #expect(skipped(DeviceMapping.map(zeroDevEUI, context: deviceContext(), warnings: &warnings))?.0 == "has a zero DevEUI")

        var noJoinEUI = otaaDevice()
        noJoinEUI.lorawanDevice?.appEui = nil
        #expect(skipped(DeviceMapping.map(noJoinEUI, context: deviceContext(), warnings: &warnings))?.1 == .deviceNoJoinEUI)

        var abpWithoutAppSKey = abpDevice()
        abpWithoutAppSKey.lorawanDevice?.appSKey = nil
        let abpSkip = try #require(skipped(DeviceMapping.map(abpWithoutAppSKey, context: deviceContext(), warnings: &warnings)))
        #expect(abpSkip.0 == "is ABP but lacks AppSKey")
        #expect(abpSkip.1 == .deviceABPMissingKey)

        var zeroAppKeyNoSession = otaaDevice(withSessionParts: false)
        zeroAppKeyNoSession.lorawanDevice?.appKey = v2Key("00000000000000000000000000000000")
        #expect(skipped(DeviceMapping.map(zeroAppKeyNoSession, context: deviceContext(), warnings: &warnings))?.1 == .deviceNoKeys)

        #expect(warnings.map(\.code) == [.deviceInvalidDevEUI, .deviceInvalidDevEUI, .deviceNoJoinEUI, .deviceABPMissingKey, .deviceNoKeys])
        for warning in warnings {
            #expect(warning.entity == EntityRef(kind: .device, v2ID: "my_app/dev-1", v3ID: "my-app/dev-1") || warning.entity.v2ID == "my_app/dev-2")
            #expect(!warning.message.contains(appKeyHex) && !warning.message.contains(nwkSKeyHex) && !warning.message.contains(appSKeyHex))
        }
    }

    @Test func everyMaskIsAllowedAndOwnedByItsComponent() throws {
        var warnings: [MappingWarning] = []
        let devices = [
            try #require(mapped(DeviceMapping.map(otaaDevice(), context: deviceContext(withSession: true), warnings: &warnings))),
            try #require(mapped(DeviceMapping.map(abpDevice(), context: deviceContext(), warnings: &warnings))),
        ]
        for device in devices {
            var parts: [([String], V3RPC, V3Component)] = [
                (device.identityServer.fieldMask, .endDeviceUpdate, .identityServer),
                (device.networkServer.stampingSessionStart(at: .init(timeIntervalSince1970: 0)).fieldMask, .networkServerSet, .networkServer),
                (device.applicationServer.fieldMask, .applicationServerSet, .applicationServer),
            ]
            if let joinServer = device.joinServer { parts.append((joinServer.fieldMask, .joinServerSet, .joinServer)) }
            for (mask, rpc, component) in parts {
                #expect(V3FieldMasks.forbiddenPaths(mask, for: rpc) == [])
                for path in mask {
                    #expect(V3DeviceEntityMap.ownership(of: path)?.writers.contains(component) == true, "\(path)")
                }
            }
        }
    }
}

@Suite("payload formats (reference/v3-api.md §16)")
struct PayloadFormatMappingTests {
    func link(_ handler: V2HandlerApplication, _ warnings: inout [MappingWarning]) -> V3ApplicationLink? {
        PayloadFormatMapping.link(handler, v2ApplicationID: "my_app", v3ApplicationID: "my-app", warnings: &warnings)
    }

    @Test func customDecoderAndEncoderGoVerbatim() {
        var warnings: [MappingWarning] = []
        let decoder = "function Decoder(bytes, port) {\n  return { t: bytes[0] };\n}"
        let encoder = "function Encoder(object, port) { return [object.on ? 1 : 0]; }"
        #expect(link(V2HandlerApplication(appId: "my_app", payloadFormat: "custom", decoder: decoder, encoder: encoder), &warnings) == V3ApplicationLink(
            defaultFormatters: V3MessagePayloadFormatters(upFormatter: .javascript, upFormatterParameter: decoder, downFormatter: .javascript, downFormatterParameter: encoder)))
        #expect(link(V2HandlerApplication(appId: "my_app", decoder: decoder), &warnings) == V3ApplicationLink(
            defaultFormatters: V3MessagePayloadFormatters(upFormatter: .javascript, upFormatterParameter: decoder)))
        #expect(warnings.isEmpty)
    }

    @Test func noDecoderNoUpFormatter() {
        var warnings: [MappingWarning] = []
        #expect(link(V2HandlerApplication(appId: "my_app", payloadFormat: "custom", decoder: "  ", encoder: "function Encoder(o){return []}"), &warnings)
            == V3ApplicationLink(defaultFormatters: V3MessagePayloadFormatters(downFormatter: .javascript, downFormatterParameter: "function Encoder(o){return []}")))
        #expect(link(V2HandlerApplication(appId: "my_app", payloadFormat: "custom"), &warnings) == nil)
        #expect(warnings.isEmpty)
    }

    @Test func cayenneLPPBothWays() {
        var warnings: [MappingWarning] = []
        #expect(link(V2HandlerApplication(appId: "my_app", payloadFormat: "cayennelpp"), &warnings)
            == V3ApplicationLink(defaultFormatters: V3MessagePayloadFormatters(upFormatter: .cayenneLPP, downFormatter: .cayenneLPP)))
    }

    @Test func converterAndValidatorAreWarnedAbout() {
        var warnings: [MappingWarning] = []
        _ = link(V2HandlerApplication(appId: "my_app", decoder: "function Decoder(b){return {}}", converter: "function Converter(d){return d}", validator: "function Validator(d){return true}"), &warnings)
        #expect(warnings.map(\.code) == [.payloadFunctionReview])
        #expect(warnings.first?.entity == EntityRef(kind: .applicationLink, v2ID: "my_app", v3ID: "my-app"))
        #expect(warnings.first?.message.contains("converter and validator") == true)
    }

    @Test func unknownFormatAndOversizedFunctions() {
        var warnings: [MappingWarning] = []
        #expect(link(V2HandlerApplication(appId: "my_app", payloadFormat: "protobuf"), &warnings) == nil)
        // The AS accepts up to 40,960 characters (messages.proto max_len): a 40,960-character decoder is kept,
        // one more character is not.
        let largest = "//" + String(repeating: "x", count: 40_958)
        let kept = link(V2HandlerApplication(appId: "my_app", decoder: largest), &warnings)
        #expect(kept?.defaultFormatters?.upFormatterParameter?.unicodeScalars.count == 40_960)
        let huge = largest + "x"
        #expect(link(V2HandlerApplication(appId: "my_app", decoder: huge), &warnings) == nil)
        #expect(warnings.map(\.code) == [.payloadFormatUnknown, .payloadFormatterTooLarge])
    }
}
