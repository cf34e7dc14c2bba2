import Foundation
import DreamWorld

/// Attribute values of a set of images (the oracle's labels, or the scenes' own).
public typealias Labels = [[Attribute: String]]

/// The exact measures of docs/world.md, computed from attribute labels alone (no feature space), against a
/// concept's true distribution: each mode with equal weight, an allowed set uniform.
public enum ExactMeasures {
    /// Share of the images taking each value of `a`, in `a.values` order.
    public static func histogram(_ labels: Labels, _ a: Attribute) -> [Double] {
        var h = [Double](repeating: 0, count: a.values.count)
        for l in labels { if let v = l[a], let i = a.values.firstIndex(of: v) { h[i] += 1 } }
        return labels.isEmpty ? h : h.map { $0 / Double(labels.count) }
    }

    /// Total-variation distance ½ Σ |p − q| of two histograms.
    static func totalVariation(_ p: [Double], _ q: [Double]) -> Double {
        zip(p, q).reduce(0) { $0 + abs($1.0 - $1.1) } / 2
    }

    /// `tv_attributes`: for each of the 7 attributes, the total-variation distance between the images' label
    /// histogram and the concept's true marginal (which attribute a set gets wrong).
    public static func tvByAttribute(_ labels: Labels, concept: Concept) -> [(Attribute, Double)] {
        Attribute.allCases.map { ($0, totalVariation(histogram(labels, $0), concept.marginal($0))) }
    }

    /// `tv`: the mean of `tvByAttribute` over the 7 attributes.
    public static func tv(_ labels: Labels, concept: Concept) -> Double {
        tvByAttribute(labels, concept: concept).reduce(0) { $0 + $1.1 } / Double(Attribute.allCases.count)
    }

    /// `tv_refs`: the same against the reference images' own label histogram.
    public static func tv(_ labels: Labels, references: Labels) -> Double {
        Attribute.allCases.reduce(0) { $0 + totalVariation(histogram(labels, $1), histogram(references, $1)) } / Double(Attribute.allCases.count)
    }

    /// The images whose labels satisfy some mode of the concept.
    public static func inConcept(_ labels: Labels, _ concept: Concept) -> Labels { labels.filter(concept.contains) }

    /// `modes`: the share of in-concept images in each mode (an image in several modes counts for the first).
    public static func modes(_ labels: Labels, concept: Concept) -> [Double] {
        var counts = [Double](repeating: 0, count: concept.modes.count)
        for l in labels { if let m = concept.mode(of: l) { counts[m] += 1 } }
        let total = counts.reduce(0, +)
        return total > 0 ? counts.map { $0 / total } : counts
    }

    static func combination(_ l: [Attribute: String]) -> [Int] {
        Attribute.allCases.map { a in l[a].flatMap { a.values.firstIndex(of: $0) } ?? -1 }
    }

    /// `combinations`: distinct allowed attribute combinations among the in-concept images, divided by the
    /// number expected among as many true images, Σ_c 1 − (1 − p_c)^m (≈ 1 for the truth).
    public static func combinations(_ labels: Labels, concept: Concept) -> Double {
        let inside = inConcept(labels, concept)
        guard !inside.isEmpty else { return 0 }
        let m = Double(inside.count)
        let expected = concept.combinationProbabilities().values.reduce(0) { $0 + 1 - Foundation.pow(1 - $1, m) }
        return Double(Set(inside.map(combination)).count) / expected
    }

    /// `novel`: the share of in-concept images whose full attribute combination is none of the references'.
    public static func novel(_ labels: Labels, concept: Concept, references: Labels) -> Double {
        let inside = inConcept(labels, concept)
        guard !inside.isEmpty else { return 0 }
        let seen = Set(references.map(combination))
        return Double(inside.filter { !seen.contains(combination($0)) }.count) / Double(inside.count)
    }

    /// `entropy`: the joint entropy (nats) of the 7 labels over the set, from the combinations' frequencies.
    public static func entropy(_ labels: Labels) -> Double {
        var counts: [[Int]: Double] = [:]
        for l in labels { counts[combination(l), default: 0] += 1 }
        let n = Double(labels.count)
        return counts.values.reduce(0) { $0 - $1 / n * Foundation.log($1 / n) }
    }
}
