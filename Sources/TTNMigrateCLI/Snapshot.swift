import ArgumentParser
import Foundation
import V2Model

extension TTNMigrate {
    /// Saves the whole v2 estate to one file.
    struct Snapshot: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Save the whole v2 estate (applications with deleted ones, gateways, devices, payload formats) to one file.",
            discussion: "The file holds access keys and device keys: it is created 0600 and replaced atomically.")

        @OptionGroup var options: ConfigOptions

        @Option(name: .long, help: "Where to write the snapshot (JSON).")
        var out: String

        func run() async throws {
            let configuration = try options.load()
            try Self.checkWritable(out)
            let started = ContinuousClock.now
            let snapshot = try await V2Source(configuration: configuration).read()
            try SnapshotFile.write(snapshot, to: out)
            let elapsed = ContinuousClock.now - started
            let console = Console.current
            let devices = snapshot.applications.reduce(0) { $0 + $1.handler.devices.count }
            let deleted = snapshot.applications.filter { $0.application.isDeleted }.count
            console.out("wrote \(out): \(snapshot.applications.count) applications (\(deleted) deleted), \(snapshot.gateways.count) gateways, \(devices) devices in \(elapsed.formatted(.units(allowed: [.seconds, .milliseconds], width: .narrow)))")
            for record in snapshot.applications where record.handler.status == .notFound || record.handler.status == .unreadable {
                let why = record.handler.status == .notFound ? "no configured handler knows it" : (record.handler.reason ?? "unreadable")
                console.err("warning: application \(record.application.id): devices not read: \(why)")
            }
        }

        /// Fails before any network work when the output cannot be created.
        static func checkWritable(_ path: String) throws {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw SnapshotFileError.unwritable(path: path, reason: "directory \(directory) does not exist")
            }
            guard FileManager.default.isWritableFile(atPath: directory) else {
                throw SnapshotFileError.unwritable(path: path, reason: "directory \(directory) is not writable")
            }
        }
    }
}
