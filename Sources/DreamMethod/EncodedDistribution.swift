import Foundation
import DreamTensor
import DreamModels
import DreamDiffusion

/// A distribution over text-encoder outputs as sampling sees it, encoded once: the diagonal Gaussian
/// μ + γσε (the paper's objectives, and every mix of distributions), or K weighted prompts (competing
/// prompts). The K encodings H [K, 77, d] are kept where there are prompts, so one can be drawn alone.
public struct EncodedDistribution {
    public let mean: Tensor, std: Tensor
    public let encodings: Tensor?
    /// π (Σ = 1) when the prompts are sampled as a weighted set; nil for a Gaussian.
    public let weights: [Float]?
    /// Where the references lie, when the distribution was learned from two or more (sampling with
    /// redraws uses it); nil for text edited away from the references' and for what never saw them.
    public var manifold: ReferenceManifold?

    public init(mean: Tensor, std: Tensor, encodings: Tensor? = nil) {
        self.mean = mean; self.std = std; self.encodings = encodings; self.weights = nil
    }

    /// Weighted prompts H [K, 77, d] with weights π: μ = Σ π_k H_k and σ² = Σ π_k (H_k − μ)², the Gaussian
    /// with the same moments (what `mix`, `stats` and `D.mean`/`D.std` see).
    public init(prompts h: Tensor, weights w: [Float]) throws {
        try require(h.rank == 3 && w.count == h.shape[0], "weighted prompts need one weight per prompt")
        let pi = try Tensor(w, shape: [w.count, 1, 1])
        let mu = try (h * pi).sum(axis: 0)
        let d = try h - mu.unsqueezed(0)
        mean = mu; std = try (d * d * pi).sum(axis: 0).safeSqrt(); encodings = h; weights = w
    }

    public var promptCount: Int? { encodings?.shape[0] }

    /// Conditions [n, 77, d] for n images drawn with `seed`, each a centre plus γ times a spread:
    /// - a Gaussian: c = μ + γσ ⊙ ε, ε independent per element (the paper's);
    /// - weighted prompts: a prompt k ~ π per image and c = H_k + γσ ⊙ ε, one ε ∈ R^d per image shared by
    ///   all 77 positions (noise independent per position is averaged away by cross-attention; coherent
    ///   noise moves what the UNet reads). γ = 1 spreads each prompt as far as the prompts spread (half as
    ///   far before session 21 moved nothing the oracle sees between γ 0 and 1: docs/experiments.md);
    /// - `prompt` given: that prompt as every image's centre, c = H_k + γ × the distribution's spread.
    /// γ = 0 is the centre alone: the mean prompt, the learned prompts, or prompt k's own encoding.
    public func conditions(n: Int, gamma: Float, seed: UInt64, prompt: Int? = nil) throws -> Tensor {
        try withoutGrad {
            var rng = RandomGenerator(seed: Seeds.stream(seed, .conditions))
            if let k = prompt {
                guard let h = encodings else { throw ModelError("a mix of distributions has no prompts of its own to draw from") }
                guard k >= 0 && k < h.shape[0] else { throw ModelError("prompt \(k) is out of range: the distribution has prompts 0…\(h.shape[0] - 1)") }
                return try around(h.select(axis: 0, index: k).unsqueezed(0).expand(to: [n] + mean.shape).copy(), gamma, &rng)
            }
            if let h = encodings, let w = weights {
                let picks = Self.choose(n, weights: w, &rng)
                return try around(concatenate(picks.map { try h.sliced(axis: 0, start: $0, end: $0 + 1) }, axis: 0), gamma, &rng)
            }
            return try around(mean.unsqueezed(0).expand(to: [n] + mean.shape), gamma, &rng)
        }
    }

    /// Centres [n, 77, d] plus γ times the distribution's spread (see `conditions`).
    func around(_ centres: Tensor, _ gamma: Float, _ rng: inout RandomGenerator) throws -> Tensor {
        let n = centres.shape[0]
        if weights == nil {
            let eps = rng.normal([n] + mean.shape)
            return try centres + std.unsqueezed(0) * eps * gamma
        }
        let eps = try rng.normal([n, 1, mean.shape[1]]).expand(to: [n] + mean.shape)
        return try centres + std.unsqueezed(0) * eps * gamma
    }

    /// n indices drawn with probabilities `weights` (inverse CDF of one uniform each).
    static func choose(_ n: Int, weights: [Float], _ rng: inout RandomGenerator) -> [Int] {
        let total = weights.reduce(0, +)
        return (0..<n).map { _ in
            var u = Float(rng.double()) * total
            for (k, w) in weights.enumerated() where w > 0 {
                if u < w { return k }
                u -= w
            }
            return weights.lastIndex { $0 > 0 } ?? 0
        }
    }
}

extension StableDiffusion {
    /// Images from a distribution: its conditions for (n, γ, seed, prompt), guided against the negative prompt ("").
    /// With `redraws` > 0 and a distribution that knows its references, an image whose latent lies outside the
    /// references' manifold is drawn again (new conditions and starting noise, from the seed and the round), up
    /// to `redraws` rounds; each image keeps the draw nearest to a reference. 0 is plain sampling (the paper's).
    public func sample(_ d: EncodedDistribution, n: Int, gamma: Float, prompt: Int? = nil, redraws: Int = 0, _ o: GenerationOptions) throws -> Tensor {
        let blank = try withoutGrad { try encode(o.negative) }
        func latents(_ count: Int, _ seed: UInt64, label: String = o.label) throws -> Tensor {
            var oi = o
            oi.seed = seed
            oi.label = label
            return try sampleLatents(conditions: try d.conditions(n: count, gamma: gamma, seed: seed, prompt: prompt), unconditional: blank, oi)
        }
        let z = try latents(n, o.seed)
        guard redraws > 0, let mf = d.manifold else { return try decode(latents: z) }
        let scale = vae.scalingFactor
        var near = try mf.nearest(z * scale)
        var rows: [Tensor] = []
        for i in 0..<n { rows.append(try z.sliced(axis: 0, start: i, end: i + 1)) }
        for round in 1...redraws {
            let outside = (0..<n).filter { near[$0] > mf.radius }
            if outside.isEmpty { break }
            let again = try latents(outside.count, Seeds.stream(o.seed, .redraws, index: round),
                                    label: "redrawing \(outside.count) of \(n) (round \(round) of at most \(redraws))")
            let d2 = try mf.nearest(again * scale)
            for (j, i) in outside.enumerated() where d2[j] < near[i] {
                rows[i] = try again.sliced(axis: 0, start: j, end: j + 1)
                near[i] = d2[j]
            }
        }
        return try decode(latents: try concatenate(rows, axis: 0))
    }
}
