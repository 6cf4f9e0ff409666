import Foundation

/// An HTTP request to send through `HTTPClient`.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    /// Header fields in order. `Authorization` is sent but never logged.
    public var headers: [(name: String, value: String)]
    public var body: Data?
    /// Overrides the client's total timeout for this request.
    public var timeout: Duration?

    public init(
        method: String = "GET", url: String, headers: [(name: String, value: String)] = [], body: Data? = nil,
        timeout: Duration? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.timeout = timeout
    }
}

/// Response header fields with case-insensitive lookup.
public struct HTTPHeaders: Sendable, Hashable {
    public private(set) var fields: [(name: String, value: String)] = []

    public init(_ fields: [(name: String, value: String)] = []) { self.fields = fields }

    public mutating func append(name: String, value: String) { fields.append((name, value)) }

    /// The last value of the named field, compared case-insensitively.
    ///
    /// Field names are ASCII tokens (RFC 9110 §5.1), so the comparison folds ASCII letters on the bytes:
    /// each answer is asked for half a dozen fields, and lower-casing every name for each made new strings.
    public subscript(name: String) -> String? {
        fields.last { Self.sameName($0.name, name) }?.value
    }

    private static func sameName(_ first: String, _ second: String) -> Bool {
        first.utf8.count == second.utf8.count && first.utf8.elementsEqual(second.utf8) { asciiLowercased($0) == asciiLowercased($1) }
    }
}

/// `byte` with an ASCII capital letter made small; every other byte as it is (scheme and field-name
/// comparisons, RFC 3986 §3.1 and RFC 9110 §5.1, are ASCII-only).
func asciiLowercased(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte | 0x20 : byte }

extension HTTPHeaders {
    /// The same fields in the same order, names compared as the subscript compares them.
    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { sameName($0.name, $1.name) && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for field in fields {
            hasher.combine(field.name.utf8.count)
            for byte in field.name.utf8 { hasher.combine(asciiLowercased(byte)) }
            hasher.combine(field.value)
        }
    }
}

/// A complete HTTP response.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: Data
    /// The URL that answered (after same-origin redirects).
    public var url: String

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: Data = Data(), url: String) {
        self.status = status
        self.headers = headers
        self.body = body
        self.url = url
    }

    /// The body as UTF-8 text, cut to `limit` characters (for error messages).
    public func bodyExcerpt(limit: Int = 300) -> String {
        let text = String(decoding: body.prefix(limit * 4), as: UTF8.self)
        return text.count > limit ? String(text.prefix(limit)) + "…" : text
    }
}

/// Why a request got no HTTP response. Messages name the URL (never credentials) and the next step.
public enum HTTPError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The URL could not be used.
    case invalidURL(String)
    /// No connection could be made; the request was certainly not sent.
    case connectFailed(url: String, detail: String)
    /// The request timed out. `requestSent` tells whether the server may have received it.
    case timedOut(url: String, requestSent: Bool)
    /// The connection broke after it was made; the server may have applied the request.
    case connectionDropped(url: String, detail: String)
    /// The TLS handshake or certificate verification failed.
    case tls(url: String, detail: String)
    /// A redirect pointed to another origin; credentials are never sent there.
    case redirectRefused(from: String, to: String)
    /// Too many redirects.
    case tooManyRedirects(url: String)
    /// Any other transport failure.
    case transport(url: String, code: Int, detail: String)

    /// Whether the server may have received and applied the request (a create must then be
    /// reconciled by reading before it is retried: DESIGN.md §7).
    public var mayHaveReachedServer: Bool {
        switch self {
        case .invalidURL, .connectFailed, .tls, .redirectRefused, .tooManyRedirects: return false
        case .timedOut(_, let sent): return sent
        case .connectionDropped, .transport: return true
        }
    }

    /// Whether retrying later may succeed.
    public var isTransient: Bool {
        switch self {
        case .connectFailed, .timedOut, .connectionDropped, .transport: return true
        case .invalidURL, .tls, .redirectRefused, .tooManyRedirects: return false
        }
    }

    public var description: String {
        switch self {
        case .invalidURL(let url):
            return "invalid URL \(url): check the configured server address"
        case .connectFailed(let url, let detail):
            return "cannot connect to \(url) (\(detail)): check the address and that the server is reachable"
        case .timedOut(let url, _):
            return "request to \(url) timed out: the server is slow or unreachable; try again later"
        case .connectionDropped(let url, let detail):
            return "connection to \(url) dropped (\(detail)); try again"
        case .tls(let url, let detail):
            return "TLS failure talking to \(url) (\(detail)): set `ca_file` to the server's CA, or `insecure: true` only if you accept an unverified connection"
        case .redirectRefused(let from, let to):
            return "\(from) redirected to another origin (\(to)); refused so that credentials are not sent there: configure the final address directly"
        case .tooManyRedirects(let url):
            return "too many redirects from \(url): check the configured address"
        case .transport(let url, let code, let detail):
            return "request to \(url) failed (curl error \(code): \(detail)); try again"
        }
    }
}

/// Settings of an `HTTPClient`.
public struct HTTPClientConfiguration: Sendable {
    /// Time allowed to establish a connection.
    public var connectTimeout: Duration = .seconds(10)
    /// Time allowed for a whole request, unless the request overrides it.
    public var requestTimeout: Duration = .seconds(60)
    /// PEM file of trusted CAs, in addition to none (replaces the system store when set).
    public var caFile: String?
    /// Skips TLS verification. Only by explicit user choice.
    public var insecure: Bool = false
    /// Sent as `User-Agent`.
    public var userAgent: String = "ttn-migrate/\(HTTPClient.toolVersion)"
    /// Same-origin redirects followed at most.
    public var maxRedirects: Int = 5

    public init(
        connectTimeout: Duration = .seconds(10), requestTimeout: Duration = .seconds(60), caFile: String? = nil,
        insecure: Bool = false
    ) {
        self.connectTimeout = connectTimeout
        self.requestTimeout = requestTimeout
        self.caFile = caFile
        self.insecure = insecure
    }
}

/// Why a body that should hold JSON cannot be read, in words a person can act on.
public enum UnreadableBody {
    /// "an empty body", "not JSON (text/html, starting `<!DOCTYPE html>…`)", or, for JSON of the wrong
    /// shape, `shape` (the decoder's account of the path and what was wrong).
    public static func reason(body: Data, contentType: String?, shape: @autoclosure () -> String) -> String {
        if body.allSatisfy({ [0x20, 0x09, 0x0A, 0x0D].contains($0) }) { return "an empty body" }
        guard (try? JSONSerialization.jsonObject(with: body, options: [.fragmentsAllowed])) != nil else {
            let start = String(decoding: body.prefix(160), as: UTF8.self).prefix(48).replacingOccurrences(of: "\n", with: " ")
            return "not JSON (\(contentType ?? "no Content-Type"), starting `\(start)`…)"
        }
        return shape()
    }
}

/// One segment of a URL path.
public enum PathSegment {
    /// `component` percent-escaped for one path segment (a `/` in it is escaped too).
    ///
    /// v3 IDs are `[a-z0-9-]` and v2 IDs mostly are (`reference/v3-api.md` §8): they need no escape, and
    /// checking that is cheaper than `addingPercentEncoding`, which a resume or a diff calls for every entity.
    public static func escape(_ component: String) -> String {
        if component.utf8.allSatisfy({ (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }) { return component }
        return component.addingPercentEncoding(withAllowedCharacters: allowed) ?? component
    }

    private static let allowed = CharacterSet.urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))
}
