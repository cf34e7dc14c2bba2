import Foundation
import XCTest
import DreamTestSupport
import DreamModels
import DreamDiffusion
@testable import DreamMethod
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
            XCTAssertGreaterThan(try assertMatchesFiniteDifferences(g, objective, sd, dist, z0, noise, every: 7, eps: 5e-3, fam), 3)
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

    /// Competing prompts share a part that learns from every reference: after one step with one reference,
    /// the two prompts that did not explain it moved by the same shared step (AdamW's first step, lr per
    /// element where the gradient is not tiny) beside the weight decay of their own part, and the prompt
    /// that explained it moved differently.
    func testCompetingPromptsShareAPartThatLearnsFromEveryReference() throws {
        let sd = try StableDiffusion(path: "\(sdDir)/sd1")
        var s = LearningSettings()
        s.objective = .compete; s.prompts = 3; s.tokens = 2; s.steps = 1; s.batch = 1; s.lr = 1e-2; s.seed = 4
        s.ortho = 0   // the orthogonality term would give every prompt a gradient of its own
        let latents = try Tensor.randn([2, 4, 8, 8], seed: 9) * 0.8
        let learned = try sd.learn(latents: latents, s)
        let start = PromptDistribution(k: 3, m: 2, width: sd.textEncoder.hidden, seed: s.seed).prompts
        let decay = 1 - s.lr * s.weightDecay
        let rows = try (0..<3).map { k in
            try (learned.dist.prompts.sliced(axis: 0, start: k, end: k + 1) - start.sliced(axis: 0, start: k, end: k + 1) * decay).scalars
        }
        let winner = try XCTUnwrap(learned.assignment.flatMap { a in Assignment(scores: a.scalars, prompts: 3).best(0) ?? Assignment(scores: a.scalars, prompts: 3).best(1) })
        let others = (0..<3).filter { $0 != winner }
        let sharedStep = try XCTUnwrap(learned.shared).scalars
        for k in others {
            XCTAssertLessThan(zip(rows[k], sharedStep).map { abs($0 - $1) }.max()!, 1e-6, "prompt \(k) moved by the shared step alone")
        }
        XCTAssertEqual(sharedStep.map(abs).max()!, s.lr, accuracy: s.lr * 0.01)
        XCTAssertGreaterThan(zip(rows[winner], sharedStep).map { abs($0 - $1) }.max()!, s.lr / 2, "the explaining prompt's own part moved too")
    }

    /// A blend is learned beside the competing prompts without changing them: after a few steps the first K
    /// prompts equal, bit for bit, a run without a blend, the blend (the last prompt) moved from its start (the
    /// first prompt's start, where Textual Inversion with the seed starts), and the weights are the Good–Turing
    /// split of the run's own choices.
    func testBlendLearnsBesideTheCompetingPromptsWithoutChangingThem() throws {
        let sd = try StableDiffusion(path: "\(sdDir)/sd1")
        var s = LearningSettings()
        s.objective = .compete; s.prompts = 3; s.tokens = 2; s.steps = 4; s.batch = 2; s.lr = 1e-2; s.seed = 4; s.ortho = 0
        let latents = try Tensor.randn([3, 4, 8, 8], seed: 9) * 0.8
        s.blend = false
        let without = try sd.learn(latents: latents, s)
        s.blend = true
        let with = try sd.learn(latents: latents, s)
        XCTAssertEqual(with.dist.k, 4)
        XCTAssertEqual(try with.dist.prompts.sliced(axis: 0, start: 0, end: 3).copy().scalars, without.dist.prompts.scalars)
        XCTAssertEqual(with.choices, without.choices)
        let start = try PromptDistribution(k: 3, m: 2, width: sd.textEncoder.hidden, seed: s.seed).prompts.sliced(axis: 0, start: 0, end: 1).copy()
        XCTAssertGreaterThan(maxAbs(try with.dist.prompts.sliced(axis: 0, start: 3, end: 4) - start), s.lr / 2, "the blend learned")
        let a = Assignment(scores: try XCTUnwrap(with.assignment).scalars, choices: with.choices, prompts: 3)
        XCTAssertEqual(try XCTUnwrap(with.dist.weights), a.weightsWithBlend)
        XCTAssertEqual(try XCTUnwrap(without.dist.weights), a.weights)
        // A step's loss is the competition's plus Textual Inversion's loss of the blend on its own batch (twice the
        // competition's, from the blend's stream); Textual Inversion's loss is checked against a direct
        // computation in ObjectiveTests. One step, so that the blend is still at its start.
        s.steps = 1
        let one = try sd.learn(latents: latents, s)
        s.blend = false
        let oneWithout = try sd.learn(latents: latents, s)
        let (zb, _, nb) = try sd.stepBatch(latents, count: 4, seed: s.seed, .blend, step: 0, samples: 1,
                                             trainSteps: try sd.noiseSchedule.trainSteps)
        let ti = try withoutGrad {
            try LearningObjective(.paper, samples: 1, orthoWeight: 0).loss(sd, one.dist, vectors: start, latents: zb, noise: nb).item
        }
        XCTAssertEqual(one.lastLoss, oneWithout.lastLoss + ti, accuracy: 1e-6 * max(1, one.lastLoss))
        XCTAssertGreaterThan(ti, 1e-3)
    }
}

func maxAbs(_ t: Tensor) -> Float { t.scalars.reduce(0) { max($0, abs($1)) } }


/// Checks every `every`-th element of the prompts' gradient `g` against central finite differences of the
/// objective's loss; returns how many were checked.
func assertMatchesFiniteDifferences(_ g: Tensor, _ o: LearningObjective, _ sd: StableDiffusion, _ dist: PromptDistribution, _ z0: Tensor,
                                    _ noise: StepNoise, every: Int, eps: Float, _ label: String,
                                    file: StaticString = #filePath, line: UInt = #line) throws -> Int {
    var checked = 0
    for i in stride(from: 0, to: g.count, by: every) {
        let a = dist.prompts.copy(), b = dist.prompts.copy()
        a.pointer[i] += eps; b.pointer[i] -= eps
        let la = try withoutGrad { try o.loss(sd, dist, vectors: a, latents: z0, noise: noise).item }
        let lb = try withoutGrad { try o.loss(sd, dist, vectors: b, latents: z0, noise: noise).item }
        let fd = Double(la - lb) / Double(2 * eps)
        XCTAssertEqual(Double(g.pointer[i]), fd, accuracy: 2e-3 * max(1, abs(fd)) + 0.05 * abs(fd), "\(label) d loss / d prompt[\(i)]", file: file, line: line)
        checked += 1
    }
    return checked
}

/// Each objective's loss against a direct computation (one UNet call per image and condition) and its
/// gradient against finite differences, on the small SD fixtures.
final class ObjectiveTests: XCTestCase {
    /// The loss written out from METHOD.md: per image i and condition j, w_i · mean((UNet(z_t, t_i, c_ij) − target)²);
    /// the paper averages over (i, j), the others take each image's minimum over j; plus λ L_orth.
    func direct(_ o: LearningObjective, _ sd: StableDiffusion, _ dist: PromptDistribution, _ z0: Tensor, _ noise: StepNoise) throws -> Float {
        try withoutGrad {
            let ns = try sd.noiseSchedule
            let (h, eos) = try dist.encode(sd)
            let (mu, sigma) = try PromptMath.gaussian(h)
            let b = z0.shape[0], s = o.conditionsPerImage(prompts: dist.k)
            var total: Double = 0
            for i in 0..<b {
                let ab = Double(ns.alphasCumprod[noise.timesteps[i]])
                let x0 = try z0.sliced(axis: 0, start: i, end: i + 1), n = try noise.noise.sliced(axis: 0, start: i, end: i + 1)
                let zt = try x0 * Float(ab.squareRoot()) + n * Float((1 - ab).squareRoot())
                let target = ns.prediction == .epsilon ? n : try n * Float(ab.squareRoot()) - x0 * Float((1 - ab).squareRoot())
                let snr = ab / (1 - ab)
                let w = min(snr, 5) / (ns.prediction == .v ? snr + 1 : snr)
                var losses: [Double] = []
                for j in 0..<s {
                    let c = o.objective == .compete ? try h.sliced(axis: 0, start: j, end: j + 1)
                        : try mu.unsqueezed(0) + sigma.unsqueezed(0) * noise.eps.sliced(axis: 0, start: i * s + j, end: i * s + j + 1)
                    let e = try sd.unet(zt, timesteps: [Float(noise.timesteps[i])], context: c) - target
                    losses.append(w * Double(try (e * e).mean().item))
                }
                total += o.objective == .paper ? losses.reduce(0, +) / Double(s) : losses.min()!
            }
            return Float(total / Double(b)) + (try PromptMath.orthogonalityLoss(h.select(axis: 1, index: eos)).item) * o.orthoWeight
        }
    }

    func testEachObjectiveMatchesADirectComputationAndFiniteDifferences() throws {
        for fam in ["sd1", "sd2"] {
            let sd = try StableDiffusion(path: "\(sdDir)/\(fam)")
            let dist = PromptDistribution(k: 3, m: 2, width: sd.textEncoder.hidden, seed: 5, prefix: "a photo of", suffix: "")
            dist.prompts = try dist.prompts * 20   // prompts far enough apart that the minimum is clear
            let z0 = try Tensor.randn([2, 4, 4, 4], seed: 9) * 0.8
            let noise = StepNoise(batch: 2, samples: 3, latentShape: [4, 4, 4], context: [77, sd.textEncoder.hidden], trainSteps: 1000, seed: 3)
            var values: [Objective: Float] = [:]
            for objective in Objective.allCases {
                let o = LearningObjective(objective, samples: 3, orthoWeight: 0.1)
                let v = dist.prompts.param()
                let (loss, choices) = try o.lossAndChoices(sd, dist, vectors: v, latents: z0, noise: noise)
                values[objective] = try loss.item
                XCTAssertEqual(try loss.item, try direct(o, sd, dist, z0, noise), accuracy: 1e-5 * max(1, abs(try loss.item)), "\(fam) \(objective) loss")
                XCTAssertEqual(choices.count, objective == .paper ? 0 : 2)
                let g = try gradients(of: loss, wrt: [v])[0]
                _ = try assertMatchesFiniteDifferences(g, o, sd, dist, z0, noise, every: 11, eps: 2e-3, "\(fam) \(objective)")
                XCTAssertGreaterThan(maxAbs(g), 0.01, "\(fam) \(objective): a clear gradient")
            }
            // A minimum over the same conditions is below their mean.
            XCTAssertLessThan(values[.mixture]!, values[.paper]!, fam)
        }
    }

    /// Competing prompts keep, per reference, a running relative loss; a reference goes to the prompt
    /// that has explained it best over its recent visits, not to one noisy step's winner.
    func testAssignmentFollowsTheRunningLossAndGivesWeights() throws {
        var a = Assignment(references: 3, prompts: 2)
        XCTAssertEqual(a.weights, [0.5, 0.5], "uniform before any reference is seen")
        XCTAssertEqual(a.update(0, losses: [1, 3]), 0)          // relative 0.5 / 1.5
        XCTAssertEqual(a.scores[0], 0.5, accuracy: 1e-6)
        // One step where prompt 1 wins narrowly does not move reference 0: 0.8·0.5 + 0.2·1.1 = 0.62 < 0.8·1.5 + 0.2·0.9.
        XCTAssertEqual(a.update(0, losses: [1.1, 0.9]), 0)
        XCTAssertEqual(a.scores[0], 0.62, accuracy: 1e-6)
        XCTAssertEqual(a.update(1, losses: [4, 2]), 1)
        XCTAssertEqual(a.weights, [0.5, 0.5], "reference 2 unseen: two seen, one each")
        XCTAssertEqual(a.update(2, losses: [5, 1]), 1)
        XCTAssertEqual(a.weights.map { Double($0) }, [1.0 / 3, 2.0 / 3].map { $0 }, accuracy: 1e-6)
    }

    /// The blend's share is Good and Turing's n₁ / n, hand-computed: references 0, 1 explain prompt 0, reference 2
    /// prompt 1 alone, reference 3 prompt 2 alone, reference 4 is unseen: n = 4 seen, n₁ = 2 prompts explained by
    /// one reference, so the blend draws ½ and the prompts ½ × (2, 1, 1) / 4.
    func testBlendTakesTheShareOfReferencesThatExplainAPromptAlone() throws {
        var a = Assignment(references: 5, prompts: 4)
        XCTAssertEqual(a.weightsWithBlend, [Float](repeating: 0.2, count: 5), "uniform over the prompts and the blend before any is seen")
        XCTAssertEqual(a.update(0, losses: [1, 2, 3, 4]), 0)
        XCTAssertEqual(a.update(1, losses: [1, 2, 3, 4]), 0)
        XCTAssertEqual(a.update(2, losses: [2, 1, 3, 4]), 1)
        XCTAssertEqual(a.update(3, losses: [3, 2, 1, 4]), 2)
        XCTAssertEqual(a.weightsWithBlend.map { Double($0) }, [0.25, 0.125, 0.125, 0, 0.5], accuracy: 1e-7)
        // Every reference in one prompt: nothing is left to the blend.
        var b = Assignment(references: 2, prompts: 2)
        _ = b.update(0, losses: [1, 2]); _ = b.update(1, losses: [1, 2])
        XCTAssertEqual(b.weightsWithBlend, [1, 0, 0])
    }

    /// With a prompt cost λ, a prompt that explains no other reference costs λ more (hand-computed relative
    /// losses): a reference joins a prompt that explains others unless its own is better by more than λ, and
    /// a reference alone in its prompt pays λ to stay there.
    func testPromptCostSharesAPromptUnlessAReferenceDiffersByMore() throws {
        var a = Assignment(references: 3, prompts: 3)
        XCTAssertEqual(a.update(0, losses: [1, 2, 3], cost: 0.2), 0)        // relative 0.5 / 1 / 1.5, every prompt open
        // Relative 1.05 / 0.95 / 1: prompt 1 is better by 0.1 < λ, so reference 1 joins prompt 0 (1.05 < 1.15, 1.2).
        XCTAssertEqual(a.update(1, losses: [2.1, 1.9, 2.0], cost: 0.2), 0)
        var plain = Assignment(references: 3, prompts: 3)
        _ = plain.update(0, losses: [1, 2, 3])
        XCTAssertEqual(plain.update(1, losses: [2.1, 1.9, 2.0]), 1, "without the cost, the smallest")
        // Relative 1.5 / 0.5 / 1: prompt 1 is better by 1 > λ (0.7 against 1.5), so reference 2 opens it.
        XCTAssertEqual(a.update(2, losses: [3, 1, 2], cost: 0.2), 1)
        // Alone in prompt 1, it pays λ to stay: 0.8·(1.5, 0.5, 1) + 0.2·1 = (1.4, 0.6, 1); 0.6 + 0.2 < 1.4.
        XCTAssertEqual(a.update(2, losses: [2, 2, 2], cost: 0.2), 1)
        XCTAssertEqual(a.scores[7], 0.6, accuracy: 1e-6)
        XCTAssertEqual(a.choices, [0, 0, 1])
        XCTAssertEqual(a.weights.map { Double($0) }, [2.0 / 3, 1.0 / 3, 0], accuracy: 1e-6)
        // With λ 1 it would join prompt 0 instead (1.4 < 1.6).
        var b = a
        XCTAssertEqual(b.update(2, losses: [2, 2, 2], cost: 1), 0)
        XCTAssertEqual(b.weights.map { Double($0) }, [1, 0, 0], accuracy: 1e-6)
        // Saved scores and choices give the same state; scores alone (a run saved before choices were kept)
        // give each reference its smallest score.
        XCTAssertEqual(Assignment(scores: a.scores, choices: a.choices, prompts: 3).choices, [0, 0, 1])
        XCTAssertEqual(Assignment(scores: a.scores, prompts: 3).choices, [0, 1, 1])
    }

    /// The cosine schedule's rate at each step, hand-computed (lr · ½(1 + cos(π t / T))), and a learning run
    /// applies it step by step: a cosine run of 3 steps equals, bit for bit, a constant-rate run of one step
    /// continued one step at a time, each at the rate of its step; a constant run of 3 steps differs.
    func testCosineScheduleSetsTheRateOfEachStep() throws {
        XCTAssertEqual(LRSchedule.cosine.rate(0.01, step: 0, of: 4), 0.01, accuracy: 1e-9)
        XCTAssertEqual(LRSchedule.cosine.rate(0.01, step: 1, of: 4), 0.0085355339, accuracy: 1e-9)   // ½(1 + √½)
        XCTAssertEqual(LRSchedule.cosine.rate(0.01, step: 2, of: 4), 0.005, accuracy: 1e-9)
        XCTAssertEqual(LRSchedule.cosine.rate(0.01, step: 3, of: 4), 0.0014644661, accuracy: 1e-9)   // ½(1 − √½)
        XCTAssertEqual(LRSchedule.constant.rate(0.01, step: 3, of: 4), 0.01)
        let sd = try StableDiffusion(path: "\(sdDir)/sd1")
        var s = LearningSettings()
        s.objective = .compete; s.prompts = 3; s.tokens = 1; s.batch = 1; s.steps = 3; s.seed = 1; s.lr = 0.01
        s.lrSchedule = .cosine
        let latents = try Tensor.randn([2, 4, 8, 8], seed: 3)
        let whole = try sd.learn(latents: latents, s)
        var c = s
        c.lrSchedule = .constant; c.steps = 1
        var piece = try sd.learn(latents: latents, c)
        for step in [1, 2] {
            c.steps = step + 1; c.lr = s.learningRate(step: step)
            piece = try sd.learn(latents: latents, c, resume: piece)
        }
        XCTAssertEqual(c.lr, 0.0025, accuracy: 1e-9, "the last step's rate: ½(1 + cos 2π/3) = ¼")
        XCTAssertEqual(piece.dist.prompts.scalars, whole.dist.prompts.scalars)
        var flat = s
        flat.lrSchedule = .constant
        XCTAssertNotEqual(try sd.learn(latents: latents, flat).dist.prompts.scalars, whole.dist.prompts.scalars)
    }

    /// With `ema` β the prompts are the moving average of the trained parameter, computed here directly from
    /// the parameters that runs of 1, 2 and 3 steps end with (the average does not change the training): avg₁ =
    /// v₁, avgₜ = β·avgₜ₋₁ + (1 − β)·vₜ. The run keeps the last step's parameter to continue from, and a run of 2
    /// steps resumed to 3 gives the same prompts bit for bit.
    func testAveragedPromptsAreTheMovingAverageOfTheParameter() throws {
        let sd = try StableDiffusion(path: "\(sdDir)/sd1")
        var s = LearningSettings()
        s.objective = .paper; s.prompts = 2; s.tokens = 1; s.batch = 1; s.samples = 2; s.seed = 1; s.lr = 0.01
        let latents = try Tensor.randn([2, 4, 8, 8], seed: 3)
        let v = try (1...3).map { n -> [Float] in
            var plain = s
            plain.steps = n
            return try sd.learn(latents: latents, plain).dist.prompts.scalars
        }
        let b = 0.9
        var avg = v[0].map(Double.init)
        for t in 1..<3 { for j in avg.indices { avg[j] = b * avg[j] + (1 - b) * Double(v[t][j]) } }
        var e = s
        e.ema = Float(b); e.steps = 3
        let averaged = try sd.learn(latents: latents, e)
        XCTAssertEqual(averaged.dist.prompts.scalars.map(Double.init), avg, accuracy: 1e-6)
        XCTAssertEqual(try XCTUnwrap(averaged.parameters).scalars, v[2], "the parameter as trained, to continue from")
        XCTAssertGreaterThan(zip(averaged.dist.prompts.scalars, v[2]).map { abs($0 - $1) }.max()!, 1e-4, "the average is not the last step")
        var two = e
        two.steps = 2
        let resumed = try sd.learn(latents: latents, e, resume: try sd.learn(latents: latents, two))
        XCTAssertEqual(resumed.dist.prompts.scalars, averaged.dist.prompts.scalars)
    }

    /// A saved run whose prompt choices do not fit its references and prompts (a damaged file) is refused on
    /// resume with the reason, where it would otherwise index past the prompts.
    func testResumeRefusesPromptChoicesThatDoNotFit() throws {
        let sd = try StableDiffusion(path: "\(sdDir)/sd1")
        var s = LearningSettings()
        s.objective = .compete; s.prompts = 3; s.tokens = 1; s.batch = 1; s.steps = 2; s.seed = 1
        let latents = try Tensor.randn([2, 4, 8, 8], seed: 3)
        let half = try sd.learn(latents: latents, s)
        XCTAssertEqual(half.choices?.count, 2)
        for bad in [[0, 3], [0]] {
            half.restore(steps: half.completedSteps, loss: half.lastLoss, losses: half.losses, moments: half.moments,
                         assignment: half.assignment, choices: bad, parameters: half.parameters)
            var more = s
            more.steps = 4
            XCTAssertThrowsError(try sd.learn(latents: latents, more, resume: half)) { e in
                XCTAssertTrue("\(e)".contains("prompt choices (\(bad.count) of them) do not fit its 2 references and 3 prompts"), "\(e)")
            }
        }
    }
}

func XCTAssertEqual(_ a: [Double], _ b: [Double], accuracy: Double, _ message: String = "", file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, message, file: file, line: line)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: accuracy, message, file: file, line: line) }
}
