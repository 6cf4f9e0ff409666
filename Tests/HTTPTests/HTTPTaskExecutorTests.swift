import Foundation
import HTTP
import Simulator
import Testing

/// The HTTP thread as a task executor (`HTTPClient.taskExecutor`): steps run there between transfers.
@Suite struct HTTPTaskExecutorTests {
    /// An actor the tasks hop onto and back from, as the executor's steps do with the journal.
    actor Tally {
        var answers: [String: String] = [:]
        func record(_ path: String, _ answer: String) { answers[path] = answer }
    }

    /// The running thread.
    private static func thread() -> UInt { UInt(bitPattern: Int(bitPattern: UnsafeRawPointer(bitPattern: UInt(pthread_self())))) }

    @Test func tasksPreferringItRunOnTheHTTPThreadAndEachGetsItsAnswer() async throws {
        guard #available(macOS 15.0, *) else { return }  // TaskExecutor; the package targets macOS 14
        let server = try await TestServer { request in SimResponse(status: 200, body: Data(request.path.utf8)) }
        defer { Task { await server.stop() } }
        let client = HTTP.HTTPClient()
        let tally = Tally()
        let threads = try await withTaskExecutorPreference(client.taskExecutor) {
            try await withThrowingTaskGroup(of: [UInt].self) { group in
                for index in 0..<64 {
                    group.addTask {
                        var seen = [Self.thread()]
                        for round in 0..<3 {
                            let path = "/\(index)/\(round)"
                            let response = try await client.send(HTTPRequest(url: server.base + path))
                            seen.append(Self.thread())
                            await tally.record(path, String(decoding: response.body, as: UTF8.self))
                            seen.append(Self.thread())
                        }
                        return seen
                    }
                }
                return try await group.reduce(into: []) { $0 += $1 }
            }
        }
        #expect(threads.count == 64 * 7)
        // Swift's pool has a thread per core; on it, 448 turns would not all land on one thread.
        #expect(Set(threads).count == 1, "every child task, after every answer and actor hop, ran on the one HTTP thread")
        let answers = await tally.answers
        #expect(answers.count == 64 * 3)
        #expect(answers.allSatisfy { $0.key == $0.value })
        #expect(server.server.statistics.requests == 64 * 3)
    }

    /// The loop waits up to a second on its sockets when it has nothing to do; work handed over from another
    /// thread then must wake it. Five idle hand-overs that each waited out the second would take 5 s.
    @Test func workFromAnotherThreadWakesAnIdleLoop() async throws {
        guard #available(macOS 15.0, *) else { return }  // TaskExecutor; the package targets macOS 14
        let server = try await TestServer { _ in SimResponse(status: 200, body: Data("ok".utf8)) }
        defer { Task { await server.stop() } }
        let client = HTTP.HTTPClient()
        let loopThread = try await Task(executorPreference: client.taskExecutor) {
            _ = try await client.send(HTTPRequest(url: server.base + "/start"))
            return Self.thread()
        }.value
        let started = ContinuousClock.now
        for _ in 0..<5 {
            try await Task.sleep(for: .milliseconds(20))
            let ranOn = await Task(executorPreference: client.taskExecutor) { Self.thread() }.value
            #expect(ranOn == loopThread)
        }
        #expect(ContinuousClock.now - started < .seconds(4))
    }

    /// A task may still prefer the executor after its client is gone: its jobs then run elsewhere, none is lost.
    @Test func jobsStillRunAfterTheClientIsGone() async throws {
        guard #available(macOS 15.0, *) else { return }  // TaskExecutor; the package targets macOS 14
        var client: HTTP.HTTPClient? = HTTP.HTTPClient()
        let executor = client!.taskExecutor
        let first = await Task(executorPreference: executor) { 1 }.value
        client = nil
        var sum = first
        for value in 2...20 {
            sum += await Task(executorPreference: executor) {
                await Task.yield()
                return value
            }.value
        }
        #expect(sum == (1...20).reduce(0, +))
        #expect(client == nil)
    }
}
