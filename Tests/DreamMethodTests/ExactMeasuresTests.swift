import Foundation
import XCTest
import DreamTestSupport
import DreamWorld
import DreamMethod

/// The exact measures of WORLD.md on label sets whose values are worked out by hand, and on a set drawn
/// from the truth (the scenes' own labels).
final class ExactMeasuresTests: XCTestCase {
    func labels(_ shape: String, _ color: String, material: String = "matte", size: String = "small", pattern: String = "solid",
                background: String = "dark", view: String = "side") -> [Attribute: String] {
        [.shape: shape, .color: color, .material: material, .size: size, .pattern: pattern, .background: background, .view: view]
    }

    func testOneColourSetScoresTheTotalVariationWorkedOutByHand() throws {
        let cones = World.concept("cones")!
        let set = [[Attribute: String]](repeating: labels("cone", "red"), count: 8)
        // shape and background as the concept: 0; colour: 1 − 1/8; material, size, pattern, view: 1 − 1/2 each.
        XCTAssertEqual(ExactMeasures.tv(set, concept: cones), (0.875 + 4 * 0.5) / 7, accuracy: 1e-12)
        let byAttribute = ExactMeasures.tvByAttribute(set, concept: cones)
        XCTAssertEqual(byAttribute.map(\.0), Attribute.allCases)
        let expected: [Attribute: Double] = [.shape: 0, .color: 0.875, .material: 0.5, .size: 0.5, .pattern: 0.5, .background: 0, .view: 0.5]
        for (a, v) in byAttribute { XCTAssertEqual(v, expected[a]!, accuracy: 1e-12, a.rawValue) }
        // Toy-box's marginals by hand (colour half green, half orange; shape half cone, half torus; the rest free):
        // the all-red-cone set is off by 1 in colour, ½ in shape and ⅔ in background (free there, all dark here).
        let toyByAttribute = Dictionary(uniqueKeysWithValues: ExactMeasures.tvByAttribute(set, concept: World.concept("toy-box")!))
        XCTAssertEqual(toyByAttribute[.color]!, 1, accuracy: 1e-12)
        XCTAssertEqual(toyByAttribute[.shape]!, 0.5, accuracy: 1e-12)
        XCTAssertEqual(toyByAttribute[.background]!, 2.0 / 3, accuracy: 1e-12)
        // Against references that are all red cones too, only nothing differs.
        XCTAssertEqual(ExactMeasures.tv(set, references: set), 0, accuracy: 1e-12)
        XCTAssertEqual(ExactMeasures.entropy(set), 0, accuracy: 1e-12)
        XCTAssertEqual(ExactMeasures.novel(set, concept: cones, references: set), 0)
        // A union's marginal mixes its modes: toy-box's colour is half green, half orange.
        let toy = World.concept("toy-box")!
        XCTAssertEqual(toy.marginal(.color), [0, 0.5, 0, 0.5, 0, 0, 0, 0])
        XCTAssertEqual(toy.marginal(.shape), [0, 0, 0, 0.5, 0.5])
        XCTAssertEqual(toy.marginal(.size), [0.5, 0.5])
    }

    func testModesNovelEntropyAndCombinationsOnHandMadeSets() throws {
        let toy = World.concept("toy-box")!
        let a = labels("cone", "green"), b = labels("cone", "green", size: "large"), c = labels("torus", "orange"), out = labels("cube", "red")
        let set = [a, a, b, c, out]
        XCTAssertEqual(ExactMeasures.inConcept(set, toy).count, 4)
        XCTAssertEqual(ExactMeasures.modes(set, concept: toy), [0.75, 0.25])
        // References show a and c: of the 4 in-concept images only b is new.
        XCTAssertEqual(ExactMeasures.novel(set, concept: toy, references: [a, c]), 0.25, accuracy: 1e-12)
        // Frequencies 2/5, 1/5, 1/5, 1/5.
        XCTAssertEqual(ExactMeasures.entropy(set), -(0.4 * log(0.4) + 3 * 0.2 * log(0.2)), accuracy: 1e-12)
        // One free attribute of two values: with m = 2 images the truth shows 2 · (1 − ½²) = 1.5 combinations on average.
        let two = try Concept([.shape: ["cube"], .color: ["red", "blue"], .material: ["matte"], .size: ["small"], .pattern: ["solid"],
                               .background: ["dark"], .view: ["side"]])
        XCTAssertEqual(ExactMeasures.combinations([labels("cube", "red"), labels("cube", "blue")], concept: two), 2 / 1.5, accuracy: 1e-12)
        XCTAssertEqual(ExactMeasures.combinations([labels("cube", "red"), labels("cube", "red")], concept: two), 1 / 1.5, accuracy: 1e-12)
        XCTAssertEqual(two.combinationProbabilities().count, 2)
        XCTAssertEqual(toy.combinationProbabilities().values.reduce(0, +), 1, accuracy: 1e-12)
    }

    /// A set drawn from the truth: combinations ≈ 1 and tv near its sampling floor, for a union and a plain concept.
    func testTheTruthScoresCombinationsNearOneAndTotalVariationNearItsFloor() throws {
        for name in ["toy-box", "two-styles", "sea-and-sand", "cones"] {
            let c = World.concept(name)!
            for n in [200, 2000] {
                let truth = try World.scenes(n: n, seed: 1, concept: c).map(\.attributes)
                XCTAssertEqual(ExactMeasures.inConcept(truth, c).count, n, name)
                XCTAssertEqual(ExactMeasures.combinations(truth, concept: c), 1, accuracy: n == 200 ? 0.08 : 0.04, "\(name) n \(n)")
                // The floor: E|p̂ − p| ≈ √(2p(1−p)/(πn)) per value, summed and halved; 0.09 at n = 200, 0.03 at 2,000.
                let tv = ExactMeasures.tv(truth, concept: c)
                XCTAssertLessThan(tv, n == 200 ? 0.06 : 0.02, "\(name) n \(n)")
                XCTAssertGreaterThan(tv, 0, "\(name): a finite sample is never exactly the marginal")
            }
        }
        // A collapsed set inside the allowed colours of sea-and-sand: all blue spheres.
        let sea = World.concept("sea-and-sand")!
        let blue = try World.scenes(n: 200, seed: 1, concept: try Concept([.color: ["blue"], .shape: ["sphere"]])).map(\.attributes)
        XCTAssertEqual(ExactMeasures.inConcept(blue, sea).count, 200)
        XCTAssertGreaterThan(ExactMeasures.tv(blue, concept: sea), (2.0 / 3 + 0.5) / 7 - 0.02, "colour 1 − 1/3 and shape 1 − 1/2 off")
    }
}
