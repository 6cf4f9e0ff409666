import Foundation
import Journal
import Mapping
import Plan
import V2Model
import V3Model

/// One migrated device the cut-over may switch: its IDs on both sides and where v2 serves it.
public struct CutoverDevice: Sendable, Hashable {
    public var v2ApplicationID: String
    public var v2DeviceID: String
    public var v3ApplicationID: String
    public var v3DeviceID: String
    /// The handler the snapshot read the device from (its display URL).
    public var handlerURL: String?

    /// `v2-app/v2-dev`, the ID users know the device by.
    public var v2Path: String { "\(v2ApplicationID)/\(v2DeviceID)" }
    /// `v3-app/v3-dev`, the cut-over journal's key.
    public var v3Path: String { "\(v3ApplicationID)/\(v3DeviceID)" }
}

/// A device the cut-over leaves alone, and why.
public struct CutoverHold: Sendable, Hashable {
    public var device: CutoverDevice
    public var reason: String
}

/// What a cut-over does, worked out from the plan, the journal and the selection: pure, no I/O.
///
/// A device is switched only once every one of its steps (`device:<app>/<dev>:is|js|ns|as`) is done in
/// the journal: a device v3 does not fully hold must keep working on v2.
public struct CutoverPlan: Sendable {
    /// Devices to switch, in plan order.
    public var ready: [CutoverDevice]
    /// Devices the journal records as switched already.
    public var alreadyDone: [CutoverDevice]
    /// Devices left on v2, with the reason.
    public var held: [CutoverHold]
    /// The selected gateways with their reconnection settings.
    public var gateways: [GatewayReconnection]

    /// Builds the cut-over of `plan` as the journal's `steps` and `records` stand.
    ///
    /// `devices` and `gateways` select by v2 or v3 ID (nil: all); an entry that names nothing throws.
    /// `gatewayServerAddress` is `target.gateway_server_address`, or the Network Server's host.
    public static func build(
        plan: MigrationPlan, snapshot: V2Snapshot, steps: [StepRecord], records: [String: CutoverRecord],
        devices: [String]? = nil, gateways: [String]? = nil, gatewayServerAddress: String
    ) throws(PlanSelectionError) -> CutoverPlan {
        let handlerURLs = Dictionary(snapshot.applications.map { ($0.application.id, $0.handler.url) }, uniquingKeysWith: { first, _ in first })
        let states = Dictionary(steps.map { ($0.id, $0.state) }, uniquingKeysWith: { first, _ in first })
        var stepsByDevice: [String: [String]] = [:]
        var planDevices: [CutoverDevice] = []
        for step in plan.steps {
            switch step.payload {
            case .deviceIS(let device):
                let v2 = step.entity.v2ID.split(separator: "/", maxSplits: 1).map(String.init)
                guard v2.count == 2 else { continue }
                planDevices.append(CutoverDevice(
                    v2ApplicationID: v2[0], v2DeviceID: v2[1], v3ApplicationID: device.ids.applicationIDs.applicationID,
                    v3DeviceID: device.ids.deviceID, handlerURL: handlerURLs[v2[0]] ?? nil))
                stepsByDevice[planDevices[planDevices.count - 1].v3Path, default: []].append(step.id)
            case .deviceJS, .deviceNS, .deviceAS:
                if let path = step.entity.v3ID { stepsByDevice[path, default: []].append(step.id) }
            default:
                continue
            }
        }

        let chosenDevices = try select(devices, kind: "device", from: planDevices.map { [$0.v2Path, $0.v3Path] })
        var result = CutoverPlan(ready: [], alreadyDone: [], held: [], gateways: [])
        for (index, device) in planDevices.enumerated() where chosenDevices?.contains(index) ?? true {
            if records[device.v3Path]?.state == .done {
                result.alreadyDone.append(device)
                continue
            }
            let unfinished = (stepsByDevice[device.v3Path] ?? []).compactMap { id -> String? in
                let state = states[id]
                return state == .done ? nil : "\(id) is \(state?.rawValue ?? "not in the journal")"
            }
            if !unfinished.isEmpty {
                result.held.append(CutoverHold(device: device, reason: "not fully migrated: " + unfinished.joined(separator: ", ")))
            } else if device.handlerURL == nil {
                result.held.append(CutoverHold(device: device, reason: "the snapshot does not say which v2 handler serves it"))
            } else {
                result.ready.append(device)
            }
        }

        let allGateways = GatewayReconnection.all(in: plan, isDone: { states[$0] == .done }, defaultAddress: gatewayServerAddress)
        let chosenGateways = try select(gateways, kind: "gateway", from: allGateways.map { [$0.v2ID, $0.v3ID] })
        result.gateways = allGateways.enumerated().filter { chosenGateways?.contains($0.offset) ?? true }.map(\.element)
        return result
    }

    /// The indexes of `candidates` (each with its accepted names) that `selection` names; nil selects all.
    static func select(_ selection: [String]?, kind: String, from candidates: [[String]]) throws(PlanSelectionError) -> Set<Int>? {
        guard let selection else { return nil }
        var index: [String: [Int]] = [:]
        for (position, names) in candidates.enumerated() {
            for name in Set(names) { index[name, default: []].append(position) }
        }
        var chosen = Set<Int>()
        var unknown: [String] = []
        for name in selection {
            if let positions = index[name] { chosen.formUnion(positions) } else { unknown.append(name) }
        }
        if !unknown.isEmpty { throw PlanSelectionError(kind: kind, unknown: unknown) }
        return chosen
    }
}
