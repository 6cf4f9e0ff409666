import Foundation
import V2Model
import V3Model

/// A collaborator as it will be set in v3, with the v2 username it came from.
public struct MappedCollaborator: Hashable, Sendable {
    public var v2Username: String
    public var collaborator: V3Collaborator
}

/// An API key as it will be created in v3, with the v2 key name it replaces.
public struct MappedAPIKey: Hashable, Sendable {
    public var v2Name: String
    /// Unique within the application, safe in a step ID: the v2 name percent-escaped (`~2`, … for repeats).
    public var stepKey: String
    public var apiKey: V3APIKey
}

/// v2 application → v3 application, collaborators and API keys (DESIGN.md §4).
public enum ApplicationMapping {
    /// The v3 application: name ≤ 50 (cut, whole in the description), attributes `v2-id` (always) and
    /// `v2-euis` (the EUIs upper-case, comma-separated, cut at whole EUIs to fit 200 characters).
    public static func application(_ v2: V2Application, id: AssignedID, warnings: inout [MappingWarning]) -> V3Application {
        let entity = EntityRef(kind: .application, v2ID: v2.id, v3ID: id.id)
        let texts = TextMapping.nameAndDescription(name: v2.name, description: nil, entity: entity, warnings: &warnings)
        var reserved: [(key: String, value: String)] = [(key: "v2-id", value: v2.id)]
        let euis = v2.euis.map(\.hex)
        if !euis.isEmpty {
            var kept: [String] = []
            var length = 0
            for eui in euis {
                let added = (kept.isEmpty ? 0 : 1) + eui.utf8.count
                if length + added > TextMapping.maxAttributeValueLength { break }
                kept.append(eui)
                length += added
            }
            if kept.count < euis.count {
                warnings.append(MappingWarning(
                    .applicationEUIsCut, entity,
                    "application \"\(v2.id)\" has \(euis.count) EUIs; attribute v2-euis keeps the first \(kept.count) (200 characters). All of them: \(euis.joined(separator: ","))"))
            }
            reserved.append((key: "v2-euis", value: kept.joined(separator: ",")))
        }
        let attributes = TextMapping.attributes(reserved: reserved, v2: nil, entity: entity, warnings: &warnings)
        return V3Application(applicationID: id.id, name: texts.name, description: texts.description, attributes: attributes)
    }

    /// The v3 user ID for a v2 username: the `users:` map, else the username when valid, else the fixed
    /// username (warning `collaborator-user-id-fixed`); nil when no valid ID results.
    public static func userID(
        for username: String, users: [String: String], entity: EntityRef, warnings: inout [MappingWarning]
    ) -> String? {
        if let mapped = users[username] { return mapped }
        if V3IDRules.isValidUserID(username) { return username }
        guard let fixed = IDMapping.fixUserID(username) else {
            warnings.append(MappingWarning(
                .collaboratorUserIDInvalid, entity,
                "v2 user \"\(username)\" cannot be turned into a v3 user ID; the collaborator is not migrated. Add `users: {\(username): <v3 user ID>}` to the configuration"))
            return nil
        }
        warnings.append(MappingWarning(
            .collaboratorUserIDFixed, entity,
            "v2 user \"\(username)\" is not a valid v3 user ID; ttn-migrate assumes the v3 account \"\(fixed.id)\". If that is wrong, add `users: {\(username): <v3 user ID>}` to the configuration"))
        return fixed.id
    }

    /// Collaborators of an application or gateway: user IDs resolved, rights mapped, the owner left out
    /// (it already holds all rights and is never downgraded), two v2 users mapping to one v3 user
    /// merged, collaborators without any mapped right left out. Sorted by v3 user ID.
    public static func collaborators(
        _ v2: [V2Collaborator], kind: EntityKind, parentV2ID: String, parentV3ID: String, owner: V3AccountIdentifiers,
        users: [String: String], warnings: inout [MappingWarning], skipped: inout [SkippedEntity]
    ) -> [MappedCollaborator] {
        let isGateway = kind == .gatewayCollaborator
        var byUser: [String: MappedCollaborator] = [:]
        for v2Collaborator in v2.sorted(by: { $0.username < $1.username }) {
            let username = v2Collaborator.username
            let v2Path = "\(parentV2ID)/\(username)"
            var entity = EntityRef(kind: kind, v2ID: v2Path)
            guard let userID = userID(for: username, users: users, entity: entity, warnings: &warnings) else {
                skipped.append(SkippedEntity(entity, reason: "no valid v3 user ID for v2 user \"\(username)\"", warning: .collaboratorUserIDInvalid))
                continue
            }
            entity.v3ID = "\(parentV3ID)/\(userID)"
            if owner == .user(userID) {
                skipped.append(SkippedEntity(
                    entity, reason: "\(userID) is the owner and already holds all rights (\(isGateway ? "RIGHT_GATEWAY_ALL" : "RIGHT_APPLICATION_ALL"))"))
                continue
            }
            let mapped = isGateway ? RightsMapping.gatewayRights(v2Collaborator.rights) : RightsMapping.applicationRights(v2Collaborator.rights)
            if let warning = RightsMapping.unknownRightsWarning(mapped.unknown, entity: entity, holder: "collaborator \"\(username)\" of \(isGateway ? "gateway" : "application") \"\(parentV2ID)\"") {
                warnings.append(warning)
            }
            guard !mapped.rights.isEmpty else {
                warnings.append(MappingWarning(
                    .collaboratorNoRights, entity,
                    "collaborator \"\(username)\" of \(isGateway ? "gateway" : "application") \"\(parentV2ID)\" has no right that maps to v3; it is not migrated. Add it in v3 with the rights it needs"))
                skipped.append(SkippedEntity(entity, reason: "no v2 right maps to v3", warning: .collaboratorNoRights))
                continue
            }
            if var existing = byUser[userID] {
                existing.collaborator.rights = Array(Set(existing.collaborator.rights).union(mapped.rights)).sorted()
                warnings.append(MappingWarning(
                    .collaboratorMerged, entity,
                    "v2 users \"\(existing.v2Username)\" and \"\(username)\" both become v3 user \"\(userID)\" on \(isGateway ? "gateway" : "application") \"\(parentV2ID)\"; their rights are merged. Check the `users:` map"))
                byUser[userID] = existing
            } else {
                byUser[userID] = MappedCollaborator(
                    v2Username: username, collaborator: V3Collaborator(ids: .user(userID), rights: mapped.rights))
            }
        }
        return byUser.keys.sorted().map { byUser[$0]! }
    }

    /// Longest API key name (`reference/v3-api.md` §4).
    public static let maxAPIKeyNameLength = 50

    /// `v2: <name> [<tag>]`, the v2 name cut (code points, trailing spaces of a cut name dropped) so the
    /// whole fits 50 and the tag survives.
    public static func apiKeyName(v2Name: String, runTag: String) -> (name: String, cut: Bool) {
        let prefix = "v2: "
        let suffix = " [\(runTag)]"
        let room = maxAPIKeyNameLength - prefix.unicodeScalars.count - suffix.unicodeScalars.count
        var (name, cut) = TextMapping.prefix(v2Name, codePoints: max(room, 0))
        if cut {
            while let last = name.unicodeScalars.last, last.properties.isWhitespace { name.unicodeScalars.removeLast() }
        }
        return (prefix + name + suffix, cut)
    }

    /// One v3 API key per v2 access key (sorted by v2 name): name from `apiKeyName`, rights mapped with
    /// `RIGHT_APPLICATION_INFO` added. Repeated names get ` (2)`, ` (3)`, … before the tag.
    public static func apiKeys(
        _ v2Keys: [V2AccessKey], parentV2ID: String, parentV3ID: String, runTag: String, warnings: inout [MappingWarning]
    ) -> [MappedAPIKey] {
        var usedNames = Set<String>()
        var usedStepKeys = Set<String>()
        var result: [MappedAPIKey] = []
        for v2Key in v2Keys.sorted(by: { $0.name < $1.name }) {
            var (name, cut) = apiKeyName(v2Name: v2Key.name, runTag: runTag)
            var counter = 2
            while usedNames.contains(name) {
                (name, _) = apiKeyName(v2Name: "\(TextMapping.prefix(v2Key.name, codePoints: 30).0) (\(counter))", runTag: runTag)
                counter += 1
            }
            usedNames.insert(name)
            let baseKey = escapeStepKey(v2Key.name)
            var stepKey = baseKey
            var repeatCounter = 2
            while usedStepKeys.contains(stepKey) {
                stepKey = "\(baseKey)~\(repeatCounter)"
                repeatCounter += 1
            }
            usedStepKeys.insert(stepKey)
            let entity = EntityRef(kind: .applicationAPIKey, v2ID: "\(parentV2ID)/\(v2Key.name)", v3ID: "\(parentV3ID)/\(name)")
            if cut {
                warnings.append(MappingWarning(
                    .apiKeyNameCut, entity,
                    "the name of access key \"\(v2Key.name)\" of application \"\(parentV2ID)\" is too long for v3 with the run tag; the new key is named \"\(name)\""))
            }
            let mapped = RightsMapping.applicationRights(v2Key.rights)
            if let warning = RightsMapping.unknownRightsWarning(mapped.unknown, entity: entity, holder: "access key \"\(v2Key.name)\" of application \"\(parentV2ID)\"") {
                warnings.append(warning)
            }
            result.append(MappedAPIKey(v2Name: v2Key.name, stepKey: stepKey, apiKey: V3APIKey(name: name, rights: mapped.rights)))
        }
        return result
    }

    /// Percent-escapes every byte outside `A-Z a-z 0-9 . _ -` so a name can be part of a step ID.
    public static func escapeStepKey(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                result.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                result += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return result
    }
}
