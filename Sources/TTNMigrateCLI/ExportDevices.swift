import ArgumentParser
import Foundation
import Plan
import V2Model

extension TTNMigrate {
    /// Writes the v3 devices as JSON lines for The Things Stack Console's import or `ttn-lw-cli`.
    struct ExportDevices: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export-devices",
            abstract: "Write the devices as v3 end devices, one JSON object per line, for The Things Stack Console's import or `ttn-lw-cli end-devices create`.",
            discussion: """
                For users who must import through the Console instead of `run`. Each line is one device as the plan \
                maps it (identifiers, name, frequency plan, LoRaWAN versions, MAC settings, root keys, a carried \
                session and its MAC state), in the format lorawan-stack-migrate writes. Server addresses are left \
                out: the importer fills in its own. The file holds device keys: it is created 0600 and replaced \
                atomically; nothing is printed from it. Nothing is written to v2 or v3.
                """)

        @OptionGroup var options: ConfigOptions
        @OptionGroup var input: SnapshotInputOptions

        @Option(name: .long, help: "The file to write (JSON lines).")
        var out: String

        func run() async throws {
            let configuration = try options.load()
            let estate = try await input.estate(configuration: configuration)
            let plan = try Planner.plan(snapshot: estate, options: try configuration.mappingOptions())
            let lines = try DeviceExport.lines(plan: plan, now: Date())
            try SecureFile.writeAtomically(Data(lines.map { $0 + "\n" }.joined().utf8), to: out)
            Console.current.err("wrote \(lines.count) device\(lines.count == 1 ? "" : "s") to \(out); "
                + "\(plan.skipped.filter { $0.entity.kind == .device }.count) left out (see `ttn-migrate plan`)")
        }
    }
}
