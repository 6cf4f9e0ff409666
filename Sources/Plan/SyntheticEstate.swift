import Foundation
import Mapping
import V2Model

/// A generated v2 estate of any size, the same for the same arguments: input for `bench` and
/// performance checks of `plan`.
///
/// Applications `app-0001`… (every 50th `app_0050`-style, exercising ID fixing) with one or two EUIs,
/// two collaborators and one or two access keys, read from a handler with a JavaScript decoder (even
/// index) or CayenneLPP (odd); gateways `eui-<16 hex>` (every 5th `gw-<n>` with a `gateway_euis`-free ID)
/// on rotating v2 plans, with location and attributes; devices spread round-robin over the applications:
/// of every ten, seven OTAA without session, two ABP, one OTAA with session (DevEUIs unique).
public enum SyntheticEstate {
    /// The snapshot. Randomness (keys, counters, coordinates) comes from a SplitMix64 stream seeded with `seed`.
    public static func snapshot(applications: Int, gateways: Int, devices: Int, seed: UInt64 = 1) -> V2Snapshot {
        var random = SplitMix64(seed: seed)
        let applicationCount = max(applications, devices > 0 ? 1 : 0)
        let width = max(4, String(max(applicationCount, gateways, devices)).count)

        var appIDs: [String] = []
        var appEUIs: [V2EUI] = []
        for index in 0..<applicationCount {
            let number = padded(index + 1, width)
            appIDs.append(index % 50 == 49 ? "app_\(number)" : "app-\(number)")
            appEUIs.append(V2EUI(validatedHex: hex(0x70B3_D57E_F000_0000 | UInt64(index + 1), digits: 16)))
        }

        var devicesByApp = Array(repeating: [V2Device](), count: applicationCount)
        for index in 0..<devices {
            let app = index % max(applicationCount, 1)
            let number = padded(index + 1, width)
            let devEUI = V2EUI(validatedHex: hex(0x0004_A30B_0000_0000 | UInt64(index + 1), digits: 16))
            var lorawan = V2LoRaWANDevice(appEui: appEUIs[app], devEui: devEUI)
            lorawan.uses32BitFCnt = index % 3 != 0
            lorawan.disableFCntCheck = index % 7 == 0
            switch index % 10 {
            case 0, 1:
                lorawan.devAddr = V2DevAddr(validatedHex: hex(0x2600_0000 | UInt64(index & 0xFF_FFFF), digits: 8))
                lorawan.nwkSKey = key(&random)
                lorawan.appSKey = key(&random)
                lorawan.fCntUp = UInt32(random.next() % 60_000)
                lorawan.fCntDown = UInt32(random.next() % 1_000)
            case 2:
                lorawan.appKey = key(&random)
                lorawan.devAddr = V2DevAddr(validatedHex: hex(0x2601_0000 | UInt64(index & 0xFFFF), digits: 8))
                lorawan.nwkSKey = key(&random)
                lorawan.appSKey = key(&random)
                lorawan.fCntUp = UInt32(random.next() % 60_000)
                lorawan.fCntDown = UInt32(random.next() % 1_000)
            default:
                lorawan.appKey = key(&random)
            }
            var device = V2Device(
                appId: appIDs[app], devId: index % 40 == 39 ? "dev_\(number)" : "dev-\(number)",
                description: "Generated device \(number)", lorawanDevice: lorawan)
            if index % 4 == 0 {
                device.latitude = 52.0 + Double(random.next() % 10_000) / 10_000
                device.longitude = 4.0 + Double(random.next() % 10_000) / 10_000
                device.altitude = Int(random.next() % 100)
            }
            if index % 5 == 0 { device.attributes = ["room": "R\(index % 100)", "floor": String(index % 7)] }
            devicesByApp[app].append(device)
        }

        var records: [V2ApplicationRecord] = []
        records.reserveCapacity(applicationCount)
        for index in 0..<applicationCount {
            let id = appIDs[index]
            var euis = [appEUIs[index]]
            if index % 3 == 0 { euis.append(V2EUI(validatedHex: hex(0x70B3_D57E_F100_0000 | UInt64(index + 1), digits: 16))) }
            var keys = [V2AccessKey(name: "default key", key: V2Secret("ttn-account-v2.\(secret(&random))"), rights: ["messages:up:r", "messages:down:w"])]
            if index % 2 == 0 {
                keys.append(V2AccessKey(name: "integration", key: V2Secret("ttn-account-v2.\(secret(&random))"), rights: ["settings", "devices", "messages:up:r"]))
            }
            let application = V2Application(
                id: id, name: "Generated application \(index + 1)", euis: euis, created: "2019-01-01T00:00:00Z",
                rights: ["settings", "collaborators", "delete", "devices"],
                collaborators: [
                    V2Collaborator(username: "bench-owner", rights: ["settings", "collaborators", "delete", "devices"]),
                    V2Collaborator(username: "viewer_\(index % 20)", rights: ["settings"]),
                ],
                accessKeys: keys)
            let handlerApplication = index % 2 == 0
                ? V2HandlerApplication(appId: id, payloadFormat: "custom", decoder: "function Decoder(bytes, port) {\n  return { raw: bytes };\n}")
                : V2HandlerApplication(appId: id, payloadFormat: "cayennelpp")
            records.append(V2ApplicationRecord(
                application: application,
                handler: V2HandlerRecord(status: .read, url: "http://127.0.0.1:8084", application: handlerApplication, devices: devicesByApp[index])))
        }

        let plans = ["EU_863_870", "US_902_928", "AU_915_928", "AS_923", "EU_863_870"]
        var v2Gateways: [V2Gateway] = []
        v2Gateways.reserveCapacity(gateways)
        for index in 0..<gateways {
            let id = index % 5 == 4 ? "gw-\(padded(index + 1, width))" : "eui-" + hex(0xB827_EBFF_FE00_0000 | UInt64(index + 1), digits: 16).lowercased()
            v2Gateways.append(V2Gateway(
                id: id, activated: true, frequencyPlan: plans[index % plans.count], autoUpdate: index % 2 == 0,
                locationPublic: true, statusPublic: index % 3 != 0, ownerPublic: false,
                antennaLocation: V2Location(
                    latitude: 52.0 + Double(random.next() % 10_000) / 10_000, longitude: 4.0 + Double(random.next() % 10_000) / 10_000,
                    altitude: Int(random.next() % 50)),
                collaborators: [V2Collaborator(username: "bench-owner", rights: ["gateway:settings", "gateway:owner"])],
                attributes: [
                    "brand": "Generated", "model": "G\(index % 3)", "placement": index % 2 == 0 ? "outdoor" : "indoor",
                    "description": "Generated gateway \(index + 1)", "antenna_type": "",
                ]))
        }
        return V2Snapshot(
            source: V2SnapshotSource(accountServer: "http://127.0.0.1:8080/api/v2", handlers: ["http://127.0.0.1:8084"]),
            profile: V2Profile(username: "bench-owner"), applications: records, gateways: v2Gateways)
    }

    /// Options that suit the generated estate: owner user `bench-owner`, device plan `EU_863_870_TTN`,
    /// sessions carried, server addresses on `localhost`.
    public static func options() -> MappingOptions {
        MappingOptions(
            owner: .user("bench-owner"), deviceFrequencyPlan: "EU_863_870_TTN", withSession: true,
            gatewayServerAddress: "localhost", joinServerAddress: "localhost", networkServerAddress: "localhost",
            applicationServerAddress: "localhost", runTag: "bench")
    }

    private static func padded(_ number: Int, _ width: Int) -> String {
        let text = String(number)
        return String(repeating: "0", count: max(0, width - text.count)) + text
    }

    private static func hex(_ value: UInt64, digits: Int) -> String {
        let text = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, digits - text.count)) + text
    }

    private static func key(_ random: inout SplitMix64) -> V2AESKey {
        V2AESKey(validatedHex: hex(random.next() | 1, digits: 16) + hex(random.next(), digits: 16))
    }

    private static func secret(_ random: inout SplitMix64) -> String {
        hex(random.next(), digits: 16).lowercased()
    }
}

/// SplitMix64: a small, fast, deterministic generator (Steele, Lea, Flood 2014), for generated estates and
/// seeded fuzzing that a printed seed replays.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
