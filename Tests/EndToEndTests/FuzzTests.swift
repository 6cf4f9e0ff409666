import Foundation
import HTTP
import Mapping
import Plan
import Report
import Testing
import V2Model
import V3Client
import V3Model
@testable import TTNMigrateCLI

/// Mutations of valid inputs toward the hostile: bytes flipped, cut, repeated and deleted, and tokens that
/// break parsers and decoders (extreme numbers, deep nesting, lone surrogates, huge strings, YAML aliases).
enum InputMutator {
    static let tokens: [String] = [
        "{", "}", "[", "]", "\"", ":", ",", "-1", "0", "-0", "4294967296", "18446744073709551616", "1e999", "-1e999", "0.5",
        "null", "true", "\"\"", "\"\\u0000\"", "\"\\ud800\"", "\"\\udfff\\ud800\"", "NaN", "Infinity",
        String(repeating: "[", count: 600), String(repeating: "{\"a\":", count: 300), String(repeating: "a", count: 70_000),
        "\u{FEFF}", "\u{202E}", "é", "\\", "&anchor", "*anchor", "- ", "\n", "\t", "#", "!!binary", "~", "0x1F", "1_000",
        "\"ttn-account-v2.", "eui-", "70B3D57ED0001000", "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF", "\"2019-13-45T25:61:61Z\"",
    ]

    static func mutate(_ input: [UInt8], using generator: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &generator) {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &generator)
            switch Int.random(in: 0..<6, using: &generator) {
            case 0 where !bytes.isEmpty:
                bytes[position] ^= UInt8.random(in: 1...255, using: &generator)
            case 1:
                bytes.insert(contentsOf: Array(tokens.randomElement(using: &generator)!.utf8), at: position)
            case 2 where !bytes.isEmpty:
                bytes.removeSubrange(position..<min(bytes.count, position + Int.random(in: 1...64, using: &generator)))
            case 3 where !bytes.isEmpty:
                let slice = bytes[position..<min(bytes.count, position + Int.random(in: 1...256, using: &generator))]
                bytes.insert(contentsOf: slice, at: Int.random(in: 0...bytes.count, using: &generator))
            case 4:
                bytes = Array(bytes.prefix(position))
            default:
                // A value replaced: the token after the next `:` (JSON and YAML alike).
                if let colon = bytes[position...].firstIndex(of: UInt8(ascii: ":")) {
                    let end = bytes[colon...].firstIndex { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\n") } ?? bytes.count
                    bytes.replaceSubrange((colon + 1)..<end, with: Array(" \(tokens.randomElement(using: &generator)!)".utf8))
                }
            }
        }
        return bytes
    }
}

/// Issue 13 §3: the snapshot and configuration loaders, the v2 decoders, the v3 answer parsers and the
/// planner behind them, fed seeded mutations of valid inputs. Each must return or throw its own typed,
/// bounded error; a crash ends the test process (and CI) with the seed printed first for the replay.
///
/// `TTN_FUZZ_SEED` replays a run; `TTN_FUZZ_ITERATIONS` (default 300 per target) lengthens it, as
/// `scripts/fuzz` does.
@Suite(.timeLimit(.minutes(5))) struct FuzzTests {
    static let seed: UInt64 = ProcessInfo.processInfo.environment["TTN_FUZZ_SEED"].flatMap { UInt64($0) } ?? UInt64.random(in: 1...UInt64.max)
    static let iterations = ProcessInfo.processInfo.environment["TTN_FUZZ_ITERATIONS"].flatMap { Int($0) } ?? 300

    /// Runs `body` on `iterations` mutations of `seeds`; prints the seed first.
    private func fuzz(_ target: String, seeds: [Data], _ body: (Data) throws -> Void) rethrows {
        print("fuzz \(target): seed \(Self.seed), \(Self.iterations) inputs (replay: TTN_FUZZ_SEED=\(Self.seed))")
        var generator = SplitMix64(seed: Self.seed ^ UInt64(truncatingIfNeeded: target.hashValueStable))
        for _ in 0..<Self.iterations {
            let seed = seeds.randomElement(using: &generator)!
            try body(Data(InputMutator.mutate([UInt8](seed), using: &generator)))
        }
    }

    private static func snapshotSeed() throws -> Data {
        let text = try String(contentsOfFile: golden("small-estate.snapshot.json"), encoding: .utf8)
        return Data(text.replacingOccurrences(of: "{{BASE}}", with: "http://127.0.0.1:8090").utf8)
    }

    private static func mappingOptions() throws -> MappingOptions {
        var configuration = MigrationConfiguration()
        configuration.target.owner = .user("alice")
        configuration.target.url = "http://127.0.0.1:1"
        configuration.devices.frequencyPlan = "EU_863_870_TTN"
        return try configuration.mappingOptions()
    }

    @Test func snapshotLoaderAndPlanner() throws {
        let seeds = [try Self.snapshotSeed()]
        let options = try Self.mappingOptions()
        var decoded = 0
        fuzz("snapshot", seeds: seeds) { data in
            do {
                let snapshot = try SnapshotFile.decode(data, path: "fuzz.json")
                decoded += 1
                // What decodes must plan (or be refused with a planning error), never crash.
                _ = try? Planner.plan(snapshot: snapshot, options: options)
            } catch let error as SnapshotFileError {
                #expect(error.description.count < 20_000, "an unbounded error: \(error.description.prefix(200))")
            } catch {
                Issue.record("snapshot: an error of type \(type(of: error)), not SnapshotFileError: \(error)")
            }
        }
        #expect(decoded > 0, "some mutations stay valid, so the planner is reached")
    }

    @Test func configurationLoader() throws {
        let seeds = [
            try Data(contentsOf: URL(fileURLWithPath: examplesDirectory() + "/migrate.yml")),
            Data("source: { account_server: 'http://127.0.0.1:1/api/v2', token_file: /t }\ntarget: { url: 'http://127.0.0.1:2', owner: { user: alice } }\n".utf8),
        ]
        fuzz("config", seeds: seeds) { data in
            do {
                let configuration = try MigrationConfiguration.load(data: data, path: "fuzz.yml")
                _ = try? configuration.mappingOptions()
            } catch let error as ConfigurationError {
                #expect(!error.description.isEmpty)
            } catch {
                Issue.record("config: an error of type \(type(of: error)): \(error)")
            }
        }
    }

    @Test func v2AnswerDecoders() throws {
        let snapshot = try JSONSerialization.jsonObject(with: try Self.snapshotSeed()) as! [String: Any]
        let record = (snapshot["applications"] as! [[String: Any]])[1]
        let handler = record["handler"] as! [String: Any]
        func data(_ object: Any) throws -> Data { try JSONSerialization.data(withJSONObject: object) }
        let seeds = [
            try data([record["application"]!]), try data((handler["devices"] as! [Any])[0]), try data(snapshot["gateways"]!),
            try data(snapshot["profile"]!),
        ]
        fuzz("v2", seeds: seeds) { body in
            let decoder = JSONDecoder()
            _ = try? decoder.decode([V2Application].self, from: body)
            _ = try? decoder.decode(V2Device.self, from: body)
            _ = try? decoder.decode([V2Gateway].self, from: body)
            _ = try? decoder.decode(V2Profile.self, from: body)
        }
    }

    @Test func v3AnswerParsers() throws {
        let state = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: golden("small-estate.v3-state.json")))) as! [String: Any]
        let device = ((state["applications"] as! [String: Any])["sensors"] as! [String: Any])["devices"] as! [String: [String: Any]]
        let gateway = (state["gateways"] as! [String: [String: Any]]).values.first!["fields"]!
        func data(_ object: Any) throws -> Data { try JSONSerialization.data(withJSONObject: object) }
        let seeds = [
            try data(device["dev-1"]!["ns"]!), try data(device["dev-1"]!["as"]!), try data(device["dev-1"]!["js"] ?? [:]), try data(gateway),
            Data(#"{"code":6,"message":"error:pkg/identityserver/store:id_taken (ID `x` is already taken)","details":[{"@type":"type.googleapis.com/ttn.lorawan.v3.ErrorDetails","namespace":"pkg/identityserver/store","name":"id_taken","message_format":"ID `{id}` is already taken","attributes":{"id":"x"},"correlation_id":"abc","code":6}]}"#.utf8),
        ]
        fuzz("v3", seeds: seeds) { body in
            if let value = try? JSONValueParser.parse(body) { _ = value.description }
            let error = V3APIError(status: 409, body: body, headers: HTTPHeaders([("Content-Type", "application/json")]), operation: "fuzz", server: "Identity Server")
            #expect(error.description.count < 20_000)
            let decoder = JSONDecoder()
            _ = try? decoder.decode(V3NSEndDevice.self, from: body)
            _ = try? decoder.decode(V3ASEndDevice.self, from: body)
            _ = try? decoder.decode(V3JSEndDevice.self, from: body)
            _ = try? decoder.decode(V3Gateway.self, from: body)
            _ = try? decoder.decode(V3MACState.self, from: body)
        }
    }
}

extension String {
    /// A hash that is the same in every process (Swift's `hashValue` is seeded per process).
    var hashValueStable: UInt64 { utf8.reduce(14_695_981_039_346_656_037) { ($0 ^ UInt64($1)) &* 1_099_511_628_211 } }
}

/// Regressions the fuzzing found, each kept as a plain test.
@Suite struct FuzzRegressionTests {
    /// A 70,000-character message in a v3 error answer was echoed whole into the step's failure.
    @Test func v3ErrorWithAHugeMessageIsBounded() {
        let body = Data(#"{"code":3,"message":"\#(String(repeating: "a", count: 70_000))"}"#.utf8)
        let error = V3APIError(status: 400, body: body, headers: HTTPHeaders(), operation: "create application x", server: "Identity Server")
        #expect(error.description.count < 1_000)
        #expect(error.description.contains("characters)"))
        #expect(error.description.hasPrefix("create application x: Identity Server answered 400"))
    }

    /// A number past Int's range in an error's attributes trapped `Int(value)` when the message was formatted.
    @Test func hugeNumbersInV3AnswersAreDescribedNotTrapped() throws {
        #expect(try JSONValueParser.parse(Data("1e300".utf8)).description == "1e+300")
        #expect(try JSONValueParser.parse(Data("-12".utf8)).description == "-12")
    }

    /// A snapshot value of 70,000 characters was echoed whole into the decoding error.
    @Test func snapshotErrorEchoingAHugeValueIsBounded() throws {
        let text = try String(contentsOfFile: golden("small-estate.snapshot.json"), encoding: .utf8)
            .replacingOccurrences(of: "\"0004A30B001C0001\"", with: "\"\(String(repeating: "A", count: 70_000))\"")
        #expect(throws: SnapshotFileError.self) { try SnapshotFile.decode(Data(text.utf8), path: "s.json") }
        do {
            _ = try SnapshotFile.decode(Data(text.utf8), path: "s.json")
        } catch {
            #expect(String(describing: error).count < 1_000)
            #expect(String(describing: error).contains("dev_eui"))
        }
    }
}
