import Diagnostics
import Foundation
import HTTP

/// A JSON value of an error's attributes.
public enum V3JSONValue: Decodable, Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case number(Double)
    case bool(Bool)
    case array([V3JSONValue])
    case object([String: V3JSONValue])
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([V3JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: V3JSONValue].self))
        }
    }

    /// Whether v3 would omit this value from a response: null, false, 0, "", [] or an object of such
    /// values (`reference/v3-api.md` §1).
    public var isZero: Bool {
        switch self {
        case .null: return true
        case .bool(let flag): return !flag
        case .number(let number): return number == 0
        case .string(let text): return text.isEmpty
        case .array(let items): return items.isEmpty
        case .object(let fields): return fields.values.allSatisfy(\.isZero)
        }
    }

    public var description: String {
        switch self {
        case .string(let value): return value
        case .number(let value):
            // Whole numbers print without ".0"; past ±1e15 (or not finite) `Int(value)` would trap.
            return value.isFinite && value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
        case .bool(let value): return String(value)
        case .array(let values): return values.map(\.description).joined(separator: ", ")
        case .object(let fields): return "{" + fields.keys.sorted().map { "\($0): \(fields[$0]!)" }.joined(separator: ", ") + "}"
        case .null: return "null"
        }
    }
}

/// `ttn.lorawan.v3.ErrorDetails`: the structured part of a v3 error body (`reference/v3-api.md` §9).
public struct V3ErrorDetails: Decodable, Sendable, Hashable {
    public var namespace: String?
    public var name: String?
    public var messageFormat: String?
    public var attributes: [String: V3JSONValue]?
    public var correlationID: String?
    public var code: Int?
    public var cause: V3ErrorCause?

    enum CodingKeys: String, CodingKey {
        case namespace, name, attributes, code, cause
        case messageFormat = "message_format"
        case correlationID = "correlation_id"
    }

    /// The message with `{attribute}` placeholders filled in.
    public var formattedMessage: String? {
        guard var text = messageFormat else { return nil }
        for (key, value) in attributes ?? [:] {
            text = text.replacingOccurrences(of: "{\(key)}", with: value.description)
        }
        return text
    }
}

/// The nested cause of an error (one level kept).
public struct V3ErrorCause: Decodable, Sendable, Hashable {
    public var namespace: String?
    public var name: String?
    public var messageFormat: String?
    public var attributes: [String: V3JSONValue]?

    enum CodingKeys: String, CodingKey {
        case namespace, name, attributes
        case messageFormat = "message_format"
    }
}

/// Rate-limit state from `X-Rate-Limit-*` headers (`reference/v3-api.md` §10).
public struct V3RateLimit: Sendable, Hashable {
    /// Requests allowed per minute.
    public var limit: Int?
    public var available: Int?
    /// Seconds until fully reset.
    public var reset: Int?
    /// Seconds until a request is allowed (whole seconds, often 0 while still limited: §15).
    public var retry: Int?

    public init(headers: HTTPHeaders) {
        limit = headers["X-Rate-Limit-Limit"].flatMap { Int($0) }
        available = headers["X-Rate-Limit-Available"].flatMap { Int($0) }
        reset = headers["X-Rate-Limit-Reset"].flatMap { Int($0) }
        retry = headers["X-Rate-Limit-Retry"].flatMap { Int($0) } ?? headers["Retry-After"].flatMap { Int($0) }
    }

    /// Whether any header was present.
    public var isPresent: Bool { limit != nil || available != nil || reset != nil || retry != nil }
}

/// An error status from a v3 server, decoded from its body. Names the entity and the next step.
public struct V3APIError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    /// gRPC code of the body.
    public var code: Int?
    public var message: String
    public var details: V3ErrorDetails?
    /// What was being done, e.g. "create application my-app".
    public var operation: String
    /// Which server answered, e.g. "Identity Server".
    public var server: String
    public var rateLimit: V3RateLimit

    public init(status: Int, body: Data, headers: HTTPHeaders, operation: String, server: String) {
        struct Body: Decodable {
            var code: Int?
            var message: String?
            var details: [V3ErrorDetails]?
        }
        let decoded = try? JSONDecoder().decode(Body.self, from: body)
        self.status = status
        self.code = decoded?.code
        self.details = decoded?.details?.first
        self.message = decoded?.message ?? String(decoding: body.prefix(300), as: UTF8.self)
        self.operation = operation
        self.server = server
        self.rateLimit = V3RateLimit(headers: headers)
    }

    /// `namespace:name`, e.g. `pkg/util/store:id_taken`.
    public var errorName: String? {
        guard let details, let namespace = details.namespace, let name = details.name else { return nil }
        return "\(namespace):\(name)"
    }

    public var correlationID: String? { details?.correlationID }

    /// 404, or 403 `no_*_rights` on a read: "absent or not ours" (`reference/v3-api.md` §15).
    public var isAbsentOrNotOurs: Bool {
        if status == 404 { return true }
        guard status == 403, let name = details?.name else { return false }
        return name.hasPrefix("no_") && name.hasSuffix("_rights")
    }

    /// 409 already exists (ID or EUI taken).
    public var isConflict: Bool { status == 409 }

    /// Rights the caller lacks, from the `missing` attribute of `insufficient_*_rights`.
    public var missingRights: [String] {
        guard case .array(let values)? = details?.attributes?["missing"] else {
            if case .string(let value)? = details?.attributes?["missing"] { return [value] }
            return []
        }
        return values.map(\.description)
    }

    /// Whether retrying may succeed (429, 5xx but 501).
    public var isTransient: Bool { RetryPolicy.isRetryable(status: status) }

    /// What the user should do next.
    public var nextStep: String {
        switch status {
        case 401: return "check the v3 API key (the variable or file named by `target.api_key_env`/`api_key_file`)"
        case 403 where !missingRights.isEmpty:
            return "give the API key the missing rights (\(missingRights.joined(separator: ", "))) or use a key that has them"
        case 403: return "use an API key of the owner with rights on this entity"
        case 409: return "the ID or EUI is taken in v3: choose another with `rename:` (or remove the other entity), then resume"
        case 429: return "the server rate-limits: lower --max-rate or --concurrency and resume"
        case 400: return "the data does not satisfy v3; fix it in v2 or the configuration, then resume"
        case 404: return "check that the referenced entity or account exists in v3"
        default: return "try again later by running the same command (it resumes)"
        }
    }

    public var description: String {
        var text = "\(operation): \(server) answered \(status)"
        if let name = errorName { text += " \(name)" }
        text += " (\(details?.formattedMessage ?? message))"
        if let correlationID { text += " [correlation ID \(correlationID)]" }
        return BoundedText.bounded(text + "; " + nextStep)
    }
}
