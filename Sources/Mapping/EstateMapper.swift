import Foundation
import V2Model
import V3Model

/// An application with everything that goes with it in v3.
public struct MappedApplication: Hashable, Sendable {
    public var v2ID: String
    public var application: V3Application
    public var collaborators: [MappedCollaborator]
    public var apiKeys: [MappedAPIKey]
    /// Default payload formatters; nil when there is nothing to set.
    public var link: V3ApplicationLink?
    /// Sorted by v2 device ID.
    public var devices: [MappedDevice]

    /// The v3 application ID.
    public var v3ID: String { application.ids.applicationID }
}

/// A gateway with its collaborators in v3.
public struct MappedGateway: Hashable, Sendable {
    public var v2ID: String
    public var gateway: V3Gateway
    public var collaborators: [MappedCollaborator]
    /// An API key with `RIGHT_GATEWAY_LINK`: the LNS key of a Basics Station (or a packet forwarder's
    /// gRPC/MQTT credential), replacing the v2 gateway key. Its secret goes to `keys --out`.
    public var linkKey: V3APIKey

    /// The v3 gateway ID.
    public var v3ID: String { gateway.ids.gatewayID }
}

/// The whole estate mapped to v3: what will be created, every rename, warning and skip.
public struct MappedEstate: Hashable, Sendable {
    /// The account that creates (and so owns) every entity.
    public var owner: V3AccountIdentifiers
    /// Sorted by v2 ID.
    public var applications: [MappedApplication]
    /// Sorted by v2 ID.
    public var gateways: [MappedGateway]
    /// Applications, then gateways, then devices; each sorted by v2 ID.
    public var renames: [IDRename]
    /// In the order the mapping met them: configuration, then each application (with its devices), then each gateway.
    public var warnings: [MappingWarning]
    /// In the same order as the warnings.
    public var skipped: [SkippedEntity]
}

/// Maps a v2 snapshot with the configuration's options (DESIGN.md §2, §4). Pure: no I/O.
public enum EstateMapper {
    /// Validates the options, then maps every included application (collaborators, API keys, payload
    /// formats, devices) and gateway (collaborators). Same input, same output.
    public static func map(_ snapshot: V2Snapshot, options: MappingOptions) throws(MappingOptionsError) -> MappedEstate {
        let owner = try options.resolvedOwner()
        var warnings: [MappingWarning] = []
        var skipped: [SkippedEntity] = []
        var renames: [IDRename] = []

        let records = snapshot.applications.sorted { $0.application.id < $1.application.id }
        let v2Gateways = snapshot.gateways.sorted { $0.id < $1.id }
        configurationWarnings(records: records, gateways: v2Gateways, options: options, warnings: &warnings)

        // Applications: selection, then IDs over the selected ones.
        var selected: [V2ApplicationRecord] = []
        var seenApplications = Set<String>()
        for record in records {
            let application = record.application
            let entity = EntityRef(kind: .application, v2ID: application.id)
            if !seenApplications.insert(application.id).inserted {
                duplicate(entity, warnings: &warnings, skipped: &skipped)
            } else if !options.includeApplications.includes(application.id) {
                skipped.append(SkippedEntity(entity, reason: "not selected by include.applications"))
            } else if application.isDeleted && !options.includeDeleted {
                warnings.append(MappingWarning(
                    .applicationDeletedSkipped, entity,
                    "application \"\(application.id)\" is deleted in v2 (\(application.deleted ?? "")); it is not migrated. Set `include: {deleted: true}` to migrate it anyway"))
                skipped.append(SkippedEntity(entity, reason: "deleted in v2", warning: .applicationDeletedSkipped))
            } else {
                selected.append(record)
            }
        }
        let applicationIDs = IDMapping.assign(selected.map(\.application.id), renames: options.applicationRenames)

        var applications: [MappedApplication] = []
        var deviceRenames: [IDRename] = []
        for record in selected {
            let mapped = mapApplication(
                record, id: applicationIDs[record.application.id]!, owner: owner, options: options,
                warnings: &warnings, skipped: &skipped, renames: &renames, deviceRenames: &deviceRenames)
            applications.append(mapped)
        }
        removeDuplicateEUIPairs(&applications, warnings: &warnings, skipped: &skipped, renames: &deviceRenames)

        // Gateways.
        var selectedGateways: [V2Gateway] = []
        var seenGateways = Set<String>()
        for gateway in v2Gateways {
            if !seenGateways.insert(gateway.id).inserted {
                duplicate(EntityRef(kind: .gateway, v2ID: gateway.id), warnings: &warnings, skipped: &skipped)
            } else if options.includeGateways.includes(gateway.id) {
                selectedGateways.append(gateway)
            } else {
                skipped.append(SkippedEntity(EntityRef(kind: .gateway, v2ID: gateway.id), reason: "not selected by include.gateways"))
            }
        }
        let gatewayIDs = IDMapping.assign(selectedGateways.map(\.id), renames: options.gatewayRenames)
        var gateways: [MappedGateway] = []
        var gatewaysByEUI: [V3EUI: String] = [:]
        for v2 in selectedGateways {
            let id = gatewayIDs[v2.id]!
            let entity = EntityRef(kind: .gateway, v2ID: v2.id, v3ID: id.id)
            let eui = options.gatewayEUIs[v2.id].flatMap { try? V3EUI(hex: $0) } ?? GatewayMapping.euiFromID(v2.id)
            if let eui {
                if let holder = gatewaysByEUI[eui] {
                    warnings.append(MappingWarning(
                        .gatewayEUIDuplicate, entity,
                        "gateway \"\(v2.id)\" has EUI \(eui.hex), which gateway \"\(holder)\" already has (v3 allows one gateway per EUI); it is not migrated. Fix `gateway_euis:` or remove one of them"))
                    skipped.append(SkippedEntity(entity, reason: "EUI \(eui.hex) is also gateway \"\(holder)\"'s", warning: .gatewayEUIDuplicate))
                    continue
                }
                gatewaysByEUI[eui] = v2.id
            }
            if id.changed {
                renames.append(IDRename(kind: .gateway, v2ID: v2.id, v3ID: id.id, reasons: id.reasons))
                if let warning = IDMapping.warning(kind: .gateway, v2ID: v2.id, v3ID: id.id, assigned: id, renameSection: "gateways") {
                    warnings.append(warning)
                }
            }
            if eui == nil {
                warnings.append(MappingWarning(
                    .gatewayNoEUI, entity,
                    "gateway \"\(v2.id)\" has no known EUI (its ID is not eui-<16 hex digits>); it is created without one, so only gRPC/MQTT connections can use it. Add `gateway_euis: {\(v2.id): <EUI>}` for a UDP or Basic Station gateway"))
            }
            let gateway = GatewayMapping.gateway(v2, id: id, eui: eui, options: options, warnings: &warnings)
            let collaborators = ApplicationMapping.collaborators(
                v2.collaborators ?? [], kind: .gatewayCollaborator, parentV2ID: v2.id, parentV3ID: id.id, owner: owner,
                users: options.users, warnings: &warnings, skipped: &skipped)
            gateways.append(MappedGateway(
                v2ID: v2.id, gateway: gateway, collaborators: collaborators, linkKey: GatewayMapping.linkKey(runTag: options.runTag)))
        }

        return MappedEstate(
            owner: owner, applications: applications, gateways: gateways, renames: renames + deviceRenames,
            warnings: warnings, skipped: skipped)
    }

    private static func mapApplication(
        _ record: V2ApplicationRecord, id: AssignedID, owner: V3AccountIdentifiers, options: MappingOptions,
        warnings: inout [MappingWarning], skipped: inout [SkippedEntity], renames: inout [IDRename],
        deviceRenames: inout [IDRename]
    ) -> MappedApplication {
        let v2 = record.application
        let entity = EntityRef(kind: .application, v2ID: v2.id, v3ID: id.id)
        if id.changed {
            renames.append(IDRename(kind: .application, v2ID: v2.id, v3ID: id.id, reasons: id.reasons))
            if let warning = IDMapping.warning(kind: .application, v2ID: v2.id, v3ID: id.id, assigned: id, renameSection: "applications") {
                warnings.append(warning)
            }
        }
        let application = ApplicationMapping.application(v2, id: id, warnings: &warnings)

        if v2.collaborators == nil {
            warnings.append(MappingWarning(
                .applicationCollaboratorsHidden, entity,
                "the v2 account server did not show the collaborators of application \"\(v2.id)\" to this token; none are migrated. Use a token of a user with the `collaborators` right on it"))
        }
        let collaborators = ApplicationMapping.collaborators(
            v2.collaborators ?? [], kind: .applicationCollaborator, parentV2ID: v2.id, parentV3ID: id.id, owner: owner,
            users: options.users, warnings: &warnings, skipped: &skipped)

        if v2.accessKeys == nil {
            warnings.append(MappingWarning(
                .applicationAccessKeysHidden, entity,
                "the v2 account server did not show the access keys of application \"\(v2.id)\" to this token; none are migrated. Use a token of a user with the `settings` right on it"))
        }
        let apiKeys = ApplicationMapping.apiKeys(
            v2.accessKeys ?? [], parentV2ID: v2.id, parentV3ID: id.id, runTag: options.runTag, warnings: &warnings)

        var link: V3ApplicationLink?
        var v2Devices: [V2Device] = []
        let handler = record.handler
        switch handler.status {
        case .read:
            if let handlerApplication = handler.application {
                link = PayloadFormatMapping.link(handlerApplication, v2ApplicationID: v2.id, v3ApplicationID: id.id, warnings: &warnings)
            }
            v2Devices = handler.devices
        case .notFound:
            warnings.append(MappingWarning(
                .applicationNoHandler, entity,
                "no configured v2 handler knows application \"\(v2.id)\"; its devices and payload format are not migrated (the application, collaborators and keys are). Add its handler to source.handlers"))
        case .unreadable:
            warnings.append(MappingWarning(
                .applicationHandlerUnreadable, entity,
                "\(handler.url.map { "the v2 handler at \($0)" } ?? "a v2 handler") knows application \"\(v2.id)\" but could not be read (\(handler.reason ?? "no reason given")); its devices and payload format are not migrated. Give it an access key with the `devices` and `settings` rights"))
        case .notConfigured, .skippedDeleted:
            break
        }

        let devices = mapDevices(
            v2Devices, v2ApplicationID: v2.id, v3ApplicationID: id.id, options: options, warnings: &warnings,
            skipped: &skipped, renames: &deviceRenames)
        return MappedApplication(v2ID: v2.id, application: application, collaborators: collaborators, apiKeys: apiKeys, link: link, devices: devices)
    }

    private static func mapDevices(
        _ v2Devices: [V2Device], v2ApplicationID: String, v3ApplicationID: String, options: MappingOptions,
        warnings: inout [MappingWarning], skipped: inout [SkippedEntity], renames: inout [IDRename]
    ) -> [MappedDevice] {
        guard !v2Devices.isEmpty else { return [] }
        var seenDevices = Set<String>()
        var sorted: [V2Device] = []
        sorted.reserveCapacity(v2Devices.count)
        for device in v2Devices.sorted(by: { $0.devId < $1.devId }) {
            if seenDevices.insert(device.devId).inserted {
                sorted.append(device)
            } else {
                duplicate(EntityRef(kind: .device, v2ID: "\(v2ApplicationID)/\(device.devId)"), warnings: &warnings, skipped: &skipped)
            }
        }
        guard let plan = options.deviceFrequencyPlansByApplication[v2ApplicationID] ?? options.deviceFrequencyPlan else {
            warnings.append(MappingWarning(
                .deviceNoFrequencyPlan, EntityRef(kind: .application, v2ID: v2ApplicationID, v3ID: v3ApplicationID),
                "application \"\(v2ApplicationID)\" has \(sorted.count) device(s) but no device frequency plan is configured; they are not migrated. Set `devices: {frequency_plan: <plan>}` or `devices: {applications: {\(v2ApplicationID): <plan>}}`"))
            for device in sorted {
                skipped.append(SkippedEntity(
                    EntityRef(kind: .device, v2ID: "\(v2ApplicationID)/\(device.devId)"),
                    reason: "no device frequency plan for application \"\(v2ApplicationID)\"", warning: .deviceNoFrequencyPlan))
            }
            return []
        }
        let deviceIDs = IDMapping.assign(sorted.map(\.devId))
        let radio = BandRules.profile(planID: plan)
        var result: [MappedDevice] = []
        result.reserveCapacity(sorted.count)
        for device in sorted {
            let id = deviceIDs[device.devId]!
            let context = DeviceMapping.Context(
                v2ApplicationID: v2ApplicationID, v3ApplicationID: v3ApplicationID, deviceID: id, frequencyPlanID: plan,
                withSession: options.withSession, joinServerAddress: options.joinServerAddress,
                networkServerAddress: options.networkServerAddress, applicationServerAddress: options.applicationServerAddress,
                radio: radio)
            let v2Path = "\(v2ApplicationID)/\(device.devId)"
            let v3Path = "\(v3ApplicationID)/\(id.id)"
            switch DeviceMapping.map(device, context: context, warnings: &warnings) {
            case .mapped(let mapped):
                if id.changed {
                    renames.append(IDRename(kind: .device, v2ID: v2Path, v3ID: v3Path, reasons: id.reasons))
                    if let warning = IDMapping.warning(kind: .device, v2ID: v2Path, v3ID: v3Path, assigned: id, renameSection: nil) {
                        warnings.append(warning)
                    }
                }
                result.append(mapped)
            case .skipped(let reason, let code):
                skipped.append(SkippedEntity(EntityRef(kind: .device, v2ID: v2Path, v3ID: v3Path), reason: reason, warning: code))
            }
        }
        if !result.isEmpty {
            warnings += BandRules.warnings(
                profile: radio, application: EntityRef(kind: .application, v2ID: v2ApplicationID, v3ID: v3ApplicationID),
                carriesSessions: result.contains { $0.activation.carriesSession })
        }
        return result
    }

    /// v3 keeps a JoinEUI/DevEUI pair unique over the whole deployment: the first device (applications
    /// and devices sorted by v2 ID) keeps it, later ones are skipped. A missing JoinEUI counts as zero.
    private static func removeDuplicateEUIPairs(
        _ applications: inout [MappedApplication], warnings: inout [MappingWarning], skipped: inout [SkippedEntity],
        renames: inout [IDRename]
    ) {
        var holders: [String: String] = [:]
        var removed = Set<String>()
        for index in applications.indices {
            var kept: [MappedDevice] = []
            kept.reserveCapacity(applications[index].devices.count)
            for device in applications[index].devices {
                let ids = device.identityServer.ids
                let pair = "\((ids.joinEUI ?? .zero).hex)/\(ids.devEUI?.hex ?? "")"
                let v2Path = "\(device.v2ApplicationID)/\(device.v2DeviceID)"
                if let holder = holders[pair] {
                    let entity = EntityRef(kind: .device, v2ID: v2Path, v3ID: device.v3Path)
                    warnings.append(MappingWarning(
                        .deviceEUIPairDuplicate, entity,
                        "device \"\(v2Path)\" has JoinEUI \((ids.joinEUI ?? .zero).hex) and DevEUI \(ids.devEUI?.hex ?? "") like device \"\(holder)\"; v3 allows one device per pair, so it is not migrated. Remove the duplicate in v2 or register it in v3 by hand"))
                    skipped.append(SkippedEntity(entity, reason: "EUI pair already used by device \"\(holder)\"", warning: .deviceEUIPairDuplicate))
                    removed.insert(v2Path)
                } else {
                    holders[pair] = v2Path
                    kept.append(device)
                }
            }
            applications[index].devices = kept
        }
        if !removed.isEmpty {
            // A skipped device is not renamed: drop its rename and the warning about it.
            let idCodes: Set<WarningCode> = [.idInvalidFixed, .idTooShort, .idTooLong, .idBlocklisted, .idCollision]
            renames.removeAll { removed.contains($0.v2ID) }
            warnings.removeAll { $0.entity.kind == .device && idCodes.contains($0.code) && removed.contains($0.entity.v2ID) }
        }
    }

    /// A second entity with the same v2 ID in one snapshot (only a damaged or hand-edited file has one).
    private static func duplicate(_ entity: EntityRef, warnings: inout [MappingWarning], skipped: inout [SkippedEntity]) {
        warnings.append(MappingWarning(
            .snapshotDuplicateID, entity,
            "the snapshot lists \(entity.kind.rawValue) \"\(entity.v2ID)\" more than once; only the first is migrated. Take a new snapshot with `ttn-migrate snapshot`"))
        skipped.append(SkippedEntity(entity, reason: "listed twice in the snapshot", warning: .snapshotDuplicateID))
    }

    /// Warnings for configuration entries naming v2 IDs the estate does not have.
    private static func configurationWarnings(
        records: [V2ApplicationRecord], gateways: [V2Gateway], options: MappingOptions, warnings: inout [MappingWarning]
    ) {
        let applicationIDs = Set(records.map(\.application.id))
        let gatewayIDs = Set(gateways.map(\.id))
        var unknown: [(setting: String, id: String)] = []
        for id in options.applicationRenames.keys where !applicationIDs.contains(id) { unknown.append(("rename.applications", id)) }
        for id in options.gatewayRenames.keys where !gatewayIDs.contains(id) { unknown.append(("rename.gateways", id)) }
        for id in options.deviceFrequencyPlansByApplication.keys where !applicationIDs.contains(id) { unknown.append(("devices.applications", id)) }
        for id in options.gatewayEUIs.keys where !gatewayIDs.contains(id) { unknown.append(("gateway_euis", id)) }
        if case .only(let ids) = options.includeApplications {
            for id in ids where !applicationIDs.contains(id) { unknown.append(("include.applications", id)) }
        }
        if case .only(let ids) = options.includeGateways {
            for id in ids where !gatewayIDs.contains(id) { unknown.append(("include.gateways", id)) }
        }
        for entry in unknown.sorted(by: { ($0.setting, $0.id) < ($1.setting, $1.id) }) {
            warnings.append(MappingWarning(
                .configUnknownID, EntityRef(kind: .configuration, v2ID: "\(entry.setting).\(entry.id)"),
                "\(entry.setting) names \"\(entry.id)\", which the v2 estate does not have; the entry has no effect. Check the spelling (keys are v2 IDs)"))
        }
        if records.contains(where: { $0.handler.status == .notConfigured }) {
            warnings.append(MappingWarning(
                .handlersNotConfigured, EntityRef(kind: .configuration, v2ID: "source.handlers"),
                "no v2 handler is configured, so no device and no payload format is migrated. Add the handler URLs to source.handlers to migrate devices"))
        }
    }
}
