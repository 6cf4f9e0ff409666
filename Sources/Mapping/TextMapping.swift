import Foundation
import V3Model

/// Names, descriptions and attributes within v3's limits (DESIGN.md §4, `reference/v3-api.md` §3, §8.1).
public enum TextMapping {
    /// Longest entity name, in code points.
    public static let maxNameLength = 50
    /// Longest entity description, in code points.
    public static let maxDescriptionLength = 2000
    /// Most attributes per entity.
    public static let maxAttributes = 10
    /// Longest attribute value, in code points.
    public static let maxAttributeValueLength = 200

    /// The first `limit` code points of `text`, and whether it was cut.
    public static func prefix(_ text: String, codePoints limit: Int) -> (String, cut: Bool) {
        let scalars = text.unicodeScalars
        guard scalars.count > limit else { return (text, false) }
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars.prefix(limit))
        return (String(view), true)
    }

    /// The v3 name and description for a v2 name that may be too long: a name over 50 code points is
    /// cut (with a `name-cut` warning) and kept whole in the description unless one is given.
    public static func nameAndDescription(
        name: String?, description: String?, entity: EntityRef, warnings: inout [MappingWarning]
    ) -> (name: String?, description: String?) {
        var resultDescription = description
        var resultName: String?
        if let name, !name.isEmpty {
            let (cut, wasCut) = prefix(name, codePoints: maxNameLength)
            resultName = cut
            if wasCut {
                if resultDescription == nil || resultDescription!.isEmpty { resultDescription = name }
                warnings.append(MappingWarning(
                    .nameCut, entity,
                    "the name of \(entity.kind.rawValue) \"\(entity.v2ID)\" is longer than \(maxNameLength) characters; v3 gets \"\(cut)\" and the whole name in the description"))
            }
        }
        if let text = resultDescription {
            if text.isEmpty {
                resultDescription = nil
            } else {
                let (cut, wasCut) = prefix(text, codePoints: maxDescriptionLength)
                resultDescription = cut
                if wasCut {
                    warnings.append(MappingWarning(
                        .descriptionCut, entity,
                        "the description of \(entity.kind.rawValue) \"\(entity.v2ID)\" is longer than \(maxDescriptionLength) characters and was cut; edit it in v3 if the end matters"))
                }
            }
        }
        return (resultName, resultDescription)
    }

    /// v3 attributes from the reserved ones (`v2-id`, `v2-euis`: always kept, in the given order) and
    /// the v2 attributes (sorted by key): keys fixed like IDs, empty values dropped, values cut at 200,
    /// at most 10 in all (the rest dropped with one `attributes-dropped` warning). Nil when none remain.
    public static func attributes(
        reserved: [(key: String, value: String)], v2: [String: String]?, entity: EntityRef,
        warnings: inout [MappingWarning]
    ) -> [String: String]? {
        var result: [String: String] = [:]
        var order: [String] = []
        for (key, value) in reserved where !value.isEmpty {
            result[key] = value
            order.append(key)
        }
        var dropped: [String] = []
        for (key, value) in (v2 ?? [:]).sorted(by: { $0.key < $1.key }) {
            if value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { continue }
            guard let fixedKey = IDMapping.fixAttributeKey(key) else {
                dropped.append(key)
                continue
            }
            var finalKey = fixedKey
            var counter = 2
            while result[finalKey] != nil {
                finalKey = IDMapping.appending("-\(counter)", to: fixedKey)
                counter += 1
            }
            if order.count >= maxAttributes {
                dropped.append(key)
                continue
            }
            if finalKey != key {
                warnings.append(MappingWarning(
                    .attributeKeyFixed, entity,
                    "attribute \"\(key)\" of \(entity.kind.rawValue) \"\(entity.v2ID)\" is stored as \"\(finalKey)\": v3 keys are 3–36 lower-case letters, digits and single dashes"))
            }
            let (cut, wasCut) = prefix(value, codePoints: maxAttributeValueLength)
            if wasCut {
                warnings.append(MappingWarning(
                    .attributeValueCut, entity,
                    "attribute \"\(key)\" of \(entity.kind.rawValue) \"\(entity.v2ID)\" is longer than \(maxAttributeValueLength) characters and was cut"))
            }
            result[finalKey] = cut
            order.append(finalKey)
        }
        if !dropped.isEmpty {
            warnings.append(MappingWarning(
                .attributesDropped, entity,
                "\(entity.kind.rawValue) \"\(entity.v2ID)\": attribute(s) \(dropped.map { "\"\($0)\"" }.joined(separator: ", ")) not migrated (v3 allows \(maxAttributes) attributes with keys of 3–36 letters, digits and dashes); add them in v3 by hand if needed"))
        }
        return result.isEmpty ? nil : result
    }
}
