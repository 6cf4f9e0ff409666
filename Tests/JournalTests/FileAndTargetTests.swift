import Foundation
import Testing
@testable import Journal

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Modes 0600, the writer lock, and the binding of a journal to its target.
@Suite struct FileAndTargetTests {
    @Test func journalAndItsWalAndShmAreOwnerOnly() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("migration.sqlite")
        let store = try await Fixtures.openPlanned(path, options: Fixtures.options())
        try await store.markInFlight(step: "application:my-app:create")
        try await store.flush()
        // While the journal is open in WAL mode all three files exist.
        #expect(fileMode(path) == 0o600)
        #expect(fileMode(path + "-wal") == 0o600)
        #expect(fileMode(path + "-shm") == 0o600)
        #expect(fileMode(path + ".lock") == 0o600)
        try await store.close()
    }

    @Test func wideModesOfAnExistingJournalAreTightenedWithAWarning() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("migration.sqlite")
        let store = try await Fixtures.openPlanned(path, options: Fixtures.options())
        try await store.close()
        #expect(chmod(path, 0o644) == 0)

        let reopened = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        #expect(reopened.warnings == [JournalWarning(message: "\(path) had mode 0644 although it holds API key secrets; set to 0600")])
        #expect(fileMode(path) == 0o600)
        #expect(fileMode(path + "-wal") == 0o600)
        #expect(fileMode(path + "-shm") == 0o600)
        try await reopened.close()
    }

    @Test func preCreatedEmptyFileBecomesAJournalWithMode0600() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("empty.sqlite")
        #expect(FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o664]))
        let store = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        #expect(store.created)
        #expect(store.upgradedFromVersion == 0)
        #expect(store.warnings == [JournalWarning(message: "\(path) had mode 0664 although it holds API key secrets; set to 0600")])
        #expect(fileMode(path) == 0o600)
        try await store.close()
    }

    @Test func secondWriterIsRefusedUntilTheFirstCloses() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let first = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        #expect(throws: JournalError.inUse(path: path)) {
            try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        }
        #expect(JournalError.inUse(path: path).description
            == "journal \(path) is in use by another ttn-migrate process: wait for it to end or stop it, then run the command again")
        // Reading works while the writer holds the journal.
        let reader = try JournalStore.openForReading(at: path, options: Fixtures.options())
        #expect(reader.target == Fixtures.target)
        try await reader.close()
        try await first.close()
        let second = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        try await second.close()
    }

    @Test func aWriterWaitsForAHolderThatIsJustLettingGo() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        // A holder on its own thread (as another process would be) lets go after 200 ms.
        try holdTheLock(of: path, forMilliseconds: 200)
        #expect(throws: JournalError.inUse(path: path)) { try JournalLock.acquire(journalPath: path, patience: .zero) }
        // Within the writer's patience (1 s) the lock comes free, so this open succeeds.
        let second = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        try await second.close()
    }

    /// A child between fork and exec holds a copy of every descriptor: closing ours must still
    /// release the lock, which only an explicit unlock does. A `dup` stands in for the child's copy.
    @Test func releasingTheLockDoesNotWaitForCopiesOfItsDescriptor() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        var copy: Int32 = -1
        do {
            let lock = try JournalLock.acquire(journalPath: path)
            copy = dup(lock.descriptor)
            try #require(copy >= 0)
        }
        defer { close(copy) }
        #expect(throws: Never.self) { _ = try JournalLock.acquire(journalPath: path, patience: .zero) }
    }

    @Test func anotherTargetIsRefusedNamingBoth() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let store = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        try await store.close()

        let otherOwner = JournalTarget(identityServerURL: "https://eu1.cloud.thethings.network", ownerKind: .organization, ownerID: "acme")
        do {
            _ = try JournalStore.open(at: path, target: otherOwner, options: Fixtures.options())
            Issue.record("opened for another target")
        } catch let error as JournalError {
            #expect(error == .targetMismatch(path: path, journal: Fixtures.target, requested: otherOwner))
            #expect(error.description == "journal \(path) belongs to target https://eu1.cloud.thethings.network (user alice), not https://eu1.cloud.thethings.network (organization acme): use the journal of https://eu1.cloud.thethings.network (organization acme), or a new --journal path to start a migration to it")
        }
        let otherCluster = JournalTarget(identityServerURL: "https://nam1.cloud.thethings.network", ownerKind: .user, ownerID: "alice")
        #expect(throws: JournalError.targetMismatch(path: path, journal: Fixtures.target, requested: otherCluster)) {
            try JournalStore.open(at: path, target: otherCluster, options: Fixtures.options())
        }
        // The same target written differently is the same target.
        let sameTarget = JournalTarget(identityServerURL: " HTTPS://EU1.Cloud.TheThings.Network/ ", ownerKind: .user, ownerID: "alice")
        let reopened = try JournalStore.open(at: path, target: sameTarget, options: Fixtures.options())
        #expect(reopened.target == Fixtures.target)
        try await reopened.close()
    }

    @Test func targetNormalisationKeepsThePath() {
        #expect(JournalTarget(identityServerURL: "HTTP://Localhost:8080/Api/", ownerKind: .user, ownerID: "u").identityServerURL
            == "http://localhost:8080/Api")
        #expect(JournalTarget(identityServerURL: "eu1.cloud.thethings.network//", ownerKind: .user, ownerID: "u").identityServerURL
            == "eu1.cloud.thethings.network")
    }

    @Test func readingNeedsAnExistingBoundJournal() async throws {
        let directory = try TemporaryDirectory()
        let missing = directory.file("nothing.sqlite")
        #expect(throws: JournalError.notFound(path: missing)) {
            try JournalStore.openForReading(at: missing, options: Fixtures.options())
        }
        #expect(!FileManager.default.fileExists(atPath: missing))
        #expect(JournalError.notFound(path: missing).description
            == "no journal at \(missing): check the --journal path (`ttn-migrate run` creates the journal)")

        let empty = directory.file("empty.sqlite")
        #expect(FileManager.default.createFile(atPath: empty, contents: nil))
        #expect(throws: JournalError.unbound(path: empty)) {
            try JournalStore.openForReading(at: empty, options: Fixtures.options())
        }
    }

    @Test func readingStoreRefusesChanges() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let writer = try await Fixtures.openPlanned(path, options: Fixtures.options())
        try await writer.close()

        let reader = try JournalStore.openForReading(at: path, options: Fixtures.options())
        #expect(reader.isReadOnly)
        #expect(reader.migrationTag == "tag12345")
        await #expect(throws: JournalError.readOnly(path: path)) { try await reader.startRun(Fixtures.runInfo) }
        await #expect(throws: JournalError.readOnly(path: path)) { try await reader.markInFlight(step: "application:my-app:create") }
        #expect(try await reader.stateCounts()[.pending] == 6)
        try await reader.close()
        await #expect(throws: JournalError.closed(path: path)) { try await reader.stateCounts() }
    }
}

/// Takes the writer lock of the journal at `path` and lets go of it on a thread of its own (not Dispatch's
/// pool, which a loaded machine may keep busy for longer) after `milliseconds`.
private func holdTheLock(of path: String, forMilliseconds milliseconds: UInt32) throws {
    let holder = try JournalLock.acquire(journalPath: path)
    let thread = Thread {
        usleep(milliseconds * 1000)
        withExtendedLifetime(holder) {}
    }
    thread.start()
}
