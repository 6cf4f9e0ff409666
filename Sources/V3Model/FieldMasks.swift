import Foundation
import ReferenceData

/// The RPCs whose field masks this tool sends, by their full gRPC names (keys of `v3-fieldmasks.json`).
public enum V3RPC: String, Sendable, CaseIterable {
    case applicationUpdate = "/ttn.lorawan.v3.ApplicationRegistry/Update"
    case applicationGet = "/ttn.lorawan.v3.ApplicationRegistry/Get"
    case applicationAPIKeyUpdate = "/ttn.lorawan.v3.ApplicationAccess/UpdateAPIKey"
    case gatewayUpdate = "/ttn.lorawan.v3.GatewayRegistry/Update"
    case gatewayGet = "/ttn.lorawan.v3.GatewayRegistry/Get"
    case endDeviceUpdate = "/ttn.lorawan.v3.EndDeviceRegistry/Update"
    case endDeviceGet = "/ttn.lorawan.v3.EndDeviceRegistry/Get"
    case joinServerSet = "/ttn.lorawan.v3.JsEndDeviceRegistry/Set"
    case joinServerGet = "/ttn.lorawan.v3.JsEndDeviceRegistry/Get"
    case networkServerSet = "/ttn.lorawan.v3.NsEndDeviceRegistry/Set"
    case networkServerGet = "/ttn.lorawan.v3.NsEndDeviceRegistry/Get"
    case applicationServerSet = "/ttn.lorawan.v3.AsEndDeviceRegistry/Set"
    case applicationServerGet = "/ttn.lorawan.v3.AsEndDeviceRegistry/Get"
    case applicationServerSetLink = "/ttn.lorawan.v3.As/SetLink"
    case applicationServerGetLink = "/ttn.lorawan.v3.As/GetLink"
}

/// A field mask the server would refuse: names the RPC and the forbidden paths.
public struct V3FieldMaskError: Error, CustomStringConvertible, Sendable, Equatable {
    public let rpc: String
    public let forbiddenPaths: [String]

    public init(rpc: String, forbiddenPaths: [String]) {
        self.rpc = rpc
        self.forbiddenPaths = forbiddenPaths
    }

    public var description: String {
        "field mask for \(rpc) has path(s) the server forbids: \(forbiddenPaths.joined(separator: ", ")). This is a bug in ttn-migrate; please report it."
    }
}

/// The allowed field-mask paths per RPC (`v3-fieldmasks.json`, `reference/v3-api.md` §2), parsed once.
///
/// The server matches each requested path exactly against the allowed set (§2.1), so the client checks
/// its own masks before sending.
public enum V3FieldMasks {
    static let allowed: [String: Set<String>] = {
        do {
            let table = try JSONDecoder().decode([String: [String]].self, from: Data(ReferenceData.fieldMasks.utf8))
            return table.mapValues(Set.init)
        } catch {
            preconditionFailure("embedded v3-fieldmasks.json does not parse: \(error)")
        }
    }()

    static let zero: [String: [String: [String]]] = {
        do {
            return try JSONDecoder().decode([String: [String: [String]]].self, from: Data(ReferenceData.fieldMasksZero.utf8))
        } catch {
            preconditionFailure("embedded v3-fieldmasks-zero.json does not parse: \(error)")
        }
    }()

    /// The paths the RPC allows; nil when the table has no entry for it.
    public static func allowedPaths(for rpc: String) -> Set<String>? { allowed[rpc] }

    /// The paths the RPC allows.
    public static func allowedPaths(for rpc: V3RPC) -> Set<String> { allowed[rpc.rawValue] ?? [] }

    /// The requested paths the RPC forbids, in request order (empty: the mask is valid).
    public static func forbiddenPaths(_ paths: [String], for rpc: V3RPC) -> [String] {
        let allowedPaths = allowedPaths(for: rpc)
        return paths.filter { !allowedPaths.contains($0) }
    }

    /// Throws when any requested path is forbidden for the RPC.
    public static func validate(_ paths: [String], for rpc: V3RPC) throws(V3FieldMaskError) {
        let forbidden = forbiddenPaths(paths, for: rpc)
        if !forbidden.isEmpty { throw V3FieldMaskError(rpc: rpc.rawValue, forbiddenPaths: forbidden) }
    }

    /// For a "Set" RPC: the sub-paths of `path` that must be zero in the request (§2.3).
    public static func mustBeZero(under path: String, for rpc: V3RPC) -> [String] {
        zero[rpc.rawValue]?[path] ?? []
    }
}

/// Which components read and write each end-device field (`lorawan-stack-sdk-js-device-entity-map.json`).
public enum V3DeviceEntityMap {
    /// Readers and writers of one field path.
    public struct Ownership: Hashable, Sendable {
        public var readers: Set<V3Component>
        /// Empty for read-only fields.
        public var writers: Set<V3Component>
    }

    /// Every path of the map, flattened (`session.keys.app_s_key.key` → its ownership).
    static let byPath: [String: Ownership] = {
        guard let object = try? JSONSerialization.jsonObject(with: Data(ReferenceData.deviceEntityMap.utf8)),
              let map = object as? [String: Any]
        else { preconditionFailure("embedded device-entity-map.json does not parse") }
        var result: [String: Ownership] = [:]
        func walk(_ node: Any, path: String) {
            if let dictionary = node as? [String: Any] {
                for (key, child) in dictionary {
                    if key == "_root" {
                        walk(child, path: path)
                    } else {
                        walk(child, path: path.isEmpty ? key : path + "." + key)
                    }
                }
            } else if let pair = node as? [Any], pair.count == 2 {
                result[path] = Ownership(readers: components(pair[0]), writers: components(pair[1]))
            }
        }
        walk(map, path: "")
        return result
    }()

    /// The ownership of a dotted field path (`session.keys.app_s_key.key`), or nil for unknown paths.
    public static func ownership(of path: String) -> Ownership? { byPath[path] }

    private static func components(_ value: Any) -> Set<V3Component> {
        if let name = value as? String { return Set([V3Component(rawValue: name)].compactMap { $0 }) }
        if let names = value as? [String] { return Set(names.compactMap(V3Component.init(rawValue:))) }
        return []
    }
}
