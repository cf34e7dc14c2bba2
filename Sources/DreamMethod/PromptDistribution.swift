import Foundation
import DreamTensor
import DreamModels
import DreamDiffusion

/// K soft prompts of M learned token vectors (docs/method.md). Each prompt's token sequence is
/// [BOS] prefix [M learned vectors] suffix [EOS] [pad…]; every prompt goes through the frozen text
/// encoder and the distribution is the diagonal Gaussian over those outputs.
public final class PromptDistribution {
    /// The learned vectors [K, M, d]: the only trained parameters.
    public var prompts: Tensor
    public var prefix: String, suffix: String
    /// The prompts' weights π (Σ = 1) when they are sampled as a weighted set (`Objective.compete`); nil
    /// for the Gaussian objectives.
    public var weights: [Float]?
    /// Where the references it was learned from lie (`ReferenceManifold`); nil when fewer than two, or when the
    /// text was edited away from what they show.
    public var manifold: ReferenceManifold?
    public var k: Int { prompts.shape[0] }
    public var m: Int { prompts.shape[1] }

    /// Fresh prompts, N(0, 0.02²) as the method initialises them.
    public convenience init(k: Int, m: Int, width: Int, seed: UInt64, prefix: String = "", suffix: String = "") {
        self.init(prompts: try! Tensor.randn([k, m, width], seed: seed) * 0.02, prefix: prefix, suffix: suffix)
    }

    /// Given prompts [K, M, d] (read from a file, or another distribution's under new text).
    public init(prompts: Tensor, prefix: String = "", suffix: String = "", weights: [Float]? = nil) {
        self.prompts = prompts
        self.prefix = prefix
        self.suffix = suffix
        self.weights = weights
    }

    /// Token embeddings [K', 77, d] with the learned vectors [K', M, d] in place (differentiable in `vectors`;
    /// K' need not be K: learning encodes the competing prompts and the blend apart), and the EOS position.
    public func embeddings(_ sd: StableDiffusion, vectors: Tensor) throws -> (Tensor, eos: Int) {
        let tok = sd.tokenizer, te = sd.textEncoder
        let pre = tok.tokens(prefix), suf = tok.tokens(suffix)
        let n = tok.maxLength
        let eos = 1 + pre.count + m + suf.count
        guard eos < n else {
            throw ModelError("prefix (\(pre.count) tokens) + \(m) learned tokens + suffix (\(suf.count) tokens) do not fit the \(n - 2) positions of the context")
        }
        let left = [tok.bos] + pre, right = suf + [tok.eos] + [Int](repeating: tok.pad, count: n - eos - 1)
        let kk = vectors.shape[0]
        let l = try Tensor.embedding(te.tokenEmbedding, ids: Array([[Int]](repeating: left, count: kk).joined()), shape: [kk, left.count])
        let r = try Tensor.embedding(te.tokenEmbedding, ids: Array([[Int]](repeating: right, count: kk).joined()), shape: [kk, right.count])
        return (try concatenate([l, vectors, r], axis: 1), eos)
    }

    /// Encoder outputs H [K, 77, d] and the EOS position.
    public func encode(_ sd: StableDiffusion, vectors: Tensor? = nil) throws -> (Tensor, eos: Int) {
        let (e, eos) = try embeddings(sd, vectors: vectors ?? prompts)
        return (try sd.textEncoder.encode(embeddings: e), eos)
    }

    /// μ and σ [77, d] of the distribution.
    public func gaussian(_ sd: StableDiffusion, vectors: Tensor? = nil) throws -> (mean: Tensor, std: Tensor) {
        try PromptMath.gaussian(try encode(sd, vectors: vectors).0)
    }

    /// What sampling needs, encoded once under the current text: the Gaussian's μ and σ, or for weighted
    /// prompts their encodings, weights and weighted moments.
    public func encoded(_ sd: StableDiffusion) throws -> EncodedDistribution {
        try withoutGrad {
            let h = try encode(sd).0
            var e: EncodedDistribution
            if let w = weights { e = try EncodedDistribution(prompts: h, weights: w) } else {
                let (mu, sigma) = try PromptMath.gaussian(h)
                e = EncodedDistribution(mean: mu, std: sigma, encodings: h)
            }
            e.manifold = manifold
            return e
        }
    }
}

/// The noise, timesteps and condition noise of one learning step, drawn from a seed, so that a step is
/// a deterministic function of the prompt vectors (finite-difference tests, resumable runs).
public struct StepNoise {
    public let timesteps: [Int]      // one per reference image
    public let noise: Tensor         // like the latents
    public let eps: Tensor           // [B·S, 77, d] for the reparameterised conditions

    public init(batch: Int, samples: Int, latentShape: [Int], context: [Int], trainSteps: Int, seed: UInt64) {
        var g = RandomGenerator(seed: seed)
        timesteps = (0..<batch).map { _ in g.int(below: trainSteps) }
        noise = g.normal([batch] + latentShape)
        eps = g.normal([batch * samples] + context)
    }
}

/// The learning loss of one step: the Min-SNR-weighted diffusion loss of the step's conditions (which
/// ones, and how their losses combine, is the `Objective`) plus λ times the orthogonality loss on the
/// prompts' EOS features.
public struct LearningObjective {
    public let objective: Objective
    public let samples: Int
    public let orthoWeight: Float
    public init(_ objective: Objective = .paper, samples: Int = 4, orthoWeight: Float = 1e-3) {
        self.objective = objective; self.samples = samples; self.orthoWeight = orthoWeight
    }

    /// Conditions per reference image: S draws for the Gaussian objectives, every prompt for `compete`.
    public func conditionsPerImage(prompts k: Int) -> Int { objective == .compete ? k : samples }

    /// The loss for reference latents z0 [B, C, h, w] (already scaled) with the step's noise.
    public func loss(_ sd: StableDiffusion, _ dist: PromptDistribution, vectors: Tensor, latents z0: Tensor, noise: StepNoise) throws -> Tensor {
        try lossAndChoices(sd, dist, vectors: vectors, latents: z0, noise: noise).loss
    }

    /// The loss, and for the objectives that take a minimum, which condition each reference chose:
    /// `choose(i, losses)` picks among image i's conditions given their losses (default: the smallest).
    public func lossAndChoices(_ sd: StableDiffusion, _ dist: PromptDistribution, vectors: Tensor, latents z0: Tensor,
                               noise: StepNoise, choose: ((Int, [Float]) -> Int)? = nil) throws -> (loss: Tensor, choices: [Int]) {
        let ns = try sd.noiseSchedule
        let b = z0.shape[0], s = conditionsPerImage(prompts: vectors.shape[0])
        let (h, eos) = try dist.encode(sd, vectors: vectors)
        let cond: Tensor
        switch objective {
        case .paper, .mixture:
            // c = μ + σ ⊙ ε for every (image, sample).
            let (mu, sigma) = try PromptMath.gaussian(h)
            cond = try mu.unsqueezed(0) + sigma.unsqueezed(0) * noise.eps
        case .compete:
            // Every prompt's own encoding for every image.
            cond = try concatenate([Tensor](repeating: h, count: b), axis: 0)
        }
        let noisyAll = try ns.noised(z0, noise.noise, timesteps: noise.timesteps)
        let targetAll = try ns.target(z0, noise.noise, timesteps: noise.timesteps)
        var zt: [Tensor] = [], targets: [Tensor] = [], weights: [Float] = [], ts: [Float] = []
        for i in 0..<b {
            let ab = Double(ns.alphasCumprod[noise.timesteps[i]])
            let noisy = try noisyAll.sliced(axis: 0, start: i, end: i + 1), target = try targetAll.sliced(axis: 0, start: i, end: i + 1)
            let w = Float(PromptMath.minSNRWeight(alphaBar: ab, vPrediction: ns.prediction == .v))
            for _ in 0..<s { zt.append(noisy); targets.append(target); weights.append(w); ts.append(Float(noise.timesteps[i])) }
        }
        /// The diffusion loss of the conditions at `items` (indices into zt/ts/targets) under `context` [items, L, d]:
        /// mean((UNet(z_t, t, c) − target)²) per item.
        func perItem(_ items: [Int], context: Tensor) throws -> Tensor {
            let pred = try sd.unet(concatenate(items.map { zt[$0] }, axis: 0), timesteps: items.map { ts[$0] }, context: context)
            let err = try pred - concatenate(items.map { targets[$0] }, axis: 0)
            return try (err * err).reshaped([items.count, -1]).mean(axis: 1)
        }
        let all = Array(0..<(b * s))
        var choices: [Int] = []
        let diffusion: Tensor
        if objective == .paper {
            diffusion = try (perItem(all, context: cond) * Tensor(weights, shape: [b * s])).mean()
        } else {
            // The minimum over each image's conditions, whose gradient is the chosen condition's alone (the
            // derivative of the minimum almost everywhere): score every condition without a tape, then run the
            // UNet with its tape on the chosen ones only: a taped pass per image instead of s (compete's step at
            // K = 8 takes about 0.26 s instead of 0.36). The chosen pass runs in a smaller batch, so the loss
            // differs from the scoring pass's in the last bits.
            let values = try withoutGrad { try perItem(all, context: cond.detached).scalars }
            var picked: [Int] = []
            for i in 0..<b {
                let row = Array(values[(i * s)..<(i * s + s)])
                let best = choose?(i, row) ?? (0..<s).min { row[$0] < row[$1] }!
                choices.append(best)
                picked.append(i * s + best)
            }
            let chosen = try concatenate(picked.map { try cond.sliced(axis: 0, start: $0, end: $0 + 1) }, axis: 0)
            diffusion = try (perItem(picked, context: chosen) * Tensor(picked.map { weights[$0] / Float(b) }, shape: [b])).sum()
        }
        let eosFeatures = try h.select(axis: 1, index: eos)
        return (try diffusion + PromptMath.orthogonalityLoss(eosFeatures) * orthoWeight, choices)
    }
}
