import Foundation
import DreamTensor

// dream-train: trains the built-in model and the oracle with dream's own engine (scripts/train-builtin,
// scripts/train-oracle). Every stage is seeded and resumable from its checkpoint in the work folder.

let usage = """
usage: dream-train builtin [--work DIR] [--out DIR] [--seed N] [--vae-steps N] [--vae-lr X] [--unet-steps N]
                           [--tune-steps N] [--tune-drop P] [--unet-batch N] [--caption-drop P]
       dream-train oracle  [--work DIR] [--out FILE] [--seed N] [--steps N] [--images N] [--round-trips N]
       dream-train export  [--work DIR] --out DIR   (EMA weights of the UNet stage's latest checkpoint)
       dream-train check-oracle [--out FILE]
       dream-train material-head [--out FILE] [--images N] [--steps N]   (a diagnostic of the oracle's material errors)
       dream-train plot OUT.png LOG.csv...
"""

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("dream-train: \(message)\n".utf8))
    exit(2)
}

var args = Array(CommandLine.arguments.dropFirst())
guard let command = args.first else { fail("missing command\n" + usage) }
args.removeFirst()
if command == "plot" {
    guard args.count >= 2 else { fail("plot needs OUT.png and at least one LOG.csv\n" + usage) }
    do { try plotLogs(Array(args.dropFirst()), to: args[0]) } catch { fail("\(error)") }
    exit(0)
}
var options: [String: String] = [:]
while !args.isEmpty {
    let k = args.removeFirst()
    guard k.hasPrefix("--"), !args.isEmpty else { fail("expected --option VALUE, got \(k)\n" + usage) }
    options[String(k.dropFirst(2))] = args.removeFirst()
}
/// The value of --k as `parse` reads it, or the default; a value it refuses (nil) stops with `what` it needed.
func option<T>(_ k: String, _ d: T, _ what: String, _ parse: (String) -> T?) -> T {
    guard let v = options.removeValue(forKey: k) else { return d }
    guard let x = parse(v) else { fail("--\(k) needs \(what), got \(v)") }
    return x
}
func int(_ k: String, _ d: Int) -> Int { option(k, d, "a non-negative integer") { Int($0).flatMap { $0 >= 0 ? $0 : nil } } }
func string(_ k: String, _ d: String) -> String { options.removeValue(forKey: k) ?? d }

do {
    switch command {
    case "builtin":
        var s = BuiltinSettings()
        s.work = string("work", s.work); s.out = string("out", s.out); s.seed = UInt64(int("seed", 0))
        s.vaeSteps = int("vae-steps", s.vaeSteps)
        s.vaeLR = option("vae-lr", s.vaeLR, "a positive number") { Float($0).flatMap { $0 > 0 ? $0 : nil } }
        s.unetSteps = int("unet-steps", s.unetSteps); s.tuneSteps = int("tune-steps", s.tuneSteps); s.unetBatch = int("unet-batch", s.unetBatch)
        let probability: (String) -> Double? = { Double($0).flatMap { (0...1).contains($0) ? $0 : nil } }
        s.captionDrop = option("caption-drop", s.captionDrop, "a probability between 0 and 1", probability)
        s.tuneDrop = option("tune-drop", s.tuneDrop, "a probability between 0 and 1", probability)
        if let k = options.keys.first { fail("unknown option --\(k)\n" + usage) }
        try trainBuiltin(s)
    case "oracle":
        var s = OracleSettings()
        s.work = string("work", s.work); s.out = string("out", s.out); s.seed = UInt64(int("seed", 0))
        s.steps = int("steps", s.steps); s.images = int("images", s.images); s.roundTrips = int("round-trips", s.roundTrips)
        if let k = options.keys.first { fail("unknown option --\(k)\n" + usage) }
        try trainOracle(s)
    case "export":
        let work = string("work", BuiltinSettings().work)
        guard let out = options.removeValue(forKey: "out") else { fail("export needs --out DIR\n" + usage) }
        if let k = options.keys.first { fail("unknown option --\(k)\n" + usage) }
        try exportCheckpoint(work: work, out: out)
    case "material-head":
        let out = string("out", OracleSettings().out)
        let images = int("images", 20000), steps = int("steps", 1000)
        if let k = options.keys.first { fail("unknown option --\(k)\n" + usage) }
        try materialHeadDiagnostic(path: out, images: images, steps: steps)
    case "check-oracle":
        let out = string("out", OracleSettings().out)
        if let k = options.keys.first { fail("unknown option --\(k)\n" + usage) }
        try checkOracle(path: out, seed: 0)
    default:
        fail("unknown command \(command)\n" + usage)
    }
} catch {
    FileHandle.standardError.write(Data("dream-train: error: \(error)\n".utf8))
    exit(1)
}
