import Foundation
import DreamTensor
import DreamModels

extension LearnedDistribution {
    /// Text-guided editing (docs/method.md): the same learned prompts with new words before (`prefix`) and
    /// after (`suffix`) the learned tokens; nil keeps the current text. Nothing is retrained: the caller
    /// re-encodes the K prompts and recomputes μ and σ. Throws when the text does not fit the context.
    public func edited(_ sd: StableDiffusion, prefix: String?, suffix: String?) throws -> LearnedDistribution {
        var s = settings
        s.prefix = prefix ?? dist.prefix
        s.suffix = suffix ?? dist.suffix
        let d = PromptDistribution(prompts: dist.prompts, prefix: s.prefix, suffix: s.suffix, weights: dist.weights)
        _ = try d.embeddings(sd, vectors: d.prompts)   // checks that prefix + tokens + suffix fit
        // New words are meant to draw what the references do not show: their manifold no longer applies.
        if s.prefix == dist.prefix && s.suffix == dist.suffix { d.manifold = dist.manifold }
        let e = LearnedDistribution(d, settings: s)
        e.restore(steps: completedSteps, loss: lastLoss, losses: losses, moments: moments, assignment: assignment, choices: choices, parameters: parameters)
        return e
    }
}
