import Foundation
import Simulator
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `SpawnedProcess`: what the child gets (streams, environment, no other descriptor, default signals) and how
/// its end is reported.
@Suite struct SpawnedProcessTests {
    @Test func exitCodeOutputAndEnvironment() async throws {
        let process = try SpawnedProcess(
            executable: "/bin/sh", arguments: ["-c", "echo \"out $SPAWN_TEST\"; echo err >&2; exit 3"],
            environment: ["SPAWN_TEST": "value", "PATH": "/usr/bin:/bin"], standardOutput: .pipe, standardError: .pipe)
        #expect(await process.terminated() == .exited(3))
        #expect(process.waitUntilExit().code == 3)
        #expect(!process.isRunning)
        #expect(String(decoding: try #require(process.output).readDataToEndOfFile(), as: UTF8.self) == "out value\n")
        #expect(String(decoding: try #require(process.errors).readDataToEndOfFile(), as: UTF8.self) == "err\n")
    }

    @Test func outputToAFileCreatedPrivate() async throws {
        let path = NSTemporaryDirectory() + "spawned-\(UUID().uuidString).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = try SpawnedProcess(executable: "/bin/sh", arguments: ["-c", "echo written"], standardOutput: .file(path))
        #expect(await process.terminated() == .exited(0))
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "written\n")
        let mode = try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
        #expect(mode & 0o077 == 0)
    }

    /// A descriptor of this process without CLOEXEC (as libcurl's sockets may be) does not reach the child.
    @Test func noDescriptorButTheStandardOnesReachesTheChild() async throws {
        let inheritable = fcntl(STDERR_FILENO, F_DUPFD, 200)
        try #require(inheritable >= 200)
        defer { close(inheritable) }
        let process = try SpawnedProcess(executable: "/bin/sh", arguments: ["-c", "test -e /proc/self/fd/\(inheritable) && exit 1; exit 0"])
        #expect(await process.terminated() == .exited(0))
    }

    @Test func aSignalIsReportedAsSuch() async throws {
        let process = try SpawnedProcess(executable: "/bin/sleep", arguments: ["30"])
        #expect(process.isRunning)
        process.send(SIGKILL)
        #expect(await process.terminated() == .signaled(SIGKILL))
        #expect(process.waitUntilExit().code == 128 + SIGKILL)
        process.send(SIGKILL)  // after the end: nothing to signal, no error
    }

    /// SIGTERM works in the child even if this process ignores it (the child starts at every default).
    @Test func theChildStartsWithDefaultSignals() async throws {
        let previous = signal(SIGTERM, SIG_IGN)
        defer { signal(SIGTERM, previous) }
        let process = try SpawnedProcess(executable: "/bin/sleep", arguments: ["30"])
        process.send(SIGTERM)
        #expect(await process.terminated() == .signaled(SIGTERM))
    }

    @Test func aMissingExecutableIsAnErrorNamingIt() {
        #expect(throws: SpawnError.cannotStart("/nonexistent/tool", reason: "No such file or directory")) {
            _ = try SpawnedProcess(executable: "/nonexistent/tool", arguments: [])
        }
    }
}
