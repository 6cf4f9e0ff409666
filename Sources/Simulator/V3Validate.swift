/// Field validation as protoc-gen-validate rules in the v3 protos define it (reference/v3-api.md §3, §5, §8).
/// Failures are `pkg/errors:validation` with the field path from the request message down.
enum V3Validate {
    static let idPattern = "^[a-z0-9](?:[-]?[a-z0-9]){2,}$"
    static let userIDPattern = "^[a-z0-9](?:[-]?[a-z0-9]){1,}$"
    static let hostPattern = "^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\-]*[a-zA-Z0-9])\\.)*(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\\-]*[A-Za-z0-9])(?::[0-9]{1,5})?$|^$"
    static let gatewayServerPattern = "^([a-z]{2,5}://)?(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\-]*[a-zA-Z0-9])\\.)*(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9\\-]*[A-Za-z0-9])(?::[0-9]{1,5})?$|^$"

    /// `^[a-z0-9](?:[-]?[a-z0-9]){n,}$` with at most 36 characters (§8.1).
    static func isID(_ id: String, minimumLength: Int) -> Bool {
        let bytes = Array(id.utf8)
        guard bytes.count >= minimumLength, bytes.count <= 36 else { return false }
        func alphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        guard alphanumeric(bytes[0]), alphanumeric(bytes[bytes.count - 1]) else { return false }
        var previousDash = false
        for byte in bytes {
            if byte == UInt8(ascii: "-") {
                if previousDash { return false }
                previousDash = true
            } else if alphanumeric(byte) {
                previousDash = false
            } else {
                return false
            }
        }
        // A dash counts as a separator, not a character: "a-b" has 2 alphanumerics and matches {1,} but not {2,}.
        return bytes.filter(alphanumeric).count >= minimumLength
    }

    private static func isHostLabel(_ label: Substring) -> Bool {
        guard let first = label.utf8.first, let last = label.utf8.last else { return false }
        func alphanumeric(_ byte: UInt8) -> Bool {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
        }
        return alphanumeric(first) && alphanumeric(last) && label.utf8.allSatisfy { alphanumeric($0) || $0 == UInt8(ascii: "-") }
    }

    /// `host[:port]` or empty (the `*_server_address` pattern).
    static func isHostPort(_ address: String) -> Bool {
        if address.isEmpty { return true }
        var host = Substring(address)
        if let colon = address.lastIndex(of: ":") {
            let port = address[address.index(after: colon)...]
            guard (1...5).contains(port.count), port.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) else { return false }
            host = address[..<colon]
        }
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        return !labels.isEmpty && labels.allSatisfy(isHostLabel)
    }

    /// `[scheme://]host[:port]` or empty (the gateway server address pattern).
    static func isGatewayServerAddress(_ address: String) -> Bool {
        if let range = address.range(of: "://") {
            let scheme = address[..<range.lowerBound]
            guard (2...5).contains(scheme.count), scheme.utf8.allSatisfy({ (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }) else { return false }
            let rest = String(address[range.upperBound...])
            return !rest.isEmpty && isHostPort(rest)
        }
        return isHostPort(address)
    }

    static func runes(_ text: String) -> Int {
        text.unicodeScalars.count
    }

    // MARK: Field checks (path = field names from the request message down)

    static func id(_ value: V3JSON?, path: [String], minimumLength: Int = 3) throws(V3Failure) {
        let id = value?.stringValue ?? ""
        if !isID(id, minimumLength: minimumLength) {
            throw V3Failure.validation(path: path, reason: "value does not match regex pattern \"\(minimumLength == 2 ? userIDPattern : idPattern)\"")
        }
    }

    static func optionalID(_ value: V3JSON?, path: [String]) throws(V3Failure) {
        guard let id = value?.stringValue, !id.isEmpty else { return }
        try self.id(value, path: path)
    }

    static func maxRunes(_ value: V3JSON?, _ limit: Int, path: [String]) throws(V3Failure) {
        if let text = value?.stringValue, runes(text) > limit {
            throw V3Failure.validation(path: path, reason: "value length must be at most \(limit) runes")
        }
    }

    static func hostAddress(_ value: V3JSON?, path: [String]) throws(V3Failure) {
        if let text = value?.stringValue, !isHostPort(text) {
            throw V3Failure.validation(path: path, reason: "value does not match regex pattern \"\(hostPattern)\"")
        }
    }

    /// At most 10 attributes; keys follow the ID rule (≤ 36), values at most 200 characters (§3).
    static func attributes(_ value: V3JSON?, path: [String]) throws(V3Failure) {
        guard let fields = value?.objectValue else { return }
        let field = path.last ?? "attributes"
        let parent = Array(path.dropLast())
        if fields.count > 10 {
            throw V3Failure.validation(path: path, reason: "value must contain no more than 10 pair(s)")
        }
        for key in fields.keys.sorted() {
            if !isID(key, minimumLength: 3) {
                throw V3Failure.validation(path: parent + ["\(field)[\(key)]"], reason: "value does not match regex pattern \"\(idPattern)\"")
            }
            if let text = fields[key]?.stringValue, runes(text) > 200 {
                throw V3Failure.validation(path: parent + ["\(field)[\(key)]"], reason: "value length must be at most 200 runes")
            }
        }
    }

    /// Latitude −90…90, longitude −180…180 (`metadata.proto` `Location`).
    static func location(_ value: V3JSON?, path: [String]) throws(V3Failure) {
        guard let location = value?.objectValue else { return }
        if let latitude = location["latitude"]?.numberValue, !(-90...90).contains(latitude) {
            throw V3Failure.validation(path: path + ["latitude"], reason: "value must be inside range [-90, 90]")
        }
        if let longitude = location["longitude"]?.numberValue, !(-180...180).contains(longitude) {
            throw V3Failure.validation(path: path + ["longitude"], reason: "value must be inside range [-180, 180]")
        }
    }

    /// `version_ids`: brand and model IDs follow the ID rule when set; versions at most 32 characters.
    static func versionIDs(_ value: V3JSON?, path: [String]) throws(V3Failure) {
        guard let ids = value else { return }
        try optionalID(ids[path: "brand_id"], path: path + ["brand_id"])
        try optionalID(ids[path: "model_id"], path: path + ["model_id"])
        for field in ["hardware_version", "firmware_version", "runtime_version"] {
            try maxRunes(ids[path: field], 32, path: path + [field])
        }
        try maxRunes(ids[path: "band_id"], 64, path: path + ["band_id"])
    }
}
