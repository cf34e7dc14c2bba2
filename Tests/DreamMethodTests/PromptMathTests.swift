import XCTest
import DreamTestSupport
import DreamMethod
import DreamTensor

/// The method's formulas against values worked out by hand (METHOD.md).
final class PromptMathTests: XCTestCase {
    func testOrthogonalityLossGoldenValue() throws {
        // (1,0,0), (1,1,0), (0,0,2): cosines 1/√2, 0, 0 → Σ_{i≠j} C² = 2·½ = 1, K(K−1) = 6 → 1/6.
        let eos = try Tensor([1, 0, 0, 1, 1, 0, 0, 0, 2], shape: [3, 3])
        XCTAssertEqual(try PromptMath.orthogonalityLoss(eos).item, 1.0 / 6, accuracy: 1e-6)
        XCTAssertEqual(try PromptMath.orthogonalityLoss(Tensor([1, 2, 3], shape: [1, 3])).item, 0)
        // Its gradient matches finite differences.
        let x = Tensor.randn([4, 5], seed: 1)
        let p = x.param()
        let grad = try gradients(of: PromptMath.orthogonalityLoss(p), wrt: [p])[0]
        for i in [0, 7, 13, 19] {
            let a = x.copy(), b = x.copy()
            a.pointer[i] += 1e-2; b.pointer[i] -= 1e-2
            let fd = (try PromptMath.orthogonalityLoss(a).item - PromptMath.orthogonalityLoss(b).item) / 2e-2
            XCTAssertEqual(grad.pointer[i], fd, accuracy: 2e-3 + 2e-2 * abs(fd))
        }
    }

    func testMeanAndUnbiasedStd() throws {
        // K = 3 prompts of one position, d = 2: values (1, 5), (2, 5), (6, 5) → μ = (3, 5), σ = (√7, 0).
        let h = try Tensor([1, 5, 2, 5, 6, 5], shape: [3, 1, 2])
        let (mu, sd) = try PromptMath.gaussian(h)
        XCTAssertEqual(mu.scalars, [3, 5])
        XCTAssertEqual(sd.scalars[0], Float(7).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(sd.scalars[1], 0)
        // Gradients through σ stay finite where σ = 0 and for K = 1.
        let p = h.param()
        let (m2, s2) = try PromptMath.gaussian(p)
        let g = try gradients(of: try (m2 + s2 * Tensor.randn([1, 2], seed: 3)).sum(), wrt: [p])[0]
        XCTAssertTrue(g.scalars.allSatisfy { $0.isFinite }, "\(g.scalars)")
        let one = try Tensor([1, 2], shape: [1, 1, 2]).param()
        let (m1, s1) = try PromptMath.gaussian(one)
        XCTAssertEqual(s1.scalars, [0, 0])
        let g1 = try gradients(of: try (m1 + s1).sum(), wrt: [one])[0]
        XCTAssertEqual(g1.scalars, [1, 1])
    }

    func testMinSNRWeights() {
        // ᾱ = 0.5 → SNR 1: ε weight min(1, 5)/1 = 1, v weight 1/2. ᾱ = 0.9 → SNR 9: ε 5/9, v 5/10.
        XCTAssertEqual(PromptMath.minSNRWeight(alphaBar: 0.5, vPrediction: false), 1, accuracy: 1e-12)
        XCTAssertEqual(PromptMath.minSNRWeight(alphaBar: 0.5, vPrediction: true), 0.5, accuracy: 1e-12)
        XCTAssertEqual(PromptMath.minSNRWeight(alphaBar: 0.9, vPrediction: false), 5.0 / 9, accuracy: 1e-12)
        XCTAssertEqual(PromptMath.minSNRWeight(alphaBar: 0.9, vPrediction: true), 0.5, accuracy: 1e-12)
    }

    func testMixingFormula() throws {
        let (mu, sd) = try PromptMath.mix(means: [Tensor([1, 2], shape: [2]), Tensor([3, 6], shape: [2])].map { try $0 },
                                          stds: [Tensor([1, 0], shape: [2]), Tensor([2, 2], shape: [2])].map { try $0 },
                                          weights: [0.25, 0.75], gammas: [2, 1])
        // μ = 0.25·(1,2) + 0.75·(3,6) = (2.5, 5); σ = √((0.25·2·1)² + (0.75·1·2)²) = √(0.25 + 2.25), √(0 + 2.25).
        XCTAssertEqual(mu.scalars, [2.5, 5])
        XCTAssertEqual(sd.scalars[0], Float(2.5).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(sd.scalars[1], 1.5, accuracy: 1e-6)
    }
}
