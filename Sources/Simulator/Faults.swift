import Foundation

/// A fault a `SimServer` injects into one request.
///
/// Whether the API applies the request (and so changes its state) depends on the fault; see
/// `appliesRequest`. The string values are the names used in a fault spec (`FaultSpec`).
public enum SimFault: String, Sendable, Hashable, CaseIterable, Codable {
    /// Answer with the API's "service unavailable" response (HTTP 503) without applying the request.
    case unavailable = "503"
    /// Answer with the API's "too many requests" response (HTTP 429) without applying the request.
    case tooManyRequests = "429"
    /// Close the connection without any response and without calling the API.
    case dropBefore = "drop-before"
    /// Call the API (its state changes), then close the connection without a complete response:
    /// the status line and headers go out, the body is cut in half (an empty body: nothing goes out).
    case dropAfter = "drop-after"
    /// Call the API, then hold the response for the spec's stall time before sending it, long enough
    /// for a client to time out.
    case stall = "stall"

    /// Whether the API's `handle` runs for a request carrying this fault.
    public var appliesRequest: Bool {
        switch self {
        case .unavailable, .tooManyRequests, .dropBefore: return false
        case .dropAfter, .stall: return true
        }
    }
}

/// One rule of a fault spec: inject `fault` with `probability` into requests that match the scope.
public struct FaultRule: Sendable, Hashable {
    public var fault: SimFault
    /// Chance per matching request, 0...1.
    public var probability: Double
    /// Only requests with this method (upper case); nil matches every method.
    public var method: String?
    /// Only requests whose path starts with this prefix; "" matches every path.
    public var pathPrefix: String

    public init(fault: SimFault, probability: Double, method: String? = nil, pathPrefix: String = "") {
        self.fault = fault
        self.probability = probability
        self.method = method?.uppercased()
        self.pathPrefix = pathPrefix
    }

    /// Whether a request with this method and (query-free) path is in the rule's scope.
    public func matches(method requestMethod: String, path: String) -> Bool {
        if let method, method != requestMethod.uppercased() { return false }
        return path.hasPrefix(pathPrefix)
    }

    /// The rule in spec syntax, e.g. `429=0.5@POST:/api/v3/ns/`.
    public var specToken: String {
        var token = "\(fault.rawValue)=\(Self.format(probability))"
        if method != nil || !pathPrefix.isEmpty {
            token += "@"
            if let method { token += "\(method):" }
            token += pathPrefix
        }
        return token
    }

    static func format(_ probability: Double) -> String {
        if probability == probability.rounded() { return String(Int(probability)) }
        return String(probability)
    }
}

/// Which faults a `SimServer` injects, how long a stall lasts, and the seed that makes the choice
/// reproducible.
///
/// Text form (the `--faults` option), comma-separated entries:
///
///     503=0.1,drop-before=0.025,drop-after=0.025,stall=0.01,429=0.05,stall-ms=3000,seed=42
///
/// - `<fault>=<probability>[@[<METHOD>:]<path prefix>]` with fault `503`, `429`, `drop-before`,
///   `drop-after` or `stall` (see `SimFault`) and a probability from 0 to 1. The optional scope limits
///   the rule to paths starting with the prefix (`429=0.5@/api/v3/ns/`) and optionally one method
///   (`drop-after=1@POST:/api/v3/users/`).
/// - `stall-ms=<milliseconds>`: how long a stalled response is held (default 3000, at most 3600000).
/// - `seed=<unsigned integer>`: seed of the fault draw (default 1). The same seed and the same order
///   of requests give the same faults.
///
/// Each request draws one number in [0, 1); the rules whose scope matches it are tried in spec order
/// with their probabilities stacked, so the chances of rules that can match the same request must
/// add up to at most 1.
public struct FaultSpec: Sendable, Hashable, CustomStringConvertible {
    public static let defaultStall: Duration = .milliseconds(3000)
    public static let defaultSeed: UInt64 = 1
    /// The longest stall a spec accepts (one hour).
    public static let maximumStallMilliseconds = 3_600_000

    public var rules: [FaultRule]
    public var stall: Duration
    public var seed: UInt64

    /// No faults.
    public static let none = FaultSpec()

    public init(rules: [FaultRule] = [], stall: Duration = FaultSpec.defaultStall, seed: UInt64 = FaultSpec.defaultSeed) {
        self.rules = rules
        self.stall = stall
        self.seed = seed
    }

    /// Parses the text form; an empty (or blank) text means no faults.
    public init(parsing text: String) throws(FaultSpecError) {
        self.init()
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return }
        var sawStall = false
        var sawSeed = false
        for (index, rawEntry) in trimmed.split(separator: ",", omittingEmptySubsequences: false).enumerated() {
            let entry = rawEntry.trimmingCharacters(in: .whitespaces)
            if entry.isEmpty { throw .emptyEntry(position: index + 1) }
            guard let equals = entry.firstIndex(of: "=") else { throw .missingValue(entry: entry) }
            let key = String(entry[..<equals])
            let value = String(entry[entry.index(after: equals)...])
            if value.isEmpty { throw .missingValue(entry: entry) }
            switch key {
            case "stall-ms":
                if sawStall { throw .duplicateSetting(entry: entry) }
                sawStall = true
                guard let milliseconds = Int(value), milliseconds >= 1,
                      milliseconds <= Self.maximumStallMilliseconds else {
                    throw .invalidStall(entry: entry)
                }
                stall = .milliseconds(milliseconds)
            case "seed":
                if sawSeed { throw .duplicateSetting(entry: entry) }
                sawSeed = true
                guard let seed = UInt64(value) else { throw .invalidSeed(entry: entry) }
                self.seed = seed
            default:
                guard let fault = SimFault(rawValue: key) else { throw .unknownFault(entry: entry) }
                rules.append(try Self.parseRule(fault: fault, value: value, entry: entry))
            }
        }
        try validateTotals()
    }

    private static func parseRule(fault: SimFault, value: String, entry: String) throws(FaultSpecError) -> FaultRule {
        let probabilityText: Substring
        var method: String?
        var prefix = ""
        if let at = value.firstIndex(of: "@") {
            probabilityText = value[..<at]
            var scope = value[value.index(after: at)...]
            if let colon = scope.firstIndex(of: ":") {
                let methodText = scope[..<colon]
                guard !methodText.isEmpty, methodText.allSatisfy({ $0.isLetter && $0.isASCII }) else {
                    throw .invalidScope(entry: entry)
                }
                method = methodText.uppercased()
                scope = scope[scope.index(after: colon)...]
            }
            guard scope.hasPrefix("/"), !scope.contains(where: { $0 == " " || $0 == "?" }) else {
                throw .invalidScope(entry: entry)
            }
            prefix = String(scope)
        } else {
            probabilityText = Substring(value)
        }
        guard let probability = Double(probabilityText), probability.isFinite, probability >= 0, probability <= 1 else {
            throw .invalidProbability(entry: entry)
        }
        return FaultRule(fault: fault, probability: probability, method: method, pathPrefix: prefix)
    }

    /// Throws when the chances of rules that can match one request add up to more than 1.
    ///
    /// The requests that match the most rules at once have a path equal to some rule's prefix and a
    /// method named by some rule (or any other method), so checking those combinations is enough.
    public func validateTotals() throws(FaultSpecError) {
        let methods: [String?] = [nil] + Set(rules.compactMap(\.method)).sorted()
        for prefix in Set(rules.map(\.pathPrefix)).sorted() {
            for method in methods {
                let total = rules.filter { rule in
                    (rule.method == nil || rule.method == method) && prefix.hasPrefix(rule.pathPrefix)
                }.reduce(0) { $0 + $1.probability }
                if total > 1 + 1e-9 {
                    let scope = (method.map { "\($0) " } ?? "") + (prefix.isEmpty ? "every path" : prefix)
                    throw .probabilitiesExceedOne(scope: scope, total: total)
                }
            }
        }
    }

    /// The spec in its text form; parsing it gives an equal spec.
    public var description: String {
        var entries = rules.map(\.specToken)
        let milliseconds = stall.components.seconds * 1000 + stall.components.attoseconds / 1_000_000_000_000_000
        if stall != Self.defaultStall { entries.append("stall-ms=\(milliseconds)") }
        if seed != Self.defaultSeed { entries.append("seed=\(seed)") }
        return entries.joined(separator: ",")
    }
}

/// A fault spec that cannot be parsed; the message names the bad entry and how to write it.
public enum FaultSpecError: Error, Hashable, CustomStringConvertible, LocalizedError {
    case emptyEntry(position: Int)
    case missingValue(entry: String)
    case unknownFault(entry: String)
    case invalidProbability(entry: String)
    case invalidScope(entry: String)
    case invalidStall(entry: String)
    case invalidSeed(entry: String)
    case duplicateSetting(entry: String)
    case probabilitiesExceedOne(scope: String, total: Double)

    public var description: String {
        let kinds = SimFault.allCases.map(\.rawValue).joined(separator: ", ")
        switch self {
        case .emptyEntry(let position):
            return "fault spec: entry \(position) is empty; separate entries with single commas, e.g. 503=0.1,seed=42"
        case .missingValue(let entry):
            return "fault spec entry \"\(entry)\": expected <name>=<value>, e.g. 503=0.1 or stall-ms=3000"
        case .unknownFault(let entry):
            return "fault spec entry \"\(entry)\": unknown name; use one of \(kinds), stall-ms or seed"
        case .invalidProbability(let entry):
            return "fault spec entry \"\(entry)\": the probability must be a number from 0 to 1, e.g. 503=0.1"
        case .invalidScope(let entry):
            return "fault spec entry \"\(entry)\": the scope after @ must be a path prefix starting with /, optionally after a method and a colon, e.g. 429=0.5@/api/v3/ns/ or drop-after=1@POST:/api/v3/"
        case .invalidStall(let entry):
            return "fault spec entry \"\(entry)\": stall-ms must be a whole number of milliseconds from 1 to \(FaultSpec.maximumStallMilliseconds)"
        case .invalidSeed(let entry):
            return "fault spec entry \"\(entry)\": seed must be an unsigned whole number, e.g. seed=42"
        case .duplicateSetting(let entry):
            return "fault spec entry \"\(entry)\": this setting is given twice; keep one"
        case .probabilitiesExceedOne(let scope, let total):
            return "fault spec: the probabilities of the faults that can hit \(scope) add up to \(total); lower them so they add up to at most 1"
        }
    }

    public var errorDescription: String? { description }
}

/// The deterministic fault draw of a running server (SplitMix64 generator seeded by the spec).
struct FaultInjector: Sendable {
    private(set) var spec: FaultSpec
    private var state: UInt64

    init(spec: FaultSpec) {
        self.spec = spec
        self.state = spec.seed
    }

    /// Picks the fault for the next request, or nil. Draws one number per request whenever the spec
    /// has rules, so the sequence of draws depends only on the seed and the request order.
    mutating func draw(method: String, path: String) -> SimFault? {
        guard !spec.rules.isEmpty else { return nil }
        let sample = nextUnit()
        var cumulative = 0.0
        for rule in spec.rules where rule.matches(method: method, path: path) {
            cumulative += rule.probability
            if sample < cumulative { return rule.fault }
        }
        return nil
    }

    private mutating func nextUnit() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(UInt64(1) << 53)
    }
}
