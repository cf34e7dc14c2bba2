import Foundation
import DreamModels

/// The model's training noise schedule, from its scheduler_config.json (beta schedule, spacing, offset,
/// prediction type), and the step schedules diffusers' schedulers derive from it. Everything is in
/// k-diffusion's sigma space: x̃ = x / √ᾱ, σ = √((1 − ᾱ) / ᾱ).
public struct NoiseSchedule {
    public enum Prediction: String { case epsilon, v = "v_prediction" }
    public let trainSteps: Int
    public let alphasCumprod: [Float]
    public let prediction: Prediction
    public let spacing: String
    public let stepsOffset: Int
    public let setAlphaToOne: Bool
    /// log σ of every training step (for σ → t lookups).
    let logSigmas: [Double]

    public init(config c: Config) throws {
        let trainSteps = try c.int("num_train_timesteps", 1000)
        self.trainSteps = trainSteps
        let b0 = try c.float("beta_start", 0.00085), b1 = try c.float("beta_end", 0.012)
        let kind = try c.string("beta_schedule", "scaled_linear")
        var betas: [Float]
        switch kind {
        case "scaled_linear":
            let (s0, s1) = (b0.squareRoot(), b1.squareRoot())
            betas = (0..<trainSteps).map { i in let v = s0 + (s1 - s0) * Float(i) / Float(trainSteps - 1); return v * v }
        case "linear":
            betas = (0..<trainSteps).map { i in b0 + (b1 - b0) * Float(i) / Float(trainSteps - 1) }
        case "squaredcos_cap_v2":
            func abar(_ t: Double) -> Double { let c = cos((t + 0.008) / 1.008 * .pi / 2); return c * c }
            betas = (0..<trainSteps).map { i in
                Float(min(1 - abar(Double(i + 1) / Double(trainSteps)) / abar(Double(i) / Double(trainSteps)), 0.999))
            }
        default:
            throw ModelError("\(c.path): unsupported beta_schedule '\(kind)' (known: scaled_linear, linear, squaredcos_cap_v2)")
        }
        var acc: Float = 1
        let cumprod = betas.map { acc *= (1 - $0); return acc }
        alphasCumprod = cumprod
        logSigmas = cumprod.map { a in log(((1 - Double(a)) / Double(a)).squareRoot()) }
        let pred = try c.string("prediction_type", "epsilon")
        guard let p = Prediction(rawValue: pred) else { throw ModelError("\(c.path): unsupported prediction_type '\(pred)'") }
        prediction = p
        spacing = try c.string("timestep_spacing", "leading")
        guard ["leading", "trailing", "linspace"].contains(spacing) else { throw ModelError("\(c.path): unsupported timestep_spacing '\(spacing)'") }
        stepsOffset = try c.int("steps_offset", 0)
        setAlphaToOne = c.bool("set_alpha_to_one", false)
    }

    /// σ of training step t (fractional t interpolates linearly, as np.interp).
    public func sigma(at t: Double) -> Double {
        let sig = { (i: Int) -> Double in let a = Double(self.alphasCumprod[i]); return ((1 - a) / a).squareRoot() }
        let lo = max(0, min(trainSteps - 1, Int(t.rounded(.down)))), hi = min(trainSteps - 1, lo + 1)
        let w = t - Double(lo)
        return sig(lo) * (1 - w) + sig(hi) * w
    }


    /// diffusers' _sigma_to_t: the fractional training step whose log σ matches.
    public func timestep(for sigma: Double) -> Double {
        let ls = logSigmas
        let l = log(max(sigma, 1e-10))
        var low = 0
        for i in 0..<ls.count where l - ls[i] >= 0 { low = i }
        low = min(low, ls.count - 2)
        let w = min(max((ls[low] - l) / (ls[low] - ls[low + 1]), 0), 1)
        return (1 - w) * Double(low) + w * Double(low + 1)
    }

    static func karras(min smin: Double, max smax: Double, count n: Int) -> [Double] {
        let rho = 7.0, lo = pow(smin, 1 / rho), hi = pow(smax, 1 / rho)
        return (0..<n).map { i in pow(hi + Double(i) / Double(max(n - 1, 1)) * (lo - hi), rho) }
    }

    /// The timesteps of a sampler family for `steps` steps, by the config's spacing (diffusers' rules,
    /// which differ between DDIM/Euler and DPM-Solver).
    func spacedTimesteps(_ steps: Int, dpm: Bool) -> [Double] {
        let n = trainSteps
        switch spacing {
        case "linspace":
            if dpm { return (0...steps).map { (Double(n - 1) * Double($0) / Double(steps)).rounded() }.reversed().dropLast().map { $0 } }
            return (0..<steps).map { Double(n - 1) * Double($0) / Double(max(steps - 1, 1)) }.reversed()
        case "trailing":
            let ratio = Double(n) / Double(steps)
            return stride(from: Double(n), to: 0, by: -ratio).map { $0.rounded() - 1 }
        default:   // leading
            let ratio = dpm ? n / (steps + 1) : n / steps
            let count = dpm ? steps + 1 : steps
            var ts = (0..<count).map { Double($0 * ratio) }.reversed().map { $0 + Double(stepsOffset) }
            if dpm { ts = Array(ts.dropLast()) }
            return ts
        }
    }
}

/// The σ values a sampler walks through, the model timestep for each, and the scale of the starting
/// noise (x̃ = noise · initialScale).
public struct StepSchedule {
    public var sigmas: [Double]          // steps + 1 values; the last is where sampling ends
    public var timesteps: [Double]       // steps values, what the UNet is told
    public var initialScale: Double
    /// Multiplies the final x̃ back to the latent the VAE expects (DDIM ends at σ of ᾱ₀, not at 0).
    public var finalScale: Double { 1 / (sigmas[sigmas.count - 1] * sigmas[sigmas.count - 1] + 1).squareRoot() }

    /// The schedules `make` builds, with what each is.
    public static let kinds: [(name: String, doc: String)] = [
        ("normal", "the model's own scheduler config (timestep spacing as diffusers), so the same latents give diffusers' image"),
        ("karras", "σs spaced as Karras et al. (ρ = 7) between the schedule's smallest and largest"),
        ("exponential", "σs spaced evenly in log σ between the smallest and largest")]

    /// The step schedule of a sampler, as the diffusers scheduler it corresponds to builds it.
    /// `family`: ddim, euler (also the other k-diffusion samplers) or dpm; `kind`: normal, karras, exponential.
    public static func make(_ ns: NoiseSchedule, steps: Int, family: SamplerFamily, kind: String) throws -> StepSchedule {
        guard steps >= 1 && steps <= ns.trainSteps else { throw ModelError("steps must be 1…\(ns.trainSteps), got \(steps)") }
        let dpm = family == .dpm
        var ts = ns.spacedTimesteps(steps, dpm: dpm)
        var sig = ts.map { ns.sigma(at: $0) }
        switch kind {
        case "normal": break
        case "karras", "exponential":
            let all = (0..<ns.trainSteps).map { ns.sigma(at: Double($0)) }
            // DPM-Solver spans the whole training range; Euler the range of its spaced timesteps.
            let (lo, hi) = dpm ? (all.first!, all.last!) : (sig.last!, sig.first!)
            if kind == "karras" {
                sig = NoiseSchedule.karras(min: lo, max: hi, count: steps)
            } else {
                sig = (0..<steps).map { i in exp(log(hi) + (log(lo) - log(hi)) * Double(i) / Double(max(steps - 1, 1))) }
            }
            ts = sig.map { ns.timestep(for: $0) }
            if dpm { ts = ts.map { $0.rounded() } }
        default:
            throw ModelError("unknown schedule '\(kind)' (known: normal, karras, exponential)")
        }
        let last: Double
        if family == .ddim {
            let a0 = ns.setAlphaToOne ? 1 : Double(ns.alphasCumprod[0])
            last = ((1 - a0) / a0).squareRoot()
        } else {
            last = 0
        }
        let maxSigma = sig.max() ?? 1
        // diffusers: DDIM and DPM start from unit noise in x-space (x̃ = noise/√ᾱ); Euler scales by
        // √(σmax² + 1) with leading spacing and by σmax otherwise.
        let initial: Double
        if family == .euler && ns.spacing != "leading" { initial = maxSigma } else { initial = (sig[0] * sig[0] + 1).squareRoot() }
        return StepSchedule(sigmas: sig + [last], timesteps: ts, initialScale: family == .euler && ns.spacing == "leading" ? (maxSigma * maxSigma + 1).squareRoot() : initial)
    }
}
