import Foundation
import DreamTensor
import DreamIO

/// A Stable Diffusion pipeline's models, from the diffusers folder layout (model_index.json and a folder
/// per component with config.json and safetensors weights, full or fp16 variant) or from a single-file
/// original (LDM) checkpoint (see `LDMCheckpoint`).
public final class StableDiffusion {
    public let path: String
    public let tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    public let unet: UNet
    public let vae: VAE
    public let schedulerConfig: Config
    /// Sampling defaults the model folder recommends (model_index.json "dream_defaults": steps, cfg, and
    /// redraws for sampling a learned distribution); nil where it says nothing.
    public let defaultSteps: Int?, defaultCFG: Float?, defaultRedraws: Int?
    /// Learning defaults the model folder recommends ("dream_defaults" → "learn", "textual_inversion").
    public let learnDefaults: LearningDefaults, textualInversionDefaults: LearningDefaults
    /// The component configs' text, hashed into `identity`.
    let configTexts: [Data]

    /// Loads `path`: a diffusers folder, or a single-file checkpoint (.safetensors with LDM key names).
    /// For a single file, `tokenizer` is a folder with CLIP's vocab.json and merges.txt, `config` an
    /// optional diffusers folder whose configs replace the ones inferred from the weights' shapes, and
    /// `prediction` ("epsilon" or "v_prediction") overrides the family's usual prediction type.
    public init(path: String, tokenizer tokenizerFolder: String? = nil, config configFolder: String? = nil, prediction: String? = nil) throws {
        self.path = path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw FileError(path, "no such file or folder") }
        if !isDir.boolValue {
            guard path.hasSuffix(".safetensors") else {
                // Pickled checkpoints run code when unpickled, so they are never read; say how to get a file that is.
                let pickled = [".ckpt", ".pt", ".pth", ".bin"].contains { path.lowercased().hasSuffix($0) }
                throw FileError(path, "expected a diffusers folder (with model_index.json) or a single-file .safetensors checkpoint"
                                + (pickled ? "; pickled checkpoints (.ckpt, .pt, .bin) are not read, since loading one can run code: convert it to .safetensors first (in Python: torch.load it, then safetensors.torch.save_file its state_dict)" : ""))
            }
            let ckpt = try LDMCheckpoint(path: path)
            let configs = try ckpt.configs(from: configFolder, prediction: prediction)
            guard let folder = configFolder ?? tokenizerFolder else { throw ModelError("\(path): a single-file checkpoint needs a tokenizer folder") }
            let tokDir = FileManager.default.fileExists(atPath: folder + "/tokenizer/vocab.json") ? folder + "/tokenizer" : folder
            tokenizer = try CLIPTokenizer(vocabPath: tokDir + "/vocab.json", mergesPath: tokDir + "/merges.txt", padToken: configs.padToken)
            textEncoder = try CLIPTextModel(config: configs.text, weights: ckpt.textWeights(layers: configs.text.int("num_hidden_layers")))
            unet = try UNet(config: configs.unet, weights: ckpt.unetWeights(layersPerBlock: configs.unet.int("layers_per_block", 2)))
            vae = try VAE(config: configs.vae, weights: ckpt.vaeWeights(levels: configs.vae.ints("block_out_channels").count))
            schedulerConfig = configs.scheduler
            defaultSteps = nil; defaultCFG = nil; defaultRedraws = nil
            learnDefaults = LearningDefaults(); textualInversionDefaults = LearningDefaults()
            configTexts = try [configs.text, configs.unet, configs.vae, configs.scheduler].map {
                try JSONSerialization.data(withJSONObject: $0.values, options: [.sortedKeys])
            } + [Data(configs.padToken.utf8)]
            return
        }
        guard FileManager.default.fileExists(atPath: path + "/model_index.json") else {
            throw FileError(path, "not a diffusers pipeline folder: model_index.json is missing")
        }
        func weights(_ component: String, _ base: String) throws -> WeightStore {
            let dir = "\(path)/\(component)"
            for name in ["\(base).safetensors", "\(base).fp16.safetensors", "\(base).int8.safetensors"] where FileManager.default.fileExists(atPath: "\(dir)/\(name)") {
                return try WeightStore(files: ["\(dir)/\(name)"])
            }
            throw FileError(dir, "no \(base).safetensors (or .fp16 / .int8.safetensors) weights")
        }
        let tokCfg = (try? Config(path: "\(path)/tokenizer/tokenizer_config.json"))
        let pad = (tokCfg?.values["pad_token"] as? String) ?? ((tokCfg?.values["pad_token"] as? [String: Any])?["content"] as? String) ?? "<|endoftext|>"
        tokenizer = try CLIPTokenizer(vocabPath: "\(path)/tokenizer/vocab.json", mergesPath: "\(path)/tokenizer/merges.txt", padToken: pad,
                                      maxLength: (tokCfg?.values["model_max_length"] as? NSNumber).map { min($0.intValue, 77) } ?? 77)
        textEncoder = try CLIPTextModel(config: Config(path: "\(path)/text_encoder/config.json"), weights: weights("text_encoder", "model"))
        unet = try UNet(config: Config(path: "\(path)/unet/config.json"), weights: weights("unet", "diffusion_pytorch_model"))
        vae = try VAE(config: Config(path: "\(path)/vae/config.json"), weights: weights("vae", "diffusion_pytorch_model"))
        schedulerConfig = try Config(path: "\(path)/scheduler/scheduler_config.json")
        let defaults = (try? Config(path: "\(path)/model_index.json"))?.values["dream_defaults"] as? [String: Any]
        defaultSteps = (defaults?["steps"] as? NSNumber)?.intValue
        defaultCFG = (defaults?["cfg"] as? NSNumber)?.floatValue
        defaultRedraws = (defaults?["redraws"] as? NSNumber)?.intValue
        learnDefaults = LearningDefaults(defaults?["learn"] as? [String: Any])
        textualInversionDefaults = LearningDefaults(defaults?["textual_inversion"] as? [String: Any])
        configTexts = Self.configFiles.map { FileManager.default.contents(atPath: "\(path)/\($0)") ?? Data() }
    }

    static let configFiles = ["text_encoder/config.json", "unet/config.json", "vae/config.json", "scheduler/scheduler_config.json", "tokenizer/tokenizer_config.json"]

    /// Whether the folder's configs on disk are still the ones loaded (a cached model is reloaded otherwise).
    public var isCurrent: Bool {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue else { return true }
        return Self.configFiles.map { FileManager.default.contents(atPath: "\(path)/\($0)") ?? Data() } == configTexts
    }

    /// What a learned distribution is tied to: the model's file or folder name and a hash of the component
    /// configs (FNV-1a 64), so that the same model elsewhere on disk is recognised and a different one refused.
    public var identity: (name: String, configHash: String) {
        var h = FNV1a()
        for text in configTexts { h.add(text) }
        return ((path as NSString).lastPathComponent, h.hex)
    }

    /// Text-encoder output [1, 77, d] for a prompt.
    public func encode(_ prompt: String) throws -> Tensor {
        try textEncoder(ids: [tokenizer.encode(prompt)])
    }
}
