import Foundation
import Mapping
import Plan
import Testing
import V2Model

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

private let environment = ProcessInfo.processInfo.environment

/// Peak resident set size of this process so far, in MiB (`getrusage`; Linux reports KiB, macOS bytes).
private func peakRSSMiB() -> Double {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
    #else
    getrusage(RUSAGE_SELF, &usage)
    return Double(usage.ru_maxrss) / 1024 / 1024
    #endif
}

/// CPU time (user + system) of this process so far, in seconds: less sensitive to a busy machine than wall time.
private func cpuSeconds() -> Double {
    var usage = rusage()
    #if os(Linux)
    getrusage(RUSAGE_SELF.rawValue, &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    func value(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
    return value(usage.ru_utime) + value(usage.ru_stime)
}

private func seconds(since start: ContinuousClock.Instant) -> Double {
    let duration = ContinuousClock.now - start
    return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// `PLAN_PERF=1 swift test -c release --filter PlanPerformance` maps and renders a generated estate
/// (default 2,000 applications, 10,000 gateways, 100,000 devices; `PLAN_PERF_APPS`, `PLAN_PERF_GATEWAYS`,
/// `PLAN_PERF_DEVICES` change it) and prints wall times and peak memory.
@Suite("plan performance", .enabled(if: environment["PLAN_PERF"] == "1"))
struct PlanPerformanceTests {
    @Test func largeEstate() throws {
        let applications = Int(environment["PLAN_PERF_APPS"] ?? "") ?? 2_000
        let gateways = Int(environment["PLAN_PERF_GATEWAYS"] ?? "") ?? 10_000
        let devices = Int(environment["PLAN_PERF_DEVICES"] ?? "") ?? 100_000
        let baseline = peakRSSMiB()

        var start = ContinuousClock.now
        var cpuStart = cpuSeconds()
        let snapshot = SyntheticEstate.snapshot(applications: applications, gateways: gateways, devices: devices)
        let generate = seconds(since: start)
        let generateCPU = cpuSeconds() - cpuStart
        let afterGenerate = peakRSSMiB()

        // What `plan --snapshot` reads: the snapshot file's bytes, decoded.
        let file = try SnapshotFile.encode(snapshot)
        start = ContinuousClock.now
        cpuStart = cpuSeconds()
        let decoded = try SnapshotFile.decode(file, path: "generated.json")
        let decode = seconds(since: start)
        let decodeCPU = cpuSeconds() - cpuStart
        let afterDecode = peakRSSMiB()
        #expect(decoded == snapshot)

        start = ContinuousClock.now
        cpuStart = cpuSeconds()
        let plan = try Planner.plan(snapshot: decoded, options: SyntheticEstate.options())
        let mapping = seconds(since: start)
        let mappingCPU = cpuSeconds() - cpuStart
        let afterPlan = peakRSSMiB()

        start = ContinuousClock.now
        cpuStart = cpuSeconds()
        var streamedBytes = 0
        try PlanRenderer.writeJSON(plan) { streamedBytes += $0.count }
        let streamTime = seconds(since: start)
        let streamTimeCPU = cpuSeconds() - cpuStart
        let afterStream = peakRSSMiB()

        start = ContinuousClock.now
        cpuStart = cpuSeconds()
        let json = try PlanRenderer.json(plan)
        let jsonTime = seconds(since: start)
        let jsonTimeCPU = cpuSeconds() - cpuStart
        let afterJSON = peakRSSMiB()
        #expect(json.count == streamedBytes)

        start = ContinuousClock.now
        cpuStart = cpuSeconds()
        let table = PlanRenderer.table(plan)
        let tableTime = seconds(since: start)
        let tableTimeCPU = cpuSeconds() - cpuStart
        let afterTable = peakRSSMiB()

        print("""
            plan performance: \(applications) applications, \(gateways) gateways, \(devices) devices
              generate snapshot   \(String(format: "%6.2f", generate)) s wall \(String(format: "%6.2f", generateCPU)) s CPU   peak RSS \(String(format: "%7.1f", afterGenerate)) MiB (test process at start \(String(format: "%.1f", baseline)) MiB)
              decode snapshot     \(String(format: "%6.2f", decode)) s wall \(String(format: "%6.2f", decodeCPU)) s CPU   peak RSS \(String(format: "%7.1f", afterDecode)) MiB   \(file.count) bytes of snapshot file
              map + plan          \(String(format: "%6.2f", mapping)) s wall \(String(format: "%6.2f", mappingCPU)) s CPU   peak RSS \(String(format: "%7.1f", afterPlan)) MiB   \(plan.steps.count) steps, \(plan.warnings.count) warnings
              stream JSON         \(String(format: "%6.2f", streamTime)) s wall \(String(format: "%6.2f", streamTimeCPU)) s CPU   peak RSS \(String(format: "%7.1f", afterStream)) MiB   \(streamedBytes) bytes
              render JSON         \(String(format: "%6.2f", jsonTime)) s wall \(String(format: "%6.2f", jsonTimeCPU)) s CPU   peak RSS \(String(format: "%7.1f", afterJSON)) MiB   \(json.count) bytes
              render table        \(String(format: "%6.2f", tableTime)) s wall \(String(format: "%6.2f", tableTimeCPU)) s CPU   peak RSS \(String(format: "%7.1f", afterTable)) MiB   \(table.utf8.count) bytes
            """)
        if applications == 2_000 && gateways == 10_000 && devices == 100_000 {
            // 2,000 creates + 2,000 collaborators + 3,000 keys + 2,000 links + 380,000 device steps + 10,000 gateways.
            #expect(plan.steps.count == 399_000)
        }
        #expect(plan.summary.devices["otaa-with-session"] == devices / 10)
    }
}
