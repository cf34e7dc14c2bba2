import Foundation
import COpenBLAS
import DreamTensor
import DreamModels
import DreamWorld
import DreamDiffusion
import DreamMethod
import DreamAssets

// Engine benchmarks (scripts/bench). Prints one line per figure; scripts/bench adds PyTorch's.
setvbuf(stdout, nil, _IOLBF, 0)

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Best wall time of `body` over `reps` runs after one warm-up.
func time(reps: Int = 5, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var best = Double.infinity
    for _ in 0..<reps {
        let t0 = now()
        try body()
        best = min(best, now() - t0)
    }
    return best
}

func report(_ name: String, _ value: Double, _ unit: String) {
    print(name.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: "%10.2f ", value) + unit)
}

let args = CommandLine.arguments
let only = args.count > 1 ? Set(args.dropFirst()) : nil
func wants(_ s: String) -> Bool { only == nil || only!.contains(s) }
print("threads: \(ExecutionContext.current.threads)")

if wants("gemm") {
    let n = 1024
    let a = Tensor.randn([n, n], seed: 1), b = Tensor.randn([n, n], seed: 2), c = Tensor(zeros: [n, n])
    let flops = 2.0 * Double(n * n * n)
    // OpenBLAS on its own threads, as a plain program would use it (the engine keeps it single-threaded
    // and splits work itself).
    openblas_set_num_threads(Int32(ExecutionContext.current.threads))
    let tBlas = time(reps: 10) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1, a.pointer, Int32(n),
                    b.pointer, Int32(n), 0, c.pointer, Int32(n))
    }
    openblas_set_num_threads(1)
    report("sgemm 1024^3 (OpenBLAS)", flops / tBlas / 1e9, "GFLOP/s")
    let tEngine = try time(reps: 10) { _ = try withoutGrad { try a.matmul(b) } }
    report("matmul 1024^3 (engine)", flops / tEngine / 1e9, "GFLOP/s")
}

/// A benchmark convolution's operands: x [batch, channels, size, size], 3×3 kernels scaled to keep the outputs
/// near unit size, a bias (the same seeds for every figure).
func convOperands(batch: Int, channels: Int, size: Int) throws -> (x: Tensor, w: Tensor, bias: Tensor) {
    (Tensor.randn([batch, channels, size, size], seed: 1), try Tensor.randn([channels, channels, 3, 3], seed: 2) * 0.05,
     Tensor.randn([channels], seed: 3))
}

/// Seconds for one forward pass, without gradients.
func convForwardTime(_ o: (x: Tensor, w: Tensor, bias: Tensor)) throws -> Double {
    try time { _ = try withoutGrad { try o.x.conv2d(o.w, bias: o.bias, padding: 1) } }
}

func convBench(_ label: String, batch: Int, channels: Int, size: Int) throws {
    let o = try convOperands(batch: batch, channels: channels, size: size)
    let flops = 2.0 * Double(batch * channels * size * size * channels * 9)
    let tf = try convForwardTime(o)
    report("conv2d \(label) forward", flops / tf / 1e9, "GFLOP/s")
    report("conv2d \(label) forward time", tf * 1e3, "ms")
    let xp = o.x.param(), wp = o.w.param(), bp = o.bias.param()
    let y = try xp.conv2d(wp, bias: bp, padding: 1)
    let g = Tensor.randn(y.shape, seed: 4)
    let loss = try (y * g).sum()
    let tb = try time { _ = try gradients(of: loss, wrt: [xp, wp, bp]) }
    // The backward pass above includes the (y * g).sum() node's own backward: subtract it.
    let tMul = try time { _ = try withoutGrad { try g * g } }
    let tBack = tb - tMul
    report("conv2d \(label) backward time", tBack * 1e3, "ms")
    report("conv2d \(label) backward / forward", tBack / tf, "x")
}

func convForwardBench(batch: Int, channels: Int, size: Int) throws {
    let t = try convForwardTime(try convOperands(batch: batch, channels: channels, size: size))
    report("conv2d \(batch)x\(channels)x\(size)x\(size) 3x3 forward time", t * 1e3, "ms")
}

/// The input gradient alone (frozen weights, as when learning prompts), at the built-in UNet's shapes and SD 1.5's.
func convInputGradBench(batch: Int, channels: Int, size: Int) throws {
    let o = try convOperands(batch: batch, channels: channels, size: size)
    let x = o.x.param()
    let y = try x.conv2d(o.w, padding: 1)
    let g = Tensor.randn(y.shape, seed: 4)
    let loss = try (y * g).sum()
    let tb = try time { _ = try gradients(of: loss, wrt: [x]) } - time { _ = try withoutGrad { try g * g } }
    report("conv2d \(batch)x\(channels)x\(size)x\(size) 3x3 input gradient", tb * 1e3, "ms")
}

if wants("conv") {
    try convBench("8x128x32x32 3x3", batch: 8, channels: 128, size: 32)
    try convBench("2x320x32x32 3x3", batch: 2, channels: 320, size: 32)
    // Stable Diffusion 1.5's UNet at 512×512 (64×64 latents): its 3×3 convolutions, forward, at batch 2 (a guided
    // step) and at 16×16 at batch 1 too (where Winograd's weight transform only just pays).
    for (batch, channels, size) in [(2, 320, 64), (2, 640, 32), (2, 1280, 16), (2, 1280, 8), (1, 1280, 16)] {
        try convForwardBench(batch: batch, channels: channels, size: size)
    }
    try convInputGradBench(batch: 16, channels: 128, size: 8)
    try convInputGradBench(batch: 2, channels: 320, size: 64)
    try convInputGradBench(batch: 2, channels: 640, size: 32)
    try convInputGradBench(batch: 16, channels: 64, size: 16)
}

if wants("attention") {
    for n in [1024, 4096] {
        let q = Tensor.randn([1, n, 320], seed: 1), k = Tensor.randn([1, n, 320], seed: 2), v = Tensor.randn([1, n, 320], seed: 3)
        let t = try time(reps: 3) { _ = try withoutGrad { try Tensor.attention(q, k, v, heads: 8) } }
        // A context of its own counts what the call allocates.
        let measured = ExecutionContext()
        _ = try measured.run { try withoutGrad { try Tensor.attention(q, k, v, heads: 8) } }
        let extra = Double(measured.memory!.peakBytes) / 1e6
        report("attention \(n) tokens 8x40 forward", t * 1e3, "ms")
        report("attention \(n) tokens peak extra memory", extra, "MB")
    }
}

/// Peak resident memory of the process so far, in MB (getrusage).
func peakRSS() -> Double {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Double(u.ru_maxrss) / 1024
}

// The full-size SD 1.5 UNet (random weights from scripts/bench-sd15.py make DIR; DIR in DREAM_SD15).
if wants("unet"), let dir = ProcessInfo.processInfo.environment["DREAM_SD15"] {
    let t0 = now()
    let loading = ExecutionContext()
    let unet = try loading.run {
        try UNet(config: Config(path: dir + "/unet/config.json"), weights: WeightStore(files: [dir + "/unet/diffusion_pytorch_model.fp16.safetensors"]))
    }
    report("unet sd15 load", (now() - t0) * 1e3, "ms")
    report("unet sd15 weights in memory", Double(loading.memory!.liveBytes) / 1e6, "MB")
    let weightsRSS = peakRSS()
    for size in [32, 64] {
        let x = Tensor.randn([2, 4, size, size], seed: 1), c = Tensor.randn([2, 77, 768], seed: 2)
        let measured = ExecutionContext()
        let t = try measured.run { try time(reps: 1) { _ = try withoutGrad { try unet(x, timesteps: [500, 500], context: c) } } }
        report("unet sd15 batch 2 \(size)x\(size)", t * 1e3, "ms")
        report("unet sd15 batch 2 \(size)x\(size) peak activations", Double(measured.memory!.peakBytes) / 1e6, "MB")
    }
    // What learning a prompt on it costs per image: the UNet forward and the gradient back to the conditioning
    // (the weights frozen), batch 1 at 64×64.
    do {
        let x = Tensor.randn([1, 4, 64, 64], seed: 1), c = Tensor.randn([1, 77, 768], seed: 2).param()
        let r = Tensor.randn([1, 4, 64, 64], seed: 3)
        let measured = ExecutionContext()
        let t = try measured.run { try time(reps: 1) { _ = try gradients(of: try (unet(x, timesteps: [500], context: c) * r).sum(), wrt: [c]) } }
        report("unet sd15 learning step 64x64", t * 1e3, "ms")
        report("unet sd15 learning step peak activations", Double(measured.memory!.peakBytes) / 1e6, "MB")
    }
    report("unet sd15 peak RSS (process)", peakRSS(), "MB")
    report("unet sd15 RSS after loading", weightsRSS, "MB")
}

// The built-in world's renderer: images per minute at 64×64 (docs/world.md asks for thousands).
if wants("world") {
    let scenes = try World.scenes(n: 500, seed: 1)
    let t = try time(reps: 2) { _ = try Renderer.render(scenes, size: 64) }
    report("world render 64x64", 500 / t * 60, "images/min")
}

// The built-in model: load time, 16 images at the model's default settings, one learning step with
// K = 32 prompts × M = 4 tokens, batch 4, S = 4 samples (issue #6's figure), evaluation of 200 images.
if wants("builtin") {
    let t0 = now()
    let sd = try StableDiffusion(path: Assets.builtinModel)
    report("builtin load", (now() - t0) * 1e3, "ms")
    var o = GenerationOptions()
    o.steps = sd.defaultSteps ?? o.steps; o.cfg = sd.defaultCFG ?? o.cfg; o.batch = 16
    let prompts = try World.scenes(n: 16, seed: 1).map(\.caption)
    let tGen = try time(reps: 1) { _ = try sd.generate(prompts, o) }
    report("builtin generate 16 images, \(o.steps) steps", tGen, "s")
    let refs = try Renderer.render(World.scenes(n: 8, seed: 0, concept: World.concept("cones")!), size: 64)
    let latents = try sd.referenceLatents(refs, size: sd.unet.sampleSize * sd.vae.downscale)
    // One learning step at the model's defaults (its default objective), and at the paper's K 32, S 4.
    var paper = LearningSettings()
    paper.prompts = 32; paper.tokens = 4; paper.batch = 4; paper.samples = 4; paper.objective = .paper
    for var s in [try LearningSettings().applying(sd.learnDefaults), paper] {
        s.steps = 24
        var stamps: [Double] = []
        _ = try sd.learn(latents: latents, s) { _, _ in stamps.append(now()) }
        // The median step: one slow step (another process waking) does not move it.
        let steps = zip(stamps.dropFirst(), stamps).map { $0 - $1 }.sorted()
        report("builtin learning step, objective \(s.objective.rawValue), K\(s.prompts) M\(s.tokens) B\(s.batch) S\(s.samples) (median)", steps[steps.count / 2], "s")
    }
    let e = Evaluator(oracle: try Oracle(path: Assets.oracle))
    let images = try Renderer.render(World.scenes(n: 200, seed: 9, concept: World.concept("cones")!), size: 64)
    let tTruth = now()
    _ = try e.truthFeatures(World.concept("cones")!)
    report("evaluate: truth set (2000 renders, once per concept)", now() - tTruth, "s")
    let tEval = try time(reps: 1) { _ = try e.evaluate(images, concept: World.concept("cones")!, references: refs) }
    report("evaluate 200 images", tEval, "s")
}
