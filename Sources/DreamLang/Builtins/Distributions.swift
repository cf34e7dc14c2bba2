import Foundation
import DreamAssets
import DreamTensor
import DreamModels
import DreamDiffusion
import DreamMethod
import DreamIO

/// A prompt distribution as a language value: learned (with its prompts) or mixed (mean and σ only).
public final class DistributionValue: DreamObject {
    public let sd: StableDiffusion
    public let learned: LearnedDistribution?
    public let mean: Tensor, std: Tensor

    init(sd: StableDiffusion, learned: LearnedDistribution?, mean: Tensor, std: Tensor) {
        self.sd = sd; self.learned = learned; self.mean = mean; self.std = std
    }

    /// A learned distribution's value, with μ and σ encoded from its prompts and text.
    convenience init(sd: StableDiffusion, learned: LearnedDistribution) throws {
        let (mu, sigma) = try withoutGrad { try learned.dist.gaussian(sd) }
        self.init(sd: sd, learned: learned, mean: mu, std: sigma)
    }

    public var typeName: String { "distribution" }
    public var summary: String {
        if let l = learned {
            return "distribution K=\(l.dist.k) M=\(l.dist.m), \(l.completedSteps) steps, loss \(formatNumber(Double(l.lastLoss)))"
        }
        return "distribution (mixture) \(shapeString(mean.shape))"
    }
    public var memberNames: [String] { ["mean", "std", "prompts", "k", "tokens", "steps", "loss"] }
    public func member(_ name: String) throws -> Value? {
        switch name {
        case "mean": return .tensor(mean)
        case "std": return .tensor(std)
        case "prompts": return learned.map { .tensor($0.dist.prompts) } ?? .none
        case "k": return learned.map { .number(Double($0.dist.k)) } ?? .none
        case "tokens": return learned.map { .number(Double($0.dist.m)) } ?? .none
        case "steps": return learned.map { .number(Double($0.completedSteps)) } ?? .none
        case "loss": return learned.map { .number(Double($0.lastLoss)) } ?? .none
        default: return nil
        }
    }
}

extension Args {
    func distribution(_ n: String) throws -> DistributionValue {
        guard case .object(let o) = self[n], let d = o as? DistributionValue else {
            throw ArgumentError("\(function.qualifiedName): argument '\(n)' must be a distribution (from learn or mix), got \(describeForError(self[n]))", argument: n)
        }
        return d
    }

    func optionalDistribution(_ n: String) throws -> DistributionValue? {
        if case .none = self[n] { return nil }
        return try distribution(n)
    }
}

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

extension Registry {
    func registerDistributions() {
        let topic = "distributions"
        register(Builtin("learn", [.positional("m", .any), .positional("images", .tensor),
                                   .labeled("prompts", .int, default: .number(32), "K soft prompts"),
                                   .labeled("tokens", .int, default: .number(4), "M learned tokens per prompt"),
                                   .labeled("steps", .int, default: .number(500)), .labeled("lr", .number, default: .number(1e-3)),
                                   .labeled("batch", .int, default: .number(4)), .labeled("samples", .int, default: .number(4)),
                                   .labeled("ortho", .number, default: .number(1e-3)),
                                   .labeled("seed", .optional(.int), "random seed; default: the next seed drawn from --seed"),
                                   .labeled("prefix", .string, default: .string("")), .labeled("suffix", .string, default: .string("")),
                                   .labeled("resume", .optional(.any), "a saved run to continue (its settings are used; steps counts all steps)")],
                         doc: "Learns a prompt distribution from reference images (progress bar; Ctrl-C keeps the last completed step).",
                         example: "let D = learn(m, images(\"refs/*.png\", size: 64), steps: 300, seed: 1)") { a, ip in
            let sd = try a.model("m")
            var s = LearningSettings()
            s.prompts = try a.int("prompts"); s.tokens = try a.int("tokens"); s.steps = try a.int("steps")
            s.lr = Float(try a.number("lr")); s.batch = try a.int("batch"); s.samples = try a.int("samples")
            s.ortho = Float(try a.number("ortho")); s.seed = try ip.seed(a)
            s.prefix = try a.string("prefix"); s.suffix = try a.string("suffix")
            for (name, v) in [("prompts", s.prompts), ("tokens", s.tokens), ("batch", s.batch), ("samples", s.samples)] where v < 1 {
                throw ArgumentError("learn: \(name): must be at least 1, got \(v)", argument: name)
            }
            guard s.steps >= 0 else { throw ArgumentError("learn: steps: must be ≥ 0", argument: "steps") }
            return try learnedValue(sd, images: try a.tensor("images"), s, resume: try a.optionalDistribution("resume"), caller: "learn", ip)
        }, topic: topic)
        register(Builtin("textual_inversion", [.positional("m", .any), .positional("images", .tensor),
                                               .labeled("tokens", .int, default: .number(4)), .labeled("steps", .int, default: .number(500)),
                                               .labeled("lr", .number, default: .number(1e-3)), .labeled("batch", .int, default: .number(4)),
                                               .labeled("seed", .optional(.int), "random seed; default: the next seed drawn from --seed"),
                                               .labeled("resume", .optional(.any), "a saved run to continue (its settings are used; steps counts all steps)")],
                         doc: "The single-prompt baseline: the same learning with K = 1 (so σ = 0) and no orthogonality term.",
                         example: "let TI = textual_inversion(m, refs, steps: 300, seed: 1)") { a, ip in
            let sd = try a.model("m")
            var s = LearningSettings()
            s.prompts = 1; s.samples = 1; s.ortho = 0
            s.tokens = try a.int("tokens"); s.steps = try a.int("steps"); s.lr = Float(try a.number("lr")); s.batch = try a.int("batch")
            s.seed = try ip.seed(a)
            guard s.tokens >= 1, s.batch >= 1, s.steps >= 0 else { throw ArgumentError("textual_inversion: tokens and batch must be ≥ 1, steps ≥ 0") }
            return try learnedValue(sd, images: try a.tensor("images"), s, resume: try a.optionalDistribution("resume"), caller: "textual_inversion", ip)
        }, topic: topic)
        register(Builtin("sample", [.positional("D", .any), .labeled("n", .int, default: .number(1)), .labeled("gamma", .number, default: .number(1))]
                                    + samplingParams + [
                                    .labeled("seed", .optional(.int), "random seed; default: the next seed drawn from --seed")],
                         doc: "Images from a distribution: conditions μ + γσε, guided against the empty prompt.",
                         example: "sample(D, n: 8, gamma: 1, steps: 30, seed: 2)") { a, ip in
            let d = try a.distribution("D")
            let n = try a.int("n"), gamma = try a.number("gamma")
            guard n >= 1 else { throw ArgumentError("sample: n must be ≥ 1", argument: "n") }
            guard gamma >= 0 else { throw ArgumentError("sample: gamma must be ≥ 0 (it scales σ), got \(formatNumber(gamma))", argument: "gamma") }
            var o = try generationOptions(a, d.sd)
            o.seed = try ip.seed(a)
            do {
                return .tensor(try d.sd.sample(mean: d.mean, std: d.std, n: n, gamma: Float(gamma), o))
            } catch let e as ModelError { throw ArgumentError("sample: \(e.message)") }
        }, topic: topic)
        register(Builtin("edit", [.positional("D", .any),
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
        register(Builtin("mix", [.positional("distributions", .list), .labeled("weights", .optional(.list)), .labeled("gammas", .optional(.list))],
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
            return .object(DistributionValue(sd: ds[0].sd, learned: nil, mean: mu, std: sigma))
        }, topic: topic)
        register(Builtin("save_embeddings", [.positional("D", .any), .positional("folder", .string),
                                             .labeled("name", .string, default: .string("dream"), "the tokens' name; prompt k becomes <NAME-k>")],
                         doc: "Writes each learned prompt as a textual-inversion embedding, FOLDER/NAME-k.safetensors holding one tensor [M, d] under its token <NAME-k> (a Textual Inversion result: FOLDER/NAME.safetensors, token <NAME>): the single-tensor format that diffusers' load_textual_inversion and AUTOMATIC1111 load for the same base model. Prefix and suffix text are not part of an embedding: write them around the token. Returns the tokens.",
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
        register(Builtin("stats", [.positional("D", .any)], doc: "Summary figures of a distribution.", example: "stats(D)") { a, _ in
            let d = try a.distribution("D")
            var s = OrderedDict()
            if let l = d.learned {
                s["prompts"] = .number(Double(l.dist.k)); s["tokens"] = .number(Double(l.dist.m))
                s["steps"] = .number(Double(l.completedSteps)); s["final_loss"] = .number(Double(l.lastLoss))
                s["prefix"] = .string(l.dist.prefix); s["suffix"] = .string(l.dist.suffix)
            }
            s["mean_std"] = .number(Double(try d.std.mean().item)); s["max_std"] = .number(Double(try d.std.max().item))
            s["mean_norm"] = .number(Double(try (d.mean * d.mean).sum().sqrt().item))
            return .dict(s)
        }, topic: topic)
    }
}

/// Models loaded by path, shared by the distributions that refer to them.
nonisolated(unsafe) var loadedModels: [String: StableDiffusion] = [:]

func loadModel(_ path: String, config: String? = nil, prediction: String? = nil) throws -> StableDiffusion {
    let key = [(path as NSString).standardizingPath, config ?? "", prediction ?? ""].joined(separator: "\u{1}")
    if let m = loadedModels[key], m.isCurrent { return m }
    let m = try StableDiffusion(path: path, tokenizer: Assets.clipTokenizer, config: config, prediction: prediction)
    loadedModels[key] = m
    return m
}

/// Distributions in safetensors: prompts (when learned), mean and std, with metadata naming the base
/// model (path, name, config hash) and the learning settings.
enum DistributionFile {
    static let format = "dream-distribution", version = "1"

    static func save(_ d: DistributionValue, to path: String) throws {
        var tensors = ["mean": d.mean, "std": d.std]
        let id = d.sd.identity
        var meta = ["format": format, "format_version": version, "model_path": (d.sd.path as NSString).standardizingPath,
                    "model_name": id.name, "model_config_hash": id.configHash]
        if let l = d.learned {
            tensors["prompts"] = l.dist.prompts
            if let (m1, m2) = l.moments { tensors["adam_m"] = m1; tensors["adam_v"] = m2 }
            let s = l.settings
            meta.merge(["k": "\(l.dist.k)", "m": "\(l.dist.m)", "prefix": l.dist.prefix, "suffix": l.dist.suffix,
                        "steps": "\(l.completedSteps)", "lr": "\(s.lr)", "batch": "\(s.batch)", "samples": "\(s.samples)",
                        "ortho": "\(s.ortho)", "seed": "\(s.seed)", "final_loss": "\(l.lastLoss)"]) { $1 }
        }
        try SafeTensors.save(tensors, metadata: meta, to: path)
    }

    /// A distribution from a file written by `save`, bound again to its base model.
    static func load(_ f: SafeTensorsFile) throws -> DistributionValue {
        let meta = f.metadata
        guard meta["format"] == format else { throw FileError(f.path, "not a dream distribution") }
        guard meta["format_version"] == version else {
            throw FileError(f.path, "distribution format version \(meta["format_version"] ?? "?") is not supported (this dream reads \(version))")
        }
        guard let modelPath = meta["model_path"] else { throw FileError(f.path, "the file does not name its base model") }
        let sd: StableDiffusion
        do { sd = try loadModel(modelPath) } catch {
            throw FileError(f.path, "its base model \(meta["model_name"] ?? "?") (\(modelPath)) cannot be loaded: \(error)")
        }
        let id = sd.identity
        guard id.configHash == meta["model_config_hash"] else {
            throw FileError(f.path, "learned on model \(meta["model_name"] ?? "?") (config \(meta["model_config_hash"] ?? "?")), but \(modelPath) is now \(id.name) (config \(id.configHash)); refusing to use it with a different model")
        }
        let mean = try f.tensor("mean"), std = try f.tensor("std")
        var learned: LearnedDistribution? = nil
        if f.entries["prompts"] != nil {
            let prompts = try f.tensor("prompts")
            let dist = PromptDistribution(prompts: prompts, prefix: meta["prefix"] ?? "", suffix: meta["suffix"] ?? "")
            var s = LearningSettings()
            s.prompts = dist.k; s.tokens = dist.m; s.prefix = dist.prefix; s.suffix = dist.suffix
            s.lr = Float(meta["lr"] ?? "") ?? s.lr; s.batch = Int(meta["batch"] ?? "") ?? s.batch
            s.samples = Int(meta["samples"] ?? "") ?? s.samples; s.ortho = Float(meta["ortho"] ?? "") ?? s.ortho
            s.seed = UInt64(meta["seed"] ?? "") ?? 0
            let l = LearnedDistribution(dist, settings: s)
            let moments = f.entries["adam_m"] != nil && f.entries["adam_v"] != nil ? (try f.tensor("adam_m"), try f.tensor("adam_v")) : nil
            l.restore(steps: Int(meta["steps"] ?? "") ?? 0, loss: Float(meta["final_loss"] ?? "") ?? .nan, moments: moments)
            learned = l
        }
        return DistributionValue(sd: sd, learned: learned, mean: mean, std: std)
    }
}
