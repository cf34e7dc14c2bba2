// The plugin's face to dream: functions nerf.distill, nerf.render and nerf.turntable over the C ABI (2).
import DreamPluginABI

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

@_cdecl("dream_plugin_abi")
public func dreamPluginABI() -> UInt32 { UInt32(DREAM_PLUGIN_ABI) }

@_cdecl("dream_plugin_init")
public func dreamPluginInit(_ host: UnsafePointer<dream_host>?) -> Int32 {
    // Score distillation needs the host calls of ABI 2.
    guard let h = host?.pointee, h.abi >= 2 else { return 1 }
    guard h.set_name(h.host, "nerf", "Text-to-3D: radiance fields distilled from a model's score (DreamFusion's SDS), and their renders") == 0,
          h.add_function(h.host, "distill", "distill(m, side, above, unconditional, steps, seed, guidance, resolution, size)",
                         """
                         A radiance field [4, R, R, R] (raw density, raw red, green, blue on an R³ grid over the view's cube; \
                         R = resolution, default 32) fitted by score distillation to what model m draws for the condition side \
                         (views 5–25° up) or above (50–75°): conditions [1, 77, d] such as encode(m, TEXT) or one draw of a \
                         distribution; unconditional is encode(m, ""). guidance defaults to 20; size (of the renders the model \
                         judges) to 64, the built-in model's. Ctrl-C keeps the steps done.
                         """, distill, nil) == 0,
          h.add_function(h.host, "render", "render(field, azimuth, elevation, size, background)",
                         "An image [1, 3, size, size] of a field (from nerf.distill) seen from azimuth and elevation in degrees; size defaults to 64, background (grey level in [0, 1]) to 0.55.",
                         render, nil) == 0,
          h.add_function(h.host, "turntable", "turntable(field, n, elevation, size, background)",
                         "n images [n, 3, size, size] of a field at azimuths 0, 360/n, … and one elevation in degrees (size 64, background 0.55 by default).",
                         turntable, nil) == 0
    else { return 1 }
    return 0
}

/// Reads a function's positional arguments, failing with a message that names the argument (dream puts
/// the function's name in front).
struct Arguments {
    let c: dream_function_call

    var count: Int { Int(c.n_args) }
    func value(_ i: Int) -> dream_value { c.args[i] }

    func fail(_ message: String) -> Int32 {
        c.fail(c.call, message)
        return 1
    }

    func number(_ i: Int, _ name: String, default d: Double? = nil) throws -> Double {
        guard i < count else {
            if let d { return d }
            throw Failure("missing argument \(i + 1), \(name)")
        }
        guard value(i).kind == Int32(DREAM_NUMBER) else { throw Failure("argument \(i + 1), \(name), must be a number") }
        return value(i).number
    }

    /// A tensor argument with its shape.
    func tensor(_ i: Int, _ name: String) throws -> (data: UnsafePointer<Float>, shape: [Int]) {
        guard i < count else { throw Failure("missing argument \(i + 1), \(name)") }
        let v = value(i)
        guard v.kind == Int32(DREAM_TENSOR), let data = v.data else { throw Failure("argument \(i + 1), \(name), must be a tensor") }
        return (data, (0..<Int(v.rank)).map { Int(v.shape[$0]) })
    }

    func field(_ i: Int) throws -> Field {
        let (data, shape) = try tensor(i, "field")
        guard shape.count == 4, shape[0] == 4, shape[1] >= 2, shape[1] == shape[2], shape[2] == shape[3] else {
            throw Failure("argument \(i + 1), field, must be [4, R, R, R] (from nerf.distill), got [\(shape.map(String.init).joined(separator: ", "))]")
        }
        return Field(resolution: shape[1], values: Array(UnsafeBufferPointer(start: data, count: shape.reduce(1, *))))
    }

    func setTensor(_ values: [Float], shape: [Int]) {
        let dims = shape.map(Int64.init)
        guard let out = c.result_tensor(c.call, dims, Int32(dims.count)) else { return }
        out.update(from: values, count: values.count)
    }
}

struct Failure: Error { let message: String; init(_ m: String) { message = m } }

private func guarded(_ call: UnsafePointer<dream_function_call>?, _ body: (Arguments) throws -> Int32) -> Int32 {
    let a = Arguments(c: call!.pointee)
    do { return try body(a) } catch let f as Failure { return a.fail(f.message) } catch { return a.fail("\(error)") }
}

/// Grey background parameters: sigmoid(b₀) = level, no gradient with height.
private func flatBackground(_ level: Double) throws -> [Float] {
    guard level > 0, level < 1 else { throw Failure("background must be a grey level strictly between 0 and 1, got \(level)") }
    let b = Float(log(level / (1 - level)))
    return [b, b, b, 0, 0, 0]
}

private func images(_ a: Arguments, field: Field, views: [(Float, Float)], size: Int, background: Double) throws -> Int32 {
    guard size >= 8, size <= 1024 else { throw Failure("size must be 8 to 1024 pixels, got \(size)") }
    let bg = try flatBackground(background)
    let renderer = VolumeRenderer(samples: 128)
    var out: [Float] = []
    for (azimuth, elevation) in views {
        out += renderer.render(field, background: bg, camera: Camera(azimuth: azimuth * .pi / 180, elevation: elevation * .pi / 180), size: size)
    }
    a.setTensor(out, shape: [views.count, 3, size, size])
    return 0
}

private let render: dream_function_fn = { _, call in
    guarded(call) { a in
        let field = try a.field(0)
        let az = try a.number(1, "azimuth"), el = try a.number(2, "elevation")
        return try images(a, field: field, views: [(Float(az), Float(el))], size: Int(try a.number(3, "size", default: 64)),
                          background: try a.number(4, "background", default: 0.55))
    }
}

private let turntable: dream_function_fn = { _, call in
    guarded(call) { a in
        let field = try a.field(0)
        let n = Int(try a.number(1, "n"))
        guard n >= 1, n <= 360 else { throw Failure("n must be 1 to 360 views, got \(n)") }
        let el = Float(try a.number(2, "elevation"))
        return try images(a, field: field, views: (0..<n).map { (Float($0) * 360 / Float(n), el) },
                          size: Int(try a.number(3, "size", default: 64)), background: try a.number(4, "background", default: 0.55))
    }
}

private let distill: dream_function_fn = { _, call in
    guarded(call) { a in
        guard a.count >= 1, a.value(0).kind == Int32(DREAM_OBJECT), String(cString: a.value(0).string) == "model" else {
            throw Failure("argument 1, m, must be a model (from model(PATH))")
        }
        var model = a.value(0)
        let side = try a.tensor(1, "side"), above = try a.tensor(2, "above"), uncond = try a.tensor(3, "unconditional")
        func conditionShape(_ t: (data: UnsafePointer<Float>, shape: [Int]), _ name: String) throws -> [Int] {
            let s = t.shape.count == 3 && t.shape[0] == 1 ? Array(t.shape.dropFirst()) : t.shape
            guard s.count == 2 else { throw Failure("\(name) must be one condition [1, L, d] (from encode or a distribution), got [\(t.shape.map(String.init).joined(separator: ", "))]") }
            return s
        }
        let shape = try conditionShape(side, "side")
        guard try conditionShape(above, "above") == shape, try conditionShape(uncond, "unconditional") == shape else {
            throw Failure("side, above and unconditional must have the same shape [1, L, d]")
        }
        let steps = Int(try a.number(4, "steps")), seed = try a.number(5, "seed")
        guard steps >= 1 else { throw Failure("steps must be ≥ 1, got \(steps)") }
        guard seed >= 0, seed == seed.rounded() else { throw Failure("seed must be a whole number ≥ 0, got \(seed)") }
        let guidance = try a.number(6, "guidance", default: 20)
        let resolution = Int(try a.number(7, "resolution", default: 32))
        guard resolution >= 4, resolution <= 128 else { throw Failure("resolution must be 4 to 128, got \(resolution)") }
        let size = Int(try a.number(8, "size", default: 64))
        guard size >= 8, size <= 1024 else { throw Failure("size must be 8 to 1024 pixels, got \(size)") }

        var d = Distillation()
        d.steps = steps; d.seed = UInt64(seed); d.resolution = resolution; d.size = size
        let count = shape[0] * shape[1]
        let conditions = (side: Array(UnsafeBufferPointer(start: side.data, count: count)),
                          above: Array(UnsafeBufferPointer(start: above.data, count: count)))
        var status: Int32 = 0
        let out = d.run(score: { images, views, step in
            var cond: [Float] = []
            for v in views { cond += v.above ? conditions.above : conditions.side }
            var gradient = [Float](repeating: 0, count: images.count)
            var residual = 0.0
            let r = images.withUnsafeBufferPointer { im in cond.withUnsafeBufferPointer { cp in
                var req = dream_score_request(images: im.baseAddress, batch: Int64(views.count), height: Int64(d.size), width: Int64(d.size),
                                              conditions: cp.baseAddress, n_conditions: Int64(views.count), unconditional: uncond.data,
                                              tokens: Int64(shape[0]), dim: Int64(shape[1]), guidance: guidance, t_min: 0.02, t_max: 0.98,
                                              seed: UInt64(seed) &* 1_000_003 &+ UInt64(step))
                return a.c.score_distillation(a.c.call, &model, &req, &gradient, &residual)
            } }
            if r != 0 { status = r; return nil }
            return gradient
        }, progress: { step in
            let r = a.c.progress(a.c.call, "distilling", Int64(step), Int64(steps))
            if r != 0 { status = r; return false }
            return true
        })
        // A failed score call is reported as it is; an interruption keeps the steps done (the host warns).
        if status != 0 && out.completed == 0 { return status }
        a.setTensor(out.field.values, shape: [4, resolution, resolution, resolution])
        return 0
    }
}
