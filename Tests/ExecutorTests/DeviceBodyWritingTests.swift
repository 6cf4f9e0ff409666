import Foundation
import Plan
import Testing
import V3Client
import V3Model

@testable import Executor

// The device registry bodies are written by hand (`JSONMembersWritable`, issue 12): each must be the
// same JSON value as Foundation's `JSONEncoder` makes of the device, with every field the types have.

private func foundationJSON(_ value: some Encodable) throws -> V3JSONValue {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    return try JSONValueParser.parse(encoder.encode(value))
}

private func writtenJSON(_ value: some JSONMembersWritable) throws -> V3JSONValue {
    try JSONValueParser.parse(JSONObjectWriter.object(value))
}

/// The paths of the optionals that are nil anywhere inside `value`: a fixture with none sets every field,
/// so a field added to a device type without its writer fails the comparison.
private func unsetOptionals(in value: Any, path: String = "") -> [String] {
    let mirror = Mirror(reflecting: value)
    if mirror.displayStyle == .optional {
        guard let wrapped = mirror.children.first?.value else { return [path] }
        return unsetOptionals(in: wrapped, path: path)
    }
    return mirror.children.enumerated().flatMap { index, child in
        unsetOptionals(in: child.value, path: path + "." + (child.label ?? "\(index)"))
    }
}

private let ids = V3EndDeviceIdentifiers(
    deviceID: "dev-1", applicationID: "app-1", devEUI: try! V3EUI(hex: "70B3D57ED0000001"), joinEUI: try! V3EUI(hex: "70B3D57ED0000000"))
private let key = V3KeyEnvelope(key: try! V3AESKey(hex: "000102030405060708090A0B0C0D0E0F"))
private let parameters = V3MACParameters(
    maxEIRP: 16.15, adrNbTrans: 1, rx1Delay: 1, rx2DataRateIndex: 3, rx2Frequency: 869_525_000,
    channels: [
        V3MACChannel(uplinkFrequency: 868_100_000, downlinkFrequency: 868_100_000, minDataRateIndex: 0, maxDataRateIndex: 5, enableUplink: true),
        V3MACChannel(uplinkFrequency: 867_100_000, downlinkFrequency: 867_100_000, minDataRateIndex: 0, maxDataRateIndex: 5, enableUplink: false),
    ])

/// Each registry's device with every optional set, and text that needs escaping.
private let fullDevices: (is: V3ISEndDevice, js: V3JSEndDevice, ns: V3NSEndDevice, as: V3ASEndDevice) = (
    V3ISEndDevice(
        ids: ids, name: "Sensor \"1\" é 😀", description: "line\nbreak \\ tab\t\u{01}", attributes: ["room": "1/2", "floor": ""],
        locations: [
            "user": V3Location(latitude: 52.123456789, longitude: -4.5, altitude: -12, accuracy: 3, source: .registry),
            "gps": V3Location(latitude: 0, longitude: 1e-7, altitude: 0, accuracy: 0, source: .gps),
        ],
        joinServerAddress: "js.example:1884", networkServerAddress: "ns.example", applicationServerAddress: "as.example"),
    V3JSEndDevice(ids: ids, networkServerAddress: "ns.example", applicationServerAddress: "as.example", rootKeys: V3RootKeys(appKey: key)),
    V3NSEndDevice(
        ids: ids, frequencyPlanID: "EU_863_870_TTN", lorawanVersion: .v1_0_2, lorawanPHYVersion: .v1_0_2RevB, supportsJoin: false,
        macSettings: V3MACSettings(
            resetsFCnt: true, supports32BitFCnt: false, rx1Delay: 5, rx2DataRateIndex: 0, rx2Frequency: 869_525_000,
            factoryPresetFrequencies: [868_100_000, 868_300_000, UInt64.max], statusTimePeriodicity: "0s", statusCountPeriodicity: 0),
        session: V3NSSession(
            devAddr: try! V3DevAddr(hex: "26011234"), keys: V3NSSessionKeys(fNwkSIntKey: key, sessionKeyID: "AAECAwQFBgcICQoLDA0ODw=="),
            lastFCntUp: UInt32.max, lastNFCntDown: 0, startedAt: "2026-12-07T12:00:00Z"),
        macState: V3MACState(currentParameters: parameters, desiredParameters: parameters, deviceClass: "CLASS_A", lorawanVersion: .v1_0_2)),
    V3ASEndDevice(
        ids: ids, session: V3ASSession(
            devAddr: try! V3DevAddr(hex: "26011234"), keys: V3ASSession.Keys(appSKey: key, sessionKeyID: "AAECAwQFBgcICQoLDA0ODw=="),
            lastAFCntDown: 7),
        skipPayloadCrypto: false)
)

@Suite("Device bodies written by hand: the same JSON as their Encodable conformance (issue 12)")
struct DeviceBodyWritingTests {
    @Test("a device of each registry with every field set writes the JSON value JSONEncoder makes of it")
    func everyFieldMatchesFoundation() throws {
        let (isDevice, jsDevice, nsDevice, asDevice) = fullDevices
        for (name, device) in [("IS", isDevice), ("JS", jsDevice), ("NS", nsDevice), ("AS", asDevice)] as [(String, Any)] {
            #expect(unsetOptionals(in: device).isEmpty, "\(name) fixture leaves fields unset: \(unsetOptionals(in: device))")
        }
        #expect(try writtenJSON(isDevice) == foundationJSON(isDevice))
        #expect(try writtenJSON(jsDevice) == foundationJSON(jsDevice))
        #expect(try writtenJSON(nsDevice) == foundationJSON(nsDevice))
        #expect(try writtenJSON(asDevice) == foundationJSON(asDevice))
        // Keys are sent as they are: request bodies are never redacted.
        #expect(String(decoding: try JSONObjectWriter.object(jsDevice), as: UTF8.self).contains("000102030405060708090A0B0C0D0E0F"))
    }

    @Test("every device step of a planned estate sends the device as JSONEncoder writes it, with its field mask")
    func plannedDeviceBodies() throws {
        let plan = try Planner.plan(
            snapshot: SyntheticEstate.snapshot(applications: 7, gateways: 5, devices: 60), options: SyntheticEstate.options())
        let steps = try PlanExecution.steps(for: plan)
        var compared: [String: Int] = [:]
        for (planned, executed) in zip(plan.steps, steps) {
            let sent = try JSONValueParser.parse(executed.operation.body)
            func expect(_ device: some Encodable, fieldMask: [String]?) throws {
                var members: [String: V3JSONValue] = ["end_device": try foundationJSON(device)]
                if let fieldMask { members["field_mask"] = .object(["paths": .array(fieldMask.map(V3JSONValue.string))]) }
                #expect(sent == .object(members), "\(planned.id)")
                compared["\(type(of: device))", default: 0] += 1
            }
            switch planned.payload {
            case .deviceIS(let device): try expect(device, fieldMask: nil)
            case .deviceJS(let device): try expect(device, fieldMask: device.fieldMask)
            case .deviceAS(let device): try expect(device, fieldMask: device.fieldMask)
            case .deviceNS(let device):
                // The session starts when the request is made: the expected device takes the sent start.
                guard case .object(let body) = sent, case .object(let endDevice)? = body["end_device"] else {
                    Issue.record("\(planned.id): no end_device object")
                    continue
                }
                var stamped = device
                if case .object(let session)? = endDevice["session"], case .string(let started)? = session["started_at"] {
                    stamped.session?.startedAt = started
                }
                #expect(device.session == nil || stamped.session?.startedAt != nil, "\(planned.id): no session start sent")
                try expect(stamped, fieldMask: stamped.fieldMask)
            default: continue
            }
        }
        #expect(Set(compared.keys) == ["V3ISEndDevice", "V3JSEndDevice", "V3NSEndDevice", "V3ASEndDevice"], "\(compared)")
    }

    @Test("numbers, integers and 64-bit decimals are written as JSONBodyEncoder writes them; NaN fails")
    func scalars() throws {
        for value in [0.5, -2.25, 1e-7, 52.123456789, 1e300, 0, 16.15, -0.0] {
            var location = V3Location(latitude: value, longitude: 0)
            location.altitude = Int.min
            #expect(try writtenJSON(location) == foundationJSON(location), "\(value)")
        }
        let text = String(decoding: try JSONObjectWriter.object { writer in
            writer.integer("min", Int64.min)
            writer.integer("zero", 0)
            writer.decimalString("max", UInt64.max)
            writer.number("whole", 3.0)
            writer.strings("empty", [])
            writer.object("nothing") { _ in }
            writer.string("absent", nil)
        }, as: UTF8.self)
        #expect(text == #"{"min":-9223372036854775808,"zero":0,"max":"18446744073709551615","whole":3,"empty":[],"nothing":{}}"#)
        var broken = parameters
        broken.maxEIRP = .nan
        #expect(throws: EncodingError.self) { try JSONObjectWriter.object(broken) }
        broken.maxEIRP = .infinity
        #expect(throws: EncodingError.self) { try JSONObjectWriter.object { $0.object("state", broken) } }
    }
}
