import Foundation

/// 3×3 convolutions (stride 1, padding 1) by Winograd's minimal filtering F(2×2, 3×3) (Lavin and Gray, "Fast
/// Algorithms for Convolutional Neural Networks", 2016): each 2×2 block of outputs comes from a 4×4 block of the
/// input with 16 products per input channel instead of 36, so the GEMMs that dominate a convolution do 2.25×
/// fewer multiply-adds. The transforms are memory-bound work of their own, so this pays only where the GEMMs
/// are large: many channels and many pixels (`WinogradPlan.pays`).
struct WinogradPlan {
    let s: ConvShape
    /// Tiles (2×2 output blocks) per image down and across, and over the whole batch.
    let th: Int, tw: Int
    var tiles: Int { s.batch * th * tw }

    init(_ s: ConvShape) {
        self.s = s
        th = (s.oh + 1) / 2; tw = (s.ow + 1) / 2
    }

    /// Whether the shape is one Winograd computes (3×3, stride 1, padding 1) and where it is faster than
    /// im2col (`scripts/bench conv`): at least 256 output pixels over the batch (below that the weight
    /// transform, 16·Cout·Cin values made anew each call, outweighs the saving: 2×1280×8×8 takes 19 ms by
    /// im2col and 23 ms by Winograd, 1×1280×16×16 40 and 31) and at least 256 channels in and out. The built-in
    /// model's convolutions (at most 128 channels) are left to im2col, so its results stay bit for bit what
    /// they were when docs/results.md was made.
    static func pays(_ s: ConvShape) -> Bool {
        return s.kh == 3 && s.kw == 3 && s.stride == 1 && s.padding == 1 && s.cin >= 256 && s.cout >= 256
            && s.batch * s.oh * s.ow >= 256
    }

    /// U = G g Gᵀ for every (out, in) kernel, laid out [16][cout][cin] so that each of the 16 positions is a
    /// [cout × cin] matrix. Blocks of 256 kernels go through a small buffer, so that the 16 outputs are written
    /// as 16 contiguous runs rather than scattered one value at a time.
    func transformWeights(_ w: UnsafePointer<Float>, _ u: UnsafeMutablePointer<Float>, turned: Bool) {
        let pairs = s.cout * s.cin, block = 256
        parallelFor((pairs + block - 1) / block, perWorker: 4) { r in
            let buffer = Storage(count: 16 * block)
            let t = buffer.pointer
            for blockIndex in r {
                let p0 = blockIndex * block, count = Swift.min(block, pairs - p0)
                for j in 0..<count {
                    let p = p0 + j
                    let g0: SIMD4<Float>, g1: SIMD4<Float>, g2: SIMD4<Float>
                    if turned {
                        // Kernel (out a, in b) is the given kernel (out b, in a) turned half a turn.
                        let g = w + ((p % s.cin) * s.cout + p / s.cin) * 9
                        g0 = SIMD4(g[8], g[7], g[6], 0); g1 = SIMD4(g[5], g[4], g[3], 0); g2 = SIMD4(g[2], g[1], g[0], 0)
                    } else {
                        let g = w + p * 9
                        g0 = SIMD4(g[0], g[1], g[2], 0); g1 = SIMD4(g[3], g[4], g[5], 0); g2 = SIMD4(g[6], g[7], g[8], 0)
                    }
                    // G g: rows (g0, (g0 + g1 + g2)/2, (g0 − g1 + g2)/2, g2), each a row of 3 (the 4th lane unused).
                    func store(_ i: Int, _ row: SIMD4<Float>) {
                        // The same on the columns.
                        t[(4 * i) * block + j] = row.x
                        t[(4 * i + 1) * block + j] = 0.5 * (row.x + row.y + row.z)
                        t[(4 * i + 2) * block + j] = 0.5 * (row.x - row.y + row.z)
                        t[(4 * i + 3) * block + j] = row.z
                    }
                    store(0, g0); store(1, 0.5 * (g0 + g1 + g2)); store(2, 0.5 * (g0 - g1 + g2)); store(3, g2)
                }
                for xi in 0..<16 { (u + xi * pairs + p0).update(from: t + xi * block, count: count) }
            }
            withExtendedLifetime(buffer) {}   // used through its pointer only
        }
    }

    /// V = Bᵀ d B for every input tile d (4×4, zero outside the image), laid out [16][cin][tiles].
    /// A row of tiles at a time, every step a loop over the tiles of the row (contiguous, vectorised): tile tx
    /// reads columns 2tx − 1 … 2tx + 2, the even and odd ones split apart first (e[j] = column 2j − 1, o[j] =
    /// column 2j), so that Bᵀ's column combinations become e[tx] − e[tx+1], o[tx] + e[tx+1], e[tx+1] − o[tx],
    /// o[tx] − o[tx+1].
    func transformInput(_ x: UnsafePointer<Float>, _ v: UnsafeMutablePointer<Float>) {
        let plane = s.h * s.w, stride = s.cin * tiles, span = tw + 1
        let rowCombinations: [(Int, Int, Float)] = [(0, 2, -1), (1, 2, 1), (2, 1, -1), (1, 3, -1)]
        parallelFor(s.batch * s.cin, grain: 4) { r in
            let scratch = Storage(count: 10 * span)
            let e = scratch.pointer, o = e + 4 * span, ei = e + 8 * span, oi = e + 9 * span
            for bc in r {
                let b = bc / s.cin, c = bc % s.cin
                let src = x + bc * plane
                let dst = v + c * tiles + b * th * tw
                for ty in 0..<th {
                    // The four input rows of this row of tiles, split into even and odd columns.
                    for k in 0..<4 {
                        let y = 2 * ty - 1 + k, ek = e + k * span, ok = o + k * span
                        if y < 0 || y >= s.h { ek.update(repeating: 0, count: span); ok.update(repeating: 0, count: span); continue }
                        let line = src + y * s.w
                        for j in 0..<span {
                            let xe = 2 * j - 1, xo = 2 * j
                            ek[j] = xe >= 0 && xe < s.w ? line[xe] : 0
                            ok[j] = xo < s.w ? line[xo] : 0
                        }
                    }
                    // Bᵀ d on the rows: (d0 − d2, d1 + d2, d2 − d1, d1 − d3); then the columns.
                    for (i, (p, q, sign)) in rowCombinations.enumerated() {
                        for j in 0..<span {
                            ei[j] = e[p * span + j] + sign * e[q * span + j]
                            oi[j] = o[p * span + j] + sign * o[q * span + j]
                        }
                        let n0 = ty * tw
                        let v0 = dst + (4 * i) * stride + n0, v1 = dst + (4 * i + 1) * stride + n0
                        let v2 = dst + (4 * i + 2) * stride + n0, v3 = dst + (4 * i + 3) * stride + n0
                        for t in 0..<tw {
                            v0[t] = ei[t] - ei[t + 1]
                            v1[t] = oi[t] + ei[t + 1]
                            v2[t] = ei[t + 1] - oi[t]
                            v3[t] = oi[t] - oi[t + 1]
                        }
                    }
                }
            }
            withExtendedLifetime(scratch) {}   // used through its pointer only
        }
    }

    /// Y = Aᵀ m A for every tile of the products m ([16][cout][tiles]), plus the bias, into y [N, Cout, oh, ow].
    /// A row of tiles at a time, as the input transform: the even and odd output columns of each output row
    /// come out of loops over the tiles, then are interleaved.
    func transformOutput(_ m: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>) {
        let stride = s.cout * tiles
        parallelFor(s.batch * s.cout, grain: 4) { r in
            let scratch = Storage(count: 6 * tw)
            let even = scratch.pointer, odd = even + tw, q = even + 2 * tw
            for bo in r {
                let b = bo / s.cout, o = bo % s.cout
                let src = m + o * tiles + b * th * tw
                let dst = y + bo * s.ohw
                let add = bias?[o] ?? 0
                for ty in 0..<th {
                    let n0 = ty * tw
                    for i in 0..<2 {
                        let oy = 2 * ty + i
                        if oy >= s.oh { continue }
                        // Aᵀ m on the rows: (m0 + m1 + m2, m1 − m2 − m3), for each of the 4 columns j.
                        for j in 0..<4 {
                            let m0 = src + j * stride + n0, m1 = src + (4 + j) * stride + n0
                            let m2 = src + (8 + j) * stride + n0, m3 = src + (12 + j) * stride + n0
                            let qj = q + j * tw
                            if i == 0 { for t in 0..<tw { qj[t] = m0[t] + m1[t] + m2[t] } } else { for t in 0..<tw { qj[t] = m1[t] - m2[t] - m3[t] } }
                        }
                        // Then the columns: (q0 + q1 + q2, q1 − q2 − q3).
                        let q0 = q, q1 = q + tw, q2 = q + 2 * tw, q3 = q + 3 * tw
                        for t in 0..<tw {
                            even[t] = q0[t] + q1[t] + q2[t] + add
                            odd[t] = q1[t] - q2[t] - q3[t] + add
                        }
                        let out = dst + oy * s.ow
                        for t in 0..<tw {
                            out[2 * t] = even[t]
                            if 2 * t + 1 < s.ow { out[2 * t + 1] = odd[t] }
                        }
                    }
                }
            }
            withExtendedLifetime(scratch) {}   // used through its pointer only
        }
    }

    /// y = conv2d(x, w) + bias for the whole batch: three transforms and 16 GEMMs [cout × cin] · [cin × tiles].
    /// `turned`: w is the kernels [cin, cout, 3, 3] of the convolution this one is the input gradient of, each
    /// to be turned half a turn with in and out swapped (dX = conv2d(dY, turned w)).
    func forward(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?, _ y: UnsafeMutablePointer<Float>,
                 turned: Bool = false) {
        let u = Storage(count: 16 * s.cout * s.cin), v = Storage(count: 16 * s.cin * tiles), m = Storage(count: 16 * s.cout * tiles)
        transformWeights(w, u.pointer, turned: turned)
        transformInput(x, v.pointer)
        // The 16 products shared among the workers, each on one thread (its blocks the same at any thread count).
        parallelFor(16, perWorker: 1) { r in
            for xi in r {
                gemm(m: s.cout, n: tiles, k: s.cin, a: u.pointer + xi * s.cout * s.cin, lda: s.cin,
                     b: v.pointer + xi * s.cin * tiles, ldb: tiles, c: m.pointer + xi * s.cout * tiles, ldc: tiles, parallel: false)
            }
        }
        transformOutput(m.pointer, bias, y)
        withExtendedLifetime((u, v, m)) {}   // used through their pointers only
    }
}
