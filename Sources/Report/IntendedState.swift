import Foundation
import Mapping
import Plan
import V3Client
import V3Model

/// An entity the migration intends to be in v3, with the JSON v3 should return for it.
public struct IntendedRecord: Hashable, Sendable {
    public var v2ID: String
    /// The v3 ID (a path for nested entities, e.g. `app/user`).
    public var v3ID: String
    /// The entity as the migration writes it (zero values may be absent).
    public var expected: V3JSONValue

    public init(v2ID: String, v3ID: String, expected: V3JSONValue) {
        self.v2ID = v2ID
        self.v3ID = v3ID
        self.expected = expected
    }
}

/// An intended collaborator of an application or gateway.
public struct IntendedCollaborator: Hashable, Sendable {
    public var account: V3AccountIdentifiers
    /// `expected` holds `ids` and `rights`.
    public var record: IntendedRecord

    public init(account: V3AccountIdentifiers, record: IntendedRecord) {
        self.account = account
        self.record = record
    }
}

/// An intended application API key: compared by name and rights (v3 never returns a key's secret again).
public struct IntendedAPIKey: Hashable, Sendable {
    /// The name of the access key in v2.
    public var v2Name: String
    /// The planned v3 name, `v2: <name> [<run tag>]`.
    public var name: String
    /// `expected` holds `name` and `rights`.
    public var record: IntendedRecord

    public init(v2Name: String, name: String, record: IntendedRecord) {
        self.v2Name = v2Name
        self.name = name
        self.record = record
    }
}

/// What one v3 component should hold of a device.
public struct IntendedDevicePart: Hashable, Sendable {
    public var server: V3Server
    /// GET path of the part, below `/api/v3`.
    public var readPath: String
    public var expected: V3JSONValue

    public init(server: V3Server, readPath: String, expected: V3JSONValue) {
        self.server = server
        self.readPath = readPath
        self.expected = expected
    }
}

/// An intended end device: its Identity Server record and its Join (OTAA only), Network and Application
/// Server parts.
public struct IntendedDevice: Hashable, Sendable {
    public var v2ID: String
    /// `app/device`.
    public var v3ID: String
    public var deviceID: String
    /// In flow order: IS, JS (OTAA only), NS, AS.
    public var parts: [IntendedDevicePart]

    public init(v2ID: String, v3ID: String, deviceID: String, parts: [IntendedDevicePart]) {
        self.v2ID = v2ID
        self.v3ID = v3ID
        self.deviceID = deviceID
        self.parts = parts
    }
}

/// An intended application with everything under it.
public struct IntendedApplication: Hashable, Sendable {
    public var record: IntendedRecord
    public var collaborators: [IntendedCollaborator]
    public var apiKeys: [IntendedAPIKey]
    /// The Application Server link (default payload formatters), when the plan sets one.
    public var link: IntendedRecord?
    public var devices: [IntendedDevice]

    public init(
        record: IntendedRecord, collaborators: [IntendedCollaborator] = [], apiKeys: [IntendedAPIKey] = [], link: IntendedRecord? = nil,
        devices: [IntendedDevice] = []
    ) {
        self.record = record
        self.collaborators = collaborators
        self.apiKeys = apiKeys
        self.link = link
        self.devices = devices
    }

    public var id: String { record.v3ID }
}

/// An intended gateway with its collaborators.
public struct IntendedGateway: Hashable, Sendable {
    public var record: IntendedRecord
    public var collaborators: [IntendedCollaborator]
    /// The link key (`RIGHT_GATEWAY_LINK`).
    public var apiKeys: [IntendedAPIKey]

    public init(record: IntendedRecord, collaborators: [IntendedCollaborator] = [], apiKeys: [IntendedAPIKey] = []) {
        self.record = record
        self.collaborators = collaborators
        self.apiKeys = apiKeys
    }

    public var id: String { record.v3ID }
}

/// A plan that cannot be compared: its entities do not encode as the JSON v3 speaks.
public struct IntendedStateError: Error, Sendable, CustomStringConvertible {
    public var description: String
}

/// The v3 state the migration intends: the planned entities minus what the plan (or the journal's run)
/// skipped, which is listed apart with its reason.
public struct IntendedState: Hashable, Sendable {
    public var owner: V3AccountIdentifiers
    /// The run tag in API key names; nil: match `v2: <name>` keys of any run (no journal given).
    public var runTag: String?
    /// In plan order.
    public var applications: [IntendedApplication]
    /// In plan order.
    public var gateways: [IntendedGateway]
    /// What the plan skipped, then what the run skipped (with its children), in that order.
    public var skipped: [DiffSkip]

    public init(
        owner: V3AccountIdentifiers, runTag: String?, applications: [IntendedApplication], gateways: [IntendedGateway], skipped: [DiffSkip]
    ) {
        self.owner = owner
        self.runTag = runTag
        self.applications = applications
        self.gateways = gateways
        self.skipped = skipped
    }

    /// The intended state of a plan.
    ///
    /// `skippedSteps` (step ID → reason) are steps a `run` marked skipped (a collaborator without a v3
    /// account, an ID taken by someone else): their entities are listed apart, and so are the children of a
    /// skipped application or gateway. Entities nobody skipped are intended.
    public init(plan: MigrationPlan, runTag: String?, skippedSteps: [String: String] = [:]) throws {
        owner = plan.owner
        self.runTag = runTag
        skipped = plan.skipped.map { DiffSkip(kind: $0.entity.kind, v2ID: $0.entity.v2ID, v3ID: $0.entity.v3ID, reason: $0.reason) }
        applications = []
        gateways = []

        // Entities of skipped steps, and parents whose skip carries over to their children.
        var skippedEntities: [EntityRef: String] = [:]
        var skippedParents: [String: String] = [:]
        for step in plan.steps {
            guard let reason = skippedSteps[step.id] else { continue }
            if skippedEntities[step.entity] == nil { skippedEntities[step.entity] = reason }
            switch step.kind {
            case .applicationCreate: skippedParents["application:\(step.entity.v3ID ?? step.entity.v2ID)"] = reason
            case .gatewayCreate: skippedParents["gateway:\(step.entity.v3ID ?? step.entity.v2ID)"] = reason
            default: break
            }
        }
        var listedSkips = Set<EntityRef>()
        func skipReason(_ step: PlanStep, parent: String?) -> String? {
            if let reason = skippedEntities[step.entity] { return reason }
            if let parent, let reason = skippedParents[parent] {
                let parentText = parent.replacingOccurrences(of: ":", with: " ")
                return "\(parentText) is skipped: \(reason)"
            }
            return nil
        }

        var applicationIndex: [String: Int] = [:]
        var gatewayIndex: [String: Int] = [:]
        var deviceIndex: [String: (application: Int, device: Int)] = [:]
        func appendPart(_ server: V3Server, prefix: String, ids: V3EndDeviceIdentifiers, expected: V3JSONValue) {
            let key = "\(ids.applicationIDs.applicationID)/\(ids.deviceID)"
            guard let position = deviceIndex[key] else { return }
            applications[position.application].devices[position.device].parts.append(
                IntendedDevicePart(server: server, readPath: prefix + Self.devicePath(ids), expected: expected))
        }

        // Every step as the JSON v3 speaks, on all cores (the larger part of building the state), built as a
        // value without text in between (JSONBodyEncoderTests compares it with `JSONEncoder`'s on every step
        // of a planned estate).
        let encoder = JSONValueEncoder()
        let encoded = ConcurrentMap.map(plan.steps) { step in Result { try encoder.encode(step.payload) } }
        for (step, encodedStep) in zip(plan.steps, encoded) {
            let entity = step.entity
            let v3ID = entity.v3ID ?? entity.v2ID
            let parent: String?
            switch step.payload {
            case .application, .gateway: parent = nil
            case .applicationCollaborator(let applicationID, _), .applicationAPIKey(let applicationID, _), .applicationLink(let applicationID, _):
                parent = "application:\(applicationID)"
            case .deviceIS(let device): parent = "application:\(device.ids.applicationIDs.applicationID)"
            case .deviceJS(let device): parent = "application:\(device.ids.applicationIDs.applicationID)"
            case .deviceNS(let device): parent = "application:\(device.ids.applicationIDs.applicationID)"
            case .deviceAS(let device): parent = "application:\(device.ids.applicationIDs.applicationID)"
            case .gatewayCollaborator(let gatewayID, _), .gatewayAPIKey(let gatewayID, _): parent = "gateway:\(gatewayID)"
            }
            if let reason = skipReason(step, parent: parent) {
                if listedSkips.insert(entity).inserted {
                    skipped.append(DiffSkip(kind: entity.kind, v2ID: entity.v2ID, v3ID: entity.v3ID, reason: reason))
                }
                continue
            }
            let expected: V3JSONValue
            do {
                expected = try encodedStep.get()
            } catch {
                throw IntendedStateError(description: "step \(step.id) of the plan does not encode as v3 JSON (\(error)); report this as a bug of ttn-migrate")
            }
            let record = IntendedRecord(v2ID: entity.v2ID, v3ID: v3ID, expected: expected)

            switch step.payload {
            case .application(let application):
                applicationIndex[application.ids.applicationID] = applications.count
                applications.append(IntendedApplication(record: record))
            case .applicationCollaborator(let applicationID, let collaborator):
                guard let index = applicationIndex[applicationID] else { continue }
                applications[index].collaborators.append(IntendedCollaborator(account: collaborator.ids, record: record))
            case .applicationAPIKey(let applicationID, let key):
                guard let index = applicationIndex[applicationID] else { continue }
                let v2Name = entity.v2ID.split(separator: "/", maxSplits: 1).last.map(String.init) ?? entity.v2ID
                applications[index].apiKeys.append(IntendedAPIKey(v2Name: v2Name, name: key.name, record: record))
            case .applicationLink(let applicationID, _):
                guard let index = applicationIndex[applicationID] else { continue }
                applications[index].link = record
            case .deviceIS(let device):
                guard let index = applicationIndex[device.ids.applicationIDs.applicationID] else { continue }
                deviceIndex["\(device.ids.applicationIDs.applicationID)/\(device.ids.deviceID)"] = (index, applications[index].devices.count)
                applications[index].devices.append(IntendedDevice(
                    v2ID: entity.v2ID, v3ID: v3ID, deviceID: device.ids.deviceID,
                    parts: [IntendedDevicePart(server: .identityServer, readPath: Self.devicePath(device.ids), expected: expected)]))
            case .deviceJS(let device):
                appendPart(.joinServer, prefix: "/js", ids: device.ids, expected: expected)
            case .deviceNS(let device):
                appendPart(.networkServer, prefix: "/ns", ids: device.ids, expected: expected)
            case .deviceAS(let device):
                appendPart(.applicationServer, prefix: "/as", ids: device.ids, expected: expected)
            case .gateway(let gateway):
                gatewayIndex[gateway.ids.gatewayID] = gateways.count
                gateways.append(IntendedGateway(record: record))
            case .gatewayCollaborator(let gatewayID, let collaborator):
                guard let index = gatewayIndex[gatewayID] else { continue }
                gateways[index].collaborators.append(IntendedCollaborator(account: collaborator.ids, record: record))
            case .gatewayAPIKey(let gatewayID, let key):
                guard let index = gatewayIndex[gatewayID] else { continue }
                let v2Name = entity.v2ID.split(separator: "/", maxSplits: 1).last.map(String.init) ?? entity.v2ID
                gateways[index].apiKeys.append(IntendedAPIKey(v2Name: v2Name, name: key.name, record: record))
            }
        }
    }

    /// `/applications/{app}/devices/{device}`: the IS path; the JS, NS and AS paths put `/js`, `/ns`, `/as`
    /// before it (`reference/v3-api.md` §6).
    static func devicePath(_ ids: V3EndDeviceIdentifiers) -> String {
        "/applications/\(V3StateReader.escape(ids.applicationIDs.applicationID))/devices/\(V3StateReader.escape(ids.deviceID))"
    }

    /// The distinct collaborator accounts the intended state names, other than the owner, sorted.
    public var collaboratorAccounts: [V3AccountIdentifiers] {
        var accounts = Set<V3AccountIdentifiers>()
        for application in applications { accounts.formUnion(application.collaborators.map(\.account)) }
        for gateway in gateways { accounts.formUnion(gateway.collaborators.map(\.account)) }
        accounts.remove(owner)
        return accounts.sorted()
    }
}
