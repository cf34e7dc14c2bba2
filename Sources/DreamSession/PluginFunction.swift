import Foundation
import CDreamPlugin
import DreamTensor
import DreamDiffusion
import DreamLang

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
            // The handle is compared as a double first: Int(m.number) would trap on NaN or 1e300.
            guard let m = model?.pointee, m.kind == Int32(DREAM_OBJECT), m.number >= 0, m.number < Double(c.objects.count),
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
        // Refused here, before anything is allocated: the plugin then sees NULL and the call fails with the reason.
        guard (0...16).contains(rank) else { c.failure = "result_tensor: rank \(rank) (0 to 16 dimensions)"; return nil }
        guard rank == 0 || shape != nil else { c.failure = "result_tensor: a shape of rank \(rank) given as NULL"; return nil }
        let dims = (0..<Int(rank)).map { Int(shape![$0]) }
        guard dims.allSatisfy({ $0 >= 0 }) else { c.failure = "result_tensor: the shape \(dims) has a negative dimension"; return nil }
        var count = 1, overflow = false
        for d in dims where !overflow { (count, overflow) = count.multipliedReportingOverflow(by: d) }
        do {
            if overflow || count > Int.max / 8 { throw TensorError("result_tensor: the shape \(dims) has more elements than memory can hold") }
            try Memory.check(Double(count) * 4, for: "result_tensor: a tensor \(shapeString(dims))")
        } catch { c.failure = "\(error)"; return nil }
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
            ExecutionContext.current.requestCancel()   // stop the run at its next step boundary, once this value is bound
            return partial
        }
        if let f = call.failure { throw ArgumentError("\(name): \(f)") }
        guard status == 0 else { throw ArgumentError("\(name) failed (status \(status))") }
        if case .tensor(let t)? = call.result, let bad = t.nonFiniteCount {
            throw ArgumentError("\(name): the plugin returned a tensor \(shapeString(t.shape)) with \(bad) NaN or infinite values (stage: the plugin's function)")
        }
        return call.result ?? .none
    }
}
