import Foundation
import DreamTensor
import DreamIO

/// An original (CompVis/LDM) single-file Stable Diffusion checkpoint: UNet under model.diffusion_model.,
/// VAE under first_stage_model., text encoder under cond_stage_model. (SD 1.x: transformers' CLIP under
/// .transformer.; SD 2.x: OpenCLIP under .model., fused q/k/v, conditioned on the penultimate block).
/// The family and every size come from the tensors' shapes; key names are mapped to diffusers' so the
/// same modules load them, half-precision data staying mapped.
public struct LDMCheckpoint {
    public enum Family: String { case sd1 = "SD 1.x", sd2 = "SD 2.x" }
    public let file: SafeTensorsFile
    public let family: Family
    let keys: [String]

    static let unetPrefix = "model.diffusion_model.", vaePrefix = "first_stage_model."
    static let clipPrefix = "cond_stage_model.transformer.", openClipPrefix = "cond_stage_model.model."

    public init(path: String) throws {
        file = try SafeTensorsFile(path: path)
        keys = file.names
        guard file.entries[Self.unetPrefix + "input_blocks.0.0.weight"] != nil else {
            let sample = keys.sorted().prefix(3).joined(separator: ", ")
            if keys.contains(where: { $0.hasPrefix("conditioner.embedders.") }) {
                throw ModelError("\(path): an SDXL checkpoint (conditioner.embedders.*); only SD 1.x and 2.x are supported")
            }
            throw ModelError("\(path): not an original Stable Diffusion checkpoint: no model.diffusion_model.input_blocks.0.0.weight (keys look like \(sample))")
        }
        if file.entries[Self.openClipPrefix + "token_embedding.weight"] != nil {
            family = .sd2
        } else if keys.contains(where: { $0.hasPrefix(Self.clipPrefix) && $0.hasSuffix("token_embedding.weight") }) {
            family = .sd1
        } else {
            throw ModelError("\(path): no text encoder found (neither cond_stage_model.transformer.* as in SD 1.x nor cond_stage_model.model.* as in SD 2.x)")
        }
    }

    func shape(_ key: String) throws -> [Int] {
        guard let e = file.entries[key] else { throw ModelError("\(file.path): expected key \(key) is missing") }
        return e.shape
    }
    func has(_ key: String) -> Bool { file.entries[key] != nil }
    /// Distinct integers `n` in keys starting with `prefix` + "n.".
    func indices(_ prefix: String) -> [Int] {
        Set(keys.compactMap { k -> Int? in
            guard k.hasPrefix(prefix) else { return nil }
            return Int(k.dropFirst(prefix.count).prefix { $0 != "." })
        }).sorted()
    }

    /// The four component configs and the pad token: from `folder` (a diffusers pipeline folder) when
    /// given, else inferred from shapes with the family's conventions (SD 1.x: 8 heads, ε; SD 2.x: heads
    /// of 64 channels, v-prediction, 768-pixel images). `prediction` overrides the prediction type.
    public func configs(from folder: String?, prediction: String?) throws -> (text: Config, unet: Config, vae: Config, scheduler: Config, padToken: String) {
        if let p = prediction, p != "epsilon" && p != "v_prediction" {
            throw ModelError("prediction must be \"epsilon\" or \"v_prediction\", got \"\(p)\"")
        }
        if let folder {
            var sched = try Config(path: folder + "/scheduler/scheduler_config.json").values
            if let prediction { sched["prediction_type"] = prediction }
            let tok = try? Config(path: folder + "/tokenizer/tokenizer_config.json")
            return (try Config(path: folder + "/text_encoder/config.json"), try Config(path: folder + "/unet/config.json"),
                    try Config(path: folder + "/vae/config.json"), Config(sched, path: folder + "/scheduler/scheduler_config.json"),
                    (tok?.values["pad_token"] as? String) ?? "<|endoftext|>")
        }
        let v = (prediction ?? (family == .sd2 ? "v_prediction" : "epsilon")) == "v_prediction"
        let src = (file.path as NSString).lastPathComponent + " (inferred)"
        return (Config(try textConfig(), path: src), Config(try unetConfig(large: v), path: src), Config(try vaeConfig(large: v), path: src),
                Config(["_class_name": "DDIMScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
                        "beta_schedule": "scaled_linear", "prediction_type": v ? "v_prediction" : "epsilon", "set_alpha_to_one": false,
                        "steps_offset": 1, "timestep_spacing": "leading", "clip_sample": false], path: src),
                family == .sd2 ? "!" : "<|endoftext|>")
    }

    func unetConfig(large: Bool) throws -> [String: Any] {
        let p = Self.unetPrefix
        let n = (indices(p + "input_blocks.").last ?? 0) + 1
        let downs = (1..<max(n, 1)).filter { has(p + "input_blocks.\($0).0.op.weight") }
        let levels = downs.count + 1, perLevel = n - 1 - downs.count
        guard perLevel > 0, perLevel % levels == 0 else { throw ModelError("\(file.path): unrecognised UNet layout: \(n) input blocks with \(downs.count) downsamplers") }
        let L = perLevel / levels
        var channels: [Int] = [], downTypes: [String] = [], upTypes: [String] = []
        var linear = false, cross = 768
        for l in 0..<levels {
            let b = 1 + l * (L + 1)
            channels.append(try shape(p + "input_blocks.\(b).0.out_layers.3.weight")[0])
            let attn = has(p + "input_blocks.\(b).1.proj_in.weight")
            downTypes.append(attn ? "CrossAttnDownBlock2D" : "DownBlock2D")
            if attn {
                linear = try shape(p + "input_blocks.\(b).1.proj_in.weight").count == 2
                cross = try shape(p + "input_blocks.\(b).1.transformer_blocks.0.attn2.to_k.weight")[1]
                if has(p + "input_blocks.\(b).1.transformer_blocks.1.norm1.weight") {
                    throw ModelError("\(file.path): transformer depth above 1 (SDXL-like) is not supported")
                }
            }
            upTypes.append(has(p + "output_blocks.\(l * (L + 1)).1.proj_in.weight") ? "CrossAttnUpBlock2D" : "UpBlock2D")
        }
        return ["_class_name": "UNet2DConditionModel", "sample_size": large ? 96 : 64,
                "in_channels": try shape(p + "input_blocks.0.0.weight")[1], "out_channels": try shape(p + "out.2.weight")[0],
                "block_out_channels": channels, "layers_per_block": L, "down_block_types": downTypes, "up_block_types": upTypes,
                "cross_attention_dim": cross, "use_linear_projection": linear, "norm_num_groups": 32, "upcast_attention": family == .sd2,
                "attention_head_dim": family == .sd1 ? channels.map { _ in 8 } : channels.map { max(1, $0 / 64) }]
    }

    func vaeConfig(large: Bool) throws -> [String: Any] {
        let p = Self.vaePrefix
        let levels = indices(p + "encoder.down.").count
        guard levels > 0 else { throw ModelError("\(file.path): no VAE encoder blocks (first_stage_model.encoder.down.*)") }
        let channels = try (0..<levels).map { try shape(p + "encoder.down.\($0).block.0.conv1.weight")[0] }
        return ["_class_name": "AutoencoderKL", "in_channels": try shape(p + "encoder.conv_in.weight")[1],
                "out_channels": try shape(p + "decoder.conv_out.weight")[0], "latent_channels": try shape(p + "post_quant_conv.weight")[0],
                "block_out_channels": channels, "layers_per_block": indices(p + "encoder.down.0.block.").count,
                "down_block_types": [String](repeating: "DownEncoderBlock2D", count: levels),
                "up_block_types": [String](repeating: "UpDecoderBlock2D", count: levels),
                "norm_num_groups": 32, "scaling_factor": 0.18215, "sample_size": large ? 768 : 512]
    }

    func textConfig() throws -> [String: Any] {
        switch family {
        case .sd1:
            let t = Self.clipPrefix + (has(Self.clipPrefix + "text_model.embeddings.token_embedding.weight") ? "text_model." : "")
            let emb = try shape(t + "embeddings.token_embedding.weight")
            return ["hidden_size": emb[1], "vocab_size": emb[0], "num_hidden_layers": indices(t + "encoder.layers.").count,
                    "intermediate_size": try shape(t + "encoder.layers.0.mlp.fc1.weight")[0], "num_attention_heads": emb[1] / 64,
                    "max_position_embeddings": try shape(t + "embeddings.position_embedding.weight")[0], "hidden_act": "quick_gelu"]
        case .sd2:
            let o = Self.openClipPrefix
            let emb = try shape(o + "token_embedding.weight")
            let blocks = indices(o + "transformer.resblocks.").count
            guard blocks >= 2 else { throw ModelError("\(file.path): the OpenCLIP text model has \(blocks) blocks; SD 2.x uses the penultimate one") }
            return ["hidden_size": emb[1], "vocab_size": emb[0], "num_hidden_layers": blocks - 1,
                    "intermediate_size": try shape(o + "transformer.resblocks.0.mlp.c_fc.weight")[0], "num_attention_heads": emb[1] / 64,
                    "max_position_embeddings": try shape(o + "positional_embedding")[0], "hidden_act": "gelu"]
        }
    }

    /// `key` with each (old, new) replacement applied in order.
    static func renamed(_ key: String, _ pairs: [(String, String)]) -> String {
        pairs.reduce(key) { $0.replacingOccurrences(of: $1.0, with: $1.1) }
    }

    public func unetWeights(layersPerBlock L: Int) throws -> WeightStore {
        let resnet = [("in_layers.0", "norm1"), ("in_layers.2", "conv1"), ("out_layers.0", "norm2"), ("out_layers.3", "conv2"),
                      ("emb_layers.1", "time_emb_proj"), ("skip_connection", "conv_shortcut")]
        let fixed = ["time_embed.0": "time_embedding.linear_1", "time_embed.2": "time_embedding.linear_2",
                     "input_blocks.0.0": "conv_in", "out.0": "conv_norm_out", "out.2": "conv_out"]
        var mapping: [String: WeightStore.Source] = [:]
        for k in keys where k.hasPrefix(Self.unetPrefix) {
            let rest = String(k.dropFirst(Self.unetPrefix.count))
            let parts = rest.split(separator: ".", maxSplits: 3).map(String.init)
            var name = rest
            if let f = fixed.first(where: { rest.hasPrefix($0.key + ".") }) {
                name = f.value + rest.dropFirst(f.key.count)
            } else if parts[0] == "middle_block", parts.count >= 3, let j = Int(parts[1]) {
                let tail = parts.dropFirst(2).joined(separator: ".")
                name = j == 1 ? "mid_block.attentions.0." + tail : "mid_block.resnets.\(j / 2)." + Self.renamed(tail, resnet)
            } else if parts.count == 4, let i = Int(parts[1]), let j = Int(parts[2]) {
                let tail = parts[3]
                switch parts[0] {
                case "input_blocks" where i >= 1:
                    let (b, pos) = ((i - 1) / (L + 1), (i - 1) % (L + 1))
                    if j == 0 && tail.hasPrefix("op.") { name = "down_blocks.\(b).downsamplers.0.conv." + tail.dropFirst(3) }
                    else if j == 0 { name = "down_blocks.\(b).resnets.\(pos)." + Self.renamed(tail, resnet) }
                    else if j == 1 { name = "down_blocks.\(b).attentions.\(pos)." + tail }
                case "output_blocks":
                    let (b, pos) = (i / (L + 1), i % (L + 1))
                    if j == 0 { name = "up_blocks.\(b).resnets.\(pos)." + Self.renamed(tail, resnet) }
                    else if tail.hasPrefix("conv.") { name = "up_blocks.\(b).upsamplers.0.conv." + tail.dropFirst(5) }
                    else if j == 1 { name = "up_blocks.\(b).attentions.\(pos)." + tail }
                default: break
                }
            }
            mapping[name] = .key(k)
        }
        return try WeightStore(file: file, source: file.path + " (UNet)", mapping: mapping)
    }

    public func vaeWeights(levels: Int) throws -> WeightStore {
        let attention = [("norm.", "group_norm."), ("q.", "to_q."), ("k.", "to_k."), ("v.", "to_v."), ("proj_out.", "to_out.0.")]
        var mapping: [String: WeightStore.Source] = [:]
        for k in keys where k.hasPrefix(Self.vaePrefix) {
            let rest = String(k.dropFirst(Self.vaePrefix.count))
            var name = Self.renamed(rest, [("encoder.norm_out.", "encoder.conv_norm_out."), ("decoder.norm_out.", "decoder.conv_norm_out."),
                                           ("mid.block_1.", "mid_block.resnets.0."), ("mid.block_2.", "mid_block.resnets.1."), ("nin_shortcut", "conv_shortcut")])
            let parts = name.split(separator: ".", maxSplits: 3).map(String.init)
            if parts.count == 4, let i = Int(parts[2]) {
                let tail = parts[3]
                if parts[1] == "down" { name = "\(parts[0]).down_blocks.\(i)." + Self.renamed(tail, [("block.", "resnets."), ("downsample.", "downsamplers.0.")]) }
                if parts[1] == "up" { name = "\(parts[0]).up_blocks.\(levels - 1 - i)." + Self.renamed(tail, [("block.", "resnets."), ("upsample.", "upsamplers.0.")]) }
            }
            if name.contains("mid.attn_1.") {
                let head = name.components(separatedBy: "mid.attn_1.")
                name = head[0] + "mid_block.attentions.0." + (attention.first { head[1].hasPrefix($0.0) }.map { $0.1 + head[1].dropFirst($0.0.count) } ?? head[1])
                let s = try shape(k)
                if s.count == 4 { mapping[name] = .reshaped(k, [s[0], s[1]]); continue }
            }
            mapping[name] = .key(k)
        }
        return try WeightStore(file: file, source: file.path + " (VAE)", mapping: mapping)
    }

    public func textWeights(layers: Int) throws -> WeightStore {
        var mapping: [String: WeightStore.Source] = [:]
        switch family {
        case .sd1:
            for k in keys where k.hasPrefix(Self.clipPrefix) && !k.hasSuffix("position_ids") {
                let rest = String(k.dropFirst(Self.clipPrefix.count))
                mapping[rest.hasPrefix("text_model.") ? rest : "text_model." + rest] = .key(k)
            }
        case .sd2:
            let o = Self.openClipPrefix
            let hidden = try shape(o + "token_embedding.weight")[1]
            for k in keys where k.hasPrefix(o) {
                let rest = String(k.dropFirst(o.count))
                switch rest {
                case "token_embedding.weight": mapping["text_model.embeddings.token_embedding.weight"] = .key(k)
                case "positional_embedding": mapping["text_model.embeddings.position_embedding.weight"] = .key(k)
                case "ln_final.weight", "ln_final.bias": mapping["text_model.final_layer_norm." + rest.dropFirst(9)] = .key(k)
                case "text_projection", "logit_scale": continue   // the image-text projection: not used for conditioning
                default:
                    let parts = rest.split(separator: ".", maxSplits: 3).map(String.init)
                    guard parts.count == 4, parts[0] == "transformer", parts[1] == "resblocks", let i = Int(parts[2]) else { mapping[rest] = .key(k); continue }
                    if i >= layers { continue }   // blocks after the penultimate: unused by SD 2.x
                    let p = "text_model.encoder.layers.\(i)."
                    switch parts[3] {
                    case "attn.in_proj_weight", "attn.in_proj_bias":
                        let kind = parts[3].hasSuffix("weight") ? "weight" : "bias"
                        for (n, proj) in ["q_proj", "k_proj", "v_proj"].enumerated() { mapping[p + "self_attn.\(proj).\(kind)"] = .rows(k, n * hidden..<(n + 1) * hidden) }
                    default:
                        mapping[p + Self.renamed(parts[3], [("attn.out_proj", "self_attn.out_proj"), ("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"),
                                                            ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")])] = .key(k)
                    }
                }
            }
        }
        return try WeightStore(file: file, source: file.path + " (text encoder)", mapping: mapping)
    }
}
