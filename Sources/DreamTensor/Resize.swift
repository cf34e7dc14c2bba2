import Foundation

extension Tensor {
    /// Resamples [N, C, H, W] to [N, C, height, width] with a triangle (bilinear) filter whose support
    /// widens when shrinking, as PIL's BILINEAR resize does, so downscaled images are antialiased.
    /// Not differentiable (it prepares input images).
    public func resized(height: Int, width: Int) throws -> Tensor {
        try require(rank == 4, "resize: expected [N, C, H, W], got \(shapeString(shape))")
        try require(height > 0 && width > 0, "resize: size must be positive, got \(height)×\(width)")
        if shape[2] == height && shape[3] == width { return detached }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        // Weights of a 1-D resampling from `inSize` to `outSize`: for each output, (first input, weights).
        func weights(_ inSize: Int, _ outSize: Int) -> [(Int, [Float])] {
            let scale = Double(inSize) / Double(outSize)
            let support = Swift.max(scale, 1)
            return (0..<outSize).map { o in
                let center = (Double(o) + 0.5) * scale
                let lo = Swift.max(0, Int((center - support).rounded(.down)))
                let hi = Swift.min(inSize, Int((center + support).rounded(.up)))
                var ws: [Float] = []
                for i in lo..<hi {
                    let x = (Double(i) + 0.5 - center) / support
                    ws.append(Float(Swift.max(0, 1 - Swift.abs(x))))
                }
                let total = ws.reduce(0, +)
                return (lo, total > 0 ? ws.map { $0 / total } : ws)
            }
        }
        let wx = weights(w, width), wy = weights(h, height)
        let tmp = Tensor(zeros: [n * c, h, width])
        let out = Tensor(zeros: [n, c, height, width])
        let px = pointer, pt = tmp.pointer, po = out.pointer
        parallelFor(n * c) { planes in
            for p in planes {
                for y in 0..<h {
                    let src = px + (p * h + y) * w, dst = pt + (p * h + y) * width
                    for (ox, (lo, ws)) in wx.enumerated() {
                        var s: Float = 0
                        for (k, wt) in ws.enumerated() { s += wt * src[lo + k] }
                        dst[ox] = s
                    }
                }
                for (oy, (lo, ws)) in wy.enumerated() {
                    let dst = po + (p * height + oy) * width
                    for (k, wt) in ws.enumerated() {
                        let src = pt + (p * h + lo + k) * width
                        for x in 0..<width { dst[x] += wt * src[x] }
                    }
                }
            }
        }
        return out
    }
}
