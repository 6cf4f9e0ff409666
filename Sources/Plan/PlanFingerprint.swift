import Foundation
import Mapping

/// A digest of everything a plan is made from, so a run can tell that the plan a journal carried out is the one
/// it would make again (`migrations/0003_plan_fingerprint.sql`).
///
/// The inputs: the bytes of the frozen v2 snapshot, the mapping options (every field, in a canonical JSON form
/// with sorted keys, so a changed configuration value changes the fingerprint), the `--devices` selection and the
/// tool version (whose mapping rules and reference data make the plan). The digest is two independent 64-bit
/// FNV-1a lanes over those bytes: it detects changes, it is not a secret and guards against no adversary (the
/// journal and the snapshot beside it are the operator's own 0600 files).
public struct PlanFingerprint: Hashable, Sendable, CustomStringConvertible {
    /// 32 lower-case hex digits.
    public let text: String

    public init(snapshot: Data, options: MappingOptions, devices: [String]?, toolVersion: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var lanes = Lanes()
        lanes.add(Data("ttn-migrate plan 1\0\(toolVersion)\0".utf8))
        lanes.add(snapshot)
        lanes.add(Data("\0".utf8))
        lanes.add(try encoder.encode(options))
        lanes.add(Data("\0".utf8))
        lanes.add(try encoder.encode(devices.map { $0.sorted() }))
        text = String(lanes.first, radix: 16).leftPadded(to: 16) + String(lanes.second, radix: 16).leftPadded(to: 16)
    }

    public var description: String { text }

    /// FNV-1a 64 with the standard offset basis, and a second lane with another basis that also mixes in the
    /// byte's position, so a change that cancels out in one lane does not in the other.
    struct Lanes {
        var first: UInt64 = 0xcbf2_9ce4_8422_2325
        var second: UInt64 = 0x6c62_272e_07bb_0142
        var count: UInt64 = 0
        static let prime: UInt64 = 0x0000_0100_0000_01b3

        mutating func add(_ data: Data) {
            var first = self.first, second = self.second, count = self.count
            data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
                for byte in bytes {
                    first = (first ^ UInt64(byte)) &* Self.prime
                    second = (second ^ (UInt64(byte) &+ count)) &* Self.prime
                    count &+= 1
                }
            }
            self.first = first
            self.second = second
            self.count = count
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
