/// The v3 stack's components; a simulator server serves some of them (all, or the IS / the cluster when split).
public enum V3Component: String, Sendable, CaseIterable, Hashable {
    case identityServer = "is"
    case joinServer = "js"
    case networkServer = "ns"
    case applicationServer = "as"
    /// Gateway Server, Packet Broker Agent, device repository and other cluster services the simulator routes but
    /// does not implement (501).
    case otherCluster = "cluster"

    /// The error namespace of the component's registry errors.
    var namespace: String {
        switch self {
        case .identityServer: return "pkg/identityserver"
        case .joinServer: return "pkg/joinserver"
        case .networkServer: return "pkg/networkserver"
        case .applicationServer: return "pkg/applicationserver"
        case .otherCluster: return "pkg/component"
        }
    }

    /// The Identity Server alone (the `--v3-split` IS port).
    public static let identityServerOnly: Set<V3Component> = [.identityServer]
    /// The Join, Network and Application Servers and the other cluster services (the `--v3-split` cluster port).
    public static let cluster: Set<V3Component> = [.joinServer, .networkServer, .applicationServer, .otherCluster]
    /// Every component on one address (The Things Stack Open Source style).
    public static let all: Set<V3Component> = Set(V3Component.allCases)

    /// The component that serves a route, from the first segment of its pattern (`/js/…`, `/ns/…`, `/as/…`).
    static func owning(pattern: String) -> V3Component {
        let first = pattern.split(separator: "/", omittingEmptySubsequences: true).first.map(String.init) ?? ""
        switch first {
        case "js": return .joinServer
        case "ns": return .networkServer
        case "as": return .applicationServer
        case "gs", "pba", "gcs", "gcls", "dr", "edcs", "qr-codes", "edtc": return .otherCluster
        default: return .identityServer
        }
    }
}

/// The outcome of matching a request against the registered routes (grpc-gateway `ServeMux` semantics).
enum V3RouteMatch {
    case found(V3RouteDefinition, [String: String])
    /// The path matches a route, but not with this method: 501 "Method Not Allowed" (§9).
    case methodNotAllowed
    /// No route has this path: 404 "Not Found" (§9).
    case notFound
}

/// Matches `/api/v3/...` paths against the api-definition routes of the served components.
struct V3Router: Sendable {
    private enum Segment: Sendable {
        case literal(String)
        case variable(String)
    }

    private struct Route: Sendable {
        let definition: V3RouteDefinition
        let segments: [Segment]
        let literalCount: Int
    }

    private let buckets: [String: [Route]]

    init(routes: [V3RouteDefinition], serving components: Set<V3Component>) {
        var buckets: [String: [Route]] = [:]
        for definition in routes where components.contains(V3Component.owning(pattern: definition.pattern)) {
            let segments: [Segment] = definition.pattern.split(separator: "/", omittingEmptySubsequences: true).map { part in
                if part.hasPrefix("{"), part.hasSuffix("}") {
                    return .variable(String(part.dropFirst().dropLast()))
                }
                return .literal(String(part))
            }
            let literals = segments.reduce(0) { count, segment in
                if case .literal = segment { return count + 1 }
                return count
            }
            let route = Route(definition: definition, segments: segments, literalCount: literals)
            buckets[V3Router.bucketKey(count: segments.count, first: segments.first), default: []].append(route)
        }
        for key in buckets.keys {
            buckets[key]?.sort { $0.literalCount > $1.literalCount }
        }
        self.buckets = buckets
    }

    private static func bucketKey(count: Int, first: Segment?) -> String {
        switch first {
        case .literal(let text): return "\(count)|\(text)"
        case .variable, .none: return "\(count)|*"
        }
    }

    /// Matches a path already stripped of `/api/v3`.
    func match(method: String, path: Substring) -> V3RouteMatch {
        // Split on the UTF-8 bytes: `/` is ASCII, so no grapheme clusters need walking.
        let parts = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: true).map { String(Substring($0)) }
        let candidates = (buckets[V3Router.bucketKey(count: parts.count, first: parts.first.map { .literal($0) })] ?? [])
            + (buckets["\(parts.count)|*"] ?? [])
        var pathMatched = false
        for route in candidates {
            guard let parameters = V3Router.bind(route.segments, parts) else { continue }
            if route.definition.method == method {
                return .found(route.definition, parameters)
            }
            pathMatched = true
        }
        return pathMatched ? .methodNotAllowed : .notFound
    }

    private static func bind(_ segments: [Segment], _ parts: [String]) -> [String: String]? {
        guard segments.count == parts.count else { return nil }
        var parameters: [String: String] = [:]
        for (segment, part) in zip(segments, parts) {
            switch segment {
            case .literal(let text):
                if text != part { return nil }
            case .variable(let name):
                if part.isEmpty { return nil }
                parameters[name] = part
            }
        }
        return parameters
    }
}
