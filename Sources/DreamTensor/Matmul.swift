import COpenBLAS

/// C = alpha op(A) op(B) + beta C, row-major, through OpenBLAS. OpenBLAS itself runs single-threaded
/// (see `Engine`); large products are split into blocks of a fixed size — 256 columns (or rows) — that our
/// threads share. The blocks do not depend on the thread count, so every element is computed by the same
/// OpenBLAS call whatever the number of threads: results are bit-identical at 1 thread and at 64.
@inline(__always)
func gemm(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
          a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
          beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int, parallel: Bool = true) {
    // The same blocks run on this thread alone when the caller already parallelises (`parallel` false).
    func blocks(_ count: Int, _ body: (Range<Int>) -> Void) { if parallel { parallelFor(count, perWorker: 1, body) } else { body(0..<count) } }
    let work = Double(m) * Double(n) * Double(k)
    let block = 256
    if work < 4e6 || max(m, n) <= block {
        gemm1(transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        return
    }
    if n >= m {
        // Column blocks: C[:, j0..<j1] = op(A) op(B)[:, j0..<j1].
        let parts = (n + block - 1) / block
        blocks(parts) { r in
            for p in r {
                let j0 = p * block, j1 = Swift.min(n, j0 + block)
                let bOff = transB ? j0 * ldb : j0
                gemm1(transA: transA, transB: transB, m: m, n: j1 - j0, k: k, alpha: alpha, a: a, lda: lda,
                      b: b + bOff, ldb: ldb, beta: beta, c: c + j0, ldc: ldc)
            }
        }
    } else {
        let parts = (m + block - 1) / block
        blocks(parts) { r in
            for p in r {
                let i0 = p * block, i1 = Swift.min(m, i0 + block)
                let aOff = transA ? i0 : i0 * lda
                gemm1(transA: transA, transB: transB, m: i1 - i0, n: n, k: k, alpha: alpha, a: a + aOff, lda: lda,
                      b: b, ldb: ldb, beta: beta, c: c + i0 * ldc, ldc: ldc)
            }
        }
    }
}

/// Positional form with the choice made by a flag: blocks split across workers (`split`) or all on this thread.
func gemm(split: Bool, _ ta: Bool, _ tb: Bool, _ m: Int, _ n: Int, _ k: Int, _ a: UnsafePointer<Float>, _ lda: Int,
          _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
    gemm(transA: ta, transB: tb, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc, parallel: split)
}

/// One single-threaded OpenBLAS call.
@inline(__always)
func gemm1(transA: Bool = false, transB: Bool = false, m: Int, n: Int, k: Int, alpha: Float = 1,
          a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
          beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        for i in 0..<m {
            let row = c + i * ldc
            for j in 0..<n { row[j] = beta == 0 ? 0 : beta * row[j] }
        }
        return
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
}

extension Tensor {
    /// Matrix product with NumPy semantics: 1-D operands are vectors, leading dims broadcast.
    public func matmul(_ other: Tensor) throws -> Tensor {
        try require(rank >= 1 && other.rank >= 1, "matmul needs tensors of at least 1 dimension, got \(shapeString(shape)) and \(shapeString(other.shape))")
        // Promote vectors to matrices and drop the extra axis at the end.
        let a = rank == 1 ? try unsqueezed(0) : self
        let b = other.rank == 1 ? try other.unsqueezed(-1) : other
        let (m, k) = (a.shape[a.rank - 2], a.shape[a.rank - 1])
        let (k2, n) = (b.shape[b.rank - 2], b.shape[b.rank - 1])
        try require(k == k2, "matmul: inner dimensions differ: \(shapeString(shape)) @ \(shapeString(other.shape)) (\(k) vs \(k2))")
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        let batch = try broadcastShapes(batchA, batchB)
        var result: Tensor
        if batchB.isEmpty {
            // [..., M, K] @ [K, N]: one GEMM over all rows.
            let rows = a.count / Swift.max(k, 1)
            let out = Tensor(uninitialized: batch + [m, n])
            gemm(m: rows, n: n, k: k, a: a.pointer, lda: k, b: b.pointer, ldb: n, c: out.pointer, ldc: n)
            result = out
        } else {
            let ea = try a.detached.expand(to: batch + [m, k]), eb = try b.detached.expand(to: batch + [k, n])
            let count = batch.reduce(1, *)
            let out = Tensor(uninitialized: batch + [m, n])
            for i in 0..<count {
                gemm(m: m, n: n, k: k, a: ea.pointer + i * m * k, lda: k, b: eb.pointer + i * k * n, ldb: n,
                     c: out.pointer + i * m * n, ldc: n)
            }
            result = out
        }
        result = result.recorded("matmul", [a, b]) { g, needs in
            [needs[0] ? try g.matmul(b.transposed()).sum(toShape: a.shape) : nil,
             needs[1] ? try a.transposed().matmul(g).sum(toShape: b.shape) : nil]
        }
        if rank == 1 { result = try result.select(axis: -2, index: 0) }
        if other.rank == 1 { result = try result.select(axis: -1, index: 0) }
        return result
    }

    /// x @ wᵀ + bias with PyTorch's Linear layout: w is [out, in], x is [..., in].
    public func linear(_ weight: Tensor, bias: Tensor? = nil) throws -> Tensor {
        try require(weight.rank == 2, "linear: weight must be [out, in], got \(shapeString(weight.shape))")
        let (outF, inF) = (weight.shape[0], weight.shape[1])
        try require(rank >= 1 && shape.last == inF,
                    "linear: input \(shapeString(shape)) does not end in the weight's \(inF) input features")
        if let bias { try require(bias.shape == [outF], "linear: bias must be [\(outF)], got \(shapeString(bias.shape))") }
        let rows = count / Swift.max(inF, 1)
        let out = Tensor(uninitialized: Array(shape.dropLast()) + [outF])
        if let bias {
            for r in 0..<rows { (out.pointer + r * outF).update(from: bias.pointer, count: outF) }
        }
        gemm(transB: true, m: rows, n: outF, k: inF, a: pointer, lda: inF, b: weight.pointer, ldb: inF,
             beta: bias == nil ? 0 : 1, c: out.pointer, ldc: outF)
        let x = self
        var inputs = [x, weight]
        if let bias { inputs.append(bias) }
        return out.recorded("linear", inputs) { g, needs in
            var grads: [Tensor?] = [nil, nil, nil]
            if needs[0] {
                let gx = Tensor(uninitialized: x.shape)
                gemm(m: rows, n: inF, k: outF, a: g.pointer, lda: outF, b: weight.pointer, ldb: inF, c: gx.pointer, ldc: inF)
                grads[0] = gx
            }
            if needs[1] {
                let gw = Tensor(uninitialized: weight.shape)
                gemm(transA: true, m: outF, n: inF, k: rows, a: g.pointer, lda: outF, b: x.pointer, ldb: inF, c: gw.pointer, ldc: inF)
                grads[1] = gw
            }
            if needs.count > 2 && needs[2] { grads[2] = try g.reshaped([rows, outF]).sum(axis: 0) }
            return Array(grads.prefix(needs.count))
        }
    }
}
