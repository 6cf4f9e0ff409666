import Foundation
import Simulator
import Testing

/// The figure: with 20 ms latency and 64 requests in flight the simulator keeps its latency and costs
/// little CPU. The figures are printed; the assertions are generous (a shared 2-core machine is noisy). Serialized:
/// another test running beside the burst would count as simulator CPU.
@Suite(.serialized) struct V3BenchmarkTests {
    @Test func latencyHoldsWith64InFlight() async throws {
        let result = try await V3SimulatorBenchmark.run(.init(latency: .milliseconds(20), inFlight: 64, devicesPerConnection: 8))
        print("v3 simulator benchmark: \(result)")
        let baseline = try await V3SimulatorBenchmark.serverBaseline(.init(latency: .milliseconds(20), inFlight: 64, devicesPerConnection: 8))
        print("HTTP server alone (constant answer): \(baseline)")
        #expect(baseline.failures == 0)
        #expect(result.requests == 64 * 8 * 5)
        #expect(result.failures == 0)
        #expect(result.latencyMedian >= .milliseconds(20))
        #expect(result.latencyMedian < .milliseconds(200))
        #expect(result.rulesCPUPerRequest < .milliseconds(5))
    }
}

extension V3BenchmarkTests {
    @Test func rulesAloneCostPerRequest() throws {
        let perRequest = try V3SimulatorBenchmark.rulesCPUPerRequest(devices: 400)
        print("v3 rules alone: \(perRequest) CPU per request")
        #expect(perRequest < .milliseconds(5))
    }
}
