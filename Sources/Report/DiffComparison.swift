import Foundation
import Mapping
import V3Client
import V3Model

/// The pure comparison of the intended v3 state with what v3 holds (no I/O).
public enum DiffComparison {
    /// Compares entity by entity and field by field.
    ///
    /// - An intended entity v3 lacks is `missing in v3`; so is everything under an application or gateway
    ///   v3 lacks. A device counts as present when any component holds it; a component that lacks it is a
    ///   `(whole record)` difference.
    /// - A collaborator whose account v3 does not have is listed apart as skipped (v3 cannot hold it).
    /// - What v3 holds under the owner that the plan does not know is `only in v3`: applications, gateways,
    ///   and the devices, collaborators and API keys of the planned applications (collaborators of the
    ///   planned gateways too). The owner itself and entities the plan skipped (by v3 ID, or by v2 ID as is
    ///   and as the mapping fixes it) are not reported there.
    public static func compare(intended: IntendedState, observed: ObservedState) -> MigrationDiff {
        var entries: [DiffEntry] = []
        var skipped = intended.skipped
        // A skipped entity without a v3 ID (not selected, deleted in v2) may still be in v3 from an earlier
        // migration: it is known by its v2 ID and by that ID fixed as the mapping fixes IDs.
        var skippedIDs = Set<String>()
        for skip in skipped {
            if let v3ID = skip.v3ID {
                skippedIDs.insert("\(skip.kind.rawValue):\(v3ID)")
            } else {
                skippedIDs.insert("\(skip.kind.rawValue):\(skip.v2ID)")
                let fixed = skip.v2ID.split(separator: "/", omittingEmptySubsequences: false).map { IDMapping.fixEntityID(String($0)).id }
                skippedIDs.insert("\(skip.kind.rawValue):\(fixed.joined(separator: "/"))")
            }
        }
        func isSkipped(_ kind: EntityKind, _ id: String) -> Bool { skippedIDs.contains("\(kind.rawValue):\(id)") }

        // The devices, the bulk of the work, compared on all cores; an application's entries in plan order.
        let deviceEntries = ConcurrentMap.map(intended.applications, chunk: 1) { application -> [DiffEntry] in
            let contents = observed.applications[application.id] == nil ? nil : observed.applicationContents[application.id]
            return application.devices.map {
                deviceEntry($0, isRecord: contents?.devices[$0.deviceID], parts: contents?.deviceParts[$0.deviceID] ?? [:])
            }
        }
        for (application, applicationDeviceEntries) in zip(intended.applications, deviceEntries) {
            let appID = application.id
            let actual = observed.applications[appID]
            entries.append(entry(.application, application.record, actual: actual, fields: ComparedFields.application))
            let contents = actual == nil ? nil : observed.applicationContents[appID] ?? ObservedApplication()

            // Collaborators.
            var seenAccounts = Set<V3AccountIdentifiers>()
            for collaborator in application.collaborators {
                if observed.missingAccounts.contains(collaborator.account) {
                    skipped.append(missingAccountSkip(.applicationCollaborator, collaborator))
                    continue
                }
                seenAccounts.insert(collaborator.account)
                let found = contents?.collaborators.first { account(of: $0) == collaborator.account }
                entries.append(entry(.applicationCollaborator, collaborator.record, actual: found, fields: ComparedFields.collaborator))
            }

            // API keys, by name and rights.
            var unmatchedKeys = contents?.apiKeys ?? []
            entries += apiKeyEntries(application.apiKeys, kind: .applicationAPIKey, parent: appID, unmatched: &unmatchedKeys, runTag: intended.runTag)

            if let link = application.link {
                entries.append(entry(.applicationLink, link, actual: contents?.link, fields: ComparedFields.link))
            }

            let plannedDevices = Set(application.devices.map(\.deviceID))
            entries += applicationDeviceEntries

            // What v3 holds under the application that the plan does not know.
            guard let contents else { continue }
            for deviceID in contents.devices.keys.sorted() where !plannedDevices.contains(deviceID) && !isSkipped(.device, "\(appID)/\(deviceID)") {
                entries.append(DiffEntry(kind: .device, entity: "\(appID)/\(deviceID)", v2ID: nil, status: .onlyInV3))
            }
            for collaborator in sortedByAccount(contents.collaborators) {
                guard let account = account(of: collaborator), account != intended.owner, !seenAccounts.contains(account),
                      !isSkipped(.applicationCollaborator, "\(appID)/\(account.id)") else { continue }
                entries.append(DiffEntry(kind: .applicationCollaborator, entity: "\(appID)/\(account.id)", v2ID: nil, status: .onlyInV3))
            }
            for key in unmatchedKeys.sorted(by: { keyLabel($0) < keyLabel($1) }) {
                entries.append(DiffEntry(kind: .applicationAPIKey, entity: "\(appID)/\(keyLabel(key))", v2ID: nil, status: .onlyInV3))
            }
        }

        for gateway in intended.gateways {
            let gatewayID = gateway.id
            let actual = observed.gateways[gatewayID]
            entries.append(entry(.gateway, gateway.record, actual: actual, fields: ComparedFields.gateway))
            let collaborators = actual == nil ? nil : observed.gatewayCollaborators[gatewayID] ?? []
            var seenAccounts = Set<V3AccountIdentifiers>()
            for collaborator in gateway.collaborators {
                if observed.missingAccounts.contains(collaborator.account) {
                    skipped.append(missingAccountSkip(.gatewayCollaborator, collaborator))
                    continue
                }
                seenAccounts.insert(collaborator.account)
                let found = collaborators?.first { account(of: $0) == collaborator.account }
                entries.append(entry(.gatewayCollaborator, collaborator.record, actual: found, fields: ComparedFields.collaborator))
            }
            for collaborator in sortedByAccount(collaborators ?? []) {
                guard let account = account(of: collaborator), account != intended.owner, !seenAccounts.contains(account),
                      !isSkipped(.gatewayCollaborator, "\(gatewayID)/\(account.id)") else { continue }
                entries.append(DiffEntry(kind: .gatewayCollaborator, entity: "\(gatewayID)/\(account.id)", v2ID: nil, status: .onlyInV3))
            }
            var unmatchedKeys = actual == nil ? [] : observed.gatewayAPIKeys[gatewayID] ?? []
            entries += apiKeyEntries(gateway.apiKeys, kind: .gatewayAPIKey, parent: gatewayID, unmatched: &unmatchedKeys, runTag: intended.runTag)
            for key in unmatchedKeys.sorted(by: { keyLabel($0) < keyLabel($1) }) {
                entries.append(DiffEntry(kind: .gatewayAPIKey, entity: "\(gatewayID)/\(keyLabel(key))", v2ID: nil, status: .onlyInV3))
            }
        }

        let plannedApplications = Set(intended.applications.map(\.id))
        for id in observed.applications.keys.sorted() where !plannedApplications.contains(id) && !isSkipped(.application, id) {
            entries.append(DiffEntry(kind: .application, entity: id, v2ID: nil, status: .onlyInV3))
        }
        let plannedGateways = Set(intended.gateways.map(\.id))
        for id in observed.gateways.keys.sorted() where !plannedGateways.contains(id) && !isSkipped(.gateway, id) {
            entries.append(DiffEntry(kind: .gateway, entity: id, v2ID: nil, status: .onlyInV3))
        }

        return MigrationDiff(owner: intended.owner, runTag: intended.runTag, entries: entries, skipped: skipped)
    }

    /// The planned keys of one application or gateway, each matched by name (run tag) and rights to one of
    /// `unmatched`, which keeps the keys no plan entry took.
    static func apiKeyEntries(
        _ keys: [IntendedAPIKey], kind: EntityKind, parent: String, unmatched: inout [V3JSONValue], runTag: String?
    ) -> [DiffEntry] {
        var entries: [DiffEntry] = []
        for key in keys {
            let candidates = unmatched.indices.filter {
                APIKeyMatching.matches(planned: key, actual: string(at: "name", in: unmatched[$0]) ?? "", runTag: runTag)
            }
            let best = candidates.first {
                FieldComparison.differences(expected: key.record.expected, actual: unmatched[$0], paths: ComparedFields.apiKey).isEmpty
            } ?? candidates.first
            var record = key.record
            if runTag == nil {
                // The tag of the plan is not the run's: name the key as v3 does, or without a tag.
                let name = best.flatMap { string(at: "name", in: unmatched[$0]) } ?? APIKeyMatching.withoutTag(key.name)
                record.v3ID = "\(parent)/\(name)"
            }
            let found = best.map { unmatched[$0] }
            if let best { unmatched.remove(at: best) }
            entries.append(entry(kind, record, actual: found, fields: ComparedFields.apiKey))
        }
        return entries
    }

    static func entry(_ kind: EntityKind, _ record: IntendedRecord, actual: V3JSONValue?, fields: [String]) -> DiffEntry {
        guard let actual else { return DiffEntry(kind: kind, entity: record.v3ID, v2ID: record.v2ID, status: .missingInV3) }
        let differences = FieldComparison.differences(expected: record.expected, actual: actual, paths: fields)
        return DiffEntry(kind: kind, entity: record.v3ID, v2ID: record.v2ID, status: differences.isEmpty ? .equal : .differs, fields: differences)
    }

    static func deviceEntry(_ device: IntendedDevice, isRecord: V3JSONValue?, parts: [V3Server: V3JSONValue]) -> DiffEntry {
        var actualParts = parts
        actualParts[.identityServer] = isRecord
        guard device.parts.contains(where: { actualParts[$0.server] != nil }) else {
            return DiffEntry(kind: .device, entity: device.v3ID, v2ID: device.v2ID, status: .missingInV3)
        }
        var differences: [FieldDifference] = []
        for part in device.parts {
            guard let actual = actualParts[part.server] else {
                differences.append(FieldDifference(component: part.server, path: "", expected: .present, actual: .none))
                continue
            }
            differences += FieldComparison.differences(
                expected: part.expected, actual: actual, paths: ComparedFields.device(part.server), component: part.server)
        }
        return DiffEntry(kind: .device, entity: device.v3ID, v2ID: device.v2ID, status: differences.isEmpty ? .equal : .differs, fields: differences)
    }

    static func missingAccountSkip(_ kind: EntityKind, _ collaborator: IntendedCollaborator) -> DiffSkip {
        DiffSkip(
            kind: kind, v2ID: collaborator.record.v2ID, v3ID: collaborator.record.v3ID,
            reason: "\(collaborator.account) has no v3 account: map the v2 username with `users:` or create the account first")
    }

    /// The account of a `{"ids": {"user_ids": …} | {"organization_ids": …}}` collaborator.
    static func account(of collaborator: V3JSONValue) -> V3AccountIdentifiers? {
        if let user = string(at: "ids.user_ids.user_id", in: collaborator) { return .user(user) }
        if let organization = string(at: "ids.organization_ids.organization_id", in: collaborator) { return .organization(organization) }
        return nil
    }

    static func sortedByAccount(_ collaborators: [V3JSONValue]) -> [V3JSONValue] {
        collaborators.sorted { (account(of: $0)?.description ?? "") < (account(of: $1)?.description ?? "") }
    }

    /// A key's name, or its ID when it has none.
    static func keyLabel(_ key: V3JSONValue) -> String {
        if let name = string(at: "name", in: key), !name.isEmpty { return name }
        return "(unnamed key \(string(at: "id", in: key) ?? "without ID"))"
    }

    static func string(at path: String, in value: V3JSONValue) -> String? {
        if case .string(let text)? = FieldComparison.lookup(path, in: value) { return text }
        return nil
    }
}
