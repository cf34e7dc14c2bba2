import Foundation
import XCTest
import DreamTestSupport
@testable import DreamDiffusion
import DreamTensor

/// Every built-in sampler on data whose exact denoiser is known: x₀ ~ N(0, s²) per element gives
/// D(x̃, σ) = x̃·s²/(s² + σ²). The probability-flow ODE then has the closed form x̃(σ) ∝ √(s² + σ²), so a
/// deterministic sampler must land on x̃(σ_max)·s/√(s² + σ_max²) with an error that shrinks at its order, and an
/// ancestral one must end, whatever its noise, with a variance that tends to the exact one at its order.
final class SamplerTests: XCTestCase {
    let s = 0.5, smin = 0.03, smax = 14.6
    func denoiser() -> Denoiser { { x, sigma in try x * Float(self.s * self.s / (self.s * self.s + sigma * sigma)) } }
    func sigmas(_ steps: Int) -> [Double] { NoiseSchedule.karras(min: smin, max: smax, count: steps) + [0] }

    func run(_ name: String, _ x: Tensor, steps: Int, seed: UInt64 = 1) throws -> Tensor {
        var rng = RandomGenerator(seed: seed)
        return try Samplers.builtin[name]!.run(denoiser(), x, sigmas(steps), &rng) { _ in }
    }

    /// Error against the exact solution at n and 2n steps: the ratio gives the order of convergence.
    func testDeterministicSamplersConvergeAtTheirOrder() throws {
        let start = try Tensor.randn([64], seed: 5) * Float((s * s + smax * smax).squareRoot())
        let exact = try start * Float(s / (s * s + smax * smax).squareRoot())
        for (name, order) in [("euler", 1.0), ("ddim", 1.0), ("dpmpp_2m", 2.0), ("lms", 3.0), ("uni_pc", 2.0), ("uni_pc_bh2", 2.0)] {
            var errors: [Double] = []
            for steps in [10, 20, 40] {
                let got = try run(name, start, steps: steps)
                errors.append(zip(got.scalars, exact.scalars).map { Double(abs($0 - $1)) }.max()! / Double(exact.scalars.map(abs).max()!))
            }
            let observed = log2(errors[1] / errors[2])
            XCTAssertLessThan(errors[2], errors[1], "\(name): errors at 10, 20, 40 steps \(errors)")
            XCTAssertGreaterThan(observed, order - 0.25, "\(name): observed order \(observed) (errors \(errors))")
        }
    }

    /// The ancestral samplers: fresh noise at every step, yet the end distribution tends to the exact one —
    /// the data's, up to the last step's denoising from σ_min, variance s⁴/(s² + σ_min²) — with the error
    /// shrinking at the sampler's order as the steps double. With σ_up wrong (or no noise) it would tend to
    /// another value.
    func testAncestralSamplersTendToTheExactVariance() throws {
        let exact = pow(s, 4) / (s * s + smin * smin)
        let start = try Tensor.randn([1_000_000], seed: 6) * Float((s * s + smax * smax).squareRoot())
        for (name, steps, order) in [("euler_ancestral", [20, 40, 80], 1.0), ("dpmpp_2s_ancestral", [10, 20, 40], 2.0), ("dpmpp_sde", [10, 20, 40], 1.5)] {
            var errors: [Double] = []
            for n in steps {
                let got = try run(name, start, steps: n)
                errors.append(abs(got.scalars.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(got.count) / exact - 1))
            }
            XCTAssertGreaterThan(log2(errors[0] / errors[1]), order - 0.4, "\(name): relative variance errors \(errors) at \(steps) steps")
            XCTAssertGreaterThan(log2(errors[1] / errors[2]), order - 0.4, "\(name): relative variance errors \(errors) at \(steps) steps")
            // The same start and noise seed give the same images; another noise seed other ones.
            let small = try Tensor.randn([8], seed: 7) * Float(smax)
            XCTAssertEqual(try run(name, small, steps: 10).scalars, try run(name, small, steps: 10).scalars)
            XCTAssertNotEqual(try run(name, small, steps: 10).scalars, try run(name, small, steps: 10, seed: 2).scalars)
        }
    }

    /// LMS's coefficients integrate the Lagrange basis exactly: they sum to the step (the basis sums to 1)
    /// and reproduce ∫ τ² dτ for a quadratic through the nodes.
    func testLMSCoefficientsIntegrateTheInterpolant() {
        let t = [9.0, 5.0, 2.5, 1.0, 0.3]
        for order in 1...4 {
            let i = order - 1 + (order < 4 ? 1 : 0)
            let c = (0..<order).map { Samplers.lmsCoefficient(t, i, $0, order: order) }
            XCTAssertEqual(c.reduce(0, +), t[i + 1] - t[i], accuracy: 1e-12, "order \(order)")
            if order >= 3 {
                let q = (0..<order).map { j in c[j] * t[i - j] * t[i - j] }.reduce(0, +)
                XCTAssertEqual(q, (pow(t[i + 1], 3) - pow(t[i], 3)) / 3, accuracy: 1e-9, "order \(order)")
            }
        }
    }
}
