// swift-tools-version:6.2
import PackageDescription

// Five services, each its own executable and container; the code they share
// lives in small library targets under Shared/.

// The release build that ships (scripts/lib/release.sh, for the images and
// scripts/bench) sets these: the ICU data
// trimmed to what the services use, linked in place of Foundation's full copy
// (Shared/KnotICUData). Unset, that target is empty.
let icuData: [CSetting] = {
    let environment = Context.environment
    guard let file = environment["KNOT_ICU_DATA"], let symbol = environment["KNOT_ICU_DATA_SYMBOL"],
          !file.contains("\""), symbol.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
    else { return [] }
    return [.define("KNOT_ICU_DATA_FILE", to: "\"\(file)\""), .define("KNOT_ICU_DATA_SYMBOL", to: symbol)]
}()
// ... and this, to link them with lld, their relative
// relocations packed (DT_RELR, glibc 2.36+, which the images' Debian bookworm
// has): gold's 3.4 MB table of them (knot-edge) was read whole by the loader
// at every start and stayed resident. With it the edge maps 7 MiB less
// (its resident code just after start: 41.5 -> 34.4 MiB). Unset (every other
// build), the toolchain's default.
let shippedLink: [LinkerSetting] = Context.environment["KNOT_RELEASE_LINK"] == "1"
    ? [.unsafeFlags(["-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs"])] : []
let package = Package(
    name: "knot",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "knot-identity", targets: ["KnotIdentity"]),
        .executable(name: "knot-users", targets: ["KnotUsers"]),
        .executable(name: "knot-launcher", targets: ["KnotLauncher"]),
        .executable(name: "knot-files", targets: ["KnotFiles"]),
        .executable(name: "knot-edge", targets: ["KnotEdge"]),
        // The command-line client (Tools/Knotctl); talks only to the public API.
        .executable(name: "knotctl", targets: ["Knotctl"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
    ],
    targets: [
        // MARK: Shared libraries
        .target(name: "KnotConfig", path: "Shared/KnotConfig"),
        .target(name: "KnotICUData", path: "Shared/KnotICUData", cSettings: icuData),
        .target(name: "KnotLinuxCalls", path: "Shared/KnotLinuxCalls"),
        .target(
            name: "KnotLogging",
            dependencies: [.product(name: "Logging", package: "swift-log")],
            path: "Shared/KnotLogging"
        ),
        .target(
            name: "KnotErrors",
            dependencies: [.product(name: "Hummingbird", package: "hummingbird")],
            path: "Shared/KnotErrors"
        ),
        .target(
            name: "KnotModels",
            path: "Shared/KnotModels"
        ),
        .target(
            name: "KnotDatabase",
            dependencies: [
                "KnotConfig",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Shared/KnotDatabase"
        ),
        .target(
            name: "KnotAuth",
            dependencies: [
                "KnotModels",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Shared/KnotAuth"
        ),
        .target(
            name: "KnotInternalClient",
            dependencies: [
                "KnotAuth", "KnotErrors", "KnotLogging", "KnotModels",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Shared/KnotInternalClient"
        ),
        .target(
            name: "KnotKubernetes",
            dependencies: [
                "KnotModels",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Shared/KnotKubernetes"
        ),
        .target(
            name: "KnotRuntime",
            dependencies: [
                "KnotModels", "KnotKubernetes",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Shared/KnotRuntime"
        ),
        .target(
            name: "KnotServiceKit",
            dependencies: [
                "KnotICUData", "KnotConfig", "KnotLogging", "KnotErrors", "KnotDatabase", "KnotAuth",
                "KnotInternalClient", "KnotModels",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Shared/KnotServiceKit"
        ),

        // MARK: Services
        .executableTarget(
            name: "KnotIdentity",
            dependencies: [
                "KnotServiceKit",
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            path: "Services/Identity",
            exclude: ["Containerfile"]
        ),
        .executableTarget(
            name: "KnotUsers",
            dependencies: [
                "KnotServiceKit", "KnotRuntime",
                // The admission webhook's own HTTPS listener.
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Services/Users",
            exclude: ["Containerfile"]
        ),
        .executableTarget(
            name: "KnotLauncher",
            dependencies: [
                "KnotServiceKit", "KnotRuntime",
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Services/Launcher",
            exclude: ["Containerfile"],
            resources: [.copy("BuiltinTemplates")]
        ),
        .executableTarget(
            name: "KnotFiles",
            dependencies: ["KnotServiceKit", "KnotLinuxCalls"],
            path: "Services/Files",
            exclude: ["Containerfile"]
        ),
        .executableTarget(
            name: "KnotEdge",
            dependencies: [
                "KnotServiceKit",
                // The data path is SwiftNIO itself; Hummingbird serves only the redirect and operations ports.
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            path: "Services/Edge",
            exclude: ["Containerfile"]
        ),

        // MARK: Tools
        .executableTarget(
            name: "Knotctl",
            dependencies: [
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tools/Knotctl"
        ),

        // MARK: Tests

        // Benchmarks run by scripts/bench; never shipped.
        .executableTarget(
            name: "KnotKubeBench",
            dependencies: ["KnotKubernetes", "KnotRuntime", .product(name: "Logging", package: "swift-log")],
            path: "Tests/Benchmarks/KubeBench"
        ),
        .executableTarget(
            name: "KnotBenchBareProxy",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            path: "Tests/Benchmarks/BareProxy",
            // Handlers and closures confined to one event loop, as NIO's Swift 5 examples are.
            swiftSettings: [.swiftLanguageMode(.v5)]
        ),
        .testTarget(
            name: "KnotSharedTests",
            dependencies: [
                "KnotConfig", "KnotAuth", "KnotDatabase", "KnotKubernetes", "KnotRuntime", "KnotServiceKit",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            path: "Tests/KnotSharedTests"
        ),
        .testTarget(
            name: "KnotServicesTests",
            dependencies: [
                "KnotIdentity", "KnotUsers", "KnotLauncher", "KnotFiles", "KnotEdge", "KnotLinuxCalls",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            path: "Tests/KnotServicesTests"
        ),
        .testTarget(name: "KnotctlTests", dependencies: ["Knotctl", "KnotRuntime", "KnotKubernetes"], path: "Tests/KnotctlTests"),
    ]
)

for target in package.targets where target.type == .executable {
    target.linkerSettings = (target.linkerSettings ?? []) + shippedLink
}
