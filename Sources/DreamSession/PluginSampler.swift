import Foundation
import CDreamPlugin
import DreamTensor
import DreamDiffusion
import DreamLang

/// A plugin's sampler seen as a dream `Sampler`: x crosses as a flat Float32 buffer, the denoiser, the
/// random stream and the step report as C callbacks on a per-call context.
final class PluginSampler {
    let fn: dream_sampler_fn
    let data: UnsafeMutableRawPointer?
    let plugin: String

    init(fn: @escaping dream_sampler_fn, data: UnsafeMutableRawPointer?, plugin: String) { self.fn = fn; self.data = data; self.plugin = plugin }

    /// The state of one call, reached from the callbacks through the `call` handle.
    final class Call {
        let denoise: Denoiser
        let shape: [Int]
        let rng: UnsafeMutablePointer<RandomGenerator>
        let onStep: (Int) throws -> Void
        var error: Error?
        init(denoise: @escaping Denoiser, shape: [Int], rng: UnsafeMutablePointer<RandomGenerator>, onStep: @escaping (Int) throws -> Void) {
            self.denoise = denoise; self.shape = shape; self.rng = rng; self.onStep = onStep
        }
        static func of(_ p: UnsafeMutableRawPointer?) -> Call { Unmanaged<Call>.fromOpaque(p!).takeUnretainedValue() }
    }

    static let denoiseC: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<Float>?, Double, UnsafeMutablePointer<Float>?) -> Int32 = { h, x, sigma, out in
        let c = Call.of(h)
        do {
            guard let x, let out else { throw PluginError(message: "the sampler called denoise with a NULL \(x == nil ? "x" : "out")") }
            guard sigma.isFinite && sigma >= 0 else { throw PluginError(message: "the sampler called denoise at σ = \(sigma) (a noise level is finite and ≥ 0)") }
            let t = Tensor(zeros: c.shape)
            t.pointer.update(from: x, count: t.count)
            let d = try c.denoise(t, sigma)
            out.update(from: d.pointer, count: t.count)
            return 0
        } catch { c.error = error; return 1 }
    }

    static let normalC: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<Float>?, Int64) -> Void = { h, out, count in
        let c = Call.of(h)
        // No status to return: a bad request is kept and raised when the sampler returns.
        guard let out, count >= 0 else {
            if c.error == nil { c.error = PluginError(message: out == nil ? "the sampler asked for noise into NULL" : "the sampler asked for \(count) noise values") }
            return
        }
        let t = c.rng.pointee.normal([Int(count)])
        out.update(from: t.pointer, count: Int(count))
    }

    static let stepC: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Int32 = { h, step in
        let c = Call.of(h)
        do { try c.onStep(Int(step)); return 0 } catch { c.error = error; return 1 }
    }

    var sampler: Sampler {
        { [self] denoise, x0, sigmas, rng, onStep in
            // The callbacks are used only during this call: they do not really escape.
            try withoutActuallyEscaping(denoise) { denoise in try withoutActuallyEscaping(onStep) { onStep in
            try withUnsafeMutablePointer(to: &rng) { rngPointer in
                let call = Call(denoise: denoise, shape: x0.shape, rng: rngPointer, onStep: onStep)
                let handle = Unmanaged.passRetained(call)
                defer { handle.release() }
                let x = x0.copy()
                let status = sigmas.withUnsafeBufferPointer { s in
                    var c = dream_sampler_call(call: handle.toOpaque(), denoise: PluginSampler.denoiseC, normal: PluginSampler.normalC,
                                               step: PluginSampler.stepC, x: x.pointer, count: Int64(x.count),
                                               sigmas: s.baseAddress, n_sigmas: Int32(s.count))
                    return fn(data, &c)
                }
                if let e = call.error { throw e }
                guard status == 0 else { throw PluginError(message: "the sampler of plugin \(plugin) failed (status \(status))") }
                return x
            }
            } }
        }
    }
}
