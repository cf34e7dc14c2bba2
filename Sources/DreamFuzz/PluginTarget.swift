import Foundation
import DreamTensor
import DreamDiffusion
import DreamLang
import DreamSession

/// The plugin loader as a fuzz target. The library is the repository's input-driven plugin
/// (Tests/Fixtures/plugins/fuzzing.c, compiled): each input is its program. A fresh host loads it; what it
/// registered is called — its functions from the language with a number, a string and a tensor, its
/// samplers with a denoiser — and every result is checked to be well formed.
public final class PluginTarget {
    public let library: String
    let setInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> Void
    public private(set) var calls = 0, failedCalls = 0

    public init(library: String) throws {
        self.library = library
        // The host's dlopen of the same file gets this handle: the input set here is the one the plugin reads.
        guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else {
            throw Malformed(description: "cannot load \(library): \(String(cString: dlerror()))")
        }
        guard let symbol = dlsym(handle, "fuzzing_input") else {
            throw Malformed(description: "\(library) is not the fuzzing plugin (it must export fuzzing_input)")
        }
        setInput = unsafeBitCast(symbol, to: (@convention(c) (UnsafePointer<UInt8>?, Int) -> Void).self)
    }

    /// A result that is not what the ABI promises (a failed check of the host itself).
    public struct Malformed: Error, CustomStringConvertible { public let description: String }

    public func run(_ bytes: [UInt8]) throws -> FuzzOutcome {
        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: max(1, bytes.count))
        defer { input.deallocate() }
        input.update(from: bytes, count: bytes.count)
        setInput(input, bytes.count)
        let host = PluginHost(registry: Registry(), samplers: SamplerRegistry())
        let info: PluginInfo
        do { info = try host.load(path: library) } catch is PluginError { return .refused }
        let interp = Interpreter(registry: host.registry)
        interp.warn = { _ in }
        interp.bind("t", .tensor(try Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])))
        for f in info.functions {
            calls += 1
            do {
                try interp.run(SourceFile(name: "fuzz", text: "let r = \(info.name).\(f)(1.5, \"text\", t)"))
                if case .tensor(let r)? = interp.value(of: "r"), r.count != r.shape.reduce(1, *) {
                    throw Malformed(description: "\(f) returned a tensor \(r.shape) of \(r.count) values")
                }
            } catch let e as Malformed { throw e } catch { failedCalls += 1 }
        }
        for s in info.samplers {
            calls += 1
            var random = RandomGenerator(seed: 1)
            do {
                let x = try host.samplers[s]!.run({ x, sigma in try x * Float(1 / (1 + sigma * sigma)) },
                                                  Tensor.randn([2, 3], seed: 1), [2, 1, 0.5, 0], &random) { _ in }
                if x.shape != [2, 3] { throw Malformed(description: "sampler \(s) returned \(x.shape) for [2, 3]") }
            } catch let e as Malformed { throw e } catch { failedCalls += 1 }
        }
        return .accepted
    }

    /// Program bytes: a string operand (its length, then its bytes).
    static func text(_ s: String) -> [UInt8] { [UInt8(s.utf8.count)] + Array(s.utf8) }

    /// Valid programs to start from: a plugin that names itself and adds a function and a sampler, then
    /// calls that read the arguments, set results, report progress and denoise (fuzzing.c spells the format).
    public static let seeds: [[UInt8]] = {
        let header: [UInt8] = [0] + [0] + text("fz") + text("a fuzzed plugin")
            + [2] + text("f") + text("f(x)") + text("a function") + [1]
            + [1] + text("s") + text("euler") + text("a sampler") + [1]
            + [4, 1]
        return [
            header + [6, 1, 7, 1],                                  // the sum of its arguments
            // A [4, 3] tensor (rank, 8 sizes, the shape given, 12 numbers).
            header + [0, 2, 1, 4, 1, 3] + Array(repeating: [1, 0], count: 6).joined() + [1]
                + (0..<12).flatMap { [0, UInt8($0)] } + [7, 1],
            header + [4] + text("work") + [1, 2, 1, 2] + [1, 0, 5] + [7, 1],   // progress, then a number
            // The function returns nothing; the sampler denoises, draws noise, reports a step and returns.
            header + [7, 1] + [0, 1, 1, 1, 0] + [1, 1, 3, 1] + [2, 1] + [5, 1],
            header + [3] + text("bad input") + [7, 1],
            // A plugin built for ABI 1 with a function returning a string.
            [1, 0] + text("old") + text("") + [2] + text("g") + text("g()") + text("") + [1, 4, 1, 2] + text("ok") + [7, 1],
        ]
    }()
}
