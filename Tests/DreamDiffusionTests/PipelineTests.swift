import Foundation
import XCTest
import DreamTestSupport
import DreamModels
import DreamDiffusion
import DreamTensor
import DreamIO

/// Whole pipelines against diffusers' StableDiffusionPipeline from the same starting latents: DDIM, Euler,
/// DPM++ 2M, LMS and UniPC at 8 steps, normal and Karras schedules, guidance 7.5, SD 1.x (ε) and SD 2.x (v).
final class PipelineTests: XCTestCase {
    func testImagesMatchDiffusers() throws {
        for (fam, layout, sd) in try sdLayouts() {
            let refs = try SafeTensorsFile(path: "\(sdDir)/\(fam)/pipeline-references.safetensors")
            for (name, sampler, schedule) in [("ddim", "ddim", "normal"), ("euler", "euler", "normal"), ("euler_karras", "euler", "karras"),
                                              ("dpmpp_2m", "dpmpp_2m", "normal"), ("dpmpp_2m_karras", "dpmpp_2m", "karras"),
                                              ("lms", "lms", "normal"), ("lms_karras", "lms", "karras"), ("uni_pc", "uni_pc", "normal"),
                                              ("uni_pc_karras", "uni_pc", "karras"), ("uni_pc_bh2", "uni_pc_bh2", "normal")] {
                // The step schedule first: the same timesteps as diffusers' scheduler.
                let ns = try sd.noiseSchedule
                let family = Samplers.builtin[sampler]!.family
                let sched = try StepSchedule.make(ns, steps: 8, family: family, kind: schedule)
                let ts = try refs.tensor("timesteps_\(name)").scalars
                for (a, b) in zip(sched.timesteps, ts) { XCTAssertEqual(a, Double(b), accuracy: 1e-3, "\(fam) \(name) timesteps \(sched.timesteps) vs \(ts)") }
                var o = GenerationOptions()
                o.steps = 8; o.cfg = 7.5; o.sampler = Samplers.builtin[sampler]!; o.schedule = schedule
                o.latents = try refs.tensor("start")
                o.size = (16, 16)
                let img = try sd.generate(["a red cone on a dark background"], o)
                assertClose(img, try refs.tensor("image_\(name)"), 2e-3, "\(layout) \(name) image")
                if name == "euler" {
                    o.negative = "blurry, gray"
                    assertClose(try sd.generate(["a red cone on a dark background"], o), try refs.tensor("image_euler_negative"), 2e-3, "\(layout) euler with a negative prompt")
                }
            }
        }
    }

    /// DDIM with η: one step in k-diffusion's σ space equals Song et al.'s update in ᾱ terms,
    /// x' = √ᾱ' x̂₀ + √(1 − ᾱ' − σ_t²) ε̂ + σ_t z with σ_t = η √((1−ᾱ')/(1−ᾱ)) √(1 − ᾱ/ᾱ'), for the same z.
    func testDDIMEtaStepMatchesTheDDIMFormula() throws {
        let (s, s2) = (2.5, 0.8)
        let xt = Tensor.randn([1, 4, 3, 3], seed: 3), d = Tensor.randn([1, 4, 3, 3], seed: 4)
        for eta in [0.0, 0.5, 1.0] {
            var rng = RandomGenerator(seed: 9)
            let got = try Samplers.ddim(eta: eta)({ _, _ in d }, xt, [s, s2], &rng) { _ in }
            var zrng = RandomGenerator(seed: 9)
            let z = zrng.normal(xt.shape)
            let (a, a2) = (1 / (1 + s * s), 1 / (1 + s2 * s2))
            let sigmaT = eta * ((1 - a2) / (1 - a)).squareRoot() * (1 - a / a2).squareRoot()
            let eps = try (xt - d) * Float(1 / s)                       // ε̂ from x̃ = x̂₀ + σ ε̂
            let xVP = try d * Float(a2.squareRoot()) + eps * Float((1 - a2 - sigmaT * sigmaT).squareRoot()) + (eta > 0 ? z * Float(sigmaT) : eps * 0)
            assertClose(got, try xVP * Float(1 / a2.squareRoot()), 1e-5, "η = \(eta)")
        }
        // As η → 0 a whole run tends to the deterministic sampler's, its difference shrinking with η
        // (σ_up ∝ η, so the fresh noise's share is first order in η).
        let sig = [4.0, 2.0, 0.5, 0.1]
        var r0 = RandomGenerator(seed: 1)
        let deterministic = try Samplers.euler({ x, _ in try x * 0.5 }, xt, sig, &r0) { _ in }
        var gaps: [Float] = []
        for eta in [1e-2, 1e-3] {
            var r = RandomGenerator(seed: 1)
            let x = try Samplers.ddim(eta: eta)({ x, _ in try x * 0.5 }, xt, sig, &r) { _ in }
            gaps.append(try (x - deterministic).abs().max().item)
        }
        XCTAssertGreaterThan(gaps[1], 0)
        XCTAssertEqual(Double(gaps[0] / gaps[1]), 10, accuracy: 1, "difference from η = 0 is first order in η: \(gaps)")
    }
}
