import Foundation
import DreamTensor

/// The built-in world's attributes (docs/world.md): names and values are fixed.
public enum Attribute: String, CaseIterable {
    case shape, color, material, size, pattern, background, view

    public var values: [String] {
        switch self {
        case .shape: return ["sphere", "cube", "cylinder", "cone", "torus"]
        case .color: return ["red", "orange", "yellow", "green", "cyan", "blue", "purple", "white"]
        case .material: return ["matte", "metal"]
        case .size: return ["small", "large"]
        case .pattern: return ["solid", "striped"]
        case .background: return ["gray", "dark", "sunset"]
        case .view: return ["side", "above"]
        }
    }
}

/// One scene: an object's attributes and the continuous nuisance drawn per image.
public struct Scene: Equatable {
    public var attributes: [Attribute: String]
    public var azimuth: Double          // radians, all around
    public var elevation: Double        // radians: side 5–25°, above 50–75°
    public var lightJitter: (Double, Double)
    public var offset: (Double, Double) // small position jitter in the image plane
    public var hueJitter: Double

    public init(attributes: [Attribute: String], azimuth: Double, elevation: Double, lightJitter: (Double, Double),
                offset: (Double, Double), hueJitter: Double) {
        self.attributes = attributes; self.azimuth = azimuth; self.elevation = elevation
        self.lightJitter = lightJitter; self.offset = offset; self.hueJitter = hueJitter
    }

    public subscript(_ a: Attribute) -> String { attributes[a]! }

    public static func == (a: Scene, b: Scene) -> Bool {
        a.attributes == b.attributes && a.azimuth == b.azimuth && a.elevation == b.elevation
            && a.lightJitter == b.lightJitter && a.offset == b.offset && a.hueJitter == b.hueJitter
    }

    /// The caption, words in docs/world.md's order.
    public var caption: String {
        "a \(self[.size]) \(self[.color]) \(self[.pattern]) \(self[.material]) \(self[.shape]) on a \(self[.background]) background, seen from \(self[.view] == "side" ? "the side" : "above")"
    }
}

public enum World {
    /// The public reference concepts (docs/world.md), by name, with the size of their reference sets.
    public static let concepts: [(name: String, concept: Concept, references: Int)] = [
        ("shiny-warm", [[.material: ["metal"], .color: ["red", "orange", "yellow"], .pattern: ["solid"], .background: ["gray"]]], 8),
        ("striped-round", [[.pattern: ["striped"], .shape: ["sphere", "cylinder", "torus"], .material: ["matte"]]], 8),
        ("small-cool-cubes", [[.shape: ["cube"], .size: ["small"], .color: ["blue", "cyan", "green"]]], 8),
        ("sunset", [[.background: ["sunset"], .color: ["white", "yellow"]]], 8),
        ("cones", [[.shape: ["cone"], .background: ["dark"]]], 8),
        ("purple-things", [[.color: ["purple"]]], 8),
        // Concepts one prompt of the model's own words cannot say (no word means "or").
        ("toy-box", [[.shape: ["cone"], .color: ["green"]], [.shape: ["torus"], .color: ["orange"]]], 16),
        ("two-styles", [[.material: ["metal"], .pattern: ["striped"], .background: ["gray"]],
                        [.material: ["matte"], .pattern: ["solid"], .background: ["dark"]]], 16),
        ("sea-and-sand", [[.color: ["blue", "yellow", "white"], .shape: ["sphere", "cylinder"]]], 16),
    ].map { ($0.0, try! Concept(modes: $0.1), $0.2) }

    public static func concept(_ name: String) -> Concept? { concepts.first { $0.name == name }?.concept }

    /// The number of reference images of a named concept (8, or 16 for the concepts with modes).
    public static func referenceCount(_ name: String) -> Int? { concepts.first { $0.name == name }?.references }

    /// Checks that every constraint names a known attribute value.
    public static func validate(_ c: Constraints) throws { try Concept.validate(c) }

    /// `n` scenes drawn with `seed`: each attribute uniform over its allowed values, nuisance uniform.
    /// Scene i depends only on (seed, i).
    public static func scenes(n: Int, seed: UInt64, constraints: Constraints = [:]) throws -> [Scene] {
        try scenes(n: n, seed: seed, concept: Concept(constraints))
    }

    /// `n` scenes of a concept: scene i takes mode i mod (number of modes), so the modes are balanced,
    /// and depends only on (seed, i).
    public static func scenes(n: Int, seed: UInt64, concept: Concept) throws -> [Scene] {
        (0..<n).map { i in
            let constraints = concept.modes[i % concept.modes.count]
            var rng = RandomGenerator(seed: Seeds.scene(seed, i))
            func u() -> Double { rng.double() }
            var attrs: [Attribute: String] = [:]
            for a in Attribute.allCases {
                let allowed = constraints[a] ?? a.values
                attrs[a] = allowed[rng.int(below: allowed.count)]
            }
            let elev = attrs[.view] == "side" ? (5 + 20 * u()) : (50 + 25 * u())
            return Scene(attributes: attrs, azimuth: 2 * .pi * u(), elevation: elev * .pi / 180,
                         lightJitter: ((u() - 0.5) * 0.6, (u() - 0.5) * 0.6), offset: ((u() - 0.5) * 0.16, (u() - 0.5) * 0.16),
                         hueJitter: (u() - 0.5) * 0.04)
        }
    }
}
