import Foundation
import Testing
@testable import Journal

/// Schema: embedded migrations equal migrations/*.sql, applied in order, upgraded, newer and damaged
/// files refused.
@Suite struct MigrationTests {
    static let migrationsDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("migrations")

    /// The binary works when copied alone: the generated file must hold every migration byte for byte
    /// (scripts/embed-migrations.py regenerates it).
    @Test func embeddedMigrationsMatchFiles() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.migrationsDirectory.path)
            .filter { $0.hasSuffix(".sql") }.sorted()
        #expect(names == ["0001_initial.sql", "0002_cutover.sql", "0003_plan_fingerprint.sql", "0004_steps_checks_as_comparisons.sql"])
        #expect(JournalMigration.embedded.map(\.fileName) == names)
        #expect(JournalMigration.embedded.map(\.version) == [1, 2, 3, 4])
        #expect(JournalMigration.currentVersion == 4)
        for migration in JournalMigration.embedded {
            let onDisk = try Data(contentsOf: Self.migrationsDirectory.appendingPathComponent(migration.fileName))
            #expect(Data(migration.sql.utf8) == onDisk, "\(migration.fileName) differs: run scripts/embed-migrations.py")
        }
    }

    @Test func newJournalIsCreatedAtTheCurrentSchema() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("migration.sqlite")
        let store = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        #expect(store.created)
        #expect(store.schemaVersion == 4)
        #expect(store.upgradedFromVersion == 0)
        #expect(store.migrationTag == "tag12345")
        #expect(store.warnings.isEmpty)
        #expect(try await store.stateCounts() == [.pending: 0, .inFlight: 0, .done: 0, .failed: 0, .skipped: 0, .rolledBack: 0])
        try await store.close()

        let again = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        #expect(!again.created)
        #expect(again.upgradedFromVersion == nil)
        #expect(again.migrationTag == "tag12345")
        try await again.close()
    }

    @Test func randomTagHasEightLowerCaseCharacters() async throws {
        let directory = try TemporaryDirectory()
        var options = Fixtures.options()
        options.migrationTag = nil
        let store = try JournalStore.open(at: directory.file("j.sqlite"), target: Fixtures.target, options: options)
        #expect(store.migrationTag.count == 8)
        #expect(store.migrationTag.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) })
        try await store.close()
    }

    @Test func writerUsesSynchronousFull() async throws {
        let directory = try TemporaryDirectory()
        let store = try JournalStore.open(at: directory.file("j.sqlite"), target: Fixtures.target, options: Fixtures.options())
        #expect(try await store.writerPragma("synchronous") == 2)
        try await store.close()
    }

    /// A journal of schema 1 (before the cut-over table and the plan fingerprint) is upgraded to 4 and keeps its steps.
    @Test func schemaOneJournalGainsTheCutoverTable() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let old = try await Fixtures.openPlanned(path, options: Fixtures.options(migrations: [JournalMigration.embedded[0]]))
        #expect(old.schemaVersion == 1)
        try await old.markInFlight(step: "application:my-app:create")
        try await old.markDone(step: "application:my-app:create", result: ["application_id": "my-app"])
        try await old.close()

        let upgraded = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        #expect(upgraded.schemaVersion == 4)
        #expect(upgraded.upgradedFromVersion == 1)
        #expect(try await upgraded.step("application:my-app:create")?.state == .done)
        #expect(try await upgraded.cutoverRecords().isEmpty)
        try await upgraded.close()
    }

    /// A further migration (test-only) upgrades a journal made with this build's and keeps its data.
    @Test func olderJournalIsUpgraded() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let old = try await Fixtures.openPlanned(path, options: Fixtures.options())
        try await old.markInFlight(step: "application:my-app:create")
        try await old.markDone(step: "application:my-app:create", result: ["application_id": "my-app"])
        try await old.close()

        let second = JournalMigration(version: 5, fileName: "0005_test_mark.sql", sql: """
            ALTER TABLE steps ADD COLUMN test_note TEXT;
            UPDATE steps SET last_error = 'seen by 0005' WHERE state = 'done';
            """)
        let upgraded = try JournalStore.open(
            at: path, target: Fixtures.target, options: Fixtures.options(migrations: JournalMigration.embedded + [second]))
        #expect(upgraded.schemaVersion == 5)
        #expect(upgraded.upgradedFromVersion == 4)
        #expect(!upgraded.created)
        let step = try #require(try await upgraded.step("application:my-app:create"))
        #expect(step.state == .done)
        #expect(step.result == ["application_id": "my-app"])
        #expect(step.lastError == "seen by 0005")
        #expect(try await upgraded.stateCounts()[.pending] == 5)
        try await upgraded.close()

        // This build (schema 4) now refuses the journal: it was written by a newer schema.
        #expect(throws: JournalError.newerSchema(path: path, found: 5, known: 4)) {
            try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        }
        #expect(throws: JournalError.newerSchema(path: path, found: 5, known: 4)) {
            try JournalStore.openForReading(at: path, options: Fixtures.options())
        }
    }

    @Test func newerSchemaMessageTellsToUpgrade() {
        let error = JournalError.newerSchema(path: "/data/m.sqlite", found: 3, known: 1)
        #expect(error.description == "journal /data/m.sqlite was written by a newer ttn-migrate (schema 3, this build knows 1): upgrade ttn-migrate")
    }

    @Test func failedMigrationLeavesTheJournalAtItsVersion() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let old = try await Fixtures.openPlanned(path, options: Fixtures.options())
        try await old.close()

        let broken = JournalMigration(version: 5, fileName: "0005_broken.sql", sql: "CREATE TABLE steps (x INTEGER);")
        #expect(throws: JournalError.migrationFailed(
            path: path, migration: "0005_broken.sql", reason: "SQLite error 1: table steps already exists")) {
            try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options(migrations: JournalMigration.embedded + [broken]))
        }
        let reopened = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        #expect(reopened.schemaVersion == 4)
        #expect(reopened.upgradedFromVersion == nil)
        #expect(try await reopened.stateCounts()[.pending] == 6)
        try await reopened.close()
    }

    @Test func migrationsMustBeNumberedWithoutGaps() throws {
        let directory = try TemporaryDirectory()
        let gap = JournalMigration(version: 6, fileName: "0006_gap.sql", sql: "SELECT 1;")
        #expect(throws: JournalError.invalidMigrations(reason: "0006_gap.sql has number 6 at position 5")) {
            try JournalStore.open(at: directory.file("j.sqlite"), target: Fixtures.target,
                                  options: Fixtures.options(migrations: JournalMigration.embedded + [gap]))
        }
        #expect(throws: JournalError.invalidMigrations(reason: "there are none")) {
            try JournalStore.open(at: directory.file("j.sqlite"), target: Fixtures.target, options: Fixtures.options(migrations: []))
        }
    }

    @Test func shortGarbageFileIsRefused() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("notes.txt")
        try Data("hello, this is not a database\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: JournalError.notADatabase(path: path, reason: "it does not start with the SQLite file header")) {
            try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        }
        #expect(throws: JournalError.notADatabase(path: path, reason: "it does not start with the SQLite file header")) {
            try JournalStore.openForReading(at: path, options: Fixtures.options())
        }
        // The file was not touched.
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "hello, this is not a database\n")
    }

    @Test func longGarbageFileIsRefusedWithAClearMessage() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("garbage.sqlite")
        try Data(repeating: 0x41, count: 8192).write(to: URL(fileURLWithPath: path))
        do {
            _ = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
            Issue.record("a garbage file was opened")
        } catch let error as JournalError {
            #expect(error == .notADatabase(path: path, reason: "it does not start with the SQLite file header"))
            #expect(error.description == "\(path) is not a ttn-migrate journal: it is not a SQLite database (it does not start with the SQLite file header); pass --journal the journal of this migration, or a path that does not exist yet to start a new one")
        }
    }

    @Test func directoryIsRefused() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("adir")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        #expect(throws: JournalError.notADatabase(path: path, reason: "it is a directory")) {
            try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        }
    }

    @Test func missingDirectoryIsNamed() throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("missing/j.sqlite")
        #expect(throws: JournalError.openFailed(
            path: path, reason: "cannot create its lock file \(path).lock: No such file or directory")) {
            try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        }
    }

    /// A valid header with damaged pages behind it.
    @Test func damagedJournalIsRefused() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let store = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        try await store.startRun(Fixtures.runInfo)
        let many = (0..<400).map {
            PlannedStep(id: "gateway:gw-\($0):create", kind: "create_gateway", entityType: "gateway", entityKey: "gw-\($0)", component: .identityServer)
        }
        try await store.upsertPlannedSteps(many)
        try await store.close()
        let walSize = (try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? Int ?? 0
        #expect(walSize == 0, "closing checkpoints the WAL into the file")

        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seek(toOffset: 4096)
        try handle.write(contentsOf: Data(repeating: 0xA5, count: 4096 * 4))
        try handle.close()

        do {
            _ = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
            Issue.record("a damaged journal was opened")
        } catch let error as JournalError {
            guard case .corrupt(let reportedPath, _) = error else {
                Issue.record("expected .corrupt, got \(error)")
                return
            }
            #expect(reportedPath == path)
            #expect(error.description.hasPrefix("journal \(path) is damaged ("))
            #expect(error.description.hasSuffix("restore it from a backup, or move it aside and start a new journal (the new run reconciles with what v3 already holds)"))
        }
    }

    /// Another program's SQLite file (application ID not the journal's) is refused before SQLite
    /// changes anything in it.
    @Test func foreignDatabaseIsRefused() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("other.db")
        let foreign = JournalMigration(version: 1, fileName: "0001_other.sql", sql: "PRAGMA application_id = 42; CREATE TABLE things (x);")
        #expect(throws: (any Error).self) {
            try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options(migrations: [foreign]))
        }
        #expect(throws: JournalError.foreignDatabase(path: path)) {
            try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        }
    }

    /// Another program's SQLite file without an application ID is refused too.
    @Test func unmarkedForeignDatabaseIsRefused() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("other.db")
        let foreign = JournalMigration(version: 1, fileName: "0001_other.sql", sql: "CREATE TABLE things (x);")
        #expect(throws: (any Error).self) {
            try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options(migrations: [foreign]))
        }
        #expect(throws: JournalError.foreignDatabase(path: path)) {
            try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        }
    }
}
