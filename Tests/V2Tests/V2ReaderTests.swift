import Foundation
import HTTP
import Simulator
import Testing
import V2Client
import V2Model

/// A two-application estate: `keyed` has an access key with `devices` and `settings`; `bare` has none.
private let estate = #"""
{"users":[{"username":"alice"}],
 "applications":[
  {"id":"keyed","name":"K","euis":[],"rights":["settings","devices"],"collaborators":[{"username":"alice","rights":["settings","devices"]}],
   "access_keys":[{"name":"reader","key":"ttn-account-v2.keyed-reader","rights":["settings","devices"]}],
   "handler":{"name":"second","application":{"app_id":"keyed"},"devices":[
     {"app_id":"keyed","dev_id":"d1","lorawan_device":{"app_id":"keyed","dev_id":"d1","app_eui":"70B3D57ED0001000","dev_eui":"0004A30B001C0001","app_key":"000102030405060708090A0B0C0D0E0F","f_cnt_up":3}},
     {"app_id":"keyed","dev_id":"d2","lorawan_device":{"app_id":"keyed","dev_id":"d2","app_eui":"70B3D57ED0001000","dev_eui":"0004A30B001C0002","app_key":"000102030405060708090A0B0C0D0E0F"}},
     {"app_id":"keyed","dev_id":"d3","lorawan_device":{"app_id":"keyed","dev_id":"d3","app_eui":"70B3D57ED0001000","dev_eui":"0004A30B001C0003","app_key":"000102030405060708090A0B0C0D0E0F"}}]}},
  {"id":"bare","name":"B","euis":[],"rights":["settings","devices"],"collaborators":[{"username":"alice","rights":["settings","devices"]}],"access_keys":[],
   "handler":{"name":"first","application":{"app_id":"bare"},"devices":[]}}],
 "gateways":[]}
"""#

@Suite(.serialized) struct V2ReaderTests {
    func start() async throws -> (RunningV2Simulator, String) {
        let path = NSTemporaryDirectory() + "v2reader-\(UUID().uuidString).json"
        try estate.write(toFile: path, atomically: true, encoding: .utf8)
        let simulator = try await V2Simulator.start(estateFile: path, token: "v2sim.reader-test")
        return (simulator, path)
    }

    @Test func eachApplicationIsReadFromTheFirstHandlerThatKnowsIt() async throws {
        let (simulator, path) = try await start()
        defer { Task { await simulator.stop(); try? FileManager.default.removeItem(atPath: path) } }
        let reader = V2Reader(http: HTTPClient(), options: V2ReaderOptions(
            accountServer: simulator.accountServerURL, handlers: [simulator.handlerURL(named: "first"), simulator.handlerURL(named: "second")],
            token: V2Secret("v2sim.reader-test"), devicePageSize: 2, retry: RetryPolicy(maxAttempts: 2, baseDelay: .milliseconds(5))))
        let snapshot = try await reader.readEstate()
        let records = Dictionary(uniqueKeysWithValues: snapshot.applications.map { ($0.application.id, $0.handler) })
        #expect(records["bare"]?.status == .read)
        #expect(records["bare"]?.url == simulator.handlerURL(named: "first"))
        #expect(records["keyed"]?.url == simulator.handlerURL(named: "second"))
        #expect(records["keyed"]?.devices.map(\.devId) == ["d1", "d2", "d3"])
        #expect(records["keyed"]?.devices.first?.lorawanDevice?.fCntUp == 3)

        let log = simulator.server.requestLog
        // Paging: limit 2 → offsets 0 and 2.
        #expect(log.filter { $0.path == "/handlers/second/applications/keyed/devices" }.map { $0.query["offset"] ?? "" } == ["0", "2"])
        // `keyed` was first asked of the first handler (404), then found on the second.
        #expect(log.contains { $0.path == "/handlers/first/applications/keyed" && $0.status == 404 })
    }

    @Test func handlerRequestsArePacedPerApplication() async throws {
        let (simulator, path) = try await start()
        defer { Task { await simulator.stop(); try? FileManager.default.removeItem(atPath: path) } }
        let reader = V2Reader(http: HTTPClient(), options: V2ReaderOptions(
            accountServer: simulator.accountServerURL, handlers: [simulator.handlerURL(named: "second")],
            token: V2Secret("v2sim.reader-test"), handlerRequestsPerSecond: 5))
        _ = try await reader.readEstate()
        // keyed on its handler: app GET, 1 list page, 3 device GETs = 5 requests at 5/s → ≥ 0.8 s from first to last.
        let keyed = simulator.server.requestLog.filter { $0.path.hasPrefix("/handlers/second/applications/keyed") }
        #expect(keyed.count == 5)
        let span = keyed.last!.received.timeIntervalSince(keyed.first!.received)
        // Unpaced they would take a few milliseconds; paced, four 200 ms intervals (less the first request's own
        // queueing, which the server's receive time does not see).
        #expect(span >= 0.6, "5 requests in \(span) s: faster than 5/s")
    }
}
