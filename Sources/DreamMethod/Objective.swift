import Foundation

/// How the K prompts are trained, and so how a distribution is sampled (docs/method.md; the last two go beyond
/// the paper and are kept beside it).
public enum Objective: String, CaseIterable {
    /// The paper's: per reference, S conditions c = μ + σ ⊙ ε sharing one noisy latent, the mean of their
    /// Min-SNR diffusion losses, plus λ times the orthogonality loss. Sampled as c = μ + γσε.
    case paper
    /// Mixture likelihood: per reference, the minimum of its S conditions' losses — the τ → 0 limit of the
    /// importance-weighted bound on log E_ε p(x | c_ε), so σ is rewarded for reaching a reference's mode
    /// instead of being shrunk (the paper's E_ε L(μ + σε) ≥ min_c L(c)). Sampled as the paper's.
    case mixture
    /// Competing prompts (multiple choice): each reference is scored under every prompt's encoding H_k with
    /// one shared noisy latent, and trains the prompt that has explained it best over its recent visits
    /// (`Assignment`), so prompts specialise on the references they explain instead of averaging them. A
    /// prompt's weight π_k is the share of references it explains. Sampling picks a prompt k ~ π, then a
    /// point of its neighbourhood: c = H_k + γσ ⊙ ε with ε shared across positions (σ the prompts' spread).
    case compete

    /// Whether the distribution is sampled as the diagonal Gaussian μ + γσε (otherwise as weighted prompts).
    public var isGaussian: Bool { self != .compete }
}
