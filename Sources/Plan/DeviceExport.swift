import Foundation
import V3Model

/// The plan's devices as whole v3 end devices, one JSON object per line: the format The Things Stack
/// Console's device import and `ttn-lw-cli end-devices create` read, and the one lorawan-stack-migrate
/// writes (`pkg/export/export.go`: `jsonpb.TTN().Marshal` of a `ttnpb.EndDevice` per line).
///
/// Each device is its Identity, Join, Network and Application Server parts merged into one object. The
/// server addresses are left out, as the official migrator leaves them out, so the file imports into
/// any cluster (the importer fills in its own). A carried session starts at `now`.
public enum DeviceExport {
    /// The three fields that name this migration's v3 cluster.
    static let clusterFields = ["network_server_address", "application_server_address", "join_server_address"]

    /// One line per device (no line break), in plan order. The lines hold root and session keys.
    public static func lines(plan: MigrationPlan, now: Date) throws -> [String] {
        var order: [String] = []
        var devices: [String: [String: Any]] = [:]
        let encoder = JSONEncoder()
        for step in plan.steps {
            let part: Data
            switch step.payload {
            case .deviceIS(let device): part = try encoder.encode(device)
            case .deviceJS(let device): part = try encoder.encode(device)
            case .deviceNS(let device): part = try encoder.encode(device.stampingSessionStart(at: now))
            case .deviceAS(let device): part = try encoder.encode(device)
            default: continue
            }
            guard let key = step.entity.v3ID, let object = try JSONSerialization.jsonObject(with: part) as? [String: Any] else { continue }
            if devices[key] == nil { order.append(key) }
            devices[key] = merged(devices[key] ?? [:], object)
        }
        return try order.map { key in
            var device = devices[key] ?? [:]
            for field in clusterFields { device[field] = nil }
            let data = try JSONSerialization.data(withJSONObject: device, options: [.sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self)
        }
    }

    /// `base` with `addition`'s fields; objects present in both are merged field by field.
    static func merged(_ base: [String: Any], _ addition: [String: Any]) -> [String: Any] {
        var result = base
        for (key, value) in addition {
            if let left = result[key] as? [String: Any], let right = value as? [String: Any] {
                result[key] = merged(left, right)
            } else {
                result[key] = value
            }
        }
        return result
    }
}
