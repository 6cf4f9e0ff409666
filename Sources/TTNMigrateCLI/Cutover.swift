import ArgumentParser
import Cutover
import Executor
import Foundation
import HTTP
import Journal
import Plan
import Report
import V2Client
import V2Model
import V3Client

extension TTNMigrate {
    /// Switches migrated devices to v3 only: raises the v3 frame counters, then clears v2's keys.
    struct Cutover: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Switch migrated devices to v3 only: raise the v3 frame counters to v2's, then clear the v2 AppKey and session. Without --force: a dry run.",
            discussion: """
                Only devices whose every migration step is done in the journal are switched. For each: its final frame \
                counters are read from its v2 handler; the v3 session counters (Network Server uplink and downlink, \
                Application Server downlink) are raised to at least those plus --fcnt-margin; then v2's AppKey, DevAddr, \
                NwkSKey and AppSKey are cleared (SetDevice, which read-only v2 still allows), so the device rejoins or \
                continues on v3 only. A device whose v3 write fails keeps its v2 keys. Each device's progress is journaled, \
                so a stopped cut-over continues where it stopped when run again. The dry run sends nothing and writes \
                nothing. Gateways are not changed in v2: the cut-over prints how to point each one at v3.
                Exit codes: 0 every selected device switched, 1 some failed or are not fully migrated, 2 usage or input \
                error, 130 interrupted.
                """)

        @OptionGroup var options: ConfigOptions

        @Option(name: .long, help: "The journal written by `ttn-migrate run`.")
        var journal: String

        @Option(name: .long, help: ArgumentHelp("Only these devices (v2 or v3 IDs application/device), comma-separated or @FILE.", valueName: "list"))
        var devices: String?

        @Option(name: .long, help: ArgumentHelp("Only these gateways' instructions (v2 or v3 IDs), comma-separated or @FILE.", valueName: "list"))
        var gateways: String?

        @Option(name: .customLong("fcnt-margin"), help: "Added to the v2 frame counters written to v3, for frames v2 sends or receives during the cut-over (default 0).")
        var frameCounterMargin: UInt32 = 0

        @Flag(name: .long, help: "Switch. Without it nothing is sent and nothing is written: the cut-over is only listed.")
        var force = false

        func validate() throws {
            _ = try IDList.parse(devices, option: "--devices")
            _ = try IDList.parse(gateways, option: "--gateways")
        }

        func run() async throws {
            let configuration = try options.load()
            var settings = CutoverRunner.Settings(journalPath: journal)
            settings.devices = try IDList.parse(devices, option: "--devices")
            settings.gateways = try IDList.parse(gateways, option: "--gateways")
            settings.options.frameCounterMargin = frameCounterMargin
            settings.commandLine = commandLine(force: true)
            let runner = CutoverRunner(configuration: configuration, settings: settings)
            let console = Console.current
            let command = commandLine(force: true).map(ShellQuoting.quote).joined(separator: " ")
            guard force else {
                let preview = try await runner.preview()
                console.out(CutoverText.dryRun(preview, margin: frameCounterMargin, journal: journal, forceCommand: command))
                return
            }
            let stop = StopSignal()
            let trap = SignalTrap { _ in
                stop.stop()
                console.err("\nstopping: letting devices in flight finish (Ctrl-C again does not speed this up)")
            }
            defer { trap.cancel() }
            let outcome = try await runner.execute(stop: stop, events: CutoverText.printEvent)
            try CutoverText.report(outcome, journal: journal, command: command)
        }

        func commandLine(force: Bool) -> [String] {
            var parts = ["ttn-migrate", "cutover", "--config", options.config, "--journal", journal]
            for override in options.overrides { parts += ["--set", override] }
            if let devices { parts += ["--devices", devices] }
            if let gateways { parts += ["--gateways", gateways] }
            if frameCounterMargin > 0 { parts += ["--fcnt-margin", String(frameCounterMargin)] }
            if force { parts.append("--force") }
            return parts
        }
    }
}

/// Everything `cutover` does, as library calls so tests drive it without a process.
struct CutoverRunner {
    struct Settings {
        var journalPath: String
        var devices: [String]?
        var gateways: [String]?
        var options = CutoverOptions()
        var requestTimeout: Duration = .seconds(30)
        var commandLine: [String] = []
        var journalOptions = JournalOptions()
    }

    /// What the journal and the rebuilt plan say about the cut-over.
    struct Preview {
        var plan: CutoverPlan
        var target: JournalTarget
    }

    /// How a `--force` cut-over ended.
    struct Outcome {
        var plan: CutoverPlan
        var summary: CutoverSummary
    }

    let configuration: MigrationConfiguration
    let settings: Settings
    let environment: [String: String]

    init(configuration: MigrationConfiguration, settings: Settings, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.configuration = configuration
        self.settings = settings
        self.environment = environment
    }

    var context: JournalPlanContext {
        JournalPlanContext(configuration: configuration, journalPath: settings.journalPath, command: "cutover")
    }

    /// The dry run: reads the journal without changing it.
    func preview() async throws -> Preview {
        try await context.reading(options: settings.journalOptions) { store in
            Preview(plan: try await cutoverPlan(store).1, target: store.target)
        }
    }

    /// Switches the ready devices and records each step.
    func execute(stop: StopSignal, events: @escaping @Sendable (CutoverEvent) -> Void) async throws -> Outcome {
        try await context.writing(options: settings.journalOptions) { store in
            try await execute(store: store, stop: stop, events: events)
        }
    }

    private func execute(store: JournalStore, stop: StopSignal, events: @escaping @Sendable (CutoverEvent) -> Void) async throws -> Outcome {
        let (estate, plan) = try await cutoverPlan(store)
        guard !plan.ready.isEmpty else { return Outcome(plan: plan, summary: CutoverSummary()) }
        let token = V2Secret(try configuration.source.token.resolve(what: "the v2 token", environment: environment))
        let apiKey = V3APIKeySecret(try configuration.target.apiKey.resolve(what: "the v3 API key", environment: environment))
        let v3 = V3Client(
            http: HTTPClient(configuration: HTTPClientConfiguration(
                requestTimeout: settings.requestTimeout, caFile: configuration.target.caFile, insecure: configuration.target.insecure)),
            endpoints: try configuration.endpoints(), apiKey: apiKey)
        let v2 = V2DeviceKeyClearer(
            http: HTTPClient(configuration: HTTPClientConfiguration(requestTimeout: settings.requestTimeout)), retry: settings.options.retry)
        let credentials = Self.credentials(estate: estate, token: token)
        let handlers = Self.handlerURLs(configured: configuration.source.handlers)
        try await store.startRun(RunInfo(toolVersion: ToolInfo.version, commandLine: settings.commandLine, snapshotPath: context.frozenSnapshotPath))
        let engine = CutoverEngine(
            v2: v2, v3: v3, store: store, options: settings.options,
            handlerURL: { device in handlers[device.handlerURL ?? ""] ?? device.handlerURL ?? "" },
            credentials: { device in credentials[device.v2ApplicationID] ?? [.bearer(token)] })
        let summary = try await engine.run(plan.ready, stop: stop, events: events)
        try await store.finishRun(outcome: summary.interrupted ? .interrupted : summary.failed.isEmpty ? .completed : .failed)
        return Outcome(plan: plan, summary: summary)
    }

    private func cutoverPlan(_ store: JournalStore) async throws -> (V2Snapshot, CutoverPlan) {
        let (estate, plan) = try context.rebuildPlan(store)
        let cutover = try CutoverPlan.build(
            plan: plan, snapshot: estate, steps: try await store.steps(), records: try await store.cutoverRecords(),
            devices: settings.devices, gateways: settings.gateways, gatewayServerAddress: try configuration.gatewayServerAddressForInstructions())
        return (estate, cutover)
    }


    /// Per v2 application: an access key with `devices` from the frozen estate, then the bearer token
    /// (DESIGN.md §4 "Handler access").
    static func credentials(estate: V2Snapshot, token: V2Secret) -> [String: [V2Credential]] {
        var result: [String: [V2Credential]] = [:]
        for record in estate.applications {
            var list: [V2Credential] = []
            if let key = record.application.accessKeys?.first(where: { $0.rights.contains("devices") }) { list.append(.accessKey(key.key)) }
            list.append(.bearer(token))
            result[record.application.id] = list
        }
        return result
    }

    /// The configured handler URL for each display URL the snapshot records (credentials in a URL are not kept there).
    static func handlerURLs(configured: [String]) -> [String: String] {
        var result: [String: String] = [:]
        for url in configured {
            var trimmed = url
            while trimmed.hasSuffix("/") { trimmed.removeLast() }
            let shown = HTTPClient.displayURL(trimmed)
            if result[shown] == nil { result[shown] = trimmed }
        }
        return result
    }
}

/// The texts `cutover` prints.
enum CutoverText {
    static func dryRun(_ preview: CutoverRunner.Preview, margin: UInt32, journal: String, forceCommand: String) -> String {
        let plan = preview.plan
        var lines = [
            "Cut-over of journal \(journal): dry run, nothing is sent and nothing is written.",
            "Target: \(preview.target).",
        ]
        if plan.ready.isEmpty {
            lines.append("No device to switch.")
        } else {
            lines.append("\(RollbackText.plural(plan.ready.count, "device")) would be switched to v3 only: v3 frame counters raised to at least v2's"
                + (margin > 0 ? " + \(margin)" : "") + ", then the v2 AppKey and session cleared:")
            for device in plan.ready { lines.append("  - \(deviceName(device)) (v2 handler \(device.handlerURL ?? "?"))") }
        }
        lines += heldAndDone(plan)
        lines += gatewayInstructions(plan.gateways)
        if !plan.ready.isEmpty { lines.append("To switch: \(forceCommand)") }
        return lines.joined(separator: "\n")
    }

    static func deviceName(_ device: CutoverDevice) -> String {
        device.v2Path == device.v3Path ? "device \(device.v2Path)" : "device \(device.v2Path) (v3 \(device.v3Path))"
    }

    static func heldAndDone(_ plan: CutoverPlan) -> [String] {
        var lines: [String] = []
        if !plan.alreadyDone.isEmpty {
            lines.append("\(RollbackText.plural(plan.alreadyDone.count, "device")) already switched by an earlier cut-over: left alone.")
        }
        if !plan.held.isEmpty {
            lines.append("\(RollbackText.plural(plan.held.count, "device")) stay on v2 (v2 keys kept):")
            for hold in plan.held { lines.append("  - \(deviceName(hold.device)): \(hold.reason)") }
            lines.append("  Complete the migration first (`ttn-migrate run` with this journal; see `ttn-migrate status`), then cut over again.")
        }
        return lines
    }

    /// How to point each gateway at v3; v2 keeps serving a gateway until it is reconfigured.
    static func gatewayInstructions(_ gateways: [GatewayReconnection]) -> [String] {
        guard !gateways.isEmpty else { return [] }
        var lines = ["Gateways: point each at v3 (v2 is not changed; a gateway uses v2 until it is reconfigured):"]
        for gateway in gateways {
            var head = "  - gateway \(gateway.v2ID)"
            if gateway.v3ID != gateway.v2ID { head += " (v3 \(gateway.v3ID))" }
            if let eui = gateway.eui { head += ", EUI \(eui)" }
            if !gateway.frequencyPlans.isEmpty { head += ", frequency plan \(gateway.frequencyPlans.joined(separator: ", "))" }
            lines.append(head + (gateway.migrated ? "" : ": NOT MIGRATED yet, run `ttn-migrate run` first"))
            guard gateway.migrated else { continue }
            if gateway.eui == nil {
                lines.append("      no EUI in v3: packet forwarders and Basics Station name a gateway by its EUI; set it with `gateway_euis:` "
                    + "in the configuration (or in the v3 Console) before reconnecting")
            }
            lines.append("      Semtech UDP packet forwarder: server_address \"\(gateway.udpServerAddress)\", serv_port_up \(gateway.udpPortUp), "
                + "serv_port_down \(gateway.udpPortDown)\(gateway.eui.map { ", gateway_ID \($0)" } ?? "")")
            lines.append("      LoRa Basics Station: LNS \(gateway.lnsURI), CUPS \(gateway.cupsURI); LNS key: "
                + (gateway.linkKeyName.map { "API key \"\($0)\" (RIGHT_GATEWAY_LINK), its secret in `ttn-migrate keys --journal … --out FILE`" }
                    ?? "not created yet (run `ttn-migrate run` again)"))
        }
        return lines
    }

    /// One line per finished device on stdout.
    @Sendable static func printEvent(_ event: CutoverEvent) {
        let console = Console.current
        let counter = "[\(event.finished)/\(event.total)]"
        let counters = event.v3FCntUp.map { "v3 counters up \($0), down \(event.v3FCntDown ?? 0)" } ?? "no v3 session: the device joins again on v3"
        switch event.kind {
        case .switched: console.out("\(counter) switched \(deviceName(event.device)): \(counters); v2 keys cleared")
        case .alreadyCleared: console.out("\(counter) already cleared \(deviceName(event.device)): \(counters); v2 held no keys")
        case .failed: console.out("\(counter) FAILED \(deviceName(event.device))")
        }
    }

    /// Prints the summary and throws the exit code: 130 interrupted, 1 failed or held devices, 0 done.
    static func report(_ outcome: CutoverRunner.Outcome, journal: String, command: String) throws {
        let console = Console.current
        let summary = outcome.summary
        for failure in summary.failed {
            console.err("failed: \(failure.device): \(failure.message) (its v2 keys are kept unless the journal says v2_cleared)")
        }
        for line in heldAndDone(outcome.plan) { console.err(line) }
        for line in gatewayInstructions(outcome.plan.gateways) { console.out(line) }
        console.err("cutover: \(summary.switched.count) switched, \(summary.alreadyCleared.count) already cleared in v2, "
            + "\(outcome.plan.alreadyDone.count) done earlier, \(summary.failed.count) failed, \(outcome.plan.held.count) not fully migrated, "
            + "\(summary.notStarted.count) not started; \(String(format: "%.1f", seconds(summary.elapsed))) s. Journal: \(journal)")
        if summary.interrupted {
            console.err("interrupted; continue with: \(command)")
            throw ExitCode(130)
        }
        if !summary.failed.isEmpty || !outcome.plan.held.isEmpty {
            console.err("fix the causes above, then run the same command again (it continues where it stopped): \(command)")
            throw ExitCode(1)
        }
    }
}

extension MigrationConfiguration {
    /// The Gateway Server address gateways are told: `target.gateway_server_address`, else the Network
    /// Server's host (a v3 cluster serves both).
    func gatewayServerAddressForInstructions() throws -> String {
        if let address = target.gatewayServerAddress { return address }
        return V3Endpoints.address(of: try endpoints().networkServer).split(separator: ":").first.map(String.init) ?? "localhost"
    }
}

extension SwitchOverStatus {
    /// Every migrated device of `plan` with its cut-over, and every gateway's reconnection settings.
    init(plan: MigrationPlan, states: [String: StepState], cutover: [String: CutoverRecord], gatewayServerAddress: String) {
        var devices: [Device] = []
        for step in plan.steps {
            guard case .deviceIS = step.payload, let v3ID = step.entity.v3ID, states[step.id] == .done else { continue }
            let record = cutover[v3ID]
            devices.append(Device(
                v2ID: step.entity.v2ID, v3ID: v3ID, state: record?.state.rawValue, v3FCntUp: record?.v3FCntUp,
                v3FCntDown: record?.v3FCntDown, error: record?.state == .failed ? record?.lastError : nil))
        }
        self.init(
            devices: devices,
            gateways: GatewayReconnection.all(in: plan, isDone: { states[$0] == .done }, defaultAddress: gatewayServerAddress))
    }
}
