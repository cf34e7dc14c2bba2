import Foundation
import XCTest
import DreamTestSupport
import DreamIO

/// Ctrl-C in a script ends the run with 130 at the next step boundary of whatever is running: inside one
/// long expression, and after `learn` has stopped and handed back its completed steps.
final class InterruptTests: XCTestCase {
    func testALongExpressionStopsWith130() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let chain = Array(repeating: "x", count: 2000).joined(separator: " @ ")   // far longer than the 1.5 s before the interrupt on any machine
        try "let x = randn([1024, 1024], seed: 1) * 0.03\nlet y = \(chain)\nprint(\"not reached\")\n"
            .write(to: dir.appendingPathComponent("long.dream"), atomically: true, encoding: .utf8)
        let r = try runDream(["--quiet", "long.dream"], in: dir, interruptAfter: 1.5)
        XCTAssertEqual(r.status, 130, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("long.dream:2:"), r.stderr)
        XCTAssertTrue(r.stderr.contains("error: interrupted"), r.stderr)
        XCTAssertEqual(r.stdout, "")
    }

    func testAScriptInterruptedDuringLearnEndsWith130() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fixture = repoRoot.appendingPathComponent("Tests/Fixtures/sd/sd1").path
        try """
            let m = model("\(fixture)")
            let D = learn(m, world.render(n: 4, seed: 0, resolution: 16), prompts: 2, tokens: 1, steps: 1000000)
            print("not reached", D.steps)
            """.write(to: dir.appendingPathComponent("learn.dream"), atomically: true, encoding: .utf8)
        let r = try runDream(["--quiet", "learn.dream"], in: dir, interruptAfter: 2)
        XCTAssertEqual(r.status, 130, r.stderr)
        XCTAssertNotNil(r.stderr.range(of: #"learn: interrupted; the distribution holds the [0-9]+ completed steps of 1000000"#, options: .regularExpression), r.stderr)
        XCTAssertTrue(r.stderr.contains("learn.dream:3:"), r.stderr)
        XCTAssertEqual(r.stdout, "")
    }

    /// `learn(…, checkpoint:, every:)` writes the run atomically every N steps: killed with SIGKILL, the run has
    /// lost at most N steps, the checkpoint is whole, a temporary file the kill may leave is removed by the next
    /// save, and resuming from the checkpoint gives exactly the prompts of an uninterrupted run.
    func testAKilledRunResumesFromItsCheckpointExactly() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fixture = repoRoot.appendingPathComponent("Tests/Fixtures/sd/sd1").path
        let setup = "let m = model(\"\(fixture)\")\nlet refs = world.render(n: 4, seed: 0, resolution: 16)\n"
        let settings = "prompts: 3, tokens: 1, objective: \"compete\", seed: 3"
        try (setup + "learn(m, refs, \(settings), steps: 1000000, checkpoint: \"ck.safetensors\", every: 5)\n")
            .write(to: dir.appendingPathComponent("long.dream"), atomically: true, encoding: .utf8)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: dreamBinary)
        p.arguments = ["--quiet", "long.dream"]
        p.currentDirectoryURL = dir
        try p.run()
        let ck = dir.appendingPathComponent("ck.safetensors").path
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && !FileManager.default.fileExists(atPath: ck) { usleep(10_000) }
        usleep(300_000)   // let it write a few more
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
        XCTAssertEqual(p.terminationReason, .uncaughtSignal)
        // SIGKILL can land inside a save, which then cannot remove its temporary file: at most that one
        // hidden file beside the checkpoint, which the next save of the checkpoint removes (below).
        let left = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != "state" }.sorted()
        XCTAssertEqual(left.filter { !$0.hasPrefix(".ck.safetensors.tmp-") }, ["ck.safetensors", "long.dream"])
        XCTAssertLessThanOrEqual(left.count, 3, "\(left)")
        let saved = try XCTUnwrap(Int(try SafeTensorsFile(path: ck).metadata["steps"] ?? ""))
        XCTAssertTrue(saved >= 5 && saved % 5 == 0, "checkpoint at step \(saved)")
        let total = saved + 7
        let out = try runDream(["--quiet", "-c", setup + """
            let whole = learn(m, refs, \(settings), steps: \(total))
            let resumed = learn(m, refs, steps: \(total), resume: load("ck.safetensors"), checkpoint: "ck.safetensors", every: 5)
            print(resumed.steps, max(abs(resumed.prompts - whole.prompts)) == 0, str(resumed.weights) == str(whole.weights), str(resumed.losses) == str(whole.losses))
            """], in: dir)
        XCTAssertEqual(out.stdout, "\(total) true true true\n", out.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != "state" }.sorted(), ["ck.safetensors", "long.dream"])
    }
}
