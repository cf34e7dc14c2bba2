import Foundation
import XCTest
import DreamTensor
import DreamTestSupport

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
