import CSpawn
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process started with `posix_spawn`, with no descriptor of this process but its standard ones.
///
/// Used instead of Foundation's `Process` wherever a process with many open descriptors starts another:
/// on Linux `Process.run()` lists `/proc/self/fd` copying 256 bytes per entry and crashes once a process
/// holds more than about 1,350 descriptors (swift-corelibs-foundation#5472), as a test process with
/// dozens of simulators and their connections does.
public final class SpawnedProcess: @unchecked Sendable {
    /// Where one of the child's output streams goes.
    public enum Destination: Sendable {
        /// `/dev/null`.
        case discard
        /// A file, created (or truncated) with mode 0600.
        case file(String)
        /// A pipe whose read end is `output` or `errors`.
        case pipe
    }

    /// How the child ended.
    public enum Termination: Sendable, Equatable {
        case exited(Int32)
        case signaled(Int32)

        /// The exit code, or 128 + the signal as a shell reports it.
        public var code: Int32 {
            switch self {
            case .exited(let code): return code
            case .signaled(let signal): return 128 + signal
            }
        }
    }

    public let processIdentifier: pid_t
    /// The read end of the child's stdout, when it goes to a pipe.
    public let output: FileHandle?
    /// The read end of the child's stderr, when it goes to a pipe.
    public let errors: FileHandle?

    private let ended = NSCondition()
    private var termination: Termination?
    private var waiters: [CheckedContinuation<Termination, Never>] = []

    /// Starts `executable` with `arguments`, stdin from `/dev/null`. Throws `SpawnError` naming the executable.
    public init(
        executable: String, arguments: [String], environment: [String: String] = ProcessInfo.processInfo.environment,
        standardOutput: Destination = .discard, standardError: Destination = .discard
    ) throws {
        var childEnds: [Int32] = []
        defer { for descriptor in childEnds { close(descriptor) } }
        func descriptors(for destination: Destination) throws -> (child: Int32, parent: FileHandle?) {
            switch destination {
            case .discard:
                let descriptor = open("/dev/null", O_WRONLY | O_CLOEXEC)
                guard descriptor >= 0 else { throw SpawnError.cannotStart(executable, reason: "/dev/null: \(Self.describe(errno))") }
                childEnds.append(descriptor)
                return (descriptor, nil)
            case .file(let path):
                let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                guard descriptor >= 0 else { throw SpawnError.cannotStart(executable, reason: "\(path): \(Self.describe(errno))") }
                childEnds.append(descriptor)
                return (descriptor, nil)
            case .pipe:
                var ends: [Int32] = [-1, -1]
                guard pipe(&ends) == 0 else { throw SpawnError.cannotStart(executable, reason: "pipe: \(Self.describe(errno))") }
                // The child keeps only its dup2'ed copies (every other descriptor is closed in it).
                _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
                childEnds.append(ends[1])
                return (ends[1], FileHandle(fileDescriptor: ends[0], closeOnDealloc: true))
            }
        }
        let input = open("/dev/null", O_RDONLY | O_CLOEXEC)
        guard input >= 0 else { throw SpawnError.cannotStart(executable, reason: "/dev/null: \(Self.describe(errno))") }
        childEnds.append(input)
        let stdout = try descriptors(for: standardOutput)
        let stderr = try descriptors(for: standardError)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let result = ttnm_spawn(&pid, executable, argv, envp, input, stdout.child, stderr.child)
        guard result == 0 else { throw SpawnError.cannotStart(executable, reason: Self.describe(result)) }
        processIdentifier = pid
        output = stdout.parent
        errors = stderr.parent
        // One thread waits for the child, as Foundation's Process does, so no task of the pool blocks on it.
        let waiter = Thread { [self] in reap() }
        waiter.stackSize = 128 * 1024
        waiter.start()
    }

    /// Whether the child has not ended yet.
    public var isRunning: Bool { ended.withLock { termination == nil } }

    /// Sends `signal` to the child (nothing once it has been reaped).
    public func send(_ signal: Int32) {
        ended.withLock {
            if termination == nil { _ = kill(processIdentifier, signal) }
        }
    }

    /// Blocks the calling thread until the child ends.
    public func waitUntilExit() -> Termination {
        ended.lock()
        defer { ended.unlock() }
        while termination == nil { ended.wait() }
        return termination!
    }

    /// Waits, without blocking a thread, until the child ends.
    public func terminated() async -> Termination {
        await withCheckedContinuation { continuation in
            ended.lock()
            if let termination {
                ended.unlock()
                continuation.resume(returning: termination)
            } else {
                waiters.append(continuation)
                ended.unlock()
            }
        }
    }

    private func reap() {
        var status: Int32 = 0
        while waitpid(processIdentifier, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS / WTERMSIG, which Swift does not import as functions.
        let ending: Termination = status & 0x7f == 0 ? .exited((status >> 8) & 0xff) : .signaled(status & 0x7f)
        ended.lock()
        termination = ending
        let resumed = waiters
        waiters.removeAll()
        ended.broadcast()
        ended.unlock()
        for waiter in resumed { waiter.resume(returning: ending) }
    }

    static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }
}

/// A child process that could not be started.
public enum SpawnError: Error, CustomStringConvertible, Equatable {
    case cannotStart(String, reason: String)

    public var description: String {
        switch self {
        case .cannotStart(let executable, let reason): return "cannot start \(executable): \(reason)"
        }
    }
}
