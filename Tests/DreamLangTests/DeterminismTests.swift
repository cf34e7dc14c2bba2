import Foundation
import XCTest
import DreamTestSupport

/// The same seeds give bit-identical results whatever the thread count, for whole runs: learning, sampling,
/// generating and evaluating on the built-in model, at 1, 2 and 3 threads, compared byte for byte.
final class DeterminismTests: XCTestCase {
    func testWholeRunsAreBitIdenticalAtAnyThreadCount() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        try """
            let m = model("builtin")
            let D = learn(m, world.references("toy-box"), steps: 4, seed: 1)
            let imgs = sample(D, n: 4, steps: 3, seed: 2)
            let g = generate(m, "a red cone", n: 4, steps: 3, seed: 3)
            let e = evaluate(cat([imgs, g], axis: 0), reference: "toy-box")
            save(args[0], ["prompts": D.prompts, "samples": imgs, "generated": g])
            save(args[1], e)
            """.write(to: dir.appendingPathComponent("run.dream"), atomically: true, encoding: .utf8)
        var outputs: [Data] = []
        for threads in [1, 2, 3] {
            let r = try runDream(["--quiet", "--threads", "\(threads)", "run.dream", "t\(threads).safetensors", "t\(threads).json"], in: dir)
            XCTAssertEqual(r.status, 0, r.stderr)
            outputs.append(try Data(contentsOf: dir.appendingPathComponent("t\(threads).safetensors")) + Data(contentsOf: dir.appendingPathComponent("t\(threads).json")))
        }
        XCTAssertGreaterThan(outputs[0].count, 10_000)
        XCTAssertEqual(outputs[1], outputs[0], "2 threads differ from 1")
        XCTAssertEqual(outputs[2], outputs[0], "3 threads differ from 1")
    }
}
