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

    static func distance(_ a: [Double], _ b: [Double]) -> Double {
        var s = 0.0
        for i in 0..<a.count { let d = a[i] - b[i]; s += d * d }
        return s.squareRoot()
    }

    /// Pairwise Euclidean distances [a.count][b.count].
    static func distances(_ a: [[Double]], _ b: [[Double]]) -> [[Double]] {
        a.map { x in b.map { distance(x, $0) } }
    }

    /// Distance from each point to its k-th nearest other point of the same set.
    static func kthNeighbourRadii(_ x: [[Double]], k: Int) throws -> [Double] {
        try require(x.count > k, "k-nearest-neighbour balls need more than k = \(k) points, got \(x.count)")
        let d = distances(x, x)
        return d.enumerated().map { i, row in
            var r = row; r.remove(at: i); r.sort()
            return r[k - 1]
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
    /// k-NN ball, and of real points inside some fake point's ball.
    public static func precisionRecall(real: Tensor, fake: Tensor, k: Int = 5) throws -> (precision: Double, recall: Double) {
        let r = try rows(real), f = try rows(fake)
        let rr = try kthNeighbourRadii(r, k: k), fr = try kthNeighbourRadii(f, k: k)
        let d = distances(f, r)
        let precision = Double(f.indices.filter { j in r.indices.contains { i in d[j][i] <= rr[i] } }.count) / Double(f.count)
        let recall = Double(r.indices.filter { i in f.indices.contains { j in d[j][i] <= fr[j] } }.count) / Double(r.count)
        return (precision, recall)
    }

    /// Density and coverage: how many real k-NN balls hold each fake point on average (÷ k), and the
    /// fraction of real balls that hold at least one fake point.
    public static func densityCoverage(real: Tensor, fake: Tensor, k: Int = 5) throws -> (density: Double, coverage: Double) {
        let r = try rows(real), f = try rows(fake)
        let rr = try kthNeighbourRadii(r, k: k)
        let d = distances(f, r)
        var inside = 0
        var covered = [Bool](repeating: false, count: r.count)
        for j in f.indices { for i in r.indices where d[j][i] <= rr[i] { inside += 1; covered[i] = true } }
        return (Double(inside) / Double(k * f.count), Double(covered.filter { $0 }.count) / Double(r.count))
    }

    /// Mean distance from each point of `a` to its nearest point of `b`.
    public static func meanNearestDistance(_ a: Tensor, to b: Tensor) throws -> Double {
        let x = try rows(a), y = try rows(b)
        try require(!x.isEmpty && !y.isEmpty, "nearest distance needs points in both sets")
        return x.map { p in y.map { distance(p, $0) }.min()! }.reduce(0, +) / Double(x.count)
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
        var a = s
        let n = a.count
        var v = (0..<n).map { i in (0..<n).map { $0 == i ? 1.0 : 0.0 } }
        for _ in 0..<100 {
            var off = 0.0
            for i in 0..<n { for j in (i + 1)..<max(n, i + 1) { off += a[i][j] * a[i][j] } }
            if off < 1e-22 { break }
            for p in 0..<n {
                for q in (p + 1)..<max(n, p + 1) where abs(a[p][q]) > 1e-300 {
                    let theta = (a[q][q] - a[p][p]) / (2 * a[p][q])
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), sn = t * c
                    for k in 0..<n {
                        let akp = a[k][p], akq = a[k][q]
                        a[k][p] = c * akp - sn * akq; a[k][q] = sn * akp + c * akq
                    }
                    for k in 0..<n {
                        let apk = a[p][k], aqk = a[q][k]
                        a[p][k] = c * apk - sn * aqk; a[q][k] = sn * apk + c * aqk
                    }
                    for k in 0..<n {
                        let vkp = v[k][p], vkq = v[k][q]
                        v[k][p] = c * vkp - sn * vkq; v[k][q] = sn * vkp + c * vkq
                    }
                }
            }
        }
        return ((0..<n).map { a[$0][$0] }, v)
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
