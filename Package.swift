// swift-tools-version: 6.0
// ttn-migrate: moves a The Things Network v2 estate to The Things Stack v3.
// Module layout follows DESIGN.md §5: one library module per pipeline stage, a thin executable.
import PackageDescription

let package = Package(
    name: "ttn-migrate",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "ttn-migrate", targets: ["ttn-migrate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
    ],
    targets: [
        // libcurl through a shim of non-variadic wrappers (swift-notes.md "libcurl from Swift").
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(name: "HTTP", dependencies: ["CCurl", .product(name: "Logging", package: "swift-log")]),
        // posix_spawn with every descriptor above 2 closed in the child (`Simulator/SpawnedProcess.swift`).
        .target(name: "CSpawn"),
        // Reference tables (raw data, provenance in Sources/ReferenceData/PROVENANCE.md), shared by the
        // client's V3Model and the simulators, each parsing them with its own code (DESIGN.md §5).
        .target(name: "ReferenceData", exclude: ["PROVENANCE.md", "Data"]),
        // Bounded error text, shared by the models, the clients and the commands.
        .target(name: "Diagnostics"),
        .target(name: "V2Model", dependencies: ["Diagnostics"]),
        .target(name: "V2Client", dependencies: ["HTTP", "V2Model", .product(name: "Logging", package: "swift-log")]),
        .target(name: "V3Model", dependencies: ["ReferenceData"]),
        .target(name: "V3Client", dependencies: ["HTTP", "V3Model", "Diagnostics", .product(name: "Logging", package: "swift-log")]),
        .target(name: "Mapping", dependencies: ["V2Model", "V3Model"]),
        .target(name: "Plan", dependencies: ["Mapping", "V2Model", "V3Model"]),
        .target(
            name: "Journal",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift")]
        ),
        .target(
            name: "Executor",
            dependencies: ["Plan", "Journal", "V3Client", "V3Model", "HTTP", .product(name: "Logging", package: "swift-log")]
        ),
        .target(name: "Cutover", dependencies: ["Plan", "Mapping", "Journal", "Executor", "V2Model", "V2Client", "V3Model", "V3Client", "HTTP"]),
        .target(name: "Report", dependencies: ["Plan", "Mapping", "Journal", "V3Model", "V3Client", "HTTP"]),
        .target(
            name: "Simulator",
            dependencies: [
                "ReferenceData", "CSpawn", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"), .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // The commands as a library, so tests run them without a process (SwiftPM's style).
        .target(
            name: "TTNMigrateCLI",
            dependencies: [
                "HTTP", "V2Model", "V2Client", "V3Model", "V3Client", "Mapping", "Plan", "Journal",
                "Executor", "Report", "Cutover", "Simulator", "Diagnostics",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .executableTarget(name: "ttn-migrate", dependencies: ["TTNMigrateCLI"]),

        .testTarget(
            name: "HTTPTests", dependencies: ["HTTP", "CCurl", "Simulator"]),
        .testTarget(name: "V2Tests", dependencies: ["V2Model", "V2Client", "HTTP", "Simulator"]),
        .testTarget(name: "V3ModelTests", dependencies: ["V3Model", "ReferenceData"]),
        .testTarget(name: "MappingTests", dependencies: ["Mapping", "V2Model", "V3Model"]),
        .testTarget(name: "PlanTests", dependencies: ["Plan", "Mapping", "V2Model", "V3Model"], exclude: ["Golden"]),
        .testTarget(name: "JournalTests", dependencies: ["Journal", "Plan"]),
        .testTarget(
            name: "ExecutorTests",
            dependencies: ["Executor", "V3Client", "HTTP", "Simulator", "Plan", "Mapping", "V2Model", "V3Model"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Executor", "Plan", "Mapping", "V3Model", "V3Client", "V2Model"]),
        .testTarget(
            name: "SimulatorTests",
            dependencies: [
                "Simulator", "HTTP", "ReferenceData", .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: ["TTNMigrateCLI", "Simulator", "HTTP", "V2Model", "V3Model", "Journal", "Executor", "Plan", "Cutover"],
            resources: [.copy("Golden")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
