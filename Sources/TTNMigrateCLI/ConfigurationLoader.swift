import Foundation
import Yams

extension MigrationConfiguration {
    /// Reads and checks a configuration file: unknown keys and wrong types are errors with line numbers.
    /// `overrides` (`--set key.path=value`) replace or add keys, so every key is also a flag (DESIGN.md §3).
    public static func load(path: String, overrides: [String] = []) throws -> MigrationConfiguration {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError.unreadable(path: path, reason: "no such file or not readable")
        }
        return try load(data: data, path: path, overrides: overrides)
    }

    /// Checks configuration bytes as `load(path:)` does; `path` names them in errors.
    public static func load(data: Data, path: String, overrides: [String] = []) throws -> MigrationConfiguration {
        guard let text = String(validating: data, as: UTF8.self) else {
            let offset = Self.firstInvalidUTF8Offset(data)
            throw ConfigurationError.malformed(
                path: path, line: data.prefix(offset).filter { $0 == UInt8(ascii: "\n") }.count + 1,
                reason: "not UTF-8 text (an invalid byte at offset \(offset)); save the file as UTF-8")
        }
        guard !text.allSatisfy(\.isWhitespace) || !overrides.isEmpty else {
            throw ConfigurationError.empty(path: path)
        }
        return try parse(text, path: path, overrides: overrides)
    }

    /// The offset of the first byte that does not start or continue a UTF-8 sequence as it should.
    static func firstInvalidUTF8Offset(_ data: Data) -> Int {
        let bytes = [UInt8](data)
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length: Int
            switch lead {
            case 0x00...0x7F: length = 1
            case 0xC2...0xDF: length = 2
            case 0xE0...0xEF: length = 3
            case 0xF0...0xF4: length = 4
            default: return index
            }
            guard index + length <= bytes.count else { return index }
            for next in bytes[(index + 1)..<(index + length)] where next & 0xC0 != 0x80 { return index }
            index += length
        }
        return index
    }

    /// Parses configuration text; `path` names it in errors.
    public static func parse(_ text: String, path: String, overrides: [String] = []) throws -> MigrationConfiguration {
        var root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            throw ConfigurationError.malformed(path: path, line: Self.line(of: error), reason: Self.reason(of: error))
        } catch {
            throw ConfigurationError.malformed(path: path, line: nil, reason: String(describing: error))
        }
        for override in overrides {
            root = try Self.apply(override, to: root ?? Node.mapping([:]))
        }
        var config = MigrationConfiguration()
        guard let root else { return config }
        let reader = NodeReader(path: path)
        let top = try reader.mapping(root, section: "the top level", known: [
            "source", "target", "users", "rename", "frequency_plans", "devices", "gateway_euis", "include", "journal", "concurrency",
        ])
        if let source = top["source"] {
            let fields = try reader.mapping(source.value, section: "source", known: ["account_server", "token_env", "token_file", "handlers"])
            if let value = fields["account_server"] { config.source.accountServer = try reader.url(value) }
            config.source.token = try reader.secret(fields, envKey: "token_env", fileKey: "token_file") ?? config.source.token
            if let value = fields["handlers"] { config.source.handlers = try reader.urls(value) }
        }
        if let target = top["target"] {
            let fields = try reader.mapping(target.value, section: "target", known: [
                "url", "identity_server", "join_server", "network_server", "application_server", "gateway_server_address",
                "api_key_env", "api_key_file", "owner", "ca_file", "insecure",
            ])
            config.target.url = try fields["url"].map(reader.url)
            config.target.identityServer = try fields["identity_server"].map(reader.url)
            config.target.joinServer = try fields["join_server"].map(reader.url)
            config.target.networkServer = try fields["network_server"].map(reader.url)
            config.target.applicationServer = try fields["application_server"].map(reader.url)
            config.target.gatewayServerAddress = try fields["gateway_server_address"].map(reader.string)
            config.target.apiKey = try reader.secret(fields, envKey: "api_key_env", fileKey: "api_key_file") ?? config.target.apiKey
            config.target.caFile = try fields["ca_file"].map(reader.string)
            config.target.insecure = try fields["insecure"].map(reader.bool) ?? false
            if let owner = fields["owner"] {
                let ownerFields = try reader.mapping(owner.value, section: "target.owner", known: ["user", "organization"])
                switch (ownerFields["user"], ownerFields["organization"]) {
                case (let user?, nil): config.target.owner = .user(try reader.string(user))
                case (nil, let organization?): config.target.owner = .organization(try reader.string(organization))
                default:
                    throw ConfigurationError.invalidValue(
                        path: path, line: owner.line, key: "target.owner", reason: "must be exactly one of `{ user: ID }` or `{ organization: ID }`")
                }
            }
        }
        if let users = top["users"] { config.users = try reader.stringMap(users, section: "users") }
        if let rename = top["rename"] {
            let fields = try reader.mapping(rename.value, section: "rename", known: ["applications", "gateways"])
            config.renameApplications = try fields["applications"].map { try reader.stringMap($0, section: "rename.applications") } ?? [:]
            config.renameGateways = try fields["gateways"].map { try reader.stringMap($0, section: "rename.gateways") } ?? [:]
        }
        if let plans = top["frequency_plans"] { config.frequencyPlans = try reader.stringMap(plans, section: "frequency_plans") }
        if let devices = top["devices"] {
            let fields = try reader.mapping(devices.value, section: "devices", known: ["frequency_plan", "applications", "with_session"])
            config.devices.frequencyPlan = try fields["frequency_plan"].map(reader.string)
            config.devices.applications = try fields["applications"].map { try reader.stringMap($0, section: "devices.applications") } ?? [:]
            config.devices.withSession = try fields["with_session"].map(reader.bool) ?? false
        }
        if let euis = top["gateway_euis"] { config.gatewayEUIs = try reader.stringMap(euis, section: "gateway_euis") }
        if let include = top["include"] {
            let fields = try reader.mapping(include.value, section: "include", known: ["applications", "gateways", "deleted"])
            config.include.applications = try fields["applications"].map(reader.selection) ?? .all
            config.include.gateways = try fields["gateways"].map(reader.selection) ?? .all
            config.include.deleted = try fields["deleted"].map(reader.bool) ?? false
        }
        config.journal = try top["journal"].map(reader.string)
        if let value = top["concurrency"] {
            let number = try reader.int(value)
            guard (1...256).contains(number) else {
                throw ConfigurationError.invalidValue(path: path, line: value.line, key: "concurrency", reason: "must be between 1 and 256")
            }
            config.concurrency = number
        }
        return config
    }

    /// Sets `a.b.c=value` in the tree; the value is read as YAML (`--set include.applications=[a,b]`).
    /// Overridden nodes carry no line, so errors about them say `--set`.
    static func apply(_ override: String, to root: Node) throws -> Node {
        guard let equals = override.firstIndex(of: "="), equals != override.startIndex else {
            throw ConfigurationError.badOverride(override, reason: "expected KEY=VALUE, e.g. target.owner.user=alice")
        }
        let keys = override[..<equals].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !keys.contains(where: \.isEmpty) else {
            throw ConfigurationError.badOverride(override, reason: "the key has an empty part")
        }
        let text = String(override[override.index(after: equals)...])
        let value: Node
        do {
            value = try Yams.compose(yaml: text).map(Self.withoutMarks) ?? Node("")
        } catch {
            throw ConfigurationError.badOverride(override, reason: "the value is not valid YAML")
        }
        func set(_ node: Node, _ keys: ArraySlice<String>) throws -> Node {
            guard let key = keys.first else { return value }
            var mapping: Node.Mapping
            switch node {
            case .mapping(let existing): mapping = existing
            case .scalar(let scalar) where scalar.string.isEmpty: mapping = Node.Mapping([])
            default:
                throw ConfigurationError.badOverride(override, reason: "`\(key)` is set inside a value that is not a mapping")
            }
            mapping[key] = try set(mapping[key] ?? .mapping([:]), keys.dropFirst())
            return .mapping(mapping)
        }
        return try set(root, keys[...])
    }

    /// The node without source positions (its lines would point into the `--set` text, not the file).
    static func withoutMarks(_ node: Node) -> Node {
        switch node {
        case .scalar(let scalar): return .scalar(Node.Scalar(scalar.string, scalar.tag, scalar.style))
        case .sequence(let sequence): return .sequence(Node.Sequence(sequence.map(withoutMarks), sequence.tag, sequence.style))
        case .mapping(let mapping):
            return .mapping(Node.Mapping(mapping.map { (withoutMarks($0.key), withoutMarks($0.value)) }, mapping.tag, mapping.style))
        case .alias: return node
        }
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _): return mark.line
        case .composer(_, _, let mark, _): return mark.line
        default: return nil
        }
    }

    private static func reason(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _), .composer(_, let problem, _, _): return problem
        default: return String(describing: error)
        }
    }
}

/// Typed access to YAML nodes with errors that carry the line.
private struct NodeReader {
    typealias Located = (key: String, value: Node, line: Int)
    let path: String

    func mapping(_ node: Node, section: String, known: [String]) throws -> [String: Located] {
        guard let mapping = node.mapping else {
            throw ConfigurationError.invalidValue(path: path, line: node.mark?.line ?? 0, key: section, reason: "must be a mapping of keys to values")
        }
        var result: [String: Located] = [:]
        for (key, value) in mapping {
            guard let name = key.string else {
                throw ConfigurationError.invalidValue(path: path, line: key.mark?.line ?? 0, key: section, reason: "has a key that is not text")
            }
            guard known.contains(name) else {
                throw ConfigurationError.unknownKey(path: path, line: key.mark?.line ?? 0, key: name, section: section, known: known)
            }
            result[name] = (section == "the top level" ? name : section + "." + name, value, key.mark?.line ?? 0)
        }
        return result
    }

    func string(_ located: Located) throws -> String {
        guard let scalar = located.value.scalar, !scalar.string.isEmpty else {
            throw ConfigurationError.invalidValue(path: path, line: located.line, key: keyName(located), reason: "must be a non-empty text value")
        }
        return scalar.string
    }

    func url(_ located: Located) throws -> String {
        let text = try string(located)
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
            scheme == "http" || scheme == "https", components.host?.isEmpty == false
        else {
            throw ConfigurationError.invalidValue(path: path, line: located.line, key: located.key, reason: "is not an http(s) URL: \(text)")
        }
        return text
    }

    func bool(_ located: Located) throws -> Bool {
        guard let value = located.value.bool else {
            throw ConfigurationError.invalidValue(path: path, line: located.line, key: keyName(located), reason: "must be true or false")
        }
        return value
    }

    func int(_ located: Located) throws -> Int {
        guard let value = located.value.int else {
            throw ConfigurationError.invalidValue(path: path, line: located.line, key: keyName(located), reason: "must be a whole number")
        }
        return value
    }

    func strings(_ located: Located) throws -> [String] {
        guard let sequence = located.value.sequence else {
            throw ConfigurationError.invalidValue(path: path, line: located.line, key: keyName(located), reason: "must be a list")
        }
        return try sequence.map { try string((located.key, $0, $0.mark?.line ?? located.line)) }
    }

    func urls(_ located: Located) throws -> [String] {
        guard let sequence = located.value.sequence else {
            throw ConfigurationError.invalidValue(path: path, line: located.line, key: located.key, reason: "must be a list of URLs")
        }
        return try sequence.map { try url((located.key, $0, $0.mark?.line ?? located.line)) }
    }

    func stringMap(_ located: Located, section: String) throws -> [String: String] {
        guard let mapping = located.value.mapping else {
            if located.value.scalar?.string.isEmpty == true || located.value.null != nil { return [:] }
            throw ConfigurationError.invalidValue(path: path, line: located.line, key: section, reason: "must be a mapping of v2 IDs to values")
        }
        var result: [String: String] = [:]
        for (key, value) in mapping {
            let line = key.mark?.line ?? located.line
            guard let name = key.string, let text = value.scalar?.string, !text.isEmpty else {
                throw ConfigurationError.invalidValue(path: path, line: line, key: section, reason: "entries must map a v2 ID to a non-empty text value")
            }
            result[name] = text
        }
        return result
    }

    func selection(_ located: Located) throws -> MigrationConfiguration.Selection {
        if let scalar = located.value.scalar {
            guard scalar.string == "all" else {
                throw ConfigurationError.invalidValue(path: path, line: located.line, key: keyName(located), reason: "must be `all` or a list of v2 IDs")
            }
            return .all
        }
        return .only(try strings(located))
    }

    func secret(_ fields: [String: Located], envKey: String, fileKey: String) throws -> SecretReference? {
        switch (fields[envKey], fields[fileKey]) {
        case (let env?, nil): return .environment(try string(env))
        case (nil, let file?): return .file(try string(file))
        case (nil, nil): return nil
        case (_, let file?):
            throw ConfigurationError.invalidValue(path: path, line: file.line, key: file.key, reason: "cannot be combined with `\(envKey)`: choose one")
        }
    }

    private func keyName(_ located: Located) -> String { located.key }
}
