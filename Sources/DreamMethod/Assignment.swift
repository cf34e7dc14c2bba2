import Foundation

/// Which references each competing prompt explains (hard EM with memory): per reference, a running mean
/// of each prompt's loss relative to the mean over prompts (relative, so that the timestep's scale of the
/// loss cancels); a reference trains the prompt with the smallest. One noisy step cannot move a reference
/// that a prompt has explained for several visits, so prompts specialise instead of blending.
struct Assignment {
    let references: Int, prompts: Int
    var scores: [Float]
    static let decay: Float = 0.8

    init(references: Int, prompts: Int) {
        self.references = references; self.prompts = prompts
        scores = [Float](repeating: 0, count: references * prompts)
    }

    /// Running scores as a run saved them ([N · K], row-major).
    init(scores: [Float], prompts: Int) {
        self.references = scores.count / prompts; self.prompts = prompts; self.scores = scores
    }

    /// Folds reference i's losses under every prompt into its running scores; returns its prompt.
    mutating func update(_ i: Int, losses: [Float]) -> Int {
        let mean = losses.reduce(0, +) / Float(losses.count)
        let seen = (0..<prompts).contains { scores[i * prompts + $0] != 0 }
        for k in 0..<prompts {
            let r = mean > 0 ? losses[k] / mean : 1
            scores[i * prompts + k] = seen ? Assignment.decay * scores[i * prompts + k] + (1 - Assignment.decay) * r : r
        }
        return best(i)!
    }

    /// Reference i's prompt, nil while it was not seen.
    func best(_ i: Int) -> Int? {
        let row = scores[(i * prompts)..<((i + 1) * prompts)]
        guard row.contains(where: { $0 != 0 }) else { return nil }
        return (0..<prompts).min { row[row.startIndex + $0] < row[row.startIndex + $1] }!
    }

    /// π: the share of the seen references each prompt explains (uniform before any was seen).
    var weights: [Float] {
        var counts = [Float](repeating: 0, count: prompts)
        for i in 0..<references { if let k = best(i) { counts[k] += 1 } }
        let total = counts.reduce(0, +)
        return total > 0 ? counts.map { $0 / total } : [Float](repeating: 1 / Float(prompts), count: prompts)
    }
}
