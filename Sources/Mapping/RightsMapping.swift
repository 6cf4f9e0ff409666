import Foundation
import V3Model

/// The v2 → v3 rights tables of DESIGN.md §4 (v2 rights: `reference/v2-and-peers.md` §A.4).
public enum RightsMapping {
    /// v2 application right → v3 rights. `settings` covered "settings, devices and access keys" in v2.
    public static let applicationTable: [String: [V3Right]] = [
        "settings": [.applicationInfo, .applicationSettingsBasic, .applicationSettingsAPIKeys, .applicationDevicesRead, .applicationDevicesWrite],
        "collaborators": [.applicationSettingsCollaborators],
        "delete": [.applicationDelete],
        "devices": [.applicationDevicesRead, .applicationDevicesWrite, .applicationDevicesReadKeys, .applicationDevicesWriteKeys],
        "messages:up:r": [.applicationTrafficRead],
        "messages:up:w": [.applicationTrafficUpWrite],
        "messages:down:w": [.applicationTrafficDownWrite],
    ]

    /// v2 gateway right → v3 rights.
    public static let gatewayTable: [String: [V3Right]] = [
        "gateway:settings": [.gatewayInfo, .gatewaySettingsBasic],
        "gateway:collaborators": [.gatewaySettingsCollaborators],
        "gateway:delete": [.gatewayDelete],
        "gateway:location": [.gatewayLocationRead],
        "gateway:status": [.gatewayStatusRead],
        "gateway:messages": [.gatewayTrafficRead],
        "gateway:owner": [.gatewayAll],
    ]

    /// Mapped rights (proto order, no duplicates) and the v2 rights with no v3 twin (sorted).
    public struct Result: Hashable, Sendable {
        public var rights: [V3Right]
        public var unknown: [String]
    }

    /// Application rights: the table, plus `RIGHT_APPLICATION_INFO` always.
    public static func applicationRights(_ v2Rights: [String]) -> Result {
        var result = map(v2Rights, table: applicationTable)
        if !result.rights.contains(.applicationInfo) {
            result.rights = (result.rights + [.applicationInfo]).sorted()
        }
        return result
    }

    /// Gateway rights: the table; a set holding `RIGHT_GATEWAY_ALL` (from `gateway:owner`) is just that.
    public static func gatewayRights(_ v2Rights: [String]) -> Result {
        var result = map(v2Rights, table: gatewayTable)
        if result.rights.contains(.gatewayAll) { result.rights = [.gatewayAll] }
        return result
    }

    private static func map(_ v2Rights: [String], table: [String: [V3Right]]) -> Result {
        var rights = Set<V3Right>()
        var unknown = Set<String>()
        for right in v2Rights {
            if let mapped = table[right] {
                rights.formUnion(mapped)
            } else {
                unknown.insert(right)
            }
        }
        return Result(rights: rights.sorted(), unknown: unknown.sorted())
    }

    /// The `right-unknown` warning for dropped rights, or nil when none were dropped.
    static func unknownRightsWarning(_ unknown: [String], entity: EntityRef, holder: String) -> MappingWarning? {
        guard !unknown.isEmpty else { return nil }
        let list = unknown.map { "\"\($0)\"" }.joined(separator: ", ")
        return MappingWarning(
            .rightUnknown, entity,
            "\(holder): v2 right(s) \(list) have no v3 twin and are dropped; grant an equivalent right in v3 by hand if it is needed")
    }
}
