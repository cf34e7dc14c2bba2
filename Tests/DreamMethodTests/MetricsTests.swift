import XCTest
import DreamTestSupport
import DreamMethod
import DreamTensor

/// The distribution metrics against values computed by hand on small point sets.
final class MetricsTests: XCTestCase {
    func t(_ rows: [[Float]]) throws -> Tensor { try Tensor(rows.flatMap { $0 }, shape: [rows.count, rows[0].count]) }

    func testFrechetDistanceOfKnownGaussians() throws {
        // 1-D: {−1, 1} has mean 0, unbiased variance 2; {2, 6} mean 4, variance 8.
        // FID = (0 − 4)² + 2 + 8 − 2√(2·8) = 16 + 10 − 8 = 18.
        XCTAssertEqual(try Metrics.frechetDistance(t([[-1], [1]]), t([[2], [6]])), 18, accuracy: 1e-9)
        // 2-D, independent axes: sum of the 1-D distances. a: axis variances 2 and 2; b: 8 and 0.5 (±0.5).
        let a = try t([[-1, -1], [1, 1], [-1, 1], [1, -1]])          // var 4/3 per axis (n − 1 = 3), cov 0
        let b = try t([[2, 10], [6, 10], [2, 11], [6, 11]])          // means 4, 10.5; var 16/3 and 1/3, cov 0
        let expected = (0.0 - 4) * (0 - 4) + (0.0 - 10.5) * (0 - 10.5)
            + (4.0 / 3 + 16.0 / 3 - 2 * (4.0 / 3 * 16.0 / 3).squareRoot()) + (4.0 / 3 + 1.0 / 3 - 2 * (4.0 / 3 * 1.0 / 3).squareRoot())
        XCTAssertEqual(try Metrics.frechetDistance(a, b), expected, accuracy: 1e-9)
        // A correlated set against itself, and against a rotation of itself (same covariance spectrum).
        let c = try Tensor.randn([200, 6], seed: 1).matmul(Tensor.randn([6, 6], seed: 2)) + 0.5
        XCTAssertEqual(try Metrics.frechetDistance(c, c), 0, accuracy: 1e-8)
        // Correlated: x against 2x: ‖μ‖² + Tr(C + 4C − 2·2C) = ‖μ‖² + Tr C (exercises the matrix square root).
        var mu = [Double](repeating: 0, count: 6)
        for i in 0..<200 { for j in 0..<6 { mu[j] += Double(c.pointer[i * 6 + j]) / 200 } }
        var traceC = 0.0, muNorm = 0.0
        for j in 0..<6 {
            muNorm += mu[j] * mu[j]
            for i in 0..<200 { let d: Double = Double(c.pointer[i * 6 + j]) - mu[j]; traceC += d * d / 199 }
        }
        let expectedScaled: Double = muNorm + traceC
        XCTAssertEqual(try Metrics.frechetDistance(c, c * 2), expectedScaled, accuracy: 1e-6 * expectedScaled)
    }

    func testPrecisionRecallDensityCoverageByHand() throws {
        // Real points on a line 0, 1, 2, 10 with k = 1: radii (nearest other point) 1, 1, 1, 8.
        let real = try t([[0], [1], [2], [10]])
        // Fake points: 0.5 (inside balls of 0, 1), 5 (inside the ball of 10: |5 − 10| = 5 ≤ 8), 30 (nowhere).
        let fake = try t([[0.5], [5], [30]])
        let (p, r) = try Metrics.precisionRecall(real: real, fake: fake, k: 1)
        XCTAssertEqual(p, 2.0 / 3, accuracy: 1e-12)
        // Fake radii (k = 1): 4.5, 4.5, 25. Real points inside some fake ball: 0, 1, 2 (from 0.5), 10 (from 5 and 30).
        XCTAssertEqual(r, 1, accuracy: 1e-12)
        let (d, c) = try Metrics.densityCoverage(real: real, fake: fake, k: 1)
        // Balls holding fakes: 0.5 ∈ B(0), B(1) (|0.5 − 2| = 1.5 > 1, not B(2)); 5 ∈ B(10); 30 in none → 3 / (1·3).
        XCTAssertEqual(d, 1, accuracy: 1e-12)
        XCTAssertEqual(c, 0.75, accuracy: 1e-12)   // B(0), B(1), B(10) of 4
        XCTAssertEqual(try Metrics.meanNearestDistance(fake, to: real), (0.5 + 3 + 20) / 3, accuracy: 1e-12)
    }

    func testASetAgainstItselfIsFullyCoveredAtZeroFID() throws {
        let x = Tensor.randn([300, 8], seed: 3)
        let (d, c) = try Metrics.densityCoverage(real: x, fake: x, k: 5)
        XCTAssertEqual(c, 1)
        XCTAssertGreaterThanOrEqual(d, 1)   // every point is in its own ball and k others' on average
        let (p, r) = try Metrics.precisionRecall(real: x, fake: x, k: 5)
        XCTAssertEqual(p, 1); XCTAssertEqual(r, 1)
        XCTAssertEqual(try Metrics.frechetDistance(x, x), 0, accuracy: 1e-8)
        // A shifted copy is still covered at small FID... a far one is not.
        let far = try x + 100
        XCTAssertEqual(try Metrics.densityCoverage(real: x, fake: far, k: 5).coverage, 0)
        XCTAssertEqual(try Metrics.frechetDistance(x, far), 8 * 100 * 100, accuracy: 1e-3)
    }
}
