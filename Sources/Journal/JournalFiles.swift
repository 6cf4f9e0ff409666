import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// File-system side of the journal: creation with mode 0600, tightening of the modes of the journal
/// and its `-wal`/`-shm` files, and the writer lock (DESIGN.md §6: the journal holds API key secrets).
enum JournalFiles {
    /// The mode of every journal file: read and write for the owner only.
    static let privateMode: mode_t = 0o600

    /// The files SQLite keeps beside the journal in WAL mode.
    static func companions(of path: String) -> [String] { [path + "-wal", path + "-shm"] }

    /// True if something exists at `path` (a dangling symbolic link counts).
    static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Creates an empty journal file with mode 0600 so SQLite never creates it with the umask's mode.
    /// Returns false if the file already existed.
    static func createPrivateFile(_ path: String) throws -> Bool {
        let descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, privateMode)
        if descriptor < 0 {
            let code = errno
            if code == EEXIST { return false }
            throw JournalError.openFailed(path: path, reason: "cannot create the file: \(describe(errno: code))")
        }
        defer { close(descriptor) }
        // The umask may have removed bits from the requested mode; set it exactly.
        if fchmod(descriptor, privateMode) != 0 {
            throw JournalError.openFailed(path: path, reason: "cannot set mode 0600: \(describe(errno: errno))")
        }
        return true
    }

    /// Sets mode 0600 on `path` if it exists with another mode; returns the previous mode when it
    /// changed it. A missing file is fine (SQLite creates `-wal`/`-shm` lazily).
    static func restrictMode(of path: String) throws -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            let code = errno
            if code == ENOENT { return nil }
            throw JournalError.openFailed(path: path, reason: "cannot read its mode: \(describe(errno: code))")
        }
        let mode = info.st_mode & 0o777
        guard mode != privateMode else { return nil }
        guard chmod(path, privateMode) == 0 else {
            throw JournalError.openFailed(path: path, reason: "cannot set mode 0600 (now \(octal(mode))): \(describe(errno: errno))")
        }
        return mode
    }

    /// The permission bits of `path`, nil if it does not exist.
    static func mode(of path: String) -> mode_t? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o777
    }

    /// `0644`.
    static func octal(_ mode: mode_t) -> String { "0" + String(mode, radix: 8) }

    static func describe(errno code: Int32) -> String {
        String(cString: strerror(code))
    }
}

/// An exclusive `flock` on `<journal>.lock`, held by the one process that writes the journal.
///
/// A lock file, not the journal itself: closing any descriptor of the journal would drop SQLite's own
/// POSIX locks on it. The kernel releases the lock when the process dies, so a killed run never
/// leaves the journal locked; the (empty, 0600) lock file stays.
final class JournalLock: Sendable {
    let path: String
    let descriptor: Int32

    private init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    /// How long a writer waits for another holder to let go before `acquire` throws `inUse`.
    static let writerPatience: Duration = .seconds(1)

    /// Takes the lock of the journal at `journalPath`, or throws `inUse` if another holder keeps it
    /// for longer than `patience`.
    static func acquire(journalPath: String, patience: Duration = writerPatience) throws -> JournalLock {
        let path = journalPath + ".lock"
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, JournalFiles.privateMode)
        guard descriptor >= 0 else {
            throw JournalError.openFailed(path: journalPath, reason: "cannot create its lock file \(path): \(JournalFiles.describe(errno: errno))")
        }
        // A holder that is just ending (or a child process between fork and exec, which briefly shares
        // every descriptor) lets go within moments: try again for `patience` before calling it in use.
        let deadline = ContinuousClock.now + patience
        while flock(descriptor, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK, ContinuousClock.now < deadline {
                usleep(20_000)
                continue
            }
            close(descriptor)
            if code == EWOULDBLOCK { throw JournalError.inUse(path: journalPath) }
            throw JournalError.openFailed(path: journalPath, reason: "cannot lock \(path): \(JournalFiles.describe(errno: code))")
        }
        _ = fchmod(descriptor, JournalFiles.privateMode)
        return JournalLock(path: path, descriptor: descriptor)
    }

    deinit {
        // Unlock explicitly: a copy of the descriptor in a child that has not yet exec'd would keep
        // the lock held past a plain close.
        _ = flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
