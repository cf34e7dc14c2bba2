import Foundation
import DreamTensor
import DreamIO
import DreamModels
import DreamWorld
import DreamMethod

/// Settings of `dream-train oracle`.
struct OracleSettings {
    var work = ".build/train-oracle"
    var out = "Sources/DreamAssets/oracle.safetensors"
    /// The built-in model whose VAE gives the round-trip augmentation.
    var builtin = "Sources/DreamAssets/builtin"
    var seed: UInt64 = 0
    var images = 24000, steps = 3000, batch = 64
    /// Extra renders of the case the material errors come from (docs/builtin-model.md): this many white
    /// objects on any background and as many objects of any colour on the dark background. The labels stay
    /// exact; only the share of these scenes grows (from about 1/8 and 1/3 of the renders).
    var hard = 4000
    /// How many of the training images also have a VAE round trip (the VAE costs about 3 GFLOP an image).
    var roundTrips = 5000
    var lr: Float = 2e-3
    var logEvery = 25, saveEvery = 250
}

/// The oracle: cross-entropy on every attribute over a fixed set of renders, then accuracy on 2,000 fresh
/// renders. Its penultimate features are the metrics' space, so they must describe what an image shows,
/// not how sharp it is: generated images are never pixel-exact renders. Training therefore sees each
/// render as it is or after the built-in VAE's round trip (half of each batch, from the first
/// `roundTrips` images), softened by a random
/// down-and-up resize (half of the time), with light pixel noise. Labels stay exact: every augmentation
/// keeps the scene's content.
func trainOracle(_ s: OracleSettings) throws {
    try FileManager.default.createDirectory(atPath: s.work, withIntermediateDirectories: true)
    installStopHandler()
    let store = WeightStore(initializing: s.seed &+ 7, source: "oracle (new)")
    let oracle = try Oracle(weights: store)
    let run = Run(name: "oracle", work: s.work, params: store.parameters, weightDecay: 1e-4)
    if try run.resume() { print("oracle: resumed at step \(run.step)") }
    print("oracle: \(run.parameterCount) parameters; rendering \(s.images + 2 * s.hard) training images (\(2 * s.hard) of white objects or dark backgrounds)")
    let scenes = try World.scenes(n: s.images, seed: Seeds.trainingStep(s.seed, stream: 10, step: 0))
        + World.scenes(n: s.hard, seed: Seeds.trainingStep(s.seed, stream: 13, step: 0), constraints: [.color: ["white"]])
        + World.scenes(n: s.hard, seed: Seeds.trainingStep(s.seed, stream: 14, step: 0), constraints: [.background: ["dark"]])
    let data = try Renderer.render(scenes, size: Oracle.resolution)
    let labels = scenes.map(\.attributes)
    let trips = min(s.roundTrips, s.images)
    print("oracle: round trips of \(trips) of them through the VAE of \(s.builtin)")
    let vae = try StableDiffusion(path: s.builtin).vae
    let roundTrip = try stride(from: 0, to: trips, by: 64).map { b in
        try withoutGrad {
            let x = try data.sliced(axis: 0, start: b, end: min(b + 64, trips))
            return try ((vae.decode(vae.encodeMean(x * 2 - 1)) + 1) * 0.5).clamp(min: 0, max: 1)
        }
    }
    while run.step < s.steps && !stopRequested() {
        var rng = RandomGenerator(seed: Seeds.trainingStep(s.seed, stream: 11, step: run.step))
        // Even slots: plain renders from all images; odd slots: round trips.
        let idx = (0..<s.batch).map { j in rng.int(below: j % 2 == 0 || trips == 0 ? scenes.count : trips) }
        let batch = try concatenate(idx.enumerated().map { j, i -> Tensor in
            var x = try j % 2 == 0 || trips == 0 ? data.sliced(axis: 0, start: i, end: i + 1)
                : roundTrip[i / 64].sliced(axis: 0, start: i % 64, end: i % 64 + 1)
            if rng.double() < 0.5 {
                let side = 20 + rng.int(below: 37)   // 20…56 pixels, then back to 64
                x = try x.resized(height: side, width: side).resized(height: Oracle.resolution, width: Oracle.resolution)
            }
            return x
        }, axis: 0)
        let noisy = try batch + rng.normal(batch.shape) * Float(0.04 * rng.double())
        let (_, logits) = try oracle.forward(noisy)
        let loss = try oracle.loss(logits: logits, labels: idx.map { labels[$0] })
        try run.update(loss, lr: Run.schedule(run.step, of: s.steps, base: s.lr, warmup: 50))
        try run.finished(loss: loss.item, images: s.batch, total: s.steps, logEvery: s.logEvery, saveEvery: s.saveEvery)
    }
    try run.stopIfRequested()
    try SafeTensors.save(run.finalWeights, metadata: ["format": "dream-oracle", "version": "1"], to: s.out, half: true)
    print("oracle written to \(s.out)")
    try checkOracle(path: s.out, seed: s.seed)
}

/// Accuracy per attribute on 2,000 fresh renders (a seed stream the training never used).
@discardableResult
func checkOracle(path: String, seed: UInt64) throws -> [Attribute: Double] {
    let oracle = try Oracle(path: path)
    let scenes = try World.scenes(n: 2000, seed: Seeds.trainingStep(seed, stream: 12, step: 0))
    let predicted = try oracle.predict(Renderer.render(scenes, size: Oracle.resolution))
    var acc: [Attribute: Double] = [:]
    for a in Attribute.allCases {
        acc[a] = Double(zip(scenes, predicted).filter { $0[a] == $1[a] }.count) / Double(scenes.count)
        print(String(format: "oracle accuracy %-10@ %.2f%%", a.rawValue, 100 * acc[a]!))
    }
    return acc
}

/// Diagnostic for the oracle's material errors (docs/builtin-model.md): are they in its features or in its
/// head? A material head of its own — logistic regression on the oracle's 128 features, trained on `images`
/// fresh renders (a stream neither the oracle nor the check used) — against the shipped head, on the streams
/// of scripts/oracle-accuracy.dream (2,000 renders each). Plain renders only: a diagnostic, not a new oracle.
func materialHeadDiagnostic(path: String, images: Int, steps: Int) throws {
    let oracle = try Oracle(path: path)
    let values = Attribute.material.values
    func featuresAndLabels(_ n: Int, seed: UInt64) throws -> (Tensor, [Int], [[Attribute: String]]) {
        let scenes = try World.scenes(n: n, seed: seed)
        var parts: [Tensor] = [], predicted: [[Attribute: String]] = []
        for s in stride(from: 0, to: n, by: 1000) {
            let x = try Renderer.render(Array(scenes[s..<min(s + 1000, n)]), size: Oracle.resolution)
            parts.append(try oracle.features(x))
            predicted += try oracle.predict(x)
        }
        return (try concatenate(parts, axis: 0), scenes.map { values.firstIndex(of: $0[.material])! }, predicted)
    }
    let (f, y, _) = try featuresAndLabels(images, seed: 9001)
    let w = Tensor(zeros: [Oracle.featureWidth, values.count]).param(), b = Tensor(zeros: [values.count]).param()
    let opt = AdamW([w, b], lr: 1e-2, weightDecay: 0)
    var onehot = [Float](repeating: 0, count: images * values.count)
    for (i, l) in y.enumerated() { onehot[i * values.count + l] = 1 }
    let target = try Tensor(onehot, shape: [images, values.count])
    for step in 0..<steps {
        let z = try f.matmul(w) + b
        let shift = try z.detached.max(axis: 1).unsqueezed(1)
        let lse = try ((z - shift).exp().sum(axis: 1).log()).unsqueezed(1) + shift
        let loss = try ((lse - z) * target).sum() / Float(images)
        try opt.update(try gradients(of: loss, wrt: [w, b]))
        if (step + 1) % 100 == 0 { print(String(format: "material head: step %d, loss %.4f", step + 1, try loss.item)) }
    }
    print("| stream | shipped head | a head of its own |")
    print("| --- | --- | --- |")
    for seed: UInt64 in [101, 102, 103] {
        let (g, truth, predicted) = try featuresAndLabels(2000, seed: seed)
        let z = try withoutGrad { try g.matmul(w) + b }
        var shipped = 0, own = 0
        for i in 0..<2000 {
            if predicted[i][.material] == values[truth[i]] { shipped += 1 }
            let row = (0..<values.count).map { z.pointer[i * values.count + $0] }
            if row.firstIndex(of: row.max()!)! == truth[i] { own += 1 }
        }
        print(String(format: "| %d | %.2f%% | %.2f%% |", seed, Double(shipped) / 20, Double(own) / 20))
    }
}
