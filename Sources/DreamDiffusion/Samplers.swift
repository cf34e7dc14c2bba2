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
    /// k-diffusion's σ space (η = 1 is the DDPM posterior). η = 0 is `euler` exactly; η = 1 on Euler's σ
    /// schedule is Euler ancestral (k-diffusion's sample_euler_ancestral, diffusers' EulerAncestralDiscreteScheduler).
    public static func ddim(eta: Double) -> Sampler {
        if eta == 0 { return euler }
        return { denoise, x0, sigmas, rng, onStep in
            var x = x0
            for i in 0..<(sigmas.count - 1) {
                let (s, sNext) = (sigmas[i], sigmas[i + 1])
                let den = try denoise(x, s)
                let (down, up) = ancestralStep(s, sNext, eta: eta)
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

    /// DPM-Solver++(2S) ancestral (k-diffusion's sample_dpmpp_2s_ancestral): from σ a second-order singlestep
    /// to σ_down (the midpoint in λ = −log σ evaluated once more), then fresh noise of σ_up, σ_up and σ_down as
    /// in `ddim(eta: 1)`; the step to σ = 0 is Euler's.
    public static func dpmpp2sAncestral(_ denoise: Denoiser, _ x0: Tensor, _ sigmas: [Double], _ rng: inout RandomGenerator,
                                        _ onStep: (Int) throws -> Void) throws -> Tensor {
        var x = x0
        for i in 0..<(sigmas.count - 1) {
            let (s, sNext) = (sigmas[i], sigmas[i + 1])
            let den = try denoise(x, s)
            let (down, up) = ancestralStep(s, sNext)
            if down == 0 {
                x = den
            } else {
                let h = log(s) - log(down), mid = (s * down).squareRoot()     // λ halfway from σ to σ_down
                let x2 = try x * Float(mid / s) - den * Float(Foundation.expm1(-h / 2))
                let den2 = try denoise(x2, mid)
                x = try x * Float(down / s) - den2 * Float(Foundation.expm1(-h))
            }
            if up > 0 { x = try x + rng.normal(x.shape) * Float(up) }
            try onStep(i + 1)
        }
        return x
    }

    /// DPM-Solver++ SDE (k-diffusion's sample_dpmpp_sde, r = ½, η = 1): an ancestral step to the geometric
    /// midpoint σ_m = √(σσ'), the model there, then the ancestral step σ → σ' with the midpoint's prediction.
    /// The two steps' noises are one Brownian path's increments over [σ_m, σ] and [σ', σ] (in σ-time, as
    /// k-diffusion's Brownian-tree noise), so they are correlated as its are; the step to σ = 0 is Euler's.
    public static func dpmppSDE(_ denoise: Denoiser, _ x0: Tensor, _ sigmas: [Double], _ rng: inout RandomGenerator,
                                _ onStep: (Int) throws -> Void) throws -> Tensor {
        var x = x0
        for i in 0..<(sigmas.count - 1) {
            let (s, sNext) = (sigmas[i], sigmas[i + 1])
            let den = try denoise(x, s)
            if sNext == 0 {
                x = den
            } else {
                let mid = (s * sNext).squareRoot()
                let early = try rng.normal(x.shape) * Float((s - mid).squareRoot())        // W(σ) − W(σ_m)
                let whole = try early + rng.normal(x.shape) * Float((mid - sNext).squareRoot())  // W(σ) − W(σ')
                let (down1, up1) = ancestralStep(s, mid)
                let x2 = try den + (x - den) * Float(down1 / s) + early * Float(up1 / (s - mid).squareRoot())
                let den2 = try denoise(x2, mid)
                let (down, up) = ancestralStep(s, sNext)
                x = try den2 + (x - den2) * Float(down / s) + whole * Float(up / (s - sNext).squareRoot())
            }
            try onStep(i + 1)
        }
        return x
    }

    /// The ancestral split of a step σ → σ': σ_up = min(σ', η·σ'·√(σ² − σ'²)/σ) of fresh noise and σ_down =
    /// √(σ'² − σ_up²) deterministic, so that the marginal variance at σ' is right.
    static func ancestralStep(_ s: Double, _ sNext: Double, eta: Double = 1) -> (down: Double, up: Double) {
        let up = Swift.min(sNext, eta * sNext * Swift.max(0, s * s - sNext * sNext).squareRoot() / s)
        return (Swift.max(0, sNext * sNext - up * up).squareRoot(), up)
    }

    /// Linear multistep of order 4 on the ODE dx̃/dσ = d(x̃, σ) (k-diffusion's sample_lms, diffusers'
    /// LMSDiscreteScheduler): each step integrates the Lagrange polynomial through the last (up to) four
    /// derivatives over [σᵢ, σᵢ₊₁]; the first steps use the orders they have.
    public static func lms(_ denoise: Denoiser, _ x0: Tensor, _ sigmas: [Double], _ rng: inout RandomGenerator,
                           _ onStep: (Int) throws -> Void) throws -> Tensor {
        let order = 4
        var x = x0
        var ds: [Tensor] = []                                   // newest last
        for i in 0..<(sigmas.count - 1) {
            ds.append(try (x - denoise(x, sigmas[i])) * Float(1 / sigmas[i]))
            if ds.count > order { ds.removeFirst() }
            let n = ds.count
            for j in 0..<n {                                    // j steps back: ds[n − 1 − j]
                x = try x + ds[n - 1 - j] * Float(lmsCoefficient(sigmas, i, j, order: n))
            }
            try onStep(i + 1)
        }
        return x
    }

    /// The integral over [t[i], t[i + 1]] of the Lagrange basis polynomial of node t[i − j] among t[i], …,
    /// t[i − order + 1]: its degree is order − 1 ≤ 3, so 4-point Gauss–Legendre is exact.
    static func lmsCoefficient(_ t: [Double], _ i: Int, _ j: Int, order: Int) -> Double {
        let nodes = [-0.861136311594052575, -0.339981043584856265, 0.339981043584856265, 0.861136311594052575]
        let weights = [0.347854845137453857, 0.652145154862546143, 0.652145154862546143, 0.347854845137453857]
        let (a, b) = (t[i], t[i + 1])
        var total = 0.0
        for (u, w) in zip(nodes, weights) {
            let tau = (a + b) / 2 + (b - a) / 2 * u
            var prod = 1.0
            for k in 0..<order where k != j { prod *= (tau - t[i - k]) / (t[i - j] - t[i - k]) }
            total += w * prod
        }
        return total * (b - a) / 2
    }

    /// UniPC (Zhao et al. 2023) as diffusers' UniPCMultistepScheduler runs it by default: data prediction,
    /// predictor UniP of order 2 (order 1 on the first and the last step), corrector UniC after every step but
    /// the first, reusing the model output at the predicted point (so one evaluation per step). `bh2` picks
    /// B(h) = e^(−h) − 1 (diffusers' default, ComfyUI's "uni_pc_bh2"), else B(h) = −h ("uni_pc").
    /// Written in k-diffusion's σ space, where λ = −log σ and the α factors of the VP form cancel.
    public static func uniPC(bh2: Bool) -> Sampler {
        { denoise, x0, sigmas, rng, onStep in
            let n = sigmas.count - 1
            func lambda(_ i: Int) -> Double { -log(sigmas[i]) }
            func bFactor(_ hh: Double) -> Double { bh2 ? Foundation.expm1(hh) : hh }
            var x = x0
            var outputs: [Tensor] = []                 // the data predictions of the last two steps, newest last
            var lastX = x0, lastOrder = 1
            for i in 0..<n {
                let m = try denoise(x, sigmas[i])
                if i > 0 {
                    // UniC: redo the step σᵢ₋₁ → σᵢ with m, the output at the predicted point, as one more node.
                    let hh = -(lambda(i) - lambda(i - 1)), big = bFactor(hh), m0 = outputs[outputs.count - 1]
                    let correction: Tensor
                    if lastOrder == 2 {
                        let r = (lambda(i - 2) - lambda(i - 1)) / -hh
                        let b = uniPCB(hh, big, order: 2)
                        // ρ solves [[1, 1], [r, 1]] ρ = b: ρ₀ weighs the older difference, ρ₁ the new one.
                        let rho0 = (b[0] - b[1]) / (1 - r), rho1 = b[0] - rho0
                        let d1 = try (outputs[0] - m0) * Float(1 / r)
                        correction = try d1 * Float(rho0) + (m - m0) * Float(rho1)
                    } else {
                        correction = try (m - m0) * 0.5
                    }
                    x = try lastX * Float(sigmas[i] / sigmas[i - 1]) - m0 * Float(Foundation.expm1(hh)) - correction * Float(big)
                }
                outputs.append(m)
                if outputs.count > 2 { outputs.removeFirst() }
                let order = Swift.min(2, n - i, i + 1)
                lastX = x
                lastOrder = order
                if sigmas[i + 1] == 0 {
                    x = m                                       // the last step is of order 1: straight to the prediction
                } else {
                    let hh = -(lambda(i + 1) - lambda(i))
                    x = try x * Float(sigmas[i + 1] / sigmas[i]) - m * Float(Foundation.expm1(hh))
                    if order == 2 {
                        let r = (lambda(i - 1) - lambda(i)) / -hh
                        x = try x - (outputs[0] - m) * Float(0.5 * bFactor(hh) / r)
                    }
                }
                try onStep(i + 1)
            }
            return x
        }
    }

    /// UniPC's right-hand side b_k = hφ_k(h)·k!/B(h), k = 1…order, with hh = −h (data prediction).
    static func uniPCB(_ hh: Double, _ big: Double, order: Int) -> [Double] {
        var phiK = Foundation.expm1(hh) / hh - 1, factorial = 1.0
        var b: [Double] = []
        for k in 1...order {
            b.append(phiK * factorial / big)
            factorial *= Double(k + 1)
            phiK = phiK / hh - 1 / factorial
        }
        return b
    }

    /// The samplers dream has itself, by name (ComfyUI's names), each with the diffusers scheduler whose
    /// step schedule it uses. A `SamplerRegistry` starts from these; plugins add to a registry, not here.
    public static let builtin: [String: SamplerEntry] = Dictionary(uniqueKeysWithValues: [
        SamplerEntry("ddim", .ddim, euler),
        SamplerEntry("euler", .euler, euler),
        SamplerEntry("dpmpp_2m", .dpm, dpmpp2m),
        SamplerEntry("euler_ancestral", .euler, ddim(eta: 1)),
        SamplerEntry("dpmpp_2s_ancestral", .euler, dpmpp2sAncestral),
        SamplerEntry("lms", .euler, lms),
        SamplerEntry("dpmpp_sde", .euler, dpmppSDE),
        SamplerEntry("uni_pc", .dpm, uniPC(bh2: false)),
        SamplerEntry("uni_pc_bh2", .dpm, uniPC(bh2: true)),
    ].map { ($0.name, $0) })
}
