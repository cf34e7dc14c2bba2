import Foundation
import XCTest
import DreamIO
import DreamTestSupport
import DreamTensor
import DreamModels
import DreamDiffusion
import DreamWorld
import DreamAssets
@testable import DreamMethod

/// The references' manifold (pooled latents and one radius) against hand-computed values, and sampling with
/// redraws against the same draws made one by one.
final class ReferenceManifoldTests: XCTestCase {
    /// Latents [n, 1, h, w] with value f(i, y, x).
    func latents(_ n: Int, _ h: Int, _ w: Int, _ f: (Int, Int, Int) -> Float) throws -> Tensor {
        var v: [Float] = []
        for i in 0..<n { for y in 0..<h { for x in 0..<w { v.append(f(i, y, x)) } } }
        return try Tensor(v, shape: [n, 1, h, w])
    }

    func testPoolingRadiusAndNearestMatchAHandComputation() throws {
        // Reference 0 holds its column index, 1 is all 1, 2 all 3, on a 4 × 8 latent: cells of 1 row × 2 columns.
        let refs = try latents(3, 4, 8) { i, _, x in i == 0 ? Float(x) : (i == 1 ? 1 : 3) }
        let mf = try XCTUnwrap(try ReferenceManifold(latents: refs))
        let row0: [Float] = [0.5, 2.5, 4.5, 6.5]
        XCTAssertEqual(Array(mf.features.scalars[0..<16]), row0 + row0 + row0 + row0)
        XCTAssertEqual(Array(mf.features.scalars[16..<32]), [Float](repeating: 1, count: 16))
        // d(0, 1)² = 4 · (0.25 + 2.25 + 12.25 + 30.25) = 180, d(0, 2)² = 4 · (6.25 + 0.25 + 2.25 + 12.25) = 84,
        // d(1, 2)² = 16 · 4 = 64. With 3 references the radius takes each one's second nearest (its farthest)
        // other: 180, 180, 84; the largest, √180.
        XCTAssertEqual(mf.radius, Float(180).squareRoot(), accuracy: 1e-5)
        // Four references, each all one value (0, 1, 3, 7) on a 4 × 4 latent: pooled distances are 4 × the
        // values' differences. Third nearest others: 7, 6, 4, 7 (× 4); the radius is 28 (the nearest would give 16).
        let four = try XCTUnwrap(try ReferenceManifold(latents: try latents(4, 4, 4) { i, _, _ in [0, 1, 3, 7][i] }))
        XCTAssertEqual(four.radius, 28, accuracy: 1e-4)
        // Two references: the one other.
        let two = try XCTUnwrap(try ReferenceManifold(latents: try latents(2, 4, 4) { i, _, _ in Float(i) }))
        XCTAssertEqual(two.radius, 4, accuracy: 1e-5)
        // A latent all 2 is 4 from references 1 and 2; one like reference 0 plus 1 everywhere is 4 from it.
        let q = try latents(2, 4, 8) { i, _, x in i == 0 ? 2 : Float(x) + 1 }
        let near = try mf.nearest(q)
        XCTAssertEqual(near[0], 4, accuracy: 1e-5)
        XCTAssertEqual(near[1], 4, accuracy: 1e-5)
        // Uneven cells: 5 rows pool as [0, 1), [1, 2), [2, 3), [3, 5).
        let tall = try ReferenceManifold.pooled(try latents(1, 5, 4) { _, y, _ in Float(y) })
        XCTAssertEqual(Array(tall.scalars[0..<16]), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3.5, 3.5, 3.5, 3.5])
        // One reference gives no radius; a mix holds every reference and the larger radius.
        XCTAssertNil(try ReferenceManifold(latents: try latents(1, 4, 4) { _, _, _ in 0 }))
        let other = ReferenceManifold(features: try Tensor(zeros: [2, 16]), radius: 20)
        let both = try XCTUnwrap(try ReferenceManifold.union([mf, other]))
        XCTAssertEqual(both.features.shape, [5, 16])
        XCTAssertEqual(both.radius, 20)
    }

    /// With every draw outside (radius 0), each image keeps the nearest of its 1 + redraws draws, the draws
    /// being exactly plain sampling at the first seed and at each round's seed; with every draw inside, the
    /// images are plain sampling's, bit for bit.
    func testRedrawsKeepEachImagesNearestDraw() throws {
        let sd = try StableDiffusion(path: Assets.builtinModel)
        let h = try concatenate([sd.encode("a red cone"), sd.encode("a blue torus on a dark background")], axis: 0)
        var d = try EncodedDistribution(prompts: h, weights: [0.5, 0.5])
        var o = GenerationOptions(for: sd)
        o.steps = 2; o.seed = 9
        let n = 3, redraws = 2
        let plain = try sd.sample(d, n: n, gamma: 1, o)
        XCTAssertEqual(try sd.sample(d, n: n, gamma: 1, redraws: redraws, o).scalars, plain.scalars, "no manifold: plain sampling")
        // The manifold of one gray-ish point the draws never reach.
        let target = try Tensor(repeating: 0.3, shape: [1, sd.vae.latentChannels, 16, 16])
        d.manifold = ReferenceManifold(features: try ReferenceManifold.pooled(target), radius: 0)
        let blank = try sd.encode("")
        var tries: [(Tensor, [Float])] = []
        for round in 0...redraws {
            var oi = o
            oi.seed = round == 0 ? o.seed : Seeds.stream(o.seed, .redraws, index: round)
            let z = try sd.sampleLatents(conditions: d.conditions(n: n, gamma: 1, seed: oi.seed), unconditional: blank, oi)
            tries.append((z, try d.manifold!.nearest(z * sd.vae.scalingFactor)))
        }
        var rows: [Tensor] = []
        for i in 0..<n {
            let best = (0...redraws).min { tries[$0].1[i] < tries[$1].1[i] }!
            rows.append(try tries[best].0.sliced(axis: 0, start: i, end: i + 1))
        }
        let expected = try sd.decode(latents: concatenate(rows, axis: 0))
        XCTAssertEqual(try sd.sample(d, n: n, gamma: 1, redraws: redraws, o).scalars, expected.scalars)
        XCTAssertEqual(try sd.decode(latents: tries[0].0).scalars, plain.scalars, "the first draw is plain sampling's")
        d.manifold = ReferenceManifold(features: try ReferenceManifold.pooled(target), radius: .infinity)
        XCTAssertEqual(try sd.sample(d, n: n, gamma: 1, redraws: redraws, o).scalars, plain.scalars, "every draw inside")
    }

    /// Learning keeps its references' manifold (the references' own pooled latents), a file holds it bit for bit,
    /// and editing the text drops it (new words are meant to draw what the references do not show).
    func testLearningSavesAndEditingTheManifold() throws {
        let sd = try StableDiffusion(path: Assets.builtinModel)
        let refs = try Renderer.render(World.scenes(n: 3, seed: 0, concept: World.concept("cones")!), size: 64)
        let z = try sd.referenceLatents(refs, size: 64)
        var s = LearningSettings()
        s.prompts = 2; s.steps = 1; s.objective = .compete; s.seed = 1
        let l = try sd.learn(latents: z, s)
        let mf = try XCTUnwrap(l.dist.manifold)
        XCTAssertEqual(mf.features.scalars, try ReferenceManifold.pooled(z).scalars)
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("d.safetensors").path
        try DistributionFile.save(SavedDistribution(sd: sd, learned: l, encoded: try l.dist.encoded(sd)), to: path)
        let back = try DistributionFile.load(try SafeTensorsFile(path: path)) { _ in sd }
        XCTAssertEqual(back.encoded.manifold?.features.scalars, mf.features.scalars)
        XCTAssertEqual(back.encoded.manifold?.radius, mf.radius)
        XCTAssertEqual(back.learned?.dist.manifold?.radius, mf.radius)
        XCTAssertNotNil(try l.edited(sd, prefix: nil, suffix: nil).dist.manifold, "the same text keeps it")
        XCTAssertNil(try l.edited(sd, prefix: "a red", suffix: nil).dist.manifold, "new text drops it")
    }
}
