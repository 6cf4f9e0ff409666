import Foundation
import V3Model

/// A v3 ID chosen for a v2 ID, and why it differs (empty reasons: unchanged).
public struct AssignedID: Hashable, Sendable {
    public var id: String
    public var reasons: [IDChangeReason]

    public init(id: String, reasons: [IDChangeReason]) {
        self.id = id
        self.reasons = reasons
    }

    /// Whether the v3 ID differs from the v2 ID.
    public var changed: Bool { !reasons.isEmpty }
}

/// The ID rules of DESIGN.md §4: fixing v2 IDs for v3, blocklist, short IDs, collisions.
///
/// Fixing an application, gateway or device ID: lower-case; every character other than a–z, 0–9
/// becomes `-`; runs of dashes become one; edge dashes go; longer than 36 is cut; fewer than three
/// letters or digits gets `-v2` (an ID with none becomes `id-v2`); a blocklisted ID gets `-v2`.
/// Collisions: the v2 IDs are sorted, the first keeps its fixed ID, the next get `-2`, `-3`, … with the
/// base cut so the whole stays ≤ 36. Explicit renames are reserved before anything else, and a v2 ID
/// that is already a valid v3 ID keeps it before any fixed ID may claim it (so `admin-v2` stays
/// `admin-v2` and a blocklisted `admin` becomes `admin-v2-2`).
public enum IDMapping {
    /// The suffix that makes a short or blocklisted ID valid.
    public static let suffix = "-v2"

    /// Lower-case, other characters to `-`, dashes collapsed and trimmed. Returns the text and whether
    /// anything changed.
    public static func fixCharacters(_ text: String) -> (String, changed: Bool) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var changed = false
        for scalar in text.unicodeScalars {
            let value = scalar.value
            let byte: UInt8
            if (value >= 97 && value <= 122) || (value >= 48 && value <= 57) {
                byte = UInt8(value)
            } else if value >= 65 && value <= 90 {
                byte = UInt8(value + 32)
                changed = true
            } else {
                if value != 45 { changed = true }
                byte = UInt8(ascii: "-")
            }
            if byte == UInt8(ascii: "-") && (bytes.isEmpty || bytes.last == UInt8(ascii: "-")) {
                changed = true
                continue
            }
            bytes.append(byte)
        }
        while bytes.last == UInt8(ascii: "-") {
            bytes.removeLast()
            changed = true
        }
        return (String(decoding: bytes, as: UTF8.self), changed)
    }

    /// `base` + `suffix`, the base cut (and its trailing dashes trimmed) so the whole is ≤ 36.
    public static func appending(_ suffix: String, to base: String) -> String {
        let room = V3IDRules.maxLength - suffix.utf8.count
        var cut = Array(base.utf8.prefix(max(room, 0)))
        while cut.last == UInt8(ascii: "-") { cut.removeLast() }
        return String(decoding: cut, as: UTF8.self) + suffix
    }

    /// Fixes an application, gateway or device ID, without looking at other IDs.
    public static func fixEntityID(_ v2ID: String) -> AssignedID {
        var reasons: [IDChangeReason] = []
        var (id, changed) = fixCharacters(v2ID)
        if changed { reasons.append(.invalidCharacters) }
        if id.utf8.count > V3IDRules.maxLength {
            id = cutToMaxLength(id)
            reasons.append(.tooLong)
        }
        if V3IDRules.alphanumericCount(id) < V3IDRules.minEntityAlphanumerics {
            id = id.isEmpty ? "id" + suffix : id + suffix
            reasons.append(.tooShort)
        }
        if V3IDRules.isBlocklisted(id) {
            id = appending(suffix, to: id)
            reasons.append(.blocklisted)
        }
        return AssignedID(id: id, reasons: reasons)
    }

    /// Fixes a v2 username into a v3 user ID (2–36, not blocklisted); nil when no valid ID results.
    public static func fixUserID(_ username: String) -> AssignedID? {
        var reasons: [IDChangeReason] = []
        var (id, changed) = fixCharacters(username)
        if changed { reasons.append(.invalidCharacters) }
        if id.utf8.count > V3IDRules.maxLength {
            id = cutToMaxLength(id)
            reasons.append(.tooLong)
        }
        guard V3IDRules.isValidUserID(id) else { return nil }
        return AssignedID(id: id, reasons: reasons)
    }

    /// Fixes an attribute key (the application ID rule, no blocklist); nil when nothing usable remains.
    public static func fixAttributeKey(_ key: String) -> String? {
        var (fixed, _) = fixCharacters(key)
        if fixed.utf8.count > V3IDRules.maxLength { fixed = cutToMaxLength(fixed) }
        if fixed.isEmpty { return nil }
        if V3IDRules.alphanumericCount(fixed) < V3IDRules.minEntityAlphanumerics { fixed += suffix }
        return V3IDRules.attributeKeyProblem(fixed) == nil ? fixed : nil
    }

    /// Assigns v3 IDs to a set of v2 IDs of one namespace (applications, gateways, or the devices of
    /// one application): explicit renames first, then fixed IDs, collisions resolved in sorted order.
    ///
    /// Unchanged IDs claim first, then fixed IDs in v2 ID order: the first claimant of every ID keeps
    /// it; the others (in v2 ID order) get the lowest `-2`, `-3`, … that no rename, no claimant and no
    /// earlier loser uses, and that is not blocklisted.
    public static func assign(_ v2IDs: [String], renames: [String: String] = [:]) -> [String: AssignedID] {
        let sorted = Array(Set(v2IDs)).sorted()
        var result: [String: AssignedID] = [:]
        result.reserveCapacity(sorted.count)
        var taken = Set<String>()
        for v2ID in sorted {
            if let target = renames[v2ID] {
                result[v2ID] = AssignedID(id: target, reasons: target == v2ID ? [] : [.renamed])
                taken.insert(target)
            }
        }
        var fixed: [(String, AssignedID)] = []
        fixed.reserveCapacity(sorted.count)
        var losers: [(String, AssignedID)] = []
        var claimed = Set<String>()
        let candidates = sorted.filter { renames[$0] == nil }.map { ($0, fixEntityID($0)) }
        // IDs that need no fixing claim first, so a valid v3 ID never moves for a fixed one.
        for pass in [false, true] {
            for (v2ID, candidate) in candidates where candidate.changed == pass {
                if !taken.contains(candidate.id) && claimed.insert(candidate.id).inserted {
                    fixed.append((v2ID, candidate))
                } else {
                    losers.append((v2ID, candidate))
                }
            }
        }
        losers.sort { $0.0 < $1.0 }
        for (v2ID, candidate) in fixed {
            result[v2ID] = candidate
            taken.insert(candidate.id)
        }
        for (v2ID, candidate) in losers {
            var counter = 2
            var id = appending("-\(counter)", to: candidate.id)
            while taken.contains(id) || V3IDRules.isBlocklisted(id) {
                counter += 1
                id = appending("-\(counter)", to: candidate.id)
            }
            taken.insert(id)
            result[v2ID] = AssignedID(id: id, reasons: candidate.reasons + [.collision])
        }
        return result
    }

    /// The warning code for an ID change: the most decisive reason wins
    /// (collision, blocklisted, too short, too long, invalid characters); nil for explicit renames.
    public static func warningCode(for reasons: [IDChangeReason]) -> WarningCode? {
        if reasons.contains(.renamed) { return nil }
        if reasons.contains(.collision) { return .idCollision }
        if reasons.contains(.blocklisted) { return .idBlocklisted }
        if reasons.contains(.tooShort) { return .idTooShort }
        if reasons.contains(.tooLong) { return .idTooLong }
        if reasons.contains(.invalidCharacters) { return .idInvalidFixed }
        return nil
    }

    /// The warning for an ID change, telling how to choose another ID (nil when unchanged or renamed).
    static func warning(kind: EntityKind, v2ID: String, v3ID: String, assigned: AssignedID, renameSection: String?) -> MappingWarning? {
        guard let code = warningCode(for: assigned.reasons) else { return nil }
        let why: String
        switch code {
        case .idCollision: why = "its fixed ID is taken by another \(kind.rawValue) (sorted by v2 ID, the first keeps it)"
        case .idBlocklisted: why = "its ID is reserved by The Things Stack"
        case .idTooShort: why = "v3 IDs need at least three letters or digits"
        case .idTooLong: why = "v3 IDs are at most 36 characters"
        default: why = "v3 IDs allow only lower-case letters, digits and single dashes"
        }
        let hint = renameSection.map { " To choose the ID yourself, add `rename: {\($0): {\(v2ID): <new-id>}}` to the configuration." } ?? ""
        return MappingWarning(
            code, EntityRef(kind: kind, v2ID: v2ID, v3ID: v3ID),
            "\(kind.rawValue) \"\(v2ID)\" becomes \"\(v3ID)\" in v3: \(why).\(hint)")
    }

    private static func cutToMaxLength(_ id: String) -> String {
        var cut = Array(id.utf8.prefix(V3IDRules.maxLength))
        while cut.last == UInt8(ascii: "-") { cut.removeLast() }
        return String(decoding: cut, as: UTF8.self)
    }
}
