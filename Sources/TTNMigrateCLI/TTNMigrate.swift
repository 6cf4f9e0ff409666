import ArgumentParser
import Diagnostics
import Foundation
import Logging

/// The `ttn-migrate` command: moves a The Things Network v2 estate to The Things Stack v3.
public struct TTNMigrate: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ttn-migrate",
        abstract: "Move applications, collaborators, access keys, gateways and devices from The Things Network v2 to The Things Stack v3.",
        discussion: """
            Exit codes: 0 ok, 1 differences or failed steps, 2 usage or input error, 130 interrupted.
            Secrets (v2 token, v3 API key) are read from the environment or files named in the configuration.
            """,
        version: "ttn-migrate \(ToolInfo.version)",
        subcommands: [Snapshot.self, Plan.self, Run.self, Status.self, Keys.self, Diff.self, Cutover.self, ExportMap.self, ExportDevices.self, Rollback.self, Demo.self, Simulate.self, Bench.self]
    )

    public init() {}
}

/// Facts about this build.
public enum ToolInfo {
    public static let version = "0.1.0"
}

/// Runs the command line and returns the process exit code; used by `main` and by tests.
public enum CommandLineRunner {
    /// Parses `arguments` (without the program name), runs the command and maps errors to exit codes:
    /// usage and input errors 2 (ArgumentParser's 64 included), `ExitCode` as thrown.
    public static func run(_ arguments: [String]) async -> Int32 {
        _ = loggingBootstrap
        let command: any ParsableCommand
        do {
            command = try TTNMigrate.parseAsRoot(arguments)
        } catch {
            return report(argumentParserError: error)
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var syncCommand = command
                try syncCommand.run()
            }
            return 0
        } catch let exit as ExitCode {
            return exit.rawValue
        } catch where String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
            return report(argumentParserError: error)
        } catch {
            Console.current.err("error: " + BoundedText.bounded(String(describing: error)))
            return 2
        }
    }

    /// Diagnostics (retries, unreadable lists) go to stderr at the level named by `TTN_MIGRATE_LOG`
    /// (trace, debug, info, notice, warning, error; default warning). They never contain a secret.
    static let loggingBootstrap: Void = {
        let level = ProcessInfo.processInfo.environment["TTN_MIGRATE_LOG"].flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }()

    /// Help and version go to stdout with 0; usage errors to stderr with 2 (DESIGN.md §1 exit codes).
    private static func report(argumentParserError error: any Error) -> Int32 {
        let message = TTNMigrate.fullMessage(for: error)
        if TTNMigrate.exitCode(for: error) == .success {
            Console.current.out(message)
            return 0
        }
        Console.current.err(message)
        return 2
    }
}

/// Where commands print; tests swap it for a capturing one.
public struct Console: Sendable {
    public let out: @Sendable (String) -> Void
    public let err: @Sendable (String) -> Void
    /// Whether `out` is a terminal (a live progress bar is drawn only there).
    public let isTerminal: Bool

    public init(out: @escaping @Sendable (String) -> Void, err: @escaping @Sendable (String) -> Void, isTerminal: Bool = false) {
        self.out = out
        self.err = err
        self.isTerminal = isTerminal
    }

    /// Standard output and standard error, flushed per line.
    public static let standard = Console(
        out: { line in
            FileHandle.standardOutput.write(Data((line + "\n").utf8))
        },
        err: { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        },
        isTerminal: isatty(STDOUT_FILENO) == 1)

    @TaskLocal public static var current: Console = .standard
}
