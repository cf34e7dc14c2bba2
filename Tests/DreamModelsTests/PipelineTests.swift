import Foundation
import XCTest
import DreamModels
import DreamDiffusion
import DreamTensor
import DreamIO

/// Whole pipelines against diffusers' StableDiffusionPipeline from the same starting latents: DDIM, Euler
/// and DPM++ 2M at 8 steps, normal and Karras schedules, guidance 7.5, SD 1.x (ε) and SD 2.x (v).
final class PipelineTests: XCTestCase {
    func testImagesMatchDiffusers() throws {
        for fam in ["sd1", "sd2"] {
            let sd = try StableDiffusion(path: "\(sdDir)/\(fam)")
            let refs = try SafeTensorsFile(path: "\(sdDir)/\(fam)/pipeline-references.safetensors")
            for (name, sampler, schedule) in [("ddim", "ddim", "normal"), ("euler", "euler", "normal"), ("euler_karras", "euler", "karras"),
                                              ("dpmpp_2m", "dpmpp_2m", "normal"), ("dpmpp_2m_karras", "dpmpp_2m", "karras")] {
                // The step schedule first: the same timesteps as diffusers' scheduler.
                let ns = try sd.noiseSchedule
                let family = Samplers.all[sampler]!.family
                let sched = try StepSchedule.make(ns, steps: 8, family: family, kind: schedule)
                let ts = try refs.tensor("timesteps_\(name)").scalars
                for (a, b) in zip(sched.timesteps, ts) { XCTAssertEqual(a, Double(b), accuracy: 1e-3, "\(fam) \(name) timesteps \(sched.timesteps) vs \(ts)") }
                var o = GenerationOptions()
                o.steps = 8; o.cfg = 7.5; o.sampler = sampler; o.schedule = schedule
                o.latents = try refs.tensor("start")
                o.size = (16, 16)
                let img = try sd.generate(["a red cone on a dark background"], o)
                assertClose(img, try refs.tensor("image_\(name)"), 2e-3, "\(fam) \(name) image")
                if name == "euler" {
                    o.negative = "blurry, gray"
                    assertClose(try sd.generate(["a red cone on a dark background"], o), try refs.tensor("image_euler_negative"), 2e-3, "\(fam) euler with a negative prompt")
                }
            }
        }
    }
}
