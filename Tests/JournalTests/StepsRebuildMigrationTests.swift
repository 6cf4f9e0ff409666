import Foundation
import GRDB
import Testing
@testable import Journal

/// Schema 4 rebuilds `steps` so its checks need no temporary b-tree per row and a state change moves no
/// index entry (issue 12); the rebuild keeps every row and rule, and a migration that breaks a
/// reference is refused.
@Suite struct StepsRebuildMigrationTests {
    /// Every row of every table, as text, in a fixed order.
    private static func dump(_ path: String) throws -> [String] {
        try journalRows(path, [
            "SELECT * FROM journal_info", "SELECT * FROM runs ORDER BY id", "SELECT * FROM steps ORDER BY id",
            "SELECT * FROM step_events ORDER BY id", "SELECT * FROM api_keys ORDER BY step_id",
            "SELECT * FROM cutover ORDER BY entity_key",
        ])
    }

    /// The opcodes SQLite runs for `sql` on the journal at `path`.
    private static func opcodes(_ sql: String, _ path: String) throws -> [String] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in try Row.fetchAll(db, sql: "EXPLAIN " + sql).map { $0["opcode"] as String } }
    }

    private static let stateChange = "UPDATE steps SET state = 'done', updated_at_ms = 1 WHERE id = 'x' AND state = 'in_flight'"
    private static let plannedStep = """
        INSERT INTO steps (id, kind, entity_type, entity_key, component, state, attempts, plan_position, created_at_ms, updated_at_ms, run_id)
        VALUES ('x', 'k', 't', 'e', 'is', 'pending', 0, 0, 1, 1, 1)
        """

    /// A schema-3 journal with steps in every kind of state, its events and a key.
    private static func schemaThreeJournal(_ path: String) async throws {
        let old = try await Fixtures.openPlanned(path, options: Fixtures.options(migrations: Array(JournalMigration.embedded.prefix(3))))
        #expect(old.schemaVersion == 3)
        try await old.markInFlight(step: "application:my-app:create")
        try await old.markDone(step: "application:my-app:create", result: ["application_id": "my-app"])
        try await old.markInFlight(step: "api_key:my-app/default:create")
        try await old.markDone(step: "api_key:my-app/default:create", apiKey: Fixtures.apiKey)
        try await old.markInFlight(step: "device:my-app/dev-1:is")
        try await old.markFailed(step: "device:my-app/dev-1:is", error: "HTTP 500", correlationID: "c-1")
        try await old.markInFlight(step: "device:my-app/dev-1:js")
        try await old.markSkipped(step: "device:my-app/dev-1:as", reason: "no AS part")
        try await old.flush()
        try await old.close()
    }

    @Test func rebuildKeepsEveryRowIndexAndReference() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        try await Self.schemaThreeJournal(path)
        let before = try Self.dump(path)
        #expect(try Self.opcodes(Self.stateChange, path).contains("OpenEphemeral"), "schema 3 checks the state through a temporary b-tree")

        let upgraded = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        #expect(upgraded.schemaVersion == 4)
        #expect(upgraded.upgradedFromVersion == 3)
        #expect(try await upgraded.writerPragma("foreign_keys") == 1)
        #expect(try await upgraded.step("device:my-app/dev-1:is")?.lastError == "HTTP 500")
        #expect(try await upgraded.apiKeys().map(\.key) == [Fixtures.apiKey])
        try await upgraded.close()

        #expect(try Self.dump(path) == before)
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            let indexes = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'steps' AND sql IS NOT NULL ORDER BY name")
            #expect(indexes == ["steps_by_entity"])
            #expect(try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE name LIKE '%rebuilt%'").isEmpty)
            // The events and keys still refer to the rebuilt table.
            #expect(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").isEmpty)
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: "INSERT INTO step_events (run_id, step_id, from_state, to_state, at_ms) VALUES (1, 'no-such-step', 'pending', 'in_flight', 1)")
            }
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: "DELETE FROM steps WHERE id = 'api_key:my-app/default:create'")
            }
        }
        try queue.close()
    }

    @Test func checksStillRefuseUnknownValuesWithoutATemporaryTable() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let store = try await Fixtures.openPlanned(path, options: Fixtures.options())
        try await store.close()

        #expect(!(try Self.opcodes(Self.stateChange, path)).contains("OpenEphemeral"))
        #expect(!(try Self.opcodes(Self.plannedStep, path)).contains("OpenEphemeral"))
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            for state in ["pending", "in_flight", "done", "failed", "skipped", "rolled_back"] {
                try db.execute(sql: "UPDATE steps SET state = ? WHERE id = 'application:my-app:create'", arguments: [state])
            }
            for bad in ["bogus", "", "DONE"] {
                #expect(throws: DatabaseError.self) {
                    try db.execute(sql: "UPDATE steps SET state = ? WHERE id = 'application:my-app:create'", arguments: [bad])
                }
            }
            for component in ["is", "js", "ns", "as"] {
                try db.execute(sql: Self.plannedStep.replacingOccurrences(of: "'x'", with: "'x-\(component)'")
                    .replacingOccurrences(of: "'is'", with: "'\(component)'"))
            }
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: Self.plannedStep.replacingOccurrences(of: "'is'", with: "'gs'"))
            }
            #expect(throws: DatabaseError.self) {
                try db.execute(sql: Self.plannedStep.replacingOccurrences(of: "'x'", with: "''"))
            }
        }
        try queue.close()
    }

    @Test func migrationThatBreaksAReferenceIsRefused() async throws {
        let directory = try TemporaryDirectory()
        let path = directory.file("j.sqlite")
        let store = try await Fixtures.openPlanned(path, options: Fixtures.options())
        try await store.markInFlight(step: "application:my-app:create")
        try await store.flush()
        try await store.close()

        let orphaning = JournalMigration(version: 5, fileName: "0005_orphaning.sql", sql: "DELETE FROM steps WHERE id = 'application:my-app:create';")
        #expect(throws: JournalError.migrationFailed(
            path: path, migration: "0005_orphaning.sql", reason: "it leaves rows of step_events referring to rows of steps that do not exist")) {
            try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options(migrations: JournalMigration.embedded + [orphaning]))
        }
        let reopened = try JournalStore.open(at: path, target: Fixtures.target, options: Fixtures.options())
        #expect(reopened.schemaVersion == 4)
        #expect(try await reopened.step("application:my-app:create")?.state == .inFlight)
        #expect(try await reopened.writerPragma("foreign_keys") == 1)
        try await reopened.close()
    }
}
