import Foundation
import XCTest
import DreamTestSupport
@testable import DreamLang
import DreamSession
import DreamIO
import DreamDiffusion
import DreamMethod
import DreamTensor

/// Distributions saved and loaded: a bit-exact round trip, and a refusal naming both models when the
/// base model changed.
final class DistributionFileTests: XCTestCase {
    func run(_ code: String) throws -> String {
        let interp = Interpreter(registry: Session().registry)
        var out = ""
        interp.write = { out += $0 }
        interp.warn = { _ in }
        try interp.run(SourceFile(name: "test", text: code))
        return out
    }

    /// A temporary folder, removed after the test, and the tiny SD 1.x pipeline's path.
    func scratch() -> (dir: URL, fixture: String) {
        let dir = makeTempDir()
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return (dir, repoRoot.appendingPathComponent("Tests/Fixtures/sd/sd1").path)
    }

    /// The model `m` and 4 reference images `refs` of a script on the fixture.
    func onFixture(_ fixture: String) -> String {
        "let m = model(\"\(fixture)\")\nlet refs = world.render(n: 4, seed: 0, resolution: 32)\n"
    }

    func testRoundTripIsBitExactAndAChangedModelIsRefused() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = dir.appendingPathComponent("tiny-sd").path
        try FileManager.default.copyItem(atPath: repoRoot.appendingPathComponent("Tests/Fixtures/sd/sd1").path, toPath: model)
        for f in ["vocab.json", "merges.txt"] {   // the fixture shares them through relative links
            try FileManager.default.removeItem(atPath: "\(model)/tokenizer/\(f)")
            try FileManager.default.copyItem(atPath: repoRoot.appendingPathComponent("Tests/Fixtures/clip/\(f)").resolvingSymlinksInPath().path, toPath: "\(model)/tokenizer/\(f)")
        }
        let file = dir.appendingPathComponent("d.safetensors").path
        let out = try run("""
            let m = model("\(model)")
            let D = learn(m, world.render(n: 4, seed: 0, resolution: 32), prompts: 3, tokens: 2, steps: 3, seed: 1, suffix: "at night")
            save("\(file)", D)
            let E = load("\(file)")
            print(type(E), max(abs(E.prompts - D.prompts)) == 0, max(abs(E.mean - D.mean)) == 0, max(abs(E.std - D.std)) == 0)
            print(stats(E)["steps"], stats(E)["suffix"], stats(E)["final_loss"] == stats(D)["final_loss"])
            print(sample(E, n: 1, steps: 2, seed: 3).shape)
            """)
        XCTAssertEqual(out, "distribution true true true\n3 at night true\n[1, 3, 16, 16]\n")
        // Change the model's UNet config: the distribution is refused, naming both identities.
        let cfg = "\(model)/unet/config.json"
        var text = try String(contentsOfFile: cfg, encoding: .utf8)
        text = text.replacingOccurrences(of: "\"norm_eps\": 1e-05", with: "\"norm_eps\": 2e-05")
        try text.write(toFile: cfg, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try run("""
            let D = load("\(file)")
            """)) { e in
            let s = "\(e)"
            XCTAssertTrue(s.contains("learned on model tiny-sd (config ") && s.contains("is now tiny-sd (config ") && s.contains("refusing"), s)
        }
    }

    /// A run saved after 3 steps and resumed from the file to 6 gives the prompts of one 6-step run, bit
    /// for bit (prompts, optimiser moments and step count are all in the file).
    func testResumingASavedRunEqualsAnUninterruptedOne() throws {
        let (dir, fixture) = scratch()
        let file = dir.appendingPathComponent("half.safetensors").path
        let out = try run(onFixture(fixture) + """
            let whole = learn(m, refs, prompts: 3, tokens: 2, steps: 6, seed: 4)
            save("\(file)", learn(m, refs, prompts: 3, tokens: 2, steps: 3, seed: 4))
            let half = load("\(file)")
            let resumed = learn(m, refs, steps: 6, resume: half)
            print(half.steps, resumed.steps, max(abs(resumed.prompts - whole.prompts)) == 0, max(abs(half.prompts - whole.prompts)) > 0)
            print(len(whole.losses), str(resumed.losses) == str(whole.losses), str(half.losses) == str(whole.losses[0:3]))
            let TI = textual_inversion(m, refs, tokens: 2, steps: 4, seed: 5)
            print(max(abs(textual_inversion(m, refs, steps: 4, resume: textual_inversion(m, refs, tokens: 2, steps: 2, seed: 5)).prompts - TI.prompts)) == 0)
            """)
        XCTAssertEqual(out, "3 6 true true\n6 true true\ntrue\n")
        XCTAssertThrowsError(try run("""
            let m = model("\(fixture)")
            let refs = world.render(n: 4, seed: 0, resolution: 32)
            learn(m, refs, steps: 2, resume: mix([learn(m, refs, prompts: 2, tokens: 1, steps: 1, seed: 1)]))
            """)) { e in XCTAssertTrue("\(e)".contains("a mixture has no prompts to continue"), "\(e)") }
    }

    /// Learning's input is checked before anything runs (steps ≥ 1, lr > 0, images in [0, 1] with a hint for
    /// 8-bit or [-1, 1] values); references of another size are resized with a note; `resume:` names the saved
    /// settings it keeps over new ones; a loss that is not finite stops learning at the last state whose loss
    /// was finite — exactly what a run of that many steps gives — and says so.
    func testLearningChecksItsInputAndStopsAtTheLastFiniteLoss() throws {
        let (_, fixture) = scratch()
        for (code, message) in [("learn(m, refs, steps: 0)", "learn: steps: must be at least 1, got 0"),
                                ("learn(m, refs, steps: 2, lr: -1)", "learn: lr: must be a positive number, got -1"),
                                ("textual_inversion(m, refs, steps: 2, lr: 0)", "textual_inversion: lr: must be a positive number, got 0"),
                                ("learn(m, refs * 255, steps: 1)", "these reach 255 (8-bit values? divide by 255)"),
                                ("learn(m, refs * 2 - 1, steps: 1)", "(in [-1, 1]? use (x + 1) / 2)"),
                                ("learn(m, refs / 0, steps: 1)", "the reference images hold NaN or infinite values")] {
            XCTAssertThrowsError(try run(onFixture(fixture) + code)) { XCTAssertTrue("\($0)".contains(message), "\(code): \($0)") }
        }
        let interp = Interpreter(registry: Session().registry)
        var out = "", warnings: [String] = []
        interp.write = { out += $0 }
        interp.warn = { warnings.append($0) }
        try interp.run(SourceFile(name: "test", text: onFixture(fixture) + """
            let D = learn(m, refs, prompts: 2, tokens: 1, steps: 2, seed: 1)
            let E = learn(m, refs, steps: 3, lr: 0.5, batch: 2, resume: D)
            let F = learn(m, world.render(n: 2, seed: 0, resolution: 48), prompts: 2, tokens: 1, steps: 1)
            let G = learn(m, refs, prompts: 2, tokens: 1, steps: 12, lr: 1e36, seed: 2)
            let H = learn(m, refs, prompts: 2, tokens: 1, steps: G.steps, lr: 1e36, seed: 2)
            print(G.steps < 12, len(G.losses) == G.steps, max(abs(H.prompts - G.prompts)) == 0, str(H.losses) == str(G.losses))
            """))
        XCTAssertEqual(out, "true true true true\n")
        XCTAssertTrue(warnings.contains { $0.contains("resume: the saved run's settings are kept: lr 0.005 (not 0.5), batch 4 (not 2)") || $0.contains("resume: the saved run's settings are kept: lr") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("the references are 48×48; resized") }, "\(warnings)")
        XCTAssertTrue(warnings.contains { $0.contains("learning stopped and the distribution holds the first") }, "\(warnings)")
    }

    /// Editing re-encodes the same prompts under new text: the prefix positions equal the plain text's
    /// encoding (the encoder is causal) with σ = 0 there (to rounding: the K rows go through one batched
    /// GEMM), removing the edit gives back the distribution bit for bit, and a mixture (no prompts) or
    /// text too long for the context is refused clearly.
    func testEditingReencodesTheSamePromptsUnderNewText() throws {
        let (_, fixture) = scratch()
        let out = try run(onFixture(fixture) + """
            let D = learn(m, refs, prompts: 3, tokens: 2, steps: 3, seed: 1, suffix: "at night")
            let E = edit(D, prefix: "a red")
            print(stats(E)["prefix"], "|", stats(E)["suffix"], max(abs(E.prompts - D.prompts)) == 0, E.steps == D.steps)
            let plain = encode(m, "a red")[0]
            print(max(abs(E.mean[0:3] - plain[0:3])) < 1e-5, max(E.std[0:3]) < 1e-5, min(max(E.std[3:5], axis: 1)) > 0.05)
            print(max(abs(E.mean[3:] - D.mean[1:75])) > 0.01)
            let back = edit(E, prefix: "")
            print(max(abs(back.mean - D.mean)) == 0, max(abs(back.std - D.std)) == 0)
            print(max(abs(sample(edit(D), n: 1, steps: 2, seed: 3) - sample(D, n: 1, steps: 2, seed: 3))) == 0)
            """)
        XCTAssertEqual(out, "a red | at night true true\ntrue true true\ntrue\ntrue true\ntrue\n")
        XCTAssertThrowsError(try run(onFixture(fixture) + """
            let D = learn(m, refs, prompts: 2, tokens: 2, steps: 1, seed: 1)
            edit(mix([D, D]), prefix: "a red")
            """)) { e in XCTAssertTrue("\(e)".contains("edit: a mixture has no prompts to re-encode"), "\(e)") }
        XCTAssertThrowsError(try run(onFixture(fixture) + """
            let D = learn(m, refs, prompts: 2, tokens: 2, steps: 1, seed: 1)
            edit(D, suffix: "\(Array(repeating: "red", count: 80).joined(separator: " "))")
            """)) { e in XCTAssertTrue("\(e)".contains("edit: prefix (0 tokens) + 2 learned tokens + suffix (80 tokens) do not fit the 75 positions"), "\(e)") }
    }

    /// Learned prompts written as textual-inversion embeddings: one file per prompt, each a single tensor
    /// [M, d] named by its token (the layout diffusers' load_textual_inversion and AUTOMATIC1111 read),
    /// holding exactly that prompt's vectors.
    func testEmbeddingsHoldEachPromptUnderItsToken() throws {
        let (dir, fixture) = scratch()
        let out = dir.appendingPathComponent("emb").path
        let printed = try run(onFixture(fixture) + """
            let D = learn(m, refs, prompts: 3, tokens: 2, steps: 1, seed: 1)
            print(save_embeddings(D, "\(out)", name: "thing"))
            print(save_embeddings(textual_inversion(m, refs, tokens: 2, steps: 1, seed: 2), "\(out)", name: "ti"))
            save("\(out)/prompts.safetensors", D.prompts)
            """)
        XCTAssertEqual(printed, "[\"<thing-0>\", \"<thing-1>\", \"<thing-2>\"]\n[\"<ti>\"]\n")
        let prompts = try SafeTensorsFile(path: out + "/prompts.safetensors").tensor("tensor")
        for k in 0..<3 {
            let f = try SafeTensorsFile(path: "\(out)/thing-\(k).safetensors")
            XCTAssertEqual(f.names, ["<thing-\(k)>"])
            let t = try f.tensor("<thing-\(k)>")
            XCTAssertEqual(t.shape, [2, prompts.shape[2]])
            XCTAssertEqual(t.scalars, Array(prompts.scalars[k * t.count..<(k + 1) * t.count]))
        }
        XCTAssertEqual(try SafeTensorsFile(path: out + "/ti.safetensors").names, ["<ti>"])
        XCTAssertThrowsError(try run("""
            let m = model("\(fixture)")
            save_embeddings(mix([learn(m, world.render(n: 2, seed: 0, resolution: 32), prompts: 2, tokens: 1, steps: 1, seed: 1)]), "\(out)")
            """)) { e in XCTAssertTrue("\(e)".contains("a mixture has no prompts to write"), "\(e)") }
    }

    /// A prompt cost (`prompt_cost:`) acts after the first 100 steps only (a run of 100 steps is the run without
    /// it); a prohibitive one then gathers every reference in one prompt, where without it they use two by then; a run
    /// saved after 120 steps and resumed from the file to 140 gives exactly the uninterrupted run (the choices
    /// of prompts are saved with the run).
    func testPromptCostActsAfterSettlingAndResumesExactly() throws {
        let (dir, fixture) = scratch()
        let half = dir.appendingPathComponent("half.safetensors").path
        let out = try run("""
            let m = model("\(fixture)")
            let refs = world.render(n: 3, seed: 0, resolution: 16)
            func run(steps, cost) { return learn(m, refs, prompts: 3, tokens: 1, batch: 1, steps: steps, lr: 0.01, ortho: 0, objective: "compete", prompt_cost: cost, seed: 1) }
            func used(D) {
              let n = 0
              for w in D.weights { if w > 0 { let n = n + 1 } }
              return n
            }
            let D = run(100, 0)
            print(max(abs(run(100, 10).prompts - D.prompts)) == 0, used(D), used(run(140, 0)))
            let W = run(140, 10)
            print(used(W), stats(W)["prompt_cost"])
            save("\(half)", run(120, 10))
            let R = learn(m, refs, steps: 140, resume: load("\(half)"))
            print(max(abs(R.prompts - W.prompts)) == 0, str(R.weights) == str(W.weights), stats(R)["prompt_cost"])
            """)
        XCTAssertEqual(out, "true 1 2\n1 10\ntrue true 10\n")
    }

    /// The learning-rate schedule and the prompts' average are part of the run: kept in the file (and shown by
    /// stats), so a cosine run
    /// checkpointed at step 4 of 6 and resumed from the file to its 6 steps gives exactly the uninterrupted run,
    /// which differs from the constant-rate run; an unknown schedule is refused with the closest name.
    func testLearningRateScheduleAndAverageAreSavedAndResumeExactly() throws {
        let (dir, fixture) = scratch()
        let half = dir.appendingPathComponent("half.safetensors").path
        let out = try run(onFixture(fixture) + """
            let W = learn(m, refs, prompts: 3, tokens: 1, batch: 1, steps: 6, lr: 0.01, lr_schedule: "cosine", objective: "compete", seed: 2)
            let C = learn(m, refs, prompts: 3, tokens: 1, batch: 1, steps: 6, lr: 0.01, objective: "compete", seed: 2)
            learn(m, refs, prompts: 3, tokens: 1, batch: 1, steps: 6, lr: 0.01, lr_schedule: "cosine", objective: "compete", seed: 2, checkpoint: "\(half)", every: 4)
            let R = learn(m, refs, steps: 6, resume: load("\(half)"))
            print(max(abs(R.prompts - W.prompts)) == 0, max(abs(C.prompts - W.prompts)) > 0, stats(R)["lr_schedule"], stats(C)["lr_schedule"])
            """)
        XCTAssertEqual(out, "true true cosine constant\n")
        // Averaged prompts (ema:) likewise: the file holds the average and the parameter as trained.
        let averaged = try run(onFixture(fixture) + """
            let W = learn(m, refs, prompts: 3, tokens: 1, batch: 1, steps: 6, lr: 0.01, ema: 0.5, objective: "compete", seed: 2)
            let C = learn(m, refs, prompts: 3, tokens: 1, batch: 1, steps: 6, lr: 0.01, objective: "compete", seed: 2)
            learn(m, refs, prompts: 3, tokens: 1, batch: 1, steps: 6, lr: 0.01, ema: 0.5, objective: "compete", seed: 2, checkpoint: "\(half)", every: 4)
            let R = learn(m, refs, steps: 6, resume: load("\(half)"))
            print(max(abs(R.prompts - W.prompts)) == 0, max(abs(C.prompts - W.prompts)) > 0, stats(R)["ema"], stats(C)["ema"])
            """)
        XCTAssertEqual(averaged, "true true 0.5 0\n")
        XCTAssertThrowsError(try run(onFixture(fixture) + """
            textual_inversion(m, refs, steps: 2, ema: 1)
            """)) { e in XCTAssertTrue("\(e)".contains("ema: the average's decay must be in [0, 1) (0: no average), got 1"), "\(e)") }
        XCTAssertThrowsError(try run(onFixture(fixture) + """
            learn(m, refs, steps: 2, lr_schedule: "cosin")
            """)) { e in XCTAssertTrue("\(e)".contains("unknown lr_schedule \"cosin\"; did you mean \"cosine\"? (schedules: constant, cosine)"), "\(e)") }
    }

    /// Every objective works with the rest: saved and loaded bit for bit (its objective and weights with
    /// it), resumed to exactly an uninterrupted run, edited, mixed, and drawn per prompt; `prompt: k`
    /// conditions every image on that prompt's own encoding.
    func testEveryObjectiveRoundTripsResumesEditsMixesAndDrawsPerPrompt() throws {
        let (dir, fixture) = scratch()
        for objective in ["paper", "mixture", "compete"] {
            let blend = objective == "compete" ? ", blend: true" : ""   // competing prompts with their blend
            let file = dir.appendingPathComponent("\(objective).safetensors").path, half = dir.appendingPathComponent("half-\(objective).safetensors").path
            let out = try run(onFixture(fixture) + """
                let D = learn(m, refs, prompts: 3, tokens: 2, steps: 4, seed: 1, objective: "\(objective)"\(blend))
                save("\(file)", D)
                let E = load("\(file)")
                print(E.objective, stats(E)["objective"], str(E.weights) == str(D.weights), max(abs(E.prompts - D.prompts)) == 0, max(abs(E.mean - D.mean)) == 0, max(abs(E.std - D.std)) == 0)
                print(max(abs(sample(E, n: 2, steps: 2, seed: 3) - sample(D, n: 2, steps: 2, seed: 3))) == 0)
                save("\(half)", learn(m, refs, prompts: 3, tokens: 2, steps: 2, seed: 1, objective: "\(objective)"\(blend)))
                let R = learn(m, refs, steps: 4, resume: load("\(half)"))
                print(R.objective, max(abs(R.prompts - D.prompts)) == 0, str(R.weights) == str(D.weights))
                let H = edit(D, prefix: "a red")
                print(H.objective, str(H.weights) == str(D.weights), sample(mix([D, H]), n: 1, steps: 2, seed: 1).shape)
                let c = draw(D, n: 2, prompt: 1, gamma: 0, seed: 5)
                print(max(abs(c[0] - c[1])) == 0, max(abs(draw(D, n: 1, gamma: 0, seed: 5)[0] - D.mean)) == 0 || D.objective == "compete")
                """)
            let weights = objective == "compete" ? "true" : "true"
            XCTAssertEqual(out, "\(objective) \(objective) \(weights) true true true\ntrue\n\(objective) true true\n\(objective) true [1, 3, 16, 16]\ntrue true\n", objective)
        }
        // prompt: k conditions on exactly prompt k's encoding: the encoder's output of its token sequence.
        let interp = Interpreter(registry: Session().registry)
        interp.warn = { _ in }
        try interp.run(SourceFile(name: "test", text: onFixture(fixture) + """
            let D = learn(m, refs, prompts: 3, tokens: 2, steps: 2, seed: 1, objective: "compete", blend: true, prefix: "a photo of")
            let c = draw(D, n: 1, prompt: 2, gamma: 0, seed: 1)
            let imgs = sample(D, n: 2, prompt: 2, gamma: 0, steps: 2, seed: 7)
            """))
        guard case .object(let o)? = interp.globals["D"], let d = o as? DistributionValue, let l = d.learned,
              case .tensor(let c)? = interp.globals["c"], case .tensor(let imgs)? = interp.globals["imgs"] else { return XCTFail("bindings") }
        let h = try l.dist.encode(d.sd).0
        XCTAssertEqual(c.scalars, try h.sliced(axis: 0, start: 2, end: 3).copy().scalars)
        // Weighted prompts: μ = Σ π_k H_k, σ² = Σ π_k (H_k − μ)², and at γ = 1 a neighbourhood of σ around the
        // centre with the same ε_j at every position of an image (coherent noise), another ε per image.
        XCTAssertEqual(h.shape[0], 4, "three competing prompts and the blend")
        let pi: [Float] = [0.4, 0.2, 0.2, 0.2]
        let weighted = try EncodedDistribution(prompts: h, weights: pi)
        let hs = h.scalars, plane = 77 * h.shape[2], w = h.shape[2]
        for i in stride(from: 0, to: plane, by: 997) {
            let mu = (0..<4).reduce(Float(0)) { $0 + pi[$1] * hs[$1 * plane + i] }
            let v = (0..<4).reduce(Float(0)) { $0 + pi[$1] * (hs[$1 * plane + i] - mu) * (hs[$1 * plane + i] - mu) }
            XCTAssertEqual(weighted.mean.scalars[i], mu, accuracy: 1e-5)
            XCTAssertEqual(weighted.std.scalars[i], v.squareRoot(), accuracy: 1e-4)
        }
        let near = try weighted.conditions(n: 2, gamma: 1, seed: 1, prompt: 2)
        let x = near.scalars, sigma = weighted.std.scalars
        var compared = 0
        for img in 0..<2 {
            for p in [10, 40] {
                for j in 0..<w where sigma[p * w + j] > 1e-3 && sigma[20 * w + j] > 1e-3 {
                    // ε_j = (c − H_2) / σ agrees across positions p and 20.
                    let here: Float = (x[img * plane + p * w + j] - hs[2 * plane + p * w + j]) / sigma[p * w + j]
                    let there: Float = (x[img * plane + 20 * w + j] - hs[2 * plane + 20 * w + j]) / sigma[20 * w + j]
                    XCTAssertEqual(here, there, accuracy: 1e-3)
                    compared += 1
                }
            }
        }
        XCTAssertGreaterThan(compared, 10)
        XCTAssertNotEqual(x[20 * w], x[plane + 20 * w], "another ε for the second image")
        var o2 = GenerationOptions()
        o2.steps = 2; o2.cfg = d.sd.defaultCFG ?? 7.5; o2.seed = 7; o2.batch = imgs.shape[0]
        let direct = try d.sd.sample(conditions: try h.sliced(axis: 0, start: 2, end: 3).expand(to: [2, 77, h.shape[2]]).copy(),
                                     unconditional: try d.sd.encode(""), o2)
        XCTAssertEqual(imgs.scalars, direct.scalars)
    }

    /// `sample` without redraws: takes the model's (the built-in model's folder says 3), and plain sampling for a
    /// distribution that does not know its references (learned from one image) instead of an error.
    func testSamplingTakesTheModelsRedrawsWhereTheReferencesAreKnown() throws {
        let out = try run("""
            let m = model("builtin")
            let D = learn(m, world.references("cones"), steps: 2, seed: 1)
            let a = sample(D, n: 4, steps: 3, seed: 5)
            print(max(abs(a - sample(D, n: 4, steps: 3, seed: 5, redraws: 3))) == 0, max(abs(a - sample(D, n: 4, steps: 3, seed: 5, redraws: 0))) == 0)
            let one = learn(m, world.references("cones")[0:1], steps: 1, seed: 1)
            print(max(abs(sample(one, n: 2, steps: 2, seed: 5) - sample(one, n: 2, steps: 2, seed: 5, redraws: 0))) == 0)
            """)
        XCTAssertEqual(out, "true false\ntrue\n")
    }
}
