import Foundation
import V3Client

/// Parses hand-written JSON text into the value the comparison works on.
func json(_ text: String) -> V3JSONValue {
    do {
        return try JSONDecoder().decode(V3JSONValue.self, from: Data(text.utf8))
    } catch {
        fatalError("test JSON does not parse: \(error)\n\(text)")
    }
}
