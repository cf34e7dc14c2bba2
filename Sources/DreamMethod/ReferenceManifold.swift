import Foundation
import DreamTensor
import DreamModels

/// Where the references lie in the model's latent space, coarsely: each reference latent averaged over a
/// 4 × 4 grid of cells per channel, and a radius, the largest distance from a reference to its k-th nearest
/// other reference (k = 3, as in the manifold of Kynkäänniemi et al. 2019, made with one radius for all; k = 1
/// held only half of the true images of a concept whose references lie close together: docs/experiments.md,
/// session 25). A drawn image
/// whose latent is farther than the radius from every reference shows something none of them shows; on the
/// built-in world such an image almost always breaks what every reference has in common (the background),
/// which the prompts alone carry too weakly (docs/experiments.md). Sampling can redraw those images.
public struct ReferenceManifold {
    /// Cells per side of the pooling grid.
    public static let cells = 4
    /// The radius is the distance to the k-th nearest other reference (fewer references: the farthest other).
    public static let neighbours = 3
    /// The pooled references [N, C · cells²].
    public let features: Tensor
    public let radius: Float

    public init(features: Tensor, radius: Float) { self.features = features; self.radius = radius }

    /// The manifold of reference latents [N, C, h, w]; nil for fewer than two references (no radius) or
    /// latents smaller than the grid.
    public init?(latents: Tensor) throws {
        guard latents.rank == 4, latents.shape[0] >= 2, latents.shape[2] >= Self.cells, latents.shape[3] >= Self.cells else { return nil }
        let f = try Self.pooled(latents)
        features = f
        radius = Float(try Metrics.kthNeighbourRadii(Metrics.Points(f), k: min(Self.neighbours, latents.shape[0] - 1)).max()!)
    }

    /// Latents [N, C, h, w] averaged over a cells × cells grid ([N, C · cells²]); cell i of a side of length L
    /// covers positions ⌊iL / cells⌋ ..< ⌊(i + 1)L / cells⌋.
    public static func pooled(_ latents: Tensor) throws -> Tensor {
        try require(latents.rank == 4 && latents.shape[2] >= cells && latents.shape[3] >= cells,
                    "a reference manifold needs latents [N, C, h, w] with h, w ≥ \(cells), got \(shapeString(latents.shape))")
        let (n, c, h, w) = (latents.shape[0], latents.shape[1], latents.shape[2], latents.shape[3])
        let x = latents.scalars
        var out = [Float](repeating: 0, count: n * c * cells * cells)
        for i in 0..<n {
            for ch in 0..<c {
                let base = (i * c + ch) * h * w
                for cy in 0..<cells {
                    let (y0, y1) = (cy * h / cells, (cy + 1) * h / cells)
                    for cx in 0..<cells {
                        let (x0, x1) = (cx * w / cells, (cx + 1) * w / cells)
                        var s: Double = 0
                        for y in y0..<y1 { for xx in x0..<x1 { s += Double(x[base + y * w + xx]) } }
                        out[((i * c + ch) * cells + cy) * cells + cx] = Float(s / Double((y1 - y0) * (x1 - x0)))
                    }
                }
            }
        }
        return try Tensor(out, shape: [n, c * cells * cells])
    }

    /// For latents [n, C, h, w], each one's distance to the nearest reference.
    public func nearest(_ latents: Tensor) throws -> [Float] {
        let d = Metrics.distances(try Metrics.Points(try Self.pooled(latents)), try Metrics.Points(features))
        let r = features.shape[0]
        return (0..<latents.shape[0]).map { i in Float(d[(i * r)..<(i * r + r)].min()!) }
    }

    /// Several distributions' references together (a mix): every reference, the largest radius.
    public static func union(_ parts: [ReferenceManifold]) throws -> ReferenceManifold? {
        guard let first = parts.first else { return nil }
        try require(parts.allSatisfy { $0.features.shape[1] == first.features.shape[1] }, "the references' latents differ in channels")
        return ReferenceManifold(features: try concatenate(parts.map(\.features), axis: 0), radius: parts.map(\.radius).max()!)
    }
}
