import Foundation
import XCTest
import DreamTestSupport
import DreamWorld
import DreamTensor

/// The renderer's determinism and the visible effect of each attribute, measured on pixels.
final class WorldTests: XCTestCase {
    func testScenesAndImagesAreDeterministicPerSeed() throws {
        let a = try World.scenes(n: 6, seed: 11), b = try World.scenes(n: 6, seed: 11), c = try World.scenes(n: 6, seed: 12)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertEqual(try World.scenes(n: 3, seed: 11), Array(a.prefix(3)), "scene i depends only on (seed, i)")
        let one = try ExecutionContext(threads: 1).run { try Renderer.render(a, size: 32).scalars }
        XCTAssertEqual(one, try ExecutionContext(threads: 2).run { try Renderer.render(a, size: 32).scalars })
    }

    func testConstraintsAreRespectedAndCheckedAndCaptionsFollowTheOrder() throws {
        let cones = try World.scenes(n: 50, seed: 1, concept: World.concept("cones")!)
        XCTAssertTrue(cones.allSatisfy { $0[.shape] == "cone" && $0[.background] == "dark" })
        XCTAssertEqual(Set(cones.map { $0[.color] }).count, 8, "free attributes take all their values")
        XCTAssertThrowsError(try World.scenes(n: 1, seed: 1, constraints: [.shape: ["pyramid"]])) {
            XCTAssertTrue("\($0)".contains("shape has no value 'pyramid'"), "\($0)")
        }
        let s = try World.scenes(n: 1, seed: 5, constraints: [.size: ["small"], .color: ["red"], .pattern: ["striped"], .material: ["metal"],
                                                              .shape: ["torus"], .background: ["sunset"], .view: ["above"]])[0]
        XCTAssertEqual(s.caption, "a small red striped metal torus on a sunset background, seen from above")
        XCTAssertEqual(World.concepts.map(\.name), ["shiny-warm", "striped-round", "small-cool-cubes", "sunset", "cones", "purple-things",
                                                    "toy-box", "two-styles", "sea-and-sand"])
    }

    /// Object pixels: those differing clearly from the background colour at the image's corner rows.
    func objectMask(_ img: Tensor, _ i: Int, size: Int) -> [Bool] {
        let plane = size * size, base = img.pointer + i * 3 * plane
        return (0..<plane).map { k in
            // The leftmost pixel of the same row: background (at that height, for the sunset gradient)
            // unless the object is huge.
            // The ground shadow only darkens the background, so a pixel that is the background colour
            // scaled by some factor (least squares) is not the object.
            let corner = (k / size) * size
            var pc: Float = 0, cc: Float = 1e-6
            for c in 0..<3 { pc += base[c * plane + k] * base[c * plane + corner]; cc += base[c * plane + corner] * base[c * plane + corner] }
            let scale = min(max(pc / cc, 0.3), 1)
            var d: Float = 0
            for c in 0..<3 { d += abs(base[c * plane + k] - scale * base[c * plane + corner]) }
            return d > 0.12
        }
    }

    func hue(_ r: Float, _ g: Float, _ b: Float) -> Float {
        let mx = max(r, g, b), mn = min(r, g, b), d = mx - mn
        if d < 1e-4 { return 0 }
        var h: Float
        if mx == r { h = (g - b) / d } else if mx == g { h = 2 + (b - r) / d } else { h = 4 + (r - g) / d }
        h *= 60
        return h < 0 ? h + 360 : h
    }

    /// A plain matte sphere looks alike from any direction; its ground shadow tells the view: a flat
    /// ellipse below it from the side, a halo reaching above it from above.
    func testGroundShadowShowsTheViewOfASphere() throws {
        func shadowAboveCentre(_ view: String) throws -> Int {
            var scenes = try World.scenes(n: 1, seed: 2, constraints: [.shape: ["sphere"], .pattern: ["solid"], .material: ["matte"],
                                                                       .background: ["gray"], .size: ["large"], .view: [view]])
            scenes[0].offset = (0, 0)
            let img = try Renderer.render(scenes, size: 64), plane = 64 * 64
            let obj = objectMask(img, 0, size: 64)
            // Background pixels in the upper half clearly darker than the row's left edge: shadow.
            return (0..<(plane / 2)).filter { k in
                !obj[k] && img.pointer[k] < 0.9 * img.pointer[(k / 64) * 64]
            }.count
        }
        XCTAssertLessThanOrEqual(try shadowAboveCentre("side"), 3)
        XCTAssertGreaterThanOrEqual(try shadowAboveCentre("above"), 10)
    }

    func testColoursAppearAsTheirHues() throws {
        let expected: [String: Float] = ["red": 0, "orange": 30, "yellow": 55, "green": 120, "cyan": 185, "blue": 225, "purple": 280]
        for (color, h) in expected {
            let scenes = try World.scenes(n: 8, seed: 3, constraints: [.color: [color], .material: ["matte"], .pattern: ["solid"], .background: ["gray"]])
            let img = try Renderer.render(scenes, size: 32)
            var sx: Float = 0, sy: Float = 0
            for i in 0..<scenes.count {
                let m = objectMask(img, i, size: 32), plane = 32 * 32, base = img.pointer + i * 3 * plane
                for k in 0..<plane where m[k] {
                    let hh = hue(base[k], base[plane + k], base[2 * plane + k]) * .pi / 180
                    sx += cos(hh); sy += sin(hh)
                }
            }
            var mean = atan2(sy, sx) * 180 / .pi
            if mean < 0 { mean += 360 }
            let diff = min(abs(mean - h), 360 - abs(mean - h))
            XCTAssertLessThan(diff, 12, "\(color): mean object hue \(mean)°, expected about \(h)°")
        }
    }

    func testLargeObjectsCoverMorePixelsThanSmallOnes() throws {
        func coverage(_ size: String) throws -> Double {
            let scenes = try World.scenes(n: 40, seed: 4, constraints: [.size: [size], .background: ["dark"]])
            let img = try Renderer.render(scenes, size: 32)
            return (0..<40).map { Double(objectMask(img, $0, size: 32).filter { $0 }.count) }.reduce(0, +) / 40
        }
        let (large, small) = (try coverage("large"), try coverage("small"))
        XCTAssertGreaterThan(large, 2 * small, "large \(large) px vs small \(small) px")
    }

    func testBackgroundsAreDistinguishable() throws {
        for (bg, check) in [("gray", { (r: Float, g: Float, b: Float) in abs(r - g) < 0.05 && r > 0.4 && r < 0.7 }),
                            ("dark", { (r: Float, g: Float, b: Float) in r < 0.12 && g < 0.12 && b < 0.12 }),
                            ("sunset", { (r: Float, g: Float, b: Float) in r > g + 0.15 })] {
            let img = try Renderer.render(try World.scenes(n: 10, seed: 6, constraints: [.background: [bg], .size: ["small"]]), size: 32)
            let plane = 32 * 32
            for i in 0..<10 {
                let base = img.pointer + i * 3 * plane
                let k = 31 * 32   // bottom-left corner
                XCTAssertTrue(check(base[k], base[plane + k], base[2 * plane + k]), "\(bg) image \(i): corner \(base[k]), \(base[plane + k]), \(base[2 * plane + k])")
            }
        }
    }

    func testStripesAddHighFrequencyEnergy() throws {
        func energy(_ pattern: String) throws -> Double {
            let scenes = try World.scenes(n: 30, seed: 7, constraints: [.pattern: [pattern], .size: ["large"], .material: ["matte"], .background: ["gray"]])
            let img = try Renderer.render(scenes, size: 48)
            var total = 0.0, count = 0
            for i in 0..<30 {
                let m = objectMask(img, i, size: 48), base = img.pointer + i * 3 * 48 * 48
                for y in 0..<47 { for x in 0..<48 where m[y * 48 + x] && m[(y + 1) * 48 + x] {
                    total += Double(abs(base[(y + 1) * 48 + x] - base[y * 48 + x])); count += 1
                } }
            }
            return total / Double(max(count, 1))
        }
        let (striped, solid) = (try energy("striped"), try energy("solid"))
        XCTAssertGreaterThan(striped, 1.3 * solid, "mean vertical gradient inside objects: striped \(striped), solid \(solid)")
    }
}

/// Concepts as unions of modes (WORLD.md): balanced scenes, membership, and refusals.
final class ConceptTests: XCTestCase {
    func testUnionScenesAreBalancedAndMembershipIsAnyMode() throws {
        let toy = World.concept("toy-box")!
        let scenes = try World.scenes(n: 16, seed: 0, concept: toy)
        for (i, s) in scenes.enumerated() {
            XCTAssertEqual(toy.mode(of: s.attributes), i % 2, "scene \(i) takes mode i mod 2")
        }
        XCTAssertEqual(World.referenceCount("toy-box"), 16)
        XCTAssertEqual(World.referenceCount("cones"), 8)
        XCTAssertEqual(toy.free, [.material, .size, .pattern, .background, .view])
        var s = scenes[0].attributes
        XCTAssertTrue(toy.contains(s))
        s[.color] = "orange"                            // an orange cone: in neither mode
        XCTAssertFalse(toy.contains(s))
        s[.shape] = "torus"
        XCTAssertEqual(toy.mode(of: s), 1)
        // A one-mode concept draws exactly the scenes of its constraints (old reference sets are unchanged).
        let c = World.concept("cones")!
        XCTAssertEqual(try World.scenes(n: 8, seed: 0, concept: c), try World.scenes(n: 8, seed: 0, constraints: c.modes[0]))
        let two = World.concept("two-styles")!
        let styles = try World.scenes(n: 40, seed: 3, concept: two)
        XCTAssertTrue(styles.allSatisfy { two.contains($0.attributes) })
        XCTAssertEqual(Set(styles.map { $0[.material] }), ["metal", "matte"])
    }

    func testConceptsThatAllowNothingOrNameUnknownValuesAreRefused() {
        XCTAssertThrowsError(try Concept(modes: [])) { XCTAssertTrue("\($0)".contains("at least one mode"), "\($0)") }
        XCTAssertThrowsError(try Concept(modes: [[.shape: ["cone"]], [.color: []]])) {
            XCTAssertTrue("\($0)".contains("mode 1: color: the list of allowed values is empty, so the mode allows nothing"), "\($0)")
        }
        XCTAssertThrowsError(try Concept(modes: [[.color: ["teal"]]])) { XCTAssertTrue("\($0)".contains("color has no value 'teal'"), "\($0)") }
    }
}
