import Foundation
import XCTest
import DreamTestSupport
import DreamLang
import DreamSession
import DreamTensor
import DreamDiffusion
import DreamFuzz

/// Seeded mutational fuzzing of the plugin loader's checks: a C plugin whose every call is spelled by its
/// input (Tests/Fixtures/plugins/fuzzing.c) is loaded 10,000 times, each time with a mutated program, into
/// a fresh host, and whatever it registered is called (DreamFuzz's PluginTarget, which libFuzzer also
/// drives: scripts/fuzz). Each input must load or be refused with a message, and each call must return a value or fail
/// with one: no crash, no hang.
final class PluginFuzzTests: XCTestCase {
    func testThePluginLoadersChecksHoldUnderMutatedPlugins() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let lib = dir.appendingPathComponent("libfuzzing.so").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["clang", "-shared", "-fPIC", "-O1", "-I", repoRoot.appendingPathComponent("Sources/CDreamPlugin/include").path,
                       "-o", lib, repoRoot.appendingPathComponent("Tests/Fixtures/plugins/fuzzing.c").path]
        try p.run(); p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
        let target = try PluginTarget(library: lib)
        var rng = SeededRng(state: 21)
        var loaded = 0, refused = 0, slowest = 0.0
        let count = 10_000, seeds = PluginTarget.seeds
        for i in 0..<count {
            var bytes = seeds[i % seeds.count]
            if i >= seeds.count { for _ in 0...rng.below(3) { bytes = mutated(bytes, &rng) } }
            let t0 = DispatchTime.now().uptimeNanoseconds
            switch try target.run(bytes) {
            case .accepted: loaded += 1
            case .refused: refused += 1
            }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            slowest = max(slowest, dt)
            if dt > 1 { XCTFail("plugin input #\(i) took \(dt) s: \(bytes)") }
        }
        let (calls, failedCalls) = (target.calls, target.failedCalls)
        print("plugin loader fuzz: \(count) inputs, \(loaded) loaded, \(refused) refused with a message; \(calls) calls, \(failedCalls) failed with a message; slowest \(String(format: "%.4f", slowest)) s")
        // The mutations reach both sides of the checks.
        XCTAssertGreaterThan(loaded, count / 10)
        XCTAssertGreaterThan(refused, count / 10)
        XCTAssertGreaterThan(failedCalls, calls / 20)
    }
}
