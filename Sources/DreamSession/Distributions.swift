import Foundation
import DreamLang
import DreamAssets
import DreamTensor
import DreamModels
import DreamDiffusion
import DreamMethod
import DreamIO

extension Session {
    func registerDistributions() {
        let r = registry
        let topic = "distributions"
        r.register(objectFormat: DistributionFile.format) { f in
            let d = try DistributionFile.load(f) { try self.loadModel($0) }
            return DistributionValue(sd: d.sd, learned: d.learned, encoded: d.encoded)
        }
        let seedParam = Param.labeled("seed", .optional(.int), "random seed; default: the next seed drawn from --seed")
        let resumeParam = Param.labeled("resume", .optional(.any), "a saved run to continue (its settings are used; steps counts all steps)")
        let emaParam = Param.labeled("ema", .optional(.number), "β: the prompts are the moving average of the trained parameter over the steps, updated as avg ← β·avg + (1 − β)·parameter after each (0: the last step's, the paper's)")
        let scheduleParam = Param.labeled("lr_schedule", .optional(.string), "\"constant\" (the paper's) or \"cosine\" (from lr at the first step down to 0 after the last, over steps: — resuming to more steps stretches it)")
        r.register(Builtin("learn", [.positional("m", .any), .positional("images", .tensor),
                                   .labeled("prompts", .optional(.int), "K soft prompts"),
                                   .labeled("tokens", .optional(.int), "M learned tokens per prompt"),
                                   .labeled("steps", .optional(.int)), .labeled("lr", .optional(.number)), scheduleParam, emaParam,
                                   .labeled("batch", .optional(.int)), .labeled("samples", .optional(.int), "S conditions per reference (Gaussian objectives)"),
                                   .labeled("ortho", .optional(.number), "λ, the orthogonality loss weight"),
                                   .labeled("objective", .optional(.string), "\"paper\" (the paper's), \"mixture\" (best of S draws per reference) or \"compete\" (prompts compete for references; sampled by picking a prompt)"),
                                   .labeled("prompt_cost", .optional(.number), "\"compete\": λ, what a prompt that explains no other reference costs in relative loss (after the first 100 steps), so that references that differ by less share a prompt; 0: as many prompts as the references pick"),
                                   .labeled("blend", .optional(.bool), "\"compete\": also learn one prompt from every reference (the last, prompt K) and draw it with the share of references that explain a prompt alone (Good–Turing's estimate of what the references have not shown yet); default false: measured in docs/experiments.md"),
                                   seedParam,
                                   .labeled("prefix", .string, default: .string("")), .labeled("suffix", .string, default: .string("")),
                                   resumeParam,
                                   .labeled("checkpoint", .optional(.string), "a .safetensors file the run is saved to as it goes (atomically; continue it with resume: load(FILE))"),
                                   .labeled("every", .int, default: .number(50), "steps between checkpoints")],
                         doc: "Learns a prompt distribution from reference images (progress bar; Ctrl-C keeps the last completed step). " + learningDefaultsNote,
                         example: "let D = learn(m, images(\"refs/*.png\", size: 64), steps: 300, seed: 1)") { a, ip in
            let sd = try a.model("m")
            var s = try learningSettings(a, ip, sd.learnDefaults, base: LearningSettings())
            s.prefix = try a.string("prefix"); s.suffix = try a.string("suffix")
            var checkpoint: (String, Int)?
            if let path = a.optionalString("checkpoint") {
                let every = try a.int("every")
                guard every >= 1 else { throw ArgumentError("learn: every: must be at least 1, got \(every)", argument: "every") }
                guard path.hasSuffix(".safetensors") else { throw ArgumentError("learn: checkpoint: a distribution is saved as .safetensors, got \(path)", argument: "checkpoint") }
                checkpoint = (path, every)
            }
            return try learnedValue(sd, images: try a.tensor("images"), s, resume: try a.optionalDistribution("resume"), caller: "learn",
                                    explicit: a.given, checkpoint: checkpoint, ip)
        }, topic: topic)
        r.register(Builtin("textual_inversion", [.positional("m", .any), .positional("images", .tensor),
                                               .labeled("tokens", .optional(.int)), .labeled("steps", .optional(.int)),
                                               .labeled("lr", .optional(.number)), scheduleParam, emaParam, .labeled("batch", .optional(.int)),
                                               seedParam, resumeParam],
                         doc: "The single-prompt baseline: the same learning with K = 1 (so σ = 0) and no orthogonality term. " + learningDefaultsNote,
                         example: "let TI = textual_inversion(m, refs, steps: 300, seed: 1)") { a, ip in
            let sd = try a.model("m")
            var base = LearningSettings()
            base.prompts = 1; base.samples = 1; base.ortho = 0
            let s = try learningSettings(a, ip, sd.textualInversionDefaults, base: base)
            return try learnedValue(sd, images: try a.tensor("images"), s, resume: try a.optionalDistribution("resume"), caller: "textual_inversion", explicit: a.given, ip)
        }, topic: topic)
        let drawParams: [Param] = [.labeled("n", .int, default: .number(1)), .labeled("gamma", .number, default: .number(1)),
                                   .labeled("prompt", .optional(.int), "draw from learned prompt k (0-based) alone: c = H_k + γ × the distribution's spread (at gamma: 0 exactly its encoding H_k)")]
        /// n, γ and prompt of a draw, checked against the distribution.
        func drawArguments(_ a: Args, _ d: DistributionValue) throws -> (n: Int, gamma: Float, prompt: Int?) {
            let f = a.function.qualifiedName
            let n = try a.int("n"), gamma = try a.number("gamma")
            guard n >= 1 else { throw ArgumentError("\(f): n must be ≥ 1", argument: "n") }
            guard gamma >= 0 else { throw ArgumentError("\(f): gamma must be ≥ 0 (it scales σ), got \(formatNumber(gamma))", argument: "gamma") }
            let prompt = a.optionalInt("prompt")
            if let k = prompt {
                guard let count = d.encoded.promptCount else {
                    throw ArgumentError("\(f): prompt: a mix of distributions has no prompts of its own", argument: "prompt")
                }
                guard k >= 0 && k < count else {
                    let blend = d.learned.map { $0.settings.objective == .compete && $0.settings.blend } ?? false
                    throw ArgumentError("\(f): prompt: \(k) is out of range; the distribution has \(count) prompt\(count == 1 ? "" : "s"), 0…\(count - 1)\(blend ? " (\(count - 1): the blend, learned from every reference)" : "")", argument: "prompt")
                }
            }
            return (n, Float(gamma), prompt)
        }
        r.register(Builtin("draw", [.positional("D", .any)] + drawParams + [seedParam],
                         doc: "Conditions [n, 77, d] drawn from a distribution, as sample draws them (a Gaussian: μ + γσε; competing prompts: a prompt k by its weight, then H_k + γσ ⊙ ε with one ε per image shared by every position): for the UNet, or one draw held for a text-to-3D distillation.",
                         example: "let c = draw(D, seed: 3)") { a, ip in
            let d = try a.distribution("D")
            let (n, gamma, prompt) = try drawArguments(a, d)
            do { return .tensor(try d.encoded.conditions(n: n, gamma: gamma, seed: try ip.seed(a), prompt: prompt)) }
            catch let e as ModelError { throw ArgumentError("draw: \(e.message)") }
        }, topic: topic)
        r.register(Builtin("sample", [.positional("D", .any)] + drawParams + samplingParams + [seedParam,
                                    .labeled("redraws", .optional(.int), "rounds of drawing again the images whose latent lies outside the references' (each keeps its draw nearest to one); 0: plain sampling, the paper's; default: the model's (0 for SD checkpoints), and 0 for a distribution that does not know its references")],
                         doc: "Images from a distribution: conditions as draw makes them (μ + γσε, or a learned prompt's neighbourhood H_k + γσ ⊙ ε), guided against the empty prompt. With redraws: an image that shows what none of the references shows (its latent, averaged over a 4 × 4 grid, farther from every reference's than the radius the references set: docs/method.md) is drawn again.",
                         example: "sample(D, n: 8, gamma: 1, steps: 30, seed: 2)") { a, ip in
            let d = try a.distribution("D")
            let (n, gamma, prompt) = try drawArguments(a, d)
            var o = try self.generationOptions(a, d.sd)
            o.seed = try ip.seed(a)
            // Asked for, redraws need the references' manifold; the model's default applies where there is one.
            let asked = a.optionalInt("redraws")
            let redraws = asked ?? (d.encoded.manifold == nil ? 0 : d.sd.defaultRedraws ?? 0)
            guard redraws >= 0 && redraws <= 20 else { throw ArgumentError("sample: redraws: must be 0 to 20, got \(redraws)", argument: "redraws") }
            guard redraws == 0 || d.encoded.manifold != nil else {
                throw ArgumentError("sample: redraws: this distribution does not know where its references lie (learned from fewer than two images, edited to new text, mixed with such a distribution, or saved by an older dream); sample it with redraws: 0", argument: "redraws")
            }
            do {
                return .tensor(try d.sd.sample(d.encoded, n: n, gamma: gamma, prompt: prompt, redraws: redraws, o))
            } catch let e as ModelError { throw ArgumentError("sample: \(e.message)") }
        }, topic: topic)
        r.register(Builtin("edit", [.positional("D", .any),
                                  .labeled("prefix", .optional(.string), "words before the learned tokens; default: the distribution's own"),
                                  .labeled("suffix", .optional(.string), "words after the learned tokens; default: the distribution's own")],
                         doc: "Text-guided editing without retraining: the same learned prompts with new words before and after the learned tokens, re-encoded (μ and σ recomputed). The same seed in sample gives the same instances under the new text.",
                         example: "sample(edit(D, prefix: \"a red\"), n: 8, seed: 2)") { a, _ in
            let d = try a.distribution("D")
            guard let l = d.learned else {
                throw ArgumentError("edit: a mixture has no prompts to re-encode; edit each distribution, then mix them", argument: "D")
            }
            func text(_ n: String) throws -> String? { if case .none = a[n] { return nil }; return try a.string(n) }
            do {
                return .object(try DistributionValue(sd: d.sd, learned: l.edited(d.sd, prefix: try text("prefix"), suffix: try text("suffix"))))
            } catch let e as ModelError { throw ArgumentError("edit: \(e.message)") }
        }, topic: topic)
        r.register(Builtin("mix", [.positional("distributions", .list), .labeled("weights", .optional(.list)), .labeled("gammas", .optional(.list))],
                         doc: "Mixes distributions: μ = Σ wᵢμᵢ, σ = √Σ(wᵢγᵢσᵢ)² (weights are normalised to sum to 1, with a warning).",
                         example: "mix([D1, D2], weights: [0.5, 0.5])") { a, ip in
            let ds = try a.list("distributions").map { v -> DistributionValue in
                guard case .object(let o) = v, let d = o as? DistributionValue else { throw ArgumentError("mix: every item must be a distribution, got \(describeForError(v))", argument: "distributions") }
                return d
            }
            guard !ds.isEmpty else { throw ArgumentError("mix: no distributions", argument: "distributions") }
            guard ds.allSatisfy({ $0.sd === ds[0].sd }) else { throw ArgumentError("mix: the distributions were learned on different models", argument: "distributions") }
            func numbers(_ n: String, _ d: Double) throws -> [Float] {
                guard case .list(let l) = a[n] else { return [Float](repeating: Float(d), count: ds.count) }
                let xs = try l.map { v -> Float in if case .number(let x) = v { return Float(x) }; throw ArgumentError("mix: \(n) are numbers", argument: n) }
                guard xs.count == ds.count else { throw ArgumentError("mix: \(xs.count) \(n) for \(ds.count) distributions", argument: n) }
                return xs
            }
            var w = try numbers("weights", 1 / Double(ds.count))
            let g = try numbers("gammas", 1)
            guard w.allSatisfy({ $0 >= 0 }), w.reduce(0, +) > 0 else { throw ArgumentError("mix: weights must be ≥ 0 and not all 0", argument: "weights") }
            guard g.allSatisfy({ $0 >= 0 }) else { throw ArgumentError("mix: gammas must be ≥ 0", argument: "gammas") }
            let total = w.reduce(0, +)
            if abs(total - 1) > 1e-6 {
                ip.warn("mix: weights sum to \(formatNumber(Double(total))); normalised to sum to 1")
                w = w.map { $0 / total }
            }
            let (mu, sigma) = try PromptMath.mix(means: ds.map(\.mean), stds: ds.map(\.std), weights: w, gammas: g)
            var e = EncodedDistribution(mean: mu, std: sigma)
            // The parts' references together, when every part drawn from knows its own.
            let drawn = zip(ds, w).filter { $0.1 > 0 }.map { $0.0.encoded.manifold }
            if drawn.allSatisfy({ $0 != nil }) { e.manifold = try ReferenceManifold.union(drawn.map { $0! }) }
            return .object(DistributionValue(sd: ds[0].sd, learned: nil, encoded: e))
        }, topic: topic)
        r.register(Builtin("save_embeddings", [.positional("D", .any), .positional("folder", .string),
                                             .labeled("name", .string, default: .string("dream"), "the tokens' name; prompt k becomes <NAME-k>")],
                         doc: "Writes each learned prompt as a textual-inversion embedding, FOLDER/NAME-k.safetensors holding one tensor [M, d] under its token <NAME-k> (competing prompts: the blend last; a Textual Inversion result: FOLDER/NAME.safetensors, token <NAME>): the single-tensor format that diffusers' load_textual_inversion and AUTOMATIC1111 load for the same base model. Prefix and suffix text are not part of an embedding: write them around the token. Returns the tokens.",
                         example: "save_embeddings(D, \"embeddings\", name: \"cones\")") { a, _ in
            let d = try a.distribution("D"), folder = try a.string("folder"), name = try a.string("name")
            guard let l = d.learned else {
                throw ArgumentError("save_embeddings: a mixture has no prompts to write; pass a distribution from learn, textual_inversion or load", argument: "D")
            }
            guard !name.isEmpty, !name.contains("/"), !name.contains(" ") else {
                throw ArgumentError("save_embeddings: name must be one word without '/' (it becomes the token and the file name), got \"\(name)\"", argument: "name")
            }
            let p = l.dist.prompts
            var tokens: [Value] = []
            for k in 0..<l.dist.k {
                // Angle brackets, as diffusers' examples: its loader refuses a token already in the vocabulary.
                let file = l.dist.k == 1 ? name : "\(name)-\(k)", token = "<\(file)>"
                let vectors = try p.sliced(axis: 0, start: k, end: k + 1).copy().reshaped([p.shape[1], p.shape[2]])
                try SafeTensors.save([token: vectors], metadata: ["format": "pt", "base_model": d.sd.identity.name], to: "\(folder)/\(file).safetensors")
                tokens.append(.string(token))
            }
            return .list(tokens)
        }, topic: topic)
        r.register(Builtin("stats", [.positional("D", .any)],
                         doc: "Summary figures of a distribution: its objective and learning run (prompts, tokens, batch as set — a step takes at most every reference —, lr, lr_schedule, ema, steps, final_loss, prefix, suffix, and for competing prompts prompt_cost, blend and the blend's weight: the blend is the last prompt, D.k − 1), σ's size, and how distinct its prompts are (effective_prompts: 1/Σπ², the number of equally used prompts with the same spread of use; used_prompts: prompts ever sampled; prompt_spread: the mean distance between two prompts' encodings over the mean's norm, where the prompts differ), and where it knows its references, how many and their manifold's radius (what sample's redraws: test).",
                         example: "stats(D)") { a, _ in
            let d = try a.distribution("D")
            var s = OrderedDict()
            if let l = d.learned {
                s["objective"] = .string(l.settings.objective.rawValue)
                s["prompts"] = .number(Double(l.settings.prompts)); s["tokens"] = .number(Double(l.dist.m))
                s["batch"] = .number(Double(l.settings.batch)); s["lr"] = .number(Double(l.settings.lr))
                s["lr_schedule"] = .string(l.settings.lrSchedule.rawValue); s["ema"] = .number(Double(l.settings.ema))
                s["steps"] = .number(Double(l.completedSteps)); s["final_loss"] = .number(Double(l.lastLoss))
                s["prefix"] = .string(l.dist.prefix); s["suffix"] = .string(l.dist.suffix)
                if l.settings.objective == .compete {
                    s["prompt_cost"] = .number(Double(l.settings.promptCost))
                    s["blend"] = .bool(l.settings.blend)
                    // The blend is the last prompt; its weight is the share of draws left to it.
                    if l.settings.blend, let w = l.dist.weights?.last { s["blend_weight"] = .number(Double(w)) }
                }
            }
            s["mean_std"] = .number(Double(try d.std.mean().item)); s["max_std"] = .number(Double(try d.std.max().item))
            s["mean_norm"] = .number(Double(try (d.mean * d.mean).sum().sqrt().item))
            if let h = d.encoded.encodings {
                let k = h.shape[0]
                let w = d.encoded.weights ?? [Float](repeating: 1 / Float(k), count: k)
                s["effective_prompts"] = .number(1 / w.reduce(0) { $0 + Double($1) * Double($1) })
                s["used_prompts"] = .number(Double(w.filter { $0 > 0 }.count))
                s["prompt_spread"] = .number(try promptSpread(h, mean: d.mean))
            }
            if let mf = d.encoded.manifold {
                s["references"] = .number(Double(mf.features.shape[0])); s["reference_radius"] = .number(Double(mf.radius))
            }
            return .dict(s)
        }, topic: topic)
    }
}

/// Mean distance between two different prompts' encodings H [K, 77, d], over the norm of μ, both taken
/// over the positions where the prompts differ (0 for K = 1).
func promptSpread(_ h: Tensor, mean: Tensor) throws -> Double {
    let k = h.shape[0], positions = h.shape[1], width = h.shape[2]
    guard k > 1 else { return 0 }
    let x = h.scalars, mu = mean.scalars
    let varying = (0..<positions).filter { p in
        (1..<k).contains { j in (0..<width).contains { x[(j * positions + p) * width + $0] != x[p * width + $0] } }
    }
    var total = 0.0
    for i in 0..<k {
        for j in (i + 1)..<k {
            var s = 0.0
            for p in varying { for c in 0..<width { let t = Double(x[(i * positions + p) * width + c] - x[(j * positions + p) * width + c]); s += t * t } }
            total += s.squareRoot()
        }
    }
    var norm = 0.0
    for p in varying { for c in 0..<width { norm += Double(mu[p * width + c]) * Double(mu[p * width + c]) } }
    return norm > 0 ? total / Double(k * (k - 1) / 2) / norm.squareRoot() : 0
}
