/// Error text as a person can read it: a value echoed from hostile input (a megabyte-long ID, an answer's
/// 70,000-character message) is cut to its start and its length, so an error stays a few lines long.
public enum BoundedText {
    /// The longest word (run without spaces) shown whole.
    public static let longestWord = 160
    /// The longest text shown whole; past it the rest is counted, not shown.
    public static let longestText = 4_000

    /// `text` with each overlong word cut to its first 80 characters and its length, and the whole cut at
    /// `longestText` characters.
    public static func bounded(_ text: String) -> String {
        guard text.count > longestWord else { return text }
        var result = text.split(separator: " ", omittingEmptySubsequences: false).map { word in
            word.count > longestWord ? "\(word.prefix(80))…(\(word.count) characters)" : String(word)
        }.joined(separator: " ")
        if result.count > longestText {
            result = "\(result.prefix(longestText))…(\(result.count - longestText) more characters)"
        }
        return result
    }
}
