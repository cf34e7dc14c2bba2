import Foundation
import DreamLang
import DreamAssets
import DreamTensor
import DreamModels
import DreamDiffusion
import DreamMethod
import DreamIO

/// Reference images → latents at the model's resolution → a learned distribution, as a value.
/// With `resume`, the saved run's settings are used and `steps` counts all steps, those done included.
func learnedValue(_ sd: StableDiffusion, images: Tensor, _ settings: LearningSettings, resume: DistributionValue?,
                  caller: String, _ ip: Interpreter) throws -> Value {
    var s = settings
    if let r = resume {
        guard let l = r.learned else { throw ArgumentError("\(caller): resume: a mixture has no prompts to continue; pass a distribution from learn or load", argument: "resume") }
        guard r.sd === sd else { throw ArgumentError("\(caller): resume: the distribution was learned on another model (\(r.sd.identity.name))", argument: "resume") }
        let steps = s.steps
        s = l.settings
        s.steps = steps
        if l.completedSteps >= steps {
            ip.warn("\(caller): the saved run already has \(l.completedSteps) steps (steps: \(steps)); nothing to do")
        }
    }
    do {
        let latents = try sd.referenceLatents(images, size: sd.unet.sampleSize * sd.vae.downscale)
        let learned = try sd.learn(latents: latents, s, resume: resume?.learned)
        if learned.interrupted {
            ip.warn("\(caller): interrupted; the distribution holds the \(learned.completedSteps) completed steps of \(s.steps) (save it, and continue later with resume:)")
        }
        return .object(try DistributionValue(sd: sd, learned: learned))
    } catch let e as ModelError { throw ArgumentError("\(caller): \(e.message)") }
}

/// The learning arguments `learn` and `textual_inversion` share: each given argument, else the model's
/// default (model_index.json "dream_defaults"), else `base`'s (the paper's).
func learningSettings(_ a: Args, _ ip: Interpreter, _ d: LearningDefaults, base: LearningSettings) throws -> LearningSettings {
    let f = a.function.qualifiedName
    var s: LearningSettings
    do { s = try base.applying(d) } catch let e as ModelError { throw ArgumentError("\(f): \(e.message)") }
    func int(_ n: String, _ x: inout Int) throws { if a.has(n) { x = try a.int(n) } }
    func number(_ n: String, _ x: inout Float) throws { if a.has(n) { x = Float(try a.number(n)) } }
    try int("prompts", &s.prompts); try int("samples", &s.samples); try int("tokens", &s.tokens)
    try int("steps", &s.steps); try int("batch", &s.batch)
    try number("lr", &s.lr); try number("ortho", &s.ortho)
    if a.has("objective") {
        let name = try a.string("objective")
        guard let o = Objective(rawValue: name) else {
            let names = Objective.allCases.map(\.rawValue)
            let hint = closest(name, among: names).map { "; did you mean \"\($0)\"?" } ?? ""
            throw ArgumentError("\(f): unknown objective \"\(name)\"\(hint) (objectives: \(names.joined(separator: ", ")))", argument: "objective")
        }
        s.objective = o
    }
    s.seed = try ip.seed(a)
    for (name, v) in [("prompts", s.prompts), ("tokens", s.tokens), ("batch", s.batch), ("samples", s.samples)] where v < 1 {
        throw ArgumentError("\(f): \(name): must be at least 1, got \(v)", argument: name)
    }
    guard s.steps >= 0 else { throw ArgumentError("\(f): steps: must be ≥ 0", argument: "steps") }
    return s
}

/// Where learning's defaults come from, for `:help`.
let learningDefaultsNote = "Arguments not given take the model's own defaults (its folder's model_index.json, \"dream_defaults\"; the built-in model's are the best measured settings on its world), and otherwise the paper's (SD 2.1: K 32, M 4, 1000 steps, lr 1e-3, batch 4, S 4, λ 1e-3, objective \"paper\")."
