import Foundation
import XCTest
import DreamTestSupport
import DreamLang
import DreamSession
import DreamIO
import DreamTensor
import DreamMethod
import DreamFuzz

/// Seeded mutational fuzzing of the file readers: valid safetensors, PNG and distribution files with bytes
/// flipped, runs overwritten, inserted or cut, and the header's numbers changed. Every input must either
/// read or fail with an error — no crash, no hang (each input well under a second). The readers are
/// DreamFuzz's targets, which libFuzzer also drives (scripts/fuzz).
final class ReaderFuzzTests: XCTestCase {
    typealias Rng = SeededRng

    func fuzz(_ target: ReaderTarget, seeds: [[UInt8]], count: Int, seed: UInt64) throws {
        var rng = Rng(state: seed)
        var failed = 0, slowest = 0.0
        for i in 0..<count {
            var bytes = seeds[i % seeds.count]
            for _ in 0...rng.below(3) { bytes = mutated(bytes, &rng) }
            let t0 = DispatchTime.now().uptimeNanoseconds
            if try target.run(bytes) == .refused { failed += 1 }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            slowest = max(slowest, dt)
            if dt > 1 { XCTFail("\(target.name) input #\(i) took \(dt) s") }
        }
        print("reader fuzz \(target.name): \(count) inputs, \(failed) refused with an error, slowest \(String(format: "%.4f", slowest)) s")
        XCTAssertGreaterThan(failed, count / 10, "\(target.name): the mutations must reach the checks")
    }

    func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    func testSafetensorsReader() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let small = dir.appendingPathComponent("small.safetensors").path
        try SafeTensors.save(["a": try Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]), "b": Tensor(repeating: 0.5, shape: [4])], metadata: ["k": "v"], to: small)
        let half = dir.appendingPathComponent("half.safetensors").path
        try SafeTensors.save(["h": Tensor.rand([3, 5], seed: 2)], to: half, half: true)
        try fuzz(.safetensors(folder: dir.path), seeds: [try bytes(small), try bytes(half)], count: 10_000, seed: 11)
    }

    func testPNGReader() throws {
        let pngs = repoRoot.appendingPathComponent("Tests/Fixtures/png")
        let seeds = try FileManager.default.contentsOfDirectory(atPath: pngs.path).sorted().map { try bytes(pngs.appendingPathComponent($0).path) }.filter { $0.count > 40 }
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try fuzz(.png(folder: dir.path), seeds: seeds, count: 10_000, seed: 12)
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
        try fuzz(.distribution(folder: dir.path, model: model), seeds: [try bytes(file)], count: 10_000, seed: 13)
    }
}
