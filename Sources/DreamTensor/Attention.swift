import Foundation

/// Rows of the score matrix handled at once: about 1M scores (4 MB) per block whatever the sequence
/// length, so attention over 4096 tokens never builds the full N×N matrix.
func attentionChunk(queries: Int, keys: Int) -> Int {
    Swift.max(1, Swift.min(queries, (1 << 20) / Swift.max(keys, 1)))
}

/// Where one head of one batch element lives inside q, k, v [B, N, D] (heads are column blocks).
struct HeadView {
    let q, k, v, o: UnsafeMutablePointer<Float>
    init(_ q: Tensor, _ k: Tensor, _ v: Tensor, _ o: Tensor, b: Int, h: Int, dh: Int, dvh: Int) {
        let (nq, d, nk, dv) = (q.shape[1], q.shape[2], k.shape[1], v.shape[2])
        self.q = q.pointer + b * nq * d + h * dh
        self.k = k.pointer + b * nk * d + h * dh
        self.v = v.pointer + b * nk * dv + h * dvh
        self.o = o.pointer + b * nq * dv + h * dvh
    }
}

extension Tensor {
    /// Multi-head scaled dot-product attention: q [B, Nq, D], k [B, Nk, D], v [B, Nk, Dv]; D and Dv are
    /// split into `heads` heads and merged back, giving [B, Nq, Dv]. Scores are formed a block of query
    /// rows at a time (memory O(block·Nk), not O(Nq·Nk)); the backward pass recomputes them from the
    /// saved log-sum-exp, flash-attention style. `causal` masks keys after each query (CLIP's text encoder).
    /// Work is split over (batch, head, block) on the engine's threads; every output element is
    /// computed by one task, so results do not depend on the thread count.
    public static func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, heads: Int, causal: Bool = false,
                                 scale: Float? = nil) throws -> Tensor {
        try require(q.rank == 3 && k.rank == 3 && v.rank == 3,
                    "attention: q, k, v must be [B, N, D], got \(shapeString(q.shape)), \(shapeString(k.shape)), \(shapeString(v.shape))")
        let (b, nq, d) = (q.shape[0], q.shape[1], q.shape[2])
        let (nk, dv) = (k.shape[1], v.shape[2])
        try require(k.shape[0] == b && v.shape[0] == b, "attention: batch sizes differ: \(shapeString(q.shape)), \(shapeString(k.shape)), \(shapeString(v.shape))")
        try require(k.shape[2] == d, "attention: q and k widths differ: \(shapeString(q.shape)) vs \(shapeString(k.shape))")
        try require(v.shape[1] == nk, "attention: k and v lengths differ: \(shapeString(k.shape)) vs \(shapeString(v.shape))")
        try require(heads > 0 && d % heads == 0 && dv % heads == 0, "attention: width \(d) (and \(dv)) is not divisible by \(heads) heads")
        try require(nk > 0, "attention: no keys")
        let dh = d / heads, dvh = dv / heads
        let sc = scale ?? 1 / Float(dh).squareRoot()
        let chunk = attentionChunk(queries: nq, keys: nk)
        let blocks = (nq + chunk - 1) / chunk
        let out = Tensor(uninitialized: [b, nq, dv])
        let lse = Tensor(uninitialized: [b, heads, nq])
        parallelFor(b * heads * blocks, perWorker: 1) { tasks in
            let scores = Storage(count: chunk * nk), ps = scores.pointer
            // This head's keys transposed into a contiguous [dh, Nk] block: the score GEMM then streams
            // a plain row-major operand (faster to pack than a strided transposed one when dh is small).
            let keysT = Storage(count: dh * nk), pkT = keysT.pointer
            var keysFor = -1
            var sums = [Float](repeating: 0, count: chunk)
            for task in tasks {
                let bh = task / blocks, i0 = (task % blocks) * chunk, rows = Swift.min(chunk, nq - i0)
                let hv = HeadView(q, k, v, out, b: bh / heads, h: bh % heads, dh: dh, dvh: dvh)
                let lh = lse.pointer + bh * nq
                if keysFor != bh {
                    for j in 0..<nk { for c in 0..<dh { pkT[c * nk + j] = hv.k[j * d + c] } }
                    keysFor = bh
                }
                // Scaled scores S = sc·Q Kᵀ, unnormalised probabilities, O = P V, then each O row / Σ P.
                gemm1(m: rows, n: nk, k: dh, alpha: sc, a: hv.q + i0 * d, lda: d, b: pkT, ldb: nk, c: ps, ldc: nk)
                for i in 0..<rows {
                    let (sum, l) = softmaxRowUnnormalised(ps + i * nk, nk, valid: causal ? Swift.min(nk, i0 + i + 1) : nk)
                    lh[i0 + i] = l
                    sums[i] = 1 / sum
                }
                gemm1(m: rows, n: dvh, k: nk, a: ps, lda: nk, b: hv.v, ldb: dv, c: hv.o + i0 * dv, ldc: dv)
                for i in 0..<rows {
                    let o = hv.o + (i0 + i) * dv, f = sums[i]
                    for j in 0..<dvh { o[j] *= f }
                }
            }
            withExtendedLifetime((scores, keysT)) {}   // used through their pointers only
        }
        return out.recorded("attention", [q, k, v]) { g, needs in
            let gq = Tensor(uninitialized: q.shape), gk = Tensor(uninitialized: k.shape), gv = Tensor(uninitialized: v.shape)
            // One task per (batch, head): it owns that head's slices of dK and dV, accumulated over blocks.
            parallelFor(b * heads, perWorker: 1) { tasks in
                let probs = Storage(count: chunk * nk), dprobs = Storage(count: chunk * nk)
                let pp = probs.pointer, pd = dprobs.pointer
                for bh in tasks {
                    let hv = HeadView(q, k, v, out, b: bh / heads, h: bh % heads, dh: dh, dvh: dvh)
                    let gh = HeadView(gq, gk, gv, g, b: bh / heads, h: bh % heads, dh: dh, dvh: dvh)
                    let lh = lse.pointer + bh * nq
                    for blk in 0..<blocks {
                        let i0 = blk * chunk, rows = Swift.min(chunk, nq - i0), first: Float = blk == 0 ? 0 : 1
                        gemm1(transB: true, m: rows, n: nk, k: dh, alpha: sc, a: hv.q + i0 * d, lda: d, b: hv.k, ldb: d, c: pp, ldc: nk)
                        // dP = dO Vᵀ
                        gemm1(transB: true, m: rows, n: nk, k: dvh, a: gh.o + i0 * dv, lda: dv, b: hv.v, ldb: dv, c: pd, ldc: nk)
                        for i in 0..<rows {
                            let go = gh.o + (i0 + i) * dv, o = hv.o + (i0 + i) * dv
                            // D_i = Σ_j dO_ij O_ij, the softmax backward's row term.
                            var s: Float = 0
                            for j in 0..<dvh { s += go[j] * o[j] }
                            let p = pp + i * nk, dp = pd + i * nk
                            let valid = causal ? Swift.min(nk, i0 + i + 1) : nk
                            let vsc = F8(repeating: sc)
                            _ = expShiftedSum(p, valid, shift: lh[i0 + i])   // P, exactly normalised by the saved log-sum-exp
                            if valid < nk { (p + valid).update(repeating: 0, count: nk - valid) }
                            // dS = P ⊙ (dP − D), with the scale folded in for dQ and dK.
                            let vs = F8(repeating: s)
                            zip8(p, dp, dp, nk) { pv, dpv in pv * (dpv - vs) * vsc }
                        }
                        // dV += Pᵀ dO ; dQ = dS K ; dK += dSᵀ Q
                        gemm1(transA: true, m: nk, n: dvh, k: rows, a: pp, lda: nk, b: gh.o + i0 * dv, ldb: dv, beta: first, c: gh.v, ldc: dv)
                        gemm1(m: rows, n: dh, k: nk, a: pd, lda: nk, b: hv.k, ldb: d, c: gh.q + i0 * d, ldc: d)
                        gemm1(transA: true, m: nk, n: dh, k: rows, a: pd, lda: nk, b: hv.q + i0 * d, ldb: d, beta: first, c: gh.k, ldc: d)
                    }
                }
                withExtendedLifetime((probs, dprobs)) {}   // used through their pointers only
            }
            return [needs[0] ? gq : nil, needs[1] ? gk : nil, needs[2] ? gv : nil]
        }
    }
}
