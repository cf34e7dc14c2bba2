import Foundation

/// Mean and 1/sqrt(var + eps) of `n` floats, accumulated in Double (statistics of large groups lose
/// digits in Float).
@inline(__always) func moments(_ p: UnsafePointer<Float>, _ n: Int, eps: Float) -> (Float, Float) {
    var s = 0.0
    for i in 0..<n { s += Double(p[i]) }
    let mean = s / Double(n)
    var v = 0.0
    for i in 0..<n { let d = Double(p[i]) - mean; v += d * d }
    return (Float(mean), Float(1 / (v / Double(n) + Double(eps)).squareRoot()))
}

extension Tensor {
    /// Group normalisation of [N, C, ...] with per-channel affine weight and bias, as F.group_norm.
    public func groupNorm(groups: Int, weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-5) throws -> Tensor {
        try require(rank >= 2, "group_norm: input must be [N, C, ...], got \(shapeString(shape))")
        let (n, c) = (shape[0], shape[1])
        try require(groups > 0 && c % groups == 0, "group_norm: \(c) channels cannot be split into \(groups) groups")
        if let weight { try require(weight.shape == [c], "group_norm: weight must be [\(c)], got \(shapeString(weight.shape))") }
        if let bias { try require(bias.shape == [c], "group_norm: bias must be [\(c)], got \(shapeString(bias.shape))") }
        let spatial = count / Swift.max(n * c, 1), cpg = c / groups, m = cpg * spatial
        let out = Tensor(uninitialized: shape)
        var stats = [Float](repeating: 0, count: 2 * n * groups)   // mean, rstd per (n, g)
        let px = pointer, py = out.pointer
        let pw = weight?.pointer, pb = bias?.pointer
        stats.withUnsafeMutableBufferPointer { st in
            let ps = st.baseAddress!
            parallelFor(n * groups) { r in
                for ng in r {
                    let base = ng * m
                    let (mean, rstd) = moments(px + base, m, eps: eps)
                    ps[2 * ng] = mean; ps[2 * ng + 1] = rstd
                    let g = ng % groups
                    for cc in 0..<cpg {
                        let ch = g * cpg + cc
                        let scale = rstd * (pw?[ch] ?? 1), shift = (pb?[ch] ?? 0) - mean * scale
                        let src = px + base + cc * spatial, dst = py + base + cc * spatial
                        for i in 0..<spatial { dst[i] = src[i] * scale + shift }
                    }
                }
            }
        }
        let x = self
        var inputs = [x]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        return out.recorded("group_norm", inputs) { g, needs in
            let gx = Tensor(uninitialized: x.shape)
            // Per-(n, channel) sums of g·x̂ and g, reduced over n afterwards in a fixed order.
            var partial = [Float](repeating: 0, count: 2 * n * c)
            let pg = g.pointer, pgx = gx.pointer
            partial.withUnsafeMutableBufferPointer { pp in
                let part = pp.baseAddress!
                parallelFor(n * groups) { r in
                    for ng in r {
                        let base = ng * m, mean = stats[2 * ng], rstd = stats[2 * ng + 1], grp = ng % groups
                        var sumD = 0.0, sumDX = 0.0
                        for cc in 0..<cpg {
                            let ch = grp * cpg + cc, w = pw?[ch] ?? 1
                            let src = px + base + cc * spatial, gr = pg + base + cc * spatial
                            var sg: Float = 0, sgx: Float = 0
                            for i in 0..<spatial {
                                let xh = (src[i] - mean) * rstd
                                sg += gr[i]; sgx += gr[i] * xh
                            }
                            part[2 * ((ng / groups) * c + ch)] = sgx
                            part[2 * ((ng / groups) * c + ch) + 1] = sg
                            sumD += Double(sg * w); sumDX += Double(sgx * w)
                        }
                        let meanD = Float(sumD / Double(m)), meanDX = Float(sumDX / Double(m))
                        for cc in 0..<cpg {
                            let ch = grp * cpg + cc, w = pw?[ch] ?? 1
                            let src = px + base + cc * spatial, gr = pg + base + cc * spatial, dst = pgx + base + cc * spatial
                            for i in 0..<spatial {
                                let xh = (src[i] - mean) * rstd
                                dst[i] = rstd * (gr[i] * w - meanD - xh * meanDX)
                            }
                        }
                    }
                }
            }
            var grads: [Tensor?] = [needs[0] ? gx : nil]
            func channelSum(_ which: Int) -> Tensor {
                let t = Tensor(zeros: [c])
                for b in 0..<n { for ch in 0..<c { t.pointer[ch] += partial[2 * (b * c + ch) + which] } }
                return t
            }
            if weight != nil { grads.append(needs[grads.count] ? channelSum(0) : nil) }
            if bias != nil { grads.append(needs[grads.count] ? channelSum(1) : nil) }
            return grads
        }
    }

    /// Layer normalisation over the last axis, as F.layer_norm(x, [D], weight, bias, eps).
    public func layerNorm(weight: Tensor? = nil, bias: Tensor? = nil, eps: Float = 1e-5) throws -> Tensor {
        try require(rank >= 1, "layer_norm needs at least one dimension")
        let d = shape[rank - 1], rows = count / Swift.max(d, 1)
        if let weight { try require(weight.shape == [d], "layer_norm: weight must be [\(d)], got \(shapeString(weight.shape))") }
        if let bias { try require(bias.shape == [d], "layer_norm: bias must be [\(d)], got \(shapeString(bias.shape))") }
        let out = Tensor(uninitialized: shape)
        let xhat = Tensor(uninitialized: shape)
        let rstds = Tensor(uninitialized: [rows])
        let px = pointer, py = out.pointer, ph = xhat.pointer, pr = rstds.pointer
        let pw = weight?.pointer, pb = bias?.pointer
        parallelFor(rows, grain: Swift.max(1, 2048 / Swift.max(d, 1))) { r in
            for row in r {
                let (mean, rstd) = moments(px + row * d, d, eps: eps)
                pr[row] = rstd
                let src = px + row * d, h = ph + row * d, dst = py + row * d
                for i in 0..<d {
                    h[i] = (src[i] - mean) * rstd
                    dst[i] = h[i] * (pw?[i] ?? 1) + (pb?[i] ?? 0)
                }
            }
        }
        let x = self
        var inputs = [x]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        return out.recorded("layer_norm", inputs) { g, needs in
            let gx = Tensor(uninitialized: x.shape)
            let pg = g.pointer, pgx = gx.pointer, ph = xhat.pointer, pr = rstds.pointer
            if needs[0] {
                parallelFor(rows, grain: Swift.max(1, 2048 / Swift.max(d, 1))) { r in
                    for row in r {
                        let gr = pg + row * d, h = ph + row * d, dst = pgx + row * d
                        var sd: Float = 0, sdx: Float = 0
                        for i in 0..<d { let dh = gr[i] * (pw?[i] ?? 1); sd += dh; sdx += dh * h[i] }
                        let md = sd / Float(d), mdx = sdx / Float(d), rstd = pr[row]
                        for i in 0..<d { dst[i] = rstd * (gr[i] * (pw?[i] ?? 1) - md - h[i] * mdx) }
                    }
                }
            }
            var grads: [Tensor?] = [needs[0] ? gx : nil]
            if weight != nil {
                grads.append(needs[grads.count] ? try (g * xhat).reshaped([rows, d]).sum(axis: 0) : nil)
            }
            if bias != nil {
                grads.append(needs[grads.count] ? try g.reshaped([rows, d]).sum(axis: 0) : nil)
            }
            return grads
        }
    }
}
