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

    func testSafetensorsReader() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let seeds = try FuzzSeeds.safetensors(scratch: dir.appendingPathComponent("seed.safetensors").path)
        try fuzz(.safetensors(folder: dir.path), seeds: seeds, count: 10_000, seed: 11)
    }

    func testPNGReader() throws {
        let seeds = try FuzzSeeds.png(folder: pngDir).filter { $0.count > 40 }
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try fuzz(.png(folder: dir.path), seeds: seeds, count: 10_000, seed: 12)
    }

    func testDistributionFileReader() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fixture = sdDir + "/sd1"
        let seeds = try FuzzSeeds.distribution(model: fixture, scratch: dir.appendingPathComponent("d.safetensors").path)
        try fuzz(.distribution(folder: dir.path, model: try Session().loadModel(fixture)), seeds: seeds, count: 10_000, seed: 13)
    }
}
