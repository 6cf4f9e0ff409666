import Foundation

/// The whole v2 estate as read once: the input of `plan`, `run` and `diff` (`--snapshot`).
///
/// A versioned file (`format`, `version`) that holds access keys and device keys, so it is written
/// 0600 and atomically (`SnapshotFile`). Arrays are sorted by ID so the same estate gives the same bytes.
public struct V2Snapshot: Codable, Hashable, Sendable {
    /// The format name every snapshot carries.
    public static let formatName = "ttn-migrate/v2-snapshot"
    /// The newest format version this build reads and the one it writes.
    public static let currentVersion = 1

    public var format: String
    public var version: Int
    /// Where the estate was read from (no credentials).
    public var source: V2SnapshotSource
    public var profile: V2Profile?
    public var applications: [V2ApplicationRecord]
    public var gateways: [V2Gateway]

    public init(
        source: V2SnapshotSource, profile: V2Profile?, applications: [V2ApplicationRecord], gateways: [V2Gateway]
    ) {
        format = Self.formatName
        version = Self.currentVersion
        self.source = source
        self.profile = profile
        self.applications = applications.sorted { $0.application.id < $1.application.id }
        self.gateways = gateways.sorted { $0.id < $1.id }
    }
}

/// The v2 servers a snapshot was read from.
public struct V2SnapshotSource: Codable, Hashable, Sendable {
    public var accountServer: String
    public var handlers: [String]

    public init(accountServer: String, handlers: [String]) {
        self.accountServer = accountServer
        self.handlers = handlers
    }

    enum CodingKeys: String, CodingKey {
        case handlers
        case accountServer = "account_server"
    }
}

/// One application with what the handlers said about it.
public struct V2ApplicationRecord: Codable, Hashable, Sendable {
    public var application: V2Application
    public var handler: V2HandlerRecord

    public init(application: V2Application, handler: V2HandlerRecord) {
        self.application = application
        self.handler = handler
    }
}

/// What the v2 handlers hold for one application, or why it could not be read.
public struct V2HandlerRecord: Codable, Hashable, Sendable {
    /// Outcome of looking the application up on the configured handlers.
    public enum Status: String, Codable, Hashable, Sendable {
        /// Read from `url`.
        case read
        /// No configured handler knows the application.
        case notFound = "not_found"
        /// A handler knows it but no credential could read it (`reason` says why).
        case unreadable
        /// No handler is configured: devices are not migrated.
        case notConfigured = "not_configured"
        /// Deleted applications are not looked up on handlers.
        case skippedDeleted = "skipped_deleted"
    }

    public var status: Status
    public var url: String?
    public var reason: String?
    public var application: V2HandlerApplication?
    public var devices: [V2Device]

    public init(
        status: Status, url: String? = nil, reason: String? = nil, application: V2HandlerApplication? = nil,
        devices: [V2Device] = []
    ) {
        self.status = status
        self.url = url
        self.reason = reason
        self.application = application
        self.devices = devices.sorted { $0.devId < $1.devId }
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        status = try c.decode(Status.self, forKey: .status)
        url = try c.decodeIfPresent(String.self, forKey: .url)
        reason = try c.decodeIfPresent(String.self, forKey: .reason)
        application = try c.decodeIfPresent(V2HandlerApplication.self, forKey: .application)
        devices = try c.decodeIfPresent([V2Device].self, forKey: .devices) ?? []
    }
}
