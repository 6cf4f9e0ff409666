import ArgumentParser
import Foundation

/// A list of IDs given as `a,b,c` or `@FILE` (one per line; blank lines and `#` comments ignored).
enum IDList {
    /// The IDs of `value`; nil when the option was not given.
    static func parse(_ value: String?, option: String) throws -> [String]? {
        guard let value else { return nil }
        let text: String
        if value.hasPrefix("@") {
            let path = String(value.dropFirst())
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("\(option) @\(path): cannot read the file; give a readable file of IDs, one per line")
            }
            guard let decoded = String(data: data, encoding: .utf8) else {
                throw ValidationError("\(option) @\(path): the file is not UTF-8 text")
            }
            text = decoded.split(whereSeparator: \.isNewline).map { line in
                String(line.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            }.joined(separator: ",")
        } else {
            text = value
        }
        let ids = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !ids.isEmpty else { throw ValidationError("\(option) names no ID; give a comma-separated list or @FILE") }
        return ids
    }
}
