import Foundation
import DreamTensor
import DreamIO

/// A Stable Diffusion pipeline's models, loaded from the diffusers folder layout (model_index.json and a
/// folder per component with config.json and safetensors weights, full or fp16 variant).
public final class StableDiffusion {
    public let path: String
    public let tokenizer: CLIPTokenizer
    public let textEncoder: CLIPTextModel
    public let unet: UNet
    public let vae: VAE
    public let schedulerConfig: Config

    public init(path: String) throws {
        self.path = path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw FileError(path, "no such file or folder") }
        guard isDir.boolValue else { throw FileError(path, "expected a diffusers folder (with model_index.json)") }
        guard FileManager.default.fileExists(atPath: path + "/model_index.json") else {
            throw FileError(path, "not a diffusers pipeline folder: model_index.json is missing")
        }
        func weights(_ component: String, _ base: String) throws -> WeightStore {
            let dir = "\(path)/\(component)"
            for name in ["\(base).safetensors", "\(base).fp16.safetensors"] where FileManager.default.fileExists(atPath: "\(dir)/\(name)") {
                return try WeightStore(files: ["\(dir)/\(name)"])
            }
            throw FileError(dir, "no \(base).safetensors (or .fp16.safetensors) weights")
        }
        let tokCfg = (try? Config(path: "\(path)/tokenizer/tokenizer_config.json"))
        let pad = (tokCfg?.values["pad_token"] as? String) ?? ((tokCfg?.values["pad_token"] as? [String: Any])?["content"] as? String) ?? "<|endoftext|>"
        tokenizer = try CLIPTokenizer(vocabPath: "\(path)/tokenizer/vocab.json", mergesPath: "\(path)/tokenizer/merges.txt", padToken: pad,
                                      maxLength: (tokCfg?.values["model_max_length"] as? NSNumber).map { min($0.intValue, 77) } ?? 77)
        textEncoder = try CLIPTextModel(config: Config(path: "\(path)/text_encoder/config.json"), weights: weights("text_encoder", "model"))
        unet = try UNet(config: Config(path: "\(path)/unet/config.json"), weights: weights("unet", "diffusion_pytorch_model"))
        vae = try VAE(config: Config(path: "\(path)/vae/config.json"), weights: weights("vae", "diffusion_pytorch_model"))
        schedulerConfig = try Config(path: "\(path)/scheduler/scheduler_config.json")
    }

    /// What a learned distribution is tied to: the folder's name and a hash of the component configs
    /// (FNV-1a 64), so that the same model elsewhere on disk is recognised and a different one refused.
    public var identity: (name: String, configHash: String) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for c in ["text_encoder/config.json", "unet/config.json", "vae/config.json", "scheduler/scheduler_config.json", "tokenizer/tokenizer_config.json"] {
            for b in FileManager.default.contents(atPath: "\(path)/\(c)") ?? Data() { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        }
        return ((path as NSString).lastPathComponent, String(format: "%016llx", h))
    }

    /// Text-encoder output [1, 77, d] for a prompt.
    public func encode(_ prompt: String) throws -> Tensor {
        try textEncoder(ids: [tokenizer.encode(prompt)])
    }
}
