import Foundation

/// Which references each competing prompt explains (hard EM with memory): per reference, a running mean
/// of each prompt's loss relative to the mean over prompts (relative, so that the timestep's scale of the
/// loss cancels); a reference trains the prompt with the smallest. One noisy step cannot move a reference
/// that a prompt has explained for several visits, so prompts specialise instead of blending.
///
/// With a prompt cost λ (DP-means' cost of a cluster), a prompt that explains no other reference costs λ
/// more: a reference joins a prompt that explains others unless its own explains it better by λ in relative
/// loss, so the references choose how many prompts they use. Meant to merge the prompts of references that
/// differ only in what one prompt can leave to the model; on the built-in world the gap does not separate
/// that from what a concept varies (docs/experiments.md), so the default is 0.
struct Assignment {
    let references: Int, prompts: Int
    var scores: [Float]
    /// Each reference's prompt, −1 while it was not seen.
    var choices: [Int]
    static let decay: Float = 0.8
    /// Steps before a prompt cost applies: the prompts first specialise, since at the start they are equal and
    /// every reference would join the first prompt that explains one.
    static let settling = 100

    init(references: Int, prompts: Int) {
        self.references = references; self.prompts = prompts
        scores = [Float](repeating: 0, count: references * prompts)
        choices = [Int](repeating: -1, count: references)
    }

    /// Running scores as a run saved them ([N · K], row-major) and its choices (nil from a run saved before
    /// they were kept: each reference's smallest score, as it was chosen then).
    init(scores: [Float], choices: [Int]? = nil, prompts: Int) {
        self.references = scores.count / prompts; self.prompts = prompts; self.scores = scores
        self.choices = choices ?? (0..<scores.count / prompts).map { Assignment.smallest(scores, $0, prompts) ?? -1 }
    }

    /// Folds reference i's losses under every prompt into its running scores; returns its prompt, chosen with
    /// `cost` for a prompt that explains no other reference.
    mutating func update(_ i: Int, losses: [Float], cost: Float = 0) -> Int {
        let mean = losses.reduce(0, +) / Float(losses.count)
        let seen = (0..<prompts).contains { scores[i * prompts + $0] != 0 }
        for k in 0..<prompts {
            let r = mean > 0 ? losses[k] / mean : 1
            scores[i * prompts + k] = seen ? Assignment.decay * scores[i * prompts + k] + (1 - Assignment.decay) * r : r
        }
        var explainsOthers = [Bool](repeating: false, count: prompts)
        for (j, k) in choices.enumerated() where j != i && k >= 0 { explainsOthers[k] = true }
        var pick = 0, value = Float.infinity
        for k in 0..<prompts {
            let v = scores[i * prompts + k] + (explainsOthers[k] ? 0 : cost)
            if v < value { value = v; pick = k }
        }
        choices[i] = pick
        return pick
    }

    /// The prompt with reference i's smallest running score, nil while it was not seen.
    func best(_ i: Int) -> Int? { Assignment.smallest(scores, i, prompts) }

    static func smallest(_ scores: [Float], _ i: Int, _ prompts: Int) -> Int? {
        let row = scores[(i * prompts)..<((i + 1) * prompts)]
        guard row.contains(where: { $0 != 0 }) else { return nil }
        return (0..<prompts).min { row[row.startIndex + $0] < row[row.startIndex + $1] }!
    }

    /// How many seen references each prompt explains.
    var counts: [Int] {
        var c = [Int](repeating: 0, count: prompts)
        for k in choices where k >= 0 { c[k] += 1 }
        return c
    }

    /// π: the share of the seen references each prompt explains (uniform before any was seen).
    var weights: [Float] {
        let c = counts, seen = c.reduce(0, +)
        return seen > 0 ? c.map { Float($0) / Float(seen) } : [Float](repeating: 1 / Float(prompts), count: prompts)
    }

    /// π over the prompts and, last, a blend learned from every reference: Good and Turing's estimate of the
    /// share of new draws that show what no reference has shown yet is n₁ / n, the share of references that no
    /// other reference resembles (here: that explain a prompt alone); the blend takes that share, and each
    /// prompt its share of the references times 1 − n₁ / n. Uniform over all K + 1 before any reference was seen.
    var weightsWithBlend: [Float] {
        let c = counts, seen = c.reduce(0, +)
        guard seen > 0 else { return [Float](repeating: 1 / Float(prompts + 1), count: prompts + 1) }
        let unseen = Float(c.filter { $0 == 1 }.count) / Float(seen)
        return weights.map { $0 * (1 - unseen) } + [unseen]
    }
}
