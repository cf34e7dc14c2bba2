import Foundation
import DreamTensor

// dream-train: trains the built-in model and the oracle with dream's own engine (scripts/train-builtin,
// scripts/train-oracle). Every stage is seeded and resumable from its checkpoint in the work folder.

let usage = """
usage: dream-train builtin [--work DIR] [--out DIR] [--seed N] [--vae-steps N] [--vae-lr X] [--unet-steps N]
                           [--tune-steps N] [--tune-drop P] [--unet-batch N] [--caption-drop P]
       dream-train oracle  [--work DIR] [--out FILE] [--seed N] [--steps N] [--images N] [--hard N] [--round-trips N]
       dream-train export  [--work DIR] --out DIR   (EMA weights of the UNet stage's latest checkpoint)
       dream-train check-oracle [--out FILE]
       dream-train material-head [--out FILE] [--images N] [--steps N]   (a diagnostic of the oracle's material errors)
       dream-train plot OUT.png LOG.csv...
"""

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("dream-train: \(message)\n".utf8))
    exit(2)
}

/// A command's --option VALUE pairs, taken one by one as the command reads them; what is left is unknown.
struct OptionList {
    var values: [String: String] = [:]

    init(_ args: [String]) {
        var args = args
        while !args.isEmpty {
            let k = args.removeFirst()
            guard k.hasPrefix("--"), !args.isEmpty else { fail("expected --option VALUE, got \(k)\n" + usage) }
            values[String(k.dropFirst(2))] = args.removeFirst()
        }
    }

    /// The value of --k as `parse` reads it, or the default; a value it refuses (nil) stops with `what` it needed.
    mutating func option<T>(_ k: String, _ d: T, _ what: String, _ parse: (String) -> T?) -> T {
        guard let v = values.removeValue(forKey: k) else { return d }
        guard let x = parse(v) else { fail("--\(k) needs \(what), got \(v)") }
        return x
    }
    mutating func int(_ k: String, _ d: Int) -> Int { option(k, d, "a non-negative integer") { Int($0).flatMap { $0 >= 0 ? $0 : nil } } }
    mutating func string(_ k: String, _ d: String) -> String { values.removeValue(forKey: k) ?? d }
    mutating func take(_ k: String) -> String? { values.removeValue(forKey: k) }
    /// Stops on an option the command did not read.
    func checkAllRead() { if let k = values.keys.first { fail("unknown option --\(k)\n" + usage) } }
}

func main(_ arguments: [String]) throws {
    guard let command = arguments.first else { fail("missing command\n" + usage) }
    let rest = Array(arguments.dropFirst())
    if command == "plot" {
        guard rest.count >= 2 else { fail("plot needs OUT.png and at least one LOG.csv\n" + usage) }
        try plotLogs(Array(rest.dropFirst()), to: rest[0])
        return
    }
    var o = OptionList(rest)
    switch command {
    case "builtin":
        var s = BuiltinSettings()
        s.work = o.string("work", s.work); s.out = o.string("out", s.out); s.seed = UInt64(o.int("seed", 0))
        s.vaeSteps = o.int("vae-steps", s.vaeSteps)
        s.vaeLR = o.option("vae-lr", s.vaeLR, "a positive number") { Float($0).flatMap { $0 > 0 ? $0 : nil } }
        s.unetSteps = o.int("unet-steps", s.unetSteps); s.tuneSteps = o.int("tune-steps", s.tuneSteps); s.unetBatch = o.int("unet-batch", s.unetBatch)
        let probability: (String) -> Double? = { Double($0).flatMap { (0...1).contains($0) ? $0 : nil } }
        s.captionDrop = o.option("caption-drop", s.captionDrop, "a probability between 0 and 1", probability)
        s.tuneDrop = o.option("tune-drop", s.tuneDrop, "a probability between 0 and 1", probability)
        o.checkAllRead()
        try trainBuiltin(s)
    case "oracle":
        var s = OracleSettings()
        s.work = o.string("work", s.work); s.out = o.string("out", s.out); s.seed = UInt64(o.int("seed", 0))
        s.steps = o.int("steps", s.steps); s.images = o.int("images", s.images); s.roundTrips = o.int("round-trips", s.roundTrips)
        s.hard = o.int("hard", s.hard)
        o.checkAllRead()
        try trainOracle(s)
    case "export":
        let work = o.string("work", BuiltinSettings().work)
        guard let out = o.take("out") else { fail("export needs --out DIR\n" + usage) }
        o.checkAllRead()
        try exportCheckpoint(work: work, out: out)
    case "material-head":
        let out = o.string("out", OracleSettings().out)
        let images = o.int("images", 20000), steps = o.int("steps", 1000)
        o.checkAllRead()
        try materialHeadDiagnostic(path: out, images: images, steps: steps)
    case "check-oracle":
        let out = o.string("out", OracleSettings().out)
        o.checkAllRead()
        try checkOracle(path: out, seed: 0)
    default:
        fail("unknown command \(command)\n" + usage)
    }
}

// Ctrl-C during training: finish the step, save, stop (`Run` checks the context between steps; training calls
// nothing that consumes the request).
let context = ExecutionContext(cancellation: SignalCells.cancel)
do {
    try context.run { try main(Array(CommandLine.arguments.dropFirst())) }
} catch {
    FileHandle.standardError.write(Data("dream-train: error: \(error)\n".utf8))
    exit(1)
}
