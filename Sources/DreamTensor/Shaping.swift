import Foundation

extension Tensor {
    /// Same values, new shape (free: shares storage). One dimension may be -1.
    public func reshaped(_ newShape: [Int]) throws -> Tensor {
        var s = newShape
        let unknown = s.indices.filter { s[$0] == -1 }
        try require(unknown.count <= 1, "reshape: only one dimension may be -1 in \(shapeString(newShape))")
        try require(s.allSatisfy { $0 >= -1 }, "reshape: negative dimension in \(shapeString(newShape))")
        if let u = unknown.first {
            let known = s.enumerated().filter { $0.offset != u }.map(\.element).reduce(1, *)
            try require(known > 0 && count % known == 0,
                        "cannot reshape \(shapeString(shape)) (\(count) elements) to \(shapeString(newShape))")
            s[u] = count / known
        }
        try require(s.reduce(1, *) == count,
                    "cannot reshape \(shapeString(shape)) (\(count) elements) to \(shapeString(newShape))")
        let x = self
        return Tensor(shape: s, storage: storage).recorded("reshape", [x]) { g, _ in [try g.reshaped(x.shape)] }
    }

    /// Reorders axes: result axis i is input axis `axes[i]`.
    public func permuted(_ axes: [Int]) throws -> Tensor {
        let perm = try axes.map { try axis($0) }
        try require(perm.count == rank && Set(perm).count == rank,
                    "permute: \(axes) is not a permutation of the \(rank) axes of \(shapeString(shape))")
        if perm == Array(0..<rank) { return self }
        let outShape = perm.map { shape[$0] }
        let inStrides = contiguousStrides(shape)
        let srcStrides = perm.map { inStrides[$0] }   // input stride of each output axis
        let out = Tensor(uninitialized: outShape)
        let n = outShape.last!, sLast = srcStrides.last!
        let rows = count / Swift.max(n, 1)
        let px = pointer, py = out.pointer
        if count > 0 {
            parallelFor(rows, grain: Swift.max(1, 4096 / n)) { r in
                for row in r {
                    var rem = row, off = 0
                    var i = outShape.count - 2
                    while i >= 0 { let q = rem / outShape[i]; off += (rem - q * outShape[i]) * srcStrides[i]; rem = q; i -= 1 }
                    let dst = py + row * n
                    if sLast == 1 { dst.update(from: px + off, count: n) } else {
                        for j in 0..<n { dst[j] = px[off + j * sLast] }
                    }
                }
            }
        }
        var inverse = [Int](repeating: 0, count: rank)
        for (i, p) in perm.enumerated() { inverse[p] = i }
        let x = self
        return out.recorded("permute", [x]) { g, _ in [try g.permuted(inverse)] }
    }

    /// Swaps the last two axes.
    public func transposed() throws -> Tensor {
        try require(rank >= 2, "transpose needs at least 2 dimensions, got \(shapeString(shape))")
        var p = Array(0..<rank)
        p.swapAt(rank - 1, rank - 2)
        return try permuted(p)
    }

    /// Elements start..<end (step `step`) along `axis`; negative bounds count from the end, as in Python.
    public func sliced(axis a: Int, start: Int? = nil, end: Int? = nil, step: Int = 1) throws -> Tensor {
        let ax = try axis(a)
        try require(step > 0, "slice step must be positive, got \(step)")
        let n = shape[ax]
        func clampBound(_ v: Int?, _ dflt: Int) -> Int {
            guard var v else { return dflt }
            if v < 0 { v += n }
            return Swift.min(Swift.max(v, 0), n)
        }
        let lo = clampBound(start, 0), hi = Swift.max(clampBound(end, n), lo)
        let len = (hi - lo + step - 1) / step
        var outShape = shape
        outShape[ax] = len
        if lo == 0 && len == n && step == 1 { return self }
        let sp = AxisSplit(shape, ax)
        let out = Tensor(uninitialized: outShape)
        let px = pointer, py = out.pointer
        parallelFor(sp.outer * len, grain: Swift.max(1, 4096 / Swift.max(sp.inner, 1))) { r in
            for idx in r {
                let o = idx / len, k = idx - o * len
                (py + idx * sp.inner).update(from: px + (o * n + lo + k * step) * sp.inner, count: sp.inner)
            }
        }
        let x = self
        return out.recorded("slice", [x]) { g, _ in
            let gx = Tensor(zeros: x.shape)
            let pg = g.pointer, pgx = gx.pointer
            parallelFor(sp.outer * len, grain: Swift.max(1, 4096 / Swift.max(sp.inner, 1))) { r in
                for idx in r {
                    let o = idx / len, k = idx - o * len
                    (pgx + (o * n + lo + k * step) * sp.inner).update(from: pg + idx * sp.inner, count: sp.inner)
                }
            }
            return [gx]
        }
    }

    /// Element `index` along `axis`, removing that axis (x[i]); negative indices count from the end.
    public func select(axis a: Int, index: Int) throws -> Tensor {
        let ax = try axis(a)
        let n = shape[ax]
        let i = index < 0 ? index + n : index
        try require(i >= 0 && i < n, "index \(index) is out of range for axis \(ax) of size \(n) (shape \(shapeString(shape)))")
        var s = shape
        s.remove(at: ax)
        return try sliced(axis: ax, start: i, end: i + 1).reshaped(s)
    }

    /// Inserts a size-1 axis at `axis`.
    public func unsqueezed(_ a: Int) throws -> Tensor {
        let ax = a < 0 ? a + rank + 1 : a
        try require(ax >= 0 && ax <= rank, "axis \(a) is out of range for inserting into \(shapeString(shape))")
        var s = shape
        s.insert(1, at: ax)
        return try reshaped(s)
    }
}

/// Joins tensors along an existing axis.
public func concatenate(_ xs: [Tensor], axis a: Int) throws -> Tensor {
    try require(!xs.isEmpty, "cat needs at least one tensor")
    let first = xs[0]
    let ax = try first.axis(a)
    for (i, x) in xs.enumerated() {
        var s1 = x.shape, s0 = first.shape
        try require(s1.count == s0.count, "cat: tensor \(i) has shape \(shapeString(x.shape)), tensor 0 has \(shapeString(first.shape))")
        s1[ax] = 0; s0[ax] = 0
        try require(s1 == s0, "cat: tensor \(i) has shape \(shapeString(x.shape)), which differs from tensor 0's \(shapeString(first.shape)) outside axis \(ax)")
    }
    var outShape = first.shape
    outShape[ax] = xs.reduce(0) { $0 + $1.shape[ax] }
    let out = Tensor(uninitialized: outShape)
    let sp = AxisSplit(outShape, ax)
    var offset = 0
    for x in xs {
        let chunk = x.shape[ax] * sp.inner
        let px = x.pointer, py = out.pointer, off = offset
        parallelFor(sp.outer, grain: Swift.max(1, 4096 / Swift.max(chunk, 1))) { r in
            for o in r { (py + o * sp.n * sp.inner + off).update(from: px + o * chunk, count: chunk) }
        }
        offset += chunk
    }
    return out.recorded("cat", xs) { g, needs in
        var start = 0
        return try xs.enumerated().map { i, x in
            defer { start += x.shape[ax] }
            return needs[i] ? try g.sliced(axis: ax, start: start, end: start + x.shape[ax]) : nil
        }
    }
}

/// Joins tensors of one shape along a new axis.
public func stack(_ xs: [Tensor], axis a: Int) throws -> Tensor {
    try require(!xs.isEmpty, "stack needs at least one tensor")
    for (i, x) in xs.enumerated() where x.shape != xs[0].shape {
        throw TensorError("stack: tensor \(i) has shape \(shapeString(x.shape)), tensor 0 has \(shapeString(xs[0].shape))")
    }
    return try concatenate(xs.map { try $0.unsqueezed(a) }, axis: a < 0 ? a : a)
}

extension Tensor {
    /// Zero padding of the last two axes of [N, C, H, W] (left, right, top, bottom), as F.pad(x, (l, r, t, b)).
    public func padded2d(left: Int, right: Int, top: Int, bottom: Int) throws -> Tensor {
        try require(rank == 4, "pad: input must be [N, C, H, W], got \(shapeString(shape))")
        try require(left >= 0 && right >= 0 && top >= 0 && bottom >= 0, "pad: amounts must be ≥ 0")
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        let (oh, ow) = (h + top + bottom, w + left + right)
        let out = Tensor(zeros: [shape[0], shape[1], oh, ow])
        let px = pointer, py = out.pointer
        parallelFor(planes, grain: 4) { r in
            for p in r { for y in 0..<h { (py + (p * oh + y + top) * ow + left).update(from: px + (p * h + y) * w, count: w) } }
        }
        let x = self
        return out.recorded("pad", [x]) { g, _ in
            let gx = Tensor(uninitialized: x.shape)
            let pg = g.pointer, pgx = gx.pointer
            parallelFor(planes, grain: 4) { r in
                for p in r { for y in 0..<h { (pgx + (p * h + y) * w).update(from: pg + (p * oh + y + top) * ow + left, count: w) } }
            }
            return [gx]
        }
    }
}
