import Foundation
import DreamTensor
import DreamModels

/// Text-to-image with classifier-free guidance on a Stable Diffusion family model.
public struct GenerationOptions {
    public var steps = 50
    public var cfg: Float = 7.5
    public var sampler = Samplers.builtin["ddim"]!
    /// DDIM's η (0: deterministic; 1: DDPM's posterior noise). Only "ddim" uses it.
    public var eta = 0.0
    public var schedule = "normal"
    public var seed: UInt64 = 0
    /// Starting latents in unit-variance noise scale; drawn from `seed` when nil.
    public var latents: Tensor? = nil
    /// Image height and width in pixels; the model's default when nil.
    public var size: (Int, Int)? = nil
    public var negative = ""
    /// Images denoised together (the UNet sees twice this batch).
    public var batch = 4
    /// What the progress bar says (a caller that samples in rounds says which).
    public var label = "sampling"
    public init() {}

    /// The model's own defaults: its folder's steps and guidance where it says, and a batch that fills a
    /// UNet call for its latent size (SD 1.5 at 64×64 latents: 4; the built-in model: 16).
    public init(for sd: StableDiffusion) {
        steps = sd.defaultSteps ?? steps
        cfg = sd.defaultCFG ?? cfg
        batch = max(1, min(16, 16384 / (sd.unet.sampleSize * sd.unet.sampleSize)))
    }
}

extension StableDiffusion {
    /// Image sides this model can generate: multiples of the VAE's and the UNet's downsampling together.
    public var sizeMultiple: Int { vae.downscale * unet.latentMultiple }
    /// The largest side `generate` accepts (the work and memory grow with its square).
    public static let maxImageSide = 4096

    /// About how many bytes generating `batch` images of h×w at once takes: the VAE decoder's full-resolution
    /// activations (measured on the built-in model: ≈ 36 tensors of its channels live at the peak) and the
    /// UNet's guided batch (≈ 30 tensors of its widest channels at the latent size).
    public func generationMemory(_ h: Int, _ w: Int, batch: Int) -> Double {
        let pixels = Double(h * w), latent = pixels / Double(vae.downscale * vae.downscale)
        return vae.memory(height: h, width: w) + 2 * Double(batch) * latent * Double(unet.widestChannels) * 4 * 30
    }

    /// The one size rule of every call that takes a size for this model (generate, sample).
    public func checkImageSize(_ h: Int, _ w: Int) throws {
        let m = sizeMultiple, native = unet.sampleSize * vae.downscale
        guard h >= m, w >= m, h % m == 0, w % m == 0, h <= StableDiffusion.maxImageSide, w <= StableDiffusion.maxImageSide else {
            throw ModelError("size \(h)×\(w): height and width must be multiples of \(m) from \(m) to \(StableDiffusion.maxImageSide) for this model (its own size is \(native)×\(native))")
        }
    }
    public var noiseSchedule: NoiseSchedule { get throws { try NoiseSchedule(config: schedulerConfig) } }

    /// Images [N, 3, H, W] in [0, 1], one per prompt.
    public func generate(_ prompts: [String], _ o: GenerationOptions) throws -> Tensor {
        guard !prompts.isEmpty else { throw ModelError("generate: no prompts") }
        return try sample(conditions: try concatenate(prompts.map { try encode($0) }, axis: 0), o)
    }

    /// Images for conditions [N, 77, d], guided against the encoding of the negative prompt (`o.negative`, "").
    public func sample(conditions: Tensor, _ o: GenerationOptions) throws -> Tensor {
        try sample(conditions: conditions, unconditional: try withoutGrad { try encode(o.negative) }, o)
    }

    /// Images for given conditioning [N, 77, d] (one per image); the unconditional branch uses
    /// `unconditional` [1, 77, d]. The prompt-distribution layer calls this with sampled conditions.
    public func sample(conditions: Tensor, unconditional: Tensor, _ o: GenerationOptions) throws -> Tensor {
        try decode(latents: try sampleLatents(conditions: conditions, unconditional: unconditional, o))
    }

    /// Images [N, 3, H, W] in [0, 1] from the VAE decoder's input latents [N, C, h, w] (as `sampleLatents` gives).
    public func decode(latents: Tensor) throws -> Tensor {
        try withoutGrad {
            let decoded = try vae.decodeEach(latents)
            if let bad = decoded.nonFiniteCount {
                throw ModelError("the VAE decoder gave \(bad) NaN or infinite values (stage: decoding)")
            }
            return try (decoded * 0.5 + 0.5).clamp(min: 0, max: 1)
        }
    }

    /// The denoised latents [N, C, h, w] for conditions [N, 77, d] as the VAE decoder takes them (the sampler's
    /// result over the scaling factor; times it, they are in the space of `referenceLatents`).
    public func sampleLatents(conditions: Tensor, unconditional: Tensor, _ o: GenerationOptions) throws -> Tensor {
        try withoutGrad {
            let n = conditions.shape[0]
            var sampler = o.sampler.run
            let family = o.sampler.family
            guard o.eta >= 0 else { throw ModelError("eta must be ≥ 0, got \(o.eta)") }
            if o.eta > 0 {
                guard o.sampler.name == "ddim" else { throw ModelError("eta applies to the \"ddim\" sampler only (got sampler \"\(o.sampler.name)\")") }
                sampler = Samplers.ddim(eta: o.eta)
            }
            let ns = try noiseSchedule
            let sched = try StepSchedule.make(ns, steps: o.steps, family: family, kind: o.schedule)
            let down = vae.downscale
            let (h, w) = o.size ?? (unet.sampleSize * down, unet.sampleSize * down)
            try checkImageSize(h, w)
            do { try Memory.check(generationMemory(h, w, batch: min(n, o.batch)), for: "generating \(min(n, o.batch)) image\(min(n, o.batch) == 1 ? "" : "s") of \(w)×\(h) at once") }
            catch let e as TensorError { throw ModelError(e.message + " (a smaller size:, or fewer images at once)") }
            let shape = [n, unet.inChannels, h / down, w / down]
            let noise = o.latents ?? Tensor.randn(shape, seed: o.seed)
            guard noise.shape == shape else { throw ModelError("latents must be \(shapeString(shape)), got \(shapeString(noise.shape))") }
            let tFor = Dictionary(zip(sched.sigmas.dropLast(), sched.timesteps), uniquingKeysWith: { a, _ in a })
            // One batch: counted in steps. Several: counted in images, the note saying which images and step.
            let steps = sched.timesteps.count, batches = (n + o.batch - 1) / o.batch
            let progress = Job.progress(o.label, total: batches == 1 ? steps : n)
            defer { progress.finish() }
            var latents: [Tensor] = []
            for start in stride(from: 0, to: n, by: o.batch) {
                let end = min(n, start + o.batch), m = end - start
                let c = try conditions.sliced(axis: 0, start: start, end: end)
                let u = try unconditional.expand(to: [m] + Array(unconditional.shape.dropFirst()))
                let context = try concatenate([u, c], axis: 0)
                let denoise: Denoiser = { x, sigma in
                    let t = Float(tFor[sigma] ?? ns.timestep(for: sigma))
                    let cIn = Float(1 / (sigma * sigma + 1).squareRoot())
                    let xin = try x * cIn
                    let out = try self.unet(concatenate([xin, xin], axis: 0), timesteps: [Float](repeating: t, count: 2 * m), context: context)
                    let (ou, oc) = (try out.sliced(axis: 0, start: 0, end: m), try out.sliced(axis: 0, start: m))
                    return try ns.denoised(fromOutput: guided(unconditional: ou, conditional: oc, scale: o.cfg), x: x, sigma: sigma)
                }
                var rng = RandomGenerator(seed: Seeds.stream(o.seed, .sampling, index: start))
                let x0 = try noise.sliced(axis: 0, start: start, end: end) * Float(sched.initialScale)
                var step = 0
                let xEnd = try sampler(denoise, x0, sched.sigmas, &rng) { _ in
                    step += 1
                    if batches == 1 { progress.update(min(step, steps), note: "") }
                    else { progress.update(start, note: "image\(m == 1 ? "" : "s") \(start + 1)\(m == 1 ? "" : "–\(end)"), step \(min(step, steps))/\(steps)") }
                    try Job.checkCancelled()
                }
                if batches > 1 { progress.update(end, note: "") }
                let which = m == 1 ? "image \(start + 1)" : "images \(start + 1)–\(end)"
                if let bad = xEnd.nonFiniteCount {
                    throw ModelError("the sampler \"\(o.sampler.name)\" gave \(bad) NaN or infinite latent values for \(which) (stage: sampling); nothing was decoded")
                }
                latents.append(try xEnd * Float(sched.finalScale / Double(vae.scalingFactor)))
            }
            return try concatenate(latents, axis: 0)
        }
    }
}
