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
                  caller: String, explicit: Set<String> = [], checkpoint: (path: String, every: Int)? = nil, _ ip: Interpreter) throws -> Value {
    var s = settings
    if let r = resume {
        guard let l = r.learned else { throw ArgumentError("\(caller): resume: a mixture has no prompts to continue; pass a distribution from learn or load", argument: "resume") }
        guard r.sd === sd else { throw ArgumentError("\(caller): resume: the distribution was learned on another model (\(r.sd.identity.name))", argument: "resume") }
        let steps = s.steps
        // The saved run's settings are kept; a different value given now is named, not silently dropped.
        let given: [(String, String, String)] = [
            ("lr", formatNumber(Double(s.lr)), formatNumber(Double(l.settings.lr))), ("batch", "\(s.batch)", "\(l.settings.batch)"),
            ("prompts", "\(s.prompts)", "\(l.settings.prompts)"), ("tokens", "\(s.tokens)", "\(l.settings.tokens)"),
            ("samples", "\(s.samples)", "\(l.settings.samples)"), ("ortho", formatNumber(Double(s.ortho)), formatNumber(Double(l.settings.ortho))),
            ("objective", s.objective.rawValue, l.settings.objective.rawValue), ("seed", "\(s.seed)", "\(l.settings.seed)"),
            ("prompt_cost", formatNumber(Double(s.promptCost)), formatNumber(Double(l.settings.promptCost))),
            ("lr_schedule", s.lrSchedule.rawValue, l.settings.lrSchedule.rawValue),
            ("ema", formatNumber(Double(s.ema)), formatNumber(Double(l.settings.ema))), ("blend", "\(s.blend)", "\(l.settings.blend)")]
        let differing = given.filter { explicit.contains($0.0) && $0.1 != $0.2 }
        if !differing.isEmpty {
            ip.warn("\(caller): resume: the saved run's settings are kept: " + differing.map { "\($0.0) \($0.2) (not \($0.1))" }.joined(separator: ", ") + "; only steps: changes")
        }
        s = l.settings
        s.steps = steps
        if l.completedSteps >= steps {
            ip.warn("\(caller): the saved run already has \(l.completedSteps) steps (steps: \(steps)); nothing to do")
        }
    }
    try checkReferenceImages(images, caller: caller, size: sd.unet.sampleSize * sd.vae.downscale, ip)
    do {
        let latents = try sd.referenceLatents(images, size: sd.unet.sampleSize * sd.vae.downscale)
        // Autosave: the run as it stands, written atomically (the previous file stays whole until the new one is).
        let save = checkpoint.map { c in
            (every: c.every, save: { (l: LearnedDistribution) throws in
                try DistributionFile.save(SavedDistribution(sd: sd, learned: l, encoded: try l.dist.encoded(sd)), to: c.path)
            })
        }
        let learned = try sd.learn(latents: latents, s, resume: resume?.learned, checkpoint: save)
        if let why = learned.failure { ip.warn("\(caller): \(why)") }
        if learned.interrupted {
            // The request was taken to stop learning; raise it again so the run stops at its next step boundary
            // (a script ends with 130, the session returns to the prompt) once this value is bound.
            ExecutionContext.current.requestCancel()
            ip.warn("\(caller): interrupted; the distribution holds the \(learned.completedSteps) completed steps of \(s.steps) (save it, and continue later with resume:)")
        }
        return .object(try DistributionValue(sd: sd, learned: learned))
    } catch let e as ModelError { throw ArgumentError("\(caller): \(e.message)") }
}

/// Reference images must be a batch of RGB images with values in [0, 1]; another size than the model's is
/// resized (said once).
func checkReferenceImages(_ images: Tensor, caller: String, size: Int, _ ip: Interpreter) throws {
    guard images.rank == 4, images.shape[1] == 3, images.shape[0] > 0 else {
        throw ArgumentError("\(caller): reference images must be a batch [N, 3, H, W] with N ≥ 1, got \(shapeString(images.shape))", argument: "images")
    }
    var lo = Float.infinity, hi = -Float.infinity, finite = true
    for x in images.scalars { if !x.isFinite { finite = false; break }; lo = min(lo, x); hi = max(hi, x) }
    guard finite else { throw ArgumentError("\(caller): the reference images hold NaN or infinite values", argument: "images") }
    if hi > 1.001 {
        throw ArgumentError("\(caller): reference images must have values in [0, 1], these reach \(formatNumber(Double(hi)))\(hi > 2 ? " (8-bit values? divide by 255)" : "")", argument: "images")
    }
    if lo < -0.001 {
        throw ArgumentError("\(caller): reference images must have values in [0, 1], these go down to \(formatNumber(Double(lo)))\(lo >= -1.001 ? " (in [-1, 1]? use (x + 1) / 2)" : "")", argument: "images")
    }
    let (h, w) = (images.shape[2], images.shape[3])
    if min(h, w) != size {
        ip.warnOnce("\(caller): the references are \(w)×\(h); resized so that their short side is the model's \(size) (random \(size)×\(size) crops while learning)")
    }
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
    try number("lr", &s.lr); try number("ortho", &s.ortho); try number("prompt_cost", &s.promptCost); try number("ema", &s.ema)
    /// A named case of `T` given as argument `n`, or an error with the closest name and the list.
    func choice<T: RawRepresentable & CaseIterable>(_ n: String, _ x: inout T, plural: String) throws where T.RawValue == String {
        guard a.has(n) else { return }
        let name = try a.string(n)
        guard let c = T(rawValue: name) else {
            let names = T.allCases.map(\.rawValue)
            let hint = closest(name, among: names).map { "; did you mean \"\($0)\"?" } ?? ""
            throw ArgumentError("\(f): unknown \(n) \"\(name)\"\(hint) (\(plural): \(names.joined(separator: ", ")))", argument: n)
        }
        x = c
    }
    try choice("objective", &s.objective, plural: "objectives")
    try choice("lr_schedule", &s.lrSchedule, plural: "schedules")
    if a.has("blend") { s.blend = try a.bool("blend") }
    if s.objective != .compete {
        if a.has("prompt_cost") {
            throw ArgumentError("\(f): prompt_cost: only competing prompts (objective \"compete\") choose how many prompts to use; objective \"\(s.objective.rawValue)\" has none", argument: "prompt_cost")
        }
        if a.has("blend") {
            throw ArgumentError("\(f): blend: only competing prompts (objective \"compete\") learn a blend beside their prompts; objective \"\(s.objective.rawValue)\" is one distribution already", argument: "blend")
        }
        s.promptCost = 0   // a model's default for competing prompts says nothing about the others
    }
    s.seed = try ip.seed(a)
    for (name, v) in [("prompts", s.prompts), ("tokens", s.tokens), ("batch", s.batch), ("samples", s.samples)] where v < 1 {
        throw ArgumentError("\(f): \(name): must be at least 1, got \(v)", argument: name)
    }
    guard s.steps >= 1 else { throw ArgumentError("\(f): steps: must be at least 1, got \(s.steps)", argument: "steps") }
    guard s.lr > 0 && s.lr.isFinite else { throw ArgumentError("\(f): lr: must be a positive number, got \(formatNumber(Double(s.lr)))", argument: "lr") }
    guard s.ortho >= 0 && s.ortho.isFinite else { throw ArgumentError("\(f): ortho: must be ≥ 0, got \(formatNumber(Double(s.ortho)))", argument: "ortho") }
    guard s.ema >= 0 && s.ema < 1 else { throw ArgumentError("\(f): ema: the average's decay must be in [0, 1) (0: no average), got \(formatNumber(Double(s.ema)))", argument: "ema") }
    guard s.promptCost >= 0 && s.promptCost.isFinite else { throw ArgumentError("\(f): prompt_cost: must be ≥ 0, got \(formatNumber(Double(s.promptCost)))", argument: "prompt_cost") }
    return s
}

/// Where learning's defaults come from, for `:help`.
let learningDefaultsNote = "Arguments not given take the model's own defaults (its folder's model_index.json, \"dream_defaults\"; the built-in model's are the best measured settings on its world), and otherwise the paper's (SD 2.1: K 32, M 4, 1000 steps, lr 1e-3, batch 4, S 4, λ 1e-3, objective \"paper\")."
