import Foundation
import XCTest
import DreamTestSupport
import DreamModels
import DreamTensor
import DreamIO

/// Text encoder, UNet and VAE against diffusers/transformers on small random-weight SD 1.x and SD 2.x
/// pipelines (Tests/Fixtures/sd, made by scripts/make-sd-fixtures.py), in fp32 from fp16 weights.
final class ParityTests: XCTestCase {
    func testBothFamiliesMatchDiffusers() throws {
        for (fam, what, sd) in try sdLayouts() {
            let fam = fam == what ? fam : what
            let refs = try SafeTensorsFile(path: "\(sdDir)/\(fam.prefix(3))/references.safetensors")
            try withoutGrad {
                // Text encoder: from the tokenizer's ids of three prompts.
                let ids = try refs.tensor("text/ids")
                let rows = (0..<ids.shape[0]).map { r in (0..<ids.shape[1]).map { Int(ids.pointer[r * ids.shape[1] + $0]) } }
                XCTAssertEqual(rows[0], sd.tokenizer.encode("a red cone on a dark background"), "\(fam) tokenizer")
                assertClose(try sd.textEncoder(ids: rows), try refs.tensor("text/out"), 1e-4, "\(fam) text encoder")
                // UNet at several timesteps.
                let x = try refs.tensor("unet/latents"), c = try refs.tensor("unet/cond")
                for t in [1, 250, 999] {
                    assertClose(try sd.unet(x, timesteps: [Float(t), Float(t)], context: c), try refs.tensor("unet/out_t\(t)"), 1e-4, "\(fam) unet t=\(t)")
                }
                // VAE decode and encode.
                assertClose(try sd.vae.decode(try refs.tensor("vae/z")), try refs.tensor("vae/decoded"), 1e-4, "\(fam) vae decode")
                assertClose(try sd.vae.encodeMean(try refs.tensor("vae/image")), try refs.tensor("vae/encoded_mean"), 1e-4, "\(fam) vae encode")
            }
        }
    }

    /// Half-precision weights are widened into a reused buffer during inference and into fresh tensors
    /// when gradients are recorded; both give the same UNet output.
    func testHalfWeightsGiveTheSameResultWithAndWithoutGradients() throws {
        let sd = try StableDiffusion(path: "\(sdDir)/sd2")
        let refs = try SafeTensorsFile(path: "\(sdDir)/sd2/references.safetensors")
        let x = try refs.tensor("unet/latents"), c = try refs.tensor("unet/cond")
        let recorded = try sd.unet(x.param(), timesteps: [250, 250], context: c)
        XCTAssertNotNil(recorded.node)
        let plain = try withoutGrad { try sd.unet(x, timesteps: [250, 250], context: c) }
        XCTAssertEqual(recorded.scalars, plain.scalars)
        assertClose(plain, try refs.tensor("unet/out_t250"), 1e-4, "sd2 unet t=250")
    }

    /// Without a config folder, a single file's configs come from its shapes: the family, every size and
    /// block type agree with the folder the checkpoint was made from (head counts and norm groups follow the
    /// real families' conventions, which the tiny fixtures do not).
    func testSingleFileConfigsAreInferredFromShapes() throws {
        for fam in ["sd1", "sd2"] {
            let ckpt = try LDMCheckpoint(path: "\(sdDir)/\(fam).safetensors")
            XCTAssertEqual(ckpt.family, fam == "sd1" ? .sd1 : .sd2)
            let got = try ckpt.configs(from: nil, prediction: nil)
            let want = (unet: try Config(path: "\(sdDir)/\(fam)/unet/config.json"), vae: try Config(path: "\(sdDir)/\(fam)/vae/config.json"),
                        text: try Config(path: "\(sdDir)/\(fam)/text_encoder/config.json"), sched: try Config(path: "\(sdDir)/\(fam)/scheduler/scheduler_config.json"))
            for k in ["block_out_channels"] { XCTAssertEqual(try got.unet.ints(k), try want.unet.ints(k), "\(fam) unet \(k)") }
            for k in ["down_block_types", "up_block_types"] { XCTAssertEqual(try got.unet.strings(k), try want.unet.strings(k), "\(fam) unet \(k)") }
            for k in ["layers_per_block", "cross_attention_dim", "in_channels", "out_channels"] { XCTAssertEqual(try got.unet.int(k), try want.unet.int(k), "\(fam) unet \(k)") }
            XCTAssertEqual(got.unet.bool("use_linear_projection", false), want.unet.bool("use_linear_projection", false), "\(fam) projections")
            for k in ["block_out_channels"] { XCTAssertEqual(try got.vae.ints(k), try want.vae.ints(k), "\(fam) vae \(k)") }
            for k in ["layers_per_block", "latent_channels", "in_channels", "out_channels"] { XCTAssertEqual(try got.vae.int(k), try want.vae.int(k), "\(fam) vae \(k)") }
            for k in ["hidden_size", "num_hidden_layers", "intermediate_size", "vocab_size", "max_position_embeddings"] {
                XCTAssertEqual(try got.text.int(k), try want.text.int(k), "\(fam) text \(k)")
            }
            XCTAssertEqual(try got.text.string("hidden_act"), try want.text.string("hidden_act"))
            XCTAssertEqual(try got.scheduler.string("prediction_type"), try want.sched.string("prediction_type"))
            XCTAssertEqual(got.padToken, fam == "sd1" ? "<|endoftext|>" : "!")
            XCTAssertEqual(try ckpt.configs(from: nil, prediction: "epsilon").scheduler.string("prediction_type"), "epsilon")
        }
    }

    func testSingleFileProblemsAreNamed() throws {
        let dir = NSTemporaryDirectory() + "dream-single-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // Not an LDM checkpoint at all: a diffusers component file.
        XCTAssertThrowsError(try LDMCheckpoint(path: "\(sdDir)/sd1/unet/diffusion_pytorch_model.fp16.safetensors")) {
            XCTAssertTrue("\($0)".contains("not an original Stable Diffusion checkpoint"), "\($0)")
        }
        // A UNet weight removed: the diffusers name and the expected shape are given.
        var all = try SafeTensorsFile(path: "\(sdDir)/sd1.safetensors").all()
        all.removeValue(forKey: "model.diffusion_model.input_blocks.1.0.in_layers.2.weight")
        try SafeTensors.save(all, to: dir + "/broken.safetensors")
        XCTAssertThrowsError(try StableDiffusion(path: dir + "/broken.safetensors", config: "\(sdDir)/sd1")) {
            XCTAssertTrue("\($0)".contains("missing key down_blocks.0.resnets.0.conv1.weight (expected shape [8, 8, 3, 3])"), "\($0)")
        }
        XCTAssertThrowsError(try StableDiffusion(path: "\(sdDir)/sd1.safetensors", config: "\(sdDir)/sd1", prediction: "x0")) {
            XCTAssertTrue("\($0)".contains("prediction must be"), "\($0)")
        }
        // A pickled checkpoint is refused before it is opened, with the way to a file that is read.
        FileManager.default.createFile(atPath: dir + "/model.ckpt", contents: Data([0x80, 0x02]))
        XCTAssertThrowsError(try StableDiffusion(path: dir + "/model.ckpt")) {
            XCTAssertTrue("\($0)".contains("pickled checkpoints (.ckpt, .pt, .bin) are not read"), "\($0)")
        }
    }

    func testBadCheckpointsNameTheKeys() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("dream-sd-\(UUID().uuidString)").path
        try FileManager.default.copyItem(atPath: "\(sdDir)/sd1", toPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for f in ["vocab.json", "merges.txt"] {   // the fixture shares them through relative links
            try FileManager.default.removeItem(atPath: "\(dir)/tokenizer/\(f)")
            try FileManager.default.copyItem(atPath: URL(fileURLWithPath: "\(sdDir)/../clip/\(f)").resolvingSymlinksInPath().path, toPath: "\(dir)/tokenizer/\(f)")
        }
        // Drop one key, reshape another, add a stray one.
        let path = "\(dir)/unet/diffusion_pytorch_model.fp16.safetensors"
        var all = try SafeTensorsFile(path: path).all()
        all.removeValue(forKey: "conv_in.bias")
        all["conv_out.weight"] = Tensor(zeros: [4, 8, 1, 1])
        all["extra.layer.weight"] = Tensor(zeros: [2])
        try FileManager.default.removeItem(atPath: path)
        try SafeTensors.save(all, to: "\(dir)/unet/diffusion_pytorch_model.safetensors")
        XCTAssertThrowsError(try StableDiffusion(path: dir)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("missing key conv_in.bias (expected shape [8])"), s)
            XCTAssertTrue(s.contains("key conv_out.weight has shape [4, 8, 1, 1], expected [4, 8, 3, 3]"), s)
            XCTAssertTrue(s.contains("unexpected keys: extra.layer.weight"), s)
        }
        // An architecture we do not have says what it found.
        let cfgPath = "\(dir)/unet/config.json"
        var cfg = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: cfgPath))) as! [String: Any]
        cfg["down_block_types"] = ["CrossAttnDownBlock3D", "DownBlock2D"]
        try JSONSerialization.data(withJSONObject: cfg).write(to: URL(fileURLWithPath: cfgPath))
        XCTAssertThrowsError(try StableDiffusion(path: dir)) { XCTAssertTrue("\($0)".contains("unsupported down block type CrossAttnDownBlock3D"), "\($0)") }
        XCTAssertThrowsError(try StableDiffusion(path: "/no/such/model")) { XCTAssertTrue("\($0)".contains("/no/such/model"), "\($0)") }
    }
}
