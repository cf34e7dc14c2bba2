import Foundation
import CDreamPlugin
import DreamTensor
import DreamDiffusion
import DreamLang

/// A loaded plugin: its file, namespace and what it added.
public struct PluginInfo {
    public let path: String
    public let name: String
    public let doc: String
    public let samplers: [String]
    public let functions: [String]
}

/// A plugin that could not be loaded, and why.
public struct PluginError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Loads plugins — shared libraries speaking the C ABI of `dream_plugin.h` — and adds their samplers and
/// functions. Only C types cross the boundary, so a plugin has no copy of dream's Swift modules to
/// disagree with. A library once opened stays open (unloading Swift code is unsafe), even when its
/// initialisation failed; nothing it registered is kept in that case.
public final class PluginHost {
    public private(set) var loaded: [PluginInfo] = []
    public let registry: Registry
    public let samplers: SamplerRegistry

    public init(registry: Registry, samplers: SamplerRegistry) { self.registry = registry; self.samplers = samplers }

    /// The library a plugin name stands for in the search folders: DIR/libNAME.so, or the build output of
    /// a plugin package DIR/NAME/.build/release/libNAME.so (the layout of `Plugins/`). A path is itself.
    public static func find(_ nameOrPath: String, in dirs: [String]) -> String? {
        let fm = FileManager.default
        if nameOrPath.contains("/") || nameOrPath.hasSuffix(".so") { return fm.fileExists(atPath: nameOrPath) ? nameOrPath : nil }
        for dir in dirs {
            if fm.fileExists(atPath: "\(dir)/lib\(nameOrPath).so") { return "\(dir)/lib\(nameOrPath).so" }
            // A package folder, named in any case (Plugins/KDiffusion builds libkdiffusion.so).
            for e in ((try? fm.contentsOfDirectory(atPath: dir)) ?? []).sorted() where e.lowercased() == nameOrPath.lowercased() {
                let candidate = "\(dir)/\(e)/.build/release/lib\(nameOrPath.lowercased()).so"
                if fm.fileExists(atPath: candidate) { return candidate }
            }
        }
        return nil
    }

    /// The plugin libraries directly in the search folders (lib*.so), loaded at start.
    public static func libraries(in dirs: [String]) -> [String] {
        dirs.flatMap { dir in
            ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
                .filter { $0.hasPrefix("lib") && $0.hasSuffix(".so") }.map { "\(dir)/\($0)" }
        }
    }

    /// Opens the library, checks its ABI, lets it register, and adds what it registered.
    @discardableResult
    public func load(path: String) throws -> PluginInfo {
        func canonical(_ p: String) -> String { URL(fileURLWithPath: p).resolvingSymlinksInPath().standardizedFileURL.path }
        if let p = loaded.first(where: { canonical($0.path) == canonical(path) }) {
            throw PluginError(message: "plugin \(path) is already loaded (as \(p.name))")
        }
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw PluginError(message: "cannot load plugin \(path): \(String(cString: dlerror()))")
        }
        guard let abiSymbol = dlsym(handle, "dream_plugin_abi"), let initSymbol = dlsym(handle, "dream_plugin_init") else {
            throw PluginError(message: "\(path) is not a dream plugin (it must export dream_plugin_abi and dream_plugin_init)")
        }
        let abi = unsafeBitCast(abiSymbol, to: (@convention(c) () -> UInt32).self)()
        guard (UInt32(DREAM_PLUGIN_ABI_OLDEST)...UInt32(DREAM_PLUGIN_ABI)).contains(abi) else {
            throw PluginError(message: "plugin \(path) was built for plugin ABI \(abi); this dream speaks ABI \(DREAM_PLUGIN_ABI_OLDEST) to \(DREAM_PLUGIN_ABI) (rebuild the plugin against this dream's dream_plugin.h)")
        }
        let r = Registration(path: path, abi: abi)
        let box = Unmanaged.passRetained(r)
        defer { box.release() }
        var host = dream_host(abi: UInt32(DREAM_PLUGIN_ABI), host: box.toOpaque(),
                              set_name: Registration.setName, add_sampler: Registration.addSampler,
                              add_function: Registration.addFunction, fail: Registration.fail)
        let status = unsafeBitCast(initSymbol, to: (@convention(c) (UnsafePointer<dream_host>) -> Int32).self)(&host)
        if let problem = r.problems.first { throw PluginError(message: "plugin \(path): \(problem)") }
        guard status == 0 else { throw PluginError(message: "plugin \(path) failed to initialise (status \(status))") }
        guard let name = r.name else { throw PluginError(message: "plugin \(path) did not name itself (set_name)") }
        if registry.namespaces[name] != nil || registry.functions[name] != nil {
            throw PluginError(message: "plugin \(path): the name \"\(name)\" is already taken")
        }
        for s in r.samplers {
            do { _ = try samplers.validate(s.name, family: s.family) } catch { throw PluginError(message: "plugin \(path): \(error)") }
        }
        // Everything checked: add it.
        for s in r.samplers { try samplers.register(s.name, family: s.family, s.sampler) }
        for f in r.functions {
            let call = f.function
            registry.register(Builtin(f.name, [], variadic: true, doc: f.doc, example: "\(name).\(f.signature)") { a, ip in
                try call.call(a.rest, name: a.function.qualifiedName, warn: { ip.warn($0) })
            }, in: name, doc: r.doc)
        }
        if r.functions.isEmpty { registry.register(namespace: name, doc: r.doc) }
        let info = PluginInfo(path: path, name: name, doc: r.doc, samplers: r.samplers.map(\.name), functions: r.functions.map(\.name))
        loaded.append(info)
        return info
    }
}

/// What a plugin registers during `dream_plugin_init`, collected first and added only if all of it is sound.
final class Registration {
    let path: String
    /// The ABI the plugin was built for: what its functions may be handed.
    let abi: UInt32
    var name: String?
    var doc = ""
    var samplers: [(name: String, family: String, sampler: Sampler)] = []
    var functions: [(name: String, signature: String, doc: String, function: PluginFunction)] = []
    var problems: [String] = []

    init(path: String, abi: UInt32) { self.path = path; self.abi = abi }

    static func of(_ p: UnsafeMutableRawPointer?) -> Registration { Unmanaged<Registration>.fromOpaque(p!).takeUnretainedValue() }

    static func isIdentifier(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, first == "_" || (first.isASCII && CharacterSet.letters.contains(first)) else { return false }
        return s.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && CharacterSet.alphanumerics.contains($0)) }
    }

    static let setName: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?) -> Int32 = { h, name, doc in
        let r = of(h)
        let n = name.map { String(cString: $0) } ?? ""
        guard r.name == nil else { r.problems.append("set_name called twice"); return 1 }
        guard isIdentifier(n) else { r.problems.append("invalid name \"\(n)\" (letters, digits and _, not starting with a digit)"); return 1 }
        r.name = n
        r.doc = doc.map { String(cString: $0) } ?? ""
        return 0
    }

    static let addSampler: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?,
                                           dream_sampler_fn?, UnsafeMutableRawPointer?) -> Int32 = { h, name, family, _, fn, data in
        let r = of(h)
        let n = name.map { String(cString: $0) } ?? "", fam = family.map { String(cString: $0) } ?? "euler"
        guard isIdentifier(n), let fn else { r.problems.append("sampler \"\(n)\": needs an identifier name and a function"); return 1 }
        guard !r.samplers.contains(where: { $0.name == n }) else { r.problems.append("sampler \"\(n)\" added twice"); return 1 }
        r.samplers.append((n, fam, PluginSampler(fn: fn, data: data, plugin: r.path).sampler))
        return 0
    }

    static let addFunction: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, UnsafePointer<CChar>?, UnsafePointer<CChar>?,
                                            dream_function_fn?, UnsafeMutableRawPointer?) -> Int32 = { h, name, signature, doc, fn, data in
        let r = of(h)
        let n = name.map { String(cString: $0) } ?? ""
        guard isIdentifier(n), let fn else { r.problems.append("function \"\(n)\": needs an identifier name and a function"); return 1 }
        guard !r.functions.contains(where: { $0.name == n }) else { r.problems.append("function \"\(n)\" added twice"); return 1 }
        r.functions.append((n, signature.map { String(cString: $0) } ?? "\(n)(...)", doc.map { String(cString: $0) } ?? "", PluginFunction(fn: fn, data: data, abi: r.abi)))
        return 0
    }

    static let fail: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> Void = { h, message in
        of(h).problems.append(message.map { String(cString: $0) } ?? "failed")
    }
}

/// A plugin's sampler seen as a dream `Sampler`: x crosses as a flat Float32 buffer, the denoiser, the
/// random stream and the step report as C callbacks on a per-call context.
final class PluginSampler {
    let fn: dream_sampler_fn
    let data: UnsafeMutableRawPointer?
    let plugin: String

    init(fn: @escaping dream_sampler_fn, data: UnsafeMutableRawPointer?, plugin: String) { self.fn = fn; self.data = data; self.plugin = plugin }

    /// The state of one call, reached from the callbacks through the `call` handle.
    final class Call {
        let denoise: Denoiser
        let shape: [Int]
        let rng: UnsafeMutablePointer<RandomGenerator>
        let onStep: (Int) throws -> Void
        var error: Error?
        init(denoise: @escaping Denoiser, shape: [Int], rng: UnsafeMutablePointer<RandomGenerator>, onStep: @escaping (Int) throws -> Void) {
            self.denoise = denoise; self.shape = shape; self.rng = rng; self.onStep = onStep
        }
        static func of(_ p: UnsafeMutableRawPointer?) -> Call { Unmanaged<Call>.fromOpaque(p!).takeUnretainedValue() }
    }

    static let denoiseC: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<Float>?, Double, UnsafeMutablePointer<Float>?) -> Int32 = { h, x, sigma, out in
        let c = Call.of(h)
        do {
            let t = Tensor(zeros: c.shape)
            t.pointer.update(from: x!, count: t.count)
            let d = try c.denoise(t, sigma)
            out!.update(from: d.pointer, count: t.count)
            return 0
        } catch { c.error = error; return 1 }
    }

    static let normalC: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutablePointer<Float>?, Int64) -> Void = { h, out, count in
        let c = Call.of(h)
        let t = c.rng.pointee.normal([Int(count)])
        out!.update(from: t.pointer, count: Int(count))
    }

    static let stepC: @convention(c) (UnsafeMutableRawPointer?, Int32) -> Int32 = { h, step in
        let c = Call.of(h)
        do { try c.onStep(Int(step)); return 0 } catch { c.error = error; return 1 }
    }

    var sampler: Sampler {
        { [self] denoise, x0, sigmas, rng, onStep in
            // The callbacks are used only during this call: they do not really escape.
            try withoutActuallyEscaping(denoise) { denoise in try withoutActuallyEscaping(onStep) { onStep in
            try withUnsafeMutablePointer(to: &rng) { rngPointer in
                let call = Call(denoise: denoise, shape: x0.shape, rng: rngPointer, onStep: onStep)
                let handle = Unmanaged.passRetained(call)
                defer { handle.release() }
                let x = x0.copy()
                let status = sigmas.withUnsafeBufferPointer { s in
                    var c = dream_sampler_call(call: handle.toOpaque(), denoise: PluginSampler.denoiseC, normal: PluginSampler.normalC,
                                               step: PluginSampler.stepC, x: x.pointer, count: Int64(x.count),
                                               sigmas: s.baseAddress, n_sigmas: Int32(s.count))
                    return fn(data, &c)
                }
                if let e = call.error { throw e }
                guard status == 0 else { throw PluginError(message: "the sampler of plugin \(plugin) failed (status \(status))") }
                return x
            }
            } }
        }
    }
}

/// A plugin's function seen as a variadic builtin: positional numbers, strings and tensors in, one value out.
final class PluginFunction {
    let fn: dream_function_fn
    let data: UnsafeMutableRawPointer?
    let abi: UInt32

    init(fn: @escaping dream_function_fn, data: UnsafeMutableRawPointer?, abi: UInt32) { self.fn = fn; self.data = data; self.abi = abi }

    final class Call {
        var result: Value?
        var failure: String?
        /// Objects passed as arguments, by handle (a DREAM_OBJECT value's number).
        var objects: [DreamObject] = []
        /// A cancellation seen by `progress`: rethrown as itself, not as a failure.
        var cancelled: Error?
        var progress: ProgressReporter?
        var progressLabel = ""
        static func of(_ p: UnsafeMutableRawPointer?) -> Call { Unmanaged<Call>.fromOpaque(p!).takeUnretainedValue() }
    }

    static let scoreDistillation: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<dream_value>?, UnsafePointer<dream_score_request>?,
                                                  UnsafeMutablePointer<Float>?, UnsafeMutablePointer<Double>?) -> Int32 = { h, model, request, gradient, residual in
        let c = Call.of(h)
        do {
            guard let m = model?.pointee, m.kind == Int32(DREAM_OBJECT), m.number >= 0, Int(m.number) < c.objects.count,
                  let mv = c.objects[Int(m.number)] as? ModelValue else {
                throw ArgumentError("score distillation needs a model (an argument from model(PATH))")
            }
            guard let r = request?.pointee, let gradient, let images = r.images, let conditions = r.conditions, let unconditional = r.unconditional,
                  r.batch > 0, r.height > 0, r.width > 0, r.tokens > 0, r.dim > 0, r.n_conditions > 0 else {
                throw ArgumentError("score distillation: the request lacks images or conditions, or has an empty size")
            }
            func tensor(_ p: UnsafePointer<Float>, _ shape: [Int64]) throws -> Tensor {
                let dims = shape.map(Int.init)
                return try Tensor(Array(UnsafeBufferPointer(start: p, count: dims.reduce(1, *))), shape: dims)
            }
            var sds = ScoreDistillation()
            sds.guidance = Float(r.guidance); sds.tMin = r.t_min; sds.tMax = r.t_max
            let out = try sds.gradient(mv.sd, images: tensor(images, [r.batch, 3, r.height, r.width]),
                                       conditions: tensor(conditions, [r.n_conditions, r.tokens, r.dim]),
                                       unconditional: tensor(unconditional, [1, r.tokens, r.dim]), seed: r.seed)
            gradient.update(from: out.gradient.pointer, count: out.gradient.count)
            residual?.pointee = out.residual
            return 0
        } catch {
            c.failure = "\(error)"
            return 1
        }
    }

    static let progressC: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, Int64, Int64) -> Int32 = { h, label, done, total in
        let c = Call.of(h)
        let l = label.map { String(cString: $0) } ?? ""
        if c.progress == nil || c.progressLabel != l {
            c.progress?.finish()
            c.progress = Job.progress(l, total: Int(max(1, total)))
            c.progressLabel = l
        }
        c.progress?.update(Int(done), note: "")
        if done >= total { c.progress?.finish(); c.progress = nil }
        do { try Job.checkCancelled(); return 0 } catch { c.cancelled = error; return 1 }
    }

    static let resultTensor: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<Int64>?, Int32) -> UnsafeMutablePointer<Float>? = { h, shape, rank in
        let c = Call.of(h)
        let dims = (0..<Int(rank)).map { Int(shape![$0]) }
        guard dims.allSatisfy({ $0 >= 0 }) else { c.failure = "result shape has a negative dimension"; return nil }
        let t = Tensor(zeros: dims)
        c.result = .tensor(t)
        return t.pointer
    }
    static let resultNumber: @convention(c) (UnsafeMutableRawPointer?, Double) -> Void = { h, v in Call.of(h).result = .number(v) }
    static let resultString: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> Void = { h, s in
        Call.of(h).result = .string(s.map { String(cString: $0) } ?? "")
    }
    static let failC: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> Void = { h, s in
        Call.of(h).failure = s.map { String(cString: $0) } ?? "failed"
    }

    /// Calls the plugin. Interrupted (Ctrl-C seen through `progress`), a function may still return what it
    /// has done so far: that is kept, with a warning; otherwise the interruption propagates.
    func call(_ args: [Value], name: String, warn: (String) -> Void) throws -> Value {
        let call = Call()
        let handle = Unmanaged.passRetained(call)
        defer { handle.release() }
        // Arguments as C values: shapes and strings in buffers freed after the call; tensor data is the
        // tensors' own, kept alive by `args`.
        var owned: [UnsafeMutableRawPointer] = []
        defer { owned.forEach { free($0) } }
        var values: [dream_value] = []
        func number(_ x: Double) -> dream_value { dream_value(kind: Int32(DREAM_NUMBER), number: x, string: nil, data: nil, shape: nil, rank: 0) }
        for (i, v) in args.enumerated() {
            switch v {
            case .number(let x): values.append(number(x))
            case .bool(let b): values.append(number(b ? 1 : 0))
            case .string(let text):
                let p = strdup(text)!
                owned.append(UnsafeMutableRawPointer(p))
                values.append(dream_value(kind: Int32(DREAM_STRING), number: 0, string: p, data: nil, shape: nil, rank: 0))
            case .object(let o) where abi >= 2:   // objects came with ABI 2
                let p = strdup(o.typeName)!
                owned.append(UnsafeMutableRawPointer(p))
                values.append(dream_value(kind: Int32(DREAM_OBJECT), number: Double(call.objects.count), string: p, data: nil, shape: nil, rank: 0))
                call.objects.append(o)
            case .tensor(let t):
                let p = malloc(8 * max(1, t.rank))!.assumingMemoryBound(to: Int64.self)
                owned.append(UnsafeMutableRawPointer(p))
                for (j, d) in t.shape.enumerated() { p[j] = Int64(d) }
                values.append(dream_value(kind: Int32(DREAM_TENSOR), number: 0, string: nil, data: UnsafePointer(t.pointer), shape: UnsafePointer(p), rank: Int32(t.rank)))
            default:
                let kinds = abi >= 2 ? "numbers, strings, tensors and dream objects such as models" : "numbers, strings and tensors"
                throw ArgumentError("\(name): argument \(i + 1) is \(describeForError(v)); plugin functions of ABI \(abi) take \(kinds)")
            }
        }
        let status = withExtendedLifetime(args) {
            values.withUnsafeBufferPointer { v -> Int32 in
                var c = dream_function_call(call: handle.toOpaque(), n_args: Int32(v.count), args: v.baseAddress,
                                            result_tensor: PluginFunction.resultTensor, result_number: PluginFunction.resultNumber,
                                            result_string: PluginFunction.resultString, fail: PluginFunction.failC,
                                            score_distillation: PluginFunction.scoreDistillation, progress: PluginFunction.progressC)
                return fn(data, &c)
            }
        }
        call.progress?.finish()
        if let e = call.cancelled {
            guard status == 0, call.failure == nil, let partial = call.result else { throw e }
            warn("\(name): interrupted; the result holds the work completed so far")
            return partial
        }
        if let f = call.failure { throw ArgumentError("\(name): \(f)") }
        guard status == 0 else { throw ArgumentError("\(name) failed (status \(status))") }
        return call.result ?? .none
    }
}
