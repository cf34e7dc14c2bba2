import Foundation

/// Files shipped with dream: the built-in model (a diffusers folder) and the oracle's weights, both made
/// by the training scripts and committed. `DREAM_ASSETS` overrides their folder.
public enum Assets {
    static var folder: String {
        if let dir = ProcessInfo.processInfo.environment["DREAM_ASSETS"], !dir.isEmpty { return dir }
        return Bundle.module.resourcePath ?? Bundle.module.bundlePath
    }
    /// The built-in model's diffusers folder.
    public static var builtinModel: String { folder + "/builtin" }
    /// CLIP's BPE vocabulary (vocab.json, merges.txt), for single-file checkpoints, which carry none.
    public static var clipTokenizer: String { folder + "/clip" }
    /// The oracle's weights.
    public static var oracle: String { folder + "/oracle.safetensors" }
}
