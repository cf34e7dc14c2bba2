/// NumPy broadcasting: the result shape, and a plan that walks both inputs with the fewest loop levels.
public func broadcastShapes(_ a: [Int], _ b: [Int]) throws -> [Int] {
    let rank = max(a.count, b.count)
    var out = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
        let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
        let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
        guard da == db || da == 1 || db == 1 else {
            throw TensorError("shapes \(shapeString(a)) and \(shapeString(b)) cannot be broadcast together")
        }
        out[i] = da == 1 ? db : da
    }
    return out
}

/// Output dims with each input's strides (0 on broadcast dims), with size-1 dims dropped and adjacent
/// dims merged where both inputs allow, so that `[B, C, H, W] + [1, C, 1, 1]` becomes a loop over
/// `[B, C, H*W]` whose inner level is contiguous or a scalar.
struct BroadcastPlan {
    var dims: [Int] = []
    var strideA: [Int] = []
    var strideB: [Int] = []

    init(out: [Int], a: [Int], b: [Int]) {
        func strides(_ s: [Int]) -> [Int] {
            let padded = [Int](repeating: 1, count: out.count - s.count) + s
            var st = contiguousStrides(padded)
            for i in 0..<out.count where padded[i] == 1 && out[i] != 1 { st[i] = 0 }
            return st
        }
        let sa = strides(a), sb = strides(b)
        for i in 0..<out.count where out[i] != 1 {
            if let last = dims.indices.last,
               strideA[last] == sa[i] * out[i], strideB[last] == sb[i] * out[i] {
                dims[last] *= out[i]; strideA[last] = sa[i]; strideB[last] = sb[i]
            } else {
                dims.append(out[i]); strideA.append(sa[i]); strideB.append(sb[i])
            }
        }
        if dims.isEmpty { dims = [1]; strideA = [0]; strideB = [0] }
    }

    var inner: Int { dims.last! }
    var rows: Int { dims.dropLast().reduce(1, *) }

    /// Offsets of row `r` (all dims but the last) into a and b.
    @inline(__always) func offsets(row r: Int) -> (Int, Int) {
        var rem = r, oa = 0, ob = 0
        var i = dims.count - 2
        while i >= 0 {
            let q = rem / dims[i], idx = rem - q * dims[i]
            oa += idx * strideA[i]; ob += idx * strideB[i]
            rem = q; i -= 1
        }
        return (oa, ob)
    }

    /// Calls `body(outOffset, aOffset, aStep, bOffset, bStep, n)` over pieces of the output, in parallel.
    @inline(__always)
    func forEachRun(_ body: (Int, Int, Int, Int, Int, Int) -> Void) {
        let n = inner, sa = strideA.last!, sb = strideB.last!
        if rows == 1 {
            parallelElements(n) { r in body(r.lowerBound, r.lowerBound * sa, sa, r.lowerBound * sb, sb, r.count) }
        } else {
            parallelFor(rows, grain: max(1, (1 << 14) / n)) { range in
                for row in range {
                    let (oa, ob) = offsets(row: row)
                    body(row * n, oa, sa, ob, sb, n)
                }
            }
        }
    }
}
