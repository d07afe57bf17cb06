// swift-tools-version:5.9
// WardKit: the generated Swift bindings of ward-core plus a Swift-friendly async/await layer.
//
// `cargo xtask ios-package` (on a Mac with Xcode) builds `WardCoreFFI.xcframework` from the Rust
// core for device and simulator and copies the generated `ward_core.swift` into
// Sources/WardCore; neither is committed. The SwiftUI app (WardApp/, project.yml) depends on
// the WardKit library product.
import PackageDescription

let package = Package(
    name: "WardKit",
    platforms: [.iOS(.v16)],
    products: [
        .library(name: "WardKit", targets: ["WardKit"]),
    ],
    targets: [
        // The Rust core as a static library per platform, with the uniffi C header and
        // module map (module name `ward_coreFFI`, which the generated Swift imports).
        .binaryTarget(name: "ward_coreFFI", path: "WardCoreFFI.xcframework"),
        // The uniffi-generated Swift (ward_core.swift), copied here by xtask.
        .target(name: "WardCore", dependencies: ["ward_coreFFI"], path: "Sources/WardCore"),
        .target(name: "WardKit", dependencies: ["WardCore"], path: "Sources/WardKit"),
    ]
)
