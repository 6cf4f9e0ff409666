import Foundation
import HTTP
import V3Client
import V3Model

/// Reads from v3 what the comparison needs, writing nothing.
///
/// Two rounds, each with at most `concurrency` requests in flight: first the owner's applications and
/// gateways (lists with the compared fields) and the collaborator accounts; then, for each planned
/// application v3 has, its devices, collaborators, API keys and link and the Join, Network and Application
/// Server records of its planned devices, and for each planned gateway v3 has, its collaborators. Lists
/// are read page by page (1000 a page, `X-Total-Count`: `reference/v3-api.md` §1). A 404, or a 403
/// `no_*_rights`, on a read means absent (§15); 429, 5xx and transport failures are retried with the
/// retry policy's backoff (honouring `X-Rate-Limit-Retry`); any other failure ends the read.
public struct V3StateReader: Sendable {
    public var client: V3Client
    public var concurrency: Int
    public var retry: RetryPolicy

    /// Items per list page (the largest v3 accepts).
    public static let pageSize = 1000

    public init(client: V3Client, concurrency: Int = 8, retry: RetryPolicy = RetryPolicy()) {
        self.client = client
        self.concurrency = max(1, concurrency)
        self.retry = retry
    }

    /// What v3 holds of the intended state, and the number of requests it took.
    public func read(_ intended: IntendedState) async throws -> (observed: ObservedState, requests: Int) {
        let counter = RequestCounter()
        var observed = ObservedState()
        let owner = intended.owner
        let ownerPath = (owner.kindName == "user" ? "/users/" : "/organizations/") + Self.escape(owner.id)

        // Round 1: the owner's applications and gateways, and the collaborator accounts.
        enum First: Sendable {
            case applications([V3JSONValue])
            case gateways([V3JSONValue])
            case account(V3AccountIdentifiers, exists: Bool)
        }
        var first: [@Sendable () async throws -> First] = [
            {
                .applications(try await self.list(
                    client.identityServer, ownerPath + "/applications", key: "applications", fieldMask: ComparedFields.readMask(ComparedFields.application),
                    operation: "list the applications of \(owner)", counter: counter))
            },
            {
                .gateways(try await self.list(
                    client.identityServer, ownerPath + "/gateways", key: "gateways", fieldMask: ComparedFields.readMask(ComparedFields.gateway),
                    operation: "list the gateways of \(owner)", counter: counter))
            },
        ]
        for account in intended.collaboratorAccounts {
            let path = (account.kindName == "user" ? "/users/" : "/organizations/") + Self.escape(account.id)
            first.append {
                let found = try await self.get(client.identityServer, path, operation: "check that \(account) exists", counter: counter)
                return .account(account, exists: found != nil)
            }
        }
        for result in try await Self.run(first, concurrency: concurrency) {
            switch result {
            case .applications(let items):
                for item in items { if let id = Self.string("ids.application_id", in: item) { observed.applications[id] = item } }
            case .gateways(let items):
                for item in items { if let id = Self.string("ids.gateway_id", in: item) { observed.gateways[id] = item } }
            case .account(let account, let exists):
                if !exists { observed.missingAccounts.insert(account) }
            }
        }

        // Round 2: what is under each planned application and gateway v3 has.
        enum Second: Sendable {
            case devices(application: String, [V3JSONValue])
            case collaborators(application: String, [V3JSONValue])
            case apiKeys(application: String, [V3JSONValue])
            case link(application: String, V3JSONValue?)
            case devicePart(application: String, device: String, V3Server, V3JSONValue?)
            case gatewayCollaborators(gateway: String, [V3JSONValue])
            case gatewayAPIKeys(gateway: String, [V3JSONValue])
        }
        var second: [@Sendable () async throws -> Second] = []
        for application in intended.applications where observed.applications[application.id] != nil {
            let appID = application.id
            let appPath = "/applications/" + Self.escape(appID)
            second.append {
                .devices(application: appID, try await self.list(
                    client.identityServer, appPath + "/devices", key: "end_devices",
                    fieldMask: ComparedFields.readMask(ComparedFields.device(.identityServer)),
                    operation: "list the devices of application \(appID)", counter: counter))
            }
            second.append {
                .collaborators(application: appID, try await self.list(
                    client.identityServer, appPath + "/collaborators", key: "collaborators", fieldMask: [],
                    operation: "list the collaborators of application \(appID)", counter: counter))
            }
            second.append {
                .apiKeys(application: appID, try await self.list(
                    client.identityServer, appPath + "/api-keys", key: "api_keys", fieldMask: [],
                    operation: "list the API keys of application \(appID)", counter: counter))
            }
            if application.link != nil {
                second.append {
                    .link(application: appID, try await self.get(
                        client.applicationServer, "/as/applications/\(Self.escape(appID))/link", fieldMask: ComparedFields.link,
                        operation: "read the link of application \(appID)", counter: counter))
                }
            }
            for device in application.devices {
                for part in device.parts where part.server != .identityServer {
                    let deviceID = device.deviceID
                    second.append {
                        .devicePart(application: appID, device: deviceID, part.server, try await self.get(
                            client.client(for: part.server), part.readPath, fieldMask: ComparedFields.readMask(ComparedFields.device(part.server)),
                            operation: "read device \(appID)/\(deviceID) in the \(client.client(for: part.server).name)", counter: counter))
                    }
                }
            }
        }
        for gateway in intended.gateways where observed.gateways[gateway.id] != nil {
            let gatewayID = gateway.id
            second.append {
                .gatewayCollaborators(gateway: gatewayID, try await self.list(
                    client.identityServer, "/gateways/\(Self.escape(gatewayID))/collaborators", key: "collaborators", fieldMask: [],
                    operation: "list the collaborators of gateway \(gatewayID)", counter: counter))
            }
            if !gateway.apiKeys.isEmpty {
                second.append {
                    .gatewayAPIKeys(gateway: gatewayID, try await self.list(
                        client.identityServer, "/gateways/\(Self.escape(gatewayID))/api-keys", key: "api_keys", fieldMask: [],
                        operation: "list the API keys of gateway \(gatewayID)", counter: counter))
                }
            }
        }
        for result in try await Self.run(second, concurrency: concurrency) {
            switch result {
            case .devices(let appID, let items):
                var devices: [String: V3JSONValue] = [:]
                for item in items {
                    if let id = Self.string("ids.device_id", in: item) { devices[id] = item }
                }
                observed.applicationContents[appID, default: ObservedApplication()].devices = devices
            case .collaborators(let appID, let items):
                observed.applicationContents[appID, default: ObservedApplication()].collaborators = items
            case .apiKeys(let appID, let items):
                observed.applicationContents[appID, default: ObservedApplication()].apiKeys = items
            case .link(let appID, let link):
                observed.applicationContents[appID, default: ObservedApplication()].link = link
            case .devicePart(let appID, let deviceID, let server, let record):
                if let record { observed.applicationContents[appID, default: ObservedApplication()].deviceParts[deviceID, default: [:]][server] = record }
            case .gatewayCollaborators(let gatewayID, let items):
                observed.gatewayCollaborators[gatewayID] = items
            case .gatewayAPIKeys(let gatewayID, let items):
                observed.gatewayAPIKeys[gatewayID] = items
            }
        }
        return (observed, counter.value)
    }

    // MARK: Requests

    /// GET one record; nil when v3 says it is absent (404) or not ours (403 `no_*_rights`).
    func get(
        _ component: V3ComponentClient, _ path: String, fieldMask: [String] = [], operation: String, counter: RequestCounter
    ) async throws -> V3JSONValue? {
        let query = fieldMask.isEmpty ? [] : [("field_mask", fieldMask.joined(separator: ","))]
        do {
            let response = try await send(component, path, query: query, operation: operation, counter: counter)
            return try Self.parse(response, operation: operation, server: component.name)
        } catch let error as V3APIError where error.isAbsentOrNotOurs {
            return nil
        }
    }

    /// GET every page of a list; the items under `key` (v3 omits the key of an empty list).
    func list(
        _ component: V3ComponentClient, _ path: String, key: String, fieldMask: [String], operation: String, counter: RequestCounter
    ) async throws -> [V3JSONValue] {
        var items: [V3JSONValue] = []
        var page = 1
        while true {
            var query = [("limit", String(Self.pageSize)), ("page", String(page))]
            if !fieldMask.isEmpty { query.append(("field_mask", fieldMask.joined(separator: ","))) }
            let response = try await send(component, path, query: query, operation: operation, counter: counter)
            let body = try Self.parse(response, operation: operation, server: component.name)
            var pageItems: [V3JSONValue] = []
            switch body {
            case .object(let fields):
                switch fields[key] {
                case .array(let values)?: pageItems = values
                case nil, .null?: pageItems = []
                default:
                    throw V3ClientError.malformedResponse(operation: operation, server: component.name, reason: "`\(key)` is not a list")
                }
            default:
                throw V3ClientError.malformedResponse(operation: operation, server: component.name, reason: "the answer is not a JSON object")
            }
            items += pageItems
            let total = response.headers["X-Total-Count"].flatMap { Int($0) }
            if pageItems.count < Self.pageSize { break }
            if let total, items.count >= total { break }
            page += 1
        }
        return items
    }

    /// The body of an answer as JSON.
    static func parse(_ response: V3Response, operation: String, server: String) throws -> V3JSONValue {
        do {
            return try JSONValueParser.parse(response.body)
        } catch {
            throw V3ClientError.malformedResponse(operation: operation, server: server, reason: error.description)
        }
    }

    /// One GET with retries of transient failures (reads are safe to repeat).
    func send(
        _ component: V3ComponentClient, _ path: String, query: [(String, String)], operation: String, counter: RequestCounter
    ) async throws -> V3Response {
        var attempt = 0
        while true {
            attempt += 1
            counter.increment()
            do {
                return try await component.send("GET", path, query: query, operation: operation)
            } catch let error as V3APIError where error.isTransient && attempt < retry.maxAttempts {
                let requested = error.rateLimit.retry.map { Duration.seconds($0) } ?? .zero
                try await Task.sleep(for: max(retry.delay(beforeRetry: attempt), requested))
            } catch let error as HTTPError where error.isTransient && attempt < retry.maxAttempts {
                try await Task.sleep(for: retry.delay(beforeRetry: attempt))
            }
        }
    }

    /// Runs the tasks with at most `concurrency` at once; results in the tasks' order. The first error
    /// cancels the rest and is thrown.
    static func run<T: Sendable>(_ tasks: [@Sendable () async throws -> T], concurrency: Int) async throws -> [T] {
        try await withThrowingTaskGroup(of: (Int, T).self) { group in
            var results = [T?](repeating: nil, count: tasks.count)
            var next = 0
            func addNext() {
                guard next < tasks.count else { return }
                let index = next
                let task = tasks[index]
                group.addTask { (index, try await task()) }
                next += 1
            }
            for _ in 0..<min(concurrency, tasks.count) { addNext() }
            while let (index, value) = try await group.next() {
                results[index] = value
                addNext()
            }
            return results.map { $0! }
        }
    }

    static func string(_ path: String, in value: V3JSONValue) -> String? {
        if case .string(let text)? = FieldComparison.lookup(path, in: value) { return text }
        return nil
    }

    /// Percent-escapes an ID for one path segment.
    static func escape(_ component: String) -> String { PathSegment.escape(component) }
}

/// Counts requests made by concurrent tasks.
final class RequestCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0

    func increment() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
