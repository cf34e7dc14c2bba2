import Foundation
import CFuzzDriver
import DreamFuzz
import DreamLang
import DreamSession
import DreamTensor
import DreamIO

// Coverage-guided fuzzing of dream's readers and plugin loader with libFuzzer (scripts/fuzz builds this
// with -sanitize=fuzzer and runs it):
//   dream-fuzz TARGET [libFuzzer flags] [CORPUS...]   fuzz (a libFuzzer build)
//   dream-fuzz TARGET FILE...                         replay inputs, e.g. a crash libFuzzer saved (any build)
//   dream-fuzz TARGET --seeds DIR                     write the seed inputs to DIR
// TARGET: safetensors, png, distribution (on the model DREAM_FUZZ_MODEL, default the test fixture), or
// plugin (the compiled Tests/Fixtures/plugins/fuzzing.c, DREAM_FUZZ_PLUGIN).

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("dream-fuzz: \(message)\n".utf8))
    exit(2)
}

let arguments = CommandLine.arguments
let targets = ["safetensors", "png", "distribution", "plugin"]
guard arguments.count >= 2, targets.contains(arguments[1]) else {
    fail("usage: dream-fuzz TARGET [libFuzzer flags] [CORPUS...] | TARGET FILE... | TARGET --seeds DIR (TARGET: \(targets.joined(separator: ", ")))")
}
let targetName = arguments[1]
let environment = ProcessInfo.processInfo.environment
let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
let modelPath = environment["DREAM_FUZZ_MODEL"] ?? "Tests/Fixtures/sd/sd1"

/// The seeds: small valid inputs of each kind (DreamFuzz's, as the seeded tests use).
func seeds() throws -> [[UInt8]] {
    let scratch = folder + "/dream-fuzz-seed-\(getpid()).safetensors"
    switch targetName {
    case "safetensors": return try FuzzSeeds.safetensors(scratch: scratch)
    case "png": return try FuzzSeeds.png(folder: "Tests/Fixtures/png")
    case "distribution": return try FuzzSeeds.distribution(model: modelPath, scratch: scratch)
    default: return PluginTarget.seeds
    }
}

let run: ([UInt8]) throws -> FuzzOutcome = {
    do {
        switch targetName {
        case "safetensors": return ReaderTarget.safetensors(folder: folder).run
        case "png": return ReaderTarget.png(folder: folder).run
        case "distribution": return ReaderTarget.distribution(folder: folder, model: try Session().loadModel(modelPath)).run
        default:
            guard let lib = environment["DREAM_FUZZ_PLUGIN"] else { fail("the plugin target needs DREAM_FUZZ_PLUGIN, the compiled Tests/Fixtures/plugins/fuzzing.c") }
            return try PluginTarget(library: lib).run
        }
    } catch { fail("\(error)") }
}()

let rest = Array(arguments.dropFirst(2))
if rest.first == "--seeds" {
    guard rest.count == 2 else { fail("--seeds takes one folder") }
    try? FileManager.default.createDirectory(atPath: rest[1], withIntermediateDirectories: true)
    do {
        for (i, s) in try seeds().enumerated() { try Data(s).write(to: URL(fileURLWithPath: "\(rest[1])/seed-\(i)")) }
    } catch { fail("making the seeds: \(error)") }
    exit(0)
}

/// Runs libFuzzer's driver on `run` (-1 when this build has no libFuzzer). libFuzzer parses its own flags; the
/// target name is not one of them.
func runDriver(_ driverArguments: [String]) -> Int32 {
    var argc = Int32(driverArguments.count)
    var cStrings = driverArguments.map { strdup($0) } + [nil]
    return cStrings.withUnsafeMutableBufferPointer { buffer -> Int32 in
        var argv = buffer.baseAddress
        return dream_fuzz_run_driver(&argc, &argv) { data, size in
            let bytes = size == 0 ? [] : Array(UnsafeBufferPointer(start: data, count: size))
            // A malformed result is a bug of the host's: crash, so that libFuzzer keeps the input.
            do { _ = try run(bytes) } catch { fatalError("\(error)") }
            return 0
        }
    }
}
let status = runDriver([arguments[0]] + rest)
if status != -1 { exit(status) }

// Not a libFuzzer build: replay the files given.
guard !rest.isEmpty else { fail("this build has no libFuzzer (scripts/fuzz builds one); give input files to replay") }
for file in rest {
    let bytes = [UInt8]((try? Data(contentsOf: URL(fileURLWithPath: file))) ?? Data())
    let t0 = Date()
    let outcome: FuzzOutcome
    do { outcome = try run(bytes) } catch { fail("\(file): \(error)") }
    print("\(file): \(outcome == .accepted ? "accepted" : "refused with an error") in \(String(format: "%.4f", Date().timeIntervalSince(t0))) s")
}
