import Foundation
import Yams

/// The migration configuration file (`examples/migrate.yml`, DESIGN.md §3).
///
/// Every map is keyed by v2 IDs; values are v3 IDs or settings. Secrets are never in the file: only
/// the names of environment variables or files that hold them.
public struct MigrationConfiguration: Sendable, Equatable {
    /// Where v2 is read.
    public struct Source: Sendable, Equatable {
        public var accountServer: String = "https://account.thethingsnetwork.org/api/v2"
        public var token: SecretReference = .environment("TTN_V2_TOKEN")
        public var handlers: [String] = []
    }

    /// The owner of every created entity.
    public enum Owner: Sendable, Equatable {
        case user(String)
        case organization(String)

        public var id: String {
            switch self {
            case .user(let id), .organization(let id): return id
            }
        }
        public var kind: String {
            switch self {
            case .user: return "user"
            case .organization: return "organization"
            }
        }
    }

    /// Where v3 is written.
    public struct Target: Sendable, Equatable {
        public var url: String?
        public var identityServer: String?
        public var joinServer: String?
        public var networkServer: String?
        public var applicationServer: String?
        public var gatewayServerAddress: String?
        public var apiKey: SecretReference = .environment("TTN_V3_API_KEY")
        public var owner: Owner?
        public var caFile: String?
        public var insecure: Bool = false
    }

    /// Device settings v2 does not carry.
    public struct Devices: Sendable, Equatable {
        public var frequencyPlan: String?
        public var applications: [String: String] = [:]
        public var withSession: Bool = false
    }

    /// A selection of IDs: all, or a list.
    public enum Selection: Sendable, Equatable {
        case all
        case only([String])
    }

    /// What is migrated.
    public struct Include: Sendable, Equatable {
        public var applications: Selection = .all
        public var gateways: Selection = .all
        public var deleted: Bool = false
    }

    public var source = Source()
    public var target = Target()
    public var users: [String: String] = [:]
    public var renameApplications: [String: String] = [:]
    public var renameGateways: [String: String] = [:]
    public var frequencyPlans: [String: String] = [:]
    public var devices = Devices()
    public var gatewayEUIs: [String: String] = [:]
    public var include = Include()
    public var journal: String?
    public var concurrency: Int?

    public init() {}
}

/// Where a secret comes from: an environment variable or a file. Never the secret itself.
public enum SecretReference: Sendable, Equatable, CustomStringConvertible {
    case environment(String)
    case file(String)

    public var description: String {
        switch self {
        case .environment(let name): return "environment variable \(name)"
        case .file(let path): return "file \(path)"
        }
    }

    /// Reads the secret, trimmed of surrounding white space.
    public func resolve(what: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String {
        let value: String
        switch self {
        case .environment(let name):
            guard let text = environment[name], !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw ConfigurationError.missingSecret(what: what, source: description, hint: "set \(name), or name a file with `\(what == "the v2 token" ? "source.token_file" : "target.api_key_file")`")
            }
            value = text
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError.missingSecret(what: what, source: description, hint: "check that the file exists and is readable")
            }
            value = String(decoding: data, as: UTF8.self)
        }
        let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else {
            throw ConfigurationError.missingSecret(what: what, source: description, hint: "it is empty")
        }
        return trimmed
    }
}

/// A configuration the tool cannot use. Exit code 2.
public enum ConfigurationError: Error, CustomStringConvertible, Equatable {
    /// `line N`, or `--set` for a key given on the command line (line 0).
    static func place(_ line: Int) -> String { line > 0 ? "line \(line)" : "(from --set)" }

    case unreadable(path: String, reason: String)
    case malformed(path: String, line: Int?, reason: String)
    case empty(path: String)
    case unknownKey(path: String, line: Int, key: String, section: String, known: [String])
    case invalidValue(path: String, line: Int, key: String, reason: String)
    case missingSecret(what: String, source: String, hint: String)
    case missing(key: String, hint: String)
    case badOverride(String, reason: String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read configuration \(path): \(reason)"
        case .malformed(let path, let line, let reason):
            return "configuration \(path)\(line.map { " line \($0)" } ?? ""): not valid YAML (\(reason)); fix the syntax"
        case .empty(let path):
            return "configuration \(path) is empty; start from examples/migrate.yml"
        case .unknownKey(let path, let line, let key, let section, let known):
            return "configuration \(path) \(Self.place(line)): unknown key `\(key)` in \(section); known keys: \(known.joined(separator: ", "))"
        case .invalidValue(let path, let line, let key, let reason):
            return "configuration \(path) \(Self.place(line)): `\(key)` \(reason)"
        case .missingSecret(let what, let source, let hint):
            return "\(what) is missing: \(source) gives nothing (\(hint))"
        case .missing(let key, let hint):
            return "configuration: `\(key)` is required (\(hint))"
        case .badOverride(let text, let reason):
            return "--set \(text): \(reason)"
        }
    }
}
