import Foundation
import Mapping

/// How a planned API key is recognised among an application's v3 keys (v3 never returns a secret again,
/// so keys are compared by name and rights).
///
/// With a run tag (from the journal) the name must be exactly the planned `v2: <name> [<tag>]`. Without
/// one, any run's key counts: the name must be what the mapping makes of the v2 name with the key's own
/// tag, or equal the planned name once both drop their ` [<tag>]`.
public enum APIKeyMatching {
    /// Whether a v3 key named `actual` is the planned key. `runTag` is the tag the plan was made with,
    /// nil when any run's key counts.
    public static func matches(planned: IntendedAPIKey, actual: String, runTag: String?) -> Bool {
        if runTag != nil { return actual == planned.name }
        if let tag = tag(of: actual), ApplicationMapping.apiKeyName(v2Name: planned.v2Name, runTag: tag).name == actual {
            return true
        }
        return withoutTag(actual) == withoutTag(planned.name)
    }

    /// The run tag at the end of a key name (` [tag]`, 1–12 of `a-z 0-9 -`), if any.
    public static func tag(of name: String) -> String? {
        guard name.hasSuffix("]"), let open = name.range(of: " [", options: .backwards) else { return nil }
        let tag = String(name[open.upperBound..<name.index(before: name.endIndex)])
        let valid = (1...12).contains(tag.utf8.count) && tag.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
        return valid ? tag : nil
    }

    /// The name without its trailing ` [tag]`.
    public static func withoutTag(_ name: String) -> String {
        guard let tag = tag(of: name) else { return name }
        return String(name.dropLast(tag.count + 3))
    }
}
