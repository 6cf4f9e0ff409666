import Foundation
import HTTP
import Logging

/// A v3 API key. Sent as a bearer token, never printed.
public struct V3APIKeySecret: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<redacted API key>" }
    public var debugDescription: String { description }
}

/// Base URLs of the four v3 components; the IS may live on another cluster (DESIGN.md §3).
public struct V3Endpoints: Sendable, Hashable {
    public var identityServer: String
    public var joinServer: String
    public var networkServer: String
    public var applicationServer: String

    public init(identityServer: String, joinServer: String, networkServer: String, applicationServer: String) {
        self.identityServer = Self.trimmed(identityServer)
        self.joinServer = Self.trimmed(joinServer)
        self.networkServer = Self.trimmed(networkServer)
        self.applicationServer = Self.trimmed(applicationServer)
    }

    /// All four at one URL.
    public init(all url: String) {
        self.init(identityServer: url, joinServer: url, networkServer: url, applicationServer: url)
    }

    static func trimmed(_ url: String) -> String {
        var text = url
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    /// `host[:port]` of a URL, as IS device records and links carry server addresses (DESIGN.md §4).
    public static func address(of url: String) -> String {
        guard let components = URLComponents(string: url), let host = components.host else { return url }
        if let port = components.port { return "\(host):\(port)" }
        return host
    }
}

/// A successful v3 answer.
public struct V3Response: Sendable {
    public var status: Int
    public var body: Data
    public var headers: HTTPHeaders

    public var rateLimit: V3RateLimit { V3RateLimit(headers: headers) }

    /// Decodes the body.
    public func decode<T: Decodable>(_ type: T.Type, operation: String, server: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: body)
        } catch {
            throw V3ClientError.malformedResponse(
                operation: operation, server: server,
                reason: UnreadableBody.reason(body: body, contentType: headers["content-type"], shape: String(describing: error)))
        }
    }

    /// The body as a JSON value, parsed without `Decodable` (a read-back of every step on resume).
    public func jsonValue(operation: String, server: String) throws -> V3JSONValue {
        do {
            return try JSONValueParser.parse(body)
        } catch {
            throw V3ClientError.malformedResponse(
                operation: operation, server: server,
                reason: UnreadableBody.reason(body: body, contentType: headers["content-type"], shape: error.description))
        }
    }
}

/// A v3 answer that is not JSON the API documents.
public enum V3ClientError: Error, CustomStringConvertible, Sendable {
    case malformedResponse(operation: String, server: String, reason: String)

    public var description: String {
        switch self {
        case .malformedResponse(let operation, let server, let reason):
            return "\(operation): \(server) sent an answer that cannot be read (\(reason)); check that the URL points at The Things Stack"
        }
    }
}

/// One v3 component (Identity, Join, Network or Application Server) at its base URL.
///
/// One attempt per call: retries, pacing and reconciliation belong to the executor (DESIGN.md §7).
public struct V3ComponentClient: Sendable {
    /// e.g. "Identity Server".
    public let name: String
    public let baseURL: String
    let http: HTTPClient
    let apiKey: V3APIKeySecret
    let logger: Logger

    /// Sends `method path` with an optional JSON body. Non-2xx answers throw `V3APIError`; no answer
    /// throws `HTTPError`.
    public func send(
        _ method: String, _ path: String, query: [(String, String)] = [], body: Data? = nil, operation: String,
        timeout: Duration? = nil
    ) async throws -> V3Response {
        var url = baseURL + path
        if !query.isEmpty {
            var components = URLComponents()
            components.queryItems = query.map { URLQueryItem(name: $0.0, value: $0.1) }
            url += "?" + (components.percentEncodedQuery ?? "")
        }
        let request = HTTPRequest(
            method: method, url: url, headers: [("Authorization", "Bearer \(apiKey.value)")], body: body, timeout: timeout)
        let response = try await http.send(request)
        guard (200..<300).contains(response.status) else {
            throw V3APIError(status: response.status, body: response.body, headers: response.headers, operation: operation, server: name)
        }
        return V3Response(status: response.status, body: response.body, headers: response.headers)
    }

    /// GET and decode.
    public func get<T: Decodable>(_ type: T.Type, _ path: String, fieldMask: [String] = [], operation: String) async throws -> T {
        let query = fieldMask.isEmpty ? [] : [("field_mask", fieldMask.joined(separator: ","))]
        return try await send("GET", path, query: query, operation: operation).decode(type, operation: operation, server: name)
    }
}

/// Clients of the four v3 components sharing one connection pool and one API key.
public struct V3Client: Sendable {
    public let identityServer: V3ComponentClient
    public let joinServer: V3ComponentClient
    public let networkServer: V3ComponentClient
    public let applicationServer: V3ComponentClient
    public let endpoints: V3Endpoints

    public init(http: HTTPClient, endpoints: V3Endpoints, apiKey: V3APIKeySecret, logger: Logger = Logger(label: "ttn-migrate.v3")) {
        self.endpoints = endpoints
        identityServer = V3ComponentClient(name: "Identity Server", baseURL: endpoints.identityServer + "/api/v3", http: http, apiKey: apiKey, logger: logger)
        joinServer = V3ComponentClient(name: "Join Server", baseURL: endpoints.joinServer + "/api/v3", http: http, apiKey: apiKey, logger: logger)
        networkServer = V3ComponentClient(name: "Network Server", baseURL: endpoints.networkServer + "/api/v3", http: http, apiKey: apiKey, logger: logger)
        applicationServer = V3ComponentClient(
            name: "Application Server", baseURL: endpoints.applicationServer + "/api/v3", http: http, apiKey: apiKey, logger: logger)
    }

    /// The HTTP thread's executor (`HTTPClient.taskExecutor`), for tasks that mostly wait for v3.
    @available(macOS 15.0, *)
    public var taskExecutor: any TaskExecutor { identityServer.http.taskExecutor }

    /// `GET /api/v3/auth_info`: who the key belongs to and its rights (`reference/v3-api.md` §11).
    public func authInfo() async throws -> V3AuthInfo {
        try await identityServer.get(V3AuthInfo.self, "/auth_info", operation: "check the v3 API key (auth_info)")
    }
}

/// The answer of `auth_info` for an API key.
public struct V3AuthInfo: Decodable, Sendable, Hashable {
    public struct APIKeyAccess: Decodable, Sendable, Hashable {
        public struct Key: Decodable, Sendable, Hashable {
            public var id: String?
            public var name: String?
            public var rights: [String]?
        }
        public struct EntityIDs: Decodable, Sendable, Hashable {
            public struct UserIDs: Decodable, Sendable, Hashable {
                public var userID: String?
                enum CodingKeys: String, CodingKey { case userID = "user_id" }
            }
            public struct OrganizationIDs: Decodable, Sendable, Hashable {
                public var organizationID: String?
                enum CodingKeys: String, CodingKey { case organizationID = "organization_id" }
            }
            public var userIDs: UserIDs?
            public var organizationIDs: OrganizationIDs?
            enum CodingKeys: String, CodingKey {
                case userIDs = "user_ids"
                case organizationIDs = "organization_ids"
            }
        }
        public var apiKey: Key?
        public var entityIDs: EntityIDs?
        enum CodingKeys: String, CodingKey {
            case apiKey = "api_key"
            case entityIDs = "entity_ids"
        }
    }
    public var apiKey: APIKeyAccess?
    public var isAdmin: Bool?
    public var universalRights: V3Rights?

    public struct V3Rights: Decodable, Sendable, Hashable {
        public var rights: [String]?
    }

    enum CodingKeys: String, CodingKey {
        case apiKey = "api_key"
        case isAdmin = "is_admin"
        case universalRights = "universal_rights"
    }

    /// The rights the key holds (already expanded by the server).
    public var rights: [String] { apiKey?.apiKey?.rights ?? [] }
}

/// The four v3 components a request can go to.
public enum V3Server: String, Sendable, Hashable, CaseIterable, Codable {
    case identityServer = "is"
    case joinServer = "js"
    case networkServer = "ns"
    case applicationServer = "as"
}

extension V3Client {
    /// The client of one component.
    public func client(for server: V3Server) -> V3ComponentClient {
        switch server {
        case .identityServer: return identityServer
        case .joinServer: return joinServer
        case .networkServer: return networkServer
        case .applicationServer: return applicationServer
        }
    }
}
