import Foundation
import XCTest
@testable import DreamTensor

/// Winograd's F(2×2, 3×3) against a convolution and its input gradient summed directly in Double, on odd sizes
/// (edge tiles half outside the image), and the dispatch: a convolution large enough to take it agrees with im2col and does not
/// depend on the thread count.
final class WinogradTests: XCTestCase {
    /// The shape of a 3×3, stride-1, padding-1 convolution (output the input's size).
    func same3x3(batch: Int, cin: Int, cout: Int, h: Int, w: Int) -> ConvShape {
        ConvShape(batch: batch, cin: cin, h: h, w: w, cout: cout, kh: 3, kw: 3, stride: 1, padding: 1, oh: h, ow: w)
    }

    /// conv2d(x, w, padding 1) + bias by its definition, in Double.
    func directConv(_ x: Tensor, _ w: Tensor, _ bias: Tensor) -> [Double] {
        let (n, cin, h, wd, cout) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3], w.shape[0])
        var y = [Double](repeating: 0, count: n * cout * h * wd)
        for b in 0..<n {
            for o in 0..<cout {
                for i in 0..<h {
                    for j in 0..<wd {
                        var acc = Double(bias.pointer[o])
                        for c in 0..<cin {
                            for ki in 0..<3 {
                                for kj in 0..<3 {
                                    let yy = i + ki - 1, xx = j + kj - 1
                                    if yy < 0 || yy >= h || xx < 0 || xx >= wd { continue }
                                    acc += Double(x.pointer[((b * cin + c) * h + yy) * wd + xx]) * Double(w.pointer[((o * cin + c) * 3 + ki) * 3 + kj])
                                }
                            }
                        }
                        y[((b * cout + o) * h + i) * wd + j] = acc
                    }
                }
            }
        }
        return y
    }

    func testMatchesTheDefinitionOnOddSizes() throws {
        for (n, cin, cout, h, w) in [(2, 5, 3, 7, 9), (1, 4, 6, 1, 1), (3, 2, 2, 6, 4), (1, 3, 5, 2, 5)] {
            let x = Tensor.randn([n, cin, h, w], seed: 1), weight = Tensor.randn([cout, cin, 3, 3], seed: 2), bias = Tensor.randn([cout], seed: 3)
            let s = same3x3(batch: n, cin: cin, cout: cout, h: h, w: w)
            let y = Tensor(uninitialized: [n, cout, h, w])
            WinogradPlan(s).forward(x.pointer, weight.pointer, bias.pointer, y.pointer)
            let want = directConv(x, weight, bias)
            for i in 0..<want.count {
                XCTAssertEqual(Double(y.pointer[i]), want[i], accuracy: 1e-4 * (1 + abs(want[i])), "\(n)x\(cin)x\(h)x\(w) → \(cout): element \(i)")
            }
        }
    }

    func testInputGradientMatchesTheDefinition() throws {
        // dX[b, c, y, x] = Σ_o Σ_(i, j) dY[b, o, y − i + 1, x − j + 1] · w[o, c, i, j], from the given kernels turned.
        let (n, cin, cout, h, w) = (2, 5, 3, 7, 9)
        let g = Tensor.randn([n, cout, h, w], seed: 11), weight = Tensor.randn([cout, cin, 3, 3], seed: 12)
        let transposed = same3x3(batch: n, cin: cout, cout: cin, h: h, w: w)
        let gx = Tensor(uninitialized: [n, cin, h, w])
        WinogradPlan(transposed).forward(g.pointer, weight.pointer, nil, gx.pointer, turned: true)
        for b in 0..<n {
            for c in 0..<cin {
                for y in 0..<h {
                    for x in 0..<w {
                        var want = 0.0
                        for o in 0..<cout {
                            for i in 0..<3 {
                                for j in 0..<3 {
                                    let yy = y - i + 1, xx = x - j + 1
                                    if yy < 0 || yy >= h || xx < 0 || xx >= w { continue }
                                    want += Double(g.pointer[((b * cout + o) * h + yy) * w + xx]) * Double(weight.pointer[((o * cin + c) * 3 + i) * 3 + j])
                                }
                            }
                        }
                        let got = Double(gx.pointer[((b * cin + c) * h + y) * w + x])
                        XCTAssertEqual(got, want, accuracy: 1e-4 * (1 + abs(want)), "dX[\(b), \(c), \(y), \(x)]")
                    }
                }
            }
        }
    }

    func testLargeConvolutionsTakeItAndAgreeWithColumns() throws {
        let x = Tensor.randn([1, 256, 33, 35], seed: 4), weight = try Tensor.randn([256, 256, 3, 3], seed: 5) * Float(0.03), bias = Tensor.randn([256], seed: 6)
        let s = same3x3(batch: 1, cin: 256, cout: 256, h: 33, w: 35)
        XCTAssertTrue(WinogradPlan.pays(s))
        XCTAssertFalse(WinogradPlan.pays(same3x3(batch: 1, cin: 128, cout: 128, h: 33, w: 35)),
                       "the built-in model's widths stay on im2col")
        let columns = Tensor(uninitialized: [1, 256, 33, 35])
        conv2dByColumns(x.pointer, weight.pointer, bias.pointer, columns.pointer, s)
        let one = try ExecutionContext(threads: 1).run { try withoutGrad { try x.conv2d(weight, bias: bias, padding: 1) } }
        let two = try ExecutionContext(threads: 2).run { try withoutGrad { try x.conv2d(weight, bias: bias, padding: 1) } }
        var worst: Float = 0
        for i in 0..<one.count {
            worst = max(worst, abs(one.pointer[i] - columns.pointer[i]) / (1 + abs(columns.pointer[i])))
            XCTAssertEqual(one.pointer[i].bitPattern, two.pointer[i].bitPattern, "element \(i) differs between 1 and 2 threads")
        }
        XCTAssertLessThan(worst, 1e-5, "Winograd against im2col")
    }

    func testGradientsOfALargeConvolutionStillCheck() throws {
        // The forward pass goes by Winograd and the backward by im2col: they must be the same function.
        let x = Tensor.randn([1, 256, 4, 256], seed: 7), weight = try Tensor.randn([256, 256, 3, 3], seed: 8) * Float(0.02), bias = Tensor.randn([256], seed: 9)
        XCTAssertTrue(WinogradPlan.pays(same3x3(batch: 1, cin: 256, cout: 256, h: 4, w: 256)))
        try checkGradients("winograd conv2d", [x, weight, bias], samples: 6) {
            try $0[0].conv2d($0[1], bias: $0[2], padding: 1)
        }
    }
}
