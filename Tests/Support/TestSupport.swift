import Foundation
import XCTest
import DreamTensor
import DreamModels

/// The repository, found from this file (Tests/Support/TestSupport.swift).
public let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
/// Test fixtures (Tests/Fixtures) and its parts: the small SD pipelines, the tokenizer cases, the PNG files.
public let fixturesDir = repoRoot.appendingPathComponent("Tests/Fixtures").path
public let sdDir = fixturesDir + "/sd"
public let clipDir = fixturesDir + "/clip"
public let pngDir = fixturesDir + "/png"
public let transcriptsDir = repoRoot.appendingPathComponent("Tests/Transcripts")

/// The `dream` binary built beside the tests (the test targets that run it depend on it).
public let dreamBinary: String = {
    let candidates = [
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("dream").path,
        repoRoot.appendingPathComponent(".build/release/dream").path,
        repoRoot.appendingPathComponent(".build/debug/dream").path,
    ]
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
}()

public func makeTempDir() -> URL {
    let u = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("dream-lang-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
    return u
}

public struct RunResult { public let stdout: String; public let stderr: String; public let status: Int32 }

/// Runs the binary with arguments in a directory, optionally feeding stdin and interrupting after a delay.
public func runDream(_ args: [String], in dir: URL, stdin: String? = nil, interruptAfter: Double? = nil) throws -> RunResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: dreamBinary)
    p.arguments = args
    p.currentDirectoryURL = dir
    var env = ProcessInfo.processInfo.environment
    env["XDG_STATE_HOME"] = dir.appendingPathComponent("state").path
    p.environment = env
    let out = Pipe(), err = Pipe(), inp = Pipe()
    p.standardOutput = out
    p.standardError = err
    p.standardInput = inp
    try p.run()
    if let stdin { inp.fileHandleForWriting.write(Data(stdin.utf8)) }
    try inp.fileHandleForWriting.close()
    if let delay = interruptAfter {
        DispatchQueue.global().asyncAfter(deadline: .now() + delay) { if p.isRunning { p.interrupt() } }
    }
    // Read both pipes while the process runs (large outputs must not block it).
    final class Box: @unchecked Sendable { var data = Data() }
    let outBox = Box(), errBox = Box()
    let group = DispatchGroup()
    group.enter(); DispatchQueue.global().async { outBox.data = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter(); DispatchQueue.global().async { errBox.data = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    p.waitUntilExit()
    group.wait()
    return RunResult(stdout: String(decoding: outBox.data, as: UTF8.self), stderr: String(decoding: errBox.data, as: UTF8.self), status: p.terminationStatus)
}

/// A plugin package of Plugins/ built on its own with `swift build` (seconds after the first time): the
/// path of its library, lib<name in lower case>.so.
public func buildPlugin(_ package: String) -> String {
    let dir = repoRoot.appendingPathComponent("Plugins/\(package)").path
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = ["swift", "build", "-c", "release", "--package-path", dir]
    p.standardOutput = FileHandle.nullDevice
    try! p.run()
    p.waitUntilExit()
    precondition(p.terminationStatus == 0, "building Plugins/\(package) failed")
    return dir + "/.build/release/lib\(package.lowercased()).so"
}

/// SplitMix64 (`Seeds.splitMix`): the fuzz tests' seeded stream of choices.
public struct SeededRng {
    public let seed: UInt64
    var drawn: UInt64 = 0
    public init(state seed: UInt64) { self.seed = seed }
    public mutating func next() -> UInt64 {
        drawn &+= 1
        return Seeds.splitMix(seed, drawn)
    }
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }
    public mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
}

/// One mutation of `bytes`, for the seeded fuzz tests: flips, overwritten runs, insertions, cuts, or a digit of the (JSON) header changed.
public func mutated(_ bytes: [UInt8], _ rng: inout SeededRng) -> [UInt8] {
    var b = bytes
    switch rng.below(6) {
    case 0: for _ in 0...rng.below(8) where !b.isEmpty { b[rng.below(b.count)] ^= UInt8(1 << rng.below(8)) }
    case 1: if !b.isEmpty { let at = rng.below(b.count); for i in at..<min(b.count, at + 1 + rng.below(16)) { b[i] = UInt8(rng.below(256)) } }
    case 2: b.insert(contentsOf: (0..<(1 + rng.below(32))).map { _ in UInt8(rng.below(256)) }, at: rng.below(b.count + 1))
    case 3: b = Array(b.prefix(rng.below(b.count + 1)))
    case 4:
        // A digit in the first 4 KB (safetensors: the header's offsets and shapes) made large or small.
        let digits = b.prefix(4096).indices.filter { (48...57).contains(b[$0]) }
        if let i = digits.isEmpty ? nil : digits[rng.below(digits.count)] { b[i] = UInt8(48 + rng.below(10)); if rng.below(2) == 0 { b.insert(57, at: i) } }
    default: if b.count > 8 { b.replaceSubrange(0..<8, with: (0..<8).map { _ in UInt8(rng.below(256)) }) }
    }
    return b
}

/// Largest |a - b| over all elements.
public func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.count == b.count)
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a.pointer[i] - b.pointer[i])) }
    return m
}

public func maxAbs(_ a: Tensor) -> Float { a.scalars.reduce(0) { max($0, abs($1)) } }

/// Asserts equal shapes and values within `tol` relative to the reference's scale (at least 1).
public func assertClose(_ actual: Tensor, _ expected: Tensor, _ tol: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, "\(what): shape", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    let d = maxAbsDiff(actual, expected), scale = max(1, maxAbs(expected))
    XCTAssertLessThanOrEqual(d, tol * scale, "\(what): max abs diff \(d) (scale \(scale))", file: file, line: line)
}

/// The small SD pipelines in both file layouts of both families: the diffusers folder, and the single-file
/// LDM checkpoint (read with the folder's configs, so the key mapping — not shape inference — is what is
/// compared): (family, layout, model).
public func sdLayouts() throws -> [(String, String, StableDiffusion)] {
    try ["sd1", "sd2"].flatMap { fam in
        [(fam, "\(fam) folder", try StableDiffusion(path: "\(sdDir)/\(fam)")),
         (fam, "\(fam) single file", try StableDiffusion(path: "\(sdDir)/\(fam).safetensors", config: "\(sdDir)/\(fam)"))]
    }
}
