// swift-tools-version:6.0
import PackageDescription

// Every Swift target is compiled for x86-64-v3 (AVX2, FMA: the machines dream targets have them), so that
// 8-lane SIMD code uses whole vector registers; all targets alike, so SIMD values cross module lines safely.
let cpu: [SwiftSetting] = [.unsafeFlags(["-Xcc", "-march=x86-64-v3"])]
// Numeric targets are built with -Ounchecked in release: bounds are checked at op boundaries, not per element.
let numeric: [SwiftSetting] = cpu + [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "dream",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dream", targets: ["dream"]),
        .executable(name: "dream-bench", targets: ["DreamBench"]),
        .executable(name: "dream-train", targets: ["DreamTrain"]),
        .executable(name: "dream-fuzz", targets: ["dream-fuzz"]),
    ],
    dependencies: [],
    targets: [
        // System libraries, found with pkg-config.
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng",
                       providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CEdit", pkgConfig: "libedit",
                       providers: [.apt(["libedit-dev"])]),

        // Layer 1: the tensor engine (tensors, ops, autodiff, optimisers, random numbers).
        .target(name: "DreamTensor", dependencies: ["COpenBLAS"], swiftSettings: numeric),
        // Layer 1b: file formats of the engine (safetensors, PNG).
        .target(name: "DreamIO", dependencies: ["DreamTensor", "CPNG"], swiftSettings: numeric),

        // Layer 2: models of the Stable Diffusion family (tokenizer, text encoder, UNet, VAE).
        .target(name: "DreamModels", dependencies: ["DreamTensor", "DreamIO"], swiftSettings: numeric),

        // Layer 3: diffusion (noise schedules, samplers, the text-to-image pipeline).
        .target(name: "DreamDiffusion", dependencies: ["DreamModels", "DreamTensor"], swiftSettings: numeric),

        // The built-in world: procedural scenes, captions, reference concepts, the renderer.
        .target(name: "DreamWorld", dependencies: ["DreamTensor"], swiftSettings: numeric),

        // Shipped files: the built-in model and the oracle (made by scripts/train-builtin, scripts/train-oracle).
        .target(name: "DreamAssets", resources: [.copy("builtin"), .copy("oracle.safetensors"), .copy("clip")]),

        // Layer 4: the method (prompt distributions, evaluation metrics).
        .target(name: "DreamMethod", dependencies: ["DreamDiffusion", "DreamModels", "DreamWorld", "DreamTensor", "DreamIO"], swiftSettings: numeric),

        // The plugin boundary: a C header only (dream_plugin.h), so plugins share no Swift module with dream.
        .target(name: "CDreamPlugin"),

        // The language (lexer, parser, interpreter, values, the registry; core, tensor and file built-ins):
        // on the engine alone.
        .target(name: "DreamLang", dependencies: ["DreamTensor", "DreamIO"], swiftSettings: cpu),

        // Layer 5: a session — the domain's built-ins (models, distributions, world, evaluation) bound to one
        // Session that owns the model cache, the evaluator, the samplers and the plugin host.
        .target(name: "DreamSession", dependencies: ["DreamLang", "CDreamPlugin", "DreamAssets", "DreamMethod", "DreamDiffusion", "DreamModels", "DreamWorld", "DreamTensor", "DreamIO"], swiftSettings: cpu),

        // Non-variadic wrappers over libedit for the REPL.
        .target(name: "CEditShim", dependencies: ["CEdit"]),

        // Layer 6: the command line and the interactive REPL.
        .executableTarget(name: "dream", dependencies: ["DreamSession", "DreamLang", "DreamTensor", "CEditShim"], swiftSettings: cpu),
        // Training of the built-in model and the oracle (scripts/train-builtin, scripts/train-oracle).
        .executableTarget(name: "DreamTrain", dependencies: ["DreamMethod", "DreamDiffusion", "DreamModels", "DreamWorld", "DreamTensor", "DreamIO"], swiftSettings: numeric),
        .executableTarget(name: "DreamBench", dependencies: ["DreamTensor", "DreamIO", "DreamModels", "DreamWorld", "DreamDiffusion", "DreamMethod", "DreamAssets"], swiftSettings: numeric),

        // Fuzz targets (the readers, the plugin loader), for the fuzz tests and for libFuzzer (scripts/fuzz);
        // the driver shim finds libFuzzer when the program was linked with it.
        .target(name: "DreamFuzz", dependencies: ["DreamSession", "DreamLang", "DreamMethod", "DreamModels", "DreamDiffusion", "DreamTensor", "DreamIO"], swiftSettings: cpu),
        .target(name: "CFuzzDriver"),
        .executableTarget(name: "dream-fuzz", dependencies: ["DreamFuzz", "CFuzzDriver", "DreamSession", "DreamLang", "DreamTensor", "DreamIO"], swiftSettings: cpu),

        // Tests follow the layers; what they share (paths, fixtures, comparisons, running the binary, the fuzz
        // tests' seeded stream) is one support module.
        .target(name: "DreamTestSupport", dependencies: ["DreamTensor", "DreamModels"], path: "Tests/Support", swiftSettings: cpu),
        .testTarget(name: "DreamTensorTests", dependencies: ["DreamTensor", "DreamIO", "DreamTestSupport"], swiftSettings: cpu),
        .testTarget(name: "DreamIOTests", dependencies: ["DreamTensor", "DreamIO", "DreamTestSupport"], swiftSettings: cpu),
        .testTarget(name: "DreamModelsTests", dependencies: ["DreamModels", "DreamTensor", "DreamIO", "DreamTestSupport"], swiftSettings: cpu),
        .testTarget(name: "DreamDiffusionTests", dependencies: ["DreamDiffusion", "DreamModels", "DreamTensor", "DreamIO", "DreamTestSupport"], swiftSettings: cpu),
        .testTarget(name: "DreamMethodTests", dependencies: ["DreamMethod", "DreamAssets", "DreamModels", "DreamDiffusion", "DreamWorld", "DreamTensor", "DreamIO", "DreamTestSupport"], swiftSettings: cpu),
        .testTarget(name: "DreamWorldTests", dependencies: ["DreamWorld", "DreamTensor", "DreamIO", "DreamTestSupport"], swiftSettings: cpu),
        // The language and the session (built-ins, files, determinism, faults, the readers' fuzzing).
        .testTarget(name: "DreamLangTests", dependencies: ["DreamLang", "DreamSession", "DreamFuzz", "DreamMethod", "DreamDiffusion", "DreamTensor", "DreamIO", "DreamTestSupport", "dream"], swiftSettings: cpu),
        // Plugins loaded at run time, each test on its own Session.
        .testTarget(name: "DreamPluginTests", dependencies: ["DreamLang", "DreamSession", "DreamFuzz", "DreamDiffusion", "DreamTensor", "DreamTestSupport", "dream"], swiftSettings: cpu),
        // The command line: transcripts, the terminal, interrupts.
        .testTarget(name: "DreamCLITests", dependencies: ["DreamIO", "DreamTestSupport", "dream"], swiftSettings: cpu),
    ],
    swiftLanguageModes: [.v5]
)
