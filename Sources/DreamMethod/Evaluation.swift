import Foundation
import DreamTensor
import DreamWorld

/// The metrics of WORLD.md for generated images against a concept, in the oracle's feature space: the
/// truth set is 2,000 renders of the concept with seed 1, the references its 8 renders with seed 0.
public final class Evaluator {
    public let oracle: Oracle
    var truth: [String: (features: Tensor, references: Tensor, radii: [Double])] = [:]
    public static let truthCount = 2000

    public init(oracle: Oracle) { self.oracle = oracle }

    /// Names of the metrics, in report order.
    public static let metricNames = ["in_concept", "fid", "density", "coverage", "precision", "recall", "diversity", "ref_distance"]

    static func key(_ c: Constraints) -> String {
        Attribute.allCases.compactMap { a in c[a].map { "\(a.rawValue)=\($0.sorted().joined(separator: "|"))" } }.joined(separator: ";")
    }

    /// Oracle features of the concept's truth set and of its references (computed once per concept).
    public func truthFeatures(_ c: Constraints) throws -> (features: Tensor, references: Tensor, radii: [Double]) {
        let k = Evaluator.key(c)
        if let t = truth[k] { return t }
        let all = try Renderer.render(World.scenes(n: Evaluator.truthCount, seed: 1, constraints: c), size: Oracle.resolution)
        let refs = try Renderer.render(World.scenes(n: 8, seed: 0, constraints: c), size: Oracle.resolution)
        let features = try oracle.features(all)
        let t = (features, try oracle.features(refs), try Metrics.kthNeighbourRadii(Metrics.Points(features), k: 5))
        truth[k] = t
        return t
    }

    /// Every metric for images [N, 3, H, W] in [0, 1] (N > 5 for the k = 5 neighbourhoods).
    public func evaluate(_ images: Tensor, constraints c: Constraints) throws -> [(String, Double)] {
        try World.validate(c)
        guard images.rank == 4, images.shape[1] == 3 else { throw TensorError("evaluate: images must be a batch [N, 3, H, W], got \(shapeString(images.shape))") }
        guard images.shape[0] > 5 else { throw TensorError("evaluate: needs more than 5 images (k = 5 neighbourhoods), got \(images.shape[0])") }
        let (truthF, refF, radii) = try truthFeatures(c)
        let features = try oracle.features(images)
        let probs = try oracle.probabilities(images)
        let n = images.shape[0]
        // in_concept: the most probable value of every constrained attribute is an allowed one.
        var inside = 0
        for i in 0..<n {
            var ok = true
            for (a, allowed) in c {
                let m = a.values.count, p = probs[a]!.pointer + i * m
                let best = (0..<m).max { p[$0] < p[$1] }!
                if !allowed.contains(a.values[best]) { ok = false; break }
            }
            if ok { inside += 1 }
        }
        // diversity: entropy of the set's mean predicted distribution over each free attribute, ÷ log(values).
        let free = Attribute.allCases.filter { c[$0] == nil }
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
        let (density, coverage) = try Metrics.densityCoverage(real: truthF, fake: features, realRadii: radii)
        return [
            ("in_concept", Double(inside) / Double(n)),
            ("fid", try Metrics.frechetDistance(features, truthF)),
            ("density", density), ("coverage", coverage), ("precision", precision), ("recall", recall),
            ("diversity", free.isEmpty ? 0 : entropy / Double(free.count)),
            ("ref_distance", try Metrics.meanNearestDistance(features, to: refF)),
        ]
    }
}
