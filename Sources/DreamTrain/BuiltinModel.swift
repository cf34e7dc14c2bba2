import Foundation
import DreamModels
import DreamWorld

/// The built-in model's configuration: a small member of the Stable Diffusion family (docs/world.md), written
/// as a diffusers folder so that it loads through the same code as any SD checkpoint.
/// 64×64 images; VAE with factor 4 to 4×16×16 latents; a 3-layer, 128-wide CLIP-style text encoder over a
/// byte-level BPE vocabulary whose merges make each caption word one token; a 3-level UNet (64, 128, 128
/// channels, 6.7M parameters) with cross-attention at the two coarser levels and the middle, where the
/// layout of the scene is decided; SD 1.x's noise schedule with ε prediction.
enum BuiltinModel {
    static let imageSize = 64
    static let hidden = 128

    static let vae: [String: Any] = [
        "_class_name": "AutoencoderKL", "in_channels": 3, "out_channels": 3, "latent_channels": 4,
        "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
        "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"],
        "block_out_channels": [32, 64, 64], "layers_per_block": 1, "norm_num_groups": 16, "sample_size": imageSize,
        "act_fn": "silu", "scaling_factor": 1.0,
    ]

    static let unet: [String: Any] = [
        "_class_name": "UNet2DConditionModel", "sample_size": imageSize / 4, "in_channels": 4, "out_channels": 4,
        "down_block_types": ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        "up_block_types": ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
        "mid_block_type": "UNetMidBlock2DCrossAttn",
        "block_out_channels": [64, 128, 128], "layers_per_block": 1, "cross_attention_dim": hidden,
        "attention_head_dim": 4, "norm_num_groups": 32, "norm_eps": 1e-5, "flip_sin_to_cos": true, "freq_shift": 0,
        "downsample_padding": 1, "use_linear_projection": true, "act_fn": "silu", "center_input_sample": false,
    ]

    static func textEncoder(vocabSize: Int, bos: Int, eos: Int) -> [String: Any] {
        ["architectures": ["CLIPTextModel"], "model_type": "clip_text_model", "hidden_size": hidden, "intermediate_size": 4 * hidden,
         "num_attention_heads": 4, "num_hidden_layers": 3, "max_position_embeddings": 77, "vocab_size": vocabSize,
         "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "bos_token_id": bos, "eos_token_id": eos, "pad_token_id": eos,
         "projection_dim": hidden]
    }

    static let scheduler: [String: Any] = [
        "_class_name": "DDIMScheduler", "num_train_timesteps": 1000, "beta_start": 0.00085, "beta_end": 0.012,
        "beta_schedule": "scaled_linear", "prediction_type": "epsilon", "set_alpha_to_one": false, "steps_offset": 1,
        "timestep_spacing": "leading", "clip_sample": false,
    ]

    static let modelIndex: [String: Any] = [
        "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.30.0",
        "text_encoder": ["transformers", "CLIPTextModel"], "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"], "vae": ["diffusers", "AutoencoderKL"],
        "scheduler": ["diffusers", "DDIMScheduler"],
        // dream's defaults for this model (StableDiffusion.defaultSteps/defaultCFG/defaultRedraws, learnDefaults and
        // textualInversionDefaults): the best measured on the world (docs/results.md).
        "dream_defaults": ["steps": 25, "cfg": 3.0, "redraws": 3,
                           "learn": ["objective": "compete", "prompts": 8, "tokens": 4, "steps": 400, "lr": 0.005, "batch": 2, "samples": 4, "ortho": 0],
                           "textual_inversion": ["tokens": 4, "steps": 400, "lr": 0.005, "batch": 4]] as [String: Any],
    ]

    static let tokenizerConfig: [String: Any] = [
        "tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "pad_token": "<|endoftext|>",
        "bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "do_lower_case": true,
    ]

    /// Every word of the world's captions.
    static var words: [String] {
        var w = Set(["a", "on", "background", "seen", "from", "the", "side", "above"])
        for a in Attribute.allCases { for v in a.values { w.insert(v) } }
        return w.sorted()
    }

    /// CLIP's vocabulary layout: the 256 byte characters, the same with "</w>", the merges' results, then
    /// BOS and EOS. Merges are learned by BPE over the caption words until each word is one symbol, so any
    /// text still tokenizes (unknown words fall apart into characters) and caption words are single tokens.
    static func vocabulary() -> (vocab: [String: Int], merges: [String]) {
        let chars = CLIPTokenizer.byteCharacters.map(String.init)
        var vocab: [String: Int] = [:]
        for c in chars { vocab[c] = vocab.count }
        for c in chars { vocab[c + "</w>"] = vocab.count }
        var symbols: [[String]] = words.map { w in
            let cs = w.utf8.map { chars[Int($0)] }
            return cs.dropLast() + [cs.last! + "</w>"]
        }
        var merges: [String] = []
        while symbols.contains(where: { $0.count > 1 }) {
            var counts: [String: Int] = [:]
            var order: [String] = []
            for s in symbols where s.count > 1 {
                for i in 0..<(s.count - 1) {
                    let p = s[i] + " " + s[i + 1]
                    if counts[p] == nil { order.append(p) }
                    counts[p, default: 0] += 1
                }
            }
            // Most frequent pair; ties go to the lexicographically first, so the result is deterministic.
            let best = order.max { (counts[$0]!, $1) < (counts[$1]!, $0) }!
            let parts = best.split(separator: " ").map(String.init)
            merges.append(best)
            vocab[parts[0] + parts[1]] = vocab.count
            symbols = symbols.map { s in
                var out: [String] = [], i = 0
                while i < s.count {
                    if i + 1 < s.count && s[i] == parts[0] && s[i + 1] == parts[1] { out.append(parts[0] + parts[1]); i += 2 } else { out.append(s[i]); i += 1 }
                }
                return out
            }
        }
        vocab["<|startoftext|>"] = vocab.count
        vocab["<|endoftext|>"] = vocab.count
        return (vocab, merges)
    }

    /// Writes the folder's configs and tokenizer (weights are added by the training stages).
    static func writeSkeleton(_ dir: String, vaeScaling: Float) throws {
        let fm = FileManager.default
        for sub in ["", "/vae", "/unet", "/text_encoder", "/tokenizer", "/scheduler"] { try fm.createDirectory(atPath: dir + sub, withIntermediateDirectories: true) }
        let (vocab, merges) = vocabulary()
        var v = vae; v["scaling_factor"] = Double(vaeScaling)
        try writeJSON(modelIndex, dir + "/model_index.json")
        try writeJSON(v, dir + "/vae/config.json")
        try writeJSON(unet, dir + "/unet/config.json")
        try writeJSON(textEncoder(vocabSize: vocab.count, bos: vocab["<|startoftext|>"]!, eos: vocab["<|endoftext|>"]!), dir + "/text_encoder/config.json")
        try writeJSON(scheduler, dir + "/scheduler/scheduler_config.json")
        try writeJSON(tokenizerConfig, dir + "/tokenizer/tokenizer_config.json")
        try writeJSON(vocab, dir + "/tokenizer/vocab.json")
        try ("#version: 0.2\n" + merges.joined(separator: "\n") + "\n").write(toFile: dir + "/tokenizer/merges.txt", atomically: true, encoding: .utf8)
    }

    static func writeJSON(_ object: Any, _ path: String) throws {
        let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
        try (data + Data("\n".utf8)).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// A training caption for a scene: each attribute's words dropped with probability `p`, the whole
    /// caption with probability `pAll` (the unconditional case of classifier-free guidance).
    static func caption(_ s: Scene, drop u: () -> Double, p: Double, pAll: Double) -> String {
        if u() < pAll { return "" }
        var words = ["a"]
        for a in [Attribute.size, .color, .pattern, .material, .shape] where u() >= p { words.append(s[a]) }
        var text = words.joined(separator: " ")
        if u() >= p { text += " on a \(s[.background]) background" }
        if u() >= p { text += s[.view] == "side" ? ", seen from the side" : ", seen from above" }
        return text
    }
}
