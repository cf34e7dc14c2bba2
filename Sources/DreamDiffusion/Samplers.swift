import Foundation
import DreamTensor
import DreamModels

/// A denoiser in k-diffusion's convention: D(x̃, σ) ≈ the clean sample, x̃ = x0 + σ·ε.
public typealias Denoiser = (_ x: Tensor, _ sigma: Double) throws -> Tensor

/// Samplers are pure functions of (denoiser, σ schedule, random stream): they start from x̃ at σ₀ and
/// return x̃ at the last σ. `onStep` reports progress and is where cancellation is checked.
public typealias Sampler = (_ denoise: Denoiser, _ x: Tensor, _ sigmas: [Double], _ rng: inout RandomGenerator,
                            _ onStep: (Int) throws -> Void) throws -> Tensor

public enum Samplers {
    /// Euler's method on the probability-flow ODE dx̃/dσ = (x̃ − D)/σ. With DDIM's σ schedule this is
    /// DDIM (η = 0) exactly.
    public static func euler(_ denoise: Denoiser, _ x0: Tensor, _ sigmas: [Double], _ rng: inout RandomGenerator,
                             _ onStep: (Int) throws -> Void) throws -> Tensor {
        var x = x0
        for i in 0..<(sigmas.count - 1) {
            let d = try (x - denoise(x, sigmas[i])) * Float(1 / sigmas[i])
            x = try x + d * Float(sigmas[i + 1] - sigmas[i])
            try onStep(i + 1)
        }
        return x
    }

    /// DDIM with η > 0: each step goes deterministically to σ_down and adds fresh noise of σ_up, where
    /// σ_up = η·σ'·√(σ² − σ'²)/σ and σ_down = √(σ'² − σ_up²) — DDIM's σ_t(η) of Song et al. written in
    /// k-diffusion's σ space (η = 1 is the DDPM posterior). η = 0 is `euler` exactly.
    public static func ddim(eta: Double) -> Sampler {
        if eta == 0 { return euler }
        return { denoise, x0, sigmas, rng, onStep in
            var x = x0
            for i in 0..<(sigmas.count - 1) {
                let (s, sNext) = (sigmas[i], sigmas[i + 1])
                let den = try denoise(x, s)
                let up = Swift.min(sNext, eta * sNext * Swift.max(0, s * s - sNext * sNext).squareRoot() / s)
                let down = Swift.max(0, sNext * sNext - up * up).squareRoot()
                x = try den + (x - den) * Float(down / s)
                if up > 0 { x = try x + rng.normal(x.shape) * Float(up) }
                try onStep(i + 1)
            }
            return x
        }
    }

    /// DPM-Solver++(2M) (Lu et al. 2022), multistep second order with a first-order first and last step,
    /// as k-diffusion's sample_dpmpp_2m and diffusers' DPMSolverMultistepScheduler.
    public static func dpmpp2m(_ denoise: Denoiser, _ x0: Tensor, _ sigmas: [Double], _ rng: inout RandomGenerator,
                               _ onStep: (Int) throws -> Void) throws -> Tensor {
        var x = x0
        var old: Tensor? = nil
        for i in 0..<(sigmas.count - 1) {
            let den = try denoise(x, sigmas[i])
            let (s, sNext) = (sigmas[i], sigmas[i + 1])
            if sNext == 0 {
                x = den
            } else {
                let h = log(s) - log(sNext)                      // λ_next − λ, λ = −log σ
                let expm1 = Foundation.expm1(-h)
                var d = den
                if let old, i > 0 {
                    let hLast = log(sigmas[i - 1]) - log(s)
                    let r = hLast / h
                    d = try den * Float(1 + 1 / (2 * r)) - old * Float(1 / (2 * r))
                }
                x = try x * Float(sNext / s) - d * Float(expm1)
            }
            old = den
            try onStep(i + 1)
        }
        return x
    }

    /// The samplers by name (ComfyUI's names) and which diffusers scheduler's step schedule each uses:
    /// the built-in ones and those plugins added.
    public static var all: [String: (sampler: Sampler, family: String)] {
        lock.lock(); defer { lock.unlock() }
        return registered
    }

    /// The step-schedule families a sampler may name (see `StepSchedule.make`).
    public static let families = ["ddim", "euler", "dpm"]

    /// Throws unless a sampler `name` of `family` could be added: the name free, the family known.
    public static func validate(_ name: String, family: String) throws {
        lock.lock(); defer { lock.unlock() }
        try validateLocked(name, family: family)
    }

    /// Adds a sampler (from a plugin), after `validate`'s checks.
    public static func register(_ name: String, family: String, _ sampler: @escaping Sampler) throws {
        lock.lock(); defer { lock.unlock() }
        try validateLocked(name, family: family)
        registered[name] = (sampler, family)
    }

    private static func validateLocked(_ name: String, family: String) throws {
        guard registered[name] == nil else { throw ModelError("a sampler named \"\(name)\" already exists") }
        guard families.contains(family) else {
            throw ModelError("sampler \"\(name)\": unknown step-schedule family \"\(family)\" (one of \(families.joined(separator: ", ")))")
        }
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var registered: [String: (sampler: Sampler, family: String)] = [
        "ddim": (euler, "ddim"),
        "euler": (euler, "euler"),
        "dpmpp_2m": (dpmpp2m, "dpm"),
    ]
}
