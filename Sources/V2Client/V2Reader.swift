import Foundation
import HTTP
import Logging
import V2Model

/// Where and how to read a v2 estate.
public struct V2ReaderOptions: Sendable {
    /// Account server base URL including `/api/v2`.
    public var accountServer: String
    /// Handler HTTP API base URLs, tried in order per application.
    public var handlers: [String]
    /// The user's bearer token.
    public var token: V2Secret
    /// Applications read from the handlers at once.
    public var applicationConcurrency: Int
    /// Handler requests per second per client and per application (`reference/v2-and-peers.md` §B: 5).
    public var handlerRequestsPerSecond: Double
    /// Devices asked for per list page.
    public var devicePageSize: Int
    public var retry: RetryPolicy

    public init(
        accountServer: String, handlers: [String], token: V2Secret, applicationConcurrency: Int = 8,
        handlerRequestsPerSecond: Double = 5, devicePageSize: Int = 100, retry: RetryPolicy = RetryPolicy()
    ) {
        self.accountServer = accountServer
        self.handlers = handlers
        self.token = token
        self.applicationConcurrency = max(1, applicationConcurrency)
        self.handlerRequestsPerSecond = handlerRequestsPerSecond
        self.devicePageSize = max(1, devicePageSize)
        self.retry = retry
    }
}

/// Reads the whole v2 estate: account server entities, then each application's devices and payload
/// format from the first handler that knows it (DESIGN.md §1 `snapshot`, issue "Foundation and the v2 reader").
public struct V2Reader: Sendable {
    public let options: V2ReaderOptions
    private let transport: V2Transport
    private let logger: Logger

    public init(http: HTTPClient, options: V2ReaderOptions, logger: Logger = Logger(label: "ttn-migrate.v2")) {
        self.options = options
        self.transport = V2Transport(http: http, retry: options.retry, logger: logger)
        self.logger = logger
    }

    /// Reads everything into a snapshot. Applications no handler knows or can read are recorded with
    /// their status (a warning in the plan), not a failure.
    /// The requests this reader has sent and their round trips.
    public var statistics: V2RequestStatistics { transport.statistics }

    public func readEstate() async throws -> V2Snapshot {
        let bearer = V2Credential.bearer(options.token)
        let base = Self.trimmed(options.accountServer)
        let (profile, _) = try await transport.get(V2Profile.self, url: base + "/users/me", credential: bearer, entity: "the v2 user profile")
        var (applications, _) = try await transport.get(
            [V2Application].self, url: base + "/applications?deleted=1", credential: bearer, entity: "the v2 application list")
        var (gateways, _) = try await transport.get([V2Gateway].self, url: base + "/gateways", credential: bearer, entity: "the v2 gateway list")

        applications = try await completeApplications(applications, base: base, bearer: bearer)
        gateways = try await completeGateways(gateways, base: base, bearer: bearer)

        let pacer = RequestPacer(perSecond: options.handlerRequestsPerSecond)
        var records: [V2ApplicationRecord] = []
        try await withThrowingTaskGroup(of: V2ApplicationRecord.self) { group in
            var pending = applications[...]
            func addNext() {
                guard let application = pending.popFirst() else { return }
                group.addTask { try await self.readHandlerRecord(for: application, pacer: pacer) }
            }
            for _ in 0..<options.applicationConcurrency { addNext() }
            while let record = try await group.next() {
                records.append(record)
                addNext()
            }
        }
        return V2Snapshot(
            source: V2SnapshotSource(accountServer: HTTPClient.displayURL(base), handlers: options.handlers.map { HTTPClient.displayURL(Self.trimmed($0)) }),
            profile: profile, applications: records, gateways: gateways)
    }

    /// Fills in collaborators and access keys the list left out (their presence depends on rights).
    private func completeApplications(_ applications: [V2Application], base: String, bearer: V2Credential) async throws -> [V2Application] {
        var result: [V2Application] = []
        for var application in applications {
            let path = base + "/applications/" + Self.escape(application.id)
            if application.collaborators == nil {
                application.collaborators = try await optionalList(
                    [V2Collaborator].self, url: path + "/collaborators", entity: "collaborators of application \(application.id)", bearer: bearer)
            }
            if application.accessKeys == nil {
                application.accessKeys = try await optionalList(
                    [V2AccessKey].self, url: path + "/access-keys", entity: "access keys of application \(application.id)", bearer: bearer)
            }
            result.append(application)
        }
        return result
    }

    private func completeGateways(_ gateways: [V2Gateway], base: String, bearer: V2Credential) async throws -> [V2Gateway] {
        var result: [V2Gateway] = []
        for var gateway in gateways {
            if gateway.collaborators == nil {
                gateway.collaborators = try await optionalList(
                    [V2Collaborator].self, url: base + "/gateways/" + Self.escape(gateway.id) + "/collaborators",
                    entity: "collaborators of gateway \(gateway.id)", bearer: bearer)
            }
            result.append(gateway)
        }
        return result
    }

    /// A list the caller may not be allowed to read: 403/404 leave it unknown (nil).
    private func optionalList<T: Decodable>(_ type: T.Type, url: String, entity: String, bearer: V2Credential) async throws -> T? {
        do {
            return try await transport.get(type, url: url, credential: bearer, entity: entity).0
        } catch V2ClientError.forbidden, V2ClientError.notFound {
            logger.info("\(entity): not readable with this token; left out")
            return nil
        }
    }

    /// Finds the application on the first handler that knows it and reads its devices there.
    func readHandlerRecord(for application: V2Application, pacer: RequestPacer) async throws -> V2ApplicationRecord {
        if application.isDeleted {
            return V2ApplicationRecord(application: application, handler: V2HandlerRecord(status: .skippedDeleted))
        }
        if options.handlers.isEmpty {
            return V2ApplicationRecord(application: application, handler: V2HandlerRecord(status: .notConfigured))
        }
        var credentials: [V2Credential] = []
        // DESIGN.md §4 "Handler access": an access key holding `devices` and `settings`, else the bearer token.
        if let key = application.accessKeys?.first(where: { Set($0.rights).isSuperset(of: ["devices", "settings"]) }) {
            credentials.append(.accessKey(key.key))
        }
        credentials.append(.bearer(options.token))

        var refusals: [String] = []
        var refusingHandler: String?
        for handler in options.handlers.map(Self.trimmed) {
            let appURL = handler + "/applications/" + Self.escape(application.id)
            for credential in credentials {
                let paceKeys = ["client:" + Self.clientKey(credential, application: application.id), "app:" + application.id]
                do {
                    let (handlerApplication, _) = try await transport.get(
                        V2HandlerApplication.self, url: appURL, credential: credential,
                        entity: "application \(application.id) on handler \(HTTPClient.displayURL(handler))", pacer: pacer, paceKeys: paceKeys)
                    let devices = try await readDevices(
                        application: application.id, appURL: appURL, credential: credential, pacer: pacer, paceKeys: paceKeys)
                    return V2ApplicationRecord(
                        application: application,
                        handler: V2HandlerRecord(status: .read, url: HTTPClient.displayURL(handler), application: handlerApplication, devices: devices))
                } catch V2ClientError.notFound {
                    break
                } catch V2ClientError.unauthorized(_, _, let message), V2ClientError.forbidden(_, _, let message) {
                    refusals.append("\(HTTPClient.displayURL(handler)) refused the \(credential): \(message)")
                    refusingHandler = refusingHandler ?? HTTPClient.displayURL(handler)
                    continue
                }
            }
        }
        if refusals.isEmpty {
            return V2ApplicationRecord(application: application, handler: V2HandlerRecord(status: .notFound))
        }
        return V2ApplicationRecord(
            application: application,
            handler: V2HandlerRecord(status: .unreadable, url: refusingHandler, reason: refusals.joined(separator: "; ")))
    }

    /// Lists the devices page by page, then GETs each one (only that carries the frame counters).
    private func readDevices(
        application: String, appURL: String, credential: V2Credential, pacer: RequestPacer, paceKeys: [String]
    ) async throws -> [V2Device] {
        // The list serves only to enumerate IDs; each device is then read and validated on its own, so
        // an error names the device. A page that brings no device not listed before is an error, so a
        // handler that ignores `offset` (and would page forever) cannot hold the read, nor cut it short silently.
        var listed: [ListedDevice] = []
        var seen: Set<String> = []
        var offset = 0
        while true {
            let url = appURL + "/devices?limit=\(options.devicePageSize)&offset=\(offset)"
            let entity = "devices of application \(application)"
            let (page, headers) = try await transport.get(
                ListedDevices.self, url: url, credential: credential, entity: entity, pacer: pacer, paceKeys: paceKeys)
            let fresh = page.devices.filter { seen.insert($0.devId).inserted }
            if !page.devices.isEmpty && fresh.isEmpty {
                throw V2ClientError.malformedResponse(
                    entity: entity, url: HTTPClient.displayURL(url),
                    reason: "the page at offset \(offset) repeats only devices already listed (\(listed.count) so far), so the list would never end")
            }
            listed += fresh
            offset += page.devices.count
            let total = headers["Grpc-Metadata-Total"].flatMap(Int.init)
            if page.devices.count < options.devicePageSize || page.devices.isEmpty || (total.map { offset >= $0 } ?? false) { break }
        }
        var devices: [V2Device] = []
        for device in listed {
            let (full, _) = try await transport.get(
                V2Device.self, url: appURL + "/devices/" + Self.escape(device.devId), credential: credential,
                entity: "device \(device.devId) of application \(application)", pacer: pacer, paceKeys: paceKeys)
            devices.append(full)
        }
        return devices
    }

    private struct ListedDevice: Decodable {
        var devId: String
        enum CodingKeys: String, CodingKey { case devId = "dev_id" }
    }

    private struct ListedDevices: Decodable {
        var devices: [ListedDevice]
        enum CodingKeys: String, CodingKey { case devices }
        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            devices = try c.decodeIfPresent([ListedDevice].self, forKey: .devices) ?? []
        }
    }

    static func clientKey(_ credential: V2Credential, application: String) -> String {
        switch credential {
        case .bearer: return "bearer"
        case .accessKey: return "key:" + application
        }
    }

    static func trimmed(_ url: String) -> String {
        var text = url
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    static func escape(_ component: String) -> String { PathSegment.escape(component) }
}
