import Foundation

/// Geometry of a 2-D convolution.
struct ConvShape {
    let batch, cin, h, w, cout, kh, kw, stride, padding, oh, ow: Int
    var k: Int { cin * kh * kw }
    var ohw: Int { oh * ow }
    var imageSize: Int { cin * h * w }
    /// A 1×1 stride-1 unpadded convolution is a plain matrix product on the input.
    var isPointwise: Bool { kh == 1 && kw == 1 && stride == 1 && padding == 0 }
}

/// Unfolds rows `rows` of one image [cin, h, w] into columns [cin·kh·kw, oh·ow].
func im2col(_ x: UnsafePointer<Float>, _ s: ConvShape, _ cols: UnsafeMutablePointer<Float>, rows: Range<Int>) {
    for row in rows {
        let c = row / (s.kh * s.kw), kk = row % (s.kh * s.kw), ki = kk / s.kw, kj = kk % s.kw
        let src = x + c * s.h * s.w
        let dst = cols + row * s.ohw
        for oy in 0..<s.oh {
            let iy = oy * s.stride - s.padding + ki
            let d = dst + oy * s.ow
            if iy < 0 || iy >= s.h { d.update(repeating: 0, count: s.ow); continue }
            let srow = src + iy * s.w
            if s.stride == 1 {
                // A contiguous run with zero padding at either end.
                let lo = Swift.min(Swift.max(0, s.padding - kj), s.ow), hi = Swift.max(Swift.min(s.ow, s.w + s.padding - kj), lo)
                if lo > 0 { d.update(repeating: 0, count: lo) }
                if hi > lo { (d + lo).update(from: srow + lo - s.padding + kj, count: hi - lo) }
                if hi < s.ow { (d + hi).update(repeating: 0, count: s.ow - hi) }
            } else {
                for ox in 0..<s.ow {
                    let ix = ox * s.stride - s.padding + kj
                    d[ox] = ix >= 0 && ix < s.w ? srow[ix] : 0
                }
            }
        }
    }
}

/// The GEMM operand for one image: its columns in `cols` (unfolded, split across workers when
/// `parallel`), or the image itself for a pointwise convolution (`cols` nil).
func unfold(_ x: UnsafePointer<Float>, _ s: ConvShape, _ cols: UnsafeMutablePointer<Float>?, parallel: Bool) -> UnsafePointer<Float> {
    guard let cols else { return x }
    if parallel { parallelFor(s.k, grain: 8) { im2col(x, s, cols, rows: $0) } } else { im2col(x, s, cols, rows: 0..<s.k) }
    return UnsafePointer(cols)
}

/// Folds columns back into channels `channels` of an image, summing overlaps (the adjoint of im2col).
func col2im(_ cols: UnsafePointer<Float>, _ s: ConvShape, _ x: UnsafeMutablePointer<Float>, channels: Range<Int>) {
    for c in channels {
        let dst = x + c * s.h * s.w
        dst.update(repeating: 0, count: s.h * s.w)
        for ki in 0..<s.kh {
            for kj in 0..<s.kw {
                let src = cols + ((c * s.kh + ki) * s.kw + kj) * s.ohw
                for oy in 0..<s.oh {
                    let iy = oy * s.stride - s.padding + ki
                    if iy < 0 || iy >= s.h { continue }
                    let drow = dst + iy * s.w, srow = src + oy * s.ow
                    if s.stride == 1 {
                        let lo = Swift.max(0, s.padding - kj), hi = Swift.min(s.ow, s.w + s.padding - kj)
                        if hi > lo {
                            let d = drow + lo - s.padding + kj
                            for ox in lo..<hi { d[ox - lo] += srow[ox] }
                        }
                    } else {
                        for ox in 0..<s.ow {
                            let ix = ox * s.stride - s.padding + kj
                            if ix >= 0 && ix < s.w { drow[ix] += srow[ox] }
                        }
                    }
                }
            }
        }
    }
}

/// Runs `body(image, cols scratch)` for every image of a batch. With at least as many images as
/// workers, each worker takes whole images (single-threaded unfolding and GEMM, its own scratch);
/// otherwise images go one by one and the work inside each is split (`inside` true). Either way each
/// image is computed by the same sequence of operations, so results do not depend on the thread count.
func forEachImage(_ s: ConvShape, scratch: Int, _ body: (_ b: Int, _ cols: UnsafeMutablePointer<Float>?, _ inside: Bool) -> Void) {
    let threads = ExecutionContext.current.threads
    if threads > 1 && s.batch >= threads {
        parallelFor(s.batch, perWorker: 1) { images in
            let cols = scratch > 0 ? Storage(count: scratch) : nil
            for b in images { body(b, cols?.pointer, false) }
        }
    } else {
        let cols = scratch > 0 ? Storage(count: scratch) : nil
        for b in 0..<s.batch { body(b, cols?.pointer, true) }
    }
}

/// y = conv2d(x, w) + bias by im2col: each image unfolded and multiplied by the weight in one GEMM.
func conv2dByColumns(_ px: UnsafePointer<Float>, _ pw: UnsafePointer<Float>, _ pb: UnsafePointer<Float>?,
                     _ py: UnsafeMutablePointer<Float>, _ s: ConvShape) {
    forEachImage(s, scratch: s.isPointwise ? 0 : s.k * s.ohw) { b, cols, inside in
        let xb = px + b * s.imageSize, yb = py + b * s.cout * s.ohw
        if let pb { for o in 0..<s.cout { (yb + o * s.ohw).update(repeating: pb[o], count: s.ohw) } }
        let colsB = unfold(xb, s, cols, parallel: inside)
        gemm(split: inside, false, false, s.cout, s.ohw, s.k, pw, s.k, colsB, s.ohw, pb == nil ? 0 : 1, yb, s.ohw)
    }
}

extension Tensor {
    /// 2-D convolution, x [N, Cin, H, W], weight [Cout, Cin, kH, kW], as torch.nn.functional.conv2d.
    /// Each image is unfolded (im2col) and multiplied by the weight in one GEMM; 3×3 convolutions with many
    /// channels and pixels go by Winograd's F(2×2, 3×3) instead (`WinogradPlan`), and so does their input gradient.
    public func conv2d(_ weight: Tensor, bias: Tensor? = nil, stride: Int = 1, padding: Int = 0) throws -> Tensor {
        try require(rank == 4, "conv2d: input must be [N, C, H, W], got \(shapeString(shape))")
        try require(weight.rank == 4, "conv2d: weight must be [out, in, kH, kW], got \(shapeString(weight.shape))")
        try require(weight.shape[1] == shape[1],
                    "conv2d: input has \(shape[1]) channels but the weight expects \(weight.shape[1]) (weight \(shapeString(weight.shape)))")
        try require(stride >= 1 && padding >= 0, "conv2d: stride must be ≥ 1 and padding ≥ 0 (got \(stride), \(padding))")
        if let bias { try require(bias.shape == [weight.shape[0]], "conv2d: bias must be [\(weight.shape[0])], got \(shapeString(bias.shape))") }
        let oh = (shape[2] + 2 * padding - weight.shape[2]) / stride + 1
        let ow = (shape[3] + 2 * padding - weight.shape[3]) / stride + 1
        try require(oh > 0 && ow > 0, "conv2d: kernel \(weight.shape[2])×\(weight.shape[3]) is larger than the padded input \(shape[2])×\(shape[3])")
        let s = ConvShape(batch: shape[0], cin: shape[1], h: shape[2], w: shape[3], cout: weight.shape[0],
                          kh: weight.shape[2], kw: weight.shape[3], stride: stride, padding: padding, oh: oh, ow: ow)
        let out = Tensor(uninitialized: [s.batch, s.cout, oh, ow])
        let px = pointer, py = out.pointer, pw = weight.pointer, pb = bias?.pointer
        if WinogradPlan.pays(s) {
            WinogradPlan(s).forward(px, pw, pb, py)
        } else {
            conv2dByColumns(px, pw, pb, py, s)
        }
        let x = self
        var inputs = [x, weight]
        if let bias { inputs.append(bias) }
        return out.recorded("conv2d", inputs) { g, needs in
            let gx: Tensor? = needs[0] ? Tensor(uninitialized: x.shape) : nil
            // Weight gradients per image, summed in image order afterwards (thread-count independent).
            let gwParts: Storage? = needs[1] ? Storage(count: s.batch * s.cout * s.k) : nil
            // dX of a 3×3, stride-1, padding-1 convolution is itself one, of dY with the kernels turned half a
            // turn and in and out swapped: Winograd takes it where it pays, as in the forward pass.
            let transposed = ConvShape(batch: s.batch, cin: s.cout, h: s.oh, w: s.ow, cout: s.cin, kh: s.kh, kw: s.kw,
                                       stride: s.stride, padding: s.padding, oh: s.h, ow: s.w)
            let inputGradientByWinograd = gx != nil && WinogradPlan.pays(transposed)
            if let gx, inputGradientByWinograd {
                WinogradPlan(transposed).forward(g.pointer, weight.pointer, nil, gx.pointer, turned: true)
            }
            if gwParts != nil || (gx != nil && !inputGradientByWinograd) {
                // Columns are unfolded again rather than kept from the forward pass: cheap, and the graph stays
                // small. The scratch holds the columns for dW, then their gradient for dX.
                forEachImage(s, scratch: s.isPointwise ? 0 : s.k * s.ohw) { b, cols, inside in
                    let xb = x.pointer + b * s.imageSize, gb = UnsafePointer(g.pointer + b * s.cout * s.ohw)
                    if let gwParts {
                        let colsB = unfold(xb, s, cols, parallel: inside)
                        gemm(split: inside, false, true, s.cout, s.k, s.ohw, gb, s.ohw, colsB, s.ohw, 0, gwParts.pointer + b * s.cout * s.k, s.k)
                    }
                    if let gx, !inputGradientByWinograd {
                        let gxb = gx.pointer + b * s.imageSize
                        gemm(split: inside, true, false, s.k, s.ohw, s.cout, weight.pointer, s.k, gb, s.ohw, 0, cols ?? gxb, s.ohw)
                        if let cols {
                            if inside { parallelFor(s.cin) { col2im(cols, s, gxb, channels: $0) } } else { col2im(cols, s, gxb, channels: 0..<s.cin) }
                        }
                    }
                }
            }
            var grads: [Tensor?] = [gx, nil]
            if let gwParts {
                let gw = Tensor(uninitialized: weight.shape)
                let n = s.cout * s.k, pgw = gw.pointer, parts = gwParts.pointer
                // Image by image over each chunk (streaming, vectorised); every element still adds the
                // images in order, so the result is the same for any thread count.
                parallelElements(n) { r in
                    let chunk = pgw + r.lowerBound
                    chunk.update(from: parts + r.lowerBound, count: r.count)
                    for b in 1..<Swift.max(s.batch, 1) {
                        let src = parts + b * n + r.lowerBound
                        for j in 0..<r.count { chunk[j] += src[j] }
                    }
                }
                grads[1] = gw
            }
            if needs.count > 2 {
                grads.append(needs[2] ? try g.permuted([1, 0, 2, 3]).reshaped([s.cout, -1]).sum(axis: 1) : nil)
            }
            return grads
        }
    }

    /// Nearest-neighbour 2× upsampling of [N, C, H, W], as F.interpolate(scale_factor=2, mode="nearest").
    public func upsampleNearest2x() throws -> Tensor {
        try require(rank == 4, "upsample: input must be [N, C, H, W], got \(shapeString(shape))")
        let (planes, h, w) = (shape[0] * shape[1], shape[2], shape[3])
        let out = Tensor(uninitialized: [shape[0], shape[1], 2 * h, 2 * w])
        let px = pointer, py = out.pointer
        parallelFor(planes * h, grain: 64) { r in
            for row in r {
                let src = px + row * w, d0 = py + row * 4 * w, d1 = d0 + 2 * w
                for j in 0..<w { d0[2 * j] = src[j]; d0[2 * j + 1] = src[j] }
                d1.update(from: d0, count: 2 * w)
            }
        }
        let x = self
        return out.recorded("upsample", [x]) { g, _ in
            let gx = Tensor(uninitialized: x.shape)
            let pg = g.pointer, pgx = gx.pointer
            parallelFor(planes * h, grain: 64) { r in
                for row in r {
                    let s0 = pg + row * 4 * w, s1 = s0 + 2 * w, d = pgx + row * w
                    for j in 0..<w { d[j] = s0[2 * j] + s0[2 * j + 1] + s1[2 * j] + s1[2 * j + 1] }
                }
            }
            return [gx]
        }
    }
}
