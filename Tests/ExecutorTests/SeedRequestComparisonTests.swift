import Executor
import Foundation
import HTTP
import Mapping
import Plan
import Simulator
import Testing
import V2Model
import V3Client
import V3Model

// The seed's multi-server registration flow (`shared/seeds/000_809215ce9385ad42.txt`, "Using the API" →
// "Multi-step Actions", tabs "OTAA" and "ABP") against what the tool sends for the same devices
// (issue 6, `reference/v3-api.md` §6, §15–§17, DESIGN.md §4 "Devices").
//
// The seed's requests are transcribed by hand below (method, URL, JSON body, with the seed's line
// numbers). The seed writes placeholders (`XXXXXXXXXXXXXXXX`) for EUIs, keys and the DevAddr; each
// request fills them with the values of the v2 devices below (a fill may only replace a placeholder of
// the same length, or the tab's device ID, and no placeholder may stay). Both tabs register a device
// `newdev1` in `app1`: they are alternatives, and one application cannot hold both devices, so the ABP
// device is `newdev2` (filled into its IDs and URLs like a placeholder).
//
// For every seed request, the tool's request at the same position has the same method and path
// (after `/api/v3`), and the bodies are compared leaf by leaf. Every difference — a seed leaf the tool
// does not send, a leaf with another value, a leaf only the tool sends — must be in `documented`, with
// its reason; an undocumented one, or a documented one that no longer occurs, fails the test. Field-mask
// paths are compared as a set (`field_mask.paths ∋ <path>`): their order means nothing to the server.

// MARK: - The estate: one application with the seed's OTAA and ABP devices (test material, not secrets)

private enum Seed {
    static let applicationID = "app1"
    static let address = "thethings.example.com"
    static let frequencyPlan = "EU_863_870_TTN"

    static let otaaDeviceID = "newdev1"
    static let otaaDevEUI = "0004A30B001C0530"
    static let joinEUI = "70B3D57ED0035C1A"
    static let otaaAppKey = "2B7E151628AED2A6ABF7158809CF4F3C"
    // The OTAA device's last v2 session: not carried (the seed's OTAA device joins afresh, the default).
    static let otaaDevAddr = "260B0001"
    static let otaaNwkSKey = "A1A2A3A4A5A6A7A8A9AAABACADAEAFA0"
    static let otaaAppSKey = "B1B2B3B4B5B6B7B8B9BABBBCBDBEBFB0"

    static let abpDeviceID = "newdev2"
    static let abpDevEUI = "0004A30B001C0531"
    static let abpDevAddr = "260B1F2C"
    static let abpNwkSKey = "F1E2D3C4B5A697887766554433221100"
    static let abpAppSKey = "00112233445566778899AABBCCDDEEFF"
    static let abpFCntUp: UInt32 = 42
    static let abpFCntDown: UInt32 = 7
}

private func seedEstate() throws -> V2Snapshot {
    let otaa = V2Device(
        appId: Seed.applicationID, devId: Seed.otaaDeviceID,
        lorawanDevice: V2LoRaWANDevice(
            appEui: try V2EUI(hex: Seed.joinEUI), devEui: try V2EUI(hex: Seed.otaaDevEUI), devAddr: try V2DevAddr(hex: Seed.otaaDevAddr),
            nwkSKey: try V2AESKey(hex: Seed.otaaNwkSKey), appSKey: try V2AESKey(hex: Seed.otaaAppSKey),
            appKey: try V2AESKey(hex: Seed.otaaAppKey), fCntUp: 120, fCntDown: 3, disableFCntCheck: false, uses32BitFCnt: true))
    let abp = V2Device(
        appId: Seed.applicationID, devId: Seed.abpDeviceID,
        lorawanDevice: V2LoRaWANDevice(
            appEui: try V2EUI(hex: Seed.joinEUI), devEui: try V2EUI(hex: Seed.abpDevEUI), devAddr: try V2DevAddr(hex: Seed.abpDevAddr),
            nwkSKey: try V2AESKey(hex: Seed.abpNwkSKey), appSKey: try V2AESKey(hex: Seed.abpAppSKey),
            fCntUp: Seed.abpFCntUp, fCntDown: Seed.abpFCntDown, disableFCntCheck: true, uses32BitFCnt: true))
    let application = V2Application(id: Seed.applicationID, name: "app1", euis: [try V2EUI(hex: Seed.joinEUI)], collaborators: [], accessKeys: [])
    return V2Snapshot(
        source: V2SnapshotSource(accountServer: "https://account.thethingsnetwork.org/api/v2", handlers: ["https://eu.thethings.network:8094"]),
        profile: V2Profile(username: "alice"),
        applications: [V2ApplicationRecord(
            application: application,
            handler: V2HandlerRecord(status: .read, url: "https://eu.thethings.network:8094", devices: [otaa, abp]))],
        gateways: [])
}

private func seedOptions() -> MappingOptions {
    MappingOptions(
        owner: .user("alice"), deviceFrequencyPlan: Seed.frequencyPlan, joinServerAddress: Seed.address,
        networkServerAddress: Seed.address, applicationServerAddress: Seed.address)
}

// MARK: - The seed's requests, transcribed

/// One request of the seed, as written there, and the values that fill its placeholders.
private struct SeedRequest {
    /// e.g. "OTAA NS".
    var name: String
    /// Where the request is in `seeds/000_809215ce9385ad42.txt`.
    var seedLines: ClosedRange<Int>
    var method: String
    /// The URL as the seed writes it.
    var url: String
    /// The `--data-raw` body as the seed writes it.
    var body: String
    /// Leaf path → the value that replaces the seed's placeholder (or the tab's device ID) there.
    var fills: [String: String]
    /// The device ID the seed's tab uses, and the one of our device.
    var seedDeviceID = "newdev1"
    var deviceID = "newdev1"

    /// The URL path after `/api/v3`, with our device ID.
    func path() throws -> String {
        let marker = "/api/v3"
        guard let range = url.range(of: marker) else { throw SeedTranscriptionError(request: name, problem: "URL has no \(marker)") }
        var path = String(url[range.upperBound...])
        let seedSuffix = "/devices/\(seedDeviceID)"
        if path.hasSuffix(seedSuffix) { path = String(path.dropLast(seedSuffix.count)) + "/devices/\(deviceID)" }
        return path
    }

    /// The body's leaves with every placeholder filled.
    func filledLeaves() throws -> [String: V3JSONValue] {
        var leaves = flatten(try JSONDecoder().decode(V3JSONValue.self, from: Data(body.utf8)))
        for (path, value) in fills.sorted(by: { $0.key < $1.key }) {
            guard case .string(let original)? = leaves[path] else {
                throw SeedTranscriptionError(request: name, problem: "fill for \(path), which the seed does not set as a string")
            }
            let isPlaceholder = !original.isEmpty && original.allSatisfy { $0 == "X" } && original.count == value.count
            guard isPlaceholder || original == seedDeviceID else {
                throw SeedTranscriptionError(request: name, problem: "fill for \(path) would replace \"\(original)\", not a placeholder")
            }
            leaves[path] = .string(value)
        }
        for (path, value) in leaves {
            if case .string(let text) = value, text.contains("XXXX") {
                throw SeedTranscriptionError(request: name, problem: "placeholder left at \(path)")
            }
        }
        return leaves
    }
}

private struct SeedTranscriptionError: Error, CustomStringConvertible {
    var request: String
    var problem: String
    var description: String { "seed request \(request): \(problem)" }
}

private let otaaIDFills = [
    "end_device.ids.dev_eui": Seed.otaaDevEUI, "end_device.ids.join_eui": Seed.joinEUI,
]

/// Tab "OTAA": IS, JS, NS, AS.
private let seedOTAA: [SeedRequest] = [
    SeedRequest(
        name: "OTAA IS", seedLines: 141...163, method: "POST", url: "https://thethings.example.com/api/v3/applications/app1/devices",
        body: #"""
        {
            "end_device": {
              "ids": {
                "device_id": "newdev1",
                "dev_eui": "XXXXXXXXXXXXXXXX",
                "join_eui": "XXXXXXXXXXXXXXXX"
              },
              "join_server_address": "thethings.example.com",
              "network_server_address": "thethings.example.com",
              "application_server_address": "thethings.example.com"
            },
            "field_mask": {
              "paths": [
                "join_server_address",
                "network_server_address",
                "application_server_address",
                "ids.dev_eui",
                "ids.join_eui"
              ]
            }
          }
        """#,
        fills: otaaIDFills),
    SeedRequest(
        name: "OTAA JS", seedLines: 173...200, method: "PUT", url: "https://thethings.example.com/api/v3/js/applications/app1/devices/newdev1",
        body: #"""
        {
            "end_device": {
              "ids": {
                "device_id": "newdev1",
                "dev_eui": "XXXXXXXXXXXXXXXX",
                "join_eui": "XXXXXXXXXXXXXXXX"
              },
              "network_server_address": "thethings.example.com",
              "application_server_address": "thethings.example.com",
              "root_keys": {
                "app_key": {
                  "key": "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
                }
              }
            },
            "field_mask": {
              "paths": [
                "network_server_address",
                "application_server_address",
                "ids.device_id",
                "ids.dev_eui",
                "ids.join_eui",
                "root_keys.app_key.key"
              ]
            }
          }
        """#,
        fills: otaaIDFills.merging(["end_device.root_keys.app_key.key": Seed.otaaAppKey]) { $1 }),
    SeedRequest(
        name: "OTAA NS", seedLines: 211...236, method: "PUT", url: "https://thethings.example.com/api/v3/ns/applications/app1/devices/newdev1",
        body: #"""
        {
            "end_device": {
              "supports_join": true,
              "lorawan_version": "1.0.2",
              "ids": {
                "device_id": "newdev1",
                "dev_eui": "XXXXXXXXXXXXXXXX",
                "join_eui": "XXXXXXXXXXXXXXXX"
              },
              "lorawan_phy_version": "1.0.2-b",
              "frequency_plan_id": "EU_863_870_TTN"
            },
            "field_mask": {
              "paths": [
                "supports_join",
                "lorawan_version",
                "ids.device_id",
                "ids.dev_eui",
                "ids.join_eui",
                "lorawan_phy_version",
                "frequency_plan_id"
              ]
            }
          }
        """#,
        fills: otaaIDFills),
    SeedRequest(
        name: "OTAA AS", seedLines: 246...263, method: "PUT", url: "https://thethings.example.com/api/v3/as/applications/app1/devices/newdev1",
        body: #"""
        {
            "end_device": {
              "ids": {
                "device_id": "newdev1",
                "dev_eui": "XXXXXXXXXXXXXXXX",
                "join_eui": "XXXXXXXXXXXXXXXX"
              }
            },
            "field_mask": {
              "paths": [
                "ids.device_id",
                "ids.dev_eui",
                "ids.join_eui"
              ]
            }
          }
        """#,
        fills: otaaIDFills),
]

private let abpIDFills = [
    "end_device.ids.device_id": Seed.abpDeviceID, "end_device.ids.dev_eui": Seed.abpDevEUI,
]

/// Tab "ABP": IS, NS, AS (no JS).
private let seedABP: [SeedRequest] = [
    SeedRequest(
        name: "ABP IS", seedLines: 278...296, method: "POST", url: "https://thethings.example.com/api/v3/applications/app1/devices",
        body: #"""
        {
            "end_device": {
              "ids": {
                "device_id": "newdev1",
                "dev_eui": "XXXXXXXXXXXXXXXX"
              },
              "network_server_address": "thethings.example.com",
              "application_server_address": "thethings.example.com"
            },
            "field_mask": {
              "paths": [
                "network_server_address",
                "application_server_address",
                "ids.dev_eui"
              ]
            }
          }
        """#,
        fills: abpIDFills, deviceID: Seed.abpDeviceID),
    SeedRequest(
        name: "ABP NS", seedLines: 307...356, method: "PUT", url: "https://thethings.example.com/api/v3/ns/applications/app1/devices/newdev1",
        body: #"""
        {
            "end_device": {
              "supports_join": false,
              "lorawan_version": "1.0.2",
              "ids": {
                "device_id": "newdev1",
                "dev_eui": "XXXXXXXXXXXXXXXX"
              },
              "session": {
                "keys": {
                  "f_nwk_s_int_key": {
                    "key": "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
                  }
                },
                "dev_addr": "XXXXXXXX"
              },
              "mac_settings": {
                "resets_f_cnt": true,
                "factory_preset_frequencies": [
                  "868100000",
                  "868300000",
                  "868500000",
                  "867100000",
                  "867300000",
                  "867500000",
                  "867700000",
                  "867900000"
                ]
              },
              "resets_f_cnt": false,
              "lorawan_phy_version": "1.0.2-b",
              "frequency_plan_id": "EU_863_870_TTN"
            },
            "field_mask": {
              "paths": [
                "supports_join",
                "lorawan_version",
                "ids.device_id",
                "ids.dev_eui",
                "session.keys.f_nwk_s_int_key.key",
                "session.dev_addr",
                "mac_settings.resets_f_cnt",
                "mac_settings.factory_preset_frequencies",
                "lorawan_phy_version",
                "frequency_plan_id"
              ]
            }
          }
        """#,
        fills: abpIDFills.merging([
            "end_device.session.keys.f_nwk_s_int_key.key": Seed.abpNwkSKey, "end_device.session.dev_addr": Seed.abpDevAddr,
        ]) { $1 },
        deviceID: Seed.abpDeviceID),
    SeedRequest(
        name: "ABP AS", seedLines: 366...393, method: "PUT", url: "https://thethings.example.com/api/v3/as/applications/app1/devices/newdev1",
        body: #"""
        {
            "end_device": {
              "ids": {
                "device_id": "newdev1",
                "dev_eui": "XXXXXXXXXXXXXXXX"
              },
              "session": {
                "keys": {
                  "app_s_key": {
                    "key": "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"
                  }
                },
                "dev_addr": "XXXXXXXX"
              },
              "skip_payload_crypto": false
            },
            "field_mask": {
              "paths": [
                "ids.device_id",
                "ids.dev_eui",
                "session.keys.app_s_key.key",
                "session.dev_addr",
                "skip_payload_crypto"
              ]
            }
          }
        """#,
        fills: abpIDFills.merging([
            "end_device.session.keys.app_s_key.key": Seed.abpAppSKey, "end_device.session.dev_addr": Seed.abpDevAddr,
        ]) { $1 },
        deviceID: Seed.abpDeviceID),
]

// MARK: - Leaves and differences

/// A JSON document as leaf path → value: objects joined with `.`, array items as `[i]`, and the
/// members of `field_mask.paths` as `field_mask.paths ∋ <path>` (value `true`): a mask is a set.
private func flatten(_ value: V3JSONValue, _ prefix: String = "") -> [String: V3JSONValue] {
    switch value {
    case .object(let fields):
        var leaves: [String: V3JSONValue] = [:]
        for (key, child) in fields {
            leaves.merge(flatten(child, prefix.isEmpty ? key : "\(prefix).\(key)")) { $1 }
        }
        return leaves
    case .array(let items) where prefix == "field_mask.paths":
        var leaves: [String: V3JSONValue] = [:]
        for case .string(let path) in items { leaves["\(prefix) ∋ \(path)"] = .bool(true) }
        return leaves
    case .array(let items):
        var leaves: [String: V3JSONValue] = [:]
        for (index, item) in items.enumerated() { leaves.merge(flatten(item, "\(prefix)[\(index)]")) { $1 } }
        return leaves
    default:
        return [prefix: value]
    }
}

/// How one leaf differs between the seed's request and the tool's.
private enum DifferenceKind: Hashable, CustomStringConvertible {
    /// The seed sets the leaf; the tool does not send it.
    case notSent(seed: V3JSONValue)
    /// Both set it, to different values.
    case otherValue(seed: V3JSONValue, tool: V3JSONValue)
    /// Only the tool sends it.
    case added(tool: V3JSONValue)

    var description: String {
        switch self {
        case .notSent(let seed): return "not sent (seed: \(render(seed)))"
        case .otherValue(let seed, let tool): return "seed \(render(seed)), tool \(render(tool))"
        case .added(let tool): return "added by the tool: \(render(tool))"
        }
    }
}

private func render(_ value: V3JSONValue) -> String {
    if case .string(let text) = value { return "\"\(text)\"" }
    return value.description
}

/// One leaf difference of one request.
private struct LeafDifference: Hashable, CustomStringConvertible {
    var request: String
    var path: String
    var kind: DifferenceKind
    var description: String { "\(request) \(path): \(kind)" }
}

/// A difference the test expects, with why it is right.
private struct DocumentedDifference {
    var difference: LeafDifference
    var reason: String
}

private func differences(request: String, seed: [String: V3JSONValue], tool: [String: V3JSONValue]) -> Set<LeafDifference> {
    var result: Set<LeafDifference> = []
    for (path, seedValue) in seed {
        if let toolValue = tool[path] {
            if toolValue != seedValue { result.insert(LeafDifference(request: request, path: path, kind: .otherValue(seed: seedValue, tool: toolValue))) }
        } else {
            result.insert(LeafDifference(request: request, path: path, kind: .notSent(seed: seedValue)))
        }
    }
    for (path, toolValue) in tool where seed[path] == nil {
        result.insert(LeafDifference(request: request, path: path, kind: .added(tool: toolValue)))
    }
    return result
}

// MARK: - The documented differences (hand-written)

/// What `started_at` is compared as: the tool stamps it when it builds the request (checked separately).
private let sendingTime = V3JSONValue.string("<time the request is built>")

private func notSent(_ request: String, _ paths: [String: V3JSONValue], _ reason: String) -> [DocumentedDifference] {
    paths.map { DocumentedDifference(difference: LeafDifference(request: request, path: $0.key, kind: .notSent(seed: $0.value)), reason: reason) }
}

private func added(_ request: String, _ paths: [String: V3JSONValue], _ reason: String) -> [DocumentedDifference] {
    paths.map { DocumentedDifference(difference: LeafDifference(request: request, path: $0.key, kind: .added(tool: $0.value)), reason: reason) }
}

private func otherValue(_ request: String, _ path: String, seed: String, tool: String, _ reason: String) -> [DocumentedDifference] {
    [DocumentedDifference(difference: LeafDifference(request: request, path: path, kind: .otherValue(seed: .string(seed), tool: .string(tool))), reason: reason)]
}

private func maskPaths(_ paths: [String]) -> [String: V3JSONValue] {
    Dictionary(uniqueKeysWithValues: paths.map { ("field_mask.paths ∋ \($0)", V3JSONValue.bool(true)) })
}

private let createTakesNoMask =
    "IS EndDeviceRegistry.Create has no field mask: the seed's `field_mask` is an unknown field the server ignores (reference/v3-api.md §6, §17)"
private let applicationIDs =
    "the identifiers name the application, as EndDeviceIdentifiers do (the URL's {end_device.ids.application_ids.application_id}, reference/v3-api.md §6)"
private let nameIsV2ID = "the IS name is the v2 device ID, as ttn-lw-migrate does (reference/v2-and-peers.md §C)"
private let macEnumName =
    "enum name instead of the alias: v3 accepts both, the tool sends names (reference/v3-api.md §6, DESIGN.md §4)"
private let phyEnumName =
    "enum name instead of the alias: \"1.0.2-b\" is PHY_V1_0_2_REV_B, but the bare \"1.0.2\" would be revision A, so the tool sends names (reference/v3-api.md §15)"
private let resetsFCntCarried = "v2 disable_f_cnt_check carried as mac_settings.resets_f_cnt, set explicitly (DESIGN.md §4)"
private let supports32BitCarried = "v2 uses32_bit_f_cnt carried as mac_settings.supports_32_bit_f_cnt, set explicitly (DESIGN.md §4)"
private let devStatusOff =
    "DevStatusReq off, as ttn-lw-migrate sets it: v2 never sent it, and v3's default would add downlinks to every migrated device (reference/v2-and-peers.md §C, README \"Devices\")"
private func statusPeriodicity(_ request: String) -> [DocumentedDifference] {
    added(request, [
        "end_device.mac_settings.status_time_periodicity": .string("0s"), "end_device.mac_settings.status_count_periodicity": .number(0),
    ].merging(maskPaths(["mac_settings.status_time_periodicity", "mac_settings.status_count_periodicity"])) { $1 }, devStatusOff)
}
private let abpJoinEUI =
    "JoinEUI = the device's own v2 app_eui for every device, ABP included (DESIGN.md §4); the seed's ABP example has none. The JoinEUI/DevEUI pair is what v3 keeps unique (reference/v3-api.md §6)"

private let documented: [DocumentedDifference] =
    notSent("OTAA IS", maskPaths([
        "join_server_address", "network_server_address", "application_server_address", "ids.dev_eui", "ids.join_eui",
    ]), createTakesNoMask)
    + added("OTAA IS", ["end_device.ids.application_ids.application_id": .string("app1")], applicationIDs)
    + added("OTAA IS", ["end_device.name": .string("newdev1")], nameIsV2ID)

    + added("OTAA JS", ["end_device.ids.application_ids.application_id": .string("app1")], applicationIDs)

    + otherValue("OTAA NS", "end_device.lorawan_version", seed: "1.0.2", tool: "MAC_V1_0_2", macEnumName)
    + otherValue("OTAA NS", "end_device.lorawan_phy_version", seed: "1.0.2-b", tool: "PHY_V1_0_2_REV_B", phyEnumName)
    + added("OTAA NS", ["end_device.ids.application_ids.application_id": .string("app1")], applicationIDs)
    + added("OTAA NS", ["end_device.mac_settings.resets_f_cnt": .bool(false)].merging(maskPaths(["mac_settings.resets_f_cnt"])) { $1 },
            resetsFCntCarried)
    + added("OTAA NS", ["end_device.mac_settings.supports_32_bit_f_cnt": .bool(true)].merging(maskPaths(["mac_settings.supports_32_bit_f_cnt"])) { $1 },
            supports32BitCarried)

    + statusPeriodicity("OTAA NS")

    + added("OTAA AS", ["end_device.ids.application_ids.application_id": .string("app1")], applicationIDs)

    + notSent("ABP IS", maskPaths(["network_server_address", "application_server_address", "ids.dev_eui"]), createTakesNoMask)
    + added("ABP IS", ["end_device.ids.application_ids.application_id": .string("app1")], applicationIDs)
    + added("ABP IS", ["end_device.name": .string("newdev2")], nameIsV2ID)
    + added("ABP IS", ["end_device.ids.join_eui": .string(Seed.joinEUI)], abpJoinEUI)

    + otherValue("ABP NS", "end_device.lorawan_version", seed: "1.0.2", tool: "MAC_V1_0_2", macEnumName)
    + otherValue("ABP NS", "end_device.lorawan_phy_version", seed: "1.0.2-b", tool: "PHY_V1_0_2_REV_B", phyEnumName)
    + notSent("ABP NS", ["end_device.resets_f_cnt": .bool(false)],
              "a slip of the seed: `resets_f_cnt` is not a top-level EndDevice field (only mac_settings.resets_f_cnt, which the tool sends) (reference/v3-api.md §17)")
    + added("ABP NS", [
        "end_device.mac_settings.rx2_data_rate_index": .number(3), "end_device.mac_settings.rx2_frequency": .string("869525000"),
      ].merging(maskPaths(["mac_settings.rx2_data_rate_index", "mac_settings.rx2_frequency"])) { $1 },
      "an ABP device keeps the RX2 of its plan (EU_863_870_TTN: SF9 at 869.525 MHz) over resets, as v2 configured it; without it the NS uses the band's SF12 (issue 11, lorawan-stack pkg/networkserver/mac/utils.go DeviceDefaultRX2…)")
    + added("ABP NS", ["end_device.ids.application_ids.application_id": .string("app1")], applicationIDs)
    + added("ABP NS", ["end_device.ids.join_eui": .string(Seed.joinEUI)].merging(maskPaths(["ids.join_eui"])) { $1 }, abpJoinEUI)
    + added("ABP NS", ["end_device.mac_settings.supports_32_bit_f_cnt": .bool(true)].merging(maskPaths(["mac_settings.supports_32_bit_f_cnt"])) { $1 },
            supports32BitCarried)
    + added("ABP NS", ["end_device.mac_settings.rx1_delay": .number(1)].merging(maskPaths(["mac_settings.rx1_delay"])) { $1 },
            "v2 used an RX1 delay of 1 s; a device that keeps its session keeps it (reference/v3-api.md §6 migration note, DESIGN.md §4)")
    + added("ABP NS", [
        "end_device.session.last_f_cnt_up": .number(Double(Seed.abpFCntUp)), "end_device.session.last_n_f_cnt_down": .number(Double(Seed.abpFCntDown)),
      ].merging(maskPaths(["session.last_f_cnt_up", "session.last_n_f_cnt_down"])) { $1 },
      "the v2 frame counters (f_cnt_up, f_cnt_down) go with the session, else the device's next uplinks are dropped as replays (reference/v3-api.md §17)")
    + added("ABP NS", ["end_device.session.started_at": sendingTime].merging(maskPaths(["session.started_at"])) { $1 },
            "the carried session starts when it is sent, as ttn-lw-migrate stamps `started_at: now` (reference/v2-and-peers.md §C, reference/v3-api.md §17)")

    + statusPeriodicity("ABP NS")

    + added("ABP AS", ["end_device.ids.application_ids.application_id": .string("app1")], applicationIDs)
    + added("ABP AS", ["end_device.ids.join_eui": .string(Seed.joinEUI)].merging(maskPaths(["ids.join_eui"])) { $1 }, abpJoinEUI)
    + added("ABP AS", ["end_device.session.last_a_f_cnt_down": .number(Double(Seed.abpFCntDown))].merging(maskPaths(["session.last_a_f_cnt_down"])) { $1 },
            "the v2 f_cnt_down is the AS's application downlink counter too (reference/v3-api.md §17)")

// MARK: - Tests

@Suite("the seed's OTAA and ABP registration flow (issue 6)")
struct SeedRequestComparisonTests {
    private static func toolSteps() throws -> (all: [ExecutionStep], built: ClosedRange<Date>) {
        let plan = try Planner.plan(snapshot: try seedEstate(), options: seedOptions())
        let before = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let steps = try PlanExecution.steps(for: plan)
        return (steps, before...Date())
    }

    private static func deviceSteps(_ steps: [ExecutionStep], _ deviceID: String) -> [ExecutionStep] {
        steps.filter { $0.group == "device:\(Seed.applicationID)/\(deviceID)" }
    }

    /// Compares one tab; returns the leaf differences of all its requests.
    private static func compare(tab: [SeedRequest], tool: [ExecutionStep], built: ClosedRange<Date>) throws -> Set<LeafDifference> {
        #expect(tool.count == tab.count, "the tool sends \(tool.count) requests for the device, the seed \(tab.count)")
        var found: Set<LeafDifference> = []
        for (seed, step) in zip(tab, tool) {
            let operation = step.operation
            #expect(operation.method == seed.method, "\(seed.name) (seed lines \(seed.seedLines))")
            #expect(operation.path == (try seed.path()), "\(seed.name) (seed lines \(seed.seedLines))")
            var toolLeaves = flatten(try JSONDecoder().decode(V3JSONValue.self, from: operation.body))
            if let startedAt = toolLeaves["end_device.session.started_at"] {
                guard case .string(let text) = startedAt, let date = ISO8601DateFormatter().date(from: text) else {
                    Issue.record("\(seed.name): session.started_at \(startedAt) is not an RFC 3339 time")
                    continue
                }
                #expect(built.contains(date), "\(seed.name): session.started_at \(text) is not the time the request was built")
                toolLeaves["end_device.session.started_at"] = sendingTime
            }
            found.formUnion(differences(request: seed.name, seed: try seed.filledLeaves(), tool: toolLeaves))
        }
        return found
    }

    @Test func sameEndpointsMethodsAndOrderAndOnlyTheDocumentedDifferences() throws {
        let (steps, built) = try Self.toolSteps()
        let otaa = Self.deviceSteps(steps, Seed.otaaDeviceID)
        let abp = Self.deviceSteps(steps, Seed.abpDeviceID)
        #expect(otaa.map(\.operation.server) == [.identityServer, .joinServer, .networkServer, .applicationServer])
        #expect(abp.map(\.operation.server) == [.identityServer, .networkServer, .applicationServer])
        // The seed's order: IS first; the JS, NS and AS requests wait for it (the executor may then send
        // them concurrently, reference/v3-api.md §6).
        for device in [otaa, abp] {
            for step in device.dropFirst() { #expect(step.dependsOn == [device[0].id], "\(step.id)") }
        }

        let found = try Self.compare(tab: seedOTAA, tool: otaa, built: built).union(Self.compare(tab: seedABP, tool: abp, built: built))
        let expected = Set(documented.map(\.difference))
        #expect(expected.count == documented.count, "a documented difference is listed twice")
        for reason in documented.map(\.reason) { #expect(!reason.isEmpty) }

        let undocumented = found.subtracting(expected).map(\.description).sorted()
        let vanished = expected.subtracting(found).map(\.description).sorted()
        #expect(undocumented == [], "differences from the seed that the test does not document")
        #expect(vanished == [], "documented differences that no longer occur")
    }

    @Test func theTranscriptionKeepsEverySeedLeafItFills() throws {
        // Each tab's leaf count, counted by hand in the seed (mask paths included).
        let counts = try (seedOTAA + seedABP).map { try $0.filledLeaves().count }
        #expect(counts == [3 + 3 + 5, 3 + 2 + 1 + 6, 3 + 3 + 1 + 7, 3 + 3, 2 + 2 + 3, 2 + 2 + 2 + 9 + 1 + 2 + 10, 2 + 2 + 1 + 5])
        // A fill that would overwrite a real value is refused.
        var broken = seedOTAA[2]
        broken.fills["end_device.frequency_plan_id"] = "US_902_928_FSB_2"
        #expect(throws: SeedTranscriptionError.self) { try broken.filledLeaves() }
    }

    @Test func abpGoesNowhereNearTheJoinServerAndTheAppSKeyNeverToTheNetworkServer() throws {
        let (steps, _) = try Self.toolSteps()
        let joinServerPaths = steps.filter { $0.operation.server == .joinServer }.map(\.operation.path)
        #expect(joinServerPaths == ["/js/applications/app1/devices/newdev1"])
        let abpIS = try #require(Self.deviceSteps(steps, Seed.abpDeviceID).first)
        let abpISBody = String(decoding: try abpIS.operation.body, as: UTF8.self)
        #expect(!abpISBody.contains("join_server_address"))

        let networkServerBodies = try steps.filter { $0.operation.server == .networkServer }.map { String(decoding: try $0.operation.body, as: UTF8.self) }
        #expect(networkServerBodies.count == 2)
        for body in networkServerBodies {
            #expect(!body.contains("app_s_key"))
            for key in [Seed.abpAppSKey, Seed.otaaAppSKey, Seed.otaaAppKey] {
                #expect(!body.uppercased().contains(key))
            }
        }
        // The AppSKey does reach the AS, once, for the ABP device.
        let applicationServerBodies = try steps.filter { $0.operation.server == .applicationServer }.map { String(decoding: try $0.operation.body, as: UTF8.self) }
        #expect(applicationServerBodies.filter { $0.uppercased().contains(Seed.abpAppSKey) }.count == 1)
    }

    @Test func theDifferenceCheckCatchesAnUndocumentedChange() throws {
        // The comparison itself can fail: a tool body with a changed plan, a dropped key and an extra
        // field gives exactly those three differences.
        let seed = try seedOTAA[2].filledLeaves()
        var tool = seed
        tool["end_device.frequency_plan_id"] = .string("EU_863_870")
        tool["end_device.ids.join_eui"] = nil
        tool["end_device.mac_settings.rx1_delay"] = .number(5)
        let found = differences(request: "OTAA NS", seed: seed, tool: tool)
        #expect(found == [
            LeafDifference(request: "OTAA NS", path: "end_device.frequency_plan_id", kind: .otherValue(seed: .string("EU_863_870_TTN"), tool: .string("EU_863_870"))),
            LeafDifference(request: "OTAA NS", path: "end_device.ids.join_eui", kind: .notSent(seed: .string(Seed.joinEUI))),
            LeafDifference(request: "OTAA NS", path: "end_device.mac_settings.rx1_delay", kind: .added(tool: .number(5))),
        ])
    }

    @Test(.timeLimit(.minutes(1)))
    func theV3SimulatorAcceptsEveryRequestOfTheFlow() async throws {
        let (steps, _) = try Self.toolSteps()
        #expect(steps.first?.operation.path == "/users/alice/applications")
        let running = try await V3Simulator.start(config: V3SimulatorConfig(users: ["alice"]))
        let client = V3Client(http: HTTPClient(), endpoints: V3Endpoints(all: running.identityServerURL), apiKey: V3APIKeySecret(running.simulator.apiKey))
        do {
            for step in steps {
                _ = try await step.operation.apply(with: client)
                // Read back: each registry now holds what the step sent.
                let state = try await step.operation.reconcile(with: client, hasStoredSecret: false)
                #expect(state == .done, "\(step.id)")
            }
            let accepted = running.identityServer.requestLog.filter { $0.method != "GET" }
            #expect(accepted.map(\.path) == steps.map { "/api/v3" + $0.operation.path })
            #expect(accepted.map(\.status) == Array(repeating: 200, count: steps.count))
        } catch {
            await running.stop()
            throw error
        }
        await running.stop()
    }
}
