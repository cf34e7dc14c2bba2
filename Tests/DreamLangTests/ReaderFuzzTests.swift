import Foundation
import XCTest
import DreamLang
import DreamSession
import DreamIO
import DreamTensor
import DreamMethod

/// Seeded mutational fuzzing of the file readers: valid safetensors, PNG and distribution files with bytes
/// flipped, runs overwritten, inserted or cut, and the header's numbers changed. Every input must either
/// read or fail with an error — no crash, no hang (each input well under a second).
final class ReaderFuzzTests: XCTestCase {
    typealias Rng = SeededRng

    /// One mutation of `bytes`: flips, overwritten runs, insertions, cuts, or a digit of the (JSON) header changed.
    func mutate(_ bytes: [UInt8], _ rng: inout Rng) -> [UInt8] {
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

    func fuzz(_ name: String, seeds: [[UInt8]], count: Int, seed: UInt64, read: (String) throws -> Void) throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var rng = Rng(state: seed)
        var failed = 0, slowest = 0.0
        let path = dir.appendingPathComponent("input").path
        for i in 0..<count {
            var bytes = seeds[i % seeds.count]
            for _ in 0...rng.below(3) { bytes = mutate(bytes, &rng) }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let t0 = DispatchTime.now().uptimeNanoseconds
            do { try read(path) } catch { failed += 1 }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            slowest = max(slowest, dt)
            if dt > 1 { XCTFail("\(name) input #\(i) took \(dt) s") }
        }
        print("reader fuzz \(name): \(count) inputs, \(failed) refused with an error, slowest \(String(format: "%.4f", slowest)) s")
        XCTAssertGreaterThan(failed, count / 10, "\(name): the mutations must reach the checks")
    }

    func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    func testSafetensorsReader() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let small = dir.appendingPathComponent("small.safetensors").path
        try SafeTensors.save(["a": try Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]), "b": Tensor(repeating: 0.5, shape: [4])], metadata: ["k": "v"], to: small)
        let half = dir.appendingPathComponent("half.safetensors").path
        try SafeTensors.save(["h": Tensor.rand([3, 5], seed: 2)], to: half, half: true)
        try fuzz("safetensors", seeds: [try bytes(small), try bytes(half)], count: 10_000, seed: 11) { p in
            let f = try SafeTensorsFile(path: p)
            for n in f.names { _ = try f.tensor(n) }
        }
    }

    func testPNGReader() throws {
        let pngs = repoRoot.appendingPathComponent("Tests/Fixtures/png")
        let seeds = try FileManager.default.contentsOfDirectory(atPath: pngs.path).sorted().map { try bytes(pngs.appendingPathComponent($0).path) }.filter { $0.count > 40 }
        try fuzz("png", seeds: seeds, count: 10_000, seed: 12) { p in _ = try PNG.read(p) }
    }

    func testDistributionFileReader() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let session = Session()
        let fixture = repoRoot.appendingPathComponent("Tests/Fixtures/sd/sd1").path
        let file = dir.appendingPathComponent("d.safetensors").path
        let interp = Interpreter(registry: session.registry)
        interp.warn = { _ in }
        try interp.run(SourceFile(name: "t", text: """
            let m = model("\(fixture)")
            save("\(file)", learn(m, world.render(n: 2, seed: 0, resolution: 16), prompts: 2, tokens: 1, steps: 2, objective: "compete", seed: 1))
            """))
        let model = try session.loadModel(fixture)
        try fuzz("distribution", seeds: [try bytes(file)], count: 10_000, seed: 13) { p in
            _ = try DistributionFile.load(try SafeTensorsFile(path: p)) { _ in model }
        }
    }
}
