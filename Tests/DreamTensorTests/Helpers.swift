import Foundation
import XCTest
import DreamTensor

/// Test fixtures live in Tests/Fixtures, found relative to this source file.
let fixturesDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures").path

/// Largest |a - b| over all elements.
func maxAbsDiff(_ a: Tensor, _ b: Tensor) -> Float {
    precondition(a.count == b.count)
    var m: Float = 0
    for i in 0..<a.count { m = max(m, abs(a.pointer[i] - b.pointer[i])) }
    return m
}

func maxAbs(_ a: Tensor) -> Float { a.scalars.reduce(0) { max($0, abs($1)) } }

/// Asserts equal shapes and values within `tol` relative to the reference's scale (at least 1).
func assertClose(_ actual: Tensor, _ expected: Tensor, tol: Float, _ what: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(actual.shape, expected.shape, "\(what): shape", file: file, line: line)
    guard actual.shape == expected.shape else { return }
    let d = maxAbsDiff(actual, expected), scale = max(1, maxAbs(expected))
    XCTAssertLessThanOrEqual(d, tol * scale, "\(what): max abs diff \(d) (scale \(scale))", file: file, line: line)
}

/// Compares reverse-mode gradients of L = Σ f(x)·r with central finite differences of L, computed in
/// Double from the Float32 outputs, at `samples` random coordinates of every input.
func checkGradients(_ name: String, _ inputs: [Tensor], samples: Int = 12, eps: Float = 1e-2,
                    rtol: Double = 1e-2, atol: Double = 2e-3,
                    file: StaticString = #filePath, line: UInt = #line,
                    _ f: ([Tensor]) throws -> Tensor) throws {
    let params = inputs.map { $0.param() }
    let out = try f(params)
    let r = Tensor.randn(out.shape, seed: 99)
    let loss = try (out * r).sum()
    let grads = try gradients(of: loss, wrt: params)
    func lossValue(_ xs: [Tensor]) throws -> Double {
        let y = try withoutGrad { try f(xs) }
        var s = 0.0
        for i in 0..<y.count { s += Double(y.pointer[i]) * Double(r.pointer[i]) }
        return s
    }
    var rng = RandomGenerator(seed: 7)
    for (k, x) in inputs.enumerated() {
        XCTAssertEqual(grads[k].shape, x.shape, "\(name): grad \(k) shape", file: file, line: line)
        let picks = x.count <= samples ? Array(0..<x.count) : (0..<samples).map { _ in rng.int(below: x.count) }
        for i in picks {
            let plus = x.copy(), minus = x.copy()
            plus.pointer[i] += eps; minus.pointer[i] -= eps
            var xp = inputs, xm = inputs
            xp[k] = plus; xm[k] = minus
            let numeric = (try lossValue(xp) - lossValue(xm)) / Double(2 * eps)
            let analytic = Double(grads[k].pointer[i])
            XCTAssertLessThanOrEqual(abs(numeric - analytic), atol + rtol * max(abs(numeric), abs(analytic)),
                                     "\(name): d/dinput\(k)[\(i)] analytic \(analytic) vs finite difference \(numeric)",
                                     file: file, line: line)
        }
    }
}
