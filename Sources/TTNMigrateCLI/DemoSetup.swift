import Foundation
import Yams

/// The example estate and configuration the demo migrates (`examples/v2-estate.json`, `examples/migrate.yml`).
struct DemoExamples: Equatable {
    /// The folder holding both files.
    let directory: String

    var estateFile: String { directory + "/" + Self.estateName }
    var configurationFile: String { directory + "/" + Self.configurationName }

    static let estateName = "v2-estate.json"
    static let configurationName = "migrate.yml"

    /// Finds the examples: `explicit` (`--examples`) when given; else `examples/` of the current directory;
    /// else `examples/` of the nearest folder above the executable that has one (the repository the binary
    /// was built in: `.build/debug/ttn-migrate` lives two or three levels below it).
    static func locate(explicit: String?, currentDirectory: String, executablePath: String?) throws -> DemoExamples {
        if let explicit {
            let directory = absolute(explicit, in: currentDirectory)
            let missing = [estateName, configurationName].filter { !FileManager.default.isReadableFile(atPath: directory + "/" + $0) }
            guard missing.isEmpty else {
                throw DemoError.examplesIncomplete(directory: explicit, missing: missing)
            }
            return DemoExamples(directory: directory)
        }
        var candidates = [absolute("examples", in: currentDirectory)]
        if let executablePath {
            var folder = URL(fileURLWithPath: executablePath).resolvingSymlinksInPath().deletingLastPathComponent()
            while folder.path != "/" && !folder.path.isEmpty {
                candidates.append(folder.appendingPathComponent("examples").path)
                folder = folder.deletingLastPathComponent()
            }
        }
        for candidate in candidates where isComplete(candidate) {
            return DemoExamples(directory: candidate)
        }
        throw DemoError.examplesNotFound(searched: candidates)
    }

    private static func isComplete(_ directory: String) -> Bool {
        FileManager.default.isReadableFile(atPath: directory + "/" + estateName)
            && FileManager.default.isReadableFile(atPath: directory + "/" + configurationName)
    }

    static func absolute(_ path: String, in directory: String) -> String {
        path.hasPrefix("/") ? path : URL(fileURLWithPath: directory).appendingPathComponent(path).standardizedFileURL.path
    }
}

/// The demo's output folder and the files it writes there.
struct DemoDirectory {
    /// Absolute path of the folder.
    let path: String
    /// The folder as the user named it, for messages.
    let displayPath: String

    /// The demo's files under one folder spelling (absolute, or as the user gave it).
    struct Paths {
        let configuration: String
        let v2Token: String
        let v3APIKey: String
        let snapshot: String
        let planText: String
        let planJSON: String
        let journal: String
        let diffMarkdown: String
        let diffHTML: String

        init(_ file: (String) -> String) {
            configuration = file("migrate.yml")
            v2Token = file("v2-token")
            v3APIKey = file("v3-api-key")
            snapshot = file("v2-snapshot.json")
            planText = file("plan.txt")
            planJSON = file("plan.json")
            journal = file("journal.sqlite")
            diffMarkdown = file("diff.md")
            diffHTML = file("diff.html")
        }
    }

    /// Absolute paths: what the written configuration holds, so it works from any directory.
    var absolute: Paths { Paths(file) }
    /// Paths under --out as given: what the demo passes to the commands and prints.
    var paths: Paths { Paths(display) }

    /// Every file a demo writes (the journal's companions included). A new demo replaces these and
    /// nothing else: the previous demo's journal is bound to simulators that no longer run.
    static let ownedNames = [
        "migrate.yml", "v2-token", "v3-api-key", "v2-snapshot.json", "plan.txt", "plan.json",
        "journal.sqlite", "journal.sqlite-wal", "journal.sqlite-shm", "journal.sqlite.lock", "journal.sqlite.v2-snapshot.json",
        "diff.md", "diff.html",
    ]

    func file(_ name: String) -> String { path + "/" + name }

    /// `displayPath` joined with `name`, for messages.
    func display(_ name: String) -> String {
        (displayPath.hasSuffix("/") ? displayPath : displayPath + "/") + name
    }

    /// Creates the folder (0700) if needed and removes the files of an earlier demo; returns the names removed.
    static func prepare(_ given: String, currentDirectory: String) throws -> (DemoDirectory, removed: [String]) {
        let path = DemoExamples.absolute(given, in: currentDirectory)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw DemoError.outputNotADirectory(path: given) }
        } else {
            do {
                try FileManager.default.createDirectory(
                    atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw DemoError.outputUnwritable(path: given, reason: error.localizedDescription)
            }
        }
        guard FileManager.default.isWritableFile(atPath: path) else {
            throw DemoError.outputUnwritable(path: given, reason: "permission denied")
        }
        var removed: [String] = []
        for name in ownedNames where FileManager.default.fileExists(atPath: path + "/" + name) {
            do {
                try FileManager.default.removeItem(atPath: path + "/" + name)
            } catch {
                throw DemoError.outputUnwritable(path: given, reason: "cannot replace \(name) of an earlier demo: \(error.localizedDescription)")
            }
            removed.append(name)
        }
        return (DemoDirectory(path: path, displayPath: given), removed)
    }
}

/// Rewrites `examples/migrate.yml` for the running simulators: every source URL points at the v2
/// simulator and every target URL at the v3 simulator (path kept, scheme, host and port replaced); the
/// token and the API key are read from files (`token_file`, `api_key_file`), never from the command line;
/// the journal goes to the demo folder. Everything else (users, renames, plans, includes) is kept.
enum DemoConfiguration {
    static func rewrite(
        _ text: String, path: String, v2BaseURL: String, v3BaseURL: String, tokenFile: String, apiKeyFile: String, journal: String
    ) throws -> String {
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw DemoError.exampleConfiguration(path: path, reason: "not valid YAML: \(error)")
        }
        guard case .mapping(var top)? = root else {
            throw DemoError.exampleConfiguration(path: path, reason: "the top level must be a mapping")
        }
        guard case .mapping(var source)? = top["source"] else {
            throw DemoError.exampleConfiguration(path: path, reason: "it has no `source:` section")
        }
        guard case .mapping(var target)? = top["target"] else {
            throw DemoError.exampleConfiguration(path: path, reason: "it has no `target:` section")
        }

        if let url = source["account_server"]?.string {
            source["account_server"] = Node(try rebase(url, onto: v2BaseURL, path: path))
        }
        if case .sequence(let handlers)? = source["handlers"] {
            let rebased = try handlers.map { node -> Node in
                guard let url = node.string else {
                    throw DemoError.exampleConfiguration(path: path, reason: "`source.handlers` must list URLs")
                }
                return Node(try rebase(url, onto: v2BaseURL, path: path))
            }
            source["handlers"] = Node.sequence(Node.Sequence(rebased))
        }
        source["token_env"] = nil
        source["token_file"] = Node(tokenFile)

        for key in ["url", "identity_server", "join_server", "network_server", "application_server"] {
            if let url = target[key]?.string {
                target[key] = Node(try rebase(url, onto: v3BaseURL, path: path))
            }
        }
        if target["url"] == nil, target["identity_server"] == nil {
            target["url"] = Node(v3BaseURL)
        }
        target["api_key_env"] = nil
        target["api_key_file"] = Node(apiKeyFile)

        top["source"] = .mapping(source)
        top["target"] = .mapping(target)
        top["journal"] = Node(journal)
        let body: String
        do {
            body = try Yams.serialize(node: .mapping(top))
        } catch {
            throw DemoError.exampleConfiguration(path: path, reason: "cannot write it back: \(error)")
        }
        return """
            # Written by `ttn-migrate demo` from \(path) for simulators that run only while the demo runs:
            # URLs replaced by the simulators' (127.0.0.1, ports chosen by the OS), the token and the API key read
            # from the 0600 files beside this one. Plan from the saved snapshot offline with
            #   ttn-migrate plan --config <this file> --snapshot <v2-snapshot.json beside it>

            """ + body
    }

    /// `url` with the scheme, host and port of `base`; its path and query kept.
    static func rebase(_ url: String, onto base: String, path: String) throws -> String {
        guard var components = URLComponents(string: url), components.host != nil,
              let baseComponents = URLComponents(string: base) else {
            throw DemoError.exampleConfiguration(path: path, reason: "\(url) is not an absolute URL")
        }
        components.scheme = baseComponents.scheme
        components.host = baseComponents.host
        components.port = baseComponents.port
        guard let rebased = components.string else {
            throw DemoError.exampleConfiguration(path: path, reason: "cannot point \(url) at \(base)")
        }
        return rebased
    }
}

/// Why the demo could not start or finish its setup. Exit code 2.
enum DemoError: Error, CustomStringConvertible, Equatable {
    case examplesNotFound(searched: [String])
    case examplesIncomplete(directory: String, missing: [String])
    case exampleConfiguration(path: String, reason: String)
    case outputNotADirectory(path: String)
    case outputUnwritable(path: String, reason: String)
    case simulatorsFailed(reason: String)

    var description: String {
        switch self {
        case .examplesNotFound(let searched):
            return "cannot find the example estate (examples/\(DemoExamples.estateName) and examples/\(DemoExamples.configurationName)); looked in "
                + searched.joined(separator: ", ") + ". Run the demo from the ttn-migrate repository, or pass --examples DIR"
        case .examplesIncomplete(let directory, let missing):
            return "--examples \(directory) lacks \(missing.joined(separator: " and ")); give the folder that holds "
                + "\(DemoExamples.estateName) and \(DemoExamples.configurationName) (the repository's examples/)"
        case .exampleConfiguration(let path, let reason):
            return "the example configuration \(path) cannot be used for the demo: \(reason); restore it from the repository"
        case .outputNotADirectory(let path):
            return "--out \(path) exists and is not a folder; choose another --out"
        case .outputUnwritable(let path, let reason):
            return "cannot write the demo's files to \(path) (\(reason)); choose a writable --out"
        case .simulatorsFailed(let reason):
            return "the simulators did not start: \(reason)"
        }
    }
}
