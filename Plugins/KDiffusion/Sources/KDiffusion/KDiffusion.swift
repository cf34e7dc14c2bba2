// k-diffusion's second-order ODE samplers (Karras et al. 2022, Algorithm 1 without churn) and its Karras
// σ schedule, as a dream plugin: samplers "heun" and "dpm_2", and the function kdiffusion.karras.
import DreamPluginABI

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

@_cdecl("dream_plugin_abi")
public func dreamPluginABI() -> UInt32 { UInt32(DREAM_PLUGIN_ABI) }

@_cdecl("dream_plugin_init")
public func dreamPluginInit(_ host: UnsafePointer<dream_host>?) -> Int32 {
    // Needs ABI 1's calls only; a newer host keeps them (it only appends).
    guard let h = host?.pointee, h.abi >= 1 else { return 1 }
    guard h.set_name(h.host, "kdiffusion", "k-diffusion's Heun and DPM2 samplers and Karras σ schedule") == 0,
          h.add_sampler(h.host, "heun", "euler", "Heun's method on the probability-flow ODE (second order, two denoiser calls a step but the last)", heun, nil) == 0,
          h.add_sampler(h.host, "dpm_2", "euler", "DPM-Solver-2: an Euler half step to the geometric mean σ, then the full step with its slope", dpm2, nil) == 0,
          h.add_function(h.host, "karras", "karras(n, sigma_min, sigma_max, rho)",
                         "The Karras et al. (2022) σ schedule: n values from sigma_max down to sigma_min, evenly spaced in σ^(1/rho) (rho = 7 in the paper), then 0.",
                         karras, nil) == 0
    else { return 1 }
    return 0
}

/// The shared shape of both samplers: for each step, the slope d = (x − D(x, σ))/σ, then a second-order
/// correction that needs one more denoiser call at `σ'` unless the step ends at σ = 0.
private func secondOrder(_ c: dream_sampler_call, midpoint: (Double, Double) -> Double, average: Bool) -> Int32 {
    let n = Int(c.count)
    let x = c.x!
    var den = [Float](repeating: 0, count: n), x2 = [Float](repeating: 0, count: n), den2 = [Float](repeating: 0, count: n)
    for i in 0..<Int(c.n_sigmas) - 1 {
        let s = c.sigmas[i], sNext = c.sigmas[i + 1]
        let e = c.denoise(c.call, x, s, &den); if e != 0 { return e }
        if sNext == 0 {
            // The last step: Euler (a second evaluation at σ = 0 is undefined).
            for j in 0..<n { x[j] += (x[j] - den[j]) / Float(s) * Float(sNext - s) }
        } else {
            let sMid = midpoint(s, sNext)
            for j in 0..<n { x2[j] = x[j] + (x[j] - den[j]) / Float(s) * Float(sMid - s) }
            let e2 = c.denoise(c.call, x2, sMid, &den2); if e2 != 0 { return e2 }
            for j in 0..<n {
                let d2 = (x2[j] - den2[j]) / Float(sMid)
                let slope = average ? ((x[j] - den[j]) / Float(s) + d2) / 2 : d2
                x[j] += slope * Float(sNext - s)
            }
        }
        let e3 = c.step(c.call, Int32(i + 1)); if e3 != 0 { return e3 }
    }
    return 0
}

/// Heun: the Euler step's end point σ', and the average of the two slopes.
private let heun: dream_sampler_fn = { _, call in
    secondOrder(call!.pointee, midpoint: { _, next in next }, average: true)
}

/// DPM2: the slope at the geometric mean of σ and σ' for the whole step.
private let dpm2: dream_sampler_fn = { _, call in
    secondOrder(call!.pointee, midpoint: { s, next in exp((log(s) + log(next)) / 2) }, average: false)
}

private let karras: dream_function_fn = { _, call in
    let c = call!.pointee
    func number(_ i: Int) -> Double? {
        guard i < Int(c.n_args), c.args[i].kind == Int32(DREAM_NUMBER) else { return nil }
        return c.args[i].number
    }
    guard c.n_args == 3 || c.n_args == 4, let n = number(0), let lo = number(1), let hi = number(2) else {
        c.fail(c.call, "expects (n, sigma_min, sigma_max[, rho]) as numbers")
        return 1
    }
    let rho = c.n_args == 4 ? (number(3) ?? .nan) : 7
    guard n >= 1, n == n.rounded(), lo > 0, hi > lo, rho > 0 else {
        c.fail(c.call, "needs a whole n ≥ 1, 0 < sigma_min < sigma_max and rho > 0")
        return 1
    }
    var shape: [Int64] = [Int64(n) + 1]
    guard let out = c.result_tensor(c.call, &shape, 1) else { return 1 }
    let a = pow(hi, 1 / rho), b = pow(lo, 1 / rho)
    for i in 0..<Int(n) {
        let ramp = n == 1 ? 0 : Double(i) / (n - 1)
        out[i] = Float(pow(a + ramp * (b - a), rho))
    }
    out[Int(n)] = 0
    return 0
}
