import XCTest
@testable import NeRF

/// The renderer's reverse mode against central finite differences, and the whole fitting loop against a
/// known answer: with the score replaced by an image loss to renders of a known field, the fitted field
/// must reproduce views it was never shown exactly.
final class RenderGradientTests: XCTestCase {
    func randomField(_ r: Int, seed: UInt64) -> Field {
        var rng = SplitMix(seed: seed)
        var f = Field(blobResolution: r, amplitude: 4, radius: 0.9)
        for i in f.values.indices { f.values[i] += 2 * rng.uniform() - 1 }
        return f
    }

    /// L(field, background) = ⟨w, render⟩ for a fixed random w: its directional derivatives along random
    /// directions, by central differences in Double-free Float arithmetic (step 1e-2, where rounding and
    /// curvature errors are both small against the derivative), match the backward pass to 1%.
    func testBackwardMatchesFiniteDifferences() {
        let size = 10, renderer = VolumeRenderer(samples: 24)
        var rng = SplitMix(seed: 3)
        let field = randomField(7, seed: 1)
        let background: [Float] = [0.3, -0.2, 0.1, 0.5, -0.4, 0.2]
        let w = (0..<3 * size * size).map { _ in rng.uniform() - 0.5 }
        for (k, camera) in [Camera(azimuth: 0.3, elevation: 0.2), Camera(azimuth: 2.5, elevation: 1.1)].enumerated() {
            let offsets = (0..<size * size).map { _ in rng.uniform() }
            func loss(_ f: Field, _ b: [Float]) -> Double {
                zip(renderer.render(f, background: b, camera: camera, size: size, offsets: offsets), w).reduce(0) { $0 + Double($1.0 * $1.1) }
            }
            var gField = [Float](repeating: 0, count: field.values.count), gBackground = [Float](repeating: 0, count: 6)
            renderer.backward(field, background: background, camera: camera, size: size, offsets: offsets, cotangent: w,
                              fieldGradient: &gField, backgroundGradient: &gBackground)
            for trial in 0..<3 {
                let dv = (0..<field.values.count).map { _ in rng.uniform() - 0.5 }, db = (0..<6).map { _ in rng.uniform() - 0.5 }
                let h: Float = 1e-2
                var plus = field, minus = field
                for i in dv.indices { plus.values[i] += h * dv[i]; minus.values[i] -= h * dv[i] }
                let bPlus = zip(background, db).map { $0 + h * $1 }, bMinus = zip(background, db).map { $0 - h * $1 }
                let numeric = (loss(plus, bPlus) - loss(minus, bMinus)) / Double(2 * h)
                let analytic = zip(gField, dv).reduce(0.0) { $0 + Double($1.0 * $1.1) } + zip(gBackground, db).reduce(0.0) { $0 + Double($1.0 * $1.1) }
                XCTAssertEqual(analytic, numeric, accuracy: 0.01 * abs(numeric) + 1e-4, "camera \(k), direction \(trial)")
            }
        }
    }

    /// A reference field (a red box in the middle, opaque) rendered from the views each step draws; fitting
    /// a fresh field to those renders by the image loss must bring novel views (azimuths 45° apart, both
    /// elevations) close to the reference's: the mean absolute error falls to under a third of the start's.
    func testFittingToRendersOfAKnownFieldRecoversNovelViews() {
        let r = 12, size = 16
        var truth = Field(resolution: r, values: .init(repeating: -6, count: 4 * r * r * r))
        let plane = r * r * r
        for z in 0..<r { for y in 0..<r { for x in 0..<r {
            let i = (z * r + y) * r + x
            let inside = [x, y, z].allSatisfy { $0 >= 4 && $0 <= 7 }
            truth.values[i] = inside ? 8 : -6
            truth.values[plane + i] = 2; truth.values[2 * plane + i] = -2; truth.values[3 * plane + i] = -2
        } } }
        let background: [Float] = [0, 0, 0, 0, 0, 0]
        var d = Distillation()
        d.steps = 150; d.batch = 2; d.size = size; d.resolution = r; d.learningRate = 0.1; d.seed = 5
        d.renderer = VolumeRenderer(samples: 32)
        let novel = (0..<8).map { Camera(azimuth: Float($0) * .pi / 4 + 0.2, elevation: $0 % 2 == 0 ? 0.25 : 1.1) }
        func error(_ f: Field, _ b: [Float]) -> Float {
            var e: Float = 0
            for c in novel {
                let a = d.renderer.render(f, background: b, camera: c, size: size), t = d.renderer.render(truth, background: background, camera: c, size: size)
                e += zip(a, t).reduce(0) { $0 + abs($1.0 - $1.1) } / Float(a.count)
            }
            return e / Float(novel.count)
        }
        let before = error(Field(blobResolution: r), background)
        var steps: [Int] = []
        let out = d.run(score: { images, views, _ in
            var g = [Float]()
            for (i, v) in views.enumerated() {
                let target = d.renderer.render(truth, background: background, camera: v.camera, size: size)
                g += zip(images[(i * 3 * size * size)..<((i + 1) * 3 * size * size)], target).map { $0 - $1 }
            }
            return g
        }, progress: { steps.append($0); return true })
        XCTAssertEqual(steps, Array(1...150))
        XCTAssertEqual(out.completed, 150)
        let after = error(out.field, out.background)
        XCTAssertLessThan(after, before / 3, "novel-view error \(before) → \(after)")
    }

    /// Stopping through `progress` returns the field of the completed steps; the same seed gives the same field.
    func testStopsWhereToldAndIsDeterministic() {
        var d = Distillation()
        d.steps = 10; d.size = 8; d.resolution = 6; d.seed = 2
        let score: ([Float], [View], Int) -> [Float]? = { images, _, _ in images.map { $0 - 0.2 } }
        let a = d.run(score: score, progress: { $0 < 4 }), b = d.run(score: score, progress: { $0 < 4 })
        XCTAssertEqual(a.completed, 4)
        XCTAssertEqual(a.field.values, b.field.values)
        XCTAssertEqual(d.run(score: { i, v, s in s == 2 ? nil : score(i, v, s) }, progress: { _ in true }).completed, 2)
    }
}
