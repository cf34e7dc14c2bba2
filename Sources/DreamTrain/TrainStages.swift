import Foundation
import DreamTensor
import DreamIO
import DreamModels
import DreamDiffusion
import DreamWorld
import DreamMethod

/// Settings of `dream-train builtin`.
struct BuiltinSettings {
    var work = ".build/train-builtin"
    var out = "Sources/DreamAssets/builtin"
    var seed: UInt64 = 0
    var vaeSteps = 2500, vaeBatch = 16, vaeLR: Float = 1e-3
    var unetSteps = 4600, unetBatch = 32, unetLR: Float = 8e-4
    var captionDrop = 0.15, captionDropAll = 0.1
    /// An optional second phase of the UNet stage (`--tune-steps N`) with attribute words dropped far more
    /// often, so that concept-level conditions ("a cone on a dark background", five attributes left free)
    /// are in what the model learned. Its own warm-up and cosine schedule, so phase one is the same run
    /// with or without it. Off by default: 1,600 steps of it improved such captions a little but not the
    /// learned distributions (docs/builtin-model.md), so the shipped model is phase one alone.
    /// `--tune-drop P` sets that phase's drop rate (0 tunes towards always-full captions).
    var tuneSteps = 0, tuneDrop = 0.5, tuneLR: Float = 2e-4
    var logEvery = 25, saveEvery = 200
}

/// The VAE: reconstruction of random 32×32 crops of fresh renders (L1) with a small KL term; the
/// convolutional layers see the same statistics as on whole images, at a quarter of the cost.
func trainVAE(_ s: BuiltinSettings) throws -> (VAE, Float) {
    let store = WeightStore(initializing: s.seed &+ 1, source: "vae (new)")
    let vae = try VAE(config: Config(BuiltinModel.vae), weights: store)
    let run = Run(name: "vae", work: s.work, params: store.parameters)
    if try run.resume() { print("vae: resumed at step \(run.step)") }
    print("vae: \(run.parameterCount) parameters")
    while run.step < s.vaeSteps && !stopRequested() {
        var rng = RandomGenerator(seed: Seeds.trainingStep(s.seed, stream: 1, step: run.step))
        let scenes = try World.scenes(n: s.vaeBatch, seed: Seeds.trainingStep(s.seed, stream: 2, step: run.step))
        let full = try Renderer.render(scenes, size: BuiltinModel.imageSize)
        let y = rng.int(below: 33), x = rng.int(below: 33)
        let crop = try full.sliced(axis: 2, start: y, end: y + 32).sliced(axis: 3, start: x, end: x + 32) * 2 - 1
        // The latent mean is decoded as it is (the posterior's noise is not sampled): with so few steps the
        // encoder never gets to shrink an initial σ of 1, and dream only ever uses the mean. The μ² part of
        // the KL term keeps the latents' scale bounded; the scaling factor below normalises it.
        let mean = try vae.encodeMean(crop)
        let rec = try vae.decode(mean)
        let diff = try rec - crop
        let l1 = try diff.abs().mean()
        let loss = try l1 + (diff * diff).mean() + (mean * mean).mean() * 1e-4
        try run.update(loss, lr: Run.schedule(run.step, of: s.vaeSteps, base: s.vaeLR, warmup: 100))
        try run.finished(loss: l1.item, images: s.vaeBatch, total: s.vaeSteps, logEvery: s.logEvery, saveEvery: s.saveEvery)
    }
    try run.stopIfRequested()
    // The scaling factor makes latents of whole images unit-variance, as SD's 0.18215 does.
    let scaling: Float = try withoutGrad {
        let probe = try Renderer.render(World.scenes(n: 256, seed: Seeds.trainingStep(s.seed, stream: 3, step: 0)), size: BuiltinModel.imageSize)
        var sum = 0.0, sq = 0.0, n = 0.0
        for b in stride(from: 0, to: 256, by: 32) {
            let z = try vae.encodeMean(probe.sliced(axis: 0, start: b, end: b + 32) * 2 - 1)
            for v in z.scalars { sum += Double(v); sq += Double(v) * Double(v); n += 1 }
        }
        let mean = sum / n
        return Float(1 / (sq / n - mean * mean).squareRoot())
    }
    print(String(format: "vae: scaling factor %.5f", scaling))
    return (vae, scaling)
}

/// Text encoder and UNet together: ε-prediction on latents of fresh renders with their captions (words
/// and whole captions dropped), Min-SNR-weighted (γ = 5), EMA weights kept for the release.
func trainUNet(_ s: BuiltinSettings, vae: VAE, scaling: Float, tokenizer: CLIPTokenizer) throws -> Run {
    let (vocab, _) = BuiltinModel.vocabulary()
    let textStore = WeightStore(initializing: s.seed &+ 2, source: "text encoder (new)")
    let unetStore = WeightStore(initializing: s.seed &+ 3, source: "unet (new)")
    let textConfig = Config(BuiltinModel.textEncoder(vocabSize: vocab.count, bos: tokenizer.bos, eos: tokenizer.eos))
    let text = try CLIPTextModel(config: textConfig, weights: textStore)
    let unet = try UNet(config: Config(BuiltinModel.unet), weights: unetStore)
    let ns = try NoiseSchedule(config: Config(BuiltinModel.scheduler))
    var params: [String: Tensor] = [:]
    for (k, v) in textStore.parameters { params["text_encoder/" + k] = v }
    for (k, v) in unetStore.parameters { params["unet/" + k] = v }
    let run = Run(name: "unet", work: s.work, params: params, emaDecay: 0.999)
    if try run.resume() { print("unet: resumed at step \(run.step)") }
    print("unet + text encoder: \(run.parameterCount) parameters")
    let b = s.unetBatch
    let total = s.unetSteps + s.tuneSteps
    while run.step < total && !stopRequested() {
        let tuning = run.step >= s.unetSteps
        var rng = RandomGenerator(seed: Seeds.trainingStep(s.seed, stream: 4, step: run.step))
        let scenes = try World.scenes(n: b, seed: Seeds.trainingStep(s.seed, stream: 5, step: run.step))
        let z0 = try withoutGrad { try vae.encodeMean(Renderer.render(scenes, size: BuiltinModel.imageSize) * 2 - 1) * scaling }
        let captions = scenes.map { BuiltinModel.caption($0, drop: { rng.double() }, p: tuning ? s.tuneDrop : s.captionDrop, pAll: s.captionDropAll) }
        let context = try text(ids: captions.map { tokenizer.encode($0) })
        let ts = (0..<b).map { _ in rng.int(below: ns.trainSteps) }
        let ab = ts.map { Double(ns.alphasCumprod[$0]) }
        let noise = rng.normal(z0.shape)
        let xt = try ns.noised(z0, noise, timesteps: ts)
        let pred = try unet(xt, timesteps: ts.map(Float.init), context: context)
        let w = try Tensor(ab.map { Float(PromptMath.minSNRWeight(alphaBar: $0, vPrediction: false)) }, shape: [b, 1, 1, 1])
        let err = try pred - noise
        let loss = try (err * err * w).mean()
        let lr = tuning ? Run.schedule(run.step - s.unetSteps, of: s.tuneSteps, base: s.tuneLR, warmup: 50)
                        : Run.schedule(run.step, of: s.unetSteps, base: s.unetLR, warmup: 200)
        try run.update(loss, lr: lr)
        try run.finished(loss: (err * err).mean().item, images: b, total: total, logEvery: s.logEvery, saveEvery: s.saveEvery)
    }
    try run.stopIfRequested()
    return run
}

/// Trains the built-in model stage by stage (each resumable) and writes the diffusers folder.
func trainBuiltin(_ s: BuiltinSettings) throws {
    try FileManager.default.createDirectory(atPath: s.work, withIntermediateDirectories: true)
    installStopHandler()
    let started = Date()
    let (vae, scaling) = try trainVAE(s)
    // The tokenizer files first: the UNet stage tokenizes with them.
    try BuiltinModel.writeSkeleton(s.out, vaeScaling: scaling)
    let tokenizer = try CLIPTokenizer(vocabPath: s.out + "/tokenizer/vocab.json", mergesPath: s.out + "/tokenizer/merges.txt")
    let vaeWeights = Dictionary(uniqueKeysWithValues: try SafeTensorsFile(path: s.work + "/vae-checkpoint.safetensors").all()
        .compactMap { k, v in k.hasPrefix("param/") ? (String(k.dropFirst(6)), v) : nil })
    try SafeTensors.save(vaeWeights, to: s.out + "/vae/diffusion_pytorch_model.fp16.safetensors", half: true)
    let run = try trainUNet(s, vae: vae, scaling: scaling, tokenizer: tokenizer)
    try writeTextEncoderAndUNet(run.finalWeights, to: s.out)
    print("built-in model written to \(s.out) (this session \(clock(Date().timeIntervalSince(started))))")
}

/// Writes the text encoder's and the UNet's weights (keys "text_encoder/…" and "unet/…") into a model folder.
func writeTextEncoderAndUNet(_ weights: [String: Tensor], to out: String) throws {
    var text: [String: Tensor] = [:], unet: [String: Tensor] = [:]
    for (k, v) in weights {
        if k.hasPrefix("text_encoder/") { text[String(k.dropFirst(13))] = v } else if k.hasPrefix("unet/") { unet[String(k.dropFirst(5))] = v }
    }
    try SafeTensors.save(text, to: out + "/text_encoder/model.fp16.safetensors", half: true)
    // The UNet row-quantized to 8 bits: 6.9 MB instead of 13.5 in half precision, with the same measured
    // images (docs/builtin-model.md); an older half-precision file is replaced, not left beside it.
    try SafeTensors.save(unet, to: out + "/unet/diffusion_pytorch_model.int8.safetensors", int8: true)
    try? FileManager.default.removeItem(atPath: out + "/unet/diffusion_pytorch_model.fp16.safetensors")
}

/// `dream-train export`: the EMA weights of the UNet stage's latest checkpoint into a model folder that
/// already holds the rest (a running or stopped training can be tried out without disturbing it).
func exportCheckpoint(work: String, out: String) throws {
    let path = work + "/unet-checkpoint.safetensors"
    let f = try SafeTensorsFile(path: path)
    guard FileManager.default.fileExists(atPath: out + "/model_index.json") else {
        throw FileError(out, "not a model folder (no model_index.json); train once with --out \(out) or copy the built-in model there")
    }
    let weights = Dictionary(uniqueKeysWithValues: try f.all().compactMap { k, v in k.hasPrefix("ema/") ? (String(k.dropFirst(4)), v) : nil })
    guard !weights.isEmpty else { throw FileError(path, "no EMA weights in the checkpoint") }
    try writeTextEncoderAndUNet(weights, to: out)
    print("exported the EMA weights of step \(f.metadata["step"] ?? "?") to \(out)")
}
