import Foundation
import Testing
import V3Client

@Suite struct JSONValueParserTests {
    func parse(_ text: String) throws -> V3JSONValue { try JSONValueParser.parse(Data(text.utf8)) }

    @Test func everyKindOfValue() throws {
        #expect(try parse(#" {"a": [1, -2.5, 3e2, 0], "b": {"c": true, "d": false, "e": null}, "f": "x", "g": {}, "h": []} "#) == .object([
            "a": .array([.number(1), .number(-2.5), .number(300), .number(0)]),
            "b": .object(["c": .bool(true), "d": .bool(false), "e": .null]),
            "f": .string("x"), "g": .object([:]), "h": .array([]),
        ]))
    }

    @Test func stringEscapesAndUnicode() throws {
        #expect(try parse(#""a\"b\\c\/d\n\t\r\b\f""#) == .string("a\"b\\c/d\n\t\r\u{08}\u{0C}"))
        #expect(try parse(#""caf\u00e9 \ud83d\ude00 ü""#) == .string("café 😀 ü"))
    }

    @Test func theSameAsDecodable() throws {
        let text = #"{"ids":{"dev_eui":"0004A30B00000001"},"session":{"last_f_cnt_up":123,"keys":{"f_nwk_s_int_key":{"key":"00"}}},"supports_join":true,"rights":["A","B"]}"#
        #expect(try parse(text) == JSONDecoder().decode(V3JSONValue.self, from: Data(text.utf8)))
    }

    @Test func badDocumentsNameTheOffset() {
        #expect(throws: JSONValueParseError(offset: 5, expected: "a value")) { try parse(#"{"a":}"#) }
        #expect(throws: JSONValueParseError(offset: 3, expected: "the end of the document")) { try parse("{} x") }
        #expect(throws: JSONValueParseError(offset: 1, expected: "a member name")) { try parse("{a:1}") }
        #expect(throws: JSONValueParseError(offset: 4, expected: "the end of a string")) { try parse(#""abc"#) }
        #expect(throws: JSONValueParseError(offset: 3, expected: "`true`")) { try parse("tru") }
        #expect(throws: JSONValueParseError(offset: 3, expected: "a digit after `.`")) { try parse("[1.]") }
        #expect(throws: JSONValueParseError(offset: 7, expected: "a low surrogate")) { try parse(#""\ud83d""#) }
        #expect(throws: JSONValueParseError(offset: 1, expected: "no control character in a string")) { try parse("\"\n\"") }
        #expect(throws: JSONValueParseError(offset: 0, expected: "a value")) { try parse("") }
    }

    /// What `parse` says of a document: an object, or not.
    private func parsesToObject(_ data: Data) -> Bool {
        if case .object = try? JSONValueParser.parse(data) { return true }
        return false
    }

    @Test func isObjectAgreesWithParseOnEveryCutAndChangedByte() {
        let device = Data(#" {"ids":{"device_id":"dev-1","dev_eui":"0004A30B00000001"},"name":"caf\u00e9 \ud83d\ude00 \"q\" \\ \/","session":{"last_f_cnt_up":123,"rate":-1.5e-3,"keys":[{"key":"00"},null,true,false,[]]},"empty":{}} "#.utf8)
        #expect(JSONValueParser.isObject(device))
        var checked = 0
        // Every prefix: a cut answer is not an object.
        for end in 0...device.count {
            let cut = device.prefix(end)
            #expect(JSONValueParser.isObject(cut) == parsesToObject(cut), "cut at \(end)")
            checked += 1
        }
        // Every byte replaced by each of the bytes JSON's grammar turns on.
        for offset in 0..<device.count {
            for byte in Array(#"{}[]":,\u0e-+.5tfn"#.utf8) + [0x01, 0x20, 0xFF] {
                var changed = device
                changed[changed.startIndex + offset] = byte
                #expect(JSONValueParser.isObject(changed) == parsesToObject(changed), "byte \(offset) set to \(byte)")
                checked += 1
            }
        }
        #expect(checked > 3_000)
        for text in ["[]", "\"x\"", "1", "null", "{} {}", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":\"\\ud800\"}", "{\"a\":01}", String(repeating: "[", count: 600)] {
            #expect(!JSONValueParser.isObject(Data(text.utf8)), "\(text)")
        }
    }
}
