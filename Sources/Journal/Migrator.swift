import Foundation
import GRDB

/// One journal schema migration: the text of `migrations/NNNN_name.sql` (DESIGN.md §5–§6).
public struct JournalMigration: Sendable, Hashable {
    /// Its number NNNN: the schema version the journal has once it is applied.
    public let version: Int
    /// The file it comes from, e.g. `0001_initial.sql`.
    public let fileName: String
    /// The SQL, verbatim.
    public let sql: String

    /// Makes a migration (the build's own are `JournalMigration.embedded`).
    public init(version: Int, fileName: String, sql: String) {
        self.version = version
        self.fileName = fileName
        self.sql = sql
    }

    /// The schema version this build knows: the number of the last embedded migration.
    public static var currentVersion: Int { embedded.last?.version ?? 0 }
}

/// Applies migrations in order, each in one transaction that also sets `PRAGMA user_version`, so a
/// journal is always at exactly one known version.
enum Migrator {
    /// `'ttnm'` as the 32-bit SQLite `application_id` that 0001 writes into the file header.
    static let applicationID: Int64 = 1_953_787_501

    /// Checks that `migrations` are numbered 1, 2, … without gaps.
    static func validate(_ migrations: [JournalMigration]) throws {
        guard !migrations.isEmpty else { throw JournalError.invalidMigrations(reason: "there are none") }
        for (index, migration) in migrations.enumerated() where migration.version != index + 1 {
            throw JournalError.invalidMigrations(
                reason: "\(migration.fileName) has number \(migration.version) at position \(index + 1)")
        }
    }

    /// What the file holds before migrating.
    enum Found: Equatable {
        /// No schema at all: a file this build may initialise.
        case empty
        /// A journal at this schema version.
        case journal(version: Int)
    }

    /// Tells an empty database from a journal, and refuses anything else.
    static func inspect(_ db: Database, path: String) throws -> Found {
        let application = try Int64.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        let version = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
        let objects = try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master") ?? 0
        if application == applicationID { return .journal(version: version) }
        if application == 0 && version == 0 && objects == 0 { return .empty }
        throw JournalError.foreignDatabase(path: path)
    }

    /// Brings the journal to the last of `migrations`; refuses a journal newer than that.
    /// Returns the version found before migrating (0 for a new journal).
    @discardableResult
    static func migrate(_ writer: DatabasePool, path: String, migrations: [JournalMigration]) throws -> Int {
        try validate(migrations)
        let known = migrations.count
        let found: Found = try writer.read { try inspect($0, path: path) }
        let start: Int
        switch found {
        case .empty: start = 0
        case .journal(let version): start = version
        }
        if start > known { throw JournalError.newerSchema(path: path, found: start, known: known) }
        for migration in migrations where migration.version > start {
            do {
                try writer.writeWithoutTransaction { db in
                    // SQLite's procedure for changes ALTER TABLE cannot make, such as a rebuilt table
                    // (https://www.sqlite.org/lang_altertable.html#otheralter): foreign keys off around the
                    // transaction (the pragma is ignored inside one), checked before it commits.
                    let enforced = try Bool.fetchOne(db, sql: "PRAGMA foreign_keys") ?? false
                    try db.execute(sql: "PRAGMA foreign_keys = OFF")
                    let applied = Result {
                        try db.inTransaction(.immediate) {
                            // Someone else may have migrated meanwhile (`openForReading` does not lock).
                            let now = try Int.fetchOne(db, sql: "PRAGMA user_version") ?? 0
                            guard now < migration.version else { return .commit }
                            try db.execute(sql: migration.sql)
                            try checkForeignKeys(db, path: path, migration: migration)
                            try db.execute(sql: "PRAGMA user_version = \(migration.version)")
                            return .commit
                        }
                    }
                    if enforced { try db.execute(sql: "PRAGMA foreign_keys = ON") }
                    try applied.get()
                }
            } catch let error as DatabaseError {
                if error.resultCode == .SQLITE_CORRUPT || error.resultCode == .SQLITE_NOTADB {
                    throw JournalError.corrupt(path: path, reason: StoreSupport.describe(error))
                }
                throw JournalError.migrationFailed(path: path, migration: migration.fileName, reason: StoreSupport.describe(error))
            }
        }
        return start
    }

    /// Refuses a migration that leaves a row referring to one that does not exist.
    private static func checkForeignKeys(_ db: Database, path: String, migration: JournalMigration) throws {
        guard let row = try Row.fetchOne(db, sql: "PRAGMA foreign_key_check") else { return }
        let table: String = row[0]
        let parent: String = row[2]
        throw JournalError.migrationFailed(
            path: path, migration: migration.fileName,
            reason: "it leaves rows of \(table) referring to rows of \(parent) that do not exist")
    }
}
