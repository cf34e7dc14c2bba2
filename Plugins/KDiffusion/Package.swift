// swift-tools-version:6.0
// A dream plugin, built on its own (swift build -c release in this folder → .build/release/libkdiffusion.so)
// and loaded by dream at run time. It sees dream only through the C header of the plugin ABI.
import PackageDescription

let package = Package(
    name: "KDiffusion",
    products: [.library(name: "kdiffusion", type: .dynamic, targets: ["KDiffusion"])],
    targets: [
        // dream's dream_plugin.h, used in place (no copy): see Sources/DreamPluginABI/module.modulemap.
        .systemLibrary(name: "DreamPluginABI", path: "Sources/DreamPluginABI"),
        .target(name: "KDiffusion", dependencies: ["DreamPluginABI"]),
    ],
    swiftLanguageModes: [.v5]
)
