import Foundation
import XCTest
import DreamTestSupport
import DreamLang
import DreamSession
import DreamTensor
import DreamDiffusion

/// Plugins built on their own and loaded at run time: the repository's KDiffusion package (Swift) is built
/// with its own `swift build`, a C plugin is compiled here with clang, and both are loaded through the C ABI.
/// The samplers are checked against the exact solution of the probability-flow ODE for Gaussian data.
final class PluginTests: XCTestCase {
    /// Plugins/KDiffusion built once for all tests (seconds after the first time).
    static let kdiffusion = buildPlugin("KDiffusion")

    /// The process loads each plugin once; later tests reuse the first load's registrations.
    static let session: Session = {
        let s = Session()
        try! s.plugins.load(path: kdiffusion)
        return s
    }()
    static var host: PluginHost { session.plugins }

    func testKDiffusionRegistersItsSamplersAndFunction() throws {
        let info = try XCTUnwrap(Self.host.loaded.first)
        XCTAssertEqual(info.name, "kdiffusion")
        XCTAssertEqual(Set(info.samplers), ["heun", "dpm_2"])
        XCTAssertEqual(info.functions, ["karras"])
        XCTAssertEqual(Self.session.samplers["heun"]?.family, .euler)
        // :help knows its samplers, with where they come from.
        let help = Interpreter(registry: Self.session.registry).help("heun")
        XCTAssertTrue(help.hasPrefix("heun: a sampler from the plugin kdiffusion (step schedule family euler)"), help)
        XCTAssertTrue(Interpreter(registry: Session().registry).help("euler").hasPrefix("euler: a sampler of dream's own"))
        // What a plugin adds is its session's: another session has dream's own samplers only.
        XCTAssertNil(Session().samplers["heun"])
        XCTAssertEqual(Session().samplers.names, Samplers.builtin.keys.sorted())
        // Loading the same file again is refused; so is a library that is not a plugin.
        XCTAssertThrowsError(try Self.host.load(path: Self.kdiffusion)) { XCTAssertTrue("\($0)".contains("already loaded"), "\($0)") }
        XCTAssertThrowsError(try PluginHost(registry: Registry(), samplers: SamplerRegistry()).load(path: "libm.so.6")) {
            XCTAssertTrue("\($0)".contains("is not a dream plugin"), "\($0)")
        }
    }

    /// Gaussian data x0 ~ N(0, s²): the ideal denoiser is D(x, σ) = x·s²/(s² + σ²) and the ODE's solution
    /// x(σ) = x(σ₀)·√(s² + σ²)/√(s² + σ₀²). Heun and DPM2 are second order: halving the step size divides
    /// their error by about 4 (Euler's by 2), and at 20 steps theirs is a fifth of Euler's or less (an
    /// independent scalar computation of the three methods gives 4.28, 4.17 and 1.94, and 7× and 15× less).
    func testSecondOrderSamplersConvergeAtSecondOrderToTheExactODESolution() throws {
        _ = Self.host
        let s2 = 0.25
        let denoise: Denoiser = { x, sigma in try x * Float(s2 / (s2 + sigma * sigma)) }
        let x0 = Tensor.randn([2, 3, 4], seed: 7)
        func error(_ name: String, steps: Int) throws -> Double {
            // Geometric σ from 8 to 0.05 (no final 0: every step is a full second-order one).
            let sigmas = (0...steps).map { 8 * pow(0.05 / 8, Double($0) / Double(steps)) }
            var rng = RandomGenerator(seed: 1)
            var reported: [Int] = []
            let start = try x0 * Float(sigmas[0])
            let out = try Self.session.samplers[name]!.run(denoise, start, sigmas, &rng) { reported.append($0) }
            XCTAssertEqual(reported, Array(1...steps), name)
            let exact = try start * Float((s2 + 0.05 * 0.05).squareRoot() / (s2 + 64).squareRoot())
            return Double(try ((out - exact) * (out - exact)).max().item.squareRoot())
        }
        for name in ["heun", "dpm_2"] {
            let e10 = try error(name, steps: 10), e20 = try error(name, steps: 20)
            XCTAssertGreaterThan(e10 / e20, 3.2, "\(name): \(e10) → \(e20)")
            XCTAssertLessThan(e10 / e20, 4.8, "\(name): \(e10) → \(e20)")
            XCTAssertLessThan(e20, try error("euler", steps: 20) / 5, name)
        }
        let eulerRatio = try error("euler", steps: 10) / error("euler", steps: 20)
        XCTAssertLessThan(eulerRatio, 2.5)   // the check can tell first from second order
    }

    func testKarrasScheduleMatchesItsFormulaAndBadArgumentsAreNamed() throws {
        _ = Self.host
        let interp = Interpreter(registry: Self.host.registry)
        var out = ""
        interp.write = { out += $0 }
        try interp.run(SourceFile(name: "t", text: "print(kdiffusion.karras(5, 0.1, 10).shape)\nsave(\"\(NSTemporaryDirectory())/karras.json\", kdiffusion.karras(5, 0.1, 10, 3))"))
        XCTAssertEqual(out, "[6]\n")
        let got = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: NSTemporaryDirectory() + "/karras.json"))) as! [Double]
        let (a, b) = (pow(10, 1 / 3.0), pow(0.1, 1 / 3.0))
        let want = (0..<5).map { pow(a + Double($0) / 4 * (b - a), 3) } + [0]
        for (g, w) in zip(got, want) { XCTAssertEqual(g, w, accuracy: 1e-5 * max(1, w)) }
        XCTAssertThrowsError(try interp.run(SourceFile(name: "t", text: "kdiffusion.karras(5, 10, 0.1)"))) {
            XCTAssertTrue("\($0)".contains("kdiffusion.karras: needs a whole n ≥ 1, 0 < sigma_min < sigma_max"), "\($0)")
        }
        XCTAssertThrowsError(try interp.run(SourceFile(name: "t", text: "kdiffusion.karras([1], 0.1, 1)"))) {
            XCTAssertTrue("\($0)".contains("argument 1 is a list of 1; plugin functions of ABI 2 take numbers, strings, tensors and dream objects such as models"), "\($0)")
        }
    }

    /// Plugins in C, compiled here with the toolchain's clang: one built for another ABI number is refused,
    /// naming both; one that fails its initialisation says why and adds nothing; one built for ABI 1 (before
    /// objects and score distillation were added at the ends of the structures) still loads and runs.
    func testCPluginsOfAnotherABIOrFailingInitAreRefusedWithTheirReason() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let include = repoRoot.appendingPathComponent("Sources/CDreamPlugin/include").path
        func compile(_ name: String, _ source: String) throws -> String {
            let c = dir.appendingPathComponent("\(name).c").path, lib = dir.appendingPathComponent("lib\(name).so").path
            try source.write(toFile: c, atomically: true, encoding: .utf8)
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            p.arguments = ["clang", "-shared", "-fPIC", "-I", include, "-o", lib, c]
            try p.run(); p.waitUntilExit()
            XCTAssertEqual(p.terminationStatus, 0)
            return lib
        }
        let future = try compile("future", """
            #include "dream_plugin.h"
            uint32_t dream_plugin_abi(void) { return 99; }
            int32_t dream_plugin_init(const dream_host *h) { return 0; }
            """)
        let failing = try compile("failing", """
            #include "dream_plugin.h"
            uint32_t dream_plugin_abi(void) { return DREAM_PLUGIN_ABI; }
            int32_t dream_plugin_init(const dream_host *h) {
                h->set_name(h->host, "failing", "");
                h->fail(h->host, "needs a GPU, and this machine has none");
                return 1;
            }
            """)
        let old = try compile("old", """
            #include "dream_plugin.h"
            static int32_t twice(void *d, const dream_function_call *c) {
                if (c->n_args != 1 || c->args[0].kind != DREAM_NUMBER) { c->fail(c->call, "needs one number"); return 1; }
                c->result_number(c->call, 2 * c->args[0].number);
                return 0;
            }
            uint32_t dream_plugin_abi(void) { return 1; }
            int32_t dream_plugin_init(const dream_host *h) {
                return h->set_name(h->host, "old", "built for ABI 1") || h->add_function(h->host, "twice", "twice(x)", "2x", twice, 0);
            }
            """)
        let session = Session()
        let registry = session.registry, host = session.plugins
        try host.load(path: old)
        let interp = Interpreter(registry: registry)
        var out = ""
        interp.write = { out += $0 }
        try interp.run(SourceFile(name: "t", text: "print(old.twice(21))"))
        XCTAssertEqual(out, "42\n")
        // Objects came with ABI 2: a plugin built for 1 is not handed one.
        XCTAssertThrowsError(try interp.run(SourceFile(name: "t", text: "old.twice(model(\"builtin\"))"))) {
            XCTAssertTrue("\($0)".contains("argument 1 is a model"), "\($0)")
            XCTAssertTrue("\($0)".contains("plugin functions of ABI 1 take numbers, strings and tensors"), "\($0)")
        }
        XCTAssertThrowsError(try host.load(path: future)) {
            XCTAssertTrue("\($0)".contains("was built for plugin ABI 99; this dream speaks ABI 1 to 2"), "\($0)")
        }
        XCTAssertThrowsError(try host.load(path: failing)) {
            XCTAssertTrue("\($0)".contains("needs a GPU, and this machine has none"), "\($0)")
        }
        XCTAssertNil(registry.namespaces["failing"])
        XCTAssertEqual(host.loaded.map(\.name), ["old"])
    }

    /// The command: plugins in --plugin-path folders load at start, `:plugins` lists them, and a sampler
    /// from one draws with the built-in model; --no-plugins keeps them out.
    func testTheCommandLoadsPluginsFromThePluginPath() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let plugins = dir.appendingPathComponent("plugins")
        try FileManager.default.createDirectory(at: plugins, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.kdiffusion, toPath: plugins.appendingPathComponent("libkdiffusion.so").path)
        let code = """
            :plugins
            let x = generate(model("builtin"), "a red cone", n: 1, steps: 6, sampler: "heun", seed: 1)
            print(x.shape, oracle(x)[0]["shape"])
            """
        let r = try runDream(["--quiet", "--plugin-path", plugins.path, "-c", code], in: dir)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.hasPrefix("kdiffusion: k-diffusion's Heun and DPM2 samplers and Karras σ schedule; functions kdiffusion.karras; samplers dpm_2, heun ("), r.stdout)
        XCTAssertTrue(r.stdout.hasSuffix("[1, 3, 64, 64] cone\n"), r.stdout)
        let off = try runDream(["--quiet", "--no-plugins", "--plugin-path", plugins.path, "-c", ":plugins\nprint(samplers())"], in: dir)
        XCTAssertEqual(off.stdout, "plugins are disabled (--no-plugins)\n[\"ddim\", \"dpmpp_2m\", \"dpmpp_2s_ancestral\", \"dpmpp_sde\", \"euler\", \"euler_ancestral\", \"lms\", \"uni_pc\", \"uni_pc_bh2\"]\n")
    }
}
