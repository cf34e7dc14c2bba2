import Foundation
import DreamTensor
import DreamModels
import DreamDiffusion

/// Settings of a learning run (docs/method.md defaults).
public struct LearningSettings {
    public var prompts = 32, tokens = 4, steps = 1000, batch = 4, samples = 4
    public var lr: Float = 1e-3, ortho: Float = 1e-3, weightDecay: Float = 0.01, clip: Float = 1
    /// Competing prompts: the cost λ of a prompt that explains no other reference, in relative loss
    /// (`Assignment`; 0: every reference takes the prompt that explains it best, however many that uses).
    public var promptCost: Float = 0
    /// How the learning rate moves over the run's steps (the paper's and Textual Inversion's: constant).
    public var lrSchedule: LRSchedule = .constant
    /// The decay β of an exponential moving average of the trained parameter, updated after every step; the
    /// learned prompts are the average (0: the last step's parameter, the paper's and Textual Inversion's). A
    /// prompt that explains one or two references moves at every step it is chosen, and what it draws (a
    /// material, for one) can change from one checkpoint to the next; the average over the last ~1/(1 − β)
    /// steps does not depend on where the last step left it (on the built-in world it changed which seeds
    /// draw matte, not how many: docs/experiments.md, session 24).
    public var ema: Float = 0
    /// Competing prompts: also learn a blend, one prompt trained by every reference (as Textual Inversion's), and
    /// draw it with the share of references that no other reference resembles (`Assignment.weightsWithBlend`).
    /// Where each reference explains a prompt of its own, the prompts draw what those references show, free
    /// attributes included; what the references do not show yet is left to the blend, and so to the model. Off by
    /// default: it met cones' bar and broke small-cool-cubes' in_concept (docs/experiments.md, session 30).
    public var blend = false
    public var seed: UInt64 = 0
    public var prefix = "", suffix = ""
    public var objective: Objective = .paper
    public init() {}
}

/// The learning rate over a run (diffusers' `lr_scheduler` names). Cosine decays it from lr at the first step
/// to 0 after the last, so that a run ends where its prompts have settled: at a constant rate a prompt that
/// explains one or two references still moves at its last steps, and what it draws (a material, for one)
/// changes from one checkpoint to the next (measured, with what the schedule did: docs/experiments.md).
public enum LRSchedule: String, CaseIterable {
    case constant, cosine

    /// The rate at step `step` (0-based) of a run of `steps` steps whose rate is `lr`.
    public func rate(_ lr: Float, step: Int, of steps: Int) -> Float {
        switch self {
        case .constant: return lr
        case .cosine: return lr * 0.5 * (1 + Float(Foundation.cos(Double.pi * Double(step) / Double(max(steps, 1)))))
        }
    }
}

extension LearningSettings {
    /// The learning rate of step `step` (0-based): the schedule over this run's steps.
    public func learningRate(step: Int) -> Float { lrSchedule.rate(lr, step: step, of: steps) }

    /// These settings with the fields a model folder sets replaced by its values.
    public func applying(_ d: LearningDefaults) throws -> LearningSettings {
        var s = self
        if let name = d.objective {
            guard let o = Objective(rawValue: name) else { throw ModelError("the model's folder names an unknown objective \"\(name)\"") }
            s.objective = o
        }
        s.prompts = d.prompts ?? s.prompts; s.tokens = d.tokens ?? s.tokens; s.steps = d.steps ?? s.steps
        s.batch = d.batch ?? s.batch; s.samples = d.samples ?? s.samples
        s.lr = d.lr.map(Float.init) ?? s.lr; s.ortho = d.ortho.map(Float.init) ?? s.ortho
        s.promptCost = d.promptCost.map(Float.init) ?? s.promptCost
        s.ema = d.ema.map(Float.init) ?? s.ema
        s.blend = d.blend ?? s.blend
        if let name = d.lrSchedule {
            guard let r = LRSchedule(rawValue: name) else { throw ModelError("the model's folder names an unknown lr_schedule \"\(name)\"") }
            s.lrSchedule = r
        }
        return s
    }
}

/// A learned distribution with what produced it.
public final class LearnedDistribution {
    public let dist: PromptDistribution
    public let settings: LearningSettings
    public internal(set) var completedSteps = 0
    public internal(set) var lastLoss: Float = .nan
    /// The loss of every completed step, in order (a resumed run continues the saved list).
    public internal(set) var losses: [Float] = []
    /// AdamW's moment estimates after the last completed step, so that a run continues exactly.
    public internal(set) var moments: (Tensor, Tensor)?
    /// The trained parameter as the last step left it, where the prompts are not simply it: competing prompts'
    /// [K + 1, M, d], each prompt's own part and (row K) the part every prompt shares (prompt k = shared +
    /// own k: the shared part learns from every reference, a prompt's own part from the references it
    /// explains), with a blend one more row (K + 1: the blend itself), and with an average (`ema`) any
    /// objective's. Kept as trained, so a run continues exactly.
    public internal(set) var parameters: Tensor?
    /// With `ema` > 0: the moving average of the trained parameter (the prompts are made from it).
    public internal(set) var average: Tensor?
    /// The shared part [1, M, d] of competing prompts (of the trained parameter, not its average).
    public var shared: Tensor? {
        guard settings.objective == .compete else { return nil }
        let k = settings.prompts
        return parameters.flatMap { p in p.shape[0] > k ? try? p.sliced(axis: 0, start: k, end: k + 1).copy() : nil }
    }
    /// Competing prompts: per reference and prompt, the running relative loss that assigns references to
    /// prompts [N, K] (0 where a reference was not yet seen), so that a run continues exactly.
    public internal(set) var assignment: Tensor?
    /// Competing prompts: each reference's prompt (−1 where not yet seen), so that a run continues exactly.
    public internal(set) var choices: [Int]?
    /// Whether the run stopped early on Ctrl-C (it holds the last completed step).
    public internal(set) var interrupted = false
    /// Why learning stopped before its last step when the loss was not finite (it holds the last steps whose
    /// loss was finite); nil otherwise.
    public internal(set) var failure: String?
    public init(_ dist: PromptDistribution, settings: LearningSettings) { self.dist = dist; self.settings = settings }

    /// Progress figures (and optimiser state, when saved) of a distribution read back from a file.
    public func restore(steps: Int, loss: Float, losses: [Float] = [], moments: (Tensor, Tensor)? = nil, assignment: Tensor? = nil,
                        choices: [Int]? = nil, parameters: Tensor? = nil, average: Tensor? = nil) {
        completedSteps = steps; lastLoss = loss; self.losses = losses; self.moments = moments; self.assignment = assignment
        self.choices = choices; self.parameters = parameters; self.average = average
    }
}

extension StableDiffusion {
    /// Reference images [N, 3, H, W] in [0, 1] as scaled latents at the model's resolution (random crops
    /// happen per step, from images resized so their short side fits).
    public func referenceLatents(_ images: Tensor, size: Int) throws -> Tensor {
        guard images.rank == 4, images.shape[1] == 3, images.shape[0] > 0 else {
            throw ModelError("reference images must be a batch [N, 3, H, W] with N ≥ 1, got \(shapeString(images.shape))")
        }
        let (h, w) = (images.shape[2], images.shape[3])
        let scale = Double(size) / Double(min(h, w))
        let resized = try images.resized(height: max(size, Int((Double(h) * scale).rounded())), width: max(size, Int((Double(w) * scale).rounded())))
        return try withoutGrad { try vae.encodeMeanEach(resized * 2 - 1) * vae.scalingFactor }
    }

    /// Bytes one learning step needs, estimated generously: the UNet's activations kept for the backward pass
    /// for `items` (image, condition) pairs at latent size h × w, the few layers alive at once for `scored`
    /// pairs run without a tape, and the text encoder's activations for `prompts` prompts.
    public func learningMemory(latentHeight h: Int, latentWidth w: Int, items: Int, scored: Int = 0, prompts: Int) -> Double {
        Double(items * 90 + scored * 12) * Double(h * w) * Double(unet.widestChannels) * 4
            + Double(prompts) * Double(tokenizer.maxLength) * Double(textEncoder.hidden) * 4 * Double(textEncoder.layers.count) * 20
    }

    /// Learns a prompt distribution from reference latents (see `referenceLatents`). Each step draws a
    /// batch of references, a random crop of the model's latent size, timesteps, noise and conditions
    /// from (seed, step); `Job` cancellation stops after the last completed step, keeping it.
    /// `resume` continues a run (its prompts, optimiser state and step count) up to `s.steps` in all, so
    /// that stopping and resuming gives the same prompts as one uninterrupted run.
    /// `checkpoint` is called every `every` completed steps with the run as it stands (its prompts current), to
    /// save it: a run killed later resumes from the file to exactly the uninterrupted result.
    public func learn(latents: Tensor, _ s: LearningSettings, resume: LearnedDistribution? = nil,
                      checkpoint: (every: Int, save: (LearnedDistribution) throws -> Void)? = nil,
                      onStep: ((Int, Float) -> Void)? = nil) throws -> LearnedDistribution {
        let dist = PromptDistribution(k: s.prompts, m: s.tokens, width: textEncoder.hidden, seed: s.seed, prefix: s.prefix, suffix: s.suffix)
        let first = resume?.completedSteps ?? 0
        let k = dist.k
        // Competing prompts with a blend: the distribution's prompts are the K competing ones and, last, the blend,
        // which starts where Textual Inversion with the same seed starts (the first prompt's start).
        let blend = s.objective == .compete && s.blend
        if blend { dist.prompts = try concatenate([dist.prompts, dist.prompts.sliced(axis: 0, start: 0, end: 1)], axis: 0) }
        if let r = resume {
            guard r.dist.prompts.shape == dist.prompts.shape else {
                throw ModelError("cannot resume: the saved run has K = \(r.dist.k), M = \(r.dist.m) and width \(r.dist.prompts.shape[2]), this one K = \(dist.k), M = \(s.tokens) and width \(textEncoder.hidden)")
            }
            dist.prompts = r.dist.prompts.copy()
        }
        _ = try dist.embeddings(self, vectors: dist.prompts)   // checks that prefix + tokens + suffix fit
        dist.manifold = try ReferenceManifold(latents: latents)
        let result = LearnedDistribution(dist, settings: s)
        result.completedSteps = first
        result.lastLoss = resume?.lastLoss ?? .nan
        result.losses = resume?.losses ?? []
        let objective = LearningObjective(s.objective, samples: s.samples, orthoWeight: s.ortho)
        // The blend learns as Textual Inversion does (one prompt, its loss on every reference drawn), from its own
        // batch of twice the competition's references drawn from its own stream.
        let blendObjective = LearningObjective(.paper, samples: 1, orthoWeight: 0)
        let trainSteps = try noiseSchedule.trainSteps
        // The trained parameter: the prompts themselves, or for competing prompts [K + 1, M, d], each prompt's own
        // part and (row K) the part they share. Sharing gives every prompt what all references have in common
        // at the rate of every step: alone, a prompt that explains one or two of 8 references is trained on a
        // quarter of the steps and draws less of the concept (docs/experiments.md). A blend is one more row, the last.
        let v: Tensor
        if s.objective == .compete {
            let d = dist.prompts.shape[2]
            if let p = resume?.parameters, p.shape == [k + 1 + (blend ? 1 : 0), dist.m, d] {
                v = p.copy().param()
            } else {
                let own = try dist.prompts.sliced(axis: 0, start: 0, end: k)
                v = try concatenate([own, Tensor(zeros: [1, dist.m, d])] + (blend ? [dist.prompts.sliced(axis: 0, start: k, end: k + 1)] : []), axis: 0).param()
            }
        } else if let p = resume?.parameters, p.shape == dist.prompts.shape {
            v = p.copy().param()   // averaged prompts: the parameter as trained continues
        } else {
            v = dist.prompts.param()
        }
        // The moving average of v (empty until the first step, which starts it at that step's v).
        var average: [Float] = resume?.average.map { $0.shape == v.shape ? $0.scalars : [] } ?? []
        if let r = resume, r.completedSteps > 0, s.ema > 0, average.isEmpty {
            throw ModelError("cannot resume: the saved run averages its prompts (ema \(s.ema)) but the file holds no average")
        }
        /// What the prompts are made from: the average, or v itself.
        func learnedParameter() throws -> Tensor { s.ema > 0 && !average.isEmpty ? try Tensor(average, shape: v.shape) : v.detached }
        /// The competing prompts (shared + own) or the Gaussian objectives' prompts, and the blend.
        func competing(_ v: Tensor) throws -> Tensor {
            s.objective == .compete ? try v.sliced(axis: 0, start: 0, end: k) + v.sliced(axis: 0, start: k, end: k + 1) : v
        }
        func blendRow(_ v: Tensor) throws -> Tensor? { blend ? try v.sliced(axis: 0, start: k + 1, end: k + 2) : nil }
        /// The distribution's prompts: the competing ones and, last, the blend.
        func prompts(_ v: Tensor) throws -> Tensor {
            guard let b = try blendRow(v) else { return try competing(v) }
            return try concatenate([competing(v), b], axis: 0)
        }
        /// The loss's gradient in v clipped to norm `clip`, and its norm (the largest of the parts' norms): the blend
        /// is clipped apart from the competing prompts, so that it changes nothing in how they learn.
        func clippedGradient(_ loss: Tensor) throws -> (Tensor, Float) {
            let g = try gradients(of: loss, wrt: [v])[0]
            guard blend else { let (c, norm) = try clipGradNorm([g], maxNorm: s.clip); return (c[0], norm) }
            let (gc, nc) = try clipGradNorm([g.sliced(axis: 0, start: 0, end: k + 1).copy()], maxNorm: s.clip)
            let (gb, nb) = try clipGradNorm([g.sliced(axis: 0, start: k + 1, end: k + 2).copy()], maxNorm: s.clip)
            return (try concatenate([gc[0], gb[0]], axis: 0), nc.isFinite && nb.isFinite ? max(nc, nb) : .nan)
        }
        let opt = AdamW([v], lr: s.lr, weightDecay: s.weightDecay)
        if let r = resume, first > 0 {
            guard s.objective != .compete || r.parameters != nil else {
                throw ModelError("cannot resume: the saved run of competing prompts has no shared part (saved by an older dream); learn it again")
            }
            guard let mv = r.moments else {
                throw ModelError("cannot resume: the saved distribution has no optimiser state (it was mixed, or saved by an older dream)")
            }
            try opt.restore(step: first, moments: [mv])
        }
        let n = latents.shape[0], size = unet.sampleSize
        let (lh, lw) = (latents.shape[2], latents.shape[3])
        var assignment = Assignment(references: n, prompts: k)
        if s.objective == .compete, let a = resume?.assignment {
            guard a.shape == [n, k] else {
                throw ModelError("cannot resume: the saved run assigned \(a.shape[0]) references to prompts, this one has \(n) references")
            }
            if let c = resume?.choices, c.count != n || !c.allSatisfy({ $0 >= -1 && $0 < k }) {
                throw ModelError("cannot resume: the saved run's prompt choices (\(c.count) of them) do not fit its \(n) references and \(k) prompts")
            }
            assignment = Assignment(scores: a.scalars, choices: resume?.choices, prompts: k)
        }
        let conditions = min(s.batch, n) * objective.conditionsPerImage(prompts: k)
        let blendBatch = blend ? 2 * min(s.batch, n) : 0
        let items = (s.objective == .paper ? conditions : min(s.batch, n)) + blendBatch
        let scored = s.objective == .paper ? 0 : conditions
        let (ch, cw) = (min(size, lh), min(size, lw))
        do { try Memory.check(learningMemory(latentHeight: ch, latentWidth: cw, items: items, scored: scored, prompts: s.prompts), for: "learning (\(items) UNet passes of \(cw * vae.downscale)×\(ch * vae.downscale) per step with their gradients\(scored > 0 ? ", \(scored) without" : ""))") }
        catch let e as TensorError { throw ModelError(e.message + " (a smaller batch: or fewer prompts:)") }
        let progress = Job.progress("learning", total: s.steps)
        defer { progress.finish() }
        if first > 0 { progress.update(min(first, s.steps), note: "resumed") }
        /// The state at the start of a step: what a run of that many steps ends with.
        struct Snapshot { let steps: Int; let v: [Float]; let moments: (Tensor, Tensor)?; let assignment: Assignment; let parameters: Tensor?; let average: [Float] }
        func snapshot(_ steps: Int) -> Snapshot {
            Snapshot(steps: steps, v: v.scalars, moments: result.moments.map { ($0.0.copy(), $0.1.copy()) }, assignment: assignment,
                     parameters: result.parameters, average: average)
        }
        var good: Snapshot?   // the latest state whose loss was finite
        for step in first..<max(first, s.steps) {
            do { try Job.checkCancelled() } catch { result.interrupted = true; break }   // keep what was learned so far
            let start = snapshot(step)
            let (z0, picked, noise) = try stepBatch(latents, count: min(s.batch, n), seed: s.seed, .learning, step: step, samples: s.samples, trainSteps: trainSteps)
            let cost = step >= Assignment.settling ? s.promptCost : 0
            let choose: ((Int, [Float]) -> Int)? = s.objective == .compete ? { assignment.update(picked[$0], losses: $1, cost: cost) } : nil
            var loss = try objective.lossAndChoices(self, dist, vectors: try competing(v), latents: z0, noise: noise, choose: choose).loss
            if let bv = try blendRow(v) {
                let (zb, _, nb) = try stepBatch(latents, count: blendBatch, seed: s.seed, .blend, step: step, samples: 1, trainSteps: trainSteps)
                loss = try loss + blendObjective.loss(self, dist, vectors: bv, latents: zb, noise: nb)
            }
            let lossValue = try loss.item
            let (g, norm) = try clippedGradient(loss)
            guard lossValue.isFinite && norm.isFinite else {
                // These prompts give a non-finite loss: go back to the last state whose loss was finite.
                let back = good ?? start
                v.pointer.update(from: back.v, count: back.v.count)
                assignment = back.assignment
                if s.objective == .compete { result.assignment = try Tensor(assignment.scores, shape: [n, k]); result.choices = assignment.choices }
                result.losses = Array(result.losses.prefix(max(0, result.losses.count - (result.completedSteps - back.steps))))
                result.completedSteps = back.steps
                result.lastLoss = result.losses.last ?? .nan
                result.moments = back.moments
                result.parameters = back.parameters
                average = back.average
                result.average = average.isEmpty ? nil : try Tensor(average, shape: v.shape)
                result.failure = "the loss at step \(step + 1) is \(lossValue.isFinite ? "finite but its gradient is not" : "\(lossValue)"); learning stopped and the distribution holds the first \(back.steps) steps, the last whose loss was finite (a smaller lr: may help)"
                break
            }
            good = start
            opt.lr = s.learningRate(step: step)
            try opt.update([g])
            if s.ema > 0 {
                let now = v.scalars
                if average.isEmpty { average = now } else {
                    let b = s.ema
                    for j in 0..<now.count { average[j] = b * average[j] + (1 - b) * now[j] }
                }
                result.average = try Tensor(average, shape: v.shape)
            }
            result.completedSteps = step + 1
            result.lastLoss = try loss.item
            result.losses.append(result.lastLoss)
            result.moments = opt.moments[0]
            if s.objective == .compete {
                result.assignment = try Tensor(assignment.scores, shape: [n, k]); result.choices = assignment.choices
            }
            if s.objective == .compete || s.ema > 0 { result.parameters = v.detached.copy() }
            progress.update(step + 1, note: String(format: "loss %.4f", result.lastLoss))
            onStep?(step + 1, result.lastLoss)
            if let c = checkpoint, c.every > 0, (step + 1) % c.every == 0 {
                dist.prompts = try prompts(try learnedParameter()).copy()
                if s.objective == .compete { dist.weights = blend ? assignment.weightsWithBlend : assignment.weights }
                try c.save(result)
            }
        }
        dist.prompts = try prompts(try learnedParameter()).copy()
        if s.objective == .compete { dist.weights = blend ? assignment.weightsWithBlend : assignment.weights }
        return result
    }

    /// A learning step's batch from `stream` at `step`: `count` references drawn with replacement, a random crop
    /// of the model's latent size from each, their latents, and the step's noise (timesteps, noise, and
    /// `samples` condition draws per reference; timesteps below `trainSteps`, the model's schedule's).
    func stepBatch(_ latents: Tensor, count b: Int, seed: UInt64, _ stream: Seeds.Purpose, step: Int, samples: Int,
                   trainSteps: Int) throws -> (z0: Tensor, picked: [Int], noise: StepNoise) {
        let n = latents.shape[0], size = unet.sampleSize
        let (lh, lw) = (latents.shape[2], latents.shape[3])
        var rng = RandomGenerator(seed: Seeds.stream(seed, stream, index: step))
        var crops: [Tensor] = [], picked: [Int] = []
        for _ in 0..<b {
            let i = rng.int(below: n)
            picked.append(i)
            let y = rng.int(below: lh - min(size, lh) + 1), x = rng.int(below: lw - min(size, lw) + 1)
            crops.append(try latents.sliced(axis: 0, start: i, end: i + 1).sliced(axis: 2, start: y, end: y + min(size, lh)).sliced(axis: 3, start: x, end: x + min(size, lw)))
        }
        let z0 = try concatenate(crops, axis: 0)
        return (z0, picked, StepNoise(batch: b, samples: samples, latentShape: Array(z0.shape.dropFirst()),
                                      context: [tokenizer.maxLength, textEncoder.hidden], trainSteps: trainSteps, seed: rng.seed &+ rng.offset))
    }
}
