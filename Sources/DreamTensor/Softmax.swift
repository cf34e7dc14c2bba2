import Foundation

/// Largest of `n` floats (8 lanes at a time).
@inline(__always) func rowMax(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var m8 = F8(repeating: -.infinity)
    var i = 0
    while i + 8 <= n {
        let v = UnsafeRawPointer(p + i).loadUnaligned(as: F8.self)
        m8.replace(with: v, where: v .> m8)
        i += 8
    }
    var m = m8.max()
    while i < n { m = Swift.max(m, p[i]); i += 1 }
    return m
}

/// p[i] = exp(p[i] − shift) for i < n, returning the sum; one pass, no closures (so exp8 inlines).
@inline(__always) func expShiftedSum(_ p: UnsafeMutablePointer<Float>, _ n: Int, shift: Float) -> Float {
    let vs = F8(repeating: shift)
    var acc = F8(repeating: 0)
    var i = 0
    while i + 8 <= n {
        let e = exp8(UnsafeRawPointer(p + i).loadUnaligned(as: F8.self) - vs)
        UnsafeMutableRawPointer(p + i).storeBytes(of: e, as: F8.self)
        acc += e
        i += 8
    }
    var s = acc.sum()
    while i < n { p[i] = Foundation.exp(p[i] - shift); s += p[i]; i += 1 }
    return s
}

/// Unnormalised softmax of one row in place: p = exp(p − max) over the first `valid` entries and 0
/// after them (causal masking). Returns (Σ exp, log Σ exp + max); callers divide by the sum where it is
/// cheapest (attention scales its output rows, not the probabilities).
@inline(__always)
func softmaxRowUnnormalised(_ p: UnsafeMutablePointer<Float>, _ n: Int, valid: Int) -> (sum: Float, lse: Float) {
    let mx = rowMax(p, valid)
    let s = expShiftedSum(p, valid, shift: mx)
    if valid < n { (p + valid).update(repeating: 0, count: n - valid) }
    return (s, mx + Foundation.log(s))
}

/// In-place softmax of one contiguous row of `n` values.
@inline(__always) func softmaxRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) {
    let (s, _) = softmaxRowUnnormalised(p, n, valid: n)
    let vi = F8(repeating: 1 / s)
    var i = 0
    while i + 8 <= n {
        UnsafeMutableRawPointer(p + i).storeBytes(of: UnsafeRawPointer(p + i).loadUnaligned(as: F8.self) * vi, as: F8.self)
        i += 8
    }
    while i < n { p[i] /= s; i += 1 }
}

extension Tensor {
    /// Softmax along `axis`, as torch.softmax.
    public func softmax(axis a: Int = -1) throws -> Tensor {
        let ax = try axis(a)
        try require(rank > 0, "softmax needs at least one dimension")
        let sp = AxisSplit(shape, ax)
        // Work on contiguous rows: move the axis last when it is not already.
        if sp.inner != 1 {
            var perm = Array(0..<rank); perm.remove(at: ax); perm.append(ax)
            var inverse = [Int](repeating: 0, count: rank)
            for (i, p) in perm.enumerated() { inverse[p] = i }
            return try permuted(perm).softmax(axis: -1).permuted(inverse)
        }
        let n = sp.n, rows = sp.outer
        let out = copy()
        let py = out.pointer
        parallelFor(rows, grain: Swift.max(1, 1024 / Swift.max(n, 1))) { r in
            for row in r { softmaxRow(py + row * n, n) }
        }
        let x = self
        return out.recorded("softmax", [x]) { g, _ in
            let gx = Tensor(uninitialized: x.shape)
            let pg = g.pointer, pgx = gx.pointer, py = out.pointer
            parallelFor(rows, grain: Swift.max(1, 1024 / Swift.max(n, 1))) { r in
                for row in r {
                    let y = py + row * n, gr = pg + row * n, d = pgx + row * n
                    var dot: Float = 0
                    for i in 0..<n { dot += gr[i] * y[i] }
                    for i in 0..<n { d[i] = y[i] * (gr[i] - dot) }
                }
            }
            return [gx]
        }
    }
}
