import Foundation
import DreamTensor
import DreamModels

/// Score distillation sampling (DreamFusion): the gradient that pulls rendered images towards what the
/// model, conditioned on c, considers likely — w(t)(ε̂(z_t, t, c) − ε) on the latents, with the UNet not
/// differentiated, carried back to the images through the VAE encoder. Text-to-3D plugins call it on
/// their renders; it is a function of (images, conditions, seed) only.
public struct ScoreDistillation {
    /// Classifier-free guidance of ε̂ (DreamFusion uses 100 on Stable Diffusion; small models need less).
    public var guidance: Float = 20
    /// The range of training steps t is drawn from, as fractions of the schedule (DreamFusion: 0.02–0.98).
    public var tMin = 0.02, tMax = 0.98

    public init() {}

    public struct Result {
        /// ∂/∂images of the distillation objective, [B, 3, H, W].
        public let gradient: Tensor
        /// Mean squared ε̂ − ε (how far the images are from what the model expects, noisily).
        public let residual: Double
        /// The training step drawn for each image.
        public let timesteps: [Int]
        /// The latent noise ε drawn, and w(t)(ε̂ − ε): the gradient on the (scaled) latents.
        public let noise: Tensor, direction: Tensor
    }

    /// The gradient for images [B, 3, H, W] in [0, 1], one condition [B, L, d] per image (or [1, L, d] for
    /// all) and the unconditional encoding [1, L, d]; weighting w(t) = 1 − ᾱ_t.
    public func gradient(_ sd: StableDiffusion, images: Tensor, conditions: Tensor, unconditional: Tensor, seed: UInt64) throws -> Result {
        let b = images.shape.first ?? 0
        guard images.rank == 4, images.shape[1] == 3, b > 0 else {
            throw ModelError("score distillation: images must be [B, 3, H, W], got \(shapeString(images.shape))")
        }
        guard conditions.rank == 3, conditions.shape[0] == b || conditions.shape[0] == 1,
              unconditional.rank == 3, unconditional.shape[0] == 1, Array(unconditional.shape.dropFirst()) == Array(conditions.shape.dropFirst()),
              conditions.shape[2] == sd.textEncoder.hidden else {
            let n = b == 1 ? "1" : "\(b) or 1"
            throw ModelError("score distillation: conditions must be [\(n), L, \(sd.textEncoder.hidden)] and the unconditional encoding [1, L, \(sd.textEncoder.hidden)], got \(shapeString(conditions.shape)) and \(shapeString(unconditional.shape))")
        }
        guard 0 <= tMin, tMin < tMax, tMax <= 1, guidance.isFinite else {
            throw ModelError("score distillation: need 0 ≤ t_min < t_max ≤ 1 and a finite guidance, got \(tMin), \(tMax), \(guidance)")
        }
        let ns = try sd.noiseSchedule
        var rng = RandomGenerator(seed: seed)
        let n = ns.trainSteps
        let lo = Int((tMin * Double(n - 1)).rounded()), hi = Int((tMax * Double(n - 1)).rounded())
        let u = rng.uniform([b])
        let ts = (0..<b).map { i in min(hi, lo + Int(Double(u.pointer[i]) * Double(hi - lo + 1))) }

        // The encoder is differentiated; everything after it is not (the "stop gradient" of SDS).
        let x = images.param()
        let z = try sd.vae.encodeMean(x * 2 - 1) * sd.vae.scalingFactor
        let eps = rng.normal(z.shape)
        let (direction, residual) = try withoutGrad { () -> (Tensor, Double) in
            let z0 = z.detached
            let abar = ts.map { ns.alphasCumprod[$0] }
            let perImage = { (v: [Float]) throws -> Tensor in try Tensor(v, shape: [b, 1, 1, 1]) }
            let zt = try ns.noised(z0, eps, timesteps: ts)
            let c = try conditions.expand(to: [b] + Array(conditions.shape.dropFirst()))
            let un = try unconditional.expand(to: [b] + Array(unconditional.shape.dropFirst()))
            let t = ts.map(Float.init)
            let out = try sd.unet(concatenate([zt, zt], axis: 0), timesteps: t + t, context: concatenate([un, c], axis: 0))
            let ou = try ns.epsilon(fromOutput: out.sliced(axis: 0, start: 0, end: b), noisy: zt, timesteps: ts)
            let oc = try ns.epsilon(fromOutput: out.sliced(axis: 0, start: b), noisy: zt, timesteps: ts)
            let epsHat = try DreamDiffusion.guided(unconditional: ou, conditional: oc, scale: guidance)
            let diff = try epsHat - eps
            let residual = Double(try (diff * diff).mean().item)
            return (try diff * perImage(abar.map { 1 - $0 }), residual)
        }
        // ⟨z(x), direction⟩ has gradient J_zᵀ · direction with respect to the images.
        let surrogate = try (z * direction).sum()
        let g = try gradients(of: surrogate, wrt: [x])[0]
        return Result(gradient: g, residual: residual, timesteps: ts, noise: eps, direction: direction)
    }
}
