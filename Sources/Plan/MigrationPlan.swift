import Foundation
import Mapping
import V3Model

/// What a step does. The raw value is what renderings print; it never changes.
public enum StepKind: String, Codable, Hashable, Sendable, CaseIterable, Comparable {
    /// IS: create the application (`POST /api/v3/{users|organizations}/{owner}/applications`).
    case applicationCreate = "application-create"
    /// IS: set an application collaborator.
    case applicationCollaborator = "application-collaborator"
    /// IS: create an application API key.
    case applicationAPIKey = "application-api-key"
    /// AS: set the application link's default payload formatters.
    case applicationLink = "application-link"
    /// IS: create the gateway.
    case gatewayCreate = "gateway-create"
    /// IS: set a gateway collaborator.
    case gatewayCollaborator = "gateway-collaborator"
    /// `POST /gateways/{id}/api-keys`: the gateway's link key.
    case gatewayAPIKey = "gateway-api-key"
    /// IS: create the end device.
    case deviceIS = "device-is"
    /// JS: set the OTAA device's root key and addresses.
    case deviceJS = "device-js"
    /// NS: set the device's LoRaWAN settings (and session).
    case deviceNS = "device-ns"
    /// AS: set the device's EUIs (and session).
    case deviceAS = "device-as"

    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// The request entity a step sends, with the parent it belongs to where the URL needs it.
public indirect enum StepPayload: Hashable, Sendable, Encodable {
    case application(V3Application)
    case applicationCollaborator(applicationID: String, V3Collaborator)
    case applicationAPIKey(applicationID: String, V3APIKey)
    case applicationLink(applicationID: String, V3ApplicationLink)
    case gateway(V3Gateway)
    case gatewayCollaborator(gatewayID: String, V3Collaborator)
    case gatewayAPIKey(gatewayID: String, V3APIKey)
    case deviceIS(V3ISEndDevice)
    case deviceJS(V3JSEndDevice)
    case deviceNS(V3NSEndDevice)
    case deviceAS(V3ASEndDevice)

    /// The field mask that goes with the request (Update/Set masks; empty for collaborators and for
    /// creates, which take none, but listed for reconcile reads).
    public var fieldMask: [String] {
        switch self {
        case .application(let value): return value.fieldMask
        case .applicationCollaborator, .gatewayCollaborator: return []
        case .applicationAPIKey(_, let value), .gatewayAPIKey(_, let value): return value.fieldMask
        case .applicationLink(_, let value): return value.fieldMask
        case .gateway(let value): return value.fieldMask
        case .deviceIS(let value): return value.fieldMask
        case .deviceJS(let value): return value.fieldMask
        case .deviceNS(let value): return value.fieldMask
        case .deviceAS(let value): return value.fieldMask
        }
    }

    /// Encodes the entity alone, in its v3 JSON shape.
    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .application(let value): try value.encode(to: encoder)
        case .applicationCollaborator(_, let value), .gatewayCollaborator(_, let value): try value.encode(to: encoder)
        case .applicationAPIKey(_, let value), .gatewayAPIKey(_, let value): try value.encode(to: encoder)
        case .applicationLink(_, let value): try value.encode(to: encoder)
        case .gateway(let value): try value.encode(to: encoder)
        case .deviceIS(let value): try value.encode(to: encoder)
        case .deviceJS(let value): try value.encode(to: encoder)
        case .deviceNS(let value): try value.encode(to: encoder)
        case .deviceAS(let value): try value.encode(to: encoder)
        }
    }
}

/// One request of the migration: stable ID, kind, component, the entity it concerns, what it sends
/// and the steps that must be done first.
///
/// IDs: `application:<app>:create`, `application:<app>:collaborator:user:<user>`,
/// `application:<app>:api-key:<escaped v2 key name>`, `application:<app>:link`, `gateway:<gw>:create`,
/// `gateway:<gw>:collaborator:user:<user>`, `device:<app>/<dev>:is|js|ns|as` (v3 IDs).
public struct PlanStep: Hashable, Sendable, Encodable {
    public var id: String
    public var kind: StepKind
    public var component: V3Component
    public var entity: EntityRef
    public var payload: StepPayload
    /// IDs of earlier steps this one needs.
    public var dependsOn: [String]

    public init(id: String, kind: StepKind, component: V3Component, entity: EntityRef, payload: StepPayload, dependsOn: [String]) {
        self.id = id
        self.kind = kind
        self.component = component
        self.entity = entity
        self.payload = payload
        self.dependsOn = dependsOn
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, component, entity, payload
        case dependsOn = "depends_on"
        case fieldMask = "field_mask"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(kind, forKey: .kind)
        try container.encode(component, forKey: .component)
        try container.encode(entity, forKey: .entity)
        try container.encode(dependsOn, forKey: .dependsOn)
        try container.encode(payload.fieldMask, forKey: .fieldMask)
        try container.encode(payload, forKey: .payload)
    }
}

/// Counts of a plan: entities planned and skipped per kind, steps per kind and component, devices per
/// activation, warnings per code.
public struct PlanSummary: Hashable, Sendable, Encodable {
    /// Planned and skipped entities of one kind.
    public struct EntityCounts: Hashable, Sendable, Encodable {
        public var planned: Int
        public var skipped: Int

        public init(planned: Int, skipped: Int) {
            self.planned = planned
            self.skipped = skipped
        }
    }

    /// Every `EntityKind` but `configuration`, zeros included.
    public var entities: [String: EntityCounts]
    /// Every `StepKind`, zeros included.
    public var steps: [String: Int]
    /// Every component, zeros included.
    public var components: [String: Int]
    /// Every `DeviceActivation`, zeros included.
    public var devices: [String: Int]
    /// Only the codes that occur.
    public var warnings: [String: Int]
    public var renames: Int
    public var totalSteps: Int

    enum CodingKeys: String, CodingKey {
        case entities, steps, components, devices, warnings, renames
        case totalSteps = "total_steps"
    }
}

/// The dry run's result: ordered steps, renames, warnings, skipped entities and a summary.
///
/// Steps are in dependency order (every step after the steps it depends on): per application its
/// create, collaborators, API keys, link, then per device IS, JS (OTAA only), NS, AS; then per gateway
/// its create and collaborators. Nothing in a plan depends on time or chance: the same snapshot and
/// options give the same plan.
public struct MigrationPlan: Hashable, Sendable {
    /// The format name of the JSON rendering.
    public static let formatName = "ttn-migrate/plan"
    /// The JSON rendering's schema version.
    public static let formatVersion = 1

    public var owner: V3AccountIdentifiers
    public var steps: [PlanStep]
    public var renames: [IDRename]
    public var warnings: [MappingWarning]
    public var skipped: [SkippedEntity]
    public var summary: PlanSummary

    /// The IDs of every step.
    public var stepIDs: Set<String> { Set(steps.map(\.id)) }
}
