import Foundation
import ReferenceData
import Testing

/// The embedded tables must equal the copied files (scripts/embed-reference-data.py regenerates them).
@Test func embeddedReferenceDataMatchesFiles() throws {
    let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Sources/ReferenceData/Data")
    #expect(ReferenceData.files.count == 9)
    for (name, embedded) in ReferenceData.files {
        let onDisk = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
        #expect(embedded == onDisk.trimmingCharacters(in: .newlines) , "\(name) differs: run scripts/embed-reference-data.py")
    }
}
