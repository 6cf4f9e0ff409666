import ArgumentParser
import Foundation
import Journal

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension TTNMigrate {
    /// Exports the secrets of the v3 API keys the migration created to a private file.
    struct Keys: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the secrets of the v3 API keys this migration created, with the v2 key each replaces, to a 0600 file.",
            discussion: """
                v3 shows an API key's secret only once; the journal keeps it. The file is created with mode 0600 and
                written atomically; an existing file is never replaced unless --force is given. Secrets are never printed.
                Formats (documented in README.md): json (format ttn-migrate/api-keys, version 1) or csv.
                """)

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case json, csv
        }

        @Option(name: .long, help: "The journal written by `ttn-migrate run`.")
        var journal: String

        @Option(name: .long, help: "The file to create (mode 0600). It holds secrets: keep it safe.")
        var out: String

        @Option(name: .long, help: "json or csv.")
        var format: Format = .json

        @Flag(name: .long, help: "Replace --out if it exists.")
        var force = false

        func run() async throws {
            let console = Console.current
            try KeyExport.checkDestination(out, journal: journal, replace: force)
            let store = try JournalStore.openForReading(at: journal)
            let keys: [APIKeyRecord]
            let steps: [StepRecord]
            do {
                for warning in store.warnings { console.err("warning: \(warning)") }
                keys = try await store.apiKeys()
                steps = try await store.steps()
            } catch {
                try? await store.close()
                throw error
            }
            try? await store.close()

            let export = KeyExport(journalPath: journal, target: store.target, migrationTag: store.migrationTag, keys: keys)
            let data: Data
            switch format {
            case .json: data = Data(export.json().utf8)
            case .csv: data = Data(export.csv().utf8)
            }
            try KeyExport.write(data, to: out, replace: force)
            console.out("wrote \(keys.count) API key\(keys.count == 1 ? "" : "s") to \(out) (\(format.rawValue), mode 0600)")
            for line in KeyExport.notes(keys: keys, steps: steps, journal: journal) { console.err(line) }
        }
    }
}

/// The API keys of one journal as an export file, and the safe way to write it.
///
/// JSON document `ttn-migrate/api-keys` version 1 (keys in this order):
///
/// ```
/// {
///   "format": "ttn-migrate/api-keys", "version": 1,
///   "journal": "<path>", "migration_tag": "<tag>",
///   "target": {"identity_server", "owner_kind", "owner_id"},
///   "api_keys": [{"entity_type": "application", "entity_id", "key_name", "key_id", "rights": [right],
///                 "replaces_v2_key", "secret": "NNSXS.…", "created_at", "step_id", "run"}]
/// }
/// ```
/// CSV: a header line `entity_type,entity_id,key_name,key_id,rights,replaces_v2_key,secret,created_at,step_id`,
/// then one line per key; rights separated by spaces; fields quoted as RFC 4180 says; LF line ends. Keys
/// are in the order they were created. Key names come from v2 and are written as they are (a spreadsheet
/// may read a name starting with `=` as a formula).
struct KeyExport {
    /// The JSON format name.
    static let formatName = "ttn-migrate/api-keys"
    /// The JSON format version.
    static let formatVersion = 1

    let journalPath: String
    let target: JournalTarget
    let migrationTag: String
    let keys: [APIKeyRecord]

    /// The JSON document, ending with a newline.
    func json() -> String {
        let entries: [OrderedJSON] = keys.map { record in
            let key = record.key
            return .object([
                ("entity_type", .string(key.entityType)),
                ("entity_id", .string(key.entityID)),
                ("key_name", .string(key.keyName)),
                ("key_id", .string(key.keyID)),
                ("rights", .array(key.rights.map(OrderedJSON.string))),
                ("replaces_v2_key", .string(key.replacesV2KeyName)),
                ("secret", .string(key.secret)),
                ("created_at", .string(StatusTime.precise(record.createdAt))),
                ("step_id", .string(record.stepID)),
                ("run", .integer(Int(record.runID))),
            ])
        }
        let document: OrderedJSON = .object([
            ("format", .string(Self.formatName)),
            ("version", .integer(Self.formatVersion)),
            ("journal", .string(journalPath)),
            ("migration_tag", .string(migrationTag)),
            ("target", .object([
                ("identity_server", .string(target.identityServerURL)),
                ("owner_kind", .string(target.ownerKind.rawValue)),
                ("owner_id", .string(target.ownerID)),
            ])),
            ("api_keys", .array(entries)),
        ])
        return document.rendered() + "\n"
    }

    /// The CSV text described in the type's summary.
    func csv() -> String {
        var lines = ["entity_type,entity_id,key_name,key_id,rights,replaces_v2_key,secret,created_at,step_id"]
        for record in keys {
            let key = record.key
            lines.append([
                key.entityType, key.entityID, key.keyName, key.keyID, key.rights.joined(separator: " "), key.replacesV2KeyName,
                key.secret, StatusTime.precise(record.createdAt), record.stepID,
            ].map(Self.csvField).joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A CSV field, quoted when it holds a comma, quote, line break or edge space (RFC 4180).
    static func csvField(_ text: String) -> String {
        let needsQuotes = text.contains { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }
            || text.hasPrefix(" ") || text.hasSuffix(" ")
        return needsQuotes ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text
    }

    /// What the user should know beside the file: API key steps not done (their keys are not in it) and
    /// done ones whose secret the journal lacks. Names steps, never secrets.
    static func notes(keys: [APIKeyRecord], steps: [StepRecord], journal: String) -> [String] {
        let keySteps = steps.filter { $0.entityType.hasSuffix("api-key") }
        let exported = Set(keys.map(\.stepID))
        var lines: [String] = []
        let notDone = keySteps.filter { $0.state != .done }
        if !notDone.isEmpty {
            lines.append("note: \(notDone.count) API key step\(notDone.count == 1 ? " is" : "s are") not done, so \(notDone.count == 1 ? "its key is" : "their keys are") not in the file: "
                + notDone.map { "\($0.id) (\($0.state.rawValue))" }.joined(separator: ", ")
                + "; see `ttn-migrate status --journal \(ShellQuoting.quote(journal))`, resume the run, then export again")
        }
        let withoutSecret = keySteps.filter { $0.state == .done && !exported.contains($0.id) }
        if !withoutSecret.isEmpty {
            lines.append("warning: the journal holds no secret for \(withoutSecret.count) done API key step\(withoutSecret.count == 1 ? "" : "s"): "
                + withoutSecret.map(\.id).joined(separator: ", ")
                + "; v3 shows a secret only once: create a new key for \(withoutSecret.count == 1 ? "it" : "each") in v3")
        }
        return lines
    }

    // MARK: Writing

    /// Refuses, before anything is read, a destination that cannot be used: an existing file without
    /// `replace`, a directory, a missing directory, or one of the journal's own files.
    static func checkDestination(_ path: String, journal: String, replace: Bool) throws {
        let target = resolved(path)
        let journalFiles = ["", "-wal", "-shm", ".lock", ".v2-snapshot.json"].map { resolved(journal + $0) }
        if journalFiles.contains(target) {
            throw KeyExportError.journalFile(path: path)
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw KeyExportError.unwritable(path: path, reason: "it is a directory")
        }
        var info = stat()
        if lstat(path, &info) == 0, !replace {
            throw KeyExportError.exists(path: path)
        }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw KeyExportError.unwritable(path: path, reason: "directory \(directory) does not exist")
        }
    }

    private static func resolved(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.resolvingSymlinksInPath().path
    }

    /// Writes `data` to a new 0600 file beside `path`, fsyncs it, then moves it to `path` in one step:
    /// with `replace` by `rename` (an existing file is replaced whole), otherwise by `link`, which fails
    /// if `path` exists, so a file created meanwhile is never overwritten. Nothing is left behind on failure.
    static func write(_ data: Data, to path: String, replace: Bool) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        let temporary = directory + "/." + url.lastPathComponent + ".tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw KeyExportError.unwritable(path: path, reason: errorText(errno))
        }
        var failure: String?
        // The umask may have removed bits; a narrower mode is fine, but set exactly 0600.
        if fchmod(descriptor, 0o600) != 0 { failure = errorText(errno) }
        if failure == nil { failure = writeAll(data, to: descriptor) }
        if failure == nil, fsync(descriptor) != 0 { failure = errorText(errno) }
        close(descriptor)
        if let failure {
            unlink(temporary)
            throw KeyExportError.unwritable(path: path, reason: failure)
        }
        defer { unlink(temporary) }
        if replace {
            if rename(temporary, path) != 0 { throw KeyExportError.unwritable(path: path, reason: errorText(errno)) }
        } else if link(temporary, path) != 0 {
            let code = errno
            if code == EEXIST { throw KeyExportError.exists(path: path) }
            // A file system without hard links: check, then rename (atomic content, a tiny race on existence).
            guard code == EPERM || code == ENOTSUP || code == EOPNOTSUPP || code == EMLINK else {
                throw KeyExportError.unwritable(path: path, reason: errorText(code))
            }
            var info = stat()
            if lstat(path, &info) == 0 { throw KeyExportError.exists(path: path) }
            if rename(temporary, path) != 0 { throw KeyExportError.unwritable(path: path, reason: errorText(errno)) }
        }
        // Make the new directory entry durable too (best effort).
        let directoryDescriptor = open(directory, O_RDONLY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    private static func writeAll(_ data: Data, to descriptor: Int32) -> String? {
        data.withUnsafeBytes { buffer -> String? in
            var offset = 0
            while offset < buffer.count {
                let written = Foundation.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    return errorText(errno)
                }
                offset += written
            }
            return nil
        }
    }

    private static func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
}

/// Why `ttn-migrate keys` wrote nothing. Exit code 2; never holds a secret.
enum KeyExportError: Error, CustomStringConvertible, Equatable {
    case exists(path: String)
    case unwritable(path: String, reason: String)
    case journalFile(path: String)

    var description: String {
        switch self {
        case .exists(let path):
            return "\(path) exists; nothing was written: pass --force to replace it, or choose another --out"
        case .unwritable(let path, let reason):
            return "cannot write \(path): \(reason); choose a writable --out path; nothing was written"
        case .journalFile(let path):
            return "--out \(path) is the journal or one of its files; choose another path; nothing was written"
        }
    }
}
