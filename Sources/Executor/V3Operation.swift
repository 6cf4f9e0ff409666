import Foundation
import HTTP
import V3Client

/// One v3 write and how to recognise that it is already done.
///
/// Every operation can be reconciled by reading v3 before it is sent (DESIGN.md §6): that is what makes
/// resume after a kill, and retry after a create that may have reached the server, free of duplicates.
public struct V3Operation: Sendable {
    /// How the write behaves when repeated.
    public enum Kind: Sendable, Equatable {
        /// A POST that creates an entity; a second one fails with 409.
        case create
        /// A PUT (or POST) upsert: sending it twice is safe (JS/NS/AS Set, collaborators, link).
        case upsert
        /// A POST of a new API key; v3 makes the secret and shows it once. `name` carries the run tag.
        case createAPIKey(name: String)
    }

    public var kind: Kind
    public var server: V3Server
    public var method: String
    public var path: String
    /// The request body, encoded when the operation is sent: a run of 400,000 steps, most of them
    /// already done on resume, never holds every body at once.
    public var body: Data { get throws { try makeBody() } }
    /// GET path that reads the entity back (for API keys: the list of keys).
    public var readPath: String
    public var readFieldMask: [String]
    /// The JSON that the read must contain for the entity to count as this migration's, built only
    /// when a read-back needs it.
    public var expected: V3JSONValue { get throws { try makeExpected() } }
    /// DELETE path that removes what the operation created (rollback), if any.
    public var deletePath: String?
    /// e.g. "create application my-app".
    public var summary: String

    private let makeBody: @Sendable () throws -> Data
    private let makeExpected: @Sendable () throws -> V3JSONValue

    /// `body` and `expected` are evaluated each time they are read, never here.
    public init(
        kind: Kind, server: V3Server, method: String, path: String, body: @autoclosure @escaping @Sendable () throws -> Data,
        readPath: String, readFieldMask: [String] = [], expected: @autoclosure @escaping @Sendable () throws -> V3JSONValue,
        deletePath: String?, summary: String
    ) {
        self.kind = kind
        self.server = server
        self.method = method
        self.path = path
        self.makeBody = body
        self.readPath = readPath
        self.readFieldMask = readFieldMask
        self.makeExpected = expected
        self.deletePath = deletePath
        self.summary = summary
    }
}

/// What reading v3 says about an operation.
public enum Reconciliation: Sendable, Equatable {
    /// v3 already holds what the operation would write.
    case done
    /// Nothing there (or nothing this key can see): send it.
    case absent
    /// Something is there that this migration did not create (or that differs): never adopted.
    case conflict(String)
}

/// The result of sending an operation.
public struct OperationResult: Sendable, Equatable {
    /// For API keys: the v3 key ID and the secret, shown once.
    public var apiKeyID: String?
    public var apiKeySecret: String?
    /// The server's `X-Rate-Limit-*` headers on the answer, when it sent any (the executor paces by them).
    public var rateLimit: V3RateLimit?
    /// True when the create was refused as taken and reading back found exactly what it would write:
    /// nothing was written, so the step counts as already in v3.
    public var wasAlreadyInV3: Bool

    public init(apiKeyID: String? = nil, apiKeySecret: String? = nil, rateLimit: V3RateLimit? = nil, wasAlreadyInV3: Bool = false) {
        self.apiKeyID = apiKeyID
        self.apiKeySecret = apiKeySecret
        self.rateLimit = rateLimit
        self.wasAlreadyInV3 = wasAlreadyInV3
    }
}

extension V3Operation {
    static func rateLimit(of response: V3Response) -> V3RateLimit? {
        let limit = response.rateLimit
        return limit.isPresent ? limit : nil
    }
}

/// A reconciled failure: the step cannot succeed as planned.
public struct ConflictError: Error, Sendable, CustomStringConvertible {
    public var summary: String
    public var reason: String
    public var correlationID: String?
    public var description: String {
        "\(summary): \(reason); this migration does not adopt entities it did not create: choose another ID with `rename:` (or remove the other entity), then run the same command to resume"
    }
}

extension V3Operation {
    /// Reads v3 and decides whether the operation is done, absent or in conflict.
    ///
    /// `hasStoredSecret` tells, for API keys, whether the journal holds the secret of a key of this name:
    /// a key with this run's tag whose secret was lost is deleted so it can be made again (DESIGN.md §6).
    public func reconcile(with client: V3Client, hasStoredSecret: Bool) async throws -> Reconciliation {
        let component = client.client(for: server)
        switch kind {
        case .createAPIKey(let name):
            let keys: APIKeyList
            do {
                keys = try await component.get(APIKeyList.self, readPath, operation: "read API keys for \(summary)")
            } catch let error as V3APIError where error.isAbsentOrNotOurs {
                return .absent
            }
            let matching = keys.apiKeys.filter { $0.name == name }
            guard !matching.isEmpty else { return .absent }
            if hasStoredSecret, matching.count == 1 { return .done }
            // Ours (the name carries this run's tag) but the secret is lost: remove and make anew.
            for key in matching {
                guard let id = key.id else { continue }
                _ = try await component.send("DELETE", readPath + "/" + id, operation: "delete API key \(name) whose secret was lost")
            }
            return .absent
        case .create, .upsert:
            let response: V3Response
            do {
                let query = readFieldMask.isEmpty ? [] : [("field_mask", readFieldMask.joined(separator: ","))]
                response = try await component.send("GET", readPath, query: query, operation: "read back for \(summary)")
            } catch let error as V3APIError where error.isAbsentOrNotOurs {
                return .absent
            }
            let actual = try response.jsonValue(operation: "read back for \(summary)", server: component.name)
            let differences = JSONMatch.differences(expected: try expected, actual: actual)
            if differences.isEmpty { return .done }
            if kind == .upsert { return .absent }
            return .conflict("it already exists in v3 and differs from what this migration creates (\(differences.prefix(3).joined(separator: "; ")))")
        }
    }

    /// Sends the operation once. A 409 on a create is reconciled, never adopted blindly.
    public func apply(with client: V3Client, timeout: Duration? = nil) async throws -> OperationResult {
        let component = client.client(for: server)
        do {
            let response = try await component.send(method, path, body: try body, operation: summary, timeout: timeout)
            if case .createAPIKey = kind {
                let created = try response.decode(CreatedKey.self, operation: summary, server: component.name)
                guard let secret = created.key, !secret.isEmpty else {
                    throw V3ClientError.malformedResponse(operation: summary, server: component.name, reason: "no key secret in the answer")
                }
                return OperationResult(apiKeyID: created.id, apiKeySecret: secret, rateLimit: Self.rateLimit(of: response))
            }
            // Every v3 write answers with the entity as JSON: a 2xx that is not JSON (a proxy's page, an empty or
            // cut body) proves nothing was stored, so the step fails and the next run reads back before writing.
            guard JSONValueParser.isObject(response.body) else {
                throw V3ClientError.malformedResponse(
                    operation: summary, server: component.name,
                    reason: UnreadableBody.reason(body: response.body, contentType: response.headers["content-type"], shape: "JSON that is not an object"))
            }
            return OperationResult(rateLimit: Self.rateLimit(of: response))
        } catch let error as V3APIError where error.isConflict && kind == .create {
            switch try await reconcile(with: client, hasStoredSecret: false) {
            case .done:
                return OperationResult(wasAlreadyInV3: true)
            case .absent:
                throw ConflictError(
                    summary: summary, reason: "v3 says it is taken (\(error.details?.formattedMessage ?? error.message)) but this key cannot read it: it belongs to someone else or was deleted (deleted IDs stay taken)",
                    correlationID: error.correlationID)
            case .conflict(let reason):
                throw ConflictError(summary: summary, reason: reason, correlationID: error.correlationID)
            }
        }
    }
}

private struct APIKeyList: Decodable {
    struct Key: Decodable {
        var id: String?
        var name: String?
    }
    var apiKeys: [Key]
    enum CodingKeys: String, CodingKey { case apiKeys = "api_keys" }
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        apiKeys = try c.decodeIfPresent([Key].self, forKey: .apiKeys) ?? []
    }
}

private struct CreatedKey: Decodable {
    var id: String?
    var key: String?
}
