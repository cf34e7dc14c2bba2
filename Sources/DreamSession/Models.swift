import Foundation
import DreamLang
import DreamTensor
import DreamModels
import DreamDiffusion
import DreamAssets

/// A loaded model as a language value.
public final class ModelValue: DreamObject {
    public let sd: StableDiffusion
    public let name: String
    public init(_ sd: StableDiffusion, name: String) { self.sd = sd; self.name = name }
    public var typeName: String { "model" }
    public var summary: String {
        "model \(name) (text width \(sd.textEncoder.hidden), latents \(sd.unet.inChannels)×\(sd.unet.sampleSize)², \((try? sd.noiseSchedule.prediction.rawValue) ?? "?"))"
    }
    public var memberNames: [String] { ["path", "text_width", "latent_size", "prediction", "alphas_cumprod"] }
    public func member(_ name: String) throws -> Value? {
        switch name {
        case "path": return .string(sd.path)
        case "text_width": return .number(Double(sd.textEncoder.hidden))
        case "latent_size": return .number(Double(sd.unet.sampleSize))
        case "prediction": return .string((try? sd.noiseSchedule.prediction.rawValue) ?? "")
        case "alphas_cumprod":
            let a = try sd.noiseSchedule.alphasCumprod
            return .tensor(try Tensor(a, shape: [a.count]))
        default: return nil
        }
    }
}

extension Args {
    func model(_ n: String) throws -> StableDiffusion {
        guard case .object(let o) = self[n], let m = o as? ModelValue else {
            throw ArgumentError("\(function.qualifiedName): argument '\(n)' must be a model (from model(PATH)), got \(describeForError(self[n]))", argument: n)
        }
        return m.sd
    }
}

extension Session {
    /// Steps, guidance, sampler and schedule from a call's arguments over the model's own defaults
    /// (`GenerationOptions(for:)`); the sampler from this session's samplers.
    func generationOptions(_ a: Args, _ sd: StableDiffusion) throws -> GenerationOptions {
        var o = GenerationOptions(for: sd)
        if let steps = a.optionalInt("steps") { o.steps = steps }
        if a.has("cfg") { o.cfg = Float(try a.number("cfg")) }
        guard o.steps >= 1 else { throw ArgumentError("\(a.function.qualifiedName): steps must be ≥ 1, got \(o.steps)", argument: "steps") }
        let name = try a.string("sampler")
        guard let sampler = samplers[name] else {
            let hint = closest(name, among: samplers.names).map { "; did you mean \"\($0)\"?" } ?? ""
            throw ArgumentError("\(a.function.qualifiedName): unknown sampler \"\(name)\"\(hint) (available: \(samplers.names.joined(separator: ", ")))", argument: "sampler")
        }
        o.sampler = sampler; o.schedule = try a.string("schedule")
        return o
    }
}

/// The sampling arguments `generate` and `sample` share; `generationOptions` reads them.
let samplingParams: [Param] = [
    .labeled("steps", .optional(.int), "sampling steps; default: the model's (50 for SD checkpoints)"),
    .labeled("cfg", .optional(.number), "guidance scale; default: the model's (7.5 for SD checkpoints)"),
    .labeled("sampler", .string, default: .string("ddim"), "one of samplers() (the built-in ones and those plugins add)"),
    .labeled("schedule", .string, default: .string("normal"), "normal (the model's scheduler config, as diffusers), karras or exponential"),
]

extension Session {
    func registerModels() {
        let r = registry
        let topic = "models"
        let modelParam = Param.positional("m", .any, "a model from model(PATH)")
        r.register(Builtin("model", [.positional("path", .string, "\"builtin\", a diffusers folder or a single-file .safetensors checkpoint"),
                                   .labeled("config", .optional(.string), "single file: a diffusers folder whose configs to use instead of inferring them"),
                                   .labeled("prediction", .optional(.string), "single file: \"epsilon\" or \"v_prediction\" (default: ε for SD 1.x, v for SD 2.x)")],
                         doc: "Loads a Stable Diffusion family model: \"builtin\", a diffusers-layout folder, or an original single-file checkpoint (SD 1.x or 2.x, told apart from its shapes). Members: path, text_width, latent_size, prediction and alphas_cumprod (ᾱ_t of its training schedule, one per timestep).",
                         example: "let m = model(\"models/sd15\")") { a, _ in
            let path = try a.string("path")
            do {
                if path == "builtin" { return .object(ModelValue(try self.loadModel(Assets.builtinModel), name: "builtin")) }
                if !FileManager.default.fileExists(atPath: path), !path.contains("/"), let near = closest(path, among: ["builtin"]) {
                    throw ArgumentError("model: \(path): no such file or folder; did you mean \"\(near)\"?", argument: "path")
                }
                let m = try self.loadModel(path, config: a.optionalString("config"), prediction: a.optionalString("prediction"))
                return .object(ModelValue(m, name: (path as NSString).lastPathComponent))
            } catch let e as ModelError { throw ArgumentError("model: \(e.message)", argument: "path") }
        }, topic: topic)
        r.register(Builtin("encode", [modelParam, .positional("text", .string)], doc: "Text-encoder output [1, 77, d]: what the UNet is conditioned on.",
                         example: "let c = encode(m, \"a red cone\")") { a, _ in
            let sd = try a.model("m")
            return .tensor(try withoutGrad { try sd.encode(try a.string("text")) })
        }, topic: topic)
        r.register(Builtin("unet", [modelParam, .positional("latents", .tensor), .positional("t", .oneOf([.number, .ints, .tensor])), .positional("cond", .tensor)],
                         doc: "The model's raw prediction (noise or v, per its config) for latents at timestep(s) t under conditioning cond.",
                         example: "unet(m, randn([1, 4, 8, 8], seed: 1), 500, encode(m, \"a cone\"))") { a, _ in
            let sd = try a.model("m"), x = try a.tensor("latents")
            var ts: [Float]
            switch a["t"] {
            case .number(let v): ts = [Float](repeating: Float(v), count: x.shape.first ?? 1)
            case .list(let l): ts = l.compactMap { if case .number(let v) = $0 { return Float(v) }; return nil }
            case .tensor(let t): ts = t.count == 1 ? [Float](repeating: t.pointer[0], count: x.shape.first ?? 1) : t.scalars
            default: ts = []
            }
            do { return .tensor(try sd.unet(x, timesteps: ts, context: try a.tensor("cond"))) } catch let e as ModelError { throw ArgumentError(e.message) }
        }, topic: topic)
        r.register(Builtin("decode", [modelParam, .positional("latents", .tensor)], doc: "Images in [0, 1] from latents (divided by the VAE's scaling factor first).",
                         example: "decode(m, latents)") { a, _ in
            let sd = try a.model("m"), z = try a.tensor("latents")
            do {
                return .tensor(try withoutGrad { try (sd.vae.decodeEach(z * (1 / sd.vae.scalingFactor)) * 0.5 + 0.5).clamp(min: 0, max: 1) })
            } catch let e as ModelError { throw ArgumentError(e.message, argument: "latents") }
        }, topic: topic)
        r.register(Builtin("encode_image", [modelParam, .positional("images", .tensor)], doc: "Latents of images in [0, 1]: the VAE posterior mean × scaling factor.",
                         example: "encode_image(m, load(\"cat.png\"))") { a, _ in
            let sd = try a.model("m"), img = try a.tensor("images")
            do {
                return .tensor(try withoutGrad { try sd.vae.encodeMeanEach(img * 2 - 1) * sd.vae.scalingFactor })
            } catch let e as ModelError { throw ArgumentError(e.message, argument: "images") }
        }, topic: topic)
        r.register(Builtin("generate", [modelParam, .positional("prompt", .oneOf([.string, .list, .tensor]), "a prompt, a list of prompts, or conditions [N, 77, d] (from draw or encode)"),
                                      .labeled("n", .optional(.int), "images (for a single prompt)")] + samplingParams + [
                                      .labeled("eta", .number, default: .number(0), "DDIM's η (0 deterministic, 1 DDPM-like noise)"),
                                      .labeled("seed", .optional(.int), "random seed; default: the next seed drawn from --seed"),
                                      .labeled("latents", .optional(.tensor), "starting noise [N, C, h, w] in unit-variance scale"),
                                      .labeled("size", .optional(.ints), "height and width in pixels (one number: square)"),
                                      .labeled("negative", .string, default: .string(""))],
                         doc: "Text-to-image with classifier-free guidance; a progress bar over steps.",
                         example: "generate(m, \"a red cone\", n: 4, steps: 20, seed: 1)") { a, ip in
            let sd = try a.model("m")
            var prompts: [String] = []
            var conditions: Tensor? = nil
            switch a["prompt"] {
            case .tensor(let c):
                guard c.rank == 3 && c.shape[1] == sd.textEncoder.maxPositions && c.shape[2] == sd.textEncoder.hidden else {
                    throw ArgumentError("generate: conditions must be [N, \(sd.textEncoder.maxPositions), \(sd.textEncoder.hidden)] (what draw or encode gives), got \(c.shape)", argument: "prompt")
                }
                if let n = a.optionalInt("n"), n != c.shape[0] { throw ArgumentError("generate: n: \(n) but \(c.shape[0]) conditions", argument: "n") }
                conditions = c
            case .string(let s): prompts = [String](repeating: s, count: a.optionalInt("n") ?? 1)
            case .list(let l):
                prompts = try l.map { if case .string(let s) = $0 { return s }; throw ArgumentError("generate: prompt lists hold strings", argument: "prompt") }
                if let n = a.optionalInt("n"), n != prompts.count { throw ArgumentError("generate: n: \(n) but \(prompts.count) prompts", argument: "n") }
            default: prompts = []
            }
            guard !prompts.isEmpty || (conditions?.shape[0] ?? 0) > 0 else { throw ArgumentError("generate: no prompts (n must be ≥ 1)", argument: "n") }
            var o = try self.generationOptions(a, sd)
            o.eta = try a.number("eta")
            guard o.eta >= 0 else { throw ArgumentError("generate: eta must be ≥ 0, got \(formatNumber(o.eta))", argument: "eta") }
            o.seed = try ip.seed(a)
            o.latents = a.optionalTensor("latents")
            o.negative = try a.string("negative")
            if a.has("size") {
                let s = try a.ints("size")
                guard s.count == 1 || s.count == 2 else { throw ArgumentError("generate: size is one or two integers", argument: "size") }
                o.size = (s[0], s.count == 2 ? s[1] : s[0])
            }
            do {
                if let c = conditions { return .tensor(try sd.sample(conditions: c, o)) }
                return .tensor(try sd.generate(prompts, o))
            } catch let e as ModelError { throw ArgumentError("generate: \(e.message)") }
        }, topic: topic)
        r.register(Builtin("samplers", [], doc: "Names of the available samplers.", example: "samplers()") { _, _ in
            .list(self.samplers.names.map { .string($0) })
        }, topic: topic)
    }
}
