import Foundation
import XCTest

/// Ctrl-C in a script ends the run with 130 at the next step boundary of whatever is running: inside one
/// long expression, and after `learn` has stopped and handed back its completed steps.
final class InterruptTests: XCTestCase {
    func testALongExpressionStopsWith130() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let chain = Array(repeating: "x", count: 200).joined(separator: " @ ")
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
}
