import Foundation
import GRDB
@testable import Journal

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A directory of its own for one test, removed when the test ends.
final class TemporaryDirectory {
    let path: String

    init(_ name: String = #function) throws {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("journal-tests-\(safe)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
        path = url.path
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A clock tests set by hand, so recorded times are known in advance.
final class ManualClock: @unchecked Sendable {
    private let lock = NSLock()
    private var now: Date

    init(_ start: Date) { now = start }

    func advance(seconds: TimeInterval) {
        lock.lock()
        now = now.addingTimeInterval(seconds)
        lock.unlock()
    }

    func read() -> Date {
        lock.lock()
        defer { lock.unlock() }
        return now
    }
}

enum Fixtures {
    static let target = JournalTarget(identityServerURL: "https://eu1.cloud.thethings.network", ownerKind: .user, ownerID: "alice")
    /// 2024-05-01T10:00:00Z.
    static let start = Date(timeIntervalSince1970: 1_714_557_600)

    static func options(
        clock: ManualClock? = nil, groupCommit: GroupCommitPolicy = .standard, faults: JournalFaultInjection = .none,
        migrations: [JournalMigration] = JournalMigration.embedded
    ) -> JournalOptions {
        let clock = clock ?? ManualClock(start)
        return JournalOptions(groupCommit: groupCommit, faults: faults, clock: { clock.read() }, migrationTag: "tag12345",
                              migrations: migrations)
    }

    static let runInfo = RunInfo(toolVersion: "0.1.0", commandLine: ["ttn-migrate", "run", "--config", "migrate.yml"],
                                 snapshotPath: "/tmp/x/migration.sqlite.v2.json", snapshotSHA256: "ab12")

    static let plan: [PlannedStep] = [
        PlannedStep(id: "application:my-app:create", kind: "create_application", entityType: "application", entityKey: "my-app", component: .identityServer),
        PlannedStep(id: "api_key:my-app/default:create", kind: "create_api_key", entityType: "api_key", entityKey: "my-app/default", component: .identityServer),
        PlannedStep(id: "device:my-app/dev-1:is", kind: "create_device_is", entityType: "device", entityKey: "my-app/dev-1", component: .identityServer),
        PlannedStep(id: "device:my-app/dev-1:js", kind: "create_device_js", entityType: "device", entityKey: "my-app/dev-1", component: .joinServer),
        PlannedStep(id: "device:my-app/dev-1:ns", kind: "create_device_ns", entityType: "device", entityKey: "my-app/dev-1", component: .networkServer),
        PlannedStep(id: "device:my-app/dev-1:as", kind: "create_device_as", entityType: "device", entityKey: "my-app/dev-1", component: .applicationServer),
    ]

    static let apiKey = CreatedAPIKey(
        entityType: "application", entityID: "my-app", keyID: "KEYID0001", keyName: "v2: default tag12345",
        secret: "NNSXS.SECRETSECRETSECRET", rights: ["RIGHT_APPLICATION_INFO", "RIGHT_APPLICATION_TRAFFIC_READ"],
        replacesV2KeyName: "default")

    /// A journal with a run started and the plan stored.
    static func openPlanned(_ path: String, options: JournalOptions) async throws -> JournalStore {
        let store = try JournalStore.open(at: path, target: target, options: options)
        try await store.startRun(runInfo)
        try await store.upsertPlannedSteps(plan)
        return store
    }
}

func fileMode(_ path: String) -> mode_t? {
    var info = stat()
    guard stat(path, &info) == 0 else { return nil }
    return info.st_mode & 0o777
}

/// The rows `queries` return from the journal at `path`, as text, in order (to compare whole files).
func journalRows(_ path: String, _ queries: [String]) throws -> [String] {
    let queue = try DatabaseQueue(path: path)
    defer { try? queue.close() }
    return try queue.read { db in try queries.flatMap { sql in try Row.fetchAll(db, sql: sql).map { $0.description } } }
}
