import Foundation
import XCTest
import DreamModels
import DreamDiffusion
import DreamMethod
import DreamTensor
import DreamIO

/// Learning prompt vectors through the text encoder and the UNet of the small SD fixtures.
final class LearningTests: XCTestCase {
    func setup(_ fam: String) throws -> (StableDiffusion, PromptDistribution, Tensor, StepNoise) {
        let sd = try StableDiffusion(path: "\(sdDir)/\(fam)")
        let dist = PromptDistribution(k: 3, m: 2, width: sd.textEncoder.hidden, seed: 5, prefix: "a photo of", suffix: "")
        let z0 = try Tensor.randn([2, 4, 4, 4], seed: 9) * 0.8
        let noise = StepNoise(batch: 2, samples: 2, latentShape: [4, 4, 4], context: [77, sd.textEncoder.hidden], trainSteps: 1000, seed: 3)
        return (sd, dist, z0, noise)
    }

    func testPromptGradientMatchesFiniteDifferences() throws {
        for fam in ["sd1", "sd2"] {
            let (sd, dist, z0, noise) = try setup(fam)
            let objective = LearningObjective(samples: 2, orthoWeight: 0.1)
            let v = dist.prompts.param()
            let loss = try objective.loss(sd, dist, vectors: v, latents: z0, noise: noise)
            let g = try gradients(of: loss, wrt: [v])[0]
            var checked = 0
            for i in stride(from: 0, to: v.count, by: 7) {
                let a = dist.prompts.copy(), b = dist.prompts.copy()
                let eps: Float = 5e-3
                a.pointer[i] += eps; b.pointer[i] -= eps
                let la = try withoutGrad { try objective.loss(sd, dist, vectors: a, latents: z0, noise: noise).item }
                let lb = try withoutGrad { try objective.loss(sd, dist, vectors: b, latents: z0, noise: noise).item }
                let fd = Double(la - lb) / Double(2 * eps)
                XCTAssertEqual(Double(g.pointer[i]), fd, accuracy: 2e-3 * max(1, abs(fd)) + 0.05 * abs(fd), "\(fam) d loss / d prompt[\(i)]")
                checked += 1
            }
            XCTAssertGreaterThan(checked, 3)
            // Large enough that the tolerance above could not hide a wrong gradient.
            XCTAssertGreaterThan(maxAbs(g), 0.05, "\(fam): the prompts must receive a clear gradient (max \(maxAbs(g)))")
        }
    }

    func testAFewStepsLowerTheLoss() throws {
        let (sd, dist, z0, noise) = try setup("sd1")
        let objective = LearningObjective(samples: 2)
        let v = dist.prompts.param()
        let opt = AdamW([v], lr: 1e-2, weightDecay: 0.01)
        let before = try withoutGrad { try objective.loss(sd, dist, vectors: v.detached, latents: z0, noise: noise).item }
        for _ in 0..<15 {
            let loss = try objective.loss(sd, dist, vectors: v, latents: z0, noise: noise)
            let (g, _) = try clipGradNorm(try gradients(of: loss, wrt: [v]), maxNorm: 1)
            try opt.update(g)
        }
        let after = try withoutGrad { try objective.loss(sd, dist, vectors: v.detached, latents: z0, noise: noise).item }
        // The tiny random UNet listens to its conditioning only a little: the loss moves by tenths of a percent.
        XCTAssertLessThan(after, before - 1e-3, "loss \(before) → \(after)")
    }
}

func maxAbs(_ t: Tensor) -> Float { t.scalars.reduce(0) { max($0, abs($1)) } }
