import Foundation
import HTTP
import Mapping
import Plan
import V3Client
import V3Model

/// Turns plan steps into v3 operations: method, path, body, how to read back and how to undo
/// (paths: `reference/v3-api.md` §3–§6, §16).
public enum PlanExecution {
    /// The executable steps of a plan, in plan order.
    public static func steps(for plan: MigrationPlan) throws -> [ExecutionStep] {
        try plan.steps.map { try step(for: $0, owner: plan.owner) }
    }

    static func step(for step: PlanStep, owner: V3AccountIdentifiers) throws -> ExecutionStep {
        let ownerPath = owner.kindName == "user" ? "/users/\(escape(owner.id))" : "/organizations/\(escape(owner.id))"
        let summary = describe(step)
        switch step.payload {
        case .application(let application):
            let id = escape(application.ids.applicationID)
            return ExecutionStep(id: step.id, dependsOn: step.dependsOn, operation: V3Operation(
                kind: .create, server: .identityServer, method: "POST", path: ownerPath + "/applications",
                body: try body(["application": AnyEncodable(application), "collaborator": AnyEncodable(owner)]),
                readPath: "/applications/\(id)", readFieldMask: application.fieldMask, expected: try json(application),
                deletePath: "/applications/\(id)", summary: summary))

        case .applicationCollaborator(let applicationID, let collaborator):
            let app = escape(applicationID)
            return ExecutionStep(id: step.id, dependsOn: step.dependsOn, operation: V3Operation(
                kind: .upsert, server: .identityServer, method: "PUT", path: "/applications/\(app)/collaborators",
                body: try body(["collaborator": AnyEncodable(collaborator)]),
                readPath: "/applications/\(app)/collaborator/\(collaborator.ids.kindName)/\(escape(collaborator.ids.id))",
                expected: try json(collaborator), deletePath: nil, summary: summary))

        case .applicationAPIKey(let applicationID, let key):
            return try apiKeyStep(step, entityType: "application", entityID: applicationID, key: key, summary: summary)
        case .gatewayAPIKey(let gatewayID, let key):
            return try apiKeyStep(step, entityType: "gateway", entityID: gatewayID, key: key, summary: summary)

        case .applicationLink(let applicationID, let link):
            let path = "/as/applications/\(escape(applicationID))/link"
            return ExecutionStep(id: step.id, dependsOn: step.dependsOn, operation: V3Operation(
                kind: .upsert, server: .applicationServer, method: "PUT", path: path,
                body: try body(["link": AnyEncodable(link), "field_mask": AnyEncodable(FieldMask(paths: link.fieldMask))]),
                readPath: path, readFieldMask: link.fieldMask, expected: try json(link), deletePath: path, summary: summary))

        case .gateway(let gateway):
            let id = escape(gateway.ids.gatewayID)
            return ExecutionStep(id: step.id, dependsOn: step.dependsOn, operation: V3Operation(
                kind: .create, server: .identityServer, method: "POST", path: ownerPath + "/gateways",
                body: try body(["gateway": AnyEncodable(gateway), "collaborator": AnyEncodable(owner)]),
                readPath: "/gateways/\(id)", readFieldMask: gateway.fieldMask, expected: try json(gateway),
                deletePath: "/gateways/\(id)", summary: summary))

        case .gatewayCollaborator(let gatewayID, let collaborator):
            let gateway = escape(gatewayID)
            return ExecutionStep(id: step.id, dependsOn: step.dependsOn, operation: V3Operation(
                kind: .upsert, server: .identityServer, method: "PUT", path: "/gateways/\(gateway)/collaborators",
                body: try body(["collaborator": AnyEncodable(collaborator)]),
                readPath: "/gateways/\(gateway)/collaborator/\(collaborator.ids.kindName)/\(escape(collaborator.ids.id))",
                expected: try json(collaborator), deletePath: nil, summary: summary))

        case .deviceIS(let device):
            let path = devicePath(device.ids)
            return ExecutionStep(id: step.id, dependsOn: step.dependsOn, operation: V3Operation(
                kind: .create, server: .identityServer, method: "POST", path: "/applications/\(escape(device.ids.applicationIDs.applicationID))/devices",
                body: try JSONObjectWriter.object { $0.object("end_device", device) },
                readPath: path, readFieldMask: device.fieldMask, expected: try json(device), deletePath: path, summary: summary),
                group: deviceGroup(device.ids))

        case .deviceJS(let device):
            return registryStep(step, server: .joinServer, prefix: "/js", device: device, summary: summary)
        case .deviceNS(let device):
            // A carried session starts when the request is sent (DESIGN.md §4); the plan leaves it empty to
            // stay the same on every run, and the read-back ignores it.
            return registryStep(step, server: .networkServer, prefix: "/ns", device: device, summary: summary) {
                $0.stampingSessionStart(at: Date())
            }
        case .deviceAS(let device):
            return registryStep(step, server: .applicationServer, prefix: "/as", device: device, summary: summary)
        }
    }

    /// `POST /applications|gateways/{id}/api-keys`; v3 shows the secret once, so the ledger stores it
    /// with the step's completion (`APIKeyInfo`).
    static func apiKeyStep(_ step: PlanStep, entityType: String, entityID: String, key: V3APIKey, summary: String) throws -> ExecutionStep {
        let listPath = "/\(entityType)s/\(escape(entityID))/api-keys"
        let v2Name = step.entity.v2ID.split(separator: "/", maxSplits: 1).last.map(String.init) ?? step.entity.v2ID
        return ExecutionStep(
            id: step.id, dependsOn: step.dependsOn,
            operation: V3Operation(
                kind: .createAPIKey(name: key.name), server: .identityServer, method: "POST", path: listPath,
                body: try body(["name": AnyEncodable(key.name), "rights": AnyEncodable(key.rights)]),
                readPath: listPath, expected: try json(key), deletePath: nil, summary: summary),
            apiKey: APIKeyInfo(
                entityType: entityType, entityID: entityID, name: key.name, rights: key.rights.map(\.rawValue), replacesV2KeyName: v2Name))
    }

    /// JS/NS/AS `Set`: a PUT upsert with a field mask (`reference/v3-api.md` §6). `sending` makes the
    /// device that is sent (with its own mask) from the planned one, which the read-back expects.
    static func registryStep<Device: RegistryEndDevice>(
        _ step: PlanStep, server: V3Server, prefix: String, device: Device, summary: String,
        sending: @escaping @Sendable (Device) -> Device = { $0 }
    ) -> ExecutionStep {
        let path = prefix + devicePath(device.ids)
        return ExecutionStep(id: step.id, dependsOn: step.dependsOn, operation: V3Operation(
            kind: .upsert, server: server, method: "PUT", path: path,
            body: try registryBody(sending(device)),
            readPath: path, readFieldMask: device.fieldMask, expected: try json(device), deletePath: path, summary: summary),
            group: deviceGroup(device.ids))
    }

    /// `{"end_device": …, "field_mask": {"paths": […]}}`, written without `Encodable` (most requests are these:
    /// `JSONMembersWritable`).
    static func registryBody<Device: RegistryEndDevice>(_ device: Device) throws -> Data {
        try JSONObjectWriter.object { writer in
            writer.object("end_device", device)
            writer.object("field_mask") { $0.strings("paths", device.fieldMask) }
        }
    }

    /// `/applications/{app}/devices/{device}`, each ID percent-escaped: the IS path; the JS, NS and AS
    /// paths put `/js`, `/ns`, `/as` before it.
    public static func devicePath(_ ids: V3EndDeviceIdentifiers) -> String {
        "/applications/\(escape(ids.applicationIDs.applicationID))/devices/\(escape(ids.deviceID))"
    }

    static func deviceGroup(_ ids: V3EndDeviceIdentifiers) -> String {
        "device:\(ids.applicationIDs.applicationID)/\(ids.deviceID)"
    }

    /// e.g. "create application my-app (v2 my_app)".
    static func describe(_ step: PlanStep) -> String {
        let v3 = step.entity.v3ID ?? step.entity.v2ID
        let origin = step.entity.v2ID == v3 ? "" : " (v2 \(step.entity.v2ID))"
        switch step.kind {
        case .applicationCreate: return "create application \(v3)\(origin)"
        case .applicationCollaborator: return "set collaborator \(v3)\(origin)"
        case .applicationAPIKey: return "create API key \(v3)\(origin)"
        case .applicationLink: return "set payload formatters of application \(v3)"
        case .gatewayCreate: return "create gateway \(v3)\(origin)"
        case .gatewayCollaborator: return "set gateway collaborator \(v3)\(origin)"
        case .gatewayAPIKey: return "create gateway link key \(v3)"
        case .deviceIS: return "register device \(v3) in the Identity Server\(origin)"
        case .deviceJS: return "set device \(v3) in the Join Server"
        case .deviceNS: return "set device \(v3) in the Network Server"
        case .deviceAS: return "set device \(v3) in the Application Server"
        }
    }

    static func escape(_ component: String) -> String { PathSegment.escape(component) }

    /// A JSON object of `members`, in the order given.
    static func body(_ members: KeyValuePairs<String, AnyEncodable>) throws -> Data {
        try JSONBodyEncoder().encode(RequestBody(members: members))
    }

    static func json<T: Encodable>(_ value: T) throws -> V3JSONValue {
        try JSONValueParser.parse(JSONBodyEncoder().encode(value))
    }
}

/// A device part that a JS, NS or AS registry stores with a `Set`.
protocol RegistryEndDevice: Encodable, JSONMembersWritable, Sendable {
    var ids: V3EndDeviceIdentifiers { get }
    var fieldMask: [String] { get }
}

extension V3JSEndDevice: RegistryEndDevice {}
extension V3NSEndDevice: RegistryEndDevice {}
extension V3ASEndDevice: RegistryEndDevice {}

/// `{"paths": [...]}`, the object form of a field mask.
struct FieldMask: Encodable {
    var paths: [String]
}

/// The top-level object of a request body, its members in the order given.
struct RequestBody: Encodable {
    let members: KeyValuePairs<String, AnyEncodable>

    private struct MemberKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: MemberKey.self)
        for (name, value) in members { try container.encode(value, forKey: MemberKey(stringValue: name)) }
    }
}

/// Type erasure for building request bodies from entities.
struct AnyEncodable: Encodable, Sendable {
    private let encodeValue: @Sendable (any Encoder) throws -> Void
    init<T: Encodable & Sendable>(_ value: T) { encodeValue = { try value.encode(to: $0) } }
    func encode(to encoder: any Encoder) throws { try encodeValue(encoder) }
}
