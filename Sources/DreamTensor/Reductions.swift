import Foundation

/// A reduction along one axis sees the tensor as [outer, n, inner].
struct AxisSplit {
    let outer: Int, n: Int, inner: Int
    init(_ shape: [Int], _ axis: Int) {
        outer = shape[..<axis].reduce(1, *)
        n = shape[axis]
        inner = shape[(axis + 1)...].reduce(1, *)
    }
}

/// Sums `n` contiguous floats with 8 accumulator lanes, always in the same order.
@inline(__always) func contiguousSum(_ p: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = F8(repeating: 0)
    var i = 0
    while i + 8 <= n { acc += UnsafeRawPointer(p + i).loadUnaligned(as: F8.self); i += 8 }
    var s = acc.sum()
    while i < n { s += p[i]; i += 1 }
    return s
}

enum ReduceKind { case sum, max, min }

extension Tensor {
    func outputShape(reducing axis: Int, keepDims: Bool) -> [Int] {
        var s = shape
        if keepDims { s[axis] = 1 } else { s.remove(at: axis) }
        return s
    }

    /// Sum along one axis. Each output element is summed by one thread in a fixed order.
    func reduceSum(axis: Int, keepDims: Bool) -> Tensor {
        let sp = AxisSplit(shape, axis)
        let out = Tensor(uninitialized: outputShape(reducing: axis, keepDims: keepDims))
        let px = pointer, py = out.pointer
        if sp.inner == 1 {
            if sp.outer == 1 && sp.n >= 1 << 16 {
                // One long sum: fixed-size blocks in parallel, then the partial sums in order.
                let block = 1 << 14, blocks = (sp.n + block - 1) / block
                var partial = [Float](repeating: 0, count: blocks)
                partial.withUnsafeMutableBufferPointer { pp in
                    let base = pp.baseAddress!
                    parallelFor(blocks) { r in
                        for b in r { base[b] = contiguousSum(px + b * block, Swift.min(block, sp.n - b * block)) }
                    }
                }
                py[0] = partial.reduce(0, +)
            } else {
                parallelFor(sp.outer, grain: Swift.max(1, 4096 / Swift.max(sp.n, 1))) { r in
                    for o in r { py[o] = contiguousSum(px + o * sp.n, sp.n) }
                }
            }
        } else {
            parallelFor(sp.outer * sp.inner, grain: 4096) { r in
                // Work on row fragments: output element (o, i) for i in a run of the same o.
                var idx = r.lowerBound
                while idx < r.upperBound {
                    let o = idx / sp.inner, i0 = idx - o * sp.inner
                    let len = Swift.min(sp.inner - i0, r.upperBound - idx)
                    let dst = py + idx
                    let src = px + o * sp.n * sp.inner + i0
                    dst.update(from: src, count: len)
                    for k in 1..<Swift.max(sp.n, 1) {
                        let row = src + k * sp.inner
                        for j in 0..<len { dst[j] += row[j] }
                    }
                    if sp.n == 0 { dst.update(repeating: 0, count: len) }
                    idx += len
                }
            }
        }
        return out
    }

    /// Sum over all elements (axis nil) or one axis.
    public func sum(axis: Int? = nil, keepDims: Bool = false) throws -> Tensor {
        let x = self
        if let axis {
            let a = try self.axis(axis)
            try require(rank > 0, "sum: a scalar has no axis \(axis)")
            return reduceSum(axis: a, keepDims: keepDims).recorded("sum", [x]) { g, _ in
                [try g.reshaped(x.outputShape(reducing: a, keepDims: true)).expand(to: x.shape)]
            }
        }
        let flat = Tensor(shape: [count], storage: storage)
        let s = flat.reduceSum(axis: 0, keepDims: false)
        return s.recorded("sum", [x]) { g, _ in [try g.expand(to: x.shape)] }
    }

    public func mean(axis: Int? = nil, keepDims: Bool = false) throws -> Tensor {
        let n = axis == nil ? count : shape[try self.axis(axis!)]
        try require(n > 0, "mean of an empty tensor")
        return try sum(axis: axis, keepDims: keepDims) * (1 / Float(n))
    }

    /// Variance, unbiased (divides by n - 1) unless `unbiased` is false, as torch.var.
    public func variance(axis: Int? = nil, keepDims: Bool = false, unbiased: Bool = true) throws -> Tensor {
        let n = axis == nil ? count : shape[try self.axis(axis!)]
        let d = try self - mean(axis: axis, keepDims: true)
        let denom = Float(unbiased ? n - 1 : n)
        try require(denom > 0, "variance needs at least \(unbiased ? 2 : 1) values along the axis")
        let s = try (d * d).sum(axis: axis, keepDims: keepDims)
        return try s * (1 / denom)
    }

    public func std(axis: Int? = nil, keepDims: Bool = false, unbiased: Bool = true) throws -> Tensor {
        try variance(axis: axis, keepDims: keepDims, unbiased: unbiased).sqrt()
    }

    public func max(axis: Int? = nil, keepDims: Bool = false) throws -> Tensor { try extreme(.max, axis: axis, keepDims: keepDims) }
    public func min(axis: Int? = nil, keepDims: Bool = false) throws -> Tensor { try extreme(.min, axis: axis, keepDims: keepDims) }

    /// Max or min along an axis; the gradient goes to the first position holding the extreme value.
    func extreme(_ kind: ReduceKind, axis: Int?, keepDims: Bool) throws -> Tensor {
        try require(count > 0, "\(kind) of an empty tensor")
        let x = self
        let (src, a): (Tensor, Int) = axis == nil ? (Tensor(shape: [count], storage: storage), 0) : (self, try self.axis(axis!))
        try require(src.rank > 0, "\(kind): a scalar has no axis \(axis ?? 0)")
        try require(src.shape[a] > 0, "\(kind) along an empty axis")
        let sp = AxisSplit(src.shape, a)
        let outShape = axis == nil ? [] : src.outputShape(reducing: a, keepDims: keepDims)
        let out = Tensor(uninitialized: outShape)
        var arg = [Int](repeating: 0, count: sp.outer * sp.inner)
        let px = src.pointer, py = out.pointer
        let isMax = kind == .max
        arg.withUnsafeMutableBufferPointer { ab in
            let pa = ab.baseAddress!
            parallelFor(sp.outer * sp.inner, grain: 1024) { r in
                for idx in r {
                    let o = idx / sp.inner, i = idx - o * sp.inner
                    let base = px + o * sp.n * sp.inner + i
                    var best = base[0], bi = 0
                    for k in 1..<sp.n {
                        let v = base[k * sp.inner]
                        if isMax ? (v > best || (v != v && best == best)) : (v < best || (v != v && best == best)) { best = v; bi = k }
                    }
                    py[idx] = best; pa[idx] = bi
                }
            }
        }
        return out.recorded(kind == .max ? "max" : "min", [x]) { g, _ in
            let gx = Tensor(zeros: x.shape)
            let pg = g.pointer, pgx = gx.pointer
            for idx in 0..<(sp.outer * sp.inner) {
                let o = idx / sp.inner, i = idx - o * sp.inner
                pgx[o * sp.n * sp.inner + arg[idx] * sp.inner + i] += pg[idx]
            }
            return [gx]
        }
    }

    /// Sums a broadcast result back to `target` (the inverse of broadcasting), as gradients need.
    public func sum(toShape target: [Int]) throws -> Tensor {
        if shape == target { return self }
        try require(target.count <= rank, "cannot sum shape \(shapeString(shape)) to \(shapeString(target))")
        var t = self
        // Leading axes that the target lacks.
        while t.rank > target.count { t = try t.sum(axis: 0) }
        for i in 0..<target.count where target[i] == 1 && t.shape[i] != 1 {
            t = try t.sum(axis: i, keepDims: true)
        }
        try require(t.shape == target, "cannot sum shape \(shapeString(shape)) to \(shapeString(target))")
        return t
    }

    /// Repeats values along broadcast dims to `target` (NumPy broadcast_to); the gradient sums back.
    public func expand(to target: [Int]) throws -> Tensor {
        if shape == target { return self }
        let outShape = try broadcastShapes(target, shape)
        try require(outShape == target, "cannot broadcast shape \(shapeString(shape)) to \(shapeString(target))")
        let x = self
        let out = Tensor(uninitialized: target)
        if out.count == 0 { return out }
        let plan = BroadcastPlan(out: target, a: target, b: shape)
        let pb = pointer, py = out.pointer
        plan.forEachRun { o, _, _, ob, sb, n in
            if sb == 1 { (py + o).update(from: pb + ob, count: n) } else { (py + o).update(repeating: pb[ob], count: n) }
        }
        return out.recorded("expand", [x]) { g, _ in [try g.sum(toShape: x.shape)] }
    }
}
