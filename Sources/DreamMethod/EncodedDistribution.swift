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

    /// The neighbourhood of a weighted prompt: this share of the prompts' spread σ.
    public static let neighbourhood: Float = 0.5

    /// Conditions [n, 77, d] for n images drawn with `seed`, each a centre plus γ times a spread:
    /// - a Gaussian: c = μ + γσ ⊙ ε, ε independent per element (the paper's);
    /// - weighted prompts: a prompt k ~ π per image and c = H_k + γ·½σ ⊙ ε, one ε ∈ R^d per image shared by
    ///   all 77 positions (noise independent per position is averaged away by cross-attention; coherent
    ///   noise moves what the UNet reads);
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
        return try centres + std.unsqueezed(0) * eps * (gamma * Self.neighbourhood)
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
    public func sample(_ d: EncodedDistribution, n: Int, gamma: Float, prompt: Int? = nil, _ o: GenerationOptions) throws -> Tensor {
        try sample(conditions: try d.conditions(n: n, gamma: gamma, seed: o.seed, prompt: prompt), o)
    }
}
