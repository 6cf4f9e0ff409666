import Foundation
import GRDB

/// Where one device's cut-over stands (`migrations/0002_cutover.sql`).
public enum CutoverState: String, Sendable, Hashable, CaseIterable, Codable {
    /// v3 holds counters at least v2's (or no session); v2 is unchanged.
    case countersRaised = "counters_raised"
    /// v2's AppKey and session were cleared.
    case v2Cleared = "v2_cleared"
    /// A fresh read of v2 shows the keys gone: the device is on v3 only.
    case done
    /// The last attempt stopped with an error.
    case failed
}

/// One device's cut-over as the journal records it.
public struct CutoverRecord: Sendable, Hashable {
    /// The device's v3 path, `application-id/device-id`.
    public var entityKey: String
    public var v2ApplicationID: String
    public var v2DeviceID: String
    public var state: CutoverState
    /// The counters read from v2 by the latest attempt.
    public var v2FCntUp: UInt32?
    public var v2FCntDown: UInt32?
    /// The counters v3 holds after the latest attempt (nil: v3 holds no session).
    public var v3FCntUp: UInt32?
    public var v3FCntDown: UInt32?
    /// Attempts that ended in `failed`.
    public var failures: Int
    public var lastError: String?
    public var updatedAt: Date?

    public init(
        entityKey: String, v2ApplicationID: String, v2DeviceID: String, state: CutoverState, v2FCntUp: UInt32? = nil,
        v2FCntDown: UInt32? = nil, v3FCntUp: UInt32? = nil, v3FCntDown: UInt32? = nil, failures: Int = 0, lastError: String? = nil,
        updatedAt: Date? = nil
    ) {
        self.entityKey = entityKey
        self.v2ApplicationID = v2ApplicationID
        self.v2DeviceID = v2DeviceID
        self.state = state
        self.v2FCntUp = v2FCntUp
        self.v2FCntDown = v2FCntDown
        self.v3FCntUp = v3FCntUp
        self.v3FCntDown = v3FCntDown
        self.failures = failures
        self.lastError = lastError
        self.updatedAt = updatedAt
    }
}

/// The cut-over table: each change is committed on its own before the next request is sent, so a
/// killed cut-over never believes v2 is cleared when it is not (and the reverse costs one idempotent
/// repeat).
extension JournalStore {
    /// Every recorded cut-over, by device path.
    public func cutoverRecords() throws -> [String: CutoverRecord] {
        try read { db in
            var records: [String: CutoverRecord] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT * FROM cutover") {
                let text: String = row["state"]
                guard let state = CutoverState(rawValue: text) else {
                    throw JournalError.corrupt(path: path, reason: "a cut-over row has unknown state \"\(text)\"")
                }
                let record = CutoverRecord(
                    entityKey: row["entity_key"], v2ApplicationID: row["v2_application_id"], v2DeviceID: row["v2_device_id"], state: state,
                    v2FCntUp: Self.counter(row["v2_f_cnt_up"]), v2FCntDown: Self.counter(row["v2_f_cnt_down"]),
                    v3FCntUp: Self.counter(row["v3_f_cnt_up"]), v3FCntDown: Self.counter(row["v3_f_cnt_down"]),
                    failures: row["failures"], lastError: row["last_error"], updatedAt: StoreSupport.date(row["updated_at_ms"] as Int64?))
                records[record.entityKey] = record
            }
            return records
        }
    }

    /// Records a device's new cut-over state in its own transaction; a failure is counted.
    public func recordCutover(_ record: CutoverRecord) throws {
        try requireWritable()
        let run = try requireRun()
        let now = StoreSupport.milliseconds(options.clock())
        try performWrite { db in
            try db.execute(
                sql: """
                    INSERT INTO cutover (entity_key, v2_application_id, v2_device_id, state, v2_f_cnt_up, v2_f_cnt_down,
                                         v3_f_cnt_up, v3_f_cnt_down, failures, last_error, updated_at_ms, run_id)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (entity_key) DO UPDATE SET
                        state = excluded.state, v2_f_cnt_up = excluded.v2_f_cnt_up, v2_f_cnt_down = excluded.v2_f_cnt_down,
                        v3_f_cnt_up = excluded.v3_f_cnt_up, v3_f_cnt_down = excluded.v3_f_cnt_down,
                        failures = cutover.failures + excluded.failures, last_error = excluded.last_error,
                        updated_at_ms = excluded.updated_at_ms, run_id = excluded.run_id
                    """,
                arguments: [
                    record.entityKey, record.v2ApplicationID, record.v2DeviceID, record.state.rawValue,
                    record.v2FCntUp.map { Int64($0) }, record.v2FCntDown.map { Int64($0) }, record.v3FCntUp.map { Int64($0) },
                    record.v3FCntDown.map { Int64($0) }, record.state == .failed ? 1 : 0, record.lastError, now, run,
                ])
        }
    }

    private static func counter(_ value: Int64?) -> UInt32? { value.flatMap { UInt32(exactly: $0) } }
}
