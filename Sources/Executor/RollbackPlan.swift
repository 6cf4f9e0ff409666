import Foundation
import Journal
import Plan
import V3Client
import V3Model

/// What `ttn-migrate rollback` deletes: the undo of every `done` step of one journal, in reverse
/// dependency order (DESIGN.md §1 "delete in v3 what this journal created").
///
/// The deletions come from the plan the journal's runs executed, rebuilt from the v2 estate frozen
/// beside the journal and the journal's run tag, so they are the same requests `run` would reconcile.
/// Only `done` steps are undone: a step never done created nothing this journal knows of, and entities
/// the journal did not create are never touched. Per kind (`reference/v3-api.md` §3–§6, §16):
/// - device: `DELETE` from the AS, NS, JS, then IS registries (each registry step on its own);
/// - API key: `DELETE /applications/{id}/api-keys/{key_id}` with the key ID the journal stored, or, if it
///   holds none, every key of the application named exactly as this migration named it (the name carries
///   the run tag);
/// - collaborator: removed explicitly (`DELETE …/applications/{id}/collaborator/{user|organization}/{id}`,
///   gateways `…/collaborators/…`), because a soft-deleted entity keeps its memberships until an admin
///   purges it, and a collaborator holding the delete right could restore it;
/// - application link (payload formatters): `DELETE /as/applications/{id}/link`: the AS keeps it apart from
///   the IS application;
/// - gateway and application last: soft deletes, their IDs stay taken.
public struct RollbackPlan: Sendable {
    /// A done step that cannot be undone because the rebuilt plan no longer holds it.
    public struct Unresolved: Sendable, Hashable {
        public var stepID: String
        /// e.g. `application sensors`.
        public var entity: String
    }

    /// A step that did not finish: whatever it may have created in v3 is not deleted.
    public struct Unfinished: Sendable, Hashable {
        public var stepID: String
        public var state: StepState
    }

    /// An application or gateway whose delete is soft: its ID stays taken in v3.
    public struct SoftDelete: Sendable, Hashable {
        /// The create step undone.
        public var stepID: String
        /// `application` or `gateway`.
        public var kind: String
        public var id: String
        /// A gateway's EUI, released by the delete.
        public var eui: String?
    }

    /// The deletions, in the order they are made.
    public var steps: [UndoStep]
    /// Done steps not in the rebuilt plan: not undone.
    public var unresolved: [Unresolved]
    /// Steps `in_flight` or `failed`: not undone.
    public var unfinished: [Unfinished]
    /// Steps a previous rollback already undid.
    public var alreadyRolledBack: [String]
    /// Applications and gateways among `steps`.
    public var softDeletes: [SoftDelete]
    /// Devices with at least one registry entry among `steps`.
    public var devices: Int
    /// API keys among `steps`.
    public var apiKeys: Int

    /// Builds the rollback of `journalSteps` (every step of the journal) against `plan` (rebuilt as `run`
    /// builds it); `apiKeys` are the journal's stored keys, for key IDs a step result lacks.
    public static func build(plan: MigrationPlan, journalSteps: [StepRecord], apiKeys: [APIKeyRecord]) throws -> RollbackPlan {
        let executable = try PlanExecution.steps(for: plan)
        var planSteps: [String: (PlanStep, ExecutionStep)] = [:]
        for (planStep, step) in zip(plan.steps, executable) { planSteps[step.id] = (planStep, step) }
        var storedKeyIDs: [String: String] = [:]
        for record in apiKeys where !record.key.keyID.isEmpty { storedKeyIDs[record.stepID] = record.key.keyID }

        var undo: [String: UndoAction] = [:]
        var unresolved: [Unresolved] = []
        var unfinished: [Unfinished] = []
        var rolledBack: [String] = []
        for record in journalSteps {
            switch record.state {
            case .done:
                guard let (planStep, step) = planSteps[record.id] else {
                    unresolved.append(Unresolved(stepID: record.id, entity: "\(record.entityType) \(record.entityKey)"))
                    continue
                }
                let keyID = record.result?["api_key_id"].flatMap { $0.isEmpty ? nil : $0 } ?? storedKeyIDs[record.id]
                undo[record.id] = action(for: planStep, step: step, apiKeyID: keyID)
            case .rolledBack:
                rolledBack.append(record.id)
            case .inFlight, .failed:
                unfinished.append(Unfinished(stepID: record.id, state: record.state))
            case .pending, .skipped:
                continue
            }
        }
        let ordered = UndoOrder.arrange(undo, in: executable)
        var softDeletes: [SoftDelete] = []
        var devices = Set<String>()
        var keys = 0
        for undoStep in ordered {
            guard let (planStep, step) = planSteps[undoStep.stepID] else { continue }
            switch planStep.payload {
            case .application(let application):
                softDeletes.append(SoftDelete(stepID: undoStep.stepID, kind: "application", id: application.ids.applicationID, eui: nil))
            case .gateway(let gateway):
                softDeletes.append(SoftDelete(stepID: undoStep.stepID, kind: "gateway", id: gateway.ids.gatewayID, eui: gateway.ids.eui?.hex))
            case .applicationAPIKey, .gatewayAPIKey:
                keys += 1
            case .deviceIS, .deviceJS, .deviceNS, .deviceAS:
                if let group = step.group { devices.insert(group) }
            case .applicationCollaborator, .gatewayCollaborator, .applicationLink:
                break
            }
        }
        return RollbackPlan(
            steps: ordered, unresolved: unresolved, unfinished: unfinished, alreadyRolledBack: rolledBack, softDeletes: softDeletes,
            devices: devices.count, apiKeys: keys)
    }

    /// Deletes a created API key by its ID, or by its name when the journal never learnt the ID.
    static func apiKeyAction(entityType: String, entityID: String, key: V3APIKey, apiKeyID: String?) -> UndoAction {
        let listPath = "/\(entityType)s/\(PlanExecution.escape(entityID))/api-keys"
        let summary = "delete API key \"\(key.name)\" of \(entityType) \(entityID)"
        if let apiKeyID {
            return UndoAction(deletion: .path(listPath + "/" + PlanExecution.escape(apiKeyID)), summary: summary)
        }
        return UndoAction(deletion: .apiKeyNamed(listPath: listPath, name: key.name), summary: summary)
    }

    /// The deletion that undoes one plan step.
    static func action(for planStep: PlanStep, step: ExecutionStep, apiKeyID: String?) -> UndoAction {
        let escape = PlanExecution.escape
        let deletePath = step.operation.deletePath
        switch planStep.payload {
        case .application(let application):
            return UndoAction(
                deletion: .path(deletePath ?? "/applications/\(escape(application.ids.applicationID))"),
                summary: "delete application \(application.ids.applicationID)")
        case .applicationCollaborator(let applicationID, let collaborator):
            // The application binding is `collaborator/…` (singular): `reference/v3-api.md` §4.
            return UndoAction(
                deletion: .path("/applications/\(escape(applicationID))/collaborator/\(collaborator.ids.kindName)/\(escape(collaborator.ids.id))"),
                summary: "remove collaborator \(collaborator.ids) from application \(applicationID)")
        case .applicationAPIKey(let applicationID, let key):
            return apiKeyAction(entityType: "application", entityID: applicationID, key: key, apiKeyID: apiKeyID)
        case .gatewayAPIKey(let gatewayID, let key):
            return apiKeyAction(entityType: "gateway", entityID: gatewayID, key: key, apiKeyID: apiKeyID)
        case .applicationLink(let applicationID, _):
            return UndoAction(
                deletion: .path(deletePath ?? "/as/applications/\(escape(applicationID))/link"),
                summary: "delete the link (default payload formatters) of application \(applicationID) from the Application Server")
        case .gateway(let gateway):
            return UndoAction(
                deletion: .path(deletePath ?? "/gateways/\(escape(gateway.ids.gatewayID))"), summary: "delete gateway \(gateway.ids.gatewayID)")
        case .gatewayCollaborator(let gatewayID, let collaborator):
            // The gateway binding is `collaborators/…` (plural): `reference/v3-api.md` §5.
            return UndoAction(
                deletion: .path("/gateways/\(escape(gatewayID))/collaborators/\(collaborator.ids.kindName)/\(escape(collaborator.ids.id))"),
                summary: "remove collaborator \(collaborator.ids) from gateway \(gatewayID)")
        case .deviceIS(let device):
            return deviceAction(device.ids, server: "Identity Server", prefix: "", deletePath: deletePath)
        case .deviceJS(let device):
            return deviceAction(device.ids, server: "Join Server", prefix: "/js", deletePath: deletePath)
        case .deviceNS(let device):
            return deviceAction(device.ids, server: "Network Server", prefix: "/ns", deletePath: deletePath)
        case .deviceAS(let device):
            return deviceAction(device.ids, server: "Application Server", prefix: "/as", deletePath: deletePath)
        }
    }

    private static func deviceAction(_ ids: V3EndDeviceIdentifiers, server: String, prefix: String, deletePath: String?) -> UndoAction {
        UndoAction(
            deletion: .path(deletePath ?? prefix + PlanExecution.devicePath(ids)),
            summary: "delete device \(ids.applicationIDs.applicationID)/\(ids.deviceID) from the \(server)")
    }
}
