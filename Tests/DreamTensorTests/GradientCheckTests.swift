import XCTest
import DreamTestSupport
import DreamTensor

/// Every differentiable op's gradient against central finite differences.
final class GradientCheckTests: XCTestCase {
    func r(_ shape: [Int], _ seed: UInt64, scale: Float = 1, shift: Float = 0) throws -> Tensor {
        try Tensor.randn(shape, seed: seed) * scale + shift
    }
    /// Positive values away from zero.
    func pos(_ shape: [Int], _ seed: UInt64) throws -> Tensor { try Tensor.randn(shape, seed: seed).abs() + 0.5 }

    func testElementwise() throws {
        try checkGradients("add", [r([2, 3, 4], 1), r([3, 1], 2)]) { try $0[0] + $0[1] }
        try checkGradients("sub", [r([4, 1, 5], 1), r([3, 5], 2)]) { try $0[0] - $0[1] }
        try checkGradients("mul", [r([2, 3, 4], 1), r([4], 2)]) { try $0[0] * $0[1] }
        try checkGradients("div", [r([2, 3, 4], 1), pos([2, 1, 4], 2)]) { try $0[0] / $0[1] }
        try checkGradients("pow", [pos([3, 4], 1), r([4], 2, scale: 0.7)]) { try $0[0].pow($0[1]) }
        try checkGradients("neg", [r([5, 3], 1)]) { -$0[0] }
        try checkGradients("exp", [r([5, 3], 1)]) { $0[0].exp() }
        try checkGradients("log", [pos([5, 3], 1)]) { $0[0].log() }
        try checkGradients("sqrt", [pos([5, 3], 1)]) { $0[0].sqrt() }
        try checkGradients("safe_sqrt", [pos([5, 3], 1)]) { $0[0].safeSqrt() }
        let z = try Tensor([0, 4], shape: [2]).param()
        XCTAssertEqual(try gradients(of: z.safeSqrt().sum(), wrt: [z])[0].scalars, [0, 0.25], "zero gradient at 0")
        try checkGradients("abs", [pos([5, 3], 1) * -1]) { $0[0].abs() }
        try checkGradients("sigmoid", [r([5, 3], 1, scale: 2)]) { $0[0].sigmoid() }
        try checkGradients("tanh", [r([5, 3], 1)]) { $0[0].tanh() }
        try checkGradients("silu", [r([5, 3], 1, scale: 2)]) { $0[0].silu() }
        try checkGradients("gelu", [r([5, 3], 1, scale: 2)]) { $0[0].gelu() }
        try checkGradients("gelu_tanh", [r([5, 3], 1, scale: 2)]) { $0[0].geluTanh() }
        try checkGradients("quick_gelu", [r([5, 3], 1, scale: 2)]) { $0[0].quickGelu() }
        // Values kept away from the clamp bounds, where the derivative jumps.
        let x = try Tensor([-2, -0.3, 0.1, 0.4, 1.5, 3], shape: [6])
        try checkGradients("clamp", [x]) { try $0[0].clamp(min: -1, max: 1) }
    }

    func testReductions() throws {
        try checkGradients("sum", [r([3, 4, 5], 1)]) { try $0[0].sum() }
        try checkGradients("sum_axis", [r([3, 4, 5], 1)]) { try $0[0].sum(axis: 1) }
        try checkGradients("mean_keep", [r([3, 4, 5], 1)]) { try $0[0].mean(axis: -1, keepDims: true) }
        try checkGradients("var", [r([6, 4], 1)]) { try $0[0].variance(axis: 0) }
        try checkGradients("std", [r([5, 7], 1)]) { try $0[0].std() }
        // Distinct values so the extreme is unique.
        let v = try Tensor((0..<24).map { Float(($0 * 7) % 24) * 0.3 }, shape: [4, 6])
        try checkGradients("max", [v]) { try $0[0].max(axis: 1) }
        try checkGradients("min", [v]) { try $0[0].min() }
        try checkGradients("softmax", [r([3, 5, 7], 1)]) { try $0[0].softmax(axis: -1) }
        try checkGradients("softmax_axis1", [r([3, 5, 7], 1)]) { try $0[0].softmax(axis: 1) }
    }

    func testShapes() throws {
        try checkGradients("reshape", [r([2, 6], 1)]) { try $0[0].reshaped([3, -1]) }
        try checkGradients("permute", [r([2, 3, 4, 5], 1)]) { try $0[0].permuted([2, 0, 3, 1]) }
        try checkGradients("transpose", [r([2, 3, 4], 1)]) { try $0[0].transposed() }
        try checkGradients("slice", [r([3, 7, 2], 1)]) { try $0[0].sliced(axis: 1, start: 1, end: 6, step: 2) }
        try checkGradients("select", [r([3, 4, 5], 1)]) { try $0[0].select(axis: -1, index: 2) }
        try checkGradients("cat", [r([2, 3, 4], 1), r([2, 5, 4], 2)]) { try concatenate($0, axis: 1) }
        try checkGradients("stack", [r([2, 3], 1), r([2, 3], 2)]) { try stack($0, axis: 0) }
        try checkGradients("expand", [r([4, 1], 1)]) { try $0[0].expand(to: [3, 4, 5]) }
        try checkGradients("unsqueeze", [r([4, 2], 1)]) { try $0[0].unsqueezed(1) }
    }

    func testLinearAlgebra() throws {
        try checkGradients("matmul", [r([5, 7], 1), r([7, 3], 2)]) { try $0[0].matmul($0[1]) }
        try checkGradients("matmul_batched", [r([2, 3, 4], 1), r([2, 4, 5], 2)]) { try $0[0].matmul($0[1]) }
        try checkGradients("matmul_broadcast", [r([2, 1, 3, 4], 1), r([3, 4, 2], 2)]) { try $0[0].matmul($0[1]) }
        try checkGradients("matmul_vec", [r([4], 1), r([4, 3], 2)]) { try $0[0].matmul($0[1]) }
        try checkGradients("linear", [r([2, 3, 8], 1), r([5, 8], 2), r([5], 3)]) { try $0[0].linear($0[1], bias: $0[2]) }
    }

    func testConvolution() throws {
        for (stride, padding, k) in [(1, 1, 3), (2, 1, 3), (1, 0, 1), (2, 0, 3), (1, 2, 5)] {
            try checkGradients("conv s\(stride) p\(padding) k\(k)",
                               [r([2, 3, 8, 7], 1), r([4, 3, k, k], 2, scale: 0.3), r([4], 3)]) {
                try $0[0].conv2d($0[1], bias: $0[2], stride: stride, padding: padding)
            }
        }
        try checkGradients("upsample", [r([1, 2, 3, 4], 1)]) { try $0[0].upsampleNearest2x() }
        try checkGradients("pad", [r([1, 2, 3, 4], 1)]) { try $0[0].padded2d(left: 0, right: 1, top: 2, bottom: 1) }
    }

    func testNormalisation() throws {
        try checkGradients("group_norm", [r([2, 8, 5, 5], 1, scale: 3, shift: 1), r([8], 2), r([8], 3)], rtol: 2e-2) {
            try $0[0].groupNorm(groups: 4, weight: $0[1], bias: $0[2])
        }
        try checkGradients("layer_norm", [r([3, 7, 16], 1, scale: 2), r([16], 2), r([16], 3)], rtol: 2e-2) {
            try $0[0].layerNorm(weight: $0[1], bias: $0[2])
        }
    }

    func testAttentionAndEmbedding() throws {
        try checkGradients("attention", [r([2, 10, 16], 1), r([2, 12, 16], 2), r([2, 12, 24], 3)]) {
            try Tensor.attention($0[0], $0[1], $0[2], heads: 4)
        }
        try checkGradients("attention_causal", [r([1, 7, 8], 1), r([1, 7, 8], 2), r([1, 7, 8], 3)]) {
            try Tensor.attention($0[0], $0[1], $0[2], heads: 2, causal: true)
        }
        try checkGradients("embedding", [r([6, 4], 1)]) { try Tensor.embedding($0[0], ids: [3, 0, 3, 5], shape: [2, 2]) }
    }

    /// A finite-difference check that can fail: a deliberately wrong derivative is caught.
    func testCheckerRejectsAWrongGradient() throws {
        let x = try r([6], 1).param()
        let y = try x * x   // true gradient 2x·r
        let rr = Tensor.randn(y.shape, seed: 99)
        let g = try gradients(of: try (y * rr).sum(), wrt: [x])[0]
        let wrong = try g * 1.05
        XCTAssertGreaterThan(maxAbsDiff(wrong, g), 1e-2, "a 5% error must be visible at the checker's tolerance")
    }
}
