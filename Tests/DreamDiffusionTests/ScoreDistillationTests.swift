import Foundation
import XCTest
import DreamTestSupport
import DreamModels
import DreamDiffusion
import DreamTensor

/// Score distillation on the small SD fixtures (1.x: ε-prediction, 2.x: v-prediction).
final class ScoreDistillationTests: XCTestCase {
    /// Smooth images in (0, 1) the size the fixtures expect.
    func images(_ sd: StableDiffusion, _ b: Int) throws -> Tensor {
        let s = sd.unet.sampleSize * sd.vae.downscale
        return try (Tensor.randn([b, 3, s, s], seed: 4) * 0.3 + 0.5).clamp(min: 0.05, max: 0.95)
    }

    /// The latent direction w(t)(ε̂ − ε) recomputed from the drawn t and ε with separate UNet calls (the
    /// implementation batches unconditional and conditional together), ε̂ from v where the model predicts v.
    func testDirectionIsTheGuidedNoiseResidualWeightedByOneMinusAlphaBar() throws {
        for fam in ["sd1", "sd2"] {
            let sd = try StableDiffusion(path: "\(sdDir)/\(fam)")
            let x = try images(sd, 2)
            let c = try concatenate([sd.encode("a red cube"), sd.encode("a blue cone")], axis: 0), u = try sd.encode("")
            var sds = ScoreDistillation()
            sds.guidance = 7.5
            let r = try sds.gradient(sd, images: x, conditions: c, unconditional: u, seed: 11)
            let ns = try sd.noiseSchedule
            try withoutGrad {
                let z = try sd.vae.encodeMean(x * 2 - 1) * sd.vae.scalingFactor
                for i in 0..<2 {
                    let t = r.timesteps[i]
                    XCTAssert((19...979).contains(t), "\(fam): t = \(t) outside [0.02, 0.98] of the schedule")
                    let a = ns.alphasCumprod[t]
                    let zi = try z.sliced(axis: 0, start: i, end: i + 1), ei = try r.noise.sliced(axis: 0, start: i, end: i + 1)
                    let zt = try zi * a.squareRoot() + ei * (1 - a).squareRoot()
                    func eps(_ cond: Tensor) throws -> Tensor {
                        let out = try sd.unet(zt, timesteps: [Float(t)], context: cond)
                        return ns.prediction == .v ? try out * a.squareRoot() + zt * (1 - a).squareRoot() : out
                    }
                    let eu = try eps(u), ec = try eps(c.sliced(axis: 0, start: i, end: i + 1))
                    let expected = try (eu + (ec - eu) * 7.5 - ei) * (1 - a)
                    let got = try r.direction.sliced(axis: 0, start: i, end: i + 1)
                    XCTAssertLessThan(maxAbs(try got - expected), 1e-4 * max(1, maxAbs(expected)), "\(fam) image \(i)")
                }
            }
            XCTAssertGreaterThan(maxAbs(r.direction), 1e-3, "\(fam): a direction that could hide a wrong one")
        }
    }

    /// The image gradient is the encoder's transpose applied to the direction: ⟨g, v⟩ equals ⟨direction,
    /// ∂z/∂x·v⟩ with ∂z/∂x·v by central differences, along random directions v.
    func testImageGradientIsTheEncodersTransposeOfTheDirection() throws {
        for fam in ["sd1", "sd2"] {
            let sd = try StableDiffusion(path: "\(sdDir)/\(fam)")
            let x = try images(sd, 1)
            let r = try ScoreDistillation().gradient(sd, images: x, conditions: sd.encode("a red cube"), unconditional: sd.encode(""), seed: 3)
            XCTAssertEqual(r.gradient.shape, x.shape)
            for k in 0..<3 {
                let v = Tensor.randn(x.shape, seed: UInt64(20 + k))
                let h: Float = 1e-2
                let fd = try withoutGrad { () -> Double in
                    let zp = try sd.vae.encodeMean((x + v * h) * 2 - 1) * sd.vae.scalingFactor
                    let zm = try sd.vae.encodeMean((x - v * h) * 2 - 1) * sd.vae.scalingFactor
                    return Double(try (((zp - zm) * (1 / (2 * h))) * r.direction).sum().item)
                }
                let analytic = Double(try (r.gradient * v).sum().item)
                XCTAssertEqual(analytic, fd, accuracy: 0.02 * abs(fd) + 1e-5, "\(fam) direction \(k)")
                XCTAssertGreaterThan(abs(fd), 1e-4, "\(fam): a derivative that could hide a wrong one")
            }
            // The same seed gives the same gradient; bad shapes are named.
            let again = try ScoreDistillation().gradient(sd, images: x, conditions: sd.encode("a red cube"), unconditional: sd.encode(""), seed: 3)
            XCTAssertEqual(again.gradient.scalars, r.gradient.scalars)
            XCTAssertThrowsError(try ScoreDistillation().gradient(sd, images: x, conditions: sd.encode("a"), unconditional: Tensor(zeros: [1, 5, 7]), seed: 0)) {
                XCTAssertTrue("\($0)".contains("conditions must be"), "\($0)")
            }
        }
    }
}
