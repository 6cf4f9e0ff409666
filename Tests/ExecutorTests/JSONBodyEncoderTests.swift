import Foundation
import Plan
import Testing
import V3Client
import V3Model

// `JSONBodyEncoder` writes the request bodies (issue 12): every body must be the same JSON value as
// Foundation's `JSONEncoder` makes of it, and a misuse of the containers must fail, not write bad JSON.

private func foundationJSON(_ value: some Encodable) throws -> V3JSONValue {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.withoutEscapingSlashes]
    return try JSONValueParser.parse(encoder.encode(value))
}

private func streamedJSON(_ value: some Encodable) throws -> V3JSONValue {
    try JSONValueParser.parse(JSONBodyEncoder().encode(value))
}

private func streamedText(_ value: some Encodable) throws -> String {
    String(decoding: try JSONBodyEncoder().encode(value), as: UTF8.self)
}

private struct Scalars: Encodable {
    var text: String
    var number: Double
    var count: Int
    var small: UInt8
    var flag: Bool
    var missing: String?
    var list: [Int]
}

private struct Empty: Encodable {
    func encode(to encoder: any Encoder) throws {}
}

private struct Holder<Value: Encodable>: Encodable {
    var value: Value
}

/// Writes into a nested container after its enclosing container moved on to the next member.
private struct LateWriter: Encodable {
    enum Keys: String, CodingKey { case first, second, late }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        var first = container.nestedContainer(keyedBy: Keys.self, forKey: .first)
        try first.encode(1, forKey: .first)
        try container.encode(2, forKey: .second)
        try first.encode(3, forKey: .late)
    }
}

/// Encodes two values into one single-value container.
private struct TwiceWriter: Encodable {
    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(1)
        try container.encode(2)
    }
}

/// A keyed container whose `superEncoder` is handed out and never used, then another member.
private struct UnusedSuper: Encodable {
    enum Keys: String, CodingKey { case after }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        _ = container.superEncoder()
        try container.encode("x", forKey: .after)
    }
}

@Suite("JSONBodyEncoder: request bodies as Foundation's JSONEncoder would write them (issue 12)")
struct JSONBodyEncoderTests {
    @Test("every entity of a planned estate encodes to the same JSON value as with JSONEncoder")
    func everyPlannedEntityMatchesFoundation() throws {
        let plan = try Planner.plan(
            snapshot: SyntheticEstate.snapshot(applications: 7, gateways: 5, devices: 60), options: SyntheticEstate.options())
        var compared: [String: Int] = [:]
        for step in plan.steps {
            // The whole payload too, and as a value: `IntendedState` (the diff) builds every step with it.
            #expect(try streamedJSON(step.payload) == foundationJSON(step.payload), "\(step.id)")
            #expect(try JSONValueEncoder().encode(step.payload) == foundationJSON(step.payload), "\(step.id)")
            func compare(_ value: some Encodable) throws {
                #expect(try streamedJSON(value) == foundationJSON(value), "\(step.id)")
                compared["\(type(of: value))", default: 0] += 1
            }
            switch step.payload {
            case .application(let value): try compare(value)
            case .applicationCollaborator(_, let value), .gatewayCollaborator(_, let value):
                try compare(value)
            case .applicationAPIKey(_, let value), .gatewayAPIKey(_, let value):
                try compare(value)
            case .applicationLink(_, let value): try compare(value)
            case .gateway(let value): try compare(value)
            case .deviceIS(let value): try compare(value)
            case .deviceJS(let value): try compare(value)
            case .deviceNS(let value):
                let started = value.stampingSessionStart(at: Date(timeIntervalSince1970: 1_700_000_000.25))
                try compare(started)
            case .deviceAS(let value): try compare(value)
            }
        }
        // Every type a step sends is in the estate, so each was compared.
        let types = ["V3Application", "V3Collaborator", "V3APIKey", "V3ApplicationLink", "V3Gateway",
                     "V3ISEndDevice", "V3JSEndDevice", "V3NSEndDevice", "V3ASEndDevice"]
        #expect(Set(compared.keys) == Set(types), "\(compared)")
    }

    @Test("strings are escaped as RFC 8259 asks, slashes and non-ASCII text are written as they are")
    func stringEscaping() throws {
        let text = "quote \" backslash \\ slash / newline \n tab \t return \r bell \u{07} nul \u{00} é 😀 \u{1F}"
        #expect(try streamedJSON(Holder(value: text)) == foundationJSON(Holder(value: text)))
        #expect(try streamedText(Holder(value: "a/b\"c\u{01}")) == #"{"value":"a/b\"c\u0001"}"#)
        #expect(try streamedText(Holder(value: "é")) == "{\"value\":\"é\"}")
    }

    @Test("numbers, booleans, null, arrays and skipped optionals")
    func scalars() throws {
        let value = Scalars(text: "t", number: 3.0, count: -42, small: 255, flag: true, missing: nil, list: [1, 2, 3])
        #expect(try streamedText(value) == #"{"text":"t","number":3,"count":-42,"small":255,"flag":true,"list":[1,2,3]}"#)
        for number in [0.5, -2.25, 1e-7, 52.123456789, 1e300, 0] {
            #expect(try streamedJSON(Holder(value: number)) == foundationJSON(Holder(value: number)), "\(number)")
        }
        #expect(try streamedText(Holder(value: [String?.none, "x"])) == #"{"value":[null,"x"]}"#)
        #expect(try streamedText(Holder(value: [[Int]]([[], [1], [2, 3]]))) == #"{"value":[[],[1],[2,3]]}"#)
        #expect(try streamedText([Holder(value: 1), Holder(value: 2)]) == #"[{"value":1},{"value":2}]"#)
        #expect(try streamedText(["k": Holder(value: true)]) == #"{"k":{"value":true}}"#)
    }

    @Test("a value that encodes nothing is {} inside a body, as with JSONEncoder, and an error at the top")
    func emptyValues() throws {
        #expect(try streamedText(Holder(value: Empty())) == #"{"value":{}}"#)
        #expect(try streamedText([Empty(), Empty()]) == "[{},{}]")
        #expect(try streamedJSON(UnusedSuper()) == foundationJSON(UnusedSuper()))
        #expect(throws: EncodingError.self) { try JSONBodyEncoder().encode(Empty()) }
    }

    @Test("JSONValueEncoder builds the value JSONEncoder's text parses to")
    func valueEncoderMatchesFoundation() throws {
        func same(_ value: some Encodable, _ comment: Comment? = nil) throws {
            #expect(try JSONValueEncoder().encode(value) == foundationJSON(value), comment)
        }
        try same(Scalars(text: "t \" é 😀", number: 3.0, count: -42, small: 255, flag: true, missing: nil, list: [1, 2, 3]))
        for number in [0.5, -2.25, 1e-7, 52.123456789, 1e300, 0] { try same(Holder(value: number), "\(number)") }
        for number: Float in [0.1, 3.4e38, -1.5, 868.1] { try same(Holder(value: number), "\(number)") }
        try same(Holder(value: UInt64.max))
        try same(Holder(value: [String?.none, "x"]))
        try same(Holder(value: [[Int]]([[], [1], [2, 3]])))
        try same([Holder(value: 1), Holder(value: 2)])
        try same(["k": Holder(value: true)])
        try same(Holder(value: Empty()))
        try same([Empty(), Empty()])
        try same(UnusedSuper())
        #expect(throws: EncodingError.self) { try JSONValueEncoder().encode(Empty()) }
        #expect(throws: EncodingError.self) { try JSONValueEncoder().encode(Holder(value: Double.nan)) }
        #expect(throws: EncodingError.self) { try JSONValueEncoder().encode(Holder(value: Float.infinity)) }
    }

    @Test("a number JSON cannot hold, a container written to too late, or a value written twice fails")
    func misuseFails() throws {
        #expect(throws: EncodingError.self) { try JSONBodyEncoder().encode(Holder(value: Double.nan)) }
        #expect(throws: EncodingError.self) { try JSONBodyEncoder().encode(Holder(value: -Double.infinity)) }
        #expect(throws: EncodingError.self) { try JSONBodyEncoder().encode(LateWriter()) }
        #expect(throws: EncodingError.self) { try JSONBodyEncoder().encode(Holder(value: TwiceWriter())) }
    }
}
