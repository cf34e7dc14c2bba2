// swift-tools-version:6.0
// Text-to-3D for dream: a radiance field distilled from a model's score (DreamFusion's SDS), as a plugin
// built on its own (swift build -c release in this folder → .build/release/libnerf.so) and loaded by dream
// at run time. It sees dream only through the C header of the plugin ABI.
import PackageDescription

let package = Package(
    name: "NeRF",
    products: [.library(name: "nerf", type: .dynamic, targets: ["NeRF"])],
    targets: [
        // dream's dream_plugin.h, used in place (no copy): see Sources/DreamPluginABI/module.modulemap.
        .systemLibrary(name: "DreamPluginABI", path: "Sources/DreamPluginABI"),
        .target(name: "NeRF", dependencies: ["DreamPluginABI"], swiftSettings: [.unsafeFlags(["-Ounchecked"])]),
        .testTarget(name: "NeRFTests", dependencies: ["NeRF"]),
    ],
    swiftLanguageModes: [.v5]
)
