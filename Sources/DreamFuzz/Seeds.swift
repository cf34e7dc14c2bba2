import Foundation
import DreamTensor
import DreamIO
import DreamLang
import DreamSession

/// The valid inputs the fuzzers start from, one way for the seeded tests and for `dream-fuzz`: small files
/// made here (`scratch` is a path they are written to on the way) or the repository's fixtures.
public enum FuzzSeeds {
    static func bytes(_ p: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: p))) }

    /// Two safetensors files: float32 tensors with metadata, and a half-precision one.
    public static func safetensors(scratch: String) throws -> [[UInt8]] {
        defer { unlink(scratch) }
        try SafeTensors.save(["a": try Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]), "b": Tensor(repeating: 0.5, shape: [4])], metadata: ["k": "v"], to: scratch)
        let plain = try bytes(scratch)
        try SafeTensors.save(["h": Tensor.rand([3, 5], seed: 2)], to: scratch, half: true)
        return [plain, try bytes(scratch)]
    }

    /// The PNG fixtures (every colour type and depth, and the malformed ones), in name order.
    public static func png(folder: String) throws -> [[UInt8]] {
        try FileManager.default.contentsOfDirectory(atPath: folder).sorted().map { try bytes(folder + "/" + $0) }
    }

    /// A distribution of competing prompts learned for 2 steps on the model at `model` (a .safetensors `scratch`).
    public static func distribution(model: String, scratch: String) throws -> [[UInt8]] {
        defer { unlink(scratch) }
        let interp = Interpreter(registry: Session().registry)
        interp.warn = { _ in }
        try interp.run(SourceFile(name: "seed", text: """
            save("\(scratch)", learn(model("\(model)"), world.render(n: 2, seed: 0, resolution: 16), prompts: 2, tokens: 1, steps: 2, objective: "compete", seed: 1))
            """))
        return [try bytes(scratch)]
    }
}
