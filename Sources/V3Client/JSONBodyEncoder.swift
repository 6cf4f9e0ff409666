import Foundation

/// Encodes a request body straight to JSON bytes, keys in the order the value encodes them.
///
/// Foundation's `JSONEncoder` builds a tree of boxed values, casts every value to look for `Date`, `URL` and
/// the like, and then serializes the tree; at 64 requests in flight that was a sixth of the client's CPU
/// (issue 12's profile). This writer streams instead: every `encode` appends to one buffer. The output is
/// the same JSON value as `JSONEncoder`'s with `.withoutEscapingSlashes`; only the key order differs
/// (the encoding order, not the sorted order), which JSON does not give a meaning to.
///
/// Streaming needs each container to be finished before a container that encloses it is written to,
/// which is how synthesized and hand-written `encode(to:)` use them. A container written to after that
/// makes `encode(_:)` throw rather than produce misplaced JSON. `Date`, `Data` and `URL` get no special
/// forms: the v3 model encodes its timestamps and bytes as strings itself.
public struct JSONBodyEncoder: Sendable {
    public init() {}

    /// The JSON text of `value`.
    public func encode<T: Encodable>(_ value: T) throws -> Data {
        let writer = JSONStreamWriter()
        try value.encode(to: JSONSlotEncoder(writer: writer, depth: 0))
        return try writer.finish()
    }
}

/// The buffer and the stack of open containers of one `JSONBodyEncoder.encode(_:)`.
///
/// One encode uses it, on one thread, and no access to its state overlaps another, so the runtime's
/// exclusivity checks are turned off for it: they were a third of the encoder's time.
final class JSONStreamWriter {
    private struct OpenContainer {
        let id: Int
        let isObject: Bool
        var count = 0
    }

    @exclusivity(unchecked) private(set) var bytes: [UInt8] = []
    @exclusivity(unchecked) private var open: [OpenContainer] = []
    @exclusivity(unchecked) private var lastID = 0
    /// Whether a value slot is waiting for its value: the top level, or a member just begun. A keyed or
    /// unkeyed scalar is written with its member and leaves it set; only the slot encoders clear it, so it is
    /// read together with the depth, and an unused `superEncoder` slot is tracked by `unfilledSlot`.
    @exclusivity(unchecked) private var slotIsOpen = true
    /// Depth of a slot handed out by `superEncoder` that nothing has filled yet.
    @exclusivity(unchecked) private var unfilledSlot: Int?
    @exclusivity(unchecked) private var failure: EncodingError?
    /// Whether `failure` is set: tested before every write, where reading the optional error copied it.
    @exclusivity(unchecked) private var failed = false

    init() { bytes.reserveCapacity(1024) }

    /// Whether a container of this depth and id is the innermost one that may still be written to; it
    /// closes the containers inside it, which are finished once their parent is written to again.
    func enter(depth: Int, id: Int) -> Bool {
        guard !failed else { return false }
        guard depth < open.count, open[depth].id == id else {
            fail("a JSON container was written to after it was finished (its enclosing container had been written to)")
            return false
        }
        close(downTo: depth + 1)
        return true
    }

    /// Starts the next member of the open container at `depth`: the comma, and the key in an object.
    func beginMember(depth: Int, key: String?) {
        if open[depth].count > 0 { bytes.append(UInt8(ascii: ",")) }
        open[depth].count += 1
        if let key {
            appendString(key)
            bytes.append(UInt8(ascii: ":"))
        }
        slotIsOpen = true
    }

    /// Whether a value may be written into the slot at `depth` (the top level, or a member just begun).
    func fillSlot(depth: Int) -> Bool {
        guard !failed else { return false }
        guard slotIsOpen, open.count == depth else {
            fail("a value was encoded twice into one JSON slot, or after its container was left")
            return false
        }
        slotIsOpen = false
        if unfilledSlot == depth { unfilledSlot = nil }
        return true
    }

    /// Marks the slot at `depth` as handed out; it becomes `{}` if nothing fills it.
    func handOutSlot(depth: Int) { unfilledSlot = depth }

    /// Opens an object or array in the slot at `depth`; its id guards later writes.
    func push(isObject: Bool, depth: Int) -> Int {
        guard fillSlot(depth: depth) else { return -1 }
        lastID += 1
        open.append(OpenContainer(id: lastID, isObject: isObject))
        bytes.append(isObject ? UInt8(ascii: "{") : UInt8(ascii: "["))
        return lastID
    }

    func fail(_ reason: String) {
        if !failed {
            failed = true
            failure = EncodingError.invalidValue(reason, EncodingError.Context(codingPath: [], debugDescription: reason))
        }
    }

    func finish() throws -> Data {
        close(downTo: 0)
        if let failure { throw failure }
        guard !bytes.isEmpty else {
            throw EncodingError.invalidValue(
                "", EncodingError.Context(codingPath: [], debugDescription: "the top-level value encoded nothing"))
        }
        return Data(bytes)
    }

    /// Closes the containers deeper than `depth`, after giving a handed-out slot left empty `{}`.
    private func close(downTo depth: Int) {
        if unfilledSlot != nil { fillEmptySlot(depth: open.count) }
        while open.count > depth {
            bytes.append(open.removeLast().isObject ? UInt8(ascii: "}") : UInt8(ascii: "]"))
        }
    }

    /// Writes `{}` into the slot at `depth` if it is still waiting for a value, as `JSONEncoder` does for
    /// a value that encodes nothing.
    func fillEmptySlot(depth: Int) {
        guard slotIsOpen, open.count == depth else { return }
        bytes.append(contentsOf: [UInt8(ascii: "{"), UInt8(ascii: "}")])
        slotIsOpen = false
        unfilledSlot = nil
    }

    // MARK: Scalars (`JSONText`)

    func appendString(_ string: String) { JSONText.appendString(string, to: &bytes) }

    func appendInteger<T: BinaryInteger>(_ value: T) { JSONText.appendInteger(value, to: &bytes) }

    /// A finite number as `JSONEncoder` writes it: `3` for 3.0, `0.5`, `1e-07`; NaN and infinities fail.
    func appendFloatingPoint<T: BinaryFloatingPoint & LosslessStringConvertible>(_ value: T) {
        if !JSONText.appendFloatingPoint(value, to: &bytes) { fail("\(value) is not a JSON number") }
    }

    func appendLiteral(_ literal: StaticString) { JSONText.appendLiteral(literal, to: &bytes) }
}

/// The `Encoder` of one value slot: the top level, an object member or an array element.
struct JSONSlotEncoder: Encoder {
    let writer: JSONStreamWriter
    let depth: Int

    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(JSONKeyedContainer<Key>(writer: writer, depth: depth, id: writer.push(isObject: true, depth: depth)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        JSONUnkeyedContainer(writer: writer, depth: depth, id: writer.push(isObject: false, depth: depth))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        JSONSingleValueContainer(writer: writer, depth: depth)
    }
}

private extension JSONStreamWriter {
    /// Encodes a nested value into the slot at `depth` with its own slot encoder; shared by the containers.
    func write(_ value: some Encodable, depth: Int) throws {
        try value.encode(to: JSONSlotEncoder(writer: self, depth: depth))
        fillEmptySlot(depth: depth)
    }
}

struct JSONKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let writer: JSONStreamWriter
    let depth: Int
    let id: Int

    var codingPath: [any CodingKey] { [] }

    /// Begins the member `key`; false once the encoding has failed.
    private func member(_ key: Key) -> Bool {
        guard writer.enter(depth: depth, id: id) else { return false }
        writer.beginMember(depth: depth, key: key.stringValue)
        return true
    }

    mutating func encodeNil(forKey key: Key) throws { if member(key) { writer.appendLiteral("null") } }
    mutating func encode(_ value: Bool, forKey key: Key) throws { if member(key) { writer.appendLiteral(value ? "true" : "false") } }
    mutating func encode(_ value: String, forKey key: Key) throws { if member(key) { writer.appendString(value) } }
    mutating func encode(_ value: Double, forKey key: Key) throws { if member(key) { writer.appendFloatingPoint(value) } }
    mutating func encode(_ value: Float, forKey key: Key) throws { if member(key) { writer.appendFloatingPoint(value) } }
    mutating func encode(_ value: Int, forKey key: Key) throws { if member(key) { writer.appendInteger(value) } }
    mutating func encode(_ value: Int8, forKey key: Key) throws { if member(key) { writer.appendInteger(value) } }
    mutating func encode(_ value: Int16, forKey key: Key) throws { if member(key) { writer.appendInteger(value) } }
    mutating func encode(_ value: Int32, forKey key: Key) throws { if member(key) { writer.appendInteger(value) } }
    mutating func encode(_ value: Int64, forKey key: Key) throws { if member(key) { writer.appendInteger(value) } }
    mutating func encode(_ value: UInt, forKey key: Key) throws { if member(key) { writer.appendInteger(value) } }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { if member(key) { writer.appendInteger(value) } }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { if member(key) { writer.appendInteger(value) } }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { if member(key) { writer.appendInteger(value) } }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { if member(key) { writer.appendInteger(value) } }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        guard member(key) else { return }
        try writer.write(value, depth: depth + 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let id = member(key) ? writer.push(isObject: true, depth: depth + 1) : -1
        return KeyedEncodingContainer(JSONKeyedContainer<NestedKey>(writer: writer, depth: depth + 1, id: id))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let id = member(key) ? writer.push(isObject: false, depth: depth + 1) : -1
        return JSONUnkeyedContainer(writer: writer, depth: depth + 1, id: id)
    }

    mutating func superEncoder() -> any Encoder { superEncoder(named: "super") }
    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key.stringValue) }

    private func superEncoder(named name: String) -> any Encoder {
        if writer.enter(depth: depth, id: id) {
            writer.beginMember(depth: depth, key: name)
            writer.handOutSlot(depth: depth + 1)
        }
        return JSONSlotEncoder(writer: writer, depth: depth + 1)
    }
}

struct JSONUnkeyedContainer: UnkeyedEncodingContainer {
    let writer: JSONStreamWriter
    let depth: Int
    let id: Int
    private(set) var count = 0

    init(writer: JSONStreamWriter, depth: Int, id: Int) {
        self.writer = writer
        self.depth = depth
        self.id = id
    }

    var codingPath: [any CodingKey] { [] }

    /// Begins the next element; false once the encoding has failed.
    private mutating func element() -> Bool {
        guard writer.enter(depth: depth, id: id) else { return false }
        writer.beginMember(depth: depth, key: nil)
        count += 1
        return true
    }

    mutating func encodeNil() throws { if element() { writer.appendLiteral("null") } }
    mutating func encode(_ value: Bool) throws { if element() { writer.appendLiteral(value ? "true" : "false") } }
    mutating func encode(_ value: String) throws { if element() { writer.appendString(value) } }
    mutating func encode(_ value: Double) throws { if element() { writer.appendFloatingPoint(value) } }
    mutating func encode(_ value: Float) throws { if element() { writer.appendFloatingPoint(value) } }
    mutating func encode(_ value: Int) throws { if element() { writer.appendInteger(value) } }
    mutating func encode(_ value: Int8) throws { if element() { writer.appendInteger(value) } }
    mutating func encode(_ value: Int16) throws { if element() { writer.appendInteger(value) } }
    mutating func encode(_ value: Int32) throws { if element() { writer.appendInteger(value) } }
    mutating func encode(_ value: Int64) throws { if element() { writer.appendInteger(value) } }
    mutating func encode(_ value: UInt) throws { if element() { writer.appendInteger(value) } }
    mutating func encode(_ value: UInt8) throws { if element() { writer.appendInteger(value) } }
    mutating func encode(_ value: UInt16) throws { if element() { writer.appendInteger(value) } }
    mutating func encode(_ value: UInt32) throws { if element() { writer.appendInteger(value) } }
    mutating func encode(_ value: UInt64) throws { if element() { writer.appendInteger(value) } }

    mutating func encode<T: Encodable>(_ value: T) throws {
        guard element() else { return }
        try writer.write(value, depth: depth + 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let id = element() ? writer.push(isObject: true, depth: depth + 1) : -1
        return KeyedEncodingContainer(JSONKeyedContainer<NestedKey>(writer: writer, depth: depth + 1, id: id))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let id = element() ? writer.push(isObject: false, depth: depth + 1) : -1
        return JSONUnkeyedContainer(writer: writer, depth: depth + 1, id: id)
    }

    mutating func superEncoder() -> any Encoder {
        if element() { writer.handOutSlot(depth: depth + 1) }
        return JSONSlotEncoder(writer: writer, depth: depth + 1)
    }
}

struct JSONSingleValueContainer: SingleValueEncodingContainer {
    let writer: JSONStreamWriter
    let depth: Int

    var codingPath: [any CodingKey] { [] }

    private func slot() -> Bool { writer.fillSlot(depth: depth) }

    mutating func encodeNil() throws { if slot() { writer.appendLiteral("null") } }
    mutating func encode(_ value: Bool) throws { if slot() { writer.appendLiteral(value ? "true" : "false") } }
    mutating func encode(_ value: String) throws { if slot() { writer.appendString(value) } }
    mutating func encode(_ value: Double) throws { if slot() { writer.appendFloatingPoint(value) } }
    mutating func encode(_ value: Float) throws { if slot() { writer.appendFloatingPoint(value) } }
    mutating func encode(_ value: Int) throws { if slot() { writer.appendInteger(value) } }
    mutating func encode(_ value: Int8) throws { if slot() { writer.appendInteger(value) } }
    mutating func encode(_ value: Int16) throws { if slot() { writer.appendInteger(value) } }
    mutating func encode(_ value: Int32) throws { if slot() { writer.appendInteger(value) } }
    mutating func encode(_ value: Int64) throws { if slot() { writer.appendInteger(value) } }
    mutating func encode(_ value: UInt) throws { if slot() { writer.appendInteger(value) } }
    mutating func encode(_ value: UInt8) throws { if slot() { writer.appendInteger(value) } }
    mutating func encode(_ value: UInt16) throws { if slot() { writer.appendInteger(value) } }
    mutating func encode(_ value: UInt32) throws { if slot() { writer.appendInteger(value) } }
    mutating func encode(_ value: UInt64) throws { if slot() { writer.appendInteger(value) } }

    mutating func encode<T: Encodable>(_ value: T) throws {
        try writer.write(value, depth: depth)
    }
}
