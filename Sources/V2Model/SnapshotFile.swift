import Diagnostics
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a snapshot file could not be read or written. Each case names the file and the next step.
public enum SnapshotFileError: Error, CustomStringConvertible, Sendable {
    case unreadable(path: String, reason: String)
    case malformed(path: String, reason: String)
    case wrongFormat(path: String, found: String)
    case newerVersion(path: String, found: Int, supported: Int)
    case unwritable(path: String, reason: String)

    public var description: String { BoundedText.bounded(fullDescription) }

    private var fullDescription: String {
        switch self {
        case .unreadable(let path, let reason):
            return "cannot read snapshot \(path): \(reason). Check the path, or take a new one with `ttn-migrate snapshot`."
        case .malformed(let path, let reason):
            return "snapshot \(path) is not valid: \(reason). Take a new one with `ttn-migrate snapshot`."
        case .wrongFormat(let path, let found):
            return "\(path) is not a ttn-migrate v2 snapshot (format \"\(found)\", expected \"\(V2Snapshot.formatName)\"). Pass a file written by `ttn-migrate snapshot`."
        case .newerVersion(let path, let found, let supported):
            return "snapshot \(path) has format version \(found), but this ttn-migrate reads up to version \(supported). Upgrade ttn-migrate, or take a new snapshot with this version."
        case .unwritable(let path, let reason):
            return "cannot write \(path): \(reason). Choose a writable path; nothing was written."
        }
    }
}

/// Reads and writes snapshot files: JSON, sorted keys, created 0600, replaced atomically.
public enum SnapshotFile {
    /// Encodes a snapshot with stable bytes (sorted keys, pretty-printed).
    public static func encode(_ snapshot: V2Snapshot) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(snapshot)
    }

    /// Decodes and checks format name and version.
    ///
    /// The whole document is decoded first, since a valid file is the usual case (and `JSONDecoder`
    /// parses all of it even for two fields); only when that fails is the header read, to tell another
    /// format or a newer version from a damaged file.
    public static func decode(_ data: Data, path: String) throws -> V2Snapshot {
        let snapshot: V2Snapshot
        do {
            snapshot = try JSONDecoder().decode(V2Snapshot.self, from: data)
        } catch {
            try checkHeader(data, path: path)
            throw SnapshotFileError.malformed(path: path, reason: describe(error))
        }
        try checkHeader(format: snapshot.format, version: snapshot.version, path: path)
        return snapshot
    }

    /// Refuses a document that is not a JSON object, or whose header names another format or a newer version.
    private static func checkHeader(_ data: Data, path: String) throws {
        struct Header: Decodable {
            var format: String?
            var version: Int?
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: data)
        } catch {
            throw SnapshotFileError.malformed(path: path, reason: "not a JSON object (\(describe(error)))")
        }
        try checkHeader(format: header.format, version: header.version, path: path)
    }

    private static func checkHeader(format: String?, version: Int?, path: String) throws {
        guard format == V2Snapshot.formatName else {
            throw SnapshotFileError.wrongFormat(path: path, found: format ?? "none")
        }
        guard let version else {
            throw SnapshotFileError.malformed(path: path, reason: "no \"version\" field")
        }
        guard version <= V2Snapshot.currentVersion else {
            throw SnapshotFileError.newerVersion(path: path, found: version, supported: V2Snapshot.currentVersion)
        }
    }

    /// Reads a snapshot file.
    public static func read(path: String) throws -> V2Snapshot {
        try decode(try readBytes(path: path), path: path)
    }

    /// The bytes of a snapshot file, not yet decoded.
    public static func readBytes(path: String) throws -> Data {
        do {
            return try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw SnapshotFileError.unreadable(path: path, reason: (error as NSError).localizedDescription)
        }
    }

    /// Writes a snapshot: a 0600 temporary file beside `path`, flushed, then renamed over it.
    public static func write(_ snapshot: V2Snapshot, to path: String) throws {
        try SecureFile.writeAtomically(try encode(snapshot), to: path)
    }

    /// A readable account of a decoding error: the JSON path and what was wrong.
    public static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return String(describing: error) }
        func path(_ keys: [any CodingKey]) -> String {
            let text = keys.map { key in key.intValue.map { "[\($0)]" } ?? ".\(key.stringValue)" }.joined()
            return text.isEmpty ? "top level" : String(text.drop { $0 == "." })
        }
        switch error {
        case .dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        case .keyNotFound(let key, let context):
            return "\(path(context.codingPath + [key])): missing"
        case .typeMismatch(let type, let context):
            return "\(path(context.codingPath)): expected \(type)"
        case .valueNotFound(let type, let context):
            return "\(path(context.codingPath)): expected \(type), found null"
        @unknown default:
            return String(describing: error)
        }
    }
}

/// Files that hold secrets: created 0600 and replaced atomically.
public enum SecureFile {
    /// Writes `data` to a new 0600 temporary file in the same directory, fsyncs it and renames it over
    /// `path`. On failure nothing is left behind and `path` is untouched.
    public static func writeAtomically(_ data: Data, to path: String) throws {
        try writeAtomically(to: path) { write in try write(data) }
    }

    /// The same, with the content handed over in pieces: `produce` calls its argument with each piece in
    /// order (a large plan is written without being held whole in memory). An error thrown by `produce`
    /// leaves nothing behind and is rethrown.
    public static func writeAtomically(to path: String, _ produce: ((Data) throws -> Void) throws -> Void) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw SnapshotFileError.unwritable(path: path, reason: String(cString: strerror(errno)))
        }
        var failure: String?
        func write(_ data: Data) throws {
            data.withUnsafeBytes { buffer in
                var offset = 0
                while offset < buffer.count {
                    let written = Glibc.write(fd, buffer.baseAddress! + offset, buffer.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        failure = String(cString: strerror(errno))
                        return
                    }
                    offset += written
                }
            }
            if let failure { throw SnapshotFileError.unwritable(path: path, reason: failure) }
        }
        do {
            try produce(write)
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        if fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = String(cString: strerror(errno)) }
        if let failure {
            unlink(temporary)
            throw SnapshotFileError.unwritable(path: path, reason: failure)
        }
    }
}
