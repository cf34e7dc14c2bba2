import Foundation
import DreamTensor

/// Allowed values per attribute; a missing attribute is free.
public typealias Constraints = [Attribute: [String]]

/// A concept of the world (docs/world.md): a union of modes mixed with equal weight, each mode a set of
/// constraints (attributes it leaves out are free within it). A scene belongs to the concept when it
/// satisfies any one mode. A concept of one mode is a plain set of constraints.
public struct Concept: Equatable {
    public let modes: [Constraints]

    /// Checks that there is at least one mode and that every mode allows something of known values.
    public init(modes: [Constraints]) throws {
        guard !modes.isEmpty else { throw TensorError("a concept needs at least one mode (a constraints dictionary)") }
        for (i, m) in modes.enumerated() {
            do { try Concept.validate(m) } catch let e as TensorError {
                throw TensorError(modes.count == 1 ? e.message : "mode \(i): \(e.message)")
            }
        }
        self.modes = modes
    }

    public init(_ constraints: Constraints) throws { try self.init(modes: [constraints]) }

    /// Checks that every constraint names a known attribute value and allows at least one.
    public static func validate(_ c: Constraints) throws {
        for a in Attribute.allCases {
            guard let vs = c[a] else { continue }
            guard !vs.isEmpty else { throw TensorError("\(a.rawValue): the list of allowed values is empty, so the mode allows nothing") }
            for v in vs where !a.values.contains(v) {
                throw TensorError("\(a.rawValue) has no value '\(v)' (values: \(a.values.joined(separator: ", ")))")
            }
        }
    }

    /// Attributes that no mode constrains.
    public var free: [Attribute] { Attribute.allCases.filter { a in modes.allSatisfy { $0[a] == nil } } }

    /// The first mode that attribute values satisfy, nil when none does.
    public func mode(of values: [Attribute: String]) -> Int? {
        modes.firstIndex { m in m.allSatisfy { a, allowed in values[a].map(allowed.contains) ?? false } }
    }

    public func contains(_ values: [Attribute: String]) -> Bool { mode(of: values) != nil }

    /// The true marginal of one attribute: the modes mixed with equal weight, uniform over a mode's
    /// allowed set (all values where the mode leaves the attribute free); in `a.values` order.
    public func marginal(_ a: Attribute) -> [Double] {
        var p = [Double](repeating: 0, count: a.values.count)
        for m in modes {
            let allowed = m[a] ?? a.values
            for v in allowed { p[a.values.firstIndex(of: v)!] += 1 / Double(allowed.count) / Double(modes.count) }
        }
        return p
    }

    /// The probability of each full attribute combination (value indices in `Attribute.allCases` order)
    /// under the concept; combinations of probability 0 are left out.
    public func combinationProbabilities() -> [[Int]: Double] {
        var out: [[Int]: Double] = [:]
        for m in modes {
            let allowed = Attribute.allCases.map { a in (m[a] ?? a.values).map { a.values.firstIndex(of: $0)! } }
            let p = allowed.reduce(1.0) { $0 / Double($1.count) } / Double(modes.count)
            var combo = [Int](repeating: 0, count: allowed.count)
            func walk(_ j: Int) {
                if j == allowed.count { out[combo, default: 0] += p; return }
                for v in allowed[j] { combo[j] = v; walk(j + 1) }
            }
            walk(0)
        }
        return out
    }
}
