import Foundation
import DreamTensor

/// Distribution metrics on feature vectors (rows of [N, D] tensors), in Double: Fréchet distance,
/// precision/recall (Kynkäänniemi et al. 2019), density/coverage (Naeem et al. 2020), nearest distances.
public enum Metrics {
    /// Rows of a [N, D] tensor as Double vectors.
    static func rows(_ t: Tensor) throws -> [[Double]] {
        try require(t.rank == 2, "features must be [N, D], got \(shapeString(t.shape))")
        let (n, d) = (t.shape[0], t.shape[1])
        return (0..<n).map { i in (0..<d).map { Double(t.pointer[i * d + $0]) } }
    }

    /// Feature rows in one flat Double array (row-major), for the neighbourhood metrics.
    public struct Points {
        public let n: Int, d: Int
        let x: [Double]
        public init(_ t: Tensor) throws {
            try require(t.rank == 2, "features must be [N, D], got \(shapeString(t.shape))")
            n = t.shape[0]; d = t.shape[1]
            x = (0..<(n * d)).map { Double(t.pointer[$0]) }
        }
    }

    /// Pairwise Euclidean distances, a.n × b.n row-major, rows computed in parallel.
    static func distances(_ a: Points, _ b: Points) -> [Double] {
        var out = [Double](repeating: 0, count: a.n * b.n)
        let d = a.d
        out.withUnsafeMutableBufferPointer { o in
            let po = o.baseAddress!
            a.x.withUnsafeBufferPointer { pa in
                b.x.withUnsafeBufferPointer { pb in
                    parallelFor(a.n, grain: 8) { rows in
                        for i in rows {
                            let ra = pa.baseAddress! + i * d
                            for j in 0..<b.n {
                                let rb = pb.baseAddress! + j * d
                                var s = 0.0
                                for k in 0..<d { let t = ra[k] - rb[k]; s += t * t }
                                po[i * b.n + j] = s.squareRoot()
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Distance from each point to its k-th nearest other point of the same set.
    public static func kthNeighbourRadii(_ x: Points, k: Int) throws -> [Double] {
        try require(x.n > k, "k-nearest-neighbour balls need more than k = \(k) points, got \(x.n)")
        let dist = distances(x, x)
        return (0..<x.n).map { i in
            // The k smallest distances to other points, kept sorted (k is small).
            var best = [Double](repeating: .infinity, count: k)
            for j in 0..<x.n where j != i {
                let v = dist[i * x.n + j]
                if v < best[k - 1] {
                    var p = k - 1
                    while p > 0 && best[p - 1] > v { best[p] = best[p - 1]; p -= 1 }
                    best[p] = v
                }
            }
            return best[k - 1]
        }
    }

    /// Fréchet distance between Gaussians fitted to the two sets: ‖μ₁−μ₂‖² + Tr(Σ₁ + Σ₂ − 2(Σ₁Σ₂)^½).
    public static func frechetDistance(_ a: Tensor, _ b: Tensor) throws -> Double {
        let x = try rows(a), y = try rows(b)
        try require(x.count >= 2 && y.count >= 2, "Fréchet distance needs at least 2 points per set")
        try require(x[0].count == y[0].count, "feature widths differ: \(x[0].count) vs \(y[0].count)")
        let (m1, c1) = meanCov(x), (m2, c2) = meanCov(y)
        var diff = 0.0
        for i in 0..<m1.count { diff += (m1[i] - m2[i]) * (m1[i] - m2[i]) }
        // Tr (Σ₁Σ₂)^½ = Σ √λ of the symmetric PSD matrix Σ₁^½ Σ₂ Σ₁^½.
        let s1 = symmetricSqrt(c1)
        let m = matmul(matmul(s1, c2), s1)
        let traceSqrt = symmetricEigenvalues(m).reduce(0) { $0 + max($1, 0).squareRoot() }
        var tr = 0.0
        for i in 0..<c1.count { tr += c1[i][i] + c2[i][i] }
        return max(0, diff + tr - 2 * traceSqrt)
    }

    /// Precision and recall with k-NN manifolds: the fraction of fake points inside some real point's
    /// k-NN ball, and of real points inside some fake point's ball. `realRadii` may be passed when known.
    public static func precisionRecall(real: Tensor, fake: Tensor, k: Int = 5, realRadii: [Double]? = nil) throws -> (precision: Double, recall: Double) {
        let r = try Points(real), f = try Points(fake)
        try require(r.d == f.d, "feature widths differ: \(r.d) vs \(f.d)")
        let rr = try realRadii ?? kthNeighbourRadii(r, k: k), fr = try kthNeighbourRadii(f, k: k)
        let d = distances(f, r)
        let precision = Double((0..<f.n).filter { j in (0..<r.n).contains { i in d[j * r.n + i] <= rr[i] } }.count) / Double(f.n)
        let recall = Double((0..<r.n).filter { i in (0..<f.n).contains { j in d[j * r.n + i] <= fr[j] } }.count) / Double(r.n)
        return (precision, recall)
    }

    /// Density and coverage: how many real k-NN balls hold each fake point on average (÷ k), and the
    /// fraction of real balls that hold at least one fake point.
    public static func densityCoverage(real: Tensor, fake: Tensor, k: Int = 5, realRadii: [Double]? = nil) throws -> (density: Double, coverage: Double) {
        let r = try Points(real), f = try Points(fake)
        try require(r.d == f.d, "feature widths differ: \(r.d) vs \(f.d)")
        let rr = try realRadii ?? kthNeighbourRadii(r, k: k)
        let d = distances(f, r)
        var inside = 0
        var covered = [Bool](repeating: false, count: r.n)
        for j in 0..<f.n { for i in 0..<r.n where d[j * r.n + i] <= rr[i] { inside += 1; covered[i] = true } }
        return (Double(inside) / Double(k * f.n), Double(covered.filter { $0 }.count) / Double(r.n))
    }

    /// Mean distance from each point of `a` to its nearest point of `b`.
    public static func meanNearestDistance(_ a: Tensor, to b: Tensor) throws -> Double {
        let x = try Points(a), y = try Points(b)
        try require(x.n > 0 && y.n > 0, "nearest distance needs points in both sets")
        let d = distances(x, y)
        return (0..<x.n).map { i in (0..<y.n).map { d[i * y.n + $0] }.min()! }.reduce(0, +) / Double(x.n)
    }

    // MARK: Small dense linear algebra (feature widths are in the hundreds)

    static func meanCov(_ x: [[Double]]) -> ([Double], [[Double]]) {
        let n = Double(x.count), d = x[0].count
        var mu = [Double](repeating: 0, count: d)
        for r in x { for i in 0..<d { mu[i] += r[i] / n } }
        var c = [[Double]](repeating: [Double](repeating: 0, count: d), count: d)
        for r in x {
            for i in 0..<d { let a = r[i] - mu[i]; for j in i..<d { c[i][j] += a * (r[j] - mu[j]) } }
        }
        for i in 0..<d { for j in i..<d { c[i][j] /= (n - 1); c[j][i] = c[i][j] } }   // unbiased, as numpy.cov
        return (mu, c)
    }

    static func matmul(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        let n = a.count, m = b[0].count, k = b.count
        var c = [[Double]](repeating: [Double](repeating: 0, count: m), count: n)
        for i in 0..<n { for p in 0..<k where a[i][p] != 0 { let v = a[i][p]; for j in 0..<m { c[i][j] += v * b[p][j] } } }
        return c
    }

    /// Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations: (eigenvalues, eigenvectors as columns).
    static func jacobi(_ s: [[Double]]) -> ([Double], [[Double]]) {
        let n = s.count
        var a = s.flatMap { $0 }
        var v = (0..<(n * n)).map { $0 / n == $0 % n ? 1.0 : 0.0 }
        a.withUnsafeMutableBufferPointer { ab in
            v.withUnsafeMutableBufferPointer { vb in
                let a = ab.baseAddress!, v = vb.baseAddress!
                for _ in 0..<100 {
                    var off = 0.0
                    for i in 0..<n { for j in (i + 1)..<max(n, i + 1) { off += a[i * n + j] * a[i * n + j] } }
                    if off < 1e-22 { break }
                    for p in 0..<n {
                        for q in (p + 1)..<max(n, p + 1) where abs(a[p * n + q]) > 1e-300 {
                            let theta = (a[q * n + q] - a[p * n + p]) / (2 * a[p * n + q])
                            let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                            let c = 1 / (t * t + 1).squareRoot(), sn = t * c
                            for k in 0..<n {
                                let akp = a[k * n + p], akq = a[k * n + q]
                                a[k * n + p] = c * akp - sn * akq; a[k * n + q] = sn * akp + c * akq
                            }
                            for k in 0..<n {
                                let apk = a[p * n + k], aqk = a[q * n + k]
                                a[p * n + k] = c * apk - sn * aqk; a[q * n + k] = sn * apk + c * aqk
                            }
                            for k in 0..<n {
                                let vkp = v[k * n + p], vkq = v[k * n + q]
                                v[k * n + p] = c * vkp - sn * vkq; v[k * n + q] = sn * vkp + c * vkq
                            }
                        }
                    }
                }
            }
        }
        return ((0..<n).map { a[$0 * n + $0] }, (0..<n).map { i in Array(v[(i * n)..<(i * n + n)]) })
    }

    static func symmetricEigenvalues(_ s: [[Double]]) -> [Double] { jacobi(s).0 }

    /// The PSD square root V diag(√max(λ, 0)) Vᵀ.
    static func symmetricSqrt(_ s: [[Double]]) -> [[Double]] {
        let (l, v) = jacobi(s)
        let n = s.count
        var r = [[Double]](repeating: [Double](repeating: 0, count: n), count: n)
        for k in 0..<n {
            let w = max(l[k], 0).squareRoot()
            if w == 0 { continue }
            for i in 0..<n { let vi = v[i][k] * w; for j in 0..<n { r[i][j] += vi * v[j][k] } }
        }
        return r
    }
}
