import Foundation
import DreamTensor
import DreamModels

/// The forward process and what the UNet predicts, in one place: training (the method's objectives, the
/// built-in model's training), sampling and score distillation all read their noising and their ε / v
/// conversions from here.
extension NoiseSchedule {
    /// √ᾱ_t and √(1 − ᾱ_t) per item, [B, 1, 1, 1] (computed in double precision, then rounded).
    public func scales(_ timesteps: [Int]) throws -> (signal: Tensor, noise: Tensor) {
        let ab = timesteps.map { Double(alphasCumprod[$0]) }
        return (try Tensor(ab.map { Float($0.squareRoot()) }, shape: [ab.count, 1, 1, 1]),
                try Tensor(ab.map { Float((1 - $0).squareRoot()) }, shape: [ab.count, 1, 1, 1]))
    }

    /// x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε, one timestep per item.
    public func noised(_ x0: Tensor, _ noise: Tensor, timesteps: [Int]) throws -> Tensor {
        let (a, b) = try scales(timesteps)
        return try x0 * a + noise * b
    }

    /// What the UNet is trained to predict at x_t: ε, or v = √ᾱ_t ε − √(1 − ᾱ_t) x₀.
    public func target(_ x0: Tensor, _ noise: Tensor, timesteps: [Int]) throws -> Tensor {
        guard prediction == .v else { return noise }
        let (a, b) = try scales(timesteps)
        return try noise * a - x0 * b
    }

    /// ε from the UNet's output at x_t: the output itself, or √ᾱ_t v + √(1 − ᾱ_t) x_t.
    public func epsilon(fromOutput out: Tensor, noisy xt: Tensor, timesteps: [Int]) throws -> Tensor {
        guard prediction == .v else { return out }
        let (a, b) = try scales(timesteps)
        return try out * a + xt * b
    }

    /// The denoised sample D(x̃, σ) from the UNet's output, in k-diffusion's variables (x̃ = x₀ + σε, the
    /// UNet fed x̃/√(σ² + 1)): x̃ − σε̂, or x̃/(σ² + 1) − σ v̂/√(σ² + 1).
    public func denoised(fromOutput out: Tensor, x: Tensor, sigma: Double) throws -> Tensor {
        switch prediction {
        case .epsilon: return try x - out * Float(sigma)
        case .v: return try x * Float(1 / (sigma * sigma + 1)) - out * Float(sigma / (sigma * sigma + 1).squareRoot())
        }
    }
}

/// Classifier-free guidance: the unconditional prediction moved `scale` times the way the condition points.
public func guided(unconditional u: Tensor, conditional c: Tensor, scale: Float) throws -> Tensor {
    try u + (c - u) * scale
}
