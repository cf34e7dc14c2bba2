import Foundation
import DreamTensor
import DreamModels
import DreamWorld

/// The world's attribute classifier (docs/world.md): a small convolutional network on 64×64 images that
/// predicts every attribute; its penultimate activations are the feature space of the distribution
/// metrics, as Inception's are for FID. Keys follow the module names below.
public final class Oracle {
    /// Input resolution: other sizes are resized first.
    public static let resolution = 64
    /// Bytes evaluating one image needs, for refusing a set that would not fit (measured: about 380 KB per
    /// image with the oracle's activations, its features and the distances to the truth set).
    public static let memoryPerImage = Double(3 * resolution * resolution * 4 * 10)
    /// Width of the feature space.
    public static let featureWidth = 128
    /// The attributes predicted, in the order of the logit blocks.
    public static let attributes = Attribute.allCases

    struct Stage { let conv: Conv2d, norm: GroupNorm }
    let stages: [Stage]
    let fc1: Linear, fc2: Linear, head: Linear

    /// (in, out, stride) of each convolution, then a flattening of the last 4×4 map.
    static let plan: [(Int, Int, Int)] = [(3, 32, 1), (32, 32, 2), (32, 64, 1), (64, 64, 2), (64, 128, 1), (128, 128, 2), (128, 128, 2)]

    public init(weights w: WeightStore) throws {
        stages = Oracle.plan.enumerated().map { i, p in
            Stage(conv: Conv2d(w, "stages.\(i).conv", in: p.0, out: p.1, kernel: 3, stride: p.2, padding: 1),
                  norm: GroupNorm(w, "stages.\(i).norm", groups: 8, channels: p.1, eps: 1e-5))
        }
        fc1 = Linear(w, "fc1", in: 128 * 4 * 4, out: 256)
        fc2 = Linear(w, "fc2", in: 256, out: Oracle.featureWidth)
        head = Linear(w, "head", in: Oracle.featureWidth, out: Oracle.attributes.reduce(0) { $0 + $1.values.count })
        try w.finish(component: "oracle")
    }

    /// Loads the committed oracle weights.
    public convenience init(path: String) throws { try self.init(weights: WeightStore(files: [path])) }

    /// Images [B, 3, H, W] in [0, 1] → (features [B, 128], logits [B, 24]).
    public func forward(_ images: Tensor) throws -> (features: Tensor, logits: Tensor) {
        guard images.rank == 4, images.shape[1] == 3, images.shape[0] > 0 else {
            throw ModelError("oracle: images must be a batch [N, 3, H, W], got \(shapeString(images.shape))")
        }
        var h = images
        if images.shape[2] != Oracle.resolution || images.shape[3] != Oracle.resolution {
            h = try images.resized(height: Oracle.resolution, width: Oracle.resolution)
        }
        h = try h * 2 - 1
        for s in stages { h = try s.norm(s.conv(h)).silu() }
        h = try h.reshaped([h.shape[0], -1])
        let f = try fc2(fc1(h).silu()).silu()
        return (f, try head(f))
    }

    /// Features of many images, in batches, without recording gradients.
    public func features(_ images: Tensor, batch: Int = 256) throws -> Tensor {
        try withoutGrad {
            var parts: [Tensor] = []
            for s in stride(from: 0, to: images.shape[0], by: batch) {
                parts.append(try forward(images.sliced(axis: 0, start: s, end: min(s + batch, images.shape[0]))).features)
            }
            return try concatenate(parts, axis: 0)
        }
    }

    /// Per attribute, the predicted probabilities [B, values] of many images.
    public func probabilities(_ images: Tensor, batch: Int = 256) throws -> [Attribute: Tensor] {
        try withoutGrad {
            var parts: [Tensor] = []
            for s in stride(from: 0, to: images.shape[0], by: batch) {
                parts.append(try forward(images.sliced(axis: 0, start: s, end: min(s + batch, images.shape[0]))).logits)
            }
            let logits = try concatenate(parts, axis: 0)
            var out: [Attribute: Tensor] = [:], o = 0
            for a in Oracle.attributes {
                out[a] = try logits.sliced(axis: 1, start: o, end: o + a.values.count).softmax(axis: 1)
                o += a.values.count
            }
            return out
        }
    }

    /// The most probable value of every attribute, per image.
    public func predict(_ images: Tensor) throws -> [[Attribute: String]] {
        Oracle.labels(try probabilities(images), count: images.shape[0])
    }

    /// The most probable value of every attribute, per image, from `probabilities`' output.
    public static func labels(_ probs: [Attribute: Tensor], count: Int) -> [[Attribute: String]] {
        (0..<count).map { i in
            var d: [Attribute: String] = [:]
            for a in Oracle.attributes {
                let p = probs[a]!, n = a.values.count
                let row = (0..<n).map { p.pointer[i * n + $0] }
                d[a] = a.values[row.indices.max { row[$0] < row[$1] }!]
            }
            return d
        }
    }

    /// The training loss: mean over attributes of the cross-entropy against the scenes' labels.
    public func loss(logits: Tensor, labels: [[Attribute: String]]) throws -> Tensor {
        var total: Tensor? = nil, o = 0
        let b = labels.count
        for a in Oracle.attributes {
            let n = a.values.count
            let z = try logits.sliced(axis: 1, start: o, end: o + n)
            let shift = try z.detached.max(axis: 1).unsqueezed(1)
            let lse = try ((z - shift).exp().sum(axis: 1).log()).unsqueezed(1) + shift
            var onehot = [Float](repeating: 0, count: b * n)
            for (i, l) in labels.enumerated() { onehot[i * n + a.values.firstIndex(of: l[a]!)!] = 1 }
            let nll = try ((lse - z) * Tensor(onehot, shape: [b, n])).sum() / Float(b)
            total = try total.map { try $0 + nll } ?? nll
            o += n
        }
        return try total! / Float(Oracle.attributes.count)
    }
}
