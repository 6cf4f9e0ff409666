import Foundation
import GRDB

/// Helpers shared by the store: time conversion, JSON columns, row decoding, error mapping and the
/// look at a file's SQLite header before SQLite touches it.
enum StoreSupport {
    static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
    static func date(_ milliseconds: Int64?) -> Date? { milliseconds.map { date($0) } }

    /// Compact JSON with sorted keys: the same value gives the same text.
    static func json<T: Encodable>(_ value: T) -> String {
        // Most steps finish with an empty result; the encoder would write the same.
        if let dictionary = value as? [String: String], dictionary.isEmpty { return "{}" }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding [String: String] or [String] cannot fail.
        let data = (try? encoder.encode(value)) ?? Data("null".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    static func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String, path: String, what: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw JournalError.corrupt(path: path, reason: "\(what) is not valid JSON")
        }
    }

    /// A JSON object of strings (a step's result), read with `JSONSerialization`: a `JSONDecoder` per row
    /// was the larger part of reading a large journal's steps.
    static func decodeStringMap(_ text: String, path: String, what: String) throws -> [String: String] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)), let strings = object as? [String: String] else {
            throw JournalError.corrupt(path: path, reason: "\(what) is not valid JSON")
        }
        return strings
    }

    /// The SQLite result code and message, never the SQL or its arguments (which may hold secrets).
    static func describe(_ error: DatabaseError) -> String {
        let message = error.message ?? "no message"
        return "SQLite error \(error.extendedResultCode.rawValue): \(message)"
    }

    // MARK: Row decoding

    /// The columns every step query selects, in this order: `step(_:path:)` reads them by position, since
    /// looking a column up by name (case-insensitively) was most of reading a large journal's steps.
    static let stepColumns = """
        id, kind, entity_type, entity_key, component, state, attempts, last_error, last_error_correlation_id,
        result_json, skip_reason, plan_position, created_at_ms, updated_at_ms, first_attempted_at_ms,
        last_attempted_at_ms, run_id
        """

    /// A step from a row of `stepColumns`.
    static func step(_ row: Row, path: String) throws -> StepRecord {
        let id: String = row[0]
        let componentText: String = row[4]
        let stateText: String = row[5]
        guard let component = StepComponent(rawValue: componentText) else {
            throw JournalError.corrupt(path: path, reason: "step \(id) has unknown component \"\(componentText)\"")
        }
        guard let state = StepState(rawValue: stateText) else {
            throw JournalError.corrupt(path: path, reason: "step \(id) has unknown state \"\(stateText)\"")
        }
        let resultText: String? = row[9]
        return StepRecord(
            id: id,
            kind: row[1],
            entityType: row[2],
            entityKey: row[3],
            component: component,
            state: state,
            attempts: row[6],
            lastError: row[7],
            lastErrorCorrelationID: row[8],
            result: try resultText.map { try decodeStringMap($0, path: path, what: "the result of step \(id)") },
            skipReason: row[10],
            planPosition: row[11],
            createdAt: date(row[12] as Int64),
            updatedAt: date(row[13] as Int64),
            firstAttemptedAt: date(row[14] as Int64?),
            lastAttemptedAt: date(row[15] as Int64?),
            runID: row[16]
        )
    }

    // MARK: Header check

    /// What the first 100 bytes of a file say, read without SQLite (which would switch another
    /// program's database to WAL mode on open).
    enum Header: Equatable {
        /// Zero bytes: a file this build may initialise.
        case emptyFile
        /// A SQLite database whose header carries the journal's application ID.
        case journal
        /// A SQLite database without an application ID: a journal whose header is still in its WAL,
        /// an empty database, or another program's.
        case unmarkedDatabase
    }

    /// Reads the header of the existing file at `path`; refuses what is clearly not a journal.
    static func inspectHeader(path: String) throws -> Header {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw JournalError.notFound(path: path)
        }
        if isDirectory.boolValue {
            throw JournalError.notADatabase(path: path, reason: "it is a directory")
        }
        let bytes: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            bytes = try handle.read(upToCount: 100) ?? Data()
        } catch {
            throw JournalError.openFailed(path: path, reason: "cannot read it (\(error.localizedDescription))")
        }
        if bytes.isEmpty { return .emptyFile }
        let magic = Data("SQLite format 3\u{0}".utf8)
        guard bytes.count == 100, bytes.prefix(16) == magic else {
            throw JournalError.notADatabase(path: path, reason: "it does not start with the SQLite file header")
        }
        let applicationID = bytes[68..<72].reduce(Int64(0)) { $0 << 8 | Int64($1) }
        if applicationID == Migrator.applicationID { return .journal }
        if applicationID != 0 { throw JournalError.foreignDatabase(path: path) }
        return .unmarkedDatabase
    }

    /// Maps an error thrown while opening to a journal error.
    static func openError(_ error: Error, path: String) -> JournalError {
        if let error = error as? JournalError { return error }
        guard let error = error as? DatabaseError else {
            return .openFailed(path: path, reason: String(describing: error))
        }
        switch error.resultCode {
        case .SQLITE_NOTADB:
            return .notADatabase(path: path, reason: describe(error))
        case .SQLITE_CORRUPT:
            return .corrupt(path: path, reason: describe(error))
        default:
            return .openFailed(path: path, reason: describe(error))
        }
    }
}
