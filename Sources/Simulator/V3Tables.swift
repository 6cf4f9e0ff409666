import Foundation
import ReferenceData

/// The reference tables of The Things Stack that drive the v3 simulator's rules, parsed by the simulator's own code.
///
/// Built from the embedded copies in `ReferenceData` (provenance in `Sources/ReferenceData/PROVENANCE.md`) by
/// `V3Tables.reference()`. Every field is a plain value a test may change before handing the tables to
/// `V3Simulator`, which proves a rule comes from the table and not from code (e.g. adding a path to
/// `allowedFieldMaskPaths` makes the simulator accept it).
public struct V3Tables: Sendable {
    /// RPC full name (`/ttn.lorawan.v3.NsEndDeviceRegistry/Set`) → allowed field-mask paths (exact match),
    /// from `v3-fieldmasks.json` (reference/v3-api.md §2.1–§2.2).
    public var allowedFieldMaskPaths: [String: Set<String>]
    /// For the "Set" RPCs: requested path → sub-paths that must be zero, from `v3-fieldmasks-zero.json` (§2.3).
    public var zeroSubPaths: [String: [String: [String]]]
    /// Right name → enum number, from `v3-rights.json` (§12).
    public var rightNumbers: [String: Int]
    /// Pseudo-right name → the rights it implies (itself included), from `v3-rights.json` (§12).
    public var impliedRights: [String: [String]]
    /// IDs the Identity Server refuses to register, from `v3-id-blocklist.json` (§8.3).
    public var idBlocklist: Set<String>
    /// Frequency plans by ID, from `v3-frequency-plans.json` (§13).
    public var frequencyPlans: [String: V3FrequencyPlan]
    /// Every HTTP binding of every RPC, from `lorawan-stack-sdk-js-api-definition.json` (§1).
    public var routes: [V3RouteDefinition]
    /// Bands by ID (PHY versions, default channels, RX2), from `lorawan-bands.json`.
    public var bands: [String: V3SimBand]
    /// Plan channels and RX2 by plan ID, from `lorawan-frequency-plan-channels.json`.
    public var planChannels: [String: V3SimPlanChannels]

    /// Tables from explicit values (tests build variants through `reference()` and mutation instead).
    public init(
        allowedFieldMaskPaths: [String: Set<String>],
        zeroSubPaths: [String: [String: [String]]],
        rightNumbers: [String: Int],
        impliedRights: [String: [String]],
        idBlocklist: Set<String>,
        frequencyPlans: [String: V3FrequencyPlan],
        routes: [V3RouteDefinition],
        bands: [String: V3SimBand] = [:],
        planChannels: [String: V3SimPlanChannels] = [:]
    ) {
        self.bands = bands
        self.planChannels = planChannels
        self.allowedFieldMaskPaths = allowedFieldMaskPaths
        self.zeroSubPaths = zeroSubPaths
        self.rightNumbers = rightNumbers
        self.impliedRights = impliedRights
        self.idBlocklist = idBlocklist
        self.frequencyPlans = frequencyPlans
        self.routes = routes
    }

    /// The tables parsed from the embedded reference data (parsed once per process, then copied).
    public static func reference() throws -> V3Tables {
        try cachedReference.get()
    }

    private static let cachedReference: Result<V3Tables, V3TablesError> = Result(catching: {
        try V3Tables.parse(
            fieldMasks: ReferenceData.fieldMasks,
            fieldMasksZero: ReferenceData.fieldMasksZero,
            rights: ReferenceData.rights,
            blocklist: ReferenceData.idBlocklist,
            frequencyPlans: ReferenceData.frequencyPlans,
            apiDefinition: ReferenceData.apiDefinition,
            bands: ReferenceData.bands,
            planChannels: ReferenceData.frequencyPlanChannels
        )
    }).mapError { $0 as? V3TablesError ?? V3TablesError(table: "reference data", problem: "\($0)") }

    /// Parses the reference documents (JSON text in the formats of `Sources/ReferenceData/Data`).
    public static func parse(
        fieldMasks: String,
        fieldMasksZero: String,
        rights: String,
        blocklist: String,
        frequencyPlans: String,
        apiDefinition: String,
        bands: String = #"{"bands": {}}"#,
        planChannels: String = #"{"plans": {}}"#
    ) throws -> V3Tables {
        func document(_ name: String, _ text: String) throws -> [String: V3JSON] {
            let value: V3JSON
            do {
                value = try V3JSON.parse(text)
            } catch {
                throw V3TablesError(table: name, problem: error.description)
            }
            guard let object = value.objectValue else { throw V3TablesError(table: name, problem: "the document is not a JSON object") }
            return object
        }

        var allowed: [String: Set<String>] = [:]
        for (rpc, paths) in try document("v3-fieldmasks.json", fieldMasks) where rpc.hasPrefix("/") {
            guard let list = paths.arrayValue?.compactMap(\.stringValue) else {
                throw V3TablesError(table: "v3-fieldmasks.json", problem: "\(rpc) is not a list of strings")
            }
            allowed[rpc] = Set(list)
        }

        var zero: [String: [String: [String]]] = [:]
        for (rpc, rules) in try document("v3-fieldmasks-zero.json", fieldMasksZero) where rpc.hasPrefix("/") {
            guard let rules = rules.objectValue else {
                throw V3TablesError(table: "v3-fieldmasks-zero.json", problem: "\(rpc) is not an object")
            }
            var entry: [String: [String]] = [:]
            for (path, subPaths) in rules {
                entry[path] = subPaths.arrayValue?.compactMap(\.stringValue) ?? []
            }
            zero[rpc] = entry
        }

        let rightsDocument = try document("v3-rights.json", rights)
        var numbers: [String: Int] = [:]
        for item in rightsDocument["rights"]?.arrayValue ?? [] {
            guard let name = item[path: "name"]?.stringValue, let number = item[path: "number"]?.numberValue else {
                throw V3TablesError(table: "v3-rights.json", problem: "a right without name or number")
            }
            guard (0..<64).contains(Int(number)) else {
                throw V3TablesError(table: "v3-rights.json", problem: "right \(name) has number \(number) outside 0...63")
            }
            numbers[name] = Int(number)
        }
        if numbers.isEmpty { throw V3TablesError(table: "v3-rights.json", problem: "no rights listed") }
        var implied: [String: [String]] = [:]
        for (name, list) in rightsDocument["implied"]?.objectValue ?? [:] {
            implied[name] = list.arrayValue?.compactMap(\.stringValue) ?? []
        }

        let blocked = Set((try document("v3-id-blocklist.json", blocklist)["ids"]?.arrayValue ?? []).compactMap(\.stringValue))

        var plans: [String: V3FrequencyPlan] = [:]
        for item in try document("v3-frequency-plans.json", frequencyPlans)["plans"]?.arrayValue ?? [] {
            guard let id = item[path: "id"]?.stringValue else {
                throw V3TablesError(table: "v3-frequency-plans.json", problem: "a plan without id")
            }
            plans[id] = V3FrequencyPlan(
                id: id,
                bandID: item[path: "band_id"]?.stringValue ?? "",
                baseID: item[path: "base_id"]?.stringValue,
                name: item[path: "name"]?.stringValue ?? "",
                forGateways: item[path: "gateways"]?.boolValue ?? false
            )
        }

        var routes: [V3RouteDefinition] = []
        let definitions = try document("lorawan-stack-sdk-js-api-definition.json", apiDefinition)
        for service in definitions.keys.sorted() {
            guard let rpcs = definitions[service]?.objectValue else { continue }
            for rpc in rpcs.keys.sorted() {
                for binding in rpcs[rpc]?[path: "http"]?.arrayValue ?? [] {
                    guard let method = binding[path: "method"]?.stringValue, !method.isEmpty,
                          let pattern = binding[path: "pattern"]?.stringValue, !pattern.isEmpty
                    else { continue }
                    routes.append(V3RouteDefinition(
                        service: service,
                        rpc: rpc,
                        method: method.uppercased(),
                        pattern: pattern,
                        hasBody: binding[path: "body"]?.stringValue != nil
                    ))
                }
            }
        }
        let radio = try parseBands(bands: bands, planChannels: planChannels)
        return V3Tables(
            allowedFieldMaskPaths: allowed,
            zeroSubPaths: zero,
            rightNumbers: numbers,
            impliedRights: implied,
            idBlocklist: blocked,
            frequencyPlans: plans,
            routes: routes,
            bands: radio.bands,
            planChannels: radio.plans
        )
    }
}

/// A reference table that could not be read; names the table and what is wrong with it.
public struct V3TablesError: Error, Sendable, CustomStringConvertible {
    /// The table's file name.
    public let table: String
    /// What is wrong.
    public let problem: String
    public var description: String {
        "reference table \(table) is unusable: \(problem); regenerate Sources/ReferenceData with scripts/embed-reference-data.py"
    }
}

/// One frequency plan of `frequency-plans.yml`.
public struct V3FrequencyPlan: Sendable, Equatable {
    public var id: String
    public var bandID: String
    public var baseID: String?
    public var name: String
    /// Whether the plan is offered for gateways (`gateways: true`).
    public var forGateways: Bool

    public init(id: String, bandID: String, baseID: String?, name: String, forGateways: Bool) {
        self.id = id
        self.bandID = bandID
        self.baseID = baseID
        self.name = name
        self.forGateways = forGateways
    }
}

/// One HTTP binding of an RPC: `PUT /ns/applications/{end_device.ids.application_ids.application_id}/devices/{…}`.
public struct V3RouteDefinition: Sendable, Equatable {
    /// Service name without package (`NsEndDeviceRegistry`).
    public var service: String
    /// RPC name (`Set`).
    public var rpc: String
    /// Upper-case HTTP method.
    public var method: String
    /// Path pattern without the `/api/v3` prefix.
    public var pattern: String
    /// Whether the request has a body (`body: "*"`).
    public var hasBody: Bool

    public init(service: String, rpc: String, method: String, pattern: String, hasBody: Bool) {
        self.service = service
        self.rpc = rpc
        self.method = method
        self.pattern = pattern
        self.hasBody = hasBody
    }

    /// `/ttn.lorawan.v3.<service>/<rpc>`, the key of the field-mask tables.
    public var fullMethod: String { "/ttn.lorawan.v3.\(service)/\(rpc)" }
}
