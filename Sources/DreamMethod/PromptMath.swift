import Foundation
import DreamTensor

/// The formulas of the method (docs/method.md), each differentiable where learning needs it.
public enum PromptMath {
    /// Orthogonality loss on the K prompts' EOS features [K, d]: rows L2-normalised, C their cosine
    /// matrix with a zero diagonal, L = Σ_{i≠j} C_ij² / (K(K−1)); 0 for K = 1.
    public static func orthogonalityLoss(_ eos: Tensor) throws -> Tensor {
        try require(eos.rank == 2, "orthogonality loss needs [K, d] features, got \(shapeString(eos.shape))")
        let k = eos.shape[0]
        if k < 2 { return try eos.sum() * 0 }
        let norms = try (eos * eos).sum(axis: 1, keepDims: true).safeSqrt()
        let n = try eos / (norms + 1e-12)
        let c = try n.matmul(n.transposed())
        var offDiagonal = [Float](repeating: 1, count: k * k)
        for i in 0..<k { offDiagonal[i * k + i] = 0 }
        let masked = try c * Tensor(offDiagonal, shape: [k, k])
        return try (masked * masked).sum() * (1 / Float(k * (k - 1)))
    }

    /// Mean and unbiased standard deviation over the K prompts (axis 0) of encoder outputs [K, N, d];
    /// σ is 0 (with zero gradient) where all prompts agree and for K = 1.
    public static func gaussian(_ h: Tensor) throws -> (mean: Tensor, std: Tensor) {
        try require(h.rank >= 2, "expected [K, ...] encoder outputs, got \(shapeString(h.shape))")
        let k = h.shape[0]
        let mu = try h.mean(axis: 0)
        if k < 2 { return (mu, Tensor(zeros: mu.shape)) }
        let d = try h - mu.unsqueezed(0)
        let variance = try (d * d).sum(axis: 0) * (1 / Float(k - 1))
        return (mu, variance.safeSqrt())
    }

    /// Min-SNR-γ loss weight at ᾱ: min(SNR, γ)/SNR for ε-prediction, min(SNR, γ)/(SNR + 1) for v.
    public static func minSNRWeight(alphaBar: Double, gamma: Double = 5, vPrediction: Bool) -> Double {
        let snr = alphaBar / (1 - alphaBar)
        return min(snr, gamma) / (vPrediction ? snr + 1 : snr)
    }

    /// Mixing distributions with weights w_i (Σ = 1) and scales γ_i: μ = Σ w_i μ_i, σ = √Σ (w_i γ_i σ_i)².
    public static func mix(means: [Tensor], stds: [Tensor], weights: [Float], gammas: [Float]) throws -> (mean: Tensor, std: Tensor) {
        try require(!means.isEmpty && means.count == stds.count && means.count == weights.count && means.count == gammas.count,
                    "mix needs one mean, std, weight and gamma per distribution")
        var mu = try means[0] * weights[0]
        var v = try (stds[0] * (weights[0] * gammas[0])).pow(2)
        for i in 1..<means.count {
            mu = try mu + means[i] * weights[i]
            v = try v + (stds[i] * (weights[i] * gammas[i])).pow(2)
        }
        return (mu, v.safeSqrt())
    }
}
