import Foundation
import Mapping
import V2Model
import V3Model

/// Builds the migration plan from a v2 snapshot and the configuration's mapping options.
public enum Planner {
    /// Validates the options, maps the estate (DESIGN.md §4) and orders its steps.
    /// The snapshot is consumed: it is released once mapped, before the steps are made.
    public static func plan(snapshot: consuming V2Snapshot, options: MappingOptions) throws(MappingOptionsError) -> MigrationPlan {
        let estate = try EstateMapper.map(snapshot, options: options)
        _ = consume snapshot
        return plan(estate: estate)
    }

    /// Orders the steps of a mapped estate and counts them.
    ///
    /// Each application's mapped devices are released once its steps hold them, so that a uniquely
    /// owned estate is never held twice; the steps of one entity share one `dependsOn` array.
    public static func plan(estate: consuming MappedEstate) -> MigrationPlan {
        var summary = summarize(estate: estate)
        var steps: [PlanStep] = []
        steps.reserveCapacity(estimatedStepCount(estate))

        for index in estate.applications.indices {
            let application = estate.applications[index]
            estate.applications[index].devices = []
            let appID = application.v3ID
            let create = "application:\(appID):create"
            let afterCreate = [create]
            steps.append(PlanStep(
                id: create, kind: .applicationCreate, component: .identityServer,
                entity: EntityRef(kind: .application, v2ID: application.v2ID, v3ID: appID),
                payload: .application(application.application), dependsOn: []))
            for collaborator in application.collaborators {
                let account = collaborator.collaborator.ids
                steps.append(PlanStep(
                    id: "application:\(appID):collaborator:\(account.kindName):\(account.id)",
                    kind: .applicationCollaborator, component: .identityServer,
                    entity: EntityRef(
                        kind: .applicationCollaborator, v2ID: "\(application.v2ID)/\(collaborator.v2Username)",
                        v3ID: "\(appID)/\(account.id)"),
                    payload: .applicationCollaborator(applicationID: appID, collaborator.collaborator), dependsOn: afterCreate))
            }
            for key in application.apiKeys {
                steps.append(PlanStep(
                    id: "application:\(appID):api-key:\(key.stepKey)", kind: .applicationAPIKey, component: .identityServer,
                    entity: EntityRef(kind: .applicationAPIKey, v2ID: "\(application.v2ID)/\(key.v2Name)", v3ID: "\(appID)/\(key.apiKey.name)"),
                    payload: .applicationAPIKey(applicationID: appID, key.apiKey), dependsOn: afterCreate))
            }
            if let link = application.link {
                steps.append(PlanStep(
                    id: "application:\(appID):link", kind: .applicationLink, component: .applicationServer,
                    entity: EntityRef(kind: .applicationLink, v2ID: application.v2ID, v3ID: appID),
                    payload: .applicationLink(applicationID: appID, link), dependsOn: afterCreate))
            }
            for device in application.devices {
                let path = device.v3Path
                let entity = EntityRef(kind: .device, v2ID: "\(device.v2ApplicationID)/\(device.v2DeviceID)", v3ID: path)
                let isStep = "device:\(path):is"
                let afterIS = [isStep]
                steps.append(PlanStep(
                    id: isStep, kind: .deviceIS, component: .identityServer, entity: entity,
                    payload: .deviceIS(device.identityServer), dependsOn: afterCreate))
                if let joinServer = device.joinServer {
                    steps.append(PlanStep(
                        id: "device:\(path):js", kind: .deviceJS, component: .joinServer, entity: entity,
                        payload: .deviceJS(joinServer), dependsOn: afterIS))
                }
                steps.append(PlanStep(
                    id: "device:\(path):ns", kind: .deviceNS, component: .networkServer, entity: entity,
                    payload: .deviceNS(device.networkServer), dependsOn: afterIS))
                steps.append(PlanStep(
                    id: "device:\(path):as", kind: .deviceAS, component: .applicationServer, entity: entity,
                    payload: .deviceAS(device.applicationServer), dependsOn: afterIS))
            }
        }

        for gateway in estate.gateways {
            let gatewayID = gateway.v3ID
            let create = "gateway:\(gatewayID):create"
            let afterCreate = [create]
            steps.append(PlanStep(
                id: create, kind: .gatewayCreate, component: .identityServer,
                entity: EntityRef(kind: .gateway, v2ID: gateway.v2ID, v3ID: gatewayID),
                payload: .gateway(gateway.gateway), dependsOn: []))
            for collaborator in gateway.collaborators {
                let account = collaborator.collaborator.ids
                steps.append(PlanStep(
                    id: "gateway:\(gatewayID):collaborator:\(account.kindName):\(account.id)",
                    kind: .gatewayCollaborator, component: .identityServer,
                    entity: EntityRef(
                        kind: .gatewayCollaborator, v2ID: "\(gateway.v2ID)/\(collaborator.v2Username)", v3ID: "\(gatewayID)/\(account.id)"),
                    payload: .gatewayCollaborator(gatewayID: gatewayID, collaborator.collaborator), dependsOn: afterCreate))
            }
            steps.append(PlanStep(
                id: "gateway:\(gatewayID):api-key:link", kind: .gatewayAPIKey, component: .identityServer,
                entity: EntityRef(
                    kind: .gatewayAPIKey, v2ID: "\(gateway.v2ID)/\(GatewayMapping.linkKeyV2Name)", v3ID: "\(gatewayID)/\(gateway.linkKey.name)"),
                payload: .gatewayAPIKey(gatewayID: gatewayID, gateway.linkKey), dependsOn: afterCreate))
        }

        for step in steps {
            summary.steps[step.kind.rawValue, default: 0] += 1
            summary.components[step.component.rawValue, default: 0] += 1
        }
        summary.totalSteps = steps.count
        return MigrationPlan(
            owner: estate.owner, steps: steps, renames: estate.renames, warnings: estate.warnings, skipped: estate.skipped,
            summary: summary)
    }

    private static func estimatedStepCount(_ estate: MappedEstate) -> Int {
        estate.applications.reduce(estate.gateways.count * 3) { total, application in
            total + 3 + application.collaborators.count + application.apiKeys.count + application.devices.count * 4
        }
    }

    /// The counts of the estate; the step counts start at zero for `plan(estate:)` to fill in.
    private static func summarize(estate: borrowing MappedEstate) -> PlanSummary {
        var planned: [EntityKind: Int] = [:]
        for application in estate.applications {
            planned[.application, default: 0] += 1
            planned[.applicationCollaborator, default: 0] += application.collaborators.count
            planned[.applicationAPIKey, default: 0] += application.apiKeys.count
            planned[.applicationLink, default: 0] += application.link == nil ? 0 : 1
            planned[.device, default: 0] += application.devices.count
        }
        for gateway in estate.gateways {
            planned[.gateway, default: 0] += 1
            planned[.gatewayCollaborator, default: 0] += gateway.collaborators.count
            planned[.gatewayAPIKey, default: 0] += 1
        }
        var skippedCounts: [EntityKind: Int] = [:]
        for entry in estate.skipped { skippedCounts[entry.entity.kind, default: 0] += 1 }
        var entities: [String: PlanSummary.EntityCounts] = [:]
        for kind in EntityKind.allCases where kind != .configuration {
            entities[kind.rawValue] = PlanSummary.EntityCounts(planned: planned[kind] ?? 0, skipped: skippedCounts[kind] ?? 0)
        }

        let stepCounts = Dictionary(uniqueKeysWithValues: StepKind.allCases.map { ($0.rawValue, 0) })
        let componentCounts = Dictionary(uniqueKeysWithValues: V3Component.allCases.map { ($0.rawValue, 0) })
        var devices = Dictionary(uniqueKeysWithValues: DeviceActivation.allCases.map { ($0.rawValue, 0) })
        for application in estate.applications {
            for device in application.devices { devices[device.activation.rawValue, default: 0] += 1 }
        }
        var warnings: [String: Int] = [:]
        for warning in estate.warnings { warnings[warning.code.rawValue, default: 0] += 1 }

        return PlanSummary(
            entities: entities, steps: stepCounts, components: componentCounts, devices: devices, warnings: warnings,
            renames: estate.renames.count, totalSteps: 0)
    }
}
