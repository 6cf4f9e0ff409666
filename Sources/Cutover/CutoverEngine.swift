import Executor
import Foundation
import HTTP
import Journal
import V2Client
import V2Model
import V3Client
import V3Model

/// What happened to one device in a cut-over, for progress lines.
public struct CutoverEvent: Sendable {
    public enum Kind: Sendable {
        /// Counters raised in v3 (or no v3 session) and v2 keys cleared.
        case switched
        /// v2 held no keys any more; v3 counters checked.
        case alreadyCleared
        case failed
    }

    public var kind: Kind
    public var device: CutoverDevice
    /// The counters v3 holds now (nil: no session, the device joins again).
    public var v3FCntUp: UInt32?
    public var v3FCntDown: UInt32?
    public var message: String?
    public var finished: Int
    public var total: Int
}

/// How a cut-over ended.
public struct CutoverSummary: Sendable {
    public var switched: [String] = []
    public var alreadyCleared: [String] = []
    public var failed: [(device: String, message: String)] = []
    /// Devices not started because the cut-over was stopped.
    public var notStarted: [String] = []
    public var interrupted = false
    public var elapsed: Duration = .zero

    public init() {}
}

/// Options of a cut-over.
public struct CutoverOptions: Sendable {
    /// Added to the v2 frame counters before they are written to v3 (`--fcnt-margin`).
    public var frameCounterMargin: UInt32
    /// Devices switched at once (v2 paces them to 5 requests per second per application).
    public var concurrency: Int
    public var retry: RetryPolicy

    public init(frameCounterMargin: UInt32 = 0, concurrency: Int = 8, retry: RetryPolicy = RetryPolicy()) {
        self.frameCounterMargin = frameCounterMargin
        self.concurrency = max(1, concurrency)
        self.retry = retry
    }
}

/// Switches devices from v2 to v3, journaled per device (issue 14 item 1).
///
/// For each device, in this order, each change recorded before the next request:
/// 1. GET the device from its v2 handler: the final frame counters (only the per-device GET has them);
/// 2. read the v3 session counters from the Network Server (`session.last_f_cnt_up`,
///    `session.last_n_f_cnt_down`) and the Application Server (`session.last_a_f_cnt_down`), and raise
///    each to at least the v2 counter plus the margin (`reference/v3-api.md` §15: v2 `f_cnt_down` goes to
///    both downlink counters); a device v3 holds no session for joins again and has nothing to raise;
///    journal `counters_raised`;
/// 3. clear the AppKey and session in v2 (`V2DeviceKeyClearer`), as the official migrator does; journal
///    `v2_cleared`;
/// 4. GET it again from v2 and check the keys are gone; journal `done`.
///
/// A failure before step 3 leaves v2 as it was. Every step is safe to repeat (counters only go up, the
/// clear sends the same body), so a killed or failed cut-over runs again from step 1.
public struct CutoverEngine: Sendable {
    let v2: V2DeviceKeyClearer
    let v3: V3Client
    let store: JournalStore
    let credentials: @Sendable (CutoverDevice) -> [V2Credential]
    let handlerURL: @Sendable (CutoverDevice) -> String
    let options: CutoverOptions

    public init(
        v2: V2DeviceKeyClearer, v3: V3Client, store: JournalStore, options: CutoverOptions,
        handlerURL: @escaping @Sendable (CutoverDevice) -> String, credentials: @escaping @Sendable (CutoverDevice) -> [V2Credential]
    ) {
        self.v2 = v2
        self.v3 = v3
        self.store = store
        self.options = options
        self.handlerURL = handlerURL
        self.credentials = credentials
    }

    /// Switches `devices`; `stop` ends scheduling (devices in flight finish and are recorded).
    public func run(_ devices: [CutoverDevice], stop: StopSignal, events: @escaping @Sendable (CutoverEvent) -> Void) async throws -> CutoverSummary {
        let start = ContinuousClock.now
        let queue = DeviceQueue(devices)
        let summary = SummaryBox()
        let total = devices.count
        try await runBounded(concurrency: options.concurrency, stop: stop, next: { await queue.next() }) { device in
            let outcome: Outcome
            do {
                outcome = try await self.switchOver(device)
            } catch let error as JournalError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                let message = String(describing: error)
                try await self.store.recordCutover(CutoverRecord(
                    entityKey: device.v3Path, v2ApplicationID: device.v2ApplicationID, v2DeviceID: device.v2DeviceID, state: .failed,
                    lastError: message))
                outcome = Outcome(kind: .failed, up: nil, down: nil, message: message)
            }
            let finished = await summary.add(device, outcome)
            events(CutoverEvent(
                kind: outcome.kind, device: device, v3FCntUp: outcome.up, v3FCntDown: outcome.down, message: outcome.message,
                finished: finished, total: total))
        }
        var result = await summary.value
        result.notStarted = await queue.remaining.map(\.v2Path)
        result.interrupted = stop.isStopped && !result.notStarted.isEmpty
        result.elapsed = ContinuousClock.now - start
        return result
    }

    struct Outcome {
        var kind: CutoverEvent.Kind
        var up: UInt32?
        var down: UInt32?
        var message: String?
    }

    /// Steps 1–4 for one device.
    func switchOver(_ device: CutoverDevice) async throws -> Outcome {
        let address = V2DeviceKeyClearer.Address(
            handlerURL: handlerURL(device), applicationID: device.v2ApplicationID, deviceID: device.v2DeviceID, credentials: credentials(device))
        let read = try await v2.read(address)
        let lorawan = read.device.lorawanDevice
        let v2Up = lorawan?.fCntUp ?? 0
        let v2Down = lorawan?.fCntDown ?? 0
        let (up, down) = try await raiseCounters(device, up: Self.adding(options.frameCounterMargin, to: v2Up), down: Self.adding(options.frameCounterMargin, to: v2Down))
        var record = CutoverRecord(
            entityKey: device.v3Path, v2ApplicationID: device.v2ApplicationID, v2DeviceID: device.v2DeviceID, state: .countersRaised,
            v2FCntUp: v2Up, v2FCntDown: v2Down, v3FCntUp: up, v3FCntDown: down)
        try await store.recordCutover(record)

        let wasCleared = read.keysCleared
        if !wasCleared {
            try await v2.clearKeys(address, read: read)
            record.state = .v2Cleared
            try await store.recordCutover(record)
        }
        let check = try await v2.read(address)
        guard check.keysCleared else { throw CutoverError.keysStillInV2(device: device.v2Path) }
        record.state = .done
        try await store.recordCutover(record)
        return Outcome(kind: wasCleared ? .alreadyCleared : .switched, up: up, down: down)
    }

    /// Raises the v3 session counters to at least `up` and `down`; returns what v3 holds (nil, nil
    /// without a session).
    func raiseCounters(_ device: CutoverDevice, up: UInt32, down: UInt32) async throws -> (UInt32?, UInt32?) {
        let path = PlanExecution.devicePath(V3EndDeviceIdentifiers(deviceID: device.v3DeviceID, applicationID: device.v3ApplicationID))
        let ns = v3.networkServer
        let nsDevice = try await retryingRead(policy: options.retry) {
            try await ns.get(SessionDevice.self, "/ns" + path, fieldMask: ["session.dev_addr", "session.last_f_cnt_up", "session.last_n_f_cnt_down"],
                             operation: "read the session counters of device \(device.v3Path)")
        }
        guard let session = nsDevice.session else { return (nil, nil) }
        let newUp = max(session.lastFCntUp ?? 0, up)
        let newDown = max(session.lastNFCntDown ?? 0, down)
        if newUp != (session.lastFCntUp ?? 0) || newDown != (session.lastNFCntDown ?? 0) {
            let body = try Self.body(device, session: ["last_f_cnt_up": newUp, "last_n_f_cnt_down": newDown],
                                     mask: ["session.last_f_cnt_up", "session.last_n_f_cnt_down"])
            _ = try await retryingRead(policy: options.retry) {
                try await ns.send("PUT", "/ns" + path, body: body, operation: "raise the Network Server frame counters of device \(device.v3Path)")
            }
        }
        let application = v3.applicationServer
        let asDevice = try await retryingRead(policy: options.retry) {
            try await application.get(SessionDevice.self, "/as" + path, fieldMask: ["session.dev_addr", "session.last_a_f_cnt_down"],
                                      operation: "read the application downlink counter of device \(device.v3Path)")
        }
        if let asSession = asDevice.session, (asSession.lastAFCntDown ?? 0) < down {
            let body = try Self.body(device, session: ["last_a_f_cnt_down": down], mask: ["session.last_a_f_cnt_down"])
            _ = try await retryingRead(policy: options.retry) {
                try await application.send("PUT", "/as" + path, body: body, operation: "raise the Application Server downlink counter of device \(device.v3Path)")
            }
        }
        return (newUp, newDown)
    }

    /// `{"end_device": {"ids": …, "session": {…}}, "field_mask": {"paths": […]}}`.
    static func body(_ device: CutoverDevice, session: [String: UInt32], mask: [String]) throws -> Data {
        let object: [String: Any] = [
            "end_device": [
                "ids": ["device_id": device.v3DeviceID, "application_ids": ["application_id": device.v3ApplicationID]],
                "session": session,
            ],
            "field_mask": ["paths": mask],
        ]
        return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    static func adding(_ margin: UInt32, to counter: UInt32) -> UInt32 {
        let (sum, overflow) = counter.addingReportingOverflow(margin)
        return overflow ? UInt32.max : sum
    }

    /// The session counters of a v3 NS or AS device (proto3 JSON leaves zero counters out).
    struct SessionDevice: Decodable {
        struct Session: Decodable {
            var lastFCntUp: UInt32?
            var lastNFCntDown: UInt32?
            var lastAFCntDown: UInt32?
            enum CodingKeys: String, CodingKey {
                case lastFCntUp = "last_f_cnt_up"
                case lastNFCntDown = "last_n_f_cnt_down"
                case lastAFCntDown = "last_a_f_cnt_down"
            }
        }
        var session: Session?
    }
}

/// Why one device's cut-over failed after its requests were answered.
public enum CutoverError: Error, CustomStringConvertible {
    case keysStillInV2(device: String)

    public var description: String {
        switch self {
        case .keysStillInV2(let device):
            return "v2 accepted clearing the keys of device \(device) but still holds them; run cutover again, or clear them in the v2 console"
        }
    }
}

/// Hands out devices in order.
actor DeviceQueue {
    private var devices: ArraySlice<CutoverDevice>
    init(_ devices: [CutoverDevice]) { self.devices = devices[...] }
    func next() -> CutoverDevice? { devices.popFirst() }
    var remaining: [CutoverDevice] { Array(devices) }
}

/// Collects outcomes.
actor SummaryBox {
    private(set) var value = CutoverSummary()
    private var finished = 0

    func add(_ device: CutoverDevice, _ outcome: CutoverEngine.Outcome) -> Int {
        switch outcome.kind {
        case .switched: value.switched.append(device.v2Path)
        case .alreadyCleared: value.alreadyCleared.append(device.v2Path)
        case .failed: value.failed.append((device.v2Path, outcome.message ?? ""))
        }
        finished += 1
        return finished
    }
}
