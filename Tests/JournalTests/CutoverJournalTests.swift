import Foundation
import Testing
@testable import Journal

/// The cut-over table: states and counters kept per device, failures counted, read-only refused.
@Suite struct CutoverJournalTests {
    @Test func recordsMoveThroughTheStatesAndCountFailures() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let store = try await Fixtures.openPlanned(path, options: Fixtures.options())
        var record = CutoverRecord(entityKey: "my-app/dev-1", v2ApplicationID: "my_app", v2DeviceID: "dev-1", state: .failed,
                                   lastError: "the Network Server answered 503")
        try await store.recordCutover(record)
        try await store.recordCutover(record)
        record = CutoverRecord(entityKey: "my-app/dev-1", v2ApplicationID: "my_app", v2DeviceID: "dev-1", state: .countersRaised,
                               v2FCntUp: 70000, v2FCntDown: 12, v3FCntUp: 70000, v3FCntDown: 4_294_967_295)
        try await store.recordCutover(record)
        try await store.close()

        let reader = try JournalStore.openForReading(at: path, options: Fixtures.options())
        let read = try #require(try await reader.cutoverRecords()["my-app/dev-1"])
        #expect(read.state == .countersRaised)
        #expect(read.failures == 2)
        #expect(read.lastError == nil)
        #expect(read.v2FCntUp == 70000 && read.v2FCntDown == 12 && read.v3FCntUp == 70000 && read.v3FCntDown == UInt32.max)
        #expect(read.updatedAt == Fixtures.start)
        await #expect(throws: JournalError.readOnly(path: path)) { try await reader.recordCutover(record) }
        try await reader.close()
    }

    @Test func recordingNeedsARun() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let store = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        let record = CutoverRecord(entityKey: "a/b", v2ApplicationID: "a", v2DeviceID: "b", state: .done)
        await #expect(throws: JournalError.noRunStarted(path: path)) { try await store.recordCutover(record) }
        try await store.close()
    }
}
