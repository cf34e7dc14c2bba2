import Foundation

extension Tensor {
    /// Rows of `table` [V, D] picked by integer `ids` (any shape), giving ids.shape + [D].
    public static func embedding(_ table: Tensor, ids: [Int], shape idShape: [Int]) throws -> Tensor {
        try require(table.rank == 2, "embedding: table must be [V, D], got \(shapeString(table.shape))")
        try require(idShape.reduce(1, *) == ids.count, "embedding: \(ids.count) ids do not fill shape \(shapeString(idShape))")
        let (v, d) = (table.shape[0], table.shape[1])
        for id in ids where id < 0 || id >= v {
            throw TensorError("embedding: id \(id) is outside the table's \(v) rows")
        }
        let out = Tensor(uninitialized: idShape + [d])
        let pt = table.pointer, po = out.pointer
        parallelFor(ids.count, grain: 64) { r in
            for i in r { (po + i * d).update(from: pt + ids[i] * d, count: d) }
        }
        return out.recorded("embedding", [table]) { g, _ in
            let gt = Tensor(zeros: table.shape)
            let pg = g.pointer, pgt = gt.pointer
            for (i, id) in ids.enumerated() {   // serial: repeated ids accumulate in a fixed order
                let dst = pgt + id * d, src = pg + i * d
                for j in 0..<d { dst[j] += src[j] }
            }
            return [gt]
        }
    }

    /// Sinusoidal timestep embedding [N, dim] of timesteps [N], as diffusers' get_timestep_embedding
    /// (Stable Diffusion: flipSinToCos true, downscaleFreqShift 0).
    public static func timestepEmbedding(_ timesteps: [Float], dim: Int, flipSinToCos: Bool = true,
                                         downscaleFreqShift: Float = 1, scale: Float = 1,
                                         maxPeriod: Float = 10000) throws -> Tensor {
        try require(dim >= 2, "timestep embedding needs dim ≥ 2, got \(dim)")
        let half = dim / 2
        let freqs = (0..<half).map { i -> Float in
            Foundation.exp(-Foundation.log(maxPeriod) * Float(i) / (Float(half) - downscaleFreqShift))
        }
        let out = Tensor(zeros: [timesteps.count, dim])
        for (n, t) in timesteps.enumerated() {
            let row = out.pointer + n * dim
            for i in 0..<half {
                let a = scale * (t * freqs[i])
                let (s, c) = (Foundation.sin(a), Foundation.cos(a))
                row[i] = flipSinToCos ? c : s
                row[half + i] = flipSinToCos ? s : c
            }
        }
        return out
    }
}
