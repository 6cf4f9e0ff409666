import Foundation

/// What `ttn-migrate status` asks beyond the recorded data: whether a run writes the journal now.
extension JournalStore {
    /// True if another process (or another store in this process) holds the journal's writer lock
    /// right now: a `run` is in progress, so its steps in flight are being sent, not interrupted.
    ///
    /// Takes the lock for an instant and releases it at once; a store opened with `open` holds the
    /// lock itself, so it answers true.
    public nonisolated func isHeldByWriter() throws -> Bool {
        do {
            // The lock is released when the returned value is dropped, right here.
            _ = try JournalLock.acquire(journalPath: path, patience: .zero)
            return false
        } catch JournalError.inUse {
            return true
        }
    }
}
