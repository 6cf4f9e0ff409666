/// A set of v3 rights as a 64-bit mask over the `Right` enum numbers (all 64 fit: reference/v3-api.md §12).
struct V3Rights: Sendable, Equatable, Hashable {
    var mask: UInt64

    static let none = V3Rights(mask: 0)

    init(mask: UInt64) {
        self.mask = mask
    }

    init(numbers: some Sequence<Int>) {
        var mask: UInt64 = 0
        for number in numbers where (0..<64).contains(number) { mask |= 1 << UInt64(number) }
        self.mask = mask
    }

    var isEmpty: Bool { mask == 0 }
    var numbers: [Int] {
        var result: [Int] = []
        var rest = mask
        while rest != 0 {
            result.append(rest.trailingZeroBitCount)
            rest &= rest - 1
        }
        return result
    }

    func contains(_ number: Int) -> Bool { mask & (1 << UInt64(number)) != 0 }
    func includesAll(_ other: V3Rights) -> Bool { mask & other.mask == other.mask }
    func union(_ other: V3Rights) -> V3Rights { V3Rights(mask: mask | other.mask) }
    func intersection(_ other: V3Rights) -> V3Rights { V3Rights(mask: mask & other.mask) }
    func subtracting(_ other: V3Rights) -> V3Rights { V3Rights(mask: mask & ~other.mask) }
}

/// The rights catalogue: names, numbers, one-level implication and the per-entity "all" sets.
struct V3RightsCatalogue: Sendable {
    let numberByName: [String: Int]
    let nameByNumber: [Int: String]
    let impliedByNumber: [Int: V3Rights]
    let allApplication: V3Rights
    let allGateway: V3Rights
    let allUser: V3Rights
    let allOrganization: V3Rights
    let all: V3Rights
    /// The `Right` enum as the JSON decoder reads it (names, names without `RIGHT_`, numbers).
    private let enumeration: V3EnumType

    init(tables: V3Tables) throws {
        numberByName = tables.rightNumbers
        enumeration = V3EnumType("Right", names: tables.rightNumbers.sorted { $0.value < $1.value }.map { ($0.key, $0.value) }, prefix: "RIGHT")
        var names: [Int: String] = [:]
        for (name, number) in tables.rightNumbers { names[number] = name }
        nameByNumber = names
        var implied: [Int: V3Rights] = [:]
        for (name, list) in tables.impliedRights {
            guard let number = tables.rightNumbers[name] else {
                throw V3TablesError(table: "v3-rights.json", problem: "implied set for unknown right \(name)")
            }
            implied[number] = V3Rights(numbers: list.compactMap { tables.rightNumbers[$0] }).union(V3Rights(numbers: [number]))
        }
        impliedByNumber = implied
        func allOf(_ name: String) throws -> V3Rights {
            guard let number = tables.rightNumbers[name], let set = implied[number] else {
                throw V3TablesError(table: "v3-rights.json", problem: "no implied set for \(name)")
            }
            return set
        }
        allApplication = try allOf("RIGHT_APPLICATION_ALL")
        allGateway = try allOf("RIGHT_GATEWAY_ALL")
        allUser = try allOf("RIGHT_USER_ALL")
        allOrganization = try allOf("RIGHT_ORGANIZATION_ALL")
        all = try allOf("RIGHT_ALL")
    }

    /// `Rights.Implied()`: each right plus its implied set, one level (pkg/ttnpb/rights.go).
    func implied(_ rights: V3Rights) -> V3Rights {
        var result = rights
        var rest = rights.mask
        while rest != 0 {
            if let extra = impliedByNumber[rest.trailingZeroBitCount] { result = result.union(extra) }
            rest &= rest - 1
        }
        return result
    }

    /// Names sorted by enum number, the order the simulator writes right lists in.
    func names(_ rights: V3Rights) -> [String] {
        rights.numbers.compactMap { nameByNumber[$0] }
    }

    func jsonNames(_ rights: V3Rights) -> V3JSON {
        .array(names(rights).map { .string($0) })
    }

    /// Reads one right as the JSON decoder does: the name, the name without `RIGHT_`, or the number
    /// (pkg/ttnpb/rights_json.pb.go `Right_customvalue`, JP `ReadEnum`). `right_invalid` (0) is a valid enum value.
    func number(of value: V3JSON) -> Int? { enumeration.number(of: value) }
}
