import Foundation
import DreamTensor
import DreamIO
import DreamWorld

/// What `Evaluator.evaluate` measures: named figures in report order, and the share of each mode.
public struct Evaluation {
    public var metrics: [(String, Double)]
    /// For each of the concept's modes, the share of the in-concept images in it.
    public var modes: [Double]
    /// `tv` attribute by attribute, in `Attribute.allCases` order.
    public var tvByAttribute: [(Attribute, Double)]
    public subscript(_ name: String) -> Double? { metrics.first { $0.0 == name }?.1 }
}

/// The metrics of docs/world.md for generated images against a concept. Feature-space metrics use the
/// oracle's penultimate features against the concept's truth set (2,000 renders with seed 1, rendered
/// once and kept on disk in `cacheFolder`); the exact measures use the oracle's labels.
public final class Evaluator {
    public let oracle: Oracle
    /// Where truth-set features are kept between processes (nil: in memory only).
    public let cacheFolder: String?
    /// Names the oracle's weights in the cache's file names, so new weights never read old features.
    let oracleIdentity: String
    var truth: [String: (features: Tensor, radii: [Double])] = [:]
    public static let truthCount = 2000
    /// Truth subsets the size of the generated set that coverage and density are averaged over.
    public static let coverageSubsets = 5

    public init(oracle: Oracle, identity: String = "", cacheFolder: String? = nil) {
        self.oracle = oracle; self.oracleIdentity = identity; self.cacheFolder = cacheFolder
    }

    /// Names of the metrics, in report order (then `modes`, a list).
    public static let metricNames = ["in_concept", "fid", "density", "coverage", "precision", "recall", "diversity", "ref_distance",
                                     "tv", "tv_refs", "combinations", "novel", "entropy"]

    static func key(_ c: Concept) -> String {
        c.modes.map { m in
            Attribute.allCases.compactMap { a in m[a].map { "\(a.rawValue)=\($0.sorted().joined(separator: "|"))" } }.joined(separator: ";")
        }.joined(separator: "/")
    }

    /// FNV-1a 64 of bytes, as hex (cache file names, the oracle's identity).
    public static func hash<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var h = FNV1a()
        h.add(bytes)
        return h.hex
    }

    /// Oracle features of the concept's truth set [2000, D] and their k = 5 neighbour radii: from memory,
    /// else from the cache folder, else rendered (with a progress bar) and written there atomically.
    public func truthFeatures(_ c: Concept) throws -> (features: Tensor, radii: [Double]) {
        let k = Evaluator.key(c)
        if let t = truth[k] { return t }
        let file = cacheFolder.map { "\($0)/truth-\(Evaluator.hash("\(oracleIdentity)|\(Evaluator.truthCount)|\(k)".utf8)).safetensors" }
        var features: Tensor? = nil
        if let f = file, FileManager.default.fileExists(atPath: f),
           let t = try? SafeTensorsFile(path: f).tensor("features"), t.shape == [Evaluator.truthCount, Oracle.featureWidth] {
            features = t.copy()
        }
        if features == nil {
            let scenes = try World.scenes(n: Evaluator.truthCount, seed: 1, concept: c)
            let progress = Job.progress("truth set", total: scenes.count)
            defer { progress.finish() }
            var parts: [Tensor] = []
            for start in stride(from: 0, to: scenes.count, by: 100) {
                try Job.checkCancelled()
                let chunk = Array(scenes[start..<min(start + 100, scenes.count)])
                parts.append(try oracle.features(Renderer.render(chunk, size: Oracle.resolution)))
                progress.update(start + chunk.count, note: "")
            }
            features = try concatenate(parts, axis: 0)
            if let f = file {
                // A cache that cannot be written is only slower next time.
                try? FileManager.default.createDirectory(atPath: (f as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
                try? SafeTensors.save(["features": features!], metadata: ["concept": k], to: f)
            }
        }
        let t = (features!, try Metrics.kthNeighbourRadii(Metrics.Points(features!), k: 5))
        truth[k] = t
        return t
    }

    /// Every metric for images [N, 3, H, W] in [0, 1] (N > 5 for the k = 5 neighbourhoods) against a
    /// concept, with its reference images (for `ref_distance`, `tv_refs` and `novel`).
    public func evaluate(_ images: Tensor, concept c: Concept, references: Tensor) throws -> Evaluation {
        guard images.rank == 4, images.shape[1] == 3 else { throw TensorError("evaluate: images must be a batch [N, 3, H, W], got \(shapeString(images.shape))") }
        guard images.shape[0] > 5 else { throw TensorError("evaluate: needs more than 5 images (k = 5 neighbourhoods), got \(images.shape[0])") }
        guard references.rank == 4, references.shape[1] == 3, references.shape[0] > 0 else {
            throw TensorError("evaluate: references must be a batch [N, 3, H, W], got \(shapeString(references.shape))")
        }
        try Memory.check(Double(images.shape[0]) * Oracle.memoryPerImage, for: "evaluate: \(images.shape[0]) images")
        let (truthF, radii) = try truthFeatures(c)
        let features = try oracle.features(images)
        let probs = try oracle.probabilities(images)
        let labels = Oracle.labels(probs, count: images.shape[0]), refLabels = try oracle.predict(references)
        let n = images.shape[0]
        // diversity: entropy of the set's mean predicted distribution over each free attribute, ÷ log(values).
        let free = c.free
        var entropy = 0.0
        for a in free {
            let m = a.values.count, p = probs[a]!.pointer
            var h = 0.0
            for v in 0..<m {
                var q = 0.0
                for i in 0..<n { q += Double(p[i * m + v]) }
                q /= Double(n)
                if q > 0 { h -= q * Foundation.log(q) }
            }
            entropy += h / Foundation.log(Double(m))
        }
        let (precision, recall) = try Metrics.precisionRecall(real: truthF, fake: features, realRadii: radii)
        let (density, coverage) = try subsetDensityCoverage(truthF, features)
        return Evaluation(metrics: [
            ("in_concept", Double(ExactMeasures.inConcept(labels, c).count) / Double(n)),
            ("fid", try Metrics.frechetDistance(features, truthF)),
            ("density", density), ("coverage", coverage), ("precision", precision), ("recall", recall),
            ("diversity", free.isEmpty ? 0 : entropy / Double(free.count)),
            ("ref_distance", try Metrics.meanNearestDistance(features, to: oracle.features(references))),
            ("tv", ExactMeasures.tv(labels, concept: c)),
            ("tv_refs", ExactMeasures.tv(labels, references: refLabels)),
            ("combinations", ExactMeasures.combinations(labels, concept: c)),
            ("novel", ExactMeasures.novel(labels, concept: c, references: refLabels)),
            ("entropy", ExactMeasures.entropy(labels)),
        ], modes: ExactMeasures.modes(labels, concept: c), tvByAttribute: ExactMeasures.tvByAttribute(labels, concept: c))
    }

    /// Density and coverage against truth subsets of the generated set's size (a fixed random subset
    /// each, mean over `coverageSubsets`), so that the truth scores ≈ 0.97 against itself whatever N is.
    func subsetDensityCoverage(_ truthF: Tensor, _ features: Tensor) throws -> (Double, Double) {
        let total = truthF.shape[0], n = features.shape[0]
        guard n < total else { return try Metrics.densityCoverage(real: truthF, fake: features) }
        var d = 0.0, c = 0.0
        for j in 0..<Evaluator.coverageSubsets {
            // A seeded partial Fisher–Yates shuffle: the first n of a permutation of the truth set.
            var rng = RandomGenerator(seed: Seeds.stream(0, .truthSubsets, index: j))
            var order = Array(0..<total)
            for i in 0..<n { order.swapAt(i, i + rng.int(below: total - i)) }
            let subset = try concatenate(order[0..<n].sorted().map { try truthF.sliced(axis: 0, start: $0, end: $0 + 1) }, axis: 0)
            let (dj, cj) = try Metrics.densityCoverage(real: subset, fake: features)
            d += dj; c += cj
        }
        return (d / Double(Evaluator.coverageSubsets), c / Double(Evaluator.coverageSubsets))
    }
}
