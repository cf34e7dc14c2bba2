import Foundation
import XCTest
import DreamTestSupport
import DreamLang
import DreamSession
import DreamTensor

/// The text-to-3D plugin (Plugins/NeRF), built on its own and loaded through the C ABI (version 2: a model
/// crosses as an object, score distillation and progress are host calls).
final class NeRFPluginTests: XCTestCase {
    static let host: PluginHost = {
        let s = Session()
        try! s.plugins.load(path: buildPlugin("NeRF"))
        return s.plugins
    }()

    func run(_ code: String) throws -> (out: String, warnings: [String]) {
        let interp = Interpreter(registry: Self.host.registry)
        var out = "", warnings: [String] = []
        interp.write = { out += $0 }
        interp.warn = { warnings.append($0) }
        try interp.run(SourceFile(name: "t", text: code))
        return (out, warnings)
    }

    /// On the small SD 1.x fixture (16-pixel renders): a field of the asked resolution, the same for the same
    /// seed and not for another; bad arguments named; Ctrl-C during distillation keeps the completed steps.
    func testDistillIsDeterministicNamesBadArgumentsAndKeepsWorkOnInterrupt() throws {
        let fixture = repoRoot.appendingPathComponent("Tests/Fixtures/sd/sd1").path
        let setup = """
            let m = model("\(fixture)")
            let u = encode(m, "")
            let s = encode(m, "a red cube, seen from the side")
            let a = encode(m, "a red cube, seen from above")

            """
        let r = try run(setup + """
            let f = nerf.distill(m, s, a, u, 3, 7, 5, 8, 16)
            let g = nerf.distill(m, s, a, u, 3, 7, 5, 8, 16)
            let h = nerf.distill(m, s, a, u, 3, 8, 5, 8, 16)
            print(f.shape, float(max(abs(f - g))), float(max(abs(f - h))) > 0)
            print(nerf.render(f, 30, 15, 20).shape, nerf.turntable(f, 3, 60).shape)
            """)
        XCTAssertEqual(r.out, "[4, 8, 8, 8] 0 true\n[1, 3, 20, 20] [3, 3, 64, 64]\n")
        for (call, message) in [
            ("nerf.distill(u, s, a, u, 3, 7)", "nerf.distill: argument 1, m, must be a model (from model(PATH))"),
            ("nerf.distill(m, s, a, zeros([1, 5, 8]), 3, 7)", "nerf.distill: side, above and unconditional must have the same shape"),
            ("nerf.distill(m, s, a, u, 0, 7)", "nerf.distill: steps must be ≥ 1, got 0"),
            ("nerf.render(zeros([4, 3, 3]), 0, 0)", "nerf.render: argument 1, field, must be [4, R, R, R] (from nerf.distill), got [4, 3, 3]"),
            ("nerf.render(zeros([4, 3, 3, 3]), 0, 0, 64, 1)", "nerf.render: background must be a grey level strictly between 0 and 1, got 1"),
        ] {
            XCTAssertThrowsError(try run(setup + call)) {
                XCTAssertTrue("\($0)".contains(message), "\(call): \($0)")
                // dream names the function; the plugin's reason must not name it again.
                let line = "\($0)".split(separator: "\n").first.map(String.init) ?? ""
                XCTAssertEqual(line.components(separatedBy: "nerf.").count, message.components(separatedBy: "nerf.").count, line)
            }
        }
        // A score the host refuses (conditions of another model's width) is reported with the host's reason.
        XCTAssertThrowsError(try run(setup + "let z = zeros([1, 77, 5])\nnerf.distill(m, z, z, z, 3, 7, 5, 8, 16)")) {
            XCTAssertTrue("\($0)".contains("nerf.distill: score distillation: conditions must be [1, L, 8]"), "\($0)")
        }

        // Ctrl-C after the third step: the field of three steps is returned, with a warning. The run has a
        // context of its own, whose reporter asks for the stop.
        final class CancelAfter: ProgressReporter {
            let cell: UnsafeMutablePointer<sig_atomic_t>
            init(_ cell: UnsafeMutablePointer<sig_atomic_t>) { self.cell = cell }
            func update(_ done: Int, note: String) { if done == 3 { cell.pointee = 1 } }
            func finish() {}
        }
        let cell = UnsafeMutablePointer<sig_atomic_t>.allocate(capacity: 1)
        cell.initialize(to: 0)
        defer { cell.deallocate() }
        let context = ExecutionContext(cancellation: cell, reporter: { _, _ in CancelAfter(cell) })
        // The call returns its partial field and raises the request again, so that the run stops at its next
        // step boundary (a script ends with 130): each statement runs on its own here, the flag checked and
        // cleared between them as the command line does.
        let interp = Interpreter(registry: Self.host.registry)
        var out = "", warnings: [String] = []
        interp.write = { out += $0 }
        interp.warn = { warnings.append($0) }
        try interp.run(SourceFile(name: "t", text: setup))
        for statement in ["let f = nerf.distill(m, s, a, u, 10, 7, 5, 8, 16)", "let g = nerf.distill(m, s, a, u, 3, 7, 5, 8, 16)"] {
            try context.run { try interp.run(SourceFile(name: "t", text: statement)) }
            XCTAssertTrue(context.takeCancelRequest(), "the interruption is raised again for the run to stop")
        }
        try interp.run(SourceFile(name: "t", text: "print(float(max(abs(f - g))))"))
        XCTAssertEqual(out, "0\n")
        XCTAssertEqual(warnings, ["nerf.distill: interrupted; the result holds the work completed so far",
                                  "nerf.distill: interrupted; the result holds the work completed so far"])
    }

    /// On the built-in model: a field distilled from "a large red matte cone on a gray background" (seen from
    /// the side / from above) is, by the oracle on a turntable of 16 views it was not distilled at, a red cone
    /// from the side in most views, and seen from above when the camera is high. (Measured at 500 steps: 16,
    /// 16 and 16 of 16; at 300 steps only 14, 12 and 15, so the test runs 500.)
    func testDistilledConeIsACone() throws {
        let r = try run("""
            let m = model("builtin")
            let text = "a large red matte cone on a gray background"
            let f = nerf.distill(m, encode(m, text + ", seen from the side"), encode(m, text + ", seen from above"), encode(m, ""), 500, 1)
            let cones = 0
            let reds = 0
            for x in oracle(nerf.turntable(f, 16, 15)) {
              if x["shape"] == "cone" { let cones = cones + 1 }
              if x["color"] == "red" { let reds = reds + 1 }
            }
            let high = 0
            for x in oracle(nerf.turntable(f, 16, 65)) { if x["view"] == "above" { let high = high + 1 } }
            print(cones, reds, high)
            """)
        let counts = r.out.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
        XCTAssertEqual(counts.count, 3, r.out)
        XCTAssertGreaterThanOrEqual(counts[0], 14, "cones of 16 side views: \(r.out)")
        XCTAssertGreaterThanOrEqual(counts[1], 14, "red of 16 side views: \(r.out)")
        XCTAssertGreaterThanOrEqual(counts[2], 14, "seen from above of 16 high views: \(r.out)")
    }
}
