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
    var seed: UInt64 = 0
    var images = 24000, steps = 2000, batch = 64
    var lr: Float = 2e-3
    var logEvery = 25, saveEvery = 250
}

/// The oracle: cross-entropy on every attribute over a fixed set of renders (with light pixel noise, so it
/// does not depend on exact render statistics), then accuracy on 2,000 fresh renders.
func trainOracle(_ s: OracleSettings) throws {
    try FileManager.default.createDirectory(atPath: s.work, withIntermediateDirectories: true)
    installStopHandler()
    let store = WeightStore(initializing: s.seed &+ 7, source: "oracle (new)")
    let oracle = try Oracle(weights: store)
    let run = Run(name: "oracle", work: s.work, params: store.parameters, weightDecay: 1e-4)
    if try run.resume() { print("oracle: resumed at step \(run.step)") }
    print("oracle: \(run.parameterCount) parameters; rendering \(s.images) training images")
    let scenes = try World.scenes(n: s.images, seed: stepSeed(s.seed, 10, 0))
    let data = try Renderer.render(scenes, size: Oracle.resolution)
    let labels = scenes.map(\.attributes)
    while run.step < s.steps && stopRequested == 0 {
        var rng = RandomGenerator(seed: stepSeed(s.seed, 11, run.step))
        let idx = (0..<s.batch).map { _ in rng.int(below: s.images) }
        let batch = try concatenate(idx.map { try data.sliced(axis: 0, start: $0, end: $0 + 1) }, axis: 0)
        let noisy = try batch + rng.normal(batch.shape) * Float(0.03 * rng.double())
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
    let scenes = try World.scenes(n: 2000, seed: stepSeed(seed, 12, 0))
    let predicted = try oracle.predict(Renderer.render(scenes, size: Oracle.resolution))
    var acc: [Attribute: Double] = [:]
    for a in Attribute.allCases {
        acc[a] = Double(zip(scenes, predicted).filter { $0[a] == $1[a] }.count) / Double(scenes.count)
        print(String(format: "oracle accuracy %-10@ %.2f%%", a.rawValue, 100 * acc[a]!))
    }
    return acc
}
